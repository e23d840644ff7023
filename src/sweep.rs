//! The second line of defence: at start-up, remove what earlier processes on
//! this machine left behind when even their watchdog could not clean up
//! (the machine rebooted, the whole process tree was killed at once).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::cleanup::{self, Owner};
use crate::engine::{self, Engine};
use crate::session::{
    self, LABEL_HOST, LABEL_KEEP, LABEL_MANAGED, LABEL_PID, LABEL_REUSE, LABEL_SESSION,
};

/// Held while a sweep runs.
static SWEEP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// Whether this process has swept already.
static SWEPT: AtomicBool = AtomicBool::new(false);

/// Starts one sweep per process, in the background. `DOCKHAND_SWEEP=off`
/// disables it.
pub(crate) fn once(engine: &Engine) {
    static ONCE: Once = Once::new();
    if std::env::var("DOCKHAND_SWEEP").is_ok_and(|v| v == "off") {
        return;
    }
    ONCE.call_once(|| {
        let engine = engine.clone();
        engine::spawn(async move {
            let _running = SWEEP.lock().await;
            if SWEPT.swap(true, Ordering::SeqCst) {
                return;
            }
            for owner in orphans(engine.docker()).await {
                let removed = cleanup::remove_owned(engine.docker(), &owner).await;
                if removed.total() > 0 {
                    tracing::info!(
                        "dockhand: removed {} resources left by process {:?} of session {}",
                        removed.total(),
                        owner.pid,
                        owner.session
                    );
                }
            }
        });
    });
}

/// Owners (session, pid) on this machine whose process is gone.
pub(crate) async fn orphans(docker: &bollard::Docker) -> Vec<Owner> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_HOST}={}", session::hostname()),
        ],
    )]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker.list_containers(Some(opts)).await.unwrap_or_default();
    let mut owners = BTreeSet::new();
    for c in containers {
        let Some(labels) = c.labels else { continue };
        if labels.get(LABEL_KEEP).is_some_and(|v| v == "true")
            || labels.get(LABEL_REUSE).is_some_and(|v| v == "true")
        {
            continue;
        }
        let (Some(s), Some(pid)) = (
            labels.get(LABEL_SESSION),
            labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()),
        ) else {
            continue;
        };
        if !process_alive(pid) {
            owners.insert((s.clone(), pid));
        }
    }
    owners
        .into_iter()
        .map(|(session, pid)| Owner {
            session,
            pid: Some(pid),
        })
        .collect()
}

/// Whether a process with this pid runs on this machine. Where that cannot
/// be told, it is assumed alive: the sweep never guesses.
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Removes what processes of this machine that are gone left behind (never
/// kept or reused resources), and returns how many resources it removed.
///
/// dockhand runs this once per process in the background; call it yourself
/// to wait for it.
pub async fn sweep_orphans() -> crate::Result<usize> {
    let engine = Engine::shared().await?;
    engine::run(async move {
        // After this, the once-per-process background sweep has nothing left to do.
        let _running = SWEEP.lock().await;
        SWEPT.store(true, Ordering::SeqCst);
        let mut total = 0;
        for owner in orphans(engine.docker()).await {
            total += cleanup::remove_owned(engine.docker(), &owner).await.total();
        }
        Ok(total)
    })
    .await
}
