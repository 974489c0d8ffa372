//! # quflux-ai
//!
//! AI content generation behind [`quflux_core::TextGenerator`] and [`quflux_core::ImageGenerator`].
