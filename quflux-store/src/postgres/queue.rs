//! [`JobQueue`] on the `jobs` table; see the module docs of [`super`] for the design.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    EnqueueOutcome, Enqueued, Error, Job, JobId, JobQueue, JobState, NewJob, QueueStats, Result,
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::PostgresStore;
use super::codec::{DbResultExt, to_u32, ts};
use super::inserter;

/// Every job column, as a `SELECT` or `RETURNING` list.
macro_rules! job_columns {
    () => {
        "id, queue, kind, payload, run_at, priority, attempts, max_attempts, unique_key, state, lease_token, \
        lease_until, locked_by, last_error, created_at"
    };
}

const GET_JOB: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");

/// Inserts every job given as parallel arrays with one statement.
const INSERT_JOBS_UNNEST: &str = "INSERT INTO jobs \
    (id, queue, kind, payload, run_at, priority, attempts, max_attempts, state, created_at) \
    SELECT id, queue, kind, payload, run_at, priority, 0, max_attempts, 'queued', created_at \
    FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::int4[], $7::int4[], \
        $8::timestamptz[]) \
    AS t (id, queue, kind, payload, run_at, priority, max_attempts, created_at)";

/// Inserts a keyed job, or replaces the queued or dead job holding the key (a dead one
/// restarts with 0 attempts). Returns nothing when the holder is running.
const UPSERT_JOB: &str = "INSERT INTO jobs \
    (id, queue, kind, payload, run_at, priority, attempts, max_attempts, unique_key, state, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, 'queued', $9) \
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO UPDATE SET \
        payload = EXCLUDED.payload, run_at = EXCLUDED.run_at, priority = EXCLUDED.priority, \
        max_attempts = EXCLUDED.max_attempts, \
        attempts = CASE WHEN jobs.state = 'dead' THEN 0 ELSE jobs.attempts END, \
        state = 'queued', lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE jobs.state <> 'running' \
    RETURNING id, queue";

const FIND_BY_UNIQUE_KEY: &str = "SELECT id FROM jobs WHERE unique_key = $1";

/// Claims up to `$3` jobs of the queues `$1` at `$2` with one statement.
///
/// - `due`: per queue, the first queued jobs in claim order from `jobs_claim`, skipping rows
///   other claimers hold locked.
/// - `expired`: running jobs whose lease expired, from `jobs_lease`.
/// - `buried`: expired jobs that were on their last attempt are dead-lettered, not run again.
/// - `picked`: the first `$3` of both in claim order get leased with a fresh token until `$4`.
///
/// Locked but unpicked rows are released when the statement's transaction ends.
const CLAIM: &str = "WITH due AS ( \
        SELECT d.id, d.priority, d.run_at FROM unnest($1::text[]) AS q (name) \
        CROSS JOIN LATERAL ( \
            SELECT id, priority, run_at FROM jobs \
            WHERE state = 'queued' AND queue = q.name AND run_at <= $2 \
            ORDER BY priority DESC, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED \
        ) AS d \
    ), expired AS ( \
        SELECT id, priority, run_at, attempts >= max_attempts AS exhausted FROM jobs \
        WHERE state = 'running' AND lease_until <= $2 AND queue = ANY($1) \
        ORDER BY priority DESC, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED \
    ), buried AS ( \
        UPDATE jobs SET state = 'dead', \
            last_error = 'lease expired during attempt ' || attempts || ' of ' || max_attempts \
                || coalesce(' (worker ' || locked_by || ')', '') \
                || coalesce('; previous error: ' || last_error, ''), \
            lease_token = NULL, lease_until = NULL, locked_by = NULL \
        FROM expired WHERE jobs.id = expired.id AND expired.exhausted \
    ), picked AS ( \
        SELECT id FROM ( \
            SELECT id, priority, run_at FROM due \
            UNION ALL SELECT id, priority, run_at FROM expired WHERE NOT exhausted \
        ) AS c ORDER BY priority DESC, run_at, id LIMIT $3 \
    ) \
    UPDATE jobs AS j SET state = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(), \
        lease_until = $4, locked_by = $5 \
    FROM picked WHERE j.id = picked.id \
    RETURNING j.id, j.queue, j.kind, j.payload, j.run_at, j.priority, j.attempts, j.max_attempts, \
        j.unique_key, j.state, j.lease_token, j.lease_until, j.locked_by, j.last_error, j.created_at";

// Fenced statements match `(id, lease_token)` only: a token is set exactly while the job runs
// (the `jobs_token_iff_running` check), and leaving `state` out keeps the planner on the primary
// key; with `state = 'running'` it may pick `jobs_lease` from stale statistics and scan every
// running job.

