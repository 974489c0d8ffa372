//! Claiming: due times, order, limits, concurrency, leases and fencing tokens.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::*;
use crate::testkit::fixtures::now;
use crate::testkit::{Must, assert_close, expect_kind};
use crate::{ErrorKind, JobId, JobQueue, JobState, QueueStats};

/// `claim` sets `state = running`, a lease token, `lease_until = now + lease`, the worker and
/// `attempts + 1`, and returns the job as stored.
pub async fn claim_sets_state_lease_and_attempts(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let mut new = job_at(&q, 7, past()).with_priority(3).with_max_attempts(4);
    new.payload =
        json!({ "schedule_id": "abc", "nested": { "list": [1, 2, 3] }, "text": "héllo 👋" });
    let id = enqueue(queue, new.clone()).await;

    let queued = stored(queue, id).await;
    assert_eq!(queued.state, JobState::Queued, "an enqueued job is queued");
    assert_eq!(queued.attempts, 0, "an enqueued job has no attempts");
    assert_eq!(
        (queued.queue.as_str(), queued.kind.as_str()),
        (q.as_str(), "testkit"),
        "queue and kind are stored"
    );
    assert_eq!(queued.payload, new.payload, "the payload is stored");
    assert_eq!(
        (queued.priority, queued.max_attempts),
        (3, 4),
        "priority and max_attempts are stored"
    );
    assert_close(queued.run_at, new.run_at, STORED_SLACK, "run_at is stored");
    assert_eq!(queued.lease_token, None, "a queued job has no lease token");

    let claimed_at = Utc::now();
    let job = claim_one(queue, &q, "worker-a", Duration::from_secs(30)).await;
    let Some(job) = job else {
        panic!("a due job must be claimable")
    };
    assert_eq!(job.id, id);
    assert_eq!(job.state, JobState::Running, "a claimed job is running");
    assert_eq!(job.attempts, 1, "claim increments attempts");
    assert!(job.lease_token.is_some(), "claim sets a lease token");
    assert_eq!(
        job.locked_by.as_deref(),
        Some("worker-a"),
        "claim records the worker"
    );
    let Some(until) = job.lease_until else {
        panic!("claim sets lease_until")
    };
    assert_close(
        until,
        claimed_at + TimeDelta::seconds(30),
        CLOCK_SLACK,
        "lease_until is now + lease",
    );
    assert_eq!(
        job.payload, new.payload,
        "the claimed job carries its payload"
    );
    assert_eq!(
        stored(queue, id).await,
        job,
        "claim returns the job as stored"
    );
    queue.complete(&job).await.must("complete the job");
}

/// A job whose `run_at` is in the future, or that is in another queue, is not claimed; a due one
/// is.
pub async fn only_due_jobs_of_the_given_queues_are_claimed(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let elsewhere = fresh_queue();
    let later = enqueue(queue, job_at(&q, 1, now() + TimeDelta::hours(1))).await;
    let foreign = enqueue(queue, job_at(&elsewhere, 2, past())).await;
    assert!(
        claim_one(queue, &q, "w", LONG_LEASE).await.is_none(),
        "a job due in an hour must not be claimed"
    );
    let due = enqueue(queue, job_at(&q, 3, past())).await;
    let job = claim_expecting(queue, &q, due, "a due job").await;
    assert!(
        claim_one(queue, &q, "w", LONG_LEASE).await.is_none(),
        "only due jobs are claimed"
    );
    assert_eq!(
        stored(queue, later).await.state,
        JobState::Queued,
        "the future job stays queued"
    );
    assert_eq!(
        stored(queue, foreign).await.state,
        JobState::Queued,
        "a job of another queue is not claimed"
    );

    let both = queue
        .claim(&[q.clone(), elsewhere.clone()], "w", 10, LONG_LEASE)
        .await
        .must("claim from two queues");
    assert_eq!(
        both.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![foreign],
        "claim takes jobs from every given queue"
    );
    let none = queue
        .claim(&[], "w", 10, LONG_LEASE)
        .await
        .must("claim from no queue");
    assert!(none.is_empty(), "claim from no queues claims nothing");
    queue.complete(&job).await.must("complete");
    queue.complete(&both[0]).await.must("complete");
}

