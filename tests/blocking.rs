//! The blocking API, for tests without an async runtime.
mod common;

use common::{container_exists, sleeper};

#[test]
fn blocking_verbs_work_without_a_runtime() {
    let c = sleeper().expose(8080).start_blocking().unwrap();
    let b = c.blocking();
    assert_eq!(b.exec(["echo", "hi"]).unwrap().stdout, "hi\n");
    assert!(c.addr(8080).unwrap().ip().is_loopback());
    b.pause().unwrap();
    b.unpause().unwrap();
    assert_eq!(b.inspect().unwrap().state.unwrap().running, Some(true));
    b.kill("SIGKILL").unwrap();
    assert_eq!(b.wait().unwrap(), 137);
    let id = c.id().to_string();
    drop(c);
    assert!(!container_exists(&id));
}

#[tokio::test]
async fn blocking_calls_inside_a_runtime_do_not_deadlock() {
    // Discouraged, but must not hang: the work runs on dockhand's own runtime.
    let c = sleeper().start().await.unwrap();
    let out = c.blocking().exec(["echo", "inside"]).unwrap();
    assert_eq!(out.stdout, "inside\n");
}
