//! Reusing a running container across test runs (opt-in, for local loops).
//!
//! With `DOCKHAND_REUSE=1` a spec marked [`reuse`](crate::ContainerSpec::reuse)
//! is hashed (image id, the whole create request, the files copied in); a
//! running container carrying the same hash is adopted instead of starting a
//! new one, and it is not removed when the handle drops or the process ends.
//! Not for CI: nothing removes reused containers but `dockhand clean --reused`.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptionsBuilder;
use sha2::{Digest, Sha256};

use crate::archive;
use crate::engine::Engine;
use crate::error::Result;
use crate::session::{LABEL_CREATED, LABEL_HOST, LABEL_PID, LABEL_SESSION};
use crate::spec::ContainerSpec;

/// Label carrying the hash a reused container was started from.
pub(crate) const LABEL_REUSE_HASH: &str = "dockhand.reuse.hash";

/// Whether reuse is switched on for this process (`DOCKHAND_REUSE=1`).
pub(crate) fn enabled() -> bool {
    std::env::var("DOCKHAND_REUSE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

/// The hash of everything that makes a container what it is.
pub(crate) async fn hash(engine: &Engine, spec: &ContainerSpec) -> Result<String> {
    let image_id = engine
        .docker()
        .inspect_image(&spec.image)
        .await
        .ok()
        .and_then(|i| i.id)
        .unwrap_or_else(|| spec.image.clone());
    let mut body = spec.create_body(engine);
    // What differs between runs of the same spec must not count.
    if let Some(labels) = body.labels.as_mut() {
        for k in [LABEL_SESSION, LABEL_PID, LABEL_CREATED, LABEL_HOST] {
            labels.remove(k);
        }
    }
    let body = serde_json::to_string(&body).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(image_id.as_bytes());
    h.update(body.as_bytes());
    if !spec.copies.is_empty() {
        h.update(archive::tar_for(&spec.copies)?);
    }
    Ok(format!("{:x}", h.finalize())[..32].to_string())
}

/// A running container started from the same hash, if any.
pub(crate) async fn find(engine: &Engine, hash: &str) -> Option<String> {
    let filters = HashMap::from([
        (
            "label".to_string(),
            vec![format!("{LABEL_REUSE_HASH}={hash}")],
        ),
        ("status".to_string(), vec!["running".to_string()]),
    ]);
    let opts = ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let found = engine.docker().list_containers(Some(opts)).await.ok()?;
    found.into_iter().find_map(|c| c.id)
}
