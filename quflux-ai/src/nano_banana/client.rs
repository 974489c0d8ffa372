//! [`GeminiImageGenerator`]: `models/{model}:generateContent` with image output.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bytes::Bytes;
use image::ImageFormat;
use quflux_core::{Error, GeneratedImage, ImageGenerator, ImageTask, Result, Secret};

use super::config::GeminiImageGeneratorBuilder;
use super::error::classify;
use super::wire::{
    Content, GenerateContentRequest, GenerateContentResponse, GenerationConfig, ImageConfig,
    InlineData, RequestPart,
};
use super::{ASPECT_RATIOS, MAX_INLINE_BYTES, PROVIDER};
use crate::http::{self, send};
use crate::pixels::{self, fit_png_blocking, probe};

/// Images from Gemini image models ("Nano Banana"), cropped to the exact requested pixels.
///
/// - [`ImageTask::Generate`]: the prompt (with `Style: …` when a style is given) and
///   `imageConfig.aspectRatio` set to the supported ratio nearest to `width`×`height`
///   (1080×1080 → `1:1`, 1200×675 → `16:9`, 1080×1920 → `9:16`, 1080×1350 → `4:5`); the
///   returned image is scaled to cover the requested size, centre-cropped and encoded as PNG.
/// - [`ImageTask::Edit`]: the prompt plus the image as an `inlineData` part (PNG, JPEG and WebP
///   as given; GIF converted to PNG; at most 7 MB), aspect ratio nearest to the input's; the
///   result has the input's pixel size, as PNG, so it can replace the original.
/// - [`ImageTask::SocialGraphic`]: [`Error::Unsupported`]; text graphics are rendered locally
///   by the offline provider (see [`ImageRouter`](crate::ImageRouter)).
///
/// Every image carries Google's invisible SynthID watermark; store it with `ai_generated = true`
/// ([`store_generated_image`](crate::store_generated_image) does).
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use quflux_ai::nano_banana::GeminiImageGenerator;
/// use quflux_core::{ImageGenerator, ImageTask};
///
/// let gemini = GeminiImageGenerator::builder().with_api_key("AIza…").build()?;
/// let image = gemini
///     .generate_image(&ImageTask::Generate {
///         prompt: "a loaf of sourdough on a wooden table".into(),
///         style: "realistic".into(),
///         width: 1200,
///         height: 675,
///     })
///     .await?;
/// assert_eq!((image.width, image.height), (1200, 675));
/// # Ok::<(), quflux_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct GeminiImageGenerator {
    client: reqwest::Client,
    base_url: String,
    model: String,
    api_key: Secret<String>,
    image_size: Option<String>,
    timeout: Duration,
}

impl GeminiImageGenerator {
    /// A builder ([`GeminiImageGeneratorBuilder::new`]).
    pub fn builder() -> GeminiImageGeneratorBuilder {
        GeminiImageGeneratorBuilder::new()
    }

    pub(super) fn from_parts(
        client: reqwest::Client,
        base_url: String,
        model: String,
        api_key: Secret<String>,
        image_size: Option<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            base_url,
            model,
            api_key,
            image_size,
            timeout,
        }
    }

    /// The model id requests go to.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// One `generateContent` call; the image bytes and the model version that made them.
    async fn generate(
        &self,
        parts: Vec<RequestPart<'_>>,
        aspect_ratio: &'static str,
    ) -> Result<(Vec<u8>, String)> {
        let request = GenerateContentRequest {
            contents: vec![Content {
                role: "user",
                parts,
            }],
            generation_config: GenerationConfig {
                response_modalities: ["TEXT", "IMAGE"],
                image_config: ImageConfig {
                    aspect_ratio,
                    image_size: self.image_size.as_deref(),
                },
            },
        };
        let url = format!(
            "{}/v1beta/models/{}:generateContent",
            self.base_url, self.model
        );
        let builder = self
            .client
            .post(url)
            .timeout(self.timeout)
            .header("x-goog-api-key", self.api_key.expose())
            .json(&request);
        let reply = send(PROVIDER, builder).await?;
        let key = Some(&self.api_key);
        if !reply.status.is_success() {
            return Err(classify(reply.status, &reply.headers, &reply.body, key));
        }
        let response: GenerateContentResponse = http::decode(PROVIDER, &reply.body, key)?;
        let Some(image) = response.image() else {
            return Err(classify(reply.status, &reply.headers, &reply.body, key));
        };
        let data: String = image.data.split_whitespace().collect();
        let bytes = STANDARD
            .decode(&data)
            .or_else(|_| URL_SAFE.decode(&data))
            .map_err(|e| {
                http::malformed(PROVIDER, format!("inlineData is not base64: {e}"), b"", key)
            })?;
        let model = response
            .model_version
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| self.model.clone());
        Ok((bytes, model))
    }
}

