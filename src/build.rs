//! Building images from a Dockerfile, cached by the content of the context.
//!
//! The tag is a hash of what the build sees: the files left after
//! `.dockerignore` (path, permission bits, content), the Dockerfile's path,
//! the build args and the target stage. Hashing reads the files but sends
//! nothing: when the engine has the tag, the build is skipped and the
//! context never uploaded. Any change gives a new tag, so a stale image is
//! never used (the failure mode of caching by name alone).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::auth::{self, Credentials};
use crate::dockerignore::Ignore;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::session::{self, LABEL_TEMPORARY};
use crate::{image, registry};

/// How many lines of build output an error shows.
const ERROR_TAIL: usize = 20;

/// An image built from a Dockerfile and its context, cached by content.
///
/// The context comes from a folder ([`from_dir`](Self::from_dir)), from a
/// Dockerfile written inline plus files ([`from_dockerfile`](Self::from_dockerfile)),
/// or from a tar ([`from_tar`](Self::from_tar)). The image is named
/// `<name>:<hash>`, where the hash covers everything the build sees, so an
/// unchanged context is neither rebuilt nor even uploaded, and any change
/// builds a new image. Built images are kept (they are the cache); use
/// [`build_temporary`](Self::build_temporary) for one removed after use.
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// let image = dockhand::ImageBuild::from_dir("examples/quickstart")
///     .name("quickstart")
///     .arg("VERSION", "1.2")
///     .build()
///     .await?; // e.g. "quickstart:3f2a9c01d4e5b6a7"
/// let c = dockhand::ContainerSpec::new(image).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ImageBuild {
    source: Source,
    dockerfile: String,
    files: Vec<(String, FileData)>,
    args: BTreeMap<String, String>,
    target: Option<String>,
    name: Option<String>,
    credentials: Vec<(String, Credentials)>,
    docker_config: Option<PathBuf>,
    engine: Option<Engine>,
}

#[derive(Debug, Clone)]
enum Source {
    Dir(PathBuf),
    Inline(Arc<Vec<u8>>),
    Tar(Arc<Vec<u8>>),
}

/// What a context file holds: a file on disk (read when hashing and again
/// when packing, never kept in memory) or bytes.
#[derive(Debug, Clone)]
enum FileData {
    Disk(PathBuf),
    Bytes(Arc<Vec<u8>>),
}

#[derive(Debug, Clone)]
enum Kind {
    File(FileData),
    Dir,
    Symlink(String),
}

/// One entry of the context as the engine will see it.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    mode: u32,
    kind: Kind,
}

/// What [`ImageBuild::build_report`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BuildReport {
    /// The image reference, `name:hash`.
    pub reference: String,
    /// False when an image for this exact context existed: nothing was
    /// uploaded or built.
    pub built: bool,
    /// Bytes of context uploaded to the engine (0 when not built).
    pub uploaded_bytes: u64,
    /// The build output (empty when not built).
    pub log: Vec<String>,
    /// How long hashing, and building if needed, took.
    pub elapsed: Duration,
}

impl ImageBuild {
    fn with_source(source: Source) -> Self {
        ImageBuild {
            source,
            dockerfile: "Dockerfile".into(),
            files: Vec::new(),
            args: BTreeMap::new(),
            target: None,
            name: None,
            credentials: Vec::new(),
            docker_config: None,
            engine: None,
        }
    }

    /// Builds from the folder `context`, with the `Dockerfile` at its top
    /// (see [`dockerfile`](Self::dockerfile)); its `.dockerignore` is honoured.
    pub fn from_dir(context: impl Into<PathBuf>) -> Self {
        Self::with_source(Source::Dir(context.into()))
    }

