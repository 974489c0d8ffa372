//! [`JobQueue`] on the `jobs` table.
//!
//! A claim selects the due jobs and leases each one inside one `BEGIN IMMEDIATE` transaction,
//! so two claimers (on other connections or in other processes) never get the same job. Every
//! later call is fenced on `(id, lease_token, state = 'running')`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    EnqueueOutcome, Enqueued, Error, Job, JobId, JobQueue, JobState, NewJob, QueueStats, Result,
};
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::codec::{DbResultExt, from_json, parse, parse_opt_ts, parse_ts, to_json, to_u32, ts};

/// Every job column, as a `SELECT` or `RETURNING` list.
macro_rules! job_columns {
    () => {
        "id, queue, kind, payload, run_at, priority, attempts, max_attempts, unique_key, state, lease_token, \
        lease_until, locked_by, last_error, created_at"
    };
}

const GET_JOB: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = ?");

const INSERT_JOB: &str = "INSERT INTO jobs \
    (id, queue, kind, payload, run_at, priority, attempts, max_attempts, unique_key, state, created_at) \
    VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, 'queued', ?)";

/// Inserts every job of a JSON array of [`BulkJob`] arrays in one statement.
const INSERT_JOBS_JSON: &str = "INSERT INTO jobs \
    (id, queue, kind, payload, run_at, priority, attempts, max_attempts, unique_key, state, created_at) \
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, 0, value ->> 6, NULL, \
    'queued', value ->> 7 FROM json_each(?)";

const FIND_BY_UNIQUE_KEY: &str = "SELECT id, state FROM jobs WHERE unique_key = ?";

/// Replaces a queued or dead job; a dead one restarts with 0 attempts.
const REPLACE_JOB: &str = "UPDATE jobs SET payload = ?, run_at = ?, priority = ?, max_attempts = ?, \
    attempts = CASE WHEN state = 'dead' THEN 0 ELSE attempts END, state = 'queued', \
    lease_token = NULL, lease_until = NULL, locked_by = NULL WHERE id = ?";

const SELECT_CLAIMABLE: &str = "SELECT id FROM jobs \
    WHERE queue IN (SELECT value FROM json_each(?1)) \
    AND ((state = 'queued' AND run_at <= ?2) \
        OR (state = 'running' AND (lease_until IS NULL OR lease_until <= ?2))) \
    ORDER BY priority DESC, run_at ASC, created_at ASC, id ASC LIMIT ?3";

/// Running jobs whose lease expired after their last allowed attempt are dead-lettered instead of
/// run again: a job that keeps killing its worker must not loop forever.
const BURY_EXPIRED: &str = "UPDATE jobs SET state = 'dead', lease_token = NULL, lease_until = NULL, \
    locked_by = NULL, last_error = 'lease expired after the last allowed attempt (the worker died or stalled)' \
    WHERE queue IN (SELECT value FROM json_each(?1)) AND state = 'running' \
    AND (lease_until IS NULL OR lease_until <= ?2) AND attempts >= max_attempts";

const LEASE_JOB: &str = concat!(
    "UPDATE jobs SET state = 'running', lease_token = ?, lease_until = ?, locked_by = ?, attempts = attempts + 1 \
    WHERE id = ? RETURNING ",
    job_columns!()
);

const HEARTBEAT: &str =
    "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_token = ? AND state = 'running'";

const COMPLETE: &str = "DELETE FROM jobs WHERE id = ? AND lease_token = ? AND state = 'running'";

const FAIL: &str = "UPDATE jobs SET \
    state = CASE WHEN ?1 IS NOT NULL AND attempts < max_attempts THEN 'queued' ELSE 'dead' END, \
    run_at = CASE WHEN ?1 IS NOT NULL AND attempts < max_attempts THEN ?1 ELSE run_at END, \
    last_error = ?2, lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = ?3 AND lease_token = ?4 AND state = 'running' RETURNING state";

/// `retry_later`: requeue at `?` without counting the attempt.
const RETRY_LATER: &str = "UPDATE jobs SET state = 'queued', run_at = ?, attempts = MAX(attempts - 1, 0), \
    lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = ? AND lease_token = ? AND state = 'running'";

