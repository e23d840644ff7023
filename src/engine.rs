//! The connection to the Docker engine.
//!
//! dockhand talks to the engine from a small background runtime of its own.
//! Tests each run their own tokio runtime (or none at all), and a hyper
//! connection pool bound to a runtime that has ended breaks the next test that
//! borrows a connection from it; running every engine call on one runtime that
//! lives as long as the process gives one shared client per process, works the
//! same from current-thread, multi-thread and no runtime at all, and lets
//! `Drop` remove a container without needing the caller's runtime.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bollard::Docker;
use tokio::runtime::Runtime;

use crate::error::{Error, Result};

/// How long dockhand waits for the engine to answer one request.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long connecting (ping + version negotiation) may take per address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to reach a Docker engine.
///
/// [`EngineConfig::from_env`] reads the same variables as the Docker CLI;
/// [`Engine::shared`] uses it.
///
/// ```
/// let cfg = dockhand::EngineConfig::host("unix:///var/run/docker.sock");
/// assert_eq!(cfg.candidates(), vec!["unix:///var/run/docker.sock".to_string()]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    host: Option<String>,
    tls: Option<PathBuf>,
    host_override: Option<String>,
}

impl EngineConfig {
    /// The configuration from the environment:
    ///
    /// - `DOCKER_HOST`: `unix:///path`, `tcp://host:port` or `http(s)://…`; when
    ///   unset, the usual sockets are tried in order (see [`EngineConfig::candidates`]).
    /// - `DOCKER_TLS_VERIFY` (non-empty, not `0`) with `DOCKER_CERT_PATH` (default
    ///   `~/.docker`): TLS with `ca.pem`, `cert.pem`, `key.pem` for `tcp://` hosts.
    /// - `DOCKHAND_HOST_OVERRIDE`: the host name or address tests should use to
    ///   reach published ports, when it differs from the engine's (e.g. Docker in Docker).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let tls = var("DOCKER_TLS_VERIFY").filter(|v| v != "0").map(|_| {
            var("DOCKER_CERT_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| home().join(".docker"))
        });
        EngineConfig {
            host: var("DOCKER_HOST"),
            tls,
            host_override: var("DOCKHAND_HOST_OVERRIDE"),
        }
    }

    /// A configuration for one engine address, e.g. `unix:///var/run/docker.sock`
    /// or `tcp://127.0.0.1:2375`.
    pub fn host(url: impl Into<String>) -> Self {
        EngineConfig {
            host: Some(url.into()),
            ..Default::default()
        }
    }

    /// Use TLS with the `ca.pem`, `cert.pem` and `key.pem` found in `cert_dir`.
    pub fn tls(mut self, cert_dir: impl Into<PathBuf>) -> Self {
        self.tls = Some(cert_dir.into());
        self
    }

    /// Reach published ports at this host instead of the engine's.
    pub fn host_override(mut self, host: impl Into<String>) -> Self {
        self.host_override = Some(host.into());
        self
    }

    /// The addresses that will be tried, in order.
    ///
    /// With a host set, only that one. Otherwise the default socket, then the
    /// rootless Docker, Docker Desktop and Podman sockets that exist on this machine.
    pub fn candidates(&self) -> Vec<String> {
        if let Some(h) = &self.host {
            return vec![h.clone()];
        }
        let mut out = vec!["unix:///var/run/docker.sock".to_string()];
        let home = home();
        let runtime_dir = std::env::var("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(format!("/run/user/{}", uid())));
        let extra = [
            runtime_dir.join("docker.sock"),
            home.join(".docker/run/docker.sock"),
            home.join(".docker/desktop/docker.sock"),
            home.join(".colima/default/docker.sock"),
            runtime_dir.join("podman/podman.sock"),
            PathBuf::from("/run/podman/podman.sock"),
        ];
        out.extend(
            extra
                .iter()
                .filter(|p| p.exists())
                .map(|p| format!("unix://{}", p.display())),
        );
        out
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn uid() -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// A connection to a Docker engine. Cheap to clone.
///
/// Most code never names it: [`ContainerSpec::start`](crate::ContainerSpec::start)
/// uses [`Engine::shared`]. Build one yourself to talk to another engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    docker: Docker,
    endpoint: String,
    host: String,
    host_ip: IpAddr,
    local: bool,
    api_version: String,
    tls: Option<PathBuf>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("endpoint", &self.inner.endpoint)
            .field("host", &self.inner.host)
            .field("api_version", &self.inner.api_version)
            .finish()
    }
}

