//! E-mail notifications over SMTP, with [lettre](https://lettre.rs)'s
//! `AsyncSmtpTransport<Tokio1Executor>` (rustls, aws-lc-rs, the platform's certificate
//! verifier).
//!
//! The server comes from [`URL_VAR`] in lettre's URL form:
//!
//! | URL | connection |
//! |---|---|
//! | `smtp://127.0.0.1:1025` | plain text (a local relay or a test sink) |
//! | `smtp://user:pass@host:587?tls=required` | STARTTLS, required, then `AUTH` |
//! | `smtp://host:587?tls=opportunistic` | STARTTLS when offered |
//! | `smtps://user:pass@host` | implicit TLS (port 465 by default) |
//!
//! Percent-encode reserved characters in the user name and password. The password is kept in a
//! [`Secret`] and never appears in `Debug` output, logs or errors: the notifier shows the
//! server as `smtps://user:***@host:465`.
//!
//! Each notification opens one connection (lettre's pool is left out: it spawns tasks on build
//! and on drop, which would panic outside a tokio runtime). Reply codes follow
//! [RFC 5321 §4.2.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1): `4xx` and
//! connection failures are [`Error::Transient`]; `5xx` are permanent (see [`SmtpNotifier`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use quflux_core::{Error, Notification, Notifier, Result, Secret, UserStore};
use serde::Deserialize;

use super::render::render;
use super::{EMAIL_FROM_VAR, EmailAddress, parse_from, recipient, var};

/// Service name in errors and logs.
pub const BACKEND: &str = "smtp";
/// Variable holding the SMTP server URL (may carry credentials).
pub const URL_VAR: &str = "QUFLUX_SMTP_URL";
/// Variable holding the timeout of each SMTP command, in seconds.
pub const TIMEOUT_VAR: &str = "QUFLUX_SMTP_TIMEOUT_SECS";
/// Default timeout of each SMTP command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Carries the notification id, so a message can be traced back to its notification.
const NOTIFICATION_ID_HEADER: HeaderName =
    HeaderName::new_from_ascii_str("X-Quflux-Notification-Id");

/// Serializable settings of [`SmtpNotifier`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SmtpNotifierConfig {
    /// The server, e.g. `smtps://user:pass@smtp.example.com` (see the module docs).
    pub url: Option<Secret<String>>,
    /// The sender, e.g. `Quflux <noreply@example.com>`.
    pub from: Option<String>,
    /// Timeout of each SMTP command, in seconds (default 30).
    pub timeout_secs: Option<u64>,
}

/// Builds an [`SmtpNotifier`]; only [`build`](Self::build) validates.
#[derive(Debug, Clone, Default)]
pub struct SmtpNotifierBuilder {
    config: SmtpNotifierConfig,
    users: Option<Arc<dyn UserStore>>,
}

