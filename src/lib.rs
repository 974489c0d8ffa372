//! # quflux
//!
//! The facade of the Quflux workspace: re-exports [`quflux_core`] and exposes the adapter crates
//! as [`platforms`], [`ai`] and [`store`]. It holds no logic.

pub use quflux_core::*;

/// Platform adapters (`quflux-platforms`).
pub use quflux_platforms as platforms;

/// AI content generation (`quflux-ai`).
pub use quflux_ai as ai;

/// Storage backends (`quflux-store`).
pub use quflux_store as store;
