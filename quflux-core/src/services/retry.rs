//! Retry policy of the publishing path.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};

/// The design's `RetryConfig`: how often and how long to wait before re-sending after a
/// retryable platform error (rate limit, outage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry.
    pub base_delay: Duration,
    /// Longest delay between retries.
    pub max_delay: Duration,
    /// Growth factor per retry.
    pub exponential_base: f32,
    /// Adds random jitter to each delay.
    pub jitter: bool,
    /// Waits up to this long are slept through in the worker; longer ones (e.g. a 15-minute
    /// rate-limit window) requeue the job at that time instead.
    pub inline_retry_limit: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            exponential_base: 2.0,
            jitter: true,
            inline_retry_limit: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// Total attempts allowed per retry budget.
    pub fn max_attempts(&self) -> u32 {
        self.max_retries.saturating_add(1)
    }

    /// The wait before retry number `retry` (1-based), from backon's exponential backoff.
    pub fn delay_for(&self, retry: u32) -> Duration {
        let mut builder = ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_factor(self.exponential_base)
            .with_max_times(retry.max(1) as usize);
        if self.jitter {
            builder = builder.with_jitter();
        }
        builder
            .build()
            .nth(retry.max(1) as usize - 1)
            .unwrap_or(self.max_delay)
            .min(self.max_delay.saturating_mul(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_and_are_capped() {
        let c = RetryConfig {
            jitter: false,
            ..RetryConfig::default()
        };
        assert_eq!(c.delay_for(1), Duration::from_secs(1));
        assert_eq!(c.delay_for(2), Duration::from_secs(2));
        assert_eq!(c.delay_for(3), Duration::from_secs(4));
        assert_eq!(c.delay_for(20), Duration::from_secs(300));
    }

    #[test]
    fn jitter_stays_within_one_extra_delay() {
        let c = RetryConfig::default();
        for _ in 0..50 {
            let d = c.delay_for(3);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }
}
