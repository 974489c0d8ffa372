//! `WebhookNotifier` against local receivers (wiremock): signatures verify with the secret
//! and fail with another secret, a modified body or an old timestamp; 5xx and 429 are retried
//! (honouring `Retry-After`), other 4xx are not; `notify` returns before the delivery ends;
//! the notifier conformance suite.
#![cfg(feature = "webhooks")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use quflux_core::testkit::fixtures::notification_for;
use quflux_core::{Error, ErrorKind, NotificationKind, Notifier, Secret, UserId};
use quflux_platforms::notify::webhook::{
    ATTEMPT_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, POST_CREATED, SIGNATURE_HEADER, event_type,
};
use quflux_platforms::notify::{WebhookEvent, WebhookNotifier, verify_signature};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "whsec_test_0123456789";
const TOLERANCE: Duration = Duration::from_secs(300);

fn notifier(urls: &[String]) -> WebhookNotifier {
    WebhookNotifier::builder()
        .with_urls(urls.iter().cloned())
        .with_secret(SECRET)
        .with_base_delay(Duration::from_millis(10))
        .with_max_attempts(4)
        .build()
        .unwrap()
}

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/quflux"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

fn hook_url(server: &MockServer) -> String {
    format!("{}/hooks/quflux?token=path-secret", server.uri())
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
}

fn event() -> WebhookEvent {
    WebhookEvent::new(
        POST_CREATED,
        json!({"post_id": "p-1", "text": "Hello <world> & \"you\""}),
    )
    .unwrap()
}

#[tokio::test]
async fn deliveries_are_signed_and_verifiable() {
    let server = receiver(200).await;
    let hooks = notifier(&[hook_url(&server)]);
    let event = event();
    let report = hooks.deliver(&event).await.unwrap();
    assert_eq!(report.event_id, event.id);
    assert_eq!(report.endpoints.len(), 1);
    assert_eq!(report.endpoints[0].attempts, 1);
    assert_eq!(report.endpoints[0].status, 200);
    assert_eq!(
        report.endpoints[0].endpoint,
        server.uri(),
        "no path or query"
    );

    let requests = received(&server).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(header(request, EVENT_ID_HEADER), event.id);
    assert_eq!(header(request, EVENT_TYPE_HEADER), "post.created");
    assert_eq!(header(request, ATTEMPT_HEADER), "1");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], event.id.as_str());
    assert_eq!(body["type"], "post.created");
    assert_eq!(body["data"]["post_id"], "p-1");
    let created: chrono::DateTime<Utc> = body["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(created, event.created_at);

    let signature = header(request, SIGNATURE_HEADER);
    let secret = Secret::new(SECRET.to_owned());
    let now = Utc::now();
    verify_signature(&secret, signature, &request.body, now, TOLERANCE).unwrap();

    let other = Secret::new("whsec_someone_else".to_owned());
    let err = verify_signature(&other, signature, &request.body, now, TOLERANCE).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    let mut tampered = request.body.clone();
    let at = tampered.iter().position(|b| *b == b'1').unwrap();
    tampered[at] = b'2';
    assert!(verify_signature(&secret, signature, &tampered, now, TOLERANCE).is_err());

    let replayed_at = now + chrono::Duration::minutes(10);
    let err =
        verify_signature(&secret, signature, &request.body, replayed_at, TOLERANCE).unwrap_err();
    assert!(err.to_string().contains("tolerance"), "{err}");
}