    /// Builds from a Dockerfile given as text; add the files it copies with
    /// [`file`](Self::file) and [`file_from`](Self::file_from).
    ///
    /// ```no_run
    /// # async fn demo() -> dockhand::Result<()> {
    /// let image = dockhand::ImageBuild::from_dockerfile(
    ///     "FROM dockhand-test/busybox\nCOPY app.conf /etc/app.conf\n",
    /// )
    /// .file("app.conf", "port = 8080\n")
    /// .name("app-conf")
    /// .build()
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub fn from_dockerfile(dockerfile: impl Into<String>) -> Self {
        Self::with_source(Source::Inline(Arc::new(dockerfile.into().into_bytes())))
    }

    /// Builds from a context already packed as a tar (uncompressed), with the
    /// `Dockerfile` at its top; a `.dockerignore` in it is honoured.
    pub fn from_tar(tar: impl Into<Vec<u8>>) -> Self {
        Self::with_source(Source::Tar(Arc::new(tar.into())))
    }

    /// The Dockerfile's path inside the context (default `Dockerfile`).
    pub fn dockerfile(mut self, path: impl Into<String>) -> Self {
        self.dockerfile = path.into();
        self
    }

    /// Adds (or replaces) a file of the context at `path` (relative, `/`-separated).
    pub fn file(mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.files
            .push((path.into(), FileData::Bytes(Arc::new(content.into()))));
        self
    }

    /// Adds (or replaces) a file of the context at `path`, read from `source` on this machine.
    pub fn file_from(mut self, path: impl Into<String>, source: impl Into<PathBuf>) -> Self {
        self.files
            .push((path.into(), FileData::Disk(source.into())));
        self
    }

