//! [`UserStore`] and [`ConnectionStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    ConnectionId, ConnectionStatus, ConnectionStore, EncryptedToken, Error, Platform,
    PlatformConnection, Result, User, UserId, UserStore,
};
use sqlx::types::Json;
use uuid::Uuid;

use super::PostgresStore;
use super::codec::{DbResultExt, cas_miss, opt_ts, parse, ts};

/// The unique lookup key of an e-mail address. E-mails themselves are stored lowercased.
fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// `SELECT <every user column> FROM users <tail>`.
macro_rules! select_users {
    ($tail:literal) => {
        concat!("SELECT id, email, display_name, time_zone, is_active, created_at, updated_at FROM users ", $tail)
    };
}

const GET_USER: &str = select_users!("WHERE id = $1");
const FIND_USER_BY_EMAIL: &str = select_users!("WHERE email_key = $1");

const INSERT_USER: &str = "INSERT INTO users \
    (id, email, email_key, display_name, time_zone, is_active, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const UPDATE_USER: &str = "UPDATE users SET email = $1, email_key = $2, display_name = $3, time_zone = $4, \
    is_active = $5, updated_at = $6 WHERE id = $7";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    display_name: Option<String>,
    time_zone: String,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId::from_uuid(row.id),
            email: row.email,
            display_name: row.display_name,
            time_zone: row.time_zone,
            is_active: row.is_active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Inserts `user`'s row (`UserStore::insert_user`, and inside the credentials transaction of
/// `AuthStore::insert_user_with_password`).
pub(super) async fn insert_user_row(
    executor: impl sqlx::PgExecutor<'_>,
    user: &User,
) -> Result<()> {
    sqlx::query(INSERT_USER)
        .bind(user.id.as_uuid())
        .bind(user.email.to_lowercase())
        .bind(email_key(&user.email))
        .bind(&user.display_name)
        .bind(&user.time_zone)
        .bind(user.is_active)
        .bind(ts(user.created_at))
        .bind(ts(user.updated_at))
        .execute(executor)
        .await
        .db("user e-mail")?;
    Ok(())
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert_user(&self, user: &User) -> Result<()> {
        insert_user_row(&self.pool, user).await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        sqlx::query_as::<_, UserRow>(GET_USER)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .db("user")?
            .map(User::from)
            .ok_or_else(|| Error::not_found(format!("user {id}")))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        Ok(sqlx::query_as::<_, UserRow>(FIND_USER_BY_EMAIL)
            .bind(email_key(email))
            .fetch_optional(&self.pool)
            .await
            .db("user")?
            .map(User::from))
    }

    async fn update_user(&self, user: &User) -> Result<()> {
        let done = sqlx::query(UPDATE_USER)
            .bind(user.email.to_lowercase())
            .bind(email_key(&user.email))
            .bind(&user.display_name)
            .bind(&user.time_zone)
            .bind(user.is_active)
            .bind(ts(user.updated_at))
            .bind(user.id.as_uuid())
            .execute(&self.pool)
            .await
            .db("user e-mail")?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {}", user.id)));
        }
        Ok(())
    }
}

/// `SELECT <every connection column> FROM platform_connections <tail>`.
macro_rules! select_connections {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, platform, platform_user_id, platform_username, access_token, refresh_token, \
            expires_at, scopes, status, metadata, version, created_at, updated_at FROM platform_connections ",
            $tail
        )
    };
}

const GET_CONNECTION: &str = select_connections!("WHERE id = $1");
const LIST_CONNECTIONS: &str = select_connections!("WHERE user_id = $1 ORDER BY created_at, id");
const FIND_ACTIVE_CONNECTION: &str = select_connections!(
    "WHERE user_id = $1 AND platform = $2 AND status = 'active' ORDER BY created_at, id LIMIT 1"
);

const INSERT_CONNECTION: &str = "INSERT INTO platform_connections \
    (id, user_id, platform, platform_user_id, platform_username, access_token, refresh_token, expires_at, \
    scopes, status, metadata, version, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

