//! Helpers shared by the integration tests: the test image, and asking the
//! engine directly (not through dockhand) what exists.
#![allow(dead_code)]

use dockhand::bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};
use dockhand::Engine;
use std::collections::HashMap;

pub mod images;

/// The busybox image built by `scripts/test-env`.
pub fn image() -> String {
    std::env::var("DOCKHAND_TEST_IMAGE").unwrap_or_else(|_| "dockhand-test/busybox:latest".into())
}

/// A spec that keeps running until removed.
pub fn sleeper() -> dockhand::ContainerSpec {
    dockhand::ContainerSpec::new(image()).cmd(["sleep", "600"])
}

/// A busybox HTTP server on port 8080.
pub fn web() -> dockhand::ContainerSpec {
    dockhand::ContainerSpec::new(image())
        .cmd(["httpd", "-f", "-v", "-p", "8080", "-h", "/"])
        .expose(8080)
}

/// Whether the engine still has a container with this id (asked directly).
pub fn container_exists(id: &str) -> bool {
    let id = id.to_string();
    engine_call(move |docker| async move {
        docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
            .is_ok()
    })
}

/// Ids of all containers (running or not) with these labels.
pub fn containers_with_labels(labels: &[(&str, &str)]) -> Vec<String> {
    container_ids(
        "label",
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    )
}

/// How many containers (running or not) have a name containing `prefix`
/// (the engine's `name` filter matches anywhere in the name).
pub fn containers_named(prefix: &str) -> usize {
    container_ids("name", vec![prefix.to_string()]).len()
}

/// Ids of all containers (running or not) passing one engine list filter.
fn container_ids(filter: &str, values: Vec<String>) -> Vec<String> {
    let filters = HashMap::from([(filter.to_string(), values)]);
    engine_call(move |docker| async move {
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        docker
            .list_containers(Some(opts))
            .await
            .expect("list containers")
            .into_iter()
            .filter_map(|c| c.id)
            .collect()
    })
}

/// Runs a bollard call on a runtime of its own, independent of the test's.
pub fn engine_call<F, Fut, T>(f: F) -> T
where
    F: FnOnce(dockhand::bollard::Docker) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let docker = dockhand::bollard::Docker::connect_with_defaults()
                .unwrap()
                .negotiate_version()
                .await
                .unwrap();
            f(docker).await
        })
    })
    .join()
    .unwrap()
}

/// The shared engine, from a test's runtime.
pub async fn engine() -> Engine {
    Engine::shared().await.expect("engine")
}

/// Creates (without starting) a `sleep` container with exactly these labels,
/// straight through bollard, as another process would have.
pub fn create_labelled(labels: HashMap<String, String>, name: Option<String>) -> String {
    let image = image();
    engine_call(move |d| async move {
        let opts = name.map(|n| {
            dockhand::bollard::query_parameters::CreateContainerOptionsBuilder::default()
                .name(&n)
                .build()
        });
        d.create_container(
            opts,
            dockhand::bollard::models::ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["sleep".into(), "600".into()]),
                labels: Some(labels),
                ..Default::default()
            },
        )
        .await
        .expect("create container")
        .id
    })
}

/// Force-removes a container straight through bollard (for what a test kept on purpose).
pub fn force_remove(id: &str) {
    let id = id.to_string();
    engine_call(move |d| async move {
        let opts = dockhand::bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = d.remove_container(&id, Some(opts)).await;
    });
}

/// The pid of a process that has ended: it names nobody now.
pub fn dead_pid() -> String {
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id().to_string();
    dead.wait().unwrap();
    pid
}
