//! Job wake-ups: local waiters are signalled at once; other processes through
//! `NOTIFY quflux_jobs, '<queue>'`, received by a `LISTEN` connection of their own.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The channel every store notifies and listens on; the payload is the queue's name.
pub const NOTIFY_CHANNEL: &str = "quflux_jobs";

/// Sends one notification per queue with one statement. Its transaction commits without waiting
/// for the WAL flush (`synchronous_commit` off for this transaction only): a wake-up lost in a
/// server crash costs a worker one idle interval, while waiting for the flush would double the
/// flushes per enqueue.
const NOTIFY: &str = "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, q) \
    FROM unnest($2::text[]) AS q";

/// First and longest pause before the listener connects again after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The wake-up machinery shared by every clone of one store.
#[derive(Debug)]
pub(super) struct Wake {
    pool: PgPool,
    /// Signalled when a job may have become claimable.
    local: Arc<Notify>,
    outbox: Arc<Outbox>,
    /// The `LISTEN` task, started by the first wait.
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Set by `close()`: the listener is not started again.
    closed: AtomicBool,
}

/// Queues whose change is still to be notified to other processes.
#[derive(Debug, Default)]
struct Outbox {
    dirty: Mutex<BTreeSet<String>>,
    /// Whether a task is sending notifications.
    in_flight: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Wakes every current waiter, and leaves a permit for the next one so that a worker that
/// checked the queue just before the change does not sleep through it.
fn signal(local: &Notify) {
    local.notify_waiters();
    local.notify_one();
}

impl Wake {
    pub(super) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            local: Arc::new(Notify::new()),
            outbox: Arc::new(Outbox::default()),
            listener: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// Jobs of `queues` may have become claimable (an enqueue, a release, a requeue), and the
    /// change is committed: wake local waiters now and notify other processes soon.
    ///
    /// Notifications are coalesced: at most one `pg_notify` statement is in flight per store,
    /// and it carries every queue changed since the previous one.
    pub(super) fn changed<'a>(&self, queues: impl IntoIterator<Item = &'a str>) {
        let mut any = false;
        {
            let mut dirty = lock(&self.outbox.dirty);
            for queue in queues {
                any = true;
                if !dirty.contains(queue) {
                    dirty.insert(queue.to_owned());
                }
            }
        }
        if !any {
            return;
        }
        signal(&self.local);
        if self.outbox.in_flight.swap(true, Ordering::AcqRel) {
            return; // the running flush will pick these queues up
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let pool = self.pool.clone();
                let outbox = Arc::clone(&self.outbox);
                runtime.spawn(async move { outbox.flush(&pool).await });
            }
            Err(_) => self.outbox.in_flight.store(false, Ordering::Release),
        }
    }

    /// Jobs may have become claimable and other processes were notified already (the change's
    /// own transaction sent the `NOTIFY`): wake local waiters only.
    pub(super) fn changed_locally(&self) {
        signal(&self.local);
    }

    /// Waits for a change signalled in this process or notified by another one, or for
    /// `timeout`. The first wait starts listening.
    pub(super) async fn wait(&self, timeout: Duration) {
        // Registered before the listener may start, so its first signal is not missed: the
        // listener signals once it listens (changes made before may have been missed), which
        // ends the first wait early.
        let notified = self.local.notified();
        self.ensure_listening();
        // Timing out is the normal way to stop waiting; there is nothing to report.
        let _ = tokio::time::timeout(timeout, notified).await;
    }

    /// Starts the listener unless it runs (or the store was closed).
    pub(super) fn ensure_listening(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut guard = lock(&self.listener);
        if guard.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let options = self.pool.connect_options().as_ref().clone();
            *guard = Some(runtime.spawn(listen(options, Arc::clone(&self.local))));
        }
    }

    /// Stops the listener for good.
    pub(super) fn stop_listening(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(task) = lock(&self.listener).take() {
            task.abort();
        }
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.listener).take() {
            task.abort();
        }
    }
}

impl Outbox {
    /// Sends the dirty queues' notifications until none is left, then clears `in_flight`.
    async fn flush(&self, pool: &PgPool) {
        loop {
            let queues: Vec<String> = std::mem::take(&mut *lock(&self.dirty))
                .into_iter()
                .collect();
            if queues.is_empty() {
                self.in_flight.store(false, Ordering::Release);
                // A change recorded after the `take` but before the store saw `in_flight` set
                // and left it to this task: take it back unless another flush already did.
                if lock(&self.dirty).is_empty() || self.in_flight.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            if let Err(e) = sqlx::query(NOTIFY)
                .bind(NOTIFY_CHANNEL)
                .bind(&queues)
                .execute(pool)
                .await
            {
                // Other processes find these jobs at their next wake-up instead.
                tracing::warn!(error = %e, ?queues, "could not notify other processes of new jobs");
            }
        }
    }
}

/// The listener task: `LISTEN quflux_jobs` on a connection of its own and signal `local` on
/// every notification. On a lost connection it connects again (with backoff) and signals once,
/// since notifications sent meanwhile are lost.
async fn listen(options: PgConnectOptions, local: Arc<Notify>) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options);
    let mut backoff = MIN_BACKOFF;
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                backoff = MIN_BACKOFF;
                signal(&local);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => signal(&local),
                        Ok(None) => {
                            // The connection was lost and listens again: re-check.
                            tracing::debug!("job listener reconnected");
                            signal(&local);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "job listener lost its connection");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "job listener cannot listen"),
        }
        signal(&local);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}
