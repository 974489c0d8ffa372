//! Conformance suite for [`JobQueue`].
//!
//! Scenarios use their own queue names (`q-<uuid>`), so a queue backend may be shared. Lease
//! expiry is exercised with short leases and real sleeps, so the queue must run on the system
//! clock (as every production queue does). The whole suite takes a few seconds.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::fixtures::now;
use super::{Must, unique};
use crate::{EnqueueOutcome, Job, JobId, JobQueue, NewJob};

mod claims;
mod settle;
mod signals;

pub use claims::{
    claim_honours_the_limit, claim_order_is_priority_then_run_at,
    claim_sets_state_lease_and_attempts, concurrent_claimers_claim_each_job_once,
    concurrent_claimers_on_tasks_claim_each_job_once,
    expired_lease_after_the_last_attempt_dead_letters, expired_lease_is_reclaimed_with_a_new_token,
    heartbeat_extends_the_lease, only_due_jobs_of_the_given_queues_are_claimed,
    stale_token_operations_are_conflicts_and_change_nothing,
};
pub use settle::{
    complete_many_removes_held_jobs_and_reports_stale_ones, complete_removes_the_job,
    enqueue_batch_enqueues_every_job, fail_requeues_then_dead_letters_keeping_the_last_error,
    fail_without_retry_time_dead_letters,
    release_makes_the_job_due_now_without_counting_an_attempt,
    retry_later_does_not_count_an_attempt, unique_key_inserts_replaces_or_reports_running,
    unique_key_replaces_a_dead_job_with_fresh_attempts,
};
pub use signals::{
    missing_job_is_none, next_wakeup_is_the_earliest_run_at_or_lease_expiry,
    stats_count_jobs_per_state, wait_for_change_returns_after_its_timeout,
    wait_for_change_wakes_early_on_enqueue, wait_for_change_wakes_early_on_release,
};

/// The lease used where a scenario lets a lease expire.
pub const SHORT_LEASE: Duration = Duration::from_millis(1000);
/// How long scenarios sleep for a [`SHORT_LEASE`] to expire.
const PAST_SHORT_LEASE: Duration = Duration::from_millis(1500);
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
    expired_lease_after_the_last_attempt_dead_letters(queue).await;
    heartbeat_extends_the_lease(queue).await;
    stale_token_operations_are_conflicts_and_change_nothing(queue).await;
    complete_removes_the_job(queue).await;
    complete_many_removes_held_jobs_and_reports_stale_ones(queue).await;
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
    assert_eq!(
        enqueued.outcome,
        EnqueueOutcome::Inserted,
        "a job without unique key is always inserted"
    );
    enqueued.id
}

async fn claim_one(queue: &dyn JobQueue, q: &str, worker: &str, lease: Duration) -> Option<Job> {
    let mut jobs = queue
        .claim(&[q.to_owned()], worker, 1, lease)
        .await
        .must("claim a job");
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
