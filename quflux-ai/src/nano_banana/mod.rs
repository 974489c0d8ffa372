//! The `nano-banana` provider (feature `nano-banana`): image generation and editing with
//! Gemini image models ("Nano Banana").
//!
//! - **API:** Gemini API `v1beta`,
//!   [`POST {base}/v1beta/models/{model}:generateContent`](https://ai.google.dev/gemini-api/docs/image-generation)
//!   with `generationConfig.responseModalities: ["TEXT", "IMAGE"]` and
//!   `imageConfig.aspectRatio` (one of `1:1`, `2:3`, `3:2`, `3:4`, `4:3`, `4:5`, `5:4`, `9:16`,
//!   `16:9`, `21:9`; `imageSize` `1K`/`2K`/`4K` only when configured, for Gemini 3 Pro and
//!   newer). Edits send the image as a fresh `inlineData {mimeType, data}` part. The result is
//!   the **last** `inlineData` part not marked `thought` (Gemini 3 sends interim thought
//!   images); it is resized and centre-cropped to the exact requested pixels and returned as
//!   PNG.
//! - **Model:** configurable, default `gemini-2.5-flash-image`; `gemini-3-pro-image-preview` is
//!   Nano Banana Pro. Model ids change often, so keep the id in configuration.
//! - **Auth:** an API key in the `x-goog-api-key` header ([`Secret`](quflux_core::Secret), never
//!   logged; stripped from error bodies).
//! - **Limits:** inline images about 7 MB (PNG, JPEG, WebP); quotas per project and tier (the
//!   free tier has practically no image quota); 429 and 503 happen even below quota. About
//!   US$0.04 per Flash image. Every output carries an invisible SynthID watermark, so store
//!   results with `ai_generated = true` and use the platforms' AI labels.
//! - **Errors** (one `classify`): 429 `RESOURCE_EXHAUSTED` →
//!   [`RateLimited`](quflux_core::Error::RateLimited) with `Retry-After` or
//!   `RetryInfo.retryDelay`; 503 `UNAVAILABLE`, 500, 502, 504, timeouts →
//!   [`Transient`](quflux_core::Error::Transient); an invalid key (400 `API_KEY_INVALID`), 401,
//!   403, an unknown model (404) and `FAILED_PRECONDITION` → `Config`; other 400s → `InvalidContent`;
//!   blocked content (`promptFeedback.blockReason`, `finishReason` `SAFETY`,
//!   `IMAGE_SAFETY`, `PROHIBITED_CONTENT`, …) and text-only answers → `InvalidContent` with the
//!   reason and the model's text. The adapter never retries; callers do (see
//!   [`Error::is_retryable`](quflux_core::Error::is_retryable)).
//! - **Settings:** `QUFLUX_NANO_BANANA_API_KEY` (required), `QUFLUX_NANO_BANANA_MODEL`,
//!   `QUFLUX_NANO_BANANA_BASE_URL`, `QUFLUX_NANO_BANANA_IMAGE_SIZE`,
//!   `QUFLUX_NANO_BANANA_TIMEOUT_SECS` ([`GeminiImageGeneratorBuilder::from_env`]).
//!
//! Social graphics are not drawn by the model: they are
//! [`Unsupported`](quflux_core::Error::Unsupported) here and rendered by the offline provider
//! ([`build_image_generator`](crate::build_image_generator) routes them there).

mod client;
mod config;
mod error;
mod wire;

use std::time::Duration;

pub use client::GeminiImageGenerator;
pub use config::{GeminiImageGeneratorBuilder, GeminiImageGeneratorConfig};

/// The provider id, used in errors and in configuration (`image_provider = "nano-banana"`).
pub const PROVIDER: &str = "nano-banana";

/// The default model id.
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash-image";

/// The default base URL.
const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// The default request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest inline image Gemini takes.
const MAX_INLINE_BYTES: usize = 7 * 1024 * 1024;

/// The aspect ratios Gemini image models accept.
const ASPECT_RATIOS: [(u32, u32, &str); 10] = [
    (1, 1, "1:1"),
    (2, 3, "2:3"),
    (3, 2, "3:2"),
    (3, 4, "3:4"),
    (4, 3, "4:3"),
    (4, 5, "4:5"),
    (5, 4, "5:4"),
    (9, 16, "9:16"),
    (16, 9, "16:9"),
    (21, 9, "21:9"),
];
