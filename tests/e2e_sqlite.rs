//! End to end on the embedded default: SQLite store and queue, files, the outbox publisher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::{Env, outbox_entries};
use quflux::services::{ScheduleRequest, SchedulingConfig};
use quflux::{
    AttemptOutcome, JobQueue, Lookup, PUBLISHING_QUEUE, Platform, PlatformConnection,
    PlatformPostId, PostContent, PublicationFilter, PublicationStatus, PublicationStore,
    PublishRequest, PublishedPost, Publisher, Result,
};

const ZONES: [&str; 5] = [
    "America/New_York",
    "Europe/Paris",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
];

fn no_conflict_checks() -> SchedulingConfig {
    SchedulingConfig {
        min_gap: Duration::ZERO,
        ..SchedulingConfig::default()
    }
}

async fn schedule_many(
    env: &Env,
    user: &quflux::User,
    n: usize,
    window: Duration,
    lead: Duration,
) -> HashMap<String, DateTime<Utc>> {
    let base = env_now() + chrono::Duration::from_std(lead).unwrap();
    let mut due_by_text = HashMap::new();
    for i in 0..n {
        let zone = ZONES[i % ZONES.len()];
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let offset =
            chrono::Duration::milliseconds((window.as_millis() as i64 * i as i64) / n as i64);
        let due = base + offset;
        let text = format!("post number {i} scheduled in {zone}");
        let post = env
            .posts
            .create(user.id, PostContent::text(&text))
            .await
            .unwrap();
        let scheduled = env
            .scheduling
            .schedule(
                user.id,
                ScheduleRequest {
                    post_id: post.id,
                    local_time: due.with_timezone(&tz).naive_local(),
                    time_zone: zone.into(),
                    platforms: vec![Platform::Twitter],
                },
            )
            .await
            .unwrap();
        assert_eq!(
            scheduled.schedule.scheduled_at, due,
            "wall time in {zone} resolves back to the same instant"
        );
        due_by_text.insert(text, due);
    }
    due_by_text
}

fn env_now() -> DateTime<Utc> {
    Utc::now()
}

