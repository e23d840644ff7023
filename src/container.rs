//! The running container: a handle that removes it when dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures::StreamExt;
use tracing::Instrument;

use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::network::{Membership, Network};
use crate::port::{mappings_from_inspect, ContainerPort, PortMapping};

/// A running container. Dropping the handle force-removes the container and
/// its anonymous volumes (unless it was started with
/// [`keep`](crate::ContainerSpec::keep)).
///
/// Dropping works in a multi-thread runtime, in a current-thread runtime and
/// with no runtime at all; it never panics and gives up (with a warning)
/// after 30 s. Call [`remove`](Self::remove) to remove it explicitly and see
/// any error.
pub struct Container {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) exposed: Vec<ContainerPort>,
    pub(crate) keep: AtomicBool,
    /// Owned by a test scope: the scope removes (or keeps) it when the test ends.
    pub(crate) in_scope: AtomicBool,
    pub(crate) ports: Mutex<Vec<PortMapping>>,
    pub(crate) removed: AtomicBool,
    pub(crate) span: tracing::Span,
    /// Networks it joined through dockhand; holding them keeps them alive.
    pub(crate) networks: Mutex<Vec<Membership>>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("name", &self.inner.name)
            .field("id", &self.inner.id)
            .field("image", &self.inner.image)
            .finish()
    }
}

/// How long dropping a handle waits for the engine to remove the container.
const DROP_LIMIT: Duration = Duration::from_secs(30);

