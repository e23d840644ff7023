//! Removing what dockhand created: one container, or everything a process
//! or session left (used at process exit, by the reaper, the start-up sweep
//! and `dockhand clean`). Only resources carrying the session label are ever
//! touched, and never those kept on purpose or kept for reuse.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptions,
};

use crate::container::Inner;
use crate::engine;
use crate::session::{LABEL_KEEP, LABEL_PID, LABEL_REUSE, LABEL_SESSION, LABEL_TEMPORARY};

/// Force-removes a container with its anonymous volumes. A container that is
/// already gone counts as removed.
pub(crate) async fn remove_container(
    docker: &bollard::Docker,
    id: &str,
) -> Result<(), bollard::errors::Error> {
    tracing::debug!(container = %id, "engine: remove (force, with anonymous volumes)");
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(opts)).await {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        // 409: a removal of this container is already in progress.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        }) if message.contains("already in progress") => Ok(()),
        other => other,
    }
}

/// Whose resources to remove.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub session: String,
    /// Only those created by this process (sessions may span processes).
    pub pid: Option<u32>,
}

impl Owner {
    fn filters(&self) -> HashMap<String, Vec<String>> {
        let mut labels = vec![format!("{LABEL_SESSION}={}", self.session)];
        if let Some(pid) = self.pid {
            labels.push(format!("{LABEL_PID}={pid}"));
        }
        HashMap::from([("label".to_string(), labels)])
    }
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
}

impl Removed {
    pub(crate) fn total(&self) -> usize {
        self.containers.len() + self.networks.len() + self.volumes.len() + self.images.len()
    }
}

fn spared(labels: Option<&HashMap<String, String>>) -> bool {
    labels.is_some_and(|l| {
        l.get(LABEL_KEEP).is_some_and(|v| v == "true")
            || l.get(LABEL_REUSE).is_some_and(|v| v == "true")
    })
}

/// Removes every container, network, volume and temporary image of `owner`,
/// except kept and reused ones. Containers go first: they hold the rest.
pub(crate) async fn remove_owned(docker: &bollard::Docker, owner: &Owner) -> Removed {
    let filters = owner.filters();
    let mut removed = Removed::default();

    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker.list_containers(Some(opts)).await.unwrap_or_default();
    let doomed: Vec<String> = containers
        .into_iter()
        .filter(|c| !spared(c.labels.as_ref()))
        .filter_map(|c| c.id)
        .collect();
    let results =
        futures::future::join_all(doomed.iter().map(|id| remove_container(docker, id))).await;
    for (id, r) in doomed.into_iter().zip(results) {
        match r {
            Ok(()) => removed.containers.push(id),
            Err(e) => tracing::warn!("dockhand: could not remove container {id}: {e}"),
        }
    }

    let opts = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    for n in docker.list_networks(Some(opts)).await.unwrap_or_default() {
        let Some(id) = n.id else { continue };
        match docker.remove_network(&id).await {
            Ok(()) => removed.networks.push(id),
            Err(e) => tracing::warn!("dockhand: could not remove network {id}: {e}"),
        }
    }

    let opts = ListVolumesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let volumes = docker
        .list_volumes(Some(opts))
        .await
        .ok()
        .and_then(|v| v.volumes)
        .unwrap_or_default();
    for v in volumes {
        match docker
            .remove_volume(&v.name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => removed.volumes.push(v.name),
            Err(e) => tracing::warn!("dockhand: could not remove volume {}: {e}", v.name),
        }
    }

    let mut image_filters = filters.clone();
    image_filters
        .get_mut("label")
        .expect("label filter")
        .push(format!("{LABEL_TEMPORARY}=true"));
    let opts = ListImagesOptionsBuilder::default()
        .filters(&image_filters)
        .build();
    for img in docker.list_images(Some(opts)).await.unwrap_or_default() {
        let opts = RemoveImageOptionsBuilder::default().force(true).build();
        match docker.remove_image(&img.id, Some(opts), None).await {
            Ok(_) => removed.images.push(img.id),
            Err(e) => tracing::warn!("dockhand: could not remove image {}: {e}", img.id),
        }
    }
    removed
}

/// Removals started at the end of a test and not finished yet.
static PENDING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Removes a finished test's containers. Where the process has its exit
/// hook, the removal runs in the background, overlapping the next test, and
/// the exit hook waits for it ([`wait_pending`]); elsewhere the test waits.
pub(crate) fn remove_at_test_end(containers: Vec<Arc<Inner>>) {
    if containers.is_empty() {
        return;
    }
    at_test_end(remove_all(containers));
}

/// Force-removes the containers at once; failures are logged.
pub(crate) async fn remove_all(containers: Vec<Arc<Inner>>) {
    let removals = containers.iter().map(|c| async move {
        if let Err(e) = c.force_remove().await {
            tracing::warn!("dockhand: {e}");
        }
    });
    futures::future::join_all(removals).await;
}

/// Runs a finished test's clean-up `work`: in the background where the exit
/// hook waits for it, else right away (bounded at 60 s).
pub(crate) fn at_test_end(work: impl Future<Output = ()> + Send + 'static) {
    if crate::reaper::EXIT_HOOK {
        *PENDING.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        engine::spawn(async move {
            work.await;
            let mut n = PENDING.0.lock().unwrap_or_else(|e| e.into_inner());
            *n -= 1;
            PENDING.1.notify_all();
        });
    } else if engine::block_bounded(work, Duration::from_secs(60)).is_none() {
        tracing::warn!("dockhand: a test's clean-up took longer than 60 s");
    }
}

/// Waits (bounded) until background removals are done.
pub(crate) fn wait_pending(limit: Duration) {
    let n = PENDING.0.lock().unwrap_or_else(|e| e.into_inner());
    let _ = PENDING.1.wait_timeout_while(n, limit, |n| *n > 0);
}
