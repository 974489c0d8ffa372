//! Signed webhooks: every event is POSTed as JSON to each configured endpoint, signed with
//! HMAC-SHA256 so receivers can check where it came from and reject replays.
//!
//! # Events
//!
//! ```json
//! {"id": "0192…", "type": "publication.published", "created_at": "2026-05-01T09:30:00Z", "data": {…}}
//! ```
//!
//! | type | sent for |
//! |---|---|
//! | `publication.published`, `publication.failed`, `publication.unconfirmed`, `connection.needs_reauth` | a [`Notification`] of that kind; `data` is the notification and `id` its id |
//! | `post.created`, `post.updated`, `post.deleted`, `schedule.created`, `schedule.cancelled` | [`WebhookNotifier::send_event`] from the server |
//!
//! # Signature
//!
//! Each request carries `Content-Type: application/json`, `Quflux-Event-Id`,
//! `Quflux-Event-Type`, `Quflux-Delivery-Attempt` and
//! `Quflux-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (the
//! scheme Stripe uses). Receivers recompute the HMAC over the raw body, compare in constant
//! time and reject timestamps outside a tolerance ([`verify_signature`]); since retries carry
//! the same event id, they also deduplicate on `Quflux-Event-Id`.
//!
//! # Delivery
//!
//! [`WebhookNotifier::deliver`] runs the retry loop inline: up to `max_attempts` (5) per
//! endpoint with exponential backoff from `base_delay` (1 s, with jitter), on transport
//! errors, `408`, `429` (waiting for `Retry-After` when given, unless it is longer than
//! `max_delay`) and `5xx`; other `4xx` answers are not retried. `notify` and `send_event`
//! spawn that loop on the tokio runtime and return at once. Every attempt is logged with the
//! event id, the endpoint's host, the attempt number and the status; never the secret or the
//! endpoint's path and query (which may hold a token).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use quflux_core::{BoxError, Error, Notification, Notifier, Result};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::common::http::{Idempotency, PlatformResponse, retry_after_header, transport_error};

mod config;
mod event;
mod signature;

use config::{Endpoint, Inner};
pub use config::{WebhookNotifierBuilder, WebhookNotifierConfig};
pub use event::{
    CONNECTION_NEEDS_REAUTH, DeliveryReport, EndpointDelivery, POST_CREATED, POST_DELETED,
    POST_UPDATED, PUBLICATION_FAILED, PUBLICATION_PUBLISHED, PUBLICATION_UNCONFIRMED,
    SCHEDULE_CANCELLED, SCHEDULE_CREATED, WebhookEvent, event_type,
};
pub use signature::{signature_header, verify_signature};

