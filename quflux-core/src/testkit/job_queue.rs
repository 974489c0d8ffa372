//! Conformance suite for [`JobQueue`].
//!
//! Scenarios use their own queue names (`q-<uuid>`), so a queue backend may be shared. Lease
//! expiry is exercised with short leases and real sleeps, so the queue must run on the system
//! clock (as every production queue does). The whole suite takes a few seconds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::fixtures::now;
use super::{Must, assert_close, expect_kind, unique};
use crate::{EnqueueOutcome, ErrorKind, Job, JobId, JobQueue, JobState, NewJob, QueueStats};

/// The lease used where a scenario lets a lease expire.
pub const SHORT_LEASE: Duration = Duration::from_millis(200);
/// How long scenarios sleep for a [`SHORT_LEASE`] to expire.
const PAST_SHORT_LEASE: Duration = Duration::from_millis(450);
/// A lease that does not expire during a scenario.
const LONG_LEASE: Duration = Duration::from_secs(600);
/// Slack for instants computed by the queue from its own clock.
const CLOCK_SLACK: TimeDelta = TimeDelta::seconds(5);
/// Slack for instants the scenario chose and the queue stored.
const STORED_SLACK: TimeDelta = TimeDelta::milliseconds(1);

/// Every [`JobQueue`] must pass these.
pub async fn run_all(queue: &dyn JobQueue) {
    claim_sets_state_lease_and_attempts(queue).await;
    only_due_jobs_of_the_given_queues_are_claimed(queue).await;
    claim_order_is_priority_then_run_at(queue).await;
    claim_honours_the_limit(queue).await;
    concurrent_claimers_claim_each_job_once(queue).await;
    expired_lease_is_reclaimed_with_a_new_token(queue).await;
    heartbeat_extends_the_lease(queue).await;
    stale_token_operations_are_conflicts_and_change_nothing(queue).await;
    complete_removes_the_job(queue).await;
    fail_requeues_then_dead_letters_keeping_the_last_error(queue).await;
    fail_without_retry_time_dead_letters(queue).await;
    retry_later_does_not_count_an_attempt(queue).await;
    release_makes_the_job_due_now_without_counting_an_attempt(queue).await;
    unique_key_inserts_replaces_or_reports_running(queue).await;
    unique_key_replaces_a_dead_job_with_fresh_attempts(queue).await;
    enqueue_batch_enqueues_every_job(queue).await;
    next_wakeup_is_the_earliest_run_at_or_lease_expiry(queue).await;
    wait_for_change_wakes_early_on_enqueue(queue).await;
    wait_for_change_wakes_early_on_release(queue).await;
    wait_for_change_returns_after_its_timeout(queue).await;
    stats_count_jobs_per_state(queue).await;
    missing_job_is_none(queue).await;
}

/// A fresh queue name.
fn fresh_queue() -> String {
    format!("q-{}", unique())
}

fn job_at(queue: &str, n: u64, run_at: DateTime<Utc>) -> NewJob {
    NewJob::new(queue, "testkit", json!({ "n": n }), run_at)
}

fn past() -> DateTime<Utc> {
    now() - TimeDelta::seconds(2)
}

async fn enqueue(queue: &dyn JobQueue, job: NewJob) -> JobId {
    let enqueued = queue.enqueue(job).await.must("enqueue a job");
    assert_eq!(enqueued.outcome, EnqueueOutcome::Inserted, "a job without unique key is always inserted");
    enqueued.id
}

async fn claim_one(queue: &dyn JobQueue, q: &str, worker: &str, lease: Duration) -> Option<Job> {
    let mut jobs = queue.claim(&[q.to_owned()], worker, 1, lease).await.must("claim a job");
    assert!(jobs.len() <= 1, "claim must return at most `limit` jobs");
    jobs.pop()
}

