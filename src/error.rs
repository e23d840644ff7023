//! The one error type of dockhand.
//!
//! Every message says what failed, on which container or image, and what to
//! do about it: a test log is often the only thing a CI user ever sees.

use std::time::Duration;

/// Shorthand for `Result<T, dockhand::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in dockhand.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No Docker engine answered at any of the addresses tried.
    #[error(
        "no Docker engine answered; tried: {}.\n  hint: start the engine (`sudo systemctl start docker`, or `dockerd &`), \
         or point DOCKER_HOST at it (e.g. unix:///run/user/1000/docker.sock, tcp://host:2376 with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)",
        tried.join("; ")
    )]
    EngineUnreachable {
        /// Each address tried, with why it failed.
        tried: Vec<String>,
    },

    /// The engine answered a request with an error.
    #[error("{action} failed: {message}{}", status.map(|s| format!(" (engine status {s})")).unwrap_or_default())]
    Engine {
        /// What dockhand was doing, naming the container or image.
        action: String,
        /// The engine's HTTP status, when it answered with one.
        status: Option<u16>,
        /// The engine's message.
        message: String,
    },

    /// The image is not on the engine and could not be pulled.
    #[error("image `{image}` not found: {message}.\n  hint: build it first (see `dockhand::ImageBuild`), or check the name and tag, and that the registry is reachable")]
    ImageNotFound {
        /// The image reference asked for.
        image: String,
        /// What the engine said.
        message: String,
    },

    /// The registry did not answer (refused, unknown host, TLS trouble).
    #[error("registry `{registry}` is unreachable while fetching or sending image `{image}`: {message}.\n  hint: check the registry's address and that it runs; a registry without TLS needs the engine's `insecure-registries` (127.0.0.0/8 is insecure by default)")]
    RegistryUnreachable {
        /// The registry host (with port), e.g. `127.0.0.1:5000`.
        registry: String,
        /// The image reference.
        image: String,
        /// What the engine said.
        message: String,
    },

    /// The registry refused the credentials (or wanted some and got none).
    #[error("registry `{registry}` refused access to image `{image}`: {message}.\n  hint: pass `Credentials` (e.g. `.registry_credentials(...)`), or `docker login {registry}` so the Docker config holds them")]
    RegistryAuthRefused {
        /// The registry host (with port).
        registry: String,
        /// The image reference.
        image: String,
        /// What the engine said.
        message: String,
    },

    /// An image build failed: a bad Dockerfile, or a step that failed.
    #[error(
        "building image `{image}` failed at {step}: {message}\n  last build output:\n    {output}"
    )]
    BuildFailed {
        /// The image reference being built.
        image: String,
        /// The failing step as the builder printed it, e.g. `Step 2/3 : RUN make`.
        step: String,
        /// What the builder said.
        message: String,
        /// The last lines of build output.
        output: String,
    },

    /// A port was asked for that the container does not expose.
    #[error("container `{container}` does not expose port {port}; exposed: [{}].\n  hint: add `.expose({port})` to the ContainerSpec", exposed.join(", "))]
    PortNotExposed {
        /// The container's name.
        container: String,
        /// The port asked for, e.g. `5432/tcp`.
        port: String,
        /// The ports the container does expose.
        exposed: Vec<String>,
    },

    /// The spec (or other input) is invalid; nothing was created.
    #[error("invalid {what}: {message}")]
    InvalidInput {
        /// What was invalid (e.g. `ContainerSpec for image "x"`).
        what: String,
        /// Why, and what to do.
        message: String,
    },

    /// A command run in a container with `exec` failed.
    #[error(
        "exec {cmd:?} in container `{container}` exited with code {exit_code}; stderr: {stderr}"
    )]
    ExecFailed {
        /// The container's name.
        container: String,
        /// The command.
        cmd: Vec<String>,
        /// Its exit code.
        exit_code: i64,
        /// The tail of its stderr.
        stderr: String,
    },

    /// An operation did not finish in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was being waited for, naming the container.
        what: String,
        /// How long dockhand waited.
        after: Duration,
    },

    /// The container stopped before its readiness probes passed (see
    /// [`WaitFor`](crate::WaitFor)).
    #[error(
        "container `{}` ({}) exited{} {:.1?} after it started, before it was ready (waiting for {}){}",
        diagnosis.container,
        diagnosis.image,
        diagnosis.exit_code.map(|c| format!(" with code {c}")).unwrap_or_default(),
        diagnosis.elapsed,
        diagnosis.probe,
        log_tail(&diagnosis.logs)
    )]
    ContainerExited {
        /// The container, the probe that was waiting, its exit code and logs.
        diagnosis: Box<Diagnosis>,
    },

    /// A readiness probe did not pass in time (see [`WaitFor`](crate::WaitFor)).
    #[error(
        "container `{}` ({}) not ready after {:.1?}: {} did not pass within the {which} of {timeout:?}\n  \
         last seen: {last_seen}\n  container state: {}\n  \
         hint: if the service is only slow, raise `.startup_timeout(..)` (or the probe's `.timeout(..)`); \
         otherwise check that the probe matches what the service does (port, path, log text){}",
        diagnosis.container,
        diagnosis.image,
        diagnosis.elapsed,
        diagnosis.probe,
        diagnosis.state,
        log_tail(&diagnosis.logs)
    )]
    NotReady {
        /// What the probe saw last, e.g. `connection refused on 127.0.0.1:49153 (container port 5432/tcp)`.
        last_seen: String,
        /// The time limit that ran out.
        timeout: Duration,
        /// Which limit: `startup timeout` or `probe timeout`.
        which: &'static str,
        /// The container, the probe, its state and logs.
        diagnosis: Box<Diagnosis>,
    },

    /// A readiness probe can never pass: the healthcheck reports unhealthy,
    /// the container exited with another code than expected, the probe's
    /// command cannot run… (see [`WaitFor`](crate::WaitFor)).
    #[error(
        "container `{}` ({}) failed readiness probe {} {:.1?} after it started: {reason}\n  container state: {}{}",
        diagnosis.container,
        diagnosis.image,
        diagnosis.probe,
        diagnosis.elapsed,
        diagnosis.state,
        log_tail(&diagnosis.logs)
    )]
    ProbeFailed {
        /// Why it can never pass.
        reason: String,
        /// The container, the probe, its state and logs.
        diagnosis: Box<Diagnosis>,
    },

    /// A snapshot could not be made (see
    /// [`ContainerSpec::snapshot`](crate::ContainerSpec::snapshot)): its
    /// set-up failed, or the container wrote into a volume, which
    /// `docker commit` does not capture. Nothing was committed.
    #[error("snapshot `{key}` of image `{image}` could not be made: {message}")]
    SnapshotFailed {
        /// The snapshot's key.
        key: String,
        /// The base image.
        image: String,
        /// What went wrong, and what to do.
        message: String,
    },

    /// A database server (of a database module) refused a statement.
    #[error("{action} failed: {message}")]
    Database {
        /// What dockhand was doing, naming the database and the container.
        action: String,
        /// What the server said.
        message: String,
    },

    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What dockhand was doing, naming the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// What dockhand saw of a container whose readiness wait failed; carried by
