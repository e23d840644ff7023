//! Reusing a running container across runs (DOCKHAND_REUSE=1). Each run is a
//! child process of this binary, as separate `cargo test` runs would be.
mod common;

use std::process::Command;

/// The child: starts a reusable web container and prints its id.
#[test]
#[ignore = "child: run by reuse_adopts_across_processes"]
fn child_starts_reusable() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tag = std::env::var("REUSE_TAG").unwrap();
        let c = common::web()
            .env("TAG", tag)
            .reuse(true)
            .start()
            .await
            .unwrap();
        assert!(c.addr(8080).is_ok());
        println!("ID={}", c.id());
    });
}

fn run(tag: &str, reuse: bool) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_starts_reusable",
            "--nocapture",
        ])
        .env("REUSE_TAG", tag)
        .env("DOCKHAND_REUSE", if reuse { "1" } else { "0" })
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("ID="))
        .unwrap()
        .to_string()
}

#[test]
fn reuse_adopts_across_processes() {
    let tag = format!("reuse{}", std::process::id());
    let first = run(&tag, true);
    // The first process has exited; its reusable container survived it.
    assert!(common::container_exists(&first));
    let second = run(&tag, true);
    assert_eq!(
        first, second,
        "an identical spec must reuse the running container"
    );
    // A different spec gets its own container.
    let other = run(&format!("{tag}-other"), true);
    assert_ne!(other, first);
    // Without DOCKHAND_REUSE=1, `.reuse(true)` does nothing: a fresh container, removed.
    let plain = run(&tag, false);
    assert_ne!(plain, first);
    assert!(!common::container_exists(&plain));

    let reused = common::containers_with_labels(&[("dockhand.reuse", "true")]);
    assert!(reused.contains(&first) && reused.contains(&other));
    let out = Command::new(env!("CARGO_BIN_EXE_dockhand"))
        .args(["ls"])
        .output()
        .unwrap();
    let ls = String::from_utf8_lossy(&out.stdout);
    assert!(
        ls.lines()
            .any(|l| l.starts_with("reused") && l.contains(&first[..12])),
        "{ls}"
    );
    common::force_remove(&first);
    common::force_remove(&other);
}