async fn claim_expecting(queue: &dyn JobQueue, q: &str, id: JobId, what: &str) -> Job {
    match claim_one(queue, q, "testkit-worker", LONG_LEASE).await {
        Some(job) if job.id == id => job,
        Some(job) => panic!("{what}: claimed job {} instead of {id}", job.id),
        None => panic!("{what}: nothing was claimable, expected job {id}"),
    }
}

async fn stored(queue: &dyn JobQueue, id: JobId) -> Job {
    match queue.get_job(id).await.must("get a job") {
        Some(job) => job,
        None => panic!("job {id} should exist"),
    }
}

/// `claim` sets `state = running`, a lease token, `lease_until = now + lease`, the worker and
/// `attempts + 1`, and returns the job as stored.
pub async fn claim_sets_state_lease_and_attempts(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let mut new = job_at(&q, 7, past()).with_priority(3).with_max_attempts(4);
    new.payload = json!({ "schedule_id": "abc", "nested": { "list": [1, 2, 3] }, "text": "héllo 👋" });
    let id = enqueue(queue, new.clone()).await;

    let queued = stored(queue, id).await;
    assert_eq!(queued.state, JobState::Queued, "an enqueued job is queued");
    assert_eq!(queued.attempts, 0, "an enqueued job has no attempts");
    assert_eq!((queued.queue.as_str(), queued.kind.as_str()), (q.as_str(), "testkit"), "queue and kind are stored");
    assert_eq!(queued.payload, new.payload, "the payload is stored");
    assert_eq!((queued.priority, queued.max_attempts), (3, 4), "priority and max_attempts are stored");
    assert_close(queued.run_at, new.run_at, STORED_SLACK, "run_at is stored");
    assert_eq!(queued.lease_token, None, "a queued job has no lease token");

    let claimed_at = Utc::now();
    let job = claim_one(queue, &q, "worker-a", Duration::from_secs(30)).await;
    let Some(job) = job else { panic!("a due job must be claimable") };
    assert_eq!(job.id, id);
    assert_eq!(job.state, JobState::Running, "a claimed job is running");
    assert_eq!(job.attempts, 1, "claim increments attempts");
    assert!(job.lease_token.is_some(), "claim sets a lease token");
    assert_eq!(job.locked_by.as_deref(), Some("worker-a"), "claim records the worker");
    let Some(until) = job.lease_until else { panic!("claim sets lease_until") };
    assert_close(until, claimed_at + TimeDelta::seconds(30), CLOCK_SLACK, "lease_until is now + lease");
    assert_eq!(job.payload, new.payload, "the claimed job carries its payload");
    assert_eq!(stored(queue, id).await, job, "claim returns the job as stored");
    queue.complete(&job).await.must("complete the job");
}

/// A job whose `run_at` is in the future, or that is in another queue, is not claimed; a due one
/// is.
pub async fn only_due_jobs_of_the_given_queues_are_claimed(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let elsewhere = fresh_queue();
    let later = enqueue(queue, job_at(&q, 1, now() + TimeDelta::hours(1))).await;
    let foreign = enqueue(queue, job_at(&elsewhere, 2, past())).await;
    assert!(claim_one(queue, &q, "w", LONG_LEASE).await.is_none(), "a job due in an hour must not be claimed");
    let due = enqueue(queue, job_at(&q, 3, past())).await;
    let job = claim_expecting(queue, &q, due, "a due job").await;
    assert!(claim_one(queue, &q, "w", LONG_LEASE).await.is_none(), "only due jobs are claimed");
    assert_eq!(stored(queue, later).await.state, JobState::Queued, "the future job stays queued");
    assert_eq!(stored(queue, foreign).await.state, JobState::Queued, "a job of another queue is not claimed");

    let both = queue.claim(&[q.clone(), elsewhere.clone()], "w", 10, LONG_LEASE).await.must("claim from two queues");
    assert_eq!(both.iter().map(|j| j.id).collect::<Vec<_>>(), vec![foreign], "claim takes jobs from every given queue");
    let none = queue.claim(&[], "w", 10, LONG_LEASE).await.must("claim from no queue");
    assert!(none.is_empty(), "claim from no queues claims nothing");
    queue.complete(&job).await.must("complete");
    queue.complete(&both[0]).await.must("complete");
}

