//! The job queue and the cache.

use super::*;

#[tokio::test]
async fn cache_honours_ttl_on_read_and_purges() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = SqliteStore::in_memory()
        .await
        .unwrap()
        .with_clock(clock.clone());
    store
        .set("a", &json!({"v": 1}), Some(Duration::from_secs(10)))
        .await
        .unwrap();
    store.set("b", &json!("forever"), None).await.unwrap();
    store
        .set("huge", &json!(3), Some(Duration::MAX))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(9));
    assert_eq!(
        Cache::get(&store, "a").await.unwrap(),
        Some(json!({"v": 1}))
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(Cache::get(&store, "a").await.unwrap(), None);
    assert_eq!(store.purge_expired().await.unwrap(), 1);
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    assert_eq!(
        Cache::get(&store, "b").await.unwrap(),
        Some(json!("forever"))
    );
    assert_eq!(Cache::get(&store, "huge").await.unwrap(), Some(json!(3)));
    store
        .set("b", &json!(2), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(Cache::get(&store, "b").await.unwrap(), Some(json!(2)));
    Cache::delete(&store, "b").await.unwrap();
    Cache::delete(&store, "b").await.unwrap();
    assert_eq!(Cache::get(&store, "b").await.unwrap(), None);
}

#[tokio::test]
async fn leases_expire_and_fence_the_previous_holder() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = SqliteStore::in_memory()
        .await
        .unwrap()
        .with_clock(clock.clone());
    let later = t0() + TimeDelta::minutes(5);
    let id = store
        .enqueue(NewJob::new("lease", "k", json!({}), later))
        .await
        .unwrap()
        .id;
    assert!(
        store
            .claim(&q("lease"), "w", 1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_wakeup(&q("lease")).await.unwrap(), Some(later));

    clock.advance(Duration::from_secs(300));
    let first = store
        .claim(&q("lease"), "w1", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].id, first[0].attempts, first[0].state),
        (id, 1, JobState::Running)
    );
    assert_eq!(first[0].locked_by.as_deref(), Some("w1"));
    assert_eq!(first[0].lease_until, Some(later + TimeDelta::seconds(30)));
    assert_eq!(
        store.next_wakeup(&q("lease")).await.unwrap(),
        Some(later + TimeDelta::seconds(30))
    );
    assert_eq!(store.get_job(id).await.unwrap().as_ref(), Some(&first[0]));

    clock.advance(Duration::from_secs(20));
    store
        .heartbeat(&first[0], Duration::from_secs(30))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(29));
    assert!(
        store
            .claim(&q("lease"), "w2", 1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(Duration::from_secs(1));
    let second = store
        .claim(&q("lease"), "w2", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(second[0].attempts, 2);
    assert_ne!(second[0].lease_token, first[0].lease_token);

    for result in [
        store.heartbeat(&first[0], Duration::from_secs(1)).await,
        store.complete(&first[0]).await,
        store.retry_later(&first[0], t0()).await,
        store.release(&first[0]).await,
        store.fail(&first[0], "x", None).await.map(|_| ()),
    ] {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Conflict);
    }
    assert_eq!(
        store.get_job(id).await.unwrap().unwrap().lease_token,
        second[0].lease_token
    );
    store.complete(&second[0]).await.unwrap();
    assert_eq!(store.get_job(id).await.unwrap(), None);
    assert_eq!(store.next_wakeup(&q("lease")).await.unwrap(), None);
}

#[tokio::test]
async fn failures_retries_and_releases_follow_the_contract() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = SqliteStore::in_memory()
        .await
        .unwrap()
        .with_clock(clock.clone());
    let lease = Duration::from_secs(60);
    store
        .enqueue(NewJob::new("f", "k", json!(1), t0()).with_max_attempts(2))
        .await
        .unwrap();

    let job = store.claim(&q("f"), "w", 1, lease).await.unwrap().remove(0);
    let retry_at = t0() + TimeDelta::seconds(10);
    assert_eq!(
        store.fail(&job, "boom", Some(retry_at)).await.unwrap(),
        JobState::Queued
    );
    let stored = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.run_at, stored.attempts, stored.last_error.as_deref()),
        (retry_at, 1, Some("boom"))
    );
    assert_eq!((stored.lease_token, stored.locked_by), (None, None));

    clock.advance(Duration::from_secs(10));
    let job = store.claim(&q("f"), "w", 1, lease).await.unwrap().remove(0);
    assert_eq!(job.attempts, 2);
    store
        .retry_later(&job, t0() + TimeDelta::seconds(20))
        .await
        .unwrap();
    let stored = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!((stored.attempts, stored.state), (1, JobState::Queued));

    clock.advance(Duration::from_secs(10));
    let job = store.claim(&q("f"), "w", 1, lease).await.unwrap().remove(0);
    clock.advance(Duration::from_secs(5));
    store.release(&job).await.unwrap();
    let stored = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.attempts, stored.run_at),
        (1, t0() + TimeDelta::seconds(20)),
        "release never delays"
    );

    let job = store.claim(&q("f"), "w", 1, lease).await.unwrap().remove(0);
    assert_eq!(
        store.fail(&job, "final", Some(retry_at)).await.unwrap(),
        JobState::Dead
    );
    let stats = store.stats("f").await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 1));
    assert!(
        store
            .claim(&q("f"), "w", 1, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_wakeup(&q("f")).await.unwrap(), None);

    // Without retry_at a failure is final at once.
    store
        .enqueue(NewJob::new("f2", "k", json!(1), t0()))
        .await
        .unwrap();
    let job = store
        .claim(&q("f2"), "w", 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        store.fail(&job, "nope", None).await.unwrap(),
        JobState::Dead
    );
}

