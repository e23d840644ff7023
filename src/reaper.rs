//! The watchdog that removes a process's resources when it dies, however it
//! dies — SIGINT, SIGTERM, even SIGKILL — without pulling any image.
//!
//! On first use of an engine, a process starts its own executable again as a
//! small watchdog. The watchdog never reaches the program's `main`: a
//! constructor that runs before `main` in every binary linking dockhand sees
//! `DOCKHAND_REAPER` in its environment, runs the watchdog and exits. The
//! watchdog blocks reading a pipe whose other end only the watched process
//! holds; the kernel closes it when that process ends for any reason, and the
//! watchdog then removes everything labelled with the process's session and
//! pid (never kept or reused resources), and exits. It runs in a process group
//! of its own so a Ctrl-C in the terminal does not take it down too.
//!
//! A normal exit also removes, synchronously, what the process still holds
//! (shared containers in statics, which Rust never drops), through a
//! destructor registered next to the constructor.

use std::collections::HashMap;
use std::io::Read;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::cleanup::{self, Owner};
use crate::engine::{self, Engine, EngineConfig};
use crate::session;

const ENV_REAPER: &str = "DOCKHAND_REAPER";
const ENV_ENDPOINT: &str = "DOCKHAND_REAPER_ENDPOINT";
const ENV_SESSION: &str = "DOCKHAND_REAPER_SESSION";
const ENV_PID: &str = "DOCKHAND_REAPER_PID";
const ENV_TLS: &str = "DOCKHAND_REAPER_TLS";

/// Watchdogs started by this process, by engine endpoint. The pipe ends are
/// held (never written) for the life of the process.
fn watchdogs() -> &'static Mutex<HashMap<String, Option<ChildStdin>>> {
    static W: OnceLock<Mutex<HashMap<String, Option<ChildStdin>>>> = OnceLock::new();
    W.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Makes sure a watchdog guards this process's resources on `engine`.
/// Best effort: without one, cleanup on drop and at exit still works, and
/// the next run's sweep catches the rest. `DOCKHAND_REAPER=off` disables it.
pub(crate) fn ensure(engine: &Engine) {
    // Keep the constructor's object file linked in.
    std::hint::black_box((&ENTRY, &EXIT));
    let mut map = watchdogs().lock().unwrap_or_else(|e| e.into_inner());
    if map.contains_key(engine.endpoint()) {
        return;
    }
    // The endpoint is remembered either way: the exit hook cleans it up.
    let off = std::env::var(ENV_REAPER).is_ok_and(|v| v == "off") || !SUPPORTED;
    let stdin = if off {
        None
    } else {
        spawn(engine)
            .inspect_err(|e| {
                tracing::warn!(
                    "dockhand: could not start the cleanup watchdog ({e}); resources of a killed \
                     process will be swept by the next run"
                )
            })
            .ok()
    };
    map.insert(engine.endpoint().to_string(), stdin);
}

fn spawn(engine: &Engine) -> std::io::Result<ChildStdin> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.env(ENV_REAPER, "1")
        .env(ENV_ENDPOINT, engine.endpoint())
        .env(ENV_SESSION, session::session_id())
        .env(ENV_PID, std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(tls) = engine.tls_dir() {
        cmd.env(ENV_TLS, tls);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    tracing::debug!(pid = child.id(), "started the cleanup watchdog");
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no pipe to the watchdog"))
}

/// Constructors and destructors are ELF sections here; elsewhere only
/// cleanup on drop and the start-up sweep apply.
const SUPPORTED: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd"
));

/// Whether this process runs the exit hook (and so may leave removals in
/// flight for it to wait on).
pub(crate) const EXIT_HOOK: bool = SUPPORTED;

#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android", target_os = "freebsd"),
    link_section = ".init_array"
)]
static ENTRY: extern "C" fn() = entry;

#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android", target_os = "freebsd"),
    link_section = ".fini_array"
)]
static EXIT: extern "C" fn() = at_exit;

/// Runs before `main`: becomes the watchdog when asked to, else returns at once.
extern "C" fn entry() {
    if std::env::var_os(ENV_REAPER).is_some_and(|v| v == "1") {
        watch();
        std::process::exit(0);
    }
}

/// Runs at a normal exit: removes what this process still holds.
extern "C" fn at_exit() {
    if std::env::var_os(ENV_REAPER).is_some_and(|v| v == "1") {
        return;
    }
    // Removals a test's end left in flight first: they hold the same containers.
    cleanup::wait_pending(Duration::from_secs(30));
    crate::shared::remove_unretained();
    let endpoints: Vec<String> = match watchdogs().try_lock() {
        Ok(map) => map.keys().cloned().collect(),
        Err(_) => return,
    };
    if endpoints.is_empty() {
        return;
    }
    let owner = Owner {
        session: session::session_id().to_string(),
        pid: Some(std::process::id()),
    };
    for endpoint in endpoints {
        let owner = owner.clone();
        let _ = engine::block_bounded(
            async move {
                if let Ok(engine) = Engine::connect(EngineConfig::host(endpoint)).await {
                    cleanup::remove_owned(engine.docker(), &owner).await;
                }
            },
            Duration::from_secs(20),
        );
    }
}

/// The watchdog: waits for the watched process to end, then cleans up.
fn watch() {
    let var = |k| std::env::var(k).ok();
    let (Some(endpoint), Some(session), Some(pid)) =
        (var(ENV_ENDPOINT), var(ENV_SESSION), var(ENV_PID))
    else {
        return;
    };
    // Blocks until every write end is closed: the watched process is gone.
    let mut buf = [0u8; 64];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    let owner = Owner {
        session,
        pid: pid.parse().ok(),
    };
    engine::block(async move {
        let mut config = EngineConfig::host(endpoint);
        if let Some(tls) = var(ENV_TLS) {
            config = config.tls(tls);
        }
        for attempt in 0..5u32 {
            if let Ok(engine) = Engine::connect(config.clone()).await {
                cleanup::remove_owned(engine.docker(), &owner).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(200 * (attempt as u64 + 1))).await;
        }
    });
}
