//! # quflux-platforms
//!
//! Platform adapters implementing [`quflux_core::Publisher`].
//!
//! | module | feature | type |
//! |---|---|---|
//! | [`outbox`] | `outbox` (default) | `OutboxPublisher` |

#[cfg(feature = "outbox")]
pub mod outbox;