async fn wait_all_published(env: &Env, user: &quflux::User, n: usize, limit: Duration) {
    let started = Instant::now();
    loop {
        let filter = PublicationFilter {
            status: Some(PublicationStatus::Published),
            limit: Some(1000),
            ..Default::default()
        };
        let done = env
            .store
            .list_publications(user.id, &filter)
            .await
            .unwrap()
            .len();
        if done >= n {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "only {done}/{n} published after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_queue_empty(env: &Env) {
    let stats = env.store.stats(PUBLISHING_QUEUE).await.unwrap();
    assert_eq!(
        (stats.queued, stats.running, stats.dead),
        (0, 0, 0),
        "queue drained: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_posts_in_several_time_zones_publish_exactly_once_and_never_early() {
    let env = Env::new(no_conflict_checks()).await;
    let user = env
        .user_with_accounts("many@example.com", &[Platform::Twitter])
        .await;
    let n = 1000;
    let t0 = Instant::now();
    let due_by_text = schedule_many(
        &env,
        &user,
        n,
        Duration::from_secs(4),
        Duration::from_secs(12),
    )
    .await;
    eprintln!("scheduled {n} in {:?}", t0.elapsed());
    let publishing = env.publishing(vec![Arc::new(env.outbox(Platform::Twitter))]);
    let worker = env.worker(publishing, 16, Duration::from_secs(30));
    wait_all_published(&env, &user, n, Duration::from_secs(120)).await;
    worker.shutdown().await.unwrap();

    let entries = outbox_entries(&env.outbox_path);
    assert_eq!(entries.len(), n, "exactly one outbox line per post");
    let keys: HashSet<&str> = entries.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), n, "no duplicate publication");
    let texts: HashSet<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts.len(), n, "no post missing");
    for e in &entries {
        let due = due_by_text[&e.text];
        assert!(
            e.at >= due,
            "{} published at {} before its due time {}",
            e.text,
            e.at,
            due
        );
    }
    let pubs = env
        .store
        .list_publications(
            user.id,
            &PublicationFilter {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(pubs.len(), n);
    assert!(
        pubs.iter()
            .all(|p| p.status == PublicationStatus::Published && p.attempts.len() == 1)
    );
    assert_eq!(
        env.notifier.notifications().len(),
        n,
        "one success notification each"
    );
    assert_queue_empty(&env).await;
}

/// Sends the post to the outbox, then never answers: the worker dies (is killed) while the
/// request is "in flight", after the platform already has the post.
#[derive(Debug)]
struct HangsAfterSending {
    inner: quflux::platforms::outbox::OutboxPublisher,
    hang_first: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl Publisher for HangsAfterSending {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }
    async fn publish(&self, c: &PlatformConnection, r: &PublishRequest) -> Result<PublishedPost> {
        let published = self.inner.publish(c, r).await?;
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.hang_first {
            std::future::pending::<()>().await;
        }
        Ok(published)
    }
    async fn delete(&self, c: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        self.inner.delete(c, id).await
    }
    async fn lookup(&self, c: &PlatformConnection, r: &PublishRequest) -> Result<Lookup> {
        self.inner.lookup(c, r).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_mid_publish_and_restarted_loses_nothing_and_duplicates_nothing() {
    let env = Env::new(no_conflict_checks()).await;
    let user = env
        .user_with_accounts("crash@example.com", &[Platform::Twitter])
        .await;
    let n = 60;
    let hung = 8;
    schedule_many(
        &env,
        &user,
        n,
        Duration::from_secs(1),
        Duration::from_secs(2),
    )
    .await;

    // Worker 1 sends `hung` posts that never get an answer, then is killed abruptly.
    let crashing = Arc::new(HangsAfterSending {
        inner: env.outbox(Platform::Twitter),
        hang_first: hung,
        calls: AtomicUsize::new(0),
    });
    let lease = Duration::from_secs(1);
    let worker1 = env.worker(env.publishing(vec![crashing.clone()]), hung, lease);
    let started = Instant::now();
    while outbox_entries(&env.outbox_path).len() < hung {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "worker 1 never sent its posts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker1.kill();
    let stuck = env
        .store
        .list_publications(
            user.id,
            &PublicationFilter {
                status: Some(PublicationStatus::Publishing),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        stuck.len(),
        hung,
        "the killed worker left its in-flight attempts marked publishing"
    );

    // Worker 2, a fresh process-like instance with its own outbox reader, takes over.
    let worker2 = env.worker(
        env.publishing(vec![Arc::new(env.outbox(Platform::Twitter))]),
        8,
        lease,
    );
    wait_all_published(&env, &user, n, Duration::from_secs(60)).await;
    worker2.shutdown().await.unwrap();

    let entries = outbox_entries(&env.outbox_path);
    assert_eq!(entries.len(), n, "no duplicate and no missing post");
    let keys: HashSet<&str> = entries.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), n);
    let pubs = env
        .store
        .list_publications(
            user.id,
            &PublicationFilter {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let settled: Vec<_> = pubs
        .iter()
        .filter(|p| {
            p.attempts
                .iter()
                .any(|a| a.outcome == AttemptOutcome::ConfirmedByLookup)
        })
        .collect();
    assert_eq!(
        settled.len(),
        hung,
        "each interrupted attempt was settled by lookup, not re-sent"
    );
    for p in &settled {
        assert_eq!(p.attempts.len(), 1, "settled without a second attempt");
        let entry = entries
            .iter()
            .find(|e| e.idempotency_key == p.idempotency_key)
            .unwrap();
        assert_eq!(
            p.platform_post_id.as_ref().unwrap().as_str(),
            entry.platform_post_id
        );
    }
    assert_queue_empty(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_picks_up_schedules_written_before_it_started() {
    let env = Env::new(no_conflict_checks()).await;
    let user = env
        .user_with_accounts(
            "restart@example.com",
            &[Platform::Twitter, Platform::Mastodon],
        )
        .await;
    let post = env
        .posts
        .create(user.id, PostContent::text("survives restarts"))
        .await
        .unwrap();
    let due = Utc::now() + chrono::Duration::milliseconds(800);
    env.scheduling
        .schedule(
            user.id,
            ScheduleRequest {
                post_id: post.id,
                local_time: due.naive_utc(),
                time_zone: "UTC".into(),
                platforms: vec![Platform::Twitter, Platform::Mastodon],
            },
        )
        .await
        .unwrap();
    // Nothing runs until after the due time; then a worker starts from the durable queue.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let publishing = env.publishing(vec![
        Arc::new(env.outbox(Platform::Twitter)),
        Arc::new(env.outbox(Platform::Mastodon)),
    ]);
    let worker = env.worker(publishing, 4, Duration::from_secs(30));
    wait_all_published(&env, &user, 2, Duration::from_secs(20)).await;
    worker.shutdown().await.unwrap();
    assert_eq!(outbox_entries(&env.outbox_path).len(), 2);
    assert_queue_empty(&env).await;
}
