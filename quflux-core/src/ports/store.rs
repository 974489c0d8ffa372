//! Persistence ports: users, connections, posts, media metadata, schedules, publications.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    ConnectionId, MediaFile, MediaId, Platform, PlatformConnection, Post, PostFilter, PostId,
    Publication, PublicationFilter, PublicationId, Result, Schedule, ScheduleId, User, UserId,
};

/// Stores users.
///
/// # Contract
/// - E-mails are unique, compared after lowercasing; a duplicate insert is [`crate::Error::Conflict`].
/// - Missing rows are [`crate::Error::NotFound`] from `get_user`, `None` from `find_user_by_email`.
#[async_trait]
pub trait UserStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts a new user.
    async fn insert_user(&self, user: &User) -> Result<()>;
    /// Loads a user.
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// Finds a user by e-mail (case-insensitive).
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Replaces a user's mutable fields (email, display name, time zone, active flag, updated_at).
    async fn update_user(&self, user: &User) -> Result<()>;
}

/// Stores platform connections. Tokens are stored as given: already encrypted.
///
/// # Contract
/// - (user, platform, platform_user_id) is unique; a duplicate insert is [`crate::Error::Conflict`].
/// - `update_connection` succeeds only if the stored version equals `connection.version`; it then
///   stores `version + 1` and returns it. A stale version is [`crate::Error::Conflict`]. This is what
///   keeps two processes from both spending a rotating refresh token.
#[async_trait]
pub trait ConnectionStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts a new connection.
    async fn insert_connection(&self, connection: &PlatformConnection) -> Result<()>;
    /// Loads a connection.
    async fn get_connection(&self, id: ConnectionId) -> Result<PlatformConnection>;
    /// Compare-and-swap update on `version`; returns the new version.
    async fn update_connection(&self, connection: &PlatformConnection) -> Result<i64>;
    /// A user's connections, oldest first.
    async fn list_connections(&self, user_id: UserId) -> Result<Vec<PlatformConnection>>;
    /// The user's oldest active connection on `platform`.
    async fn find_active_connection(
        &self,
        user_id: UserId,
        platform: Platform,
    ) -> Result<Option<PlatformConnection>>;
}

/// Stores posts.
///
/// # Contract
/// - `update_post` is compare-and-swap on `version` (stale → [`crate::Error::Conflict`]) and
///   returns the new version.
/// - `list_posts` returns only the user's posts, newest first, honouring every filter.
#[async_trait]
pub trait PostStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts a new post.
    async fn insert_post(&self, post: &Post) -> Result<()>;
    /// Loads a post.
    async fn get_post(&self, id: PostId) -> Result<Post>;
    /// Compare-and-swap update on `version`; returns the new version.
    async fn update_post(&self, post: &Post) -> Result<i64>;
    /// Deletes a post; a missing post is [`crate::Error::NotFound`].
    async fn delete_post(&self, id: PostId) -> Result<()>;
    /// Lists a user's posts.
    async fn list_posts(&self, user_id: UserId, filter: &PostFilter) -> Result<Vec<Post>>;
}

/// Stores media metadata (the bytes live in a [`crate::BlobStore`]).
#[async_trait]
pub trait MediaStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts metadata of an uploaded file.
    async fn insert_media(&self, media: &MediaFile) -> Result<()>;
    /// Loads metadata.
    async fn get_media(&self, id: MediaId) -> Result<MediaFile>;
    /// A user's media, newest first.
    async fn list_media(&self, user_id: UserId) -> Result<Vec<MediaFile>>;
    /// Deletes metadata; a missing row is [`crate::Error::NotFound`].
    async fn delete_media(&self, id: MediaId) -> Result<()>;
}

/// Stores schedules together with their publications.
///
/// # Contract
/// - `create_schedule` writes the schedule and all its publications atomically: on error
///   nothing is written.
/// - `update_schedule` is compare-and-swap on `version` and returns the new version.
/// - Range queries are half-open `[from, to)` on `scheduled_at`, ordered by `scheduled_at`.
#[async_trait]
pub trait ScheduleStore: Send + Sync + std::fmt::Debug + 'static {
    /// Atomically inserts a schedule and its publications.
    async fn create_schedule(
        &self,
        schedule: &Schedule,
        publications: &[Publication],
    ) -> Result<()>;
    /// Loads a schedule.
    async fn get_schedule(&self, id: ScheduleId) -> Result<Schedule>;
    /// Compare-and-swap update on `version`; returns the new version.
    async fn update_schedule(&self, schedule: &Schedule) -> Result<i64>;
    /// A user's schedules (every status) due in `[from, to)`.
    async fn list_schedules(
        &self,
        user_id: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Schedule>>;
    /// How many of the user's active schedules due in `[from, to)` target `platform` (for daily
    /// caps; counts without loading rows).
    async fn count_active_schedules(
        &self,
        user_id: UserId,
        platform: Platform,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64>;
    /// Active schedules of every user due before `before`, oldest first, at most `limit`.
    async fn list_due_schedules(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Schedule>>;
}

/// Stores publications and their attempt ledgers.
///
/// # Contract
/// - (schedule, platform) is unique; a duplicate insert is [`crate::Error::Conflict`].
/// - `update_publication` is compare-and-swap on `version` and returns the new version; the
///   whole attempt ledger is stored with it.
#[async_trait]
pub trait PublicationStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts one publication (schedules insert theirs through [`ScheduleStore::create_schedule`]).
    async fn insert_publication(&self, publication: &Publication) -> Result<()>;
    /// Loads a publication.
    async fn get_publication(&self, id: PublicationId) -> Result<Publication>;
    /// Compare-and-swap update on `version`; returns the new version.
    async fn update_publication(&self, publication: &Publication) -> Result<i64>;
    /// A schedule's publications, ordered by platform.
    async fn list_publications_for_schedule(
        &self,
        schedule_id: ScheduleId,
    ) -> Result<Vec<Publication>>;
    /// A user's publications, newest first.
    async fn list_publications(
        &self,
        user_id: UserId,
        filter: &PublicationFilter,
    ) -> Result<Vec<Publication>>;
}

/// Every store trait at once, for backends that implement them all.
pub trait Store:
    UserStore + ConnectionStore + PostStore + MediaStore + ScheduleStore + PublicationStore
{
}

impl<T> Store for T where
    T: UserStore + ConnectionStore + PostStore + MediaStore + ScheduleStore + PublicationStore
{
}
