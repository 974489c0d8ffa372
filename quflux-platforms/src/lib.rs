//! # quflux-platforms
//!
//! Platform adapters implementing [`quflux_core::Publisher`], and the connection (OAuth) flow.
//!
//! | module | feature | what |
//! |---|---|---|
//! | [`outbox`] | `outbox` (default) | `OutboxPublisher`: a local JSON-lines file |
//! | `twitter` | `twitter` | X API v2 |
//! | `linkedin` | `linkedin` | LinkedIn Posts API |
//! | `meta` | `meta` | Facebook Pages and Instagram (Graph API) |
//! | `bluesky` | `bluesky` | Bluesky / AT Protocol |
//! | `mastodon` | `mastodon` | Mastodon 4.x |
//! | `common` | any platform | HTTP, OAuth, tokens, rate budgets, connections |
//! | `registry` | any platform | `Platforms`: every configured platform from the environment |
//! | `standin` | `standin` | local stand-ins of every platform API |
//! | `link_preview` | `link-preview` | OpenGraph link previews behind an SSRF guard |
//! | `notify` | `smtp`, `sendgrid`, `webhooks` | notifiers: e-mail over SMTP or SendGrid, signed webhooks |

#[cfg(feature = "outbox")]
pub mod outbox;

#[cfg(feature = "http")]
pub mod common;
#[cfg(feature = "http")]
pub mod registry;
#[cfg(feature = "http")]
pub use registry::{PlatformSet, PlatformState, PlatformStatus, Platforms, Summary};

#[cfg(feature = "bluesky")]
pub mod bluesky;
#[cfg(feature = "linkedin")]
pub mod linkedin;
#[cfg(feature = "mastodon")]
pub mod mastodon;
#[cfg(feature = "meta")]
pub mod meta;
#[cfg(feature = "twitter")]
pub mod twitter;

#[cfg(feature = "standin")]
pub mod standin;

#[cfg(feature = "link-preview")]
pub mod link_preview;

#[cfg(any(feature = "smtp", feature = "sendgrid", feature = "webhooks"))]
pub mod notify;
