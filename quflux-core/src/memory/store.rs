//! [`InMemoryStore`]: every store trait over mutex-protected maps.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::{
    AuthStore, ConnectionId, ConnectionStatus, ConnectionStore, Error, MediaFile, MediaId,
    MediaStore, Notification, NotificationId, NotificationStore, Platform, PlatformConnection,
    Post, PostFilter, PostId, PostStore, Publication, PublicationFilter, PublicationId,
    PublicationStore, Result, Schedule, ScheduleId, ScheduleStatus, ScheduleStore, Session,
    StoredNotification, User, UserId, UserStore,
};

/// Every store trait in memory: [`UserStore`], [`ConnectionStore`], [`PostStore`], [`MediaStore`],
/// [`ScheduleStore`], [`PublicationStore`], [`AuthStore`] and [`NotificationStore`].
///
/// One mutex guards all tables, so every call (including [`ScheduleStore::create_schedule`] and
/// [`AuthStore::insert_user_with_password`]) is atomic. Uniqueness rules and compare-and-swap
/// updates behave as the trait contracts say. Foreign keys are not checked (a post may name a
/// user this store has never seen), except where a contract asks for it: password hashes and
/// sessions belong to stored users.
///
/// On update, identity columns keep their stored values: `id`, `user_id` and `created_at` of
/// every row, plus `post_id` of schedules and `schedule_id`, `post_id` and `platform` of
/// publications. Everything else is replaced by what the caller passes.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    users: HashMap<UserId, User>,
    connections: HashMap<ConnectionId, PlatformConnection>,
    posts: HashMap<PostId, Post>,
    media: HashMap<MediaId, MediaFile>,
    schedules: HashMap<ScheduleId, Schedule>,
    publications: HashMap<PublicationId, Publication>,
    /// Password hashes by user.
    credentials: HashMap<UserId, String>,
    /// Sessions by token hash.
    sessions: HashMap<String, Session>,
    /// The notification log, in `seq` order.
    notifications: Vec<StoredNotification>,
    /// The `seq` of each logged notification.
    notification_seqs: HashMap<NotificationId, i64>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        lock(&self.tables)
    }
}

/// Checks an optimistic version: `stored` must equal `given`.
fn check_version(what: impl std::fmt::Display, stored: i64, given: i64) -> Result<i64> {
    if stored == given {
        Ok(stored + 1)
    } else {
        Err(Error::conflict(format!(
            "{what} (version {given} is stale, stored version is {stored})"
        )))
    }
}

/// Skips `offset` and keeps `limit` rows.
fn page<T>(rows: Vec<T>, offset: Option<u32>, limit: u32) -> Vec<T> {
    rows.into_iter()
        .skip(offset.unwrap_or(0) as usize)
        .take(limit as usize)
        .collect()
}

fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Inserts `user` after checking its id and e-mail are free.
fn insert_user(t: &mut Tables, user: &User) -> Result<()> {
    if t.users.contains_key(&user.id) {
        return Err(Error::conflict(format!("user {}", user.id)));
    }
    let email = email_key(&user.email);
    if t.users.values().any(|u| email_key(&u.email) == email) {
        return Err(Error::conflict(format!("user with e-mail {email}")));
    }
    let mut stored = user.clone();
    stored.email = user.email.to_lowercase();
    t.users.insert(user.id, stored);
    Ok(())
}

#[async_trait]
impl UserStore for InMemoryStore {
    async fn insert_user(&self, user: &User) -> Result<()> {
        insert_user(&mut self.tables(), user)
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        self.tables()
            .users
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("user {id}")))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = email_key(email);
        Ok(self
            .tables()
            .users
            .values()
            .find(|u| email_key(&u.email) == email)
            .cloned())
    }

    async fn update_user(&self, user: &User) -> Result<()> {
        let mut t = self.tables();
        if !t.users.contains_key(&user.id) {
            return Err(Error::not_found(format!("user {}", user.id)));
        }
        let email = email_key(&user.email);
        if t.users
            .values()
            .any(|u| u.id != user.id && email_key(&u.email) == email)
        {
            return Err(Error::conflict(format!("user with e-mail {email}")));
        }
        if let Some(stored) = t.users.get_mut(&user.id) {
            stored.email = user.email.to_lowercase();
            stored.display_name = user.display_name.clone();
            stored.time_zone = user.time_zone.clone();
            stored.is_active = user.is_active;
            stored.updated_at = user.updated_at;
        }
        Ok(())
    }
}

