//! [`OpenAiCompatibleConfig`] and the two builders.

use std::time::Duration;

use quflux_core::{Error, Result, Secret};
use serde::{Deserialize, Serialize};

use super::client::Endpoint;
use super::image::OpenAiCompatibleImageGenerator;
use super::text::OpenAiCompatibleTextGenerator;
use super::{DEFAULT_IMAGE_MODEL, DEFAULT_IMAGE_SIZES, DEFAULT_TIMEOUT, PROVIDER};
use crate::env::EnvReader;

/// Settings of an OpenAI-compatible server, shared by [`OpenAiCompatibleTextGenerator`]
/// (`model`, `temperature`, `max_tokens`) and [`OpenAiCompatibleImageGenerator`]
/// (`image_model`, `image_sizes`). Serde; every field optional.
///
/// ```
/// use quflux_ai::openai_compatible::{OpenAiCompatibleConfig, OpenAiCompatibleTextGeneratorBuilder};
///
/// let config: OpenAiCompatibleConfig = serde_json::from_str(
///     r#"{"base_url": "http://127.0.0.1:11434/v1", "model": "llama3.2"}"#,
/// ).unwrap();
/// let ollama = OpenAiCompatibleTextGeneratorBuilder::from_config(config).build().unwrap();
/// assert_eq!(ollama.model(), "llama3.2");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenAiCompatibleConfig {
    /// The API base including the version, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:11434/v1` (Ollama). Required.
    pub base_url: Option<String>,
    /// Sent as `Authorization: Bearer …`; local servers need none.
    pub api_key: Option<Secret<String>>,
    /// The chat model id. Required for text.
    pub model: Option<String>,
    /// Sampling temperature. `None`: the server's default.
    pub temperature: Option<f32>,
    /// The longest reply in tokens. `None`: the server's default.
    pub max_tokens: Option<u32>,
    /// The image model id. `None`: `gpt-image-1`.
    pub image_model: Option<String>,
    /// The image sizes the server makes, as `WIDTHxHEIGHT`. `None`: `gpt-image-1`'s
    /// `1024x1024`, `1536x1024`, `1024x1536`.
    pub image_sizes: Option<Vec<String>>,
    /// How long one request may take, in seconds. `None`: 120 (local models on a CPU are slow).
    pub timeout_secs: Option<u64>,
}

impl OpenAiCompatibleConfig {
    /// The settings in `QUFLUX_OPENAI_COMPATIBLE_*`, and the first malformed value.
    pub(crate) fn from_env_checked() -> (Self, Option<String>) {
        let mut env = EnvReader::new(PROVIDER, "QUFLUX_OPENAI_COMPATIBLE_");
        let config = Self {
            base_url: env.string("BASE_URL"),
            api_key: env.string("API_KEY").map(Secret::new),
            model: env.string("MODEL"),
            temperature: env.parse("TEMPERATURE", "a number"),
            max_tokens: env.parse("MAX_TOKENS", "a whole number"),
            image_model: env.string("IMAGE_MODEL"),
            image_sizes: env.string("IMAGE_SIZES").map(|s| {
                s.split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect()
            }),
            timeout_secs: env.parse("TIMEOUT_SECS", "a number of seconds"),
        };
        (config, env.into_error())
    }

    fn endpoint(
        &self,
        timeout: Option<Duration>,
        client: Option<reqwest::Client>,
    ) -> Result<Endpoint> {
        let base_url = self.base_url.as_deref().ok_or_else(|| {
            Error::Config(format!(
                "{PROVIDER}: base_url missing (set QUFLUX_OPENAI_COMPATIBLE_BASE_URL)"
            ))
        })?;
        let base_url = crate::http::base_url(PROVIDER, "base_url", base_url)?;
        let timeout = timeout
            .or(self.timeout_secs.map(Duration::from_secs))
            .unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::Config(format!(
                "{PROVIDER}: timeout must be more than 0 seconds"
            )));
        }
        let client = match client {
            Some(client) => client,
            None => crate::http::default_client(PROVIDER)?,
        };
        let api_key = self
            .api_key
            .clone()
            .filter(|k| !k.expose().trim().is_empty());
        Ok(Endpoint::new(client, base_url, api_key, timeout))
    }
}

