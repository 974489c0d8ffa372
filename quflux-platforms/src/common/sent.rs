//! When a request was first about to be sent: lookups that match recent posts by text
//! ([`super::fingerprint`]) ignore posts older than that, so a recurring identical post (a daily
//! "Good morning!") is not mistaken for this request's post.
//!
//! A publisher calls [`SendLog::mark`] right before its first create request (every attempt may
//! call it: the first time wins) and [`SendLog::first`] in `lookup`: `None` means this request
//! was never sent, so it cannot have been published.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use quflux_core::{Cache, Clock, Error, Platform, Result};
use serde_json::json;

use super::rate::RateBudgets;

/// How long the first-send time is kept (longer than any retry or reconciliation window).
pub const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

/// Clock skew allowed between this machine and the platform when comparing `created_at`.
pub const SKEW: Duration = Duration::from_secs(300);

/// First-send times of publish requests, in the shared cache.
#[derive(Debug, Clone)]
pub struct SendLog {
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
}

impl SendLog {
    /// A log in `cache`.
    pub fn new(cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        Self { cache, clock }
    }

    /// A log in the same cache as `budgets`.
    pub fn from_budgets(budgets: &RateBudgets) -> Self {
        Self::new(Arc::clone(budgets.cache()), Arc::clone(budgets.clock()))
    }

    fn key(platform: Platform, idempotency_key: &str) -> String {
        format!("sent:{platform}:{idempotency_key}")
    }

    /// Records that `idempotency_key` is about to be sent now, unless an earlier send was
    /// recorded; returns the first-send time.
    pub async fn mark(&self, platform: Platform, idempotency_key: &str) -> Result<DateTime<Utc>> {
        if let Some(first) = self.first(platform, idempotency_key).await? {
            return Ok(first);
        }
        let now = self.clock.now();
        self.cache
            .set(
                &Self::key(platform, idempotency_key),
                &json!({ "first_sent_at": now.to_rfc3339() }),
                Some(KEEP),
            )
            .await?;
        Ok(now)
    }

    /// When `idempotency_key` was first about to be sent, if ever.
    pub async fn first(
        &self,
        platform: Platform,
        idempotency_key: &str,
    ) -> Result<Option<DateTime<Utc>>> {
        let Some(value) = self
            .cache
            .get(&Self::key(platform, idempotency_key))
            .await?
        else {
            return Ok(None);
        };
        let at = value
            .get("first_sent_at")
            .and_then(|v| v.as_str())
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .ok_or_else(|| Error::other("send log", "unreadable first-send record"))?;
        Ok(Some(at.with_timezone(&Utc)))
    }

    /// The earliest `created_at` a post of a request first sent at `first` can have.
    pub fn not_before(first: DateTime<Utc>) -> DateTime<Utc> {
        first - chrono::Duration::from_std(SKEW).unwrap_or_else(|_| chrono::Duration::minutes(5))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use quflux_core::memory::{InMemoryCache, ManualClock};

    #[tokio::test]
    async fn the_first_send_wins() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let log = SendLog::new(
            Arc::new(InMemoryCache::with_clock(clock.clone())),
            clock.clone(),
        );
        assert_eq!(log.first(Platform::Twitter, "k").await.unwrap(), None);
        let first = log.mark(Platform::Twitter, "k").await.unwrap();
        clock.advance(Duration::from_secs(60));
        assert_eq!(log.mark(Platform::Twitter, "k").await.unwrap(), first);
        assert_eq!(
            log.first(Platform::Twitter, "k").await.unwrap(),
            Some(first)
        );
        assert_eq!(log.first(Platform::Mastodon, "k").await.unwrap(), None);
        assert!(SendLog::not_before(first) < first);
    }
}
