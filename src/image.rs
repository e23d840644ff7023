//! Images on the engine: names and the prefix/mirror substitution, the pull
//! policy, making sure a container's image is there, and housekeeping
//! (list, inspect, tag, remove).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;

use bollard::models::{ImageInspect, ImageSummary};
use bollard::query_parameters::{
    ListImagesOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};

use crate::auth::Credentials;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::registry::{self, AuthSource};
use crate::spec::ContainerSpec;

/// The environment variable holding the default [`PullPolicy`].
pub const ENV_PULL_POLICY: &str = "DOCKHAND_PULL_POLICY";
/// The environment variable holding the image-name prefix (a mirror such as
/// `127.0.0.1:5000/`) put before every Docker Hub image.
pub const ENV_IMAGE_PREFIX: &str = "DOCKHAND_IMAGE_PREFIX";

/// When to pull a container's image from its registry.
///
/// The default comes from `DOCKHAND_PULL_POLICY` (`if-missing`, `always` or
/// `never`), else [`IfMissing`](PullPolicy::IfMissing).
///
/// ```
/// use dockhand::PullPolicy;
/// assert_eq!("always".parse::<PullPolicy>().unwrap(), PullPolicy::Always);
/// assert_eq!(PullPolicy::default(), PullPolicy::IfMissing);
/// let spec = dockhand::ContainerSpec::new("postgres:16").pull_policy(PullPolicy::Never);
/// # let _ = spec;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Pull only when the engine lacks the image (costs nothing when it has it).
    #[default]
    IfMissing,
    /// Pull every time, to get what the tag points at now.
    Always,
    /// Never pull: fail when the engine lacks the image.
    Never,
}

impl FromStr for PullPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "if-missing" | "ifmissing" | "missing" => Ok(PullPolicy::IfMissing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            _ => Err(Error::invalid(
                format!("pull policy `{s}`"),
                "use `if-missing`, `always` or `never`",
            )),
        }
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PullPolicy::IfMissing => "if-missing",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
        })
    }
}

impl PullPolicy {
    /// The policy in `DOCKHAND_PULL_POLICY`, or the default when unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var(ENV_PULL_POLICY) {
            Ok(v) if !v.trim().is_empty() => v.parse().map_err(|_| {
                Error::invalid(
                    format!("{ENV_PULL_POLICY}=`{v}`"),
                    "use `if-missing`, `always` or `never`",
                )
            }),
            _ => Ok(PullPolicy::default()),
        }
    }
}

/// An image reference taken apart: `[registry/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub registry: Option<String>,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub(crate) fn parse(image: &str) -> Self {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        // The first component names a registry when it looks like a host
        // (the same rule as the Docker CLI): a dot, a port, or `localhost`.
        let (registry, remainder) = match rest.split_once('/') {
            Some((first, r))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_string()), r)
            }
            _ => (None, rest),
        };
        let (path, tag) = match remainder.rsplit_once(':') {
            Some((p, t)) => (p.to_string(), Some(t.to_string())),
            None => (remainder.to_string(), None),
        };
        Reference {
            registry,
            path,
            tag,
            digest,
        }
    }

    /// The registry asked for this image (`docker.io` when none is named).
    pub(crate) fn registry(&self) -> &str {
        self.registry.as_deref().unwrap_or("docker.io")
    }

    pub(crate) fn is_docker_hub(&self) -> bool {
        matches!(
            self.registry.as_deref(),
            None | Some("docker.io" | "index.docker.io" | "registry-1.docker.io")
        )
    }

    /// `[registry/]path`, what the engine's pull and push calls name.
    pub(crate) fn repository_with_registry(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.path),
            None => self.path.clone(),
        }
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.repository_with_registry(), self.suffix())
    }
}