fn same_account(a: &PlatformConnection, b: &PlatformConnection) -> bool {
    a.user_id == b.user_id && a.platform == b.platform && a.platform_user_id == b.platform_user_id
}

fn account_conflict(c: &PlatformConnection) -> Error {
    Error::conflict(format!(
        "{} connection to account {} of user {}",
        c.platform, c.platform_user_id, c.user_id
    ))
}

#[async_trait]
impl ConnectionStore for InMemoryStore {
    async fn insert_connection(&self, connection: &PlatformConnection) -> Result<()> {
        let mut t = self.tables();
        if t.connections.contains_key(&connection.id) {
            return Err(Error::conflict(format!("connection {}", connection.id)));
        }
        if t.connections.values().any(|c| same_account(c, connection)) {
            return Err(account_conflict(connection));
        }
        t.connections.insert(connection.id, connection.clone());
        Ok(())
    }

    async fn get_connection(&self, id: ConnectionId) -> Result<PlatformConnection> {
        self.tables()
            .connections
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("connection {id}")))
    }

    async fn update_connection(&self, connection: &PlatformConnection) -> Result<i64> {
        let mut t = self.tables();
        let what = format!("connection {}", connection.id);
        let stored = t
            .connections
            .get(&connection.id)
            .ok_or_else(|| Error::not_found(what.clone()))?;
        let version = check_version(&what, stored.version, connection.version)?;
        let mut next = connection.clone();
        next.user_id = stored.user_id;
        next.created_at = stored.created_at;
        next.version = version;
        if t.connections
            .values()
            .any(|c| c.id != next.id && same_account(c, &next))
        {
            return Err(account_conflict(&next));
        }
        t.connections.insert(next.id, next);
        Ok(version)
    }

    async fn list_connections(&self, user_id: UserId) -> Result<Vec<PlatformConnection>> {
        let mut rows: Vec<PlatformConnection> = self
            .tables()
            .connections
            .values()
            .filter(|c| c.user_id == user_id)
            .cloned()
            .collect();
        rows.sort_by_key(|c| (c.created_at, c.id));
        Ok(rows)
    }

    async fn find_active_connection(
        &self,
        user_id: UserId,
        platform: Platform,
    ) -> Result<Option<PlatformConnection>> {
        Ok(self
            .tables()
            .connections
            .values()
            .filter(|c| {
                c.user_id == user_id
                    && c.platform == platform
                    && c.status == ConnectionStatus::Active
            })
            .min_by_key(|c| (c.created_at, c.id))
            .cloned())
    }
}

fn post_matches(post: &Post, filter: &PostFilter) -> bool {
    filter.status.is_none_or(|s| post.status == s)
        && filter
            .created_from
            .is_none_or(|from| post.created_at >= from)
        && filter.created_to.is_none_or(|to| post.created_at < to)
        && filter.text_contains.as_deref().is_none_or(|needle| {
            post.content
                .text
                .to_lowercase()
                .contains(&needle.to_lowercase())
        })
}

#[async_trait]
impl PostStore for InMemoryStore {
    async fn insert_post(&self, post: &Post) -> Result<()> {
        let mut t = self.tables();
        if t.posts.contains_key(&post.id) {
            return Err(Error::conflict(format!("post {}", post.id)));
        }
        t.posts.insert(post.id, post.clone());
        Ok(())
    }

