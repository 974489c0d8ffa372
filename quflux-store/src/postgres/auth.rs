//! [`AuthStore`] and [`NotificationStore`].
//!
//! Notification seqs come from one sequence for the whole store, drawn while holding a
//! per-user transaction-scoped advisory lock (see [`INSERT_NOTIFICATION`]), so that one user's
//! seqs are in commit order and a reader tailing `seq > last seen` never skips a row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    AuthStore, ConnectionId, Error, Notification, NotificationId, NotificationKind,
    NotificationStore, PlatformPostId, PostId, PublicationId, Result, Session, StoredNotification,
    User, UserId,
};
use uuid::Uuid;

use super::PostgresStore;
use super::codec::{DbResultExt, opt_ts, parse, ts};
use super::users::insert_user_row;

const INSERT_CREDENTIALS: &str =
    "INSERT INTO user_credentials (user_id, password_hash, updated_at) VALUES ($1, $2, $3)";

/// One row if the user exists; `password_hash` is NULL when they have none.
const GET_PASSWORD_HASH: &str = "SELECT c.password_hash FROM users u \
    LEFT JOIN user_credentials c ON c.user_id = u.id WHERE u.id = $1";

/// Inserts or replaces the hash of an existing user; touches no row for an unknown user.
const SET_PASSWORD_HASH: &str = "INSERT INTO user_credentials (user_id, password_hash, updated_at) \
    SELECT id, $1, $2 FROM users WHERE id = $3 \
    ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
    updated_at = excluded.updated_at";

const INSERT_SESSION: &str = "INSERT INTO sessions \
    (token_hash, user_id, created_at, expires_at, revoked_at, user_agent, address) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

const GET_SESSION: &str = "SELECT token_hash, user_id, created_at, expires_at, revoked_at, \
    user_agent, address FROM sessions WHERE token_hash = $1";

const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL";

/// Revokes the user's live sessions: not revoked, expiring after `at`.
const REVOKE_USER_SESSIONS: &str = "UPDATE sessions SET revoked_at = $1 \
    WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1";

const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1";

/// First key of the notification advisory locks (`"qfno"`), so they cannot collide with
/// other two-key advisory locks; the second key is `hashtext(user_id::text)`. (sqlx's
/// migration lock uses the one-key form, a separate key space.)
const NOTIFICATION_LOCK_SPACE: i32 = 0x7166_6e6f;

/// Serialises one user's notification inserts until the transaction ends.
const LOCK_USER_NOTIFICATIONS: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2::text))";

/// Inserts a notification unless its id is stored; returns the new seq, or no row. Run after
/// [`LOCK_USER_NOTIFICATIONS`] in the same transaction: the seq is drawn under the user's
/// lock, so the user's seqs are handed out in commit order.
const INSERT_NOTIFICATION: &str = "INSERT INTO notifications \
    (seq, id, user_id, kind, title, message, platform, post_id, publication_id, connection_id, \
    platform_post_id, url, created_at) \
    VALUES (nextval('notifications_seq'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
    ON CONFLICT (id) DO NOTHING RETURNING seq";

const NOTIFICATION_SEQ: &str = "SELECT seq FROM notifications WHERE id = $1";

const LIST_NOTIFICATIONS: &str = "SELECT seq, id, user_id, kind, title, message, platform, \
    post_id, publication_id, connection_id, platform_post_id, url, created_at \
    FROM notifications WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

const LAST_NOTIFICATION_SEQ: &str =
    "SELECT COALESCE(MAX(seq), 0)::bigint FROM notifications WHERE user_id = $1";

#[derive(sqlx::FromRow)]
struct SessionRow {
    token_hash: String,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    user_agent: Option<String>,
    address: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            token_hash: row.token_hash,
            user_id: UserId::from_uuid(row.user_id),
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            user_agent: row.user_agent,
            address: row.address,
        }
    }
}

