//! [`OfflineImageGenerator`]: social graphics rendered locally to PNG.

use async_trait::async_trait;
use bytes::Bytes;
use quflux_core::{Error, GeneratedImage, ImageGenerator, ImageTask, Result};

use super::PROVIDER;
use super::render::render_png;

/// Renders text graphics locally to PNG; no network, no model.
///
/// - [`ImageTask::SocialGraphic`]: one of [`TEMPLATES`](super::TEMPLATES) at one of
///   [`SOCIAL_GRAPHIC_SIZES`](crate::SOCIAL_GRAPHIC_SIZES) (1080×1080, 1200×675, 1080×1920,
///   1080×1350). The text is word-wrapped and auto-sized: the largest whole-pixel font size
///   (binary search between 1/36 and 1/7 of the shorter side; 1/10 for `quote`) at which the
///   wrapped block fits inside the [`text_area`](super::text_area). Text too long even at the
///   smallest size keeps the lines that fit, the last ending in `…`. No pixel is drawn outside
///   the text area.
/// - [`ImageTask::Generate`] and [`ImageTask::Edit`]: [`Error::Unsupported`] ("image generation
///   is not supported by offline" / "image editing is not supported by offline"); use an image
///   provider such as Gemini for those.
///
/// **Characters the font lacks.** The bundled font is DejaVu Sans Bold (Latin, Greek, Cyrillic,
/// Armenian, Georgian, Hebrew, Arabic and many symbols). Characters it has no glyph for (colour
/// emoji, CJK, and the joiners and variation selectors of emoji sequences) are **stripped**
/// rather than drawn as empty boxes; [`unsupported_characters`](super::unsupported_characters)
/// lists them so callers can warn. A text with nothing drawable left is
/// [`Error::InvalidInput`]. There is no text shaping: Arabic and Hebrew are drawn left to right
/// in isolated letter forms, readable as a fallback but not production quality.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use quflux_ai::offline::OfflineImageGenerator;
/// use quflux_core::{ImageGenerator, ImageTask};
///
/// let task = ImageTask::SocialGraphic {
///     text: "Ship small, ship often".into(),
///     template: "gradient".into(),
///     width: 1200,
///     height: 675,
/// };
/// let png = OfflineImageGenerator::new().generate_image(&task).await.unwrap();
/// assert_eq!((png.width, png.height), (1200, 675));
/// assert_eq!(png.content_type, "image/png");
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct OfflineImageGenerator {
    _private: (),
}

impl OfflineImageGenerator {
    /// The generator (it has no settings).
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ImageGenerator for OfflineImageGenerator {
    async fn generate_image(&self, task: &ImageTask) -> Result<GeneratedImage> {
        match task {
            ImageTask::Generate { .. } => Err(Error::Unsupported {
                service: PROVIDER,
                operation: "image generation",
            }),
            ImageTask::Edit { .. } => Err(Error::Unsupported {
                service: PROVIDER,
                operation: "image editing",
            }),
            ImageTask::SocialGraphic {
                text,
                template,
                width,
                height,
            } => {
                if text.trim().is_empty() {
                    return Err(Error::invalid_input("text", "must not be empty"));
                }
                let (text, template, width, height) =
                    (text.clone(), template.clone(), *width, *height);
                // Rendering takes tens of milliseconds; keep it off the async workers.
                let png = tokio::task::spawn_blocking(move || {
                    render_png(&text, &template, width, height)
                })
                .await
                .map_err(|e| Error::other(PROVIDER, e))??;
                Ok(GeneratedImage {
                    bytes: Bytes::from(png),
                    content_type: "image/png".to_owned(),
                    width,
                    height,
                    model: PROVIDER.to_owned(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn free_form_images_are_unsupported_with_a_clear_message() {
        let g = OfflineImageGenerator::new();
        let generate = ImageTask::Generate {
            prompt: "a cat".into(),
            style: "realistic".into(),
            width: 1024,
            height: 1024,
        };
        let err = g.generate_image(&generate).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "image generation is not supported by offline"
        );
        let edit = ImageTask::Edit {
            image: Bytes::new(),
            content_type: "image/png".into(),
            prompt: "brighter".into(),
        };
        let err = g.generate_image(&edit).await.unwrap_err();
        assert_eq!(err.to_string(), "image editing is not supported by offline");
        assert_eq!(err.kind(), quflux_core::ErrorKind::Unsupported);
    }
}
