//! The exit probe, and the watcher that tells every probe the container exited.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::{Ctx, Failure, Seen};
use crate::container::Inner;
use crate::engine;

/// Waits for the container to exit, optionally with a given code; from
/// [`WaitFor::exit`](super::WaitFor::exit).
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// use dockhand::{ContainerSpec, WaitFor};
/// let migration = ContainerSpec::new("dockhand-test/busybox")
///     .cmd(["sh", "-c", "echo migrated"])
///     .wait_for(WaitFor::exit().code(0))
///     .start()
///     .await?; // returns once it exited with 0; another code is an error
/// assert_eq!(migration.logs().await?.stdout, "migrated\n");
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct ExitProbe {
    code: Option<i64>,
    pub(super) timeout: Option<Duration>,
}

impl ExitProbe {
    pub(super) fn new() -> Self {
        ExitProbe::default()
    }

    /// Passes only on this exit code; any other fails at once.
    pub fn code(mut self, code: i64) -> Self {
        self.code = Some(code);
        self
    }

    pub(super) async fn run(&self, ctx: &Ctx<'_>, seen: &Seen) -> Result<(), Failure> {
        seen.set("the container is still running");
        let code = ctx.exited().await;
        match (self.code, code) {
            (None, _) => Ok(()),
            (Some(want), Some(got)) if want == got => Ok(()),
            (Some(want), got) => Err(Failure::Failed {
                probe: self.to_string(),
                reason: match got {
                    Some(got) => format!("the container exited with code {got}, not {want}"),
                    None => {
                        format!("the container is gone; its exit code (expected {want}) is unknown")
                    }
                },
            }),
        }
    }
}

impl fmt::Display for ExitProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(c) => write!(f, "exit with code {c}"),
            None => f.write_str("exit"),
        }
    }
}

impl fmt::Debug for ExitProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExitProbe({self})")
    }
}

/// News that the container stopped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exited {
    /// Its exit code; `None` when the container vanished (removed by someone).
    pub(crate) code: Option<i64>,
}

/// Stops the watcher when the wait is over.
pub(crate) struct WatchGuard(tokio::task::AbortHandle);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches for the container's exit with the engine's wait endpoint, which
/// answers the moment it happens (or at once if it already did).
pub(crate) fn watch(inner: Arc<Inner>) -> (watch::Receiver<Option<Exited>>, WatchGuard) {
    let (tx, rx) = watch::channel(None);
    let task = engine::spawn(async move {
        let code = loop {
            let mut stream = inner.docker().wait_container(&inner.id, None);
            match stream.next().await {
                Some(Ok(r)) => break Some(r.status_code),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                    break Some(code)
                }
                Some(Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                })) => break None,
                // A dropped connection or the client's request timeout: ask again.
                Some(Err(e)) => {
                    tracing::debug!(parent: &inner.span, "engine: wait failed ({e}); waiting again")
                }
                None => {
                    tracing::debug!(parent: &inner.span, "engine: wait ended without an answer; waiting again")
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        tracing::debug!(parent: &inner.span, ?code, "container exited during the readiness wait");
        let _ = tx.send(Some(Exited { code }));
    });
    (rx, WatchGuard(task))
}
