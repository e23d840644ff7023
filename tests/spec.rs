//! What a ContainerSpec sets ends up in the container.
mod common;

use common::{image, sleeper};
use dockhand::{ContainerSpec, Error};

#[tokio::test]
async fn cmd_env_user_workdir_hostname() {
    let c = sleeper()
        .env("MODE", "test")
        .env("MODE", "final")
        .user("1234:5678")
        .working_dir("/tmp")
        .hostname("probe-host")
        .start()
        .await
        .unwrap();
    let out = c
        .exec(["sh", "-c", "echo $MODE; id -u; id -g; pwd; hostname"])
        .await
        .unwrap();
    assert_eq!(
        out.stdout, "final\n1234\n5678\n/tmp\nprobe-host\n",
        "{out:?}"
    );
}

#[tokio::test]
async fn entrypoint_replaces_the_images() {
    let c = ContainerSpec::new(image())
        .entrypoint(["sh", "-c"])
        .cmd(["echo from-entrypoint; sleep 600"])
        .start()
        .await
        .unwrap();
    let info = c.inspect().await.unwrap();
    assert_eq!(info.path.as_deref(), Some("sh"));
    let mut found = false;
    for _ in 0..50 {
        if c.logs().await.unwrap().stdout.contains("from-entrypoint") {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(found);
}

#[tokio::test]
async fn files_copied_before_start_with_mode() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "from a folder").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b.txt"), "nested").unwrap();
    let script = dir.path().join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho script-ran\n").unwrap();

    let c = ContainerSpec::new(image())
        .copy_bytes("/etc/app/config.toml", "key = 1\n", 0o600)
        .copy_path(dir.path(), "/srv/data")
        .copy_path_with_mode(&script, "/usr/local/bin/run.sh", 0o755)
        // The command reads a copied file, proving the copy happened before start.
        .cmd(["sh", "-c", "cat /etc/app/config.toml; sleep 600"])
        .start()
        .await
        .unwrap();
    let out = c
        .exec(["sh", "-c", "stat -c %a /etc/app/config.toml; cat /srv/data/a.txt /srv/data/sub/b.txt; /usr/local/bin/run.sh"])
        .await
        .unwrap();
    assert_eq!(
        out.stdout, "600\nfrom a foldernestedscript-ran\n",
        "{out:?}"
    );
    assert!(c.logs().await.unwrap().stdout.starts_with("key = 1"));
}

#[tokio::test]
async fn bind_tmpfs_and_anonymous_volume_mounts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.txt"), "from host").unwrap();
    let c = sleeper()
        .bind(dir.path(), "/host")
        .bind_read_only(dir.path(), "/host-ro")
        .tmpfs("/scratch", Some(1024 * 1024))
        .anonymous_volume("/data")
        .start()
        .await
        .unwrap();
    let out = c.exec(["cat", "/host/host.txt"]).await.unwrap();
    assert_eq!(out.stdout, "from host");
    c.exec_ok(["sh", "-c", "echo back > /host/written.txt"])
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("written.txt")).unwrap(),
        "back\n"
    );
    let ro = c
        .exec(["sh", "-c", "echo x > /host-ro/nope"])
        .await
        .unwrap();
    assert_ne!(ro.exit_code, 0, "read-only bind was writable");
    let mounts = c.exec(["cat", "/proc/mounts"]).await.unwrap().stdout;
    assert!(
        mounts.lines().any(|l| l.contains(" /scratch tmpfs")),
        "{mounts}"
    );
    c.exec_ok(["sh", "-c", "echo v > /data/v"]).await.unwrap();
}

#[tokio::test]
async fn limits_privileges_and_shm() {
    let c = sleeper()
        .memory_limit(32 * 1024 * 1024)
        .cpu_limit(0.5)
        .shm_size(8 * 1024 * 1024)
        .cap_add("NET_ADMIN")
        .cap_drop("CHOWN")
        .start()
        .await
        .unwrap();
    let hc = c.inspect().await.unwrap().host_config.unwrap();
    assert_eq!(hc.memory, Some(32 * 1024 * 1024));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert_eq!(hc.shm_size, Some(8 * 1024 * 1024));
    assert_eq!(hc.cap_add, Some(vec!["NET_ADMIN".to_string()]));
    let chown = c.exec(["chown", "1:1", "/tmp"]).await.unwrap();
    assert_ne!(chown.exit_code, 0, "CHOWN was dropped: {chown:?}");
    let df = c.exec(["df", "-k", "/dev/shm"]).await.unwrap().stdout;
    assert!(df.contains("8192"), "{df}");

    // Some sandboxed engines cannot grant every capability; there the engine's
    // refusal proves the flag reached it.
    match sleeper().privileged().start().await {
        Ok(p) => assert_eq!(
            p.inspect().await.unwrap().host_config.unwrap().privileged,
            Some(true)
        ),
        Err(e) => assert!(e.to_string().contains("caps"), "{e}"),
    }
}

#[tokio::test]
async fn customize_reaches_the_create_request() {
    let c = sleeper()
        .customize(|body| body.stop_signal = Some("SIGUSR1".into()))
        .start()
        .await
        .unwrap();
    let cfg = c.inspect().await.unwrap().config.unwrap();
    assert_eq!(cfg.stop_signal.as_deref(), Some("SIGUSR1"));
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_created() {
    let tag = format!("bad-input-{}", std::process::id());
    let cases: Vec<(ContainerSpec, &str)> = vec![
        (ContainerSpec::new(""), "image name is empty"),
        (sleeper().label("dockhand.session", "x"), "reserved"),
        (sleeper().bind("/no/such/dir/here", "/x"), "does not exist"),
        (sleeper().tmpfs("relative", None), "absolute"),
        (sleeper().copy_bytes("relative.txt", "x", 0o644), "absolute"),
        (sleeper().copy_path("/no/such/file", "/x"), "no such file"),
        (sleeper().name_prefix("bad name"), "name prefix"),
        (sleeper().env("A=B", "x"), "contains `=`"),
        (
            sleeper().volume("dockhand-no-such-volume", "/v"),
            "docker volume create",
        ),
    ];
    for (spec, needle) in cases {
        let err = spec.label("case", &tag).start().await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(
            err.to_string().contains(needle),
            "`{err}` should mention `{needle}`"
        );
    }
    let created = common::containers_with_labels(&[("case", &tag)]);
    assert!(
        created.is_empty(),
        "bad specs created containers: {created:?}"
    );
}

#[tokio::test]
async fn missing_image_is_a_clear_error() {
    let err = ContainerSpec::new("127.0.0.1:9/dockhand/no-such-image:1")
        .start()
        .await
        .unwrap_err();
    let msg = err.to_string();
    // Nothing listens on port 9: the error says the registry is unreachable
    // (tests/image.rs covers an image missing from a registry that answers).
    assert!(matches!(err, Error::RegistryUnreachable { .. }), "{err:?}");
    assert!(
        msg.contains("no-such-image") && msg.contains("127.0.0.1:9"),
        "{msg}"
    );
}
