//! Choosing providers by configuration: [`AiConfig`], [`build_text_generator`],
//! [`build_image_generator`], and [`ImageRouter`].

use std::sync::Arc;

use async_trait::async_trait;
use quflux_core::{Error, GeneratedImage, ImageGenerator, ImageTask, Result, TextGenerator};
use serde::{Deserialize, Serialize};

/// The text providers [`AiConfig::text_provider`] may name.
pub const TEXT_PROVIDERS: [&str; 3] = ["offline", "strands", "openai-compatible"];

/// The image providers [`AiConfig::image_provider`] may name.
pub const IMAGE_PROVIDERS: [&str; 3] = ["offline", "nano-banana", "openai-compatible"];

/// Which AI providers to use, and their settings (serde; every field optional).
///
/// Only the sections of compiled-in providers exist; the others are ignored when
/// deserializing. Naming a provider whose feature is not compiled in is an [`Error::Config`]
/// from [`build_text_generator`] / [`build_image_generator`].
///
/// ```
/// use quflux_ai::{AiConfig, ContentService, build_image_generator, build_text_generator};
///
/// let config: AiConfig = serde_json::from_str(r#"{
///     "text_provider": "offline",
///     "image_provider": "offline",
///     "nano_banana": {"api_key": "AIza…", "model": "gemini-2.5-flash-image"}
/// }"#).unwrap();
/// # #[cfg(feature = "offline")] {
/// let ai = ContentService::new(build_text_generator(&config)?, build_image_generator(&config)?);
/// # let _ = ai;
/// # }
/// # Ok::<(), quflux_core::Error>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AiConfig {
    /// One of [`TEXT_PROVIDERS`]: `offline` (default), `strands`, `openai-compatible`.
    pub text_provider: String,
    /// One of [`IMAGE_PROVIDERS`]: `offline` (default), `nano-banana`, `openai-compatible`.
    /// Social graphics are always rendered by the offline provider when it is compiled in
    /// (see [`ImageRouter`]).
    pub image_provider: String,
    /// Settings of the offline text provider.
    #[cfg(feature = "offline")]
    pub offline: crate::offline::OfflineTextGeneratorConfig,
    /// Settings of the Strands provider.
    #[cfg(feature = "strands")]
    pub strands: crate::strands::StrandsTextGeneratorConfig,
    /// Settings of the Gemini image provider.
    #[cfg(feature = "nano-banana")]
    pub nano_banana: crate::nano_banana::GeminiImageGeneratorConfig,
    /// Settings of the OpenAI-compatible provider (text and images).
    #[cfg(feature = "openai-compatible")]
    pub openai_compatible: crate::openai_compatible::OpenAiCompatibleConfig,
    /// Malformed environment variables seen by [`AiConfig::from_env`].
    #[serde(skip)]
    env_errors: Vec<String>,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            text_provider: "offline".to_owned(),
            image_provider: "offline".to_owned(),
            #[cfg(feature = "offline")]
            offline: Default::default(),
            #[cfg(feature = "strands")]
            strands: Default::default(),
            #[cfg(feature = "nano-banana")]
            nano_banana: Default::default(),
            #[cfg(feature = "openai-compatible")]
            openai_compatible: Default::default(),
            env_errors: Vec::new(),
        }
    }
}

