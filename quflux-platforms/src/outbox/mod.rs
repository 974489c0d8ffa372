//! The `outbox` publisher: a real dry-run destination.
//!
//! Each published post is appended as one JSON line to a local file (the outbox), so a
//! scheduler can run end to end with no platform account. It behaves like a well-behaved
//! platform:
//!
//! - `publish` is idempotent on the request's idempotency key: publishing the same publication
//!   twice returns the first post instead of writing a second line.
//! - `lookup` answers from the file, so an interrupted attempt is settled exactly.
//! - Several processes may share one outbox: every write happens under an exclusive file lock,
//!   and each publisher re-reads what others appended before answering.
//!
//! ```no_run
//! # async fn demo() -> quflux_core::Result<()> {
//! use quflux_core::Platform;
//! use quflux_platforms::outbox::OutboxPublisher;
//! let x = OutboxPublisher::builder().with_path("outbox.jsonl").with_platform(Platform::Twitter).build()?;
//! # Ok(()) }
//! ```

mod publisher;

pub use publisher::{
    OutboxEntry, OutboxPublisher, OutboxPublisherBuilder, OutboxPublisherConfig, read_outbox,
};

/// Backend name used in errors.
pub const BACKEND: &str = "outbox";

#[cfg(test)]
mod tests;
