//! E-mail notifications through SendGrid's v3 Mail Send API.
//!
//! The contract, from SendGrid's documentation:
//!
//! - `POST {base}/v3/mail/send` with `Authorization: Bearer <API key>` and a JSON body:
//!   `personalizations: [{to: [{email, name?}]}]`, `from: {email, name?}`, `subject`,
//!   `content: [{type: "text/plain", value}, {type: "text/html", value}]` (text/plain first).
//!   <https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send>
//! - Success is `202 Accepted` ("your message is both valid, and queued to be delivered")
//!   with an empty body and an `X-Message-Id` header.
//!   <https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/responses>
//! - Failures carry `{"errors": [{"message", "field", "help"}]}`: `400` (validation, e.g.
//!   `field: "from"`), `401` (key invalid, expired or revoked), `403` (key without the Mail
//!   Send permission, or a sender that is not a verified identity), `413` (payload too large),
//!   `429`, `500`, `503`.
//!   <https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/errors>,
//!   <https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors>
//! - Rate limits: `429` with `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0` and
//!   `X-RateLimit-Reset` in unix seconds.
//!   <https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits>
//!
//! A lost answer is treated as [`Error::Transient`] (not `OutcomeUnknown`): a duplicate
//! notification e-mail is harmless, so retrying is the right call.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{Error, Notification, Notifier, Result, Secret, UserStore};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use super::render::render;
use super::{EMAIL_FROM_VAR, EmailAddress, parse_from, recipient, var};
use crate::common::HttpConfig;
use crate::common::http::{
    Idempotency, PlatformResponse, body_bytes, header, join, send, until_epoch_header,
};

/// Service name in errors and logs.
pub const BACKEND: &str = "sendgrid";
/// Variable holding the API key (needs the Mail Send permission).
pub const API_KEY_VAR: &str = "QUFLUX_SENDGRID_API_KEY";
/// Variable overriding the API base URL (tests point it at a stand-in).
pub const BASE_URL_VAR: &str = "QUFLUX_SENDGRID_BASE_URL";
/// The API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.sendgrid.com";
/// Path of the Mail Send endpoint.
pub const MAIL_SEND_PATH: &str = "/v3/mail/send";

/// Serializable settings of [`SendGridNotifier`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SendGridNotifierConfig {
    /// The API key.
    pub api_key: Option<Secret<String>>,
    /// The API base URL; [`DEFAULT_BASE_URL`] when unset.
    pub base_url: Option<String>,
    /// The sender, e.g. `Quflux <noreply@example.com>` (a verified sender identity).
    pub from: Option<String>,
}

/// Builds a [`SendGridNotifier`]; only [`build`](Self::build) validates.
#[derive(Debug, Clone, Default)]
pub struct SendGridNotifierBuilder {
    config: SendGridNotifierConfig,
    users: Option<Arc<dyn UserStore>>,
    http: HttpConfig,
    client: Option<reqwest::Client>,
}

impl SendGridNotifierBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads [`API_KEY_VAR`], [`BASE_URL_VAR`] and [`EMAIL_FROM_VAR`] from the process
    /// environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get` (blank values count
    /// as unset). Never fails: malformed values are reported by [`build`](Self::build).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        Self::from_config(SendGridNotifierConfig {
            api_key: var(&get, API_KEY_VAR).map(Secret::new),
            base_url: var(&get, BASE_URL_VAR),
            from: var(&get, EMAIL_FROM_VAR),
        })
    }

    /// From deserialized settings.
    pub fn from_config(config: SendGridNotifierConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The API key.
    pub fn with_api_key(mut self, key: impl Into<Secret<String>>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    /// Another API base URL (a stand-in, or `https://api.eu.sendgrid.com`).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = Some(url.into());
        self
    }

    /// The sender, e.g. `Quflux <noreply@example.com>`.
    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.config.from = Some(from.into());
        self
    }

    /// Where recipients are looked up (required).
    pub fn with_users(mut self, users: Arc<dyn UserStore>) -> Self {
        self.users = Some(users);
        self
    }

    /// HTTP settings for the client `build` creates.
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Shares an existing client instead (it should not follow redirects).
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Validates the settings and builds the notifier.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when the API key or sender is missing, the
    /// sender or base URL is malformed, or no user store was given.
    pub fn build(self) -> Result<SendGridNotifier> {
        let api_key = self
            .config
            .api_key
            .filter(|k| !k.expose().trim().is_empty())
            .ok_or_else(|| Error::Config(format!("{BACKEND}: {API_KEY_VAR} missing")))?;
        if api_key
            .expose()
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::Config(format!(
                "{API_KEY_VAR}: the key contains whitespace"
            )));
        }
        let base = self
            .config
            .base_url
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .unwrap_or(DEFAULT_BASE_URL);
        let parsed = url::Url::parse(base)
            .map_err(|e| Error::Config(format!("{BASE_URL_VAR}: not a valid URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(Error::Config(format!(
                "{BASE_URL_VAR}: expected an http(s) URL with a host"
            )));
        }
        let from = parse_from(BACKEND, self.config.from.as_deref())?;
        let users = self.users.ok_or_else(|| {
            Error::Config(format!("{BACKEND}: a user store is required (with_users)"))
        })?;
        let http = match self.client {
            Some(client) => client,
            None => self.http.client()?,
        };
        Ok(SendGridNotifier {
            http,
            endpoint: join(base, MAIL_SEND_PATH),
            api_key,
            from,
            users,
        })
    }
}