/// [`Error::ContainerExited`], [`Error::NotReady`] and [`Error::ProbeFailed`]
/// (see [`Error::diagnosis`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The container's name.
    pub container: String,
    /// Its image.
    pub image: String,
    /// The probe that failed, e.g. `port 5432/tcp`.
    pub probe: String,
    /// How long after the container started the wait failed.
    pub elapsed: Duration,
    /// The container's state then, e.g. `running`, `exited with code 1`.
    pub state: String,
    /// Its exit code, if it had exited.
    pub exit_code: Option<i64>,
    /// Its last log lines (up to 50), stdout and stderr interleaved.
    pub logs: Vec<crate::logs::LogLine>,
}

/// The log lines a readiness failure carries, one per line, `out|`/`err|` marking the stream.
fn log_tail(logs: &[crate::logs::LogLine]) -> String {
    if logs.is_empty() {
        return "\n  the container wrote no output".into();
    }
    let plural = if logs.len() == 1 { "" } else { "s" };
    let mut text = format!("\n  last {} log line{plural}:", logs.len());
    for line in logs {
        let mark = match line.source {
            crate::logs::Source::Stdout => "out",
            crate::logs::Source::Stderr => "err",
        };
        text.push_str(&format!("\n    {mark}| {}", line.text));
    }
    text
}

impl Error {
    /// Wraps a bollard error with what dockhand was doing when it happened.
    pub(crate) fn engine(action: impl Into<String>, err: bollard::errors::Error) -> Self {
        use bollard::errors::Error as B;
        let action = action.into();
        match err {
            B::DockerResponseServerError {
                status_code,
                message,
            } => Error::Engine {
                action,
                status: Some(status_code),
                message,
            },
            B::RequestTimeoutError => Error::Timeout {
                what: action,
                after: crate::engine::REQUEST_TIMEOUT,
            },
            other => Error::Engine {
                action,
                status: None,
                message: other.to_string(),
            },
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            what: what.into(),
            message: message.into(),
        }
    }

    /// The engine's HTTP status, when the error came from an engine answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Engine { status, .. } => *status,
            _ => None,
        }
    }

    /// The container's state and logs, when a readiness wait failed.
    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        match self {
            Error::ContainerExited { diagnosis }
            | Error::NotReady { diagnosis, .. }
            | Error::ProbeFailed { diagnosis, .. } => Some(diagnosis),
            _ => None,
        }
    }

    /// True when the engine said the object does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || matches!(self, Error::ImageNotFound { .. })
    }
}
