//! Wake-ups, change notifications, stats and lookups.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};

use super::*;
use crate::testkit::fixtures::now;
use crate::testkit::{Must, assert_close};
use crate::{JobId, JobQueue, QueueStats};

/// `next_wakeup` is the earliest `run_at` of a queued job or `lease_until` of a running one in
/// the given queues; dead jobs and other queues do not count.
pub async fn next_wakeup_is_the_earliest_run_at_or_lease_expiry(queue: &dyn JobQueue) {
    let q = fresh_queue();
    let other = fresh_queue();
    let qs = [q.clone()];
    assert_eq!(
        queue.next_wakeup(&qs).await.must("next_wakeup"),
        None,
        "an empty queue has no wake-up"
    );

    let t = now();
    enqueue(queue, job_at(&q, 1, t + TimeDelta::hours(1))).await;
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else {
        panic!("a queued job gives a wake-up")
    };
    assert_close(
        w,
        t + TimeDelta::hours(1),
        STORED_SLACK,
        "next_wakeup is the run_at of the only job",
    );

    enqueue(queue, job_at(&q, 2, t + TimeDelta::minutes(10))).await;
    enqueue(queue, job_at(&other, 3, t + TimeDelta::minutes(1))).await;
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else {
        panic!("wake-up")
    };
    assert_close(
        w,
        t + TimeDelta::minutes(10),
        STORED_SLACK,
        "next_wakeup is the earliest run_at, other queues ignored",
    );
    let Some(both) = queue
        .next_wakeup(&[q.clone(), other.clone()])
        .await
        .must("next_wakeup")
    else {
        panic!("wake-up")
    };
    assert_close(
        both,
        t + TimeDelta::minutes(1),
        STORED_SLACK,
        "next_wakeup covers every given queue",
    );

    let due = enqueue(queue, job_at(&q, 4, t - TimeDelta::seconds(5))).await;
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else {
        panic!("wake-up")
    };
    assert_close(
        w,
        t - TimeDelta::seconds(5),
        STORED_SLACK,
        "a due job's run_at is the wake-up (in the past)",
    );

    let claimed_at = Utc::now();
    let Some(job) = claim_one(queue, &q, "w", Duration::from_secs(30)).await else {
        panic!("claim the due job")
    };
    assert_eq!(job.id, due, "only one job is due");
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else {
        panic!("wake-up")
    };
    assert_close(
        w,
        claimed_at + TimeDelta::seconds(30),
        CLOCK_SLACK,
        "a running job's lease expiry is a wake-up",
    );

    queue
        .fail(&job, "dead", None)
        .await
        .must("dead-letter the running job");
    let Some(w) = queue.next_wakeup(&qs).await.must("next_wakeup") else {
        panic!("wake-up")
    };
    assert_close(
        w,
        t + TimeDelta::minutes(10),
        STORED_SLACK,
        "dead jobs do not count",
    );
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
    assert!(
        elapsed < Duration::from_secs(3),
        "wait_for_change must return soon after an enqueue (took {elapsed:?} of {timeout:?})"
    );
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
    assert!(
        elapsed < Duration::from_secs(3),
        "wait_for_change must return soon after a release (took {elapsed:?} of {timeout:?})"
    );
    let job = claim_expecting(queue, &q, id, "claim after release").await;
    queue.complete(&job).await.must("complete");
}

/// Without a change, `wait_for_change` returns once its timeout has passed.
pub async fn wait_for_change_returns_after_its_timeout(queue: &dyn JobQueue) {
    drain_changes(queue).await;
    let started = Instant::now();
    queue.wait_for_change(Duration::from_millis(150)).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "wait_for_change must return after its timeout (took {elapsed:?} for 150ms)"
    );
}

/// `stats` counts queued (due or not), running and dead jobs of one queue.
pub async fn stats_count_jobs_per_state(queue: &dyn JobQueue) {
    let q = fresh_queue();
    assert_eq!(
        queue.stats(&q).await.must("stats"),
        QueueStats::default(),
        "an unused queue has no jobs"
    );
    let doomed = enqueue(queue, job_at(&q, 1, past()).with_priority(10)).await;
    let runner = enqueue(queue, job_at(&q, 2, past()).with_priority(5)).await;
    enqueue(queue, job_at(&q, 3, now() + TimeDelta::hours(1))).await;
    enqueue(queue, job_at(&q, 4, now() + TimeDelta::hours(2))).await;
    enqueue(queue, job_at(&fresh_queue(), 5, past())).await;
    let dead = claim_expecting(queue, &q, doomed, "claim the first job").await;
    queue.fail(&dead, "boom", None).await.must("dead-letter it");
    let running = claim_expecting(queue, &q, runner, "claim the second job").await;
    let stats = queue.stats(&q).await.must("stats");
    assert_eq!(
        stats,
        QueueStats {
            queued: 2,
            running: 1,
            dead: 1
        },
        "stats count one queue's jobs per state"
    );
    queue.complete(&running).await.must("complete");
}

/// `get_job` of an unknown id is `None`.
pub async fn missing_job_is_none(queue: &dyn JobQueue) {
    assert_eq!(
        queue.get_job(JobId::new()).await.must("get an unknown job"),
        None,
        "get_job of an unknown id is None"
    );
}
