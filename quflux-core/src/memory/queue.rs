//! [`InMemoryQueue`]: the [`JobQueue`] contract over a mutex-protected map.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;

use super::lock;
use crate::{
    Clock, EnqueueOutcome, Enqueued, Error, Job, JobId, JobQueue, JobState, NewJob, QueueStats,
    Result, SystemClock,
};

/// `last_error` of a job dead-lettered because its lease expired after its last attempt.
const EXPIRED_AFTER_LAST_ATTEMPT: &str =
    "lease expired after the last allowed attempt (the worker died or stalled)";

/// A [`JobQueue`] in memory, following the trait contract exactly.
///
/// - Unique keys are global across queues.
/// - Time comes from the [`Clock`] given to [`InMemoryQueue::with_clock`] (the system clock for
///   [`InMemoryQueue::new`]); pair it with a [`super::ManualClock`] for deterministic tests.
/// - [`JobQueue::wait_for_change`] wakes on an enqueue that inserted or replaced a job, a
///   release, a `retry_later` and a `fail` that requeued. A change that happens while nobody is
///   waiting is remembered for the next waiter, so a worker that checks the queue and then waits
///   never misses it (at the cost of one early wake-up).
#[derive(Debug)]
pub struct InMemoryQueue {
    clock: Arc<dyn Clock>,
    state: Mutex<QueueState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct QueueState {
    jobs: HashMap<JobId, Job>,
    /// Unique key → the job holding it.
    keys: HashMap<String, JobId>,
}

impl Default for InMemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryQueue {
    /// An empty queue on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty queue on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(QueueState::default()),
            changed: Notify::new(),
        }
    }

    /// A snapshot of every job (any queue, any state), ordered by creation.
    pub fn jobs(&self) -> Vec<Job> {
        let mut jobs: Vec<Job> = self.state().jobs.values().cloned().collect();
        jobs.sort_by_key(|j| (j.created_at, j.id));
        jobs
    }

    fn state(&self) -> MutexGuard<'_, QueueState> {
        lock(&self.state)
    }

    /// Wakes every current waiter and leaves a permit for the next one.
    fn signal(&self) {
        self.changed.notify_waiters();
        self.changed.notify_one();
    }
}

/// `at + d`, saturating instead of overflowing.
fn plus(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn clear_lease(job: &mut Job) {
    job.lease_token = None;
    job.lease_until = None;
    job.locked_by = None;
}

/// Applies one enqueue; returns the answer and whether a job may have become claimable.
fn enqueue_one(state: &mut QueueState, new: NewJob, now: DateTime<Utc>) -> (Enqueued, bool) {
    let max_attempts = new.max_attempts.max(1);
    if let Some(key) = &new.unique_key
        && let Some(&id) = state.keys.get(key)
        && let Some(existing) = state.jobs.get_mut(&id)
    {
        if existing.state == JobState::Running {
            return (
                Enqueued {
                    id,
                    outcome: EnqueueOutcome::AlreadyRunning,
                },
                false,
            );
        }
        if existing.state == JobState::Dead {
            existing.state = JobState::Queued;
            existing.attempts = 0;
            clear_lease(existing);
        }
        existing.payload = new.payload;
        existing.run_at = new.run_at;
        existing.priority = new.priority;
        existing.max_attempts = max_attempts;
        return (
            Enqueued {
                id,
                outcome: EnqueueOutcome::Replaced,
            },
            true,
        );
    }
    let id = JobId::new();
    if let Some(key) = &new.unique_key {
        state.keys.insert(key.clone(), id);
    }
    let job = Job {
        id,
        queue: new.queue,
        kind: new.kind,
        payload: new.payload,
        run_at: new.run_at,
        priority: new.priority,
        attempts: 0,
        max_attempts,
        unique_key: new.unique_key,
        state: JobState::Queued,
        lease_token: None,
        lease_until: None,
        locked_by: None,
        last_error: None,
        created_at: now,
    };
    state.jobs.insert(id, job);
    (
        Enqueued {
            id,
            outcome: EnqueueOutcome::Inserted,
        },
        true,
    )
}

/// The stored job if it still holds the caller's lease token.
fn held<'a>(state: &'a mut QueueState, job: &Job) -> Result<&'a mut Job> {
    match state.jobs.get_mut(&job.id) {
        Some(stored)
            if stored.state == JobState::Running
                && stored.lease_token.is_some()
                && stored.lease_token == job.lease_token =>
        {
            Ok(stored)
        }
        _ => Err(Error::conflict(format!(
            "job {} (the caller's lease is no longer held)",
            job.id
        ))),
    }
}

