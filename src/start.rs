//! Turning a spec into a running container.

use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use tracing::Instrument;

use std::sync::Arc;

use crate::container::Container;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::harness::{
    self,
    keep::KeepPolicy,
    scope::{self, Scope},
};
use crate::mount::Mount;
use crate::network::{self, Membership};
use crate::session::{LABEL_REUSE, LABEL_TEST};
use crate::spec::ContainerSpec;
use crate::{archive, image, reaper, reuse, sweep};
use bollard::models::NetworkConnectRequest;

impl ContainerSpec {
    /// Creates and starts the container; returns once it runs, with its
    /// published ports known, and every probe given with
    /// [`wait_for`](Self::wait_for) passed.
    ///
    /// The image is pulled if the engine lacks it (see
    /// [`pull_policy`](Self::pull_policy) and `DOCKHAND_IMAGE_PREFIX`). Whatever fails after the
    /// container was created removes it again (unless [`keep`](Self::keep)),
    /// a readiness failure too; cancelling this future does too.
    pub async fn start(self) -> Result<Container> {
        // Read on the caller's thread: the test (if any) this container belongs to.
        let scope = scope::current();
        let engine = match self.engine.clone() {
            Some(e) => e,
            None => Engine::shared().await?,
        };
        start_on_engine(engine, self.for_scope(scope.as_deref()), scope).await
    }

    /// Starts a container that belongs to no test: removed when its handle
    /// drops, or when the process ends.
    ///
    /// Boxed: a snapshot's start runs one of these inside another start.
    pub(crate) fn start_detached(self) -> futures::future::BoxFuture<'static, Result<Container>> {
        Box::pin(async move {
            let engine = match self.engine.clone() {
                Some(e) => e,
                None => Engine::shared().await?,
            };
            start_on_engine(engine, self, None).await
        })
    }

    /// [`start`](Self::start) for code without an async runtime.
    pub fn start_blocking(self) -> Result<Container> {
        engine::block(self.start())
    }
}

/// Runs `start_on` on the engine runtime. This future holds the sender of
/// `abandoned`: dropping it (a cancelled start) stops the readiness wait,
/// which removes the container at once.
async fn start_on_engine(
    engine: Engine,
    spec: ContainerSpec,
    scope: Option<Arc<Scope>>,
) -> Result<Container> {
    let (_caller_waits, abandoned) = tokio::sync::oneshot::channel();
    engine::run(start_on(engine, spec, scope, abandoned)).await
}

impl ContainerSpec {
    /// Names and labels a container after the test it belongs to; under a
    /// keep policy it is labelled kept from birth (labels cannot be added
    /// later), and the test's end removes it if the policy does not keep it.
    fn for_scope(mut self, scope: Option<&Scope>) -> Self {
        let Some(scope) = scope else { return self };
        if self.name_prefix.is_none() {
            let name = scope.test.rsplit("::").next().unwrap_or(&scope.test);
            self.name_prefix = Some(harness::sanitize_name(name));
        }
        self.labels.insert(LABEL_TEST.into(), scope.test.clone());
        if scope.keep != KeepPolicy::Never {
            self.keep = true;
        }
        self
    }
}

async fn start_on(
    engine: Engine,
    mut spec: ContainerSpec,
    mut scope: Option<Arc<Scope>>,
    abandoned: crate::wait::Abandoned,
) -> Result<Container> {
    spec.validate()?;
    if spec.snapshot.is_some() {
        spec = crate::snapshot::resolve(&engine, spec).await?;
    }
    if let Some(scope) = &scope {
        if let Some(net) = scope.network(&engine).await? {
            if !spec.networks.iter().any(|(n, _)| n.id() == net.id()) {
                let alias = spec.parameter.clone();
                // The test's network comes first: containers are created on it.
                spec.networks.insert(0, (net, alias.into_iter().collect()));
            }
        }
    }
    if spec.reuse && reuse::enabled() {
        let hash = reuse::hash(&engine, &spec).await?;
        if let Some(id) = reuse::find(&engine, &hash).await {
            return adopt(engine, &spec, id).await;
        }
        // A new container to reuse later: no test or process owns it.
        scope = None;
        spec.keep = true;
        spec.labels.insert(LABEL_REUSE.into(), "true".into());
        spec.labels.insert(reuse::LABEL_REUSE_HASH.into(), hash);
    }
    let name = spec.fresh_name();
    let span = tracing::info_span!("container", name = %name, image = %spec.image);
    async move {
        reaper::ensure(&engine);
        sweep::once(&engine);
        check_volumes(&engine, &spec).await?;
        // Aliases are claimed before the container exists; its removal releases them.
        let claimed = claim_aliases(&spec, &name)?;
        let docker = engine.docker();
        let body = spec.create_body(&engine);
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        // The create itself tells whether the image is there: no extra
        // round-trip when it is (see `image::obtain`).
        let created = image::obtain(&engine, &spec.image, &spec.pull, |image| {
            let mut body = body.clone();
            let (docker, opts, name) = (docker.clone(), opts.clone(), name.clone());
            async move {
                tracing::debug!(%image, "engine: create");
                body.image = Some(image.clone());
                match docker.create_container(Some(opts), body).await {
                    Ok(created) => Ok(Some(created)),
                    Err(e) if image::is_missing_image(&e) => Ok(None),
                    Err(e) => Err(Error::engine(
                        format!("create container `{name}` from `{image}`"),
                        e,
                    )),
                }
            }
        })
        .await?;
        for w in &created.warnings {
            tracing::warn!("engine warning for `{name}`: {w}");
        }
        // From here on the handle owns the container: any early return drops
        // it, which removes the container.
        let container = Container::new(
            engine.clone(),
            created.id,
            name,
            spec.image.clone(),
            spec.exposed_ports(),
            spec.keep,
            tracing::Span::current(),
        );
        let inner = container.inner.clone();
        for (network, aliases) in &spec.networks {
            inner.join(Membership {
                network: network.clone(),
                aliases: aliases.clone(),
            });
        }
        claimed.disarm();
        if let Some(scope) = &scope {
            scope.register(inner.clone());
        }
        // A container kept for reuse must not outlive a failed start: the
        // next run would adopt it as if it were ready.
        let keep_unready = spec.keep && !spec.labels.contains_key(LABEL_REUSE);
        let launched = launch(&container, &spec).await;
        // Spare networks wait for the start, so as not to slow it down.
        network::start_deferred_refills();
        let pid = match launched {
            Ok(pid) => pid,
            Err(e) => {
                if !keep_unready {
                    container.discard().await;
                }
                return Err(e);
            }
        };
        let (waits, timeout) = (&spec.waits, spec.startup_timeout);
        crate::wait::until_ready(container, pid, waits, timeout, keep_unready, abandoned).await
    }
    .instrument(span)
    .await
}

