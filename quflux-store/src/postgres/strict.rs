//! Strict mode: one job claimed, handled and settled in one transaction.

use chrono::{DateTime, Utc};
use quflux_core::worker::JobOutcome;
use quflux_core::{Job, JobId, JobState, Result};
use sqlx::{PgConnection, Postgres, Transaction};

use super::PostgresStore;
use super::codec::{DbResultExt, ts};
use super::queue::JobRow;

/// Claims the first due job of one queue, locking only that row.
const CLAIM_ONE: &str = "WITH c AS ( \
        SELECT id FROM jobs WHERE state = 'queued' AND queue = $1 AND run_at <= $2 \
        ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED \
    ) \
    UPDATE jobs AS j SET state = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(), \
        lease_until = NULL, locked_by = $3 \
    FROM c WHERE j.id = c.id \
    RETURNING j.id, j.queue, j.kind, j.payload, j.run_at, j.priority, j.attempts, j.max_attempts, \
        j.unique_key, j.state, j.lease_token, j.lease_until, j.locked_by, j.last_error, j.created_at";

/// [`CLAIM_ONE`] over several queues.
const CLAIM_ONE_OF_MANY: &str = "WITH c AS ( \
        SELECT id FROM jobs WHERE state = 'queued' AND queue = ANY($1) AND run_at <= $2 \
        ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED \
    ) \
    UPDATE jobs AS j SET state = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(), \
        lease_until = NULL, locked_by = $3 \
    FROM c WHERE j.id = c.id \
    RETURNING j.id, j.queue, j.kind, j.payload, j.run_at, j.priority, j.attempts, j.max_attempts, \
        j.unique_key, j.state, j.lease_token, j.lease_until, j.locked_by, j.last_error, j.created_at";

/// Undone by a failure: everything the handler wrote.
const SAVEPOINT: &str = "SAVEPOINT quflux_handler";
const ROLLBACK_HANDLER: &str = "ROLLBACK TO SAVEPOINT quflux_handler";

const DELETE: &str = "DELETE FROM jobs WHERE id = $1";

const FAIL: &str = "UPDATE jobs SET \
    state = CASE WHEN $1::timestamptz IS NOT NULL AND attempts < max_attempts THEN 'queued' ELSE 'dead' END, \
    run_at = CASE WHEN $1::timestamptz IS NOT NULL AND attempts < max_attempts THEN $1 ELSE run_at END, \
    last_error = $2, lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = $3 RETURNING state";

const RETRY_LATER: &str = "UPDATE jobs SET state = 'queued', run_at = $1, \
    attempts = GREATEST(attempts - 1, 0), lease_token = NULL, lease_until = NULL, locked_by = NULL \
    WHERE id = $2";

/// A job claimed in strict mode by [`PostgresStore::claim_strict`]: its row is locked by an
/// open transaction, which the handler shares through [`StrictJob::conn`] and which one of
/// [`StrictJob::complete`], [`StrictJob::fail`], [`StrictJob::retry_later`] or
/// [`StrictJob::release`] ends.
///
/// - Completing deletes the job and commits the handler's writes with it: both happen or
///   neither does.
/// - Failing or retrying later undoes the handler's writes (a savepoint taken at the claim)
///   and records the outcome, like [`JobQueue::fail`](quflux_core::JobQueue::fail) and
///   [`JobQueue::retry_later`](quflux_core::JobQueue::retry_later).
/// - Releasing, dropping, or the process dying rolls everything back: the job is due again at
///   once, and the attempt is not counted. A handler that kills its process is therefore
///   retried for ever; give such work to the leased queue instead.
///
/// Other sessions see the job as `queued` (with its previous attempts) until the transaction
/// ends, and skip it while claiming. The job's `lease_token` belongs to this transaction only:
/// do not pass the job to the [`JobQueue`](quflux_core::JobQueue) methods, which would wait
/// for the transaction to end and then find the lease gone. Likewise an `enqueue` with this
/// job's unique key waits until the transaction ends.
pub struct StrictJob {
    tx: Transaction<'static, Postgres>,
    job: Job,
    store: PostgresStore,
}

impl std::fmt::Debug for StrictJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrictJob")
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

impl StrictJob {
    /// The claimed job, with `attempts` counting this attempt.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The claim's transaction, for the handler's own statements.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Deletes the job and commits, together with everything the handler wrote.
    ///
    /// # Errors
    /// The database's errors (for example when a statement of the handler failed and left the
    /// transaction aborted); then nothing is committed and the job is due again.
    pub async fn complete(mut self) -> Result<()> {
        sqlx::query(DELETE)
            .bind(self.job.id.as_uuid())
            .execute(&mut *self.tx)
            .await
            .db("job")?;
        self.tx.commit().await.db("job")
    }

