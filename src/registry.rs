//! Talking to registries through the engine: pulls (one at a time per image
//! across the process) and pushes, with progress through tracing and errors
//! that tell a missing image from an unreachable registry from refused
//! credentials.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bollard::models::ProgressDetail;
use bollard::query_parameters::{CreateImageOptionsBuilder, PushImageOptionsBuilder};
use futures::StreamExt;

use crate::auth::{self, Credentials};
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::image::Reference;

/// Where the credentials for a registry come from.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthSource {
    pub credentials: Option<Credentials>,
    pub docker_config: Option<PathBuf>,
}

impl AuthSource {
    async fn for_registry(&self, registry: &str) -> Result<bollard::auth::DockerCredentials> {
        let (explicit, config, registry_owned) = (
            self.credentials.clone(),
            self.docker_config.clone(),
            registry.to_string(),
        );
        // Reading config.json is file I/O: keep it off the engine runtime's threads.
        let found = tokio::task::spawn_blocking(move || {
            auth::resolve(explicit.as_ref(), config.as_deref(), &registry_owned)
        })
        .await
        .map_err(|e| Error::invalid("Docker config", format!("reading it panicked: {e}")))??;
        // The engine (API 1.41) insists on an X-Registry-Auth header for
        // pushes even without credentials: an empty one will do.
        Ok(match found {
            Some(c) => c.to_engine(registry),
            None => bollard::auth::DockerCredentials {
                serveraddress: Some(registry.to_string()),
                ..Default::default()
            },
        })
    }
}

type Flight = Arc<tokio::sync::Mutex<Option<Instant>>>;

/// The lock of one image reference (pull or build), holding when its last
/// pull finished.
pub(crate) fn flight(reference: &str) -> Flight {
    static FLIGHTS: Mutex<Option<HashMap<String, Flight>>> = Mutex::new(None);
    let mut map = FLIGHTS.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new)
        .entry(reference.to_string())
        .or_default()
        .clone()
}

/// Pulls `reference`. Concurrent callers for the same reference wait for the
/// pull in flight and take its result instead of pulling again.
pub(crate) async fn pull(engine: &Engine, reference: &str, auth: &AuthSource) -> Result<()> {
    let asked = Instant::now();
    let lock = flight(reference);
    let mut last = lock.lock().await;
    if last.is_some_and(|done| done >= asked) {
        tracing::debug!(image = %reference, "pulled meanwhile by another test; not pulling again");
        return Ok(());
    }
    pull_now(engine, reference, auth).await?;
    *last = Some(Instant::now());
    Ok(())
}

async fn pull_now(engine: &Engine, reference: &str, auth: &AuthSource) -> Result<()> {
    let parsed = Reference::parse(reference);
    let creds = auth.for_registry(parsed.registry()).await?;
    let repo = parsed.repository_with_registry();
    let tag = parsed
        .digest
        .as_ref()
        .or(parsed.tag.as_ref())
        .map_or("latest", |t| t.as_str());
    let opts = CreateImageOptionsBuilder::default()
        .from_image(&repo)
        .tag(tag)
        .build();
    let stream = engine.docker().create_image(Some(opts), None, Some(creds));
    follow("pull", &parsed, stream, |info| Event {
        error: info.error_detail.and_then(|d| d.message),
        layer: info.id,
        status: info.status,
        detail: info.progress_detail,
    })
    .await
}

/// One message of a pull or push stream.
struct Event {
    error: Option<String>,
    layer: Option<String>,
    status: Option<String>,
    detail: Option<ProgressDetail>,
}

/// Follows a pull or push to its end, reporting progress; an error in the
/// stream becomes the error that says what went wrong.
async fn follow<T>(
    verb: &'static str,
    image: &Reference,
    mut stream: impl futures::Stream<Item = Result<T, bollard::errors::Error>> + Unpin,
    event: impl Fn(T) -> Event,
) -> Result<()> {
    let reference = image.to_string();
    tracing::info!(image = %reference, registry = %image.registry(), "{verb}ing image");
    let mut progress = Progress::new(verb, &reference);
    while let Some(item) = stream.next().await {
        let e = match item {
            Ok(info) => event(info),
            Err(e) => {
                return Err(match engine_message(e) {
                    Ok(message) => classify(verb, image, message),
                    Err(e) => Error::engine(format!("{verb} image `{reference}`"), e),
                })
            }
        };
        if let Some(message) = e.error {
            return Err(classify(verb, image, message));
        }
        progress.update(e.layer.as_deref(), e.status.as_deref(), e.detail.as_ref());
    }
    progress.finish();
    Ok(())
}

