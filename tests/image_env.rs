//! The environment variables of the image path: `DOCKHAND_PULL_POLICY`,
//! `DOCKHAND_IMAGE_PREFIX` and `DOCKER_CONFIG`.
//!
//! Environment variables are process-wide, so this file is a test binary of
//! its own with a single test: nothing else reads them while it sets them.
mod common;

use common::images::{
    auth_registry, created_from, credentials, registry, required_env, started, tag, unique_repo,
    Cleanup,
};
use dockhand::{ContainerSpec, Error, ImagePull, ImagePush};

#[tokio::test]
async fn environment_sets_policy_prefix_and_docker_config() {
    let mut cleanup = Cleanup::default();
    let repo = unique_repo("env");
    let mirrored = cleanup.add(format!("{}/{repo}:1", registry()));
    tag(&common::image(), &mirrored);
    ImagePush::new(&mirrored).run().await.unwrap();
    common::images::remove_image(&mirrored);

    // DOCKHAND_IMAGE_PREFIX sends a Docker Hub name to the mirror; with
    // DOCKHAND_PULL_POLICY=never, the missing image is an error.
    std::env::set_var("DOCKHAND_IMAGE_PREFIX", format!("{}/", registry()));
    std::env::set_var("DOCKHAND_PULL_POLICY", "never");
    let err = ContainerSpec::new(format!("{repo}:1"))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
    assert!(err.to_string().contains(&mirrored), "{err}");
    std::env::set_var("DOCKHAND_PULL_POLICY", "if-missing");
    let c = started(ContainerSpec::new(format!("{repo}:1"))).await;
    assert_eq!(created_from(&c).await, Some(mirrored.clone()));
    drop(c);
    std::env::set_var("DOCKHAND_PULL_POLICY", "sometimes");
    let err = ContainerSpec::new(format!("{repo}:1"))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("DOCKHAND_PULL_POLICY"), "{err}");
    std::env::remove_var("DOCKHAND_PULL_POLICY");
    std::env::remove_var("DOCKHAND_IMAGE_PREFIX");

    // DOCKER_CONFIG points at the folder holding config.json.
    let private = cleanup.add(format!("{}/{repo}:1", auth_registry()));
    tag(&common::image(), &private);
    ImagePush::new(&private)
        .credentials(credentials())
        .run()
        .await
        .unwrap();
    common::images::remove_image(&private);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{{"auths":{{"http://{}":{{"username":"{}","password":"{}"}}}}}}"#,
        auth_registry(),
        credentials().username().unwrap(),
        required_env("DOCKHAND_TEST_REGISTRY_PASS")
    );
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    std::env::set_var("DOCKER_CONFIG", dir.path());
    assert_eq!(
        dockhand::DockerConfig::default_path(),
        dir.path().join("config.json")
    );
    assert_eq!(ImagePull::new(&private).run().await.unwrap(), private);
    std::env::remove_var("DOCKER_CONFIG");
}