/// Due jobs are claimed highest priority first, then oldest `run_at`.
pub async fn claim_order_is_priority_then_run_at(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let t = now();
    let low_oldest = enqueue(
        queue,
        job_at(&q, 1, t - TimeDelta::seconds(40)).with_priority(0),
    )
    .await;
    let high_newer = enqueue(
        queue,
        job_at(&q, 2, t - TimeDelta::seconds(10)).with_priority(10),
    )
    .await;
    let mid = enqueue(
        queue,
        job_at(&q, 3, t - TimeDelta::seconds(30)).with_priority(5),
    )
    .await;
    let high_older = enqueue(
        queue,
        job_at(&q, 4, t - TimeDelta::seconds(20)).with_priority(10),
    )
    .await;
    let negative = enqueue(
        queue,
        job_at(&q, 5, t - TimeDelta::seconds(50)).with_priority(-3),
    )
    .await;
    for (expected, what) in [
        (high_older, "highest priority, older run_at"),
        (high_newer, "highest priority, newer run_at"),
        (mid, "middle priority"),
        (low_oldest, "priority 0"),
        (negative, "negative priority"),
    ] {
        let job = claim_expecting(queue, &q, expected, &format!("claim order ({what})")).await;
        queue.complete(&job).await.must("complete");
    }
}

/// `claim` returns at most `limit` jobs, and `limit = 0` claims nothing.
pub async fn claim_honours_the_limit(queue: &dyn JobQueue) {
    let q = fresh_queue();
    for n in 0..5 {
        enqueue(queue, job_at(&q, n, past())).await;
    }
    let qs = [q.clone()];
    assert!(
        queue
            .claim(&qs, "w", 0, LONG_LEASE)
            .await
            .must("claim 0")
            .is_empty(),
        "limit 0 claims nothing"
    );
    let three = queue.claim(&qs, "w", 3, LONG_LEASE).await.must("claim 3");
    assert_eq!(
        three.len(),
        3,
        "claim returns `limit` jobs when enough are due"
    );
    let rest = queue
        .claim(&qs, "w", 10, LONG_LEASE)
        .await
        .must("claim the rest");
    assert_eq!(
        rest.len(),
        2,
        "claim returns what is due when fewer than `limit`"
    );
    let ids: HashSet<JobId> = three.iter().chain(&rest).map(|j| j.id).collect();
    assert_eq!(ids.len(), 5, "no job is claimed twice");
    for job in three.iter().chain(&rest) {
        queue.complete(job).await.must("complete");
    }
}

/// Eight concurrent claimers over 200 due jobs claim every job exactly once.
///
/// The claimers run concurrently within one task; see [`concurrent_claimers_on_tasks_claim_each_job_once`]
/// for claimers on separate tasks.
pub async fn concurrent_claimers_claim_each_job_once(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let expected = enqueue_many(queue, &q, 200).await;
    let queues = vec![q.clone()];
    let claimers = (0..8).map(|w| {
        let queues = &queues;
        async move {
            let worker = format!("claimer-{w}");
            let mut mine = Vec::new();
            loop {
                let batch = queue
                    .claim(queues, &worker, 7, LONG_LEASE)
                    .await
                    .must("claim concurrently");
                if batch.is_empty() {
                    break;
                }
                for job in &batch {
                    queue.complete(job).await.must("complete a claimed job");
                }
                mine.extend(batch.into_iter().map(|j| j.id));
                tokio::task::yield_now().await;
            }
            mine
        }
    });
    let claimed = futures::future::join_all(claimers).await;
    check_claimed_once(queue, &q, &expected, claimed).await;
}

