//! Networks: containers that reach each other by name, isolated per test,
//! and cut apart on demand.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};

use crate::container::Container;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::session;

/// What network to create: a user-defined bridge, optionally internal (no
/// route out of the machine).
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// use dockhand::{ContainerSpec, NetworkSpec};
/// let net = NetworkSpec::new().create().await?;
/// let db = ContainerSpec::new("dockhand-test/busybox")
///     .cmd(["nc", "-lk", "-p", "5432", "-e", "echo", "hi"])
///     .network(&net)
///     .alias("db")
///     .start()
///     .await?;
/// let client = ContainerSpec::new("dockhand-test/busybox")
///     .cmd(["sleep", "600"])
///     .network(&net)
///     .start()
///     .await?;
/// let out = client.exec(["nc", "db", "5432"]).await?; // by alias
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    name_prefix: Option<String>,
    internal: bool,
    engine: Option<Engine>,
}

impl NetworkSpec {
    /// A bridge network named `dockhand-net-<random>`.
    pub fn new() -> Self {
        NetworkSpec::default()
    }

    /// Names it `<prefix>-<random>`.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }

    /// No traffic leaves the network (containers still reach each other).
    pub fn internal(mut self, internal: bool) -> Self {
        self.internal = internal;
        self
    }

    /// Creates it on this engine instead of [`Engine::shared`].
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Creates the network, labelled with the session. It is removed when
    /// the last of this handle and the containers started on it is gone.
    ///
    /// Unnamed networks (no [`name_prefix`](Self::name_prefix)) come from a
    /// small pool: once a process has asked for one, a spare is created in
    /// the background, so later tests do not wait for the engine to build a
    /// bridge. Spares are removed with the process's other resources.
    pub async fn create(self) -> Result<Network> {
        let engine = match self.engine.clone() {
            Some(e) => e,
            None => Engine::shared().await?,
        };
        engine::run(async move {
            crate::reaper::ensure(&engine);
            if self.name_prefix.is_some() {
                return create_on(&engine, self.name_prefix.as_deref(), self.internal).await;
            }
            let key = (engine.endpoint().to_string(), self.internal);
            let spare = pool()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            refill_later(engine.clone(), key);
            match spare {
                Some(net) => Ok(net),
                None => create_on(&engine, None, self.internal).await,
            }
        })
        .await
    }
}

type PoolKey = (String, bool);

/// One spare unnamed network per engine and `internal` flag.
fn pool() -> &'static Mutex<std::collections::HashMap<PoolKey, Network>> {
    static POOL: std::sync::OnceLock<Mutex<std::collections::HashMap<PoolKey, Network>>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// Refills wanted but not started yet, one per key: a network is asked for
/// to start a container on it, and making the spare at the same moment would
/// slow that start down (the engine does network work one piece at a time).
static DEFERRED: Mutex<Vec<(Engine, PoolKey)>> = Mutex::new(Vec::new());

/// Keys whose spare is being made: one refill at a time per key.
static REFILLING: Mutex<Vec<PoolKey>> = Mutex::new(Vec::new());

/// How long a refill waits for a container start before going ahead anyway.
const REFILL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// Makes a spare for `key` once the next container start is done (see
/// [`start_deferred_refills`]), or after [`REFILL_DEADLINE`].
fn refill_later(engine: Engine, key: PoolKey) {
    {
        let mut deferred = DEFERRED.lock().unwrap_or_else(|e| e.into_inner());
        if deferred.iter().any(|(_, k)| *k == key) {
            return;
        }
        deferred.push((engine, key));
    }
    engine::spawn(async {
        tokio::time::sleep(REFILL_DEADLINE).await;
        start_deferred_refills();
    });
}

/// Starts the deferred refills; called when a container has started.
pub(crate) fn start_deferred_refills() {
    let due = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()));
    for (engine, key) in due {
        refill(engine, key);
    }
}

/// Creates a spare for `key` in the background, unless one exists or is
/// being made.
fn refill(engine: Engine, key: PoolKey) {
    {
        let mut refilling = REFILLING.lock().unwrap_or_else(|e| e.into_inner());
        let spare = pool()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&key);
        if spare || refilling.contains(&key) {
            return;
        }
        refilling.push(key.clone());
    }
    engine::spawn(async move {
        let made = create_on(&engine, None, key.1).await;
        REFILLING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k| *k != key);
        match made {
            Ok(net) => {
                let mut pool = pool().lock().unwrap_or_else(|e| e.into_inner());
                if let Some(extra) = pool.insert(key, net) {
                    // A spare came back meanwhile: keep one.
                    drop(pool);
                    drop(extra);
                }
            }
            Err(e) => tracing::debug!("dockhand: no spare network: {e}"),
        }
    });
}

