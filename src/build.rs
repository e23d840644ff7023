//! Building images from a Dockerfile, cached by the content of the context.

use std::path::{Path, PathBuf};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::session;

/// An image built from a Dockerfile and its context folder.
///
/// The tag is derived from a hash of the context's files and the Dockerfile,
/// so an unchanged context is never built (nor uploaded) again, and any change
/// gives a new image, never a stale one.
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// let image = dockhand::ImageBuild::from_dir("examples/quickstart").name("quickstart").build().await?;
/// let c = dockhand::ContainerSpec::new(image).start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ImageBuild {
    context: PathBuf,
    dockerfile: String,
    name: Option<String>,
    engine: Option<Engine>,
}

impl ImageBuild {
    /// Builds from the folder `context`, with the `Dockerfile` at its top.
    pub fn from_dir(context: impl Into<PathBuf>) -> Self {
        ImageBuild {
            context: context.into(),
            dockerfile: "Dockerfile".into(),
            name: None,
            engine: None,
        }
    }

    /// The Dockerfile's path inside the context (default `Dockerfile`).
    pub fn dockerfile(mut self, path: impl Into<String>) -> Self {
        self.dockerfile = path.into();
        self
    }

    /// The image's repository name; the tag is the content hash
    /// (default name: `dockhand-build/<folder name>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Builds on this engine instead of [`Engine::shared`].
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Builds the image unless an image for this exact content exists, and
    /// returns its reference (`name:hash`).
    pub async fn build(self) -> Result<String> {
        let engine = match self.engine.clone() {
            Some(e) => e,
            None => Engine::shared().await?,
        };
        engine::run(build_on(engine, self)).await
    }
}

async fn build_on(engine: Engine, spec: ImageBuild) -> Result<String> {
    let what = || format!("image build from `{}`", spec.context.display());
    if !spec.context.join(&spec.dockerfile).is_file() {
        return Err(Error::invalid(
            what(),
            format!(
                "no Dockerfile at `{}`; pass the folder that holds it, or set `.dockerfile(path)`",
                spec.context.join(&spec.dockerfile).display()
            ),
        ));
    }
    let context = spec.context.clone();
    let tar = tokio::task::spawn_blocking(move || pack_context(&context))
        .await
        .map_err(|e| Error::invalid(what(), format!("packing the context panicked: {e}")))??;
    let hash = format!(
        "{:x}",
        Sha256::new_with_prefix(&tar)
            .chain_update(&spec.dockerfile)
            .finalize()
    );
    let name = spec.name.clone().unwrap_or_else(|| {
        let dir = spec
            .context
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
            .unwrap_or_else(|| "context".into());
        format!("dockhand-build/{dir}")
    });
    let reference = format!("{name}:{}", &hash[..16]);
    if engine.docker().inspect_image(&reference).await.is_ok() {
        tracing::debug!(%reference, "image for this context exists; not building");
        return Ok(reference);
    }
    let opts = BuildImageOptionsBuilder::default()
        .dockerfile(&spec.dockerfile)
        .t(&reference)
        .rm(true)
        .forcerm(true)
        .labels(&session::labels())
        .build();
    tracing::info!(%reference, "building image");
    let mut stream = engine
        .docker()
        .build_image(opts, None, Some(bollard::body_full(tar.into())));
    let mut log: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| Error::engine(format!("build image `{reference}`"), e))?;
        if let Some(text) = info.stream.as_deref() {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                tracing::debug!(image = %reference, "build: {line}");
                log.push(line.to_string());
            }
        }
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            let tail = log[log.len().saturating_sub(20)..].join("\n  ");
            return Err(Error::Engine {
                action: format!(
                    "build image `{reference}` from `{}`",
                    spec.context.display()
                ),
                status: None,
                message: format!("{err}\n  last build output:\n  {tail}"),
            });
        }
    }
    Ok(reference)
}

/// Packs the context folder into a tar with stable metadata, so the same
/// content always gives the same bytes (and the same hash).
fn pack_context(dir: &Path) -> Result<Vec<u8>> {
    let ctx = |e| Error::io(format!("packing build context `{}`", dir.display()), e);
    let mut files = Vec::new();
    collect(dir, dir, &mut files).map_err(ctx)?;
    files.sort();
    let mut builder = tar::Builder::new(Vec::new());
    for rel in files {
        let path = dir.join(&rel);
        let meta = std::fs::metadata(&path).map_err(ctx)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(meta.len());
        header.set_mode(stable_mode(&meta));
        header.set_mtime(0);
        header.set_cksum();
        let file = std::fs::File::open(&path).map_err(ctx)?;
        builder.append_data(&mut header, &rel, file).map_err(ctx)?;
    }
    builder.into_inner().map_err(ctx)
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

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
    Ok(())
}