/// Due jobs are claimed highest priority first, then oldest `run_at`.
pub async fn claim_order_is_priority_then_run_at(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let t = now();
    let low_oldest = enqueue(queue, job_at(&q, 1, t - TimeDelta::seconds(40)).with_priority(0)).await;
    let high_newer = enqueue(queue, job_at(&q, 2, t - TimeDelta::seconds(10)).with_priority(10)).await;
    let mid = enqueue(queue, job_at(&q, 3, t - TimeDelta::seconds(30)).with_priority(5)).await;
    let high_older = enqueue(queue, job_at(&q, 4, t - TimeDelta::seconds(20)).with_priority(10)).await;
    let negative = enqueue(queue, job_at(&q, 5, t - TimeDelta::seconds(50)).with_priority(-3)).await;
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
    assert!(queue.claim(&qs, "w", 0, LONG_LEASE).await.must("claim 0").is_empty(), "limit 0 claims nothing");
    let three = queue.claim(&qs, "w", 3, LONG_LEASE).await.must("claim 3");
    assert_eq!(three.len(), 3, "claim returns `limit` jobs when enough are due");
    let rest = queue.claim(&qs, "w", 10, LONG_LEASE).await.must("claim the rest");
    assert_eq!(rest.len(), 2, "claim returns what is due when fewer than `limit`");
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
                let batch = queue.claim(queues, &worker, 7, LONG_LEASE).await.must("claim concurrently");
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
                    let batch = queue.claim(&queues, &worker, 5, LONG_LEASE).await.must("claim on a task");
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

async fn check_claimed_once(queue: &dyn JobQueue, q: &str, expected: &HashSet<JobId>, claimed: Vec<Vec<JobId>>) {
    let total: usize = claimed.iter().map(Vec::len).sum();
    let distinct: HashSet<JobId> = claimed.into_iter().flatten().collect();
    assert_eq!(total, distinct.len(), "a job was claimed by more than one claimer");
    assert_eq!(&distinct, expected, "every due job must be claimed exactly once");
    let stats = queue.stats(q).await.must("stats");
    assert_eq!(stats, QueueStats::default(), "every claimed job was completed");
}

/// A running job whose lease expired is claimed again with a new token and one more attempt.
pub async fn expired_lease_is_reclaimed_with_a_new_token(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past())).await;
    let Some(first) = claim_one(queue, &q, "worker-1", SHORT_LEASE).await else { panic!("claim a due job") };
    assert!(claim_one(queue, &q, "worker-2", SHORT_LEASE).await.is_none(), "a job with a live lease is not claimable");
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let Some(second) = claim_one(queue, &q, "worker-2", LONG_LEASE).await else {
        panic!("a running job whose lease expired must be claimable again")
    };
    assert_eq!(second.id, id);
    assert_ne!(second.lease_token, first.lease_token, "every claim gets a new lease token");
    assert_eq!(second.attempts, 2, "a re-claim counts an attempt");
    assert_eq!(second.locked_by.as_deref(), Some("worker-2"), "the new claimer holds the job");
    queue.complete(&second).await.must("complete with the new token");
}

