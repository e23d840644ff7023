//! `#[dockhand::test]` against the real engine. Tests whose point is to fail
//! are `#[ignore]`d children: the parent runs this binary again for one of
//! them, with a session id of its own, and checks its output and what it
//! left in the engine.
mod common;

use common::{containers_with_labels, image, sleeper, web};
use dockhand::{Container, ContainerSpec, Fixture, SetupError, TestContext};

fn labels_of(c: &Container) -> std::collections::HashMap<String, String> {
    let id = c.id().to_string();
    common::engine_call(move |d| async move {
        d.inspect_container(
            &id,
            None::<dockhand::bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap()
        .config
        .unwrap()
        .labels
        .unwrap()
    })
}

#[dockhand::test]
async fn async_test_gets_a_started_container(#[spec(web())] web: Container) {
    assert!(web.addr(8080).unwrap().ip().is_loopback());
    assert!(
        web.name()
            .starts_with("async_test_gets_a_started_container-web-"),
        "{}",
        web.name()
    );
    let labels = labels_of(&web);
    assert_eq!(
        labels.get("dockhand.test").map(String::as_str),
        Some("test_attribute::async_test_gets_a_started_container")
    );
    assert!(!labels.contains_key("dockhand.keep"));
    assert_eq!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
}

#[dockhand::test]
fn sync_test_gets_a_started_container(#[spec(sleeper())] box1: Container) {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "sync tests run without a runtime"
    );
    assert_eq!(
        box1.blocking().exec(["echo", "sync"]).unwrap().stdout,
        "sync\n"
    );
}

#[dockhand::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_flavor(#[spec(sleeper())] c: Container) {
    assert_eq!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::MultiThread
    );
    assert!(c.exec(["true"]).await.unwrap().success());
}

#[dockhand::test]
async fn three_parameters(
    #[spec(web())] a: Container,
    #[spec(sleeper())] b: Container,
    #[spec(ContainerSpec::new(image()).cmd(["sleep", "600"]).env("WHO", "c"))] c: Container,
) {
    let ids = [a.id(), b.id(), c.id()];
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    assert_eq!(
        c.exec(["sh", "-c", "echo $WHO"]).await.unwrap().stdout,
        "c\n"
    );
    assert!(b.name().contains("-b-"), "{}", b.name());
}

/// A fixture of the user's own: a web server and its URL.
struct Web {
    container: Container,
    url: String,
    test: String,
}

impl Fixture for Web {
    async fn setup(ctx: &TestContext) -> Result<Self, SetupError> {
        let container = ctx.start(web()).await?;
        let url = format!("http://{}/", container.addr(8080)?);
        Ok(Web {
            container,
            url,
            test: ctx.test_path().to_string(),
        })
    }
}

#[dockhand::test]
async fn fixture_parameters_are_set_up(site: Web, #[spec(sleeper())] other: Container) {
    assert!(site.url.starts_with("http://127.0.0.1:"));
    assert_eq!(site.test, "test_attribute::fixture_parameters_are_set_up");
    assert!(site
        .container
        .name()
        .starts_with("fixture_parameters_are_set_up-site-"));
    assert!(other.exec(["true"]).await.unwrap().success());
}

#[dockhand::test]
async fn result_ok_passes(#[spec(sleeper())] c: Container) -> Result<(), dockhand::Error> {
    c.exec_ok(["true"]).await?;
    Ok(())
}

#[dockhand::test]
#[should_panic(expected = "expected failure")]
async fn should_panic_passes_through(#[spec(sleeper())] _c: Container) {
    panic!("expected failure");
}

#[dockhand::test]
async fn no_parameters() {
    let c = sleeper().start().await.unwrap();
    assert!(c.name().starts_with("no_parameters-"), "{}", c.name());
}

// ---- children: run only by the parent tests below ----

fn chatty(word: &str) -> ContainerSpec {
    ContainerSpec::new(image()).cmd([
        "sh",
        "-c",
        &format!("echo said-{word}; echo warned-{word} >&2; sleep 600"),
    ])
}

