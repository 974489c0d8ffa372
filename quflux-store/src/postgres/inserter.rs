//! Group insert of single rows: concurrent `enqueue` calls of jobs without a unique key, and
//! concurrent `insert_post` calls, share one `INSERT … SELECT FROM UNNEST(…)` statement and its
//! commit ([`GroupRow`] says how one kind of row is inserted; [`Inserter`] does the grouping).
//!
//! The first caller finding no insert in flight starts a task that inserts everything pending,
//! then whatever arrived meanwhile, until nothing is left. A caller's insert still returns
//! only once its row is committed. With one caller at a time this is one statement per job, as
//! before; with many, per-statement and per-commit costs are shared, which is what lets ten
//! tasks enqueueing one job at a time go several times faster than one statement each.
//!
//! Three details make the groups large and the round trips few (measured with
//! `benches/queue.rs enqueue-single 20000 10`, see BENCHMARKS.md):
//!
//! - **Gathering.** Before taking a group the task yields to the runtime (a few times, while
//!   the pending list keeps growing). The callers answered by the previous group are runnable
//!   at that moment; letting them run first puts their next jobs into this group instead of
//!   the next one. Without it, callers split into two cohorts that alternate, each job waiting
//!   for two commits (about 5 jobs per group with 10 callers instead of 10).
//! - **One connection per run.** The task keeps its pooled connection from group to group
//!   (giving it back when nothing is pending, and every [`GROUPS_PER_CONNECTION`] groups)
//!   instead of acquiring one per group.
//! - **The wake-up rides in the statement** (jobs). The same statement sends
//!   `NOTIFY quflux_jobs, '<queue>'` for the group's queues, so the notification commits
//!   (atomically) with the jobs: no second transaction per group, and no wake-up lost when the
//!   process ends right after `enqueue` returns. PostgreSQL serialises notifying commits on
//!   one lock held across the WAL flush; with one group in flight per store that costs nothing
//!   here (jobs arriving meanwhile join the next group), unlike one transaction per job.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use quflux_core::{Error, ErrorKind, JobId, NewJob, Result};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::oneshot;

use super::BACKEND;
use super::codec::{db_error, ts};
use super::queue::max_attempts;
use super::wake::NOTIFY_CHANNEL;

/// Most rows inserted by one statement.
const MAX_GROUP: usize = 1_000;

/// Groups inserted on one connection before it goes back to the pool (and is acquired again),
/// so that under a steady stream of inserts other users of a small pool still get their turn.
const GROUPS_PER_CONNECTION: u32 = 64;

/// Most times the insert task yields to let callers join a group before taking it.
const GATHER_YIELDS: usize = 3;

/// A kind of row inserted in groups.
pub(super) trait GroupRow: Send + Sync + 'static {
    /// What a failed insert of `rows` is about, for the error (`"job"`, `"post <id>"`).
    fn what(rows: &[&Self]) -> String;

    /// Inserts `rows` with one statement (so in one transaction) on `conn`.
    fn insert(
        conn: &mut PgConnection,
        rows: &[&Self],
    ) -> impl Future<Output = std::result::Result<(), sqlx::Error>> + Send;
}

/// One waiting insert.
struct Pending<R> {
    row: R,
    done: oneshot::Sender<Result<()>>,
}

/// Single inserts of `R` waiting for the group insert.
pub(super) struct Inserter<R> {
    pending: Mutex<Vec<Pending<R>>>,
    /// Whether a task is inserting.
    busy: AtomicBool,
}

impl<R> Default for Inserter<R> {
    fn default() -> Self {
        Self {
            pending: Mutex::new(Vec::new()),
            busy: AtomicBool::new(false),
        }
    }
}

impl<R> std::fmt::Debug for Inserter<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inserter")
            .field("pending", &lock(&self.pending).len())
            .field("busy", &self.busy.load(Ordering::Relaxed))
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The insert task's connection, taken from the pool at its first group.
type Slot = Option<PoolConnection<Postgres>>;

impl<R: GroupRow> Inserter<R> {
    /// Inserts `row` together with the rows other callers insert meanwhile; returns once it is
    /// committed.
    pub(super) async fn insert(self: &Arc<Self>, pool: &PgPool, row: R) -> Result<()> {
        let (done, answer) = oneshot::channel();
        lock(&self.pending).push(Pending { row, done });
        if !self.busy.swap(true, Ordering::AcqRel) {
            // A task of its own, so that a caller giving up cannot strand the others.
            let this = Arc::clone(self);
            let pool = pool.clone();
            tokio::spawn(async move { this.drain(&pool).await });
        }
        answer
            .await
            .map_err(|_| Error::other(BACKEND, "the group insert task stopped"))?
    }

