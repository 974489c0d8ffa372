//! [`GeminiImageGeneratorConfig`] and [`GeminiImageGeneratorBuilder`].

use std::time::Duration;

use quflux_core::{Error, Result, Secret};
use serde::{Deserialize, Serialize};

use super::client::GeminiImageGenerator;
use super::{DEFAULT_BASE_URL, DEFAULT_MODEL, DEFAULT_TIMEOUT, PROVIDER};
use crate::env::EnvReader;

/// Settings of a [`GeminiImageGenerator`] (serde; every field optional, `api_key` required by
/// [`GeminiImageGeneratorBuilder::build`]).
///
/// ```
/// use quflux_ai::nano_banana::{GeminiImageGeneratorBuilder, GeminiImageGeneratorConfig};
///
/// let config: GeminiImageGeneratorConfig = serde_json::from_str(
///     r#"{"api_key": "AIza…", "model": "gemini-3-pro-image-preview", "image_size": "2K"}"#,
/// ).unwrap();
/// let generator = GeminiImageGeneratorBuilder::from_config(config).build().unwrap();
/// assert_eq!(generator.model(), "gemini-3-pro-image-preview");
/// assert!(!format!("{generator:?}").contains("AIza"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GeminiImageGeneratorConfig {
    /// The Gemini API key (sent as `x-goog-api-key`). Required.
    pub api_key: Option<Secret<String>>,
    /// The API's base URL. `None`: `https://generativelanguage.googleapis.com`.
    pub base_url: Option<String>,
    /// The image model id. `None`: `gemini-2.5-flash-image` ("Nano Banana"). Ids change
    /// often; `gemini-3-pro-image-preview` is Nano Banana Pro.
    pub model: Option<String>,
    /// `imageConfig.imageSize`: `1K`, `2K` or `4K`, for Gemini 3 Pro and newer. `None`: not
    /// sent (2.5 Flash only makes 1K images).
    pub image_size: Option<String>,
    /// How long one request may take, in seconds. `None`: 120.
    pub timeout_secs: Option<u64>,
}

impl GeminiImageGeneratorConfig {
    /// The settings in `QUFLUX_NANO_BANANA_*`, and the first malformed value.
    pub(crate) fn from_env_checked() -> (Self, Option<String>) {
        let mut env = EnvReader::new(PROVIDER, "QUFLUX_NANO_BANANA_");
        let config = Self {
            api_key: env.string("API_KEY").map(Secret::new),
            base_url: env.string("BASE_URL"),
            model: env.string("MODEL"),
            image_size: env.string("IMAGE_SIZE"),
            timeout_secs: env.parse("TIMEOUT_SECS", "a number of seconds"),
        };
        (config, env.into_error())
    }
}

/// Builds a [`GeminiImageGenerator`].
///
/// ```
/// use quflux_ai::nano_banana::GeminiImageGenerator;
///
/// let generator = GeminiImageGenerator::builder()
///     .with_api_key("AIza…")
///     .with_model("gemini-2.5-flash-image")
///     .build()
///     .unwrap();
/// # let _ = generator;
/// let err = GeminiImageGenerator::builder().build().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: nano-banana: api_key missing (set QUFLUX_NANO_BANANA_API_KEY)"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct GeminiImageGeneratorBuilder {
    config: GeminiImageGeneratorConfig,
    timeout: Option<Duration>,
    client: Option<reqwest::Client>,
    env_error: Option<String>,
}

impl GeminiImageGeneratorBuilder {
    /// A builder with no settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with `config`'s settings.
    pub fn from_config(config: GeminiImageGeneratorConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// A builder reading `QUFLUX_NANO_BANANA_API_KEY`, `_BASE_URL`, `_MODEL`, `_IMAGE_SIZE` and
    /// `_TIMEOUT_SECS`. Never fails; [`build`](Self::build) reports missing or malformed
    /// values.
    pub fn from_env() -> Self {
        let (config, env_error) = GeminiImageGeneratorConfig::from_env_checked();
        Self {
            config,
            env_error,
            ..Self::default()
        }
    }

    /// The Gemini API key.
    pub fn with_api_key(mut self, key: impl Into<Secret<String>>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    /// The API's base URL (tests point it at a local server).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = Some(url.into());
        self
    }

    /// The image model id.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.config.model = Some(model.into());
        self
    }

    /// `imageConfig.imageSize` (`1K`, `2K`, `4K`), for models that take it.
    pub fn with_image_size(mut self, size: impl Into<String>) -> Self {
        self.config.image_size = Some(size.into());
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
    /// [`Error::Config`] naming the setting: `api_key` missing, `base_url` not an http(s) URL,
    /// an empty `model`, an `image_size` other than 1K/2K/4K, a zero timeout, or a malformed
    /// environment variable.
    pub fn build(self) -> Result<GeminiImageGenerator> {
        if let Some(message) = self.env_error {
            return Err(Error::Config(message));
        }
        let api_key = self
            .config
            .api_key
            .filter(|k| !k.expose().trim().is_empty())
            .ok_or_else(|| {
                Error::Config(format!(
                    "{PROVIDER}: api_key missing (set QUFLUX_NANO_BANANA_API_KEY)"
                ))
            })?;
        let base_url = crate::http::base_url(
            PROVIDER,
            "base_url",
            self.config.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
        )?;
        let model = self
            .config
            .model
            .as_deref()
            .unwrap_or(DEFAULT_MODEL)
            .trim()
            .trim_start_matches("models/")
            .to_owned();
        if model.is_empty() || model.contains(['/', '?', '#', ' ']) {
            return Err(Error::Config(format!(
                "{PROVIDER}: model `{model}` is not a model id"
            )));
        }
        let image_size = match self.config.image_size.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(size) => {
                let size = size.to_ascii_uppercase();
                if !matches!(size.as_str(), "1K" | "2K" | "4K") {
                    return Err(Error::Config(format!(
                        "{PROVIDER}: image_size `{size}` is not 1K, 2K or 4K"
                    )));
                }
                Some(size)
            }
        };
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
        Ok(GeminiImageGenerator::from_parts(
            client, base_url, model, api_key, image_size, timeout,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let b = || GeminiImageGeneratorBuilder::new().with_api_key("k");
        let g = b().build().unwrap();
        assert_eq!(g.model(), "gemini-2.5-flash-image");
        let g = b().with_model("models/gemini-3-pro-image").build().unwrap();
        assert_eq!(g.model(), "gemini-3-pro-image");
        let e = b().with_image_size("8k").build().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: nano-banana: image_size `8K` is not 1K, 2K or 4K"
        );
        assert!(b().with_image_size("2k").build().is_ok());
        let e = b().with_base_url("nowhere").build().unwrap_err();
        assert!(e.to_string().contains("base_url"), "{e}");
        let e = GeminiImageGeneratorBuilder::new()
            .with_api_key(" ")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("api_key missing"), "{e}");
    }
}
