//! LinkedIn: member posts through the versioned Posts API.
//!
//! - **API**: `POST /rest/posts` with the headers `Authorization: Bearer …`,
//!   `LinkedIn-Version: YYYYMM` ([`DEFAULT_VERSION`]; only about the last 12 monthly versions
//!   are active, a sunset one is 426 `NONEXISTENT_VERSION`) and
//!   `X-Restli-Protocol-Version: 2.0.0`. Success is 201 with an **empty body**; the post URN is
//!   the `x-restli-id` header. `commentary` is in the `little` text format: every reserved
//!   character is escaped by [`escape_little`]. Images go through the Images API
//!   (`initializeUpload` → `PUT` the bytes → poll until `AVAILABLE`), with alt text; a link
//!   without media becomes an article (title and description from the link preview; LinkedIn
//!   scrapes nothing). No threads (the core rules refuse them), no video upload yet.
//! - **Auth**: 3-legged OAuth ([`LinkedInConnector`]), scopes `openid profile w_member_social`,
//!   member id from `/v2/userinfo` (author `urn:li:person:{sub}`). Tokens live 60 days; only
//!   apps approved for programmatic refresh get a refresh token (365 days, not extended), others
//!   re-authorize. No revocation endpoint is documented.
//! - **Limits**: 3000 characters (core rules). Daily per-member and per-app quotas reset at
//!   00:00 UTC and **no rate-limit headers** are sent: the daily budget is counted locally
//!   ([`LinkedInConfig::daily_post_limit`]). A 429 whose message names a DAY limit blocks the
//!   account until midnight UTC; any other 429 (infrastructure protection) backs off for
//!   `Retry-After`, else [`THROTTLE_BACKOFF`].
//! - **Reconciliation**: member posts cannot be listed, so [`LinkedInPublisher`]'s `lookup`
//!   answers `ResendIsSafe`: a resend (`attempt > 1`) of the identical body that LinkedIn
//!   refuses as 422 `DUPLICATE_POST` returns the URN named in the refusal.
//!
//! Reference: PLATFORM-SPECS §2 (learn.microsoft.com/linkedin: Posts API, Images API, little
//! Text Format, Authorization Code Flow, Programmatic Refresh Tokens, API rate limiting).
//!
//! ```no_run
//! # async fn demo(tokens: std::sync::Arc<quflux_platforms::common::TokenManager>,
//! #   cache: std::sync::Arc<dyn quflux_core::Cache>) -> quflux_core::Result<()> {
//! use std::sync::Arc;
//! use quflux_platforms::linkedin::{LinkedInConfig, LinkedInConnector, LinkedInPublisher};
//! let connector = Arc::new(LinkedInConnector::new(LinkedInConfig::from_env()?)?);
//! let publisher = LinkedInPublisher::new(connector, tokens, cache);
//! # Ok(()) }
//! ```

mod config;
mod connector;
mod error;
mod little;
mod publisher;

pub use config::{
    API_BASE_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR, DEFAULT_API_BASE, DEFAULT_DAILY_POST_LIMIT,
    DEFAULT_OAUTH_BASE, DEFAULT_SCOPES, DEFAULT_VERSION, LinkedInConfig, OAUTH_BASE_VAR,
    REDIRECT_URL_VAR, VERSION_VAR,
};
pub use connector::{AUTHOR_URN_KEY, LinkedInConnector, split_scopes};
pub use error::{
    THROTTLE_BACKOFF, classify, classify_refresh, duplicate_urn, is_day_limit, is_duplicate,
    next_utc_midnight, throttle_wait,
};
pub use little::{RESERVED, escape_little, is_reserved};
pub use publisher::{LinkedInPublisher, author_urn, encode_urn, post_url};

/// Platform name used in errors.
pub const PLATFORM: &str = "linkedin";
