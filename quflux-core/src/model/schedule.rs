//! Schedules, publications and their attempt ledger.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    ConnectionId, ErrorKind, Platform, PlatformPostId, PostId, PublicationId, ScheduleId, UserId,
};

/// Lifecycle of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScheduleStatus {
    /// Waiting for its time or being published.
    Active,
    /// Every publication reached a final state.
    Completed,
    /// Cancelled by the user.
    Cancelled,
}

impl ScheduleStatus {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
    /// Parses [`ScheduleStatus::as_str`].
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "active" => Ok(Self::Active),
            "completed" => Ok(Self::Completed),
            "cancelled" => Ok(Self::Cancelled),
            other => Err(crate::Error::invalid_input(
                "status",
                format!("unknown schedule status `{other}`"),
            )),
        }
    }
}

/// When and where a post goes out.
///
/// The user's choice is kept as they made it: the wall-clock `local_time` in the IANA
/// `time_zone`. `scheduled_at` is the UTC instant derived from both (see
/// [`crate::time::resolve_local`] for gaps and overlaps), recomputed whenever either changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    /// Id.
    pub id: ScheduleId,
    /// The post.
    pub post_id: PostId,
    /// Owner.
    pub user_id: UserId,
    /// The UTC instant it is due.
    pub scheduled_at: DateTime<Utc>,
    /// IANA time zone the user chose, e.g. `America/New_York`.
    pub time_zone: String,
    /// Wall-clock time the user chose, in `time_zone` (no offset).
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = String,
            pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$",
            example = "2026-12-01T09:30:00"
        )
    )]
    pub local_time: NaiveDateTime,
    /// Target platforms.
    pub platforms: Vec<Platform>,
    /// Lifecycle state.
    pub status: ScheduleStatus,
    /// Optimistic-concurrency version, bumped by every update.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// State of one (schedule, platform) publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PublicationStatus {
    /// Not attempted yet, or a retry is queued.
    Pending,
    /// An attempt is in flight (durably marked before the platform call).
    Publishing,
    /// Published; `platform_post_id` is set.
    Published,
    /// Failed for good (or until the user retries).
    Failed,
    /// An attempt's outcome is unknown and could not be settled yet.
    Unconfirmed,
    /// The schedule was cancelled before it went out.
    Cancelled,
}

impl PublicationStatus {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Publishing => "publishing",
            Self::Published => "published",
            Self::Failed => "failed",
            Self::Unconfirmed => "unconfirmed",
            Self::Cancelled => "cancelled",
        }
    }
    /// Parses [`PublicationStatus::as_str`].
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "pending" => Ok(Self::Pending),
            "publishing" => Ok(Self::Publishing),
            "published" => Ok(Self::Published),
            "failed" => Ok(Self::Failed),
            "unconfirmed" => Ok(Self::Unconfirmed),
            "cancelled" => Ok(Self::Cancelled),
            other => Err(crate::Error::invalid_input(
                "status",
                format!("unknown publication status `{other}`"),
            )),
        }
    }
    /// Whether nothing more will happen without a user action.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Published | Self::Failed | Self::Cancelled)
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Started, not finished (or the worker died).
    InProgress,
    /// The platform confirmed the post.
    Succeeded,
    /// The platform refused or failed; nothing was posted.
    Failed,
    /// The request went out but its result is unknown.
    Unknown,
    /// A later lookup found the post this attempt created.
    ConfirmedByLookup,
    /// A later lookup found that this attempt created nothing.
    NotPublishedByLookup,
}

/// One entry of a publication's attempt ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// 1-based attempt number.
    pub number: u32,
    /// When it was durably marked as started (before the platform call).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The platform's post id, when known.
    pub platform_post_id: Option<PlatformPostId>,
    /// Error classification, when it failed.
    pub error_kind: Option<ErrorKind>,
    /// Error message (never secrets), when it failed.
    pub error_message: Option<String>,
}

/// Publishing one schedule on one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Publication {
    /// Id.
    pub id: PublicationId,
    /// The schedule.
    pub schedule_id: ScheduleId,
    /// The post.
    pub post_id: PostId,
    /// Owner.
    pub user_id: UserId,
    /// Platform.
    pub platform: Platform,
    /// The account it goes to, once resolved.
    pub connection_id: Option<ConnectionId>,
    /// State.
    pub status: PublicationStatus,
    /// A key fixed before the first attempt and sent with every attempt where the platform
    /// supports idempotency (Mastodon's `Idempotency-Key`, Bluesky's record key, ...).
    pub idempotency_key: String,
    /// The platform's post id, once published.
    pub platform_post_id: Option<PlatformPostId>,
    /// Public URL of the post, once published.
    pub url: Option<String>,
    /// Ids of follow-up thread parts, once published.
    pub thread_ids: Vec<PlatformPostId>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// Times the user asked to retry after a final failure; each grants a fresh retry budget.
    #[serde(default)]
    pub manual_retries: u32,
    /// Classification of the last error.
    pub last_error_kind: Option<ErrorKind>,
    /// Message of the last error.
    pub last_error: Option<String>,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version, bumped by every update.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Publication {
    /// A pending publication with a fresh idempotency key.
    pub fn pending(schedule: &Schedule, platform: Platform, now: DateTime<Utc>) -> Self {
        Self {
            id: PublicationId::new(),
            schedule_id: schedule.id,
            post_id: schedule.post_id,
            user_id: schedule.user_id,
            platform,
            connection_id: None,
            status: PublicationStatus::Pending,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            platform_post_id: None,
            url: None,
            thread_ids: Vec::new(),
            attempts: Vec::new(),
            manual_retries: 0,
            last_error_kind: None,
            last_error: None,
            published_at: None,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The attempt currently in flight, if any.
    pub fn open_attempt(&self) -> Option<&Attempt> {
        self.attempts
            .last()
            .filter(|a| a.outcome == AttemptOutcome::InProgress)
    }

    /// Number of attempts that actually sent something or failed (lookups excluded).
    pub fn attempt_count(&self) -> u32 {
        self.attempts.len() as u32
    }
}

/// Filters for listing publications.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PublicationFilter {
    /// Only this state.
    pub status: Option<PublicationStatus>,
    /// Only this platform.
    pub platform: Option<Platform>,
    /// Only this schedule.
    pub schedule_id: Option<ScheduleId>,
    /// Maximum rows (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

impl PublicationFilter {
    /// The effective limit: default 100, at most 1000.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}
