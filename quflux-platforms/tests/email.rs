//! The e-mail notifiers: `SendGridNotifier` against the SendGrid stand-in (delivered message,
//! 400/401/429/5xx mapping, the API key kept out of `Debug` and errors, the notifier
//! conformance suite), and `SmtpNotifier` against a REAL MailDev server (started by
//! `scripts/testbed/smtp.sh`; `QUFLUX_TEST_SMTP_URL` and `QUFLUX_TEST_MAILDEV_API`, skipped
//! when unset unless `QUFLUX_TEST_REQUIRE_SERVICES=1`), read back through MailDev's API.
#![cfg(all(feature = "smtp", feature = "sendgrid", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::memory::InMemoryStore;
use quflux_core::testkit::fixtures::notification_for;
use quflux_core::{
    Error, ErrorKind, Notification, NotificationKind, Notifier, Result, User, UserId, UserStore,
};
use quflux_platforms::notify::{SendGridNotifier, SmtpNotifier};
use quflux_platforms::standin::sendgrid::{self, RATE_LIMIT_RESET_SECS, SendGridFault};
use serde_json::{Value, json};

const KEY: &str = "SG.standin-key.0123456789abcdef";
const FROM: &str = "Quflux Alerts <noreply@quflux.test>";

fn unique_address(prefix: &str) -> String {
    format!("{prefix}-{}@mail.test", uuid::Uuid::new_v4().simple())
}

/// A store holding one active user with a unique address.
async fn store_with_user(display_name: Option<&str>) -> (Arc<InMemoryStore>, User) {
    let store = Arc::new(InMemoryStore::new());
    let mut user = User::new(&unique_address("ada"), "Europe/Paris", Utc::now());
    user.display_name = display_name.map(str::to_owned);
    store.insert_user(&user).await.unwrap();
    (store, user)
}

/// A user store that has a user for every id (addresses `conf-<id>@mail.test`), recording the
/// addresses it handed out; the notifier conformance suite uses fresh user ids.
#[derive(Debug, Default)]
struct EveryoneExists {
    handed_out: Mutex<Vec<String>>,
}

#[async_trait]
impl UserStore for EveryoneExists {
    async fn insert_user(&self, _user: &User) -> Result<()> {
        Ok(())
    }
    async fn get_user(&self, id: UserId) -> Result<User> {
        let mut user = User::new(&format!("conf-{id}@mail.test"), "UTC", Utc::now());
        user.id = id;
        let mut handed_out = self.handed_out.lock().unwrap();
        if !handed_out.contains(&user.email) {
            handed_out.push(user.email.clone());
        }
        Ok(user)
    }
    async fn find_user_by_email(&self, _email: &str) -> Result<Option<User>> {
        Ok(None)
    }
    async fn update_user(&self, _user: &User) -> Result<()> {
        Ok(())
    }
}

fn sendgrid(base: &str, key: &str, users: Arc<dyn UserStore>) -> SendGridNotifier {
    SendGridNotifier::builder()
        .with_base_url(base)
        .with_api_key(key)
        .with_from(FROM)
        .with_users(users)
        .build()
        .unwrap()
}

fn markup_notification(user_id: UserId) -> Notification {
    Notification {
        kind: NotificationKind::Failed,
        title: "Publishing on mastodon failed".to_owned(),
        message: "Your post <b>Launch & more</b> could not be published: HTTP 422.".to_owned(),
        ..notification_for(user_id)
    }
}

// ---------------------------------------------------------------- SendGrid

#[tokio::test]
async fn sendgrid_delivers_the_rendered_message() {
    let standin = sendgrid::start(KEY).await;
    let (store, user) = store_with_user(Some("Ada Lovelace")).await;
    let notifier = sendgrid(&standin.uri(), KEY, store);
    let note = markup_notification(user.id);
    notifier.notify(&note).await.unwrap();

    let sent = standin.messages();
    assert_eq!(sent.len(), 1);
    let mail = &sent[0];
    assert_eq!(mail.to, std::slice::from_ref(&user.email));
    assert_eq!(
        mail.body["personalizations"][0]["to"][0]["name"],
        "Ada Lovelace"
    );
    assert_eq!(mail.from, "noreply@quflux.test");
    assert_eq!(mail.from_name.as_deref(), Some("Quflux Alerts"));
    assert_eq!(mail.subject, "Publishing on mastodon failed");
    let text = mail.text.as_deref().unwrap();
    assert!(text.starts_with(&note.message), "{text}");
    assert!(
        text.contains("Link: https://bsky.app/profile/example/post/3k"),
        "{text}"
    );
    let html = mail.html.as_deref().unwrap();
    assert!(
        html.contains("Your post &lt;b&gt;Launch &amp; more&lt;/b&gt; could not"),
        "{html}"
    );
    assert!(!html.contains("<b>Launch"), "{html}");
    assert_eq!(mail.body["content"][0]["type"], "text/plain");
    assert_eq!(mail.body["content"][1]["type"], "text/html");
    assert_eq!(
        mail.body["custom_args"]["quflux_notification_id"],
        note.id.to_string().as_str()
    );
}

