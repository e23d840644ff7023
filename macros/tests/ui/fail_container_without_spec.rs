#[dockhand::test]
async fn t(db: dockhand::Container) {
    let _ = db;
}

fn main() {}
