//! [`Cache`] on the `cache_store` table. Expiry is checked against the store's clock on every
//! read, so an expired entry is never returned even before `purge_expired` deletes it.

use std::time::Duration;

use async_trait::async_trait;
use quflux_core::{Cache, Result};

use super::PostgresStore;
use super::codec::{DbResultExt, ts};

const GET: &str =
    "SELECT value FROM cache_store WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)";

const SET: &str = "INSERT INTO cache_store (key, value, expires_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $4) \
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, \
    updated_at = EXCLUDED.updated_at";

const DELETE: &str = "DELETE FROM cache_store WHERE key = $1";

const PURGE_EXPIRED: &str = "DELETE FROM cache_store WHERE expires_at <= $1";

#[async_trait]
impl Cache for PostgresStore {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>> {
        sqlx::query_scalar::<_, serde_json::Value>(GET)
            .bind(key)
            .bind(ts(self.clock.now()))
            .fetch_optional(&self.pool)
            .await
            .db("cache entry")
    }

    async fn set(&self, key: &str, value: &serde_json::Value, ttl: Option<Duration>) -> Result<()> {
        let now = self.clock.now();
        // A TTL beyond the representable future never expires.
        let expires_at = ttl
            .and_then(|ttl| chrono::Duration::from_std(ttl).ok())
            .and_then(|ttl| now.checked_add_signed(ttl));
        sqlx::query(SET)
            .bind(key)
            .bind(value)
            .bind(expires_at)
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .db("cache entry")?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        sqlx::query(DELETE)
            .bind(key)
            .execute(&self.pool)
            .await
            .db("cache entry")?;
        Ok(())
    }

    async fn purge_expired(&self) -> Result<u64> {
        let done = sqlx::query(PURGE_EXPIRED)
            .bind(ts(self.clock.now()))
            .execute(&self.pool)
            .await
            .db("cache entry")?;
        Ok(done.rows_affected())
    }
}