async fn until_logged(c: &Container, word: &str) {
    for _ in 0..200 {
        if c.logs().await.unwrap().stdout.contains(word) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[dockhand::test]
#[ignore = "child: run by panicking_test_shows_logs_and_removes"]
async fn child_panics(#[spec(chatty("alpha"))] c: Container, #[spec(chatty("beta"))] d: Container) {
    until_logged(&c, "alpha").await;
    until_logged(&d, "beta").await;
    let _body = sleeper().start().await.unwrap();
    panic!("the child fails on purpose");
}

#[dockhand::test]
#[ignore = "child: run by err_test_shows_logs_and_removes"]
async fn child_returns_err(#[spec(chatty("gamma"))] c: Container) -> Result<(), String> {
    until_logged(&c, "gamma").await;
    Err("returned an error on purpose".into())
}

#[dockhand::test]
#[ignore = "child: run by failing_parameter_removes_the_others"]
async fn child_bad_parameter(
    #[spec(sleeper())] good: Container,
    #[spec(ContainerSpec::new(image()).cmd(["/no/such/binary"]))] bad: Container,
    #[spec(sleeper())] fine: Container,
) {
    let _ = (good, bad, fine);
}

#[dockhand::test(keep = "on-failure")]
#[ignore = "child: run by keep_on_failure_keeps_failed_and_removes_passed"]
async fn child_keep_on_failure_fails(#[spec(web())] c: Container) {
    let _ = c;
    panic!("fail so the container is kept");
}

#[dockhand::test(keep = "on-failure")]
#[ignore = "child: run by keep_on_failure_keeps_failed_and_removes_passed"]
async fn child_keep_on_failure_passes(#[spec(web())] c: Container) {
    let _ = c;
}

#[dockhand::test(keep = "always")]
#[ignore = "child: run by keep_always_keeps_a_passing_test"]
fn child_keep_always(#[spec(sleeper())] c: Container) {
    let _ = c;
}

#[dockhand::test]
#[ignore = "child: run by keep_from_env"]
async fn child_keep_from_env(#[spec(sleeper())] c: Container) {
    let _ = c;
    panic!("fail under DOCKHAND_KEEP=on-failure");
}

#[dockhand::test(timeout = "2s")]
#[ignore = "child: run by timeout_fails_and_removes"]
async fn child_times_out(#[spec(sleeper())] c: Container) {
    let _ = c;
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
}

#[dockhand::test(skip_without_engine)]
#[ignore = "child: run by skip_without_engine_passes_with_a_notice"]
async fn child_skips_without_engine(#[spec(sleeper())] c: Container) {
    let _ = c;
}

#[dockhand::test]
#[ignore = "child: run by no_engine_fails_with_the_engine_error"]
async fn child_needs_engine(#[spec(sleeper())] c: Container) {
    let _ = c;
}

// ---- parents ----

struct Child {
    passed: bool,
    output: String,
    session: String,
}

fn run_child(name: &str, env: &[(&str, &str)]) -> Child {
    let session = format!("child{}x{}", std::process::id(), rand_suffix());
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", name, "--test-threads=1"])
        .env("DOCKHAND_SESSION", &session)
        .env_remove("DOCKHAND_KEEP")
        .env_remove("DOCKHAND_SKIP_WITHOUT_ENGINE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let output = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        output.contains("running 1 test"),
        "child `{name}` did not run:\n{output}"
    );
    Child {
        passed: out.status.success(),
        output,
        session,
    }
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .elapsed()
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7),
    );
    h.finish() as u32
}

fn left_by(session: &str) -> Vec<String> {
    containers_with_labels(&[("dockhand.session", session)])
}

fn remove_all(ids: &[String]) {
    ids.iter().for_each(|id| common::force_remove(id));
}

#[test]
fn panicking_test_shows_logs_and_removes() {
    let child = run_child("child_panics", &[]);
    assert!(!child.passed);
    let out = &child.output;
    assert!(out.contains("the child fails on purpose"), "{out}");
    assert!(
        out.contains("--- dockhand: last 50 log lines of container `child_panics-c-"),
        "{out}"
    );
    assert!(
        out.contains("out| said-alpha") && out.contains("err| warned-alpha"),
        "{out}"
    );
    assert!(out.contains("out| said-beta"), "{out}");
    assert!(
        left_by(&child.session).is_empty(),
        "containers left behind:\n{out}"
    );
}

#[test]
fn err_test_shows_logs_and_removes() {
    let child = run_child("child_returns_err", &[]);
    assert!(!child.passed);
    assert!(
        child.output.contains("returned an error on purpose"),
        "{}",
        child.output
    );
    assert!(child.output.contains("out| said-gamma"), "{}", child.output);
    assert!(left_by(&child.session).is_empty());
}

