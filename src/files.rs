//! Copying files into and out of a running container.

use std::path::{Path, PathBuf};

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures::TryStreamExt;

use crate::archive::{self, CopyIn, CopySource};
use crate::container::{Container, Inner};
use crate::engine;
use crate::error::{Error, Result};

impl Container {
    /// Writes `bytes` to the absolute path `target` in the container, with
    /// permission bits `mode`.
    pub async fn copy_bytes_in(
        &self,
        target: &str,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<()> {
        self.copy_in(CopyIn {
            source: CopySource::Bytes(bytes.into()),
            target: target.to_string(),
            mode: Some(mode),
        })
        .await
    }

    /// Copies a host file or folder to the absolute path `target` in the container.
    pub async fn copy_path_in(&self, source: impl Into<PathBuf>, target: &str) -> Result<()> {
        self.copy_in(CopyIn {
            source: CopySource::Path(source.into()),
            target: target.to_string(),
            mode: None,
        })
        .await
    }

    async fn copy_in(&self, copy: CopyIn) -> Result<()> {
        let inner = self.inner.clone();
        engine::run(async move {
            let tar = archive::tar_for(std::slice::from_ref(&copy))?;
            let opts = UploadToContainerOptionsBuilder::default().path("/").build();
            inner
                .call(
                    &format!("copy `{}` into", copy.target),
                    inner.docker().upload_to_container(
                        &inner.id,
                        Some(opts),
                        bollard::body_full(tar.into()),
                    ),
                )
                .await
        })
        .await
    }

    /// Reads one file of the container.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let inner = self.inner.clone();
        let path = path.to_string();
        engine::run(async move {
            let tar = download(&inner, &path).await?;
            archive::single_file(&tar, &path)
        })
        .await
    }

    /// Copies a file or folder out of the container to `dest` on this machine.
    ///
    /// A file is written to `dest` itself; a folder's content goes under `dest`.
    pub async fn copy_out(&self, path: &str, dest: impl AsRef<Path>) -> Result<()> {
        let inner = self.inner.clone();
        let path = path.to_string();
        let dest = dest.as_ref().to_path_buf();
        engine::run(async move {
            let tar = download(&inner, &path).await?;
            archive::unpack_to(&tar, &dest)
        })
        .await
    }
}

async fn download(inner: &Inner, path: &str) -> Result<Vec<u8>> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let verb = format!("copy `{path}` out of");
    tracing::debug!(parent: &inner.span, "engine: {verb}");
    let chunks: Vec<_> = inner
        .docker()
        .download_from_container(&inner.id, Some(opts))
        .try_collect()
        .await
        .map_err(|e| {
            let err = Error::engine(inner.action(&verb), e);
            if err.is_not_found() {
                Error::invalid(
                    format!("path `{path}` in container `{}`", inner.name),
                    "no such file or folder in the container",
                )
            } else {
                err
            }
        })?;
    Ok(chunks.concat())
}