    /// Sets a build arg (`ARG` in the Dockerfile); part of the cache key.
    pub fn arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.args.insert(key.into(), value.into());
        self
    }

    /// Builds this stage of a multi-stage Dockerfile; part of the cache key.
    pub fn target(mut self, stage: impl Into<String>) -> Self {
        self.target = Some(stage.into());
        self
    }

    /// The image's repository name; the tag is the content hash. Default:
    /// `dockhand-build/<folder name>` (`dockhand-build/context` for inline
    /// and tar contexts).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Credentials for `registry` (e.g. `127.0.0.1:5001`), for pulling
    /// `FROM` images; added to those of the Docker config.
    pub fn registry_credentials(
        mut self,
        registry: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        self.credentials.push((registry.into(), credentials));
        self
    }

    /// Reads registry credentials from this Docker config (a `config.json` or
    /// its folder) instead of `$DOCKER_CONFIG`/`~/.docker`.
    pub fn docker_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.docker_config = Some(path.into());
        self
    }

    /// Builds on this engine instead of [`Engine::shared`].
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Builds the image unless an image for this exact content exists, and
    /// returns its reference (`name:hash`). The image is kept for the next run.
    pub async fn build(self) -> Result<String> {
        Ok(self.build_report().await?.reference)
    }

    /// [`build`](Self::build) for code without an async runtime.
    pub fn build_blocking(self) -> Result<String> {
        engine::block(self.build())
    }

    /// Like [`build`](Self::build), and says whether a build was needed.
    pub async fn build_report(self) -> Result<BuildReport> {
        let engine = self.engine_or_shared().await?;
        Ok(engine::run(build_on(engine, self, false)).await?.0)
    }

    /// Builds an image that is removed when the last handle to it drops: for
    /// images no later run should reuse. It is labelled
    /// `dockhand.temporary=true` and tagged uniquely (`name:hash-tmp-<random>`),
    /// so it never shares a name with the cached image of the same context.
    /// While a handle lives, building the same context again in this process
    /// hands out the same image without building.
    ///
    /// ```no_run
    /// # async fn demo() -> dockhand::Result<()> {
    /// let image = dockhand::ImageBuild::from_dockerfile("FROM dockhand-test/busybox\n")
    ///     .build_temporary()
    ///     .await?;
    /// let c = dockhand::ContainerSpec::new(image.reference()).start().await?;
    /// drop(c);
    /// drop(image); // the image is removed
    /// # Ok(()) }
    /// ```
    pub async fn build_temporary(self) -> Result<TemporaryImage> {
        let engine = self.engine_or_shared().await?;
        let (_, inner) = engine::run(build_on(engine, self, true)).await?;
        Ok(TemporaryImage {
            inner: inner.expect("a temporary build returns its handle"),
        })
    }

    async fn engine_or_shared(&self) -> Result<Engine> {
        match self.engine.clone() {
            Some(e) => Ok(e),
            None => Engine::shared().await,
        }
    }

    fn describe(&self) -> String {
        match &self.source {
            Source::Dir(d) => format!("image build from `{}`", d.display()),
            Source::Inline(_) => "image build from an inline Dockerfile".into(),
            Source::Tar(_) => "image build from a tar context".into(),
        }
    }

    fn default_name(&self) -> String {
        let base = match &self.source {
            Source::Dir(d) => d
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
                .map(|n| {
                    n.chars()
                        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                        .collect()
                })
                .filter(|n: &String| {
                    !n.is_empty() && n.starts_with(|c: char| c.is_ascii_alphanumeric())
                })
                .unwrap_or_else(|| "context".into()),
            _ => "context".into(),
        };
        format!("dockhand-build/{base}")
    }

    /// Every entry of the context as the engine will see it, sorted by path.
    fn entries(&self) -> Result<Vec<Entry>> {
        let what = self.describe();
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        match &self.source {
            Source::Dir(dir) => {
                let ignore = read_ignore(&std::fs::read(dir.join(".dockerignore")).ok(), &what)?;
                walk(dir, dir, &ignore, &mut entries).map_err(|e| {
                    Error::io(format!("reading build context `{}`", dir.display()), e)
                })?;
                for path in [self.dockerfile.as_str(), ".dockerignore"] {
                    let on_disk = dir.join(path);
                    if !entries.contains_key(path) && on_disk.is_file() {
                        let mode = std::fs::metadata(&on_disk)
                            .map(|m| stable_mode(&m))
                            .unwrap_or(0o644);
                        entries.insert(
                            path.to_string(),
                            file_entry(path, FileData::Disk(on_disk), mode),
                        );
                    }
                }
            }
            Source::Inline(dockerfile) => {
                let entry =
                    file_entry(&self.dockerfile, FileData::Bytes(dockerfile.clone()), 0o644);
                entries.insert(entry.path.clone(), entry);
            }
            Source::Tar(tar) => {
                let all = untar(tar).map_err(|e| Error::io(format!("reading {what}"), e))?;
                let ignore_text = all.iter().find_map(|e| match (&e.kind, e.path.as_str()) {
                    (Kind::File(FileData::Bytes(b)), ".dockerignore") => Some(b.to_vec()),
                    _ => None,
                });
                let ignore = read_ignore(&ignore_text, &what)?;
                for e in all {
                    if !ignore.excludes(&e.path) || self.always_sent(&e.path) {
                        entries.insert(e.path.clone(), e);
                    }
                }
            }
        }
        for (path, data) in &self.files {
            let path = path.trim_start_matches('/').to_string();
            if path.is_empty() || path.split('/').any(|c| c == ".." || c.is_empty()) {
                return Err(Error::invalid(
                    what,
                    format!(
                        "context file path `{path}` must be relative, without `..` or empty parts"
                    ),
                ));
            }
            if let FileData::Disk(p) = data {
                if !p.is_file() {
                    return Err(Error::invalid(
                        what,
                        format!("`{}` is not a file on this machine", p.display()),
                    ));
                }
            }
            let mode = match data {
                FileData::Disk(p) => std::fs::metadata(p)
                    .map(|m| stable_mode(&m))
                    .unwrap_or(0o644),
                FileData::Bytes(_) => 0o644,
            };
            entries.insert(path.clone(), file_entry(&path, data.clone(), mode));
        }
        if !matches!(
            entries.get(&self.dockerfile),
            Some(Entry {
                kind: Kind::File(_),
                ..
            })
        ) {
            return Err(Error::invalid(
                what,
                format!(
                    "the context has no Dockerfile at `{}`; add one, or set `.dockerfile(path)`",
                    self.dockerfile
                ),
            ));
        }
        Ok(entries.into_values().collect())
    }

    /// The Dockerfile and `.dockerignore` reach the engine even when ignored,
    /// as with the Docker CLI: the builder needs them.
    fn always_sent(&self, path: &str) -> bool {
        path == self.dockerfile || path == ".dockerignore"
    }

    /// The cache key: everything the build sees, and nothing else.
    fn hash(&self, entries: &[Entry]) -> Result<String> {
        let mut h = Sha256::new();
        h.update(b"dockhand-build-v1\0");
        for e in entries {
            h.update(e.path.as_bytes());
            h.update(format!("\0{:o}\0", e.mode).as_bytes());
            match &e.kind {
                Kind::Dir => h.update(b"dir\0"),
                Kind::Symlink(target) => h.update(format!("link\0{target}\0").as_bytes()),
                Kind::File(data) => {
                    h.update(b"file\0");
                    let content = data.sha256().map_err(|err| {
                        Error::io(format!("hashing `{}` of the build context", e.path), err)
                    })?;
                    h.update(content);
                }
            }
        }
        h.update(format!("dockerfile\0{}\0", self.dockerfile).as_bytes());
        for (k, v) in &self.args {
            h.update(format!("arg\0{k}\0{v}\0").as_bytes());
        }
        if let Some(t) = &self.target {
            h.update(format!("target\0{t}\0").as_bytes());
        }
        Ok(format!("{:x}", h.finalize()))
    }
}