/// Builds an [`OpenAiCompatibleTextGenerator`].
///
/// ```
/// use quflux_ai::openai_compatible::OpenAiCompatibleTextGenerator;
///
/// let openai = OpenAiCompatibleTextGenerator::builder()
///     .with_base_url("https://api.openai.com/v1")
///     .with_api_key("sk-…")
///     .with_model("gpt-4o-mini")
///     .build()
///     .unwrap();
/// # let _ = openai;
/// let err = OpenAiCompatibleTextGenerator::builder()
///     .with_base_url("http://127.0.0.1:11434/v1")
///     .build()
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: openai-compatible: model missing (set QUFLUX_OPENAI_COMPATIBLE_MODEL)"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct OpenAiCompatibleTextGeneratorBuilder {
    config: OpenAiCompatibleConfig,
    timeout: Option<Duration>,
    client: Option<reqwest::Client>,
    env_error: Option<String>,
}

impl OpenAiCompatibleTextGeneratorBuilder {
    /// A builder with no settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with `config`'s settings.
    pub fn from_config(config: OpenAiCompatibleConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// A builder reading `QUFLUX_OPENAI_COMPATIBLE_BASE_URL`, `_API_KEY`, `_MODEL`,
    /// `_TEMPERATURE`, `_MAX_TOKENS` and `_TIMEOUT_SECS`. Never fails; [`build`](Self::build)
    /// reports missing or malformed values.
    pub fn from_env() -> Self {
        let (config, env_error) = OpenAiCompatibleConfig::from_env_checked();
        Self {
            config,
            env_error,
            ..Self::default()
        }
    }

    /// The API base including the version (`…/v1`).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = Some(url.into());
        self
    }

    /// The bearer API key.
    pub fn with_api_key(mut self, key: impl Into<Secret<String>>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    /// The chat model id.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.config.model = Some(model.into());
        self
    }

    /// The sampling temperature.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.config.temperature = Some(temperature);
        self
    }

    /// The longest reply in tokens.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.config.max_tokens = Some(max_tokens);
        self
    }

    /// How long one request may take (default 120 s); a timeout is [`Error::Transient`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Shares an HTTP client instead of building one.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The generator.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting: `base_url` or `model` missing, `base_url` not an
    /// http(s) URL, a temperature outside 0–2, a zero timeout or a malformed environment
    /// variable.
    pub fn build(self) -> Result<OpenAiCompatibleTextGenerator> {
        if let Some(message) = self.env_error {
            return Err(Error::Config(message));
        }
        let endpoint = self.config.endpoint(self.timeout, self.client)?;
        let model = self
            .config
            .model
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                Error::Config(format!(
                    "{PROVIDER}: model missing (set QUFLUX_OPENAI_COMPATIBLE_MODEL)"
                ))
            })?;
        if let Some(t) = self.config.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(Error::Config(format!(
                "{PROVIDER}: temperature {t} is outside 0 to 2"
            )));
        }
        Ok(OpenAiCompatibleTextGenerator::from_parts(
            endpoint,
            model,
            self.config.temperature,
            self.config.max_tokens,
        ))
    }
}

/// Builds an [`OpenAiCompatibleImageGenerator`].
///
/// ```
/// use quflux_ai::openai_compatible::OpenAiCompatibleImageGenerator;
///
/// let images = OpenAiCompatibleImageGenerator::builder()
///     .with_base_url("https://api.openai.com/v1")
///     .with_api_key("sk-…")
///     .with_model("dall-e-3")
///     .with_sizes([(1024, 1024), (1792, 1024), (1024, 1792)])
///     .build()
///     .unwrap();
/// assert_eq!(images.model(), "dall-e-3");
/// ```
#[derive(Debug, Clone, Default)]
pub struct OpenAiCompatibleImageGeneratorBuilder {
    config: OpenAiCompatibleConfig,
    timeout: Option<Duration>,
    client: Option<reqwest::Client>,
    env_error: Option<String>,
}

