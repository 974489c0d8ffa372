//! [`AuthStore`] and [`NotificationStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    AuthStore, Error, Notification, NotificationKind, NotificationStore, PlatformPostId, Result,
    Session, StoredNotification, User, UserId,
};

use super::SqliteStore;
use super::codec::{DbResultExt, opt_ts, parse, parse_opt_ts, parse_ts, ts};
use super::users::insert_user_row;

const INSERT_CREDENTIALS: &str =
    "INSERT INTO user_credentials (user_id, password_hash, updated_at) VALUES (?, ?, ?)";

/// One row if the user exists; `password_hash` is NULL when they have none.
const GET_PASSWORD_HASH: &str = "SELECT c.password_hash FROM users u \
    LEFT JOIN user_credentials c ON c.user_id = u.id WHERE u.id = ?";

/// Inserts or replaces the hash of an existing user; touches no row for an unknown user.
const SET_PASSWORD_HASH: &str = "INSERT INTO user_credentials (user_id, password_hash, updated_at) \
    SELECT id, ?, ? FROM users WHERE id = ? \
    ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
    updated_at = excluded.updated_at";

const INSERT_SESSION: &str = "INSERT INTO sessions \
    (token_hash, user_id, created_at, expires_at, revoked_at, user_agent, address) \
    VALUES (?, ?, ?, ?, ?, ?, ?)";

const GET_SESSION: &str = "SELECT token_hash, user_id, created_at, expires_at, revoked_at, \
    user_agent, address FROM sessions WHERE token_hash = ?";

const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL";

/// Revokes the user's live sessions: not revoked, expiring after `at`.
const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = ?1 \
    WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1";

const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1";

/// Inserts a notification unless its id is stored; returns the new seq, or no row.
const INSERT_NOTIFICATION: &str = "INSERT INTO notifications \
    (id, user_id, kind, title, message, platform, post_id, publication_id, connection_id, \
    platform_post_id, url, created_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
    ON CONFLICT (id) DO NOTHING RETURNING seq";

const NOTIFICATION_SEQ: &str = "SELECT seq FROM notifications WHERE id = ?";

const LIST_NOTIFICATIONS: &str = "SELECT seq, id, user_id, kind, title, message, platform, \
    post_id, publication_id, connection_id, platform_post_id, url, created_at \
    FROM notifications WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?";

const LAST_NOTIFICATION_SEQ: &str =
    "SELECT COALESCE(MAX(seq), 0) FROM notifications WHERE user_id = ?";

#[derive(sqlx::FromRow)]
struct SessionRow {
    token_hash: String,
    user_id: String,
    created_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    user_agent: Option<String>,
    address: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;
    fn try_from(row: SessionRow) -> Result<Self> {
        Ok(Session {
            token_hash: row.token_hash,
            user_id: parse(&row.user_id, "sessions.user_id")?,
            created_at: parse_ts(&row.created_at, "sessions.created_at")?,
            expires_at: parse_ts(&row.expires_at, "sessions.expires_at")?,
            revoked_at: parse_opt_ts(row.revoked_at.as_deref(), "sessions.revoked_at")?,
            user_agent: row.user_agent,
            address: row.address,
        })
    }
}

#[async_trait]
impl AuthStore for SqliteStore {
    async fn insert_user_with_password(&self, user: &User, password_hash: &str) -> Result<()> {
        let mut tx = self.begin_immediate("user").await?;
        insert_user_row(&mut *tx, user).await?;
        sqlx::query(INSERT_CREDENTIALS)
            .bind(user.id.to_string())
            .bind(password_hash)
            .bind(ts(user.updated_at))
            .execute(&mut *tx)
            .await
            .db("user credentials")?;
        // Dropping `tx` on any error above rolls everything back.
        tx.commit().await.db("user")
    }

    async fn get_password_hash(&self, user_id: UserId) -> Result<Option<String>> {
        sqlx::query_scalar::<_, Option<String>>(GET_PASSWORD_HASH)
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("user credentials")?
            .ok_or_else(|| Error::not_found(format!("user {user_id}")))
    }

    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> Result<()> {
        let done = sqlx::query(SET_PASSWORD_HASH)
            .bind(password_hash)
            .bind(ts(self.clock.now()))
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .db("user credentials")?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        Ok(())
    }

