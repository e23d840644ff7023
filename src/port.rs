//! Container ports and where they are published on the host.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A transport protocol of a container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// A port inside a container: a number and a protocol (`5432/tcp`).
///
/// A bare number means TCP; strings like `"53/udp"` parse too.
///
/// ```
/// use dockhand::{ContainerPort, Protocol};
/// assert_eq!(ContainerPort::from(5432), ContainerPort::tcp(5432));
/// let dns: ContainerPort = "53/udp".parse().unwrap();
/// assert_eq!(dns.protocol(), Protocol::Udp);
/// assert_eq!(dns.to_string(), "53/udp");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerPort {
    number: u16,
    protocol: Protocol,
}

impl ContainerPort {
    /// A TCP port.
    pub const fn tcp(number: u16) -> Self {
        ContainerPort {
            number,
            protocol: Protocol::Tcp,
        }
    }

    /// A UDP port.
    pub const fn udp(number: u16) -> Self {
        ContainerPort {
            number,
            protocol: Protocol::Udp,
        }
    }

    /// The port number.
    pub fn number(&self) -> u16 {
        self.number
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
}

impl From<u16> for ContainerPort {
    fn from(number: u16) -> Self {
        ContainerPort::tcp(number)
    }
}

impl fmt::Display for ContainerPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol.as_str())
    }
}

impl FromStr for ContainerPort {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                format!("port `{s}`"),
                "expected a number with an optional protocol, like `8080`, `8080/tcp` or `53/udp`",
            )
        };
        let (num, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        let number = num.trim().parse::<u16>().map_err(|_| bad())?;
        let protocol = match proto.trim().to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => return Err(bad()),
        };
        Ok(ContainerPort { number, protocol })
    }
}

impl TryFrom<&str> for ContainerPort {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self, Error> {
        s.parse()
    }
}

/// A published port: the container port and where the engine bound it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// The port inside the container.
    pub container: ContainerPort,
    /// The host address the engine bound (e.g. `127.0.0.1`, `0.0.0.0`).
    pub host_ip: String,
    /// The host port.
    pub host_port: u16,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} -> {}",
            self.host_ip, self.host_port, self.container
        )
    }
}

/// Reads the published ports from an inspect answer.
pub(crate) fn mappings_from_inspect(
    info: &bollard::models::ContainerInspectResponse,
) -> Vec<PortMapping> {
    let Some(ports) = info
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
    else {
        return Vec::new();
    };
    let mut out: Vec<PortMapping> = ports
        .iter()
        .filter_map(|(key, bindings)| {
            Some((key.parse::<ContainerPort>().ok()?, bindings.as_ref()?))
        })
        .flat_map(|(container, bindings)| {
            bindings.iter().filter_map(move |b| {
                Some(PortMapping {
                    container,
                    host_ip: b.host_ip.clone().unwrap_or_default(),
                    host_port: b.host_port.as_deref()?.parse().ok()?,
                })
            })
        })
        .collect();
    // IPv4 bindings first: `addr()` picks the first one of a port.
    out.sort_by_key(|m| (m.container, m.host_ip.contains(':')));
    out
}
