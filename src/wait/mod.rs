//! Readiness: `start()` returns once the service in the container answers.
//!
//! A running container is not yet a service that answers. Declare what
//! "ready" means with [`ContainerSpec::wait_for`](crate::ContainerSpec::wait_for)
//! and [`start`](crate::ContainerSpec::start) returns only when every probe
//! passed, or fails with a diagnosis: which probe, what it last saw, how long
//! it waited, the container's state and its last 50 log lines.
//!
//! | probe | passes when | example |
//! |---|---|---|
//! | [`WaitFor::log`], [`WaitFor::log_regex`] | a line appears (N times) | `WaitFor::log("ready").times(2)` |
//! | [`WaitFor::port`] | a TCP port accepts, from the host and inside | `WaitFor::port(5432)` |
//! | [`WaitFor::http`] | an HTTP request gets the expected answer | `WaitFor::http(8080, "/health")` |
//! | [`WaitFor::healthy`] | the container's HEALTHCHECK says `healthy` | `WaitFor::healthy()` |
//! | [`WaitFor::exec`] | a command inside exits 0 | `WaitFor::exec(["pg_isready"])` |
//! | [`WaitFor::exit`] | the container exited (with a code) | `WaitFor::exit().code(0)` |
//! | [`WaitFor::delay`] | a fixed time passed (last resort) | `WaitFor::delay(Duration::from_secs(1))` |
//! | [`WaitFor::all`], [`WaitFor::any`] | all / one of the inner probes passed | |
//!
//! Several `wait_for` calls mean all of them. Probes run concurrently from
//! the moment the container started. Each has its own optional timeout; the
//! spec's [`startup_timeout`](crate::ContainerSpec::startup_timeout) (60 s by
//! default) bounds them all.
//!
//! Probes never wait longer than they must:
//! - the log probe reads the engine's follow stream, line by line as it is
//!   written, and never re-reads the log;
//! - polling probes (port, http, healthcheck, exec) start polling every few
//!   milliseconds and back off to a cap: 10 ms for a port (a local
//!   connect), 20 ms for HTTP (a request the service answers), 100 ms for
//!   healthcheck and exec (an engine call per check);
//! - a container that exits fails the wait at once (unless an exit probe
//!   waits for exactly that), and so does an `unhealthy` healthcheck or an
//!   exit code other than the expected one.
//!
//! ```no_run
//! # async fn demo() -> dockhand::Result<()> {
//! use dockhand::{ContainerSpec, WaitFor};
//! use std::time::Duration;
//!
//! let db = ContainerSpec::new("postgres:16")
//!     .env("POSTGRES_PASSWORD", "pw")
//!     .expose(5432)
//!     // postgres prints the line once for its init server, once for real
//!     .wait_for(WaitFor::log("database system is ready to accept connections").times(2))
//!     .wait_for(WaitFor::port(5432))
//!     .startup_timeout(Duration::from_secs(30))
//!     .start()
//!     .await?;
//! # Ok(()) }
//! ```

mod exec;
mod exit;
mod health;
mod http;
mod log;
mod port;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::container::Container;
use crate::error::{Diagnosis, Error, Result};
use crate::port::ContainerPort;

pub use exec::ExecProbe;
pub use exit::ExitProbe;
pub use health::HealthProbe;
pub use http::HttpProbe;
pub use log::LogProbe;
pub use port::PortProbe;

/// The default of [`ContainerSpec::startup_timeout`](crate::ContainerSpec::startup_timeout).
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The first pause between two checks of a polling probe.
const FIRST_POLL: Duration = Duration::from_millis(2);
/// The longest pause between two checks of a port: a connect to the host,
/// which the engine's proxy answers without disturbing the service.
const PORT_POLL_CAP: Duration = Duration::from_millis(10);
/// The longest pause between two HTTP requests: each reaches the service
/// once it listens, so they are spaced a little more.
const HTTP_POLL_CAP: Duration = Duration::from_millis(20);
/// The longest pause between two checks that each cost an engine call.
const ENGINE_POLL_CAP: Duration = Duration::from_millis(100);
/// How many log lines a failure message carries.
const DIAGNOSIS_LOG_LINES: usize = 50;

