//! # quflux-core
//!
//! The domain model, port traits, services, in-memory implementations and conformance suites of
//! Quflux, a social media scheduling engine.
//!
//! - [`model`](crate::model): users, connections, media, posts, schedules, publications.
//! - [`rules`]: every platform's limits as data and [`rules::validate`].
//! - Port traits ([`Publisher`], the store traits, [`JobQueue`], [`BlobStore`], [`Cache`],
//!   [`TextGenerator`], [`ImageGenerator`], [`Notifier`], [`Clock`], [`TokenCipher`]), each with a
//!   `# Contract`.
//! - [`services`]: posts, scheduling, publishing, notifications, and the [`worker`] runtime.
//! - [`memory`]: always-compiled in-memory implementations of every port.
//! - `testkit` (feature `testkit`): one conformance suite per port.
//!
//! | implementation | feature | type | traits |
//! |---|---|---|---|
//! | in-memory | – | [`memory::InMemoryStore`] | every store trait |
//! | in-memory | – | [`memory::InMemoryQueue`] | [`JobQueue`] |
//! | in-memory | – | [`memory::InMemoryCache`] | [`Cache`] |
//! | in-memory | – | [`memory::InMemoryBlobStore`] | [`BlobStore`] |
//! | recording | – | [`memory::RecordingNotifier`] | [`Notifier`] |
//! | scripted | – | [`memory::StubPublisher`] | [`Publisher`] |
//! | AES-256-GCM | – | [`cipher::AesGcmCipher`] | [`TokenCipher`] |

pub mod cipher;
mod error;
mod ids;
pub mod memory;
pub mod model;
mod ports;
pub mod rules;
mod secret;
pub mod services;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;
pub mod worker;

pub use error::{BoxError, Error, ErrorKind, Result, Violation};
pub use ids::{
    ConnectionId, JobId, MediaId, NotificationId, PlatformPostId, PostId, PublicationId,
    ScheduleId, UserId,
};
pub use model::*;
pub use ports::*;
pub use secret::Secret;
