//! The worker runtime: takes due jobs from a [`JobQueue`] and runs their handlers.
//!
//! - Bounded concurrency: at most [`WorkerConfig::concurrency`] handlers run at once; it claims
//!   only as many jobs as it has free slots.
//! - No fixed-interval polling: when idle it sleeps until the queue's next wake-up (the next
//!   `run_at` or lease expiry) and is woken early by an enqueue ([`JobQueue::wait_for_change`]).
//!   [`WorkerConfig::max_idle`] only bounds the sleep for jobs enqueued by other processes on
//!   backends that cannot signal across processes.
//! - Leases: each running job's lease is renewed every third of [`WorkerConfig::lease`]; a dead
//!   worker's jobs become claimable when their lease expires.
//! - Graceful shutdown: stop claiming, let running handlers finish within
//!   [`WorkerConfig::shutdown_grace`], abort the rest (their leases expire and another worker
//!   settles them).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Clock, Error, Job, JobQueue, Result, SystemClock};

/// What a handler decided about its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished; the job is removed.
    Done,
    /// Not a failure: run again at this time (a rate-limit window, a moved schedule).
    RetryAt(DateTime<Utc>),
    /// Failed: retry at `retry_at`, or dead-letter when `None` or attempts are exhausted.
    Failed {
        /// Why.
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Runs jobs of one kind.
///
/// # Contract
/// - `handle` must be safe to run again for the same job (at-least-once delivery: a job whose
///   worker died is run again).
#[async_trait]
pub trait JobHandler: Send + Sync + std::fmt::Debug + 'static {
    /// Runs one job.
    async fn handle(&self, job: &Job) -> JobOutcome;
}

#[async_trait]
impl<T: JobHandler + ?Sized> JobHandler for Arc<T> {
    async fn handle(&self, job: &Job) -> JobOutcome {
        (**self).handle(job).await
    }
}

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Queues to take jobs from.
    pub queues: Vec<String>,
    /// Handlers running at once.
    pub concurrency: usize,
    /// Most jobs claimed in one call.
    pub claim_batch: usize,
    /// Lease of a claimed job; renewed while the handler runs.
    pub lease: Duration,
    /// Longest idle sleep (only matters for jobs enqueued by other processes).
    pub max_idle: Duration,
    /// How long running handlers may finish after shutdown is requested.
    pub shutdown_grace: Duration,
    /// This worker's name in the queue.
    pub worker_id: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            queues: vec![crate::PUBLISHING_QUEUE.to_owned()],
            concurrency: 8,
            claim_batch: 32,
            lease: Duration::from_secs(60),
            max_idle: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
            worker_id: format!("worker-{}", uuid::Uuid::new_v4()),
        }
    }
}

/// Counters of a worker's run.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Jobs claimed.
    pub claimed: AtomicU64,
    /// Handlers that returned [`JobOutcome::Done`].
    pub done: AtomicU64,
    /// Handlers that returned [`JobOutcome::RetryAt`].
    pub rescheduled: AtomicU64,
    /// Handlers that returned [`JobOutcome::Failed`].
    pub failed: AtomicU64,
}

/// Runs handlers for due jobs. See the module docs.
#[derive(Debug)]
pub struct Worker {
    queue: Arc<dyn JobQueue>,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    config: WorkerConfig,
    clock: Arc<dyn Clock>,
    stats: Arc<WorkerStats>,
}

/// A worker running in the background.
#[derive(Debug)]
pub struct WorkerHandle {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<()>>,
    stats: Arc<WorkerStats>,
}

impl WorkerHandle {
    /// Counters so far.
    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }
    /// Requests a graceful shutdown and waits for it.
    pub async fn shutdown(self) -> Result<()> {
        self.shutdown.cancel();
        self.task.await.map_err(|e| Error::other("worker", e))?
    }
    /// Stops the worker at once, as if its process were killed: running handlers are dropped
    /// mid-flight and their jobs keep their leases until they expire.
    pub fn kill(self) {
        self.task.abort();
    }
}

