//! Containers shared by every test of a test binary.

use std::future::Future;

use tokio::sync::OnceCell;

use crate::container::Container;
use crate::error::Result;
use crate::spec::ContainerSpec;

/// A container started once, on first use, and shared by all the tests of a
/// process (a test binary under `cargo test`; one test under `cargo nextest`,
/// which runs each test in a process of its own).
///
/// Rust never drops statics; dockhand removes the container anyway when the
/// process ends: at a normal exit synchronously, and on a signal or a
/// SIGKILL through its watchdog.
///
/// ```no_run
/// use dockhand::{ContainerSpec, Shared};
///
/// static DB: Shared = Shared::new(|| {
///     ContainerSpec::new("dockhand-test/busybox").cmd(["sleep", "infinity"])
/// });
///
/// #[dockhand::test]
/// async fn uses_the_shared_db() {
///     let db = DB.get().await.unwrap();
///     assert!(db.exec(["true"]).await.unwrap().success());
/// }
/// ```
pub struct Shared<S: SharedStart = ContainerSpec> {
    spec: fn() -> S,
    cell: OnceCell<S::Started>,
}

/// What a [`Shared`] can start: a [`ContainerSpec`], or a database module's
/// spec (`PostgresSpec`, `RedisSpec`, `MariaDbSpec`), so a whole server with
/// its helpers is shared.
pub trait SharedStart: Send + 'static {
    /// What the start gives: a [`Container`], or a module's server handle.
    type Started: Send + Sync + 'static;

    /// Starts it owned by no test: it lives until the process ends.
    fn start_shared(self) -> impl Future<Output = Result<Self::Started>> + Send;
}

impl SharedStart for ContainerSpec {
    type Started = Container;

    async fn start_shared(self) -> Result<Container> {
        let spec = if self.name_prefix.is_none() {
            self.name_prefix("shared")
        } else {
            self
        };
        spec.start_detached().await
    }
}

impl<S: SharedStart> std::fmt::Debug for Shared<S>
where
    S::Started: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("started", &self.cell.get())
            .finish()
    }
}

impl<S: SharedStart> Shared<S> {
    /// Something shared, started from `spec()` on first use.
    pub const fn new(spec: fn() -> S) -> Self {
        Shared {
            spec,
            cell: OnceCell::const_new(),
        }
    }

    /// The container (or server), started on the first call; concurrent
    /// first calls start it once. A failed start is returned and tried again
    /// next time.
    pub async fn get(&'static self) -> Result<&'static S::Started> {
        // Not owned by the test that happens to start it.
        self.cell
            .get_or_try_init(|| (self.spec)().start_shared())
            .await
    }

    /// [`get`](Self::get) for code without an async runtime.
    pub fn get_blocking(&'static self) -> Result<&'static S::Started> {
        futures::executor::block_on(self.get())
    }
}