fn read_ignore(text: &Option<Vec<u8>>, what: &str) -> Result<Ignore> {
    let text = text
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    Ignore::parse(&text).map_err(|why| Error::invalid(what, format!(".dockerignore: {why}")))
}

fn file_entry(path: &str, data: FileData, mode: u32) -> Entry {
    Entry {
        path: path.to_string(),
        mode,
        kind: Kind::File(data),
    }
}

impl FileData {
    fn sha256(&self) -> std::io::Result<[u8; 32]> {
        let mut h = Sha256::new();
        match self {
            FileData::Bytes(b) => h.update(b.as_slice()),
            FileData::Disk(p) => {
                let mut f = std::fs::File::open(p)?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
        }
        Ok(h.finalize().into())
    }
}

/// Walks the context folder, leaving out what `.dockerignore` excludes.
fn walk(
    root: &Path,
    dir: &Path,
    ignore: &Ignore,
    out: &mut BTreeMap<String, Entry>,
) -> std::io::Result<()> {
    for dirent in std::fs::read_dir(dir)? {
        let path = dirent?.path();
        let rel = path
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        let meta = std::fs::symlink_metadata(&path)?;
        let kept = !ignore.excludes(&rel);
        if meta.is_dir() {
            if ignore.skips_dir(&rel) {
                continue;
            }
            if kept {
                out.insert(
                    rel.clone(),
                    Entry {
                        path: rel,
                        mode: 0o755,
                        kind: Kind::Dir,
                    },
                );
            }
            walk(root, &path, ignore, out)?;
        } else if kept {
            let kind = if meta.file_type().is_symlink() {
                Kind::Symlink(std::fs::read_link(&path)?.to_string_lossy().into_owned())
            } else {
                Kind::File(FileData::Disk(path.clone()))
            };
            out.insert(
                rel.clone(),
                Entry {
                    path: rel,
                    mode: stable_mode(&meta),
                    kind,
                },
            );
        }
    }
    Ok(())
}

/// Reads a tar context into entries.
fn untar(tar: &[u8]) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if path.is_empty() {
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(
                entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            t if t.is_file() => {
                let mut buf = Vec::new();
                entry.read_to_end(&mut buf)?;
                Kind::File(FileData::Bytes(Arc::new(buf)))
            }
            _ => continue,
        };
        out.push(Entry { path, mode, kind });
    }
    Ok(out)
}

