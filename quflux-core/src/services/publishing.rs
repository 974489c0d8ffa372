//! Publishing: the path that never posts twice and never loses a post.
//!
//! For each publication of a due schedule:
//! 1. A publication left `publishing` (its worker died) or `unconfirmed` (a timeout after the
//!    request went out) is first settled with [`Publisher::lookup`]: found ⇒ `published`; not
//!    found ⇒ sent again; the platform cannot tell ⇒ stays `unconfirmed` and the user is told. It
//!    is never blindly re-sent.
//! 2. Before the platform call, a new attempt is durably recorded and the publication marked
//!    `publishing` (compare-and-swap, so two workers cannot both start it).
//! 3. After the call the outcome is recorded: the platform post id, or the classified error.
//!    Retryable errors are retried with exponential backoff and jitter ([`RetryConfig`]),
//!    honouring the platform's `retry_after`; waits longer than
//!    [`RetryConfig::inline_retry_limit`] requeue the job at that time instead of sleeping.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::notifications::NotificationService;
use super::retry::RetryConfig;
use super::scheduling::{PUBLISH_JOB, publish_job_key};
use crate::rules;
use crate::worker::{JobHandler, JobOutcome};
use crate::{
    Attempt, AttemptOutcome, BlobStore, Clock, ConnectionStatus, ConnectionStore, Error, ErrorKind,
    Job, JobQueue, Lookup, MediaFile, MediaStore, NewJob, PUBLISHING_QUEUE, Platform,
    PlatformConnection, Post, PostStatus, PostStore, Publication, PublicationId, PublicationStatus,
    PublicationStore, PublishMedia, PublishRequest, PublishedPost, Publisher, Result, Schedule,
    ScheduleId, ScheduleStatus, ScheduleStore, UserId,
};

/// The publishers in use, one per platform.
#[derive(Debug, Clone, Default)]
pub struct PublisherRegistry {
    publishers: HashMap<Platform, Arc<dyn Publisher>>,
}

impl PublisherRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }
    /// Registers `publisher` for its platform, replacing any other.
    pub fn with(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publishers.insert(publisher.platform(), publisher);
        self
    }
    /// Registers `publisher` for its platform, replacing any other.
    pub fn insert(&mut self, publisher: Arc<dyn Publisher>) {
        self.publishers.insert(publisher.platform(), publisher);
    }
    /// The publisher of `platform`.
    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn Publisher>> {
        self.publishers.get(&platform)
    }
}

/// The stores publishing needs.
#[derive(Debug, Clone)]
pub struct PublishingStores {
    /// Posts.
    pub posts: Arc<dyn PostStore>,
    /// Media metadata.
    pub media: Arc<dyn MediaStore>,
    /// Schedules.
    pub schedules: Arc<dyn ScheduleStore>,
    /// Publications.
    pub publications: Arc<dyn PublicationStore>,
    /// Connections.
    pub connections: Arc<dyn ConnectionStore>,
}

impl PublishingStores {
    /// All six from one backend implementing every store trait.
    pub fn from_store<S: crate::Store>(store: Arc<S>) -> Self {
        Self {
            posts: store.clone(),
            media: store.clone(),
            schedules: store.clone(),
            publications: store.clone(),
            connections: store,
        }
    }
}

/// What one run of a schedule did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishReport {
    /// The schedule.
    pub schedule_id: ScheduleId,
    /// Its publications after the run.
    pub publications: Vec<Publication>,
    /// When to run again (a retry or a moved schedule), if needed.
    pub next_run: Option<DateTime<Utc>>,
}

enum Step {
    Final,
    RetryAt(DateTime<Utc>),
}

/// Publishes schedules, publishes now, retries failed publications.
#[derive(Debug, Clone)]
pub struct PublishingService {
    stores: PublishingStores,
    blobs: Arc<dyn BlobStore>,
    queue: Arc<dyn JobQueue>,
    publishers: PublisherRegistry,
    notifications: NotificationService,
    clock: Arc<dyn Clock>,
    retry: RetryConfig,
    publish_timeout: Duration,
}