#[async_trait]
impl AuthStore for PostgresStore {
    async fn insert_user_with_password(&self, user: &User, password_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.db("user")?;
        insert_user_row(&mut *tx, user).await?;
        sqlx::query(INSERT_CREDENTIALS)
            .bind(user.id.as_uuid())
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
            .bind(user_id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .db("user credentials")?
            .ok_or_else(|| Error::not_found(format!("user {user_id}")))
    }

    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> Result<()> {
        let done = sqlx::query(SET_PASSWORD_HASH)
            .bind(password_hash)
            .bind(ts(self.clock.now()))
            .bind(user_id.as_uuid())
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
            .bind(session.user_id.as_uuid())
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
        Ok(sqlx::query_as::<_, SessionRow>(GET_SESSION)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .db("session")?
            .map(Session::from))
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
            .bind(user_id.as_uuid())
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
    id: Uuid,
    user_id: Uuid,
    kind: String,
    title: String,
    message: String,
    platform: Option<String>,
    post_id: Option<Uuid>,
    publication_id: Option<Uuid>,
    connection_id: Option<Uuid>,
    platform_post_id: Option<String>,
    url: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<NotificationRow> for StoredNotification {
    type Error = Error;
    fn try_from(row: NotificationRow) -> Result<Self> {
        Ok(StoredNotification {
            seq: row.seq,
            notification: Notification {
                id: NotificationId::from_uuid(row.id),
                user_id: UserId::from_uuid(row.user_id),
                kind: NotificationKind::parse(&row.kind)?,
                title: row.title,
                message: row.message,
                platform: row
                    .platform
                    .as_deref()
                    .map(|p| parse(p, "notifications.platform"))
                    .transpose()?,
                post_id: row.post_id.map(PostId::from_uuid),
                publication_id: row.publication_id.map(PublicationId::from_uuid),
                connection_id: row.connection_id.map(ConnectionId::from_uuid),
                platform_post_id: row.platform_post_id.map(PlatformPostId::new),
                url: row.url,
                created_at: row.created_at,
            },
        })
    }
}

#[async_trait]
impl NotificationStore for PostgresStore {
    async fn insert_notification(&self, n: &Notification) -> Result<i64> {
        let what = format!("notification {}", n.id);
        let mut tx = self.pool.begin().await.db(&what)?;
        sqlx::query(LOCK_USER_NOTIFICATIONS)
            .bind(NOTIFICATION_LOCK_SPACE)
            .bind(n.user_id.as_uuid())
            .execute(&mut *tx)
            .await
            .db(&what)?;
        let inserted = sqlx::query_scalar::<_, i64>(INSERT_NOTIFICATION)
            .bind(n.id.as_uuid())
            .bind(n.user_id.as_uuid())
            .bind(n.kind.as_str())
            .bind(&n.title)
            .bind(&n.message)
            .bind(n.platform.map(|p| p.as_str()))
            .bind(n.post_id.map(Uuid::from))
            .bind(n.publication_id.map(Uuid::from))
            .bind(n.connection_id.map(Uuid::from))
            .bind(n.platform_post_id.as_ref().map(PlatformPostId::as_str))
            .bind(&n.url)
            .bind(ts(n.created_at))
            .fetch_optional(&mut *tx)
            .await
            .db(&what)?;
        let seq = match inserted {
            Some(seq) => seq,
            // The id is stored already (rows are never deleted): return its seq.
            None => sqlx::query_scalar::<_, i64>(NOTIFICATION_SEQ)
                .bind(n.id.as_uuid())
                .fetch_one(&mut *tx)
                .await
                .db(&what)?,
        };
        tx.commit().await.db(&what)?;
        Ok(seq)
    }

    async fn list_notifications(
        &self,
        user_id: UserId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredNotification>> {
        sqlx::query_as::<_, NotificationRow>(LIST_NOTIFICATIONS)
            .bind(user_id.as_uuid())
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
            .bind(user_id.as_uuid())
            .fetch_one(&self.pool)
            .await
            .db("notification")
    }
}
