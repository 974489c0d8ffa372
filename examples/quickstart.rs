//! Quickstart: compose, validate, schedule and publish a post on the embedded default
//! (SQLite + local files + the outbox publisher). No setup, no network.
//!
//! ```bash
//! cargo run --example quickstart
//! ```
//!
//! Settings (optional): `QUFLUX_DATABASE_URL` (default `sqlite://quflux.db`; a
//! `postgres://user@host/db` URL runs the same on PostgreSQL),
//! `QUFLUX_OUTBOX_PATH` (default `quflux-outbox.jsonl`), `QUFLUX_FS_ROOT` (default
//! `quflux-media`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use quflux::cipher::AesGcmCipher;
use quflux::memory::RecordingNotifier;
use quflux::platforms::outbox::OutboxPublisher;
use quflux::services::{
    NotificationService, PUBLISH_JOB, PostService, PublisherRegistry, PublishingService,
    ScheduleRequest, SchedulingConfig, SchedulingService,
};
use quflux::store::fs::FsBlobStore;
use quflux::worker::{Worker, WorkerConfig};
use quflux::{
    Clock, ConnectionStatus, Error, Platform, PlatformConnection, PostContent, PublicationStatus,
    Secret, SystemClock, TokenCipher, User,
};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let database_url = env_or("QUFLUX_DATABASE_URL", "sqlite://quflux.db");
    let outbox_path = env_or("QUFLUX_OUTBOX_PATH", "quflux-outbox.jsonl");
    let media_dir = env_or("QUFLUX_FS_ROOT", "quflux-media");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    println!("== Quflux quickstart");
    println!("database: {database_url}\noutbox:   {outbox_path}\n");
    // One URL picks the backend: sqlite://… (embedded, the default) or postgres://….
    let store = quflux::store::open(&database_url).await?;
    let blobs = Arc::new(FsBlobStore::new(&media_dir)?);
    // Tokens are encrypted at rest. A real deployment configures a persistent key.
    let cipher = AesGcmCipher::random("quickstart");

    // 1. A user (the same one on every run).
    let user = match store.find_user_by_email("ada@example.com").await? {
        Some(u) => u,
        None => {
            let u = User::new("ada@example.com", "Europe/Paris", clock.now());
            store.insert_user(&u).await?;
            u
        }
    };
    println!("user:     {} ({}, {})", user.email, user.id, user.time_zone);

    // 2. A connected X account. Its "platform" is the local outbox.
    let connection = match store
        .find_active_connection(user.id, Platform::Twitter)
        .await?
    {
        Some(c) => c,
        None => {
            let now = clock.now();
            let c = PlatformConnection {
                id: quflux::ConnectionId::new(),
                user_id: user.id,
                platform: Platform::Twitter,
                platform_user_id: "outbox-ada".into(),
                platform_username: "ada".into(),
                access_token: cipher.encrypt(&Secret::new("demo-access-token".to_owned()))?,
                refresh_token: None,
                expires_at: None,
                scopes: vec!["tweet.write".into()],
                status: ConnectionStatus::Active,
                metadata: serde_json::json!({ "destination": outbox_path }),
                version: 0,
                created_at: now,
                updated_at: now,
            };
            store.insert_connection(&c).await?;
            c
        }
    };
    println!(
        "account:  @{} on {} ({:?})\n",
        connection.platform_username, connection.platform, connection.access_token
    );

    // 3. Services.
    let posts = PostService::new(store.clone(), store.clone(), clock.clone());
    let scheduling = SchedulingService::new(
        posts.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        SchedulingConfig::default(),
    );
    let recorder = Arc::new(RecordingNotifier::new());
    let notifications = NotificationService::new(vec![recorder.clone()], clock.clone());
    let outbox = OutboxPublisher::builder()
        .with_path(&outbox_path)
        .with_platform(Platform::Twitter)
        .build()?;
    let publishing = Arc::new(PublishingService::new(
        quflux::store::publishing_stores(&store),
        blobs,
        store.clone(),
        PublisherRegistry::new().with(Arc::new(outbox)),
        notifications,
        clock.clone(),
    ));

    // 4. Compose a post that is too long for X and see exactly why.
    let too_long = "Quflux schedules posts across X, LinkedIn, Facebook, Instagram, Bluesky and Mastodon, \
                    checks every platform's rules before anything is sent, keeps your wall-clock time across \
                    daylight-saving changes, and never loses or duplicates a post even when a worker dies \
                    mid-publish. 🚀 Read more at https://example.com/quflux/introducing-the-scheduler";
    let post = posts.create(user.id, PostContent::text(too_long)).await?;
    println!(
        "composed post {} ({} chars)",
        post.id,
        too_long.chars().count()
    );
    let local_time = (clock.now() + chrono::Duration::seconds(3))
        .with_timezone(&chrono_tz::Europe::Paris)
        .naive_local();
    let request = ScheduleRequest {
        post_id: post.id,
        local_time,
        time_zone: "Europe/Paris".into(),
        platforms: vec![Platform::Twitter],
    };
    match scheduling.schedule(user.id, request.clone()).await {
        Err(Error::Validation { violations }) => {
            println!("scheduling refused, nothing queued:");
            for v in &violations {
                println!("  - {}: {}", v.rule, v.message);
            }
        }
        other => return Err(format!("expected a validation error, got {other:?}").into()),
    }

    // 5. Fix it and schedule it 3 seconds ahead, in Paris time.
    let fixed = PostContent::text(
        "Quflux checks every platform's rules before sending, keeps your wall-clock time across DST, \
         and never loses or duplicates a post. 🚀 https://example.com/quflux",
    );
    let post = posts
        .update(user.id, post.id, fixed, Some(post.version))
        .await?;
    for v in posts
        .validate(user.id, &post.content, &[Platform::Twitter])
        .await?
    {
        println!(
            "\nfixed: {} is {}/{} weighted characters, {} violation(s)",
            v.platform,
            v.length,
            v.limit,
            v.violations.len()
        );
    }
    let scheduled = scheduling
        .schedule(
            user.id,
            ScheduleRequest {
                local_time,
                ..request
            },
        )
        .await?;
    let s = &scheduled.schedule;
    println!(
        "scheduled {} for {} {} (= {} UTC) on {:?}",
        s.id,
        s.local_time.format("%Y-%m-%d %H:%M:%S"),
        s.time_zone,
        s.scheduled_at.format("%H:%M:%S"),
        s.platforms
    );

    // 6. Run a worker until it is published.
    let worker = Worker::new(store.clone(), WorkerConfig::default())
        .with_handler(PUBLISH_JOB, publishing.clone())
        .spawn();
    println!("\nworker running; waiting for the schedule to come due...");
    let publication_id = scheduled.publications[0].id;
    let started = Instant::now();
    let publication = loop {
        let p = store.get_publication(publication_id).await?;
        if p.status.is_final() || p.status == PublicationStatus::Unconfirmed {
            break p;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the post was not published within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.shutdown().await?;

    println!("\npublication {}:", publication.id);
    println!("  status:           {}", publication.status.as_str());
    println!(
        "  platform post id: {}",
        publication
            .platform_post_id
            .as_ref()
            .map(|p| p.as_str())
            .unwrap_or("-")
    );
    println!(
        "  published at:     {}",
        publication
            .published_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    );
    println!("  due at:           {}", s.scheduled_at.to_rfc3339());
    for a in &publication.attempts {
        println!(
            "  attempt {}: {:?} (started {})",
            a.number,
            a.outcome,
            a.started_at.format("%H:%M:%S%.3f")
        );
    }
    for n in recorder.notifications() {
        println!(
            "\nnotification [{}] {}\n  {}",
            n.kind.as_str(),
            n.title,
            n.message
        );
    }
    println!("\nthe post is in {outbox_path}");
    if publication.status != PublicationStatus::Published {
        return Err(format!("publication ended {}", publication.status.as_str()).into());
    }
    Ok(())
}
