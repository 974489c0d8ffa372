//! The job queue beyond the conformance suite: batches, poison pills, wake-ups across stores.

use super::*;
use sqlx::Executor;

/// A store on `db` whose clock is `clock`.
async fn clocked(db: &TestDb, clock: &Arc<ManualClock>) -> PostgresStore {
    db.store().await.with_clock(clock.clone())
}

#[tokio::test]
async fn complete_batch_completes_held_claims_and_reports_stale_tokens_in_order() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let store = clocked(&db, &clock).await;
    let lease = Duration::from_secs(30);
    let jobs = (0..3)
        .map(|n| NewJob::new("batch", "k", json!(n), t0()).with_priority(-n))
        .collect();
    store.enqueue_batch(jobs).await.unwrap();
    let claimed = store.claim(&q("batch"), "w1", 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert_eq!(
        claimed
            .iter()
            .map(|j| j.payload.clone())
            .collect::<Vec<_>>(),
        vec![json!(0), json!(1), json!(2)],
        "a claimed batch comes back in claim order"
    );

    // The second job's lease expires and another worker takes it.
    clock.advance(Duration::from_secs(20));
    store.heartbeat(&claimed[0], lease).await.unwrap();
    store.heartbeat(&claimed[2], lease).await.unwrap();
    clock.advance(Duration::from_secs(15));
    let retaken = store.claim(&q("batch"), "w2", 10, lease).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].id, claimed[1].id);

    let claims: Vec<_> = claimed
        .iter()
        .map(|j| (j.id, j.lease_token.unwrap()))
        .collect();
    assert_eq!(
        store.complete_batch(&claims).await.unwrap(),
        vec![true, false, true]
    );
    assert_eq!(store.get_job(claimed[0].id).await.unwrap(), None);
    assert_eq!(
        store.get_job(claimed[1].id).await.unwrap().as_ref(),
        Some(&retaken[0]),
        "a stale claim changes nothing"
    );
    assert_eq!(
        store.complete_batch(&claims).await.unwrap(),
        vec![false, false, false],
        "completing twice completes nothing"
    );
    assert_eq!(
        store.complete_many(&retaken).await.unwrap(),
        vec![true],
        "complete_many is complete_batch"
    );
    assert!(store.complete_batch(&[]).await.unwrap().is_empty());
    assert_eq!(store.stats("batch").await.unwrap().running, 0);
}

#[tokio::test]
async fn an_expired_last_attempt_is_dead_lettered_keeping_the_previous_error() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let store = clocked(&db, &clock).await;
    let lease = Duration::from_secs(10);
    let id = store
        .enqueue(NewJob::new("poison", "k", json!({}), t0()).with_max_attempts(2))
        .await
        .unwrap()
        .id;
    let first = store.claim(&q("poison"), "w1", 1, lease).await.unwrap();
    store.fail(&first[0], "boom", Some(t0())).await.unwrap();
    let second = store.claim(&q("poison"), "w2", 1, lease).await.unwrap();
    assert_eq!(second[0].attempts, 2);
    clock.advance(Duration::from_secs(11));
    assert!(
        store
            .claim(&q("poison"), "w3", 1, lease)
            .await
            .unwrap()
            .is_empty(),
        "the last attempt's lease expired: not run again"
    );
    let dead = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!((dead.lease_token, dead.locked_by), (None, None));
    let error = dead.last_error.unwrap();
    assert!(
        error.contains("lease expired during attempt 2 of 2"),
        "{error}"
    );
    assert!(error.contains("worker w2"), "{error}");
    assert!(error.contains("previous error: boom"), "{error}");
    assert_eq!(
        store.complete(&second[0]).await.unwrap_err().kind(),
        ErrorKind::Conflict,
        "the presumed-dead worker cannot complete it"
    );
}

#[tokio::test]
async fn claims_span_queues_in_priority_order_and_skip_future_jobs() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let store = clocked(&db, &clock).await;
    let at = |s: i64| t0() + TimeDelta::seconds(s);
    store
        .enqueue_batch(vec![
            NewJob::new("a", "k", json!("a-low"), at(-30)),
            NewJob::new("b", "k", json!("b-high"), at(-10)).with_priority(5),
            NewJob::new("a", "k", json!("a-high"), at(-20)).with_priority(5),
            NewJob::new("b", "k", json!("b-future"), at(60)).with_priority(9),
            NewJob::new("c", "k", json!("c-other"), at(-60)).with_priority(9),
        ])
        .await
        .unwrap();
    let queues = vec!["a".to_owned(), "b".to_owned(), "a".to_owned()];
    let first = store
        .claim(&queues, "w", 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|j| j.payload.clone()).collect::<Vec<_>>(),
        vec![json!("a-high"), json!("b-high")]
    );
    let rest = store
        .claim(&queues, "w", 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|j| j.payload.clone()).collect::<Vec<_>>(),
        vec![json!("a-low")],
        "locked-but-unpicked rows of the first claim were released"
    );
    assert_eq!(
        store.next_wakeup(&queues).await.unwrap(),
        Some(t0() + TimeDelta::seconds(30)),
        "the leases expire before the future job"
    );
    for job in first.iter().chain(&rest) {
        store.complete(job).await.unwrap();
    }
    assert_eq!(store.next_wakeup(&queues).await.unwrap(), Some(at(60)));
}

