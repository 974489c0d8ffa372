//! [`Cache`] on the `cache_store` table. Expiry is checked against the store's clock on every
//! read, so an expired entry is never returned even before `purge_expired` deletes it.

use std::time::Duration;

use async_trait::async_trait;
use quflux_core::{Cache, Result};

use super::SqliteStore;
use super::codec::{DbResultExt, from_json, to_json, ts};

const GET: &str =
    "SELECT value FROM cache_store WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)";

const SET: &str = "INSERT INTO cache_store (key, value, expires_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, \
    updated_at = excluded.updated_at";

const DELETE: &str = "DELETE FROM cache_store WHERE key = ?";

const PURGE_EXPIRED: &str =
    "DELETE FROM cache_store WHERE expires_at IS NOT NULL AND expires_at <= ?";

#[async_trait]
impl Cache for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>> {
        sqlx::query_scalar::<_, String>(GET)
            .bind(key)
            .bind(ts(self.clock.now()))
            .fetch_optional(&self.pool)
            .await
            .db("cache entry")?
            .map(|value| from_json(&value, "cache_store.value"))
            .transpose()
    }

    async fn set(&self, key: &str, value: &serde_json::Value, ttl: Option<Duration>) -> Result<()> {
        let now = self.clock.now();
        // A TTL beyond the representable future never expires.
        let expires_at = ttl
            .and_then(|ttl| chrono::Duration::from_std(ttl).ok())
            .and_then(|ttl| now.checked_add_signed(ttl));
        sqlx::query(SET)
            .bind(key)
            .bind(to_json(value, "value")?)
            .bind(expires_at.map(ts))
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