    async fn get_post(&self, id: PostId) -> Result<Post> {
        self.tables()
            .posts
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("post {id}")))
    }

    async fn update_post(&self, post: &Post) -> Result<i64> {
        let mut t = self.tables();
        let what = format!("post {}", post.id);
        let stored = t
            .posts
            .get(&post.id)
            .ok_or_else(|| Error::not_found(what.clone()))?;
        let version = check_version(&what, stored.version, post.version)?;
        let mut next = post.clone();
        next.user_id = stored.user_id;
        next.created_at = stored.created_at;
        next.version = version;
        t.posts.insert(next.id, next);
        Ok(version)
    }

    async fn delete_post(&self, id: PostId) -> Result<()> {
        self.tables()
            .posts
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| Error::not_found(format!("post {id}")))
    }

    async fn list_posts(&self, user_id: UserId, filter: &PostFilter) -> Result<Vec<Post>> {
        let mut rows: Vec<Post> = self
            .tables()
            .posts
            .values()
            .filter(|p| p.user_id == user_id && post_matches(p, filter))
            .cloned()
            .collect();
        rows.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));
        Ok(page(rows, filter.offset, filter.effective_limit()))
    }
}

#[async_trait]
impl MediaStore for InMemoryStore {
    async fn insert_media(&self, media: &MediaFile) -> Result<()> {
        let mut t = self.tables();
        if t.media.contains_key(&media.id) {
            return Err(Error::conflict(format!("media {}", media.id)));
        }
        t.media.insert(media.id, media.clone());
        Ok(())
    }

    async fn get_media(&self, id: MediaId) -> Result<MediaFile> {
        self.tables()
            .media
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("media {id}")))
    }

    async fn list_media(&self, user_id: UserId) -> Result<Vec<MediaFile>> {
        let mut rows: Vec<MediaFile> = self
            .tables()
            .media
            .values()
            .filter(|m| m.user_id == user_id)
            .cloned()
            .collect();
        rows.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
        Ok(rows)
    }

    async fn delete_media(&self, id: MediaId) -> Result<()> {
        self.tables()
            .media
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| Error::not_found(format!("media {id}")))
    }
}

/// Checks that `publication` may be inserted next to the stored ones and the `pending` ones.
fn check_new_publication(
    t: &Tables,
    publication: &Publication,
    pending: &[Publication],
) -> Result<()> {
    let taken_id = t.publications.contains_key(&publication.id)
        || pending.iter().any(|p| p.id == publication.id);
    if taken_id {
        return Err(Error::conflict(format!("publication {}", publication.id)));
    }
    let same_target = |p: &Publication| {
        p.schedule_id == publication.schedule_id && p.platform == publication.platform
    };
    if t.publications.values().any(same_target) || pending.iter().any(same_target) {
        return Err(Error::conflict(format!(
            "{} publication of schedule {}",
            publication.platform, publication.schedule_id
        )));
    }
    Ok(())
}

#[async_trait]
impl ScheduleStore for InMemoryStore {
    async fn create_schedule(
        &self,
        schedule: &Schedule,
        publications: &[Publication],
    ) -> Result<()> {
        let mut t = self.tables();
        if t.schedules.contains_key(&schedule.id) {
            return Err(Error::conflict(format!("schedule {}", schedule.id)));
        }
        for (i, publication) in publications.iter().enumerate() {
            if publication.schedule_id != schedule.id {
                return Err(Error::invalid_input(
                    "publications",
                    format!(
                        "publication {} belongs to schedule {}, not {}",
                        publication.id, publication.schedule_id, schedule.id
                    ),
                ));
            }
            check_new_publication(&t, publication, &publications[..i])?;
        }
        // Every check passed: nothing below can fail, so the write is all-or-nothing.
        t.schedules.insert(schedule.id, schedule.clone());
        for publication in publications {
            t.publications.insert(publication.id, publication.clone());
        }
        Ok(())
    }

