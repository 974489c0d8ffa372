//! Settling a claim: complete, fail, retry later, release; unique keys and batches.

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::*;
use crate::testkit::fixtures::now;
use crate::testkit::{Must, assert_close, unique};
use crate::{EnqueueOutcome, JobQueue, JobState};

/// `complete` removes the job.
pub async fn complete_removes_the_job(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past())).await;
    let job = claim_expecting(queue, &q, id, "claim").await;
    queue.complete(&job).await.must("complete");
    assert_eq!(
        queue.get_job(id).await.must("get a completed job"),
        None,
        "complete removes the job"
    );
    assert!(
        claim_one(queue, &q, "w", LONG_LEASE).await.is_none(),
        "a completed job is never claimed again"
    );
}

/// `complete_many` removes every job still held and reports, in order, which ones were not.
pub async fn complete_many_removes_held_jobs_and_reports_stale_ones(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let a = enqueue(queue, job_at(&q, 1, past())).await;
    let b = enqueue(queue, job_at(&q, 2, past())).await;
    let c = enqueue(queue, job_at(&q, 3, past())).await;
    let ja = claim_expecting(queue, &q, a, "claim a").await;
    let jb = claim_expecting(queue, &q, b, "claim b").await;
    let jc = claim_expecting(queue, &q, c, "claim c").await;
    let mut stale = jb.clone();
    stale.lease_token = Some(uuid::Uuid::new_v4());
    let done = queue
        .complete_many(&[ja, stale, jc])
        .await
        .must("complete_many");
    assert_eq!(
        done,
        vec![true, false, true],
        "one entry per job, false for a lost lease"
    );
    assert_eq!(
        queue.get_job(a).await.must("get a"),
        None,
        "a held job is removed"
    );
    assert_eq!(
        queue.get_job(c).await.must("get c"),
        None,
        "a held job is removed"
    );
    let kept = queue.get_job(b).await.must("get b");
    assert_eq!(
        kept.map(|j| j.state),
        Some(JobState::Running),
        "a stale entry changes nothing"
    );
    queue
        .complete(&jb)
        .await
        .must("the real holder still completes");
    assert_eq!(
        queue.complete_many(&[]).await.must("complete nothing"),
        Vec::<bool>::new()
    );
}

/// `fail` with a retry time requeues at that time while `attempts < max_attempts`, then
/// dead-letters, keeping the last error each time.
pub async fn fail_requeues_then_dead_letters_keeping_the_last_error(queue: &dyn JobQueue) {
    // A failure with a future retry time requeues the job at that time.
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(3)).await;
    let first = claim_expecting(queue, &q, id, "first claim").await;
    let retry_at = now() + TimeDelta::hours(1);
    let state = queue
        .fail(&first, "boom 1", Some(retry_at))
        .await
        .must("fail the first attempt");
    assert_eq!(
        state,
        JobState::Queued,
        "fail requeues while attempts < max_attempts"
    );
    let requeued = stored(queue, id).await;
    assert_eq!(requeued.state, JobState::Queued, "the stored job is queued");
    assert_eq!(
        requeued.last_error.as_deref(),
        Some("boom 1"),
        "fail keeps the error"
    );
    assert_eq!(requeued.attempts, 1, "a failure keeps its attempt");
    assert_close(
        requeued.run_at,
        retry_at,
        STORED_SLACK,
        "fail requeues at retry_at",
    );
    assert!(
        claim_one(queue, &q, "w", LONG_LEASE).await.is_none(),
        "a job requeued in an hour is not due"
    );

    // With two attempts allowed: the first failure requeues, the second dead-letters.
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(2)).await;
    let a1 = claim_expecting(queue, &q, id, "attempt 1").await;
    let state = queue
        .fail(&a1, "boom 1", Some(past()))
        .await
        .must("fail attempt 1");
    assert_eq!(state, JobState::Queued, "attempt 1 of 2 requeues");
    let a2 = claim_expecting(queue, &q, id, "a job requeued in the past is due at once").await;
    assert_eq!(a2.attempts, 2, "the second claim is attempt 2");
    let state = queue
        .fail(&a2, "boom 2", Some(past()))
        .await
        .must("fail attempt 2");
    assert_eq!(
        state,
        JobState::Dead,
        "attempt 2 of 2 dead-letters even with a retry time"
    );
    let dead = stored(queue, id).await;
    assert_eq!(dead.state, JobState::Dead, "the stored job is dead");
    assert_eq!(
        dead.last_error.as_deref(),
        Some("boom 2"),
        "a dead job keeps the last error"
    );
    assert_eq!(dead.attempts, 2, "a dead job keeps its attempts");
    assert!(
        claim_one(queue, &q, "w", LONG_LEASE).await.is_none(),
        "a dead job is never claimed"
    );
    assert_eq!(
        queue.stats(&q).await.must("stats").dead,
        1,
        "stats count the dead job"
    );
}