/// What "ready" means for a container: one probe, or a composition of them.
///
/// Build one with the constructors below, pass it to
/// [`ContainerSpec::wait_for`](crate::ContainerSpec::wait_for). Probe
/// builders ([`LogProbe`], [`PortProbe`], …) convert into it.
///
/// ```
/// use dockhand::WaitFor;
/// use std::time::Duration;
///
/// let ready = WaitFor::any([
///     WaitFor::log("listening").into(),
///     WaitFor::http(8080, "/health").status(204).into(),
/// ])
/// .timeout(Duration::from_secs(10));
/// assert_eq!(
///     ready.to_string(),
///     "any of [log line containing \"listening\", HTTP GET /health on port 8080/tcp answering 204]"
/// );
/// ```
#[derive(Clone)]
pub struct WaitFor {
    kind: Kind,
    timeout: Option<Duration>,
}

#[derive(Clone)]
enum Kind {
    Log(LogProbe),
    Port(PortProbe),
    Http(HttpProbe),
    Healthy(HealthProbe),
    Exec(ExecProbe),
    Exit(ExitProbe),
    Delay(Duration),
    All(Vec<WaitFor>),
    Any(Vec<WaitFor>),
}

impl WaitFor {
    /// A line of output containing `text` (on stdout or stderr; see
    /// [`LogProbe::on`], [`LogProbe::times`]).
    ///
    /// The probe follows the engine's log stream from the container's first
    /// line, so nothing written before the probe started is missed, and joins
    /// lines the engine delivers in pieces.
    ///
    /// ```
    /// use dockhand::{Source, WaitFor};
    /// let probe = WaitFor::log("ready to accept connections").times(2).on(Source::Stderr);
    /// # let _ = probe;
    /// ```
    pub fn log(text: impl Into<String>) -> LogProbe {
        LogProbe::substring(text.into())
    }

    /// A line of output matching the regular expression `pattern`
    /// ([`regex`](https://docs.rs/regex) syntax). An invalid pattern makes
    /// `start()` fail before anything is created.
    ///
    /// ```
    /// use dockhand::WaitFor;
    /// let probe = WaitFor::log_regex(r"listening on port \d+").times(1);
    /// # let _ = probe;
    /// ```
    pub fn log_regex(pattern: &str) -> LogProbe {
        LogProbe::regex(pattern)
    }

    /// A TCP port that accepts connections, checked both from the host on
    /// its published port and inside the container (the engine's port proxy
    /// accepts on the host before the service listens).
    ///
    /// The port must be published with [`expose`](crate::ContainerSpec::expose).
    /// Inside the container, the listening sockets are read from the
    /// container's `/proc/net/tcp{,6}`: directly from the host when the
    /// engine is local, else with `exec cat`; an image without `cat` falls
    /// back to the host-side check alone (a `debug` event says so).
    ///
    /// ```
    /// let probe = dockhand::WaitFor::port(5432);
    /// # let _ = probe;
    /// ```
    pub fn port(port: impl Into<ContainerPort>) -> PortProbe {
        PortProbe::new(port.into())
    }

    /// An HTTP request to a published port answered with a 2xx status (by
    /// default; see [`HttpProbe::status`], [`HttpProbe::body_contains`]).
    /// Plain HTTP/1.1, to the host side of the port.
    ///
    /// ```
    /// let probe = dockhand::WaitFor::http(8080, "/health").status(200).body_contains("ok");
    /// # let _ = probe;
    /// ```
    pub fn http(port: impl Into<ContainerPort>, path: impl Into<String>) -> HttpProbe {
        HttpProbe::new(port.into(), path.into())
    }