/// Packs the entries into the tar the engine receives, with fixed times and
/// owners: only what the hash covers reaches the build.
fn pack(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(e.mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match &e.kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, &e.path, std::io::empty())?;
            }
            Kind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, &e.path, target)?;
            }
            Kind::File(FileData::Bytes(b)) => {
                header.set_size(b.len() as u64);
                builder.append_data(&mut header, &e.path, b.as_slice())?;
            }
            Kind::File(FileData::Disk(p)) => {
                let file = std::fs::File::open(p)?;
                header.set_size(file.metadata()?.len());
                builder.append_data(&mut header, &e.path, file)?;
            }
        }
    }
    builder.into_inner()
}

fn stable_mode(meta: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 != 0 {
            return 0o755;
        }
    }
    let _ = meta;
    0o644
}

/// Hashes the context and builds unless the engine has the image.
/// `temporary`: a unique tag suffix, and the `dockhand.temporary` label.
async fn build_on(
    engine: Engine,
    spec: ImageBuild,
    temporary: bool,
) -> Result<(BuildReport, Option<Arc<TempInner>>)> {
    let started = Instant::now();
    let what = spec.describe();
    let spec = Arc::new(spec);
    let hashed = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || {
            let entries = spec.entries()?;
            let hash = spec.hash(&entries)?;
            Ok::<_, Error>((entries, hash))
        })
        .await
        .map_err(|e| Error::invalid(what.clone(), format!("reading the context panicked: {e}")))??
    };
    let (entries, hash) = hashed;
    let name = spec.name.clone().unwrap_or_else(|| spec.default_name());
    check_name(&name, &what)?;
    let base = format!("{name}:{}", &hash[..16]);
    // Tests building the same context at once build it once.
    let lock = registry::flight(&format!("build {base}"));
    let _guard = lock.lock().await;
    let unbuilt = |reference: String| BuildReport {
        reference,
        built: false,
        uploaded_bytes: 0,
        log: Vec::new(),
        elapsed: started.elapsed(),
    };
    let reference = if temporary {
        if let Some(live) = live_temporary(&base) {
            tracing::debug!(reference = %live.reference, "temporary image for this context is alive; not building");
            return Ok((unbuilt(live.reference.clone()), Some(live)));
        }
        format!("{base}-tmp-{}", session::random_suffix())
    } else {
        if engine.docker().inspect_image(&base).await.is_ok() {
            tracing::debug!(reference = %base, "image for this context exists; not building");
            image::mark_built(&base);
            return Ok((unbuilt(base), None));
        }
        base.clone()
    };
    let auth = {
        let (explicit, config) = (spec.credentials.clone(), spec.docker_config.clone());
        tokio::task::spawn_blocking(move || auth::for_build(&explicit, config.as_deref()))
            .await
            .map_err(|e| {
                Error::invalid(
                    what.clone(),
                    format!("reading the Docker config panicked: {e}"),
                )
            })??
    };
    let tar = tokio::task::spawn_blocking(move || pack(&entries))
        .await
        .map_err(|e| Error::invalid(what.clone(), format!("packing the context panicked: {e}")))?
        .map_err(|e| Error::io(format!("packing the context of {what}"), e))?;
    let uploaded_bytes = tar.len() as u64;
    let mut labels = session::labels();
    if temporary {
        labels.insert(LABEL_TEMPORARY.into(), "true".into());
        // Removed with the process however it ends: the watchdog knows the labels.
        crate::reaper::ensure(&engine);
    }
    let buildargs: HashMap<&str, &str> = spec
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut opts = BuildImageOptionsBuilder::default()
        .dockerfile(&spec.dockerfile)
        .t(&reference)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .buildargs(&buildargs);
    if let Some(t) = &spec.target {
        opts = opts.target(t);
    }
    tracing::info!(%reference, context_bytes = uploaded_bytes, "building image");
    let log = run_build(&engine, opts.build(), auth, tar, &reference).await?;
    image::mark_built(&reference);
    tracing::info!(%reference, "built in {:.1?}", started.elapsed());
    let handle = temporary.then(|| share_temporary(&base, engine.clone(), reference.clone()));
    let report = BuildReport {
        reference,
        built: true,
        uploaded_bytes,
        log,
        elapsed: started.elapsed(),
    };
    Ok((report, handle))
}

