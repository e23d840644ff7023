//! Whatever way a test process ends, it leaves nothing behind.
//!
//! Paths covered elsewhere: a passing test, a panic, an `Err` and a timeout
//! (tests/test_attribute.rs and tests/cleanup.rs). Here: a shared container at
//! a normal exit, SIGINT, SIGTERM and SIGKILL of a child test process holding
//! containers, a network and a volume, and the start-up sweep.
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockhand::bollard::models::VolumeCreateRequest;
use dockhand::bollard::query_parameters::{ListNetworksOptionsBuilder, ListVolumesOptionsBuilder};
use dockhand::{Engine, NetworkSpec, Shared};

static SHARED: Shared = Shared::new(common::sleeper);

/// Counts containers, networks and volumes labelled with `session`.
fn count(session: &str) -> (usize, usize, usize) {
    let session = session.to_string();
    let containers = common::containers_with_labels(&[("dockhand.session", &session)]).len();
    let (n, v) = common::engine_call(move |d| async move {
        let f = HashMap::from([(
            "label".to_string(),
            vec![format!("dockhand.session={session}")],
        )]);
        let n = d
            .list_networks(Some(
                ListNetworksOptionsBuilder::default().filters(&f).build(),
            ))
            .await
            .unwrap()
            .len();
        let v = d
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default().filters(&f).build(),
            ))
            .await
            .unwrap()
            .volumes
            .unwrap_or_default()
            .len();
        (n, v)
    });
    (containers, n, v)
}

/// The child: holds a container, the shared container, a network and a
/// volume (both labelled with its session), says READY, then either returns
/// or waits to be killed.
#[test]
#[ignore = "child: run by the exit-path tests"]
fn child_holds_resources() {
    let hang = std::env::var("CHILD_MODE").as_deref() == Ok("hang");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let own = common::sleeper().start().await.unwrap();
        let shared = SHARED.get().await.unwrap();
        // Held past the handles: only the process's end may remove these.
        std::mem::forget(
            NetworkSpec::new()
                .name_prefix("exit-path")
                .create()
                .await
                .unwrap(),
        );
        // dockhand has no volume API: a volume labelled as its own, through bollard.
        let engine = Engine::shared().await.unwrap();
        let docker = engine.docker().clone();
        let name = format!("exit-path-{}", std::process::id());
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
        println!("READY {} {}", own.id(), shared.id());
        if hang {
            std::mem::forget(own);
            std::future::pending::<()>().await;
        }
        // A normal return: `own` drops here; the shared container, the network
        // and the volume are only removed by the exit hook.
    });
}

fn spawn_child(session: &str, mode: &str, reaper: bool) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "child_holds_resources",
        "--nocapture",
    ])
    .env("DOCKHAND_SESSION", session)
    .env("CHILD_MODE", mode)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if !reaper {
        cmd.env("DOCKHAND_REAPER", "off");
    }
    // A process group of its own, like a terminal's foreground job: a Ctrl-C
    // reaches the whole group.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().unwrap()
}

fn wait_ready(child: &mut std::process::Child) {
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("READY") => break,
            Some(Ok(_)) => continue,
            other => panic!("child ended before READY: {other:?}"),
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
}

fn session(tag: &str) -> String {
    format!(
        "exit{tag}{}x{}",
        std::process::id(),
        Instant::now().elapsed().subsec_nanos()
    )
}

fn signal_path(signal: &str) {
    let s = session(&signal.to_lowercase());
    let mut child = spawn_child(&s, "hang", true);
    wait_ready(&mut child);
    let before = count(&s);
    assert_eq!(
        before,
        (2, 1, 1),
        "the child should hold 2 containers, a network and a volume"
    );
    // SIGINT goes to the whole process group, as Ctrl-C in a terminal does:
    // the watchdog must not be in it. The other signals go to the process.
    let target = if signal == "INT" {
        format!("-{}", child.id())
    } else {
        child.id().to_string()
    };
    let status = Command::new("kill")
        .args(["-s", signal, "--", &target])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(!exit.success(), "the child should die of SIG{signal}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut now = count(&s);
    while now != (0, 0, 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        now = count(&s);
    }
    assert_eq!(now, (0, 0, 0), "resources left 15 s after SIG{signal}");
}

#[test]
fn sigint_leaves_nothing() {
    signal_path("INT");
}

#[test]
fn sigterm_leaves_nothing() {
    signal_path("TERM");
}

#[test]
fn sigkill_leaves_nothing_within_15_seconds() {
    signal_path("KILL");
}

#[test]
fn normal_exit_removes_shared_container_network_and_volume() {
    // No watchdog: only the process's own exit hook can do it, synchronously.
    let s = session("normal");
    let mut child = spawn_child(&s, "exit", false);
    wait_ready(&mut child);
    let exit = child.wait().unwrap();
    assert!(exit.success());
    assert_eq!(count(&s), (0, 0, 0), "left after a normal exit");
}

#[tokio::test]
async fn shared_container_is_started_once() {
    let (a, b) = tokio::join!(SHARED.get(), SHARED.get());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id(), b.id());
    assert!(a.name().starts_with("shared-"));
    let again = std::thread::spawn(|| SHARED.get_blocking().unwrap().id().to_string())
        .join()
        .unwrap();
    assert_eq!(again, a.id());
}

#[tokio::test]
async fn startup_sweep_removes_orphans_but_not_kept_ones() {
    let s = session("sweep");
    let mut orphan = dockhand::session_labels();
    orphan.insert("dockhand.session".into(), s.clone());
    orphan.insert("dockhand.pid".into(), common::dead_pid());
    let mut kept = orphan.clone();
    kept.insert("dockhand.keep".into(), "true".into());
    let ids: Vec<String> = [orphan, kept]
        .into_iter()
        .map(|l| common::create_labelled(l, None))
        .collect();
    let removed = dockhand::sweep_orphans().await.unwrap();
    assert!(removed >= 1);
    assert!(
        !common::container_exists(&ids[0]),
        "the orphan survived the sweep"
    );
    assert!(
        common::container_exists(&ids[1]),
        "the sweep removed a kept container"
    );
    common::force_remove(&ids[1]);
}
