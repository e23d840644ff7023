//! Reusing a running container across test runs (opt-in, for local loops).
//!
//! With `DOCKHAND_REUSE=1` a spec marked [`reuse`](crate::ContainerSpec::reuse)
//! is hashed (image id, the whole create request, the files copied in); a
//! running container carrying the same hash is adopted instead of starting a
//! new one, and it is not removed when the handle drops or the process ends.
//! Not for CI: nothing removes reused containers but `dockhand clean --reused`.

use std::collections::HashMap;

use crate::engine::Engine;
use crate::error::Result;
use crate::fingerprint;
use crate::spec::ContainerSpec;
use bollard::query_parameters::ListContainersOptionsBuilder;

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
    Ok(fingerprint::of(engine, &image_id, spec, fingerprint::Purpose::Reuse)?[..32].to_string())
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
