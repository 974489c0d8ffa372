//! X (Twitter) API v2 adapter.
//!
//! - **API**: X API v2 (`https://api.x.com`, spec 2.167): `POST /2/tweets` (201 + `data.id`),
//!   `DELETE /2/tweets/{id}`, `GET /2/users/me`, `GET /2/users/{id}/tweets`, the v2 chunked media
//!   upload (`/2/media/upload/initialize`, `/{id}/append`, `/{id}/finalize`, `STATUS` poll) and
//!   `POST /2/media/metadata` for alt text.
//! - **Auth**: OAuth 2.0 authorization code with PKCE S256 ([`XConnector`]), scopes
//!   `tweet.read tweet.write users.read media.write offline.access`; access tokens live 2 h and
//!   refresh tokens are rotating and single use: the [`TokenManager`](crate::common::TokenManager)
//!   refreshes once per connection under a store-level lock and stores the new pair before use.
//! - **Limits**: 280 weighted characters (twitter-text v3), 4 images or 1 video or 1 GIF, polls of
//!   2–4 options (1–25 characters) lasting 5–10 080 minutes; threads are replies to the previous
//!   part. Checked with [`quflux_core::rules`] before any request.
//! - **Rate limits**: `x-rate-limit-limit|remaining|reset` (epoch seconds) on every answer, and
//!   `x-user-limit-24hour-*` / `x-app-limit-24hour-*` on `POST /2/tweets`; a 429 may come while
//!   `x-rate-limit-remaining > 0` when a 24-hour cap is spent. Published per-user limits:
//!   `POST /2/tweets` 100 / 15 min, `DELETE` 50 / 15 min, user timeline 900 / 15 min.
//! - **Errors**: RFC 7807 Problem objects, mapped by one [`classify`].
//! - **Double posting**: X has no idempotency key; [`XPublisher`] matches the text against the
//!   account's recent posts (`GET /2/users/{id}/tweets`), created no earlier than the request was
//!   first sent ([`SendLog`](crate::common::SendLog)) and, for thread parts, in the first post's
//!   conversation. That settles `lookup`, a 5xx or a retried duplicate refusal on create, and
//!   the resumption of a partly posted thread on a retry.
//!
//! See <https://docs.x.com/x-api/posts/create-post> and
//! <https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code>.

mod calls;
mod classify;
mod config;
mod connector;
mod media;
mod publisher;
mod wire;

pub use classify::{classify, retry_after};
pub use config::{
    API_BASE_VAR, CLIENT_ID_VAR, CLIENT_SECRET_VAR, DEFAULT_API_BASE, DEFAULT_AUTHORIZE_URL,
    REDIRECT_URL_VAR, XConfig,
};
pub use connector::XConnector;
pub use publisher::{CREATE_LIMIT, DELETE_LIMIT, TIMELINE_LIMIT, XPublisher, create_body};

use quflux_core::Platform;

/// The platform this module publishes to.
pub const PLATFORM: Platform = Platform::Twitter;

/// Service name used in errors.
pub const SERVICE: &str = "twitter";

/// Scopes requested at authorization.
pub const SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "users.read",
    "media.write",
    "offline.access",
];
