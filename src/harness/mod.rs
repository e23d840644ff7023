//! Running a `#[dockhand::test]`: the runtime, the fixtures, the outcome.
//!
//! The macro only rewrites the function into a call to [`run_async`] or
//! [`run_sync`]; everything a test does around its body lives here, where it
//! is tested and documented like the rest of the library.

pub(crate) mod fixture;
pub(crate) mod keep;
pub(crate) mod report;
pub(crate) mod scope;

use std::fmt::Debug;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::engine::Engine;
use crate::error::Error;
use keep::KeepPolicy;
use scope::ScopeGuard;

/// How the test's async runtime is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// One thread (the default, as with `#[tokio::test]`).
    #[default]
    CurrentThread,
    /// A multi-thread runtime with this many workers (`None`: one per core).
    MultiThread(Option<usize>),
}

/// The options of one test, as the macro writes them.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// The test's path, `module::name`.
    pub path: &'static str,
    /// The runtime flavour (async tests).
    pub flavor: Flavor,
    /// The `keep` option; `None` reads `DOCKHAND_KEEP`.
    pub keep: Option<KeepPolicy>,
    /// The `timeout` option.
    pub timeout: Option<Duration>,
    /// The `skip_without_engine` option; `None` reads `DOCKHAND_SKIP_WITHOUT_ENGINE`.
    pub skip_without_engine: Option<bool>,
    /// The `network` option: the test's containers join a network of their own.
    pub network: bool,
}

/// What a test body may return: `()` or `Result<(), E: Debug>`.
pub trait TestOutcome {
    /// The failure to report, if the body failed without panicking.
    fn failure(self) -> Option<String>;
}

impl TestOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: Debug> TestOutcome for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| format!("{e:?}"))
    }
}

/// Runs an async test: `body` sets up the fixtures and runs the test's body.
pub fn run_async<F, Fut, O>(opts: TestOptions, body: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<O, SetupFailure>>,
    O: TestOutcome,
{
    let Some(keep) = prepare(&opts) else { return };
    let mut builder = match opts.flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread(workers) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = workers {
                b.worker_threads(n);
            }
            b
        }
    };
    let rt = builder
        .enable_all()
        .build()
        .expect("dockhand: cannot build the test's tokio runtime");
    let guard = ScopeGuard::enter(test_path(opts.path), keep, opts.network);
    let timeout = opts.timeout;
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async move {
            match timeout {
                Some(t) => tokio::time::timeout(t, body())
                    .await
                    .unwrap_or_else(|_| Err(SetupFailure::timed_out(t))),
                None => body().await,
            }
        })
    }));
    // Tasks the test spawned may hold containers: drop them inside the scope.
    drop(rt);
    conclude(guard, result);
}

/// Runs a sync test: `setup` builds the fixtures (on a runtime of its own),
/// `body` runs the test's body with them.
pub fn run_sync<S, Fut, P, B, O>(opts: TestOptions, setup: S, body: B)
where
    S: FnOnce() -> Fut,
    Fut: Future<Output = Result<P, SetupFailure>>,
    B: FnOnce(P) -> O + Send + 'static,
    P: Send + 'static,
    O: TestOutcome + Send + 'static,
{
    let Some(keep) = prepare(&opts) else { return };
    let guard = ScopeGuard::enter(test_path(opts.path), keep, opts.network);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("dockhand: cannot build a tokio runtime for the fixtures");
    let result = catch_unwind(AssertUnwindSafe(|| {
        let params = rt.block_on(setup())?;
        match opts.timeout {
            None => Ok(body(params)),
            Some(t) => {
                // The body runs on its own thread so the test can give up on it.
                let (tx, rx) = std::sync::mpsc::channel();
                let scope = guard.scope().clone();
                let worker = std::thread::spawn(move || {
                    let out = catch_unwind(AssertUnwindSafe(|| {
                        scope::with_current(scope, || body(params))
                    }));
                    let _ = tx.send(out);
                });
                match rx.recv_timeout(t) {
                    Ok(Ok(out)) => Ok(out),
                    Ok(Err(panic)) => {
                        let _ = worker.join();
                        resume_unwind(panic)
                    }
                    Err(_) => Err(SetupFailure::timed_out(t)),
                }
            }
        }
    }));
    drop(rt);
    conclude(guard, result);
}

