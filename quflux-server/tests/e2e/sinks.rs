//! What the end-to-end flow talks to besides the server and the platform stand-in: the mail
//! sink (a real MailDev over SMTP, or the SendGrid stand-in), a webhook receiver on a loopback
//! port, and a fresh bucket on the real local S3 server.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use chrono::Utc;
use quflux_core::Secret;
use quflux_platforms::notify::webhook::{
    EVENT_TYPE_HEADER, SIGNATURE_HEADER, WebhookEvent, verify_signature,
};
use quflux_platforms::standin::sendgrid::{self, SendGridStandIn};
use quflux_store::s3::{S3BlobStore, S3BlobStoreBuilder};
use serde_json::Value;

/// How long the flow waits for anything asynchronous (publication, e-mail, webhook).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);
/// The sender of the notification e-mails.
pub(crate) const FROM: &str = "Quflux E2E <noreply@quflux.test>";
const SENDGRID_KEY: &str = "SG.e2e-standin-key.0123456789";

/// Polls `probe` every 100 ms until it gives a value; panics naming `what` after [`TIMEOUT`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {} s waiting for {what}",
            TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------- e-mail

/// MailDev's HTTP API (`QUFLUX_TEST_MAILDEV_API`).
pub(crate) struct MailDev {
    http: reqwest::Client,
    api: String,
}

impl MailDev {
    async fn messages_to(&self, address: &str) -> Vec<Value> {
        let answer = self
            .http
            .get(format!("{}/email", self.api))
            .query(&[("to.address", address)])
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "MailDev: {}", answer.status());
        answer.json::<Vec<Value>>().await.unwrap()
    }

    async fn delete(&self, messages: &[Value]) {
        for m in messages {
            let id = m["id"].as_str().unwrap();
            self.http
                .delete(format!("{}/email/{id}", self.api))
                .send()
                .await
                .unwrap();
        }
    }
}

/// Where the server's notification e-mails go.
pub(crate) enum Mail {
    /// A real SMTP server (MailDev), read back through its API.
    Smtp {
        /// `QUFLUX_TEST_SMTP_URL`.
        url: String,
        /// Its API.
        maildev: MailDev,
    },
    /// The SendGrid stand-in.
    SendGrid(SendGridStandIn),
}

impl Mail {
    /// MailDev from `QUFLUX_TEST_SMTP_URL` and `QUFLUX_TEST_MAILDEV_API`, or `None` (a printed
    /// skip; a failure under `QUFLUX_TEST_REQUIRE_SERVICES=1`).
    pub(crate) fn smtp_from_env() -> Option<Self> {
        let url = quflux_core::testkit::env("QUFLUX_TEST_SMTP_URL")?;
        let api = quflux_core::testkit::env("QUFLUX_TEST_MAILDEV_API")?;
        Some(Self::Smtp {
            url,
            maildev: MailDev {
                http: reqwest::Client::new(),
                api: api.trim_end_matches('/').to_owned(),
            },
        })
    }

    /// A fresh SendGrid stand-in.
    pub(crate) async fn sendgrid() -> Self {
        Self::SendGrid(sendgrid::start(SENDGRID_KEY).await)
    }

    /// The server settings that send mail here.
    pub(crate) fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = vec![("QUFLUX_EMAIL_FROM", FROM.to_owned())];
        match self {
            Self::Smtp { url, .. } => settings.extend([
                ("QUFLUX_EMAIL_PROVIDER", "smtp".to_owned()),
                ("QUFLUX_SMTP_URL", url.clone()),
                ("QUFLUX_SMTP_TIMEOUT_SECS", "10".to_owned()),
            ]),
            Self::SendGrid(standin) => settings.extend([
                ("QUFLUX_EMAIL_PROVIDER", "sendgrid".to_owned()),
                ("QUFLUX_SENDGRID_API_KEY", SENDGRID_KEY.to_owned()),
                ("QUFLUX_SENDGRID_BASE_URL", standin.uri()),
            ]),
        }
        settings
    }

    /// Waits for the one mail to `address` and checks it is the `published` notification
    /// carrying `post_url`.
    pub(crate) async fn expect_published(&self, address: &str, post_url: &str) {
        match self {
            Self::Smtp { maildev, .. } => {
                let found = eventually("the published e-mail in MailDev", || async {
                    let found = maildev.messages_to(address).await;
                    (!found.is_empty()).then_some(found)
                })
                .await;
                assert_eq!(found.len(), 1, "exactly one e-mail to {address}: {found:?}");
                let mail = &found[0];
                assert_eq!(mail["to"][0]["address"], address);
                assert_eq!(mail["from"][0]["address"], "noreply@quflux.test");
                assert_eq!(mail["subject"], "Published on mastodon");
                let text = mail["text"].as_str().unwrap_or_default();
                assert!(text.contains(post_url), "{text}");
                maildev.delete(&found).await;
            }
            Self::SendGrid(standin) => {
                let mails = eventually("the published e-mail at the SendGrid stand-in", || {
                    let mails: Vec<_> = standin
                        .messages()
                        .into_iter()
                        .filter(|m| m.to.iter().any(|to| to == address))
                        .collect();
                    async move { (!mails.is_empty()).then_some(mails) }
                })
                .await;
                assert_eq!(mails.len(), 1, "exactly one e-mail to {address}");
                let mail = &mails[0];
                assert_eq!(mail.from, "noreply@quflux.test");
                assert_eq!(mail.subject, "Published on mastodon");
                let text = mail.text.as_deref().unwrap_or_default();
                assert!(text.contains(post_url), "{text}");
                assert_eq!(standin.messages().len(), 1, "no other e-mail was sent");
            }
        }
    }
}

