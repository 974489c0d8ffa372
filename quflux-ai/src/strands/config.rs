//! [`StrandsTextGeneratorConfig`] and [`StrandsTextGeneratorBuilder`].

use std::time::Duration;

use quflux_core::{Error, Result, Secret};
use serde::{Deserialize, Serialize};

use super::client::StrandsTextGenerator;
use super::{DEFAULT_TIMEOUT, PROVIDER};
use crate::env::EnvReader;

/// Settings of a [`StrandsTextGenerator`] (serde; every field optional, `url` required by
/// [`StrandsTextGeneratorBuilder::build`]).
///
/// ```
/// use quflux_ai::strands::{StrandsTextGeneratorBuilder, StrandsTextGeneratorConfig};
///
/// let config: StrandsTextGeneratorConfig =
///     serde_json::from_str(r#"{"url": "http://127.0.0.1:9000", "timeout_secs": 180}"#).unwrap();
/// let generator = StrandsTextGeneratorBuilder::from_config(config).build().unwrap();
/// assert_eq!(generator.url(), "http://127.0.0.1:9000");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StrandsTextGeneratorConfig {
    /// The agent's base URL, where it answers A2A JSON-RPC (`POST /`), e.g.
    /// `http://127.0.0.1:9000`. Required.
    pub url: Option<String>,
    /// A bearer token for a reverse proxy or AgentCore OAuth in front of the agent.
    pub token: Option<Secret<String>>,
    /// How long one `message/send` may take, in seconds. `None`: 120 (the agent runs its
    /// whole tool loop before answering).
    pub timeout_secs: Option<u64>,
}

impl StrandsTextGeneratorConfig {
    /// The settings in `QUFLUX_STRANDS_*`, and the first malformed value.
    pub(crate) fn from_env_checked() -> (Self, Option<String>) {
        let mut env = EnvReader::new(PROVIDER, "QUFLUX_STRANDS_");
        let config = Self {
            url: env.string("URL"),
            token: env.string("TOKEN").map(Secret::new),
            timeout_secs: env.parse("TIMEOUT_SECS", "a number of seconds"),
        };
        (config, env.into_error())
    }
}

/// Builds a [`StrandsTextGenerator`].
///
/// ```
/// use std::time::Duration;
/// use quflux_ai::strands::StrandsTextGenerator;
///
/// let generator = StrandsTextGenerator::builder()
///     .with_url("http://127.0.0.1:9000")
///     .with_timeout(Duration::from_secs(300))
///     .build()
///     .unwrap();
/// # let _ = generator;
/// let err = StrandsTextGenerator::builder().build().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: strands: url missing (set QUFLUX_STRANDS_URL)"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct StrandsTextGeneratorBuilder {
    config: StrandsTextGeneratorConfig,
    timeout: Option<Duration>,
    client: Option<reqwest::Client>,
    env_error: Option<String>,
}

impl StrandsTextGeneratorBuilder {
    /// A builder with no settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with `config`'s settings.
    pub fn from_config(config: StrandsTextGeneratorConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// A builder reading `QUFLUX_STRANDS_URL`, `QUFLUX_STRANDS_TOKEN` and
    /// `QUFLUX_STRANDS_TIMEOUT_SECS`. Never fails; [`build`](Self::build) reports missing or
    /// malformed values.
    pub fn from_env() -> Self {
        let (config, env_error) = StrandsTextGeneratorConfig::from_env_checked();
        Self {
            config,
            env_error,
            ..Self::default()
        }
    }

    /// The agent's base URL (A2A JSON-RPC at `POST {url}/`).
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.config.url = Some(url.into());
        self
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: impl Into<Secret<String>>) -> Self {
        self.config.token = Some(token.into());
        self
    }

    /// How long one request may take (default 120 s); a timeout is [`Error::Transient`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Shares an HTTP client (connection pool, proxy settings) instead of building one.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The generator.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting: `url` missing or not an http(s) URL, a zero
    /// timeout, or a malformed environment variable.
    pub fn build(self) -> Result<StrandsTextGenerator> {
        if let Some(message) = self.env_error {
            return Err(Error::Config(message));
        }
        let url = self.config.url.as_deref().ok_or_else(|| {
            Error::Config(format!("{PROVIDER}: url missing (set QUFLUX_STRANDS_URL)"))
        })?;
        let url = crate::http::base_url(PROVIDER, "url", url)?;
        let timeout = self
            .timeout
            .or(self.config.timeout_secs.map(Duration::from_secs))
            .unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::Config(format!(
                "{PROVIDER}: timeout must be more than 0 seconds"
            )));
        }
        let client = match self.client {
            Some(client) => client,
            None => crate::http::default_client(PROVIDER)?,
        };
        Ok(StrandsTextGenerator::from_parts(
            client,
            url,
            self.config.token,
            timeout,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let e = StrandsTextGeneratorBuilder::new()
            .with_url("ftp://agent")
            .build()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: strands: url `ftp://agent` is not an http(s) URL"
        );
        let e = StrandsTextGeneratorBuilder::new()
            .with_url("http://agent")
            .with_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("timeout"), "{e}");
    }

    #[test]
    fn the_token_is_redacted() {
        let b = StrandsTextGeneratorBuilder::new().with_token("tok-secret");
        assert!(!format!("{b:?}").contains("tok-secret"));
        let g = b.with_url("http://agent/").build().unwrap();
        assert!(!format!("{g:?}").contains("tok-secret"));
        assert_eq!(g.url(), "http://agent");
    }
}