/// The names to look for `image` under, best first, when `prefix` (a mirror
/// of Docker Hub) is set.
///
/// Only Docker Hub images are redirected (`postgres:16`, `team/app`,
/// `docker.io/team/app`); an image naming another registry is left alone.
/// Official images are tried as written (`<prefix>postgres:16`, how a mirror
/// filled by `docker tag` holds them), then with `library/` (how a
/// pull-through cache holds them); `library/x` is tried the other way round.
pub(crate) fn prefixed_names(image: &str, prefix: &str) -> Vec<String> {
    let prefix = prefix.trim();
    let parsed = Reference::parse(image);
    if prefix.is_empty() || !parsed.is_docker_hub() {
        return vec![image.to_string()];
    }
    let prefix = prefix.trim_end_matches('/');
    let suffix = parsed.suffix();
    let mut names = vec![format!("{prefix}/{}{suffix}", parsed.path)];
    if !parsed.path.contains('/') {
        names.push(format!("{prefix}/library/{}{suffix}", parsed.path));
    } else if let Some(short) = parsed.path.strip_prefix("library/") {
        names.push(format!("{prefix}/{short}{suffix}"));
    }
    names
}

static BUILT_HERE: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Remembers a reference built by [`ImageBuild`](crate::ImageBuild) in this
/// process: a local image, never looked for at a mirror.
pub(crate) fn mark_built(reference: &str) {
    let mut set = BUILT_HERE.lock().unwrap_or_else(|e| e.into_inner());
    set.get_or_insert_with(HashSet::new)
        .insert(reference.to_string());
}

fn is_built_here(reference: &str) -> bool {
    let set = BUILT_HERE.lock().unwrap_or_else(|e| e.into_inner());
    set.as_ref().is_some_and(|s| s.contains(reference))
}

/// How a container's image is found or fetched; part of a
/// [`ContainerSpec`] and of an [`ImagePull`].
#[derive(Debug, Clone, Default)]
pub(crate) struct PullOptions {
    policy: Option<PullPolicy>,
    auth: AuthSource,
    prefix: Option<String>,
    no_prefix: bool,
}

/// Where to look for an image, and what to do when it is not there.
struct Plan {
    policy: PullPolicy,
    /// Names the image may already be on the engine under, best first.
    local: Vec<String>,
    /// Names to pull, best first.
    remote: Vec<String>,
}

impl PullOptions {
    fn plan(&self, image: &str) -> Result<Plan> {
        let policy = match self.policy {
            Some(p) => p,
            None => PullPolicy::from_env()?,
        };
        let prefix = match &self.prefix {
            Some(p) => p.clone(),
            None => std::env::var(ENV_IMAGE_PREFIX).unwrap_or_default(),
        };
        if is_built_here(image) {
            // Built in this process: local by definition, never pulled.
            return Ok(Plan {
                policy: PullPolicy::Never,
                local: vec![image.to_string()],
                remote: Vec::new(),
            });
        }
        if self.no_prefix || prefix.trim().is_empty() {
            return Ok(Plan {
                policy,
                local: vec![image.to_string()],
                remote: vec![image.to_string()],
            });
        }
        let remote = prefixed_names(image, &prefix);
        let mut local = remote.clone();
        // An image the engine has under its plain name (built locally, or
        // loaded by the CI) is used as it is; it is never pulled that way,
        // which would reach past the mirror.
        if !local.iter().any(|n| n == image) {
            local.push(image.to_string());
        }
        Ok(Plan {
            policy,
            local,
            remote,
        })
    }
}

/// Finds or fetches `image` according to `opts`, handing each name it may be
/// found under to `probe`, which answers `Ok(None)` when the engine lacks it.
///
/// With [`PullPolicy::IfMissing`] and the image present, this costs exactly
/// one probe: no extra engine round-trip.
pub(crate) async fn obtain<T, F, Fut>(
    engine: &Engine,
    image: &str,
    opts: &PullOptions,
    mut probe: F,
) -> Result<T>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let plan = opts.plan(image)?;
    if plan.policy != PullPolicy::Always {
        for name in &plan.local {
            if let Some(found) = probe(name.clone()).await? {
                if name != image {
                    tracing::debug!(%image, found_as = %name, "image found under a substituted name");
                }
                return Ok(found);
            }
        }
        if plan.policy == PullPolicy::Never {
            return Err(Error::ImageNotFound {
                image: image.to_string(),
                message: format!(
                    "the engine has no image named {}, and the pull policy is `never` \
                     (set by the spec or {ENV_PULL_POLICY})",
                    quoted(&plan.local)
                ),
            });
        }
    }
    let mut first_err = None;
    for name in &plan.remote {
        match registry::pull(engine, name, &opts.auth).await {
            Ok(()) => {
                return probe(name.clone())
                    .await?
                    .ok_or_else(|| Error::ImageNotFound {
                        image: name.clone(),
                        message: "pulled, but the engine does not find it afterwards".into(),
                    })
            }
            // A mirror may hold an official image with or without `library/`.
            Err(e @ Error::ImageNotFound { .. }) => {
                tracing::debug!(image = %name, "not in the registry: {e}");
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_err.expect("at least one name to pull"))
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// True when the engine's answer means the image is not there.
pub(crate) fn is_missing_image(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, message }
        if message.contains("No such image") || message.contains("not found"))
}

