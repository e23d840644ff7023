//! The Postgres module against the real engine, checked with a real client
//! (tokio-postgres): fixtures, random credentials, snapshots, isolated
//! databases.
#![cfg(feature = "postgres")]

mod common;

use std::time::Duration;

use dockhand::postgres::{Postgres, PostgresSpec};
use dockhand::Shared;
use tokio_postgres::{Client, NoTls};

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(conn);
    client
}

#[dockhand::test]
async fn a_parameter_is_a_ready_server_a_client_can_use(pg: Postgres) {
    assert!(pg.url().starts_with("postgres://postgres:"), "{}", pg.url());
    assert_eq!(pg.addr().unwrap().ip().to_string(), "127.0.0.1");
    let client = connect(&pg.url()).await;
    client
        .batch_execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO notes (body) VALUES ($1), ($2)",
            &[&"one", &"two"],
        )
        .await
        .unwrap();
    let rows = client
        .query("SELECT body FROM notes ORDER BY id", &[])
        .await
        .unwrap();
    let bodies: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(bodies, ["one", "two"]);
    // The module's own SQL path sees the same rows.
    assert_eq!(
        pg.execute("SELECT count(*) FROM notes")
            .await
            .unwrap()
            .trim(),
        "2"
    );
}

#[dockhand::test]
async fn credentials_are_random_per_server_and_checked() {
    let (a, b) = tokio::join!(
        PostgresSpec::new().database("shop").start(),
        PostgresSpec::new().user("app").start()
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.password(), b.password());
    assert_eq!(a.password().len(), 24);
    assert_eq!(a.database(), "shop");
    assert_eq!(b.user(), "app");
    let ok = connect(&b.url()).await;
    let who: String = ok
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, "app");
    let wrong = b.url().replace(b.password(), a.password());
    let err = tokio_postgres::connect(&wrong, NoTls).await.err();
    assert!(err.is_some(), "a wrong password is refused");
}

#[dockhand::test]
async fn bad_sql_names_the_statement_and_the_cause(pg: Postgres) {
    let err = pg.execute("SELEC 1").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("SELEC 1") && msg.contains("syntax error"),
        "{msg}"
    );
}

// Outside a test scope, so dropping the handles removes the containers at
// once and the snapshot image can go at the end.
#[tokio::test]
async fn a_snapshot_holds_the_seeded_data_and_its_credentials() {
    // The key is new each run: the first start makes the snapshot.
    let key = format!("pg-test-{}", dockhand::session_id());
    let spec = || {
        PostgresSpec::new()
            .init_sql(
                "CREATE TABLE seeded (n int); INSERT INTO seeded SELECT generate_series(1, 100)",
            )
            .snapshot(&key)
    };
    let first = spec().start().await.unwrap();
    assert!(first
        .container()
        .image()
        .starts_with("dockhand-snapshot/postgres:"));
    // A second start from the snapshot: no init, the rows are there, and the
    // password is the one frozen into the snapshot (not this spec's).
    let second_spec = spec();
    let second = second_spec.start().await.unwrap();
    assert_eq!(second.password(), first.password());
    let client = connect(&second.url()).await;
    let n: i64 = client
        .query_one("SELECT count(*) FROM seeded", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 100);
    // Writes to one container do not show in the other.
    client.batch_execute("DELETE FROM seeded").await.unwrap();
    assert_eq!(
        first
            .execute("SELECT count(*) FROM seeded")
            .await
            .unwrap()
            .trim(),
        "100"
    );

    let engine = dockhand::Engine::shared().await.unwrap();
    drop((first, second, client));
    assert_eq!(engine.remove_snapshots(&key).await.unwrap(), 1);
}

static SHARED: Shared<PostgresSpec> = Shared::new(|| {
    PostgresSpec::new()
        .template_sql("CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)")
        .template_sql("INSERT INTO users (name) VALUES ('ada'), ('grace')")
});

/// Each of two concurrent tests gets a database of its own from the
/// template: the seed rows, and only its own tables.
async fn isolated_sees_only_its_own(table: &str, other: &str) {
    let pg = SHARED.get().await.unwrap();
    let db = pg.isolated_database().await.unwrap();
    let client = connect(db.url()).await;
    let users: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 2, "the template's seed rows");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id int); INSERT INTO users (name) VALUES ('{table}')"
        ))
        .await
        .unwrap();
    // Give the other test time to make its table, then look.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, vec![table.to_string(), "users".to_string()]);
    assert!(!tables.contains(&other.to_string()));
    let users: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 3, "only its own insert");
}

#[dockhand::test]
async fn isolated_database_one() {
    isolated_sees_only_its_own("alpha", "beta").await;
}

#[dockhand::test]
async fn isolated_database_two() {
    isolated_sees_only_its_own("beta", "alpha").await;
}

