//! Persistence ports: users, connections, posts, media metadata, schedules, publications,
//! credentials and sessions, notifications.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    ConnectionId, MediaFile, MediaId, Notification, Platform, PlatformConnection, Post, PostFilter,
    PostId, Publication, PublicationFilter, PublicationId, Result, Schedule, ScheduleId, Session,
    StoredNotification, User, UserId,
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

/// Stores password hashes and login sessions.
///
/// # Contract
/// - A password hash is an opaque PHC string; the store never parses it. A user has at most
///   one, and may have none (e.g. a user created by an external identity provider).
/// - `insert_user_with_password` writes the user and its hash atomically: on error nothing is
///   written. Its uniqueness rules are those of [`UserStore::insert_user`].
/// - Sessions are keyed by the SHA-256 hex digest of their token; the token itself is never
///   stored. A session's user must exist: inserting one for an unknown user is
///   [`crate::Error::Conflict`].
/// - A session is live while it is neither revoked nor expired; `get_session` returns expired
///   and revoked sessions too, until `purge_sessions` deletes them.
#[async_trait]
pub trait AuthStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts `user` together with its password hash (PHC string) atomically.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] if the e-mail or the id is taken (same as
    /// [`UserStore::insert_user`]); nothing is stored then.
    async fn insert_user_with_password(&self, user: &User, password_hash: &str) -> Result<()>;
    /// The user's password hash, `None` if the user has none.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] if there is no such user.
    async fn get_password_hash(&self, user_id: UserId) -> Result<Option<String>>;
    /// Sets or replaces the password hash.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] if there is no such user.
    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> Result<()>;
    /// Stores a new session.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] if the token hash exists or the user does not.
    async fn insert_session(&self, session: &Session) -> Result<()>;
    /// The session with this token hash (also when expired or revoked; the caller decides),
    /// `None` if unknown.
    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>>;
    /// Marks the session revoked at `at`; returns `false` if unknown or already revoked.
    async fn revoke_session(&self, token_hash: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Revokes every live session of the user (not revoked, expiring after `at`) at `at`;
    /// returns how many.
    async fn revoke_user_sessions(&self, user_id: UserId, at: DateTime<Utc>) -> Result<u64>;
    /// Deletes sessions that expired or were revoked before `before`; returns how many.
    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// Stores a per-user log of notifications, for clients that poll or stream them.
///
/// # Contract
/// - `insert_notification` returns the notification's `seq`: positive, unique and strictly
///   increasing across the store in insertion order. Inserting an id that is already stored
///   changes nothing and returns the stored `seq`.
/// - Tailing is gap-free: once a reader has seen a user's notification with `seq = n`, every
///   notification of that user inserted later has `seq > n`, also under concurrent inserts.
///   So `list_notifications(user, last_seen, ..)` in a loop sees every notification once.
/// - Users are isolated: `list_notifications` and `last_notification_seq` only ever see the
///   given user's notifications. The user need not exist in a [`UserStore`].
#[async_trait]
pub trait NotificationStore: Send + Sync + std::fmt::Debug + 'static {
    /// Appends a notification; returns its seq (strictly increasing across the store, > 0).
    /// Inserting the same notification id twice is a no-op that returns the existing seq.
    async fn insert_notification(&self, notification: &Notification) -> Result<i64>;
    /// The user's notifications with `seq > after_seq`, oldest first, at most `limit`.
    async fn list_notifications(
        &self,
        user_id: UserId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredNotification>>;
    /// The highest seq of the user's notifications (0 if none).
    async fn last_notification_seq(&self, user_id: UserId) -> Result<i64>;
}

/// Every store trait at once, for backends that implement them all.
pub trait Store:
    UserStore
    + ConnectionStore
    + PostStore
    + MediaStore
    + ScheduleStore
    + PublicationStore
    + AuthStore
    + NotificationStore
{
}

impl<T> Store for T where
    T: UserStore
        + ConnectionStore
        + PostStore
        + MediaStore
        + ScheduleStore
        + PublicationStore
        + AuthStore
        + NotificationStore
{
}
