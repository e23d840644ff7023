//! Mounts: host folders, named and anonymous volumes, tmpfs.

use std::path::PathBuf;

use bollard::models::{Mount as ApiMount, MountTmpfsOptions, MountType};

/// Something mounted into a container. Built by the `ContainerSpec` methods
/// [`bind`](crate::ContainerSpec::bind), [`volume`](crate::ContainerSpec::volume),
/// [`anonymous_volume`](crate::ContainerSpec::anonymous_volume) and
/// [`tmpfs`](crate::ContainerSpec::tmpfs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mount {
    /// A host path mounted at `target`.
    Bind {
        /// Host path (made absolute when the spec starts).
        source: PathBuf,
        /// Path in the container.
        target: String,
        /// Mounted read-only.
        read_only: bool,
    },
    /// An existing named volume mounted at `target`.
    Volume {
        /// The volume's name.
        name: String,
        /// Path in the container.
        target: String,
        /// Mounted read-only.
        read_only: bool,
    },
    /// A fresh anonymous volume, removed with the container.
    Anonymous {
        /// Path in the container.
        target: String,
    },
    /// A tmpfs (in memory) at `target`.
    Tmpfs {
        /// Path in the container.
        target: String,
        /// Size limit in bytes.
        size_bytes: Option<u64>,
    },
}

impl Mount {
    pub(crate) fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. }
            | Mount::Volume { target, .. }
            | Mount::Anonymous { target }
            | Mount::Tmpfs { target, .. } => target,
        }
    }

    pub(crate) fn to_api(&self) -> ApiMount {
        let base = ApiMount {
            target: Some(self.target().to_string()),
            ..Default::default()
        };
        match self {
            Mount::Bind {
                source, read_only, ..
            } => ApiMount {
                typ: Some(MountType::BIND),
                source: Some(source.display().to_string()),
                read_only: Some(*read_only),
                ..base
            },
            Mount::Volume {
                name, read_only, ..
            } => ApiMount {
                typ: Some(MountType::VOLUME),
                source: Some(name.clone()),
                read_only: Some(*read_only),
                ..base
            },
            Mount::Anonymous { .. } => ApiMount {
                typ: Some(MountType::VOLUME),
                ..base
            },
            Mount::Tmpfs { size_bytes, .. } => ApiMount {
                typ: Some(MountType::TMPFS),
                tmpfs_options: size_bytes.map(|s| MountTmpfsOptions {
                    size_bytes: Some(s as i64),
                    ..Default::default()
                }),
                ..base
            },
        }
    }
}
