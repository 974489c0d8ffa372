//! [`SqliteStoreConfig`] and [`SqliteStoreBuilder`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use quflux_core::{Clock, Error, Result, SystemClock};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::SqliteStore;

/// Environment variable read by [`SqliteStoreBuilder::from_env`].
pub const DATABASE_URL_ENV: &str = "QUFLUX_DATABASE_URL";

/// Connections in a file database's pool unless configured.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// How long a statement waits for a locked database before failing, unless configured.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of a [`SqliteStore`], as deserialized from the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SqliteStoreConfig {
    /// `sqlite://path.db`, `sqlite:path.db` or `sqlite::memory:`.
    pub url: Option<String>,
    /// Pool size for file databases (default [`DEFAULT_MAX_CONNECTIONS`]); in-memory databases
    /// always use one connection.
    pub max_connections: Option<u32>,
    /// Busy timeout in milliseconds (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub busy_timeout_ms: Option<u64>,
    /// Apply the embedded migrations in `build()`.
    pub auto_migrate: bool,
}

/// Builds a [`SqliteStore`].
///
/// ```no_run
/// # async fn demo() -> quflux_core::Result<()> {
/// use quflux_store::sqlite::SqliteStoreBuilder;
///
/// let store = SqliteStoreBuilder::from_env() // QUFLUX_DATABASE_URL
///     .with_max_connections(4)
///     .build()
///     .await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct SqliteStoreBuilder {
    config: SqliteStoreConfig,
    clock: Option<Arc<dyn Clock>>,
}

impl SqliteStoreBuilder {
    /// An empty builder; `build()` needs at least a URL.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with the URL from `QUFLUX_DATABASE_URL`, if set.
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        if let Ok(url) = std::env::var(DATABASE_URL_ENV)
            && !url.trim().is_empty()
        {
            builder.config.url = Some(url);
        }
        builder
    }

    /// A builder with the given settings.
    pub fn from_config(config: SqliteStoreConfig) -> Self {
        Self {
            config,
            clock: None,
        }
    }

    /// Sets the database URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.config.url = Some(url.into());
        self
    }

    /// Sets the pool size for file databases.
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.config.max_connections = Some(max_connections);
        self
    }

    /// Sets how long a statement waits for a locked database.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.config.busy_timeout_ms = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Whether `build()` applies the embedded migrations (default: no; call
    /// [`SqliteStore::migrate`]).
    pub fn with_auto_migrate(mut self, auto_migrate: bool) -> Self {
        self.config.auto_migrate = auto_migrate;
        self
    }

    /// Sets the clock used for "now" by the job queue and the cache (default [`SystemClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Opens the pool (creating the database file if missing) and, if asked, migrates.
    ///
    /// # Errors
    /// [`Error::Config`] for a missing or non-SQLite URL or a zero pool size; the database's
    /// errors when it cannot be opened.
    pub async fn build(self) -> Result<SqliteStore> {
        let url = self
            .config
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Error::Config(format!("sqlite: url missing (set {DATABASE_URL_ENV})"))
            })?;
        if !url.starts_with("sqlite:") {
            // Never echo the URL: another backend's URL may hold a password.
            return Err(Error::Config(
                "sqlite: url must start with `sqlite:`".into(),
            ));
        }
        let in_memory = is_in_memory(url);
        let max_connections = match self.config.max_connections {
            Some(0) => {
                return Err(Error::Config(
                    "sqlite: max_connections must be at least 1".into(),
                ));
            }
            _ if in_memory => 1,
            Some(n) => n,
            None => DEFAULT_MAX_CONNECTIONS,
        };
        let busy_timeout = self
            .config
            .busy_timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_BUSY_TIMEOUT);

        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("sqlite: invalid url: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        if !in_memory {
            options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
        }

        let mut pool_options = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(false);
        if in_memory {
            // The database lives as long as its one connection: never let the pool close it.
            pool_options = pool_options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| super::codec::db_error(e, "database"))?;

        let store =
            SqliteStore::from_parts(pool, self.clock.unwrap_or_else(|| Arc::new(SystemClock)));
        if self.config.auto_migrate {
            store.migrate().await?;
        }
        Ok(store)
    }
}

/// Whether `url` names an in-memory database.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn build_names_the_missing_or_wrong_setting() {
        let err = SqliteStoreBuilder::new().build().await.unwrap_err();
        assert!(err.to_string().contains("url missing"), "{err}");
        let err = SqliteStoreBuilder::new()
            .with_url("postgres://u:secret@h/db")
            .build()
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(err.kind(), quflux_core::ErrorKind::Config);
        let err = SqliteStoreBuilder::new()
            .with_url("sqlite::memory:")
            .with_max_connections(0)
            .build()
            .await;
        assert_eq!(err.unwrap_err().kind(), quflux_core::ErrorKind::Config);
    }

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(!is_in_memory("sqlite://data/quflux.db"));
    }
}
