//! Pulling, pushing and image housekeeping against the real engine and the
//! local registries started by `scripts/test-env`.
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use common::images::{
    auth_registry, created_from, credentials, image_id, registry, started, tag, unique_repo,
    Cleanup,
};
use dockhand::{
    ContainerSpec, Credentials, Engine, Error, ImageFilter, ImagePull, ImagePush, PullPolicy,
};

/// Pushes the busybox test image to `reference` and removes it locally, so
/// the registry is the only place that has it.
async fn seed(reference: &str, cleanup: &mut Cleanup, creds: Option<Credentials>) {
    cleanup.add(reference);
    tag(&common::image(), reference);
    let mut push = ImagePush::new(reference);
    if let Some(c) = creds {
        push = push.credentials(c);
    }
    push.run().await.expect("push");
    common::images::remove_image(reference);
    assert!(image_id(reference).is_none());
}

/// An empty Docker config, so the machine's own never leaks into a test.
fn empty_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{}").unwrap();
    dir
}

#[tokio::test]
async fn push_remove_and_pull_back() {
    let mut cleanup = Cleanup::default();
    let reference = format!("{}/{}:1", registry(), unique_repo("roundtrip"));
    seed(&reference, &mut cleanup, None).await;

    let name = ImagePull::new(&reference).run().await.unwrap();
    assert_eq!(name, reference);
    assert_eq!(image_id(&reference), image_id(&common::image()));

    let c = started(ContainerSpec::new(&reference)).await;
    assert_eq!(c.exec(["echo", "pulled"]).await.unwrap().stdout, "pulled\n");
}

#[tokio::test]
async fn a_missing_image_is_pulled_when_a_container_starts() {
    let mut cleanup = Cleanup::default();
    let reference = format!("{}/{}:1", registry(), unique_repo("autopull"));
    seed(&reference, &mut cleanup, None).await;
    let c = started(ContainerSpec::new(&reference)).await;
    assert!(image_id(&reference).is_some());
    drop(c);
}

#[tokio::test]
async fn pull_policies() {
    let mut cleanup = Cleanup::default();
    let reference = format!("{}/{}:1", registry(), unique_repo("policy"));
    seed(&reference, &mut cleanup, None).await;

    // never: a missing image is an error, and nothing is pulled.
    let err = ContainerSpec::new(&reference)
        .pull_policy(PullPolicy::Never)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
    assert!(err.to_string().contains("never"), "{err}");
    assert!(image_id(&reference).is_none());

    // if-missing pulls what is missing.
    ImagePull::new(&reference)
        .policy(PullPolicy::IfMissing)
        .run()
        .await
        .unwrap();
    let a = image_id(&reference).unwrap();

    // Point the registry's tag at another image, keep the old one locally.
    let b_ref = dockhand::ImageBuild::from_dockerfile(format!(
        "FROM {}\nLABEL variant=b\n",
        common::image()
    ))
    .name(unique_repo("policy-b"))
    .build()
    .await
    .unwrap();
    cleanup.add(&b_ref);
    let b = image_id(&b_ref).unwrap();
    tag(&b_ref, &reference);
    ImagePush::new(&reference).run().await.unwrap();
    tag(&a, &reference);

    // if-missing and never keep the local image; always fetches the new one.
    ImagePull::new(&reference)
        .policy(PullPolicy::IfMissing)
        .run()
        .await
        .unwrap();
    assert_eq!(image_id(&reference).unwrap(), a);
    ImagePull::new(&reference)
        .policy(PullPolicy::Never)
        .run()
        .await
        .unwrap();
    assert_eq!(image_id(&reference).unwrap(), a);
    let c = started(ContainerSpec::new(&reference).pull_policy(PullPolicy::Always)).await;
    assert_eq!(image_id(&reference).unwrap(), b);
    drop(c);
}

#[tokio::test]
async fn prefix_substitution_runs_docker_hub_names_from_the_mirror() {
    let mut cleanup = Cleanup::default();
    let repo = unique_repo("prefix");
    let mirrored = format!("{}/{repo}:tag", registry());
    seed(&mirrored, &mut cleanup, None).await;

    let c =
        started(ContainerSpec::new(format!("{repo}:tag")).image_prefix(format!("{}/", registry())))
            .await;
    assert_eq!(created_from(&c).await, Some(mirrored));
    drop(c);

    // A locally built image under its plain name is used as it is.
    let c =
        started(ContainerSpec::new(common::image()).image_prefix(format!("{}/", registry()))).await;
    assert_eq!(created_from(&c).await, Some(common::image()));
    drop(c);

    // Opting out: the plain name is not on the engine, and never pulled
    // from Docker Hub under `never`.
    let err = ContainerSpec::new(format!("{repo}:other"))
        .image_prefix(format!("{}/", registry()))
        .no_image_prefix()
        .pull_policy(PullPolicy::Never)
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("`{repo}:other`")),
        "{err}"
    );
}

