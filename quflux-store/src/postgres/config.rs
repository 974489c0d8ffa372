//! [`PostgresStoreConfig`] and [`PostgresStoreBuilder`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use quflux_core::{Clock, Error, Result, Secret, SystemClock};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::PostgresStore;

/// Environment variable read by [`PostgresStoreBuilder::from_env`].
pub const DATABASE_URL_ENV: &str = "QUFLUX_DATABASE_URL";

/// Connections in the pool unless configured.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How long a call waits for a free connection before failing with
/// [`Error::Transient`], unless configured.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of a [`PostgresStore`], as deserialized from the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PostgresStoreConfig {
    /// `postgres://user:password@host:port/database?options` (it may hold a password, so it
    /// is a [`Secret`]).
    pub url: Option<Secret<String>>,
    /// Pool size (default [`DEFAULT_MAX_CONNECTIONS`]). The `LISTEN` connection of
    /// `wait_for_change` is one more, outside the pool.
    pub max_connections: Option<u32>,
    /// Wait for a free connection, in milliseconds (default [`DEFAULT_ACQUIRE_TIMEOUT`]).
    pub acquire_timeout_ms: Option<u64>,
    /// Schema holding every table (`search_path`), created by `migrate()` if missing; default
    /// the server's `search_path` (normally `public`). Letters, digits and `_`, at most 63.
    pub schema: Option<String>,
    /// Apply the embedded migrations in `build()`.
    pub auto_migrate: bool,
}

/// Builds a [`PostgresStore`].
///
/// ```no_run
/// # async fn demo() -> quflux_core::Result<()> {
/// use quflux_store::postgres::PostgresStoreBuilder;
///
/// let store = PostgresStoreBuilder::from_env() // QUFLUX_DATABASE_URL
///     .with_max_connections(20)
///     .build()
///     .await?;
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct PostgresStoreBuilder {
    config: PostgresStoreConfig,
    clock: Option<Arc<dyn Clock>>,
}

impl PostgresStoreBuilder {
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
            builder.config.url = Some(Secret::new(url));
        }
        builder
    }

    /// A builder with the given settings.
    pub fn from_config(config: PostgresStoreConfig) -> Self {
        Self {
            config,
            clock: None,
        }
    }

    /// Sets the database URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.config.url = Some(Secret::new(url.into()));
        self
    }

    /// Sets the pool size.
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.config.max_connections = Some(max_connections);
        self
    }

    /// Sets how long a call waits for a free connection.
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.config.acquire_timeout_ms =
            Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Keeps every table in `schema` (created by `migrate()` if missing).
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.config.schema = Some(schema.into());
        self
    }

    /// Whether `build()` applies the embedded migrations (default: no; call
    /// [`PostgresStore::migrate`]).
    pub fn with_auto_migrate(mut self, auto_migrate: bool) -> Self {
        self.config.auto_migrate = auto_migrate;
        self
    }

    /// Sets the clock used for "now" by the job queue and the cache (default [`SystemClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Opens the pool (one connection is made, so a wrong URL fails here) and, if asked,
    /// migrates.
    ///
    /// # Errors
    /// [`Error::Config`] for a missing or non-PostgreSQL URL, a zero pool size or a bad schema
    /// name; [`Error::Transient`] when the server cannot be reached; the server's errors
    /// otherwise (a wrong password, a missing database).
    pub async fn build(self) -> Result<PostgresStore> {
        let url = self
            .config
            .url
            .as_ref()
            .map(|u| u.expose().trim())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Error::Config(format!("postgres: url missing (set {DATABASE_URL_ENV})"))
            })?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            // Never echo the URL: it may hold a password.
            return Err(Error::Config(
                "postgres: url must start with `postgres://` or `postgresql://`".into(),
            ));
        }
        let max_connections = match self.config.max_connections {
            Some(0) => {
                return Err(Error::Config(
                    "postgres: max_connections must be at least 1".into(),
                ));
            }
            Some(n) => n,
            None => DEFAULT_MAX_CONNECTIONS,
        };
        if let Some(schema) = &self.config.schema {
            check_schema(schema)?;
        }
        let acquire_timeout = self
            .config
            .acquire_timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_ACQUIRE_TIMEOUT);

        // The parser's message never contains the password.
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("postgres: invalid url: {e}")))?
            .application_name("quflux");
        if let Some(schema) = &self.config.schema {
            options = options.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| super::codec::db_error(e, "database"))?;

        let store = PostgresStore::from_parts(
            pool,
            self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            self.config.schema,
        );
        if self.config.auto_migrate {
            store.migrate().await?;
        }
        Ok(store)
    }
}

/// Accepts plain identifiers only, so the schema is safe in `search_path` and in SQL.
fn check_schema(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let ok = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "postgres: schema `{schema}` must be 1 to 63 letters, digits or `_`, not starting with a digit"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quflux_core::ErrorKind;

    #[tokio::test]
    async fn build_names_the_missing_or_wrong_setting() {
        let err = PostgresStoreBuilder::new().build().await.unwrap_err();
        assert!(err.to_string().contains("url missing"), "{err}");
        let err = PostgresStoreBuilder::new()
            .with_url("mysql://u:secret@h/db")
            .build()
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = PostgresStoreBuilder::new()
            .with_url("postgres://u:secret@localhost/db")
            .with_max_connections(0)
            .build()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = PostgresStoreBuilder::new()
            .with_url("postgres://u:secret@localhost/db")
            .with_schema("bad; DROP TABLE users")
            .build()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema("quflux").is_ok());
        assert!(check_schema("_t_123").is_ok());
        for bad in ["", "1abc", "a-b", "a\"b", "a b", &"x".repeat(64)] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_url() {
        let builder = PostgresStoreBuilder::new().with_url("postgres://u:hunter2@h/db");
        assert!(!format!("{builder:?}").contains("hunter2"));
    }
}
