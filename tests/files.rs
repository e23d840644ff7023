//! Copying files into and out of a running container.
mod common;

use common::sleeper;

#[tokio::test]
async fn copy_in_read_back_and_copy_out() {
    let c = sleeper().start().await.unwrap();
    c.copy_bytes_in("/work/hello.txt", "hello\n", 0o640)
        .await
        .unwrap();
    assert_eq!(c.read_file("/work/hello.txt").await.unwrap(), b"hello\n");
    let mode = c
        .exec(["stat", "-c", "%a", "/work/hello.txt"])
        .await
        .unwrap()
        .stdout;
    assert_eq!(mode, "640\n");

    c.exec_ok([
        "sh",
        "-c",
        "mkdir -p /out/sub && echo a > /out/a && echo b > /out/sub/b",
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    c.copy_out("/out", dir.path().join("copied")).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copied/a")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copied/sub/b")).unwrap(),
        "b\n"
    );

    c.copy_out("/work/hello.txt", dir.path().join("single.txt"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("single.txt")).unwrap(),
        "hello\n"
    );

    let host_file = dir.path().join("up.txt");
    std::fs::write(&host_file, "uploaded").unwrap();
    c.copy_path_in(&host_file, "/in/up.txt").await.unwrap();
    assert_eq!(c.read_file("/in/up.txt").await.unwrap(), b"uploaded");
}

#[tokio::test]
async fn missing_path_is_a_clear_error() {
    let c = sleeper().start().await.unwrap();
    let err = c.read_file("/no/such/file").await.unwrap_err().to_string();
    assert!(
        err.contains("/no/such/file") && err.contains("no such file"),
        "{err}"
    );
    let err = c.read_file("/etc").await.unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
}