    async fn get_schedule(&self, id: ScheduleId) -> Result<Schedule> {
        self.tables()
            .schedules
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("schedule {id}")))
    }

    async fn update_schedule(&self, schedule: &Schedule) -> Result<i64> {
        let mut t = self.tables();
        let what = format!("schedule {}", schedule.id);
        let stored = t
            .schedules
            .get(&schedule.id)
            .ok_or_else(|| Error::not_found(what.clone()))?;
        let version = check_version(&what, stored.version, schedule.version)?;
        let mut next = schedule.clone();
        next.user_id = stored.user_id;
        next.post_id = stored.post_id;
        next.created_at = stored.created_at;
        next.version = version;
        t.schedules.insert(next.id, next);
        Ok(version)
    }

    async fn list_schedules(
        &self,
        user_id: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Schedule>> {
        let mut rows: Vec<Schedule> = self
            .tables()
            .schedules
            .values()
            .filter(|s| s.user_id == user_id && s.scheduled_at >= from && s.scheduled_at < to)
            .cloned()
            .collect();
        rows.sort_by_key(|s| (s.scheduled_at, s.id));
        Ok(rows)
    }

    async fn count_active_schedules(
        &self,
        user_id: UserId,
        platform: Platform,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64> {
        Ok(self
            .tables()
            .schedules
            .values()
            .filter(|s| {
                s.user_id == user_id
                    && s.status == ScheduleStatus::Active
                    && s.scheduled_at >= from
                    && s.scheduled_at < to
                    && s.platforms.contains(&platform)
            })
            .count() as u64)
    }

    async fn list_due_schedules(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Schedule>> {
        let mut rows: Vec<Schedule> = self
            .tables()
            .schedules
            .values()
            .filter(|s| s.status == ScheduleStatus::Active && s.scheduled_at < before)
            .cloned()
            .collect();
        rows.sort_by_key(|s| (s.scheduled_at, s.id));
        rows.truncate(limit as usize);
        Ok(rows)
    }
}

fn publication_matches(p: &Publication, filter: &PublicationFilter) -> bool {
    filter.status.is_none_or(|s| p.status == s)
        && filter.platform.is_none_or(|pl| p.platform == pl)
        && filter.schedule_id.is_none_or(|id| p.schedule_id == id)
}

#[async_trait]
impl PublicationStore for InMemoryStore {
    async fn insert_publication(&self, publication: &Publication) -> Result<()> {
        let mut t = self.tables();
        check_new_publication(&t, publication, &[])?;
        t.publications.insert(publication.id, publication.clone());
        Ok(())
    }

    async fn get_publication(&self, id: PublicationId) -> Result<Publication> {
        self.tables()
            .publications
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("publication {id}")))
    }

    async fn update_publication(&self, publication: &Publication) -> Result<i64> {
        let mut t = self.tables();
        let what = format!("publication {}", publication.id);
        let stored = t
            .publications
            .get(&publication.id)
            .ok_or_else(|| Error::not_found(what.clone()))?;
        let version = check_version(&what, stored.version, publication.version)?;
        let mut next = publication.clone();
        next.schedule_id = stored.schedule_id;
        next.post_id = stored.post_id;
        next.user_id = stored.user_id;
        next.platform = stored.platform;
        next.created_at = stored.created_at;
        next.version = version;
        t.publications.insert(next.id, next);
        Ok(version)
    }

    async fn list_publications_for_schedule(
        &self,
        schedule_id: ScheduleId,
    ) -> Result<Vec<Publication>> {
        let mut rows: Vec<Publication> = self
            .tables()
            .publications
            .values()
            .filter(|p| p.schedule_id == schedule_id)
            .cloned()
            .collect();
        rows.sort_by(|a, b| {
            a.platform
                .as_str()
                .cmp(b.platform.as_str())
                .then(a.id.cmp(&b.id))
        });
        Ok(rows)
    }

    async fn list_publications(
        &self,
        user_id: UserId,
        filter: &PublicationFilter,
    ) -> Result<Vec<Publication>> {
        let mut rows: Vec<Publication> = self
            .tables()
            .publications
            .values()
            .filter(|p| p.user_id == user_id && publication_matches(p, filter))
            .cloned()
            .collect();
        rows.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));
        Ok(page(rows, filter.offset, filter.effective_limit()))
    }
}