impl OpenAiCompatibleImageGeneratorBuilder {
    /// A builder with no settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with `config`'s settings.
    pub fn from_config(config: OpenAiCompatibleConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// A builder reading `QUFLUX_OPENAI_COMPATIBLE_BASE_URL`, `_API_KEY`, `_IMAGE_MODEL`,
    /// `_IMAGE_SIZES` (comma-separated `WIDTHxHEIGHT`) and `_TIMEOUT_SECS`. Never fails;
    /// [`build`](Self::build) reports missing or malformed values.
    pub fn from_env() -> Self {
        let (config, env_error) = OpenAiCompatibleConfig::from_env_checked();
        Self {
            config,
            env_error,
            ..Self::default()
        }
    }

    /// The API base including the version (`…/v1`).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = Some(url.into());
        self
    }

    /// The bearer API key.
    pub fn with_api_key(mut self, key: impl Into<Secret<String>>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    /// The image model id (default `gpt-image-1`).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.config.image_model = Some(model.into());
        self
    }

    /// The sizes the server makes; each request asks for the one nearest in shape.
    pub fn with_sizes(mut self, sizes: impl IntoIterator<Item = (u32, u32)>) -> Self {
        self.config.image_sizes =
            Some(sizes.into_iter().map(|(w, h)| format!("{w}x{h}")).collect());
        self
    }

    /// How long one request may take (default 120 s); a timeout is [`Error::Transient`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Shares an HTTP client instead of building one.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The generator.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting: `base_url` missing or not an http(s) URL, an
    /// `image_sizes` entry that is not `WIDTHxHEIGHT`, a zero timeout or a malformed
    /// environment variable.
    pub fn build(self) -> Result<OpenAiCompatibleImageGenerator> {
        if let Some(message) = self.env_error {
            return Err(Error::Config(message));
        }
        let endpoint = self.config.endpoint(self.timeout, self.client)?;
        let model = self
            .config
            .image_model
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| DEFAULT_IMAGE_MODEL.to_owned());
        let sizes = match &self.config.image_sizes {
            None => DEFAULT_IMAGE_SIZES.to_vec(),
            Some(list) => list
                .iter()
                .map(|s| parse_size(s))
                .collect::<Result<Vec<_>>>()?,
        };
        if sizes.is_empty() {
            return Err(Error::Config(format!(
                "{PROVIDER}: image_sizes must name at least one size"
            )));
        }
        Ok(OpenAiCompatibleImageGenerator::from_parts(
            endpoint, model, sizes,
        ))
    }
}

/// `1024x1536` → `(1024, 1536)`.
fn parse_size(size: &str) -> Result<(u32, u32)> {
    size.trim()
        .split_once(['x', 'X', '×'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .filter(|&(w, h): &(u32, u32)| w > 0 && h > 0)
        .ok_or_else(|| {
            Error::Config(format!(
                "{PROVIDER}: image size `{size}` is not WIDTHxHEIGHT"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_required_and_the_key_is_optional() {
        let e = OpenAiCompatibleTextGeneratorBuilder::new()
            .with_model("m")
            .build()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: openai-compatible: base_url missing (set QUFLUX_OPENAI_COMPATIBLE_BASE_URL)"
        );
        let g = OpenAiCompatibleTextGeneratorBuilder::new()
            .with_base_url("http://127.0.0.1:11434/v1/")
            .with_model("llama3.2")
            .build()
            .unwrap();
        assert_eq!(g.model(), "llama3.2");
        let e = OpenAiCompatibleTextGeneratorBuilder::new()
            .with_base_url("http://x/v1")
            .with_model("m")
            .with_temperature(3.0)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("temperature"), "{e}");
    }

    #[test]
    fn image_sizes_parse() {
        assert_eq!(parse_size("1536x1024").unwrap(), (1536, 1024));
        assert_eq!(parse_size(" 512 × 512 ").unwrap(), (512, 512));
        assert!(parse_size("big").is_err());
        let g = OpenAiCompatibleImageGeneratorBuilder::new()
            .with_base_url("http://x/v1")
            .build()
            .unwrap();
        assert_eq!(g.model(), "gpt-image-1");
        let key = "sk-should-not-show";
        let g = OpenAiCompatibleImageGeneratorBuilder::new()
            .with_base_url("http://x/v1")
            .with_api_key(key)
            .build()
            .unwrap();
        assert!(!format!("{g:?}").contains(key));
    }
}
