//! Crash tests on PostgreSQL with real worker processes that are SIGKILLed mid-run.
//!
//! The worker processes are this test binary itself, re-executed with `--ignored --exact
//! <entry>` and the settings in environment variables; the `#[ignore]`d entry points below do
//! nothing unless those variables are set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use quflux::services::{
    NotificationService, PUBLISH_JOB, PostService, PublisherRegistry, PublishingService,
    RetryConfig, ScheduleRequest, SchedulingConfig, SchedulingService,
};
use quflux::store::fs::FsBlobStore;
use quflux::store::postgres::PostgresStore;
use quflux::worker::{JobHandler, JobOutcome, Worker, WorkerConfig};
use quflux::{
    Clock, ConnectionId, ConnectionStatus, Job, JobQueue, NewJob, Platform, PlatformConnection,
    PostContent, PublicationFilter, PublicationStatus, Secret, SystemClock, TokenCipher, User,
};
use sqlx::{Connection, Executor, PgConnection};

const CHILD_DB: &str = "QUFLUX_CRASH_CHILD_DB";
const CHILD_OUTBOX: &str = "QUFLUX_CRASH_CHILD_OUTBOX";

/// A database of its own, dropped at the end.
struct TestDb {
    server: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> Option<TestDb> {
        let server = quflux::testkit::env("QUFLUX_TEST_POSTGRES_URL")?;
        let name = format!("quflux_crash_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&server).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
        let base = server
            .rsplit_once('/')
            .map_or(server.as_str(), |(b, _)| b)
            .to_owned();
        Some(TestDb {
            url: format!("{base}/{name}"),
            server,
            name,
        })
    }

    async fn drop_db(&self) {
        if let Ok(mut conn) = PgConnection::connect(&self.server).await {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                .await;
        }
    }
}

fn spawn_child(entry: &str, envs: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        entry,
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

async fn until(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "{what}: not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------- queue crash test

/// Records every run, and the job's effect once: `crash_runs` has a primary key on the job id.
#[derive(Debug)]
struct RecordRun {
    pool: sqlx::PgPool,
    worker: String,
}

#[async_trait]
impl JobHandler for RecordRun {
    async fn handle(&self, job: &Job) -> JobOutcome {
        tokio::time::sleep(Duration::from_millis(15)).await;
        let id = *job.id.as_uuid();
        let r = async {
            sqlx::query("INSERT INTO crash_attempts (job_id, worker) VALUES ($1, $2)")
                .bind(id)
                .bind(&self.worker)
                .execute(&self.pool)
                .await?;
            // Idempotent effect: a re-run after a crash finds the row and does nothing.
            sqlx::query("INSERT INTO crash_runs (job_id, worker) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING")
                .bind(id)
                .bind(&self.worker)
                .execute(&self.pool)
                .await
        }
        .await;
        match r {
            Ok(_) => JobOutcome::Done,
            Err(e) => JobOutcome::Failed {
                error: e.to_string(),
                retry_at: Some(Utc::now()),
            },
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "entry point of the worker processes of killed_queue_workers_lose_nothing_and_run_nothing_twice"]
async fn queue_crash_worker_process() {
    let Ok(url) = std::env::var(CHILD_DB) else {
        return;
    };
    let store = Arc::new(
        PostgresStore::builder()
            .with_url(&url)
            .with_max_connections(4)
            .build()
            .await
            .unwrap(),
    );
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let worker = format!("pid-{}", std::process::id());
    let config = WorkerConfig {
        queues: vec!["crash".into()],
        concurrency: 4,
        claim_batch: 4,
        lease: Duration::from_secs(2),
        max_idle: Duration::from_secs(1),
        ..WorkerConfig::default()
    };
    let handle = Worker::new(store, config)
        .with_handler("record", Arc::new(RecordRun { pool, worker }))
        .spawn();
    // Runs until killed.
    tokio::time::sleep(Duration::from_secs(600)).await;
    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_queue_workers_lose_nothing_and_run_nothing_twice() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = PostgresStore::open(&db.url).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    pool.execute("CREATE TABLE crash_runs (job_id uuid PRIMARY KEY, worker text NOT NULL)")
        .await
        .unwrap();
    pool.execute("CREATE TABLE crash_attempts (job_id uuid NOT NULL, worker text NOT NULL)")
        .await
        .unwrap();
    let n = 5_000u64;
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob::new("crash", "record", serde_json::json!({ "i": i }), Utc::now()))
        .collect();
    store.enqueue_batch(jobs).await.unwrap();

    let envs = [(CHILD_DB, db.url.as_str())];
    let entry = "queue_crash_worker_process";
    let mut children: Vec<Child> = (0..3).map(|_| spawn_child(entry, &envs)).collect();
    // Kill worker 0 several times while it is working, restarting it each time.
    let mut kills = 0;
    let mut last_kill = Instant::now();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        children[0].kill().unwrap();
        children[0].wait().unwrap();
        kills += 1;
        last_kill = Instant::now();
        children[0] = spawn_child(entry, &envs);
    }
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    until(Duration::from_secs(120), "every job ran", async || {
        count("SELECT count(*) FROM crash_runs").await == n as i64
            && count("SELECT count(*) FROM jobs").await == 0
    })
    .await;
    let after_last_kill = last_kill.elapsed();
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(kills, 4);
    assert!(
        after_last_kill < Duration::from_secs(90),
        "the killed worker's jobs ran again within 90 s (leases are 2 s)"
    );
    assert_eq!(
        count("SELECT count(*) FROM crash_runs").await,
        n as i64,
        "every job's effect happened exactly once"
    );
    assert_eq!(
        count("SELECT count(*) FROM jobs").await,
        0,
        "nothing left claimed or queued"
    );
    let attempts = count("SELECT count(*) FROM crash_attempts").await;
    let reruns = count("SELECT count(*) FROM (SELECT job_id FROM crash_attempts GROUP BY job_id HAVING count(*) > 1) r").await;
    eprintln!("{n} jobs, {attempts} runs, {reruns} jobs re-run after a kill");
    assert!(attempts >= n as i64);
    pool.close().await;
    store.close().await;
    db.drop_db().await;
}

// ---------------------------------------------------------------- publishing crash test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "entry point of the worker processes of killed_publishing_workers_neither_duplicate_nor_lose_a_post"]
async fn publishing_crash_worker_process() {
    let (Ok(url), Ok(outbox)) = (std::env::var(CHILD_DB), std::env::var(CHILD_OUTBOX)) else {
        return;
    };
    let store: Arc<dyn quflux::store::Database> = Arc::new(
        PostgresStore::builder()
            .with_url(&url)
            .with_max_connections(4)
            .build()
            .await
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dir = std::path::Path::new(&outbox)
        .parent()
        .unwrap()
        .join("media");
    let publisher = quflux::platforms::outbox::OutboxPublisher::builder()
        .with_path(&outbox)
        .with_platform(Platform::Mastodon)
        .build()
        .unwrap();
    let publishing = Arc::new(
        PublishingService::new(
            quflux::store::publishing_stores(&store),
            Arc::new(FsBlobStore::new(dir).unwrap()),
            store.clone(),
            PublisherRegistry::new().with(Arc::new(publisher)),
            NotificationService::new(vec![], clock.clone()),
            clock,
        )
        .with_retry(RetryConfig {
            base_delay: Duration::from_millis(20),
            ..RetryConfig::default()
        }),
    );
    let config = WorkerConfig {
        concurrency: 4,
        claim_batch: 4,
        lease: Duration::from_secs(2),
        max_idle: Duration::from_secs(1),
        ..WorkerConfig::default()
    };
    let handle = Worker::new(store, config)
        .with_handler(PUBLISH_JOB, publishing)
        .spawn();
    tokio::time::sleep(Duration::from_secs(600)).await;
    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_publishing_workers_neither_duplicate_nor_lose_a_post() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store: Arc<dyn quflux::store::Database> =
        Arc::new(PostgresStore::open(&db.url).await.unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.jsonl");
    let posts = PostService::new(store.clone(), store.clone(), clock.clone());
    let scheduling = SchedulingService::new(
        posts.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        SchedulingConfig {
            min_gap: Duration::ZERO,
            ..SchedulingConfig::default()
        },
    );
    let user = User::new("crash@example.com", "UTC", clock.now());
    store.insert_user(&user).await.unwrap();
    let cipher = quflux::cipher::AesGcmCipher::random("k");
    store
        .insert_connection(&PlatformConnection {
            id: ConnectionId::new(),
            user_id: user.id,
            platform: Platform::Mastodon,
            platform_user_id: "1".into(),
            platform_username: "crash".into(),
            access_token: cipher.encrypt(&Secret::new("t".into())).unwrap(),
            refresh_token: None,
            expires_at: None,
            scopes: vec![],
            status: ConnectionStatus::Active,
            metadata: serde_json::json!({}),
            version: 0,
            created_at: clock.now(),
            updated_at: clock.now(),
        })
        .await
        .unwrap();
    let n = 300;
    for i in 0..n {
        let post = posts
            .create(user.id, PostContent::text(format!("crash-safe post {i}")))
            .await
            .unwrap();
        // Due shortly after it is scheduled, however long scheduling takes on a busy machine.
        let due = Utc::now() + chrono::Duration::seconds(2);
        scheduling
            .schedule(
                user.id,
                ScheduleRequest {
                    post_id: post.id,
                    local_time: due.naive_utc(),
                    time_zone: "UTC".into(),
                    platforms: vec![Platform::Mastodon],
                },
            )
            .await
            .unwrap();
    }
    let outbox_s = outbox.display().to_string();
    let envs = [
        (CHILD_DB, db.url.as_str()),
        (CHILD_OUTBOX, outbox_s.as_str()),
    ];
    let entry = "publishing_crash_worker_process";
    let mut children: Vec<Child> = (0..3).map(|_| spawn_child(entry, &envs)).collect();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        children[0].kill().unwrap();
        children[0].wait().unwrap();
        children[0] = spawn_child(entry, &envs);
    }
    let filter = PublicationFilter {
        status: Some(PublicationStatus::Published),
        limit: Some(1000),
        ..Default::default()
    };
    until(
        Duration::from_secs(120),
        "every post published",
        async || {
            store
                .list_publications(user.id, &filter)
                .await
                .unwrap()
                .len()
                == n as usize
        },
    )
    .await;
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let entries = common::outbox_entries(&outbox);
    let texts: HashSet<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts.len(), n as usize, "no post missing");
    assert_eq!(entries.len(), n as usize, "no post published twice");
    assert_eq!(
        store.stats(quflux::PUBLISHING_QUEUE).await.unwrap().running,
        0,
        "nothing left claimed"
    );
    db.drop_db().await;
}

// ---------------------------------------------------------------- server restart test

/// A PostgreSQL cluster this test creates in a temporary directory and may restart at will.
struct OwnCluster {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl OwnCluster {
    fn pg(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).stdin(Stdio::null()).output().unwrap()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn ctl(&self, action: &str) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let out = self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &opts,
                "-m",
                "immediate",
                "-w",
                action,
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `None` (with a printed skip) where no PostgreSQL server binaries are installed; CI fails instead.
    fn create() -> Option<OwnCluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .find(|p| p.join("pg_ctl").exists())
        });
        let Some(bin) = bin else {
            quflux::testkit::env("QUFLUX_TEST_PG_SERVER_BINARIES_FOUND");
            return None;
        };
        let as_postgres = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        let dir = tempfile::Builder::new()
            .prefix("quflux-pg-")
            .tempdir()
            .unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = 54_000 + (std::process::id() % 1000) as u16;
        let cluster = OwnCluster {
            bin,
            dir,
            port,
            as_postgres,
        };
        let out = cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.ctl("start");
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.pg("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_reconnect_after_postgres_restarts_and_finish_with_nothing_lost() {
    // Only where the other PostgreSQL tests run (and so always in CI).
    if quflux::testkit::env("QUFLUX_TEST_POSTGRES_URL").is_none() {
        return;
    }
    let Some(cluster) = OwnCluster::create() else {
        return;
    };
    let url = cluster.url();
    let store = Arc::new(PostgresStore::open(&url).await.unwrap());
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    pool.execute("CREATE TABLE crash_runs (job_id uuid PRIMARY KEY, worker text NOT NULL)")
        .await
        .unwrap();
    pool.execute("CREATE TABLE crash_attempts (job_id uuid NOT NULL, worker text NOT NULL)")
        .await
        .unwrap();
    let n = 2_000u64;
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| {
            NewJob::new("crash", "record", serde_json::json!({ "i": i }), Utc::now())
                .with_max_attempts(50)
        })
        .collect();
    store.enqueue_batch(jobs).await.unwrap();
    let config = WorkerConfig {
        queues: vec!["crash".into()],
        concurrency: 4,
        claim_batch: 4,
        lease: Duration::from_secs(2),
        max_idle: Duration::from_secs(1),
        ..WorkerConfig::default()
    };
    let handler = Arc::new(RecordRun {
        pool: pool.clone(),
        worker: "in-process".into(),
    });
    let worker = Worker::new(store.clone(), config)
        .with_handler("record", handler)
        .spawn();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap_or(-1)
        }
    };
    until(Duration::from_secs(60), "some jobs ran", async || {
        count("SELECT count(*) FROM crash_runs").await > 200
    })
    .await;
    // A crash-restart of the server (immediate mode: no clean shutdown) in the middle of the run.
    cluster.ctl("restart");
    until(
        Duration::from_secs(120),
        "every job ran after the restart",
        async || {
            count("SELECT count(*) FROM crash_runs").await == n as i64
                && count("SELECT count(*) FROM jobs").await == 0
        },
    )
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!(
        count("SELECT count(*) FROM crash_runs").await,
        n as i64,
        "nothing lost"
    );
    assert_eq!(
        count("SELECT count(*) FROM jobs WHERE state = 'dead'").await,
        0,
        "nothing dead-lettered"
    );
    pool.close().await;
    store.close().await;
}
