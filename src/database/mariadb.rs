//! MariaDB: a server per test or shared, snapshots of a seeded server, and
//! a schema of its own per test on a shared server.
//!
//! Works with the official `mariadb` image (default `mariadb:11`) and any
//! image that honours its environment (`MARIADB_ROOT_PASSWORD`,
//! `MARIADB_DATABASE`, `MARIADB_USER`, `MARIADB_PASSWORD`) and ships the
//! `mariadb` client.
//!
//! ```no_run
//! use dockhand::mariadb::{MariaDb, MariaDbSpec};
//!
//! #[dockhand::test]
//! async fn stores_rows(db: MariaDb) {
//!     db.execute("CREATE TABLE t (id INT)").await.unwrap();
//!     let url = db.url(); // mysql://test:<password>@127.0.0.1:<port>/test
//!     # let _ = url;
//! }
//!
//! static MARIADB: dockhand::Shared<MariaDbSpec> = dockhand::Shared::new(|| {
//!     MariaDbSpec::new().schema_sql("CREATE TABLE users (id INT PRIMARY KEY, name TEXT)")
//! });
//!
//! #[dockhand::test]
//! async fn sees_only_its_own_tables() {
//!     let schema = MARIADB.get().await.unwrap().isolated_database().await.unwrap();
//!     let url = schema.url(); // mysql://test:<password>@127.0.0.1:<port>/t_<test>_<random>
//!     # let _ = url;
//! }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Server, Starter, Teardown};
use crate::container::Container;
use crate::error::Result;
use crate::exec::Exec;
use crate::harness::fixture::SetupError;
use crate::snapshot::SnapshotSetup;
use crate::spec::ContainerSpec;
use crate::wait::WaitFor;

/// The default image: the official one (from `DOCKHAND_IMAGE_PREFIX` when set).
pub const IMAGE: &str = "mariadb:11";
/// The port the server listens on in the container.
pub const PORT: u16 = 3306;
/// Where a snapshot keeps the data: outside the image's `VOLUME`, which
/// `docker commit` would not capture.
const SNAPSHOT_DATADIR: &str = "/var/lib/mysql-snapshot";

/// How to start a MariaDB server.
#[derive(Clone)]
pub struct MariaDbSpec {
    image: String,
    root_password: String,
    user: String,
    password: String,
    database: String,
    init_sql: Vec<String>,
    schema_sql: Vec<String>,
    snapshot: Option<String>,
    customizers: super::Customizers,
}

impl fmt::Debug for MariaDbSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDbSpec")
            .field("image", &self.image)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

impl Default for MariaDbSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl MariaDbSpec {
    /// `mariadb:11`, user and database `test`, random passwords for it and
    /// for root; time zone tables are not loaded (`MARIADB_INITDB_SKIP_TZINFO`),
    /// which halves the first start (set it empty with
    /// [`customize`](Self::customize) to load them).
    pub fn new() -> Self {
        MariaDbSpec {
            image: IMAGE.into(),
            root_password: super::random_password(),
            user: "test".into(),
            password: super::random_password(),
            database: "test".into(),
            init_sql: Vec::new(),
            schema_sql: Vec::new(),
            snapshot: None,
            customizers: Default::default(),
        }
    }