    /// The container's HEALTHCHECK reports `healthy`; `unhealthy` fails at
    /// once. The healthcheck is the image's, or the one set with
    /// [`ContainerSpec::healthcheck`](crate::ContainerSpec::healthcheck); a
    /// container without one fails at once too.
    ///
    /// ```
    /// use dockhand::bollard::models::HealthConfig;
    /// use dockhand::{ContainerSpec, WaitFor};
    ///
    /// let spec = ContainerSpec::new("dockhand-test/busybox")
    ///     .healthcheck(HealthConfig {
    ///         test: Some(vec!["CMD".into(), "test".into(), "-e".into(), "/tmp/ready".into()]),
    ///         interval: Some(100_000_000), // 100 ms, in nanoseconds
    ///         retries: Some(3),
    ///         ..Default::default()
    ///     })
    ///     .wait_for(WaitFor::healthy());
    /// # let _ = spec;
    /// ```
    pub fn healthy() -> HealthProbe {
        HealthProbe::new()
    }

    /// A command inside the container that exits with 0, e.g. `pg_isready`.
    /// It runs again (after a short, growing pause) until it does; a command
    /// that cannot be run at all (missing binary) fails at once.
    ///
    /// ```
    /// let probe = dockhand::WaitFor::exec(["pg_isready", "-U", "postgres"]);
    /// # let _ = probe;
    /// ```
    pub fn exec<I, S>(cmd: I) -> ExecProbe
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ExecProbe::new(crate::Exec::new(cmd))
    }

    /// Like [`exec`](Self::exec), with an [`Exec`](crate::Exec) (user,
    /// environment, working folder).
    pub fn exec_with(exec: crate::Exec) -> ExecProbe {
        ExecProbe::new(exec)
    }

    /// The container exits: for one-shot containers (migrations, scripts).
    /// With [`ExitProbe::code`], another exit code fails at once.
    ///
    /// `start()` then returns the stopped container, whose logs and files
    /// can still be read.
    ///
    /// ```
    /// let probe = dockhand::WaitFor::exit().code(0);
    /// # let _ = probe;
    /// ```
    pub fn exit() -> ExitProbe {
        ExitProbe::new()
    }

    /// A fixed pause. A last resort: it is either too long (slow tests) or
    /// too short (flaky tests); prefer a probe that observes the service.
    /// The container exiting during the pause still fails at once.
    ///
    /// ```
    /// let probe = dockhand::WaitFor::delay(std::time::Duration::from_millis(500));
    /// # let _ = probe;
    /// ```
    pub fn delay(pause: Duration) -> WaitFor {
        Kind::Delay(pause).into()
    }

    /// Ready when every one of `probes` passed (they run concurrently); fails
    /// as soon as one fails. Probe builders become a `WaitFor` with `.into()`.
    ///
    /// ```
    /// use dockhand::WaitFor;
    /// let probe = WaitFor::all([WaitFor::port(80).into(), WaitFor::log("started").into()]);
    /// # let _ = probe;
    /// ```
    pub fn all(probes: impl IntoIterator<Item = WaitFor>) -> WaitFor {
        Kind::All(probes.into_iter().collect()).into()
    }

    /// Ready as soon as one of `probes` passed; fails when all failed, with
    /// every failure in the message.
    ///
    /// ```
    /// use dockhand::WaitFor;
    /// let probe = WaitFor::any([WaitFor::log("ready").into(), WaitFor::exit().code(0).into()]);
    /// # let _ = probe;
    /// ```
    pub fn any(probes: impl IntoIterator<Item = WaitFor>) -> WaitFor {
        Kind::Any(probes.into_iter().collect()).into()
    }

    /// Gives this probe (or composition) at most `timeout`, counted from the
    /// container's start; the spec's startup timeout still applies.
    pub fn timeout(mut self, timeout: Duration) -> WaitFor {
        self.timeout = Some(timeout);
        self
    }

    /// Checks the probe against the spec's published ports; `Err` says why not.
    pub(crate) fn validate(&self, exposed: &[ContainerPort]) -> std::result::Result<(), String> {
        match &self.kind {
            Kind::Log(p) => p.validate(),
            Kind::Port(p) => port::check_published(p.port, exposed),
            Kind::Http(p) => p.validate(exposed),
            Kind::All(v) | Kind::Any(v) if v.is_empty() => {
                Err(format!("`{self}` has no probes in it"))
            }
            Kind::All(v) | Kind::Any(v) => v.iter().try_for_each(|w| w.validate(exposed)),
            Kind::Healthy(_) | Kind::Exec(_) | Kind::Exit(_) | Kind::Delay(_) => Ok(()),
        }
    }

    /// True when the probe can only pass while the container runs: the wait
    /// fails the moment it exits.
    fn needs_running(&self) -> bool {
        matches!(
            self.kind,
            Kind::Port(_) | Kind::Http(_) | Kind::Healthy(_) | Kind::Exec(_) | Kind::Delay(_)
        )
    }
}

