//! Group insert of single enqueues: concurrent `enqueue` calls of jobs without a unique key
//! share one `INSERT … SELECT FROM UNNEST(…)` statement and its commit.
//!
//! The first caller finding no insert in flight starts a task that inserts everything pending,
//! then whatever arrived meanwhile, until nothing is left. A caller's `enqueue` still returns
//! only once its job is committed. With one caller at a time this is one statement per job, as
//! before; with many, per-statement and per-commit costs are shared, which is what lets ten
//! tasks enqueueing one job at a time go several times faster than one statement each.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use quflux_core::{Error, ErrorKind, JobId, NewJob, Result};
use sqlx::PgPool;
use tokio::sync::oneshot;

use super::BACKEND;
use super::codec::{DbResultExt, ts};
use super::queue::{INSERT_JOBS_UNNEST, max_attempts};

/// Most jobs inserted by one statement.
const MAX_GROUP: usize = 1_000;

/// One waiting `enqueue`.
struct Pending {
    id: JobId,
    job: NewJob,
    created_at: DateTime<Utc>,
    done: oneshot::Sender<Result<()>>,
}

/// Single enqueues waiting for the group insert.
#[derive(Debug, Default)]
pub(super) struct Inserter {
    pending: Mutex<Vec<Pending>>,
    /// Whether a task is inserting.
    busy: AtomicBool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("id", &self.id).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inserter {
    /// Inserts `job` as `id`, together with the jobs other callers enqueue meanwhile.
    pub(super) async fn insert(
        self: &Arc<Self>,
        pool: &PgPool,
        id: JobId,
        job: NewJob,
        created_at: DateTime<Utc>,
    ) -> Result<()> {
        let (done, answer) = oneshot::channel();
        lock(&self.pending).push(Pending {
            id,
            job,
            created_at,
            done,
        });
        if !self.busy.swap(true, Ordering::AcqRel) {
            // A task of its own, so that a caller giving up cannot strand the others.
            let this = Arc::clone(self);
            let pool = pool.clone();
            tokio::spawn(async move { this.drain(&pool).await });
        }
        answer
            .await
            .map_err(|_| Error::other(BACKEND, "the job insert task stopped"))?
    }

    /// Inserts pending jobs until none is left, then clears `busy`.
    async fn drain(&self, pool: &PgPool) {
        loop {
            let group: Vec<Pending> = {
                let mut pending = lock(&self.pending);
                let n = pending.len().min(MAX_GROUP);
                pending.drain(..n).collect()
            };
            if group.is_empty() {
                self.busy.store(false, Ordering::Release);
                // A job pushed after the drain but before the store saw `busy` set and left
                // it to this task: take it back unless another task already did.
                if lock(&self.pending).is_empty() || self.busy.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            insert_group(pool, group).await;
        }
    }
}

/// Inserts a group and answers each caller. If the group fails for a reason other than the
/// database being unavailable (one job's bad payload), each job is inserted alone, so only the
/// bad one fails.
async fn insert_group(pool: &PgPool, group: Vec<Pending>) {
    let all: Vec<&Pending> = group.iter().collect();
    match insert(pool, &all).await {
        Ok(()) => {
            for pending in group {
                let _ = pending.done.send(Ok(()));
            }
        }
        Err(e) if e.kind() == ErrorKind::Transient || group.len() == 1 => {
            let message = e.detailed_message();
            let mut first = Some(e);
            for pending in group {
                let error = first
                    .take()
                    .unwrap_or_else(|| Error::transient(BACKEND, message.clone()));
                let _ = pending.done.send(Err(error));
            }
        }
        Err(_) => {
            for pending in group {
                let result = insert(pool, &[&pending]).await;
                let _ = pending.done.send(result);
            }
        }
    }
}

async fn insert(pool: &PgPool, jobs: &[&Pending]) -> Result<()> {
    sqlx::query(INSERT_JOBS_UNNEST)
        .bind(jobs.iter().map(|p| *p.id.as_uuid()).collect::<Vec<_>>())
        .bind(
            jobs.iter()
                .map(|p| p.job.queue.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(jobs.iter().map(|p| p.job.kind.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|p| &p.job.payload).collect::<Vec<_>>())
        .bind(jobs.iter().map(|p| ts(p.job.run_at)).collect::<Vec<_>>())
        .bind(jobs.iter().map(|p| p.job.priority).collect::<Vec<_>>())
        .bind(
            jobs.iter()
                .map(|p| max_attempts(p.job.max_attempts))
                .collect::<Vec<_>>(),
        )
        .bind(jobs.iter().map(|p| p.created_at).collect::<Vec<_>>())
        .execute(pool)
        .await
        .db("job")?;
    Ok(())
}