const HEARTBEAT: &str = "UPDATE jobs SET lease_until = $1 \
    WHERE id = $2 AND lease_token = $3";

const COMPLETE: &str = "DELETE FROM jobs WHERE id = $1 AND lease_token = $2";

const COMPLETE_BATCH: &str = "DELETE FROM jobs AS j \
    USING UNNEST($1::uuid[], $2::uuid[]) AS c (id, lease_token) \
    WHERE j.id = c.id AND j.lease_token = c.lease_token \
    RETURNING j.id, j.lease_token";

const FAIL: &str = "UPDATE jobs SET \
    state = CASE WHEN $1::timestamptz IS NOT NULL AND attempts < max_attempts THEN 'queued' ELSE 'dead' END, \
    run_at = CASE WHEN $1::timestamptz IS NOT NULL AND attempts < max_attempts THEN $1 ELSE run_at END, \
    last_error = $2, lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = $3 AND lease_token = $4 RETURNING state, queue";

/// `retry_later`: requeue at `$1` without counting the attempt.
const RETRY_LATER: &str = "UPDATE jobs SET state = 'queued', run_at = $1, \
    attempts = GREATEST(attempts - 1, 0), lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = $2 AND lease_token = $3 RETURNING queue";

/// `release`: requeue due now (or as before, if earlier) without counting the attempt.
const RELEASE: &str = "UPDATE jobs SET state = 'queued', run_at = LEAST(run_at, $1), \
    attempts = GREATEST(attempts - 1, 0), lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = $2 AND lease_token = $3 RETURNING queue";

/// The earliest `run_at` of a queued job or `lease_until` of a running one in the queues `$1`.
///
/// `jobs_claim` is ordered by priority first, so the earliest `run_at` is found with a loose
/// index scan: walk the distinct priorities of each queue (a few), and take the first `run_at`
/// of each. Both steps are index probes, however many jobs are queued.
const NEXT_WAKEUP: &str = "WITH RECURSIVE prio AS ( \
        SELECT q.name, (SELECT max(priority) FROM jobs WHERE state = 'queued' AND queue = q.name) AS p \
        FROM unnest($1::text[]) AS q (name) \
        UNION ALL \
        SELECT prio.name, (SELECT max(priority) FROM jobs \
            WHERE state = 'queued' AND queue = prio.name AND priority < prio.p) \
        FROM prio WHERE prio.p IS NOT NULL \
    ) \
    SELECT LEAST( \
        (SELECT min((SELECT min(run_at) FROM jobs \
            WHERE state = 'queued' AND queue = prio.name AND priority = prio.p)) \
         FROM prio WHERE prio.p IS NOT NULL), \
        (SELECT min(lease_until) FROM jobs WHERE state = 'running' AND queue = ANY($1)))";

const STATS: &str = "SELECT state, count(*) FROM jobs WHERE queue = $1 GROUP BY state";

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    id: Uuid,
    queue: String,
    kind: String,
    payload: serde_json::Value,
    run_at: DateTime<Utc>,
    priority: i32,
    attempts: i32,
    max_attempts: i32,
    unique_key: Option<String>,
    state: String,
    lease_token: Option<Uuid>,
    lease_until: Option<DateTime<Utc>>,
    locked_by: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = Error;
    fn try_from(row: JobRow) -> Result<Self> {
        Ok(Job {
            id: JobId::from_uuid(row.id),
            queue: row.queue,
            kind: row.kind,
            payload: row.payload,
            run_at: row.run_at,
            priority: row.priority,
            attempts: to_u32(row.attempts, "jobs.attempts")?,
            max_attempts: to_u32(row.max_attempts, "jobs.max_attempts")?,
            unique_key: row.unique_key,
            state: JobState::parse(&row.state)?,
            lease_token: row.lease_token,
            lease_until: row.lease_until,
            locked_by: row.locked_by,
            last_error: row.last_error,
            created_at: row.created_at,
        })
    }
}

/// `max_attempts` as stored: at least 1, at most `i32::MAX`.
pub(super) fn max_attempts(n: u32) -> i32 {
    i32::try_from(n.max(1)).unwrap_or(i32::MAX)
}

/// `now + lease`, saturating.
pub(super) fn lease_until(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The `(id, lease_token)` pair a fenced call matches on; a job without a token never matches.
fn fence(job: &Job) -> Result<(Uuid, Uuid)> {
    match job.lease_token {
        Some(token) => Ok((*job.id.as_uuid(), token)),
        None => Err(lost_lease(job.id)),
    }
}

/// The error of a fenced call whose lease is gone.
fn lost_lease(id: JobId) -> Error {
    Error::conflict(format!("job {id} (the caller's lease is no longer held)"))
}

/// Claim order: highest priority first, then oldest `run_at`, then id.
fn claim_order(a: &Job, b: &Job) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.run_at.cmp(&b.run_at))
        .then(a.id.cmp(&b.id))
}

