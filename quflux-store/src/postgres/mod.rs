//! Every store trait, the durable [`JobQueue`](quflux_core::JobQueue) and the
//! [`Cache`](quflux_core::Cache) on PostgreSQL 13 or later (feature `postgres`).
//!
//! ```no_run
//! # async fn demo() -> quflux_core::Result<()> {
//! use quflux_store::postgres::{PostgresStore, PostgresStoreBuilder};
//!
//! // Connects, then applies the embedded migrations.
//! let store = PostgresStore::open("postgres://quflux@localhost/quflux").await?;
//! // Or from `QUFLUX_DATABASE_URL`, in a schema of its own, migrating explicitly.
//! let other = PostgresStoreBuilder::from_env()
//!     .with_schema("quflux")
//!     .with_max_connections(20)
//!     .build()
//!     .await?;
//! other.migrate().await?;
//! # let _ = store; Ok(()) }
//! ```
//!
//! # Storage
//! - Ids are `uuid`; instants are `timestamptz` and wall-clock times `timestamp`, both with
//!   **microsecond precision**: finer digits of a `DateTime<Utc>` are truncated, and instants
//!   before 4713 BC are clamped to it. The testkit's fixtures use whole milliseconds, so they
//!   roundtrip exactly.
//! - Post content, attempt ledgers, metadata, tokens, job payloads and cache values are
//!   `jsonb` (object keys come back sorted; a `\u0000` in a string is
//!   [`Error::InvalidInput`]); platform lists, scopes and thread ids are `text[]`.
//! - Updates are compare-and-swap on a `version` column. Unique and foreign-key violations
//!   (`23505`, `23503`) are [`Error::Conflict`]; lost connections, pool timeouts, shutdowns,
//!   serialization failures and deadlocks are [`Error::Transient`] with service `"postgres"`.
//! - Notification seqs come from one store-wide sequence, drawn while holding a per-user
//!   transaction-scoped advisory lock (`pg_advisory_xact_lock`), so one user's seqs are
//!   handed out in commit order and a reader tailing `seq > last seen` never skips a row.
//!   Password hashes and sessions reference `users` (`ON DELETE CASCADE`).
//! - Migrations (`migrations/postgres/`) are embedded and applied by [`PostgresStore::migrate`]
//!   (or [`PostgresStore::open`]), never implicitly by [`PostgresStore::connect`]. Migrating
//!   is idempotent and safe from several processes at once (sqlx takes an advisory lock).
//!
//! "Now" (leases, due jobs, cache expiry) comes from the store's [`Clock`], bound from Rust,
//! never from the server's `now()`; run every process on a synchronised clock.
//!
//! # Job queue
//! - **Claims** are one statement: due jobs of each queue are taken in
//!   `(priority DESC, run_at, id)` order from a partial index with `FOR UPDATE SKIP LOCKED`,
//!   together with running jobs whose lease expired, and leased with a fresh
//!   `gen_random_uuid()` token. A job whose lease expired on its **last** attempt
//!   (`attempts >= max_attempts`) is dead-lettered by that statement instead of being run
//!   again, so a job that kills its worker cannot take down worker after worker.
//! - **Settling** is fenced on `(id, lease_token, state = 'running')`, so a worker presumed dead
//!   cannot complete a job that was claimed again. [`PostgresStore::complete_batch`] completes
//!   a whole batch with one `DELETE`.
//! - **Enqueue**: [`JobQueue::enqueue_batch`](quflux_core::JobQueue::enqueue_batch) inserts
//!   every job without a key with one `INSERT … SELECT FROM UNNEST(…)`, and the keyed ones in
//!   order in the same transaction. A single `enqueue` without a key joins the enqueues of
//!   other tasks in flight at the same moment into one such statement and commit (it still
//!   returns once its job is committed); one group is in flight at a time. A unique key is one
//!   `INSERT … ON CONFLICT DO UPDATE … WHERE state <> 'running'`, plus a lookup when the
//!   holder runs (`AlreadyRunning`).
//! - **Wake-ups**: enqueues, releases and requeues wake this process's waiters at once and send
//!   `NOTIFY quflux_jobs, '<queue>'` to the others. `wait_for_change` listens on a connection of
//!   its own (`LISTEN quflux_jobs`, started by the first wait, reconnecting on failure). A
//!   group of single enqueues sends its notification from its own statement, so it commits
//!   with the jobs. Everything else notifies right *after* the change commits, coalesced per
//!   queue with at most one in flight: PostgreSQL serialises the commits of every notifying
//!   transaction on one lock held across the WAL flush, which measured 8× fewer single-job
//!   enqueues per second when each enqueue was its own notifying transaction (a group insert
//!   is one transaction at a time, so it does not suffer from it). If the process dies between
//!   such a commit and its notification, other workers find the job at their next wake-up.
//! - **Strict mode** ([`PostgresStore::claim_strict`], [`PostgresStore::run_strict`]): one
//!   job claimed, handled and settled in one transaction, for handlers whose own writes must
//!   commit atomically with the job's completion.

