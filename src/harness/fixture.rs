//! Fixtures: values a `#[dockhand::test]` receives as parameters.

use std::future::Future;
use std::sync::Arc;

use crate::container::Container;
use crate::error::Result;
use crate::spec::ContainerSpec;

/// The error a fixture's set-up may fail with: any error type converts.
pub type SetupError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A value a `#[dockhand::test]` can take as a parameter: set up before the
/// test body runs (concurrently with the other parameters), torn down when
/// it drops.
///
/// Containers a fixture starts through [`TestContext::start`] (or any
/// `ContainerSpec::start` during the test) belong to the test: their logs are
/// shown if it fails, and they are removed (or kept, by the keep policy) when
/// it ends, whatever way it ends.
///
/// ```no_run
/// use dockhand::{Container, ContainerSpec, Fixture, SetupError, TestContext};
///
/// struct Web {
///     container: Container,
///     url: String,
/// }
///
/// impl Fixture for Web {
///     async fn setup(ctx: &TestContext) -> Result<Self, SetupError> {
///         let container = ctx
///             .start(ContainerSpec::new("dockhand-test/busybox")
///                 .cmd(["httpd", "-f", "-p", "8080"])
///                 .expose(8080))
///             .await?;
///         let url = format!("http://{}/", container.addr(8080)?);
///         Ok(Web { container, url })
///     }
/// }
///
/// #[dockhand::test]
/// async fn serves(web: Web) {
///     assert!(web.url.starts_with("http://127.0.0.1:"));
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a dockhand fixture",
    label = "this parameter is neither `#[spec(..)] Container` nor a type implementing `dockhand::Fixture`",
    note = "give a Container parameter a spec: `#[spec(my_spec())] name: dockhand::Container`, or implement `dockhand::Fixture` for `{Self}`"
)]
pub trait Fixture: Sized + Send + 'static {
    /// Builds the fixture for one test.
    fn setup(ctx: &TestContext) -> impl Future<Output = Result<Self, SetupError>> + Send;
}

/// What a fixture knows about the test it is set up for.
#[derive(Debug, Clone)]
pub struct TestContext {
    inner: Arc<ContextInner>,
}

#[derive(Debug)]
struct ContextInner {
    test: String,
    parameter: String,
}

impl TestContext {
    /// A context for the test `test` (its path, `module::name`), setting up
    /// the parameter `parameter`.
    pub fn new(test: impl Into<String>, parameter: impl Into<String>) -> Self {
        TestContext {
            inner: Arc::new(ContextInner {
                test: test.into(),
                parameter: parameter.into(),
            }),
        }
    }

    /// The test's path, e.g. `my_crate::db::stores_rows`.
    pub fn test_path(&self) -> &str {
        &self.inner.test
    }

    /// The test function's name, e.g. `stores_rows`.
    pub fn test_name(&self) -> &str {
        self.inner
            .test
            .rsplit("::")
            .next()
            .unwrap_or(&self.inner.test)
    }

    /// The name of the parameter being set up.
    pub fn parameter(&self) -> &str {
        &self.inner.parameter
    }

    /// Starts a container for this test, named `<test>-<parameter>-<random>`
    /// unless the spec sets a name prefix.
    pub async fn start(&self, spec: ContainerSpec) -> Result<Container> {
        let mut spec = spec;
        spec.parameter = Some(self.parameter().to_string());
        let spec = if spec.name_prefix.is_none() {
            let prefix = format!("{}-{}", self.test_name(), self.parameter());
            spec.name_prefix(crate::harness::sanitize_name(&prefix))
        } else {
            spec
        };
        spec.start().await
    }
}