impl AiConfig {
    /// The configuration in the environment: `QUFLUX_AI_TEXT_PROVIDER`,
    /// `QUFLUX_AI_IMAGE_PROVIDER` (default `offline`), and each compiled-in provider's
    /// `QUFLUX_<PROVIDER>_*` variables (as read by its builder's `from_env`). Never fails;
    /// malformed values are reported by the `build_*` functions.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        #[allow(unused_mut)]
        let mut config = Self {
            text_provider: var("QUFLUX_AI_TEXT_PROVIDER").unwrap_or_else(|| "offline".into()),
            image_provider: var("QUFLUX_AI_IMAGE_PROVIDER").unwrap_or_else(|| "offline".into()),
            ..Self::default()
        };
        #[cfg(feature = "offline")]
        {
            let (section, error) = crate::offline::OfflineTextGeneratorConfig::from_env_checked();
            config.offline = section;
            config.env_errors.extend(error);
        }
        #[cfg(feature = "strands")]
        {
            let (section, error) = crate::strands::StrandsTextGeneratorConfig::from_env_checked();
            config.strands = section;
            config.env_errors.extend(error);
        }
        #[cfg(feature = "nano-banana")]
        {
            let (section, error) =
                crate::nano_banana::GeminiImageGeneratorConfig::from_env_checked();
            config.nano_banana = section;
            config.env_errors.extend(error);
        }
        #[cfg(feature = "openai-compatible")]
        {
            let (section, error) =
                crate::openai_compatible::OpenAiCompatibleConfig::from_env_checked();
            config.openai_compatible = section;
            config.env_errors.extend(error);
        }
        config
    }

    /// A configuration using `text` and `image` with default settings.
    pub fn with_providers(text: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            text_provider: text.into(),
            image_provider: image.into(),
            ..Self::default()
        }
    }

    fn check_env(&self) -> Result<()> {
        match self.env_errors.first() {
            Some(message) => Err(Error::Config(message.clone())),
            None => Ok(()),
        }
    }
}

/// The text provider `config` names, built from its section.
///
/// # Errors
/// [`Error::Config`]: an unknown provider, a provider whose cargo feature is not compiled in
/// (naming the feature), or the provider's own setting errors (a missing `url`, `model`, …).
///
/// ```
/// use quflux_ai::{AiConfig, build_text_generator};
///
/// let config = AiConfig::with_providers("gpt", "offline");
/// let err = build_text_generator(&config).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: text_provider `gpt` is unknown; use one of offline, strands, openai-compatible"
/// );
/// ```
pub fn build_text_generator(config: &AiConfig) -> Result<Arc<dyn TextGenerator>> {
    config.check_env()?;
    match config.text_provider.trim().to_ascii_lowercase().as_str() {
        "offline" => offline_text(config),
        "strands" => strands_text(config),
        "openai-compatible" => openai_text(config),
        other => Err(Error::Config(format!(
            "text_provider `{other}` is unknown; use one of {}",
            TEXT_PROVIDERS.join(", ")
        ))),
    }
}

/// The image provider `config` names, built from its section. Networked providers are wrapped
/// in an [`ImageRouter`] that sends social graphics to the offline renderer when the `offline`
/// feature is compiled in.
///
/// # Errors
/// [`Error::Config`]: an unknown provider, a provider whose cargo feature is not compiled in
/// (naming the feature), or the provider's own setting errors (a missing `api_key`, …).
pub fn build_image_generator(config: &AiConfig) -> Result<Arc<dyn ImageGenerator>> {
    config.check_env()?;
    let images = match config.image_provider.trim().to_ascii_lowercase().as_str() {
        "offline" => return offline_image(),
        "nano-banana" => nano_banana_image(config)?,
        "openai-compatible" => openai_image(config)?,
        other => {
            return Err(Error::Config(format!(
                "image_provider `{other}` is unknown; use one of {}",
                IMAGE_PROVIDERS.join(", ")
            )));
        }
    };
    with_offline_graphics(images)
}

#[cfg(not(all(
    feature = "offline",
    feature = "strands",
    feature = "nano-banana",
    feature = "openai-compatible"
)))]
fn not_compiled(setting: &str, provider: &str) -> Error {
    Error::Config(format!(
        "{setting} `{provider}` is not compiled in; enable the `{provider}` feature of quflux-ai"
    ))
}

#[cfg(feature = "offline")]
fn offline_text(config: &AiConfig) -> Result<Arc<dyn TextGenerator>> {
    let builder = crate::offline::OfflineTextGeneratorBuilder::from_config(config.offline.clone());
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "offline"))]
fn offline_text(_: &AiConfig) -> Result<Arc<dyn TextGenerator>> {
    Err(not_compiled("text_provider", "offline"))
}