mod auth;
mod cache;
mod codec;
mod config;
mod inserter;
mod posts;
mod queue;
mod schedules;
mod strict;
mod users;
mod wake;

use std::sync::Arc;

use quflux_core::{Clock, Error, Result};
use sqlx::PgPool;

pub use config::{
    DATABASE_URL_ENV, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, PostgresStoreBuilder,
    PostgresStoreConfig,
};
pub use strict::StrictJob;
pub use wake::NOTIFY_CHANNEL;

/// Service name used in errors.
pub const BACKEND: &str = "postgres";

/// The migrations embedded from `migrations/postgres/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Implements every store trait, [`JobQueue`](quflux_core::JobQueue) and
/// [`Cache`](quflux_core::Cache) on one PostgreSQL database. Cloning is cheap and shares the
/// pool and the wake-up machinery.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    /// The schema created by [`PostgresStore::migrate`], if one was configured.
    schema: Option<Arc<str>>,
    /// Local and cross-process job wake-ups.
    wake: Arc<wake::Wake>,
    /// Group insert of concurrent single enqueues.
    inserter: Arc<inserter::Inserter<inserter::JobRow>>,
    /// Group insert of concurrent new posts.
    post_inserter: Arc<inserter::Inserter<posts::PostInsert>>,
}

impl PostgresStore {
    /// A builder; see [`PostgresStoreBuilder`].
    pub fn builder() -> PostgresStoreBuilder {
        PostgresStoreBuilder::new()
    }

    /// Connects to `url` (`postgres://user:password@host:port/database?options`). Does not
    /// migrate: call [`PostgresStore::migrate`].
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed URL; [`Error::Transient`] when the server cannot be
    /// reached; the server's errors otherwise.
    pub async fn connect(url: &str) -> Result<Self> {
        PostgresStoreBuilder::new().with_url(url).build().await
    }

    /// [`PostgresStore::connect`] followed by [`PostgresStore::migrate`].
    ///
    /// # Errors
    /// As [`PostgresStore::connect`] and [`PostgresStore::migrate`].
    pub async fn open(url: &str) -> Result<Self> {
        PostgresStoreBuilder::new()
            .with_url(url)
            .with_auto_migrate(true)
            .build()
            .await
    }

    /// Applies the embedded migrations not applied yet, creating the configured schema first if
    /// missing. Idempotent, and safe to run from several processes at once.
    ///
    /// # Errors
    /// [`Error::Other`] if a migration fails or the database has migrations this build does not
    /// know; [`Error::Transient`] if the server cannot be reached.
    pub async fn migrate(&self) -> Result<()> {
        if let Some(schema) = &self.schema {
            let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema));
            sqlx::query(&sql)
                .execute(&self.pool)
                .await
                .map_err(|e| codec::db_error(e, "schema"))?;
        }
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

    /// The connection pool, for statements of the caller's own (health checks, reports).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts listening for other processes' job notifications now, instead of at the first
    /// [`wait_for_change`](quflux_core::JobQueue::wait_for_change). Idempotent.
    pub fn listen(&self) {
        self.wake.ensure_listening();
    }

    /// Stops listening for job notifications and closes every connection; later calls fail.
    pub async fn close(&self) {
        self.wake.stop_listening();
        self.pool.close().await;
    }

    pub(crate) fn from_parts(pool: PgPool, clock: Arc<dyn Clock>, schema: Option<String>) -> Self {
        Self {
            wake: Arc::new(wake::Wake::new(pool.clone())),
            inserter: Arc::default(),
            post_inserter: Arc::default(),
            pool,
            clock,
            schema: schema.map(Arc::from),
        }
    }
}

/// Quotes an SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("quflux"), "\"quflux\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
