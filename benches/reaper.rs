//! Seconds from SIGKILL of a process holding containers, a network and a
//! volume to none of them being left. Last line: `reap_after_kill_s=<median>`.
//!
//! `cargo bench --bench reaper` (ROUNDS=N to change the number of rounds).
//! The bench runs itself as the child (`REAPER_BENCH_CHILD=1`).

mod support;
use support::image;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockhand::bollard::models::VolumeCreateRequest;
use dockhand::bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use dockhand::{ContainerSpec, Engine, NetworkSpec};

async fn child() {
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            ContainerSpec::new(image())
                .cmd(["sleep", "600"])
                .start()
                .await
                .unwrap(),
        );
    }
    // Held past the handles: only the process's end may remove these.
    std::mem::forget(
        NetworkSpec::new()
            .name_prefix("reaper-bench")
            .create()
            .await
            .unwrap(),
    );
    // dockhand has no volume API: a volume labelled as its own, through bollard.
    let engine = Engine::shared().await.unwrap();
    let docker = engine.docker().clone();
    let name = format!("reaper-bench-{}", std::process::id());
    engine
        .run(async move {
            let volume = VolumeCreateRequest {
                name: Some(name),
                labels: Some(dockhand::session_labels()),
                ..Default::default()
            };
            docker.create_volume(volume).await.unwrap();
        })
        .await;
    println!("READY");
    std::future::pending::<()>().await;
}

async fn left(docker: &dockhand::bollard::Docker, session: &str) -> usize {
    let f = HashMap::from([(
        "label".to_string(),
        vec![format!("dockhand.session={session}")],
    )]);
    let c = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&f)
                .build(),
        ))
        .await
        .unwrap()
        .len();
    let n = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default().filters(&f).build(),
        ))
        .await
        .unwrap()
        .len();
    let v = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default().filters(&f).build(),
        ))
        .await
        .unwrap()
        .volumes
        .unwrap_or_default()
        .len();
    c + n + v
}

async fn round(docker: &dockhand::bollard::Docker, n: usize) -> Duration {
    let session = format!("reaperbench{}x{n}", std::process::id());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("REAPER_BENCH_CHILD", "1")
        .env("DOCKHAND_SESSION", &session)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.map(|l| l == "READY").unwrap_or(false)),
        "child failed"
    );
    assert_eq!(left(docker, &session).await, 5);
    let t = Instant::now();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    while left(docker, &session).await > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "resources still there after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

#[tokio::main]
async fn main() {
    if std::env::var("REAPER_BENCH_CHILD").is_ok() {
        return child().await;
    }
    let rounds: usize = support::rounds("ROUNDS", 5);
    let docker = dockhand::bollard::Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let mut times = Vec::new();
    for n in 0..rounds {
        let t = round(&docker, n).await;
        println!("round {n}: {:.2} s", t.as_secs_f64());
        times.push(t);
    }
    times.sort();
    println!(
        "reap_after_kill_s={:.2}",
        times[times.len() / 2].as_secs_f64()
    );
}
