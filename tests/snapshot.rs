//! Snapshots against the real engine: made once and reused, invalidated by
//! the key and by the base image, refused when the set-up wrote into a volume.

mod common;

use dockhand::{
    ContainerSpec, Engine, Error, ImageBuild, ImageFilter, SnapshotSetup, TemporaryImage,
};

/// Stops at once on SIGTERM (a bare `sleep` as PID 1 ignores it, and the
/// snapshot's clean stop would wait out its grace period).
fn sleeper_on(image: &str) -> ContainerSpec {
    ContainerSpec::new(image).cmd(["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"])
}

/// A base image of the test's own, removed with its handle.
async fn own_base(name: &str, extra: &str) -> TemporaryImage {
    let dockerfile = format!("FROM {}\nLABEL test={name}\n{extra}\n", common::image());
    ImageBuild::from_dockerfile(dockerfile)
        .build_temporary()
        .await
        .expect("build the base image")
}

async fn snapshots_of(engine: &Engine, key: &str) -> Vec<String> {
    engine
        .list_images(ImageFilter::new().label("dockhand.snapshot", key))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|i| i.repo_tags)
        .collect()
}

#[tokio::test]
async fn second_start_begins_from_the_snapshot_without_running_the_setup() {
    let engine = Engine::shared().await.unwrap();
    let base = own_base("reuse", "").await;
    let key = format!("seed-{}", dockhand::session_id());
    let setup = SnapshotSetup::exec(["sh", "-c", "date +%s%N > /seeded-at"]);

    // Several labels: HashMaps built apart must still hash the same.
    let labelled = |spec: ContainerSpec| {
        spec.label("a", "1")
            .label("b", "2")
            .label("c", "3")
            .label("d", "4")
    };
    let first = labelled(sleeper_on(base.reference()))
        .snapshot(&key, setup.clone())
        .start()
        .await
        .unwrap();
    let made = snapshots_of(&engine, &key).await;
    assert_eq!(made.len(), 1, "one snapshot image: {made:?}");
    assert!(made[0].starts_with("dockhand-snapshot/"), "{made:?}");
    assert!(
        first.image().starts_with("dockhand-snapshot/"),
        "started from the snapshot"
    );
    let stamp = first.exec_ok(["cat", "/seeded-at"]).await.unwrap().stdout;

    // The set-up ran once: the second container sees the same file, made then.
    let second = labelled(sleeper_on(base.reference()))
        .snapshot(&key, setup)
        .start()
        .await
        .unwrap();
    let again = second.exec_ok(["cat", "/seeded-at"]).await.unwrap().stdout;
    assert_eq!(stamp, again, "the set-up did not run again");
    assert_eq!(snapshots_of(&engine, &key).await, made);

    // The snapshot shows in the inventory as one; the containers started
    // from it (which inherit its labels) are plain live containers.
    let inv = dockhand::inventory(&engine).await.unwrap();
    assert!(inv.iter().any(|r| r.kind == dockhand::Kind::Image
        && r.status == dockhand::Status::Snapshot
        && r.name == made[0]));
    let listed = inv.iter().find(|r| r.id == second.id()).unwrap();
    assert_eq!(listed.status, dockhand::Status::Live);
    // Nothing of the maker's process or of the temporary base image sticks
    // to the snapshot: it is not removed with the process.
    let labels = engine
        .inspect_image(&made[0])
        .await
        .unwrap()
        .config
        .unwrap()
        .labels
        .unwrap();
    assert_eq!(
        labels.get("dockhand.temporary").map(String::as_str),
        Some("false")
    );
    assert_eq!(labels.get("dockhand.pid").map(String::as_str), Some(""));
    drop((first, second));
    engine.remove_snapshots(&key).await.unwrap();
}

