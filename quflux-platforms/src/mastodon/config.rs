//! Settings of the Mastodon connector and publisher.

use std::time::Duration;

use quflux_core::{Error, Result};

use crate::common::HttpConfig;
use crate::common::vars::Vars;

/// Environment variable naming the default instance.
pub const INSTANCE_VAR: &str = "QUFLUX_MASTODON_INSTANCE";
/// Environment variable naming the OAuth redirect (callback) URL.
pub const REDIRECT_URL_VAR: &str = "QUFLUX_MASTODON_REDIRECT_URL";

/// Settings shared by [`MastodonConnector`](super::MastodonConnector) and
/// [`MastodonPublisher`](super::MastodonPublisher).
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    /// The instance used when an authorization names none, e.g. `https://mastodon.social`.
    pub instance_url: String,
    /// `client_name` of the registered application (shown to users on their posts).
    pub client_name: String,
    /// `website` of the registered application.
    pub website: Option<String>,
    /// Where the instance sends the user back after authorization.
    pub redirect_url: String,
    /// Scopes registered and requested (README §5.1: `read write:statuses write:media`).
    pub scopes: Vec<String>,
    /// HTTP client settings.
    pub http: HttpConfig,
    /// Pause between two polls of a media attachment still processing.
    pub media_poll_interval: Duration,
    /// Polls of a processing media attachment before giving up (transiently).
    pub media_poll_attempts: u32,
    /// How long instance limits (`GET /api/v2/instance`) are cached.
    pub instance_ttl: Duration,
}

impl Default for MastodonConfig {
    fn default() -> Self {
        Self {
            instance_url: "https://mastodon.social".to_owned(),
            client_name: "Quflux".to_owned(),
            website: None,
            redirect_url: "http://localhost:8080/connections/mastodon/callback".to_owned(),
            scopes: vec![
                "read".to_owned(),
                "write:statuses".to_owned(),
                "write:media".to_owned(),
            ],
            http: HttpConfig::default(),
            media_poll_interval: Duration::from_secs(1),
            media_poll_attempts: 120,
            instance_ttl: Duration::from_secs(3600),
        }
    }
}

impl MastodonConfig {
    /// Defaults, with [`INSTANCE_VAR`] and [`REDIRECT_URL_VAR`] applied when set.
    ///
    /// # Errors
    /// As [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get` (blank values count
    /// as unset).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when the instance is not a host or http(s) URL
    /// without a path, or the redirect URL is not http(s).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars(&get);
        let mut config = Self::default();
        if let Some(instance) = vars.get(INSTANCE_VAR) {
            config.instance_url = normalize_instance(&instance).map_err(|_| {
                Error::Config(format!(
                    "{INSTANCE_VAR}: expected an instance host or http(s) URL without a path"
                ))
            })?;
        }
        if let Some(url) = vars.url(REDIRECT_URL_VAR)? {
            config.redirect_url = url;
        }
        Ok(config)
    }

    /// A copy with another default instance.
    pub fn with_instance(mut self, instance_url: impl Into<String>) -> Self {
        self.instance_url = instance_url.into();
        self
    }

    /// A copy with another redirect URL.
    pub fn with_redirect_url(mut self, redirect_url: impl Into<String>) -> Self {
        self.redirect_url = redirect_url.into();
        self
    }

    /// A copy with other HTTP settings (tests use a short timeout).
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// A copy with another media poll interval.
    pub fn with_media_poll_interval(mut self, interval: Duration) -> Self {
        self.media_poll_interval = interval;
        self
    }
}

/// The canonical form of an instance: `scheme://host[:port]` without a trailing slash;
/// `mastodon.social` becomes `https://mastodon.social`.
///
/// # Errors
/// [`Error::InvalidInput`] on `instance` when it is not an http(s) URL or host name.
pub fn normalize_instance(instance: &str) -> Result<String> {
    let trimmed = instance.trim().trim_end_matches('/');
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let bad = |why: &str| Error::invalid_input("instance", format!("{instance:?}: {why}"));
    let url = url::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("not an http(s) URL"));
    }
    let host = url.host_str().ok_or_else(|| bad("no host"))?;
    if url.path() != "/" && !url.path().is_empty() {
        return Err(bad("an instance URL has no path"));
    }
    Ok(match url.port() {
        Some(port) => format!("{}://{}:{port}", url.scheme(), host.to_lowercase()),
        None => format!("{}://{}", url.scheme(), host.to_lowercase()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn instances_are_normalized() {
        assert_eq!(
            normalize_instance("Mastodon.Social/").unwrap(),
            "https://mastodon.social"
        );
        assert_eq!(
            normalize_instance("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_instance("ftp://x.org").is_err());
        assert!(normalize_instance("https://x.org/some/path").is_err());
    }
}