#[tokio::test]
async fn push_and_pull_with_explicit_credentials() {
    let mut cleanup = Cleanup::default();
    let reference = cleanup.add(format!("{}/{}:1", auth_registry(), unique_repo("auth")));
    tag(&common::image(), &reference);
    let none = empty_config();
    let wrong = Credentials::new(credentials().username().unwrap(), "wrong-password");

    let err = ImagePush::new(&reference)
        .docker_config(none.path())
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RegistryAuthRefused { .. }), "{err}");
    let err = ImagePush::new(&reference)
        .credentials(wrong.clone())
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RegistryAuthRefused { .. }), "{err}");
    assert!(err.to_string().contains(&auth_registry()), "{err}");
    ImagePush::new(&reference)
        .credentials(credentials())
        .run()
        .await
        .unwrap();

    common::images::remove_image(&reference);
    let err = ImagePull::new(&reference)
        .docker_config(none.path())
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RegistryAuthRefused { .. }), "{err}");
    let err = ContainerSpec::new(&reference)
        .registry_credentials(wrong)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RegistryAuthRefused { .. }), "{err}");
    let c = started(ContainerSpec::new(&reference).registry_credentials(credentials())).await;
    drop(c);
}

#[tokio::test]
async fn credentials_from_a_docker_config_folder() {
    let mut cleanup = Cleanup::default();
    let reference = format!("{}/{}:1", auth_registry(), unique_repo("authcfg"));
    seed(&reference, &mut cleanup, Some(credentials())).await;
    let user = credentials().username().unwrap().to_string();
    let pass = common::images::required_env("DOCKHAND_TEST_REGISTRY_PASS");

    let write = |dir: &std::path::Path, entry: String| {
        let text = format!(r#"{{"auths":{{"{}":{entry}}}}}"#, auth_registry());
        std::fs::write(dir.join("config.json"), text).unwrap();
    };
    let wrong = tempfile::tempdir().unwrap();
    write(
        wrong.path(),
        format!(r#"{{"username":"{user}","password":"nope"}}"#),
    );
    let err = ImagePull::new(&reference)
        .docker_config(wrong.path())
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RegistryAuthRefused { .. }), "{err}");

    // `auth` is base64 of user:password, as `docker login` writes it.
    let right = tempfile::tempdir().unwrap();
    let encoded = base64(format!("{user}:{pass}").as_bytes());
    write(right.path(), format!(r#"{{"auth":"{encoded}"}}"#));
    let c = started(ContainerSpec::new(&reference).docker_config(right.path())).await;
    drop(c);
}

#[tokio::test]
async fn errors_tell_missing_from_unreachable() {
    let repo = unique_repo("missing");
    let err = ImagePull::new(format!("{}/{repo}:nope", registry()))
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
    let text = err.to_string();
    for part in [registry().as_str(), repo.as_str(), "`nope`"] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = ImagePull::new(format!("127.0.0.1:{port}/x/y:1"))
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RegistryUnreachable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

/// Counts the "pulling image" events per image, from every thread.
fn pulls() -> &'static Arc<Mutex<HashMap<String, usize>>> {
    use tracing_subscriber::layer::SubscriberExt;
    static COUNTS: OnceLock<Arc<Mutex<HashMap<String, usize>>>> = OnceLock::new();
    COUNTS.get_or_init(|| {
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let layer = PullCounter(counts.clone());
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .unwrap();
        counts
    })
}

struct PullCounter(Arc<Mutex<HashMap<String, usize>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PullCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            image: String,
            message: String,
        }
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "image" => self.image = format!("{value:?}"),
                    "message" => self.message = format!("{value:?}"),
                    _ => {}
                }
            }
        }
        let mut f = Fields::default();
        event.record(&mut f);
        if f.message == "pulling image" {
            *self.0.lock().unwrap().entry(f.image).or_default() += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_pull_once() {
    let counts = pulls();
    let mut cleanup = Cleanup::default();
    let reference = format!("{}/{}:1", registry(), unique_repo("herd"));
    seed(&reference, &mut cleanup, None).await;
    let starts = (0..4).map(|_| ContainerSpec::new(&reference).cmd(["sleep", "60"]).start());
    let containers = futures::future::join_all(starts).await;
    for c in &containers {
        assert!(c.is_ok(), "{:?}", c.as_ref().err());
    }
    assert_eq!(
        counts.lock().unwrap().get(&reference),
        Some(&1),
        "{:?}",
        counts.lock().unwrap()
    );
}

#[tokio::test]
async fn housekeeping_lists_tags_and_removes() {
    let mut cleanup = Cleanup::default();
    let engine = Engine::shared().await.unwrap();
    let repo = unique_repo("housekeeping");
    let built = dockhand::ImageBuild::from_dockerfile(format!("FROM {}\n", common::image()))
        .name(&repo)
        .build()
        .await
        .unwrap();
    cleanup.add(&built);
    let found = engine
        .list_images(
            ImageFilter::new()
                .this_session()
                .reference(&format!("{repo}:*")),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].repo_tags.contains(&built));

    let copy = cleanup.add(format!("{repo}-copy:v1"));
    engine.tag_image(&built, &copy).await.unwrap();
    assert!(engine.image_exists(&copy).await.unwrap());
    assert_eq!(
        engine.inspect_image(&copy).await.unwrap().id,
        image_id(&built)
    );
    assert!(engine.remove_image(&copy).await.unwrap());
    assert!(!engine.remove_image(&copy).await.unwrap());
    assert!(!engine.image_exists(&copy).await.unwrap());
    let err = engine.inspect_image(&copy).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn blocking_pull_and_push() {
    let mut cleanup = Cleanup::default();
    let reference = cleanup.add(format!("{}/{}:1", registry(), unique_repo("blocking")));
    tag(&common::image(), &reference);
    ImagePush::new(&reference).run_blocking().unwrap();
    common::images::remove_image(&reference);
    assert_eq!(
        ImagePull::new(&reference).run_blocking().unwrap(),
        reference
    );
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