/// Pushes a local image to the registry its name points at
/// (`127.0.0.1:5000/team/app:1`), with progress through tracing.
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// let engine = dockhand::Engine::shared().await?;
/// engine.tag_image("dockhand-test/busybox:latest", "127.0.0.1:5001/team/bb:1").await?;
/// dockhand::ImagePush::new("127.0.0.1:5001/team/bb:1")
///     .credentials(dockhand::Credentials::new("user", "secret"))
///     .run()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ImagePush {
    image: String,
    auth: AuthSource,
    engine: Option<Engine>,
}

impl ImagePush {
    /// Pushes `image`, a reference naming its registry.
    pub fn new(image: impl Into<String>) -> Self {
        ImagePush {
            image: image.into(),
            auth: AuthSource::default(),
            engine: None,
        }
    }

    /// Logs in with these credentials (otherwise: the Docker config's).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.auth.credentials = Some(credentials);
        self
    }

    /// Reads credentials from this Docker config (a `config.json` or the
    /// folder holding it) instead of `$DOCKER_CONFIG`/`~/.docker`.
    pub fn docker_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth.docker_config = Some(path.into());
        self
    }

    /// Pushes through this engine instead of [`Engine::shared`].
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Pushes the image; returns once the registry has it.
    pub async fn run(self) -> Result<()> {
        let engine = match self.engine.clone() {
            Some(e) => e,
            None => Engine::shared().await?,
        };
        engine::run(async move { push_now(&engine, &self.image, &self.auth).await }).await
    }

    /// [`run`](Self::run) for code without an async runtime.
    pub fn run_blocking(self) -> Result<()> {
        engine::block(self.run())
    }
}

async fn push_now(engine: &Engine, reference: &str, auth: &AuthSource) -> Result<()> {
    let parsed = Reference::parse(reference);
    let creds = auth.for_registry(parsed.registry()).await?;
    let repo = parsed.repository_with_registry();
    let tag = parsed.tag.as_deref().unwrap_or("latest");
    let opts = PushImageOptionsBuilder::default().tag(tag).build();
    let stream = engine.docker().push_image(&repo, Some(opts), Some(creds));
    // bollard's push messages carry no layer id: progress is by message only.
    follow("push", &parsed, stream, |info| Event {
        error: info.error_detail.and_then(|d| d.message),
        layer: None,
        status: info.status,
        detail: info.progress_detail,
    })
    .await
}

/// The engine's own words in an error, whether it answered with an error
/// status or reported the error mid-stream; other errors are handed back.
pub(crate) fn engine_message(
    e: bollard::errors::Error,
) -> std::result::Result<String, bollard::errors::Error> {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => Ok(message),
        bollard::errors::Error::DockerStreamError { error } => Ok(error),
        other => Err(other),
    }
}

/// Turns the engine's message about a failed pull or push into the error
/// that says what to do. The engine gives no codes, only text: these are
/// the phrasings of Docker 20.10 to current engines and Distribution registries.
pub(crate) fn classify(verb: &str, image: &Reference, message: String) -> Error {
    let m = message.to_ascii_lowercase();
    let registry = image.registry().to_string();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&[
        "connection refused",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "server gave http response to https client",
        "tls: ",
        "x509:",
        "context deadline exceeded",
        "connection reset",
    ]) {
        return Error::RegistryUnreachable {
            registry,
            image: image.to_string(),
            message,
        };
    }
    if has(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "incorrect username or password",
        "denied: requested access",
    ]) {
        return Error::RegistryAuthRefused {
            registry,
            image: image.to_string(),
            message,
        };
    }
    if has(&[
        "manifest unknown",
        "not found",
        "does not exist",
        "pull access denied",
        "no such image",
    ]) {
        let tag = image
            .tag
            .as_deref()
            .or(image.digest.as_deref())
            .unwrap_or("latest");
        let place = if verb == "push" {
            "this engine".to_string()
        } else {
            format!("registry `{registry}`")
        };
        return Error::ImageNotFound {
            image: image.to_string(),
            message: format!(
                "{place} has no repository `{}` with tag `{tag}` (engine: {message})",
                image.path
            ),
        };
    }
    Error::Engine {
        action: format!("{verb} image `{image}` (registry `{registry}`)"),
        status: None,
        message,
    }
}