type LiveTemporaries = HashMap<String, std::sync::Weak<TempInner>>;

/// Temporary images alive in this process, by `name:hash`.
static LIVE_TEMPORARIES: Mutex<Option<LiveTemporaries>> = Mutex::new(None);

/// The temporary image of this context, if a handle to it still lives.
/// (Once the last handle is gone it cannot come back: its removal is underway.)
fn live_temporary(base: &str) -> Option<Arc<TempInner>> {
    let live = LIVE_TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner());
    live.as_ref()?.get(base)?.upgrade()
}

fn share_temporary(base: &str, engine: Engine, reference: String) -> Arc<TempInner> {
    let inner = Arc::new(TempInner {
        engine,
        reference,
        removed: AtomicBool::new(false),
    });
    let mut live = LIVE_TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner());
    let map = live.get_or_insert_with(HashMap::new);
    map.retain(|_, weak| weak.strong_count() > 0);
    map.insert(base.to_string(), Arc::downgrade(&inner));
    inner
}

/// Streams the build's output through tracing and returns it; a failure
/// names the step and shows the last lines.
async fn run_build(
    engine: &Engine,
    opts: bollard::query_parameters::BuildImageOptions,
    auth: HashMap<String, bollard::auth::DockerCredentials>,
    tar: Vec<u8>,
    reference: &str,
) -> Result<Vec<String>> {
    let mut stream =
        engine
            .docker()
            .build_image(opts, Some(auth), Some(bollard::body_full(tar.into())));
    let mut log: Vec<String> = Vec::new();
    let mut step: Option<String> = None;
    let fail = |step: &Option<String>, log: &[String], message: String| Error::BuildFailed {
        image: reference.to_string(),
        step: step
            .clone()
            .unwrap_or_else(|| "(before the first step)".into()),
        message,
        output: log[log.len().saturating_sub(ERROR_TAIL)..].join("\n    "),
    };
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                return Err(match registry::engine_message(e) {
                    Ok(message) => fail(&step, &log, message),
                    Err(e) => Error::engine(format!("build image `{reference}`"), e),
                })
            }
        };
        if let Some(text) = info.stream.as_deref() {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                tracing::debug!(image = %reference, "build: {line}");
                // `Step 2/5 : RUN ...` (Docker), `STEP 2/5: RUN ...` (Podman).
                if line.starts_with("Step ") || line.starts_with("STEP ") {
                    step = Some(line.to_string());
                }
                log.push(line.to_string());
            }
        }
        if let Some(message) = info.error_detail.and_then(|d| d.message) {
            return Err(fail(&step, &log, message));
        }
    }
    Ok(log)
}

/// A repository name the engine accepts: lowercase path components
/// (optionally after a registry host), no tag.
fn check_name(name: &str, what: &str) -> Result<()> {
    let parsed = image::Reference::parse(name);
    let ok = parsed.tag.is_none()
        && parsed.digest.is_none()
        && !parsed.path.is_empty()
        && parsed.path.split('/').all(|c| {
            !c.is_empty()
                && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            format!("image name `{name}`: use lowercase letters, digits, `.`, `_`, `-` and `/`, and no tag (the tag is the content hash)"),
        ))
    }
}

/// An image built by [`ImageBuild::build_temporary`]; it is removed when the
/// last handle to it drops (clones, and builds of the same context in this
/// process, share it), or by dockhand's end-of-session cleanup should the
/// process die first. Remove the containers started from it first: the
/// engine refuses to remove an image a container uses.
#[derive(Debug, Clone)]
pub struct TemporaryImage {
    inner: Arc<TempInner>,
}