#[test]
fn failing_parameter_removes_the_others() {
    let child = run_child("child_bad_parameter", &[]);
    assert!(!child.passed);
    let out = &child.output;
    assert!(out.contains("setting up parameter `bad` failed"), "{out}");
    assert!(out.contains("/no/such/binary"), "{out}");
    // Concurrently started siblings are removed too (possibly just after the
    // child exits, by the engine finishing a cancelled start).
    let mut left = left_by(&child.session);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = left_by(&child.session);
    }
    assert!(left.is_empty(), "left: {left:?}\n{out}");
}

#[test]
fn keep_on_failure_keeps_failed_and_removes_passed() {
    let failed = run_child("child_keep_on_failure_fails", &[]);
    assert!(!failed.passed);
    let kept = containers_with_labels(&[
        ("dockhand.session", &failed.session),
        ("dockhand.keep", "true"),
    ]);
    let all = left_by(&failed.session);
    remove_all(&all);
    assert_eq!(kept.len(), 1, "{}", failed.output);
    assert_eq!(all, kept);
    let out = &failed.output;
    assert!(
        out.contains("dockhand: kept container `child_keep_on_failure_fails-c-"),
        "{out}"
    );
    assert!(
        out.contains(&format!("docker exec -it {} sh", &kept[0][..12])),
        "{out}"
    );
    assert!(
        out.contains(&format!("docker logs -f {}", &kept[0][..12])),
        "{out}"
    );
    assert!(
        out.contains("127.0.0.1:") && out.contains("-> 8080/tcp"),
        "{out}"
    );
    assert!(out.contains("docker rm -f -v"), "{out}");

    let passed = run_child("child_keep_on_failure_passes", &[]);
    assert!(passed.passed, "{}", passed.output);
    let left = left_by(&passed.session);
    remove_all(&left);
    assert!(left.is_empty());
}

#[test]
fn keep_always_keeps_a_passing_test() {
    let child = run_child("child_keep_always", &[]);
    assert!(child.passed, "{}", child.output);
    let kept = containers_with_labels(&[
        ("dockhand.session", &child.session),
        ("dockhand.keep", "true"),
    ]);
    let all = left_by(&child.session);
    remove_all(&all);
    assert_eq!(kept.len(), 1);
    assert!(
        child
            .output
            .contains("dockhand: kept container `child_keep_always-c-"),
        "{}",
        child.output
    );
}

#[test]
fn keep_from_env() {
    let child = run_child("child_keep_from_env", &[("DOCKHAND_KEEP", "on-failure")]);
    assert!(!child.passed);
    let kept = containers_with_labels(&[
        ("dockhand.session", &child.session),
        ("dockhand.keep", "true"),
    ]);
    let all = left_by(&child.session);
    remove_all(&all);
    assert_eq!(kept.len(), 1, "{}", child.output);

    let bad = run_child("child_keep_from_env", &[("DOCKHAND_KEEP", "sometimes")]);
    assert!(!bad.passed);
    assert!(
        bad.output.contains("keep policy `sometimes`"),
        "{}",
        bad.output
    );
    let left = left_by(&bad.session);
    remove_all(&left);
    assert!(left.is_empty());
}

#[test]
fn timeout_fails_and_removes() {
    let child = run_child("child_times_out", &[]);
    assert!(!child.passed);
    assert!(
        child.output.contains("timed out after 2s"),
        "{}",
        child.output
    );
    assert!(left_by(&child.session).is_empty());
}

#[test]
fn skip_without_engine_passes_with_a_notice() {
    let child = run_child(
        "child_skips_without_engine",
        &[("DOCKER_HOST", "unix:///nonexistent/dockhand.sock")],
    );
    assert!(child.passed, "{}", child.output);
    assert!(
        child
            .output
            .contains("SKIPPED `test_attribute::child_skips_without_engine`: no Docker engine"),
        "{}",
        child.output
    );
    let by_env = run_child(
        "child_needs_engine",
        &[
            ("DOCKER_HOST", "unix:///nonexistent/dockhand.sock"),
            ("DOCKHAND_SKIP_WITHOUT_ENGINE", "1"),
        ],
    );
    assert!(by_env.passed, "{}", by_env.output);
    assert!(by_env.output.contains("SKIPPED"), "{}", by_env.output);
}

#[test]
fn no_engine_fails_with_the_engine_error() {
    let child = run_child(
        "child_needs_engine",
        &[("DOCKER_HOST", "unix:///nonexistent/dockhand.sock")],
    );
    assert!(!child.passed);
    assert!(
        child.output.contains("no Docker engine answered"),
        "{}",
        child.output
    );
    assert!(
        child.output.contains("unix:///nonexistent/dockhand.sock"),
        "{}",
        child.output
    );
}
