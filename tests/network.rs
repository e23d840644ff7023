//! Networks: containers reach each other by alias, per-test networks, faults.
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{image, sleeper};
use dockhand::bollard::query_parameters::ListNetworksOptionsBuilder;
use dockhand::{Container, ContainerSpec, Error, Network, NetworkSpec};

/// A web server answering `GET /hostname` with the file's content.
fn server() -> ContainerSpec {
    ContainerSpec::new(image())
        .cmd([
            "sh",
            "-c",
            "mkdir -p /www && echo served-by-web > /www/hostname && httpd -f -p 8080 -h /www",
        ])
        .expose(8080)
}

/// Fetches `http://<host>:<port><path>` from inside `client` (body only);
/// the exit code tells whether it worked. The static busybox's libc resolver
/// crashes on names (glibc NSS in a static binary, wget too), so the name is
/// resolved with busybox's `nslookup`, which asks the network's DNS directly —
/// the alias is still what is looked up — and `nc` speaks HTTP/1.0.
async fn fetch(client: &Container, url: &str) -> dockhand::ExecOutput {
    let rest = url.trim_start_matches("http://");
    let (host, rest) = rest.split_once(':').unwrap();
    let (port, path) = rest.split_once('/').unwrap();
    let script = format!(
        "ip=$(nslookup {host} 2>/dev/null | awk '/^Address/ {{a=$NF}} END {{print a}}'); \
         case $ip in *.*.*.*) ;; *) echo \"cannot resolve {host}\" >&2; exit 2;; esac; \
         out=$(printf 'GET /{path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $ip {port}) || exit 3; \
         case $out in 'HTTP/1.'*' 200 '*) printf '%s\\n' \"$out\" | sed '1,/^\\r$/d' ;; *) exit 4;; esac"
    );
    client.exec(["sh", "-c", &script]).await.unwrap()
}