/// Like [`concurrent_claimers_claim_each_job_once`], with each claimer on its own tokio task, so
/// claims really run in parallel on a multi-threaded runtime. Not part of [`run_all`] (it needs
/// an `Arc`); call it from a `#[tokio::test(flavor = "multi_thread")]`.
pub async fn concurrent_claimers_on_tasks_claim_each_job_once(queue: Arc<dyn JobQueue>) {
    let q = fresh_queue();
    let expected = enqueue_many(&*queue, &q, 200).await;
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let queue = Arc::clone(&queue);
            let queues = vec![q.clone()];
            tokio::spawn(async move {
                let worker = format!("task-claimer-{w}");
                let mut mine = Vec::new();
                loop {
                    let batch = queue
                        .claim(&queues, &worker, 5, LONG_LEASE)
                        .await
                        .must("claim on a task");
                    if batch.is_empty() {
                        break;
                    }
                    for job in &batch {
                        queue.complete(job).await.must("complete a claimed job");
                    }
                    mine.extend(batch.into_iter().map(|j| j.id));
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in futures::future::join_all(tasks).await {
        match task {
            Ok(ids) => claimed.push(ids),
            Err(e) => panic!("a claimer task failed: {e}"),
        }
    }
    check_claimed_once(&*queue, &q, &expected, claimed).await;
}

async fn enqueue_many(queue: &dyn JobQueue, q: &str, n: u64) -> HashSet<JobId> {
    let jobs = (0..n).map(|i| job_at(q, i, past())).collect();
    let enqueued = queue.enqueue_batch(jobs).await.must("enqueue a batch");
    let ids: HashSet<JobId> = enqueued.iter().map(|e| e.id).collect();
    assert_eq!(ids.len() as u64, n, "every batch job gets its own id");
    ids
}

async fn check_claimed_once(
    queue: &dyn JobQueue,
    q: &str,
    expected: &HashSet<JobId>,
    claimed: Vec<Vec<JobId>>,
) {
    let total: usize = claimed.iter().map(Vec::len).sum();
    let distinct: HashSet<JobId> = claimed.into_iter().flatten().collect();
    assert_eq!(
        total,
        distinct.len(),
        "a job was claimed by more than one claimer"
    );
    assert_eq!(
        &distinct, expected,
        "every due job must be claimed exactly once"
    );
    let stats = queue.stats(q).await.must("stats");
    assert_eq!(
        stats,
        QueueStats::default(),
        "every claimed job was completed"
    );
}

/// A running job whose lease expired is claimed again with a new token and one more attempt.
pub async fn expired_lease_is_reclaimed_with_a_new_token(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past())).await;
    let Some(first) = claim_one(queue, &q, "worker-1", SHORT_LEASE).await else {
        panic!("claim a due job")
    };
    assert!(
        claim_one(queue, &q, "worker-2", SHORT_LEASE)
            .await
            .is_none(),
        "a job with a live lease is not claimable"
    );
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let Some(second) = claim_one(queue, &q, "worker-2", LONG_LEASE).await else {
        panic!("a running job whose lease expired must be claimable again")
    };
    assert_eq!(second.id, id);
    assert_ne!(
        second.lease_token, first.lease_token,
        "every claim gets a new lease token"
    );
    assert_eq!(second.attempts, 2, "a re-claim counts an attempt");
    assert_eq!(
        second.locked_by.as_deref(),
        Some("worker-2"),
        "the new claimer holds the job"
    );
    queue
        .complete(&second)
        .await
        .must("complete with the new token");
}

/// A running job whose lease expired after its last allowed attempt is dead-lettered, not
/// claimed again.
pub async fn expired_lease_after_the_last_attempt_dead_letters(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(1)).await;
    let Some(_first) = claim_one(queue, &q, "worker-1", SHORT_LEASE).await else {
        panic!("claim a due job")
    };
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    assert!(
        claim_one(queue, &q, "worker-2", LONG_LEASE).await.is_none(),
        "a job whose lease expired after its last attempt is not run again"
    );
    let dead = stored(queue, id).await;
    assert_eq!(dead.state, crate::JobState::Dead, "it is dead-lettered");
    assert!(
        dead.last_error.is_some_and(|e| e.contains("lease expired")),
        "with a reason"
    );
}