async fn create_on(engine: &Engine, prefix: Option<&str>, internal: bool) -> Result<Network> {
    let name = format!(
        "{}-{}",
        prefix.unwrap_or("dockhand-net"),
        session::random_suffix()
    );
    let req = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".into()),
        internal: Some(internal),
        labels: Some(session::labels()),
        ..Default::default()
    };
    tracing::debug!(network = %name, "engine: create network");
    let created = engine
        .docker()
        .create_network(req)
        .await
        .map_err(|e| Error::engine(format!("create network `{name}`"), e))?;
    Ok(Network {
        inner: Arc::new(NetworkInner {
            engine: engine.clone(),
            id: created.id,
            name,
            aliases: Mutex::new(BTreeSet::new()),
            removed: AtomicBool::new(false),
        }),
    })
}

impl Network {
    /// A network that exists already (created outside dockhand, e.g. by
    /// docker compose). dockhand never removes it.
    pub async fn existing(name: &str) -> Result<Network> {
        let engine = Engine::shared().await?;
        let name = name.to_string();
        engine::run(async move {
            let info = engine
                .docker()
                .inspect_network(
                    &name,
                    None::<bollard::query_parameters::InspectNetworkOptions>,
                )
                .await
                .map_err(|e| {
                    let err = Error::engine(format!("look up network `{name}`"), e);
                    if err.is_not_found() {
                        Error::invalid(
                            format!("network `{name}`"),
                            "no such network on the engine; create it with `dockhand::NetworkSpec` \
                             (or `docker network create`), and check the name",
                        )
                    } else {
                        err
                    }
                })?;
            Ok(Network {
                inner: Arc::new(NetworkInner {
                    engine,
                    id: info.id.unwrap_or_else(|| name.clone()),
                    name,
                    aliases: Mutex::new(BTreeSet::new()),
                    // Not ours: never removed.
                    removed: AtomicBool::new(true),
                }),
            })
        })
        .await
    }
}

/// A network dockhand created. Containers started on it keep it alive; it is
/// removed when the last of them and this handle are gone.
#[derive(Debug, Clone)]
pub struct Network {
    pub(crate) inner: Arc<NetworkInner>,
}

#[derive(Debug)]
pub(crate) struct NetworkInner {
    engine: Engine,
    pub(crate) id: String,
    pub(crate) name: String,
    /// Aliases given out on this network by this process.
    aliases: Mutex<BTreeSet<String>>,
    removed: AtomicBool,
}

impl Network {
    /// The network's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The network's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Removes the network now. Fails, naming them, while containers use it.
    pub async fn remove(self) -> Result<()> {
        let inner = self.inner.clone();
        engine::run(async move {
            let info = inner
                .engine
                .docker()
                .inspect_network(&inner.id, None::<bollard::query_parameters::InspectNetworkOptions>)
                .await
                .map_err(|e| Error::engine(format!("inspect network `{}`", inner.name), e))?;
            let users: Vec<String> = info
                .containers
                .unwrap_or_default()
                .into_values()
                .filter_map(|c| c.name)
                .collect();
            if !users.is_empty() {
                return Err(Error::invalid(
                    format!("removal of network `{}`", inner.name),
                    format!(
                        "it is still used by {}; remove those containers (drop their handles) first",
                        users.join(", ")
                    ),
                ));
            }
            inner.removed.store(true, Ordering::SeqCst);
            inner
                .engine
                .docker()
                .remove_network(&inner.id)
                .await
                .map_err(|e| Error::engine(format!("remove network `{}`", inner.name), e))
        })
        .await
    }

    /// Reserves `alias` on this network; an alias already given out is an error.
    pub(crate) fn claim(&self, alias: &str, container: &str) -> Result<()> {
        let mut taken = self.inner.aliases.lock().unwrap_or_else(|e| e.into_inner());
        if !taken.insert(alias.to_string()) {
            return Err(Error::invalid(
                format!(
                    "alias `{alias}` for `{container}` on network `{}`",
                    self.inner.name
                ),
                "another container on this network already answers to it; pick another alias",
            ));
        }
        Ok(())
    }

    pub(crate) fn release(&self, aliases: &[String]) {
        let mut taken = self.inner.aliases.lock().unwrap_or_else(|e| e.into_inner());
        for a in aliases {
            taken.remove(a);
        }
    }
}

impl Drop for NetworkInner {
    fn drop(&mut self) {
        if self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        let docker = self.engine.docker().clone();
        let (id, name) = (self.id.clone(), self.name.clone());
        let done = engine::block_bounded(
            async move {
                // Containers just removed may still hold an endpoint a moment.
                for delay in [0u64, 50, 100, 200, 400, 800] {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    match docker.remove_network(&id).await {
                        Ok(()) => return Ok(()),
                        Err(bollard::errors::Error::DockerResponseServerError {
                            status_code: 404,
                            ..
                        }) => return Ok(()),
                        Err(e) => tracing::debug!(network = %name, "remove network: {e}"),
                    }
                }
                Err(())
            },
            Duration::from_secs(10),
        );
        if matches!(done, Some(Err(()))) {
            tracing::warn!("dockhand: could not remove network `{}`", self.name);
        }
    }
}

