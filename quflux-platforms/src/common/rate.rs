//! Per-account rate budgets: a job that would exceed one is requeued to when it frees, instead
//! of being sent and refused.
//!
//! Two sources feed a budget, both kept in the shared [`Cache`] so every worker process sees
//! them:
//! - the platform's **published limits** ([`Limit`]: at most `max` units per `window`), counted
//!   locally for each account with [`RateBudgets::spend`];
//! - the platform's **response headers** (remaining and reset of a bucket), recorded with
//!   [`RateBudgets::observe`], and a 429 with [`RateBudgets::block_until`].
//!
//! [`RateBudgets::check`] answers [`Error::RateLimited`] with the time until the budget frees;
//! the publishing service requeues the job to then. Counting is advisory (read-modify-write on
//! the cache), which is enough: the headers are authoritative and a 429 still maps correctly.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use quflux_core::{Cache, Clock, Error, Platform, Result};
use serde::{Deserialize, Serialize};

use super::http::until;

/// A published limit: at most `max` units per `window` and account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Stable name, e.g. `"posts_15min"`.
    pub name: &'static str,
    /// Units allowed per window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

impl Limit {
    /// A limit of `max` per `window`.
    pub const fn new(name: &'static str, max: u32, window: Duration) -> Self {
        Self { name, max, window }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Window {
    start: DateTime<Utc>,
    used: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Observed {
    remaining: i64,
    reset_at: DateTime<Utc>,
}

/// Rate budgets of every account, kept in a [`Cache`].
#[derive(Debug, Clone)]
pub struct RateBudgets {
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
}

impl RateBudgets {
    /// Budgets stored in `cache`.
    pub fn new(cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        Self { cache, clock }
    }

    /// The cache the budgets live in (shared with other per-account records, e.g.
    /// [`super::sent::SendLog`]).
    pub fn cache(&self) -> &Arc<dyn Cache> {
        &self.cache
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn window_key(platform: Platform, account: &str, name: &str) -> String {
        format!("rate:{platform}:{account}:window:{name}")
    }

    fn bucket_key(platform: Platform, account: &str, bucket: &str) -> String {
        format!("rate:{platform}:{account}:bucket:{bucket}")
    }

    /// `Ok` if `cost` units fit every budget of `account`; otherwise
    /// [`Error::RateLimited`] with the time until the tightest one frees.
    pub async fn check(
        &self,
        platform: Platform,
        account: &str,
        limits: &[Limit],
        buckets: &[&str],
        cost: u32,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut wait: Option<DateTime<Utc>> = None;
        for limit in limits {
            if let Some(w) = self.window(platform, account, limit).await?
                && w.used.saturating_add(cost) > limit.max
            {
                let frees = w.start + window(limit);
                if frees > now {
                    wait = Some(wait.map_or(frees, |x| x.max(frees)));
                }
            }
        }
        for bucket in buckets {
            let key = Self::bucket_key(platform, account, bucket);
            if let Some(value) = self.cache.get(&key).await?
                && let Ok(o) = serde_json::from_value::<Observed>(value)
                && o.remaining < i64::from(cost)
                && o.reset_at > now
            {
                wait = Some(wait.map_or(o.reset_at, |x| x.max(o.reset_at)));
            }
        }
        match wait {
            None => Ok(()),
            Some(at) => Err(Error::RateLimited {
                service: platform.as_str(),
                retry_after: Some(until(at, now)),
                source: Some(
                    format!("the {platform} rate budget of this account is spent until {at}")
                        .into(),
                ),
            }),
        }
    }

    async fn window(
        &self,
        platform: Platform,
        account: &str,
        limit: &Limit,
    ) -> Result<Option<Window>> {
        let key = Self::window_key(platform, account, limit.name);
        let now = self.clock.now();
        Ok(self
            .cache
            .get(&key)
            .await?
            .and_then(|v| serde_json::from_value::<Window>(v).ok())
            .filter(|w| w.start + window(limit) > now))
    }

    /// Counts `cost` units sent for `account` against each limit.
    pub async fn spend(
        &self,
        platform: Platform,
        account: &str,
        limits: &[Limit],
        cost: u32,
    ) -> Result<()> {
        let now = self.clock.now();
        for limit in limits {
            let mut w = self
                .window(platform, account, limit)
                .await?
                .unwrap_or(Window {
                    start: now,
                    used: 0,
                });
            w.used = w.used.saturating_add(cost);
            let ttl = (w.start + window(limit) - now)
                .to_std()
                .unwrap_or(limit.window);
            self.cache
                .set(
                    &Self::window_key(platform, account, limit.name),
                    &serde_json::to_value(&w).map_err(|e| Error::other("rate budget", e))?,
                    Some(ttl.max(Duration::from_secs(1))),
                )
                .await?;
        }
        Ok(())
    }

    /// Records what the platform's headers said about `bucket`.
    pub async fn observe(
        &self,
        platform: Platform,
        account: &str,
        bucket: &str,
        remaining: i64,
        reset_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = self.clock.now();
        if reset_at <= now {
            return Ok(());
        }
        let ttl = (reset_at - now).to_std().unwrap_or(Duration::from_secs(1));
        self.cache
            .set(
                &Self::bucket_key(platform, account, bucket),
                &serde_json::to_value(Observed {
                    remaining,
                    reset_at,
                })
                .map_err(|e| Error::other("rate budget", e))?,
                Some(ttl),
            )
            .await
    }

    /// After a throttling answer: nothing more goes to `bucket` until `until`.
    pub async fn block_until(
        &self,
        platform: Platform,
        account: &str,
        bucket: &str,
        until: DateTime<Utc>,
    ) -> Result<()> {
        self.observe(platform, account, bucket, 0, until).await
    }
}

fn window(limit: &Limit) -> chrono::Duration {
    chrono::Duration::from_std(limit.window).unwrap_or_else(|_| chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use quflux_core::memory::{InMemoryCache, ManualClock};

    #[tokio::test]
    async fn a_spent_window_is_refused_until_it_frees() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let budgets = RateBudgets::new(
            Arc::new(InMemoryCache::with_clock(clock.clone())),
            clock.clone(),
        );
        let limits = [Limit::new("posts", 2, Duration::from_secs(60))];
        for _ in 0..2 {
            budgets
                .check(Platform::Twitter, "a", &limits, &[], 1)
                .await
                .unwrap();
            budgets
                .spend(Platform::Twitter, "a", &limits, 1)
                .await
                .unwrap();
        }
        let e = budgets
            .check(Platform::Twitter, "a", &limits, &[], 1)
            .await
            .unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        // Another account has its own budget.
        budgets
            .check(Platform::Twitter, "b", &limits, &[], 1)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(61));
        budgets
            .check(Platform::Twitter, "a", &limits, &[], 1)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn observed_buckets_block_until_reset() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let budgets = RateBudgets::new(
            Arc::new(InMemoryCache::with_clock(clock.clone())),
            clock.clone(),
        );
        let reset = clock.now() + chrono::Duration::seconds(90);
        budgets
            .observe(Platform::Bluesky, "did:x", "create", 2, reset)
            .await
            .unwrap();
        budgets
            .check(Platform::Bluesky, "did:x", &[], &["create"], 2)
            .await
            .unwrap();
        let e = budgets
            .check(Platform::Bluesky, "did:x", &[], &["create"], 3)
            .await
            .unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(90)));
        clock.advance(Duration::from_secs(91));
        budgets
            .check(Platform::Bluesky, "did:x", &[], &["create"], 3)
            .await
            .unwrap();
    }
}