    async fn insert_session(&self, session: &Session) -> Result<()> {
        sqlx::query(INSERT_SESSION)
            .bind(&session.token_hash)
            .bind(session.user_id.to_string())
            .bind(ts(session.created_at))
            .bind(ts(session.expires_at))
            .bind(opt_ts(session.revoked_at))
            .bind(&session.user_agent)
            .bind(&session.address)
            .execute(&self.pool)
            .await
            .db(&format!("session of user {}", session.user_id))?;
        Ok(())
    }

    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>> {
        sqlx::query_as::<_, SessionRow>(GET_SESSION)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .db("session")?
            .map(Session::try_from)
            .transpose()
    }

    async fn revoke_session(&self, token_hash: &str, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(REVOKE_SESSION)
            .bind(ts(at))
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .db("session")?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_sessions(&self, user_id: UserId, at: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(REVOKE_USER_SESSIONS)
            .bind(ts(at))
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .db("session")?;
        Ok(done.rows_affected())
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(PURGE_SESSIONS)
            .bind(ts(before))
            .execute(&self.pool)
            .await
            .db("session")?;
        Ok(done.rows_affected())
    }
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    seq: i64,
    id: String,
    user_id: String,
    kind: String,
    title: String,
    message: String,
    platform: Option<String>,
    post_id: Option<String>,
    publication_id: Option<String>,
    connection_id: Option<String>,
    platform_post_id: Option<String>,
    url: Option<String>,
    created_at: String,
}

/// Parses an optional id column.
fn parse_opt<T: std::str::FromStr>(s: Option<&str>, column: &'static str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    s.map(|s| parse(s, column)).transpose()
}

impl TryFrom<NotificationRow> for StoredNotification {
    type Error = Error;
    fn try_from(row: NotificationRow) -> Result<Self> {
        Ok(StoredNotification {
            seq: row.seq,
            notification: Notification {
                id: parse(&row.id, "notifications.id")?,
                user_id: parse(&row.user_id, "notifications.user_id")?,
                kind: NotificationKind::parse(&row.kind)?,
                title: row.title,
                message: row.message,
                platform: parse_opt(row.platform.as_deref(), "notifications.platform")?,
                post_id: parse_opt(row.post_id.as_deref(), "notifications.post_id")?,
                publication_id: parse_opt(
                    row.publication_id.as_deref(),
                    "notifications.publication_id",
                )?,
                connection_id: parse_opt(
                    row.connection_id.as_deref(),
                    "notifications.connection_id",
                )?,
                platform_post_id: row.platform_post_id.map(PlatformPostId::new),
                url: row.url,
                created_at: parse_ts(&row.created_at, "notifications.created_at")?,
            },
        })
    }
}

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn insert_notification(&self, n: &Notification) -> Result<i64> {
        let what = format!("notification {}", n.id);
        let inserted = sqlx::query_scalar::<_, i64>(INSERT_NOTIFICATION)
            .bind(n.id.to_string())
            .bind(n.user_id.to_string())
            .bind(n.kind.as_str())
            .bind(&n.title)
            .bind(&n.message)
            .bind(n.platform.map(|p| p.as_str()))
            .bind(n.post_id.map(|id| id.to_string()))
            .bind(n.publication_id.map(|id| id.to_string()))
            .bind(n.connection_id.map(|id| id.to_string()))
            .bind(n.platform_post_id.as_ref().map(PlatformPostId::as_str))
            .bind(&n.url)
            .bind(ts(n.created_at))
            .fetch_optional(&self.pool)
            .await
            .db(&what)?;
        if let Some(seq) = inserted {
            return Ok(seq);
        }
        // The id is stored already (rows are never deleted): return its seq.
        sqlx::query_scalar::<_, i64>(NOTIFICATION_SEQ)
            .bind(n.id.to_string())
            .fetch_one(&self.pool)
            .await
            .db(&what)
    }

    async fn list_notifications(
        &self,
        user_id: UserId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredNotification>> {
        sqlx::query_as::<_, NotificationRow>(LIST_NOTIFICATIONS)
            .bind(user_id.to_string())
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .db("notification")?
            .into_iter()
            .map(StoredNotification::try_from)
            .collect()
    }

    async fn last_notification_seq(&self, user_id: UserId) -> Result<i64> {
        sqlx::query_scalar::<_, i64>(LAST_NOTIFICATION_SEQ)
            .bind(user_id.to_string())
            .fetch_one(&self.pool)
            .await
            .db("notification")
    }
}
