//! The MariaDB module against the real engine, checked with a real client
//! (mysql_async): fixtures, credentials, snapshots, isolated schemas.
#![cfg(feature = "mariadb")]

use dockhand::mariadb::{MariaDb, MariaDbSpec};
use dockhand::Shared;
use mysql_async::prelude::*;

async fn connect(url: &str) -> mysql_async::Conn {
    mysql_async::Conn::from_url(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

#[dockhand::test]
async fn a_parameter_is_a_ready_server_a_client_can_use(db: MariaDb) {
    assert!(db.url().starts_with("mysql://test:"), "{}", db.url());
    assert_ne!(db.password(), db.root_password());
    let mut conn = connect(&db.url()).await;
    conn.query_drop("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
        .await
        .unwrap();
    conn.exec_drop(
        "INSERT INTO notes VALUES (?, ?), (?, ?)",
        (1, "one", 2, "two"),
    )
    .await
    .unwrap();
    let bodies: Vec<String> = conn
        .query("SELECT body FROM notes ORDER BY id")
        .await
        .unwrap();
    assert_eq!(bodies, ["one", "two"]);
    assert_eq!(
        db.execute("SELECT COUNT(*) FROM notes")
            .await
            .unwrap()
            .trim(),
        "2"
    );
    let wrong = db.url().replace(db.password(), "wrong");
    assert!(
        mysql_async::Conn::from_url(wrong).await.is_err(),
        "a wrong password is refused"
    );
}

#[tokio::test]
async fn a_snapshot_holds_the_seeded_data() {
    let key = format!("mariadb-test-{}", dockhand::session_id());
    let spec = || {
        MariaDbSpec::new()
            .init_sql("CREATE TABLE seeded (n INT); INSERT INTO seeded VALUES (1), (2), (3)")
            .snapshot(&key)
    };
    let first = spec().start().await.unwrap();
    assert!(first
        .container()
        .image()
        .starts_with("dockhand-snapshot/mariadb:"));
    let second = spec().start().await.unwrap();
    assert_eq!(
        second.password(),
        first.password(),
        "the snapshot's credentials"
    );
    let mut conn = connect(&second.url()).await;
    let n: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM seeded")
        .await
        .unwrap();
    assert_eq!(n, Some(3));
    drop(conn);
    let engine = dockhand::Engine::shared().await.unwrap();
    drop((first, second));
    assert_eq!(engine.remove_snapshots(&key).await.unwrap(), 1);
}

static SHARED: Shared<MariaDbSpec> = Shared::new(|| {
    MariaDbSpec::new()
        .schema_sql("CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT)")
        .schema_sql("INSERT INTO users (name) VALUES ('ada'), ('grace')")
});

async fn isolated_sees_only_its_own(table: &str, other: &str) {
    let schema = SHARED
        .get()
        .await
        .unwrap()
        .isolated_database()
        .await
        .unwrap();
    let mut conn = connect(schema.url()).await;
    let users: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM users")
        .await
        .unwrap();
    assert_eq!(users, Some(2), "the schema SQL ran");
    conn.query_drop(format!("CREATE TABLE {table} (id INT)"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let tables: Vec<String> = conn
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1")
        .await
        .unwrap();
    assert_eq!(tables, vec![table.to_string(), "users".to_string()]);
    assert!(!tables.contains(&other.to_string()));
}

#[dockhand::test]
async fn isolated_schema_one() {
    isolated_sees_only_its_own("alpha", "beta").await;
}

#[dockhand::test]
async fn isolated_schema_two() {
    isolated_sees_only_its_own("beta", "alpha").await;
}
