//! Infrastructure ports: blobs, cache, notifications, clock, token encryption.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::{EncryptedToken, Notification, Result, Secret};

/// Stores media bytes by key.
///
/// # Contract
/// - Keys are relative paths of `[A-Za-z0-9._/-]` segments; empty keys, absolute keys and `..`
///   segments are [`crate::Error::InvalidInput`].
/// - `put` overwrites; `get` of a missing key is [`crate::Error::NotFound`]; `delete` of a missing
///   key succeeds.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores `bytes` under `key`.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()>;
    /// Loads the bytes under `key`.
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Whether `key` exists.
    async fn exists(&self, key: &str) -> Result<bool>;
    /// A time-limited URL from which anyone holding it can `GET` the bytes under `key` directly,
    /// without going through this store.
    ///
    /// `Some(url)` when the store can hand out such a URL (S3's presigned URLs), valid for
    /// `expires_in` from now; `None` when it cannot (the default), and callers then serve the
    /// bytes from [`BlobStore::get`] themselves. A URL may be handed out for a key that does not
    /// exist (yet); fetching it then fails.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] for an invalid key or an `expires_in` the store cannot sign.
    async fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>> {
        let _ = (key, expires_in);
        Ok(None)
    }
}

/// Checks a blob key against the [`BlobStore`] contract.
pub fn validate_blob_key(key: &str) -> Result<()> {
    let bad = |why: &str| Err(crate::Error::invalid_input("key", format!("`{key}` {why}")));
    if key.is_empty() || key.len() > 512 {
        return bad("must be 1 to 512 characters");
    }
    if key.starts_with('/') {
        return bad("must be relative");
    }
    for seg in key.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return bad("has an empty, `.` or `..` segment");
        }
        if !seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return bad("may only contain A-Z a-z 0-9 . _ - and /");
        }
    }
    Ok(())
}

/// A key/value cache with expiry.
///
/// # Contract
/// - An expired entry is never returned, even before it is purged.
/// - `set` overwrites the value and the expiry; `ttl = None` never expires.
/// - `purge_expired` deletes expired entries and returns how many.
#[async_trait]
pub trait Cache: Send + Sync + std::fmt::Debug + 'static {
    /// Reads a live entry.
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>>;
    /// Writes an entry.
    async fn set(&self, key: &str, value: &serde_json::Value, ttl: Option<Duration>) -> Result<()>;
    /// Removes an entry; missing keys are fine.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Deletes expired entries.
    async fn purge_expired(&self) -> Result<u64>;
}

/// Delivers notifications to users (e-mail, websocket, webhook, ...).
///
/// # Contract
/// - `notify` either delivers or returns an error; it never panics on odd content.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug + 'static {
    /// Delivers one notification.
    async fn notify(&self, notification: &Notification) -> Result<()>;
}

/// The current time. Services take it from here so tests can control it.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Encrypts tokens at rest.
///
/// # Contract
/// - `decrypt(encrypt(x)) == x`; tampered ciphertext or an unknown key id is an error, never
///   garbage.
/// - Every encryption uses a fresh nonce, so equal plaintexts give different ciphertexts.
/// - Errors and `Debug` never include plaintext or keys.
pub trait TokenCipher: Send + Sync + std::fmt::Debug + 'static {
    /// Encrypts with the current key.
    fn encrypt(&self, plaintext: &Secret<String>) -> Result<EncryptedToken>;
    /// Decrypts with the key named in the token.
    fn decrypt(&self, token: &EncryptedToken) -> Result<Secret<String>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_are_checked() {
        assert!(validate_blob_key("media/2026/a.png").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a b", "./x"] {
            assert!(validate_blob_key(bad).is_err(), "{bad}");
        }
    }
}