impl Engine {
    /// The process-wide engine, connected on first use from
    /// [`EngineConfig::from_env`]. A failed connection is not remembered:
    /// the next call tries again.
    pub async fn shared() -> Result<Engine> {
        static SHARED: tokio::sync::OnceCell<Engine> = tokio::sync::OnceCell::const_new();
        SHARED
            .get_or_try_init(|| Engine::connect(EngineConfig::from_env()))
            .await
            .cloned()
    }

    /// Connects to the first engine of `config` that answers, negotiating the
    /// API version (works from API 1.41, Docker 20.10, up to current engines).
    pub async fn connect(config: EngineConfig) -> Result<Engine> {
        run(async move {
            let mut tried = Vec::new();
            for endpoint in config.candidates() {
                match try_connect(&endpoint, &config).await {
                    Ok(engine) => return Ok(engine),
                    Err(why) => {
                        tracing::debug!(%endpoint, %why, "engine candidate did not answer");
                        tried.push(format!("{endpoint} ({why})"));
                    }
                }
            }
            Err(Error::EngineUnreachable { tried })
        })
        .await
    }

    /// The bollard client, for anything dockhand does not wrap.
    ///
    /// Use it from within [`Engine::run`]: its connections belong to
    /// dockhand's background runtime.
    pub fn docker(&self) -> &Docker {
        &self.inner.docker
    }

    /// The address connected to, e.g. `unix:///var/run/docker.sock`.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The negotiated API version, e.g. `1.41`.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// The host where published ports are reached: `127.0.0.1` for a local
    /// engine, the engine's host for a remote one, or `DOCKHAND_HOST_OVERRIDE`.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    pub(crate) fn host_ip(&self) -> IpAddr {
        self.inner.host_ip
    }

    /// The TLS certificate folder, when connected with TLS.
    pub(crate) fn tls_dir(&self) -> Option<&Path> {
        self.inner.tls.as_deref()
    }

    /// True when the engine runs on this machine (unix socket or loopback tcp).
    pub fn is_local(&self) -> bool {
        self.inner.local
    }

    /// The host address published ports bind to by default: `127.0.0.1` for a
    /// local engine (nothing is exposed to the network), all interfaces for a
    /// remote engine (the only way this machine can reach them).
    pub(crate) fn default_bind_ip(&self) -> &'static str {
        if self.inner.local {
            "127.0.0.1"
        } else {
            "0.0.0.0"
        }
    }

    /// Runs `fut` on dockhand's engine runtime and returns its output; see the
    /// module docs for why. Use it for your own bollard calls.
    ///
    /// ```no_run
    /// # async fn demo() -> dockhand::Result<()> {
    /// let engine = dockhand::Engine::shared().await?;
    /// let docker = engine.docker().clone();
    /// let info = engine.run(async move { docker.info().await }).await;
    /// # Ok(()) }
    /// ```
    pub fn run<F>(&self, fut: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        run(fut)
    }
}