/// `heartbeat` moves `lease_until` to `now + lease`, so the job is not re-claimed.
pub async fn heartbeat_extends_the_lease(queue: &dyn JobQueue) {
    let q = fresh_queue();
    enqueue(queue, job_at(&q, 1, past())).await;
    let Some(job) = claim_one(queue, &q, "w", SHORT_LEASE).await else {
        panic!("claim a due job")
    };
    let beat_at = Utc::now();
    queue
        .heartbeat(&job, Duration::from_secs(60))
        .await
        .must("heartbeat");
    let beaten = stored(queue, job.id).await;
    let Some(until) = beaten.lease_until else {
        panic!("a running job has lease_until")
    };
    assert_close(
        until,
        beat_at + TimeDelta::seconds(60),
        CLOCK_SLACK,
        "heartbeat sets lease_until to now + lease",
    );
    assert_eq!(
        beaten.lease_token, job.lease_token,
        "heartbeat keeps the token"
    );
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    assert!(
        claim_one(queue, &q, "other", SHORT_LEASE).await.is_none(),
        "a heartbeated lease must not expire"
    );
    queue
        .heartbeat(&job, SHORT_LEASE)
        .await
        .must("heartbeat again");
    queue.complete(&job).await.must("complete");
}

/// After a job was re-claimed, every operation with the old token is `Conflict` and changes
/// nothing; so is any operation on a completed job or with a never-claimed copy.
pub async fn stale_token_operations_are_conflicts_and_change_nothing(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(10)).await;
    let never_claimed = stored(queue, id).await;
    let Some(old) = claim_one(queue, &q, "old", SHORT_LEASE).await else {
        panic!("claim a due job")
    };
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let Some(new) = claim_one(queue, &q, "new", LONG_LEASE).await else {
        panic!("re-claim the expired job")
    };

    let before = stored(queue, id).await;
    let later = now() + TimeDelta::hours(1);
    for stale in [&old, &never_claimed] {
        expect_kind(
            queue.heartbeat(stale, LONG_LEASE).await,
            ErrorKind::Conflict,
            "heartbeat with a stale token",
        );
        expect_kind(
            queue.complete(stale).await,
            ErrorKind::Conflict,
            "complete with a stale token",
        );
        expect_kind(
            queue.fail(stale, "stale", Some(later)).await,
            ErrorKind::Conflict,
            "fail (requeue) with a stale token",
        );
        expect_kind(
            queue.fail(stale, "stale", None).await,
            ErrorKind::Conflict,
            "fail (dead-letter) with a stale token",
        );
        expect_kind(
            queue.retry_later(stale, later).await,
            ErrorKind::Conflict,
            "retry_later with a stale token",
        );
        expect_kind(
            queue.release(stale).await,
            ErrorKind::Conflict,
            "release with a stale token",
        );
    }
    assert_eq!(
        stored(queue, id).await,
        before,
        "operations with a stale token must change nothing"
    );

    queue
        .complete(&new)
        .await
        .must("complete with the current token");
    expect_kind(
        queue.complete(&new).await,
        ErrorKind::Conflict,
        "complete of a completed job",
    );
    expect_kind(
        queue.heartbeat(&new, LONG_LEASE).await,
        ErrorKind::Conflict,
        "heartbeat of a completed job",
    );
    expect_kind(
        queue.fail(&new, "gone", None).await,
        ErrorKind::Conflict,
        "fail of a completed job",
    );
    expect_kind(
        queue.release(&new).await,
        ErrorKind::Conflict,
        "release of a completed job",
    );
    assert_eq!(
        queue.get_job(id).await.must("get"),
        None,
        "operations on a completed job must not resurrect it"
    );
}