impl SmtpNotifierBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads [`URL_VAR`], [`EMAIL_FROM_VAR`] and [`TIMEOUT_VAR`] from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get` (blank values count
    /// as unset). Never fails: malformed values are reported by [`build`](Self::build).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let config = SmtpNotifierConfig {
            url: var(&get, URL_VAR).map(Secret::new),
            from: var(&get, EMAIL_FROM_VAR),
            timeout_secs: var(&get, TIMEOUT_VAR).map(|v| v.parse().unwrap_or(0)),
        };
        Self::from_config(config)
    }

    /// From deserialized settings.
    pub fn from_config(config: SmtpNotifierConfig) -> Self {
        Self {
            config,
            users: None,
        }
    }

    /// The server URL (see the module docs).
    pub fn with_url(mut self, url: impl Into<Secret<String>>) -> Self {
        self.config.url = Some(url.into());
        self
    }

    /// The sender, e.g. `Quflux <noreply@example.com>`.
    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.config.from = Some(from.into());
        self
    }

    /// The timeout of each SMTP command.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout_secs = Some(timeout.as_secs().max(1));
        self
    }

    /// Where recipients are looked up (required).
    pub fn with_users(mut self, users: Arc<dyn UserStore>) -> Self {
        self.users = Some(users);
        self
    }

    /// Validates the settings and builds the notifier. Nothing is sent or connected yet.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when the URL or the sender is missing or
    /// malformed, the timeout is not a positive number of seconds, or no user store was given.
    pub fn build(self) -> Result<SmtpNotifier> {
        let url = self
            .config
            .url
            .as_ref()
            .map(|u| u.expose().trim())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Error::Config(format!(
                    "{BACKEND}: {URL_VAR} missing (e.g. smtp://127.0.0.1:1025 or smtps://user:pass@host)"
                ))
            })?;
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::Config(format!("{URL_VAR}: not a valid URL ({e})")))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host_str().is_none() {
            return Err(Error::Config(format!(
                "{URL_VAR}: expected an smtp:// or smtps:// URL with a host"
            )));
        }
        let timeout = match self.config.timeout_secs {
            None => DEFAULT_TIMEOUT,
            Some(0) => {
                return Err(Error::Config(format!(
                    "{TIMEOUT_VAR}: expected a positive number of seconds"
                )));
            }
            Some(secs) => Duration::from_secs(secs),
        };
        let from = parse_from(BACKEND, self.config.from.as_deref())?;
        let from = mailbox(&from).map_err(|_| {
            Error::Config(format!("{EMAIL_FROM_VAR}: not an address lettre accepts"))
        })?;
        let users = self.users.ok_or_else(|| {
            Error::Config(format!("{BACKEND}: a user store is required (with_users)"))
        })?;
        // lettre's URL errors name the scheme, the `tls` parameter or the host; never the
        // password.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| Error::Config(format!("{URL_VAR}: {e}")))?
            .timeout(Some(timeout))
            .build();
        Ok(SmtpNotifier {
            transport,
            from,
            users,
            server: redacted(&parsed),
        })
    }
}

/// Sends each notification as a multipart (plain text + HTML) e-mail to the user's address.
///
/// # Errors
/// `notify` returns the user store's error ([`Error::NotFound`] for an unknown user),
/// [`Error::InvalidInput`] when the stored address is malformed or the server refuses the
/// recipient (`501`, `550`, `551`, `553`), [`Error::Config`] when it refuses the credentials
/// (`530`, `534`, `535`, `538`), [`Error::Transient`] for `4xx` replies, connection failures
/// and timeouts, and [`Error::Other`] for other `5xx` replies, TLS failures and garbled replies.
/// Inactive users are skipped without error.
#[derive(Clone)]
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    users: Arc<dyn UserStore>,
    server: String,
}

impl std::fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpNotifier")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    /// A builder (same as [`SmtpNotifierBuilder::new`]).
    pub fn builder() -> SmtpNotifierBuilder {
        SmtpNotifierBuilder::new()
    }

    /// The server, with the password masked: `smtps://user:***@host:465`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Connects, greets and disconnects: checks that the server is reachable (and accepts
    /// the credentials, if any).
    ///
    /// # Errors
    /// As `notify` for connection and reply failures.
    pub async fn check(&self) -> Result<()> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::transient(
                BACKEND,
                format!("{} did not answer NOOP", self.server),
            )),
            Err(e) => Err(classify(e)),
        }
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn notify(&self, notification: &Notification) -> Result<()> {
        let Some(to) = recipient(&*self.users, notification).await? else {
            tracing::debug!(
                notification_id = %notification.id,
                user_id = %notification.user_id,
                "smtp: user inactive, no e-mail sent"
            );
            return Ok(());
        };
        let to = mailbox(&to)?;
        let email = render(notification);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .raw_header(HeaderValue::new(
                NOTIFICATION_ID_HEADER,
                notification.id.to_string(),
            ))
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|e| Error::other(BACKEND, e))?;
        let started = std::time::Instant::now();
        match self.transport.send(message).await {
            Ok(response) => {
                tracing::info!(
                    notification_id = %notification.id,
                    kind = notification.kind.as_str(),
                    server = %self.server,
                    code = %response.code(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "smtp: notification e-mail accepted"
                );
                Ok(())
            }
            Err(e) => {
                let err = classify(e);
                tracing::warn!(
                    notification_id = %notification.id,
                    server = %self.server,
                    error = %err.detailed_message(),
                    "smtp: notification e-mail refused"
                );
                Err(err)
            }
        }
    }
}

fn mailbox(address: &EmailAddress) -> Result<Mailbox> {
    let email = address
        .email
        .parse::<lettre::Address>()
        .map_err(|e| Error::invalid_input("email", format!("{}: {e}", address.email)))?;
    Ok(Mailbox::new(address.name.clone(), email))
}