async fn try_connect(endpoint: &str, config: &EngineConfig) -> std::result::Result<Engine, String> {
    let timeout = REQUEST_TIMEOUT.as_secs();
    let version = bollard::API_DEFAULT_VERSION;
    let ssl = |dir: &Path| {
        Docker::connect_with_ssl(
            endpoint,
            &dir.join("key.pem"),
            &dir.join("cert.pem"),
            &dir.join("ca.pem"),
            timeout,
            version,
        )
    };
    let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
        if !Path::new(path).exists() {
            return Err("socket does not exist".into());
        }
        Docker::connect_with_unix(endpoint, timeout, version)
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        match &config.tls {
            Some(dir) => ssl(dir),
            None => Docker::connect_with_http(endpoint, timeout, version),
        }
    } else if endpoint.starts_with("https://") {
        ssl(&config.tls.clone().unwrap_or_else(|| home().join(".docker")))
    } else {
        return Err("unsupported scheme; use unix://, tcp://, http:// or https://".into());
    }
    .map_err(|e| e.to_string())?;

    let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
        .await
        .map_err(|_| format!("no answer within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    let api_version = docker.client_version().to_string();

    let (host, local) = match remote_host(endpoint) {
        None => ("127.0.0.1".to_string(), true),
        Some(h) => {
            let local = h == "localhost" || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            (h, local)
        }
    };
    let host = config.host_override.clone().unwrap_or(host);
    let host_ip = resolve(&host).ok_or_else(|| format!("cannot resolve host `{host}`"))?;
    tracing::debug!(%endpoint, %api_version, %host, "connected to engine");
    Ok(Engine {
        inner: Arc::new(EngineInner {
            docker,
            endpoint: endpoint.to_string(),
            host,
            host_ip,
            local,
            api_version,
            tls: config.tls.clone(),
        }),
    })
}

/// The host part of a tcp/http(s) endpoint; `None` for sockets.
fn remote_host(endpoint: &str) -> Option<String> {
    let rest = ["tcp://", "http://", "https://"]
        .iter()
        .find_map(|s| endpoint.strip_prefix(s))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    Some(host.to_string())
}

fn resolve(host: &str) -> Option<IpAddr> {
    if host == "localhost" {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

thread_local! {
    static ON_ENGINE_RUNTIME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dockhand-engine")
            .on_thread_start(|| ON_ENGINE_RUNTIME.with(|f| f.set(true)))
            .enable_all()
            .build()
            .expect("dockhand: cannot start its engine runtime (out of threads?)")
    })
}

/// True on one of the engine runtime's threads, where blocking is forbidden.
pub(crate) fn on_engine_runtime() -> bool {
    // `try_with`: this is also asked at process exit, after thread-locals died.
    ON_ENGINE_RUNTIME.try_with(|f| f.get()).unwrap_or(false)
}

/// Runs `fut` on the engine runtime; the returned future can be awaited from
/// any runtime. A panic inside `fut` is resumed in the caller.
pub(crate) fn run<F>(fut: F) -> impl Future<Output = F::Output> + Send + 'static
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = runtime().spawn(fut);
    async move {
        match handle.await {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("dockhand engine task cancelled: {e}"),
        }
    }
}

/// Runs `fut` on the engine runtime and blocks this thread until it is done.
/// Works with no runtime and inside any runtime (it does not need the caller's).
pub(crate) fn block<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    futures::executor::block_on(run(fut))
}

/// Like [`block`] but gives up after `limit`, leaving the work running.
/// Never blocks an engine-runtime thread: there it only starts the work.
pub(crate) fn block_bounded<F>(fut: F, limit: Duration) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    if on_engine_runtime() {
        return None;
    }
    rx.recv_timeout(limit).ok()
}

/// Starts `fut` on the engine runtime without waiting for it.
pub(crate) fn spawn<F>(fut: F) -> tokio::task::AbortHandle
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime().spawn(fut).abort_handle()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_host_parses_endpoints() {
        assert_eq!(remote_host("unix:///var/run/docker.sock"), None);
        assert_eq!(
            remote_host("tcp://10.0.0.5:2376").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(remote_host("tcp://[::1]:2375").as_deref(), Some("::1"));
        assert_eq!(
            remote_host("https://docker.example/x").as_deref(),
            Some("docker.example")
        );
    }

    #[test]
    fn block_runs_without_a_runtime() {
        assert_eq!(block(async { 41 + 1 }), 42);
    }
}
