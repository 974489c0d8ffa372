//! Mastodon adapter (Mastodon 4.x, any instance): connector and publisher.
//!
//! Every instance is its own server with its own base URL, application registration and
//! limits; a connection keeps its instance in `metadata.instance_url`.
//!
//! # Auth flow ([docs](https://docs.joinmastodon.org/client/token/))
//! 1. [`MastodonConnector`] registers the application once per instance
//!    (`POST /api/v1/apps`) and keeps `client_id` and the encrypted `client_secret` in the
//!    shared cache, per instance and per `client_id`. Each authorization carries its
//!    application in its context and completes with exactly that one, even if another
//!    process registered a second application meanwhile.
//! 2. `GET /oauth/authorize` with `state` and a PKCE S256 challenge (Mastodon ≥ 4.3), scopes
//!    `read write:statuses write:media`; `POST /oauth/token` with the client credentials in the
//!    body.
//! 3. `GET /api/v1/accounts/verify_credentials` names the account.
//!
//! Tokens never expire and there is no refresh token; a 401 marks the connection
//! `needs_reauth`. Disconnecting revokes with `POST /oauth/revoke`.
//!
//! # Publishing ([docs](https://docs.joinmastodon.org/methods/statuses/#create))
//! - Limits are read from `GET /api/v2/instance` (`configuration.statuses.max_characters`,
//!   `max_media_attachments`, `media_attachments.description_limit`; cached an hour) and
//!   checked with the core rules before anything is sent. The content warning
//!   (`spoiler_text`, from `options.content_warning`) counts toward the limit.
//! - Media: `POST /api/v2/media` with the alt text as `description`; a `202` is polled with
//!   `GET /api/v1/media/{id}` (`206` while processing) until `200`.
//! - `POST /api/v1/statuses` answers `200` with a Status. Each part carries an
//!   `Idempotency-Key` (the request's key, then `{key}-2`, `{key}-3`, ... for thread parts,
//!   each replying with `in_reply_to_id`): for an hour the instance answers a resend with the
//!   status it already created.
//! - A connection's `platform_user_id` is `{account id}@{instance host[:port]}` (ids are per
//!   instance); `metadata` holds `instance_url` and `account_id`.
//! - `lookup` reads `GET /api/v1/accounts/{id}/statuses?limit=20&exclude_replies=false` and
//!   matches text (statuses come back as HTML, remote mentions shown as `@user`), content
//!   warning and reply chain, among statuses created since the request was first sent
//!   ([`SendLog`](crate::common::SendLog), less a clock skew): a recurring identical post
//!   never matches an older one, and a request never sent is `NotPublished`.
//!
//! # Rate limits ([docs](https://docs.joinmastodon.org/api/rate-limits/))
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (an ISO-8601 time) on
//! every answer, observed into the per-account budgets; published limits counted locally:
//! 300 calls / 5 min, 300 statuses / 3 h, 30 media uploads / 30 min, 30 deletions / 30 min.
//!
//! ```no_run
//! # async fn demo(tokens: std::sync::Arc<quflux_platforms::common::TokenManager>,
//! #     cache: std::sync::Arc<dyn quflux_core::Cache>) -> quflux_core::Result<()> {
//! use quflux_platforms::mastodon::{MastodonConfig, MastodonConnector, MastodonPublisher};
//! let config = MastodonConfig::from_env()?;
//! let connector = MastodonConnector::new(config.clone(), cache.clone(), tokens.cipher().clone())?;
//! let publisher = MastodonPublisher::new(config, tokens, cache)?;
//! # Ok(()) }
//! ```

mod client;
mod config;
mod connector;
mod error;
mod limits;
mod publisher;
mod wire;

pub use config::{INSTANCE_VAR, MastodonConfig, REDIRECT_URL_VAR, normalize_instance};
pub use connector::MastodonConnector;
pub use limits::{InstanceLimits, check_instance_limits, part_key, status_length};
pub use publisher::MastodonPublisher;

use quflux_core::{Error, PlatformConnection, Result};

/// Service name used in errors.
pub const PLATFORM: &str = "mastodon";

/// The instance of a connection (`metadata.instance_url`), normalized.
///
/// # Errors
/// [`Error::Config`] when the connection names no instance.
pub fn instance_of(connection: &PlatformConnection) -> Result<String> {
    let url = connection
        .metadata
        .get("instance_url")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            Error::Config(format!(
                "Mastodon connection {} has no metadata.instance_url",
                connection.id
            ))
        })?;
    normalize_instance(url)
}