/// Maps a lettre SMTP error to the core error (RFC 5321 reply classes).
fn classify(e: lettre::transport::smtp::Error) -> Error {
    if let Some(code) = e.status() {
        if e.is_transient() {
            return Error::transient(BACKEND, e);
        }
        return match code.to_string().as_str() {
            "530" | "534" | "535" | "538" => Error::Config(format!(
                "{BACKEND}: the server refused to authenticate ({e})"
            )),
            "501" | "550" | "551" | "553" => Error::invalid_input(
                "email",
                format!("the SMTP server refused the address ({e})"),
            ),
            _ => Error::other(BACKEND, e),
        };
    }
    if e.is_client() || e.is_response() || e.is_tls() {
        // A message we could not build, a reply we could not parse, or a certificate or
        // handshake failure: sending again changes nothing.
        return Error::other(BACKEND, e);
    }
    // Connection refused or reset, timeouts, a shut-down transport.
    Error::transient(BACKEND, e)
}

/// `scheme://[user:***@]host[:port][?query]` of a parsed SMTP URL.
fn redacted(url: &url::Url) -> String {
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() {
        out.push_str(url.username());
        if url.password().is_some() {
            out.push_str(":***");
        }
        out.push('@');
    }
    out.push_str(url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use quflux_core::memory::InMemoryStore;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn users() -> Arc<dyn UserStore> {
        Arc::new(InMemoryStore::new())
    }

    #[tokio::test]
    async fn credentials_never_show_in_debug() {
        let notifier = SmtpNotifierBuilder::from_lookup(vars(&[
            (URL_VAR, "smtps://mailer:hunter2%40x@smtp.example.com:465"),
            (EMAIL_FROM_VAR, "Quflux <noreply@example.com>"),
        ]))
        .with_users(users())
        .build()
        .unwrap();
        assert_eq!(notifier.server(), "smtps://mailer:***@smtp.example.com:465");
        let debug = format!("{notifier:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("noreply@example.com"), "{debug}");
        let builder = SmtpNotifier::builder().with_url("smtp://u:topsecret@h");
        assert!(!format!("{builder:?}").contains("topsecret"));
    }

    #[tokio::test]
    async fn build_names_what_is_missing_or_malformed() {
        let err = |b: SmtpNotifierBuilder| match b.build() {
            Err(Error::Config(msg)) => msg,
            other => panic!("expected a config error, got {other:?}"),
        };
        let ok_from = (EMAIL_FROM_VAR, "noreply@example.com");
        assert!(
            err(SmtpNotifierBuilder::from_lookup(vars(&[ok_from])).with_users(users()))
                .contains(URL_VAR)
        );
        let msg = err(SmtpNotifierBuilder::from_lookup(vars(&[
            (URL_VAR, "http://user:pw-secret@host"),
            ok_from,
        ]))
        .with_users(users()));
        assert!(msg.contains(URL_VAR) && !msg.contains("pw-secret"), "{msg}");
        let msg = err(SmtpNotifierBuilder::from_lookup(vars(&[(
            URL_VAR,
            "smtp://127.0.0.1:1025",
        )]))
        .with_users(users()));
        assert!(msg.contains(EMAIL_FROM_VAR), "{msg}");
        let msg = err(SmtpNotifierBuilder::from_lookup(vars(&[
            (URL_VAR, "smtp://127.0.0.1:1025"),
            (EMAIL_FROM_VAR, "not an address"),
        ]))
        .with_users(users()));
        assert!(msg.contains(EMAIL_FROM_VAR), "{msg}");
        let msg = err(SmtpNotifierBuilder::from_lookup(vars(&[
            (URL_VAR, "smtp://127.0.0.1:1025"),
            ok_from,
        ])));
        assert!(msg.contains("with_users"), "{msg}");
        let msg = err(SmtpNotifierBuilder::from_lookup(vars(&[
            (URL_VAR, "smtp://127.0.0.1:1025"),
            ok_from,
            (TIMEOUT_VAR, "soon"),
        ]))
        .with_users(users()));
        assert!(msg.contains(TIMEOUT_VAR), "{msg}");
        let msg = err(SmtpNotifierBuilder::from_lookup(vars(&[
            (URL_VAR, "smtp://127.0.0.1:1025?tls=sometimes"),
            ok_from,
        ]))
        .with_users(users()));
        assert!(msg.contains(URL_VAR), "{msg}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_transient() {
        // Port 9 (discard) on loopback is closed on test machines: connection refused.
        let notifier = SmtpNotifier::builder()
            .with_url("smtp://127.0.0.1:9")
            .with_from("noreply@example.com")
            .with_timeout(Duration::from_secs(2))
            .with_users(users())
            .build()
            .unwrap();
        let err = notifier.check().await.unwrap_err();
        assert_eq!(err.kind(), quflux_core::ErrorKind::Transient, "{err:?}");
    }
}