/// Progress of a pull or push, reported through tracing: each layer's
/// milestones at debug, overall bytes and percent at info every 10 %.
struct Progress {
    verb: &'static str,
    image: String,
    started: Instant,
    layers: HashMap<String, (u64, u64)>,
    done_layers: usize,
    next_percent: u64,
}

impl Progress {
    fn new(verb: &'static str, image: &str) -> Self {
        Progress {
            verb,
            image: image.to_string(),
            started: Instant::now(),
            layers: HashMap::new(),
            done_layers: 0,
            next_percent: 10,
        }
    }

    fn update(
        &mut self,
        layer: Option<&str>,
        status: Option<&str>,
        detail: Option<&ProgressDetail>,
    ) {
        let (image, verb) = (&self.image, self.verb);
        let status = status.unwrap_or_default();
        let (Some(layer), Some(d)) = (layer, detail) else {
            tracing::debug!(%image, "{verb}: {status}");
            return;
        };
        if matches!(
            status,
            "Pull complete" | "Already exists" | "Pushed" | "Layer already exists"
        ) {
            self.done_layers += 1;
            tracing::debug!(%image, layer, "{verb}: {status} ({} layers done)", self.done_layers);
        }
        if let (Some(cur), Some(total)) = (d.current, d.total) {
            if total > 0 {
                self.layers
                    .insert(layer.to_string(), (cur.max(0) as u64, total as u64));
            }
        } else {
            self.layers.entry(layer.to_string()).or_insert((0, 0));
            tracing::trace!(%image, layer, "{verb}: {status}");
        }
        let (cur, total) = self.bytes();
        if let Some(percent) = (cur * 100).checked_div(total) {
            if percent >= self.next_percent {
                tracing::info!(
                    %image,
                    layers = self.layers.len(),
                    bytes = cur,
                    total,
                    "{verb}: {percent}% of {} layers' bytes",
                    self.layers.len()
                );
                self.next_percent = (percent / 10 + 1) * 10;
            }
        }
    }

    fn bytes(&self) -> (u64, u64) {
        self.layers
            .values()
            .fold((0, 0), |(c, t), (lc, lt)| (c + lc.min(lt), t + lt))
    }

    fn finish(&self) {
        let (_, total) = self.bytes();
        tracing::info!(
            image = %self.image,
            layers = self.layers.len(),
            bytes = total,
            "{} done in {:.1?}",
            self.verb,
            self.started.elapsed()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(message: &str) -> &'static str {
        match classify(
            "pull",
            &Reference::parse("127.0.0.1:5000/x/y:1"),
            message.into(),
        ) {
            Error::RegistryUnreachable { .. } => "unreachable",
            Error::RegistryAuthRefused { .. } => "auth",
            Error::ImageNotFound { .. } => "not found",
            _ => "other",
        }
    }

    #[test]
    fn engine_messages_are_told_apart() {
        assert_eq!(
            kind("manifest for 127.0.0.1:5000/x/y:1 not found: manifest unknown: manifest unknown"),
            "not found"
        );
        assert_eq!(
            kind(
                r#"Get "http://127.0.0.1:5009/v2/": dial tcp 127.0.0.1:5009: connect: connection refused"#
            ),
            "unreachable"
        );
        assert_eq!(
            kind(r#"Head "http://127.0.0.1:5001/v2/x/bb/manifests/1": no basic auth credentials"#),
            "auth"
        );
        assert_eq!(kind("unauthorized: authentication required"), "auth");
        assert_eq!(kind("something else"), "other");
    }

    #[test]
    fn not_found_names_repository_tag_and_registry() {
        let e = classify(
            "pull",
            &Reference::parse("127.0.0.1:5000/x/y:1"),
            "manifest unknown".into(),
        );
        let text = e.to_string();
        assert!(
            text.contains("`127.0.0.1:5000`") && text.contains("`x/y`") && text.contains("`1`"),
            "{text}"
        );
    }

    #[test]
    fn progress_sums_layers() {
        let mut p = Progress::new("pull", "x");
        let d = |c, t| ProgressDetail {
            current: Some(c),
            total: Some(t),
        };
        p.update(Some("a"), Some("Downloading"), Some(&d(5, 10)));
        p.update(Some("b"), Some("Downloading"), Some(&d(20, 30)));
        assert_eq!(p.bytes(), (25, 40));
        assert_eq!(p.next_percent, 70);
    }
}
