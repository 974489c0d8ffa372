//! # quflux-ai
//!
//! AI content generation for Quflux: providers behind the core ports
//! [`quflux_core::TextGenerator`] and [`quflux_core::ImageGenerator`], and [`ContentService`],
//! which validates input, checks every generated text against the platform's rules from
//! [`quflux_core::rules`] (regenerating once, then shortening, and saying which in
//! [`Checked::adjusted`]) and works with any provider.
//!
//! Operations: captions (content type, topic, platform, tone), hashtag suggestions, post ideas,
//! rewriting a text to fit a platform, social graphics (text on a template, rendered to PNG),
//! and image generation and editing where the provider supports them.
//!
//! ## Example
//!
//! The offline provider needs no network and no credentials:
//!
//! ```
//! # #[cfg(feature = "offline")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use quflux_ai::ContentService;
//! use quflux_core::Platform;
//!
//! let ai = ContentService::offline();
//!
//! let caption = ai.caption("image", "Home-made sourdough bread", Platform::Twitter, "casual").await?;
//! println!("{}", caption.value); // fits X's 280 weighted characters
//! assert!(caption.adjusted.is_none());
//!
//! let tags = ai.hashtags("Baking sourdough bread at home with a rye starter", Platform::Linkedin).await?;
//! assert!(tags.value.len() <= 5);
//!
//! let ideas = ai.ideas("Home-made sourdough bread", "new bakers", Platform::Instagram).await?;
//! assert!(ideas.value.len() >= 5);
//!
//! let png = ai.social_graphic("Fresh bread every Friday", "bold", 1080, 1080).await?;
//! assert_eq!(png.content_type, "image/png");
//!
//! // Free-form image generation needs an image model.
//! let err = ai.generate_image("a loaf on a table", "realistic", 1024, 1024).await.unwrap_err();
//! assert_eq!(err.to_string(), "image generation is not supported by offline");
//! # Ok::<(), quflux_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Implementations
//!
//! | module | feature | type | trait | does |
//! |---|---|---|---|---|
//! | [`offline`] | `offline` (default) | [`offline::OfflineTextGenerator`] | [`TextGenerator`](quflux_core::TextGenerator) | captions, hashtags, ideas, rewrites from templates and YAKE keywords |
//! | [`offline`] | `offline` (default) | [`offline::OfflineImageGenerator`] | [`ImageGenerator`](quflux_core::ImageGenerator) | social graphics to PNG; generate/edit are `Unsupported` |
//! | `strands` | `strands` | `strands::StrandsTextGenerator` | [`TextGenerator`](quflux_core::TextGenerator) | captions, hashtags, ideas, rewrites from a user-deployed Strands agent over A2A 0.3 (`message/send`) |
//! | `nano_banana` | `nano-banana` | `nano_banana::GeminiImageGenerator` | [`ImageGenerator`](quflux_core::ImageGenerator) | image generation and editing with Gemini image models, cropped to exact pixels; social graphics `Unsupported` |
//! | `openai_compatible` | `openai-compatible` | `openai_compatible::OpenAiCompatibleTextGenerator` | [`TextGenerator`](quflux_core::TextGenerator) | text from any `/chat/completions` server (OpenAI, Ollama, vLLM, llama.cpp, LM Studio) |
//! | `openai_compatible` | `openai-compatible` | `openai_compatible::OpenAiCompatibleImageGenerator` | [`ImageGenerator`](quflux_core::ImageGenerator) | `/images/generations` where the server offers it (else `Unsupported`) |
//! | crate root | – | [`ImageRouter`] | [`ImageGenerator`](quflux_core::ImageGenerator) | social graphics from one generator, generate/edit from another |
//! | `quflux_core::memory` | – | `ScriptedTextGenerator`, `ScriptedImageGenerator` | both | scripted results for tests |
//!
//! [`ContentService`] wraps any pair of them. [`AiConfig`] chooses them by name
//! (`text_provider`, `image_provider`) with [`build_text_generator`] and
//! [`build_image_generator`]; the latter keeps social graphics on the offline renderer when a
//! networked image provider is chosen. [`store_generated_image`] stores a result through a
//! [`BlobStore`](quflux_core::BlobStore) as a [`MediaFile`](quflux_core::MediaFile) with
//! `ai_generated = true`. [`AiJobs`] runs requests as jobs on the `ai_generation` queue (it is
//! the worker's handler for [`AI_JOB`]) and keeps each result with its latency in the cache.
//!
//! ## Features
//!
//! - `offline` (default): the offline provider (`yake-rust`, `ab_glyph`, a bundled DejaVu Sans
//!   Bold font under the Bitstream Vera / Arev licence, committed as
//!   `assets/fonts/LICENSE-DejaVu.txt`).
//! - `strands`: the Strands A2A client (`reqwest` 0.13 with rustls, `uuid`).
//! - `nano-banana`: the Gemini image client (`reqwest` 0.13 with rustls, `base64`).
//! - `openai-compatible`: the OpenAI-compatible text and image clients (`reqwest` 0.13 with
//!   rustls, `base64`).
//!
//! [`ContentService`], the rule checks ([`text_violations`], [`recommended_hashtags`]), the
//! image-input check of [`ContentService::edit_image`] (the `image` crate, PNG/JPEG/WebP/GIF),
//! [`AiConfig`] and [`store_generated_image`] are always compiled. The networked providers
//! never retry: their errors say whether to ([`Error::is_retryable`](quflux_core::Error::is_retryable),
//! [`Error::retry_after`](quflux_core::Error::retry_after)), and timeouts are `Transient`
//! (generation has no side effects to reconcile).
//!
//! ## Adding a provider
//!
//! 1. A feature named after the backend (`kebab-case`, optional dependencies with `dep:`,
//!    `default-features = false` on `reqwest` with rustls) documented with a `## ` comment in
//!    `Cargo.toml`, and a module `src/<backend>/` gated with `#[cfg(feature = "…")]`.
//! 2. In the module: `pub const PROVIDER: &str`, a `<Backend>TextGenerator` and/or
//!    `<Backend>ImageGenerator`, each with a `…Builder` (`with_*`, `from_env()` reading
//!    `QUFLUX_<BACKEND>_<FIELD>`, `build()` naming what is missing) and a serde `…Config`
//!    (`#[serde(default)] #[non_exhaustive]`, `Builder::from_config`). API keys are
//!    `quflux_core::Secret` (redacted `Debug`), never logged.
//! 3. Implement every `TextTask` / `ImageTask` or return
//!    [`Error::Unsupported`](quflux_core::Error::Unsupported) with a clear `operation`.
//! 4. One `classify` mapping the provider's errors: throttling to `RateLimited` (with
//!    `Retry-After`/`retryDelay`), outages and timeouts to `Transient`, refused or blocked
//!    content to `InvalidContent`, bad keys and unknown models to `Config`, the raw response
//!    (secrets stripped) kept as the `source`. No retry loops inside the adapter.
//! 5. Module docs: API version, auth, limits, rate-limit headers, links to the vendor docs.
//! 6. Tests against a local mock server (`127.0.0.1:0`) for the request shape and every error
//!    path; live tests `#[ignore]` behind `QUFLUX_LIVE_*`. Check the provider through
//!    [`ContentService`] so its output passes [`text_violations`].
//! 7. A row in the table above, the feature in the list, a section in [`AiConfig`] and a
//!    name in [`TEXT_PROVIDERS`] / [`IMAGE_PROVIDERS`].