    /// Another image (e.g. `mariadb:10.11`).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self
    }

    /// The user to create (default `test`; not `root`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// A fixed password for the user instead of a random one.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// The database to create (default `test`).
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = database.into();
        self
    }

    /// SQL run (as root) in the database once the server is ready (or once,
    /// into the snapshot).
    pub fn init_sql(mut self, sql: impl Into<String>) -> Self {
        self.init_sql.push(sql.into());
        self
    }

    /// SQL run in every schema [`MariaDb::isolated_database`] makes (tables,
    /// seed rows); MariaDB has no template databases, so it runs per schema.
    pub fn schema_sql(mut self, sql: impl Into<String>) -> Self {
        self.schema_sql.push(sql.into());
        self
    }

    /// Starts from a snapshot: the first start initialises the server and
    /// runs the init SQL, then commits it (see [`ContainerSpec::snapshot`]);
    /// later starts skip that. The data lives outside the image's `VOLUME`
    /// so the commit captures it. Containers from one snapshot share its
    /// passwords. The init SQL is part of the snapshot's hash: change it and
    /// a new snapshot is made.
    pub fn snapshot(mut self, key: impl Into<String>) -> Self {
        self.snapshot = Some(key.into());
        self
    }

    /// Edits the container spec (environment, network, keep…).
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
            .env("MARIADB_ROOT_PASSWORD", &self.root_password)
            .env("MARIADB_USER", &self.user)
            .env("MARIADB_PASSWORD", &self.password)
            .env("MARIADB_DATABASE", &self.database)
            .env("MARIADB_INITDB_SKIP_TZINFO", "1")
            .expose(PORT)
            // The init server runs without networking ("port: 0").
            .wait_for(WaitFor::log(format!("port: {PORT}")));
        if let Some(key) = &self.snapshot {
            let (sql, init) = (self.client(), self.init_sql.clone());
            // Changed SQL makes a new snapshot, whatever the key.
            let salt = format!("{init:?}");
            spec = spec
                .cmd([
                    "mariadbd".to_string(),
                    format!("--datadir={SNAPSHOT_DATADIR}"),
                ])
                .snapshot_salted(
                    key.clone(),
                    salt,
                    SnapshotSetup::with(move |c| {
                        let (sql, init) = (sql.clone(), init.clone());
                        Box::pin(async move {
                            sql.run_all(c, None, &init).await?;
                            Ok::<(), SetupError>(())
                        })
                    }),
                );
            spec.volatile_env
                .extend(["MARIADB_ROOT_PASSWORD".into(), "MARIADB_PASSWORD".into()]);
        }
        self.customizers.apply(spec)
    }

    fn client(&self) -> Client {
        Client {
            root_password: self.root_password.clone(),
            database: self.database.clone(),
        }
    }

    /// Starts the server; returns once it accepts connections and the init
    /// SQL ran. Belongs to the running `#[dockhand::test]`, if any.
    pub async fn start(self) -> Result<MariaDb> {
        self.start_with(super::in_test()).await
    }

    async fn start_with(self, start: Starter) -> Result<MariaDb> {
        let container = start(self.container_spec()).await?;
        let env = super::client::environment(&container).await?;
        let get = |k: &str, default: &str| super::client::env_or(&env, k, default);
        let db = MariaDb {
            user: get("MARIADB_USER", &self.user),
            password: get("MARIADB_PASSWORD", &self.password),
            database: get("MARIADB_DATABASE", &self.database),
            client: Client {
                root_password: get("MARIADB_ROOT_PASSWORD", &self.root_password),
                database: get("MARIADB_DATABASE", &self.database),
            },
            schema_sql: self.schema_sql.clone(),
            server: Arc::new(container),
        };
        if self.snapshot.is_none() {
            db.client.run_all(&db.server, None, &self.init_sql).await?;
        }
        Ok(db)
    }
}

super::module_starts!(MariaDbSpec => MariaDb, "mariadb");

/// A running MariaDB server. Dropping it removes the container (once the
/// isolated schemas made from it are gone too).
pub struct MariaDb {
    server: Server,
    user: String,
    password: String,
    database: String,
    client: Client,
    schema_sql: Vec<String>,
}

