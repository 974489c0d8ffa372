//! The offline provider (feature `offline`, on by default): no network, no credentials, no
//! model weights.
//!
//! - [`OfflineTextGenerator`]: captions and post ideas from templates per tone and platform,
//!   hashtags from YAKE keyword extraction (`yake-rust`, MIT), rewrites that strip Markdown and
//!   shorten to the platform's limit. Deterministic.
//! - [`OfflineImageGenerator`]: social graphics ([`TEMPLATES`]) rendered to PNG with a bundled
//!   font (DejaVu Sans Bold, licence in `assets/fonts/LICENSE-DejaVu.txt`) at the four
//!   [`SOCIAL_GRAPHIC_SIZES`](crate::SOCIAL_GRAPHIC_SIZES). Free-form image generation and
//!   editing are [`Error::Unsupported`](quflux_core::Error::Unsupported).
//!
//! Limits come from [`quflux_core::rules`]; hashtag counts from
//! [`recommended_hashtags`](crate::recommended_hashtags). Settings:
//! [`OfflineTextGeneratorBuilder`] (`QUFLUX_OFFLINE_MAX_HASHTAGS`,
//! `QUFLUX_OFFLINE_HASHTAG_CASE`).

mod config;
mod image;
mod keywords;
mod layout;
mod render;
mod templates;
mod text;

pub use config::{HashtagCase, OfflineTextGeneratorBuilder, OfflineTextGeneratorConfig};
pub use image::OfflineImageGenerator;
pub use render::{TEMPLATES, TextArea, text_area, unsupported_characters};
pub use templates::TONES;
pub use text::OfflineTextGenerator;

/// The provider id, used as [`GeneratedText::model`](quflux_core::GeneratedText::model) and
/// in errors.
pub const PROVIDER: &str = "offline";
