//! Container output: snapshot, tail and follow.
mod common;

use common::image;
use dockhand::{ContainerSpec, Source};
use futures::StreamExt;
use std::time::Duration;

#[tokio::test]
async fn snapshot_splits_stdout_and_stderr() {
    let c = ContainerSpec::new(image())
        .cmd(["sh", "-c", "echo to-out; echo to-err >&2; sleep 600"])
        .start()
        .await
        .unwrap();
    let mut logs = c.logs().await.unwrap();
    for _ in 0..100 {
        if logs.stderr.contains("to-err") && logs.stdout.contains("to-out") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        logs = c.logs().await.unwrap();
    }
    assert_eq!(logs.stdout, "to-out\n");
    assert_eq!(logs.stderr, "to-err\n");
}

#[tokio::test]
async fn follow_streams_lines_as_written_and_joins_split_writes() {
    let c = ContainerSpec::new(image())
        .cmd([
            "sh",
            "-c",
            "echo first; printf 'sp'; sleep 0.3; printf 'lit\\n'; echo oops >&2; sleep 0.3; echo last",
        ])
        .start()
        .await
        .unwrap();
    let lines: Vec<_> =
        tokio::time::timeout(Duration::from_secs(20), c.follow_logs().collect::<Vec<_>>())
            .await
            .expect("the follow stream ends when the container exits");
    let lines: Vec<_> = lines.into_iter().map(Result::unwrap).collect();
    let out: Vec<&str> = lines
        .iter()
        .filter(|l| l.source == Source::Stdout)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(out, ["first", "split", "last"]);
    assert!(lines
        .iter()
        .any(|l| l.source == Source::Stderr && l.text == "oops"));
}

#[tokio::test]
async fn tail_gives_the_last_lines() {
    let c = ContainerSpec::new(image())
        .cmd(["sh", "-c", "for i in 1 2 3 4 5 6; do echo n$i; done"])
        .start()
        .await
        .unwrap();
    assert_eq!(c.wait().await.unwrap(), 0);
    let tail: Vec<String> = c
        .tail(2)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert_eq!(tail, ["n5", "n6"]);
}

#[tokio::test]
async fn dropping_a_follow_stream_stops_following() {
    let c = ContainerSpec::new(image())
        .cmd(["sh", "-c", "while true; do echo tick; sleep 0.05; done"])
        .start()
        .await
        .unwrap();
    let mut s = c.follow_logs();
    let first = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.text, "tick");
    drop(s);
    // The handle still works and removes the container afterwards.
    assert!(c.logs().await.unwrap().stdout.contains("tick"));
}