#[cfg(any(
    feature = "strands",
    feature = "nano-banana",
    feature = "openai-compatible"
))]
mod env;
mod fit;
#[cfg(any(
    feature = "strands",
    feature = "nano-banana",
    feature = "openai-compatible"
))]
mod http;
mod jobs;
mod media;
#[cfg(feature = "nano-banana")]
pub mod nano_banana;
#[cfg(feature = "offline")]
pub mod offline;
#[cfg(feature = "openai-compatible")]
pub mod openai_compatible;
#[cfg(any(feature = "nano-banana", feature = "openai-compatible"))]
mod pixels;
#[cfg(any(feature = "strands", feature = "openai-compatible"))]
mod prompt;
mod providers;
mod service;
#[cfg(feature = "strands")]
pub mod strands;

pub use fit::{recommended_hashtags, text_violations};
pub use jobs::{AI_JOB, AiJobResult, AiJobs, AiRequest, RESULT_TTL};
pub use media::store_generated_image;
pub use providers::{
    AiConfig, IMAGE_PROVIDERS, ImageRouter, TEXT_PROVIDERS, build_image_generator,
    build_text_generator,
};
pub use service::{
    Adjustment, AdjustmentKind, CONTENT_TYPES, Checked, ContentService, MAX_IMAGE_SIDE,
    MIN_IMAGE_SIDE, SOCIAL_GRAPHIC_SIZES, parse_platform,
};