/// `fail` without a retry time dead-letters at once, whatever the attempts left.
pub async fn fail_without_retry_time_dead_letters(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(5)).await;
    let job = claim_expecting(queue, &q, id, "claim").await;
    let state = queue
        .fail(&job, "permanent: invalid content", None)
        .await
        .must("fail for good");
    assert_eq!(state, JobState::Dead, "fail without retry_at dead-letters");
    let dead = stored(queue, id).await;
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("permanent: invalid content"),
        "a dead job keeps the error"
    );
    assert!(
        claim_one(queue, &q, "w", LONG_LEASE).await.is_none(),
        "a dead job is never claimed"
    );
}

/// `retry_later` requeues at `run_at` and decrements attempts, so it never dead-letters a job.
pub async fn retry_later_does_not_count_an_attempt(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let id = enqueue(queue, job_at(&q, 1, past()).with_max_attempts(1)).await;
    for round in 0..3 {
        let job =
            claim_expecting(queue, &q, id, &format!("claim after retry_later #{round}")).await;
        assert_eq!(job.attempts, 1, "retry_later must not count an attempt");
        queue
            .retry_later(&job, past())
            .await
            .must("retry_later into the past");
        let requeued = stored(queue, id).await;
        assert_eq!(requeued.state, JobState::Queued, "retry_later requeues");
        assert_eq!(requeued.attempts, 0, "retry_later decrements attempts");
    }
    let job = claim_expecting(queue, &q, id, "claim").await;
    let later = now() + TimeDelta::hours(2);
    queue
        .retry_later(&job, later)
        .await
        .must("retry_later in two hours");
    assert_close(
        stored(queue, id).await.run_at,
        later,
        STORED_SLACK,
        "retry_later requeues at run_at",
    );
    assert!(
        claim_one(queue, &q, "w", LONG_LEASE).await.is_none(),
        "a job retried later is not due before run_at"
    );
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
    assert!(
        released.run_at <= Utc::now() + CLOCK_SLACK,
        "a released job is due now"
    );
    let again = claim_expecting(queue, &q, id, "a released job is claimable at once").await;
    assert_eq!(
        again.attempts, 1,
        "the claim after a release is attempt 1 again"
    );
    assert_ne!(
        again.lease_token, job.lease_token,
        "the new claim gets a new token"
    );
    queue.complete(&again).await.must("complete");
}