/// The probe for [`obtain`] that only looks: `name` and the image's id when
/// the engine has it.
pub(crate) async fn found(engine: &Engine, name: String) -> Result<Option<(String, String)>> {
    match engine.docker().inspect_image(&name).await {
        Ok(i) => Ok(Some((name, i.id.unwrap_or_default()))),
        Err(e) if is_missing_image(&e) => Ok(None),
        Err(e) => Err(Error::engine(format!("inspect image `{name}`"), e)),
    }
}

/// Pulls an image (or finds it on the engine) by the same rules a
/// [`ContainerSpec`] follows: pull policy, `DOCKHAND_IMAGE_PREFIX`, credentials.
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// use dockhand::{Credentials, ImagePull, PullPolicy};
/// let name = ImagePull::new("127.0.0.1:5001/team/app:1")
///     .policy(PullPolicy::Always)
///     .credentials(Credentials::new("user", "secret"))
///     .run()
///     .await?;
/// assert_eq!(name, "127.0.0.1:5001/team/app:1");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ImagePull {
    image: String,
    opts: PullOptions,
    engine: Option<Engine>,
}

impl ImagePull {
    /// Pulls `image`, e.g. `postgres:16` or `127.0.0.1:5000/team/app:1`.
    pub fn new(image: impl Into<String>) -> Self {
        ImagePull {
            image: image.into(),
            opts: PullOptions::default(),
            engine: None,
        }
    }

    /// When to pull (default: `DOCKHAND_PULL_POLICY`, else if-missing).
    pub fn policy(mut self, policy: PullPolicy) -> Self {
        self.opts.policy = Some(policy);
        self
    }

    /// Logs in to the registry with these credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.opts.auth.credentials = Some(credentials);
        self
    }

    /// Reads credentials from this Docker config (a `config.json` or its
    /// folder) instead of `$DOCKER_CONFIG`/`~/.docker`.
    pub fn docker_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.opts.auth.docker_config = Some(path.into());
        self
    }

    /// Puts this prefix (a Docker Hub mirror, e.g. `127.0.0.1:5000/`) before
    /// the image name instead of `DOCKHAND_IMAGE_PREFIX`; see
    /// [`ContainerSpec::image_prefix`].
    pub fn image_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.opts.prefix = Some(prefix.into());
        self
    }

    /// Ignores `DOCKHAND_IMAGE_PREFIX` for this image.
    pub fn no_image_prefix(mut self) -> Self {
        self.opts.no_prefix = true;
        self
    }

    /// Pulls through this engine instead of [`Engine::shared`].
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Makes sure the engine has the image; returns the name it has it under
    /// (the prefixed name when `DOCKHAND_IMAGE_PREFIX` applies).
    pub async fn run(self) -> Result<String> {
        let engine = match self.engine.clone() {
            Some(e) => e,
            None => Engine::shared().await?,
        };
        engine::run(async move {
            let probe = |name| {
                let engine = engine.clone();
                async move { found(&engine, name).await }
            };
            let (name, _id) = obtain(&engine, &self.image, &self.opts, probe).await?;
            Ok(name)
        })
        .await
    }

    /// [`run`](Self::run) for code without an async runtime.
    pub fn run_blocking(self) -> Result<String> {
        engine::block(self.run())
    }
}

impl ContainerSpec {
    /// When to pull the image (default: `DOCKHAND_PULL_POLICY`, else
    /// [`PullPolicy::IfMissing`]).
    pub fn pull_policy(mut self, policy: PullPolicy) -> Self {
        self.pull.policy = Some(policy);
        self
    }

