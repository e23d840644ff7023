//! The port probe: a TCP port accepts, from the host and inside the container.
//!
//! From the host alone a port looks open too early: the engine's port proxy
//! accepts connections on the published port before the service in the
//! container listens, then drops them. So the probe also reads the
//! container's own table of listening sockets, `/proc/net/tcp{,6}` of its
//! network namespace.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{Backoff, Ctx, Failure, Seen};
use crate::container::Container;
use crate::port::{ContainerPort, Protocol};

/// How long one connection attempt from the host may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(2);
/// How long a connection must stay open to count as reaching the service:
/// the engine's proxy drops it within a fraction of this when nothing listens.
const PROXY_DROP_WINDOW: Duration = Duration::from_millis(2);
/// TCP state `LISTEN` in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// Waits for a TCP port to accept connections; from
/// [`WaitFor::port`](super::WaitFor::port).
///
/// ```
/// use std::time::Duration;
/// let probe = dockhand::WaitFor::port(6379).timeout(Duration::from_secs(5));
/// # let _ = probe;
/// ```
#[derive(Clone)]
pub struct PortProbe {
    pub(super) port: ContainerPort,
    pub(super) timeout: Option<Duration>,
}

/// How the probe sees inside the container.
#[derive(Debug)]
enum Inside {
    /// The engine is on this machine: read the namespace's table from the
    /// host, through the container's main process (no engine call at all).
    HostProc(PathBuf),
    /// `exec cat /proc/net/tcp /proc/net/tcp6` in the container.
    Exec,
    /// Neither works (remote engine and no `cat` in the image): the host-side
    /// connection is all we can check.
    HostSideOnly,
}

impl PortProbe {
    pub(super) fn new(port: ContainerPort) -> Self {
        PortProbe {
            port,
            timeout: None,
        }
    }

    pub(super) async fn run(&self, ctx: &Ctx<'_>, seen: &Seen) -> Result<(), Failure> {
        let addr = super::published_addr(ctx, self.port, seen).await;
        let port = self.port;
        let mut inside = None;
        let mut backoff = Backoff::port();
        loop {
            match tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) if !held_open(&stream).await => seen.set(format!(
                    "{addr} accepts but drops the connection at once (the engine's port proxy \
                     does that while nothing listens on {port} inside the container)"
                )),
                Ok(Ok(_)) => {
                    if inside.is_none() {
                        inside = choose_inside(ctx, port).await;
                    }
                    match &inside {
                        None => seen.set(format!(
                            "{addr} accepts, but the container's sockets could not be read yet"
                        )),
                        Some(how) => match listening_inside(ctx.container, how, port).await {
                            Some(true) | None => return Ok(()),
                            Some(false) => seen.set(format!(
                                "{addr} accepts (the engine's port proxy), but nothing listens on \
                                 {port} inside the container yet"
                            )),
                        },
                    }
                }
                Ok(Err(e)) => seen.set(format!(
                    "{} on {addr} (container port {port})",
                    connect_error(&e)
                )),
                Err(_) => seen.set(format!(
                    "no answer within {CONNECT_LIMIT:?} connecting to {addr} (container port {port})"
                )),
            }
            backoff.pause().await;
        }
    }
}

/// Whether a connection to a published port stays open for a moment (or
/// the service speaks first). The engine's port proxy accepts on the host,
/// then drops the connection at once when nothing listens behind it: that
/// cheap check spares most reads of the container's socket tables, which
/// cost milliseconds of kernel time each.
async fn held_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(PROXY_DROP_WINDOW, stream.peek(&mut byte)).await {
        Err(_) => true,
        Ok(Ok(n)) => n > 0,
        Ok(Err(_)) => false,
    }
}

fn connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

/// Picks the cheapest way to look inside that works for this container;
/// `None` while that cannot be told (the exec itself failed).
async fn choose_inside(ctx: &Ctx<'_>, port: ContainerPort) -> Option<Inside> {
    let c = ctx.container;
    if let Some(dir) = host_proc_net(c, ctx.pid) {
        tracing::debug!(parent: &c.inner.span, %port, dir = %dir.display(), "port probe reads the container's sockets from the host");
        return Some(Inside::HostProc(dir));
    }
    match c.exec(["cat", "/proc/net/tcp"]).await {
        Err(e) => {
            tracing::debug!(parent: &c.inner.span, %port, "port probe: exec failed ({e}); trying again");
            return None;
        }
        Ok(out) if out.stdout.contains("local_address") => {
            tracing::debug!(parent: &c.inner.span, %port, "port probe reads the container's sockets with `exec cat`");
            return Some(Inside::Exec);
        }
        Ok(_) => {}
    }
    tracing::debug!(
        parent: &c.inner.span,
        %port,
        "port probe cannot look inside the container (engine not local, no `cat` in the image); \
         relying on the host side, where the engine's port proxy drops connections while nothing listens"
    );
    Some(Inside::HostSideOnly)
}

