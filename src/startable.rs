//! What a spec can start, for a `#[spec(..)]` parameter or a [`Shared`].

use std::future::Future;

use crate::container::Container;
use crate::error::Result;
use crate::harness::fixture::TestContext;
use crate::spec::ContainerSpec;
#[cfg(doc)]
use crate::Shared;

/// A spec that starts something: a [`ContainerSpec`] starts a
/// [`Container`]; a database module's spec (`PostgresSpec`, `RedisSpec`,
/// `MariaDbSpec`) starts its server handle. Such a spec can be a
/// `#[dockhand::test]` parameter's `#[spec(..)]`, or what a [`Shared`] starts.
///
/// ```no_run
/// use dockhand::{Container, ContainerSpec};
///
/// fn web() -> ContainerSpec {
///     ContainerSpec::new("dockhand-test/busybox").cmd(["httpd", "-f", "-p", "8080"]).expose(8080)
/// }
///
/// #[dockhand::test]
/// async fn serves(#[spec(web())] web: Container) {
///     assert!(web.addr(8080).is_ok());
/// }
/// ```
pub trait Startable: Send + 'static {
    /// What the start gives: a [`Container`], or a module's server handle.
    type Started: Send + Sync + 'static;

    /// Starts it for a test's parameter: it belongs to the test (its logs
    /// shown if the test fails, kept or removed by the keep policy).
    fn start_for(self, ctx: &TestContext) -> impl Future<Output = Result<Self::Started>> + Send;

    /// Starts it owned by no test: it lives until the process ends.
    fn start_shared(self) -> impl Future<Output = Result<Self::Started>> + Send;
}

impl Startable for ContainerSpec {
    type Started = Container;

    async fn start_for(self, ctx: &TestContext) -> Result<Container> {
        ctx.start(self).await
    }

    async fn start_shared(self) -> Result<Container> {
        let spec = if self.name_prefix.is_none() {
            self.name_prefix("shared")
        } else {
            self
        };
        crate::shared::start_container(spec).await
    }
}