/// `release`: requeue due now (or as before, if earlier) without counting the attempt.
const RELEASE: &str = "UPDATE jobs SET state = 'queued', run_at = MIN(run_at, ?), attempts = MAX(attempts - 1, 0), \
    lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = ? AND lease_token = ? AND state = 'running'";

const NEXT_WAKEUP: &str = "SELECT MIN(t) FROM ( \
    SELECT MIN(run_at) AS t FROM jobs \
        WHERE state = 'queued' AND queue IN (SELECT value FROM json_each(?1)) \
    UNION ALL \
    SELECT MIN(lease_until) AS t FROM jobs \
        WHERE state = 'running' AND queue IN (SELECT value FROM json_each(?1)))";

const STATS: &str = "SELECT state, COUNT(*) FROM jobs WHERE queue = ? GROUP BY state";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    queue: String,
    kind: String,
    payload: String,
    run_at: String,
    priority: i64,
    attempts: i64,
    max_attempts: i64,
    unique_key: Option<String>,
    state: String,
    lease_token: Option<String>,
    lease_until: Option<String>,
    locked_by: Option<String>,
    last_error: Option<String>,
    created_at: String,
}

impl TryFrom<JobRow> for Job {
    type Error = Error;
    fn try_from(row: JobRow) -> Result<Self> {
        Ok(Job {
            id: parse(&row.id, "jobs.id")?,
            queue: row.queue,
            kind: row.kind,
            payload: from_json(&row.payload, "jobs.payload")?,
            run_at: parse_ts(&row.run_at, "jobs.run_at")?,
            priority: i32::try_from(row.priority)
                .map_err(|e| Error::other(super::BACKEND, format!("jobs.priority: {e}")))?,
            attempts: to_u32(row.attempts, "jobs.attempts")?,
            max_attempts: to_u32(row.max_attempts, "jobs.max_attempts")?,
            unique_key: row.unique_key,
            state: JobState::parse(&row.state)?,
            lease_token: row
                .lease_token
                .as_deref()
                .map(|t| parse(t, "jobs.lease_token"))
                .transpose()?,
            lease_until: parse_opt_ts(row.lease_until.as_deref(), "jobs.lease_until")?,
            locked_by: row.locked_by,
            last_error: row.last_error,
            created_at: parse_ts(&row.created_at, "jobs.created_at")?,
        })
    }
}

/// One element of the JSON array bound to [`INSERT_JOBS_JSON`] (serialized as an array, which
/// SQLite reads faster than an object): id, queue, kind, payload JSON text, run_at, priority,
/// max_attempts, created_at.
type BulkJob<'a> = (String, &'a str, &'a str, String, String, i32, u32, &'a str);

