//! PostgreSQL: a server per test or shared, snapshots of a seeded server,
//! and isolated databases copied from a template in milliseconds.
//!
//! Works with the official `postgres` image (default `postgres:16`) and any
//! image that honours its environment (`POSTGRES_USER`, `POSTGRES_PASSWORD`,
//! `POSTGRES_DB`, `PGDATA`) and ships `psql`.
//!
//! ```no_run
//! use dockhand::postgres::{Postgres, PostgresSpec};
//!
//! // As a test parameter: a fresh server for this test, random password.
//! #[dockhand::test]
//! async fn stores_rows(pg: Postgres) {
//!     pg.execute("CREATE TABLE t (id int)").await.unwrap();
//!     let url = pg.url(); // postgres://postgres:<password>@127.0.0.1:<port>/postgres
//!     # let _ = url;
//! }
//!
//! // One server for the whole test binary, each test in its own database
//! // copied from a template that holds the schema and seed rows.
//! static PG: dockhand::Shared<PostgresSpec> = dockhand::Shared::new(|| {
//!     PostgresSpec::new()
//!         .template_sql("CREATE TABLE users (id serial PRIMARY KEY, name text)")
//!         .template_sql("INSERT INTO users (name) VALUES ('ada'), ('grace')")
//! });
//!
//! #[dockhand::test]
//! async fn sees_only_its_own_tables() {
//!     let db = PG.get().await.unwrap().isolated_database().await.unwrap();
//!     let url = db.url(); // connect your client here
//!     # let _ = url;
//! }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Server, Starter, Teardown};
use crate::container::Container;
use crate::engine;
use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::harness::fixture::SetupError;
use crate::snapshot::SnapshotSetup;
use crate::spec::ContainerSpec;
use crate::wait::WaitFor;

/// The default image: the official one (from `DOCKHAND_IMAGE_PREFIX` when set).
pub const IMAGE: &str = "postgres:16";
/// The port the server listens on in the container.
pub const PORT: u16 = 5432;
/// The template isolated databases are copied from.
pub const TEMPLATE: &str = "dockhand_template";
/// Where a snapshot keeps the data: outside the image's `VOLUME`, which
/// `docker commit` would not capture (`/var/lib/postgresql/data` up to
/// Postgres 17, `/var/lib/postgresql` from 18).
const SNAPSHOT_PGDATA: &str = "/var/lib/postgresql-snapshot/data";

/// How to start a Postgres server; [`start`](Self::start) it, use it as a
/// [`Shared`](crate::Shared) server, or take [`Postgres`] as a test parameter
/// for the defaults.
#[derive(Clone)]
pub struct PostgresSpec {
    image: String,
    user: String,
    password: String,
    database: String,
    init_sql: Vec<String>,
    template_sql: Vec<String>,
    snapshot: Option<String>,
    customizers: super::Customizers,
}

impl fmt::Debug for PostgresSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSpec")
            .field("image", &self.image)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("init_sql", &self.init_sql.len())
            .field("template_sql", &self.template_sql.len())
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

impl Default for PostgresSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl PostgresSpec {
    /// `postgres:16`, user and database `postgres`, a random password; the
    /// server runs for tests, not for keeps: `initdb --no-sync`, `fsync`,
    /// `synchronous_commit` and `full_page_writes` off (replace the command
    /// with [`customize`](Self::customize) to change that).
    pub fn new() -> Self {
        PostgresSpec {
            image: IMAGE.into(),
            user: "postgres".into(),
            password: super::random_password(),
            database: "postgres".into(),
            init_sql: Vec::new(),
            template_sql: Vec::new(),
            snapshot: None,
            customizers: Default::default(),
        }
    }