    /// Undoes the handler's writes and records a failure: requeued at `retry_at` if given and
    /// attempts are left, dead-lettered keeping `error` otherwise. Returns the resulting state.
    ///
    /// # Errors
    /// The database's errors; then nothing is committed and the job is due again.
    pub async fn fail(mut self, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<JobState> {
        self.rollback_handler().await?;
        let state = sqlx::query_scalar::<_, String>(FAIL)
            .bind(retry_at.map(ts))
            .bind(error)
            .bind(self.job.id.as_uuid())
            .fetch_one(&mut *self.tx)
            .await
            .db("job")?;
        let state = JobState::parse(&state)?;
        self.tx.commit().await.db("job")?;
        if state == JobState::Queued {
            self.store.wake.changed([self.job.queue.as_str()]);
        }
        Ok(state)
    }

    /// Undoes the handler's writes and requeues at `run_at` without counting the attempt.
    ///
    /// # Errors
    /// The database's errors; then nothing is committed and the job is due again.
    pub async fn retry_later(mut self, run_at: DateTime<Utc>) -> Result<()> {
        self.rollback_handler().await?;
        sqlx::query(RETRY_LATER)
            .bind(ts(run_at))
            .bind(self.job.id.as_uuid())
            .execute(&mut *self.tx)
            .await
            .db("job")?;
        self.tx.commit().await.db("job")?;
        self.store.wake.changed([self.job.queue.as_str()]);
        Ok(())
    }

    /// Rolls everything back: the job is due again at once, its attempt not counted.
    ///
    /// # Errors
    /// The database's errors; the rollback happens anyway when the connection is dropped.
    pub async fn release(self) -> Result<()> {
        self.tx.rollback().await.db("job")?;
        self.store.wake.changed([self.job.queue.as_str()]);
        Ok(())
    }

    async fn rollback_handler(&mut self) -> Result<()> {
        sqlx::query(ROLLBACK_HANDLER)
            .execute(&mut *self.tx)
            .await
            .db("job")?;
        Ok(())
    }
}

impl PostgresStore {
    /// Strict mode: claims the first due job of `queues` (highest priority, then oldest
    /// `run_at`) inside a transaction that stays open until the returned [`StrictJob`] is
    /// settled. `None` when no job is due.
    ///
    /// Only queued jobs are taken; running jobs whose lease expired are left to
    /// [`JobQueue::claim`](quflux_core::JobQueue::claim). Each strict claim holds one pooled
    /// connection until it is settled.
    ///
    /// ```no_run
    /// # async fn demo(store: quflux_store::postgres::PostgresStore) -> quflux_core::Result<()> {
    /// let queues = ["ledger".to_owned()];
    /// if let Some(mut claim) = store.claim_strict(&queues, "worker-1").await? {
    ///     let amount = claim.job().payload["amount"].as_i64().unwrap_or(0);
    ///     sqlx::query("UPDATE balances SET total = total + $1")
    ///         .bind(amount)
    ///         .execute(claim.conn())
    ///         .await
    ///         .map_err(|e| quflux_core::Error::other("ledger", e))?;
    ///     claim.complete().await?; // the update and the job's removal commit together
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`quflux_core::Error::Transient`] if the database cannot be reached.
    pub async fn claim_strict(&self, queues: &[String], worker: &str) -> Result<Option<StrictJob>> {
        if queues.is_empty() {
            return Ok(None);
        }
        let now = ts(self.clock.now());
        let mut tx = self.pool.begin().await.db("job")?;
        let query = match queues {
            [queue] => sqlx::query_as::<_, JobRow>(CLAIM_ONE).bind(queue),
            _ => sqlx::query_as::<_, JobRow>(CLAIM_ONE_OF_MANY).bind(queues),
        };
        let Some(row) = query
            .bind(now)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await
            .db("job")?
        else {
            tx.rollback().await.db("job")?;
            return Ok(None);
        };
        let job = Job::try_from(row)?;
        sqlx::query(SAVEPOINT).execute(&mut *tx).await.db("job")?;
        Ok(Some(StrictJob {
            tx,
            job,
            store: self.clone(),
        }))
    }

    /// Strict mode in one call: claims one due job with [`PostgresStore::claim_strict`], runs
    /// `handler` with the job and the claim's transaction, and settles the job by the outcome
    /// ([`JobOutcome::Done`] completes, [`JobOutcome::RetryAt`] retries later,
    /// [`JobOutcome::Failed`] fails) before committing. Returns the id of the job handled, or
    /// `None` if none was due.
    ///
    /// # Errors
    /// As [`PostgresStore::claim_strict`] and the settling call.
    pub async fn run_strict<F>(
        &self,
        queues: &[String],
        worker: &str,
        handler: F,
    ) -> Result<Option<JobId>>
    where
        F: AsyncFnOnce(&Job, &mut PgConnection) -> JobOutcome,
    {
        let Some(mut claim) = self.claim_strict(queues, worker).await? else {
            return Ok(None);
        };
        let id = claim.job.id;
        let outcome = handler(&claim.job, &mut claim.tx).await;
        match outcome {
            JobOutcome::Done => claim.complete().await?,
            JobOutcome::RetryAt(at) => claim.retry_later(at).await?,
            JobOutcome::Failed { error, retry_at } => {
                claim.fail(&error, retry_at).await?;
            }
        }
        Ok(Some(id))
    }
}
