//! Snapshots: a container set up once, committed as an image, and every
//! later start of the same spec begins from that image.
//!
//! The image is tagged `dockhand-snapshot/<image>:<hash>`, the hash covering
//! the base image's id, the create request and the files copied in, and the
//! snapshot's key; changing any of them makes (and uses) a new snapshot, and
//! stale ones of the same key are removed once an hour old. Snapshots outlive the session on
//! purpose, like a build cache: `dockhand clean --snapshots` removes them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::models::{ContainerConfig, ImageSummary};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, ListImagesOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures::future::BoxFuture;
use futures::StreamExt;

use crate::container::Container;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::fingerprint;
use crate::harness::fixture::SetupError;
use crate::image;
use crate::session::{self, LABEL_KEEP, LABEL_PID, LABEL_SESSION, LABEL_TEMPORARY, LABEL_TEST};
use crate::spec::ContainerSpec;

/// Label on a snapshot image: the key it was made for.
pub(crate) const LABEL_SNAPSHOT: &str = "dockhand.snapshot";
/// Label on a snapshot image: the hash of what it was made from.
pub(crate) const LABEL_SNAPSHOT_HASH: &str = "dockhand.snapshot.hash";
/// The repository snapshot images live in (`dockhand-snapshot/<image>`).
pub(crate) const REPOSITORY: &str = "dockhand-snapshot";

/// How long the set-up container gets to stop cleanly before the commit.
const STOP_GRACE: Duration = Duration::from_secs(30);

type SetupFn = dyn for<'a> Fn(&'a Container) -> BoxFuture<'a, std::result::Result<(), SetupError>>
    + Send
    + Sync;

/// What to do to a freshly started container before it is committed as a
/// snapshot (see [`ContainerSpec::snapshot`]).
///
/// ```
/// use dockhand::SnapshotSetup;
/// // Commands that must succeed, in order:
/// let setup = SnapshotSetup::exec(["sh", "-c", "echo seeded > /data.txt"])
///     .then_exec(["sync"]);
/// // Or any async code with the running container:
/// let setup = SnapshotSetup::with(|c| Box::pin(async move {
///     c.exec_ok(["touch", "/ready"]).await?;
///     Ok(())
/// }));
/// # let _ = setup;
/// ```
#[derive(Clone)]
pub struct SnapshotSetup {
    steps: Vec<Arc<SetupFn>>,
}

impl fmt::Debug for SnapshotSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotSetup({} steps)", self.steps.len())
    }
}

impl SnapshotSetup {
    /// A set-up that does nothing: the snapshot captures the container as it
    /// is once ready (an initialised database, say).
    pub fn none() -> Self {
        SnapshotSetup { steps: Vec::new() }
    }

    /// Runs `cmd` in the container; it must exit with 0.
    pub fn exec<I, S>(cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::none().then_exec(cmd)
    }

    /// Runs async code with the running container.
    pub fn with<F>(f: F) -> Self
    where
        F: for<'a> Fn(&'a Container) -> BoxFuture<'a, std::result::Result<(), SetupError>>
            + Send
            + Sync
            + 'static,
    {
        Self::none().then(f)
    }

    /// Then runs `cmd`, which must exit with 0.
    pub fn then_exec<I, S>(self, cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let cmd: Vec<String> = cmd.into_iter().map(Into::into).collect();
        self.then(move |c| {
            let cmd = cmd.clone();
            Box::pin(async move {
                c.exec_ok(cmd).await?;
                Ok(())
            })
        })
    }

    /// Then runs async code with the running container.
    pub fn then<F>(mut self, f: F) -> Self
    where
        F: for<'a> Fn(&'a Container) -> BoxFuture<'a, std::result::Result<(), SetupError>>
            + Send
            + Sync
            + 'static,
    {
        self.steps.push(Arc::new(f));
        self
    }

    async fn run(&self, container: &Container) -> std::result::Result<(), SetupError> {
        for step in &self.steps {
            step(container).await?;
        }
        Ok(())
    }
}

/// A snapshot asked for by a spec: its key and set-up.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) key: String,
    pub(crate) setup: SnapshotSetup,
    /// What else the set-up depends on (a module's SQL): hashed with the key.
    pub(crate) salt: String,
}

/// The snapshot for `spec`, made now if there is none yet; returns the spec
/// to start instead: the snapshot image, never pulled nor prefixed.
pub(crate) async fn resolve(engine: &Engine, mut spec: ContainerSpec) -> Result<ContainerSpec> {
    let Some(snapshot) = spec.snapshot.take() else {
        return Ok(spec);
    };
    // The base image, pulled if need be, by the name it was found under.
    let (base, base_id) = image::obtain(engine, &spec.image, &spec.pull, |name| {
        image::found(engine, name)
    })
    .await?;
    let hash = fingerprint::of(
        engine,
        &base_id,
        &spec,
        fingerprint::Purpose::Snapshot(&format!("{}\0{}", snapshot.key, snapshot.salt)),
    )?;
    let repository = format!("{REPOSITORY}/{}", slug(&spec.image));
    let tag = format!("{repository}:{}", &hash[..24]);
    let lock = lock_for(&tag);
    let _made_once = lock.lock().await;
    if engine.image_exists(&tag).await? {
        tracing::debug!(%tag, key = %snapshot.key, "starting from an existing snapshot");
    } else {
        let mut builder = spec.clone();
        builder.image = base;
        make(engine, builder, &snapshot, &repository, &tag, &hash).await?;
    }
    image::mark_built(&tag);
    // The snapshot's own environment (credentials made for it) wins.
    let volatile = std::mem::take(&mut spec.volatile_env);
    spec.env.retain(|(k, _)| !volatile.contains(k));
    spec.image = tag;
    Ok(spec)
}

