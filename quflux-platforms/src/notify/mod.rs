//! Notifiers: implementations of [`quflux_core::Notifier`] that tell users what happened to
//! their posts and connections, by e-mail or through signed webhooks.
//!
//! | type | feature | delivers | configured by |
//! |---|---|---|---|
//! | [`SmtpNotifier`] | `smtp` | an e-mail over SMTP (lettre, rustls) | `QUFLUX_SMTP_URL`, `QUFLUX_EMAIL_FROM` |
//! | [`SendGridNotifier`] | `sendgrid` | an e-mail through SendGrid's v3 Mail Send API | `QUFLUX_SENDGRID_API_KEY`, `QUFLUX_SENDGRID_BASE_URL`, `QUFLUX_EMAIL_FROM` |
//! | [`WebhookNotifier`] | `webhooks` | a JSON event POSTed to every endpoint, signed with HMAC-SHA256 | `QUFLUX_WEBHOOK_URLS`, `QUFLUX_WEBHOOK_SECRET` |
//!
//! The e-mail notifiers look the recipient up by [`Notification::user_id`] in a
//! [`UserStore`] (inactive users get no e-mail) and send a multipart message: the plain text
//! and HTML bodies come from [`render`]. Each notifier has a builder with `from_env`,
//! `from_lookup` (same variables through a closure) and `from_config`; only `build()`
//! validates, and its [`Error::Config`] names the missing or malformed variable without
//! repeating its value. Credentials (SMTP password, API key, webhook secret) never appear in
//! `Debug` output, logs or errors.
//!
//! ```no_run
//! # #[cfg(feature = "webhooks")]
//! # async fn example() -> quflux_core::Result<()> {
//! use quflux_platforms::notify::WebhookNotifier;
//!
//! let webhooks = WebhookNotifier::builder()
//!     .with_url("https://hooks.example.com/quflux")
//!     .with_secret("whsec_change_me")
//!     .build()?;
//! webhooks
//!     .send_event("post.created", serde_json::json!({ "post_id": "..." }))
//!     .await?;
//! # Ok(())
//! # }
//! ```

#[cfg(any(feature = "smtp", feature = "sendgrid"))]
use quflux_core::{Error, Notification, Result, UserStore};

#[cfg(any(feature = "smtp", feature = "sendgrid"))]
mod address;
#[cfg(any(feature = "smtp", feature = "sendgrid"))]
pub mod render;
#[cfg(feature = "sendgrid")]
pub mod sendgrid;
#[cfg(feature = "smtp")]
pub mod smtp;
#[cfg(feature = "webhooks")]
pub mod webhook;

#[cfg(any(feature = "smtp", feature = "sendgrid"))]
pub use address::EmailAddress;
#[cfg(feature = "sendgrid")]
pub use sendgrid::{SendGridNotifier, SendGridNotifierBuilder, SendGridNotifierConfig};
#[cfg(feature = "smtp")]
pub use smtp::{SmtpNotifier, SmtpNotifierBuilder, SmtpNotifierConfig};
#[cfg(feature = "webhooks")]
pub use webhook::{
    DeliveryReport, EndpointDelivery, WebhookEvent, WebhookNotifier, WebhookNotifierBuilder,
    WebhookNotifierConfig, verify_signature,
};

/// Variable holding the sender of every notification e-mail, e.g.
/// `Quflux <noreply@example.com>`.
#[cfg(any(feature = "smtp", feature = "sendgrid"))]
pub const EMAIL_FROM_VAR: &str = "QUFLUX_EMAIL_FROM";

/// The trimmed value of `name` through `get`; blank values count as unset.
fn var(get: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The mailbox of the user `notification` is for, or `None` when the user is inactive (no
/// e-mail is sent then).
///
/// # Errors
/// The store's error (e.g. [`Error::NotFound`] for an unknown user), or
/// [`Error::InvalidInput`] on `email` when the stored address is malformed.
#[cfg(any(feature = "smtp", feature = "sendgrid"))]
async fn recipient(
    users: &dyn UserStore,
    notification: &Notification,
) -> Result<Option<EmailAddress>> {
    let user = users.get_user(notification.user_id).await?;
    if !user.is_active {
        return Ok(None);
    }
    let mut address = EmailAddress::parse(&user.email)
        .map_err(|why| Error::invalid_input("email", format!("user {}: {why}", user.id)))?;
    if address.name.is_none() {
        address.name = user
            .display_name
            .as_deref()
            .map(address::clean_name)
            .filter(|n| !n.is_empty());
    }
    Ok(Some(address))
}

/// The sender configured in [`EMAIL_FROM_VAR`] (or `with_from`), validated.
#[cfg(any(feature = "smtp", feature = "sendgrid"))]
fn parse_from(service: &str, from: Option<&str>) -> Result<EmailAddress> {
    let from = from.map(str::trim).filter(|f| !f.is_empty()).ok_or_else(|| {
        Error::Config(format!(
            "{service}: {EMAIL_FROM_VAR} missing (the sender, e.g. `Quflux <noreply@example.com>`)"
        ))
    })?;
    EmailAddress::parse(from).map_err(|why| Error::Config(format!("{EMAIL_FROM_VAR}: {why}")))
}
