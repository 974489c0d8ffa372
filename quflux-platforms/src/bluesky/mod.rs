//! Bluesky / AT Protocol adapter: app-password sessions, posts with rich-text facets, images,
//! link cards and threads, on any PDS.
//!
//! - **API**: XRPC (`/xrpc/{NSID}`) on the account's PDS; lexicons `com.atproto.server.*`,
//!   `com.atproto.repo.*`, `app.bsky.feed.post` (see the project's platform specs, §4, and
//!   <https://docs.bsky.app/docs/category/http-reference>). Every error body is
//!   `{"error": "<Name>", "message": "…"}`; one `classify` maps them.
//! - **Auth**: app passwords, not OAuth. [`BlueskyConnector::login`](crate::common::Connector::login)
//!   calls `com.atproto.server.createSession`; the access JWT lives 2 h (its `exp` claim is
//!   read), the refresh JWT 90 days and rotates on every `refreshSession` (the
//!   [`TokenManager`](crate::common::TokenManager) persists the new pair before using it). An
//!   expired access token is answered `400 ExpiredToken` (not 401): the publisher refreshes once
//!   and retries.
//! - **Limits**: text ≤ 300 graphemes and ≤ 3000 UTF-8 bytes, ≤ 4 images of ≤ 2 MB with alt
//!   text, checked by [`quflux_core::rules`] before any request. Facets (links, mentions,
//!   hashtags) use UTF-8 byte offsets ([`facets`]).
//! - **Rate limits**: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (epoch
//!   seconds) and `RateLimit-Policy` headers, `429 RateLimitExceeded`; repo writes cost points
//!   per account: 5000 / hour and 35 000 / day, create = 3, delete = 1 ([`WRITE_LIMITS`]).
//! - **Exactly once**: the record key of every post is a TID derived from the request's
//!   idempotency key and the thread part ([`tid`]), so `lookup` is a `getRecord` by key and a
//!   resend can never create a second post.
//!
//! ```no_run
//! # async fn demo(tokens: std::sync::Arc<quflux_platforms::common::TokenManager>,
//! #               budgets: quflux_platforms::common::RateBudgets) -> quflux_core::Result<()> {
//! use quflux_platforms::bluesky::{BlueskyConfig, BlueskyPublisher};
//! let publisher = BlueskyPublisher::new(BlueskyConfig::from_env()?, tokens, budgets)?;
//! # Ok(()) }
//! ```

mod config;
mod connector;
mod error;
pub mod facets;
mod publisher;
mod record;
pub mod tid;
mod xrpc;

use std::time::Duration;

pub use config::{APP_VIEW_URL_VAR, BlueskyConfig, PDS_URL_VAR};
pub use connector::{BlueskyConnector, PDS_URL_KEY};
pub use publisher::BlueskyPublisher;

use crate::common::Limit;

/// Service name used in errors.
pub const PLATFORM: &str = "bluesky";

/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// Write points a `createRecord` costs.
pub const CREATE_POINTS: u32 = 3;

/// Write points a `deleteRecord` costs.
pub const DELETE_POINTS: u32 = 1;

/// The published repo-write limits of a bsky-hosted account (points per DID).
pub const WRITE_LIMITS: [Limit; 2] = [
    Limit::new("write_points_hour", 5_000, Duration::from_secs(3_600)),
    Limit::new("write_points_day", 35_000, Duration::from_secs(86_400)),
];

/// Rate bucket of repo writes, fed by the `RateLimit-*` headers of write calls.
pub(crate) const WRITE_BUCKET: &str = "write";
/// Rate bucket of blob uploads.
pub(crate) const BLOB_BUCKET: &str = "blob";