/// Service name in errors and logs.
pub const BACKEND: &str = "webhooks";
/// Variable holding the endpoints, comma-separated http(s) URLs.
pub const URLS_VAR: &str = "QUFLUX_WEBHOOK_URLS";
/// Variable holding the signing secret.
pub const SECRET_VAR: &str = "QUFLUX_WEBHOOK_SECRET";
/// Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Quflux-Signature";
/// Header carrying the event id (the same on every retry).
pub const EVENT_ID_HEADER: &str = "Quflux-Event-Id";
/// Header carrying the event type.
pub const EVENT_TYPE_HEADER: &str = "Quflux-Event-Type";
/// Header carrying the attempt number, from 1.
pub const ATTEMPT_HEADER: &str = "Quflux-Delivery-Attempt";
/// Default attempts per endpoint.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default delay before the first retry.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(1);
/// Default longest wait between two attempts (a longer `Retry-After` ends the delivery).
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(300);
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivers notifications (and the server's post events) as signed webhook events.
///
/// Cloning is cheap and shares the client and settings.
///
/// # Errors
/// `notify` never fails: the delivery runs in the background (inline when there is no tokio
/// runtime) and its failures are logged. See [`deliver`](Self::deliver) for the delivery
/// errors.
#[derive(Clone)]
pub struct WebhookNotifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints: Vec<&str> = self.endpoints().collect();
        f.debug_struct("WebhookNotifier")
            .field("endpoints", &endpoints)
            .field("secret", &self.inner.secret)
            .field("max_attempts", &self.inner.max_attempts)
            .field("base_delay", &self.inner.base_delay)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A builder (same as [`WebhookNotifierBuilder::new`]).
    pub fn builder() -> WebhookNotifierBuilder {
        WebhookNotifierBuilder::new()
    }

    /// The endpoints as `scheme://host[:port]`.
    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.inner.endpoints.iter().map(|e| e.display.as_str())
    }

    /// Builds an event of `event_type` (e.g. [`POST_CREATED`]) and delivers it in the
    /// background, like `notify`. Await [`deliver`](Self::deliver) instead to know the
    /// outcome.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed event type (see [`WebhookEvent::new`]).
    pub async fn send_event(&self, event_type: &str, data: Value) -> Result<WebhookEvent> {
        let event = WebhookEvent::new(event_type, data)?;
        self.dispatch(event.clone()).await;
        Ok(event)
    }

    /// Delivers `event` to every endpoint (concurrently), retrying each as described in the
    /// module docs, and returns once every endpoint accepted it or gave up.
    ///
    /// # Errors
    /// The failure of the first endpoint that did not accept the event, naming the endpoint
    /// and the attempts made: [`Error::Other`] for a `4xx` answer (not retried),
    /// [`Error::RateLimited`] when `429`s outlasted the attempts (or asked for a wait longer
    /// than `max_delay`), [`Error::Transient`] when `408`, `5xx` or transport failures did.
    pub async fn deliver(&self, event: &WebhookEvent) -> Result<DeliveryReport> {
        let body = serde_json::to_vec(event).map_err(|e| Error::other(BACKEND, e))?;
        let outcomes = futures::future::join_all(
            self.inner
                .endpoints
                .iter()
                .map(|endpoint| self.deliver_to(endpoint, event, &body)),
        )
        .await;
        let mut endpoints = Vec::with_capacity(outcomes.len());
        let mut first_error = None;
        for outcome in outcomes {
            match outcome {
                Ok(delivery) => endpoints.push(delivery),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(DeliveryReport {
                event_id: event.id.clone(),
                endpoints,
            }),
        }
    }

    /// Runs the delivery on the current tokio runtime, or inline when there is none.
    async fn dispatch(&self, event: WebhookEvent) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let this = self.clone();
                runtime.spawn(async move {
                    // Failures are logged by `deliver_to`.
                    let _ = this.deliver(&event).await;
                });
            }
            Err(_) => {
                let _ = self.deliver(&event).await;
            }
        }
    }

    async fn deliver_to(
        &self,
        endpoint: &Endpoint,
        event: &WebhookEvent,
        body: &[u8],
    ) -> Result<EndpointDelivery> {
        let inner = &self.inner;
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(inner.base_delay)
            .with_max_delay(inner.max_delay)
            .with_max_times(inner.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let max_delay = inner.max_delay;
        let result = (|| async {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            self.attempt(endpoint, event, body, attempt).await
        })
        .retry(backoff)
        .when(Error::is_retryable)
        .adjust(|err, planned| match (planned, err.retry_after()) {
            // Out of attempts.
            (None, _) => None,
            (Some(_), Some(asked)) if asked > max_delay => None,
            (Some(_), Some(asked)) => Some(asked),
            (Some(planned), None) => Some(planned),
        })
        .await;
        let attempts = attempts.load(Ordering::SeqCst);
        match result {
            Ok(status) => Ok(EndpointDelivery {
                endpoint: endpoint.display.clone(),
                attempts,
                status,
            }),
            Err(err) => {
                tracing::warn!(
                    event_id = %event.id,
                    event_type = %event.event_type,
                    endpoint = %endpoint.display,
                    attempts,
                    error = %err.detailed_message(),
                    "webhook delivery failed"
                );
                Err(gave_up(err, &endpoint.display, attempts))
            }
        }
    }

    /// One signed POST; `Ok(status)` for a 2xx answer.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        event: &WebhookEvent,
        body: &[u8],
        attempt: u32,
    ) -> Result<u16> {
        let inner = &self.inner;
        let signature = signature_header(&inner.secret, Utc::now().timestamp(), body)?;
        let request = inner
            .http
            .post(endpoint.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(EVENT_ID_HEADER, event.id.as_str())
            .header(EVENT_TYPE_HEADER, event.event_type.as_str())
            .header(ATTEMPT_HEADER, attempt.to_string())
            .body(body.to_vec());
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                // Retrying a request that may have arrived is fine: receivers deduplicate
                // on the event id.
                let err = transport_error(BACKEND, Idempotency::Safe, e);
                tracing::info!(
                    event_id = %event.id,
                    event_type = %event.event_type,
                    endpoint = %endpoint.display,
                    attempt,
                    error = %err.detailed_message(),
                    "webhook attempt: no answer"
                );
                return Err(err);
            }
        };
        let status = response.status();
        tracing::info!(
            event_id = %event.id,
            event_type = %event.event_type,
            endpoint = %endpoint.display,
            attempt,
            status = status.as_u16(),
            "webhook attempt"
        );
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let headers = response.headers().clone();
        let answer = response.bytes().await.unwrap_or_default();
        let source = PlatformResponse::boxed(status, &answer);
        Err(match status.as_u16() {
            408 | 500..=599 => Error::Transient {
                service: BACKEND,
                source,
            },
            429 => Error::RateLimited {
                service: BACKEND,
                retry_after: retry_after_header(&headers, Utc::now()),
                source: Some(source),
            },
            _ => Error::Other {
                service: BACKEND,
                source,
            },
        })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, notification: &Notification) -> Result<()> {
        self.dispatch(WebhookEvent::from_notification(notification))
            .await;
        Ok(())
    }
}

/// Why one endpoint did not accept an event.
#[derive(Debug)]
struct DeliveryFailed {
    endpoint: String,
    attempts: u32,
    last: Error,
}

impl std::fmt::Display for DeliveryFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} did not accept the event after {} attempt(s)",
            self.endpoint, self.attempts
        )
    }
}

impl std::error::Error for DeliveryFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.last)
    }
}

/// The last attempt's error, of the same kind, naming the endpoint and the attempts made.
fn gave_up(last: Error, endpoint: &str, attempts: u32) -> Error {
    let kind = last.kind();
    let retry_after = last.retry_after();
    let source: BoxError = Box::new(DeliveryFailed {
        endpoint: endpoint.to_owned(),
        attempts,
        last,
    });
    match kind {
        quflux_core::ErrorKind::RateLimited => Error::RateLimited {
            service: BACKEND,
            retry_after,
            source: Some(source),
        },
        quflux_core::ErrorKind::Transient => Error::Transient {
            service: BACKEND,
            source,
        },
        _ => Error::Other {
            service: BACKEND,
            source,
        },
    }
}