/// Starts `builder`, runs the set-up, stops it cleanly and commits it.
async fn make(
    engine: &Engine,
    mut builder: ContainerSpec,
    snapshot: &Snapshot,
    repository: &str,
    tag: &str,
    hash: &str,
) -> Result<()> {
    let key = &snapshot.key;
    tracing::info!(%tag, %key, image = %builder.image, "making a snapshot");
    let base = builder.image.clone();
    builder.engine = Some(engine.clone());
    builder.keep = false;
    builder.reuse = false;
    builder.networks.clear();
    builder.parameter = None;
    builder.name_prefix = Some("snapshot".into());
    builder = builder.no_image_prefix();
    let started = std::time::Instant::now();
    let container = builder.start_detached().await?;
    tracing::debug!(elapsed = ?started.elapsed(), "snapshot: set-up container ready");
    let committed =
        set_up_and_commit(engine, &container, snapshot, &base, repository, tag, hash).await;
    // The set-up container goes whatever happened.
    container.discard().await;
    committed?;
    tracing::info!(%tag, %key, elapsed = ?started.elapsed(), "snapshot made");
    remove_stale(engine, repository, key, tag).await;
    Ok(())
}

async fn set_up_and_commit(
    engine: &Engine,
    container: &Container,
    snapshot: &Snapshot,
    base: &str,
    repository: &str,
    tag: &str,
    hash: &str,
) -> Result<()> {
    let key = &snapshot.key;
    let failed = |message: String| Error::SnapshotFailed {
        key: key.clone(),
        image: base.to_string(),
        message,
    };
    let t = std::time::Instant::now();
    if let Err(e) = snapshot.setup.run(container).await {
        return Err(failed(format!("the set-up failed: {e}")));
    }
    tracing::debug!(elapsed = ?t.elapsed(), "snapshot: set-up ran");
    let t = std::time::Instant::now();
    let docker = engine.docker();
    let stop = StopContainerOptionsBuilder::default()
        .t(STOP_GRACE.as_secs() as i32)
        .build();
    docker
        .stop_container(container.id(), Some(stop))
        .await
        .map_err(|e| {
            Error::engine(
                format!("stop container `{}` for its snapshot", container.name()),
                e,
            )
        })?;
    tracing::debug!(elapsed = ?t.elapsed(), "snapshot: stopped");
    let t = std::time::Instant::now();
    if let Some(refusal) = volume_refusal(engine, container).await? {
        return Err(failed(refusal));
    }
    tracing::debug!(elapsed = ?t.elapsed(), "snapshot: volumes checked");
    let t = std::time::Instant::now();
    let (repo, tag_part) = tag.rsplit_once(':').unwrap_or((repository, "latest"));
    let opts = CommitContainerOptionsBuilder::default()
        .container(container.id())
        .repo(repo)
        .tag(tag_part)
        .comment(&format!("dockhand snapshot `{key}`"))
        .pause(false)
        .build();
    // The commit copies the container's labels (and its image's) into the
    // image: those naming the maker's process and test, or a temporary base
    // image, must not describe the snapshot.
    let labels = HashMap::from([
        (LABEL_SNAPSHOT.to_string(), key.clone()),
        (LABEL_SNAPSHOT_HASH.to_string(), hash.to_string()),
        (LABEL_SESSION.to_string(), session::session_id().to_string()),
        (LABEL_TEMPORARY.to_string(), "false".to_string()),
        (LABEL_PID.to_string(), String::new()),
        (LABEL_TEST.to_string(), String::new()),
        (LABEL_KEEP.to_string(), String::new()),
    ]);
    let config = ContainerConfig {
        labels: Some(labels),
        ..Default::default()
    };
    docker.commit_container(opts, config).await.map_err(|e| {
        Error::engine(
            format!("commit container `{}` as `{tag}`", container.name()),
            e,
        )
    })?;
    tracing::debug!(elapsed = ?t.elapsed(), "snapshot: committed");
    Ok(())
}

