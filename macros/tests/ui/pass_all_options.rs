use dockhand::{Container, ContainerSpec, Fixture, SetupError, TestContext};

fn spec() -> ContainerSpec {
    ContainerSpec::new("busybox")
}

struct Db(Container);

impl Fixture for Db {
    async fn setup(ctx: &TestContext) -> Result<Self, SetupError> {
        Ok(Db(ctx.start(spec()).await?))
    }
}

#[dockhand::test(flavor = "multi_thread", worker_threads = 2, keep = "on-failure", timeout = "30s", skip_without_engine, network, crate = dockhand)]
async fn everything(#[spec(spec())] c: Container, db: Db) -> Result<(), dockhand::Error> {
    let _ = (c, db.0);
    Ok(())
}

#[dockhand::test(keep = "always", timeout = "500ms", skip_without_engine = false)]
fn sync_one(#[spec(spec())] mut c: Container) {
    let _ = &mut c;
}

#[dockhand::test]
#[ignore]
#[should_panic]
async fn passthrough() {}

fn main() {}