#[async_trait]
impl ImageGenerator for GeminiImageGenerator {
    async fn generate_image(&self, task: &ImageTask) -> Result<GeneratedImage> {
        match task {
            ImageTask::Generate {
                prompt,
                style,
                width,
                height,
            } => {
                check_size(*width, *height)?;
                let text = if style.trim().is_empty() {
                    prompt.trim().to_owned()
                } else {
                    format!("{}\nStyle: {}.", prompt.trim(), style.trim())
                };
                let ratio = aspect_ratio(*width, *height);
                let (bytes, model) = self
                    .generate(vec![RequestPart::Text { text: &text }], ratio)
                    .await?;
                finish(bytes, model, *width, *height).await
            }
            ImageTask::Edit {
                image,
                content_type,
                prompt,
            } => {
                let (inline, width, height) = inline_image(image, content_type).await?;
                let ratio = aspect_ratio(width, height);
                let parts = vec![
                    RequestPart::Text {
                        text: prompt.trim(),
                    },
                    RequestPart::Image {
                        inline_data: inline,
                    },
                ];
                let (bytes, model) = self.generate(parts, ratio).await?;
                finish(bytes, model, width, height).await
            }
            ImageTask::SocialGraphic { .. } => Err(Error::Unsupported {
                service: PROVIDER,
                operation: "social graphics",
            }),
        }
    }
}

/// The supported aspect ratio nearest to `width`×`height`.
pub(super) fn aspect_ratio(width: u32, height: u32) -> &'static str {
    pixels::nearest(width, height, &ASPECT_RATIOS).unwrap_or("1:1")
}

fn check_size(width: u32, height: u32) -> Result<()> {
    for (field, side) in [("width", width), ("height", height)] {
        if side == 0 {
            return Err(Error::invalid_input(field, "must be at least 1 px"));
        }
    }
    Ok(())
}

/// The edit input as an `inlineData` part, and its size.
async fn inline_image(image: &Bytes, content_type: &str) -> Result<(InlineData, u32, u32)> {
    let not_an_image = || Error::invalid_input("image", "not a PNG/JPEG/WebP/GIF image");
    let found = probe(image).ok_or_else(not_an_image)?;
    let (bytes, mime) = match found.format {
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP => {
            (image.to_vec(), found.format.to_mime_type().to_owned())
        }
        ImageFormat::Gif => {
            // Gemini takes PNG, JPEG and WebP; convert the first frame.
            let gif = image.clone();
            let png = tokio::task::spawn_blocking(move || {
                let frame = image::load_from_memory(&gif).map_err(|_| not_an_image())?;
                pixels::encode_png(PROVIDER, &frame)
            })
            .await
            .map_err(|e| Error::other(PROVIDER, e))??;
            (png, "image/png".to_owned())
        }
        _ => return Err(not_an_image()),
    };
    if bytes.len() > MAX_INLINE_BYTES {
        return Err(Error::invalid_input(
            "image",
            format!(
                "{} bytes is more than Gemini's inline limit of {MAX_INLINE_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    let _ = content_type; // the bytes decide; ContentService already checked they agree
    Ok((
        InlineData {
            mime_type: mime,
            data: STANDARD.encode(&bytes),
        },
        found.width,
        found.height,
    ))
}

/// The model's image as a PNG of exactly `width`×`height`.
async fn finish(bytes: Vec<u8>, model: String, width: u32, height: u32) -> Result<GeneratedImage> {
    let png = fit_png_blocking(PROVIDER, bytes, width, height).await?;
    Ok(GeneratedImage {
        bytes: Bytes::from(png),
        content_type: "image/png".to_owned(),
        width,
        height,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_sizes_map_to_the_documented_ratios() {
        assert_eq!(aspect_ratio(1080, 1080), "1:1");
        assert_eq!(aspect_ratio(1200, 675), "16:9");
        assert_eq!(aspect_ratio(1080, 1920), "9:16");
        assert_eq!(aspect_ratio(1080, 1350), "4:5");
        assert_eq!(aspect_ratio(2520, 1080), "21:9");
        assert_eq!(aspect_ratio(1024, 1536), "2:3");
    }
}
