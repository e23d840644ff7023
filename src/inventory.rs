//! What dockhand resources the engine holds, and whose they are: the model
//! behind `dockhand ls` and `dockhand clean`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveImageOptionsBuilder, RemoveVolumeOptions,
};

use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::session::{
    self, LABEL_CREATED, LABEL_HOST, LABEL_KEEP, LABEL_PID, LABEL_REUSE, LABEL_SESSION,
    LABEL_TEMPORARY, LABEL_TEST,
};
use crate::snapshot::LABEL_SNAPSHOT;
use crate::sweep::process_alive;

/// The kind of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A container.
    Container,
    /// A network.
    Network,
    /// A volume.
    Volume,
    /// An image built or committed to be removed with its session.
    Image,
}

/// Why a resource is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Kept on purpose (`dockhand.keep=true`), e.g. for debugging.
    Kept,
    /// Kept for reuse across runs (`dockhand.reuse=true`).
    Reused,
    /// Its process is gone: nobody will remove it.
    Leaked,
    /// Its process still runs (on this machine), or it cannot be told.
    Live,
    /// A snapshot image, kept between runs like a build cache
    /// (see [`ContainerSpec::snapshot`](crate::ContainerSpec::snapshot)).
    Snapshot,
}

/// One resource dockhand created.
#[derive(Debug, Clone)]
pub struct Resource {
    /// What it is.
    pub kind: Kind,
    /// Its id (for volumes, the name).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Why it is there.
    pub status: Status,
    /// Its session.
    pub session: String,
    /// The test that created it, if a `#[dockhand::test]` did.
    pub test: Option<String>,
    /// When it was created.
    pub created: Option<SystemTime>,
    /// The image (containers).
    pub image: Option<String>,
    /// Published ports, e.g. `127.0.0.1:49153 -> 5432/tcp` (containers).
    pub ports: Vec<String>,
}

impl Resource {
    /// How long ago it was created.
    pub fn age(&self) -> Option<Duration> {
        self.created
            .and_then(|c| SystemTime::now().duration_since(c).ok())
    }
}

fn status(kind: Kind, labels: &HashMap<String, String>) -> Status {
    // Containers started from a snapshot inherit its labels: only the image is one.
    if kind == Kind::Image && labels.contains_key(LABEL_SNAPSHOT) {
        return Status::Snapshot;
    }
    let is = |k: &str| labels.get(k).is_some_and(|v| v == "true");
    // Reused containers are kept too; the more specific reason wins.
    if is(LABEL_REUSE) {
        return Status::Reused;
    }
    if is(LABEL_KEEP) {
        return Status::Kept;
    }
    let here = labels
        .get(LABEL_HOST)
        .is_some_and(|h| h == session::hostname());
    match labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) if here && !process_alive(pid) => Status::Leaked,
        _ => Status::Live,
    }
}

fn created(labels: &HashMap<String, String>) -> Option<SystemTime> {
    let secs = labels.get(LABEL_CREATED)?.parse::<u64>().ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Every resource labelled `dockhand.session` on the engine.
pub async fn inventory(engine: &Engine) -> Result<Vec<Resource>> {
    let engine = engine.clone();
    engine::run(async move {
        let docker = engine.docker();
        let any = HashMap::from([("label".to_string(), vec![LABEL_SESSION.to_string()])]);
        let mut out = Vec::new();
        let make = |kind, id: String, name: String, labels: HashMap<String, String>| Resource {
            kind,
            id,
            name,
            status: status(kind, &labels),
            session: labels.get(LABEL_SESSION).cloned().unwrap_or_default(),
            test: labels.get(LABEL_TEST).cloned(),
            created: created(&labels),
            image: None,
            ports: Vec::new(),
        };

        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&any)
            .build();
        let containers = docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| Error::engine("list containers", e))?;
        for c in containers {
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default();
            let mut r = make(
                Kind::Container,
                c.id.clone().unwrap_or_default(),
                name,
                c.labels.clone().unwrap_or_default(),
            );
            r.image = c.image.clone();
            r.ports = c
                .ports
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| {
                    let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
                    Some(format!(
                        "{}:{} -> {}/{proto}",
                        p.ip.as_deref().unwrap_or("?"),
                        p.public_port?,
                        p.private_port
                    ))
                })
                .collect();
            out.push(r);
        }

        let opts = ListNetworksOptionsBuilder::default().filters(&any).build();
        for n in docker
            .list_networks(Some(opts))
            .await
            .map_err(|e| Error::engine("list networks", e))?
        {
            out.push(make(
                Kind::Network,
                n.id.unwrap_or_default(),
                n.name.unwrap_or_default(),
                n.labels.unwrap_or_default(),
            ));
        }

        let opts = ListVolumesOptionsBuilder::default().filters(&any).build();
        let volumes = docker
            .list_volumes(Some(opts))
            .await
            .map_err(|e| Error::engine("list volumes", e))?;
        for v in volumes.volumes.unwrap_or_default() {
            out.push(make(Kind::Volume, v.name.clone(), v.name, v.labels));
        }

        // Temporary images, and snapshots.
        for label in [
            format!("{LABEL_TEMPORARY}=true"),
            LABEL_SNAPSHOT.to_string(),
        ] {
            let filter =
                HashMap::from([("label".to_string(), vec![LABEL_SESSION.to_string(), label])]);
            let opts = ListImagesOptionsBuilder::default().filters(&filter).build();
            for i in docker
                .list_images(Some(opts))
                .await
                .map_err(|e| Error::engine("list images", e))?
            {
                let name = i.repo_tags.first().cloned().unwrap_or_else(|| i.id.clone());
                out.push(make(Kind::Image, i.id, name, i.labels));
            }
        }
        out.sort_by(|a, b| {
            (a.kind, a.status, &a.session, a.created)
                .cmp(&(b.kind, b.status, &b.session, b.created))
        });
        Ok(out)
    })
    .await
}

/// Removes one resource (a container with its anonymous volumes).
pub async fn remove_resource(engine: &Engine, resource: &Resource) -> Result<()> {
    let engine = engine.clone();
    let r = resource.clone();
    engine::run(async move {
        let docker = engine.docker();
        let what = format!("remove {:?} `{}`", r.kind, r.name).to_lowercase();
        match r.kind {
            Kind::Container => crate::cleanup::remove_container(docker, &r.id).await,
            Kind::Network => docker.remove_network(&r.id).await,
            Kind::Volume => {
                docker
                    .remove_volume(&r.id, None::<RemoveVolumeOptions>)
                    .await
            }
            Kind::Image => docker
                .remove_image(
                    &r.id,
                    Some(RemoveImageOptionsBuilder::default().force(true).build()),
                    None,
                )
                .await
                .map(drop),
        }
        .map_err(|e| Error::engine(what, e))
    })
    .await
}