impl From<Kind> for WaitFor {
    fn from(kind: Kind) -> Self {
        WaitFor {
            kind,
            timeout: None,
        }
    }
}

/// For each probe builder: its `timeout` setter, and its conversion into a `WaitFor`.
macro_rules! probe_into_wait_for {
    ($($probe:ident => $kind:ident),* $(,)?) => {$(
        impl $probe {
            /// Gives this probe at most `timeout`, counted from the
            /// container's start (the startup timeout still applies).
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.timeout = Some(timeout);
                self
            }
        }

        impl From<$probe> for WaitFor {
            fn from(p: $probe) -> Self {
                let timeout = p.timeout;
                WaitFor { kind: Kind::$kind(p), timeout }
            }
        }
    )*};
}

probe_into_wait_for!(
    LogProbe => Log,
    PortProbe => Port,
    HttpProbe => Http,
    HealthProbe => Healthy,
    ExecProbe => Exec,
    ExitProbe => Exit,
);

impl fmt::Display for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, word: &str, v: &[WaitFor]| {
            let inner: Vec<String> = v.iter().map(|w| w.to_string()).collect();
            write!(f, "{word} of [{}]", inner.join(", "))
        };
        match &self.kind {
            Kind::Log(p) => p.fmt(f),
            Kind::Port(p) => p.fmt(f),
            Kind::Http(p) => p.fmt(f),
            Kind::Healthy(p) => p.fmt(f),
            Kind::Exec(p) => p.fmt(f),
            Kind::Exit(p) => p.fmt(f),
            Kind::Delay(d) => write!(f, "delay of {d:?}"),
            Kind::All(v) => list(f, "all", v),
            Kind::Any(v) => list(f, "any", v),
        }
    }
}

impl fmt::Debug for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.timeout {
            Some(t) => write!(f, "WaitFor({self}, timeout {t:?})"),
            None => write!(f, "WaitFor({self})"),
        }
    }
}

/// Why a probe did not pass. Turned into a public [`Error`] with the
/// container's state and logs by [`diagnose`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// The container stopped while the probe still waited.
    Exited { probe: String, code: Option<i64> },
    /// The probe's time ran out.
    Timeout {
        probe: String,
        last_seen: String,
        limit: Duration,
        which: &'static str,
    },
    /// The probe can never pass (unhealthy, wrong exit code, …).
    Failed { probe: String, reason: String },
    /// The engine failed us.
    Engine(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

/// What a probe saw last: kept up to date by the probe, read when it times out.
#[derive(Clone)]
pub(crate) struct Seen(Arc<Mutex<String>>);

impl Seen {
    fn new() -> Self {
        Seen(Arc::new(Mutex::new("nothing yet".into())))
    }

    pub(crate) fn set(&self, what: impl Into<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = what.into();
    }

    fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Pauses between the checks of a polling probe: a few milliseconds at
/// first, growing by half each time up to `cap`. Services usually become
/// ready soon after start, and a check costs little; the cap bounds how late
/// we notice a slow one.
pub(crate) struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn port() -> Self {
        Backoff {
            next: FIRST_POLL,
            cap: PORT_POLL_CAP,
        }
    }

    pub(crate) fn http() -> Self {
        Backoff {
            next: FIRST_POLL,
            cap: HTTP_POLL_CAP,
        }
    }

    pub(crate) fn engine() -> Self {
        Backoff {
            next: FIRST_POLL,
            cap: ENGINE_POLL_CAP,
        }
    }

    pub(crate) async fn pause(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 3 / 2).min(self.cap);
    }
}