#[tokio::test]
async fn next_wakeup_is_the_earliest_run_at_whatever_the_priorities() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let at = |s: i64| t0() + TimeDelta::seconds(s);
    let mut jobs = Vec::new();
    for (priority, offset) in [(10, 50), (3, 40), (3, 7), (0, 90), (-4, 20), (10, 8)] {
        jobs.push(NewJob::new("w", "k", json!(priority), at(offset)).with_priority(priority));
    }
    jobs.push(NewJob::new("other", "k", json!(0), at(1)));
    store.enqueue_batch(jobs).await.unwrap();
    assert_eq!(store.next_wakeup(&q("w")).await.unwrap(), Some(at(7)));
    assert_eq!(
        store
            .next_wakeup(&["w".to_owned(), "other".to_owned()])
            .await
            .unwrap(),
        Some(at(1))
    );
    assert_eq!(store.next_wakeup(&q("none")).await.unwrap(), None);
}

#[tokio::test]
async fn enqueue_batch_inserts_many_jobs_and_applies_unique_keys_in_order() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let mut jobs: Vec<NewJob> = (0..5_000)
        .map(|n| NewJob::new("bulk", "k", json!({ "n": n }), t0()))
        .collect();
    jobs.insert(
        10,
        NewJob::new("bulk", "k", json!("first"), t0()).with_unique_key("key"),
    );
    jobs.push(NewJob::new("bulk", "k", json!("second"), t0()).with_unique_key("key"));
    let started = Instant::now();
    let answers = store.enqueue_batch(jobs).await.unwrap();
    eprintln!("enqueue_batch of 5002 jobs took {:?}", started.elapsed());
    assert_eq!(answers.len(), 5_002);
    assert_eq!(answers[10].outcome, EnqueueOutcome::Inserted);
    assert_eq!(answers[5_001].outcome, EnqueueOutcome::Replaced);
    assert_eq!(answers[5_001].id, answers[10].id);
    assert_eq!(
        store
            .get_job(answers[10].id)
            .await
            .unwrap()
            .unwrap()
            .payload,
        json!("second")
    );
    assert_eq!(
        store
            .get_job(answers[4_000].id)
            .await
            .unwrap()
            .unwrap()
            .payload,
        json!({ "n": 3_999 })
    );
    assert_eq!(store.stats("bulk").await.unwrap().queued, 5_001);
}

#[tokio::test]
async fn a_unique_key_held_by_a_running_job_is_reported_inside_batches_too() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let id = store
        .enqueue(NewJob::new("u", "k", json!(1), t0()).with_unique_key("schedule:1"))
        .await
        .unwrap()
        .id;
    let running = store
        .claim(&q("u"), "w", 1, Duration::from_secs(60))
        .await
        .unwrap();
    let answers = store
        .enqueue_batch(vec![
            NewJob::new("u", "k", json!(2), t0()).with_unique_key("schedule:1"),
            NewJob::new("u", "k", json!(3), t0()),
        ])
        .await
        .unwrap();
    assert_eq!(answers[0].outcome, EnqueueOutcome::AlreadyRunning);
    assert_eq!(answers[0].id, id);
    assert_eq!(answers[1].outcome, EnqueueOutcome::Inserted);
    assert_eq!(
        store.get_job(id).await.unwrap().as_ref(),
        Some(&running[0]),
        "the running job is left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_single_enqueues_share_statements_but_fail_alone() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                for i in 0..50 {
                    // One job in the whole run cannot be stored: jsonb refuses `\u0000`.
                    let payload = if (t, i) == (3, 25) {
                        json!("nul \u{0}")
                    } else {
                        json!({ "t": t, "i": i })
                    };
                    let job = NewJob::new("group", "k", payload, t0());
                    results.push(store.enqueue(job).await);
                }
                results
            })
        })
        .collect();
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for task in tasks {
        for result in task.await.unwrap() {
            match result {
                Ok(enqueued) => ok.push(enqueued),
                Err(e) => failed.push(e.kind()),
            }
        }
    }
    assert_eq!(
        failed,
        vec![ErrorKind::InvalidInput],
        "only the bad job fails"
    );
    assert_eq!(ok.len(), 399);
    assert!(ok.iter().all(|e| e.outcome == EnqueueOutcome::Inserted));
    assert_eq!(store.stats("group").await.unwrap().queued, 399);
    let job = store.get_job(ok[10].id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.max_attempts),
        (JobState::Queued, 0, 5)
    );
}

