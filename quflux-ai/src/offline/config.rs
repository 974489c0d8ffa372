//! [`OfflineTextGeneratorConfig`] and [`OfflineTextGeneratorBuilder`].

use quflux_core::{Error, Platform, Result};
use serde::{Deserialize, Serialize};

use super::OfflineTextGenerator;

/// How offline hashtags are cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HashtagCase {
    /// `#RustProgramming`: readable, and screen readers read it word by word.
    Camel,
    /// `#rustprogramming`.
    Lower,
}

impl HashtagCase {
    /// The default casing on `platform`: lowercase on Instagram (its community convention;
    /// hashtag search is case-insensitive everywhere), CamelCase elsewhere (accessibility;
    /// Mastodon and LinkedIn recommend it).
    pub fn default_for(platform: Platform) -> Self {
        match platform {
            Platform::Instagram => Self::Lower,
            _ => Self::Camel,
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "camel" | "camelcase" => Some(Self::Camel),
            "lower" | "lowercase" => Some(Self::Lower),
            _ => None,
        }
    }
}

/// Settings of an [`OfflineTextGenerator`] (serde; every field optional).
///
/// ```
/// use quflux_ai::offline::{OfflineTextGeneratorBuilder, OfflineTextGeneratorConfig};
///
/// let config: OfflineTextGeneratorConfig =
///     serde_json::from_str(r#"{"max_hashtags": 4, "hashtag_case": "lower"}"#).unwrap();
/// let generator = OfflineTextGeneratorBuilder::from_config(config).build().unwrap();
/// # let _ = generator;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OfflineTextGeneratorConfig {
    /// Upper bound on hashtags per suggestion; each platform's own cap
    /// ([`crate::recommended_hashtags`]) still applies. `None`: 10.
    pub max_hashtags: Option<usize>,
    /// Casing of every hashtag. `None`: per platform ([`HashtagCase::default_for`]).
    pub hashtag_case: Option<HashtagCase>,
}

impl OfflineTextGeneratorConfig {
    /// The settings in `QUFLUX_OFFLINE_*`, and the first malformed value (for
    /// [`AiConfig::from_env`](crate::AiConfig::from_env)).
    pub(crate) fn from_env_checked() -> (Self, Option<String>) {
        let builder = OfflineTextGeneratorBuilder::from_env();
        (builder.config, builder.env_error)
    }
}

/// Builds an [`OfflineTextGenerator`].
///
/// ```
/// use quflux_ai::offline::{HashtagCase, OfflineTextGenerator};
///
/// let generator = OfflineTextGenerator::builder()
///     .with_max_hashtags(3)
///     .with_hashtag_case(HashtagCase::Camel)
///     .build()
///     .unwrap();
/// # let _ = generator;
/// ```
#[derive(Debug, Clone, Default)]
pub struct OfflineTextGeneratorBuilder {
    config: OfflineTextGeneratorConfig,
    /// A malformed environment variable, reported by `build()`.
    env_error: Option<String>,
}

impl OfflineTextGeneratorBuilder {
    /// A builder with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with `config`'s settings.
    pub fn from_config(config: OfflineTextGeneratorConfig) -> Self {
        Self {
            config,
            env_error: None,
        }
    }

    /// A builder reading `QUFLUX_OFFLINE_MAX_HASHTAGS` (a number) and
    /// `QUFLUX_OFFLINE_HASHTAG_CASE` (`camel` or `lower`). Never fails; a malformed value is
    /// reported by [`build`](Self::build).
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        if let Ok(value) = std::env::var("QUFLUX_OFFLINE_MAX_HASHTAGS") {
            match value.trim().parse() {
                Ok(n) => builder.config.max_hashtags = Some(n),
                Err(_) => {
                    builder.env_error = Some(format!(
                        "offline: QUFLUX_OFFLINE_MAX_HASHTAGS `{value}` is not a number"
                    ));
                }
            }
        }
        if let Ok(value) = std::env::var("QUFLUX_OFFLINE_HASHTAG_CASE") {
            match HashtagCase::parse(&value) {
                Some(case) => builder.config.hashtag_case = Some(case),
                None => {
                    builder.env_error = Some(format!(
                        "offline: QUFLUX_OFFLINE_HASHTAG_CASE `{value}` is not `camel` or `lower`"
                    ));
                }
            }
        }
        builder
    }

    /// Caps hashtags per suggestion at `max` (at most the platform's own cap still applies).
    pub fn with_max_hashtags(mut self, max: usize) -> Self {
        self.config.max_hashtags = Some(max);
        self
    }

    /// Uses `case` for every platform instead of the per-platform default.
    pub fn with_hashtag_case(mut self, case: HashtagCase) -> Self {
        self.config.hashtag_case = Some(case);
        self
    }

    /// The generator.
    ///
    /// # Errors
    /// [`Error::Config`]: `max_hashtags` is 0, or an environment variable read by
    /// [`from_env`](Self::from_env) is malformed.
    pub fn build(self) -> Result<OfflineTextGenerator> {
        if let Some(message) = self.env_error {
            return Err(Error::Config(message));
        }
        if self.config.max_hashtags == Some(0) {
            return Err(Error::Config(
                "offline: max_hashtags must be at least 1".into(),
            ));
        }
        Ok(OfflineTextGenerator::from_parts(self.config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_hashtags_is_a_config_error() {
        let err = OfflineTextGenerator::builder()
            .with_max_hashtags(0)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: offline: max_hashtags must be at least 1"
        );
    }

    #[test]
    fn casing_parses_from_names() {
        assert_eq!(HashtagCase::parse("CamelCase"), Some(HashtagCase::Camel));
        assert_eq!(HashtagCase::parse("lower"), Some(HashtagCase::Lower));
        assert_eq!(HashtagCase::parse("upper"), None);
    }
}