/// What the probes share: the container, and news of its exit.
pub(crate) struct Ctx<'a> {
    pub(crate) container: &'a Container,
    /// The container's main process as the engine reported it at start.
    pub(crate) pid: Option<i64>,
    exit: watch::Receiver<Option<exit::Exited>>,
}

impl Ctx<'_> {
    /// Resolves once the container has exited, with its exit code if known.
    pub(crate) async fn exited(&self) -> Option<i64> {
        let mut rx = self.exit.clone();
        loop {
            if let Some(e) = *rx.borrow_and_update() {
                return e.code;
            }
            if rx.changed().await.is_err() {
                // The watcher ended without news; the exit is never coming.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Resolves (with an error) when the caller of `start()` dropped its future.
pub(crate) type Abandoned = tokio::sync::oneshot::Receiver<std::convert::Infallible>;

/// The host address of a published port. A container that stopped before
/// its ports were read has none: then this waits for the exit news (port and
/// HTTP probes are cut short by it) or the timeout, saying why.
pub(crate) async fn published_addr(ctx: &Ctx<'_>, port: ContainerPort, seen: &Seen) -> SocketAddr {
    match ctx.container.addr(port) {
        Ok(addr) => addr,
        Err(e) => {
            seen.set(e.to_string());
            std::future::pending().await
        }
    }
}

/// Returns `container` once every probe in `waits` passed. Otherwise fails
/// with a diagnosis, after removing the container (unless `keep_unready`):
/// when `start()` returns, nothing is left behind. Runs on the engine runtime,
/// right after the container started.
pub(crate) async fn until_ready(
    container: Container,
    pid: Option<i64>,
    waits: &[WaitFor],
    startup_timeout: Duration,
    keep_unready: bool,
    abandoned: Abandoned,
) -> Result<Container> {
    let outcome = tokio::select! {
        outcome = wait(&container, pid, waits, startup_timeout) => outcome,
        _ = abandoned => Err(Error::invalid(
            format!("start of container `{}`", container.name()),
            "cancelled: the caller dropped the `start()` future",
        )),
    };
    match outcome {
        Ok(()) => Ok(container),
        Err(e) if keep_unready => Err(e),
        Err(e) => {
            container.discard().await;
            Err(e)
        }
    }
}

async fn wait(
    container: &Container,
    pid: Option<i64>,
    waits: &[WaitFor],
    startup_timeout: Duration,
) -> Result<()> {
    if waits.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let (exit, _watcher) = exit::watch(container.inner.clone());
    let ctx = Ctx {
        container,
        pid,
        exit,
    };
    let root = match waits {
        [one] => one.clone(),
        many => WaitFor::all(many.iter().cloned()),
    };
    tracing::debug!(parent: &container.inner.span, probe = %root, "waiting until ready");
    let limit = Limit {
        at: started + startup_timeout,
        after: startup_timeout,
        which: "startup timeout",
    };
    match run(&root, &ctx, limit).await {
        Ok(()) => {
            tracing::debug!(parent: &container.inner.span, elapsed = ?started.elapsed(), "ready");
            Ok(())
        }
        Err(failure) => Err(diagnose(container, failure, started.elapsed()).await),
    }
}

/// The deadline of a probe, and where it comes from (for messages).
#[derive(Clone, Copy)]
struct Limit {
    at: Instant,
    after: Duration,
    which: &'static str,
}

impl Limit {
    fn tighten(self, own: Option<Duration>, started: Instant) -> Limit {
        match own {
            Some(t) if started + t < self.at => Limit {
                at: started + t,
                after: t,
                which: "probe timeout",
            },
            _ => self,
        }
    }
}

fn run<'a>(w: &'a WaitFor, ctx: &'a Ctx<'a>, limit: Limit) -> BoxFuture<'a, Result<(), Failure>> {
    async move {
        let limit = limit.tighten(w.timeout, Instant::now());
        match &w.kind {
            Kind::All(v) => {
                futures::future::try_join_all(v.iter().map(|w| run(w, ctx, limit))).await?;
                Ok(())
            }
            Kind::Any(v) => any(w, v, ctx, limit).await,
            _ => leaf(w, ctx, limit).await,
        }
    }
    .boxed()
}

async fn any(w: &WaitFor, v: &[WaitFor], ctx: &Ctx<'_>, limit: Limit) -> Result<(), Failure> {
    let mut pending: FuturesUnordered<_> = v.iter().map(|w| run(w, ctx, limit)).collect();
    let mut failures = Vec::new();
    while let Some(outcome) = pending.next().await {
        match outcome {
            Ok(()) => return Ok(()),
            Err(f) => failures.push(f),
        }
    }
    Err(merge_any(w.to_string(), failures))
}

/// One failure for an `any` whose probes all failed.
fn merge_any(probe: String, failures: Vec<Failure>) -> Failure {
    if let Some(code) = failures.iter().find_map(|f| match f {
        Failure::Exited { code, .. } => Some(*code),
        _ => None,
    }) {
        return Failure::Exited { probe, code };
    }
    let mut reasons = Vec::new();
    let mut all_timeouts = true;
    let mut last_limit = None;
    for f in failures {
        match f {
            Failure::Timeout {
                probe,
                last_seen,
                limit,
                which,
            } => {
                reasons.push(format!("{probe}: {last_seen}"));
                last_limit = Some((limit, which));
            }
            Failure::Failed { probe, reason } => {
                all_timeouts = false;
                reasons.push(format!("{probe}: {reason}"));
            }
            Failure::Engine(e) => return Failure::Engine(e),
            Failure::Exited { .. } => unreachable!("handled above"),
        }
    }
    match last_limit {
        Some((limit, which)) if all_timeouts => Failure::Timeout {
            probe,
            last_seen: reasons.join("; "),
            limit,
            which,
        },
        _ => Failure::Failed {
            probe,
            reason: reasons.join("; "),
        },
    }
}

async fn leaf(w: &WaitFor, ctx: &Ctx<'_>, limit: Limit) -> Result<(), Failure> {
    let seen = Seen::new();
    let check = async {
        match &w.kind {
            Kind::Log(p) => p.run(ctx, &seen).await,
            Kind::Port(p) => p.run(ctx, &seen).await,
            Kind::Http(p) => p.run(ctx, &seen).await,
            Kind::Healthy(p) => p.run(ctx, &seen).await,
            Kind::Exec(p) => p.run(ctx, &seen).await,
            Kind::Exit(p) => p.run(ctx, &seen).await,
            Kind::Delay(d) => {
                seen.set("still pausing");
                tokio::time::sleep(*d).await;
                Ok(())
            }
            Kind::All(_) | Kind::Any(_) => unreachable!("compositions are not leaves"),
        }
    };
    let guarded = async {
        if !w.needs_running() {
            return check.await;
        }
        // Exit news first: a check that passes against a container that has
        // just exited (a port proxy still accepting) must not count.
        tokio::select! {
            biased;
            code = ctx.exited() => Err(Failure::Exited { probe: w.to_string(), code }),
            outcome = check => outcome,
        }
    };
    match tokio::time::timeout_at(limit.at, guarded).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::Timeout {
            probe: w.to_string(),
            last_seen: seen.get(),
            limit: limit.after,
            which: limit.which,
        }),
    }
}

