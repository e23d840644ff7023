//! What to run: the `ContainerSpec` builder.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
};

use crate::archive::{CopyIn, CopySource};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::mount::Mount;
use crate::network::Network;
use crate::port::ContainerPort;
use crate::session;
use crate::snapshot::{Snapshot, SnapshotSetup};
use crate::wait::WaitFor;

type Customizer = Arc<dyn Fn(&mut ContainerCreateBody) + Send + Sync>;

/// A port the spec exposes, and how to publish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortSpec {
    pub container: ContainerPort,
    /// A fixed host port; `None` lets the engine pick a free one.
    pub host_port: Option<u16>,
}

/// Everything needed to start a container: image, command, environment,
/// ports, mounts, files, limits.
///
/// A spec is a plain value: clone it, return it from a function, start it as
/// often as you like. Nothing touches the engine until [`start`](Self::start).
///
/// ```no_run
/// # async fn demo() -> dockhand::Result<()> {
/// let web = dockhand::ContainerSpec::new("dockhand-test/busybox")
///     .cmd(["httpd", "-f", "-p", "8080"])
///     .env("MODE", "test")
///     .expose(8080)
///     .start()
///     .await?;
/// let addr = web.addr(8080)?; // 127.0.0.1:<mapped port>
/// let out = web.exec(["cat", "/etc/hostname"]).await?;
/// assert_eq!(out.exit_code, 0);
/// drop(web); // the container and its anonymous volumes are removed
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ContainerSpec {
    pub(crate) image: String,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) ports: Vec<PortSpec>,
    pub(crate) bind_ip: Option<String>,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) copies: Vec<CopyIn>,
    pub(crate) working_dir: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) hostname: Option<String>,
    pub(crate) name_prefix: Option<String>,
    pub(crate) privileged: bool,
    pub(crate) cap_add: Vec<String>,
    pub(crate) cap_drop: Vec<String>,
    pub(crate) memory: Option<u64>,
    pub(crate) nano_cpus: Option<i64>,
    pub(crate) shm_size: Option<u64>,
    pub(crate) keep: bool,
    pub(crate) reuse: bool,
    /// Networks to join, each with its aliases; the first at creation.
    pub(crate) networks: Vec<(Network, Vec<String>)>,
    /// Set by a test's fixture set-up: the parameter's name, its alias on a per-test network.
    pub(crate) parameter: Option<String>,
    loose_aliases: Vec<String>,
    pub(crate) engine: Option<Engine>,
    pub(crate) waits: Vec<WaitFor>,
    pub(crate) startup_timeout: std::time::Duration,
    pub(crate) healthcheck: Option<HealthConfig>,
    pub(crate) pull: crate::image::PullOptions,
    pub(crate) snapshot: Option<Snapshot>,
    /// Variables a snapshot freezes: not hashed, and a start from the
    /// snapshot takes the snapshot's values (credentials made for it).
    pub(crate) volatile_env: Vec<String>,
    customizers: Vec<Customizer>,
}

impl fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerSpec")
            .field("image", &self.image)
            .field("cmd", &self.cmd)
            .field("entrypoint", &self.entrypoint)
            .field("env", &self.env)
            .field("ports", &self.ports)
            .field("mounts", &self.mounts)
            .field("name_prefix", &self.name_prefix)
            .field("wait_for", &self.waits)
            .field("snapshot", &self.snapshot.as_ref().map(|s| &s.key))
            .finish_non_exhaustive()
    }
}

impl ContainerSpec {
    /// A spec for `image` (e.g. `"postgres:16"`), run with its own command.
    pub fn new(image: impl Into<String>) -> Self {
        ContainerSpec {
            image: image.into(),
            cmd: None,
            entrypoint: None,
            env: Vec::new(),
            labels: HashMap::new(),
            ports: Vec::new(),
            bind_ip: None,
            mounts: Vec::new(),
            copies: Vec::new(),
            working_dir: None,
            user: None,
            hostname: None,
            name_prefix: None,
            privileged: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            memory: None,
            nano_cpus: None,
            shm_size: None,
            keep: false,
            reuse: false,
            networks: Vec::new(),
            parameter: None,
            loose_aliases: Vec::new(),
            engine: None,
            waits: Vec::new(),
            startup_timeout: crate::wait::DEFAULT_STARTUP_TIMEOUT,
            healthcheck: None,
            pull: Default::default(),
            snapshot: None,
            volatile_env: Vec::new(),
            customizers: Vec::new(),
        }
    }