#[tokio::test]
async fn an_isolated_database_outside_a_test_goes_when_dropped() {
    let pg = SHARED.get().await.unwrap();
    let db = pg.isolated_database().await.unwrap();
    let name = db.name().to_string();
    assert!(name.starts_with("t_"), "{name}");
    let exists = |name: String| async move {
        pg.execute(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ))
        .await
        .unwrap()
        .trim()
            == "1"
    };
    assert!(exists(name.clone()).await);
    let client = connect(db.url()).await; // an open connection does not stop the drop
    drop(db);
    let mut gone = false;
    for _ in 0..100 {
        if !exists(name.clone()).await {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "database {name} dropped");
    drop(client);
}

/// The database the last child test made.
static CHILD_DB: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

#[dockhand::test(keep = "on-failure")]
#[ignore = "child: run by isolated_databases_end_with_their_test"]
async fn child_isolated_passes() {
    let db = SHARED
        .get()
        .await
        .unwrap()
        .isolated_database()
        .await
        .unwrap();
    *CHILD_DB.lock().unwrap() = Some(db.name().to_string());
}

#[dockhand::test(keep = "on-failure")]
#[ignore = "child: run by isolated_databases_end_with_their_test"]
async fn child_isolated_fails() {
    let db = SHARED
        .get()
        .await
        .unwrap()
        .isolated_database()
        .await
        .unwrap();
    *CHILD_DB.lock().unwrap() = Some(db.name().to_string());
    panic!("fail, so the database is kept");
}

fn database_exists(name: &str) -> bool {
    let sql = format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'");
    let pg = SHARED.get_blocking().unwrap();
    let out = futures::executor::block_on(pg.execute(&sql)).unwrap();
    out.trim() == "1"
}

/// Made during a test, an isolated database is dropped when the test ends,
/// after the handle is gone; under keep = "on-failure" a failed test's stays.
#[test]
fn isolated_databases_end_with_their_test() {
    child_isolated_passes();
    let passed = CHILD_DB.lock().unwrap().take().unwrap();
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !database_exists(&passed)
    });
    assert!(gone, "database {passed} of a passing test is dropped");

    let failed = std::panic::catch_unwind(child_isolated_fails);
    assert!(failed.is_err(), "the child fails");
    let kept = CHILD_DB.lock().unwrap().take().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        database_exists(&kept),
        "database {kept} of a failed test is kept"
    );
    let pg = SHARED.get_blocking().unwrap();
    futures::executor::block_on(pg.execute(&format!("DROP DATABASE {kept}"))).unwrap();
}

/// Makes an isolated database in the shared server, prints where it is, and
/// fails when `CHILD_FAILS` is set.
#[dockhand::test]
#[ignore = "child: run by a_kept_database_keeps_its_shared_server_past_the_process"]
async fn child_database_in_a_shared_server() {
    let pg = SHARED.get().await.unwrap();
    let db = pg.isolated_database().await.unwrap();
    println!(
        "SERVER={} DB={} URL={}",
        pg.container().id(),
        db.name(),
        db.url()
    );
    if std::env::var_os("CHILD_FAILS").is_some() {
        panic!("fail, so the database is kept");
    }
}

/// Runs the child in a process of its own; returns whether it passed and
/// the server id, database name and URL it printed.
fn run_child(fails: bool) -> (bool, String, String, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "child_database_in_a_shared_server",
        "--nocapture",
    ])
    .env("DOCKHAND_KEEP", "on-failure")
    .env("DOCKHAND_SESSION", format!("pgkeep{}", std::process::id()));
    if fails {
        cmd.env("CHILD_FAILS", "1");
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("SERVER="))
        .unwrap_or_else(|| panic!("the child said nothing:\n{text}"));
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(k))
            .unwrap()
            .to_string()
    };
    if fails {
        assert!(text.contains("kept database"), "{text}");
    }
    (
        out.status.success(),
        field("SERVER="),
        field("DB="),
        field("URL="),
    )
}

/// Under DOCKHAND_KEEP=on-failure a failed test's database outlives the
/// process with its shared server (labelled kept); a passing test's server
/// still goes when the process ends.
#[tokio::test]
async fn a_kept_database_keeps_its_shared_server_past_the_process() {
    let (passed, server, _, _) = tokio::task::spawn_blocking(|| run_child(false))
        .await
        .unwrap();
    assert!(passed);
    assert!(!common::container_exists(&server), "removed at exit");

    let (passed, server, db, url) = tokio::task::spawn_blocking(|| run_child(true))
        .await
        .unwrap();
    assert!(!passed);
    assert!(common::container_exists(&server), "kept past the process");
    let kept = common::containers_with_labels(&[("dockhand.keep", "true")]);
    assert!(kept.iter().any(|id| id == &server), "labelled kept");
    let client = connect(&url).await;
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1, "database {db} is still there");
    drop(client);
    common::force_remove(&server);
}

#[dockhand::test]
async fn a_spec_parameter_starts_a_configured_server(
    #[spec(PostgresSpec::new().database("shop").init_sql("CREATE TABLE orders (id int)"))]
    pg: Postgres,
) {
    assert_eq!(pg.database(), "shop");
    let client = connect(&pg.url()).await;
    let n: i64 = client
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}