#[cfg(feature = "offline")]
fn offline_image() -> Result<Arc<dyn ImageGenerator>> {
    Ok(Arc::new(crate::offline::OfflineImageGenerator::new()))
}

#[cfg(not(feature = "offline"))]
fn offline_image() -> Result<Arc<dyn ImageGenerator>> {
    Err(not_compiled("image_provider", "offline"))
}

#[cfg(feature = "offline")]
fn with_offline_graphics(images: Arc<dyn ImageGenerator>) -> Result<Arc<dyn ImageGenerator>> {
    Ok(Arc::new(ImageRouter::new(offline_image()?, images)))
}

#[cfg(not(feature = "offline"))]
fn with_offline_graphics(images: Arc<dyn ImageGenerator>) -> Result<Arc<dyn ImageGenerator>> {
    Ok(images)
}

#[cfg(feature = "strands")]
fn strands_text(config: &AiConfig) -> Result<Arc<dyn TextGenerator>> {
    let builder = crate::strands::StrandsTextGeneratorBuilder::from_config(config.strands.clone());
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "strands"))]
fn strands_text(_: &AiConfig) -> Result<Arc<dyn TextGenerator>> {
    Err(not_compiled("text_provider", "strands"))
}

#[cfg(feature = "openai-compatible")]
fn openai_text(config: &AiConfig) -> Result<Arc<dyn TextGenerator>> {
    let builder = crate::openai_compatible::OpenAiCompatibleTextGeneratorBuilder::from_config(
        config.openai_compatible.clone(),
    );
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "openai-compatible"))]
fn openai_text(_: &AiConfig) -> Result<Arc<dyn TextGenerator>> {
    Err(not_compiled("text_provider", "openai-compatible"))
}

#[cfg(feature = "openai-compatible")]
fn openai_image(config: &AiConfig) -> Result<Arc<dyn ImageGenerator>> {
    let builder = crate::openai_compatible::OpenAiCompatibleImageGeneratorBuilder::from_config(
        config.openai_compatible.clone(),
    );
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "openai-compatible"))]
fn openai_image(_: &AiConfig) -> Result<Arc<dyn ImageGenerator>> {
    Err(not_compiled("image_provider", "openai-compatible"))
}

#[cfg(feature = "nano-banana")]
fn nano_banana_image(config: &AiConfig) -> Result<Arc<dyn ImageGenerator>> {
    let builder =
        crate::nano_banana::GeminiImageGeneratorBuilder::from_config(config.nano_banana.clone());
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "nano-banana"))]
fn nano_banana_image(_: &AiConfig) -> Result<Arc<dyn ImageGenerator>> {
    Err(not_compiled("image_provider", "nano-banana"))
}

/// An [`ImageGenerator`] that sends [`ImageTask::SocialGraphic`] to one generator and
/// [`ImageTask::Generate`] / [`ImageTask::Edit`] to another: typically the offline renderer for
/// text graphics and an image model for the rest.
///
/// ```
/// # #[cfg(feature = "offline")] {
/// use std::sync::Arc;
/// use quflux_ai::ImageRouter;
/// use quflux_ai::offline::OfflineImageGenerator;
/// use quflux_core::memory::ScriptedImageGenerator;
///
/// let router = ImageRouter::new(
///     Arc::new(OfflineImageGenerator::new()),
///     Arc::new(ScriptedImageGenerator::new([])),
/// );
/// # let _ = router;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ImageRouter {
    graphics: Arc<dyn ImageGenerator>,
    images: Arc<dyn ImageGenerator>,
}

impl ImageRouter {
    /// Social graphics from `graphics`, generation and editing from `images`.
    pub fn new(graphics: Arc<dyn ImageGenerator>, images: Arc<dyn ImageGenerator>) -> Self {
        Self { graphics, images }
    }
}

