//! A suite of 20 tests, each needing a Postgres database with a schema of
//! 10 tables and seed rows, done three ways in one run:
//!
//! (a) a fresh container per test, schema loaded at start;
//! (b) a container per test started from a snapshot: made once in this run
//!     before the 20 tests and timed apart, as a warm cache (snapshots stay
//!     between runs, like a build cache); the ratio with the making counted
//!     is printed too;
//! (c) an isolated database per test, copied from a template in one shared
//!     server (the server's start counted).
//!
//! Each test runs through the `#[dockhand::test]` harness (so what it started
//! is removed in the background as it ends, as in a real suite), connects
//! with tokio-postgres, checks the seed rows and writes a row. Tests run one
//! after another, each way the same. Prints the three totals and, last,
//! `db_suite_ratio snapshot=<b/a> isolated=<c/a>` (targets: snapshot ≤ 0.35,
//! isolated ≤ 0.1).
//!
//! `DB_SUITE_TESTS` sets the number of tests (default 20).

mod support;

use std::time::{Duration, Instant};

use dockhand::__macro_support::{run_async, SetupFailure, TestOptions};
use dockhand::postgres::PostgresSpec;
use dockhand::Shared;
use tokio_postgres::NoTls;

const TABLES: usize = 10;
const ROWS: usize = 20;

/// The schema and seed rows: 10 tables, each referring to the one before.
fn schema() -> Vec<String> {
    let mut sql = Vec::new();
    for t in 0..TABLES {
        let parent = if t == 0 {
            String::new()
        } else {
            format!(", parent_id int REFERENCES t{} (id)", t - 1)
        };
        sql.push(format!(
            "CREATE TABLE t{t} (id serial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now(){parent}); \
             CREATE INDEX t{t}_name ON t{t} (name); \
             INSERT INTO t{t} (name{}) SELECT 'row ' || g{} FROM generate_series(1, {ROWS}) g",
            if t == 0 { "" } else { ", parent_id" },
            if t == 0 { "" } else { ", g" },
        ));
    }
    sql
}

/// One test's work against its database.
async fn test_body(url: &str) {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    let conn = tokio::spawn(conn);
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM t{}", TABLES - 1), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, ROWS as i64, "seed rows present");
    client
        .execute(
            "INSERT INTO t0 (name) VALUES ($1)",
            &[&"written by the test"],
        )
        .await
        .unwrap();
    drop(client);
    let _ = conn.await;
}

fn with_schema(mut spec: PostgresSpec, template: bool) -> PostgresSpec {
    for s in schema() {
        spec = if template {
            spec.template_sql(s)
        } else {
            spec.init_sql(s)
        };
    }
    spec
}

const PATH: &str = "bench::db_suite";

/// Runs one test through the `#[dockhand::test]` harness: what it starts
/// belongs to the test and is removed in the background when it ends,
/// overlapping the next test, as in a real suite.
fn as_test<F, Fut>(body: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run_async(
        TestOptions {
            path: PATH,
            ..Default::default()
        },
        || async {
            body().await;
            Ok::<(), SetupFailure>(())
        },
    );
}

fn fresh_containers(n: usize) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        as_test(|| async {
            let pg = with_schema(PostgresSpec::new(), false)
                .start()
                .await
                .unwrap();
            test_body(&pg.url()).await;
        });
    }
    t.elapsed()
}

fn from_snapshot(n: usize, key: &str) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        as_test(|| async {
            let pg = with_schema(PostgresSpec::new(), false)
                .snapshot(key)
                .start()
                .await
                .unwrap();
            test_body(&pg.url()).await;
        });
    }
    t.elapsed()
}

static SHARED: Shared<PostgresSpec> = Shared::new(|| with_schema(PostgresSpec::new(), true));

fn isolated(n: usize) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        as_test(|| async {
            let db = SHARED
                .get()
                .await
                .unwrap()
                .isolated_database()
                .await
                .unwrap();
            test_body(db.url()).await;
        });
    }
    t.elapsed()
}

fn remove_snapshot(key: &str) {
    dockhand::__macro_support::futures::executor::block_on(async {
        let engine = dockhand::Engine::shared().await.unwrap();
        engine.remove_snapshots(key).await.unwrap();
    });
}

fn main() {
    let n = support::rounds("DB_SUITE_TESTS", 20);
    // Warm up: the image pulled (through DOCKHAND_IMAGE_PREFIX if set) and
    // the engine's caches, outside the timings.
    as_test(|| async {
        PostgresSpec::new().start().await.expect("start postgres");
    });
    // Between the ways: the last test's background removal is done.
    let settle = || std::thread::sleep(Duration::from_secs(2));
    settle();

    let key = format!("db-suite-{}", dockhand::session_id());
    let a = fresh_containers(n);
    println!(
        "(a) fresh container per test: {n} tests in {:.1} s ({:.0} ms each)",
        a.as_secs_f64(),
        support::ms(a) / n as f64
    );
    settle();
    // Making the snapshot: one start that makes it (a test of its own).
    let making = from_snapshot(1, &key);
    println!(
        "    making the snapshot (one start that makes it): {:.1} s",
        making.as_secs_f64()
    );
    settle();
    let b = from_snapshot(n, &key);
    println!(
        "(b) container from a snapshot: {n} tests in {:.1} s ({:.0} ms each; with the making: ratio {:.3})",
        b.as_secs_f64(),
        support::ms(b) / n as f64,
        (b + making).as_secs_f64() / a.as_secs_f64()
    );
    settle();
    let c = isolated(n);
    println!(
        "(c) isolated database per test in one shared server: {n} tests in {:.1} s ({:.0} ms each, the server's start included)",
        c.as_secs_f64(),
        support::ms(c) / n as f64
    );
    settle();
    remove_snapshot(&key);
    println!(
        "db_suite_ratio snapshot={:.3} isolated={:.3}",
        b.as_secs_f64() / a.as_secs_f64(),
        c.as_secs_f64() / a.as_secs_f64()
    );
}