/// `heartbeat` moves `lease_until` to `now + lease`, so the job is not re-claimed.
pub async fn heartbeat_extends_the_lease(queue: &dyn JobQueue) {
    let q = fresh_queue();
    enqueue(queue, job_at(&q, 1, past())).await;
    let Some(job) = claim_one(queue, &q, "w", SHORT_LEASE).await else { panic!("claim a due job") };
    let beat_at = Utc::now();
    queue.heartbeat(&job, Duration::from_secs(60)).await.must("heartbeat");
    let beaten = stored(queue, job.id).await;
    let Some(until) = beaten.lease_until else { panic!("a running job has lease_until") };
    assert_close(until, beat_at + TimeDelta::seconds(60), CLOCK_SLACK, "heartbeat sets lease_until to now + lease");
    assert_eq!(beaten.lease_token, job.lease_token, "heartbeat keeps the token");
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    assert!(claim_one(queue, &q, "other", SHORT_LEASE).await.is_none(), "a heartbeated lease must not expire");
    queue.heartbeat(&job, SHORT_LEASE).await.must("heartbeat again");
    queue.complete(&job).await.must("complete");
}

/// After a job was re-claimed, every operation with the old token is `Conflict` and changes
/// nothing; so is any operation on a completed job or with a never-claimed copy.
pub async fn stale_token_operations_are_conflicts_and_change_nothing(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(10)).await;
    let never_claimed = stored(queue, id).await;
    let Some(old) = claim_one(queue, &q, "old", SHORT_LEASE).await else { panic!("claim a due job") };
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let Some(new) = claim_one(queue, &q, "new", LONG_LEASE).await else { panic!("re-claim the expired job") };

    let before = stored(queue, id).await;
    let later = now() + TimeDelta::hours(1);
    for stale in [&old, &never_claimed] {
        expect_kind(queue.heartbeat(stale, LONG_LEASE).await, ErrorKind::Conflict, "heartbeat with a stale token");
        expect_kind(queue.complete(stale).await, ErrorKind::Conflict, "complete with a stale token");
        expect_kind(queue.fail(stale, "stale", Some(later)).await, ErrorKind::Conflict, "fail (requeue) with a stale token");
        expect_kind(queue.fail(stale, "stale", None).await, ErrorKind::Conflict, "fail (dead-letter) with a stale token");
        expect_kind(queue.retry_later(stale, later).await, ErrorKind::Conflict, "retry_later with a stale token");
        expect_kind(queue.release(stale).await, ErrorKind::Conflict, "release with a stale token");
    }
    assert_eq!(stored(queue, id).await, before, "operations with a stale token must change nothing");

    queue.complete(&new).await.must("complete with the current token");
    expect_kind(queue.complete(&new).await, ErrorKind::Conflict, "complete of a completed job");
    expect_kind(queue.heartbeat(&new, LONG_LEASE).await, ErrorKind::Conflict, "heartbeat of a completed job");
    expect_kind(queue.fail(&new, "gone", None).await, ErrorKind::Conflict, "fail of a completed job");
    expect_kind(queue.release(&new).await, ErrorKind::Conflict, "release of a completed job");
    assert_eq!(queue.get_job(id).await.must("get"), None, "operations on a completed job must not resurrect it");
}

/// `complete` removes the job.
pub async fn complete_removes_the_job(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past())).await;
    let job = claim_expecting(queue, &q, id, "claim").await;
    queue.complete(&job).await.must("complete");
    assert_eq!(queue.get_job(id).await.must("get a completed job"), None, "complete removes the job");
    assert!(claim_one(queue, &q, "w", LONG_LEASE).await.is_none(), "a completed job is never claimed again");
}