impl fmt::Debug for MariaDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDb")
            .field("container", &self.server.name())
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl MariaDb {
    /// The container.
    pub fn container(&self) -> &Container {
        &self.server
    }

    /// The user's name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The user's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// root's password.
    pub fn root_password(&self) -> &str {
        &self.client.root_password
    }

    /// The database created at start.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The published address, e.g. `127.0.0.1:49153`.
    pub fn addr(&self) -> Result<SocketAddr> {
        self.server.addr(PORT)
    }

    /// `mysql://user:password@127.0.0.1:<port>/<database>`.
    pub fn url(&self) -> String {
        self.url_for(&self.database)
    }

    /// The URL of another database (schema) on this server.
    pub fn url_for(&self, database: &str) -> String {
        let addr = super::published(&self.server, PORT);
        super::url("mysql", &self.user, &self.password, &addr, database)
    }

    /// The URL for another container on the same network, which reaches this
    /// server as `host` (its alias or name).
    pub fn network_url(&self, host: &str) -> String {
        super::url(
            "mysql",
            &self.user,
            &self.password,
            &format!("{host}:{PORT}"),
            &self.database,
        )
    }

    /// Runs SQL as root with the `mariadb` client in the container, in the
    /// main database; returns what it printed (tab-separated rows, no header).
    pub async fn execute(&self, sql: &str) -> Result<String> {
        self.client.run(&self.server, None, sql).await
    }

    /// A schema of its own for one test, with the user granted all on it and
    /// [`MariaDbSpec::schema_sql`] run in it. Made during a
    /// `#[dockhand::test]`, it is dropped when the test ends (kept when the
    /// keep policy keeps the test's containers); else when the handle drops.
    pub async fn isolated_database(&self) -> Result<MariaDbDatabase> {
        let name = super::isolated_name();
        let create = format!(
            "CREATE DATABASE `{name}`; GRANT ALL ON `{name}`.* TO '{}'@'%';",
            self.user.replace('\'', "''")
        );
        let (server, client, schema) = (self.server.clone(), self.client.clone(), name.clone());
        let drop_it: BoxFuture<'static, ()> = Box::pin(async move {
            let drop = format!("DROP DATABASE IF EXISTS `{schema}`");
            if let Err(e) = client.run(&server, None, &drop).await {
                tracing::debug!("dropping schema `{schema}`: {e}");
            }
        });
        let url = self.url_for(&name);
        let what = format!(
            "schema `{name}` ({url}) in container `{}`",
            self.server.name()
        );
        let handle = MariaDbDatabase {
            name: name.clone(),
            url,
            _teardown: Teardown::new(what, &self.server, drop_it),
        };
        // Made after the handle: whatever fails below, the schema is dropped.
        self.client.run(&self.server, None, &create).await?;
        self.client
            .run_all(&self.server, Some(&name), &self.schema_sql)
            .await?;
        Ok(handle)
    }
}

/// A schema of its own for one test (see [`MariaDb::isolated_database`]).
pub struct MariaDbDatabase {
    name: String,
    url: String,
    _teardown: Teardown,
}

impl fmt::Debug for MariaDbDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MariaDbDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MariaDbDatabase {
    /// Its name, `t_<test>_<random>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `mysql://user:password@127.0.0.1:<port>/<name>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Runs SQL as root through the `mariadb` client in the container.
#[derive(Clone)]
struct Client {
    root_password: String,
    database: String,
}

impl Client {
    async fn run(&self, c: &Container, database: Option<&str>, sql: &str) -> Result<String> {
        let db = database.unwrap_or(&self.database);
        let exec = Exec::new([
            "mariadb",
            "--protocol=tcp",
            "-h",
            "127.0.0.1",
            "-uroot",
            "-N",
            "-B",
            "-D",
            db,
            "-e",
            sql,
        ])
        .env("MYSQL_PWD", &self.root_password);
        let shown = vec![
            "mariadb".into(),
            "-D".into(),
            db.into(),
            "-e".into(),
            sql.into(),
        ];
        super::client::run(c, exec, shown).await
    }

    /// Runs the statements in one client, one after another; stops at the
    /// first error.
    async fn run_all(&self, c: &Container, database: Option<&str>, sql: &[String]) -> Result<()> {
        if sql.is_empty() {
            return Ok(());
        }
        let joined: Vec<&str> = sql
            .iter()
            .map(|s| s.trim().trim_end_matches(';'))
            .filter(|s| !s.is_empty())
            .collect();
        self.run(c, database, &joined.join(";\n")).await.map(drop)
    }
}