    /// Another image (e.g. `postgres:15`, `postgis/postgis:16-3.4`).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self
    }

    /// The superuser to create (default `postgres`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// A fixed password instead of a random one.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// The database to create (default `postgres`).
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// SQL run in the database once the server is ready, before the handle
    /// is returned (or once, into the snapshot). Each call is one `psql -c`:
    /// one transaction, unless it says otherwise.
    pub fn init_sql(mut self, sql: impl Into<String>) -> Self {
        self.init_sql.push(sql.into());
        self
    }

    /// SQL that builds the template database (schema and seed rows) that
    /// [`Postgres::isolated_database`] copies; run once per server, or once
    /// into the snapshot.
    pub fn template_sql(mut self, sql: impl Into<String>) -> Self {
        self.template_sql.push(sql.into());
        self
    }

    /// Starts from a snapshot: the first start initialises the server, runs
    /// the init and template SQL and commits it (see
    /// [`ContainerSpec::snapshot`]); later starts skip all that. The data
    /// lives outside the image's `VOLUME` so the commit captures it.
    /// Containers from one snapshot share its password. The SQL is part of
    /// the snapshot's hash: change it and a new snapshot is made.
    pub fn snapshot(mut self, key: impl Into<String>) -> Self {
        self.snapshot = Some(key.into());
        self
    }

    /// Edits the container spec (environment, network, keep…).
    ///
    /// ```
    /// use dockhand::postgres::PostgresSpec;
    /// let spec = PostgresSpec::new().customize(|c| c.env("TZ", "UTC").cmd(["postgres", "-c", "fsync=off"]));
    /// # let _ = spec;
    /// ```
    pub fn customize(
        mut self,
        f: impl Fn(ContainerSpec) -> ContainerSpec + Send + Sync + 'static,
    ) -> Self {
        self.customizers.push(f);
        self
    }

    /// The container spec [`start`](Self::start) starts.
    pub fn container_spec(&self) -> ContainerSpec {
        let mut spec = ContainerSpec::new(&self.image)
            .env("POSTGRES_USER", &self.user)
            .env("POSTGRES_PASSWORD", &self.password)
            .env("POSTGRES_DB", &self.database)
            // Throwaway data: no fsync at initdb nor while running.
            .env("POSTGRES_INITDB_ARGS", "--no-sync")
            .cmd([
                "postgres",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .expose(PORT)
            // The init server listens on the socket only, the real one on
            // TCP: right whether or not the data was initialised before.
            .wait_for(
                WaitFor::log("database system is ready to accept connections")
                    .after("listening on IPv4"),
            );
        if let Some(key) = &self.snapshot {
            let setup = self.setup_sql();
            let sql = Sql::new(&self.user, &self.password, &self.database);
            // Changed SQL makes a new snapshot, whatever the key.
            let salt = format!("{setup:?}");
            spec = spec.env("PGDATA", SNAPSHOT_PGDATA).snapshot_salted(
                key.clone(),
                salt,
                SnapshotSetup::with(move |c| {
                    let (sql, setup) = (sql.clone(), setup.clone());
                    Box::pin(async move {
                        sql.run_all(c, &setup).await?;
                        Ok::<(), SetupError>(())
                    })
                }),
            );
            spec.volatile_env.push("POSTGRES_PASSWORD".into());
        }
        self.customizers.apply(spec)
    }

    /// Init SQL, then the template's.
    fn setup_sql(&self) -> Vec<Statement> {
        let mut all: Vec<Statement> = self.init_sql.iter().map(|s| (None, s.clone())).collect();
        if !self.template_sql.is_empty() {
            all.push((None, format!("CREATE DATABASE {TEMPLATE}")));
            all.extend(
                self.template_sql
                    .iter()
                    .map(|s| (Some(TEMPLATE.into()), s.clone())),
            );
            all.push((
                None,
                format!("ALTER DATABASE {TEMPLATE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
            ));
        }
        all
    }

    /// Starts the server; returns once it accepts connections and the init
    /// SQL ran. Belongs to the running `#[dockhand::test]`, if any.
    pub async fn start(self) -> Result<Postgres> {
        self.start_with(super::in_test()).await
    }

    async fn start_with(self, start: Starter) -> Result<Postgres> {
        let container = start(self.container_spec()).await?;
        // A snapshot's frozen credentials win over this spec's.
        let env = super::client::environment(&container).await?;
        let get = |k: &str, default: &str| super::client::env_or(&env, k, default);
        let (user, password, database) = (
            get("POSTGRES_USER", &self.user),
            get("POSTGRES_PASSWORD", &self.password),
            get("POSTGRES_DB", &self.database),
        );
        let url = url(
            &user,
            &password,
            &super::published(&container, PORT),
            &database,
        );
        let pg = Postgres {
            admin: Arc::new(Admin::new(url, container.name())),
            user,
            password,
            database,
            template: !self.template_sql.is_empty(),
            server: Arc::new(container),
        };
        if self.snapshot.is_none() {
            pg.sql().run_all(&pg.server, &self.setup_sql()).await?;
        }
        Ok(pg)
    }
}

super::module_starts!(PostgresSpec => Postgres, "postgres");

/// A running Postgres server. Dropping it removes the container (once the
/// isolated databases made from it are gone too).
pub struct Postgres {
    server: Server,
    admin: Arc<Admin>,
    user: String,
    password: String,
    database: String,
    template: bool,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("container", &self.server.name())
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Postgres {
    /// The container.
    pub fn container(&self) -> &Container {
        &self.server
    }

    /// The superuser's name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The database created at start.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The published address, e.g. `127.0.0.1:49153`.
    pub fn addr(&self) -> Result<SocketAddr> {
        self.server.addr(PORT)
    }

    /// `postgres://user:password@127.0.0.1:<port>/<database>`.
    pub fn url(&self) -> String {
        self.url_for(&self.database)
    }

    /// The URL of another database on this server.
    pub fn url_for(&self, database: &str) -> String {
        let addr = super::published(&self.server, PORT);
        url(&self.user, &self.password, &addr, database)
    }

    /// The URL for another container on the same network, which reaches this
    /// server as `host` (its alias or name): `postgres://…@host:5432/<database>`.
    pub fn network_url(&self, host: &str) -> String {
        url(
            &self.user,
            &self.password,
            &format!("{host}:{PORT}"),
            &self.database,
        )
    }

    fn sql(&self) -> Sql {
        Sql::new(&self.user, &self.password, &self.database)
    }

    /// Runs SQL with `psql` in the container, in the main database; returns
    /// what it printed (rows unaligned, `|` between columns).
    pub async fn execute(&self, sql: &str) -> Result<String> {
        self.sql().run(&self.server, sql).await
    }

    /// A fresh database for one test, copied from the template built by
    /// [`PostgresSpec::template_sql`] (empty without one). Made during a
    /// `#[dockhand::test]`, it is dropped when the test ends (kept when the
    /// keep policy keeps the test's containers); else when the handle drops.
    pub async fn isolated_database(&self) -> Result<PostgresDatabase> {
        let name = super::isolated_name();
        let create = if self.template {
            format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        } else {
            format!("CREATE DATABASE {name}")
        };
        self.admin.run(&create).await?;
        let (admin, db, server) = (self.admin.clone(), name.clone(), self.server.clone());
        let drop_it: BoxFuture<'static, ()> = Box::pin(async move {
            let statement = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
            if let Err(e) = admin.run(&statement).await {
                tracing::debug!("dropping database `{db}`: {e}");
            }
            // The server lives until its databases are gone.
            drop(server);
        });
        let url = self.url_for(&name);
        let what = format!(
            "database `{name}` ({url}) in container `{}`",
            self.server.name()
        );
        Ok(PostgresDatabase {
            name,
            url,
            _teardown: Teardown::new(what, &self.server, drop_it),
        })
    }
}

fn url(user: &str, password: &str, addr: &str, database: &str) -> String {
    super::url("postgres", user, password, addr, database)
}

/// dockhand's own connection to the server, made on first use and living on
/// the engine runtime (so it outlasts each test's runtime): isolated
/// databases are made and dropped through it, without a `psql` per call.
struct Admin {
    url: String,
    container: String,
    client: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

impl Admin {
    fn new(url: String, container: &str) -> Self {
        Admin {
            url,
            container: container.to_string(),
            client: Default::default(),
        }
    }

    async fn client(&self, fresh: bool) -> Result<Arc<tokio_postgres::Client>> {
        let mut slot = self.client.lock().await;
        if let (Some(c), false) = (slot.as_ref(), fresh) {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let url = self.url.clone();
        let client = engine::run(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!("dockhand's Postgres connection ended: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        })
        .await
        .map_err(|e| self.error("connect to", &e))?;
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Runs `sql`; reconnects once if the connection was lost.
    async fn run(&self, sql: &str) -> Result<()> {
        let mut fresh = false;
        loop {
            let client = self.client(fresh).await?;
            let statement = sql.to_string();
            match engine::run(async move { client.batch_execute(&statement).await }).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_closed() && !fresh => fresh = true,
                Err(e) => return Err(self.error(&format!("`{sql}` in"), &e)),
            }
        }
    }

    fn error(&self, action: &str, e: &tokio_postgres::Error) -> Error {
        let message = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => e.to_string(),
        };
        Error::Database {
            action: format!("{action} Postgres in container `{}`", self.container),
            message,
        }
    }
}

/// A database of its own for one test, on a shared server (see
/// [`Postgres::isolated_database`]).
pub struct PostgresDatabase {
    name: String,
    url: String,
    _teardown: Teardown,
}

impl fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PostgresDatabase {
    /// Its name, `t_<test>_<random>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgres://user:password@127.0.0.1:<port>/<name>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// One statement and the database it runs in (`None`: the main one).
type Statement = (Option<String>, String);

/// Runs SQL through `psql` in the container.
#[derive(Clone)]
struct Sql {
    user: String,
    password: String,
    database: String,
}

impl Sql {
    fn new(user: &str, password: &str, database: &str) -> Self {
        Sql {
            user: user.into(),
            password: password.into(),
            database: database.into(),
        }
    }

    /// Runs `sql` in the main database.
    async fn run(&self, c: &Container, sql: &str) -> Result<String> {
        self.run_all(c, &[(None, sql.to_string())]).await
    }

    /// Runs the statements in one `psql`, each its own `-c` (so its own
    /// transaction), moving between databases with `\connect`; stops at the
    /// first error.
    async fn run_all(&self, c: &Container, statements: &[Statement]) -> Result<String> {
        if statements.is_empty() {
            return Ok(String::new());
        }
        let first = statements[0].0.as_deref().unwrap_or(&self.database);
        let mut cmd: Vec<String> = [
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
        ]
        .into_iter()
        .map(String::from)
        .chain([self.user.clone(), "-d".into(), first.to_string()])
        .collect();
        let mut shown = vec!["psql".to_string(), "-d".into(), first.to_string()];
        let mut current = first;
        for (db, sql) in statements {
            let db = db.as_deref().unwrap_or(&self.database);
            if db != current {
                let connect = format!("\\connect {db}");
                cmd.extend(["-c".into(), connect.clone()]);
                shown.extend(["-c".into(), connect]);
                current = db;
            }
            cmd.extend(["-c".into(), sql.clone()]);
            shown.extend(["-c".into(), sql.clone()]);
        }
        let exec = Exec::new(cmd).env("PGPASSWORD", &self.password);
        super::client::run(c, exec, shown).await
    }
}
