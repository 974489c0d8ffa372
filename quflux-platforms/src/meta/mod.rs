//! Meta Graph API adapter: Facebook Pages and Instagram business accounts (feature `meta`).
//!
//! - **API**: Graph API, pinned version [`DEFAULT_API_VERSION`] on
//!   [`DEFAULT_GRAPH_BASE`] (README §3; <https://developers.facebook.com/docs/graph-api>).
//! - **Auth** ([`MetaConnector`]): Facebook Login (scopes comma-separated, client secret in the
//!   body), code → short-lived user token → long-lived user token (`fb_exchange_token`) →
//!   `GET /me/accounts`: one Facebook connection per Page, one Instagram connection per linked
//!   `instagram_business_account`, each holding the Page token, which does not expire. There is
//!   no refresh: a refused token marks the connection `needs_reauth`.
//! - **Facebook** ([`FacebookPublisher`]): `/{page}/feed` (`message`, `link`), `/{page}/photos`,
//!   several photos as unpublished photos + `attached_media`; lookup by text (and `link`) in
//!   `GET /{page}/feed`, among posts no older than the request's first send
//!   ([`crate::common::SendLog`]); `DELETE /{post-id}`. Any 5xx or code 1/2 on a create, and a
//!   duplicate refusal on a later attempt, are unknown outcomes to look up.
//! - **Instagram** ([`InstagramPublisher`]): two-phase: container(s) (`image_url`, reels with
//!   `media_type=REELS`, carousels of ≤ 10 children), poll `status_code` until `FINISHED`,
//!   `media_publish`. The container id is kept in the shared cache under the idempotency key
//!   before publishing, and is what `lookup` asks. The publishing cap is read from
//!   `content_publishing_limit`. Media must be at public URLs ([`MediaUrls`]).
//! - **Limits**: the rules in [`quflux_core::rules`] (no threads on either platform; Instagram
//!   needs media, JPEG images, ≤ 2200 characters, ≤ 30 hashtags).
//! - **Rate limits**: `X-App-Usage`, `X-Page-Usage` and `X-Business-Use-Case-Usage` (percent of
//!   the allowance); at 100 the account's budget is blocked for `estimated_time_to_regain_access`
//!   minutes and publishing answers `RateLimited` before sending. Throttling errors (codes 4, 17,
//!   32, 613, 80001, 80002) do the same. See `classify` in `error.rs` for every error code.
//!
//! ```no_run
//! # async fn demo(tokens: std::sync::Arc<quflux_platforms::common::TokenManager>,
//! #   cache: std::sync::Arc<dyn quflux_core::Cache>) -> quflux_core::Result<()> {
//! use quflux_platforms::meta::{FacebookPublisher, MetaConfig, MetaConnector};
//! let config = MetaConfig::from_env()?;
//! let connector = MetaConnector::new(config.clone())?;
//! let facebook = FacebookPublisher::new(&config, tokens, cache)?;
//! # let _ = (connector, facebook); Ok(()) }
//! ```

mod client;
mod config;
mod connector;
mod error;
mod facebook;
mod instagram;
mod rules;

pub use config::{
    API_VERSION_VAR, APP_ID_VAR, APP_SECRET_VAR, BaseUrlMedia, DEFAULT_API_VERSION,
    DEFAULT_GRAPH_BASE, DEFAULT_SCOPES, DIALOG_URL_VAR, GRAPH_BASE_VAR, MediaUrls, MetaConfig,
    PUBLIC_MEDIA_BASE_URL_VAR, REDIRECT_URL_VAR,
};
pub use connector::MetaConnector;
pub use error::{DEFAULT_THROTTLE_WAIT, PUBLISH_CAP_WAIT};
pub use facebook::FacebookPublisher;
pub use instagram::InstagramPublisher;