/// `fail` with a retry time requeues at that time while `attempts < max_attempts`, then
/// dead-letters, keeping the last error each time.
pub async fn fail_requeues_then_dead_letters_keeping_the_last_error(queue: &dyn JobQueue) {
    // A failure with a future retry time requeues the job at that time.
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(3)).await;
    let first = claim_expecting(queue, &q, id, "first claim").await;
    let retry_at = now() + TimeDelta::hours(1);
    let state = queue.fail(&first, "boom 1", Some(retry_at)).await.must("fail the first attempt");
    assert_eq!(state, JobState::Queued, "fail requeues while attempts < max_attempts");
    let requeued = stored(queue, id).await;
    assert_eq!(requeued.state, JobState::Queued, "the stored job is queued");
    assert_eq!(requeued.last_error.as_deref(), Some("boom 1"), "fail keeps the error");
    assert_eq!(requeued.attempts, 1, "a failure keeps its attempt");
    assert_close(requeued.run_at, retry_at, STORED_SLACK, "fail requeues at retry_at");
    assert!(claim_one(queue, &q, "w", LONG_LEASE).await.is_none(), "a job requeued in an hour is not due");

    // With two attempts allowed: the first failure requeues, the second dead-letters.
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(2)).await;
    let a1 = claim_expecting(queue, &q, id, "attempt 1").await;
    let state = queue.fail(&a1, "boom 1", Some(past())).await.must("fail attempt 1");
    assert_eq!(state, JobState::Queued, "attempt 1 of 2 requeues");
    let a2 = claim_expecting(queue, &q, id, "a job requeued in the past is due at once").await;
    assert_eq!(a2.attempts, 2, "the second claim is attempt 2");
    let state = queue.fail(&a2, "boom 2", Some(past())).await.must("fail attempt 2");
    assert_eq!(state, JobState::Dead, "attempt 2 of 2 dead-letters even with a retry time");
    let dead = stored(queue, id).await;
    assert_eq!(dead.state, JobState::Dead, "the stored job is dead");
    assert_eq!(dead.last_error.as_deref(), Some("boom 2"), "a dead job keeps the last error");
    assert_eq!(dead.attempts, 2, "a dead job keeps its attempts");
    assert!(claim_one(queue, &q, "w", LONG_LEASE).await.is_none(), "a dead job is never claimed");
    assert_eq!(queue.stats(&q).await.must("stats").dead, 1, "stats count the dead job");
}

/// `fail` without a retry time dead-letters at once, whatever the attempts left.
pub async fn fail_without_retry_time_dead_letters(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(5)).await;
    let job = claim_expecting(queue, &q, id, "claim").await;
    let state = queue.fail(&job, "permanent: invalid content", None).await.must("fail for good");
    assert_eq!(state, JobState::Dead, "fail without retry_at dead-letters");
    let dead = stored(queue, id).await;
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("permanent: invalid content"), "a dead job keeps the error");
    assert!(claim_one(queue, &q, "w", LONG_LEASE).await.is_none(), "a dead job is never claimed");
}

/// `retry_later` requeues at `run_at` and decrements attempts, so it never dead-letters a job.
pub async fn retry_later_does_not_count_an_attempt(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(1)).await;
    for round in 0..3 {
        let job = claim_expecting(queue, &q, id, &format!("claim after retry_later #{round}")).await;
        assert_eq!(job.attempts, 1, "retry_later must not count an attempt");
        queue.retry_later(&job, past()).await.must("retry_later into the past");
        let requeued = stored(queue, id).await;
        assert_eq!(requeued.state, JobState::Queued, "retry_later requeues");
        assert_eq!(requeued.attempts, 0, "retry_later decrements attempts");
    }
    let job = claim_expecting(queue, &q, id, "claim").await;
    let later = now() + TimeDelta::hours(2);
    queue.retry_later(&job, later).await.must("retry_later in two hours");
    assert_close(stored(queue, id).await.run_at, later, STORED_SLACK, "retry_later requeues at run_at");
    assert!(claim_one(queue, &q, "w", LONG_LEASE).await.is_none(), "a job retried later is not due before run_at");
}

/// `release` requeues the job due now and decrements attempts.
pub async fn release_makes_the_job_due_now_without_counting_an_attempt(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past())).await;
    let job = claim_expecting(queue, &q, id, "claim").await;
    queue.release(&job).await.must("release");
    let released = stored(queue, id).await;
    assert_eq!(released.state, JobState::Queued, "release requeues");
    assert_eq!(released.attempts, 0, "release decrements attempts");
    assert!(released.run_at <= Utc::now() + CLOCK_SLACK, "a released job is due now");
    let again = claim_expecting(queue, &q, id, "a released job is claimable at once").await;
    assert_eq!(again.attempts, 1, "the claim after a release is attempt 1 again");
    assert_ne!(again.lease_token, job.lease_token, "the new claim gets a new token");
    queue.complete(&again).await.must("complete");
}