/// `/proc/<pid>/net` of the container's main process, when the engine runs
/// on this machine and that pid really is the container's (this process may
/// itself run in another pid namespace, where the number means another process).
fn host_proc_net(c: &Container, pid: Option<i64>) -> Option<PathBuf> {
    let pid = pid.filter(|p| *p > 0)?;
    if !c.engine().is_local() {
        return None;
    }
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let cgroup = std::fs::read_to_string(proc.join("cgroup")).ok()?;
    if !cgroup.contains(c.id()) {
        return None;
    }
    let dir = proc.join("net");
    std::fs::metadata(dir.join("tcp")).ok()?;
    Some(dir)
}

/// `Some(listening)`, or `None` when the inside cannot be seen.
async fn listening_inside(c: &Container, how: &Inside, port: ContainerPort) -> Option<bool> {
    match how {
        Inside::HostProc(dir) => {
            // Reading a table walks the kernel's whole connection hash
            // (milliseconds); the per-namespace counts say which can hold anything.
            for (table, counts, label) in
                [("tcp", "sockstat", "TCP:"), ("tcp6", "sockstat6", "TCP6:")]
            {
                let counts = tokio::fs::read_to_string(dir.join(counts))
                    .await
                    .unwrap_or_default();
                if tcp_in_use(&counts, label) == Some(0) {
                    continue;
                }
                if let Ok(t) = tokio::fs::read_to_string(dir.join(table)).await {
                    if listens(&t, port.number()) {
                        return Some(true);
                    }
                }
            }
            Some(false)
        }
        Inside::Exec => Some(
            exec_tables(c)
                .await
                .is_some_and(|t| listens(&t, port.number())),
        ),
        Inside::HostSideOnly => None,
    }
}

/// The container's socket tables read with `exec cat`; `None` when `cat`
/// cannot run there.
pub(crate) async fn exec_tables(c: &Container) -> Option<String> {
    // tcp6 is missing when IPv6 is off: cat then fails but prints tcp.
    let out = c
        .exec(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
        .await
        .ok()?;
    out.stdout.contains("local_address").then_some(out.stdout)
}

/// The `inuse` count of the `label` line (`TCP:`, `TCP6:`) of a sockstat file.
fn tcp_in_use(sockstat: &str, label: &str) -> Option<u64> {
    let line = sockstat.lines().find(|l| l.starts_with(label))?;
    let mut words = line.split_whitespace().skip_while(|w| *w != "inuse");
    words.nth(1)?.parse().ok()
}

/// Whether the tables list `port` listening on an address other than
/// loopback (the engine's proxy cannot reach a service bound to loopback).
pub(crate) fn listens(tables: &str, port: u16) -> bool {
    tables.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(local), Some(_), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        let Some((ip, p)) = local.split_once(':') else {
            return false;
        };
        state == TCP_LISTEN && u16::from_str_radix(p, 16) == Ok(port) && !is_loopback_hex(ip)
    })
}

/// The kernel prints each 32-bit word of an address in the machine's byte
/// order; `to_ne_bytes` gives back the address bytes in network order.
fn is_loopback_hex(ip: &str) -> bool {
    let words: Option<Vec<[u8; 4]>> = (0..ip.len() / 8)
        .map(|i| {
            u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16)
                .ok()
                .map(u32::to_ne_bytes)
        })
        .collect();
    match words.as_deref() {
        Some([v4]) => v4[0] == 127,
        Some([a, b, c, d]) => {
            let bytes: Vec<u8> = [a, b, c, d]
                .iter()
                .flat_map(|w| w.iter().copied())
                .collect();
            let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default());
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        _ => false,
    }
}