/// Sends each notification through SendGrid as a text + HTML e-mail to the user's address.
///
/// # Errors
/// `notify` returns the user store's error ([`Error::NotFound`] for an unknown user),
/// [`Error::InvalidInput`] for a malformed stored address and for `400`/`413` answers (with
/// SendGrid's first error message and field), [`Error::Config`] for `401`/`403` ("sendgrid:
/// API key rejected"), [`Error::RateLimited`] for `429` (retry after `X-RateLimit-Reset`),
/// [`Error::Transient`] for `5xx` and transport failures, [`Error::Other`] otherwise.
/// Inactive users are skipped without error.
#[derive(Clone)]
pub struct SendGridNotifier {
    http: reqwest::Client,
    endpoint: String,
    api_key: Secret<String>,
    from: EmailAddress,
    users: Arc<dyn UserStore>,
}

impl std::fmt::Debug for SendGridNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendGridNotifier")
            .field("endpoint", &self.endpoint)
            .field("api_key", &self.api_key)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SendGridNotifier {
    /// A builder (same as [`SendGridNotifierBuilder::new`]).
    pub fn builder() -> SendGridNotifierBuilder {
        SendGridNotifierBuilder::new()
    }

    /// The Mail Send URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

#[async_trait]
impl Notifier for SendGridNotifier {
    async fn notify(&self, notification: &Notification) -> Result<()> {
        let Some(to) = recipient(&*self.users, notification).await? else {
            tracing::debug!(
                notification_id = %notification.id,
                user_id = %notification.user_id,
                "sendgrid: user inactive, no e-mail sent"
            );
            return Ok(());
        };
        let email = render(notification);
        let notification_id = notification.id.to_string();
        let body = MailSend {
            personalizations: [Personalization {
                to: [Address::from(&to)],
            }],
            from: Address::from(&self.from),
            subject: &email.subject,
            content: [
                Content {
                    kind: "text/plain",
                    value: &email.text,
                },
                Content {
                    kind: "text/html",
                    value: &email.html,
                },
            ],
            custom_args: CustomArgs {
                quflux_notification_id: &notification_id,
            },
        };
        let request = self
            .http
            .post(&self.endpoint)
            .bearer_auth(self.api_key.expose())
            .json(&body);
        let response = send(BACKEND, Idempotency::Safe, request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            tracing::info!(
                notification_id = %notification.id,
                kind = notification.kind.as_str(),
                status = status.as_u16(),
                message_id = header(&headers, "x-message-id").unwrap_or_default(),
                "sendgrid: notification e-mail accepted"
            );
            return Ok(());
        }
        let raw = body_bytes(BACKEND, Idempotency::Safe, response).await?;
        let err = classify(status, &headers, &raw, Utc::now());
        tracing::warn!(
            notification_id = %notification.id,
            status = status.as_u16(),
            error = %err.detailed_message(),
            "sendgrid: notification e-mail refused"
        );
        Err(err)
    }
}

#[derive(Serialize)]
struct MailSend<'a> {
    personalizations: [Personalization<'a>; 1],
    from: Address<'a>,
    subject: &'a str,
    content: [Content<'a>; 2],
    custom_args: CustomArgs<'a>,
}

#[derive(Serialize)]
struct Personalization<'a> {
    to: [Address<'a>; 1],
}

#[derive(Serialize)]
struct Address<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

impl<'a> From<&'a EmailAddress> for Address<'a> {
    fn from(a: &'a EmailAddress) -> Self {
        Self {
            email: &a.email,
            name: a.name.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct CustomArgs<'a> {
    quflux_notification_id: &'a str,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ApiError>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    field: Option<String>,
}

/// Maps a non-2xx Mail Send answer (see the module docs for the contract).
fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let first = parsed.errors.into_iter().next();
    let message = first
        .as_ref()
        .and_then(|e| e.message.clone())
        .filter(|m| !m.trim().is_empty());
    let source = PlatformResponse::boxed(status, body);
    match status.as_u16() {
        400 | 413 => {
            let default_field = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "content"
            } else {
                "request"
            };
            let field = first
                .and_then(|e| e.field)
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| default_field.to_owned());
            Error::invalid_input(
                field,
                message.unwrap_or_else(|| format!("sendgrid refused the message (HTTP {status})")),
            )
        }
        401 | 403 => Error::Config(match message {
            Some(m) => format!(
                "{BACKEND}: API key rejected (HTTP {}: {m})",
                status.as_u16()
            ),
            None => format!("{BACKEND}: API key rejected (HTTP {})", status.as_u16()),
        }),
        429 => Error::RateLimited {
            service: BACKEND,
            retry_after: until_epoch_header(headers, "x-ratelimit-reset", now),
            source: Some(source),
        },
        500..=599 => Error::Transient {
            service: BACKEND,
            source,
        },
        _ => Error::Other {
            service: BACKEND,
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use quflux_core::ErrorKind;
    use quflux_core::memory::InMemoryStore;
    use reqwest::header::HeaderValue;

    use super::*;

    fn errors(message: &str, field: Option<&str>) -> Vec<u8> {
        serde_json::json!({"errors": [{"message": message, "field": field, "help": null}]})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn answers_are_classified() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let h = HeaderMap::new();
        let e = classify(
            StatusCode::BAD_REQUEST,
            &h,
            &errors(
                "The from object must be provided for every email send.",
                Some("from"),
            ),
            now,
        );
        match e {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, "from");
                assert!(message.starts_with("The from object must be provided"));
            }
            other => panic!("{other:?}"),
        }
        let e = classify(StatusCode::PAYLOAD_TOO_LARGE, &h, b"", now);
        assert!(
            matches!(e, Error::InvalidInput { ref field, .. } if field == "content"),
            "{e:?}"
        );
        let e = classify(
            StatusCode::UNAUTHORIZED,
            &h,
            &errors(
                "The provided authorization grant is invalid, expired, or revoked",
                None,
            ),
            now,
        );
        assert!(
            matches!(e, Error::Config(ref m) if m.starts_with("sendgrid: API key rejected")),
            "{e:?}"
        );
        assert_eq!(
            classify(StatusCode::FORBIDDEN, &h, b"", now).kind(),
            ErrorKind::Config
        );
        let mut rl = HeaderMap::new();
        rl.insert("x-ratelimit-reset", HeaderValue::from_static("1000030"));
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &rl,
            &errors("too many requests", None),
            now,
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &h, b"", now);
        assert_eq!(e.retry_after(), None);
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &h, b"", now).kind(),
            ErrorKind::Transient
        );
        assert_eq!(
            classify(StatusCode::NOT_FOUND, &h, b"", now).kind(),
            ErrorKind::Other
        );
    }

    #[test]
    fn build_validates_and_hides_the_key() {
        let users: Arc<dyn UserStore> = Arc::new(InMemoryStore::new());
        let get = |name: &str| match name {
            API_KEY_VAR => Some("SG.very-secret-key".to_owned()),
            EMAIL_FROM_VAR => Some("Quflux <noreply@example.com>".to_owned()),
            _ => None,
        };
        let notifier = SendGridNotifierBuilder::from_lookup(get)
            .with_users(users.clone())
            .build()
            .unwrap();
        assert_eq!(notifier.endpoint(), "https://api.sendgrid.com/v3/mail/send");
        assert!(!format!("{notifier:?}").contains("very-secret"));
        assert!(
            !format!("{:?}", SendGridNotifierBuilder::from_lookup(get)).contains("very-secret")
        );
        let missing = SendGridNotifier::builder()
            .with_from("noreply@example.com")
            .with_users(users.clone())
            .build()
            .unwrap_err();
        assert!(
            matches!(missing, Error::Config(ref m) if m.contains(API_KEY_VAR)),
            "{missing:?}"
        );
        let bad_base = SendGridNotifierBuilder::from_lookup(get)
            .with_base_url("ftp://example.com")
            .with_users(users)
            .build()
            .unwrap_err();
        assert!(
            matches!(bad_base, Error::Config(ref m) if m.contains(BASE_URL_VAR)),
            "{bad_base:?}"
        );
        let no_users = SendGridNotifierBuilder::from_lookup(get)
            .build()
            .unwrap_err();
        assert_eq!(no_users.kind(), ErrorKind::Config);
    }
}