    /// Logs in to the image's registry with these credentials when pulling.
    pub fn registry_credentials(mut self, credentials: Credentials) -> Self {
        self.pull.auth.credentials = Some(credentials);
        self
    }

    /// Reads registry credentials from this Docker config (a `config.json` or
    /// its folder) instead of `$DOCKER_CONFIG`/`~/.docker`.
    pub fn docker_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.pull.auth.docker_config = Some(path.into());
        self
    }

    /// Looks for Docker Hub images at this mirror (e.g. `127.0.0.1:5000/`)
    /// instead of the one in `DOCKHAND_IMAGE_PREFIX`.
    ///
    /// Only images that name no registry (or `docker.io`) are redirected:
    /// `x/y:tag` runs from `127.0.0.1:5000/x/y:tag`; an official image such as
    /// `postgres:16` is looked for as `<prefix>postgres:16`, then
    /// `<prefix>library/postgres:16`; `ghcr.io/x/y` is left alone. An image
    /// the engine already has under its plain name is used as it is.
    ///
    /// ```
    /// let spec = dockhand::ContainerSpec::new("x/y:tag").image_prefix("127.0.0.1:5000/");
    /// # let _ = spec;
    /// ```
    pub fn image_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.pull.prefix = Some(prefix.into());
        self
    }

    /// Uses the image name as written, ignoring `DOCKHAND_IMAGE_PREFIX`: for
    /// images built or loaded locally (images built by
    /// [`ImageBuild`](crate::ImageBuild) in this process are never prefixed).
    pub fn no_image_prefix(mut self) -> Self {
        self.pull.no_prefix = true;
        self
    }
}

/// Which images [`Engine::list_images`] returns.
///
/// ```
/// let filter = dockhand::ImageFilter::new()
///     .label("dockhand.managed", "true")
///     .reference("dockhand-build/*");
/// # let _ = filter;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    filters: HashMap<String, Vec<String>>,
}

impl ImageFilter {
    /// Every image.
    pub fn new() -> Self {
        Self::default()
    }

    /// Images carrying label `key` with `value`.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.push("label", format!("{key}={value}"));
        self
    }

    /// Images carrying label `key`, whatever its value.
    pub fn label_key(mut self, key: &str) -> Self {
        self.push("label", key.to_string());
        self
    }

    /// Images whose name matches `pattern` (`repo`, `repo:tag`, globs like `team/*`).
    pub fn reference(mut self, pattern: &str) -> Self {
        self.push("reference", pattern.to_string());
        self
    }

    /// Images created by this process's session (label `dockhand.session`).
    pub fn this_session(self) -> Self {
        self.label(crate::session::LABEL_SESSION, crate::session::session_id())
    }

    fn push(&mut self, kind: &str, value: String) {
        self.filters
            .entry(kind.to_string())
            .or_default()
            .push(value);
    }
}

