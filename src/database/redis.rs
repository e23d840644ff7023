//! Redis: a server per test or shared, and an isolated database (an index
//! of its own, plus a key prefix) per test on a shared server.
//!
//! Works with the official `redis` image (default `redis:7`) and any image
//! whose entrypoint runs `redis-server` with the arguments given and ships
//! `redis-cli`.
//!
//! ```no_run
//! use dockhand::redis::{Redis, RedisSpec};
//!
//! #[dockhand::test]
//! async fn caches(redis: Redis) {
//!     redis.command(["SET", "greeting", "hello"]).await.unwrap();
//!     let url = redis.url(); // redis://:<password>@127.0.0.1:<port>
//!     # let _ = url;
//! }
//!
//! static REDIS: dockhand::Shared<RedisSpec> = dockhand::Shared::new(RedisSpec::new);
//!
//! #[dockhand::test]
//! async fn sees_only_its_own_keys() {
//!     let db = REDIS.get().await.unwrap().isolated_database().await.unwrap();
//!     let url = db.url(); // redis://:<password>@127.0.0.1:<port>/<index>
//!     # let _ = url;
//! }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Server, Starter, Teardown};
use crate::container::Container;
use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::spec::ContainerSpec;
use crate::wait::WaitFor;

/// The default image: the official one (from `DOCKHAND_IMAGE_PREFIX` when set).
pub const IMAGE: &str = "redis:7";
/// The port the server listens on in the container.
pub const PORT: u16 = 6379;
/// Databases (indexes) the server is started with: isolated databases use
/// 1 to 63, index 0 is the main one.
const DATABASES: usize = 64;

/// How to start a Redis server.
#[derive(Clone)]
pub struct RedisSpec {
    image: String,
    password: String,
    customizers: super::Customizers,
}

impl fmt::Debug for RedisSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSpec")
            .field("image", &self.image)
            .finish_non_exhaustive()
    }
}

impl Default for RedisSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl RedisSpec {
    /// `redis:7` with a random password.
    pub fn new() -> Self {
        RedisSpec {
            image: IMAGE.into(),
            password: super::random_password(),
            customizers: Default::default(),
        }
    }

    /// Another image (e.g. `redis:6`, `valkey/valkey:8`).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self
    }

    /// A fixed password instead of a random one.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// Edits the container spec (environment, network, keep…).
    pub fn customize(
        mut self,
        f: impl Fn(ContainerSpec) -> ContainerSpec + Send + Sync + 'static,
    ) -> Self {
        self.customizers.push(f);
        self
    }

    /// The container spec [`start`](Self::start) starts.
    pub fn container_spec(&self) -> ContainerSpec {
        let spec = ContainerSpec::new(&self.image)
            .cmd([
                "redis-server".to_string(),
                "--requirepass".into(),
                self.password.clone(),
                "--databases".into(),
                DATABASES.to_string(),
            ])
            .expose(PORT)
            // Redis 7.2 and later add " tcp".
            .wait_for(WaitFor::log("Ready to accept connections"));
        self.customizers.apply(spec)
    }

    /// Starts the server; returns once it accepts connections. Belongs to
    /// the running `#[dockhand::test]`, if any.
    pub async fn start(self) -> Result<Redis> {
        self.start_with(super::in_test()).await
    }

    async fn start_with(self, start: Starter) -> Result<Redis> {
        let container = start(self.container_spec()).await?;
        Ok(Redis {
            server: Arc::new(container),
            password: self.password,
            free: Arc::new(Mutex::new((1..DATABASES).rev().collect())),
            slots: Arc::new(Semaphore::new(DATABASES - 1)),
        })
    }
}

super::module_starts!(RedisSpec => Redis, "redis");

/// A running Redis server. Dropping it removes the container (once the
/// isolated databases made from it are gone too).
pub struct Redis {
    server: Server,
    password: String,
    /// Indexes not handed out.
    free: Arc<Mutex<Vec<usize>>>,
    slots: Arc<Semaphore>,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("container", &self.server.name())
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// The container.
    pub fn container(&self) -> &Container {
        &self.server
    }

