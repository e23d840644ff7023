//! Running commands in a container.
mod common;

use common::sleeper;
use dockhand::{Error, Exec};

#[tokio::test]
async fn exec_collects_exit_code_stdout_stderr() {
    let c = sleeper().start().await.unwrap();
    let out = c
        .exec(["sh", "-c", "echo out; echo err >&2; exit 4"])
        .await
        .unwrap();
    assert_eq!(out.exit_code, 4);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    assert!(!out.success());
    let ok = c.exec(["cat", "/etc/hostname"]).await.unwrap();
    assert!(ok.success());
    assert_eq!(
        ok.stdout.trim().len(),
        12,
        "hostname is the short id: {ok:?}"
    );
}

#[tokio::test]
async fn exec_with_env_user_workdir() {
    let c = sleeper().start().await.unwrap();
    let out = c
        .exec_with(
            Exec::new(["sh", "-c", "echo $GREETING; id -u; pwd"])
                .env("GREETING", "hi")
                .user("1000")
                .working_dir("/etc"),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, "hi\n1000\n/etc\n", "{out:?}");
}

#[tokio::test]
async fn missing_binary_is_a_nonzero_exit_with_reason_not_a_hang() {
    let c = sleeper().start().await.unwrap();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        c.exec(["/no/such/binary", "arg"]),
    )
    .await
    .expect("exec of a missing binary must not hang")
    .unwrap();
    assert!(out.exit_code == 126 || out.exit_code == 127, "{out:?}");
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("no such file") || text.contains("not found"),
        "{out:?}"
    );

    let err = c.exec_ok(["/no/such/binary"]).await.unwrap_err();
    assert!(matches!(err, Error::ExecFailed { .. }), "{err:?}");
    assert!(err.to_string().contains(c.name()), "{err}");
}

#[tokio::test]
async fn empty_command_is_refused() {
    let c = sleeper().start().await.unwrap();
    let err = c.exec(Vec::<String>::new()).await.unwrap_err();
    assert!(err.to_string().contains("command is empty"), "{err}");
}

#[tokio::test]
async fn large_output_is_complete() {
    let c = sleeper().start().await.unwrap();
    let out = c
        .exec([
            "sh",
            "-c",
            "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done",
        ])
        .await
        .unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 20000);
    assert_eq!(lines[19999], "line-19999");
}