    /// Inserts pending rows until none is left, then clears `busy`.
    async fn drain(&self, pool: &PgPool) {
        let mut conn: Slot = None;
        let mut groups = 0u32;
        loop {
            self.gather().await;
            let group: Vec<Pending<R>> = {
                let mut pending = lock(&self.pending);
                let n = pending.len().min(MAX_GROUP);
                pending.drain(..n).collect()
            };
            if group.is_empty() {
                self.busy.store(false, Ordering::Release);
                // A row pushed after the drain but before the store saw `busy` set and left
                // it to this task: take it back unless another task already did.
                if lock(&self.pending).is_empty() || self.busy.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            insert_group(pool, &mut conn, group).await;
            groups = groups.wrapping_add(1);
            if groups.is_multiple_of(GROUPS_PER_CONNECTION) {
                conn = None;
            }
        }
    }

    /// Lets runnable callers add their rows before the next group is taken: yields while the
    /// pending list grows, at most [`GATHER_YIELDS`] times. Costs one yield when nobody comes.
    async fn gather(&self) {
        let mut seen = lock(&self.pending).len();
        for _ in 0..GATHER_YIELDS {
            if seen >= MAX_GROUP {
                return;
            }
            tokio::task::yield_now().await;
            let now = lock(&self.pending).len();
            if now == seen {
                return;
            }
            seen = now;
        }
    }
}

/// Inserts a group and answers each caller. If the group fails for a reason other than the
/// database being unavailable (one row's bad payload, a duplicate id), each row is inserted
/// alone, so only the bad one fails, with its own error.
async fn insert_group<R: GroupRow>(pool: &PgPool, conn: &mut Slot, group: Vec<Pending<R>>) {
    let all: Vec<&R> = group.iter().map(|p| &p.row).collect();
    match insert(pool, conn, &all).await {
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
                let result = insert(pool, conn, &[&pending.row]).await;
                let _ = pending.done.send(result);
            }
        }
    }
}

/// Inserts `rows` with one statement on the task's connection, taking one from the pool first
/// if it has none. A connection that failed other than with the server's error answer is
/// closed, not reused.
async fn insert<R: GroupRow>(pool: &PgPool, slot: &mut Slot, rows: &[&R]) -> Result<()> {
    let conn = match slot {
        Some(conn) => conn,
        None => slot.insert(
            pool.acquire()
                .await
                .map_err(|e| db_error(e, &R::what(rows)))?,
        ),
    };
    let result = R::insert(conn, rows).await;
    if let Err(e) = &result
        && !matches!(e, sqlx::Error::Database(_))
    {
        // Lost or in an unknown state: never hand it back to the pool.
        if let Some(mut conn) = slot.take() {
            conn.close_on_drop();
        }
    }
    result.map_err(|e| db_error(e, &R::what(rows)))
}

/// Inserts every job given as parallel arrays, and notifies (`$9`) each distinct queue, with
/// one statement. A queue name too long for a notification payload (8000 bytes) is not
/// notified rather than failing the insert, as a failed `NOTIFY` after commit did before.
const INSERT_AND_NOTIFY: &str = "WITH inserted AS ( \
        INSERT INTO jobs \
            (id, queue, kind, payload, run_at, priority, attempts, max_attempts, state, created_at) \
        SELECT id, queue, kind, payload, run_at, priority, 0, max_attempts, 'queued', created_at \
        FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], \
            $6::int4[], $7::int4[], $8::timestamptz[]) \
        AS t (id, queue, kind, payload, run_at, priority, max_attempts, created_at) \
        RETURNING queue \
    ) \
    SELECT count(pg_notify($9, queue)) FROM (SELECT DISTINCT queue FROM inserted) AS q \
    WHERE octet_length(queue) < 8000";

/// A single enqueue (a job without a unique key), inserted with its queue's wake-up.
#[derive(Debug)]
pub(super) struct JobRow {
    pub(super) id: JobId,
    pub(super) job: NewJob,
    pub(super) created_at: DateTime<Utc>,
}

impl GroupRow for JobRow {
    fn what(_: &[&Self]) -> String {
        "job".to_owned()
    }

    /// Inserts the jobs and notifies their queues: the notification commits (atomically) with
    /// the jobs.
    async fn insert(
        conn: &mut PgConnection,
        jobs: &[&Self],
    ) -> std::result::Result<(), sqlx::Error> {
        sqlx::query(INSERT_AND_NOTIFY)
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
            .bind(NOTIFY_CHANNEL)
            .execute(conn)
            .await?;
        Ok(())
    }
}