/// With a unique key: `Inserted`, then `Replaced` (payload, run_at, priority, max_attempts)
/// while queued, `AlreadyRunning` (nothing changes) while running, and free again after
/// `complete`.
pub async fn unique_key_inserts_replaces_or_reports_running(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let key = format!("publish:{}", unique());
    let first = queue.enqueue(job_at(&q, 1, now() + TimeDelta::hours(1)).with_unique_key(&key)).await.must("enqueue");
    assert_eq!(first.outcome, EnqueueOutcome::Inserted, "the first job with a key is inserted");

    let replacement = job_at(&q, 2, past()).with_unique_key(&key).with_priority(7).with_max_attempts(9);
    let second = queue.enqueue(replacement.clone()).await.must("enqueue with the same key");
    assert_eq!(second, crate::Enqueued { id: first.id, outcome: EnqueueOutcome::Replaced }, "a queued job with the key is replaced in place");
    let replaced = stored(queue, first.id).await;
    assert_eq!(replaced.payload, replacement.payload, "Replaced takes the new payload");
    assert_eq!((replaced.priority, replaced.max_attempts), (7, 9), "Replaced takes the new priority and max_attempts");
    assert_close(replaced.run_at, replacement.run_at, STORED_SLACK, "Replaced takes the new run_at");
    assert_eq!(queue.stats(&q).await.must("stats").queued, 1, "one job exists per key");

    let running = claim_expecting(queue, &q, first.id, "claim the keyed job").await;
    let third = queue.enqueue(job_at(&q, 3, past()).with_unique_key(&key)).await.must("enqueue while running");
    assert_eq!(third, crate::Enqueued { id: first.id, outcome: EnqueueOutcome::AlreadyRunning }, "a running job with the key is left alone");
    assert_eq!(stored(queue, first.id).await, running, "AlreadyRunning changes nothing");

    queue.complete(&running).await.must("complete the keyed job");
    let fourth = queue.enqueue(job_at(&q, 4, past()).with_unique_key(&key)).await.must("enqueue after complete");
    assert_eq!(fourth.outcome, EnqueueOutcome::Inserted, "complete frees the unique key");
    assert_ne!(fourth.id, first.id, "a new job gets a new id");
    let job = claim_expecting(queue, &q, fourth.id, "claim the new keyed job").await;
    queue.complete(&job).await.must("complete");
}

/// A dead job holding the key is replaced and restarts queued with 0 attempts.
pub async fn unique_key_replaces_a_dead_job_with_fresh_attempts(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let key = format!("dead:{}", unique());
    let id = queue.enqueue(job_at(&q, 1, past()).with_unique_key(&key).with_max_attempts(1)).await.must("enqueue").id;
    let job = claim_expecting(queue, &q, id, "claim").await;
    assert_eq!(queue.fail(&job, "gave up", Some(past())).await.must("fail"), JobState::Dead, "the only attempt failed");

    let again = queue.enqueue(job_at(&q, 2, past()).with_unique_key(&key).with_max_attempts(3)).await.must("enqueue again");
    assert_eq!(again, crate::Enqueued { id, outcome: EnqueueOutcome::Replaced }, "a dead job with the key is replaced");
    let revived = stored(queue, id).await;
    assert_eq!(revived.state, JobState::Queued, "the replaced dead job is queued again");
    assert_eq!(revived.attempts, 0, "the replaced dead job restarts with 0 attempts");
    assert_eq!(revived.max_attempts, 3);
    assert_eq!(revived.payload, json!({ "n": 2 }));
    let job = claim_expecting(queue, &q, id, "claim the revived job").await;
    assert_eq!(job.attempts, 1);
    queue.complete(&job).await.must("complete");
}