#[derive(Debug)]
struct TempInner {
    engine: Engine,
    reference: String,
    removed: AtomicBool,
}

impl TemporaryImage {
    /// The image reference, for [`ContainerSpec::new`](crate::ContainerSpec::new).
    pub fn reference(&self) -> &str {
        &self.inner.reference
    }

    /// Drops this handle; when it is the last one, removes the image now,
    /// reporting errors (dropping does the same, silently).
    pub async fn remove(self) -> Result<()> {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return Ok(());
        };
        inner.removed.store(true, Ordering::SeqCst);
        let (docker, reference) = (inner.engine.docker().clone(), inner.reference.clone());
        engine::run(async move { image::remove(&docker, &reference).await.map(drop) }).await
    }
}

impl Drop for TempInner {
    fn drop(&mut self) {
        if self.removed.load(Ordering::SeqCst) {
            return;
        }
        let (docker, reference) = (self.engine.docker().clone(), self.reference.clone());
        let outcome = engine::block_bounded(
            async move { image::remove(&docker, &reference).await },
            Duration::from_secs(30),
        );
        if let Some(Err(e)) = outcome {
            tracing::warn!(
                "dockhand: could not remove temporary image `{}`: {e}",
                self.reference
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(b: &ImageBuild) -> String {
        b.hash(&b.entries().unwrap()).unwrap()
    }

    #[test]
    fn hash_covers_args_target_and_files() {
        let base = ImageBuild::from_dockerfile("FROM x\n").file("a", "1");
        let h = hash_of(&base);
        assert_eq!(h, hash_of(&base.clone()), "stable");
        assert_ne!(h, hash_of(&base.clone().arg("A", "1")));
        assert_ne!(h, hash_of(&base.clone().target("t")));
        assert_ne!(h, hash_of(&base.clone().file("a", "2")));
        assert_ne!(h, hash_of(&base.clone().file("b", "1")));
    }

    #[test]
    fn dir_context_honours_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(
            p.join(".dockerignore"),
            "logs\n*.tmp\n!keep.tmp\nDockerfile\n",
        )
        .unwrap();
        std::fs::create_dir(p.join("logs")).unwrap();
        std::fs::write(p.join("logs/a.log"), "1").unwrap();
        std::fs::write(p.join("x.tmp"), "1").unwrap();
        std::fs::write(p.join("keep.tmp"), "1").unwrap();
        std::fs::write(p.join("app.txt"), "1").unwrap();
        let b = ImageBuild::from_dir(p);
        let paths: Vec<String> = b.entries().unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [".dockerignore", "Dockerfile", "app.txt", "keep.tmp"]
        );
        let h = hash_of(&b);
        std::fs::write(p.join("logs/a.log"), "2").unwrap();
        assert_eq!(h, hash_of(&b), "ignored file changed");
        std::fs::write(p.join("app.txt"), "2").unwrap();
        assert_ne!(h, hash_of(&b), "kept file changed");
    }

    #[test]
    fn tar_context_round_trips() {
        let inline = ImageBuild::from_dockerfile("FROM x\n").file("d/a", "1");
        let entries = inline.entries().unwrap();
        let tar = pack(&entries).unwrap();
        let from_tar = ImageBuild::from_tar(tar);
        assert_eq!(hash_of(&inline), hash_of(&from_tar));
    }

    #[test]
    fn missing_dockerfile_and_bad_names_are_clear() {
        let e = ImageBuild::from_tar(pack(&[]).unwrap())
            .entries()
            .unwrap_err();
        assert!(e.to_string().contains("no Dockerfile"), "{e}");
        assert!(check_name("Bad/Name", "x").is_err());
        assert!(check_name("ok/name:tag", "x").is_err());
        assert!(check_name("127.0.0.1:5000/ok/name-1", "x").is_ok());
    }
}
