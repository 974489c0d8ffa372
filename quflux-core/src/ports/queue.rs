//! The durable job queue port.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{JobId, Result};

/// Queue that publishes schedules.
pub const PUBLISHING_QUEUE: &str = "publishing";
/// Queue that runs AI requests.
pub const AI_GENERATION_QUEUE: &str = "ai_generation";

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Queue name, e.g. [`PUBLISHING_QUEUE`].
    pub queue: String,
    /// Handler name, e.g. `publish_schedule`.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Earliest time it may run.
    pub run_at: DateTime<Utc>,
    /// Higher runs first among due jobs.
    pub priority: i32,
    /// Failures after which the job is dead-lettered.
    pub max_attempts: u32,
    /// At most one job with this key exists at a time.
    pub unique_key: Option<String>,
}

impl NewJob {
    /// A job due now with priority 0, 5 attempts and no unique key.
    pub fn new(queue: &str, kind: &str, payload: serde_json::Value, now: DateTime<Utc>) -> Self {
        Self {
            queue: queue.to_owned(),
            kind: kind.to_owned(),
            payload,
            run_at: now,
            priority: 0,
            max_attempts: 5,
            unique_key: None,
        }
    }
    /// Sets `run_at`.
    pub fn with_run_at(mut self, run_at: DateTime<Utc>) -> Self {
        self.run_at = run_at;
        self
    }
    /// Sets `priority`.
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
    /// Sets `max_attempts` (at least 1).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }
    /// Sets `unique_key`.
    pub fn with_unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker holding a lease.
    Running,
    /// Failed `max_attempts` times, or failed for good; keeps the last error.
    Dead,
}

impl JobState {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Dead => "dead",
        }
    }
    /// Parses [`JobState::as_str`].
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "dead" => Ok(Self::Dead),
            other => Err(crate::Error::invalid_input(
                "state",
                format!("unknown job state `{other}`"),
            )),
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Queue name.
    pub queue: String,
    /// Handler name.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Earliest time it may run.
    pub run_at: DateTime<Utc>,
    /// Higher runs first.
    pub priority: i32,
    /// Times it was claimed (including the current claim).
    pub attempts: u32,
    /// Failures after which it is dead-lettered.
    pub max_attempts: u32,
    /// Unique key, if any.
    pub unique_key: Option<String>,
    /// State.
    pub state: JobState,
    /// Fencing token of the current claim: every claim gets a new one, and only its holder
    /// may heartbeat, complete, fail, retry or release the job.
    pub lease_token: Option<uuid::Uuid>,
    /// The current claim expires then unless renewed.
    pub lease_until: Option<DateTime<Utc>>,
    /// Worker holding the claim.
    pub locked_by: Option<String>,
    /// Last failure message.
    pub last_error: Option<String>,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
}

/// What happened to an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnqueueOutcome {
    /// A new job.
    Inserted,
    /// A queued (or dead) job with the same unique key was replaced by this one.
    Replaced,
    /// A job with the same unique key is running; nothing changed.
    AlreadyRunning,
}

/// The answer to an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enqueued {
    /// The job's id (the existing one for `Replaced` and `AlreadyRunning`).
    pub id: JobId,
    /// What happened.
    pub outcome: EnqueueOutcome,
}

/// Counts per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Queued jobs (due or not).
    pub queued: u64,
    /// Claimed jobs.
    pub running: u64,
    /// Dead-lettered jobs.
    pub dead: u64,
}

/// A durable queue of jobs with leases.
///
/// # Contract
/// - `claim` hands each due job (`state = queued`, `run_at <= now`) or each running job whose
///   lease expired to exactly one caller, highest priority first, then oldest `run_at`; it sets
///   `state = running`, a new `lease_token`, `lease_until = now + lease` and increments `attempts`.
/// - A running job whose lease expired when `attempts >= max_attempts` is dead-lettered (with a
///   `last_error` saying so) instead of being claimed again: a job that keeps killing its worker
///   does not loop forever.
/// - `heartbeat`, `complete`, `fail`, `retry_later` and `release` act only if the job still holds
///   the caller's `lease_token`; otherwise they return [`crate::Error::Conflict`] and change nothing
///   (the job was taken again after the caller's lease expired).
/// - `complete` removes the job; its unique key becomes free.
/// - `fail` requeues at `retry_at` if given and `attempts < max_attempts`, otherwise dead-letters
///   the job keeping `error`; it returns the resulting state.
/// - `retry_later` requeues at `run_at` without counting a failure (attempts is decremented).
/// - `release` gives an unstarted claim back: queued again, due now, attempts decremented.
/// - `enqueue` with a unique key already held by a queued or dead job replaces that job's
///   payload, run_at, priority and max_attempts (a dead job restarts with 0 attempts); a running
///   one is left alone.
/// - `wait_for_change` returns when a job may have become claimable in this process (an enqueue,
///   a release) or after `timeout`, whichever is first.
#[async_trait]
pub trait JobQueue: Send + Sync + std::fmt::Debug + 'static {
    /// Adds one job.
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued>;
    /// Adds many jobs at once.
    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>>;
    /// Claims up to `limit` due jobs from `queues`.
    async fn claim(
        &self,
        queues: &[String],
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>>;
    /// Extends a claim's lease to `now + lease`.
    async fn heartbeat(&self, job: &Job, lease: Duration) -> Result<()>;
    /// Finishes a job successfully.
    async fn complete(&self, job: &Job) -> Result<()>;
    /// Finishes several jobs at once (one round trip where the backend allows it). The answer has
    /// one entry per job, in order: `true` if that job still held its lease and was removed,
    /// `false` if it had been taken again (nothing changed for it).
    async fn complete_many(&self, jobs: &[Job]) -> Result<Vec<bool>>;
    /// Records a failure; requeues at `retry_at` or dead-letters.
    async fn fail(
        &self,
        job: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<JobState>;
    /// Requeues at `run_at` without counting a failure.
    async fn retry_later(&self, job: &Job, run_at: DateTime<Utc>) -> Result<()>;
    /// Gives back an unstarted claim.
    async fn release(&self, job: &Job) -> Result<()>;
    /// Loads a job.
    async fn get_job(&self, id: JobId) -> Result<Option<Job>>;
    /// Earliest instant a job in `queues` may become claimable: the next `run_at` of a queued
    /// job or the next lease expiry of a running one.
    async fn next_wakeup(&self, queues: &[String]) -> Result<Option<DateTime<Utc>>>;
    /// Waits for an enqueue or release in this process, or for `timeout`.
    async fn wait_for_change(&self, timeout: Duration);
    /// Counts per state for one queue.
    async fn stats(&self, queue: &str) -> Result<QueueStats>;
}