/// `enqueue_batch` enqueues every job and answers in order, applying unique keys.
pub async fn enqueue_batch_enqueues_every_job(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let key = format!("batch:{}", unique());
    let existing = queue.enqueue(job_at(&q, 0, now() + TimeDelta::hours(1)).with_unique_key(&key)).await.must("enqueue");
    let answers = queue
        .enqueue_batch(vec![
            job_at(&q, 1, past()),
            job_at(&q, 2, past()).with_priority(5),
            job_at(&q, 3, past()).with_unique_key(&key),
        ])
        .await
        .must("enqueue a batch");
    assert_eq!(answers.len(), 3, "enqueue_batch answers every job");
    assert_eq!(answers[0].outcome, EnqueueOutcome::Inserted);
    assert_eq!(answers[1].outcome, EnqueueOutcome::Inserted);
    assert_ne!(answers[0].id, answers[1].id, "every inserted job has its own id");
    assert_eq!(answers[2], crate::Enqueued { id: existing.id, outcome: EnqueueOutcome::Replaced }, "batches honour unique keys");
    for (n, answer) in answers.iter().enumerate() {
        let job = stored(queue, answer.id).await;
        assert_eq!(job.payload, json!({ "n": n + 1 }), "each answer names the job it enqueued");
    }
    assert!(queue.enqueue_batch(Vec::new()).await.must("enqueue an empty batch").is_empty(), "an empty batch is fine");
    let stats = queue.stats(&q).await.must("stats");
    assert_eq!(stats.queued, 3);
    let claimed = queue.claim(&[q.clone()], "w", 10, LONG_LEASE).await.must("claim the batch");
    assert_eq!(claimed.len(), 3);
    for job in &claimed {
        queue.complete(job).await.must("complete");
    }
}

/// `next_wakeup` is the earliest `run_at` of a queued job or `lease_until` of a running one in
/// the given queues; dead jobs and other queues do not count.
pub async fn next_wakeup_is_the_earliest_run_at_or_lease_expiry(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let other = fresh_queue();
    let qs = [q.clone()];
    assert_eq!(queue.next_wakeup(&qs).await.must("next_wakeup"), None, "an empty queue has no wake-up");

    let t = now();
    enqueue(queue, job_at(&q, 1, t + TimeDelta::hours(1))).await;
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else { panic!("a queued job gives a wake-up") };
    assert_close(w, t + TimeDelta::hours(1), STORED_SLACK, "next_wakeup is the run_at of the only job");

    enqueue(queue, job_at(&q, 2, t + TimeDelta::minutes(10))).await;
    enqueue(queue, job_at(&other, 3, t + TimeDelta::minutes(1))).await;
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else { panic!("wake-up") };
    assert_close(w, t + TimeDelta::minutes(10), STORED_SLACK, "next_wakeup is the earliest run_at, other queues ignored");
    let Some(both) = queue.next_wakeup(&[q.clone(), other.clone()]).await.must("next_wakeup") else { panic!("wake-up") };
    assert_close(both, t + TimeDelta::minutes(1), STORED_SLACK, "next_wakeup covers every given queue");

    let due = enqueue(queue, job_at(&q, 4, t - TimeDelta::seconds(5))).await;
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else { panic!("wake-up") };
    assert_close(w, t - TimeDelta::seconds(5), STORED_SLACK, "a due job's run_at is the wake-up (in the past)");

    let claimed_at = Utc::now();
    let Some(job) = claim_one(queue, &q, "w", Duration::from_secs(30)).await else { panic!("claim the due job") };
    assert_eq!(job.id, due, "only one job is due");
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else { panic!("wake-up") };
    assert_close(w, claimed_at + TimeDelta::seconds(30), CLOCK_SLACK, "a running job's lease expiry is a wake-up");

    queue.fail(&job, "dead", None).await.must("dead-letter the running job");
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else { panic!("wake-up") };
    assert_close(w, t + TimeDelta::minutes(10), STORED_SLACK, "dead jobs do not count");
}

