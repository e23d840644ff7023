//! What the database modules share: credentials, names of isolated
//! databases and their tear-down, and how a module's container starts.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::future::BoxFuture;
use rand::distr::{Alphanumeric, SampleString};

use crate::container::Container;
use crate::error::Result;
use crate::harness::scope;
use crate::spec::ContainerSpec;

#[cfg(any(feature = "postgres", feature = "mariadb"))]
mod client;
#[cfg(feature = "mariadb")]
pub mod mariadb;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;

/// A fresh password: 24 letters and digits, safe in a URL unescaped.
pub(crate) fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

/// A name for an isolated database: `t_<test>_<random>`, lower-case letters,
/// digits and `_`, at most 63 characters (Postgres' limit; MariaDB's is 64).
pub(crate) fn isolated_name() -> String {
    let test = scope::current()
        .map(|s| s.test.rsplit("::").next().unwrap_or(&s.test).to_string())
        .unwrap_or_else(|| "db".into());
    let cleaned: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(44)
        .collect();
    format!("t_{cleaned}_{}", crate::session::random_suffix())
}

/// A module's spec is [`Startable`](crate::Startable) (a `#[spec(..)]`
/// parameter, a [`Shared`](crate::Shared) server) and its server handle a
/// [`Fixture`](crate::Fixture) with the default spec. `$module` names shared
/// containers (`shared-<module>-…`).
macro_rules! module_starts {
    ($spec:ident => $server:ident, $module:literal) => {
        impl crate::startable::Startable for $spec {
            type Started = $server;

            async fn start_for(self, ctx: &crate::TestContext) -> crate::Result<$server> {
                self.start_with(super::for_fixture(ctx)).await
            }

            async fn start_shared(self) -> crate::Result<$server> {
                self.customize(|c| super::shared_name(c, $module))
                    .start_with(super::detached())
                    .await
            }
        }

        impl crate::Fixture for $server {
            async fn setup(
                ctx: &crate::TestContext,
            ) -> std::result::Result<Self, crate::SetupError> {
                Ok(crate::startable::Startable::start_for($spec::new(), ctx).await?)
            }
        }
    };
}
pub(crate) use module_starts;

/// How a module's container is started: by a test, a fixture's context, or
/// owned by nothing (a [`Shared`](crate::Shared) server).
pub(crate) type Starter =
    Box<dyn FnOnce(ContainerSpec) -> BoxFuture<'static, Result<Container>> + Send>;

/// Starts `spec` the plain way: owned by the running test, if any.
pub(crate) fn in_test() -> Starter {
    Box::new(|spec| Box::pin(spec.start()))
}

/// Starts `spec` as a shared server: owned by no test.
pub(crate) fn detached() -> Starter {
    Box::new(|spec| Box::pin(crate::shared::start_container(spec)))
}

/// Starts `spec` for a fixture parameter.
pub(crate) fn for_fixture(ctx: &crate::TestContext) -> Starter {
    let ctx = ctx.clone();
    Box::new(move |spec| Box::pin(async move { ctx.start(spec).await }))
}

/// Edits a module's container spec, in the order given.
#[derive(Clone, Default)]
pub(crate) struct Customizers(Vec<Arc<dyn Fn(ContainerSpec) -> ContainerSpec + Send + Sync>>);

impl Customizers {
    pub(crate) fn push(
        &mut self,
        f: impl Fn(ContainerSpec) -> ContainerSpec + Send + Sync + 'static,
    ) {
        self.0.push(Arc::new(f));
    }

    pub(crate) fn apply(&self, spec: ContainerSpec) -> ContainerSpec {
        self.0.iter().fold(spec, |spec, f| f(spec))
    }
}

/// A URL: `scheme://user:password@addr/path`, user and password escaped so
/// that any characters survive (`user` may be empty, as for Redis).
pub(crate) fn url(scheme: &str, user: &str, password: &str, addr: &str, path: &str) -> String {
    fn escape(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    format!(
        "{scheme}://{}:{}@{addr}{path}",
        escape(user),
        escape(password)
    )
}

/// Names a shared server's container `shared-<module>` unless the spec names it.
pub(crate) fn shared_name(spec: ContainerSpec, module: &str) -> ContainerSpec {
    if spec.name_prefix.is_none() {
        spec.name_prefix(format!("shared-{module}"))
    } else {
        spec
    }
}

/// `127.0.0.1:<published port>` for URLs (the container port, should the
/// mapping be unknown).
pub(crate) fn published(server: &Container, port: u16) -> String {
    server
        .addr(port)
        .map(|a| a.to_string())
        .unwrap_or_else(|_| format!("{}:{port}", server.host()))
}

/// Ends an isolated database. Made during a `#[dockhand::test]`, it ends
/// with the test, and is kept (with a note on stderr) when the keep policy
/// keeps the test's containers; made outside one, it ends when dropped.
pub(crate) struct Teardown {
    work: Option<BoxFuture<'static, ()>>,
}

impl Teardown {
    /// `what` names the database for the keep note; `work` removes it from
    /// `server`.
    pub(crate) fn new(what: String, server: &Container, work: BoxFuture<'static, ()>) -> Self {
        match scope::current() {
            Some(scope) => {
                let test = scope.test.clone();
                let inner = server.inner.clone();
                scope.on_finish(Box::new(move |keep| {
                    if !keep {
                        crate::cleanup::at_test_end(work);
                        return;
                    }
                    // The test's own server is kept with it; a shared one
                    // when DOCKHAND_KEEP labelled it kept (or its spec did).
                    let kept = inner.in_scope.load(Ordering::SeqCst) || {
                        crate::shared::retain(&inner.id);
                        inner.keep.load(Ordering::SeqCst)
                    };
                    let server = if kept {
                        "its server is kept too"
                    } else {
                        "its shared server goes when the test process ends \
                         (set DOCKHAND_KEEP=on-failure to keep shared servers for such tests)"
                    };
                    eprintln!("\ndockhand: kept {what} of test `{test}` for debugging; {server}");
                }));
                Teardown { work: None }
            }
            None => Teardown { work: Some(work) },
        }
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            crate::cleanup::at_test_end(work);
        }
    }
}

/// The server container, shared by the module's handle and its isolated
/// databases: it goes when the last of them does.
pub(crate) type Server = Arc<Container>;

#[cfg(test)]
mod tests {
    #[test]
    fn urls_escape_user_and_password() {
        assert_eq!(
            super::url("postgres", "app", "p@ss:w/rd", "127.0.0.1:5432", "db"),
            "postgres://app:p%40ss%3Aw%2Frd@127.0.0.1:5432/db"
        );
        assert_eq!(super::url("redis", "", "x", "h:1", ""), "redis://:x@h:1");
    }
}
