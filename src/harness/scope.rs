//! The test scope: every container started while a `#[dockhand::test]` runs
//! belongs to it, so that when the test ends its logs can be shown, and it
//! can be kept or removed as the keep policy says, whichever way the test ended.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::cleanup;
use crate::container::Inner;
use crate::engine::Engine;
use crate::error::Result;
use crate::harness::keep::KeepPolicy;
use crate::harness::report;
use crate::network::{Network, NetworkSpec};

/// Ends something with the test; told whether the test's resources are kept.
pub(crate) type Finisher = Box<dyn FnOnce(bool) + Send>;

pub(crate) struct Scope {
    /// The test's path, `module::test`.
    pub(crate) test: String,
    pub(crate) keep: KeepPolicy,
    containers: Mutex<Vec<Arc<Inner>>>,
    /// Other things to end with the test (isolated databases); each is told
    /// whether the keep policy keeps the test's resources.
    finishers: Mutex<Vec<Finisher>>,
    /// The test's own network, created on first use when asked for.
    network: Option<tokio::sync::OnceCell<Network>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Scope>>> = const { RefCell::new(None) };
}

/// The scope of the test running on this thread, if any.
pub(crate) fn current() -> Option<Arc<Scope>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `f` with `scope` current on this thread (for a test body that runs
/// on a thread of its own).
pub(crate) fn with_current<R>(scope: Arc<Scope>, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(scope));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    out
}

/// Makes a scope current on this thread; undone when the guard drops, which
/// also removes whatever `finish` did not handle (the last line of defence).
pub(crate) struct ScopeGuard {
    scope: Arc<Scope>,
    previous: Option<Arc<Scope>>,
}

impl ScopeGuard {
    pub(crate) fn enter(test: String, keep: KeepPolicy, network: bool) -> Self {
        let scope = Arc::new(Scope {
            test,
            keep,
            containers: Mutex::new(Vec::new()),
            finishers: Mutex::new(Vec::new()),
            network: network.then(tokio::sync::OnceCell::new),
        });
        let previous = CURRENT.with(|c| c.borrow_mut().replace(scope.clone()));
        ScopeGuard { scope, previous }
    }

    pub(crate) fn scope(&self) -> &Arc<Scope> {
        &self.scope
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = self.previous.take());
        // Normally `finish` has emptied the list already.
        self.scope.finish(false);
    }
}

impl Scope {
    /// The test's network, if it asked for one; taken on first use. Its
    /// containers keep it alive: it goes with the last of them.
    pub(crate) async fn network(&self, engine: &Engine) -> Result<Option<Network>> {
        let Some(cell) = &self.network else {
            return Ok(None);
        };
        // Unnamed, so it can come ready-made from the pool.
        let net = cell
            .get_or_try_init(|| NetworkSpec::new().engine(engine.clone()).create())
            .await?;
        Ok(Some(net.clone()))
    }

    pub(crate) fn register(&self, inner: Arc<Inner>) {
        inner.in_scope.store(true, Ordering::SeqCst);
        self.lock().push(inner);
    }

    /// Runs `finish` when the test ends, whichever way it ends.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "redis", feature = "mariadb")),
        allow(dead_code)
    )]
    pub(crate) fn on_finish(&self, finish: Finisher) {
        self.finishers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(finish);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Inner>>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the test: on failure prints each container's last log lines;
    /// keeps (with a banner) or removes every container the test started.
    pub(crate) fn finish(&self, failed: bool) {
        let finishers =
            std::mem::take(&mut *self.finishers.lock().unwrap_or_else(|e| e.into_inner()));
        for f in finishers {
            f(self.keep.keeps(failed));
        }
        let containers: Vec<_> = std::mem::take(&mut *self.lock())
            .into_iter()
            .filter(|c| !c.removed.load(Ordering::SeqCst))
            .collect();
        if containers.is_empty() {
            return;
        }
        if failed {
            report::dump_logs(&containers);
        }
        let keep = self.keep.keeps(failed);
        let mut to_remove = Vec::new();
        for c in containers {
            c.in_scope.store(false, Ordering::SeqCst);
            if keep {
                c.keep.store(true, Ordering::SeqCst);
                report::keep_banner(&c, &self.test);
            } else {
                c.removed.store(true, Ordering::SeqCst);
                to_remove.push(c);
            }
        }
        cleanup::remove_at_test_end(to_remove);
    }
}
