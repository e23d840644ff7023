//! Tar archives: files copied into a container, and copied back out.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the content of a file copied into a container comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CopySource {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

/// One file or folder to copy into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyIn {
    pub source: CopySource,
    /// Absolute path in the container.
    pub target: String,
    /// Permission bits; `None` keeps the host file's (0644 for bytes).
    pub mode: Option<u32>,
}

impl CopyIn {
    pub(crate) fn validate(&self) -> Result<()> {
        if !self.target.starts_with('/') {
            return Err(Error::invalid(
                format!("copy target `{}`", self.target),
                "the path inside the container must be absolute, like `/etc/app.conf`",
            ));
        }
        if let CopySource::Path(p) = &self.source {
            if !p.exists() {
                return Err(Error::invalid(
                    format!("copy source `{}`", p.display()),
                    "no such file or folder on this machine; check the path (relative paths are from the current directory)",
                ));
            }
        }
        Ok(())
    }
}

/// Builds one tar, rooted at `/`, holding every copy.
pub(crate) fn tar_for(copies: &[CopyIn]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(true);
    for copy in copies {
        copy.validate()?;
        let rel = copy.target.trim_start_matches('/');
        let ctx = |e| Error::io(format!("packing `{}` for the container", copy.target), e);
        match &copy.source {
            CopySource::Bytes(bytes) => {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(copy.mode.unwrap_or(0o644));
                header.set_mtime(now());
                header.set_cksum();
                builder
                    .append_data(&mut header, rel, bytes.as_slice())
                    .map_err(ctx)?;
            }
            CopySource::Path(path) if path.is_dir() => {
                builder.append_dir_all(rel, path).map_err(ctx)?;
            }
            CopySource::Path(path) => {
                let mut file = std::fs::File::open(path).map_err(ctx)?;
                let meta = file.metadata().map_err(ctx)?;
                let mut header = tar::Header::new_gnu();
                header.set_metadata(&meta);
                if let Some(mode) = copy.mode {
                    header.set_mode(mode);
                }
                header.set_cksum();
                builder
                    .append_data(&mut header, rel, &mut file)
                    .map_err(ctx)?;
            }
        }
    }
    builder
        .into_inner()
        .map_err(|e| Error::io("finishing the archive for the container", e))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Unpacks a tar fetched from a container into `dest`.
///
/// The engine roots the archive at the last component of the path asked for,
/// so copying out `/etc/hosts` to `dest` writes the file `dest` itself, and
/// copying out the folder `/etc` to `dest` writes its content under `dest`.
pub(crate) fn unpack_to(archive: &[u8], dest: &Path) -> Result<()> {
    let ctx = |e| Error::io(format!("unpacking into `{}`", dest.display()), e);
    let mut ar = tar::Archive::new(archive);
    let mut entries = ar.entries().map_err(ctx)?.peekable();
    let first_is_file = match entries.peek() {
        Some(Ok(e)) => e.header().entry_type().is_file(),
        _ => false,
    };
    if first_is_file {
        let mut entry = entries.next().expect("peeked").map_err(ctx)?;
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(ctx)?;
        }
        entry.unpack(dest).map_err(ctx)?;
        return Ok(());
    }
    std::fs::create_dir_all(dest).map_err(ctx)?;
    for entry in entries {
        let mut entry = entry.map_err(ctx)?;
        let path = entry.path().map_err(ctx)?.into_owned();
        // Strip the archive's top folder (the name of the folder asked for),
        // and refuse anything that would land outside `dest`.
        let rel: PathBuf = path.components().skip(1).collect();
        if rel.as_os_str().is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            continue;
        }
        let out = dest.join(&rel);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(ctx)?;
        }
        entry.unpack(&out).map_err(ctx)?;
    }
    Ok(())
}

/// Reads the single file of a tar fetched from a container.
pub(crate) fn single_file(archive: &[u8], what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let ctx = |e| Error::io(format!("reading `{what}` from the container's archive"), e);
    let mut ar = tar::Archive::new(archive);
    let mut entries = ar.entries().map_err(ctx)?;
    match entries.next() {
        Some(entry) => {
            let mut entry = entry.map_err(ctx)?;
            if !entry.header().entry_type().is_file() {
                return Err(Error::invalid(
                    format!("path `{what}`"),
                    "it is not a regular file; use `copy_out` for folders",
                ));
            }
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(ctx)?;
            Ok(buf)
        }
        None => Err(Error::invalid(
            format!("path `{what}`"),
            "the archive is empty",
        )),
    }
}
