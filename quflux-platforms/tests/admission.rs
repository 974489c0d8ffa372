//! Rate-budget admission end to end: the X publisher behind a real `PublishingService`. A
//! schedule that comes due while the account's X budget is spent is requeued to the budget's
//! reset without an attempt and without a request, and publishes once the reset has passed.
#![cfg(all(feature = "twitter", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{
    InMemoryBlobStore, InMemoryCache, InMemoryQueue, InMemoryStore, ManualClock, RecordingNotifier,
};
use quflux_core::services::{
    NotificationService, PostService, PublisherRegistry, PublishingService, PublishingStores,
    ScheduleRequest, SchedulingConfig, SchedulingService,
};
use quflux_core::testkit::fixtures::{publish_request, user};
use quflux_core::{
    Cache, Clock, ErrorKind, Platform, PostContent, PublicationStatus, Publisher, Secret, UserStore,
};
use quflux_platforms::common::{
    ConnectedAccount, ConnectionService, HttpConfig, RateBudgets, TokenManager, TokenSet,
};
use quflux_platforms::standin::twitter::{USER, XFault, XStandIn};
use quflux_platforms::twitter::{XConfig, XConnector, XPublisher};

/// The wall-clock time, whole seconds (X's rate-limit resets are epoch seconds).
fn now_whole_seconds() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap()
}

#[tokio::test]
async fn a_schedule_due_while_the_x_budget_is_spent_waits_for_the_reset_without_an_attempt() {
    let standin = XStandIn::start().await;
    let clock = Arc::new(ManualClock::new(now_whole_seconds()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let store = Arc::new(InMemoryStore::new());
    let cache = Arc::new(InMemoryCache::with_clock(clock.clone()));
    let queue = Arc::new(InMemoryQueue::with_clock(dyn_clock.clone()));
    let notifications =
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], dyn_clock.clone());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("test")),
        notifications.clone(),
        dyn_clock.clone(),
    ));
    let config = XConfig::new("quflux-test-client", "https://app.example/cb")
        .with_api_base(standin.uri())
        .with_http(HttpConfig::default().with_timeout(Duration::from_secs(3)));
    let connector = Arc::new(XConnector::new(config.clone()).unwrap());
    let publisher = Arc::new(
        XPublisher::new(
            config,
            tokens.clone(),
            connector.clone(),
            RateBudgets::new(cache.clone(), dyn_clock.clone()),
        )
        .unwrap(),
    );
    let posts = PostService::new(store.clone(), store.clone(), dyn_clock.clone());
    let scheduling = SchedulingService::new(
        posts.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        queue.clone(),
        dyn_clock.clone(),
        SchedulingConfig::default(),
    );
    let publishing = PublishingService::new(
        PublishingStores::from_store(store.clone()),
        Arc::new(InMemoryBlobStore::new()),
        queue,
        PublisherRegistry::new().with(publisher.clone()),
        notifications,
        dyn_clock.clone(),
    );

    // A user with an X connection.
    let u = user();
    store.insert_user(&u).await.unwrap();
    let (access, refresh, _) = standin.issue_tokens();
    let connection = ConnectionService::new(tokens.clone(), cache.clone() as Arc<dyn Cache>)
        .with_connector(connector)
        .save(
            u.id,
            vec![ConnectedAccount {
                platform: Platform::Twitter,
                platform_user_id: USER.0.to_owned(),
                username: USER.2.to_owned(),
                tokens: TokenSet {
                    access_token: Secret::new(access),
                    refresh_token: Some(Secret::new(refresh)),
                    expires_in: Some(Duration::from_secs(7200)),
                    scopes: vec![],
                },
                metadata: serde_json::json!({}),
            }],
        )
        .await
        .unwrap()
        .remove(0);

    // A post scheduled 30 seconds from now.
    let post = posts
        .create(u.id, PostContent::text("Quflux waits for the X budget"))
        .await
        .unwrap();
    let scheduled = scheduling
        .schedule(
            u.id,
            ScheduleRequest {
                post_id: post.id,
                local_time: (clock.now() + chrono::Duration::seconds(30)).naive_utc(),
                time_zone: "UTC".into(),
                platforms: vec![Platform::Twitter],
            },
        )
        .await
        .unwrap();

    // Another post from the same account meets a 429: the budget is spent until its reset.
    standin.inject_fault(XFault::RateLimited);
    let throttled = publisher
        .publish(&connection, &publish_request("posted elsewhere"))
        .await
        .unwrap_err();
    assert_eq!(throttled.kind(), ErrorKind::RateLimited, "{throttled:?}");
    let reset = clock.now() + chrono::Duration::from_std(throttled.retry_after().unwrap()).unwrap();
    assert!(
        reset > scheduled.schedule.scheduled_at,
        "still spent when due"
    );
    let (requests, creates) = (standin.request_count(), standin.create_requests());

    // Due while the budget is spent: requeued to the reset, nothing sent, no attempt.
    clock.set(scheduled.schedule.scheduled_at);
    let report = publishing
        .publish_schedule(scheduled.schedule.id)
        .await
        .unwrap();
    assert_eq!(report.next_run, Some(reset), "requeued to the budget reset");
    let p = &report.publications[0];
    assert_eq!(p.status, PublicationStatus::Pending);
    assert!(p.attempts.is_empty(), "no attempt spent: {:?}", p.attempts);
    assert_eq!(p.last_error_kind, Some(ErrorKind::RateLimited));
    assert_eq!(
        standin.request_count(),
        requests,
        "no request at the stand-in"
    );
    assert_eq!(standin.create_requests(), creates);

    // Once the clock passes the reset, the job publishes with its first attempt.
    clock.set(reset + chrono::Duration::seconds(1));
    let report = publishing
        .publish_schedule(scheduled.schedule.id)
        .await
        .unwrap();
    assert!(report.next_run.is_none(), "{report:?}");
    let p = &report.publications[0];
    assert_eq!(p.status, PublicationStatus::Published, "{p:?}");
    assert_eq!(p.attempts.len(), 1);
    assert_eq!(standin.create_requests(), creates + 1);
    let held = standin.posts();
    assert!(
        held.iter()
            .any(|h| h.text == "Quflux waits for the X budget"
                && Some(h.id.as_str()) == p.platform_post_id.as_ref().map(|id| id.as_str())),
        "{held:?}"
    );
}