// ---------------------------------------------------------------- webhooks

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A webhook endpoint on a loopback port that records every request and answers `204`.
pub(crate) struct WebhookReceiver {
    /// The endpoint's URL.
    pub(crate) url: String,
    received: Received,
}

async fn record(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((headers, body));
    StatusCode::NO_CONTENT
}

impl WebhookReceiver {
    /// Starts the receiver.
    pub(crate) async fn start() -> Self {
        let received = Received::default();
        let app = axum::Router::new()
            .route("/hooks/quflux", axum::routing::post(record))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/quflux", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, received }
    }

    /// Every event received so far, each checked: a valid `Quflux-Signature` for `secret` (and
    /// an invalid one for a tampered body), and a `Quflux-Event-Type` equal to the body's type.
    pub(crate) fn verified_events(&self, secret: &str) -> Vec<WebhookEvent> {
        let secret = Secret::new(secret.to_owned());
        let received = self
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        received
            .iter()
            .map(|(headers, body)| {
                let signature = headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .expect("a signature header");
                let tolerance = Duration::from_secs(300);
                verify_signature(&secret, signature, body, Utc::now(), tolerance)
                    .expect("a valid signature");
                let mut tampered = body.to_vec();
                tampered.push(b' ');
                assert!(
                    verify_signature(&secret, signature, &tampered, Utc::now(), tolerance).is_err(),
                    "a tampered body must not verify"
                );
                let event: WebhookEvent = serde_json::from_slice(body).unwrap();
                assert_eq!(
                    headers.get(EVENT_TYPE_HEADER).and_then(|v| v.to_str().ok()),
                    Some(event.event_type.as_str())
                );
                event
            })
            .collect()
    }

    /// Waits for an event of `event_type` whose `data[field]` is `value`.
    pub(crate) async fn wait_for(
        &self,
        secret: &str,
        event_type: &str,
        field: &str,
        value: &str,
    ) -> WebhookEvent {
        eventually(&format!("a `{event_type}` webhook"), || {
            let found = self
                .verified_events(secret)
                .into_iter()
                .find(|e| e.event_type == event_type && e.data[field] == value);
            async move { found }
        })
        .await
    }
}

// ---------------------------------------------------------------- S3

/// A fresh bucket on the real local S3 server (`QUFLUX_TEST_S3_*`).
pub(crate) struct S3Target {
    /// The server's URL.
    pub(crate) url: String,
    access_key: String,
    secret_key: String,
    /// The bucket's name.
    pub(crate) bucket: String,
    /// A store of our own on the bucket, to look behind the server's back.
    pub(crate) store: S3BlobStore,
}

impl S3Target {
    /// Creates a bucket on the server of `QUFLUX_TEST_S3_URL`, or `None` (a printed skip; a
    /// failure under `QUFLUX_TEST_REQUIRE_SERVICES=1`).
    pub(crate) async fn from_env() -> Option<Self> {
        let url = quflux_core::testkit::env("QUFLUX_TEST_S3_URL")?;
        let access_key = quflux_core::testkit::env("QUFLUX_TEST_S3_ACCESS_KEY")?;
        let secret_key = quflux_core::testkit::env("QUFLUX_TEST_S3_SECRET_KEY")?;
        let bucket = format!(
            "quflux-e2e-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..20]
        );
        let vars: HashMap<&str, String> = settings(&url, &access_key, &secret_key, &bucket)
            .into_iter()
            .collect();
        let store = S3BlobStoreBuilder::from_lookup(move |name| vars.get(name).cloned())
            .build()
            .await
            .unwrap();
        store.ensure_bucket().await.unwrap();
        Some(Self {
            url,
            access_key,
            secret_key,
            bucket,
            store,
        })
    }

    /// The server settings that keep media in this bucket (path-style addressing).
    pub(crate) fn settings(&self) -> Vec<(&'static str, String)> {
        settings(&self.url, &self.access_key, &self.secret_key, &self.bucket)
    }
}

fn settings(
    url: &str,
    access_key: &str,
    secret_key: &str,
    bucket: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("QUFLUX_BLOB_STORE", "s3".to_owned()),
        ("QUFLUX_S3_BUCKET", bucket.to_owned()),
        ("QUFLUX_S3_ENDPOINT", url.to_owned()),
        ("QUFLUX_S3_REGION", "us-east-1".to_owned()),
        ("QUFLUX_S3_ACCESS_KEY_ID", access_key.to_owned()),
        ("QUFLUX_S3_SECRET_ACCESS_KEY", secret_key.to_owned()),
        ("QUFLUX_S3_FORCE_PATH_STYLE", "true".to_owned()),
    ]
}
