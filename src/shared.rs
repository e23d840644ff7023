//! Containers shared by every test of a test binary.

use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::container::{Container, Inner};
use crate::error::Result;
use crate::harness::keep::KeepPolicy;
use crate::spec::ContainerSpec;
use crate::startable::Startable;

/// A container started once, on first use, and shared by all the tests of a
/// process (a test binary under `cargo test`; one test under `cargo nextest`,
/// which runs each test in a process of its own).
///
/// Rust never drops statics; dockhand removes the container anyway when the
/// process ends: at a normal exit synchronously, and on a signal or a
/// SIGKILL through its watchdog.
///
/// Under `DOCKHAND_KEEP=on-failure|always` a shared container is labelled
/// `dockhand.keep=true`; it is still removed at a normal exit unless a
/// failed test kept something in it (an isolated database), and it is left
/// (as kept, see `dockhand ls`) when the process is killed.
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
pub struct Shared<S: Startable = ContainerSpec> {
    spec: fn() -> S,
    cell: OnceCell<S::Started>,
}

/// Shared containers started while `DOCKHAND_KEEP` asks to keep: labelled
/// kept from birth (labels are fixed then), removed at exit by
/// [`remove_unretained`] unless a test kept something in them ([`retain`]).
static KEEPABLE: Mutex<Vec<(Arc<Inner>, bool)>> = Mutex::new(Vec::new());

/// Starts a shared container: owned by no test, removed at exit.
/// A spec's own `keep(true)` stays: such a container is never removed.
pub(crate) async fn start_container(spec: ContainerSpec) -> Result<Container> {
    let keepable = !spec.keep && KeepPolicy::from_env().unwrap_or_default() != KeepPolicy::Never;
    let spec = if keepable { spec.keep(true) } else { spec };
    let container = spec.start_detached().await?;
    if keepable {
        lock().push((container.inner.clone(), false));
    }
    Ok(container)
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(Arc<Inner>, bool)>> {
    KEEPABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps the shared container `id` after the process ends (a test kept
/// something in it); false when it cannot be kept (started without a keep
/// policy in `DOCKHAND_KEEP`, so not labelled kept).
#[cfg_attr(
    not(any(feature = "postgres", feature = "redis", feature = "mariadb")),
    allow(dead_code)
)]
pub(crate) fn retain(id: &str) -> bool {
    let mut all = lock();
    match all.iter_mut().find(|(c, _)| c.id == id) {
        Some((_, retained)) => {
            *retained = true;
            true
        }
        None => false,
    }
}

/// At exit: removes the keepable shared containers nothing retained.
pub(crate) fn remove_unretained() {
    let doomed: Vec<Arc<Inner>> = std::mem::take(&mut *lock())
        .into_iter()
        .filter_map(|(c, retained)| (!retained).then_some(c))
        .collect();
    if doomed.is_empty() {
        return;
    }
    let removal = crate::cleanup::remove_all(doomed);
    if crate::engine::block_bounded(removal, std::time::Duration::from_secs(20)).is_none() {
        tracing::warn!("dockhand: removing the shared containers took longer than 20 s");
    }
}

impl<S: Startable> std::fmt::Debug for Shared<S>
where
    S::Started: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("started", &self.cell.get())
            .finish()
    }
}

impl<S: Startable> Shared<S> {
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