fn claimable(job: &Job, queues: &[String], now: DateTime<Utc>) -> bool {
    queues.contains(&job.queue)
        && match job.state {
            JobState::Queued => job.run_at <= now,
            JobState::Running => job.lease_until.is_none_or(|until| until <= now),
            JobState::Dead => false,
        }
}

#[async_trait]
impl JobQueue for InMemoryQueue {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let now = self.clock.now();
        let (enqueued, changed) = enqueue_one(&mut self.state(), job, now);
        if changed {
            self.signal();
        }
        Ok(enqueued)
    }

    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let now = self.clock.now();
        let mut any_change = false;
        let out = {
            let mut state = self.state();
            jobs.into_iter()
                .map(|job| {
                    let (enqueued, changed) = enqueue_one(&mut state, job, now);
                    any_change |= changed;
                    enqueued
                })
                .collect()
        };
        if any_change {
            self.signal();
        }
        Ok(out)
    }

    async fn claim(
        &self,
        queues: &[String],
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        let now = self.clock.now();
        let mut state = self.state();
        // A job whose lease expired after its last allowed attempt is dead-lettered, not rerun.
        for job in state.jobs.values_mut() {
            if job.state == JobState::Running
                && queues.contains(&job.queue)
                && job.lease_until.is_none_or(|t| t <= now)
                && job.attempts >= job.max_attempts
            {
                job.state = JobState::Dead;
                job.last_error = Some(EXPIRED_AFTER_LAST_ATTEMPT.to_owned());
                clear_lease(job);
            }
        }
        let mut due: Vec<&Job> = state
            .jobs
            .values()
            .filter(|j| claimable(j, queues, now))
            .collect();
        due.sort_by_key(|j| (Reverse(j.priority), j.run_at, j.created_at, j.id));
        let ids: Vec<JobId> = due.into_iter().take(limit).map(|j| j.id).collect();
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(job) = state.jobs.get_mut(&id) {
                job.state = JobState::Running;
                job.lease_token = Some(uuid::Uuid::new_v4());
                job.lease_until = Some(plus(now, lease));
                job.locked_by = Some(worker.to_owned());
                job.attempts = job.attempts.saturating_add(1);
                claimed.push(job.clone());
            }
        }
        Ok(claimed)
    }

    async fn heartbeat(&self, job: &Job, lease: Duration) -> Result<()> {
        let now = self.clock.now();
        let mut state = self.state();
        held(&mut state, job)?.lease_until = Some(plus(now, lease));
        Ok(())
    }

    async fn complete(&self, job: &Job) -> Result<()> {
        let mut state = self.state();
        held(&mut state, job)?;
        if let Some(done) = state.jobs.remove(&job.id)
            && let Some(key) = done.unique_key
            && state.keys.get(&key) == Some(&done.id)
        {
            state.keys.remove(&key);
        }
        Ok(())
    }

    async fn complete_many(&self, jobs: &[Job]) -> Result<Vec<bool>> {
        let mut state = self.state();
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            if held(&mut state, job).is_err() {
                out.push(false);
                continue;
            }
            if let Some(done) = state.jobs.remove(&job.id)
                && let Some(key) = done.unique_key
                && state.keys.get(&key) == Some(&done.id)
            {
                state.keys.remove(&key);
            }
            out.push(true);
        }
        Ok(out)
    }

    async fn fail(
        &self,
        job: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<JobState> {
        let result = {
            let mut state = self.state();
            let stored = held(&mut state, job)?;
            stored.last_error = Some(error.to_owned());
            clear_lease(stored);
            match retry_at {
                Some(at) if stored.attempts < stored.max_attempts => {
                    stored.state = JobState::Queued;
                    stored.run_at = at;
                }
                _ => stored.state = JobState::Dead,
            }
            stored.state
        };
        if result == JobState::Queued {
            self.signal();
        }
        Ok(result)
    }

    async fn retry_later(&self, job: &Job, run_at: DateTime<Utc>) -> Result<()> {
        {
            let mut state = self.state();
            let stored = held(&mut state, job)?;
            clear_lease(stored);
            stored.state = JobState::Queued;
            stored.run_at = run_at;
            stored.attempts = stored.attempts.saturating_sub(1);
        }
        self.signal();
        Ok(())
    }

    async fn release(&self, job: &Job) -> Result<()> {
        let now = self.clock.now();
        {
            let mut state = self.state();
            let stored = held(&mut state, job)?;
            clear_lease(stored);
            stored.state = JobState::Queued;
            stored.run_at = stored.run_at.min(now);
            stored.attempts = stored.attempts.saturating_sub(1);
        }
        self.signal();
        Ok(())
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>> {
        Ok(self.state().jobs.get(&id).cloned())
    }

    async fn next_wakeup(&self, queues: &[String]) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .state()
            .jobs
            .values()
            .filter(|j| queues.contains(&j.queue))
            .filter_map(|j| match j.state {
                JobState::Queued => Some(j.run_at),
                JobState::Running => j.lease_until,
                JobState::Dead => None,
            })
            .min())
    }

    async fn wait_for_change(&self, timeout: Duration) {
        // Timing out is the normal way to stop waiting; there is nothing to report.
        let _ = tokio::time::timeout(timeout, self.changed.notified()).await;
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats> {
        let mut stats = QueueStats::default();
        for job in self.state().jobs.values().filter(|j| j.queue == queue) {
            match job.state {
                JobState::Queued => stats.queued += 1,
                JobState::Running => stats.running += 1,
                JobState::Dead => stats.dead += 1,
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::ManualClock;

    fn queues() -> Vec<String> {
        vec!["q".to_owned()]
    }

    fn start() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn manual_clock_drives_due_times_and_lease_expiry() {
        let clock = Arc::new(ManualClock::new(start()));
        let queue = InMemoryQueue::with_clock(clock.clone());
        let job = NewJob::new(
            "q",
            "k",
            serde_json::json!({}),
            start() + TimeDelta::minutes(5),
        );
        let id = queue.enqueue(job).await.unwrap().id;
        assert!(
            queue
                .claim(&queues(), "w", 1, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            queue.next_wakeup(&queues()).await.unwrap(),
            Some(start() + TimeDelta::minutes(5))
        );

        clock.advance(Duration::from_secs(300));
        let first = queue
            .claim(&queues(), "w1", 1, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].id, id);
        assert_eq!(
            first[0].lease_until,
            Some(start() + TimeDelta::seconds(330))
        );
        assert_eq!(
            queue.next_wakeup(&queues()).await.unwrap(),
            Some(start() + TimeDelta::seconds(330))
        );

        clock.advance(Duration::from_secs(29));
        assert!(
            queue
                .claim(&queues(), "w2", 1, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty()
        );
        clock.advance(Duration::from_secs(1));
        let second = queue
            .claim(&queues(), "w2", 1, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(second[0].attempts, 2);
        assert_ne!(second[0].lease_token, first[0].lease_token);
        assert_eq!(
            queue.complete(&first[0]).await.unwrap_err().kind(),
            crate::ErrorKind::Conflict
        );
        queue.complete(&second[0]).await.unwrap();
        assert_eq!(queue.next_wakeup(&queues()).await.unwrap(), None);
        assert!(queue.jobs().is_empty());
    }

    #[tokio::test]
    async fn a_change_while_nobody_waits_wakes_the_next_waiter() {
        let queue = InMemoryQueue::new();
        queue
            .enqueue(NewJob::new("q", "k", serde_json::json!(1), Utc::now()))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        queue.wait_for_change(Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn zero_max_attempts_is_treated_as_one() {
        let queue = InMemoryQueue::new();
        let mut job = NewJob::new("q", "k", serde_json::json!(1), Utc::now());
        job.max_attempts = 0;
        queue.enqueue(job).await.unwrap();
        let claimed = queue
            .claim(&queues(), "w", 1, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(claimed[0].max_attempts, 1);
        let state = queue
            .fail(&claimed[0], "boom", Some(Utc::now()))
            .await
            .unwrap();
        assert_eq!(state, JobState::Dead);
    }
}
