//! E-mail and webhook notifiers from the settings.
//!
//! | setting | meaning |
//! |---|---|
//! | `QUFLUX_EMAIL_PROVIDER` | `none` (default), `smtp` or `sendgrid` |
//! | `QUFLUX_EMAIL_FROM` | sender, e.g. `Quflux <noreply@example.com>` |
//! | `QUFLUX_SMTP_URL` | e.g. `smtp://127.0.0.1:1025`, `smtps://user:pass@host:465` |
//! | `QUFLUX_SENDGRID_API_KEY` (`QUFLUX_SENDGRID_BASE_URL`) | SendGrid |
//! | `QUFLUX_WEBHOOK_URLS`, `QUFLUX_WEBHOOK_SECRET` | signed webhooks of publication and post events |

use std::sync::Arc;

use quflux_core::{Error, Notifier, Result, UserStore};
use quflux_platforms::notify::sendgrid::SendGridNotifierBuilder;
use quflux_platforms::notify::smtp::SmtpNotifierBuilder;
use quflux_platforms::notify::webhook::{WebhookNotifier, WebhookNotifierBuilder};

use crate::config::Settings;

/// The e-mail notifier chosen by `QUFLUX_EMAIL_PROVIDER`, if any.
pub fn email_notifiers(
    settings: &Settings,
    users: Arc<dyn UserStore>,
) -> Result<Vec<Arc<dyn Notifier>>> {
    match settings.get("QUFLUX_EMAIL_PROVIDER").as_deref() {
        None | Some("none") => Ok(Vec::new()),
        Some("smtp") => Ok(vec![Arc::new(
            SmtpNotifierBuilder::from_lookup(settings.lookup())
                .with_users(users)
                .build()?,
        )]),
        Some("sendgrid") => Ok(vec![Arc::new(
            SendGridNotifierBuilder::from_lookup(settings.lookup())
                .with_users(users)
                .build()?,
        )]),
        Some(other) => Err(Error::Config(format!(
            "QUFLUX_EMAIL_PROVIDER: `{other}` is not `none`, `smtp` or `sendgrid`"
        ))),
    }
}

/// The webhook notifier, when `QUFLUX_WEBHOOK_URLS` is set.
pub fn webhooks(settings: &Settings) -> Result<Option<Arc<WebhookNotifier>>> {
    if settings.get("QUFLUX_WEBHOOK_URLS").is_none() {
        return Ok(None);
    }
    Ok(Some(Arc::new(
        WebhookNotifierBuilder::from_lookup(settings.lookup()).build()?,
    )))
}
