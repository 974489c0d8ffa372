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
//! | `quflux_core::memory` | – | `ScriptedTextGenerator`, `ScriptedImageGenerator` | both | scripted results for tests |
//!
//! [`ContentService`] wraps any pair of them.
//!
//! ## Features
//!
//! - `offline` (default): the offline provider (`yake-rust`, `ab_glyph`, a bundled DejaVu Sans
//!   Bold font under the Bitstream Vera / Arev licence, committed as
//!   `assets/fonts/LICENSE-DejaVu.txt`).
//!
//! [`ContentService`], the rule checks ([`text_violations`], [`recommended_hashtags`]) and the
//! image-input check of [`ContentService::edit_image`] (the `image` crate, PNG/JPEG/WebP/GIF)
//! are always compiled.
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
//!    `Retry-After`/`retryDelay`), outages to `Transient`, bad input to `InvalidInput`, the raw
//!    response kept as the `source`. No retry loops inside the adapter.
//! 5. Module docs: API version, auth, limits, rate-limit headers, links to the vendor docs.
//! 6. Tests against a local mock server (`127.0.0.1:0`) for the request shape and every error
//!    path; live tests `#[ignore]` behind `QUFLUX_LIVE_*`. Check the provider through
//!    [`ContentService`] so its output passes [`text_violations`].
//! 7. A row in the table above and the feature in the list.

mod fit;
#[cfg(feature = "offline")]
pub mod offline;
mod service;

pub use fit::{recommended_hashtags, text_violations};
pub use service::{
    Adjustment, AdjustmentKind, CONTENT_TYPES, Checked, ContentService, MAX_IMAGE_SIDE,
    MIN_IMAGE_SIDE, SOCIAL_GRAPHIC_SIZES, parse_platform,
};
