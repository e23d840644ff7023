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
//!     .start()
//!     .await?; // returns once the container runs
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
//! - [`blocking`]: the same for tests without an async runtime.
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
mod dockerignore;
mod engine;
mod error;
mod exec;
mod files;
mod image;
mod logs;
mod mount;
mod port;
mod registry;
mod session;
mod spec;
mod start;
mod stats;

pub use auth::{Credentials, DockerConfig};
pub use build::{BuildReport, ImageBuild, TemporaryImage, LABEL_TEMPORARY};
pub use container::Container;
pub use engine::{Engine, EngineConfig};
pub use error::{Error, Result};
pub use exec::{Exec, ExecOutput};
pub use image::{ImageFilter, ImagePull, PullPolicy, ENV_IMAGE_PREFIX, ENV_PULL_POLICY};
pub use logs::{LogLine, LogStream, Logs, Source};
pub use mount::Mount;
pub use port::{ContainerPort, PortMapping, Protocol};
pub use registry::ImagePush;
pub use session::{session_id, LABEL_CREATED, LABEL_KEEP, LABEL_MANAGED, LABEL_PID, LABEL_SESSION};
pub use spec::ContainerSpec;
pub use stats::Stats;

/// The bollard crate dockhand is built on, for calls it does not wrap.
pub use bollard;