/// Image housekeeping: the `docker images`, `image inspect`, `tag` and `rmi`
/// of dockhand. Pushing is [`ImagePush`](crate::ImagePush).
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// let engine = dockhand::Engine::shared().await?;
/// engine.tag_image("dockhand-test/busybox:latest", "127.0.0.1:5000/team/bb:1").await?;
/// for image in engine.list_images(dockhand::ImageFilter::new().reference("127.0.0.1:5000/team/*")).await? {
///     println!("{} {:?}", image.id, image.repo_tags);
/// }
/// assert!(engine.remove_image("127.0.0.1:5000/team/bb:1").await?);
/// # Ok(()) }
/// ```
impl Engine {
    /// The images matching `filter` (tagged ones; not intermediate layers).
    pub async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
        let docker = self.docker().clone();
        engine::run(async move {
            let opts = ListImagesOptionsBuilder::default()
                .filters(&filter.filters)
                .build();
            docker
                .list_images(Some(opts))
                .await
                .map_err(|e| Error::engine("list images", e))
        })
        .await
    }

    /// The engine's description of an image (`docker image inspect`).
    pub async fn inspect_image(&self, reference: &str) -> Result<ImageInspect> {
        let (docker, reference) = (self.docker().clone(), reference.to_string());
        engine::run(async move {
            docker.inspect_image(&reference).await.map_err(|e| {
                if is_missing_image(&e) {
                    Error::ImageNotFound {
                        image: reference.clone(),
                        message: "the engine has no image by this name".into(),
                    }
                } else {
                    Error::engine(format!("inspect image `{reference}`"), e)
                }
            })
        })
        .await
    }

    /// Whether the engine has an image by this name or id.
    pub async fn image_exists(&self, reference: &str) -> Result<bool> {
        let (engine, reference) = (self.clone(), reference.to_string());
        engine::run(async move { found(&engine, reference).await.map(|f| f.is_some()) }).await
    }

    /// Gives the image `source` the name `target` (`repo[:tag]`, tag
    /// default `latest`), like `docker tag`.
    pub async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let (docker, source, target) = (
            self.docker().clone(),
            source.to_string(),
            target.to_string(),
        );
        engine::run(async move {
            let parsed = Reference::parse(&target);
            let tag = parsed.tag.clone().unwrap_or_else(|| "latest".into());
            let opts = TagImageOptionsBuilder::default()
                .repo(&parsed.repository_with_registry())
                .tag(&tag)
                .build();
            docker
                .tag_image(&source, Some(opts))
                .await
                .map_err(|e| Error::engine(format!("tag image `{source}` as `{target}`"), e))
        })
        .await
    }

    /// Removes an image name (and the image, when no other name or container
    /// uses it), like `docker rmi`. Returns `false` when there was no such image.
    pub async fn remove_image(&self, reference: &str) -> Result<bool> {
        let (docker, reference) = (self.docker().clone(), reference.to_string());
        engine::run(async move { remove(&docker, &reference).await }).await
    }
}

/// `docker rmi REFERENCE`; `Ok(false)` when it was gone already.
pub(crate) async fn remove(docker: &bollard::Docker, reference: &str) -> Result<bool> {
    tracing::debug!(image = %reference, "engine: remove image");
    let opts = RemoveImageOptionsBuilder::default().build();
    match docker.remove_image(reference, Some(opts), None).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(Error::engine(format!("remove image `{reference}`"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_take_apart() {
        let r = Reference::parse("127.0.0.1:5000/x/y:1");
        assert_eq!(r.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!((r.path.as_str(), r.tag.as_deref()), ("x/y", Some("1")));
        let r = Reference::parse("postgres");
        assert_eq!(
            (r.registry(), r.path.as_str(), r.tag.as_deref()),
            ("docker.io", "postgres", None)
        );
        let r = Reference::parse("localhost/app@sha256:abc");
        assert_eq!(r.registry.as_deref(), Some("localhost"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(r.to_string(), "localhost/app@sha256:abc");
        assert_eq!(Reference::parse("team/app:2").registry, None);
    }

    #[test]
    fn prefix_applies_to_docker_hub_images_only() {
        let p = "127.0.0.1:5000/";
        assert_eq!(
            prefixed_names("postgres:16", p),
            [
                "127.0.0.1:5000/postgres:16",
                "127.0.0.1:5000/library/postgres:16"
            ]
        );
        assert_eq!(
            prefixed_names("library/postgres:16", p),
            [
                "127.0.0.1:5000/library/postgres:16",
                "127.0.0.1:5000/postgres:16"
            ]
        );
        assert_eq!(prefixed_names("x/y:tag", p), ["127.0.0.1:5000/x/y:tag"]);
        assert_eq!(
            prefixed_names("docker.io/x/y", "mirror.local/hub"),
            ["mirror.local/hub/x/y"]
        );
        assert_eq!(prefixed_names("ghcr.io/x/y:1", p), ["ghcr.io/x/y:1"]);
        assert_eq!(
            prefixed_names("localhost:5000/x:1", p),
            ["localhost:5000/x:1"]
        );
        assert_eq!(prefixed_names("x/y:1", "  "), ["x/y:1"]);
    }

    #[test]
    fn pull_policies_parse() {
        assert_eq!(
            "If_Missing".parse::<PullPolicy>().unwrap(),
            PullPolicy::IfMissing
        );
        assert_eq!("never".parse::<PullPolicy>().unwrap(), PullPolicy::Never);
        assert!("sometimes".parse::<PullPolicy>().is_err());
        assert_eq!(PullPolicy::Always.to_string(), "always");
    }
}