/// A container's membership of a network: for reconnecting it with the same aliases.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    pub network: Network,
    pub aliases: Vec<String>,
}

pub(crate) fn endpoint(aliases: &[String]) -> EndpointSettings {
    EndpointSettings {
        aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
        ..Default::default()
    }
}

impl Container {
    /// Connects the running container to `network`, reachable there by `aliases`.
    pub async fn connect(&self, network: &Network, aliases: &[&str]) -> Result<()> {
        let aliases: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
        for a in &aliases {
            network.claim(a, self.name())?;
        }
        let inner = self.inner.clone();
        let net = network.clone();
        let result = engine::run({
            let aliases = aliases.clone();
            async move {
                let req = NetworkConnectRequest {
                    container: inner.id.clone(),
                    endpoint_config: Some(endpoint(&aliases)),
                };
                inner
                    .call(
                        &format!("connect network `{}` to", net.name()),
                        inner.docker().connect_network(&net.inner.id, req),
                    )
                    .await
            }
        })
        .await;
        match result {
            Ok(()) => {
                self.inner.join(Membership {
                    network: network.clone(),
                    aliases,
                });
                Ok(())
            }
            Err(e) => {
                network.release(&aliases);
                Err(e)
            }
        }
    }

    /// Disconnects the container from `network`: it can no longer reach, or
    /// be reached by, the containers there. [`reconnect`](Self::reconnect) undoes it.
    pub async fn disconnect(&self, network: &Network) -> Result<()> {
        let inner = self.inner.clone();
        let net = network.clone();
        engine::run(async move {
            let req = NetworkDisconnectRequest {
                container: inner.id.clone(),
                force: Some(true),
            };
            inner
                .call(
                    &format!("disconnect network `{}` from", net.name()),
                    inner.docker().disconnect_network(&net.inner.id, req),
                )
                .await
        })
        .await
    }

    /// Connects the container again to a network it was disconnected from,
    /// with the aliases it had there.
    pub async fn reconnect(&self, network: &Network) -> Result<()> {
        let membership = self.inner.membership(network).ok_or_else(|| {
            Error::invalid(
                format!(
                    "reconnect of `{}` to network `{}`",
                    self.name(),
                    network.name()
                ),
                "the container never joined that network; use `connect`",
            )
        })?;
        let inner = self.inner.clone();
        engine::run(async move {
            let req = NetworkConnectRequest {
                container: inner.id.clone(),
                endpoint_config: Some(endpoint(&membership.aliases)),
            };
            inner
                .call(
                    &format!("reconnect network `{}` to", membership.network.name()),
                    inner
                        .docker()
                        .connect_network(&membership.network.inner.id, req),
                )
                .await
        })
        .await
    }

    /// Cuts this container off from `other` for `duration`: disconnects it
    /// from every network they share now, and reconnects it (same aliases)
    /// in the background once `duration` has passed.
    pub async fn cut_off_from(&self, other: &Container, duration: Duration) -> Result<()> {
        let shared: Vec<Membership> = self
            .inner
            .memberships()
            .into_iter()
            .filter(|m| other.inner.membership(&m.network).is_some())
            .collect();
        if shared.is_empty() {
            return Err(Error::invalid(
                format!("cutting `{}` off from `{}`", self.name(), other.name()),
                "they share no network dockhand created",
            ));
        }
        for m in &shared {
            self.disconnect(&m.network).await?;
        }
        let inner = self.inner.clone();
        engine::spawn(async move {
            tokio::time::sleep(duration).await;
            for m in shared {
                let req = NetworkConnectRequest {
                    container: inner.id.clone(),
                    endpoint_config: Some(endpoint(&m.aliases)),
                };
                if let Err(e) = inner
                    .docker()
                    .connect_network(&m.network.inner.id, req)
                    .await
                {
                    tracing::warn!(
                        "dockhand: reconnecting `{}` to `{}`: {e}",
                        inner.name,
                        m.network.name()
                    );
                }
            }
        });
        Ok(())
    }

    /// The address other containers on the container's networks use for
    /// `port`: its first alias (or its name) and the container port,
    /// e.g. `db:5432`.
    pub fn network_address(&self, port: u16) -> String {
        let host = self
            .inner
            .memberships()
            .into_iter()
            .find_map(|m| m.aliases.first().cloned())
            .unwrap_or_else(|| self.name().to_string());
        format!("{host}:{port}")
    }
}
