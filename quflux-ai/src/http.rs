//! HTTP plumbing shared by the networked providers: one client per generator, sending with a
//! timeout, transport errors, `Retry-After`, and the raw response kept as an error's source.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use quflux_core::{Error, Result, Secret};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("quflux/", env!("CARGO_PKG_VERSION"));

/// How long connecting may take, whatever the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a response body an error keeps.
const BODY_SNIPPET: usize = 2000;

/// A client with Quflux's user agent and connect timeout (rustls, platform certificates).
pub(crate) fn default_client(service: &'static str) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| Error::Config(format!("{service}: cannot build the HTTP client: {e}")))
}

/// A checked `http(s)` base URL without a trailing slash.
///
/// `setting` names where the value came from, for the error (`url`, `base_url`).
pub(crate) fn base_url(service: &'static str, setting: &str, value: &str) -> Result<String> {
    let value = value.trim().trim_end_matches('/');
    match reqwest::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(value.to_owned())
        }
        _ => Err(Error::Config(format!(
            "{service}: {setting} `{value}` is not an http(s) URL"
        ))),
    }
}

/// A received response, read to the end.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status.
    pub(crate) status: StatusCode,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The body.
    pub(crate) body: Bytes,
}

/// Sends `request` and reads the whole response.
///
/// # Errors
/// [`Error::Transient`] when there is no (complete) response: timeout, refused or reset
/// connection. Generation has no side effects worth reconciling, so a timeout is safe to retry.
pub(crate) async fn send(service: &'static str, request: RequestBuilder) -> Result<Reply> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(service, e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(service, e))?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Classifies a `reqwest` failure that happened before a full response was read.
pub(crate) fn transport_error(service: &'static str, e: reqwest::Error) -> Error {
    if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode() {
        Error::transient(service, e)
    } else {
        Error::other(service, e)
    }
}

/// The wait a throttled response asks for: `retry-after-ms` (OpenAI) or `retry-after` in
/// seconds. HTTP dates are not honoured (none of these APIs sends them).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = header("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    header("retry-after").map(Duration::from_secs_f64)
}

/// `text` with `secret` replaced by `***`, cut to a readable length.
pub(crate) fn snippet(text: &str, secret: Option<&Secret<String>>) -> String {
    let mut text = text.to_owned();
    if let Some(secret) = secret.map(Secret::expose).filter(|s| s.len() >= 4) {
        text = text.replace(secret.as_str(), "***");
    }
    if text.len() > BODY_SNIPPET {
        let mut end = BODY_SNIPPET;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// A provider's answer to a failed call, kept as the source of the classified error.
#[derive(Debug)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The provider's error code, if it sent one (`RESOURCE_EXHAUSTED`, `-32602`, ...).
    pub(crate) code: Option<String>,
    /// The provider's message.
    pub(crate) message: String,
    /// The raw body (secrets stripped, cut); shown by `Debug`.
    #[allow(dead_code, reason = "kept for the Debug output of the error chain")]
    pub(crate) body: String,
}

impl ApiError {
    /// An error from a response; `message` falls back to the body.
    pub(crate) fn new(
        status: StatusCode,
        code: Option<String>,
        message: Option<String>,
        body: &[u8],
        secret: Option<&Secret<String>>,
    ) -> Self {
        let body = snippet(&String::from_utf8_lossy(body), secret);
        let message = message
            .map(|m| snippet(&m, secret))
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| body.clone());
        Self {
            status: status.as_u16(),
            code,
            message,
            body,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A response body that is not what the provider documents.
#[derive(Debug)]
pub(crate) struct MalformedResponse {
    /// What was wrong.
    pub(crate) problem: String,
    /// The start of the body.
    pub(crate) body: String,
}

impl fmt::Display for MalformedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed response ({}): {}", self.problem, self.body)
    }
}

impl std::error::Error for MalformedResponse {}

/// [`Error::Other`] for a body that is not what the provider documents.
pub(crate) fn malformed(
    service: &'static str,
    problem: impl Into<String>,
    body: &[u8],
    secret: Option<&Secret<String>>,
) -> Error {
    Error::other(
        service,
        MalformedResponse {
            problem: problem.into(),
            body: snippet(&String::from_utf8_lossy(body), secret),
        },
    )
}

/// Deserializes a JSON body, or [`malformed`].
pub(crate) fn decode<T: DeserializeOwned>(
    service: &'static str,
    body: &[u8],
    secret: Option<&Secret<String>>,
) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| malformed(service, e.to_string(), body, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        let mut dated = HeaderMap::new();
        dated.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&dated), None);
    }

    #[test]
    fn snippets_hide_the_secret_and_stay_short() {
        let key = Secret::new("sk-very-secret".to_owned());
        let text = format!("bad key sk-very-secret {}", "x".repeat(5000));
        let s = snippet(&text, Some(&key));
        assert!(s.starts_with("bad key *** x"));
        assert!(!s.contains("sk-very-secret"));
        assert!(s.len() < 2100);
    }

    #[test]
    fn base_urls_must_be_http() {
        assert_eq!(
            base_url("x", "base_url", "http://127.0.0.1:11434/v1/").unwrap(),
            "http://127.0.0.1:11434/v1"
        );
        let e = base_url("x", "base_url", "localhost:11434").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: x: base_url `localhost:11434` is not an http(s) URL"
        );
    }
}
