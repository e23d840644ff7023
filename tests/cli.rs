//! The `dockhand` command: ls, clean, logs.
mod common;

use std::process::Command;

fn dockhand(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dockhand"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A container labelled as if a process that has ended created it.
fn leaked_container(session: &str) -> String {
    let mut labels = dockhand::session_labels();
    labels.insert("dockhand.session".into(), session.into());
    labels.insert("dockhand.pid".into(), common::dead_pid());
    labels.insert("dockhand.test".into(), "cli::some_test".into());
    common::create_labelled(labels, Some(format!("{session}-leaked")))
}

#[tokio::test]
async fn ls_shows_kept_and_leaked_with_details_and_clean_removes_them() {
    let session = format!("clitest{}", std::process::id());
    // The once-per-process start-up sweep would remove the fake leak: have it done first.
    dockhand::sweep_orphans().await.unwrap();
    let leaked = leaked_container(&session);
    let kept = common::web()
        .name_prefix("cli-kept")
        .keep(true)
        .start()
        .await
        .unwrap();
    let kept_id = kept.id().to_string();
    let port = kept.host_port(8080).unwrap();
    drop(kept);

    let (ok, out) = dockhand(&["ls"]);
    assert!(ok, "{out}");
    let leaked_line = out
        .lines()
        .find(|l| l.contains(&format!("{session}-leaked")))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        leaked_line.starts_with("leaked") && leaked_line.contains("cli::some_test"),
        "{leaked_line}"
    );
    let kept_line = out
        .lines()
        .find(|l| l.contains(&kept_id[..12]))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(kept_line.starts_with("kept"), "{kept_line}");
    assert!(
        kept_line.contains(&format!("127.0.0.1:{port} -> 8080/tcp")),
        "{kept_line}"
    );
    assert!(kept_line.contains("dockhand-test/busybox"), "{kept_line}");

    // Live containers of running processes are not listed without --all.
    let live = common::sleeper()
        .name_prefix("cli-live")
        .start()
        .await
        .unwrap();
    let (_, out) = dockhand(&["ls"]);
    assert!(!out.contains(live.name()), "{out}");
    let (_, out) = dockhand(&["ls", "--all"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("live") && l.contains(live.name())),
        "{out}"
    );

    let (ok, out) = dockhand(&["clean", "--session", &session, "--dry-run"]);
    assert!(
        ok && out.contains(&format!("would remove leaked container {session}-leaked")),
        "{out}"
    );
    assert!(common::container_exists(&leaked));

    let (ok, out) = dockhand(&["clean", "--session", &session]);
    assert!(
        ok && out.contains(&format!("removed leaked container {session}-leaked")),
        "{out}"
    );
    assert!(!common::container_exists(&leaked));
    assert!(
        common::container_exists(&kept_id),
        "plain clean must not touch kept containers"
    );
    assert!(
        common::container_exists(live.id()),
        "clean must not touch live containers"
    );

    let (ok, out) = dockhand(&[
        "clean",
        "--kept",
        "--session",
        dockhand::session_id(),
        "--older-than",
        "0s",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("removed kept container cli-kept-"), "{out}");
    assert!(!common::container_exists(&kept_id));
    assert!(common::container_exists(live.id()));
}

#[tokio::test]
async fn logs_prints_a_containers_output() {
    let c = dockhand::ContainerSpec::new(common::image())
        .cmd(["sh", "-c", "echo one; echo two; echo three >&2"])
        .start()
        .await
        .unwrap();
    c.wait().await.unwrap();
    let (ok, out) = dockhand(&["logs", c.name()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("one\n") && out.contains("two\n") && out.contains("three\n"),
        "{out}"
    );
    let (ok, out) = dockhand(&["logs", c.name(), "--tail", "1"]);
    assert!(ok && !out.contains("one"), "{out}");
    let (ok, out) = dockhand(&["logs", "no-such-container-dockhand"]);
    assert!(!ok && out.contains("no-such-container-dockhand"), "{out}");
}

#[tokio::test]
async fn logs_follow_streams_until_the_container_exits() {
    let c = dockhand::ContainerSpec::new(common::image())
        .cmd(["sh", "-c", "echo early; sleep 1; echo late"])
        .start()
        .await
        .unwrap();
    let name = c.name().to_string();
    // Blocks while the container runs; returns once it has exited.
    let (ok, out) = tokio::task::spawn_blocking(move || dockhand(&["logs", "-f", &name]))
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert_eq!(out, "early\nlate\n");
}

#[test]
fn bad_usage_is_explained() {
    let (ok, out) = dockhand(&["frobnicate"]);
    assert!(
        !ok && out.contains("unknown command `frobnicate`") && out.contains("usage:"),
        "{out}"
    );
    let (ok, out) = dockhand(&["clean", "--older-than", "soon"]);
    assert!(!ok && out.contains("bad duration `soon`"), "{out}");
    let (ok, out) = dockhand(&["ls", "--bogus"]);
    assert!(!ok && out.contains("unknown option `--bogus`"), "{out}");
}

#[tokio::test]
async fn snapshots_are_listed_and_removed_only_when_asked() {
    let key = format!("cli-snap-{}", std::process::id());
    let c = dockhand::ContainerSpec::new(common::image())
        .cmd(["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"])
        .snapshot(&key, dockhand::SnapshotSetup::exec(["touch", "/made"]))
        .start()
        .await
        .unwrap();
    let tag = c.image().to_string();
    drop(c);

    let (ok, out) = dockhand(&["ls"]);
    assert!(ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains(&tag))
        .unwrap_or_else(|| panic!("{tag} not listed:\n{out}"));
    assert!(
        line.starts_with("snapshot") && line.contains("image"),
        "{line}"
    );

    let sid = dockhand::session_id();
    let (ok, out) = dockhand(&["clean", "--session", sid]);
    assert!(ok && !out.contains(&tag), "{out}");
    let engine = dockhand::Engine::shared().await.unwrap();
    assert!(
        engine.image_exists(&tag).await.unwrap(),
        "a plain clean keeps snapshots"
    );

    let (ok, out) = dockhand(&["clean", "--snapshots", "--session", sid]);
    assert!(
        ok && out.contains(&format!("removed snapshot image {tag}")),
        "{out}"
    );
    assert!(!engine.image_exists(&tag).await.unwrap());
}
