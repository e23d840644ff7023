//! # dockhand
//!
//! Throwaway Docker containers for Rust tests. Every test gets its own
//! containers, started from images or Dockerfiles, with their published ports,
//! logs and an `exec`; dropping the handle removes them.
//!
//! ```no_run
//! # async fn demo() -> dockhand::Result<()> {
//! use dockhand::ContainerSpec;
//!
//! let web = ContainerSpec::new("dockhand-test/busybox")
//!     .cmd(["httpd", "-f", "-p", "8080"])
//!     .env("MODE", "test")
//!     .expose(8080)
//!     .wait_for(dockhand::WaitFor::port(8080)) // see `wait` for every probe
//!     .start()
//!     .await?; // returns once the server listens, or says why it never did
//!
//! let addr = web.addr(8080)?; // 127.0.0.1:<mapped port>
//! let out = web.exec(["cat", "/etc/hostname"]).await?; // exit code, stdout, stderr
//! let logs = web.logs().await?; // stdout/stderr so far; `follow_logs()` streams lines
//! println!("{addr} {} {}", out.stdout, logs.stderr);
//! drop(web); // the container and its anonymous volumes are removed
//! # Ok(()) }
//! ```
//!
//! ## Where things live
//! - [`engine`](Engine): finding and talking to the Docker engine.
//! - [`ContainerSpec`]: what to run. [`Container`]: the running container.
//! - [`Exec`], [`LogStream`], [`Stats`]: commands, output, resource use.
//! - [`ImageBuild`]: images from Dockerfiles, cached by content
//!   (`.dockerignore`, build args and target included), or temporary.
//! - [`PullPolicy`], [`ImagePull`], [`ImagePush`], [`Credentials`], [`DockerConfig`]:
//!   registries. `DOCKHAND_PULL_POLICY` sets the default policy and
//!   `DOCKHAND_IMAGE_PREFIX` (e.g. `127.0.0.1:5000/`) sends Docker Hub images
//!   to a mirror. Housekeeping: [`Engine::list_images`], [`Engine::tag_image`],
//!   [`Engine::remove_image`].
//! - [`wait`]: readiness probes ([`WaitFor`]): `start()` returns once the service answers.
//! - [`blocking`]: the same for tests without an async runtime.
//! - [`Shared`]: a container (or database server) started once per process.
//! - [`ContainerSpec::snapshot`], [`SnapshotSetup`]: set up once, commit, and
//!   start every later container from the commit.
//! - `postgres`, `redis`, `mariadb` (features of the same names): database
//!   servers as test parameters or shared, with random credentials, URL
//!   helpers, snapshots and a database of its own per test.
//!
//! Every resource dockhand creates carries the labels `dockhand.session=<id>`
//! (see [`session_id`]) and `dockhand.managed=true`.

#![warn(missing_docs)]

mod archive;
mod auth;
pub mod blocking;
mod build;
mod cleanup;
mod container;
#[cfg(any(feature = "postgres", feature = "redis", feature = "mariadb"))]
mod database;
mod dockerignore;
mod engine;
mod error;
mod exec;
mod files;
mod fingerprint;
mod harness;
mod image;
mod inventory;
mod logs;
mod mount;
mod network;
mod port;
mod reaper;
mod registry;
mod reuse;
mod session;
mod shared;
mod snapshot;
mod spec;
mod start;
mod startable;
mod stats;
mod sweep;
pub mod wait;

#[cfg(feature = "mariadb")]
pub use database::mariadb;
#[cfg(feature = "postgres")]
pub use database::postgres;
#[cfg(feature = "redis")]
pub use database::redis;

pub use auth::{Credentials, DockerConfig};
pub use build::{BuildReport, ImageBuild, TemporaryImage};
pub use container::Container;
pub use engine::{Engine, EngineConfig};
pub use error::{Diagnosis, Error, Result};
pub use exec::{Exec, ExecOutput};
pub use harness::fixture::{Fixture, SetupError, TestContext};
pub use harness::keep::KeepPolicy;
pub use image::{ImageFilter, ImagePull, PullPolicy, ENV_IMAGE_PREFIX, ENV_PULL_POLICY};
pub use inventory::{inventory, remove_resource, Kind, Resource, Status};
pub use logs::{LogLine, LogStream, Logs, Source};
pub use mount::Mount;
pub use network::{Network, NetworkSpec};
pub use port::{ContainerPort, PortMapping, Protocol};
pub use registry::ImagePush;
pub use session::{
    session_id, session_labels, LABEL_CREATED, LABEL_KEEP, LABEL_MANAGED, LABEL_PID, LABEL_SESSION,
    LABEL_TEMPORARY, LABEL_TEST,
};
pub use shared::Shared;
pub use snapshot::SnapshotSetup;
pub use spec::ContainerSpec;
pub use startable::Startable;
pub use stats::Stats;
pub use sweep::sweep_orphans;
pub use wait::WaitFor;

/// The bollard crate dockhand is built on, for calls it does not wrap.
pub use bollard;

