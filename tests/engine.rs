//! Finding and talking to the engine.
mod common;

use dockhand::{Engine, EngineConfig, Error};

#[tokio::test]
async fn shared_engine_negotiates_the_api_version() {
    let e = common::engine().await;
    let v = e.api_version();
    let (major, minor) = v.split_once('.').unwrap();
    assert_eq!(major, "1");
    assert!(minor.parse::<u32>().unwrap() >= 41, "{v}");
    assert!(e.is_local());
    assert_eq!(e.host(), "127.0.0.1");
    // One client per process: the same engine every time.
    assert_eq!(Engine::shared().await.unwrap().endpoint(), e.endpoint());
}

#[tokio::test]
async fn dead_socket_error_lists_what_was_tried_and_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.sock");
    // A socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let url = format!("unix://{}", dead.display());
    let err = Engine::connect(EngineConfig::host(&url)).await.unwrap_err();
    assert!(matches!(err, Error::EngineUnreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains("DOCKER_HOST"), "{msg}");
}

#[tokio::test]
async fn dead_tcp_engine_is_refused_quickly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Engine::connect(EngineConfig::host(format!("tcp://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn spec_on_a_dead_engine_creates_nothing_and_says_why() {
    let err = Engine::connect(EngineConfig::host("unix:///nonexistent/docker.sock"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("socket does not exist"), "{err}");
}

#[tokio::test]
async fn explicit_engine_runs_containers() {
    let e = Engine::connect(EngineConfig::host("unix:///var/run/docker.sock"))
        .await
        .unwrap();
    let c = common::sleeper().engine(e).start().await.unwrap();
    assert!(common::container_exists(c.id()));
}

/// DOCKER_HOST is read from the environment: run this test binary again with
/// DOCKER_HOST pointing at a dead socket and check the child's error.
#[test]
fn docker_host_env_is_honoured() {
    if std::env::var("DOCKHAND_CHILD_ENGINE_PROBE").is_ok() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let err = rt.block_on(common::sleeper().start()).unwrap_err();
        println!("CHILD-ERROR: {err}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "docker_host_env_is_honoured", "--nocapture"])
        .env("DOCKHAND_CHILD_ENGINE_PROBE", "1")
        .env("DOCKER_HOST", "unix:///nonexistent/dockhand-test.sock")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("CHILD-ERROR: no Docker engine answered")
            && stdout.contains("unix:///nonexistent/dockhand-test.sock"),
        "{stdout}"
    );
}