/// Waits until `store` listens: the listener signals once it does.
async fn listening(store: &PostgresStore) {
    store.listen();
    store.wait_for_change(Duration::from_secs(10)).await;
    // Consume anything else pending.
    store.wait_for_change(Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_change_wakes_on_changes_made_by_another_process() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let writer = db.store().await;
    let waiter = db.store().await; // a pool of its own, as another process would have
    listening(&waiter).await;

    let timeout = Duration::from_secs(10);
    let started = Instant::now();
    let ((), enqueued) = tokio::join!(waiter.wait_for_change(timeout), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        writer.enqueue(NewJob::new("x", "k", json!(1), t0())).await
    });
    let elapsed = started.elapsed();
    enqueued.unwrap();
    assert!(
        elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(2),
        "woken by the other store's enqueue, well before the timeout (took {elapsed:?})"
    );

    let job = waiter
        .claim(&q("x"), "w", 1, Duration::from_secs(60))
        .await
        .unwrap()
        .remove(0);
    waiter.wait_for_change(Duration::from_millis(50)).await;
    let started = Instant::now();
    let ((), released) = tokio::join!(writer.wait_for_change(timeout), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        waiter.release(&job).await
    });
    released.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the writer, waiting for the first time, is woken by the other store's release"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_losing_its_connection() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let writer = db.store().await;
    let waiter = db.store().await;
    listening(&waiter).await;

    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(writer.pool())
    .await
    .unwrap();
    assert_eq!(
        killed,
        vec![true],
        "one listening connection was terminated"
    );
    // Losing the connection wakes waiters (notifications may have been lost meanwhile)...
    let started = Instant::now();
    waiter.wait_for_change(Duration::from_secs(10)).await;
    assert!(started.elapsed() < Duration::from_secs(8));
    // ... and once it listens again, notifications arrive again.
    let mut woken = false;
    for _ in 0..50 {
        waiter.wait_for_change(Duration::from_millis(20)).await;
        let started = Instant::now();
        let ((), enqueued) = tokio::join!(waiter.wait_for_change(Duration::from_secs(2)), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.enqueue(NewJob::new("y", "k", json!(1), t0())).await
        });
        enqueued.unwrap();
        if started.elapsed() < Duration::from_millis(1_500) {
            woken = true;
            break;
        }
    }
    assert!(woken, "notifications arrive after the reconnection");
    let listeners: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(writer.pool())
    .await
    .unwrap();
    assert_eq!(listeners, 1);
}

/// Not a benchmark (debug build, shared machine): a smoke test that the batched paths scale.
/// `cargo test -p quflux-store --all-features --release -- --ignored --nocapture drain` prints
/// the rates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow; prints throughput"]
async fn drain_throughput() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db
        .builder()
        .with_max_connections(8)
        .with_auto_migrate(true)
        .build()
        .await
        .unwrap();
    let n = 100_000;
    let started = Instant::now();
    for chunk in 0..10 {
        let jobs = (0..n / 10)
            .map(|i| NewJob::new("drain", "noop", json!({ "i": chunk * n + i }), t0()))
            .collect();
        store.enqueue_batch(jobs).await.unwrap();
    }
    let took = started.elapsed();
    eprintln!(
        "bulk enqueue: {n} jobs in {took:?} = {:.0} jobs/s",
        f64::from(n) / took.as_secs_f64()
    );
    store.pool().execute("VACUUM ANALYZE jobs").await.unwrap();

    let started = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut done = 0usize;
                let (mut tc, mut td) = (Duration::ZERO, Duration::ZERO);
                loop {
                    let t = Instant::now();
                    let jobs = store
                        .claim(&q("drain"), &format!("w{w}"), 500, Duration::from_secs(60))
                        .await
                        .unwrap();
                    tc += t.elapsed();
                    if jobs.is_empty() {
                        eprintln!("worker {w}: claim {tc:?}, complete {td:?}");
                        return done;
                    }
                    let t = Instant::now();
                    let ok = store.complete_many(&jobs).await.unwrap();
                    td += t.elapsed();
                    done += ok.iter().filter(|ok| **ok).count();
                }
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    let took = started.elapsed();
    eprintln!(
        "drain: {total} jobs in {took:?} = {:.0} jobs/s",
        total as f64 / took.as_secs_f64()
    );
    assert_eq!(total, n as usize);

    let started = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..1_000 {
                    store
                        .enqueue(NewJob::new("single", "noop", json!({ "i": i }), t0()))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let took = started.elapsed();
    eprintln!(
        "single enqueue from 10 tasks: 10000 jobs in {took:?} = {:.0} jobs/s",
        10_000.0 / took.as_secs_f64()
    );
}