/// Decides the keep policy and whether the test runs at all.
fn prepare(opts: &TestOptions) -> Option<KeepPolicy> {
    let keep = match opts.keep {
        Some(k) => k,
        None => KeepPolicy::from_env().unwrap_or_else(|e| panic!("{e}")),
    };
    let skip = opts
        .skip_without_engine
        .unwrap_or_else(|| env_flag("DOCKHAND_SKIP_WITHOUT_ENGINE"));
    if skip {
        let probe = crate::engine::block(Engine::shared());
        if let Err(e) = probe {
            // Past libtest's capture: a passing test's output is never shown.
            let notice = format!(
                "dockhand: SKIPPED `{}`: no Docker engine ({e})\n",
                test_path(opts.path)
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
            return None;
        }
    }
    Some(keep)
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// Reports the outcome: logs and keep/remove through the scope, then the
/// panic or failure libtest should see.
fn conclude<O: TestOutcome>(
    guard: ScopeGuard,
    result: std::thread::Result<Result<O, SetupFailure>>,
) {
    let failure = match result {
        Err(panic) => {
            guard.scope().finish(true);
            drop(guard);
            resume_unwind(panic);
        }
        Ok(Err(setup)) => Some(setup.to_string()),
        Ok(Ok(outcome)) => outcome.failure(),
    };
    guard.scope().finish(failure.is_some());
    drop(guard);
    if let Some(message) = failure {
        panic!("{message}");
    }
}

/// Why a test could not run its body: a fixture failed, or time ran out.
#[derive(Debug)]
pub struct SetupFailure {
    message: String,
}

impl SetupFailure {
    /// A fixture (parameter `name`) failed to set up.
    pub fn fixture(name: &str, err: impl std::fmt::Display) -> Self {
        SetupFailure {
            message: format!("dockhand: setting up parameter `{name}` failed: {err}"),
        }
    }

    fn timed_out(t: Duration) -> Self {
        SetupFailure {
            message: format!("dockhand: the test timed out after {t:?}"),
        }
    }
}

impl std::fmt::Display for SetupFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Sets up one `#[spec(..)]` parameter: a [`Container`](crate::Container)
/// from a [`ContainerSpec`](crate::ContainerSpec), or what another
/// [`Startable`](crate::Startable) spec starts.
pub async fn container_parameter<T, S: crate::Startable<Started = T>>(
    test: &'static str,
    name: &'static str,
    spec: S,
) -> Result<T, SetupFailure> {
    let ctx = fixture::TestContext::new(test_path(test), name);
    spec.start_for(&ctx)
        .await
        .map_err(|e| SetupFailure::fixture(name, e))
}

/// Sets up one parameter whose type implements [`Fixture`](fixture::Fixture).
pub async fn fixture_parameter<T: fixture::Fixture>(
    test: &'static str,
    name: &'static str,
) -> Result<T, SetupFailure> {
    let ctx = fixture::TestContext::new(test_path(test), name);
    T::setup(&ctx)
        .await
        .map_err(|e| SetupFailure::fixture(name, e))
}

/// `module_path!()` spells keyword modules raw (`r#macro`); labels and
/// names want the plain word.
fn test_path(path: &str) -> String {
    path.split("::")
        .map(|seg| seg.strip_prefix("r#").unwrap_or(seg))
        .collect::<Vec<_>>()
        .join("::")
}

/// Turns a test name into a container-name prefix (`[a-zA-Z0-9_.-]`).
pub(crate) fn sanitize_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let short: String = trimmed.chars().take(48).collect();
    if short.is_empty() {
        "dockhand".into()
    } else {
        short
    }
}

impl From<Error> for SetupFailure {
    fn from(e: Error) -> Self {
        SetupFailure {
            message: e.to_string(),
        }
    }
}