async fn fetch_until_ok(client: &Container, url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = fetch(client, url).await;
        if out.success() || Instant::now() > deadline {
            assert!(out.success(), "fetching {url} kept failing: {out:?}");
            return out.stdout;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn networks_of_session(session: &str) -> usize {
    let session = session.to_string();
    common::engine_call(move |d| async move {
        let f = HashMap::from([(
            "label".to_string(),
            vec![format!("dockhand.session={session}")],
        )]);
        d.list_networks(Some(
            ListNetworksOptionsBuilder::default().filters(&f).build(),
        ))
        .await
        .unwrap()
        .len()
    })
}

#[tokio::test]
async fn containers_reach_each_other_by_alias_and_disconnect_cuts_them_apart() {
    let net = NetworkSpec::new().create().await.unwrap();
    let web = server().network(&net).alias("web").start().await.unwrap();
    let client = sleeper().network(&net).start().await.unwrap();
    assert_eq!(
        fetch_until_ok(&client, "http://web:8080/hostname").await,
        "served-by-web\n"
    );
    // The host side still works.
    assert!(web.addr(8080).unwrap().ip().is_loopback());
    assert_eq!(web.network_address(8080), "web:8080");

    client.disconnect(&net).await.unwrap();
    let cut = fetch(&client, "http://web:8080/hostname").await;
    assert!(!cut.success(), "fetch worked while disconnected: {cut:?}");

    client.reconnect(&net).await.unwrap();
    assert_eq!(
        fetch_until_ok(&client, "http://web:8080/hostname").await,
        "served-by-web\n"
    );
}

#[tokio::test]
async fn cut_off_for_a_duration_heals_by_itself() {
    let net = NetworkSpec::new().internal(true).create().await.unwrap();
    let web = server().network(&net).alias("web").start().await.unwrap();
    let client = sleeper()
        .network(&net)
        .alias("client")
        .start()
        .await
        .unwrap();
    fetch_until_ok(&client, "http://web:8080/hostname").await;
    client
        .cut_off_from(&web, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!fetch(&client, "http://web:8080/hostname").await.success());
    // Reconnected in the background after 5 s, with its alias.
    assert_eq!(
        fetch_until_ok(&client, "http://web:8080/hostname").await,
        "served-by-web\n"
    );
    // Its alias answers again too: `web` resolves `client`.
    let back = web
        .exec([
            "sh",
            "-c",
            "nslookup client 2>/dev/null | grep -c '^Address: '",
        ])
        .await
        .unwrap();
    assert_eq!(back.stdout.trim(), "1", "{back:?}");
}

#[tokio::test]
async fn network_goes_with_the_last_container_and_its_handle() {
    let net = NetworkSpec::new().create().await.unwrap();
    let id = net.id().to_string();
    let c = sleeper().network(&net).start().await.unwrap();
    let err = net.clone().remove().await.unwrap_err();
    assert!(
        err.to_string().contains("still used by") && err.to_string().contains(c.name()),
        "{err}"
    );
    drop(net);
    let exists = |id: String| {
        common::engine_call(move |d| async move {
            d.inspect_network(
                &id,
                None::<dockhand::bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .is_ok()
        })
    };
    assert!(exists(id.clone()), "the container still holds the network");
    drop(c);
    assert!(!exists(id), "the network outlived its last container");
}

#[tokio::test]
async fn alias_clash_and_unknown_network_are_clear_errors() {
    let net = NetworkSpec::new().create().await.unwrap();
    let first = sleeper().network(&net).alias("db").start().await.unwrap();
    let err = sleeper()
        .network(&net)
        .alias("db")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(
        err.to_string().contains("alias `db`") && err.to_string().contains(net.name()),
        "{err}"
    );
    // Free again once its owner is gone.
    first.remove().await.unwrap();
    let _second = sleeper().network(&net).alias("db").start().await.unwrap();

    let err = Network::existing("dockhand-no-such-network")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such network"), "{err}");
    let err = sleeper().alias("lonely").start().await.unwrap_err();
    assert!(err.to_string().contains("before `.alias"), "{err}");
}

#[tokio::test]
async fn existing_networks_are_joined_but_never_removed() {
    let name = format!("dockhand-existing-{}", std::process::id());
    let n = name.clone();
    common::engine_call(move |d| async move {
        d.create_network(dockhand::bollard::models::NetworkCreateRequest {
            name: n,
            labels: Some(dockhand::session_labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    });
    let net = Network::existing(&name).await.unwrap();
    let c = sleeper().network(&net).start().await.unwrap();
    drop(c);
    drop(net);
    let n = name.clone();
    let still = common::engine_call(move |d| async move {
        let ok = d
            .inspect_network(
                &n,
                None::<dockhand::bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .is_ok();
        let _ = d.remove_network(&n).await;
        ok
    });
    assert!(still, "dockhand removed a network it did not create");
}

#[dockhand::test(network)]
async fn per_test_network_by_parameter_name(
    #[spec(server())] web: Container,
    #[spec(sleeper())] client: Container,
) {
    assert_eq!(
        fetch_until_ok(&client, "http://web:8080/hostname").await,
        "served-by-web\n"
    );
    assert_eq!(web.network_address(8080), "web:8080");
    let on = |info: dockhand::bollard::models::ContainerInspectResponse| -> Vec<String> {
        info.network_settings
            .unwrap()
            .networks
            .unwrap()
            .into_keys()
            .collect()
    };
    let (a, b) = (
        on(web.inspect().await.unwrap()),
        on(client.inspect().await.unwrap()),
    );
    assert_eq!(a, b, "both on the test's network, and only there");
    assert_eq!(a.len(), 1);
    assert!(a[0].starts_with("dockhand-net-"), "{a:?}");
}

#[dockhand::test(network)]
#[ignore = "child: run by per_test_network_is_removed_after_pass_and_panic"]
async fn child_network(#[spec(server())] web: Container, #[spec(sleeper())] client: Container) {
    fetch_until_ok(&client, "http://web:8080/hostname").await;
    let _ = web;
    if std::env::var("CHILD_PANIC").is_ok() {
        panic!("fails while holding a per-test network");
    }
}

#[test]
fn per_test_network_is_removed_after_pass_and_panic() {
    for panic in [false, true] {
        let session = format!("netchild{}x{panic}", std::process::id());
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(["--ignored", "--exact", "child_network"])
            .env("DOCKHAND_SESSION", &session);
        if panic {
            cmd.env("CHILD_PANIC", "1");
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.success(), !panic, "{text}");
        assert!(text.contains("running 1 test"), "{text}");
        assert_eq!(
            networks_of_session(&session),
            0,
            "network left (panic={panic})"
        );
        assert!(common::containers_with_labels(&[("dockhand.session", &session)]).is_empty());
    }
}