/// Connects the extra networks, copies the files in, starts the container and
/// reads its ports; returns its main process's pid.
async fn launch(container: &Container, spec: &ContainerSpec) -> Result<Option<i64>> {
    let inner = &container.inner;
    let docker = inner.docker();
    for (network, aliases) in spec.networks.iter().skip(1) {
        let req = NetworkConnectRequest {
            container: inner.id.clone(),
            endpoint_config: Some(network::endpoint(aliases)),
        };
        inner
            .call(
                &format!("connect network `{}` to", network.name()),
                docker.connect_network(&network.inner.id, req),
            )
            .await?;
    }
    if !spec.copies.is_empty() {
        let tar = archive::tar_for(&spec.copies)?;
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        inner
            .call(
                "copy files into",
                docker.upload_to_container(&inner.id, Some(opts), bollard::body_full(tar.into())),
            )
            .await?;
    }
    inner
        .call("start", docker.start_container(&inner.id, None))
        .await?;
    let info = container.refresh_ports().await?;
    Ok(info.state.and_then(|s| s.pid))
}

/// A handle on a running container started by an earlier run; kept, so
/// dropping it leaves the container running for the next run.
async fn adopt(engine: Engine, spec: &ContainerSpec, id: String) -> Result<Container> {
    let info = engine
        .docker()
        .inspect_container(
            &id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(|e| Error::engine(format!("inspect reusable container {id}"), e))?;
    let name = info
        .name
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let span = tracing::info_span!("container", name = %name, image = %spec.image, reused = true);
    tracing::info!(parent: &span, "reusing a running container");
    let container = Container::new(
        engine,
        id,
        name,
        spec.image.clone(),
        spec.exposed_ports(),
        true,
        span,
    );
    container.refresh_ports().await?;
    Ok(container)
}

/// Aliases claimed for a container being created; released again unless
/// the container came to exist (then its removal releases them).
struct Claimed<'a> {
    spec: &'a ContainerSpec,
    armed: bool,
}

impl Claimed<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if self.armed {
            for (network, aliases) in &self.spec.networks {
                network.release(aliases);
            }
        }
    }
}

fn claim_aliases<'a>(spec: &'a ContainerSpec, name: &str) -> Result<Claimed<'a>> {
    for (i, (network, aliases)) in spec.networks.iter().enumerate() {
        for (j, alias) in aliases.iter().enumerate() {
            if let Err(e) = network.claim(alias, name) {
                // Undo what this spec claimed so far.
                for (n, a) in spec.networks.iter().take(i) {
                    n.release(a);
                }
                network.release(&aliases[..j]);
                return Err(e);
            }
        }
    }
    Ok(Claimed { spec, armed: true })
}

/// Named volumes must exist: otherwise the engine would create them silently,
/// unlabelled, and nothing would ever remove them.
async fn check_volumes(engine: &Engine, spec: &ContainerSpec) -> Result<()> {
    for m in &spec.mounts {
        if let Mount::Volume { name, .. } = m {
            if let Err(e) = engine.docker().inspect_volume(name).await {
                let err = Error::engine(format!("look up volume `{name}`"), e);
                return Err(if err.is_not_found() {
                    Error::invalid(
                        format!("ContainerSpec for image `{}`", spec.image),
                        format!(
                            "volume `{name}` does not exist; create it first (`docker volume create {name}`), \
                             or use `anonymous_volume` for a throwaway one"
                        ),
                    )
                } else {
                    err
                });
            }
        }
    }
    Ok(())
}
