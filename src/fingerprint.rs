//! The hash of what makes a container what it is: the identity behind reuse
//! and snapshots.

use sha2::{Digest, Sha256};

use crate::archive;
use crate::engine::Engine;
use crate::error::Result;
use crate::spec::ContainerSpec;

/// What a fingerprint is for.
pub(crate) enum Purpose<'a> {
    /// Adopting a running container: everything counts, host ports too.
    Reuse,
    /// A snapshot image with this key: what only concerns the running
    /// container (networks, host ports, volatile variables) does not count.
    Snapshot(&'a str),
}

/// Hashes the image id, the create request without dockhand's own labels
/// (which differ between runs), and the files copied in.
pub(crate) fn of(
    engine: &Engine,
    image_id: &str,
    spec: &ContainerSpec,
    purpose: Purpose<'_>,
) -> Result<String> {
    let mut body = spec.create_body(engine);
    body.image = None;
    if let Some(labels) = body.labels.as_mut() {
        labels.retain(|k, _| !k.starts_with("dockhand."));
    }
    let key = match purpose {
        Purpose::Reuse => "reuse",
        Purpose::Snapshot(key) => {
            strip_run_only(spec, &mut body);
            key
        }
    };
    // HashMaps (labels, tmpfs…) serialise in a random order: sort the keys.
    let body = serde_json::to_value(&body)
        .map(sorted)
        .unwrap_or_default()
        .to_string();
    let mut h = Sha256::new();
    h.update(image_id.as_bytes());
    h.update([0]);
    h.update(body.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    if !spec.copies.is_empty() {
        h.update(archive::tar_for(&spec.copies)?);
    }
    Ok(format!("{:x}", h.finalize()))
}

fn strip_run_only(spec: &ContainerSpec, body: &mut bollard::models::ContainerCreateBody) {
    if let Some(env) = body.env.as_mut() {
        env.retain(|kv| {
            let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
            !spec.volatile_env.iter().any(|v| v == key)
        });
    }
    body.networking_config = None;
    if let Some(host) = body.host_config.as_mut() {
        host.network_mode = None;
        host.port_bindings = None;
    }
}

/// `value` with every object's keys in order.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let ordered: std::collections::BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_matter() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[{"d":1,"c":2}],"x":0}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":{"x":0,"y":[{"c":2,"d":1}]},"b":1}"#).unwrap();
        assert_eq!(sorted(a).to_string(), sorted(b).to_string());
    }
}
