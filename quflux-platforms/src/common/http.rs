//! HTTP plumbing: one configured client, and how transport failures map into the core
//! [`Error`](quflux_core::Error).
//!
//! The distinction that matters for exactly-once publishing is whether a request *may have been
//! applied*: a connection refused before anything was sent is [`Error::Transient`]; a timeout
//! or a dropped connection after a non-idempotent request went out is [`Error::OutcomeUnknown`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use quflux_core::{Error, Result};
use reqwest::header::HeaderMap;

/// Settings of the HTTP client every adapter uses.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request timeout (connect, send, wait for the answer, read it).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: format!("quflux/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl HttpConfig {
    /// A copy with another whole-request timeout (tests use short ones).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds a client. Redirects are not followed: platform APIs answer directly, and a
    /// redirect must never carry a bearer token to another host.
    pub fn client(&self) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
    }
}

/// Whether repeating a request could apply it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes the platform deduplicates: a lost answer is a transient failure.
    Safe,
    /// Creates: a lost answer means the outcome is unknown.
    Unsafe,
}

/// Maps a transport error (no HTTP status received) of `service`.
///
/// The error text of `reqwest` contains the URL; callers must not put secrets in URLs (tokens
/// travel in headers or bodies), so the message is safe to keep.
pub fn transport_error(
    service: &'static str,
    idempotency: Idempotency,
    e: reqwest::Error,
) -> Error {
    let e = e.without_url();
    if e.is_connect() || e.is_builder() {
        // Nothing reached the platform.
        return if e.is_builder() {
            Error::other(service, e)
        } else {
            Error::transient(service, e)
        };
    }
    match idempotency {
        Idempotency::Safe => Error::transient(service, e),
        Idempotency::Unsafe => Error::OutcomeUnknown {
            service,
            source: Box::new(e),
        },
    }
}

/// Sends `request`, mapping transport failures with [`transport_error`].
pub async fn send(
    service: &'static str,
    idempotency: Idempotency,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response> {
    request
        .send()
        .await
        .map_err(|e| transport_error(service, idempotency, e))
}

/// Reads a response body, mapping a body lost mid-read like a lost answer.
pub async fn body_bytes(
    service: &'static str,
    idempotency: Idempotency,
    response: reqwest::Response,
) -> Result<bytes::Bytes> {
    response
        .bytes()
        .await
        .map_err(|e| transport_error(service, idempotency, e))
}

/// A header as text, if present and valid.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A header as an integer.
pub fn header_i64(headers: &HeaderMap, name: &str) -> Option<i64> {
    header(headers, name).and_then(|v| v.parse().ok())
}

/// Time until an epoch-seconds reset header (`x-rate-limit-reset`, `ratelimit-reset`), at
/// least one second.
pub fn until_epoch_header(headers: &HeaderMap, name: &str, now: DateTime<Utc>) -> Option<Duration> {
    let reset = DateTime::from_timestamp(header_i64(headers, name)?, 0)?;
    Some(until(reset, now))
}

/// Time until an ISO-8601 reset header (Mastodon's `X-RateLimit-Reset`), at least one second.
pub fn until_iso_header(headers: &HeaderMap, name: &str, now: DateTime<Utc>) -> Option<Duration> {
    let reset = DateTime::parse_from_rfc3339(header(headers, name)?).ok()?;
    Some(until(reset.with_timezone(&Utc), now))
}

/// `Retry-After` in seconds or as an HTTP date, at least one second.
pub fn retry_after_header(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = header(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.max(1)));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(until(at.with_timezone(&Utc), now))
}

/// `at - now`, at least one second (a reset in the past still means "not right now").
pub fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1))
}

/// A short, secret-free excerpt of an error body for error sources and logs.
pub fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// An error source carrying the platform's status and body excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformResponse {
    /// HTTP status.
    pub status: u16,
    /// Body excerpt (see [`excerpt`]).
    pub body: String,
}

impl std::fmt::Display for PlatformResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.body)
    }
}

impl std::error::Error for PlatformResponse {}

impl PlatformResponse {
    /// From a status and a raw body.
    pub fn new(status: reqwest::StatusCode, body: &[u8]) -> Self {
        Self {
            status: status.as_u16(),
            body: excerpt(body),
        }
    }

    /// Boxed, for error `source` fields.
    pub fn boxed(
        status: reqwest::StatusCode,
        body: &[u8],
    ) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(Self::new(status, body))
    }
}

/// Joins a configured base URL (with or without a trailing slash) and an absolute path.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reset_headers_are_read() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-reset", HeaderValue::from_static("1060"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("1970-01-01T00:17:50Z"),
        );
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            until_epoch_header(&h, "x-rate-limit-reset", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            until_iso_header(&h, "x-ratelimit-reset", now),
            Some(Duration::from_secs(70))
        );
        assert_eq!(retry_after_header(&h, now), Some(Duration::from_secs(7)));
        assert_eq!(until_epoch_header(&h, "missing", now), None);
        let past = DateTime::from_timestamp(5_000, 0).unwrap();
        assert_eq!(
            until_epoch_header(&h, "x-rate-limit-reset", past),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn urls_join() {
        assert_eq!(join("http://a/", "/2/tweets"), "http://a/2/tweets");
        assert_eq!(join("http://a", "2/tweets"), "http://a/2/tweets");
    }
}
