//! Settings and builder of [`WebhookNotifier`].

use std::sync::Arc;
use std::time::Duration;

use quflux_core::{Error, Result, Secret};
use serde::Deserialize;

use super::{
    BACKEND, DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY, DEFAULT_TIMEOUT,
    SECRET_VAR, URLS_VAR, WebhookNotifier,
};
use crate::common::HttpConfig;
use crate::notify::var;

/// Serializable settings of [`WebhookNotifier`].
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct WebhookNotifierConfig {
    /// Endpoint URLs (http or https).
    pub urls: Vec<String>,
    /// The signing secret.
    pub secret: Option<Secret<String>>,
    /// Attempts per endpoint (default 5).
    pub max_attempts: Option<u32>,
    /// Delay before the first retry, in milliseconds (default 1000).
    pub base_delay_ms: Option<u64>,
}

impl std::fmt::Debug for WebhookNotifierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact(u)).collect();
        f.debug_struct("WebhookNotifierConfig")
            .field("urls", &urls)
            .field("secret", &self.secret)
            .field("max_attempts", &self.max_attempts)
            .field("base_delay_ms", &self.base_delay_ms)
            .finish()
    }
}

/// Builds a [`WebhookNotifier`]; only [`build`](Self::build) validates.
#[derive(Debug, Clone)]
pub struct WebhookNotifierBuilder {
    config: WebhookNotifierConfig,
    max_delay: Duration,
    http: HttpConfig,
    client: Option<reqwest::Client>,
}

impl Default for WebhookNotifierBuilder {
    fn default() -> Self {
        Self {
            config: WebhookNotifierConfig::default(),
            max_delay: DEFAULT_MAX_DELAY,
            http: HttpConfig::default().with_timeout(DEFAULT_TIMEOUT),
            client: None,
        }
    }
}

impl WebhookNotifierBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads [`URLS_VAR`] and [`SECRET_VAR`] from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get` (blank values count
    /// as unset). Never fails: malformed values are reported by [`build`](Self::build).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let urls = var(&get, URLS_VAR)
            .map(|v| {
                v.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Self::from_config(WebhookNotifierConfig {
            urls,
            secret: var(&get, SECRET_VAR).map(Secret::new),
            ..WebhookNotifierConfig::default()
        })
    }

    /// From deserialized settings.
    pub fn from_config(config: WebhookNotifierConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Adds an endpoint.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.config.urls.push(url.into());
        self
    }

    /// Replaces the endpoints.
    pub fn with_urls(mut self, urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.config.urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// The signing secret.
    pub fn with_secret(mut self, secret: impl Into<Secret<String>>) -> Self {
        self.config.secret = Some(secret.into());
        self
    }

    /// Attempts per endpoint, at least 1 (default 5).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.config.max_attempts = Some(attempts);
        self
    }

    /// Delay before the first retry; later ones double (default 1 s).
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.config.base_delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Longest wait between attempts (default 5 min); a longer `Retry-After` ends the delivery.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// HTTP settings for the client `build` creates (default timeout 10 s).
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Shares an existing client instead (it should not follow redirects).
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Validates the settings and builds the notifier.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when there is no endpoint, an endpoint is not an
    /// http(s) URL with a host, the secret is missing, or `max_attempts` is 0.
    pub fn build(self) -> Result<WebhookNotifier> {
        if self.config.urls.is_empty() {
            return Err(Error::Config(format!(
                "{BACKEND}: {URLS_VAR} missing (comma-separated http(s) URLs)"
            )));
        }
        let mut endpoints = Vec::with_capacity(self.config.urls.len());
        for (i, raw) in self.config.urls.iter().enumerate() {
            let url = url::Url::parse(raw.trim()).map_err(|e| {
                Error::Config(format!(
                    "{URLS_VAR}: entry {} is not a valid URL ({e})",
                    i + 1
                ))
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(Error::Config(format!(
                    "{URLS_VAR}: entry {} is not an http(s) URL with a host",
                    i + 1
                )));
            }
            endpoints.push(Endpoint {
                display: redact(url.as_str()),
                url,
            });
        }
        let secret = self
            .config
            .secret
            .filter(|s| !s.expose().is_empty())
            .ok_or_else(|| Error::Config(format!("{BACKEND}: {SECRET_VAR} missing")))?;
        let max_attempts = self.config.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 {
            return Err(Error::Config(format!(
                "{BACKEND}: max_attempts must be at least 1"
            )));
        }
        let base_delay = self
            .config
            .base_delay_ms
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_BASE_DELAY);
        let http = match self.client {
            Some(client) => client,
            None => self.http.client()?,
        };
        Ok(WebhookNotifier {
            inner: Arc::new(Inner {
                http,
                endpoints,
                secret,
                max_attempts,
                base_delay,
                max_delay: self.max_delay.max(base_delay),
            }),
        })
    }
}

/// One configured endpoint.
#[derive(Debug)]
pub(super) struct Endpoint {
    /// Where requests go.
    pub(super) url: url::Url,
    /// `scheme://host[:port]`, for logs, errors and reports.
    pub(super) display: String,
}

/// What every clone of a [`WebhookNotifier`] shares.
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) endpoints: Vec<Endpoint>,
    pub(super) secret: Secret<String>,
    pub(super) max_attempts: u32,
    pub(super) base_delay: Duration,
    pub(super) max_delay: Duration,
}

/// `scheme://host[:port]` of a URL; its path and query may hold a token.
fn redact(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", u.scheme()),
            (Some(host), None) => format!("{}://{host}", u.scheme()),
            _ => format!("{}://", u.scheme()),
        },
        Err(_) => "<invalid url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn build_validates_and_redacts() {
        let get = |name: &str| match name {
            URLS_VAR => Some(
                "https://hooks.example.com/t/SECRET-PATH?token=abc, http://127.0.0.1:9000/in"
                    .to_owned(),
            ),
            SECRET_VAR => Some("whsec_hidden".to_owned()),
            _ => None,
        };
        let notifier = WebhookNotifierBuilder::from_lookup(get).build().unwrap();
        assert_eq!(
            notifier.endpoints().collect::<Vec<_>>(),
            ["https://hooks.example.com", "http://127.0.0.1:9000"]
        );
        let debug = format!(
            "{notifier:?} {:?}",
            WebhookNotifierBuilder::from_lookup(get)
        );
        for hidden in ["SECRET-PATH", "token=abc", "whsec_hidden"] {
            assert!(!debug.contains(hidden), "{debug}");
        }
        let config_error = |b: WebhookNotifierBuilder| match b.build() {
            Err(Error::Config(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(config_error(WebhookNotifier::builder().with_secret("s")).contains(URLS_VAR));
        assert!(
            config_error(
                WebhookNotifier::builder()
                    .with_url("ftp://x")
                    .with_secret("s")
            )
            .contains("entry 1")
        );
        assert!(config_error(WebhookNotifier::builder().with_url("http://x")).contains(SECRET_VAR));
        assert!(
            config_error(
                WebhookNotifier::builder()
                    .with_url("http://x")
                    .with_secret("s")
                    .with_max_attempts(0)
            )
            .contains("max_attempts")
        );
    }
}