/// With a unique key: `Inserted`, then `Replaced` (payload, run_at, priority, max_attempts)
/// while queued, `AlreadyRunning` (nothing changes) while running, and free again after
/// `complete`.
pub async fn unique_key_inserts_replaces_or_reports_running(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let key = format!("publish:{}", unique());
    let first = queue
        .enqueue(job_at(&q, 1, now() + TimeDelta::hours(1)).with_unique_key(&key))
        .await
        .must("enqueue");
    assert_eq!(
        first.outcome,
        EnqueueOutcome::Inserted,
        "the first job with a key is inserted"
    );

    let replacement = job_at(&q, 2, past())
        .with_unique_key(&key)
        .with_priority(7)
        .with_max_attempts(9);
    let second = queue
        .enqueue(replacement.clone())
        .await
        .must("enqueue with the same key");
    assert_eq!(
        second,
        crate::Enqueued {
            id: first.id,
            outcome: EnqueueOutcome::Replaced
        },
        "a queued job with the key is replaced in place"
    );
    let replaced = stored(queue, first.id).await;
    assert_eq!(
        replaced.payload, replacement.payload,
        "Replaced takes the new payload"
    );
    assert_eq!(
        (replaced.priority, replaced.max_attempts),
        (7, 9),
        "Replaced takes the new priority and max_attempts"
    );
    assert_close(
        replaced.run_at,
        replacement.run_at,
        STORED_SLACK,
        "Replaced takes the new run_at",
    );
    assert_eq!(
        queue.stats(&q).await.must("stats").queued,
        1,
        "one job exists per key"
    );

    let running = claim_expecting(queue, &q, first.id, "claim the keyed job").await;
    let third = queue
        .enqueue(job_at(&q, 3, past()).with_unique_key(&key))
        .await
        .must("enqueue while running");
    assert_eq!(
        third,
        crate::Enqueued {
            id: first.id,
            outcome: EnqueueOutcome::AlreadyRunning
        },
        "a running job with the key is left alone"
    );
    assert_eq!(
        stored(queue, first.id).await,
        running,
        "AlreadyRunning changes nothing"
    );

    queue
        .complete(&running)
        .await
        .must("complete the keyed job");
    let fourth = queue
        .enqueue(job_at(&q, 4, past()).with_unique_key(&key))
        .await
        .must("enqueue after complete");
    assert_eq!(
        fourth.outcome,
        EnqueueOutcome::Inserted,
        "complete frees the unique key"
    );
    assert_ne!(fourth.id, first.id, "a new job gets a new id");
    let job = claim_expecting(queue, &q, fourth.id, "claim the new keyed job").await;
    queue.complete(&job).await.must("complete");
}

/// A dead job holding the key is replaced and restarts queued with 0 attempts.
pub async fn unique_key_replaces_a_dead_job_with_fresh_attempts(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let key = format!("dead:{}", unique());
    let id = queue
        .enqueue(
            job_at(&q, 1, past())
                .with_unique_key(&key)
                .with_max_attempts(1),
        )
        .await
        .must("enqueue")
        .id;
    let job = claim_expecting(queue, &q, id, "claim").await;
    assert_eq!(
        queue.fail(&job, "gave up", Some(past())).await.must("fail"),
        JobState::Dead,
        "the only attempt failed"
    );

    let again = queue
        .enqueue(
            job_at(&q, 2, past())
                .with_unique_key(&key)
                .with_max_attempts(3),
        )
        .await
        .must("enqueue again");
    assert_eq!(
        again,
        crate::Enqueued {
            id,
            outcome: EnqueueOutcome::Replaced
        },
        "a dead job with the key is replaced"
    );
    let revived = stored(queue, id).await;
    assert_eq!(
        revived.state,
        JobState::Queued,
        "the replaced dead job is queued again"
    );
    assert_eq!(
        revived.attempts, 0,
        "the replaced dead job restarts with 0 attempts"
    );
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
    let existing = queue
        .enqueue(job_at(&q, 0, now() + TimeDelta::hours(1)).with_unique_key(&key))
        .await
        .must("enqueue");
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
    assert_ne!(
        answers[0].id, answers[1].id,
        "every inserted job has its own id"
    );
    assert_eq!(
        answers[2],
        crate::Enqueued {
            id: existing.id,
            outcome: EnqueueOutcome::Replaced
        },
        "batches honour unique keys"
    );
    for (n, answer) in answers.iter().enumerate() {
        let job = stored(queue, answer.id).await;
        assert_eq!(
            job.payload,
            json!({ "n": n + 1 }),
            "each answer names the job it enqueued"
        );
    }
    assert!(
        queue
            .enqueue_batch(Vec::new())
            .await
            .must("enqueue an empty batch")
            .is_empty(),
        "an empty batch is fine"
    );
    let stats = queue.stats(&q).await.must("stats");
    assert_eq!(stats.queued, 3);
    let claimed = queue
        .claim(std::slice::from_ref(&q), "w", 10, LONG_LEASE)
        .await
        .must("claim the batch");
    assert_eq!(claimed.len(), 3);
    for job in &claimed {
        queue.complete(job).await.must("complete");
    }
}