/// What `#[dockhand::test]` expands to calls; not a stable API.
#[doc(hidden)]
pub mod __macro_support {
    pub use crate::harness::{
        container_parameter, fixture_parameter, run_async, run_sync, Flavor, SetupFailure,
        TestOptions,
    };
    pub use crate::KeepPolicy;
    pub use futures;
    pub use std::time::Duration;
}

/// Turns a function into a test with containers (and any [`Fixture`]) as parameters.
///
/// ```no_run
/// use dockhand::{Container, ContainerSpec};
///
/// fn web() -> ContainerSpec {
///     ContainerSpec::new("dockhand-test/busybox")
///         .cmd(["httpd", "-f", "-p", "8080"])
///         .expose(8080)
/// }
///
/// #[dockhand::test]
/// async fn serves(#[spec(web())] web: Container, #[spec(web())] other: Container) {
///     assert_ne!(web.addr(8080).unwrap(), other.addr(8080).unwrap());
/// }
/// ```
///
/// What it does:
/// - builds the test's tokio runtime (current-thread by default), or none for a
///   sync `fn`;
/// - sets up every parameter **concurrently**: `#[spec(expr)] name: Container`
///   starts the [`ContainerSpec`] `expr` (any [`Startable`] spec works:
///   `#[spec(PostgresSpec::new().init_sql(..))] pg: Postgres` with the
///   `postgres` feature); a parameter without `#[spec]` must implement
///   [`Fixture`]. If one fails, the others are removed and the test fails with
///   an error naming the parameter;
/// - names each container `<test>-<parameter>-<random>` and labels it
///   `dockhand.test=<module::test>`, so `docker ps` shows whose it is;
/// - when the test fails (a panic, or an `Err` returned), prints each container's
///   last 50 log lines into the test's output (libtest shows it for failed tests);
/// - removes every container the test started (parameters, and any started in
///   the body) when it ends, whichever way it ends — or keeps them, see `keep`.
///
/// The body may return `()` or `Result<(), E: Debug>`. `#[should_panic]` and
/// `#[ignore]` work as usual. Works under `cargo test` and `cargo nextest run`.
///
/// # Options
///
/// **`flavor = "multi_thread"`**, **`worker_threads = N`**: the runtime (async tests only).
/// ```no_run
/// #[dockhand::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn parallel() {}
/// ```
///
/// **`keep = "never" | "on-failure" | "always"`**: keep the containers after the
/// test for debugging (default: `DOCKHAND_KEEP`, else `never`). Kept containers
/// carry `dockhand.keep=true` (from creation: labels cannot be added later; a
/// passing test under `on-failure` removes them) and a banner on stderr gives
/// their name, id, image, addresses (`127.0.0.1:49153 -> 5432/tcp`), a
/// `docker exec -it <id> sh`, a `docker logs -f <id>` and the `docker rm` that
/// removes them.
/// ```no_run
/// #[dockhand::test(keep = "on-failure")]
/// async fn debug_me() {}
/// ```
///
/// **`timeout = "30s"`** (`ms`, `s`, `m`, `h`): fail the test when set-up and body
/// take longer; its containers are still removed (or kept).
/// ```no_run
/// #[dockhand::test(timeout = "30s")]
/// fn sync_with_deadline() {}
/// ```
///
/// **`skip_without_engine`** (or `DOCKHAND_SKIP_WITHOUT_ENGINE=1`): with no Docker
/// engine, pass with a printed `SKIPPED` notice instead of failing. libtest has
/// no "skipped" state, so such a test shows as passed.
/// ```no_run
/// #[dockhand::test(skip_without_engine)]
/// async fn optional() {}
/// ```
///
/// **`network`**: the test's containers join a network of their own, named
/// after the test, each reachable there by its parameter's name (`db:5432`);
/// the network goes with the last of them, on every exit path.
/// ```no_run
/// # fn db() -> dockhand::ContainerSpec { dockhand::ContainerSpec::new("x") }
/// # fn app() -> dockhand::ContainerSpec { dockhand::ContainerSpec::new("x") }
/// #[dockhand::test(network)]
/// async fn talks(#[spec(db())] db: dockhand::Container, #[spec(app())] app: dockhand::Container) {
///     // inside `app`, the database is `db:5432`
/// }
/// ```
///
/// **`crate = path`**: where dockhand is, when the dependency is renamed.
/// ```no_run
/// # extern crate dockhand as my_dockhand;
/// #[my_dockhand::test(crate = my_dockhand)]
/// async fn renamed() {}
/// ```
///
/// # Without the macro
///
/// `#[dockhand::test] async fn t(#[spec(web())] web: Container) { body }` is
/// (nearly) this, with the harness functions doing the work:
/// ```no_run
/// # fn web() -> dockhand::ContainerSpec { dockhand::ContainerSpec::new("x") }
/// #[test]
/// fn t() {
///     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
///     rt.block_on(async {
///         let web = web().name_prefix("t-web").start().await.unwrap();
///         let result = std::panic::AssertUnwindSafe(async { /* body */ });
///         // ...on failure print web.tail(50), then drop(web) removes it
///     });
/// }
/// ```
pub use dockhand_macros::test;
