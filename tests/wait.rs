//! Readiness probes: `start()` returns once the service is ready, or fails
//! at once with a diagnosis, and a failed start leaves no container behind.
mod common;

use std::time::{Duration, Instant};

use dockhand::bollard::models::HealthConfig;
use dockhand::{ContainerSpec, Error, Source, WaitFor};

use common::image;

/// A busybox container running `script` with `sh -c`, named with a prefix
/// unique to the test so the engine can be asked what is left of it.
fn sh(prefix: &str, script: &str) -> ContainerSpec {
    ContainerSpec::new(image())
        .cmd(["sh", "-c", script])
        .name_prefix(format!("{prefix}-{}", std::process::id()))
}

/// How many containers made with `sh(prefix, ..)` exist, asked of the engine.
fn left_behind(prefix: &str) -> usize {
    common::containers_named(&format!("{prefix}-{}-", std::process::id()))
}

/// Starts a spec made with `sh(prefix, ..)` that must fail; checks that the
/// engine holds nothing of it once `start()` returned.
async fn start_fails(prefix: &str, spec: ContainerSpec) -> (Error, String) {
    let err = spec.start().await.expect_err("start() should have failed");
    let msg = err.to_string();
    assert_eq!(
        left_behind(prefix),
        0,
        "the failed start left its container:\n{msg}"
    );
    (err, msg)
}

fn assert_says(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "expected {part:?} in:\n{msg}");
    }
}

/// Awaits `fut`; returns its output and how long it took.
async fn timed<T>(fut: impl std::future::Future<Output = T>) -> (T, Duration) {
    let t = Instant::now();
    let out = fut.await;
    (out, t.elapsed())
}

fn health(test: &[&str], interval_ms: i64, retries: i64) -> HealthConfig {
    HealthConfig {
        test: Some(test.iter().map(|s| s.to_string()).collect()),
        interval: Some(interval_ms * 1_000_000),
        timeout: Some(2_000_000_000),
        retries: Some(retries),
        ..Default::default()
    }
}

const READY_IN: Duration = Duration::from_millis(500);
/// Failures that must come "at once" come well before this.
const AT_ONCE: Duration = Duration::from_secs(10);

// ---- log ----

#[tokio::test]
async fn log_line_split_across_writes_matches() {
    let spec = sh(
        "log-split",
        "sleep 0.3; printf 'rea'; sleep 0.3; printf 'dy\\n'; sleep 600",
    )
    .wait_for(WaitFor::log("ready"));
    let (c, took) = timed(spec.start()).await;
    assert!(
        took >= Duration::from_millis(600),
        "returned before the line was complete"
    );
    assert_eq!(c.unwrap().logs().await.unwrap().stdout, "ready\n");
}

#[tokio::test]
async fn log_regex_waits_for_n_occurrences() {
    let spec = sh(
        "log-n",
        "echo 'ready 1'; sleep 0.5; echo 'ready 2'; sleep 600",
    )
    .wait_for(WaitFor::log_regex(r"^ready \d$").times(2));
    let (c, took) = timed(spec.start()).await;
    assert!(took >= READY_IN, "returned after the first line");
    assert!(c.unwrap().logs().await.unwrap().stdout.contains("ready 2"));
}

