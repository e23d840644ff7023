//! Dropping a handle removes its container, whatever runtime (or none) the test uses.
mod common;

use common::{container_exists, sleeper};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_in_multi_thread_runtime_removes_container() {
    let c = sleeper().start().await.unwrap();
    let id = c.id().to_string();
    assert!(container_exists(&id));
    drop(c);
    assert!(
        !container_exists(&id),
        "container {id} still exists after drop"
    );
}

#[tokio::test]
async fn drop_in_current_thread_runtime_removes_container() {
    let c = sleeper().start().await.unwrap();
    let id = c.id().to_string();
    assert!(container_exists(&id));
    drop(c);
    assert!(
        !container_exists(&id),
        "container {id} still exists after drop"
    );
}

#[test]
fn drop_without_runtime_removes_container() {
    let c = sleeper().start_blocking().unwrap();
    let id = c.id().to_string();
    assert!(container_exists(&id));
    drop(c);
    assert!(
        !container_exists(&id),
        "container {id} still exists after drop"
    );
}

#[test]
fn panic_in_test_still_removes_container() {
    let id = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = sleeper().start().await.unwrap();
            *id.lock().unwrap() = c.id().to_string();
            panic!("the test body fails while holding the container");
        })
    });
    assert!(result.is_err());
    let id = id.into_inner().unwrap();
    assert!(!id.is_empty());
    assert!(!container_exists(&id), "container {id} survived the panic");
}

#[tokio::test]
async fn dropped_inside_a_spawned_task_at_runtime_shutdown() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        rt.block_on(async {
            let c = sleeper().start().await.unwrap();
            tx.send(c.id().to_string()).unwrap();
            // The task holding the container is still pending when the runtime drops.
            tokio::spawn(async move {
                let _held = c;
                std::future::pending::<()>().await;
            });
        });
        drop(rt);
    })
    .join()
    .unwrap();
    let id = rx.recv().unwrap();
    assert!(
        !container_exists(&id),
        "container {id} survived runtime shutdown"
    );
}

#[tokio::test]
async fn explicit_remove_reports_and_removes() {
    let c = sleeper().start().await.unwrap();
    let id = c.id().to_string();
    c.remove().await.unwrap();
    assert!(!container_exists(&id));
}

#[tokio::test]
async fn anonymous_volumes_are_removed_with_the_container() {
    let c = sleeper().anonymous_volume("/data").start().await.unwrap();
    let info = c.inspect().await.unwrap();
    let volume = info
        .mounts
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.destination.as_deref() == Some("/data"))
        .and_then(|m| m.name)
        .expect("anonymous volume mounted at /data");
    drop(c);
    let v = volume.clone();
    let still_there =
        common::engine_call(move |docker| async move { docker.inspect_volume(&v).await.is_ok() });
    assert!(
        !still_there,
        "anonymous volume {volume} survived the container"
    );
}

#[tokio::test]
async fn cancelled_start_leaves_nothing_behind() {
    let prefix = format!("cancelled-{}", std::process::id());
    // Cancel the start almost at once; whatever the engine created must go.
    let fut = sleeper().name_prefix(prefix.clone()).start();
    let _ = tokio::time::timeout(std::time::Duration::from_millis(30), fut).await;
    // The engine side finishes (or undoes) the start in the background.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let left = common::engine_call({
            let prefix = prefix.clone();
            move |docker| async move {
                let opts =
                    dockhand::bollard::query_parameters::ListContainersOptionsBuilder::default()
                        .all(true)
                        .filters(&std::collections::HashMap::from([(
                            "name".to_string(),
                            vec![prefix],
                        )]))
                        .build();
                docker.list_containers(Some(opts)).await.unwrap().len()
            }
        });
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cancelled start left {left} containers"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