impl PublishingService {
    /// A service with the default [`RetryConfig`] and a 120 s publish timeout.
    pub fn new(
        stores: PublishingStores,
        blobs: Arc<dyn BlobStore>,
        queue: Arc<dyn JobQueue>,
        publishers: PublisherRegistry,
        notifications: NotificationService,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            stores,
            blobs,
            queue,
            publishers,
            notifications,
            clock,
            retry: RetryConfig::default(),
            publish_timeout: Duration::from_secs(120),
        }
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how long one platform call may take before its outcome counts as unknown.
    pub fn with_publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// Publishes every due publication of a schedule. Safe to call again at any time: finished
    /// publications are skipped, interrupted ones are settled by lookup first.
    pub async fn publish_schedule(&self, schedule_id: ScheduleId) -> Result<PublishReport> {
        let schedule = self.stores.schedules.get_schedule(schedule_id).await?;
        let now = self.clock.now();
        let mut report = PublishReport {
            schedule_id,
            publications: Vec::new(),
            next_run: None,
        };
        if schedule.status != ScheduleStatus::Active {
            report.publications = self
                .stores
                .publications
                .list_publications_for_schedule(schedule_id)
                .await?;
            return Ok(report);
        }
        if schedule.scheduled_at > now {
            // Moved later after the job was queued.
            report.next_run = Some(schedule.scheduled_at);
            return Ok(report);
        }
        let post = match self.stores.posts.get_post(schedule.post_id).await {
            Ok(p) => Some(p),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let mut media: Option<Vec<PublishMedia>> = None;
        let pubs = self
            .stores
            .publications
            .list_publications_for_schedule(schedule_id)
            .await?;
        for publication in pubs {
            if publication.status.is_final() {
                continue;
            }
            let step = match &post {
                Some(post) => self.publish_one(post, publication, &mut media).await?,
                None => {
                    self.fail(
                        publication,
                        Error::not_found(format!("post {}", schedule.post_id)),
                    )
                    .await?;
                    Step::Final
                }
            };
            if let Step::RetryAt(at) = step {
                report.next_run = Some(report.next_run.map_or(at, |n| n.min(at)));
            }
        }
        report.publications = self
            .stores
            .publications
            .list_publications_for_schedule(schedule_id)
            .await?;
        if report.next_run.is_none()
            && report
                .publications
                .iter()
                .all(|p| p.status.is_final() || p.status == PublicationStatus::Unconfirmed)
        {
            self.finish_schedule(schedule, post, &report.publications)
                .await?;
        }
        Ok(report)
    }

    /// Schedules `post_id` for now on `platforms` and wakes a worker.
    pub async fn publish_now(
        &self,
        scheduling: &super::SchedulingService,
        user_id: UserId,
        post_id: crate::PostId,
        platforms: Vec<Platform>,
    ) -> Result<super::Scheduled> {
        scheduling.schedule_now(user_id, post_id, platforms).await
    }

    /// Retries a `failed` publication with a fresh retry budget, or re-checks an `unconfirmed`
    /// one with the platform (it is only re-sent if the platform says it is not there).
    pub async fn retry_publication(
        &self,
        user_id: UserId,
        id: PublicationId,
    ) -> Result<Publication> {
        let mut p = self.stores.publications.get_publication(id).await?;
        if p.user_id != user_id {
            return Err(Error::not_found(format!("publication {id}")));
        }
        match p.status {
            PublicationStatus::Failed => {
                p.status = PublicationStatus::Pending;
                p.manual_retries += 1;
                p.last_error = None;
                p.last_error_kind = None;
            }
            PublicationStatus::Unconfirmed => {}
            other => {
                return Err(Error::invalid_input(
                    "publication",
                    format!(
                        "is {}; only failed or unconfirmed publications can be retried",
                        other.as_str()
                    ),
                ));
            }
        }
        p.updated_at = self.clock.now();
        p.version = self.stores.publications.update_publication(&p).await?;
        self.reactivate_and_enqueue(&p).await?;
        Ok(p)
    }

    /// The user states that an `unconfirmed` publication did not go out: it is sent again.
    pub async fn resend_unconfirmed(
        &self,
        user_id: UserId,
        id: PublicationId,
    ) -> Result<Publication> {
        let mut p = self.stores.publications.get_publication(id).await?;
        if p.user_id != user_id {
            return Err(Error::not_found(format!("publication {id}")));
        }
        if p.status != PublicationStatus::Unconfirmed {
            return Err(Error::invalid_input(
                "publication",
                "only unconfirmed publications can be resent",
            ));
        }
        if let Some(last) = p.attempts.last_mut() {
            last.outcome = AttemptOutcome::NotPublishedByLookup;
            last.error_message = Some("the user confirmed it was not published".into());
        }
        p.status = PublicationStatus::Pending;
        p.manual_retries += 1;
        p.updated_at = self.clock.now();
        p.version = self.stores.publications.update_publication(&p).await?;
        self.reactivate_and_enqueue(&p).await?;
        Ok(p)
    }

    /// Makes the publication's schedule active again and queues it to run now.
    async fn reactivate_and_enqueue(&self, p: &Publication) -> Result<()> {
        let mut schedule = self.stores.schedules.get_schedule(p.schedule_id).await?;
        if schedule.status == ScheduleStatus::Completed {
            schedule.status = ScheduleStatus::Active;
            schedule.updated_at = self.clock.now();
            self.stores.schedules.update_schedule(&schedule).await?;
        }
        self.enqueue_now(p.schedule_id).await
    }

    async fn enqueue_now(&self, schedule_id: ScheduleId) -> Result<()> {
        let now = self.clock.now();
        let job = NewJob::new(
            PUBLISHING_QUEUE,
            PUBLISH_JOB,
            serde_json::json!({ "schedule_id": schedule_id }),
            now,
        )
        .with_unique_key(publish_job_key(schedule_id))
        .with_max_attempts(25);
        self.queue.enqueue(job).await.map(|_| ())
    }

    async fn publish_one(
        &self,
        post: &Post,
        mut p: Publication,
        media: &mut Option<Vec<PublishMedia>>,
    ) -> Result<Step> {
        let Some(publisher) = self.publishers.get(p.platform).cloned() else {
            let e = Error::Config(format!("no publisher is configured for {}", p.platform));
            self.fail(p, e).await?;
            return Ok(Step::Final);
        };
        let connection = match self.connection_for(&p).await? {
            Ok(c) => c,
            Err(e) => {
                self.fail(p, e).await?;
                return Ok(Step::Final);
            }
        };
        if media.is_none() {
            *media = Some(self.load_media(post).await?);
        }
        let request = self.request_for(&p, post, media.as_deref().unwrap_or_default());

        // 1. Settle an interrupted or unconfirmed attempt before anything is sent again.
        if matches!(
            p.status,
            PublicationStatus::Publishing | PublicationStatus::Unconfirmed
        ) {
            let newly_unconfirmed = p.status == PublicationStatus::Publishing;
            match self
                .reconcile(&*publisher, &connection, &request, p, newly_unconfirmed)
                .await?
            {
                Settled::Done(step) => return Ok(step),
                Settled::SendAgain(next) => p = *next,
            }
        }

        // Rules are checked again: the post may have been edited since it was scheduled.
        let files: Vec<MediaFile> = media
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| m.file.clone())
            .collect();
        let violations = rules::validate(p.platform, &post.content, &files);
        if !violations.is_empty() {
            self.fail(p, Error::Validation { violations }).await?;
            return Ok(Step::Final);
        }

        let budget = self
            .retry
            .max_attempts()
            .saturating_mul(p.manual_retries + 1);
        loop {
            if p.attempt_count() >= budget {
                let last = p
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "retries exhausted".into());
                p.last_error = Some(format!(
                    "gave up after {} attempts: {last}",
                    p.attempt_count()
                ));
                self.finalize_failed(p).await?;
                return Ok(Step::Final);
            }
            // 2. Within the account's rate budget? If not, wait for it without an attempt.
            match publisher.admit(&connection, &request).await {
                Err(e @ Error::RateLimited { .. }) => {
                    let wait = e
                        .retry_after()
                        .unwrap_or_else(|| self.retry.delay_for(p.attempt_count().max(1)));
                    let at =
                        self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    tracing::info!(publication = %p.id, platform = %p.platform, retry_at = %at, "rate budget spent; publication requeued without an attempt");
                    if p.status != PublicationStatus::Pending {
                        p.status = PublicationStatus::Pending;
                    }
                    p.last_error_kind = Some(ErrorKind::RateLimited);
                    p.last_error = Some(format!(
                        "waiting for the {} rate budget until {at}",
                        p.platform
                    ));
                    p.updated_at = self.clock.now();
                    p.version = self.stores.publications.update_publication(&p).await?;
                    return Ok(Step::RetryAt(at));
                }
                Err(e) => {
                    tracing::debug!(publication = %p.id, error = %e.detailed_message(), "admission check failed; sending anyway");
                }
                Ok(()) => {}
            }
            // 3. Durably mark the attempt before the platform call.
            let now = self.clock.now();
            p.attempts.push(Attempt {
                number: p.attempt_count() + 1,
                started_at: now,
                finished_at: None,
                outcome: AttemptOutcome::InProgress,
                platform_post_id: None,
                error_kind: None,
                error_message: None,
            });
            p.status = PublicationStatus::Publishing;
            p.connection_id = Some(connection.id);
            p.updated_at = now;
            p.version = match self.stores.publications.update_publication(&p).await {
                Ok(v) => v,
                // Someone else is handling it.
                Err(Error::Conflict { .. }) => return Ok(Step::Final),
                Err(e) => return Err(e),
            };
            let mut request = request.clone();
            request.attempt = p.attempt_count();

            // 4. The platform call, bounded.
            let result = match tokio::time::timeout(
                self.publish_timeout,
                publisher.publish(&connection, &request),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(Error::OutcomeUnknown {
                    service: p.platform.as_str(),
                    source: format!("no answer within {:?}", self.publish_timeout).into(),
                }),
            };
            match result {
                Ok(published) => {
                    self.record_published(p, published, AttemptOutcome::Succeeded)
                        .await?;
                    return Ok(Step::Final);
                }
                Err(e @ Error::OutcomeUnknown { .. }) => {
                    close_attempt(&mut p, AttemptOutcome::Unknown, Some(&e), self.clock.now());
                    p.status = PublicationStatus::Unconfirmed;
                    p.version = self.stores.publications.update_publication(&p).await?;
                    match self
                        .reconcile(&*publisher, &connection, &request, p, true)
                        .await?
                    {
                        Settled::Done(step) => return Ok(step),
                        Settled::SendAgain(next) => p = *next,
                    }
                }
                Err(e) if e.is_retryable() => {
                    close_attempt(&mut p, AttemptOutcome::Failed, Some(&e), self.clock.now());
                    p.status = PublicationStatus::Pending;
                    p.version = self.stores.publications.update_publication(&p).await?;
                    if p.attempt_count() >= budget {
                        continue; // reports exhaustion above
                    }
                    let wait = e
                        .retry_after()
                        .unwrap_or_else(|| self.retry.delay_for(p.attempt_count()));
                    if wait > self.retry.inline_retry_limit {
                        let at =
                            self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                        tracing::info!(publication = %p.id, platform = %p.platform, retry_at = %at, "publication requeued");
                        return Ok(Step::RetryAt(at));
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(e @ Error::AuthExpired { .. }) => {
                    self.mark_needs_reauth(connection.clone()).await;
                    self.fail(p, e).await?;
                    return Ok(Step::Final);
                }
                Err(e) => {
                    self.fail(p, e).await?;
                    return Ok(Step::Final);
                }
            }
        }
    }

    async fn reconcile(
        &self,
        publisher: &dyn Publisher,
        connection: &PlatformConnection,
        request: &PublishRequest,
        mut p: Publication,
        notify_unconfirmed: bool,
    ) -> Result<Settled> {
        let now = self.clock.now();
        match publisher.lookup(connection, request).await {
            Ok(Lookup::Published(published)) => {
                tracing::info!(publication = %p.id, platform = %p.platform, "interrupted attempt confirmed by lookup");
                self.record_published(p, published, AttemptOutcome::ConfirmedByLookup)
                    .await?;
                Ok(Settled::Done(Step::Final))
            }
            Ok(Lookup::ResendIsSafe { reason }) => {
                tracing::info!(publication = %p.id, platform = %p.platform, %reason, "outcome unknown; resending, which the platform deduplicates");
                if let Some(last) = p.attempts.last_mut()
                    && matches!(
                        last.outcome,
                        AttemptOutcome::InProgress | AttemptOutcome::Unknown
                    )
                {
                    last.outcome = AttemptOutcome::Unknown;
                    last.finished_at.get_or_insert(now);
                }
                p.status = PublicationStatus::Pending;
                p.updated_at = now;
                p.version = self.stores.publications.update_publication(&p).await?;
                Ok(Settled::SendAgain(Box::new(p)))
            }
            Ok(Lookup::NotPublished) => {
                if let Some(last) = p.attempts.last_mut()
                    && matches!(
                        last.outcome,
                        AttemptOutcome::InProgress | AttemptOutcome::Unknown
                    )
                {
                    last.outcome = AttemptOutcome::NotPublishedByLookup;
                    last.finished_at.get_or_insert(now);
                }
                p.status = PublicationStatus::Pending;
                p.updated_at = now;
                p.version = self.stores.publications.update_publication(&p).await?;
                Ok(Settled::SendAgain(Box::new(p)))
            }
            Ok(Lookup::Indeterminate { reason }) => {
                if let Some(last) = p.attempts.last_mut()
                    && last.outcome == AttemptOutcome::InProgress
                {
                    last.outcome = AttemptOutcome::Unknown;
                    last.finished_at = Some(now);
                    last.error_message = Some(reason.clone());
                }
                p.status = PublicationStatus::Unconfirmed;
                p.last_error_kind = Some(ErrorKind::OutcomeUnknown);
                p.last_error = Some(format!("outcome unknown and cannot be checked: {reason}"));
                p.updated_at = now;
                p.version = self.stores.publications.update_publication(&p).await?;
                if notify_unconfirmed {
                    self.notifications.publication_unconfirmed(&p).await;
                }
                Ok(Settled::Done(Step::Final))
            }
            Err(e) if e.is_retryable() => {
                let wait = e.retry_after().unwrap_or_else(|| self.retry.delay_for(1));
                Ok(Settled::Done(Step::RetryAt(
                    now + chrono::Duration::from_std(wait).unwrap_or_default(),
                )))
            }
            Err(e) => {
                let kind = e.kind();
                p.status = PublicationStatus::Unconfirmed;
                p.last_error_kind = Some(kind);
                p.last_error = Some(format!("lookup failed: {}", e.detailed_message()));
                p.updated_at = now;
                if let Some(last) = p.attempts.last_mut()
                    && last.outcome == AttemptOutcome::InProgress
                {
                    last.outcome = AttemptOutcome::Unknown;
                    last.finished_at = Some(now);
                }
                p.version = self.stores.publications.update_publication(&p).await?;
                if notify_unconfirmed {
                    self.notifications.publication_unconfirmed(&p).await;
                }
                Ok(Settled::Done(Step::Final))
            }
        }
    }

    async fn record_published(
        &self,
        mut p: Publication,
        published: PublishedPost,
        outcome: AttemptOutcome,
    ) -> Result<()> {
        let now = self.clock.now();
        if let Some(last) = p.attempts.last_mut()
            && matches!(
                last.outcome,
                AttemptOutcome::InProgress | AttemptOutcome::Unknown
            )
        {
            last.outcome = outcome;
            last.finished_at = Some(now);
            last.platform_post_id = Some(published.platform_post_id.clone());
        }
        p.status = PublicationStatus::Published;
        p.platform_post_id = Some(published.platform_post_id);
        p.url = published.url;
        p.thread_ids = published.thread_ids;
        p.published_at = Some(published.published_at);
        p.last_error = None;
        p.last_error_kind = None;
        p.updated_at = now;
        p.version = self.stores.publications.update_publication(&p).await?;
        tracing::info!(publication = %p.id, platform = %p.platform, "published");
        self.notifications.publication_succeeded(&p).await;
        Ok(())
    }

    async fn fail(&self, mut p: Publication, error: Error) -> Result<()> {
        let now = self.clock.now();
        if p.attempts
            .last()
            .is_some_and(|a| a.outcome == AttemptOutcome::InProgress)
        {
            close_attempt(&mut p, AttemptOutcome::Failed, Some(&error), now);
        } else {
            p.last_error_kind = Some(error.kind());
            p.last_error = Some(error_message(&error));
        }
        self.finalize_failed(p).await
    }

    async fn finalize_failed(&self, mut p: Publication) -> Result<()> {
        p.status = PublicationStatus::Failed;
        p.updated_at = self.clock.now();
        p.version = self.stores.publications.update_publication(&p).await?;
        tracing::warn!(publication = %p.id, platform = %p.platform, error = p.last_error.as_deref().unwrap_or(""), "publication failed");
        self.notifications.publication_failed(&p).await;
        Ok(())
    }

    async fn mark_needs_reauth(&self, connection: PlatformConnection) {
        if let Err(e) = super::mark_needs_reauth(
            &*self.stores.connections,
            &self.notifications,
            &*self.clock,
            connection.id,
        )
        .await
        {
            tracing::warn!(connection = %connection.id, error = %e.detailed_message(), "could not mark connection needs_reauth");
        }
    }

    /// The connection to publish with: the one recorded on the publication, or the user's
    /// active one on that platform. The inner error explains an unusable connection.
    async fn connection_for(
        &self,
        p: &Publication,
    ) -> Result<std::result::Result<PlatformConnection, Error>> {
        let found = match p.connection_id {
            Some(id) => match self.stores.connections.get_connection(id).await {
                Ok(c) => Some(c),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => {
                self.stores
                    .connections
                    .find_active_connection(p.user_id, p.platform)
                    .await?
            }
        };
        Ok(match found {
            Some(c) if c.status == ConnectionStatus::Active => Ok(c),
            Some(c) => Err(Error::AuthExpired {
                service: p.platform.as_str(),
                source: Some(
                    format!(
                        "connection @{} is {}",
                        c.platform_username,
                        c.status.as_str()
                    )
                    .into(),
                ),
            }),
            None => Err(Error::Config(format!(
                "no active {} connection; connect an account first",
                p.platform
            ))),
        })
    }

    async fn load_media(&self, post: &Post) -> Result<Vec<PublishMedia>> {
        let mut out = Vec::with_capacity(post.content.media.len());
        for r in &post.content.media {
            let file = self.stores.media.get_media(r.media_id).await?;
            let bytes = self.blobs.get(&file.storage_key).await?;
            out.push(PublishMedia {
                file,
                alt_text: r.alt_text.clone(),
                bytes,
            });
        }
        Ok(out)
    }

    fn request_for(&self, p: &Publication, post: &Post, media: &[PublishMedia]) -> PublishRequest {
        PublishRequest {
            publication_id: p.id,
            idempotency_key: p.idempotency_key.clone(),
            attempt: p.attempt_count(),
            text: post.content.text_for(p.platform).to_owned(),
            thread: post.content.thread.clone(),
            media: media.to_vec(),
            link_url: post.content.link_url.clone(),
            link_preview: post.content.link_preview.clone(),
            ai_generated: post.content.ai_generated,
            options: post.content.options.clone(),
        }
    }

    async fn finish_schedule(
        &self,
        mut schedule: Schedule,
        post: Option<Post>,
        pubs: &[Publication],
    ) -> Result<()> {
        let all_final = pubs.iter().all(|p| p.status.is_final());
        if all_final {
            schedule.status = ScheduleStatus::Completed;
            schedule.updated_at = self.clock.now();
            match self.stores.schedules.update_schedule(&schedule).await {
                Ok(_) | Err(Error::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(mut post) = post {
            let live: Vec<&Publication> = pubs
                .iter()
                .filter(|p| p.status != PublicationStatus::Cancelled)
                .collect();
            let status = if !live.is_empty()
                && live
                    .iter()
                    .all(|p| p.status == PublicationStatus::Published)
            {
                PostStatus::Published
            } else if live.iter().any(|p| p.status == PublicationStatus::Failed) {
                PostStatus::Failed
            } else {
                return Ok(());
            };
            if post.status != status {
                post.status = status;
                post.updated_at = self.clock.now();
                match self.stores.posts.update_post(&post).await {
                    Ok(_) | Err(Error::Conflict { .. }) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

enum Settled {
    Done(Step),
    SendAgain(Box<Publication>),
}

fn error_message(e: &Error) -> String {
    match e {
        // Internal details are logged, not stored for users.
        Error::Other { .. } => e.to_string(),
        _ => e.detailed_message(),
    }
}

fn close_attempt(
    p: &mut Publication,
    outcome: AttemptOutcome,
    error: Option<&Error>,
    now: DateTime<Utc>,
) {
    if let Some(last) = p.attempts.last_mut() {
        last.outcome = outcome;
        last.finished_at = Some(now);
        if let Some(e) = error {
            last.error_kind = Some(e.kind());
            last.error_message = Some(error_message(e));
        }
    }
    if let Some(e) = error {
        p.last_error_kind = Some(e.kind());
        p.last_error = Some(error_message(e));
    }
    p.updated_at = now;
}

/// Payload of a [`PUBLISH_JOB`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PublishPayload {
    schedule_id: ScheduleId,
}

/// How long after its job was created a missing schedule is still expected to appear (the job
/// is written before its schedule).
const SCHEDULE_APPEAR_GRACE: chrono::Duration = chrono::Duration::seconds(60);

#[async_trait]
impl JobHandler for PublishingService {
    async fn handle(&self, job: &Job) -> JobOutcome {
        let payload: PublishPayload = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => {
                return JobOutcome::Failed {
                    error: format!("bad payload: {e}"),
                    retry_at: None,
                };
            }
        };
        let now = self.clock.now();
        match self.publish_schedule(payload.schedule_id).await {
            Ok(PublishReport {
                next_run: Some(at), ..
            }) => JobOutcome::RetryAt(at),
            Ok(_) => JobOutcome::Done,
            Err(Error::NotFound { .. }) if now - job.created_at < SCHEDULE_APPEAR_GRACE => {
                JobOutcome::RetryAt(now + chrono::Duration::seconds(1))
            }
            Err(Error::NotFound { what }) => {
                tracing::info!(job = %job.id, %what, "schedule is gone; dropping its job");
                JobOutcome::Done
            }
            Err(e) => {
                let backoff = self.retry.delay_for(job.attempts.max(1));
                JobOutcome::Failed {
                    error: e.detailed_message(),
                    retry_at: Some(now + chrono::Duration::from_std(backoff).unwrap_or_default()),
                }
            }
        }
    }
}