/// `NotFound` unless `user_id` is stored.
fn require_user(t: &Tables, user_id: UserId) -> Result<()> {
    if t.users.contains_key(&user_id) {
        Ok(())
    } else {
        Err(Error::not_found(format!("user {user_id}")))
    }
}

#[async_trait]
impl AuthStore for InMemoryStore {
    async fn insert_user_with_password(&self, user: &User, password_hash: &str) -> Result<()> {
        let mut t = self.tables();
        // Checks before any write: a conflict leaves no hash behind.
        insert_user(&mut t, user)?;
        t.credentials.insert(user.id, password_hash.to_owned());
        Ok(())
    }

    async fn get_password_hash(&self, user_id: UserId) -> Result<Option<String>> {
        let t = self.tables();
        require_user(&t, user_id)?;
        Ok(t.credentials.get(&user_id).cloned())
    }

    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> Result<()> {
        let mut t = self.tables();
        require_user(&t, user_id)?;
        t.credentials.insert(user_id, password_hash.to_owned());
        Ok(())
    }

    async fn insert_session(&self, session: &Session) -> Result<()> {
        let mut t = self.tables();
        if t.sessions.contains_key(&session.token_hash) {
            return Err(Error::conflict("session token"));
        }
        if !t.users.contains_key(&session.user_id) {
            return Err(Error::conflict(format!(
                "session of unknown user {}",
                session.user_id
            )));
        }
        t.sessions
            .insert(session.token_hash.clone(), session.clone());
        Ok(())
    }

    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>> {
        Ok(self.tables().sessions.get(token_hash).cloned())
    }

    async fn revoke_session(&self, token_hash: &str, at: DateTime<Utc>) -> Result<bool> {
        let mut t = self.tables();
        match t.sessions.get_mut(token_hash) {
            Some(session) if session.revoked_at.is_none() => {
                session.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_user_sessions(&self, user_id: UserId, at: DateTime<Utc>) -> Result<u64> {
        let mut t = self.tables();
        let mut revoked = 0;
        for session in t.sessions.values_mut() {
            if session.user_id == user_id && session.is_live(at) {
                session.revoked_at = Some(at);
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut t = self.tables();
        let count = t.sessions.len();
        t.sessions.retain(|_, s| {
            s.expires_at >= before && s.revoked_at.is_none_or(|revoked| revoked >= before)
        });
        Ok((count - t.sessions.len()) as u64)
    }
}

#[async_trait]
impl NotificationStore for InMemoryStore {
    async fn insert_notification(&self, notification: &Notification) -> Result<i64> {
        let mut t = self.tables();
        if let Some(&seq) = t.notification_seqs.get(&notification.id) {
            return Ok(seq);
        }
        let seq = t.notifications.last().map_or(0, |n| n.seq) + 1;
        t.notification_seqs.insert(notification.id, seq);
        t.notifications.push(StoredNotification {
            seq,
            notification: notification.clone(),
        });
        Ok(seq)
    }

    async fn list_notifications(
        &self,
        user_id: UserId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredNotification>> {
        let t = self.tables();
        // The log is in seq order: skip to the first seq after `after_seq`.
        let start = t.notifications.partition_point(|n| n.seq <= after_seq);
        Ok(t.notifications[start..]
            .iter()
            .filter(|n| n.notification.user_id == user_id)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn last_notification_seq(&self, user_id: UserId) -> Result<i64> {
        Ok(self
            .tables()
            .notifications
            .iter()
            .rev()
            .find(|n| n.notification.user_id == user_id)
            .map_or(0, |n| n.seq))
    }
}
