//! In-memory cache, blob store, recording notifier and manual clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};

use super::lock;
use crate::{
    BlobStore, Cache, Clock, Error, Notification, Notifier, Result, SystemClock, validate_blob_key,
};

/// A [`Cache`] in memory. Expiry is measured on its [`Clock`]; an expired entry is never returned
/// and stays until [`Cache::purge_expired`] or an overwrite removes it.
#[derive(Debug)]
pub struct InMemoryCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, CacheEntry>>,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    value: serde_json::Value,
    expires_at: Option<DateTime<Utc>>,
}

impl CacheEntry {
    fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

impl Default for InMemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryCache {
    /// An empty cache on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty cache on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Number of stored entries, expired ones included.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Cache for InMemoryCache {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let now = self.clock.now();
        Ok(lock(&self.entries)
            .get(key)
            .filter(|e| e.is_live(now))
            .map(|e| e.value.clone()))
    }

    async fn set(&self, key: &str, value: &serde_json::Value, ttl: Option<Duration>) -> Result<()> {
        let now = self.clock.now();
        let expires_at = ttl.map(|ttl| {
            TimeDelta::from_std(ttl)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        });
        lock(&self.entries).insert(
            key.to_owned(),
            CacheEntry {
                value: value.clone(),
                expires_at,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        lock(&self.entries).remove(key);
        Ok(())
    }

    async fn purge_expired(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut entries = lock(&self.entries);
        let before = entries.len();
        entries.retain(|_, e| e.is_live(now));
        Ok((before - entries.len()) as u64)
    }
}

/// A [`BlobStore`] in memory. Keys are checked with [`validate_blob_key`] on every call.
#[derive(Debug, Default)]
pub struct InMemoryBlobStore {
    blobs: Mutex<BTreeMap<String, (Bytes, String)>>,
}

impl InMemoryBlobStore {
    /// An empty blob store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every stored key, sorted.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.blobs).keys().cloned().collect()
    }

    /// The content type `key` was stored with.
    pub fn content_type(&self, key: &str) -> Option<String> {
        lock(&self.blobs).get(key).map(|(_, ct)| ct.clone())
    }
}

#[async_trait]
impl BlobStore for InMemoryBlobStore {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()> {
        validate_blob_key(key)?;
        lock(&self.blobs).insert(key.to_owned(), (bytes, content_type.to_owned()));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_blob_key(key)?;
        lock(&self.blobs)
            .get(key)
            .map(|(b, _)| b.clone())
            .ok_or_else(|| Error::not_found(format!("blob {key}")))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_blob_key(key)?;
        lock(&self.blobs).remove(key);
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        validate_blob_key(key)?;
        Ok(lock(&self.blobs).contains_key(key))
    }
}

/// A [`Notifier`] that records every delivered notification.
///
/// [`RecordingNotifier::fail_next`] makes the next deliveries fail with
/// [`Error::Transient`] (and not be recorded), to exercise delivery-failure paths.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    state: Mutex<NotifierState>,
}

#[derive(Debug, Default)]
struct NotifierState {
    delivered: Vec<Notification>,
    fail_next: usize,
    failed: usize,
}

/// The service name in simulated failures.
const NOTIFIER: &str = "recording_notifier";

impl RecordingNotifier {
    /// A notifier that delivers everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every delivered notification, in delivery order.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.state).delivered.clone()
    }

    /// Makes the next `n` deliveries fail (replacing any earlier setting).
    pub fn fail_next(&self, n: usize) {
        lock(&self.state).fail_next = n;
    }

    /// How many deliveries failed on purpose so far.
    pub fn failed_deliveries(&self) -> usize {
        lock(&self.state).failed
    }

    /// Forgets the delivered notifications.
    pub fn clear(&self) {
        lock(&self.state).delivered.clear();
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, notification: &Notification) -> Result<()> {
        let mut state = lock(&self.state);
        if state.fail_next > 0 {
            state.fail_next -= 1;
            state.failed += 1;
            return Err(Error::transient(NOTIFIER, "simulated delivery failure"));
        }
        state.delivered.push(notification.clone());
        Ok(())
    }
}

/// A [`Clock`] that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Sets the time (it may go backwards).
    pub fn set(&self, now: DateTime<Utc>) {
        *lock(&self.now) = now;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = lock(&self.now);
        *now = TimeDelta::from_std(by)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn cache_expiry_follows_the_clock() {
        let clock = Arc::new(ManualClock::new(t0()));
        let cache = InMemoryCache::with_clock(clock.clone());
        cache
            .set("a", &serde_json::json!(1), Some(Duration::from_secs(10)))
            .await
            .unwrap();
        cache.set("b", &serde_json::json!(2), None).await.unwrap();
        clock.advance(Duration::from_secs(9));
        assert_eq!(cache.get("a").await.unwrap(), Some(serde_json::json!(1)));
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get("a").await.unwrap(), None);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.purge_expired().await.unwrap(), 1);
        assert_eq!(cache.get("b").await.unwrap(), Some(serde_json::json!(2)));
    }

    #[tokio::test]
    async fn notifier_fails_on_request_then_recovers() {
        let n = RecordingNotifier::new();
        let note = Notification {
            id: crate::NotificationId::new(),
            user_id: crate::UserId::new(),
            kind: crate::NotificationKind::Published,
            title: "t".into(),
            message: "m".into(),
            platform: None,
            post_id: None,
            publication_id: None,
            connection_id: None,
            platform_post_id: None,
            url: None,
            created_at: t0(),
        };
        n.fail_next(1);
        assert_eq!(
            n.notify(&note).await.unwrap_err().kind(),
            crate::ErrorKind::Transient
        );
        n.notify(&note).await.unwrap();
        assert_eq!(n.notifications(), vec![note]);
        assert_eq!(n.failed_deliveries(), 1);
    }

    #[test]
    fn manual_clock_sets_and_advances() {
        let c = ManualClock::new(t0());
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now(), t0() + TimeDelta::milliseconds(1500));
        c.set(t0());
        assert_eq!(c.now(), t0());
    }
}