/// What an enqueue changed: its answer and the queue to wake, if any.
type Upserted = (Enqueued, Option<String>);

/// Enqueues a job with a unique key: one upsert, plus a lookup when the key's holder runs.
async fn upsert_job(
    conn: &mut PgConnection,
    job: &NewJob,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Upserted> {
    // A running holder that completes between the upsert and the lookup frees the key: then
    // the upsert is tried again. Three rounds only lose to a holder completing every time.
    for _ in 0..3 {
        let new_id = JobId::new();
        let upserted = sqlx::query_as::<_, (Uuid, String)>(UPSERT_JOB)
            .bind(new_id.as_uuid())
            .bind(&job.queue)
            .bind(&job.kind)
            .bind(&job.payload)
            .bind(ts(job.run_at))
            .bind(job.priority)
            .bind(max_attempts(job.max_attempts))
            .bind(key)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await
            .db(&format!("job with unique key `{key}`"))?;
        if let Some((id, queue)) = upserted {
            let id = JobId::from_uuid(id);
            let outcome = if id == new_id {
                EnqueueOutcome::Inserted
            } else {
                EnqueueOutcome::Replaced
            };
            return Ok((Enqueued { id, outcome }, Some(queue)));
        }
        let running = sqlx::query_scalar::<_, Uuid>(FIND_BY_UNIQUE_KEY)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .db("job")?;
        if let Some(id) = running {
            let enqueued = Enqueued {
                id: JobId::from_uuid(id),
                outcome: EnqueueOutcome::AlreadyRunning,
            };
            return Ok((enqueued, None));
        }
    }
    Err(Error::conflict(format!(
        "job with unique key `{key}` (its holder kept changing)"
    )))
}

impl PostgresStore {
    /// Completes a batch of claims with one `DELETE`, each fenced on its lease token like
    /// [`JobQueue::complete`]. The answer has one entry per claim, in order: `true` if the job
    /// still held that lease and was removed, `false` if it was no longer held (its lease
    /// expired and it was claimed again, or it was already settled) and nothing changed for it.
    ///
    /// [`JobQueue::complete_many`] is this, taking the claimed jobs.
    ///
    /// # Errors
    /// [`Error::Transient`] if the database cannot be reached; nothing is completed then.
    pub async fn complete_batch(&self, claims: &[(JobId, Uuid)]) -> Result<Vec<bool>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) = claims
            .iter()
            .map(|(id, token)| (*id.as_uuid(), *token))
            .unzip();
        let done: HashSet<(Uuid, Uuid)> = sqlx::query_as::<_, (Uuid, Uuid)>(COMPLETE_BATCH)
            .bind(ids)
            .bind(tokens)
            .fetch_all(&self.pool)
            .await
            .db("job")?
            .into_iter()
            .collect();
        Ok(claims
            .iter()
            .map(|(id, token)| done.contains(&(*id.as_uuid(), *token)))
            .collect())
    }

    /// Runs a fenced requeue (`sql` is [`RETRY_LATER`] or [`RELEASE`]) at `run_at`.
    async fn requeue(&self, sql: &'static str, job: &Job, run_at: DateTime<Utc>) -> Result<()> {
        let (id, token) = fence(job)?;
        let queue = sqlx::query_scalar::<_, String>(sql)
            .bind(ts(run_at))
            .bind(id)
            .bind(token)
            .fetch_optional(&self.pool)
            .await
            .db("job")?
            .ok_or_else(|| lost_lease(job.id))?;
        self.wake.changed([queue.as_str()]);
        Ok(())
    }
}