impl Container {
    pub(crate) fn new(
        engine: Engine,
        id: String,
        name: String,
        image: String,
        exposed: Vec<ContainerPort>,
        keep: bool,
        span: tracing::Span,
    ) -> Self {
        Container {
            inner: Arc::new(Inner {
                engine,
                id,
                name,
                image,
                exposed,
                keep: AtomicBool::new(keep),
                in_scope: AtomicBool::new(false),
                ports: Mutex::new(Vec::new()),
                removed: AtomicBool::new(false),
                span,
                networks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The container's name (e.g. `dockhand-1a2b3c4d`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The image it was started from, as named in the spec.
    pub fn image(&self) -> &str {
        &self.inner.image
    }

    /// The engine it runs on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Whether the container is kept after the handle drops.
    pub fn is_kept(&self) -> bool {
        self.inner.keep.load(Ordering::SeqCst)
    }

    /// Where published ports are reached: `127.0.0.1` for a local engine, the
    /// engine's host for a remote one.
    pub fn host(&self) -> &str {
        self.inner.engine.host()
    }

    /// The host port a container port is published on.
    ///
    /// Answered from the inspect done at start (and after a restart), with no
    /// engine call. Errors name the ports the container does expose.
    pub fn host_port(&self, port: impl Into<ContainerPort>) -> Result<u16> {
        let port = port.into();
        let ports = self.inner.ports.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = ports.iter().find(|m| m.container == port) {
            return Ok(m.host_port);
        }
        if self.inner.exposed.contains(&port) {
            return Err(Error::invalid(
                format!("port {port} of container `{}`", self.inner.name),
                "it is exposed but not published right now (is the container stopped or paused? \
                 ports are read again after `start()`/`restart()`)",
            ));
        }
        Err(Error::PortNotExposed {
            container: self.inner.name.clone(),
            port: port.to_string(),
            exposed: self.inner.exposed.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// The host address of a container port, e.g. `127.0.0.1:49153`.
    pub fn addr(&self, port: impl Into<ContainerPort>) -> Result<SocketAddr> {
        Ok(SocketAddr::new(
            self.inner.engine.host_ip(),
            self.host_port(port)?,
        ))
    }

    /// Every published port, e.g. for printing `127.0.0.1:49153 -> 5432/tcp`.
    pub fn ports(&self) -> Vec<PortMapping> {
        self.inner
            .ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The engine's full description of the container (`docker inspect`).
    pub async fn inspect(&self) -> Result<ContainerInspectResponse> {
        let inner = self.inner.clone();
        engine::run(async move { inner.inspect().await }).await
    }

    /// Reads the published ports again (after a restart they may change).
    pub(crate) async fn refresh_ports(&self) -> Result<ContainerInspectResponse> {
        self.inner.refresh_ports().await
    }

    /// Stops the container (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(&self) -> Result<()> {
        self.stop_with_timeout(Duration::from_secs(10)).await
    }

    /// Stops the container, waiting `grace` between SIGTERM and SIGKILL.
    pub async fn stop_with_timeout(&self, grace: Duration) -> Result<()> {
        let inner = self.inner.clone();
        engine::run(async move {
            let opts = StopContainerOptionsBuilder::default()
                .t(grace.as_secs() as i32)
                .build();
            inner
                .call("stop", inner.docker().stop_container(&inner.id, Some(opts)))
                .await?;
            inner.set_ports(Vec::new());
            Ok(())
        })
        .await
    }

    /// Starts the container again after [`stop`](Self::stop) or an exit.
    pub async fn start(&self) -> Result<()> {
        let inner = self.inner.clone();
        engine::run(async move {
            inner
                .call("start", inner.docker().start_container(&inner.id, None))
                .await?;
            inner.refresh_ports().await.map(drop)
        })
        .await
    }

    /// Restarts the container; published ports are read again.
    pub async fn restart(&self) -> Result<()> {
        let inner = self.inner.clone();
        engine::run(async move {
            let opts = RestartContainerOptionsBuilder::default().t(10).build();
            inner
                .call(
                    "restart",
                    inner.docker().restart_container(&inner.id, Some(opts)),
                )
                .await?;
            inner.refresh_ports().await.map(drop)
        })
        .await
    }

    /// Freezes every process of the container (`docker pause`).
    pub async fn pause(&self) -> Result<()> {
        let inner = self.inner.clone();
        engine::run(async move {
            inner
                .call("pause", inner.docker().pause_container(&inner.id))
                .await
        })
        .await
    }

    /// Resumes a paused container.
    pub async fn unpause(&self) -> Result<()> {
        let inner = self.inner.clone();
        engine::run(async move {
            inner
                .call("unpause", inner.docker().unpause_container(&inner.id))
                .await
        })
        .await
    }

    /// Sends a signal to the container's main process, e.g. `"SIGHUP"`, `"SIGKILL"`.
    pub async fn kill(&self, signal: &str) -> Result<()> {
        let inner = self.inner.clone();
        let signal = signal.to_string();
        engine::run(async move {
            let opts = KillContainerOptionsBuilder::default()
                .signal(&signal)
                .build();
            inner
                .call(
                    &format!("kill with {signal}"),
                    inner.docker().kill_container(&inner.id, Some(opts)),
                )
                .await
        })
        .await
    }

    /// Waits until the container exits and returns its exit code.
    pub async fn wait(&self) -> Result<i64> {
        let inner = self.inner.clone();
        engine::run(async move {
            tracing::debug!(parent: &inner.span, "engine: wait");
            let mut stream = inner.docker().wait_container(&inner.id, None);
            match stream.next().await {
                Some(Ok(r)) => Ok(r.status_code),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                    Ok(code)
                }
                Some(Err(e)) => Err(Error::engine(inner.action("wait for"), e)),
                None => Err(Error::Engine {
                    action: inner.action("wait for"),
                    status: None,
                    message: "the engine closed the wait without an exit code".into(),
                }),
            }
        })
        .await
    }

    /// Removes the container and its anonymous volumes now, reporting errors
    /// (dropping the handle does the same, silently). Removes a kept
    /// container too: asking for it is explicit.
    pub async fn remove(self) -> Result<()> {
        let inner = self.inner.clone();
        inner.removed.store(true, Ordering::SeqCst);
        engine::run(async move { inner.force_remove().await }).await
    }

    /// Removes a container whose start failed before the error reaches the
    /// caller: dropping the handle on the engine runtime would only start the
    /// removal, and the caller could still see the container.
    pub(crate) async fn discard(self) {
        let name = self.name().to_string();
        if let Err(why) = self.remove().await {
            tracing::warn!("dockhand: could not remove `{name}` after its failed start: {why}");
        }
    }

    /// [`remove`](Self::remove) for code without an async runtime.
    pub fn remove_blocking(self) -> Result<()> {
        engine::block(self.remove())
    }

    /// A blocking view of this handle, for tests without an async runtime.
    pub fn blocking(&self) -> crate::blocking::BlockingContainer<'_> {
        crate::blocking::BlockingContainer::new(self)
    }
}

impl Inner {
    pub(crate) fn docker(&self) -> &bollard::Docker {
        self.engine.docker()
    }

    /// `"<verb> container `name`"` for errors.
    pub(crate) fn action(&self, verb: &str) -> String {
        format!("{verb} container `{}` ({})", self.name, self.image)
    }

    /// Awaits an engine call, tracing it and naming this container in errors.
    pub(crate) async fn call<T>(
        &self,
        verb: &str,
        fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T> {
        tracing::debug!(parent: &self.span, "engine: {verb}");
        fut.instrument(self.span.clone())
            .await
            .map_err(|e| Error::engine(self.action(verb), e))
    }

    pub(crate) async fn inspect(&self) -> Result<ContainerInspectResponse> {
        self.call(
            "inspect",
            self.docker()
                .inspect_container(&self.id, None::<InspectContainerOptions>),
        )
        .await
    }

    pub(crate) async fn refresh_ports(&self) -> Result<ContainerInspectResponse> {
        let info = self.inspect().await?;
        self.set_ports(mappings_from_inspect(&info));
        Ok(info)
    }

    fn set_ports(&self, ports: Vec<PortMapping>) {
        *self.ports.lock().unwrap_or_else(|e| e.into_inner()) = ports;
    }

    pub(crate) async fn force_remove(&self) -> Result<()> {
        crate::cleanup::remove_container(self.docker(), &self.id)
            .instrument(self.span.clone())
            .await
            .map_err(|e| Error::engine(self.action("remove"), e))?;
        for m in self.memberships() {
            m.network.release(&m.aliases);
        }
        Ok(())
    }

    pub(crate) fn join(&self, m: Membership) {
        self.networks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(m);
    }

    pub(crate) fn memberships(&self) -> Vec<Membership> {
        self.networks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn membership(&self, network: &Network) -> Option<Membership> {
        self.memberships()
            .into_iter()
            .find(|m| m.network.inner.id == network.inner.id)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.inner.keep.load(Ordering::SeqCst)
            || self.inner.in_scope.load(Ordering::SeqCst)
            || self.inner.removed.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let inner = self.inner.clone();
        let name = inner.name.clone();
        let outcome = engine::block_bounded(async move { inner.force_remove().await }, DROP_LIMIT);
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) => tracing::warn!("dockhand: could not remove container `{name}`: {e}"),
            None if engine::on_engine_runtime() => {}
            None => tracing::warn!(
                "dockhand: removing container `{name}` did not finish within {DROP_LIMIT:?}; \
                 `docker rm -f {name}` removes it"
            ),
        }
    }
}