#[tokio::test]
async fn a_new_key_or_base_makes_a_new_snapshot() {
    let engine = Engine::shared().await.unwrap();
    let key = format!("inval-{}", dockhand::session_id());
    let base_a = own_base("inval-a", "ENV FLAVOUR=a").await;
    let setup = SnapshotSetup::exec(["sh", "-c", "echo $FLAVOUR > /flavour"]);

    let a = sleeper_on(base_a.reference())
        .snapshot(&key, setup.clone())
        .start()
        .await
        .unwrap();
    assert_eq!(
        a.exec_ok(["cat", "/flavour"]).await.unwrap().stdout.trim(),
        "a"
    );
    let first = snapshots_of(&engine, &key).await;
    drop(a);

    // Same key, another base image: a new snapshot. The stale one stays
    // until it is an hour old (a process may be starting from it now).
    let base_b = own_base("inval-a", "ENV FLAVOUR=b").await;
    let b = sleeper_on(base_b.reference())
        .snapshot(&key, setup.clone())
        .start()
        .await
        .unwrap();
    assert_eq!(
        b.exec_ok(["cat", "/flavour"]).await.unwrap().stdout.trim(),
        "b"
    );
    let second = snapshots_of(&engine, &key).await;
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(second.contains(&first[0]), "{second:?}");
    assert!(second.iter().any(|t| t == b.image()), "{second:?}");
    assert_ne!(
        first[0],
        b.image(),
        "the base image changed: a new snapshot"
    );
    drop(b);

    // Another key: another snapshot (the first key's stays).
    let key2 = format!("{key}-v2");
    let c = sleeper_on(base_b.reference())
        .snapshot(
            &key2,
            SnapshotSetup::exec(["sh", "-c", "echo v2 > /flavour"]),
        )
        .start()
        .await
        .unwrap();
    assert_eq!(
        c.exec_ok(["cat", "/flavour"]).await.unwrap().stdout.trim(),
        "v2"
    );
    assert_eq!(snapshots_of(&engine, &key2).await.len(), 1);
    assert_eq!(snapshots_of(&engine, &key).await.len(), 2);
    drop(c);
    assert_eq!(engine.remove_snapshots(&key).await.unwrap(), 2);
    engine.remove_snapshots(&key2).await.unwrap();
}

#[tokio::test]
async fn writing_into_a_volume_is_refused_not_silently_lost() {
    let engine = Engine::shared().await.unwrap();
    let base = own_base("volume", "VOLUME /data").await;
    let key = format!("vol-{}", dockhand::session_id());
    let err = sleeper_on(base.reference())
        .label("case", &key)
        .snapshot(
            &key,
            SnapshotSetup::exec(["sh", "-c", "echo rows > /data/table"]),
        )
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SnapshotFailed { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("/data") && msg.contains("table"), "{msg}");
    assert!(msg.contains("docker commit"), "says why: {msg}");
    assert!(
        snapshots_of(&engine, &key).await.is_empty(),
        "no snapshot made"
    );
    assert!(
        common::containers_with_labels(&[("case", &key)]).is_empty(),
        "the set-up container is gone"
    );

    // Data kept outside the volume is captured.
    let ok = sleeper_on(base.reference())
        .snapshot(
            &key,
            SnapshotSetup::exec(["sh", "-c", "mkdir -p /kept && echo rows > /kept/table"]),
        )
        .start()
        .await
        .unwrap();
    assert_eq!(
        ok.exec_ok(["cat", "/kept/table"])
            .await
            .unwrap()
            .stdout
            .trim(),
        "rows"
    );
    drop(ok);
    engine.remove_snapshots(&key).await.unwrap();
}

#[tokio::test]
async fn a_failing_setup_names_the_snapshot_and_leaves_nothing() {
    let engine = Engine::shared().await.unwrap();
    let key = format!("fail-{}", dockhand::session_id());
    let err = sleeper_on(&common::image())
        .label("case", &key)
        .snapshot(
            &key,
            SnapshotSetup::exec(["sh", "-c", "echo nope >&2; exit 3"]),
        )
        .start()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::SnapshotFailed { .. }), "{err:?}");
    assert!(msg.contains(&key) && msg.contains("nope"), "{msg}");
    assert!(snapshots_of(&engine, &key).await.is_empty());
    assert!(common::containers_with_labels(&[("case", &key)]).is_empty());
}

#[tokio::test]
async fn concurrent_first_starts_make_one_snapshot() {
    let engine = Engine::shared().await.unwrap();
    let base = own_base("concurrent", "").await;
    let key = format!("conc-{}", dockhand::session_id());
    let setup = SnapshotSetup::with(|c| {
        Box::pin(async move {
            c.exec_ok(["sh", "-c", "date +%s%N > /made"]).await?;
            Ok(())
        })
    });
    let start = || {
        sleeper_on(base.reference())
            .snapshot(&key, setup.clone())
            .start()
    };
    let (a, b) = tokio::join!(start(), start());
    let (a, b) = (a.unwrap(), b.unwrap());
    let made_a = a.exec_ok(["cat", "/made"]).await.unwrap().stdout;
    let made_b = b.exec_ok(["cat", "/made"]).await.unwrap().stdout;
    assert_eq!(made_a, made_b, "one set-up, one snapshot");
    assert_eq!(snapshots_of(&engine, &key).await.len(), 1);
    drop((a, b));
    engine.remove_snapshots(&key).await.unwrap();
}