/// Consumes a change signalled by earlier scenarios, if the queue remembers one.
async fn drain_changes(queue: &dyn JobQueue) {
    queue.wait_for_change(Duration::from_millis(20)).await;
}

/// `wait_for_change` returns soon after an enqueue in this process, well before its timeout.
pub async fn wait_for_change_wakes_early_on_enqueue(queue: &dyn JobQueue) {
    let q = fresh_queue();
    drain_changes(queue).await;
    let timeout = Duration::from_secs(10);
    let started = Instant::now();
    let ((), enqueued) = tokio::join!(queue.wait_for_change(timeout), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        queue.enqueue(job_at(&q, 1, past())).await
    });
    let elapsed = started.elapsed();
    enqueued.must("enqueue while a waiter waits");
    assert!(elapsed < Duration::from_secs(3), "wait_for_change must return soon after an enqueue (took {elapsed:?} of {timeout:?})");
    if let Some(job) = claim_one(queue, &q, "w", LONG_LEASE).await {
        queue.complete(&job).await.must("complete");
    }
}

/// `wait_for_change` returns soon after a release in this process, well before its timeout.
pub async fn wait_for_change_wakes_early_on_release(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past())).await;
    let job = claim_expecting(queue, &q, id, "claim").await;
    drain_changes(queue).await;
    let timeout = Duration::from_secs(10);
    let started = Instant::now();
    let ((), released) = tokio::join!(queue.wait_for_change(timeout), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        queue.release(&job).await
    });
    let elapsed = started.elapsed();
    released.must("release while a waiter waits");
    assert!(elapsed < Duration::from_secs(3), "wait_for_change must return soon after a release (took {elapsed:?} of {timeout:?})");
    let job = claim_expecting(queue, &q, id, "claim after release").await;
    queue.complete(&job).await.must("complete");
}

/// Without a change, `wait_for_change` returns once its timeout has passed.
pub async fn wait_for_change_returns_after_its_timeout(queue: &dyn JobQueue) {
    drain_changes(queue).await;
    let started = Instant::now();
    queue.wait_for_change(Duration::from_millis(150)).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "wait_for_change must return after its timeout (took {elapsed:?} for 150ms)");
}

/// `stats` counts queued (due or not), running and dead jobs of one queue.
pub async fn stats_count_jobs_per_state(queue: &dyn JobQueue) {
    let q = fresh_queue();
    assert_eq!(queue.stats(&q).await.must("stats"), QueueStats::default(), "an unused queue has no jobs");
    let doomed = enqueue(queue, job_at(&q, 1, past()).with_priority(10)).await;
    let runner = enqueue(queue, job_at(&q, 2, past()).with_priority(5)).await;
    enqueue(queue, job_at(&q, 3, now() + TimeDelta::hours(1))).await;
    enqueue(queue, job_at(&q, 4, now() + TimeDelta::hours(2))).await;
    enqueue(queue, job_at(&fresh_queue(), 5, past())).await;
    let dead = claim_expecting(queue, &q, doomed, "claim the first job").await;
    queue.fail(&dead, "boom", None).await.must("dead-letter it");
    let running = claim_expecting(queue, &q, runner, "claim the second job").await;
    let stats = queue.stats(&q).await.must("stats");
    assert_eq!(stats, QueueStats { queued: 2, running: 1, dead: 1 }, "stats count one queue's jobs per state");
    queue.complete(&running).await.must("complete");
}

/// `get_job` of an unknown id is `None`.
pub async fn missing_job_is_none(queue: &dyn JobQueue) {
    assert_eq!(queue.get_job(JobId::new()).await.must("get an unknown job"), None, "get_job of an unknown id is None");
}