impl Worker {
    /// A worker on `queue` with no handlers.
    pub fn new(queue: Arc<dyn JobQueue>, config: WorkerConfig) -> Self {
        Self {
            queue,
            handlers: HashMap::new(),
            config,
            clock: Arc::new(SystemClock),
            stats: Arc::default(),
        }
    }

    /// Uses `clock` for "now".
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs `handler` for jobs of `kind`.
    pub fn with_handler(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// Counters.
    pub fn stats(&self) -> Arc<WorkerStats> {
        self.stats.clone()
    }

    /// Starts the worker on the current runtime.
    pub fn spawn(self) -> WorkerHandle {
        let shutdown = CancellationToken::new();
        let stats = self.stats.clone();
        let token = shutdown.clone();
        let task = tokio::spawn(async move { self.run(token).await });
        WorkerHandle {
            shutdown,
            task,
            stats,
        }
    }

    /// Runs until `shutdown` is cancelled, then shuts down gracefully.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.config.concurrency.max(1)));
        // Finished jobs are completed in batches: one round trip for many jobs under load, and
        // no waiting when idle (a batch is whatever has arrived since the last one).
        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let completer = tokio::spawn(complete_in_batches(this.queue.clone(), done_rx));
        let mut running: JoinSet<()> = JoinSet::new();
        let mut error_backoff = Duration::from_millis(100);
        let refill_at = (this.config.concurrency.min(this.config.claim_batch) / 2).max(1);
        let mut refill_now = false;
        tracing::info!(worker = %this.config.worker_id, queues = ?this.config.queues, "worker started");
        while !shutdown.is_cancelled() {
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = running.join_next() => {},
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            // Claim in batches: while handlers run, wait a moment for half a batch of slots to
            // free instead of claiming one job per finished handler; slow handlers still get
            // their free slots filled after REFILL_WAIT.
            if free < refill_at && !running.is_empty() && !refill_now {
                tokio::select! {
                    _ = running.join_next() => {},
                    _ = tokio::time::sleep(REFILL_WAIT) => refill_now = true,
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            refill_now = false;
            let want = free.min(this.config.claim_batch.max(1));
            let jobs = match this
                .queue
                .claim(
                    &this.config.queues,
                    &this.config.worker_id,
                    want,
                    this.config.lease,
                )
                .await
            {
                Ok(jobs) => {
                    error_backoff = Duration::from_millis(100);
                    jobs
                }
                Err(e) => {
                    tracing::warn!(error = %e.detailed_message(), "claim failed; backing off");
                    tokio::select! {
                        _ = tokio::time::sleep(error_backoff) => {},
                        _ = shutdown.cancelled() => break,
                    }
                    error_backoff = (error_backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            let claimed = jobs.len();
            this.stats
                .claimed
                .fetch_add(claimed as u64, Ordering::Relaxed);
            for job in jobs {
                if shutdown.is_cancelled() {
                    if let Err(e) = this.queue.release(&job).await {
                        tracing::warn!(job = %job.id, error = %e.detailed_message(), "could not release job");
                    }
                    continue;
                }
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    // Cannot happen: we claimed at most the free slots. Give it back.
                    let _ = this.queue.release(&job).await;
                    continue;
                };
                let worker = this.clone();
                let done = done_tx.clone();
                running.spawn(async move {
                    worker.run_job(job, &done).await;
                    drop(permit);
                });
            }
            if claimed == 0 {
                let wait = this.idle_wait().await;
                tokio::select! {
                    _ = this.queue.wait_for_change(wait) => {},
                    _ = shutdown.cancelled() => break,
                }
            }
        }
        tracing::info!(worker = %this.config.worker_id, running = running.len(), "worker shutting down");
        let grace = tokio::time::sleep(this.config.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = running.join_next() => if next.is_none() { break },
                _ = &mut grace => {
                    tracing::warn!(aborted = running.len(), "shutdown grace elapsed; aborting running jobs");
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    break;
                }
            }
        }
        drop(done_tx);
        if let Err(e) = completer.await {
            tracing::warn!(error = %e, "completion task failed");
        }
        Ok(())
    }

    async fn idle_wait(&self) -> Duration {
        let max = self.config.max_idle;
        match self.queue.next_wakeup(&self.config.queues).await {
            Ok(Some(at)) => (at - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(max),
            Ok(None) => max,
            Err(e) => {
                tracing::warn!(error = %e.detailed_message(), "next_wakeup failed");
                Duration::from_millis(500).min(max)
            }
        }
    }

    async fn run_job(&self, job: Job, done: &tokio::sync::mpsc::UnboundedSender<Job>) {
        let Some(handler) = self.handlers.get(&job.kind).cloned() else {
            let msg = format!("no handler registered for job kind `{}`", job.kind);
            tracing::error!(job = %job.id, "{msg}");
            let _ = self.queue.fail(&job, &msg, None).await;
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let heartbeat_every = (self.config.lease / 3).max(Duration::from_millis(10));
        let outcome = {
            let handle = handler.handle(&job);
            tokio::pin!(handle);
            let mut ticker = tokio::time::interval(heartbeat_every);
            ticker.tick().await;
            loop {
                tokio::select! {
                    outcome = &mut handle => break outcome,
                    _ = ticker.tick() => {
                        if let Err(e) = self.queue.heartbeat(&job, self.config.lease).await {
                            tracing::warn!(job = %job.id, error = %e.detailed_message(), "lease renewal failed");
                        }
                    }
                }
            }
        };
        let job_id = job.id;
        let result = match &outcome {
            JobOutcome::Done => {
                self.stats.done.fetch_add(1, Ordering::Relaxed);
                match done.send(job) {
                    Ok(()) => return,
                    Err(unsent) => self.queue.complete(&unsent.0).await,
                }
            }
            JobOutcome::RetryAt(at) => {
                self.stats.rescheduled.fetch_add(1, Ordering::Relaxed);
                self.queue.retry_later(&job, *at).await
            }
            JobOutcome::Failed { error, retry_at } => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(job = %job.id, kind = %job.kind, %error, "job failed");
                self.queue.fail(&job, error, *retry_at).await.map(|_| ())
            }
        };
        if let Err(e) = result {
            tracing::warn!(job = %job_id, error = %e.detailed_message(), "could not record job outcome (lease lost?)");
        }
    }
}

/// Longest wait for half a batch of slots before the free ones are filled anyway.
const REFILL_WAIT: Duration = Duration::from_millis(20);

/// Most jobs completed in one call.
const COMPLETE_BATCH: usize = 512;

async fn complete_in_batches(
    queue: Arc<dyn JobQueue>,
    mut done: tokio::sync::mpsc::UnboundedReceiver<Job>,
) {
    let mut batch = Vec::with_capacity(COMPLETE_BATCH);
    while done.recv_many(&mut batch, COMPLETE_BATCH).await > 0 {
        let mut delay = Duration::from_millis(50);
        loop {
            match queue.complete_many(&batch).await {
                Ok(results) => {
                    for (job, ok) in batch.iter().zip(results) {
                        if !ok {
                            tracing::warn!(job = %job.id, "job finished after its lease was lost; it will run again");
                        }
                    }
                    break;
                }
                Err(e) if e.is_retryable() && delay < Duration::from_secs(5) => {
                    tracing::warn!(error = %e.detailed_message(), "completing jobs failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    // The jobs keep their leases and will run again: handlers are idempotent.
                    tracing::error!(error = %e.detailed_message(), jobs = batch.len(), "could not complete jobs");
                    break;
                }
            }
        }
        batch.clear();
    }
}
