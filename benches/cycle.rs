//! One container cycle, dockhand against bare bollard calls in the same run:
//! create with a published port, start, follow logs to a line, read the mapped
//! port, remove. Prints both medians and, last, `cycle_ratio=<dockhand/bare>`.
//!
//! `cargo bench --bench cycle` (CYCLES=N to change the number of cycles).

mod support;
use support::{image, median, ms};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dockhand::bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use dockhand::bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use dockhand::bollard::Docker;
use dockhand::ContainerSpec;
use futures::StreamExt;

const CMD: [&str; 3] = ["sh", "-c", "echo ready; sleep 600"];

async fn dockhand_cycle() -> Duration {
    let t = Instant::now();
    let c = ContainerSpec::new(image())
        .cmd(CMD)
        .expose(8080)
        .start()
        .await
        .expect("start");
    let mut logs = c.follow_logs();
    while let Some(line) = logs.next().await {
        if line.expect("log line").text == "ready" {
            break;
        }
    }
    drop(logs);
    let port = c.host_port(8080).expect("port");
    assert!(port > 0);
    c.remove().await.expect("remove");
    t.elapsed()
}

async fn bare_cycle(docker: &Docker, n: usize) -> Duration {
    let t = Instant::now();
    let labels = HashMap::from([
        (
            "dockhand.session".to_string(),
            dockhand::session_id().to_string(),
        ),
        ("dockhand.managed".to_string(), "true".to_string()),
    ]);
    let body = ContainerCreateBody {
        image: Some(image()),
        cmd: Some(CMD.iter().map(|s| s.to_string()).collect()),
        labels: Some(labels),
        exposed_ports: Some(vec!["8080/tcp".into()]),
        host_config: Some(HostConfig {
            port_bindings: Some(HashMap::from([(
                "8080/tcp".to_string(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("bench-bare-{}-{n}", std::process::id());
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let id = docker
        .create_container(Some(opts), body)
        .await
        .expect("create")
        .id;
    docker.start_container(&id, None).await.expect("start");
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(true)
        .build();
    let mut logs = docker.logs(&id, Some(opts));
    let mut seen = String::new();
    while let Some(frame) = logs.next().await {
        seen.push_str(&frame.expect("log frame").to_string());
        if seen.lines().any(|l| l == "ready") {
            break;
        }
    }
    drop(logs);
    let info = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .expect("inspect");
    let port: u16 = info.network_settings.unwrap().ports.unwrap()["8080/tcp"]
        .as_ref()
        .unwrap()[0]
        .host_port
        .as_ref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(port > 0);
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    docker
        .remove_container(&id, Some(opts))
        .await
        .expect("remove");
    t.elapsed()
}

#[tokio::main]
async fn main() {
    let cycles: usize = support::rounds("CYCLES", 20);
    let docker = Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    // Warm up both paths (connections, image cache).
    dockhand_cycle().await;
    bare_cycle(&docker, usize::MAX).await;
    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for n in 0..cycles {
        // Alternate the order so drift in the engine hits both equally.
        if n % 2 == 0 {
            ours.push(dockhand_cycle().await);
            bare.push(bare_cycle(&docker, n).await);
        } else {
            bare.push(bare_cycle(&docker, n).await);
            ours.push(dockhand_cycle().await);
        }
    }
    let (o, b) = (median(ours), median(bare));
    println!("cycles={cycles}");
    println!("dockhand_cycle_ms p50={:.1}", ms(o));
    println!("bollard_cycle_ms  p50={:.1}", ms(b));
    println!("cycle_ratio={:.3}", o.as_secs_f64() / b.as_secs_f64());
}
