//! Strict mode: one job claimed, handled and settled in one transaction.

use super::*;
use quflux_core::worker::JobOutcome;
use sqlx::PgConnection;

/// The handler's own write: a row in `cache_store` (any table would do).
async fn write_marker(conn: &mut PgConnection, key: &str) {
    sqlx::query(
        "INSERT INTO cache_store (key, value, created_at, updated_at) VALUES ($1, '1', now(), now())",
    )
    .bind(key)
    .execute(conn)
    .await
    .unwrap();
}

async fn marker_exists(store: &PostgresStore, key: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cache_store WHERE key = $1)")
        .bind(key)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_completed_strict_job_commits_with_the_handlers_writes() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let id = store
        .enqueue(NewJob::new("strict", "k", json!({ "n": 1 }), t0()))
        .await
        .unwrap()
        .id;
    let handled = store
        .run_strict(&q("strict"), "w", async |job, conn| {
            assert_eq!(job.attempts, 1, "the handler sees this attempt counted");
            assert_eq!(job.state, JobState::Running);
            write_marker(conn, "done-1").await;
            JobOutcome::Done
        })
        .await
        .unwrap();
    assert_eq!(handled, Some(id));
    assert_eq!(store.get_job(id).await.unwrap(), None, "the job is gone");
    assert!(
        marker_exists(&store, "done-1").await,
        "and the write is there"
    );
    assert_eq!(
        store
            .run_strict(&q("strict"), "w", async |_, _| JobOutcome::Done)
            .await
            .unwrap(),
        None,
        "nothing left to run"
    );
}

#[tokio::test]
async fn a_failed_strict_job_undoes_the_handlers_writes_and_records_the_failure() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let id = store
        .enqueue(NewJob::new("strict", "k", json!(1), t0()).with_max_attempts(2))
        .await
        .unwrap()
        .id;
    for (round, expected) in [(1, JobState::Queued), (2, JobState::Dead)] {
        store
            .run_strict(&q("strict"), "w", async |_, conn| {
                write_marker(conn, "failed").await;
                JobOutcome::Failed {
                    error: format!("boom {round}"),
                    retry_at: Some(t0()),
                }
            })
            .await
            .unwrap();
        assert!(
            !marker_exists(&store, "failed").await,
            "the write was undone"
        );
        let job = store.get_job(id).await.unwrap().unwrap();
        assert_eq!(job.state, expected);
        assert_eq!(job.attempts, round);
        assert_eq!(job.last_error, Some(format!("boom {round}")));
        assert_eq!((job.lease_token, job.locked_by), (None, None));
    }
}

#[tokio::test]
async fn a_strict_retry_later_does_not_count_the_attempt() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let id = store
        .enqueue(NewJob::new("strict", "k", json!(1), t0()).with_max_attempts(1))
        .await
        .unwrap()
        .id;
    let later = Utc::now() + TimeDelta::hours(1);
    store
        .run_strict(&q("strict"), "w", async |_, conn| {
            write_marker(conn, "later").await;
            JobOutcome::RetryAt(later)
        })
        .await
        .unwrap();
    let job = store.get_job(id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    assert_eq!(job.run_at, later.duration_trunc_micros());
    assert!(!marker_exists(&store, "later").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_strict_claims_hold_their_job_and_a_dropped_one_gives_it_back() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let other = db.store().await;
    let a = store
        .enqueue(NewJob::new("strict", "k", json!("a"), t0()).with_priority(1))
        .await
        .unwrap()
        .id;
    let b = store
        .enqueue(NewJob::new("strict", "k", json!("b"), t0()))
        .await
        .unwrap()
        .id;

    let mut first = store
        .claim_strict(&q("strict"), "w1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.job().id, a, "highest priority first");
    write_marker(first.conn(), "dropped").await;
    let second = other
        .claim_strict(&q("strict"), "w2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        second.job().id,
        b,
        "an open strict claim is skipped, not waited for"
    );
    assert!(
        other
            .claim(&q("strict"), "w3", 10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty(),
        "leased claims skip strict claims too"
    );
    let seen = other.get_job(a).await.unwrap().unwrap();
    assert_eq!(
        (seen.state, seen.attempts),
        (JobState::Queued, 0),
        "others see the job as it was"
    );

    drop(first);
    second.release().await.unwrap();
    // A dropped transaction is rolled back by the pool as the connection comes back, on a task.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!marker_exists(&store, "dropped").await);
    let again = store
        .claim(&q("strict"), "w", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(),
        vec![(a, 1), (b, 1)],
        "dropped and released strict claims are due again, their attempt not counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_workers_on_tasks_run_each_job_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db
        .builder()
        .with_max_connections(6)
        .with_auto_migrate(true)
        .build()
        .await
        .unwrap();
    let jobs = (0..60)
        .map(|n| NewJob::new("strict", "k", json!(n), t0()))
        .collect();
    store.enqueue_batch(jobs).await.unwrap();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ran = Vec::new();
                while let Some(id) = store
                    .run_strict(&q("strict"), &format!("w{w}"), async |job, conn| {
                        write_marker(conn, &job.id.to_string()).await;
                        JobOutcome::Done
                    })
                    .await
                    .unwrap()
                {
                    ran.push(id);
                }
                ran
            })
        })
        .collect();
    let mut ran = Vec::new();
    for worker in workers {
        ran.extend(worker.await.unwrap());
    }
    let distinct: std::collections::HashSet<_> = ran.iter().collect();
    assert_eq!((ran.len(), distinct.len()), (60, 60));
    let markers: i64 = sqlx::query_scalar("SELECT count(*) FROM cache_store")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(markers, 60);
}

trait TruncMicros {
    fn duration_trunc_micros(self) -> Self;
}

impl TruncMicros for DateTime<Utc> {
    fn duration_trunc_micros(self) -> Self {
        use chrono::DurationRound;
        self.duration_trunc(TimeDelta::microseconds(1)).unwrap()
    }
}
