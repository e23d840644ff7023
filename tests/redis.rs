//! The Redis module against the real engine, checked with a real client
//! (redis-rs): fixtures, the password, isolated databases.
#![cfg(feature = "redis")]

use dockhand::redis::{Redis, RedisSpec};
use dockhand::Shared;
use redis::AsyncCommands;

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

#[dockhand::test]
async fn a_parameter_is_a_ready_server_a_client_can_use(redis: Redis) {
    assert!(redis.url().starts_with("redis://:"), "{}", redis.url());
    let mut con = connect(&redis.url()).await;
    let _: () = con.set("greeting", "hello").await.unwrap();
    let got: String = con.get("greeting").await.unwrap();
    assert_eq!(got, "hello");
    // The module's own path sees the same key.
    assert_eq!(
        redis.command(["GET", "greeting"]).await.unwrap().trim(),
        "hello"
    );
}

#[dockhand::test]
async fn the_password_is_random_and_required(redis: Redis) {
    assert_eq!(redis.password().len(), 24);
    let addr = redis.addr().unwrap();
    let no_auth = format!("redis://{addr}");
    let mut con = connect(&no_auth).await;
    let refused: redis::RedisResult<Option<String>> = con.get("x").await;
    let err = refused.unwrap_err();
    assert!(err.to_string().contains("NOAUTH"), "{err}");
    let wrong = format!("redis://:wrong@{addr}");
    let refused = redis::Client::open(wrong.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await;
    assert!(refused.is_err(), "a wrong password is refused");
}

#[dockhand::test]
async fn an_error_reply_is_an_error(redis: Redis) {
    let err = redis.command(["NOSUCHCOMMAND"]).await.unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
}

static SHARED: Shared<RedisSpec> = Shared::new(RedisSpec::new);

async fn isolated_sees_only_its_own(key: &str, other: &str) {
    let db = SHARED
        .get()
        .await
        .unwrap()
        .isolated_database()
        .await
        .unwrap();
    assert!(db.url().ends_with(&format!("/{}", db.index())));
    assert!(db.index() >= 1);
    let mut con = connect(db.url()).await;
    let keys: Vec<String> = con.keys("*").await.unwrap();
    assert!(keys.is_empty(), "starts empty: {keys:?}");
    let _: () = con.set(key, "mine").await.unwrap();
    let _: () = con
        .set(format!("{}{key}", db.key_prefix()), "prefixed")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let exists: bool = con.exists(other).await.unwrap();
    assert!(!exists, "the other test's key is not here");
    let keys: Vec<String> = con.keys("*").await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
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
async fn a_dropped_isolated_database_is_flushed_and_its_index_reused() {
    let redis = RedisSpec::new().start().await.unwrap();
    let db = redis.isolated_database().await.unwrap();
    let (index, url) = (db.index(), db.url().to_string());
    let mut con = connect(&url).await;
    let _: () = con.set("left", "behind").await.unwrap();
    drop(db);
    // The teardown flushes the index in the background.
    let mut size = 1;
    for _ in 0..100 {
        size = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
        if size == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(size, 0, "database {index} flushed after its handle dropped");
    // Flushed, it is handed out again (indexes are reused newest first).
    let again = redis.isolated_database().await.unwrap();
    assert_eq!(again.index(), index);
}