const UPDATE_CONNECTION: &str = "UPDATE platform_connections SET platform = $1, platform_user_id = $2, \
    platform_username = $3, access_token = $4, refresh_token = $5, expires_at = $6, scopes = $7, status = $8, \
    metadata = $9, updated_at = $10, version = version + 1 \
    WHERE id = $11 AND version = $12 RETURNING version";

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    id: Uuid,
    user_id: Uuid,
    platform: String,
    platform_user_id: String,
    platform_username: String,
    access_token: Json<EncryptedToken>,
    refresh_token: Option<Json<EncryptedToken>>,
    expires_at: Option<DateTime<Utc>>,
    scopes: Vec<String>,
    status: String,
    metadata: serde_json::Value,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ConnectionRow> for PlatformConnection {
    type Error = Error;
    fn try_from(row: ConnectionRow) -> Result<Self> {
        Ok(PlatformConnection {
            id: ConnectionId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            platform: parse::<Platform>(&row.platform, "platform_connections.platform")?,
            platform_user_id: row.platform_user_id,
            platform_username: row.platform_username,
            access_token: row.access_token.0,
            refresh_token: row.refresh_token.map(|t| t.0),
            expires_at: row.expires_at,
            scopes: row.scopes,
            status: ConnectionStatus::parse(&row.status)?,
            metadata: row.metadata,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[async_trait]
impl ConnectionStore for PostgresStore {
    async fn insert_connection(&self, c: &PlatformConnection) -> Result<()> {
        sqlx::query(INSERT_CONNECTION)
            .bind(c.id.as_uuid())
            .bind(c.user_id.as_uuid())
            .bind(c.platform.as_str())
            .bind(&c.platform_user_id)
            .bind(&c.platform_username)
            .bind(Json(&c.access_token))
            .bind(c.refresh_token.as_ref().map(Json))
            .bind(opt_ts(c.expires_at))
            .bind(&c.scopes)
            .bind(c.status.as_str())
            .bind(&c.metadata)
            .bind(c.version)
            .bind(ts(c.created_at))
            .bind(ts(c.updated_at))
            .execute(&self.pool)
            .await
            .db(&format!("{} connection {}", c.platform, c.platform_user_id))?;
        Ok(())
    }

    async fn get_connection(&self, id: ConnectionId) -> Result<PlatformConnection> {
        sqlx::query_as::<_, ConnectionRow>(GET_CONNECTION)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .db("connection")?
            .ok_or_else(|| Error::not_found(format!("connection {id}")))?
            .try_into()
    }

    async fn update_connection(&self, c: &PlatformConnection) -> Result<i64> {
        let id = *c.id.as_uuid();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_CONNECTION)
            .bind(c.platform.as_str())
            .bind(&c.platform_user_id)
            .bind(&c.platform_username)
            .bind(Json(&c.access_token))
            .bind(c.refresh_token.as_ref().map(Json))
            .bind(opt_ts(c.expires_at))
            .bind(&c.scopes)
            .bind(c.status.as_str())
            .bind(&c.metadata)
            .bind(ts(c.updated_at))
            .bind(id)
            .bind(c.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("connection {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "platform_connections", id, "connection").await),
        }
    }

    async fn list_connections(&self, user_id: UserId) -> Result<Vec<PlatformConnection>> {
        sqlx::query_as::<_, ConnectionRow>(LIST_CONNECTIONS)
            .bind(user_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .db("connection")?
            .into_iter()
            .map(PlatformConnection::try_from)
            .collect()
    }

    async fn find_active_connection(
        &self,
        user_id: UserId,
        platform: Platform,
    ) -> Result<Option<PlatformConnection>> {
        sqlx::query_as::<_, ConnectionRow>(FIND_ACTIVE_CONNECTION)
            .bind(user_id.as_uuid())
            .bind(platform.as_str())
            .fetch_optional(&self.pool)
            .await
            .db("connection")?
            .map(PlatformConnection::try_from)
            .transpose()
    }
}
