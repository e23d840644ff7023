//! Helpers for the image and build tests: the local registries started by
//! `scripts/test-env`, unique repository names, and removing test images.

use std::collections::HashMap;

use dockhand::bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};

use super::engine_call;

/// An environment variable `scripts/test-env` sets; panics saying so when
/// it is missing, so a test needing a registry never passes silently.
pub fn required_env(var: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
            "{var} is not set: this test needs the local registries that `scripts/test-env` starts \
             (run `bash scripts/test-env --test <name>`)"
        )
        })
}

/// The registry without auth, e.g. `127.0.0.1:5000`.
pub fn registry() -> String {
    required_env("DOCKHAND_TEST_REGISTRY")
}

/// The registry with htpasswd auth, e.g. `127.0.0.1:5001`.
pub fn auth_registry() -> String {
    required_env("DOCKHAND_TEST_AUTH_REGISTRY")
}

/// The right credentials for [`auth_registry`].
pub fn credentials() -> dockhand::Credentials {
    dockhand::Credentials::new(
        required_env("DOCKHAND_TEST_REGISTRY_USER"),
        required_env("DOCKHAND_TEST_REGISTRY_PASS"),
    )
}

/// A repository name no other test (or run) uses: `dockhand-it/<what>-<random>`.
pub fn unique_repo(what: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("dockhand-it/{what}-{:010x}", h.finish() & 0xff_ffff_ffff)
}

/// The image id the engine has under `reference` (asked directly).
pub fn image_id(reference: &str) -> Option<String> {
    let reference = reference.to_string();
    engine_call(move |docker| async move {
        docker
            .inspect_image(&reference)
            .await
            .ok()
            .and_then(|i| i.id)
    })
}

/// Removes an image name directly (not through dockhand), with the digest
/// references a pull or push of its repository left; absent is fine.
pub fn remove_image(reference: &str) {
    let reference = reference.to_string();
    // `repo:tag` -> `repo` (a colon after the last slash is a tag).
    let repo = match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => r.to_string(),
        _ => reference.clone(),
    };
    engine_call(move |docker| async move {
        let opts = || RemoveImageOptionsBuilder::default().force(true).build();
        let _ = docker.remove_image(&reference, Some(opts()), None).await;
        let filter = ListImagesOptionsBuilder::default()
            .filters(&HashMap::from([("reference", vec![repo.as_str()])]))
            .build();
        let digests: Vec<String> = match docker.list_images(Some(filter)).await {
            Ok(images) => images.into_iter().flat_map(|i| i.repo_digests).collect(),
            Err(_) => Vec::new(),
        };
        for d in digests
            .iter()
            .filter(|d| d.starts_with(&format!("{repo}@")))
        {
            let _ = docker.remove_image(d, Some(opts()), None).await;
        }
    })
}

/// Tags an image directly (`docker tag`).
pub fn tag(source: &str, target: &str) {
    let status = std::process::Command::new("docker")
        .args(["tag", source, target])
        .status()
        .expect("run docker tag");
    assert!(status.success(), "docker tag {source} {target} failed");
}

/// Removes every listed image name when dropped, even when the test panics.
#[derive(Default)]
pub struct Cleanup(pub Vec<String>);

impl Cleanup {
    /// Removes `reference` at the end of the test.
    pub fn add(&mut self, reference: impl Into<String>) -> String {
        let r = reference.into();
        self.0.push(r.clone());
        r
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for r in self.0.iter().rev() {
            remove_image(r);
        }
    }
}

/// Starts `spec` running `sleep 60` (removed when the handle drops).
pub async fn started(spec: dockhand::ContainerSpec) -> dockhand::Container {
    spec.cmd(["sleep", "60"]).start().await.unwrap()
}

/// The image name a container was created from, as the engine recorded it.
pub async fn created_from(c: &dockhand::Container) -> Option<String> {
    c.inspect().await.unwrap().config.and_then(|c| c.image)
}

/// The labels of an image (asked directly).
pub fn image_labels(reference: &str) -> HashMap<String, String> {
    let reference = reference.to_string();
    engine_call(move |docker| async move {
        let info = docker
            .inspect_image(&reference)
            .await
            .expect("inspect image");
        info.config.and_then(|c| c.labels).unwrap_or_default()
    })
}
