//! The port to a social platform.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    LinkPreview, MediaFile, MediaRef, Platform, PlatformConnection, PlatformPostId, PostContent,
    PublicationId, PublishOptions, Result,
};

/// A media file with its bytes, ready to upload.
#[derive(Clone, PartialEq)]
pub struct PublishMedia {
    /// Metadata.
    pub file: MediaFile,
    /// Alternative text.
    pub alt_text: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

impl std::fmt::Debug for PublishMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishMedia")
            .field("file", &self.file)
            .field("alt_text", &self.alt_text)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Everything a publisher needs to publish one publication.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishRequest {
    /// The publication this request is for.
    pub publication_id: PublicationId,
    /// Fixed before the first attempt and identical on every attempt; send it where the platform
    /// supports idempotency, and use it in [`Publisher::lookup`].
    pub idempotency_key: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// Text of the first post (the platform variant if there is one).
    pub text: String,
    /// Follow-up thread parts.
    pub thread: Vec<String>,
    /// Media for the first post.
    pub media: Vec<PublishMedia>,
    /// Link to share.
    pub link_url: Option<String>,
    /// Its preview.
    pub link_preview: Option<LinkPreview>,
    /// Whether an AI wrote it (platforms that label AI content get told).
    pub ai_generated: bool,
    /// Platform-specific options (poll, content warning, ...).
    pub options: PublishOptions,
}

impl PublishRequest {
    /// The request as post content, for checking it against the platform rules
    /// ([`crate::rules::validate`]) right before sending.
    pub fn content(&self) -> PostContent {
        PostContent {
            text: self.text.clone(),
            media: self
                .media
                .iter()
                .map(|m| MediaRef {
                    media_id: m.file.id,
                    alt_text: m.alt_text.clone(),
                })
                .collect(),
            link_url: self.link_url.clone(),
            link_preview: self.link_preview.clone(),
            thread: self.thread.clone(),
            ai_generated: self.ai_generated,
            options: self.options.clone(),
            ..PostContent::default()
        }
    }

    /// Metadata of the attached media, in order.
    pub fn media_files(&self) -> Vec<MediaFile> {
        self.media.iter().map(|m| m.file.clone()).collect()
    }

    /// `Err(Error::Validation)` with every rule of `platform` the request breaks.
    pub fn check_rules(&self, platform: Platform) -> Result<()> {
        crate::rules::validate_for(&[platform], &self.content(), &self.media_files())
    }
}

/// A post the platform confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPost {
    /// The platform's id of the first post.
    pub platform_post_id: PlatformPostId,
    /// Public URL, when the platform has one.
    pub url: Option<String>,
    /// Ids of follow-up thread parts.
    pub thread_ids: Vec<PlatformPostId>,
    /// When it was published.
    pub published_at: DateTime<Utc>,
}

/// The answer to "did this publication go through?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Lookup {
    /// It did: here is the post.
    Published(PublishedPost),
    /// It did not: publishing again cannot duplicate it.
    NotPublished,
    /// The platform cannot be asked, but it deduplicates an identical resend: publishing the
    /// same request again either creates the post once or returns the existing one (LinkedIn's
    /// `DUPLICATE_POST`). The scheduler resends instead of giving up.
    ResendIsSafe {
        /// How the platform deduplicates.
        reason: String,
    },
    /// The platform offers no way to tell.
    Indeterminate {
        /// Why not.
        reason: String,
    },
}

/// Publishes posts to one social platform.
///
/// # Contract
/// - `publish` creates at most one remote post (plus its thread parts) per call and never retries
///   internally; retry policy belongs to the scheduler.
/// - A request that breaks the platform's rules fails with [`crate::Error::InvalidContent`] before
///   any network request.
/// - A timeout or connection loss after the request was sent is [`crate::Error::OutcomeUnknown`],
///   never [`crate::Error::Transient`].
/// - `lookup` answers whether an earlier `publish` of the same request (same idempotency key)
///   created a post, without creating one.
/// - A publisher answering [`Lookup::ResendIsSafe`] guarantees that `publish` of a request with
///   `attempt > 1` returns the post an earlier attempt created instead of creating another.
#[async_trait]
pub trait Publisher: Send + Sync + std::fmt::Debug + 'static {
    /// The platform it publishes to.
    fn platform(&self) -> Platform;
    /// Publishes `request` on behalf of `connection`.
    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost>;
    /// Checks, without sending anything, whether `request` may be sent now: the account's
    /// rate budgets. [`crate::Error::RateLimited`] with `retry_after` makes the scheduler requeue
    /// the job to then without spending an attempt. The default admits everything.
    async fn admit(&self, connection: &PlatformConnection, request: &PublishRequest) -> Result<()> {
        let _ = (connection, request);
        Ok(())
    }
    /// Deletes a previously published post.
    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()>;
    /// Finds out whether `request` was already published.
    async fn lookup(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup>;
}

#[async_trait]
impl<T: Publisher + ?Sized> Publisher for std::sync::Arc<T> {
    fn platform(&self) -> Platform {
        (**self).platform()
    }
    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        (**self).publish(connection, request).await
    }
    async fn admit(&self, connection: &PlatformConnection, request: &PublishRequest) -> Result<()> {
        (**self).admit(connection, request).await
    }
    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        (**self).delete(connection, id).await
    }
    async fn lookup(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        (**self).lookup(connection, request).await
    }
}
