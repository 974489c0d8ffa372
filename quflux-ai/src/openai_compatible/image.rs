//! [`OpenAiCompatibleImageGenerator`]: `POST {base}/images/generations`.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use quflux_core::{Error, GeneratedImage, ImageGenerator, ImageTask, Result};

use super::PROVIDER;
use super::client::Endpoint;
use super::config::OpenAiCompatibleImageGeneratorBuilder;
use super::error::{classify, is_unknown_model};
use super::wire::{ImageRequest, ImagesResponse};
use crate::http::{self, ApiError, malformed};
use crate::pixels::{self, fit_png_blocking};

/// Images from an OpenAI-compatible `POST {base}/images/generations` endpoint, where the server
/// offers one (OpenAI does; most local servers do not).
///
/// - [`ImageTask::Generate`]: asks for the configured size nearest in shape to
///   `width`×`height` (`gpt-image-1`: 1024×1024, 1536×1024, 1024×1536) with `n: 1` and
///   `response_format: "b64_json"` (left out for `gpt-image-*` models, which always answer
///   base64 and reject the field); a `url` answer is downloaded. The image is scaled to cover
///   the requested size, centre-cropped and returned as PNG.
/// - A server without the endpoint (HTTP 404 without a model error, 405, 501):
///   [`Error::Unsupported`] ("image generation is not supported by openai-compatible").
/// - [`ImageTask::Edit`] (multipart `/images/edits`) and [`ImageTask::SocialGraphic`]:
///   [`Error::Unsupported`].
#[derive(Debug, Clone)]
pub struct OpenAiCompatibleImageGenerator {
    endpoint: Endpoint,
    model: String,
    sizes: Vec<(u32, u32)>,
}

impl OpenAiCompatibleImageGenerator {
    /// A builder ([`OpenAiCompatibleImageGeneratorBuilder::new`]).
    pub fn builder() -> OpenAiCompatibleImageGeneratorBuilder {
        OpenAiCompatibleImageGeneratorBuilder::new()
    }

    pub(super) fn from_parts(endpoint: Endpoint, model: String, sizes: Vec<(u32, u32)>) -> Self {
        Self {
            endpoint,
            model,
            sizes,
        }
    }

    /// The image model id.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The configured size nearest in shape to `width`×`height`.
    fn size_for(&self, width: u32, height: u32) -> (u32, u32) {
        let candidates: Vec<(u32, u32, (u32, u32))> =
            self.sizes.iter().map(|&(w, h)| (w, h, (w, h))).collect();
        pixels::nearest(width, height, &candidates).unwrap_or((1024, 1024))
    }

    async fn generate(&self, prompt: &str, width: u32, height: u32) -> Result<Vec<u8>> {
        let (w, h) = self.size_for(width, height);
        let request = ImageRequest {
            model: &self.model,
            prompt,
            size: format!("{w}x{h}"),
            n: 1,
            response_format: (!self.model.starts_with("gpt-image")).then_some("b64_json"),
        };
        let reply = self.endpoint.post("/images/generations", &request).await?;
        let key = self.endpoint.key();
        let status = reply.status.as_u16();
        if (status == 404 && !is_unknown_model(&reply.body)) || matches!(status, 405 | 501) {
            return Err(Error::Unsupported {
                service: PROVIDER,
                operation: "image generation",
            });
        }
        if !reply.status.is_success() {
            return Err(classify(reply.status, &reply.headers, &reply.body, key));
        }
        let response: ImagesResponse = http::decode(PROVIDER, &reply.body, key)?;
        let Some(image) = response.data.into_iter().next() else {
            return Err(malformed(PROVIDER, "no image in `data`", &reply.body, key));
        };
        if let Some(b64) = image.b64_json.filter(|b| !b.is_empty()) {
            let b64: String = b64.split_whitespace().collect();
            return STANDARD.decode(b64).map_err(|e| {
                malformed(PROVIDER, format!("b64_json is not base64: {e}"), b"", key)
            });
        }
        let Some(url) = image.url.filter(|u| !u.is_empty()) else {
            return Err(malformed(
                PROVIDER,
                "an image with neither b64_json nor url",
                &reply.body,
                key,
            ));
        };
        let download = self.endpoint.get(&url).await?;
        if !download.status.is_success() {
            let source = ApiError::new(download.status, None, None, b"", None);
            return Err(if download.status.is_server_error() {
                Error::transient(PROVIDER, source)
            } else {
                Error::other(PROVIDER, source)
            });
        }
        Ok(download.body.to_vec())
    }
}

#[async_trait]
impl ImageGenerator for OpenAiCompatibleImageGenerator {
    async fn generate_image(&self, task: &ImageTask) -> Result<GeneratedImage> {
        match task {
            ImageTask::Generate {
                prompt,
                style,
                width,
                height,
            } => {
                for (field, side) in [("width", *width), ("height", *height)] {
                    if side == 0 {
                        return Err(Error::invalid_input(field, "must be at least 1 px"));
                    }
                }
                let text = if style.trim().is_empty() {
                    prompt.trim().to_owned()
                } else {
                    format!("{}\nStyle: {}.", prompt.trim(), style.trim())
                };
                let bytes = self.generate(&text, *width, *height).await?;
                let png = fit_png_blocking(PROVIDER, bytes, *width, *height).await?;
                Ok(GeneratedImage {
                    bytes: Bytes::from(png),
                    content_type: "image/png".to_owned(),
                    width: *width,
                    height: *height,
                    model: self.model.clone(),
                })
            }
            ImageTask::Edit { .. } => Err(Error::Unsupported {
                service: PROVIDER,
                operation: "image editing",
            }),
            ImageTask::SocialGraphic { .. } => Err(Error::Unsupported {
                service: PROVIDER,
                operation: "social graphics",
            }),
        }
    }
}
