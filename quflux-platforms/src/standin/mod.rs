//! Local stand-ins of the platforms' HTTP APIs, reproducing the contracts documented in the
//! platform specs (status codes, headers, error bodies, rate limits), for tests and examples.
//! Each implements [`quflux_core::testkit::standin::StandIn`]-like control when the core
//! `testkit` feature is on.

#[cfg(feature = "bluesky")]
pub mod bluesky;
#[cfg(feature = "linkedin")]
pub mod linkedin;
#[cfg(feature = "mastodon")]
pub mod mastodon;
#[cfg(feature = "meta")]
pub mod meta;
#[cfg(feature = "sendgrid")]
pub mod sendgrid;
#[cfg(feature = "twitter")]
pub mod twitter;
