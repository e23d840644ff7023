//! Running commands inside a container.

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;

use crate::container::Container;
use crate::engine;
use crate::error::{Error, Result};
use crate::logs::{frame, Source};

/// A command to run in a container, with its environment, user and folder.
///
/// ```no_run
/// # async fn demo(c: dockhand::Container) -> dockhand::Result<()> {
/// use dockhand::Exec;
/// let out = c
///     .exec_with(Exec::new(["sh", "-c", "echo $GREETING; id -u"]).env("GREETING", "hi").user("1000"))
///     .await?;
/// assert_eq!(out.stdout, "hi\n1000\n");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Exec {
    cmd: Vec<String>,
    env: Vec<String>,
    user: Option<String>,
    working_dir: Option<String>,
    privileged: bool,
}

impl Exec {
    /// The command and its arguments (no shell: use `["sh", "-c", "…"]` for one).
    pub fn new<I, S>(cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec {
            cmd: cmd.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            user: None,
            working_dir: None,
            privileged: false,
        }
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(format!("{}={}", key.into(), value.into()));
        self
    }

    /// Runs as this user (`name`, `uid` or `uid:gid`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Runs in this folder.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// The command and its arguments.
    pub(crate) fn command(&self) -> &[String] {
        &self.cmd
    }

    /// Runs with extended privileges.
    pub fn privileged(mut self) -> Self {
        self.privileged = true;
        self
    }
}

/// What a command run with [`Container::exec`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Its exit code (126/127 when the binary could not be run).
    pub exit_code: i64,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl ExecOutput {
    /// True when the command exited with 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

impl Container {
    /// Runs a command in the container and collects its exit code and output.
    ///
    /// A command that cannot be run (missing binary) gives exit code 126 or
    /// 127 with the engine's reason in `stderr`; it is not an `Err`. Use
    /// [`exec_ok`](Self::exec_ok) to treat any non-zero exit as an error.
    pub async fn exec<I, S>(&self, cmd: I) -> Result<ExecOutput>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exec_with(Exec::new(cmd)).await
    }

    /// Like [`exec`](Self::exec), failing with [`Error::ExecFailed`] on a non-zero exit.
    pub async fn exec_ok<I, S>(&self, cmd: I) -> Result<ExecOutput>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exec_with_ok(Exec::new(cmd)).await
    }

    /// Like [`exec_with`](Self::exec_with), failing with
    /// [`Error::ExecFailed`] on a non-zero exit.
    pub async fn exec_with_ok(&self, exec: Exec) -> Result<ExecOutput> {
        let cmd = exec.cmd.clone();
        let out = self.exec_with(exec).await?;
        if out.success() {
            return Ok(out);
        }
        let tail: Vec<&str> = out.stderr.lines().rev().take(20).collect();
        Err(Error::ExecFailed {
            container: self.name().to_string(),
            cmd,
            exit_code: out.exit_code,
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        })
    }

    /// Runs an [`Exec`] in the container.
    pub async fn exec_with(&self, exec: Exec) -> Result<ExecOutput> {
        if exec.cmd.is_empty() {
            return Err(Error::invalid(
                format!("exec in container `{}`", self.name()),
                "the command is empty",
            ));
        }
        let inner = self.inner.clone();
        engine::run(async move {
            let verb = format!("exec {:?} in", exec.cmd);
            let opts = CreateExecOptions {
                cmd: Some(exec.cmd.clone()),
                env: (!exec.env.is_empty()).then(|| exec.env.clone()),
                user: exec.user.clone(),
                working_dir: exec.working_dir.clone(),
                privileged: Some(exec.privileged),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            };
            let created = inner
                .call(&verb, inner.docker().create_exec(&inner.id, opts))
                .await?;
            let started = inner
                .call(&verb, inner.docker().start_exec(&created.id, None))
                .await?;
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            if let StartExecResults::Attached { mut output, .. } = started {
                while let Some(item) = output.next().await {
                    let out = item.map_err(|e| Error::engine(inner.action(&verb), e))?;
                    match frame(&out) {
                        Some((Source::Stdout, b)) => stdout.extend_from_slice(b),
                        Some((Source::Stderr, b)) => stderr.extend_from_slice(b),
                        None => {}
                    }
                }
            }
            // The output ends a moment before the engine records the exit code.
            let mut delay = Duration::from_millis(1);
            let exit_code = loop {
                let info = inner
                    .call(&verb, inner.docker().inspect_exec(&created.id))
                    .await?;
                match (info.running, info.exit_code) {
                    (Some(false), Some(code)) => break code,
                    _ if delay > Duration::from_secs(2) => {
                        return Err(Error::Timeout {
                            what: format!("exit code of {} ", inner.action(&verb)),
                            after: Duration::from_secs(4),
                        })
                    }
                    _ => {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            };
            Ok(ExecOutput {
                exit_code,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            })
        })
        .await
    }
}
