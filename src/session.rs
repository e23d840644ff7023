//! The session: one id per process, stamped on everything dockhand creates.
//!
//! The labels are how cleanup (and `docker ps --filter label=…`) finds what a
//! test run created, and how it proves it never touches anything else.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Label carrying the session id on every resource dockhand creates.
pub const LABEL_SESSION: &str = "dockhand.session";
/// Label marking a resource as created by dockhand (`true`).
pub const LABEL_MANAGED: &str = "dockhand.managed";
/// Label marking a container kept on purpose (`true`); cleanup never touches it.
pub const LABEL_KEEP: &str = "dockhand.keep";
/// Label carrying the path (`module::test`) of the test a container belongs to.
pub const LABEL_TEST: &str = "dockhand.test";
/// Label marking a container kept for reuse across runs (`true`).
pub const LABEL_REUSE: &str = "dockhand.reuse";
/// Label marking an image to remove when its session ends (`true`).
pub const LABEL_TEMPORARY: &str = "dockhand.temporary";
/// Label carrying the name of the machine the creating process ran on.
pub const LABEL_HOST: &str = "dockhand.host";
/// Label carrying the pid of the process that created the resource.
pub const LABEL_PID: &str = "dockhand.pid";
/// Label carrying the creation time (seconds since the Unix epoch).
pub const LABEL_CREATED: &str = "dockhand.created";

/// This process's session id.
///
/// Random per process unless `DOCKHAND_SESSION` is set (to group several
/// processes, e.g. the per-test processes of `cargo nextest`, in one session).
///
/// ```
/// let id = dockhand::session_id();
/// assert!(!id.is_empty());
/// assert_eq!(id, dockhand::session_id());
/// ```
pub fn session_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::env::var("DOCKHAND_SESSION")
            .ok()
            .filter(|s| valid_label_value(s))
            .unwrap_or_else(|| format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff))
    })
}

fn valid_label_value(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// The labels every resource created by this process carries.
///
/// Put them on resources you create yourself (with bollard) to have dockhand
/// remove them with the process's own: at exit, through the watchdog, and
/// with `dockhand clean`.
///
/// ```
/// let labels = dockhand::session_labels();
/// assert_eq!(labels["dockhand.session"], dockhand::session_id());
/// ```
pub fn session_labels() -> HashMap<String, String> {
    labels()
}

pub(crate) fn labels() -> HashMap<String, String> {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    HashMap::from([
        (LABEL_SESSION.to_string(), session_id().to_string()),
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_CREATED.to_string(), created.to_string()),
        (LABEL_HOST.to_string(), hostname().to_string()),
    ])
}

/// A short random suffix for names, so parallel tests never collide.
pub(crate) fn random_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// This machine's name, for telling whose processes a label's pid names.
pub(crate) fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into())
    })
}