#[tokio::test]
async fn sendgrid_skips_inactive_users_and_reports_unknown_ones() {
    let standin = sendgrid::start(KEY).await;
    let (store, mut user) = store_with_user(None).await;
    user.is_active = false;
    store.update_user(&user).await.unwrap();
    let notifier = sendgrid(&standin.uri(), KEY, store);
    notifier.notify(&notification_for(user.id)).await.unwrap();
    let unknown = notifier
        .notify(&notification_for(UserId::new()))
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NotFound);
    assert_eq!(standin.requests().await, 0, "no request for either");
}

#[tokio::test]
async fn sendgrid_rejected_key_is_a_config_error_that_never_shows_a_key() {
    let standin = sendgrid::start(KEY).await;
    let (store, user) = store_with_user(None).await;
    let wrong = "SG.wrong-key.secret-material-42";
    let notifier = sendgrid(&standin.uri(), wrong, store);
    let err = notifier
        .notify(&notification_for(user.id))
        .await
        .unwrap_err();
    match &err {
        Error::Config(message) => {
            assert!(
                message.starts_with("sendgrid: API key rejected"),
                "{message}"
            );
            assert!(
                message.contains("invalid, expired, or revoked"),
                "{message}"
            );
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    for text in [
        err.to_string(),
        err.detailed_message(),
        format!("{err:?}"),
        format!("{notifier:?}"),
    ] {
        assert!(!text.contains("secret-material"), "{text}");
        assert!(!text.contains(KEY), "{text}");
    }
    assert!(standin.messages().is_empty());
}

#[tokio::test]
async fn sendgrid_refused_address_is_invalid_input_with_the_field() {
    let standin = sendgrid::start(KEY).await;
    let store = Arc::new(InMemoryStore::new());
    // A host name without a dot: a valid address for us, refused by SendGrid's validation.
    let user = User::new("ops@localhost", "UTC", Utc::now());
    store.insert_user(&user).await.unwrap();
    let notifier = sendgrid(&standin.uri(), KEY, store);
    let err = notifier
        .notify(&notification_for(user.id))
        .await
        .unwrap_err();
    match err {
        Error::InvalidInput { field, message } => {
            assert_eq!(field, "personalizations.0.to.0.email");
            assert_eq!(message, "Does not contain a valid address.");
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn sendgrid_rate_limit_carries_the_reset_and_5xx_is_transient() {
    let standin = sendgrid::start(KEY).await;
    let (store, user) = store_with_user(None).await;
    let notifier = sendgrid(&standin.uri(), KEY, store);

    standin.inject_fault(SendGridFault::RateLimited);
    let err = notifier
        .notify(&notification_for(user.id))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err:?}");
    let wait = err.retry_after().expect("X-RateLimit-Reset is read");
    let max = Duration::from_secs(RATE_LIMIT_RESET_SECS as u64);
    assert!(
        wait <= max && wait >= max - Duration::from_secs(5),
        "{wait:?}"
    );
    assert!(err.detailed_message().contains("too many requests"));

    standin.inject_fault(SendGridFault::ServerError);
    let err = notifier
        .notify(&notification_for(user.id))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    assert!(err.is_retryable());

    notifier.notify(&notification_for(user.id)).await.unwrap();
    assert_eq!(
        standin.messages().len(),
        1,
        "only the last one was accepted"
    );
}

#[tokio::test]
async fn sendgrid_unreachable_api_is_transient() {
    let (store, user) = store_with_user(None).await;
    let notifier = sendgrid("http://127.0.0.1:9", KEY, store);
    let err = notifier
        .notify(&notification_for(user.id))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
}

#[tokio::test]
async fn sendgrid_passes_the_notifier_conformance_suite() {
    let standin = sendgrid::start(KEY).await;
    let users = Arc::new(EveryoneExists::default());
    let notifier = sendgrid(&standin.uri(), KEY, users.clone());
    quflux_core::testkit::notifier::run_all(&notifier).await;
    // 4 kinds × (full + bare) for one user, then 7 odd contents for another.
    let sent = standin.messages();
    assert_eq!(sent.len(), 15);
    let handed_out = users.handed_out.lock().unwrap().clone();
    assert_eq!(handed_out.len(), 2);
    assert!(sent[..8].iter().all(|m| m.to == handed_out[..1]));
    assert!(sent[8..].iter().all(|m| m.to == handed_out[1..]));
    // The empty title and message fall back to text; the long one is cut to one line.
    assert!(
        sent.iter()
            .all(|m| !m.subject.is_empty() && !m.subject.contains('\n'))
    );
}

#[tokio::test]
async fn sendgrid_standin_enforces_the_documented_contract() {
    let standin = sendgrid::start(KEY).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v3/mail/send", standin.uri());

    let answer = http.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "authorization required");

    let answer = http
        .post(&url)
        .bearer_auth(KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["personalizations", "from", "subject", "content"]);
    assert!(
        body["errors"][0]["help"]
            .as_str()
            .unwrap()
            .contains("errors.html")
    );

    let answer = http
        .post(&url)
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);

    let answer = http
        .post(&url)
        .bearer_auth(KEY)
        .json(&json!({
            "personalizations": [{"to": [{"email": "a@example.com"}]}],
            "from": {"email": "noreply@example.com"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "Hello"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    assert!(answer.headers().contains_key("x-message-id"));
    assert!(answer.bytes().await.unwrap().is_empty());
    assert_eq!(standin.messages()[0].text.as_deref(), Some("Hello"));
}

// ---------------------------------------------------------------- SMTP (real MailDev)

struct MailDev {
    http: reqwest::Client,
    api: String,
}

impl MailDev {
    fn from_env() -> Option<(String, Self)> {
        let smtp = quflux_core::testkit::env("QUFLUX_TEST_SMTP_URL")?;
        let api = quflux_core::testkit::env("QUFLUX_TEST_MAILDEV_API")?;
        Some((
            smtp,
            Self {
                http: reqwest::Client::new(),
                api: api.trim_end_matches('/').to_owned(),
            },
        ))
    }

    async fn messages_to(&self, address: &str) -> Vec<Value> {
        let answer = self
            .http
            .get(format!("{}/email", self.api))
            .query(&[("to.address", address)])
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        answer.json::<Vec<Value>>().await.unwrap()
    }

    /// Polls until `count` messages to `address` arrived (10 s at most).
    async fn wait_for(&self, address: &str, count: usize) -> Vec<Value> {
        for _ in 0..100 {
            let found = self.messages_to(address).await;
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("MailDev did not receive {count} message(s) to {address}");
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

fn smtp(url: &str, users: Arc<dyn UserStore>) -> SmtpNotifier {
    SmtpNotifier::builder()
        .with_url(url)
        .with_from(FROM)
        .with_timeout(Duration::from_secs(10))
        .with_users(users)
        .build()
        .unwrap()
}

#[tokio::test]
async fn smtp_delivers_to_a_real_server() {
    let Some((url, maildev)) = MailDev::from_env() else {
        return;
    };
    let (store, user) = store_with_user(Some("Ada Lovelace")).await;
    let notifier = smtp(&url, store);
    notifier.check().await.unwrap();
    let note = Notification {
        title: "Publishing on mastodon failed — ünïcödé 🚀".to_owned(),
        ..markup_notification(user.id)
    };
    notifier.notify(&note).await.unwrap();

    let found = maildev.wait_for(&user.email, 1).await;
    assert_eq!(found.len(), 1, "exactly one message");
    let mail = &found[0];
    assert_eq!(mail["to"][0]["address"], user.email.as_str());
    assert_eq!(mail["to"][0]["name"], "Ada Lovelace");
    assert_eq!(mail["from"][0]["address"], "noreply@quflux.test");
    assert_eq!(mail["from"][0]["name"], "Quflux Alerts");
    assert_eq!(mail["subject"], note.title.as_str());
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains(&note.message), "{text}");
    assert!(text.contains("Platform: Bluesky"), "{text}");
    let html = mail["html"].as_str().unwrap();
    assert!(
        html.contains("Your post &lt;b&gt;Launch &amp; more&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>Launch"), "{html}");
    // The raw message: text and HTML alternatives, traceable to the notification.
    let id = mail["id"].as_str().unwrap();
    let source = maildev
        .http
        .get(format!("{}/email/{id}/source", maildev.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(source.contains("multipart/alternative"), "{source}");
    assert!(source.contains("text/plain"), "{source}");
    assert!(source.contains("text/html"), "{source}");
    assert!(
        source.contains(&format!("X-Quflux-Notification-Id: {}", note.id)),
        "{source}"
    );
    maildev.delete(&found).await;
}

#[tokio::test]
async fn smtp_passes_the_notifier_conformance_suite_against_a_real_server() {
    let Some((url, maildev)) = MailDev::from_env() else {
        return;
    };
    let users = Arc::new(EveryoneExists::default());
    let notifier = smtp(&url, users.clone());
    quflux_core::testkit::notifier::run_all(&notifier).await;
    let handed_out = users.handed_out.lock().unwrap().clone();
    assert_eq!(handed_out.len(), 2);
    let first = maildev.wait_for(&handed_out[0], 8).await;
    let second = maildev.wait_for(&handed_out[1], 7).await;
    assert_eq!((first.len(), second.len()), (8, 7));
    // The very long message arrived whole.
    assert!(
        second
            .iter()
            .any(|m| m["text"].as_str().unwrap_or_default().len() > 100_000)
    );
    maildev.delete(&first).await;
    maildev.delete(&second).await;
}

#[tokio::test]
async fn smtp_skips_inactive_users_without_connecting() {
    let (store, mut user) = store_with_user(None).await;
    user.is_active = false;
    store.update_user(&user).await.unwrap();
    // Nothing listens on port 9: any connection attempt would fail.
    let notifier = smtp("smtp://127.0.0.1:9", store);
    notifier.notify(&notification_for(user.id)).await.unwrap();
    let err = notifier
        .notify(&notification_for(UserId::new()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn smtp_unreachable_server_is_transient() {
    let (store, user) = store_with_user(None).await;
    let notifier = smtp("smtp://127.0.0.1:9", store);
    let err = notifier
        .notify(&notification_for(user.id))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
}
