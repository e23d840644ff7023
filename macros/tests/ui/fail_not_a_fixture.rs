struct Database;

#[dockhand::test]
async fn t(db: Database) {
    let _ = db;
}

fn main() {}
