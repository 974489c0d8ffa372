//! The worker runtime on the in-memory queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::memory::InMemoryQueue;
use quflux_core::worker::{JobHandler, JobOutcome, Worker, WorkerConfig};
use quflux_core::{Job, JobQueue, JobState, NewJob};

#[derive(Debug, Default)]
struct Recorder {
    runs: AtomicUsize,
    running: AtomicUsize,
    max_running: AtomicUsize,
    hang: bool,
    sleep: Duration,
    fail: bool,
}

#[async_trait]
impl JobHandler for Recorder {
    async fn handle(&self, _job: &Job) -> JobOutcome {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.sleep).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        if self.fail {
            JobOutcome::Failed {
                error: "boom".into(),
                retry_at: Some(Utc::now()),
            }
        } else {
            JobOutcome::Done
        }
    }
}

fn config(queue: &str) -> WorkerConfig {
    WorkerConfig {
        queues: vec![queue.into()],
        ..WorkerConfig::default()
    }
}

fn job(queue: &str) -> NewJob {
    NewJob::new(queue, "test", serde_json::json!({}), Utc::now())
}

async fn until(limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_wakes_an_idle_worker_instead_of_waiting_for_a_poll() {
    let queue = Arc::new(InMemoryQueue::new());
    let rec = Arc::new(Recorder::default());
    // The idle sleep is a minute: only a wake-up can make the job run within the test.
    let cfg = WorkerConfig {
        max_idle: Duration::from_secs(60),
        ..config("wake")
    };
    let worker = Worker::new(queue.clone(), cfg)
        .with_handler("test", rec.clone())
        .spawn();
    tokio::time::sleep(Duration::from_millis(100)).await;
    queue.enqueue(job("wake")).await.unwrap();
    until(Duration::from_secs(10), || {
        rec.runs.load(Ordering::SeqCst) == 1
    })
    .await;
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_job_runs_when_due_without_an_enqueue() {
    let queue = Arc::new(InMemoryQueue::new());
    let rec = Arc::new(Recorder::default());
    let cfg = WorkerConfig {
        max_idle: Duration::from_secs(60),
        ..config("due")
    };
    queue
        .enqueue(job("due").with_run_at(Utc::now() + chrono::Duration::milliseconds(300)))
        .await
        .unwrap();
    let worker = Worker::new(queue.clone(), cfg)
        .with_handler("test", rec.clone())
        .spawn();
    until(Duration::from_secs(10), || {
        rec.runs.load(Ordering::SeqCst) == 1
    })
    .await;
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_and_every_job_runs_once() {
    let queue = Arc::new(InMemoryQueue::new());
    let rec = Arc::new(Recorder {
        sleep: Duration::from_millis(20),
        ..Default::default()
    });
    let jobs: Vec<NewJob> = (0..40).map(|_| job("bounded")).collect();
    queue.enqueue_batch(jobs).await.unwrap();
    let cfg = WorkerConfig {
        concurrency: 3,
        ..config("bounded")
    };
    let worker = Worker::new(queue.clone(), cfg)
        .with_handler("test", rec.clone())
        .spawn();
    until(Duration::from_secs(20), || {
        rec.runs.load(Ordering::SeqCst) == 40
    })
    .await;
    worker.shutdown().await.unwrap();
    assert!(rec.max_running.load(Ordering::SeqCst) <= 3);
    assert_eq!(rec.runs.load(Ordering::SeqCst), 40);
    let stats = queue.stats("bounded").await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_is_taken_again_after_its_lease() {
    let queue = Arc::new(InMemoryQueue::new());
    let hanging = Arc::new(Recorder {
        hang: true,
        ..Default::default()
    });
    let lease = Duration::from_millis(300);
    let first = Worker::new(
        queue.clone(),
        WorkerConfig {
            lease,
            ..config("lease")
        },
    )
    .with_handler("test", hanging.clone())
    .spawn();
    queue.enqueue(job("lease")).await.unwrap();
    until(Duration::from_secs(10), || {
        hanging.runs.load(Ordering::SeqCst) == 1
    })
    .await;
    // Renewals keep the lease alive while the worker lives.
    tokio::time::sleep(lease * 2).await;
    assert_eq!(queue.stats("lease").await.unwrap().running, 1);
    first.kill();
    let rec = Arc::new(Recorder::default());
    let second = Worker::new(
        queue.clone(),
        WorkerConfig {
            lease,
            ..config("lease")
        },
    )
    .with_handler("test", rec.clone())
    .spawn();
    until(Duration::from_secs(10), || {
        rec.runs.load(Ordering::SeqCst) == 1
    })
    .await;
    second.shutdown().await.unwrap();
    assert_eq!(queue.stats("lease").await.unwrap().running, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_running_handlers_finish() {
    let queue = Arc::new(InMemoryQueue::new());
    let rec = Arc::new(Recorder {
        sleep: Duration::from_millis(300),
        ..Default::default()
    });
    queue.enqueue(job("graceful")).await.unwrap();
    let worker = Worker::new(queue.clone(), config("graceful"))
        .with_handler("test", rec.clone())
        .spawn();
    until(Duration::from_secs(10), || {
        rec.runs.load(Ordering::SeqCst) == 1
    })
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!(
        rec.running.load(Ordering::SeqCst),
        0,
        "the handler finished"
    );
    let stats = queue.stats("graceful").await.unwrap();
    assert_eq!(
        (stats.queued, stats.running),
        (0, 0),
        "and its job was completed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_jobs_are_retried_then_dead_lettered_and_unknown_kinds_too() {
    let queue = Arc::new(InMemoryQueue::new());
    let rec = Arc::new(Recorder {
        fail: true,
        ..Default::default()
    });
    let failing = queue
        .enqueue(job("fail").with_max_attempts(3))
        .await
        .unwrap();
    let unknown = queue
        .enqueue(NewJob::new(
            "fail",
            "nobody-handles-this",
            serde_json::json!({}),
            Utc::now(),
        ))
        .await
        .unwrap();
    let worker = Worker::new(queue.clone(), config("fail"))
        .with_handler("test", rec.clone())
        .spawn();
    until(Duration::from_secs(10), || {
        rec.runs.load(Ordering::SeqCst) == 3
    })
    .await;
    let q = queue.clone();
    let start = Instant::now();
    loop {
        let a = q.get_job(failing.id).await.unwrap().unwrap();
        let b = q.get_job(unknown.id).await.unwrap().unwrap();
        if a.state == JobState::Dead && b.state == JobState::Dead {
            assert_eq!(a.last_error.as_deref(), Some("boom"));
            assert!(b.last_error.unwrap().contains("no handler"));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.shutdown().await.unwrap();
    assert_eq!(rec.runs.load(Ordering::SeqCst), 3);
}
