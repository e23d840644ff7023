//! Containers shared by every test of a test binary.

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
pub struct Shared {
    spec: fn() -> ContainerSpec,
    cell: OnceCell<Container>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("container", &self.cell.get())
            .finish()
    }
}

impl Shared {
    /// A shared container started from `spec()` on first use.
    pub const fn new(spec: fn() -> ContainerSpec) -> Self {
        Shared {
            spec,
            cell: OnceCell::const_new(),
        }
    }

    /// The container, started on the first call; concurrent first calls
    /// start it once. A failed start is returned and tried again next time.
    pub async fn get(&'static self) -> Result<&'static Container> {
        self.cell
            .get_or_try_init(|| {
                let mut spec = (self.spec)();
                if spec.name_prefix.is_none() {
                    spec = spec.name_prefix("shared");
                }
                // Not owned by the test that happens to start it.
                spec.start_detached()
            })
            .await
    }

    /// [`get`](Self::get) for code without an async runtime.
    pub fn get_blocking(&'static self) -> Result<&'static Container> {
        futures::executor::block_on(self.get())
    }
}