#[tokio::test]
async fn a_server_error_is_retried_and_then_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("try again"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&server)
        .await;
    let hooks = notifier(&[hook_url(&server)]);
    let event = event();
    let report = hooks.deliver(&event).await.unwrap();
    assert_eq!(report.endpoints[0].attempts, 2);
    assert_eq!(report.endpoints[0].status, 204);

    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(header(&requests[0], ATTEMPT_HEADER), "1");
    assert_eq!(header(&requests[1], ATTEMPT_HEADER), "2");
    // The same event (id and body), each attempt signed on its own.
    assert_eq!(header(&requests[1], EVENT_ID_HEADER), event.id);
    assert_eq!(requests[0].body, requests[1].body);
    let secret = Secret::new(SECRET.to_owned());
    for r in &requests {
        verify_signature(
            &secret,
            header(r, SIGNATURE_HEADER),
            &r.body,
            Utc::now(),
            TOLERANCE,
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("unknown event type"))
        .mount(&server)
        .await;
    let hooks = notifier(&[hook_url(&server)]);
    let err = hooks.deliver(&event()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other, "{err:?}");
    let detail = err.detailed_message();
    assert!(detail.contains("after 1 attempt(s)"), "{detail}");
    assert!(detail.contains("HTTP 400: unknown event type"), "{detail}");
    assert!(!detail.contains("path-secret"), "{detail}");
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let hooks = notifier(&[hook_url(&server)]);
    let started = Instant::now();
    let report = hooks.deliver(&event()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.endpoints[0].attempts, 2);
    // The base delay is 10 ms: only Retry-After explains a wait of a second.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn a_retry_after_longer_than_the_max_delay_ends_the_delivery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;
    let hooks = WebhookNotifier::builder()
        .with_url(hook_url(&server))
        .with_secret(SECRET)
        .with_base_delay(Duration::from_millis(10))
        .with_max_delay(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = hooks.deliver(&event()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn outages_use_every_attempt_then_fail_transiently() {
    let server = receiver(503).await;
    let hooks = notifier(&[hook_url(&server)]);
    let err = hooks.deliver(&event()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    assert!(err.detailed_message().contains("after 4 attempt(s)"));
    assert_eq!(received(&server).await.len(), 4);

    // Nothing listening: transport errors are retried the same way.
    let unreachable = notifier(&["http://127.0.0.1:9/hook".to_owned()]);
    let err = unreachable.deliver(&event()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    assert!(err.detailed_message().contains("after 4 attempt(s)"));
}

#[tokio::test]
async fn every_endpoint_gets_the_event() {
    let first = receiver(200).await;
    let second = receiver(202).await;
    let hooks = notifier(&[hook_url(&first), hook_url(&second)]);
    let report = hooks.deliver(&event()).await.unwrap();
    let statuses: Vec<u16> = report.endpoints.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [200, 202]);
    assert_eq!(received(&first).await.len(), 1);
    assert_eq!(received(&second).await.len(), 1);

    // One failing endpoint fails the delivery, the other still gets the event.
    let broken = receiver(404).await;
    let hooks = notifier(&[hook_url(&broken), hook_url(&first)]);
    let err = hooks.deliver(&event()).await.unwrap_err();
    assert!(err.detailed_message().contains(&broken.uri()), "{err:?}");
    assert_eq!(received(&first).await.len(), 2);
}

async fn wait_for_requests(server: &MockServer, count: usize) -> Vec<Request> {
    for _ in 0..200 {
        let requests = received(server).await;
        if requests.len() >= count {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the receiver did not get {count} request(s)");
}

#[tokio::test]
async fn notify_returns_before_the_delivery_and_maps_kinds_to_event_types() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(800)))
        .mount(&server)
        .await;
    let hooks = notifier(&[hook_url(&server)]);
    let user_id = UserId::new();
    let kinds = [
        NotificationKind::Published,
        NotificationKind::Failed,
        NotificationKind::Unconfirmed,
        NotificationKind::ConnectionNeedsReauth,
    ];
    let started = Instant::now();
    let mut notes = Vec::new();
    for kind in kinds {
        let note = quflux_core::Notification {
            kind,
            ..notification_for(user_id)
        };
        hooks.notify(&note).await.unwrap();
        notes.push(note);
    }
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "notify waited for the receiver: {:?}",
        started.elapsed()
    );
    let requests = wait_for_requests(&server, 4).await;
    for note in &notes {
        let request = requests
            .iter()
            .find(|r| header(r, EVENT_ID_HEADER) == note.id.to_string())
            .expect("one request per notification");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], event_type(note.kind));
        assert_eq!(body["data"]["user_id"], note.user_id.to_string().as_str());
        assert_eq!(body["data"]["title"], note.title.as_str());
    }
    let types: Vec<&str> = kinds.iter().map(|k| event_type(*k)).collect();
    assert_eq!(
        types,
        [
            "publication.published",
            "publication.failed",
            "publication.unconfirmed",
            "connection.needs_reauth"
        ]
    );
}

#[tokio::test]
async fn send_event_delivers_lifecycle_events_in_the_background() {
    let server = receiver(200).await;
    let hooks = notifier(&[hook_url(&server)]);
    let sent = hooks
        .send_event("schedule.cancelled", json!({"schedule_id": "s-9"}))
        .await
        .unwrap();
    let requests = wait_for_requests(&server, 1).await;
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["id"], sent.id.as_str());
    assert_eq!(body["type"], "schedule.cancelled");
    assert_eq!(body["data"], json!({"schedule_id": "s-9"}));
    let err = hooks.send_event("Bad Type", Value::Null).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "event_type"));
}

#[tokio::test]
async fn webhooks_pass_the_notifier_conformance_suite() {
    let server = receiver(200).await;
    let hooks = notifier(&[hook_url(&server)]);
    quflux_core::testkit::notifier::run_all(&hooks).await;
    // 8 notifications of every kind plus 7 with odd content, all delivered and signed.
    let requests = wait_for_requests(&server, 15).await;
    let secret = Secret::new(SECRET.to_owned());
    for r in &requests {
        verify_signature(
            &secret,
            header(r, SIGNATURE_HEADER),
            &r.body,
            Utc::now(),
            TOLERANCE,
        )
        .unwrap();
    }
}
