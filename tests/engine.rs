//! Finding and talking to the engine.
mod common;

use dockhand::{Engine, EngineConfig, Error};

#[tokio::test]
async fn shared_engine_negotiates_the_api_version() {
    let e = common::engine().await;
    let v = e.api_version();
    let (major, minor) = v.split_once('.').unwrap();
    assert_eq!(major, "1");
    assert!(minor.parse::<u32>().unwrap() >= 41, "{v}");
    assert!(e.is_local());
    assert_eq!(e.host(), "127.0.0.1");
    // One client per process: the same engine every time.
    assert_eq!(Engine::shared().await.unwrap().endpoint(), e.endpoint());
}

#[tokio::test]
async fn dead_socket_error_lists_what_was_tried_and_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.sock");
    // A socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let url = format!("unix://{}", dead.display());
    let err = Engine::connect(EngineConfig::host(&url)).await.unwrap_err();
    assert!(matches!(err, Error::EngineUnreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains("DOCKER_HOST"), "{msg}");
}

#[tokio::test]
async fn dead_tcp_engine_is_refused_quickly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Engine::connect(EngineConfig::host(format!("tcp://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn spec_on_a_dead_engine_creates_nothing_and_says_why() {
    let err = Engine::connect(EngineConfig::host("unix:///nonexistent/docker.sock"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("socket does not exist"), "{err}");
}

#[tokio::test]
async fn explicit_engine_runs_containers() {
    let e = Engine::connect(EngineConfig::host("unix:///var/run/docker.sock"))
        .await
        .unwrap();
    let c = common::sleeper().engine(e).start().await.unwrap();
    assert!(common::container_exists(c.id()));
}

/// DOCKER_HOST is read from the environment: run this test binary again with
/// DOCKER_HOST pointing at a dead socket and check the child's error.
#[test]
fn docker_host_env_is_honoured() {
    if let Ok(mode) = std::env::var("DOCKHAND_CHILD_ENGINE_PROBE") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        match rt.block_on(common::sleeper().start()) {
            Ok(c) if mode == "ok" => println!("CHILD-OK: {}", c.engine().endpoint()),
            Ok(c) => println!("CHILD-UNEXPECTED: started {}", c.name()),
            Err(err) => println!("CHILD-ERROR: {err}"),
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "docker_host_env_is_honoured", "--nocapture"])
        .env("DOCKHAND_CHILD_ENGINE_PROBE", "1")
        .env("DOCKER_HOST", "unix:///nonexistent/dockhand-test.sock")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("CHILD-ERROR: no Docker engine answered")
            && stdout.contains("unix:///nonexistent/dockhand-test.sock"),
        "{stdout}"
    );
}

// ---- tcp:// and TLS engines: a front on 127.0.0.1 forwarding to the local socket ----

/// Forwards connections on 127.0.0.1 to the engine's unix socket (through TLS
/// when given an acceptor), as a `tcp://` engine would answer. Runs on the
/// test's runtime until the test ends.
async fn engine_front(tls: Option<tokio_rustls::TlsAcceptor>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                match tls {
                    Some(acceptor) => {
                        if let Ok(mut s) = acceptor.accept(tcp).await {
                            let _ = tokio::io::copy_bidirectional(&mut s, &mut unix).await;
                        }
                    }
                    None => {
                        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                    }
                }
            });
        }
    });
    port
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made
/// with the openssl command, in the file names the Docker CLI uses.
fn make_certs(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A key and a certificate for `cn` signed by the CA, with `extra` options.
    let issue = |key: &str, cert: &str, cn: &str, extra: &[&str]| {
        let csr = format!("{cert}.csr");
        let subj = format!("/CN={cn}");
        run(&[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", &csr, "-subj", &subj,
        ]);
        let mut sign = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
        ];
        sign.extend_from_slice(extra);
        run(&sign);
    };
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=dockhand-test-ca",
    ]);
    issue(
        "server-key.pem",
        "server-cert.pem",
        "127.0.0.1",
        &["-extfile", "ext.cnf"],
    );
    issue("key.pem", "cert.pem", "client", &[]);
}

fn acceptor(dir: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<_> = CertificateDer::pem_file_iter(dir.join("server-cert.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server-key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

async fn exercise(engine: Engine) {
    assert!(engine.is_local(), "a loopback tcp engine is local");
    assert_eq!(engine.host(), "127.0.0.1");
    let c = common::web().engine(engine).start().await.unwrap();
    assert!(c.addr(8080).unwrap().ip().is_loopback());
    assert!(
        c.ports().iter().all(|p| p.host_ip == "127.0.0.1"),
        "{:?}",
        c.ports()
    );
    // exec upgrades the connection: it must work through tcp and TLS too.
    assert_eq!(
        c.exec(["echo", "over tcp"]).await.unwrap().stdout,
        "over tcp\n"
    );
    assert!(c.logs().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_engine() {
    let port = engine_front(None).await;
    let engine = Engine::connect(EngineConfig::host(format!("tcp://127.0.0.1:{port}")))
        .await
        .unwrap();
    assert_eq!(engine.endpoint(), format!("tcp://127.0.0.1:{port}"));
    exercise(engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_engine_with_cert_folder() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let port = engine_front(Some(acceptor(dir.path()))).await;
    let url = format!("tcp://127.0.0.1:{port}");
    let engine = Engine::connect(EngineConfig::host(&url).tls(dir.path()))
        .await
        .unwrap();
    exercise(engine).await;

    // Another CA: the server is not trusted, and the error says where it went wrong.
    let other = tempfile::tempdir().unwrap();
    make_certs(other.path());
    let err = Engine::connect(EngineConfig::host(&url).tls(other.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EngineUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");

    // DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, as the Docker CLI reads them.
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "docker_host_env_is_honoured", "--nocapture"])
        .env("DOCKHAND_CHILD_ENGINE_PROBE", "ok")
        .env("DOCKER_HOST", &url)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("CHILD-OK: {url}")), "{stdout}");
}
