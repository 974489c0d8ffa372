//! Every store trait, the durable [`JobQueue`](quflux_core::JobQueue) and the
//! [`Cache`](quflux_core::Cache) on embedded SQLite (feature `sqlite`, default).
//!
//! ```no_run
//! # async fn demo() -> quflux_core::Result<()> {
//! use quflux_store::sqlite::SqliteStore;
//!
//! // Creates the file if missing, then applies the embedded migrations.
//! let store = SqliteStore::open("sqlite://quflux.db").await?;
//! // Or, for tests and demos: one private in-memory database, already migrated.
//! let scratch = SqliteStore::in_memory().await?;
//! # let _ = (store, scratch); Ok(()) }
//! ```
//!
//! # Storage
//! - Ids are TEXT uuids; instants are UTC RFC 3339 TEXT with exactly nine fractional digits,
//!   so they sort as text and every `DateTime<Utc>` roundtrips exactly (nanoseconds included).
//! - Post content, platform lists, attempt ledgers, scopes, metadata and tokens are JSON TEXT.
//! - Updates are compare-and-swap on a `version` column; unique violations are
//!   [`Error::Conflict`].
//! - Notification seqs are an `AUTOINCREMENT` key: never reused, and assigned in commit order
//!   because SQLite runs one write transaction at a time. Password hashes and sessions
//!   reference `users` (`ON DELETE CASCADE`, foreign keys enforced).
//! - Migrations (`migrations/sqlite/`) are embedded and applied by [`SqliteStore::migrate`]
//!   (or [`SqliteStore::open`] / [`SqliteStore::in_memory`]), never implicitly by
//!   [`SqliteStore::connect`].
//!
//! # Concurrency
//! File databases use WAL, `synchronous = NORMAL`, a 5 s busy timeout and a pool of
//! [`DEFAULT_MAX_CONNECTIONS`] connections. Every multi-statement write runs in a
//! `BEGIN IMMEDIATE` transaction, so writers queue on the busy timeout instead of failing with
//! `database is locked`. A job claim selects and leases in one such transaction: each job goes
//! to exactly one claimer, across connections and processes.
//!
//! "Now" (leases, due jobs, cache expiry) comes from the store's [`Clock`], never from SQLite.

mod auth;
mod cache;
mod codec;
mod config;
mod posts;
mod queue;
mod schedules;
mod users;

use std::sync::Arc;

use quflux_core::{Clock, Error, Result};
use sqlx::SqlitePool;
use tokio::sync::Notify;

pub use config::{
    DATABASE_URL_ENV, DEFAULT_BUSY_TIMEOUT, DEFAULT_MAX_CONNECTIONS, SqliteStoreBuilder,
    SqliteStoreConfig,
};

/// Service name used in errors.
pub const BACKEND: &str = "sqlite";

/// The migrations embedded from `migrations/sqlite/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Implements every store trait, [`JobQueue`](quflux_core::JobQueue) and
/// [`Cache`](quflux_core::Cache) on one SQLite database. Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    /// Signalled when a job may have become claimable in this process.
    jobs_changed: Arc<Notify>,
}

impl SqliteStore {
    /// A builder; see [`SqliteStoreBuilder`].
    pub fn builder() -> SqliteStoreBuilder {
        SqliteStoreBuilder::new()
    }

    /// Opens `url` (`sqlite://path.db`, `sqlite:path.db` or `sqlite::memory:`), creating the
    /// file if missing. Does not migrate: call [`SqliteStore::migrate`].
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL; the database's errors when it cannot be opened.
    pub async fn connect(url: &str) -> Result<Self> {
        SqliteStoreBuilder::new().with_url(url).build().await
    }

    /// [`SqliteStore::connect`] followed by [`SqliteStore::migrate`].
    ///
    /// # Errors
    /// As [`SqliteStore::connect`] and [`SqliteStore::migrate`].
    pub async fn open(url: &str) -> Result<Self> {
        SqliteStoreBuilder::new()
            .with_url(url)
            .with_auto_migrate(true)
            .build()
            .await
    }

    /// A private in-memory database on a single connection, already migrated. It is shared by
    /// every clone and task and lives until the last clone is dropped.
    ///
    /// # Errors
    /// Only if SQLite itself fails.
    pub async fn in_memory() -> Result<Self> {
        SqliteStoreBuilder::new()
            .with_url("sqlite::memory:")
            .with_auto_migrate(true)
            .build()
            .await
    }

    /// Applies the embedded migrations not applied yet. Idempotent.
    ///
    /// # Errors
    /// [`Error::Other`] if a migration fails or the database has migrations this build does not
    /// know.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => codec::db_error(e, "migration"),
            other => Error::other(BACKEND, other),
        })
    }

    /// Uses `clock` for "now" (leases, due jobs, cache expiry).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Closes every connection; later calls fail. Use at shutdown to checkpoint the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn from_parts(pool: SqlitePool, clock: Arc<dyn Clock>) -> Self {
        Self {
            pool,
            clock,
            jobs_changed: Arc::new(Notify::new()),
        }
    }

    /// Starts a `BEGIN IMMEDIATE` transaction: the write lock is taken up front (waiting on the
    /// busy timeout), so the transaction never fails half-way on a lock upgrade.
    async fn begin_immediate(
        &self,
        what: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| codec::db_error(e, what))
    }
}
