//! AI requests as jobs on the [`AI_GENERATION_QUEUE`]: submitted, run by a worker, their
//! result and latency kept in the [`Cache`] for the caller to pick up.
//!
//! ```no_run
//! # async fn demo(jobs: std::sync::Arc<quflux_ai::AiJobs>, user: quflux_core::UserId) -> quflux_core::Result<()> {
//! use quflux_core::{Platform, TextTask};
//! let id = jobs
//!     .submit_text(user, TextTask::Hashtags { content: "Rust 2024 is out".into(), platform: Platform::Mastodon })
//!     .await?;
//! // A `Worker` on the ai_generation queue with `jobs` registered for `AI_JOB` runs it; then:
//! if let Some(result) = jobs.result(id).await? {
//!     println!("{} in {:.1} ms", result.status, result.latency_ms);
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::worker::{JobHandler, JobOutcome};
use quflux_core::{
    AI_GENERATION_QUEUE, BlobStore, Cache, Clock, Error, ErrorKind, ImageGenerator, ImageTask, Job,
    JobId, JobQueue, MediaId, MediaStore, NewJob, Result, TextGenerator, TextTask, UserId,
};
use serde::{Deserialize, Serialize};

use crate::media::store_generated_image;

/// Job kind of AI requests.
pub const AI_JOB: &str = "ai_generate";

/// How long results stay in the cache.
pub const RESULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// An AI request as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AiRequest {
    /// A text task.
    Text {
        /// Who asked.
        user_id: UserId,
        /// What to do.
        task: TextTask,
    },
    /// An image task; the image is stored as the user's media.
    Image {
        /// Who asked.
        user_id: UserId,
        /// What to do.
        task: ImageTask,
    },
}

/// The outcome of an AI job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiJobResult {
    /// `succeeded` or `failed`.
    pub status: String,
    /// How long the provider took, in milliseconds (the last attempt).
    pub latency_ms: f64,
    /// Generated texts, for text tasks.
    pub items: Vec<String>,
    /// The stored image (with `ai_generated = true`), for image tasks.
    pub media_id: Option<MediaId>,
    /// The model or provider that answered.
    pub model: Option<String>,
    /// Why it failed.
    pub error_kind: Option<ErrorKind>,
    /// What failed, for people.
    pub error_message: Option<String>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

/// Submits AI requests as jobs and runs them (it is the [`JobHandler`] for [`AI_JOB`]).
#[derive(Debug, Clone)]
pub struct AiJobs {
    queue: Arc<dyn JobQueue>,
    cache: Arc<dyn Cache>,
    text: Arc<dyn TextGenerator>,
    image: Arc<dyn ImageGenerator>,
    blobs: Arc<dyn BlobStore>,
    media: Arc<dyn MediaStore>,
    clock: Arc<dyn Clock>,
}

impl AiJobs {
    /// Jobs on `queue`, results in `cache`, images into `blobs` + `media`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        queue: Arc<dyn JobQueue>,
        cache: Arc<dyn Cache>,
        text: Arc<dyn TextGenerator>,
        image: Arc<dyn ImageGenerator>,
        blobs: Arc<dyn BlobStore>,
        media: Arc<dyn MediaStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            queue,
            cache,
            text,
            image,
            blobs,
            media,
            clock,
        }
    }

    /// Queues a text task.
    pub async fn submit_text(&self, user_id: UserId, task: TextTask) -> Result<JobId> {
        self.submit(AiRequest::Text { user_id, task }).await
    }

    /// Queues an image task.
    pub async fn submit_image(&self, user_id: UserId, task: ImageTask) -> Result<JobId> {
        self.submit(AiRequest::Image { user_id, task }).await
    }

    async fn submit(&self, request: AiRequest) -> Result<JobId> {
        let payload = serde_json::to_value(&request).map_err(|e| Error::other("ai_jobs", e))?;
        let job = NewJob::new(AI_GENERATION_QUEUE, AI_JOB, payload, self.clock.now())
            .with_max_attempts(3);
        Ok(self.queue.enqueue(job).await?.id)
    }

    /// The result of a finished job; `None` while it is queued or running (or after
    /// [`RESULT_TTL`]).
    pub async fn result(&self, id: JobId) -> Result<Option<AiJobResult>> {
        match self.cache.get(&result_key(id)).await? {
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| Error::other("ai_jobs", e)),
            None => Ok(None),
        }
    }

    async fn run(&self, request: &AiRequest) -> Result<(Vec<String>, Option<MediaId>, String)> {
        match request {
            AiRequest::Text { task, .. } => {
                let out = self.text.generate_text(task).await?;
                Ok((out.items, None, out.model))
            }
            AiRequest::Image { user_id, task } => {
                let out = self.image.generate_image(task).await?;
                let hint = match task {
                    ImageTask::Generate { .. } => "generated",
                    ImageTask::Edit { .. } => "edited",
                    ImageTask::SocialGraphic { .. } => "graphic",
                };
                let file =
                    store_generated_image(&*self.blobs, &*self.media, *user_id, &out, hint).await?;
                Ok((Vec::new(), Some(file.id), out.model))
            }
        }
    }

    async fn record(&self, id: JobId, result: &AiJobResult) -> Result<()> {
        let value = serde_json::to_value(result).map_err(|e| Error::other("ai_jobs", e))?;
        self.cache
            .set(&result_key(id), &value, Some(RESULT_TTL))
            .await
    }
}

fn result_key(id: JobId) -> String {
    format!("ai:job:{id}")
}

#[async_trait]
impl JobHandler for AiJobs {
    async fn handle(&self, job: &Job) -> JobOutcome {
        let request: AiRequest = match serde_json::from_value(job.payload.clone()) {
            Ok(r) => r,
            Err(e) => {
                return JobOutcome::Failed {
                    error: format!("bad AI request: {e}"),
                    retry_at: None,
                };
            }
        };
        let started = Instant::now();
        let outcome = self.run(&request).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let kind = match &request {
            AiRequest::Text { .. } => "text",
            AiRequest::Image { .. } => "image",
        };
        tracing::info!(job = %job.id, kind, latency_ms, ok = outcome.is_ok(), "ai request finished");
        let now = self.clock.now();
        let result = match outcome {
            Ok((items, media_id, model)) => AiJobResult {
                status: "succeeded".into(),
                latency_ms,
                items,
                media_id,
                model: Some(model),
                error_kind: None,
                error_message: None,
                finished_at: now,
            },
            Err(e) if e.is_retryable() && job.attempts < job.max_attempts => {
                let wait = e.retry_after().unwrap_or(Duration::from_secs(2));
                return JobOutcome::Failed {
                    error: e.detailed_message(),
                    retry_at: Some(now + chrono::Duration::from_std(wait).unwrap_or_default()),
                };
            }
            Err(e) => AiJobResult {
                status: "failed".into(),
                latency_ms,
                items: Vec::new(),
                media_id: None,
                model: None,
                error_kind: Some(e.kind()),
                error_message: Some(e.to_string()),
                finished_at: now,
            },
        };
        match self.record(job.id, &result).await {
            Ok(()) => JobOutcome::Done,
            Err(e) => JobOutcome::Failed {
                error: format!("could not record the result: {}", e.detailed_message()),
                retry_at: Some(now + chrono::Duration::seconds(1)),
            },
        }
    }
}