#[tokio::test]
async fn unique_keys_insert_replace_or_leave_running_jobs_alone() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = SqliteStore::in_memory()
        .await
        .unwrap()
        .with_clock(clock.clone());
    let job = |n: i32| {
        NewJob::new("u", "k", json!({"n": n}), t0())
            .with_unique_key("schedule-1")
            .with_max_attempts(1)
    };

    let first = store.enqueue(job(1)).await.unwrap();
    assert_eq!(first.outcome, EnqueueOutcome::Inserted);
    let replaced = store.enqueue(job(2).with_priority(7)).await.unwrap();
    assert_eq!(
        (replaced.id, replaced.outcome),
        (first.id, EnqueueOutcome::Replaced)
    );
    let stored = store.get_job(first.id).await.unwrap().unwrap();
    assert_eq!((stored.payload, stored.priority), (json!({"n": 2}), 7));

    let claimed = store
        .claim(&q("u"), "w", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let running = store.enqueue(job(3)).await.unwrap();
    assert_eq!(
        (running.id, running.outcome),
        (first.id, EnqueueOutcome::AlreadyRunning)
    );
    assert_eq!(
        store.get_job(first.id).await.unwrap().unwrap().payload,
        json!({"n": 2})
    );

    assert_eq!(
        store.fail(&claimed[0], "dead", None).await.unwrap(),
        JobState::Dead
    );
    let revived = store.enqueue(job(4)).await.unwrap();
    assert_eq!(
        (revived.id, revived.outcome),
        (first.id, EnqueueOutcome::Replaced)
    );
    let stored = store.get_job(first.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.attempts, stored.payload),
        (JobState::Queued, 0, json!({"n": 4}))
    );

    let claimed = store
        .claim(&q("u"), "w", 10, Duration::from_secs(60))
        .await
        .unwrap();
    store.complete(&claimed[0]).await.unwrap();
    assert_eq!(
        store.enqueue(job(5)).await.unwrap().outcome,
        EnqueueOutcome::Inserted
    );

    // In a batch, a later duplicate replaces the earlier one.
    let batch = store
        .enqueue_batch(vec![
            NewJob::new("u", "k", json!(1), t0()).with_unique_key("b"),
            NewJob::new("u", "k", json!(2), t0()),
            NewJob::new("u", "k", json!(3), t0()).with_unique_key("b"),
        ])
        .await
        .unwrap();
    let outcomes: Vec<_> = batch.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            EnqueueOutcome::Inserted,
            EnqueueOutcome::Inserted,
            EnqueueOutcome::Replaced
        ]
    );
    assert_eq!(batch[0].id, batch[2].id);
    assert_eq!(
        store.get_job(batch[0].id).await.unwrap().unwrap().payload,
        json!(3)
    );
}