#[async_trait]
impl ImageGenerator for ImageRouter {
    async fn generate_image(&self, task: &ImageTask) -> Result<GeneratedImage> {
        match task {
            ImageTask::SocialGraphic { .. } => self.graphics.generate_image(task).await,
            ImageTask::Generate { .. } | ImageTask::Edit { .. } => {
                self.images.generate_image(task).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use quflux_core::ErrorKind;
    use quflux_core::memory::ScriptedImageGenerator;

    use super::*;

    #[test]
    fn the_default_is_offline() {
        let config = AiConfig::default();
        assert_eq!(
            (
                config.text_provider.as_str(),
                config.image_provider.as_str()
            ),
            ("offline", "offline")
        );
        let parsed: AiConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed.text_provider, "offline");
    }

    #[test]
    fn unknown_providers_are_configuration_errors() {
        let e = build_image_generator(&AiConfig::with_providers("offline", "dall-e")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: image_provider `dall-e` is unknown; use one of offline, nano-banana, openai-compatible"
        );
    }

    #[test]
    fn missing_settings_name_the_provider() {
        #[cfg(feature = "strands")]
        {
            let e =
                build_text_generator(&AiConfig::with_providers("strands", "offline")).unwrap_err();
            assert_eq!(
                e.to_string(),
                "invalid configuration: strands: url missing (set QUFLUX_STRANDS_URL)"
            );
        }
        #[cfg(feature = "nano-banana")]
        {
            let e = build_image_generator(&AiConfig::with_providers("offline", "nano-banana"))
                .unwrap_err();
            assert!(
                e.to_string().contains("nano-banana: api_key missing"),
                "{e}"
            );
        }
        #[cfg(feature = "openai-compatible")]
        {
            let mut config = AiConfig::with_providers("openai-compatible", "openai-compatible");
            let e = build_text_generator(&config).unwrap_err();
            assert!(
                e.to_string()
                    .contains("openai-compatible: base_url missing"),
                "{e}"
            );
            config.openai_compatible.base_url = Some("http://127.0.0.1:1/v1".into());
            assert!(build_image_generator(&config).is_ok());
            let e = build_text_generator(&config).unwrap_err();
            assert!(e.to_string().contains("model missing"), "{e}");
            config.openai_compatible.model = Some("m".into());
            assert!(build_text_generator(&config).is_ok());
        }
    }

    #[test]
    fn env_errors_are_reported_by_the_builders() {
        let mut config = AiConfig::default();
        config
            .env_errors
            .push("strands: QUFLUX_STRANDS_TIMEOUT_SECS `soon` is not a number of seconds".into());
        let e = build_text_generator(&config).unwrap_err();
        assert!(e.to_string().contains("QUFLUX_STRANDS_TIMEOUT_SECS"), "{e}");
    }

    #[tokio::test]
    async fn the_router_splits_graphics_from_images() {
        let image = |model: &str| GeneratedImage {
            bytes: Bytes::new(),
            content_type: "image/png".into(),
            width: 1,
            height: 1,
            model: model.into(),
        };
        let graphics = Arc::new(ScriptedImageGenerator::new([Ok(image("graphics"))]));
        let images = Arc::new(ScriptedImageGenerator::new([Ok(image("images"))]));
        let router = ImageRouter::new(graphics, images);
        let graphic = ImageTask::SocialGraphic {
            text: "t".into(),
            template: "bold".into(),
            width: 1080,
            height: 1080,
        };
        let generate = ImageTask::Generate {
            prompt: "p".into(),
            style: String::new(),
            width: 1,
            height: 1,
        };
        assert_eq!(
            router.generate_image(&graphic).await.unwrap().model,
            "graphics"
        );
        assert_eq!(
            router.generate_image(&generate).await.unwrap().model,
            "images"
        );
        let e = router.generate_image(&generate).await.unwrap_err();
        assert_ne!(e.kind(), ErrorKind::Config);
    }
}
