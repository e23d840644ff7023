//! The same handle, for tests without an async runtime.
//!
//! Each call runs on dockhand's engine runtime and blocks the calling thread
//! until it is done, so it works in a plain `#[test]`, and even inside an
//! async runtime (where it blocks that runtime's thread: prefer the async API
//! there).
//!
//! ```no_run
//! # fn demo() -> dockhand::Result<()> {
//! let web = dockhand::ContainerSpec::new("dockhand-test/busybox")
//!     .cmd(["httpd", "-f", "-p", "8080"])
//!     .expose(8080)
//!     .start_blocking()?;
//! let out = web.blocking().exec(["echo", "hi"])?;
//! assert_eq!(out.stdout, "hi\n");
//! # Ok(()) }
//! ```

use std::path::Path;
use std::time::Duration;

use futures::executor::block_on;

use crate::container::Container;
use crate::error::Result;
use crate::exec::{Exec, ExecOutput};
use crate::logs::{LogLine, Logs};
use crate::stats::Stats;

/// Blocking versions of the [`Container`] verbs; from [`Container::blocking`].
#[derive(Debug, Clone, Copy)]
pub struct BlockingContainer<'a> {
    c: &'a Container,
}

impl<'a> BlockingContainer<'a> {
    pub(crate) fn new(c: &'a Container) -> Self {
        BlockingContainer { c }
    }

    /// See [`Container::exec`].
    pub fn exec<I, S>(&self, cmd: I) -> Result<ExecOutput>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        block_on(self.c.exec(cmd))
    }

    /// See [`Container::exec_with`].
    pub fn exec_with(&self, exec: Exec) -> Result<ExecOutput> {
        block_on(self.c.exec_with(exec))
    }

    /// See [`Container::logs`].
    pub fn logs(&self) -> Result<Logs> {
        block_on(self.c.logs())
    }

    /// See [`Container::tail`].
    pub fn tail(&self, n: usize) -> Result<Vec<LogLine>> {
        block_on(self.c.tail(n))
    }

    /// See [`Container::inspect`].
    pub fn inspect(&self) -> Result<bollard::models::ContainerInspectResponse> {
        block_on(self.c.inspect())
    }

    /// See [`Container::stats`].
    pub fn stats(&self) -> Result<Stats> {
        block_on(self.c.stats())
    }

    /// See [`Container::stop`].
    pub fn stop(&self) -> Result<()> {
        block_on(self.c.stop())
    }

    /// See [`Container::stop_with_timeout`].
    pub fn stop_with_timeout(&self, grace: Duration) -> Result<()> {
        block_on(self.c.stop_with_timeout(grace))
    }

    /// See [`Container::start`].
    pub fn start(&self) -> Result<()> {
        block_on(self.c.start())
    }

    /// See [`Container::restart`].
    pub fn restart(&self) -> Result<()> {
        block_on(self.c.restart())
    }

    /// See [`Container::pause`].
    pub fn pause(&self) -> Result<()> {
        block_on(self.c.pause())
    }

    /// See [`Container::unpause`].
    pub fn unpause(&self) -> Result<()> {
        block_on(self.c.unpause())
    }

    /// See [`Container::kill`].
    pub fn kill(&self, signal: &str) -> Result<()> {
        block_on(self.c.kill(signal))
    }

    /// See [`Container::wait`].
    pub fn wait(&self) -> Result<i64> {
        block_on(self.c.wait())
    }

    /// See [`Container::read_file`].
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        block_on(self.c.read_file(path))
    }

    /// See [`Container::copy_out`].
    pub fn copy_out(&self, path: &str, dest: impl AsRef<Path>) -> Result<()> {
        block_on(self.c.copy_out(path, dest))
    }
}