#[tokio::test]
async fn claims_follow_priority_then_run_at_and_only_named_queues() {
    let clock = Arc::new(ManualClock::new(t0()));
    let store = SqliteStore::in_memory()
        .await
        .unwrap()
        .with_clock(clock.clone());
    let at = |s: i64| t0() - TimeDelta::seconds(s);
    let low_old = store
        .enqueue(NewJob::new("p", "k", json!(1), at(30)))
        .await
        .unwrap()
        .id;
    let high = store
        .enqueue(NewJob::new("p", "k", json!(2), at(10)).with_priority(5))
        .await
        .unwrap()
        .id;
    let low_new = store
        .enqueue(NewJob::new("p", "k", json!(3), at(20)))
        .await
        .unwrap()
        .id;
    store
        .enqueue(NewJob::new("other", "k", json!(4), at(40)).with_priority(9))
        .await
        .unwrap();
    store
        .enqueue(NewJob::new(
            "p",
            "k",
            json!(5),
            t0() + TimeDelta::seconds(1),
        ))
        .await
        .unwrap();

    let claimed = store
        .claim(&q("p"), "w", 10, Duration::from_secs(5))
        .await
        .unwrap();
    let ids: Vec<_> = claimed.iter().map(|j| j.id).collect();
    assert_eq!(ids, vec![high, low_old, low_new]);
    let stats = store.stats("p").await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (1, 3, 0));
    assert_eq!(
        store.next_wakeup(&q("p")).await.unwrap(),
        Some(t0() + TimeDelta::seconds(1))
    );
    assert_eq!(
        store
            .next_wakeup(&["p".into(), "other".into()])
            .await
            .unwrap(),
        Some(at(40))
    );
    assert!(
        store
            .claim(&[], "w", 10, Duration::from_secs(5))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_job() {
    let (_dir, store) = file_store().await;
    let jobs = (0..300)
        .map(|n| NewJob::new("c", "k", json!(n), Utc::now()))
        .collect();
    store.enqueue_batch(jobs).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim(&q("c"), &format!("w{w}"), 3, Duration::from_secs(60))
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_load_never_sees_database_is_locked() {
    let (_dir, store) = file_store().await;
    let producer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..400 {
                let job = NewJob::new("load", "k", json!(n), Utc::now());
                let job = if n % 4 == 0 {
                    job.with_unique_key(format!("key-{}", n % 40))
                } else {
                    job
                };
                store.enqueue(job).await.unwrap();
                store
                    .set(
                        &format!("c{}", n % 10),
                        &json!(n),
                        Some(Duration::from_secs(60)),
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let mut handlers = Vec::new();
    for w in 0..16 {
        let store = store.clone();
        handlers.push(tokio::spawn(async move {
            let mut done = 0;
            let mut idle = 0;
            while idle < 20 {
                let jobs = store
                    .claim(&q("load"), &format!("w{w}"), 1, Duration::from_secs(60))
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    idle += 1;
                    store.wait_for_change(Duration::from_millis(20)).await;
                    continue;
                }
                idle = 0;
                for job in jobs {
                    store
                        .heartbeat(&job, Duration::from_secs(60))
                        .await
                        .unwrap();
                    if job.payload.as_i64().unwrap_or(0) % 3 == 0 && job.attempts < 3 {
                        store
                            .fail(&job, "try again", Some(Utc::now()))
                            .await
                            .unwrap();
                    } else {
                        store.complete(&job).await.unwrap();
                    }
                    done += 1;
                }
            }
            done
        }));
    }
    producer.await.unwrap();
    let mut total = 0;
    for h in handlers {
        total += h.await.unwrap();
    }
    assert!(total >= 300, "handled {total}");
    let stats = store.stats("load").await.unwrap();
    assert_eq!(stats.running, 0);
}

#[tokio::test]
async fn a_batch_of_ten_thousand_jobs_is_fast() {
    let (_dir, store) = file_store().await;
    let jobs: Vec<_> = (0..10_000)
        .map(|n| NewJob::new("bulk", "k", json!({"n": n}), Utc::now()))
        .collect();
    let started = Instant::now();
    let out = store.enqueue_batch(jobs).await.unwrap();
    let elapsed = started.elapsed();
    eprintln!("enqueue_batch(10_000) took {elapsed:?}");
    assert_eq!(out.len(), 10_000);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(store.stats("bulk").await.unwrap().queued, 10_000);
    let job = store.get_job(out[42].id).await.unwrap().unwrap();
    assert_eq!(
        (job.payload, job.attempts, job.max_attempts),
        (json!({"n": 42}), 0, 5)
    );
}

#[tokio::test]
async fn wait_for_change_wakes_on_enqueue_and_times_out_otherwise() {
    let store = SqliteStore::in_memory().await.unwrap();
    let started = Instant::now();
    store.wait_for_change(Duration::from_millis(50)).await;
    assert!(started.elapsed() >= Duration::from_millis(50));

    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            store.wait_for_change(Duration::from_secs(10)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    store
        .enqueue(NewJob::new("w", "k", json!(1), Utc::now()))
        .await
        .unwrap();
    assert!(waiter.await.unwrap() < Duration::from_secs(5));
}
