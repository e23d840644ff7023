//! The exec probe: a command inside the container exits with 0.

use std::fmt;
use std::time::Duration;

use super::{Backoff, Ctx, Failure, Seen};
use crate::exec::Exec;

/// Runs a command in the container until it exits with 0; from
/// [`WaitFor::exec`](super::WaitFor::exec) or
/// [`WaitFor::exec_with`](super::WaitFor::exec_with).
///
/// ```
/// use dockhand::{Exec, WaitFor};
/// let probe = WaitFor::exec_with(Exec::new(["redis-cli", "ping"]).user("redis"));
/// # let _ = probe;
/// ```
#[derive(Clone)]
pub struct ExecProbe {
    exec: Exec,
    pub(super) timeout: Option<Duration>,
}

impl ExecProbe {
    pub(super) fn new(exec: Exec) -> Self {
        ExecProbe {
            exec,
            timeout: None,
        }
    }

    pub(super) async fn run(&self, ctx: &Ctx<'_>, seen: &Seen) -> Result<(), Failure> {
        let mut backoff = Backoff::engine();
        loop {
            let out = ctx.container.exec_with(self.exec.clone()).await?;
            if out.success() {
                return Ok(());
            }
            let stderr: String = out.stderr.trim().chars().take(300).collect();
            // The engine's reason arrives on stdout or stderr, depending on the engine.
            let reason = format!("{} {stderr}", out.stdout.trim());
            if cannot_run(out.exit_code, &reason) {
                return Err(Failure::Failed {
                    probe: self.to_string(),
                    reason: format!(
                        "the command cannot run in this container: {}",
                        reason.trim()
                    ),
                });
            }
            seen.set(format!(
                "exit code {}; stderr: {stderr:?}; stdout: {:?}",
                out.exit_code,
                out.stdout.trim().chars().take(200).collect::<String>()
            ));
            backoff.pause().await;
        }
    }
}

/// The engine could not start the command at all (no such binary, not
/// executable): running it again will not help.
fn cannot_run(exit_code: i64, output: &str) -> bool {
    (exit_code == 126 || exit_code == 127)
        && (output.contains("OCI runtime exec failed")
            || output.contains("executable file not found")
            || output.contains("no such file or directory"))
}

impl fmt::Display for ExecProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exec {:?} exiting 0", self.exec.command())
    }
}

impl fmt::Debug for ExecProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExecProbe({self})")
    }
}