    /// The password (`requirepass`).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The published address, e.g. `127.0.0.1:49153`.
    pub fn addr(&self) -> Result<SocketAddr> {
        self.server.addr(PORT)
    }

    /// `redis://:password@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let addr = super::published(&self.server, PORT);
        super::url("redis", "", &self.password, &addr, "")
    }

    /// The URL for another container on the same network, which reaches this
    /// server as `host` (its alias or name).
    pub fn network_url(&self, host: &str) -> String {
        super::url("redis", "", &self.password, &format!("{host}:{PORT}"), "")
    }

    /// Runs a command with `redis-cli` in the container, in database 0;
    /// returns its reply as `redis-cli` prints it.
    pub async fn command<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        cli(
            &self.server,
            &self.password,
            0,
            args.into_iter().map(Into::into).collect(),
        )
        .await
    }

    /// A database of its own for one test: a free index (1 to 63) and a key
    /// prefix naming the test. Waits while all indexes are taken. Made during
    /// a `#[dockhand::test]`, it is flushed and handed back when the test
    /// ends (kept when the keep policy keeps the test's containers, and its
    /// index then not handed out again); else
    /// when the handle drops.
    pub async fn isolated_database(&self) -> Result<RedisDatabase> {
        let permit = self.slots.clone().acquire_owned().await.map_err(|_| {
            Error::invalid("Redis isolated database", "the server is shutting down")
        })?;
        let index = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .expect("a permit means a free index");
        let release = Release {
            index,
            free: self.free.clone(),
            permit: Some(permit),
        };
        let (server, password) = (self.server.clone(), self.password.clone());
        let flush: BoxFuture<'static, ()> = Box::pin(async move {
            match cli(&server, &password, index, vec!["FLUSHDB".into()]).await {
                Ok(_) => release.give_back(),
                // Not flushed: not handed out again.
                Err(e) => tracing::debug!("flushing Redis database {index}: {e}"),
            }
        });
        let url = format!("{}/{index}", self.url());
        let prefix = format!("{}:", super::isolated_name());
        let what = format!(
            "Redis database {index} ({url}) in container `{}`",
            self.server.name()
        );
        Ok(RedisDatabase {
            index,
            url,
            prefix,
            _teardown: Teardown::new(what, &self.server, flush),
        })
    }
}

/// An index handed out. [`give_back`](Self::give_back) returns it (flushed);
/// dropped without that (its test's database was kept), the index is
/// retired, so no later test gets, and flushes, the kept data.
struct Release {
    index: usize,
    free: Arc<Mutex<Vec<usize>>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Release {
    fn give_back(mut self) {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.index);
        // The permit goes after the index is back: a permit means a free index.
        drop(self.permit.take());
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            permit.forget();
        }
    }
}

/// A Redis database of its own for one test (see [`Redis::isolated_database`]).
pub struct RedisDatabase {
    index: usize,
    url: String,
    prefix: String,
    _teardown: Teardown,
}

impl fmt::Debug for RedisDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDatabase")
            .field("index", &self.index)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisDatabase {
    /// Its index (`SELECT <index>`).
    pub fn index(&self) -> usize {
        self.index
    }

    /// `redis://:password@127.0.0.1:<port>/<index>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A key prefix naming the test, `t_<test>_<random>:`, for code that
    /// cannot pick a database (Redis Cluster, or database 0 only).
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }
}

async fn cli(c: &Container, password: &str, index: usize, args: Vec<String>) -> Result<String> {
    let mut cmd = vec!["redis-cli".to_string(), "-n".into(), index.to_string()];
    cmd.extend(args);
    let out = c
        .exec_with_ok(Exec::new(cmd).env("REDISCLI_AUTH", password))
        .await?;
    // redis-cli exits with 0 on an error reply.
    if out.stdout.starts_with("ERR") || out.stdout.starts_with("WRONGTYPE") {
        return Err(Error::ExecFailed {
            container: c.name().to_string(),
            cmd: vec!["redis-cli".into()],
            exit_code: 0,
            stderr: out.stdout.trim().to_string(),
        });
    }
    Ok(out.stdout)
}