#[async_trait]
impl JobQueue for PostgresStore {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let now = self.clock.now();
        let Some(key) = job.unique_key.clone() else {
            // Shares a statement and a commit with concurrent enqueues; that transaction also
            // notifies other processes, so only this one's waiters are left to wake.
            let id = JobId::new();
            self.inserter
                .insert(
                    &self.pool,
                    inserter::JobRow {
                        id,
                        job,
                        created_at: ts(now),
                    },
                )
                .await?;
            self.wake.changed_locally();
            let outcome = EnqueueOutcome::Inserted;
            return Ok(Enqueued { id, outcome });
        };
        let mut conn = self.pool.acquire().await.db("job")?;
        let (enqueued, woken) = upsert_job(&mut conn, &job, &key, now).await?;
        drop(conn);
        self.wake.changed(woken.as_deref());
        Ok(enqueued)
    }

    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let mut results: Vec<Option<Enqueued>> = Vec::with_capacity(jobs.len());
        let mut woken = BTreeSet::new();
        // Jobs without a unique key cannot collide: insert them all with one statement.
        let unkeyed = jobs.iter().filter(|j| j.unique_key.is_none()).count();
        let mut ids = Vec::with_capacity(unkeyed);
        let mut queues = Vec::with_capacity(unkeyed);
        let mut kinds = Vec::with_capacity(unkeyed);
        let mut payloads = Vec::with_capacity(unkeyed);
        let mut run_ats = Vec::with_capacity(unkeyed);
        let mut priorities = Vec::with_capacity(unkeyed);
        let mut limits = Vec::with_capacity(unkeyed);
        let mut keyed = Vec::with_capacity(jobs.len() - unkeyed);
        for (slot, job) in jobs.into_iter().enumerate() {
            if job.unique_key.is_some() {
                keyed.push((slot, job));
                results.push(None);
                continue;
            }
            let id = JobId::new();
            ids.push(*id.as_uuid());
            if !woken.contains(&job.queue) {
                woken.insert(job.queue.clone());
            }
            queues.push(job.queue);
            kinds.push(job.kind);
            payloads.push(job.payload);
            run_ats.push(ts(job.run_at));
            priorities.push(job.priority);
            limits.push(max_attempts(job.max_attempts));
            results.push(Some(Enqueued {
                id,
                outcome: EnqueueOutcome::Inserted,
            }));
        }

        let mut tx = self.pool.begin().await.db("job")?;
        let n = ids.len();
        if n > 0 {
            sqlx::query(INSERT_JOBS_UNNEST)
                .bind(ids)
                .bind(queues)
                .bind(kinds)
                .bind(payloads)
                .bind(run_ats)
                .bind(priorities)
                .bind(limits)
                .bind(vec![ts(now); n])
                .execute(&mut *tx)
                .await
                .db("job")?;
        }
        // Keyed jobs in input order, so a later duplicate key replaces an earlier one.
        for (slot, job) in &keyed {
            let key = job.unique_key.as_deref().unwrap_or_default();
            let (enqueued, queue) = upsert_job(&mut tx, job, key, now).await?;
            woken.extend(queue);
            if let Some(result) = results.get_mut(*slot) {
                *result = Some(enqueued);
            }
        }
        tx.commit().await.db("job")?;
        self.wake.changed(woken.iter().map(String::as_str));
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
        // A queue named twice would be scanned twice, and this statement's own locks do not
        // make it skip rows.
        let queues: Vec<&str> = queues
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut jobs = sqlx::query_as::<_, JobRow>(CLAIM)
            .bind(queues)
            .bind(ts(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(lease_until(now, lease))
            .bind(worker)
            .fetch_all(&self.pool)
            .await
            .db("job")?
            .into_iter()
            .map(Job::try_from)
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by(claim_order);
        Ok(jobs)
    }

    async fn heartbeat(&self, job: &Job, lease: Duration) -> Result<()> {
        let (id, token) = fence(job)?;
        let done = sqlx::query(HEARTBEAT)
            .bind(lease_until(self.clock.now(), lease))
            .bind(id)
            .bind(token)
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
            .bind(id)
            .bind(token)
            .execute(&self.pool)
            .await
            .db("job")?;
        if done.rows_affected() == 0 {
            return Err(lost_lease(job.id));
        }
        Ok(())
    }

    async fn complete_many(&self, jobs: &[Job]) -> Result<Vec<bool>> {
        // A job without a token holds no lease: it matches nothing (the nil token is never
        // issued by `gen_random_uuid()`).
        let claims: Vec<(JobId, Uuid)> = jobs
            .iter()
            .map(|job| (job.id, job.lease_token.unwrap_or(Uuid::nil())))
            .collect();
        self.complete_batch(&claims).await
    }

    async fn fail(
        &self,
        job: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<JobState> {
        let (id, token) = fence(job)?;
        let (state, queue) = sqlx::query_as::<_, (String, String)>(FAIL)
            .bind(retry_at.map(ts))
            .bind(error)
            .bind(id)
            .bind(token)
            .fetch_optional(&self.pool)
            .await
            .db("job")?
            .ok_or_else(|| lost_lease(job.id))?;
        let state = JobState::parse(&state)?;
        if state == JobState::Queued {
            self.wake.changed([queue.as_str()]);
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
            .bind(id.as_uuid())
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
        sqlx::query_scalar::<_, Option<DateTime<Utc>>>(NEXT_WAKEUP)
            .bind(queues)
            .fetch_one(&self.pool)
            .await
            .db("job")
    }

    async fn wait_for_change(&self, timeout: Duration) {
        self.wake.wait(timeout).await;
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
