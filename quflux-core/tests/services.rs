//! Service-level tests on the in-memory implementations with a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{
    InMemoryBlobStore, InMemoryQueue, InMemoryStore, ManualClock, RecordingNotifier, StubPublisher,
};
use quflux_core::services::*;
use quflux_core::time::parse_local_time;
use quflux_core::*;

struct T {
    clock: Arc<ManualClock>,
    store: Arc<InMemoryStore>,
    queue: Arc<InMemoryQueue>,
    notifier: Arc<RecordingNotifier>,
    posts: PostService,
    scheduling: SchedulingService,
    stub: Arc<StubPublisher>,
    publishing: PublishingService,
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn setup_with(config: SchedulingConfig, stub: StubPublisher) -> T {
    let clock = Arc::new(ManualClock::new(utc("2026-03-20T10:00:00Z")));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let store = Arc::new(InMemoryStore::new());
    let queue = Arc::new(InMemoryQueue::with_clock(dyn_clock.clone()));
    let notifier = Arc::new(RecordingNotifier::new());
    let posts = PostService::new(store.clone(), store.clone(), dyn_clock.clone());
    let scheduling = SchedulingService::new(
        posts.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        queue.clone(),
        dyn_clock.clone(),
        config,
    );
    let stub = Arc::new(stub.with_clock(dyn_clock.clone()));
    let publishing = PublishingService::new(
        PublishingStores::from_store(store.clone()),
        Arc::new(InMemoryBlobStore::new()),
        queue.clone(),
        PublisherRegistry::new().with(stub.clone()),
        NotificationService::new(vec![notifier.clone()], dyn_clock.clone()),
        dyn_clock,
    )
    .with_retry(RetryConfig {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..Default::default()
    });
    T {
        clock,
        store,
        queue,
        notifier,
        posts,
        scheduling,
        stub,
        publishing,
    }
}

fn setup() -> T {
    setup_with(
        SchedulingConfig::default(),
        StubPublisher::new(Platform::Twitter),
    )
}

async fn user(t: &T, email: &str) -> User {
    let u = User::new(email, "Europe/Paris", t.clock.now());
    t.store.insert_user(&u).await.unwrap();
    let cipher = AesGcmCipher::random("k");
    for platform in Platform::ALL {
        let now = t.clock.now();
        t.store
            .insert_connection(&PlatformConnection {
                id: ConnectionId::new(),
                user_id: u.id,
                platform,
                platform_user_id: format!("id-{}", u.id),
                platform_username: "tester".into(),
                access_token: cipher.encrypt(&Secret::new("tok".into())).unwrap(),
                refresh_token: None,
                expires_at: None,
                scopes: vec![],
                status: ConnectionStatus::Active,
                metadata: serde_json::json!({}),
                version: 0,
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();
    }
    u
}

fn req(post_id: PostId, local: &str, zone: &str, platforms: &[Platform]) -> ScheduleRequest {
    ScheduleRequest {
        post_id,
        local_time: parse_local_time(local).unwrap(),
        time_zone: zone.into(),
        platforms: platforms.to_vec(),
    }
}

async fn nothing_written(t: &T, u: &User) {
    let all = t
        .store
        .list_schedules(
            u.id,
            utc("2000-01-01T00:00:00Z"),
            utc("2100-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert!(all.is_empty(), "no schedule written: {all:?}");
    assert!(t.queue.jobs().is_empty(), "nothing queued");
}

// ---------- bad input ----------

#[tokio::test]
async fn an_invalid_post_is_refused_with_every_violation_and_nothing_is_queued() {
    let t = setup();
    let u = user(&t, "a@example.com").await;
    let post = t
        .posts
        .create(u.id, PostContent::text("x".repeat(400)))
        .await
        .unwrap();
    let err = t
        .scheduling
        .schedule(
            u.id,
            req(
                post.id,
                "2026-03-21T09:00",
                "Europe/Paris",
                &[Platform::Twitter, Platform::Instagram],
            ),
        )
        .await
        .unwrap_err();
    let Error::Validation { violations } = err else {
        panic!("expected validation, got {err:?}")
    };
    let rules: Vec<&str> = violations.iter().map(|v| v.rule.as_str()).collect();
    assert!(rules.contains(&"twitter.text.too_long"), "{rules:?}");
    assert!(
        rules.iter().any(|r| r.starts_with("instagram.")),
        "every platform is checked: {rules:?}"
    );
    nothing_written(&t, &u).await;
}

#[tokio::test]
async fn unknown_platform_unknown_zone_past_time_and_no_platforms_are_clear_errors() {
    let t = setup();
    let u = user(&t, "b@example.com").await;
    let post = t
        .posts
        .create(u.id, PostContent::text("hello"))
        .await
        .unwrap();
    let e = "friendster".parse::<Platform>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("friendster"));

    let e = t
        .scheduling
        .schedule(
            u.id,
            req(
                post.id,
                "2026-03-21T09:00",
                "Mars/Olympus",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("time_zone"), "{e}");

    let e = t
        .scheduling
        .schedule(
            u.id,
            req(
                post.id,
                "2026-03-19T09:00",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("past"), "{e}");

    let e = t
        .scheduling
        .schedule(u.id, req(post.id, "2026-03-21T09:00", "Europe/Paris", &[]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    nothing_written(&t, &u).await;
}

#[tokio::test]
async fn scheduling_another_users_post_is_not_found_and_writes_nothing() {
    let t = setup();
    let alice = user(&t, "alice@example.com").await;
    let mallory = user(&t, "mallory@example.com").await;
    let post = t
        .posts
        .create(alice.id, PostContent::text("mine"))
        .await
        .unwrap();
    let e = t
        .scheduling
        .schedule(
            mallory.id,
            req(
                post.id,
                "2026-03-21T09:00",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        t.posts.get(mallory.id, post.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    nothing_written(&t, &mallory).await;
    nothing_written(&t, &alice).await;
}

#[tokio::test]
async fn empty_posts_and_foreign_media_are_refused() {
    let t = setup();
    let u = user(&t, "c@example.com").await;
    assert_eq!(
        t.posts
            .create(u.id, PostContent::text("   "))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    let mut content = PostContent::text("with media");
    content.media.push(MediaRef {
        media_id: MediaId::new(),
        alt_text: None,
    });
    assert_eq!(
        t.posts.create(u.id, content).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let posts = t
        .store
        .list_posts(u.id, &PostFilter::default())
        .await
        .unwrap();
    assert!(posts.is_empty());
}

// ---------- time ----------

#[tokio::test]
async fn moving_a_schedule_across_a_dst_change_keeps_its_wall_clock_time() {
    let t = setup_with(
        SchedulingConfig::default(),
        StubPublisher::new(Platform::Bluesky),
    );
    let u = user(&t, "d@example.com").await;
    let post = t
        .posts
        .create(u.id, PostContent::text("good morning"))
        .await
        .unwrap();
    let s = t
        .scheduling
        .schedule(
            u.id,
            req(
                post.id,
                "2026-03-28T09:00",
                "Europe/Paris",
                &[Platform::Bluesky],
            ),
        )
        .await
        .unwrap();
    assert_eq!(s.schedule.scheduled_at, utc("2026-03-28T08:00:00Z"));
    let moved = t
        .scheduling
        .move_to_date(
            u.id,
            s.schedule.id,
            NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        moved.schedule.local_time,
        parse_local_time("2026-03-30T09:00").unwrap()
    );
    assert_eq!(
        moved.schedule.scheduled_at,
        utc("2026-03-30T07:00:00Z"),
        "09:00 CEST"
    );
    let key = publish_job_key(s.schedule.id);
    let job = t
        .queue
        .jobs()
        .into_iter()
        .find(|j| j.unique_key.as_deref() == Some(key.as_str()))
        .unwrap();
    assert_eq!(
        job.run_at,
        utc("2026-03-30T07:00:00Z"),
        "the job moved with it"
    );
    assert_eq!(t.queue.jobs().len(), 1, "still one job for the schedule");
}

#[tokio::test]
async fn a_wall_time_in_the_spring_forward_gap_is_scheduled_after_the_gap() {
    let t = setup();
    let u = user(&t, "e@example.com").await;
    let post = t
        .posts
        .create(u.id, PostContent::text("gap"))
        .await
        .unwrap();
    let s = t
        .scheduling
        .schedule(
            u.id,
            req(
                post.id,
                "2026-03-29T02:30",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        s.schedule.scheduled_at,
        utc("2026-03-29T01:30:00Z"),
        "03:30 CEST"
    );
    assert_eq!(
        s.schedule.local_time,
        parse_local_time("2026-03-29T02:30").unwrap(),
        "what the user chose is kept"
    );
}

#[tokio::test]
async fn the_calendar_groups_by_day_in_the_requested_zone() {
    let t = setup_with(
        SchedulingConfig {
            min_gap: Duration::ZERO,
            ..Default::default()
        },
        StubPublisher::new(Platform::Twitter),
    );
    let u = user(&t, "f@example.com").await;
    let p1 = t
        .posts
        .create(u.id, PostContent::text("late evening in Paris"))
        .await
        .unwrap();
    let p2 = t
        .posts
        .create(u.id, PostContent::text("just after midnight in Paris"))
        .await
        .unwrap();
    // 23:30 and 00:30 Paris (CET, UTC+1) = 22:30Z and 23:30Z: one UTC day, two Paris days.
    t.scheduling
        .schedule(
            u.id,
            req(
                p1.id,
                "2026-03-21T23:30",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap();
    t.scheduling
        .schedule(
            u.id,
            req(
                p2.id,
                "2026-03-22T00:30",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap();
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let paris = t
        .scheduling
        .calendar(u.id, d("2026-03-21"), d("2026-03-23"), "Europe/Paris")
        .await
        .unwrap();
    assert_eq!(paris.len(), 3, "every day is present");
    assert_eq!(paris[0].entries.len(), 1);
    assert_eq!(paris[1].entries.len(), 1);
    assert_eq!(paris[1].entries[0].preview, "just after midnight in Paris");
    assert!(paris[2].entries.is_empty());
    let utc_view = t
        .scheduling
        .calendar(u.id, d("2026-03-21"), d("2026-03-22"), "UTC")
        .await
        .unwrap();
    assert_eq!(utc_view[0].entries.len(), 2, "both on 2026-03-21 in UTC");
    assert_eq!(
        t.scheduling
            .calendar(u.id, d("2026-03-22"), d("2026-03-21"), "UTC")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

// ---------- conflicts and caps ----------

#[tokio::test]
async fn posts_too_close_on_one_account_are_reported_or_refused() {
    let t = setup();
    let u = user(&t, "g@example.com").await;
    let p1 = t
        .posts
        .create(u.id, PostContent::text("one"))
        .await
        .unwrap();
    let p2 = t
        .posts
        .create(u.id, PostContent::text("two"))
        .await
        .unwrap();
    let p3 = t
        .posts
        .create(u.id, PostContent::text("three"))
        .await
        .unwrap();
    let first = t
        .scheduling
        .schedule(
            u.id,
            req(
                p1.id,
                "2026-03-21T09:00",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap();
    assert!(first.conflicts.is_empty());
    let second = t
        .scheduling
        .schedule(
            u.id,
            req(
                p2.id,
                "2026-03-21T09:02",
                "Europe/Paris",
                &[Platform::Twitter, Platform::Mastodon],
            ),
        )
        .await
        .unwrap();
    assert_eq!(second.conflicts.len(), 1, "same account within 5 minutes");
    assert_eq!(second.conflicts[0].platform, Platform::Twitter);
    assert_eq!(second.conflicts[0].gap_secs, 120);
    // Another account at the same time is fine.
    let third = t
        .scheduling
        .schedule(
            u.id,
            req(
                p3.id,
                "2026-03-21T09:01",
                "Europe/Paris",
                &[Platform::Linkedin],
            ),
        )
        .await
        .unwrap();
    assert!(third.conflicts.is_empty());
    let listed = t
        .scheduling
        .conflicts(
            u.id,
            utc("2026-03-21T00:00:00Z"),
            utc("2026-03-22T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let strict = setup_with(
        SchedulingConfig {
            conflict_policy: ConflictPolicy::Reject,
            ..Default::default()
        },
        StubPublisher::new(Platform::Twitter),
    );
    let v = user(&strict, "h@example.com").await;
    let a = strict
        .posts
        .create(v.id, PostContent::text("a"))
        .await
        .unwrap();
    let b = strict
        .posts
        .create(v.id, PostContent::text("b"))
        .await
        .unwrap();
    strict
        .scheduling
        .schedule(
            v.id,
            req(a.id, "2026-03-21T09:00", "UTC", &[Platform::Twitter]),
        )
        .await
        .unwrap();
    let e = strict
        .scheduling
        .schedule(
            v.id,
            req(b.id, "2026-03-21T09:04", "UTC", &[Platform::Twitter]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        strict.queue.jobs().len(),
        1,
        "the refused one was not queued"
    );
}

#[tokio::test]
async fn a_platform_daily_cap_refuses_the_post_beyond_it() {
    // Instagram publishes a per-account cap (content_publishing_limit).
    let platform = Platform::Instagram;
    let cap = rules::rules_for(platform)
        .daily_post_cap
        .expect("instagram has a daily cap");
    let t = setup_with(
        SchedulingConfig {
            min_gap: Duration::ZERO,
            ..Default::default()
        },
        StubPublisher::new(platform),
    );
    let u = user(&t, "i@example.com").await;
    let media = MediaFile {
        id: MediaId::new(),
        user_id: u.id,
        filename: "a.jpg".into(),
        content_type: "image/jpeg".into(),
        size_bytes: 10_000,
        storage_key: "m/a.jpg".into(),
        width: Some(1080),
        height: Some(1080),
        duration_secs: None,
        ai_generated: false,
        created_at: t.clock.now(),
    };
    t.store.insert_media(&media).await.unwrap();
    let content = PostContent {
        text: "daily #post".into(),
        media: vec![MediaRef {
            media_id: media.id,
            alt_text: Some("a".into()),
        }],
        ..Default::default()
    };
    for i in 0..cap {
        let p = t.posts.create(u.id, content.clone()).await.unwrap();
        let local = format!("2026-03-21T{:02}:{:02}", 6 + i / 30, (i % 30) * 2);
        t.scheduling
            .schedule(u.id, req(p.id, &local, "Europe/Paris", &[platform]))
            .await
            .unwrap();
    }
    let p = t.posts.create(u.id, content).await.unwrap();
    let e = t
        .scheduling
        .schedule(
            u.id,
            req(p.id, "2026-03-21T23:00", "Europe/Paris", &[platform]),
        )
        .await
        .unwrap_err();
    let Error::Validation { violations } = e else {
        panic!("expected validation, got {e:?}")
    };
    assert_eq!(violations[0].rule, format!("{platform}.schedule.daily_cap"));
    // The next day is fine.
    t.scheduling
        .schedule(
            u.id,
            req(p.id, "2026-03-22T09:00", "Europe/Paris", &[platform]),
        )
        .await
        .unwrap();
}

// ---------- publishing ----------

async fn due_schedule(t: &T, u: &User, platforms: &[Platform]) -> Scheduled {
    let post = t
        .posts
        .create(u.id, PostContent::text("ship it"))
        .await
        .unwrap();
    let local = (t.clock.now() + chrono::Duration::minutes(90)).naive_utc();
    let s = t
        .scheduling
        .schedule(
            u.id,
            ScheduleRequest {
                post_id: post.id,
                local_time: local,
                time_zone: "UTC".into(),
                platforms: platforms.to_vec(),
            },
        )
        .await
        .unwrap();
    t.clock.set(s.schedule.scheduled_at);
    s
}

async fn publication(t: &T, s: &Scheduled) -> Publication {
    t.store.get_publication(s.publications[0].id).await.unwrap()
}

fn kinds(t: &T) -> Vec<NotificationKind> {
    t.notifier.notifications().iter().map(|n| n.kind).collect()
}

#[tokio::test]
async fn a_due_schedule_is_published_once_and_the_user_is_told() {
    let t = setup();
    let u = user(&t, "j@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    let report = t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert!(report.next_run.is_none());
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    assert_eq!(p.attempts.len(), 1);
    assert_eq!(p.attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(
        p.platform_post_id,
        Some(t.stub.published()[0].platform_post_id.clone())
    );
    assert_eq!(kinds(&t), vec![NotificationKind::Published]);
    assert_eq!(
        t.store.get_schedule(s.schedule.id).await.unwrap().status,
        ScheduleStatus::Completed
    );
    assert_eq!(
        t.store.get_post(s.schedule.post_id).await.unwrap().status,
        PostStatus::Published
    );
    // Running the job again does nothing.
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(t.stub.publish_calls(), 1);
}

#[tokio::test]
async fn a_schedule_is_not_published_before_its_time() {
    let t = setup();
    let u = user(&t, "k@example.com").await;
    let post = t
        .posts
        .create(u.id, PostContent::text("later"))
        .await
        .unwrap();
    let s = t
        .scheduling
        .schedule(
            u.id,
            req(
                post.id,
                "2026-03-20T12:00",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap();
    let report = t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(report.next_run, Some(s.schedule.scheduled_at));
    assert_eq!(t.stub.publish_calls(), 0);
}

#[tokio::test]
async fn a_short_rate_limit_is_retried_inline_and_every_attempt_is_recorded() {
    let t = setup();
    let u = user(&t, "l@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    t.stub.push_error(Error::RateLimited {
        service: "twitter",
        retry_after: Some(Duration::from_millis(5)),
        source: None,
    });
    t.stub
        .push_error(Error::transient("twitter", "502 bad gateway"));
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    let outcomes: Vec<_> = p
        .attempts
        .iter()
        .map(|a| (a.number, a.outcome, a.error_kind))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (1, AttemptOutcome::Failed, Some(ErrorKind::RateLimited)),
            (2, AttemptOutcome::Failed, Some(ErrorKind::Transient)),
            (3, AttemptOutcome::Succeeded, None)
        ]
    );
    assert_eq!(t.stub.published().len(), 1);
}

#[tokio::test]
async fn a_long_rate_limit_window_requeues_the_job_instead_of_sleeping() {
    let t = setup();
    let u = user(&t, "m@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    t.stub.push_error(Error::RateLimited {
        service: "twitter",
        retry_after: Some(Duration::from_secs(900)),
        source: None,
    });
    let report = t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(
        report.next_run,
        Some(t.clock.now() + chrono::Duration::seconds(900))
    );
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Pending);
    assert_eq!(p.attempts.len(), 1);
    // 15 minutes later the job runs again and succeeds.
    t.clock.advance(Duration::from_secs(900));
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(
        publication(&t, &s).await.status,
        PublicationStatus::Published
    );
}

#[tokio::test]
async fn a_spent_rate_budget_requeues_without_sending_or_spending_an_attempt() {
    let t = setup();
    let u = user(&t, "budget@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    for _ in 0..3 {
        t.stub.push_admit(Err(Error::RateLimited {
            service: "twitter",
            retry_after: Some(Duration::from_secs(900)),
            source: None,
        }));
    }
    for _ in 0..3 {
        let report = t.publishing.publish_schedule(s.schedule.id).await.unwrap();
        assert_eq!(
            report.next_run,
            Some(t.clock.now() + chrono::Duration::seconds(900)),
            "requeued to when the budget frees"
        );
        let p = publication(&t, &s).await;
        assert_eq!(p.status, PublicationStatus::Pending);
        assert!(
            p.attempts.is_empty(),
            "no attempt is spent on a local budget"
        );
        assert_eq!(p.last_error_kind, Some(ErrorKind::RateLimited));
        t.clock.advance(Duration::from_secs(900));
    }
    assert_eq!(t.stub.publish_calls(), 0, "nothing was sent");
    // The budget frees: it publishes with its first attempt.
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    assert_eq!(p.attempts.len(), 1);
    assert_eq!(t.stub.admit_calls(), 4);
}

#[tokio::test]
async fn retries_stop_after_the_budget_and_the_user_can_retry_by_hand() {
    let t = setup();
    let u = user(&t, "n@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    for _ in 0..4 {
        t.stub.push_error(Error::transient("twitter", "503"));
    }
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Failed);
    assert_eq!(p.attempts.len(), 4, "1 attempt + max_retries 3");
    assert_eq!(kinds(&t), vec![NotificationKind::Failed]);
    assert_eq!(t.stub.publish_calls(), 4);

    let other = user(&t, "o@example.com").await;
    assert_eq!(
        t.publishing
            .retry_publication(other.id, p.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let retried = t.publishing.retry_publication(u.id, p.id).await.unwrap();
    assert_eq!(retried.status, PublicationStatus::Pending);
    assert!(
        t.queue
            .jobs()
            .iter()
            .any(|j| j.unique_key.as_deref() == Some(publish_job_key(s.schedule.id).as_str()))
    );
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    assert_eq!(p.attempts.len(), 5);
}

#[tokio::test]
async fn a_timeout_after_sending_is_settled_by_lookup_not_by_sending_again() {
    let t = setup();
    let u = user(&t, "p@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    t.stub.push_post_then_fail(Error::OutcomeUnknown {
        service: "twitter",
        source: "read timeout".into(),
    });
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    assert_eq!(p.attempts.len(), 1);
    assert_eq!(p.attempts[0].outcome, AttemptOutcome::ConfirmedByLookup);
    assert_eq!(t.stub.publish_calls(), 1, "never sent twice");
    assert_eq!(t.stub.published().len(), 1);
    assert_eq!(kinds(&t), vec![NotificationKind::Published]);
}

#[tokio::test]
async fn a_timeout_that_did_not_post_is_sent_again_after_lookup() {
    let t = setup();
    let u = user(&t, "q@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    t.stub.push_error(Error::OutcomeUnknown {
        service: "twitter",
        source: "connection reset".into(),
    });
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    let outcomes: Vec<_> = p.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            AttemptOutcome::NotPublishedByLookup,
            AttemptOutcome::Succeeded
        ]
    );
    assert_eq!(t.stub.published().len(), 1);
}

#[tokio::test]
async fn an_unknown_outcome_on_a_deduplicating_platform_is_resent_and_returns_the_first_post() {
    let t = setup();
    let u = user(&t, "dedup@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    // The first attempt posts, but the answer is lost.
    t.stub.push_post_then_fail(Error::OutcomeUnknown {
        service: "twitter",
        source: "read timeout".into(),
    });
    // The platform cannot be asked, but deduplicates an identical resend.
    t.stub.push_lookup(Ok(Lookup::ResendIsSafe {
        reason: "duplicate posts return the existing id".into(),
    }));
    let first = PublishedPost {
        platform_post_id: PlatformPostId::new("stub-1"),
        url: None,
        thread_ids: Vec::new(),
        published_at: t.clock.now(),
    };
    t.stub.push_result(Ok(first.clone()));
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    assert_eq!(p.platform_post_id, Some(first.platform_post_id.clone()));
    assert_eq!(t.stub.publish_calls(), 2, "resent once");
    let attempts: Vec<u32> = t.stub.requests().iter().map(|r| r.attempt).collect();
    assert_eq!(
        attempts,
        vec![1, 2],
        "the resend says it is a later attempt"
    );
    assert_eq!(
        t.stub.requests()[0].idempotency_key,
        t.stub.requests()[1].idempotency_key
    );
    assert_eq!(kinds(&t), vec![NotificationKind::Published]);
}

#[tokio::test]
async fn an_unknown_outcome_that_cannot_be_checked_becomes_unconfirmed_and_is_never_resent() {
    let t = setup_with(
        SchedulingConfig::default(),
        StubPublisher::new(Platform::Twitter).with_lookup_indeterminate(),
    );
    let u = user(&t, "r@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    t.stub.push_post_then_fail(Error::OutcomeUnknown {
        service: "twitter",
        source: "timeout".into(),
    });
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Unconfirmed);
    assert_eq!(p.attempts[0].outcome, AttemptOutcome::Unknown);
    assert_eq!(kinds(&t), vec![NotificationKind::Unconfirmed]);
    // The job running again (a retry, a restart) does not resend and does not nag.
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    t.publishing.retry_publication(u.id, p.id).await.unwrap();
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(t.stub.publish_calls(), 1);
    assert_eq!(kinds(&t), vec![NotificationKind::Unconfirmed]);
    // Only the user's explicit word sends it again.
    t.publishing.resend_unconfirmed(u.id, p.id).await.unwrap();
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(t.stub.publish_calls(), 2);
    assert_eq!(
        publication(&t, &s).await.status,
        PublicationStatus::Published
    );
}

#[tokio::test]
async fn an_attempt_left_publishing_by_a_dead_worker_is_settled_by_lookup() {
    let t = setup();
    let u = user(&t, "s@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    // A worker marked the attempt, sent the post, and died before recording the answer.
    let mut p = publication(&t, &s).await;
    let conn = t
        .store
        .find_active_connection(u.id, Platform::Twitter)
        .await
        .unwrap()
        .unwrap();
    let request = PublishRequest {
        publication_id: p.id,
        idempotency_key: p.idempotency_key.clone(),
        attempt: 1,
        text: "ship it".into(),
        thread: vec![],
        media: vec![],
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: Default::default(),
    };
    t.stub.publish(&conn, &request).await.unwrap();
    p.attempts.push(Attempt {
        number: 1,
        started_at: t.clock.now(),
        finished_at: None,
        outcome: AttemptOutcome::InProgress,
        platform_post_id: None,
        error_kind: None,
        error_message: None,
    });
    p.status = PublicationStatus::Publishing;
    t.store.update_publication(&p).await.unwrap();

    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    let p = publication(&t, &s).await;
    assert_eq!(p.status, PublicationStatus::Published);
    assert_eq!(p.attempts.len(), 1);
    assert_eq!(p.attempts[0].outcome, AttemptOutcome::ConfirmedByLookup);
    assert_eq!(t.stub.publish_calls(), 1, "the dead worker's call only");
}

#[tokio::test]
async fn an_expired_token_fails_the_publication_and_asks_the_user_to_reconnect_once() {
    let t = setup();
    let u = user(&t, "t@example.com").await;
    let s = due_schedule(&t, &u, &[Platform::Twitter]).await;
    t.stub.push_error(Error::AuthExpired {
        service: "twitter",
        source: None,
    });
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(publication(&t, &s).await.status, PublicationStatus::Failed);
    let conn = t
        .store
        .list_connections(u.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.platform == Platform::Twitter)
        .unwrap();
    assert_eq!(conn.status, ConnectionStatus::NeedsReauth);
    assert_eq!(
        kinds(&t),
        vec![
            NotificationKind::ConnectionNeedsReauth,
            NotificationKind::Failed
        ]
    );
    // The next schedule on that account fails fast without calling the platform or re-notifying reauth.
    let s2 = due_schedule(&t, &u, &[Platform::Twitter]).await;
    t.publishing.publish_schedule(s2.schedule.id).await.unwrap();
    assert_eq!(t.stub.publish_calls(), 1);
    assert_eq!(
        kinds(&t)
            .iter()
            .filter(|k| **k == NotificationKind::ConnectionNeedsReauth)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_cancelled_schedule_is_never_published() {
    let t = setup();
    let u = user(&t, "u@example.com").await;
    let post = t
        .posts
        .create(u.id, PostContent::text("never mind"))
        .await
        .unwrap();
    let s = t
        .scheduling
        .schedule(
            u.id,
            req(
                post.id,
                "2026-03-20T11:30",
                "Europe/Paris",
                &[Platform::Twitter],
            ),
        )
        .await
        .unwrap();
    t.scheduling.cancel(u.id, s.schedule.id).await.unwrap();
    t.clock.set(s.schedule.scheduled_at);
    t.publishing.publish_schedule(s.schedule.id).await.unwrap();
    assert_eq!(t.stub.publish_calls(), 0);
    assert_eq!(
        publication(&t, &s).await.status,
        PublicationStatus::Cancelled
    );
    assert_eq!(
        t.store.get_post(post.id).await.unwrap().status,
        PostStatus::Draft
    );
}