    /// The image this spec runs.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// Replaces the image's command.
    pub fn cmd<I, S>(mut self, cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cmd = Some(cmd.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the image's entrypoint.
    pub fn entrypoint<I, S>(mut self, entrypoint: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entrypoint = Some(entrypoint.into_iter().map(Into::into).collect());
        self
    }

    /// Sets an environment variable (a later call for the same key wins).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// Adds a label. Keys starting with `dockhand.` are reserved.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Exposes a container port and publishes it on a free host port.
    ///
    /// A number means TCP; use [`ContainerPort::udp`] or `"53/udp"` otherwise.
    /// Published ports bind to `127.0.0.1` with a local engine; see
    /// [`publish_on_all_interfaces`](Self::publish_on_all_interfaces).
    pub fn expose(mut self, port: impl Into<ContainerPort>) -> Self {
        let container = port.into();
        self.ports.retain(|p| p.container != container);
        self.ports.push(PortSpec {
            container,
            host_port: None,
        });
        self
    }

    /// Exposes a container port on a fixed host port. Prefer
    /// [`expose`](Self::expose): fixed ports clash when tests run in parallel.
    pub fn expose_on(mut self, port: impl Into<ContainerPort>, host_port: u16) -> Self {
        let container = port.into();
        self.ports.retain(|p| p.container != container);
        self.ports.push(PortSpec {
            container,
            host_port: Some(host_port),
        });
        self
    }

    /// Publishes ports on every host interface (`0.0.0.0`) instead of
    /// `127.0.0.1`. A remote engine does this by default, since its loopback
    /// is not reachable from here.
    pub fn publish_on_all_interfaces(self) -> Self {
        self.publish_on("0.0.0.0")
    }

    /// Publishes ports on this host address of the engine's machine.
    pub fn publish_on(mut self, host_ip: impl Into<String>) -> Self {
        self.bind_ip = Some(host_ip.into());
        self
    }

    /// Mounts a host file or folder at `target`.
    pub fn bind(mut self, source: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        self.mounts.push(Mount::Bind {
            source: source.into(),
            target: target.into(),
            read_only: false,
        });
        self
    }

    /// Mounts a host file or folder at `target`, read-only.
    pub fn bind_read_only(mut self, source: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        self.mounts.push(Mount::Bind {
            source: source.into(),
            target: target.into(),
            read_only: true,
        });
        self
    }

    /// Mounts an existing named volume at `target`. The volume must exist:
    /// dockhand does not let the engine create unlabelled volumes silently.
    pub fn volume(mut self, name: impl Into<String>, target: impl Into<String>) -> Self {
        self.mounts.push(Mount::Volume {
            name: name.into(),
            target: target.into(),
            read_only: false,
        });
        self
    }

    /// Mounts a fresh anonymous volume at `target`; it is removed with the container.
    pub fn anonymous_volume(mut self, target: impl Into<String>) -> Self {
        self.mounts.push(Mount::Anonymous {
            target: target.into(),
        });
        self
    }

    /// Mounts a tmpfs at `target`, optionally limited to `size_bytes`.
    pub fn tmpfs(mut self, target: impl Into<String>, size_bytes: Option<u64>) -> Self {
        self.mounts.push(Mount::Tmpfs {
            target: target.into(),
            size_bytes,
        });
        self
    }

    /// Copies `bytes` to the absolute path `target` before the container
    /// starts, with permission bits `mode` (e.g. `0o644`, `0o755`).
    pub fn copy_bytes(
        mut self,
        target: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Self {
        self.copies.push(CopyIn {
            source: CopySource::Bytes(bytes.into()),
            target: target.into(),
            mode: Some(mode),
        });
        self
    }

    /// Copies a host file or folder to the absolute path `target` before the
    /// container starts, keeping its permission bits.
    pub fn copy_path(mut self, source: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        self.copies.push(CopyIn {
            source: CopySource::Path(source.into()),
            target: target.into(),
            mode: None,
        });
        self
    }

    /// Like [`copy_path`](Self::copy_path) for a file, with permission bits `mode`.
    pub fn copy_path_with_mode(
        mut self,
        source: impl Into<PathBuf>,
        target: impl Into<String>,
        mode: u32,
    ) -> Self {
        self.copies.push(CopyIn {
            source: CopySource::Path(source.into()),
            target: target.into(),
            mode: Some(mode),
        });
        self
    }

    /// Sets the working directory.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Runs as this user (`name`, `uid` or `uid:gid`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the container's hostname.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }

    /// Names containers `<prefix>-<random>` (default prefix: `dockhand`), so
    /// `docker ps` shows whose they are.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }

    /// Runs the container privileged.
    pub fn privileged(mut self) -> Self {
        self.privileged = true;
        self
    }

    /// Adds a Linux capability (e.g. `NET_ADMIN`).
    pub fn cap_add(mut self, cap: impl Into<String>) -> Self {
        self.cap_add.push(cap.into());
        self
    }

    /// Drops a Linux capability.
    pub fn cap_drop(mut self, cap: impl Into<String>) -> Self {
        self.cap_drop.push(cap.into());
        self
    }

    /// Limits memory to `bytes`.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// Limits CPU to `cpus` cores (e.g. `0.5`).
    pub fn cpu_limit(mut self, cpus: f64) -> Self {
        self.nano_cpus = Some((cpus * 1e9) as i64);
        self
    }

    /// Sets the size of `/dev/shm` in bytes (databases often want more than 64 MiB).
    pub fn shm_size(mut self, bytes: u64) -> Self {
        self.shm_size = Some(bytes);
        self
    }

    /// Keeps the container after the handle drops, labelled `dockhand.keep=true`,
    /// for debugging. Remove it later with `docker rm -f`.
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// Reuses a running container started from an identical spec (same image
    /// id, configuration and copied files) when `DOCKHAND_REUSE=1` is set,
    /// instead of starting a new one; such a container is never removed
    /// automatically (`dockhand clean --reused` removes it). Meant for fast
    /// local edit-test loops, not for CI. Without `DOCKHAND_REUSE=1` it has no effect.
    pub fn reuse(mut self, reuse: bool) -> Self {
        self.reuse = reuse;
        self
    }

    /// Joins `network` (created with [`NetworkSpec`](crate::NetworkSpec)); other
    /// containers there reach this one by the aliases given with
    /// [`alias`](Self::alias) right after, or by its name.
    pub fn network(mut self, network: &Network) -> Self {
        self.networks.push((network.clone(), Vec::new()));
        self
    }

    /// An alias on the network added last with [`network`](Self::network)
    /// (e.g. `db`); two containers cannot share one on a network.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        let alias = alias.into();
        match self.networks.last_mut() {
            Some((_, aliases)) => aliases.push(alias),
            // Reported by `validate`: an alias needs a network.
            None => self.loose_aliases.push(alias),
        }
        self
    }

    /// Starts from a snapshot: the first start (in any process) starts this
    /// spec, waits for its probes, runs `setup`, stops the container cleanly
    /// and commits it as an image; every later start begins from that image,
    /// ready-made. A seeded database then starts in the time a restart takes.
    ///
    /// The image is tagged `dockhand-snapshot/<image>:<hash>`, the hash
    /// covering the base image's id, the command, environment, mounts, files
    /// copied in and `key`: change any of them (bump the key when the set-up
    /// changes: its code cannot be hashed) and a new snapshot is made. Stale
    /// snapshots of the same key are removed once an hour old (a process may
    /// be starting from one right now). Snapshots stay between runs, like a
    /// build cache; `dockhand clean --snapshots` and
    /// [`Engine::remove_snapshots`] remove them.
    ///
    /// The set-up container is stopped cleanly (30 s grace) before the
    /// commit: give it a main process that ends on SIGTERM (a bare `sleep` as
    /// PID 1 does not), or the commit waits out the grace period.
    ///
    /// `docker commit` does not capture volumes. If the container wrote into
    /// one (an image's `VOLUME`, or one of the spec's), no snapshot is made
    /// and the start fails with [`Error::SnapshotFailed`] naming the folder:
    /// keep the data outside it (the database modules do).
    ///
    /// ```no_run
    /// # async fn demo() -> dockhand::Result<()> {
    /// use dockhand::{ContainerSpec, SnapshotSetup};
    /// let seeded = ContainerSpec::new("dockhand-test/busybox")
    ///     .cmd(["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"])
    ///     .snapshot("seed-v1", SnapshotSetup::exec(["sh", "-c", "echo rows > /seed.txt"]))
    ///     .start()
    ///     .await?;
    /// assert_eq!(seeded.exec_ok(["cat", "/seed.txt"]).await?.stdout.trim(), "rows");
    /// # Ok(()) }
    /// ```
    pub fn snapshot(self, key: impl Into<String>, setup: impl Into<SnapshotSetup>) -> Self {
        self.snapshot_salted(key, String::new(), setup)
    }

    /// [`snapshot`](Self::snapshot) whose hash also covers `salt`: what the
    /// set-up does, when a module knows it (its SQL).
    pub(crate) fn snapshot_salted(
        mut self,
        key: impl Into<String>,
        salt: String,
        setup: impl Into<SnapshotSetup>,
    ) -> Self {
        self.snapshot = Some(Snapshot {
            key: key.into(),
            setup: setup.into(),
            salt,
        });
        self
    }

    /// Starts on this engine instead of [`Engine::shared`].
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Makes [`start`](Self::start) return only once `probe` passed; several
    /// calls mean all of them. See [`WaitFor`] for the probes.
    ///
    /// ```no_run
    /// # async fn demo() -> dockhand::Result<()> {
    /// use dockhand::{ContainerSpec, WaitFor};
    /// let web = ContainerSpec::new("dockhand-test/busybox")
    ///     .cmd(["httpd", "-f", "-p", "8080"])
    ///     .expose(8080)
    ///     .wait_for(WaitFor::http(8080, "/").status_matches(|s| s < 500))
    ///     .start()
    ///     .await?; // the server answers now
    /// # Ok(()) }
    /// ```
    pub fn wait_for(mut self, probe: impl Into<WaitFor>) -> Self {
        self.waits.push(probe.into());
        self
    }

    /// How long [`start`](Self::start) waits for the probes given with
    /// [`wait_for`](Self::wait_for) in all (default 60 s).
    pub fn startup_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Sets the container's HEALTHCHECK (replacing the image's), for
    /// [`WaitFor::healthy`]. Durations are in nanoseconds, as in the Engine API.
    ///
    /// ```
    /// use dockhand::bollard::models::HealthConfig;
    /// let spec = dockhand::ContainerSpec::new("dockhand-test/busybox").healthcheck(HealthConfig {
    ///     test: Some(vec!["CMD-SHELL".into(), "wget -q -O- http://127.0.0.1:8080/ || exit 1".into()]),
    ///     interval: Some(200_000_000),
    ///     retries: Some(5),
    ///     ..Default::default()
    /// });
    /// # let _ = spec;
    /// ```
    pub fn healthcheck(mut self, config: HealthConfig) -> Self {
        self.healthcheck = Some(config);
        self
    }

    /// Edits the engine's create request directly, for anything the builder
    /// does not cover (applied last).
    ///
    /// ```
    /// let spec = dockhand::ContainerSpec::new("busybox").customize(|body| {
    ///     body.stop_signal = Some("SIGINT".into());
    /// });
    /// # let _ = spec;
    /// ```
    pub fn customize(
        mut self,
        f: impl Fn(&mut ContainerCreateBody) + Send + Sync + 'static,
    ) -> Self {
        self.customizers.push(Arc::new(f));
        self
    }

    /// Checks the spec without touching the engine.
    pub(crate) fn validate(&self) -> Result<()> {
        let what = || format!("ContainerSpec for image `{}`", self.image);
        if self.image.trim().is_empty() {
            return Err(Error::invalid(what(), "the image name is empty"));
        }
        if self.image.chars().any(char::is_whitespace) {
            return Err(Error::invalid(what(), "the image name contains whitespace"));
        }
        for (k, _) in &self.env {
            if k.is_empty() || k.contains('=') {
                return Err(Error::invalid(
                    what(),
                    format!("environment variable name `{k}` is empty or contains `=`"),
                ));
            }
        }
        if let Some(key) = self
            .labels
            .keys()
            .find(|k| k.starts_with("dockhand.") && *k != session::LABEL_TEST)
        {
            return Err(Error::invalid(
                what(),
                format!("label `{key}`: keys starting with `dockhand.` are reserved for dockhand"),
            ));
        }
        for m in &self.mounts {
            if !m.target().starts_with('/') {
                return Err(Error::invalid(
                    what(),
                    format!("mount target `{}` must be an absolute path", m.target()),
                ));
            }
            if let Mount::Bind { source, .. } = m {
                if !source.exists() {
                    return Err(Error::invalid(
                        what(),
                        format!(
                            "bind source `{}` does not exist on this machine",
                            source.display()
                        ),
                    ));
                }
            }
        }
        for c in &self.copies {
            c.validate()?;
        }
        let exposed = self.exposed_ports();
        for w in &self.waits {
            w.validate(&exposed)
                .map_err(|m| Error::invalid(what(), m))?;
        }
        if !self.loose_aliases.is_empty() {
            return Err(Error::invalid(
                what(),
                "`alias` names the container on a network: call `.network(&net)` before `.alias(..)`",
            ));
        }
        if let Some(p) = &self.name_prefix {
            let ok = p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if p.is_empty() || !ok {
                return Err(Error::invalid(
                    what(),
                    format!("name prefix `{p}` may only hold letters, digits, `_`, `.` and `-`"),
                ));
            }
        }
        Ok(())
    }

    /// A fresh container name for this spec.
    pub(crate) fn fresh_name(&self) -> String {
        format!(
            "{}-{}",
            self.name_prefix.as_deref().unwrap_or("dockhand"),
            session::random_suffix()
        )
    }

    /// The labels the container carries: the user's plus dockhand's own.
    pub(crate) fn all_labels(&self) -> HashMap<String, String> {
        let mut labels = self.labels.clone();
        labels.extend(session::labels());
        if self.keep {
            labels.insert(session::LABEL_KEEP.into(), "true".into());
        }
        labels
    }

    /// The engine's create request for this spec.
    pub(crate) fn create_body(&self, engine: &Engine) -> ContainerCreateBody {
        let bind_ip = self
            .bind_ip
            .clone()
            .unwrap_or_else(|| engine.default_bind_ip().to_string());
        let port_bindings = self
            .ports
            .iter()
            .map(|p| {
                let binding = PortBinding {
                    host_ip: Some(bind_ip.clone()),
                    host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
                };
                (p.container.to_string(), Some(vec![binding]))
            })
            .collect();
        let mounts: Vec<_> = self
            .mounts
            .iter()
            .map(|m| match m {
                Mount::Bind {
                    source,
                    target,
                    read_only,
                } => Mount::Bind {
                    source: std::path::absolute(source).unwrap_or_else(|_| source.clone()),
                    target: target.clone(),
                    read_only: *read_only,
                }
                .to_api(),
                other => other.to_api(),
            })
            .collect();
        let host_config = HostConfig {
            port_bindings: Some(port_bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            privileged: self.privileged.then_some(true),
            cap_add: (!self.cap_add.is_empty()).then(|| self.cap_add.clone()),
            cap_drop: (!self.cap_drop.is_empty()).then(|| self.cap_drop.clone()),
            memory: self.memory.map(|m| m as i64),
            nano_cpus: self.nano_cpus,
            shm_size: self.shm_size.map(|s| s as i64),
            network_mode: self.networks.first().map(|(n, _)| n.name().to_string()),
            ..Default::default()
        };
        let networking_config = self
            .networks
            .first()
            .map(|(net, aliases)| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net.name().to_string(),
                    crate::network::endpoint(aliases),
                )])),
            });
        let mut body = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: self.cmd.clone(),
            entrypoint: self.entrypoint.clone(),
            env: Some(self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(self.all_labels()),
            exposed_ports: Some(self.ports.iter().map(|p| p.container.to_string()).collect()),
            working_dir: self.working_dir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            host_config: Some(host_config),
            healthcheck: self.healthcheck.clone(),
            networking_config,
            ..Default::default()
        };
        for f in &self.customizers {
            f(&mut body);
        }
        body
    }

    /// The container ports this spec exposes.
    pub fn exposed_ports(&self) -> Vec<ContainerPort> {
        self.ports.iter().map(|p| p.container).collect()
    }
}