/// Checks that a probe's port is published (the host side needs it) and TCP.
pub(super) fn check_published(
    port: ContainerPort,
    exposed: &[ContainerPort],
) -> Result<(), String> {
    if port.protocol() != Protocol::Tcp {
        return Err(format!(
            "readiness probes check TCP ports only; {port} is not one"
        ));
    }
    if !exposed.contains(&port) {
        return Err(format!(
            "a readiness probe checks port {port}, which the spec does not publish; add `.expose({})`",
            port.number()
        ));
    }
    Ok(())
}

impl fmt::Display for PortProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port {}", self.port)
    }
}

impl fmt::Debug for PortProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortProbe({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_v4(ip: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(ip))
    }

    fn hex_v6(ip: [u8; 16]) -> String {
        ip.chunks(4)
            .map(|w| hex_v4([w[0], w[1], w[2], w[3]]))
            .collect()
    }

    #[test]
    fn reads_listening_sockets() {
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let any = format!("   0: {}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n", hex_v4([0, 0, 0, 0]));
        let lo = format!("   1: {}:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n", hex_v4([127, 0, 0, 1]));
        let est = format!("   2: {}:1A0B 0100000A:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n", hex_v4([172, 17, 0, 2]));
        let tables = format!("{header}{any}{lo}{est}");
        assert!(listens(&tables, 8080));
        assert!(!listens(&tables, 80), "bound to loopback only");
        assert!(!listens(&tables, 0x1A0B), "established, not listening");
        let v6_any = format!(
            "   0: {}:1538 {}:0000 0A 0 0 0 0 0 1 1\n",
            hex_v6([0; 16]),
            hex_v6([0; 16])
        );
        assert!(listens(&v6_any, 5432));
        let mut one = [0u8; 16];
        one[15] = 1;
        let v6_lo = format!(
            "   0: {}:1538 {}:0000 0A 0 0 0 0 0 1 1\n",
            hex_v6(one),
            hex_v6([0; 16])
        );
        assert!(!listens(&v6_lo, 5432), "bound to ::1 only");
    }

    fn test_image() -> String {
        std::env::var("DOCKHAND_TEST_IMAGE")
            .unwrap_or_else(|_| "dockhand-test/busybox:latest".into())
    }

    /// The fallbacks for engines that are not local, against the real engine.
    #[tokio::test]
    async fn exec_fallback_sees_the_listener_and_a_bare_image_has_none() {
        let c = crate::ContainerSpec::new(test_image())
            .cmd(["sh", "-c", "sleep 0.3; exec httpd -f -p 8080 -h /"])
            .expose(8080)
            .start()
            .await
            .unwrap();
        let port = ContainerPort::tcp(8080);
        assert_eq!(listening_inside(&c, &Inside::Exec, port).await, Some(false));
        let mut seen = false;
        for _ in 0..100 {
            if listening_inside(&c, &Inside::Exec, port).await == Some(true) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(seen, "exec cat never showed httpd listening");

        let dir = tempfile::tempdir().unwrap();
        let dockerfile = format!(
            "FROM {} AS bb\nFROM scratch\nCOPY --from=bb /bin/busybox /busybox\nENTRYPOINT [\"/busybox\"]\n",
            test_image()
        );
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        let bare = crate::ImageBuild::from_dir(dir.path())
            .name("dockhand-test/bare")
            .build()
            .await
            .unwrap();
        let c = crate::ContainerSpec::new(bare)
            .cmd(["sleep", "600"])
            .start()
            .await
            .unwrap();
        assert_eq!(
            exec_tables(&c).await,
            None,
            "an image without cat cannot be read with exec"
        );
    }

    #[test]
    fn reads_socket_counts() {
        let v4 = "sockets: used 5\nTCP: inuse 2 orphan 0 tw 0 alloc 3 mem 1\nUDP: inuse 0 mem 0\n";
        assert_eq!(tcp_in_use(v4, "TCP:"), Some(2));
        assert_eq!(
            tcp_in_use("TCP6: inuse 0\nUDP6: inuse 0\n", "TCP6:"),
            Some(0)
        );
        assert_eq!(tcp_in_use("", "TCP6:"), None);
    }

    #[test]
    fn only_published_tcp_ports_can_be_probed() {
        let exposed = [ContainerPort::tcp(80), ContainerPort::udp(53)];
        assert!(check_published(ContainerPort::tcp(80), &exposed).is_ok());
        assert!(check_published(ContainerPort::udp(53), &exposed)
            .unwrap_err()
            .contains("TCP"));
        assert!(check_published(ContainerPort::tcp(81), &exposed)
            .unwrap_err()
            .contains(".expose(81)"));
    }
}