#[tokio::test]
async fn log_pattern_seen_too_few_times_says_how_many() {
    let spec = sh("log-few", "echo 'ready 1'; echo 'ready 2'; sleep 600")
        .wait_for(WaitFor::log_regex(r"ready \d").times(3))
        .startup_timeout(Duration::from_millis(1500));
    let (err, msg) = start_fails("log-few", spec).await;
    match &err {
        Error::NotReady {
            last_seen, which, ..
        } => {
            assert_says(last_seen, &["seen 2 of 3 times"]);
            assert_eq!(*which, "startup timeout");
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    assert_says(
        &msg,
        &[
            "log line matching /ready \\d/ (3 times)",
            "out| ready 2",
            "container state: running",
        ],
    );
}

#[tokio::test]
async fn log_probe_can_look_at_stderr_only() {
    let spec = sh(
        "log-stderr",
        "echo ready; sleep 0.5; echo ready >&2; sleep 600",
    )
    .wait_for(WaitFor::log("ready").on(Source::Stderr));
    let (c, took) = timed(spec.start()).await;
    c.unwrap();
    assert!(took >= READY_IN, "matched the stdout line");
}

#[tokio::test]
async fn invalid_regex_fails_before_anything_is_created() {
    let spec = sh("log-bad-re", "sleep 600").wait_for(WaitFor::log_regex("ready ("));
    let (err, msg) = start_fails("log-bad-re", spec).await;
    assert!(matches!(err, Error::InvalidInput { .. }), "{msg}");
    assert_says(&msg, &["does not compile"]);
}

// ---- early exit ----

#[tokio::test]
async fn container_exiting_early_fails_at_once_with_code_and_logs() {
    let spec = sh(
        "exits",
        "echo booting; echo 'fatal: no config file' >&2; sleep 0.2; exit 3",
    )
    .expose(8080)
    .wait_for(WaitFor::port(8080))
    .wait_for(WaitFor::log("never printed"));
    let ((err, msg), took) = timed(start_fails("exits", spec)).await;
    assert!(took < AT_ONCE, "waited {took:?}");
    let Error::ContainerExited { diagnosis } = &err else {
        panic!("expected ContainerExited, got {err:?}");
    };
    assert_eq!(diagnosis.exit_code, Some(3), "{msg}");
    assert!(diagnosis
        .logs
        .iter()
        .any(|l| l.text == "fatal: no config file" && l.source == Source::Stderr));
    assert_says(
        &msg,
        &[
            "exited with code 3",
            "out| booting",
            "err| fatal: no config file",
        ],
    );
}

#[tokio::test]
async fn kept_container_survives_a_failed_start() {
    let err = sh("kept", "exit 4")
        .wait_for(WaitFor::log("never"))
        .keep(true)
        .start()
        .await
        .unwrap_err();
    let name = err
        .diagnosis()
        .expect("a readiness failure")
        .container
        .clone();
    assert_eq!(
        left_behind("kept"),
        1,
        "keep(true) must keep it for debugging"
    );
    common::engine_call(move |docker| async move {
        let opts = dockhand::bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .build();
        docker.remove_container(&name, Some(opts)).await.unwrap();
    });
}

// ---- port ----

#[tokio::test]
async fn port_probe_waits_for_the_service_not_the_proxy() {
    let spec = sh("port-ok", "sleep 0.5; exec httpd -f -p 8080 -h /")
        .expose(8080)
        .wait_for(WaitFor::port(8080));
    let (c, took) = timed(spec.start()).await;
    let c = c.unwrap();
    assert!(took >= READY_IN);
    // The service itself answers: a request gets an HTTP answer, not a dropped connection.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(c.addr(8080).unwrap())
        .await
        .unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1."), "{answer:?}");
}

#[tokio::test]
async fn port_probe_on_a_container_that_exits_at_once_fails() {
    let spec = sh("port-exit", "exit 7")
        .expose(8080)
        .wait_for(WaitFor::port(8080));
    let (err, msg) = start_fails("port-exit", spec).await;
    assert!(matches!(err, Error::ContainerExited { .. }), "{msg}");
    assert_eq!(err.diagnosis().unwrap().exit_code, Some(7), "{msg}");
}

#[tokio::test]
async fn port_never_opening_times_out_naming_probe_and_port() {
    let spec = sh("port-never", "echo 'listening soon'; sleep 600")
        .expose(8080)
        .wait_for(WaitFor::port(8080))
        .startup_timeout(Duration::from_secs(1));
    let ((err, msg), took) = timed(start_fails("port-never", spec)).await;
    assert!(took >= Duration::from_secs(1) && took < AT_ONCE, "{took:?}");
    assert!(matches!(err, Error::NotReady { .. }), "{msg}");
    assert_says(
        &msg,
        &[
            "port 8080/tcp did not pass within the startup timeout of 1s",
            // Refused, or accepted by the engine's port proxy and dropped.
            "last seen: ",
            "127.0.0.1:",
            "8080/tcp",
            "out| listening soon",
        ],
    );
}

#[tokio::test]
async fn port_probe_needs_a_published_port() {
    let spec = sh("port-unpublished", "sleep 600").wait_for(WaitFor::port(9000));
    let (_, msg) = start_fails("port-unpublished", spec).await;
    assert_says(&msg, &[".expose(9000)"]);
}

#[tokio::test]
async fn port_probe_works_in_an_image_without_shell_or_cat() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {} AS bb\nFROM scratch\nCOPY --from=bb /bin/busybox /busybox\nENTRYPOINT [\"/busybox\"]\n",
            image()
        ),
    )
    .unwrap();
    let bare = dockhand::ImageBuild::from_dir(dir.path())
        .name("dockhand-test/bare")
        .build()
        .await
        .unwrap();
    let c = ContainerSpec::new(bare)
        .cmd(["httpd", "-f", "-p", "8080", "-h", "/"])
        .expose(8080)
        .wait_for(WaitFor::port(8080))
        .startup_timeout(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    let no_cat = c.exec(["cat", "/proc/net/tcp"]).await.unwrap();
    assert_ne!(no_cat.exit_code, 0, "the image was meant to have no cat");
    assert!(tokio::net::TcpStream::connect(c.addr(8080).unwrap())
        .await
        .is_ok());
}

// ---- http ----

/// A CGI script answering 500 for its first three calls, then 200 "ok".
const FLAKY_CGI: &str = "#!/bin/sh\n\
n=$(cat /www/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /www/count\n\
if [ $n -lt 4 ]; then printf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nnot yet %s\\n' $n;\n\
else printf 'Content-Type: text/plain\\r\\n\\r\\nok %s\\n' $n; fi\n";

fn flaky_web(prefix: &str) -> ContainerSpec {
    sh(prefix, "exec httpd -f -p 8080 -h /www")
        .copy_bytes("/www/cgi-bin/health", FLAKY_CGI, 0o755)
        .copy_bytes("/www/index.html", "hello\n", 0o644)
        .expose(8080)
}

#[tokio::test]
async fn http_probe_waits_through_500_to_200() {
    let c = flaky_web("http-500-200")
        .wait_for(
            WaitFor::http(8080, "/cgi-bin/health")
                .status(200)
                .body_contains("ok"),
        )
        .start()
        .await
        .unwrap();
    let count = c.read_file("/www/count").await.unwrap();
    let count: u32 = String::from_utf8_lossy(&count).trim().parse().unwrap();
    assert!(
        count >= 4,
        "the probe passed after {count} requests, before the 200"
    );
}

#[tokio::test]
async fn http_probe_that_never_passes_says_what_it_got() {
    let spec = flaky_web("http-never")
        .wait_for(WaitFor::http(8080, "/index.html").body_contains("goodbye"))
        .startup_timeout(Duration::from_secs(1));
    let (err, msg) = start_fails("http-never", spec).await;
    let Error::NotReady { last_seen, .. } = &err else {
        panic!("expected NotReady, got {err:?}");
    };
    assert_says(
        last_seen,
        &["HTTP 200; the body did not match; body: \"hello\\n\""],
    );
    assert_says(&msg, &["HTTP GET /index.html on port 8080/tcp"]);
}

#[tokio::test]
async fn http_probe_status_predicate_and_method() {
    flaky_web("http-pred")
        .wait_for(
            WaitFor::http(8080, "/missing")
                .method("HEAD")
                .status_matches(|s| s == 404),
        )
        .start()
        .await
        .unwrap();
}

// ---- healthcheck ----

#[tokio::test]
async fn healthcheck_turning_healthy_passes() {
    let spec = sh("healthy", "sleep 0.5; touch /ready; sleep 600")
        .healthcheck(health(&["CMD", "test", "-e", "/ready"], 100, 50))
        .wait_for(WaitFor::healthy());
    let (c, took) = timed(spec.start()).await;
    assert!(took >= READY_IN);
    let status = c
        .unwrap()
        .inspect()
        .await
        .unwrap()
        .state
        .unwrap()
        .health
        .unwrap()
        .status;
    assert_eq!(
        status,
        Some(dockhand::bollard::models::HealthStatusEnum::HEALTHY)
    );
}

#[tokio::test]
async fn healthcheck_turning_unhealthy_fails_at_once() {
    let spec = sh(
        "unhealthy",
        "echo 'cannot reach the database' >&2; sleep 600",
    )
    .healthcheck(health(&["CMD-SHELL", "echo db down; exit 1"], 100, 2))
    .wait_for(WaitFor::healthy());
    let ((err, msg), took) = timed(start_fails("unhealthy", spec)).await;
    assert!(took < AT_ONCE, "waited {took:?}");
    assert!(matches!(err, Error::ProbeFailed { .. }), "{msg}");
    assert_says(
        &msg,
        &["unhealthy", "db down", "err| cannot reach the database"],
    );
}

#[tokio::test]
async fn healthy_probe_without_healthcheck_fails_at_once() {
    let spec = sh("no-health", "sleep 600").wait_for(WaitFor::healthy());
    let (_, msg) = start_fails("no-health", spec).await;
    assert_says(&msg, &["has no healthcheck"]);
}

// ---- exec ----

#[tokio::test]
async fn exec_probe_waits_for_exit_zero() {
    let spec = sh("exec-ok", "sleep 0.5; touch /ready; sleep 600")
        .wait_for(WaitFor::exec(["test", "-e", "/ready"]));
    let (c, took) = timed(spec.start()).await;
    assert!(took >= READY_IN);
    assert!(c
        .unwrap()
        .exec(["test", "-e", "/ready"])
        .await
        .unwrap()
        .success());
}

#[tokio::test]
async fn exec_probe_reports_its_last_exit() {
    let spec = sh("exec-never", "sleep 600")
        .wait_for(WaitFor::exec([
            "sh",
            "-c",
            "echo 'no socket yet' >&2; exit 2",
        ]))
        .startup_timeout(Duration::from_secs(1));
    let (err, _) = start_fails("exec-never", spec).await;
    let Error::NotReady { last_seen, .. } = &err else {
        panic!("expected NotReady, got {err:?}");
    };
    assert_says(last_seen, &["exit code 2", "no socket yet"]);
}

#[tokio::test]
async fn exec_probe_with_missing_binary_fails_at_once() {
    let spec = sh("exec-missing", "sleep 600").wait_for(WaitFor::exec(["pg_isready"]));
    let ((err, msg), took) = timed(start_fails("exec-missing", spec)).await;
    assert!(took < AT_ONCE, "waited {took:?}");
    assert!(matches!(err, Error::ProbeFailed { .. }), "{msg}");
    assert_says(&msg, &["cannot run", "pg_isready"]);
}

// ---- exit ----

#[tokio::test]
async fn exit_probe_with_expected_code_passes() {
    let c = sh("exit-ok", "echo migrated; exit 0")
        .wait_for(WaitFor::exit().code(0))
        .start()
        .await
        .unwrap();
    let state = c.inspect().await.unwrap().state.unwrap();
    assert_eq!(state.running, Some(false));
    assert_eq!(c.logs().await.unwrap().stdout, "migrated\n");
}

#[tokio::test]
async fn exit_probe_with_other_code_fails_at_once() {
    let spec =
        sh("exit-bad", "echo 'migration 7 failed' >&2; exit 2").wait_for(WaitFor::exit().code(0));
    let (err, msg) = start_fails("exit-bad", spec).await;
    assert!(matches!(err, Error::ProbeFailed { .. }), "{msg}");
    assert_eq!(err.diagnosis().unwrap().exit_code, Some(2), "{msg}");
    assert_says(
        &msg,
        &["exited with code 2, not 0", "err| migration 7 failed"],
    );
}

// ---- delay, composition, timeouts ----

#[tokio::test]
async fn delay_pauses_and_an_exit_during_it_fails() {
    let spec = sh("delay", "sleep 600").wait_for(WaitFor::delay(READY_IN));
    let (c, took) = timed(spec.start()).await;
    c.unwrap();
    assert!(took >= READY_IN);
    let spec = sh("delay-exit", "exit 5").wait_for(WaitFor::delay(Duration::from_secs(30)));
    let ((err, msg), took) = timed(start_fails("delay-exit", spec)).await;
    assert!(took < AT_ONCE, "waited {took:?}");
    assert!(matches!(err, Error::ContainerExited { .. }), "{msg}");
    assert_eq!(err.diagnosis().unwrap().exit_code, Some(5), "{msg}");
}

#[tokio::test]
async fn any_passes_when_one_passes() {
    sh("any-ok", "echo done")
        .wait_for(WaitFor::any([
            WaitFor::log("never printed").into(),
            WaitFor::exit().code(0).into(),
        ]))
        .start()
        .await
        .unwrap();
}

#[tokio::test]
async fn any_fails_listing_every_probe() {
    let spec = sh("any-fail", "sleep 600")
        .expose(8080)
        .wait_for(WaitFor::any([
            WaitFor::log("up").into(),
            WaitFor::port(8080).into(),
        ]))
        .startup_timeout(Duration::from_millis(800));
    let (err, _) = start_fails("any-fail", spec).await;
    let Error::NotReady {
        diagnosis,
        last_seen,
        ..
    } = &err
    else {
        panic!("expected NotReady, got {err:?}");
    };
    assert_eq!(
        diagnosis.probe,
        "any of [log line containing \"up\", port 8080/tcp]"
    );
    assert_says(
        last_seen,
        &[
            "log line containing \"up\": log pattern seen 0 of 1 times",
            "port 8080/tcp: ",
        ],
    );
}

#[tokio::test]
async fn all_waits_for_every_probe() {
    let spec =
        sh("all-ok", "echo first; sleep 0.5; echo second; sleep 600").wait_for(WaitFor::all([
            WaitFor::log("first").into(),
            WaitFor::log("second").into(),
        ]));
    let (c, took) = timed(spec.start()).await;
    c.unwrap();
    assert!(took >= READY_IN);
}

#[tokio::test]
async fn a_probe_timeout_is_tighter_than_the_startup_timeout() {
    let spec = sh("probe-timeout", "sleep 600")
        .wait_for(WaitFor::log("never").timeout(Duration::from_millis(300)))
        .startup_timeout(Duration::from_secs(60));
    let ((err, msg), took) = timed(start_fails("probe-timeout", spec)).await;
    assert!(took < AT_ONCE, "waited {took:?}");
    let Error::NotReady { which, timeout, .. } = err else {
        panic!("expected NotReady, got {msg}");
    };
    assert_eq!(which, "probe timeout");
    assert_eq!(timeout, Duration::from_millis(300));
}

#[tokio::test]
async fn cancelled_start_stops_waiting_and_removes_the_container() {
    let spec = sh("cancelled", "sleep 600").wait_for(WaitFor::log("never"));
    let gave_up = tokio::time::timeout(Duration::from_secs(2), spec.start()).await;
    assert!(gave_up.is_err(), "start() should still be waiting");
    assert_eq!(
        left_behind("cancelled"),
        1,
        "the container should have been started by then"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while left_behind("cancelled") > 0 {
        assert!(
            Instant::now() < deadline,
            "still there 5 s after the start was cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn blocking_start_waits_too() {
    let t = Instant::now();
    let c = sh("blocking", "sleep 0.5; echo up; sleep 600")
        .wait_for(WaitFor::log("up"))
        .start_blocking()
        .unwrap();
    assert!(t.elapsed() >= READY_IN);
    assert_eq!(c.blocking().logs().unwrap().stdout, "up\n");
}