/// Turns a failure into the error `start()` returns, with what the engine
/// says about the container now and its last log lines.
async fn diagnose(container: &Container, failure: Failure, elapsed: Duration) -> Error {
    const ASK_LIMIT: Duration = Duration::from_secs(5);
    if let Failure::Engine(e) = failure {
        return e;
    }
    let inner = &container.inner;
    let info = tokio::time::timeout(ASK_LIMIT, inner.inspect())
        .await
        .ok()
        .and_then(|r| r.ok());
    let logs = tokio::time::timeout(ASK_LIMIT, container.tail(DIAGNOSIS_LOG_LINES))
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    let state = info.as_ref().and_then(|i| i.state.as_ref());
    let running = state.and_then(|s| s.running).unwrap_or(false);
    let state_exit = state.and_then(|s| s.exit_code).filter(|_| !running);
    let state_text = state.map_or_else(
        || "unknown (inspect failed)".to_string(),
        health::describe_state,
    );
    let probe = match &failure {
        Failure::Exited { probe, .. }
        | Failure::Timeout { probe, .. }
        | Failure::Failed { probe, .. } => probe.clone(),
        Failure::Engine(_) => unreachable!("returned above"),
    };
    let exit_code = match &failure {
        Failure::Exited { code, .. } => code.or(state_exit),
        _ => state_exit,
    };
    let diagnosis = Box::new(Diagnosis {
        container: inner.name.clone(),
        image: inner.image.clone(),
        probe,
        elapsed,
        state: state_text,
        exit_code,
        logs,
    });
    match failure {
        Failure::Exited { .. } => Error::ContainerExited { diagnosis },
        Failure::Timeout {
            last_seen,
            limit,
            which,
            ..
        } => Error::NotReady {
            last_seen,
            timeout: limit,
            which,
            diagnosis,
        },
        Failure::Failed { reason, .. } => Error::ProbeFailed { reason, diagnosis },
        Failure::Engine(_) => unreachable!("returned above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_probe() {
        let w = WaitFor::all([
            WaitFor::log("ready").times(2).into(),
            WaitFor::log_regex("a+b").on(crate::Source::Stderr).into(),
            WaitFor::port(5432).into(),
            WaitFor::healthy().into(),
            WaitFor::exec(["true"]).into(),
            WaitFor::exit().code(3).into(),
            WaitFor::delay(Duration::from_millis(5)),
        ]);
        assert_eq!(
            w.to_string(),
            "all of [log line containing \"ready\" (2 times), log line matching /a+b/ on stderr, \
             port 5432/tcp, healthcheck healthy, exec [\"true\"] exiting 0, exit with code 3, delay of 5ms]"
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let exposed = [ContainerPort::tcp(80)];
        assert!(WaitFor::port(80).into_wait().validate(&exposed).is_ok());
        let err = WaitFor::port(81)
            .into_wait()
            .validate(&exposed)
            .unwrap_err();
        assert!(err.contains("81/tcp") && err.contains("expose"), "{err}");
        let err = WaitFor::log_regex("(")
            .into_wait()
            .validate(&exposed)
            .unwrap_err();
        assert!(err.contains("regex"), "{err}");
        let err = WaitFor::any([]).validate(&exposed).unwrap_err();
        assert!(err.contains("no probes"), "{err}");
    }

    #[test]
    fn any_with_only_timeouts_stays_a_timeout() {
        let t = |p: &str| Failure::Timeout {
            probe: p.into(),
            last_seen: format!("{p} saw little"),
            limit: Duration::from_secs(1),
            which: "startup timeout",
        };
        match merge_any("any of [a, b]".into(), vec![t("a"), t("b")]) {
            Failure::Timeout { last_seen, .. } => {
                assert_eq!(last_seen, "a: a saw little; b: b saw little")
            }
            other => panic!("{other:?}"),
        }
        let failed = Failure::Failed {
            probe: "c".into(),
            reason: "unhealthy".into(),
        };
        assert!(matches!(
            merge_any("x".into(), vec![t("a"), failed]),
            Failure::Failed { .. }
        ));
    }

    trait IntoWait {
        fn into_wait(self) -> WaitFor;
    }
    impl<T: Into<WaitFor>> IntoWait for T {
        fn into_wait(self) -> WaitFor {
            self.into()
        }
    }
}
