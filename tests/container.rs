//! The container handle: ports, labels, lifecycle verbs.
mod common;

use common::{image, sleeper, web};
use dockhand::{ContainerPort, ContainerSpec, Error};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// httpd may need a moment after start to listen (readiness probes are their own feature).
async fn get_when_up(addr: std::net::SocketAddr, path: &str) -> String {
    for _ in 0..100 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
            if s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
                .await
                .is_ok()
            {
                let mut out = String::new();
                if s.read_to_string(&mut out).await.is_ok() && !out.is_empty() {
                    return out;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    http_get(addr, path).await
}

#[tokio::test]
async fn published_port_binds_loopback_and_serves() {
    let c = web().start().await.unwrap();
    let addr = c.addr(8080).unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_eq!(c.host(), "127.0.0.1");
    let ports = c.ports();
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(ports[0].host_ip, "127.0.0.1");
    assert_eq!(ports[0].container, ContainerPort::tcp(8080));
    assert_eq!(ports[0].host_port, addr.port());
    let answer = get_when_up(addr, "/etc/hostname").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn unexposed_port_lookup_names_the_exposed_ports() {
    let c = web()
        .expose("53/udp".parse::<ContainerPort>().unwrap())
        .start()
        .await
        .unwrap();
    let err = c.addr(5432).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::PortNotExposed { .. }), "{err:?}");
    assert!(
        msg.contains("5432/tcp") && msg.contains("8080/tcp") && msg.contains("53/udp"),
        "{msg}"
    );
    assert!(msg.contains(c.name()), "{msg}");
    // The UDP port is published too.
    assert!(c.host_port(ContainerPort::udp(53)).unwrap() > 0);
}

#[tokio::test]
async fn all_interfaces_on_request() {
    let c = web().publish_on_all_interfaces().start().await.unwrap();
    assert!(
        c.ports().iter().any(|p| p.host_ip == "0.0.0.0"),
        "{:?}",
        c.ports()
    );
}

#[tokio::test]
async fn fixed_host_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = web().expose_on(8080, port).start().await.unwrap();
    assert_eq!(c.host_port(8080).unwrap(), port);
}

#[tokio::test]
async fn labels_and_names() {
    let c = sleeper()
        .name_prefix("labels-test")
        .label("team", "core")
        .start()
        .await
        .unwrap();
    assert!(c.name().starts_with("labels-test-"), "{}", c.name());
    let info = c.inspect().await.unwrap();
    let labels = info.config.unwrap().labels.unwrap();
    assert_eq!(
        labels.get("dockhand.session").map(String::as_str),
        Some(dockhand::session_id())
    );
    assert_eq!(
        labels.get("dockhand.managed").map(String::as_str),
        Some("true")
    );
    assert_eq!(labels.get("team").map(String::as_str), Some("core"));
    assert!(!labels.contains_key("dockhand.keep"));
}

#[tokio::test]
async fn kept_container_survives_drop_and_is_labelled() {
    let c = sleeper().keep(true).start().await.unwrap();
    let id = c.id().to_string();
    assert!(c.is_kept());
    drop(c);
    assert!(common::container_exists(&id));
    let kept = common::containers_with_labels(&[
        ("dockhand.keep", "true"),
        ("dockhand.session", dockhand::session_id()),
    ]);
    assert!(kept.contains(&id));
    // Clean up what this test kept on purpose.
    common::force_remove(&id);
    assert!(!common::container_exists(&id));
}

#[tokio::test]
async fn stop_start_restart_pause_unpause() {
    let c = web().start().await.unwrap();
    let state = |i: dockhand::bollard::models::ContainerInspectResponse| i.state.unwrap();

    c.pause().await.unwrap();
    assert_eq!(state(c.inspect().await.unwrap()).paused, Some(true));
    c.unpause().await.unwrap();
    assert_eq!(state(c.inspect().await.unwrap()).paused, Some(false));

    c.stop_with_timeout(Duration::from_secs(1)).await.unwrap();
    assert_eq!(state(c.inspect().await.unwrap()).running, Some(false));
    assert!(
        c.addr(8080).is_err(),
        "a stopped container has no published port"
    );

    c.start().await.unwrap();
    assert_eq!(state(c.inspect().await.unwrap()).running, Some(true));
    let addr = c.addr(8080).unwrap();
    assert!(get_when_up(addr, "/etc/hostname")
        .await
        .starts_with("HTTP/1.1 200"));

    let started_before = state(c.inspect().await.unwrap()).started_at;
    c.restart().await.unwrap();
    let after = state(c.inspect().await.unwrap());
    assert_eq!(after.running, Some(true));
    assert_ne!(after.started_at, started_before);
    assert!(c.addr(8080).is_ok());
}

#[tokio::test]
async fn kill_and_wait_give_the_exit_code() {
    let c = ContainerSpec::new(image())
        .cmd([
            "sh",
            "-c",
            "trap 'exit 7' HUP; while true; do sleep 0.1; done",
        ])
        .start()
        .await
        .unwrap();
    // Give the shell a moment to install its trap.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.kill("SIGHUP").await.unwrap();
    assert_eq!(c.wait().await.unwrap(), 7);

    let c = ContainerSpec::new(image())
        .cmd(["sh", "-c", "exit 3"])
        .start()
        .await
        .unwrap();
    assert_eq!(c.wait().await.unwrap(), 3);
    let c = ContainerSpec::new(image())
        .cmd(["true"])
        .start()
        .await
        .unwrap();
    assert_eq!(c.wait().await.unwrap(), 0);
}

#[tokio::test]
async fn stats_report_memory() {
    let c = sleeper()
        .memory_limit(64 * 1024 * 1024)
        .start()
        .await
        .unwrap();
    let s = c.stats().await.unwrap();
    assert!(s.memory_usage > 0, "{s:?}");
    assert_eq!(s.memory_limit, 64 * 1024 * 1024);
    if let Some(cpu) = s.cpu_percent {
        assert!(cpu >= 0.0);
    }
}

#[tokio::test]
async fn bad_command_fails_start_and_leaves_nothing() {
    let prefix = format!("badcmd-{}", std::process::id());
    let err = ContainerSpec::new(image())
        .cmd(["/no/such/binary"])
        .name_prefix(prefix.clone())
        .start()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("start container") && msg.contains(&prefix),
        "{msg}"
    );
    assert!(msg.contains("/no/such/binary"), "{msg}");
    let left = common::containers_with_labels(&[("dockhand.session", dockhand::session_id())]);
    for id in left {
        let name = common::engine_call(move |d| async move {
            d.inspect_container(
                &id,
                None::<dockhand::bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .ok()
            .and_then(|i| i.name)
        });
        assert!(!name.unwrap_or_default().contains(&prefix));
    }
}