/// `docker commit` does not capture volumes: why a snapshot must be refused
/// when its set-up (or start) wrote into one, rather than be silently empty there.
async fn volume_refusal(engine: &Engine, container: &Container) -> Result<Option<String>> {
    let info = container.inspect().await?;
    let volumes: Vec<String> = info
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| m.destination)
        .collect();
    for path in volumes {
        let entries = first_entries(engine, container.id(), &path).await?;
        if !entries.is_empty() {
            return Ok(Some(format!(
                "the container wrote into `{path}` ({}), a volume (declared by the image, or by the spec); \
                 `docker commit` does not capture volumes, so the snapshot would be empty there. \
                 Keep the data outside the volume (Postgres: set PGDATA to another folder; MariaDB: \
                 `--datadir`; the database modules do this for you), or drop the volume from the spec",
                entries.join(", ")
            )));
        }
    }
    Ok(None)
}

/// Up to 5 names inside `path` in the (stopped) container.
async fn first_entries(engine: &Engine, id: &str, path: &str) -> Result<Vec<String>> {
    const ENOUGH: usize = 64 * 1024;
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = engine.docker().download_from_container(id, Some(opts));
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Error::engine(format!("read `{path}` of container {id}"), e))?;
        buf.extend_from_slice(&chunk);
        if buf.len() >= ENOUGH {
            break;
        }
    }
    // A truncated archive still yields its first entries.
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(buf.as_slice());
    if let Ok(entries) = archive.entries() {
        for entry in entries.map_while(|e| e.ok()) {
            let name = entry
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The first entry is the folder itself.
            if name.trim_end_matches('/').contains('/') {
                names.push(name);
            }
            if names.len() == 5 {
                break;
            }
        }
    }
    Ok(names)
}

impl Engine {
    /// Removes the snapshot images made for `key` (see
    /// [`ContainerSpec::snapshot`]); returns how many went. One a container
    /// still uses stays; the first such error is returned once the others
    /// are removed.
    ///
    /// ```no_run
    /// # async fn demo() -> dockhand::Result<()> {
    /// let engine = dockhand::Engine::shared().await?;
    /// engine.remove_snapshots("seed-v1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_snapshots(&self, key: &str) -> Result<usize> {
        let engine = self.clone();
        let key = key.to_string();
        crate::engine::run(async move {
            let (mut removed, mut first_err) = (0, None);
            for i in snapshot_images(&engine, &key).await? {
                match remove_image(&engine, &i).await {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            first_err.map_or(Ok(removed), Err)
        })
        .await
    }
}

/// The snapshot images of `key`, tagged or not (two processes making the
/// same snapshot at once leave the first one untagged).
async fn snapshot_images(engine: &Engine, key: &str) -> Result<Vec<ImageSummary>> {
    let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL_SNAPSHOT}={key}")])]);
    let opts = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    engine
        .docker()
        .list_images(Some(opts))
        .await
        .map_err(|e| Error::engine(format!("list the snapshots of `{key}`"), e))
}

/// Removes an image: each of its tags, or by id when it has none.
async fn remove_image(engine: &Engine, i: &ImageSummary) -> Result<()> {
    let tags: Vec<&String> = i
        .repo_tags
        .iter()
        .filter(|t| *t != "<none>:<none>")
        .collect();
    if tags.is_empty() {
        return image::remove(engine.docker(), &i.id).await.map(drop);
    }
    for t in tags {
        image::remove(engine.docker(), t).await?;
    }
    Ok(())
}

/// How old a stale snapshot must be before it is removed: a process that
/// found it a moment ago may be creating a container from it now.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Removes the snapshots of the same key that the new one replaces (their
/// base image or spec changed): untagged ones, and others made more than
/// [`STALE_AFTER`] ago; one still used by a container stays.
async fn remove_stale(engine: &Engine, repository: &str, key: &str, keep: &str) {
    let Ok(images) = snapshot_images(engine, key).await else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for i in images {
        let tagged_here = i
            .repo_tags
            .iter()
            .any(|t| t.starts_with(&format!("{repository}:")));
        let untagged = i.repo_tags.iter().all(|t| t == "<none>:<none>");
        let old = now - i.created >= STALE_AFTER.as_secs() as i64;
        if i.repo_tags.iter().any(|t| t == keep) || !(untagged || (tagged_here && old)) {
            continue;
        }
        match remove_image(engine, &i).await {
            Ok(()) => tracing::info!(id = %i.id, %key, "removed a stale snapshot"),
            Err(e) => tracing::debug!(id = %i.id, "stale snapshot left: {e}"),
        }
    }
}

/// `postgres:16` → `postgres`, `127.0.0.1:5000/team/app:1` → `app`.
fn slug(image: &str) -> String {
    let r = image::Reference::parse(image);
    let path = r.path.rsplit_once('/').map_or(r.path.as_str(), |(_, p)| p);
    let s: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "image".into()
    } else {
        s
    }
}

/// One lock per snapshot tag in this process: concurrent starts of the same
/// spec make the snapshot once.
fn lock_for(tag: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: Mutex<Option<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = Mutex::new(None);
    let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    locks
        .get_or_insert_with(HashMap::new)
        .entry(tag.to_string())
        .or_default()
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_name_the_image_not_the_registry() {
        assert_eq!(slug("postgres:16"), "postgres");
        assert_eq!(slug("127.0.0.1:5000/team/app:1"), "app");
        assert_eq!(slug("dockhand-test/busybox"), "busybox");
    }
}