/// `now + lease`, saturating (see [`ts`] for how far).
fn lease_until(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The `(id, lease_token)` pair a fenced call matches on; a job without a token never matches.
fn fence(job: &Job) -> Result<(String, String)> {
    match job.lease_token {
        Some(token) => Ok((job.id.to_string(), token.to_string())),
        None => Err(lost_lease(job.id)),
    }
}

/// The error of a fenced call whose lease is gone.
fn lost_lease(id: JobId) -> Error {
    Error::conflict(format!("job {id} (the caller's lease is no longer held)"))
}

/// Enqueues a job with a unique key inside the caller's `BEGIN IMMEDIATE` transaction.
async fn enqueue_unique(
    conn: &mut SqliteConnection,
    job: &NewJob,
    key: &str,
    now: &str,
) -> Result<Enqueued> {
    let existing = sqlx::query_as::<_, (String, String)>(FIND_BY_UNIQUE_KEY)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .db("job")?;
    match existing {
        Some((id, state)) => {
            let id: JobId = parse(&id, "jobs.id")?;
            if JobState::parse(&state)? == JobState::Running {
                return Ok(Enqueued {
                    id,
                    outcome: EnqueueOutcome::AlreadyRunning,
                });
            }
            sqlx::query(REPLACE_JOB)
                .bind(to_json(&job.payload, "payload")?)
                .bind(ts(job.run_at))
                .bind(job.priority)
                .bind(i64::from(job.max_attempts.max(1)))
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .db("job")?;
            Ok(Enqueued {
                id,
                outcome: EnqueueOutcome::Replaced,
            })
        }
        None => insert_job(conn, job, now).await,
    }
}

/// Inserts a new queued job.
async fn insert_job(conn: &mut SqliteConnection, job: &NewJob, now: &str) -> Result<Enqueued> {
    let id = JobId::new();
    sqlx::query(INSERT_JOB)
        .bind(id.to_string())
        .bind(&job.queue)
        .bind(&job.kind)
        .bind(to_json(&job.payload, "payload")?)
        .bind(ts(job.run_at))
        .bind(job.priority)
        .bind(i64::from(job.max_attempts.max(1)))
        .bind(&job.unique_key)
        .bind(now)
        .execute(&mut *conn)
        .await
        .db("job")?;
    Ok(Enqueued {
        id,
        outcome: EnqueueOutcome::Inserted,
    })
}

impl SqliteStore {
    /// Wakes every `wait_for_change` of this process, and leaves a permit for the next one so a
    /// worker that checked the queue just before the change does not sleep through it.
    fn jobs_changed(&self) {
        self.jobs_changed.notify_waiters();
        self.jobs_changed.notify_one();
    }

    /// Runs a fenced requeue (`sql` is [`RETRY_LATER`] or [`RELEASE`]) at `run_at`.
    async fn requeue(&self, sql: &'static str, job: &Job, run_at: DateTime<Utc>) -> Result<()> {
        let (id, token) = fence(job)?;
        let done = sqlx::query(sql)
            .bind(ts(run_at))
            .bind(&id)
            .bind(&token)
            .execute(&self.pool)
            .await
            .db("job")?;
        if done.rows_affected() == 0 {
            return Err(lost_lease(job.id));
        }
        self.jobs_changed();
        Ok(())
    }
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let now = ts(self.clock.now());
        let enqueued = match job.unique_key.as_deref() {
            Some(key) => {
                // Read-then-write: the key's current holder decides what happens.
                let mut tx = self.begin_immediate("job").await?;
                let enqueued = enqueue_unique(&mut tx, &job, key, &now).await?;
                tx.commit().await.db("job")?;
                enqueued
            }
            None => {
                let mut conn = self.pool.acquire().await.db("job")?;
                insert_job(&mut conn, &job, &now).await?
            }
        };
        if enqueued.outcome != EnqueueOutcome::AlreadyRunning {
            self.jobs_changed();
        }
        Ok(enqueued)
    }

    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = ts(self.clock.now());
        // Jobs without a unique key cannot collide: insert them all with one statement.
        let mut results = Vec::with_capacity(jobs.len());
        let mut bulk = Vec::new();
        for job in &jobs {
            if job.unique_key.is_none() {
                let id = JobId::new();
                let row: BulkJob<'_> = (
                    id.to_string(),
                    &job.queue,
                    &job.kind,
                    to_json(&job.payload, "payload")?,
                    ts(job.run_at),
                    job.priority,
                    job.max_attempts.max(1),
                    &now,
                );
                bulk.push(row);
                results.push(Some(Enqueued {
                    id,
                    outcome: EnqueueOutcome::Inserted,
                }));
            } else {
                results.push(None);
            }
        }
        let bulk_json = if bulk.is_empty() {
            None
        } else {
            Some(to_json(&bulk, "jobs")?)
        };

        let mut tx = self.begin_immediate("job").await?;
        if let Some(bulk_json) = bulk_json {
            sqlx::query(INSERT_JOBS_JSON)
                .bind(bulk_json)
                .execute(&mut *tx)
                .await
                .db("job")?;
        }
        // Keyed jobs in input order, so a later duplicate key replaces an earlier one.
        for (job, slot) in jobs.iter().zip(results.iter_mut()) {
            if let Some(key) = job.unique_key.as_deref() {
                *slot = Some(enqueue_unique(&mut tx, job, key, &now).await?);
            }
        }
        tx.commit().await.db("job")?;
        if results
            .iter()
            .flatten()
            .any(|e| e.outcome != EnqueueOutcome::AlreadyRunning)
        {
            self.jobs_changed();
        }
        results
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| {
                    Error::other(super::BACKEND, "enqueue_batch left a job unprocessed")
                })
            })
            .collect()
    }

    async fn claim(
        &self,
        queues: &[String],
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        if queues.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let until = ts(lease_until(now, lease));
        let queues = to_json(queues, "queues")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);

        let mut tx = self.begin_immediate("job").await?;
        sqlx::query(BURY_EXPIRED)
            .bind(&queues)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .db("job")?;
        let ids = sqlx::query_scalar::<_, String>(SELECT_CLAIMABLE)
            .bind(&queues)
            .bind(ts(now))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .db("job")?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query_as::<_, JobRow>(LEASE_JOB)
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(&until)
                .bind(worker)
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .db("job")?;
            claimed.push(Job::try_from(row)?);
        }
        tx.commit().await.db("job")?;
        Ok(claimed)
    }

    async fn heartbeat(&self, job: &Job, lease: Duration) -> Result<()> {
        let (id, token) = fence(job)?;
        let until = lease_until(self.clock.now(), lease);
        let done = sqlx::query(HEARTBEAT)
            .bind(ts(until))
            .bind(&id)
            .bind(&token)
            .execute(&self.pool)
            .await
            .db("job")?;
        if done.rows_affected() == 0 {
            return Err(lost_lease(job.id));
        }
        Ok(())
    }

    async fn complete(&self, job: &Job) -> Result<()> {
        let (id, token) = fence(job)?;
        let done = sqlx::query(COMPLETE)
            .bind(&id)
            .bind(&token)
            .execute(&self.pool)
            .await
            .db("job")?;
        if done.rows_affected() == 0 {
            return Err(lost_lease(job.id));
        }
        Ok(())
    }

    async fn complete_many(&self, jobs: &[Job]) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(jobs.len());
        if jobs.is_empty() {
            return Ok(out);
        }
        let mut tx = self.begin_immediate("job").await?;
        for job in jobs {
            let Ok((id, token)) = fence(job) else {
                out.push(false);
                continue;
            };
            let done = sqlx::query(COMPLETE)
                .bind(&id)
                .bind(&token)
                .execute(&mut *tx)
                .await
                .db("job")?;
            out.push(done.rows_affected() == 1);
        }
        tx.commit().await.db("job")?;
        Ok(out)
    }

    async fn fail(
        &self,
        job: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<JobState> {
        let (id, token) = fence(job)?;
        let state = sqlx::query_scalar::<_, String>(FAIL)
            .bind(retry_at.map(ts))
            .bind(error)
            .bind(&id)
            .bind(&token)
            .fetch_optional(&self.pool)
            .await
            .db("job")?
            .ok_or_else(|| lost_lease(job.id))?;
        let state = JobState::parse(&state)?;
        if state == JobState::Queued {
            self.jobs_changed();
        }
        Ok(state)
    }

    async fn retry_later(&self, job: &Job, run_at: DateTime<Utc>) -> Result<()> {
        self.requeue(RETRY_LATER, job, run_at).await
    }

    async fn release(&self, job: &Job) -> Result<()> {
        self.requeue(RELEASE, job, self.clock.now()).await
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(GET_JOB)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("job")?
            .map(Job::try_from)
            .transpose()
    }

    async fn next_wakeup(&self, queues: &[String]) -> Result<Option<DateTime<Utc>>> {
        if queues.is_empty() {
            return Ok(None);
        }
        let next = sqlx::query_scalar::<_, Option<String>>(NEXT_WAKEUP)
            .bind(to_json(queues, "queues")?)
            .fetch_one(&self.pool)
            .await
            .db("job")?;
        parse_opt_ts(next.as_deref(), "jobs.run_at")
    }

    async fn wait_for_change(&self, timeout: Duration) {
        // Timing out is the normal way to stop waiting; there is nothing to report.
        let _ = tokio::time::timeout(timeout, self.jobs_changed.notified()).await;
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats> {
        let rows = sqlx::query_as::<_, (String, i64)>(STATS)
            .bind(queue)
            .fetch_all(&self.pool)
            .await
            .db("job")?;
        let mut stats = QueueStats::default();
        for (state, count) in rows {
            let count = u64::try_from(count).unwrap_or(0);
            match JobState::parse(&state)? {
                JobState::Queued => stats.queued = count,
                JobState::Running => stats.running = count,
                JobState::Dead => stats.dead = count,
            }
        }
        Ok(stats)
    }
}
