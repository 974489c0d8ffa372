//! [`UserStore`] and [`ConnectionStore`].

use async_trait::async_trait;
use quflux_core::{
    ConnectionId, ConnectionStatus, ConnectionStore, EncryptedToken, Error, Platform,
    PlatformConnection, Result, User, UserId, UserStore,
};

use super::SqliteStore;
use super::codec::{
    DbResultExt, cas_miss, from_json, opt_ts, parse, parse_opt_ts, parse_ts, to_json, ts,
};

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

const GET_USER: &str = select_users!("WHERE id = ?");
const FIND_USER_BY_EMAIL: &str = select_users!("WHERE email_key = ?");

const INSERT_USER: &str = "INSERT INTO users \
    (id, email, email_key, display_name, time_zone, is_active, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_USER: &str = "UPDATE users SET email = ?, email_key = ?, display_name = ?, time_zone = ?, \
    is_active = ?, updated_at = ? WHERE id = ?";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    display_name: Option<String>,
    time_zone: String,
    is_active: bool,
    created_at: String,
    updated_at: String,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            id: parse(&row.id, "users.id")?,
            email: row.email,
            display_name: row.display_name,
            time_zone: row.time_zone,
            is_active: row.is_active,
            created_at: parse_ts(&row.created_at, "users.created_at")?,
            updated_at: parse_ts(&row.updated_at, "users.updated_at")?,
        })
    }
}

/// Inserts `user`'s row (`UserStore::insert_user`, and inside the credentials transaction of
/// `AuthStore::insert_user_with_password`).
pub(super) async fn insert_user_row(
    executor: impl sqlx::SqliteExecutor<'_>,
    user: &User,
) -> Result<()> {
    sqlx::query(INSERT_USER)
        .bind(user.id.to_string())
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
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<()> {
        insert_user_row(&self.pool, user).await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        sqlx::query_as::<_, UserRow>(GET_USER)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("user")?
            .ok_or_else(|| Error::not_found(format!("user {id}")))?
            .try_into()
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        sqlx::query_as::<_, UserRow>(FIND_USER_BY_EMAIL)
            .bind(email_key(email))
            .fetch_optional(&self.pool)
            .await
            .db("user")?
            .map(User::try_from)
            .transpose()
    }

    async fn update_user(&self, user: &User) -> Result<()> {
        let done = sqlx::query(UPDATE_USER)
            .bind(user.email.to_lowercase())
            .bind(email_key(&user.email))
            .bind(&user.display_name)
            .bind(&user.time_zone)
            .bind(user.is_active)
            .bind(ts(user.updated_at))
            .bind(user.id.to_string())
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

const GET_CONNECTION: &str = select_connections!("WHERE id = ?");
const LIST_CONNECTIONS: &str = select_connections!("WHERE user_id = ? ORDER BY created_at, id");
const FIND_ACTIVE_CONNECTION: &str = select_connections!(
    "WHERE user_id = ? AND platform = ? AND status = 'active' ORDER BY created_at, id LIMIT 1"
);

const INSERT_CONNECTION: &str = "INSERT INTO platform_connections \
    (id, user_id, platform, platform_user_id, platform_username, access_token, refresh_token, expires_at, \
    scopes, status, metadata, version, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_CONNECTION: &str = "UPDATE platform_connections SET platform = ?, platform_user_id = ?, platform_username = ?, \
    access_token = ?, refresh_token = ?, expires_at = ?, scopes = ?, status = ?, metadata = ?, updated_at = ?, \
    version = version + 1 \
    WHERE id = ? AND version = ? RETURNING version";

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    id: String,
    user_id: String,
    platform: String,
    platform_user_id: String,
    platform_username: String,
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<String>,
    scopes: String,
    status: String,
    metadata: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

impl TryFrom<ConnectionRow> for PlatformConnection {
    type Error = Error;
    fn try_from(row: ConnectionRow) -> Result<Self> {
        Ok(PlatformConnection {
            id: parse(&row.id, "platform_connections.id")?,
            user_id: parse(&row.user_id, "platform_connections.user_id")?,
            platform: parse::<Platform>(&row.platform, "platform_connections.platform")?,
            platform_user_id: row.platform_user_id,
            platform_username: row.platform_username,
            access_token: from_json::<EncryptedToken>(
                &row.access_token,
                "platform_connections.access_token",
            )?,
            refresh_token: row
                .refresh_token
                .as_deref()
                .map(|t| from_json::<EncryptedToken>(t, "platform_connections.refresh_token"))
                .transpose()?,
            expires_at: parse_opt_ts(row.expires_at.as_deref(), "platform_connections.expires_at")?,
            scopes: from_json(&row.scopes, "platform_connections.scopes")?,
            status: ConnectionStatus::parse(&row.status)?,
            metadata: from_json(&row.metadata, "platform_connections.metadata")?,
            version: row.version,
            created_at: parse_ts(&row.created_at, "platform_connections.created_at")?,
            updated_at: parse_ts(&row.updated_at, "platform_connections.updated_at")?,
        })
    }
}

fn refresh_token_json(connection: &PlatformConnection) -> Result<Option<String>> {
    connection
        .refresh_token
        .as_ref()
        .map(|t| to_json(t, "refresh_token"))
        .transpose()
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn insert_connection(&self, c: &PlatformConnection) -> Result<()> {
        sqlx::query(INSERT_CONNECTION)
            .bind(c.id.to_string())
            .bind(c.user_id.to_string())
            .bind(c.platform.as_str())
            .bind(&c.platform_user_id)
            .bind(&c.platform_username)
            .bind(to_json(&c.access_token, "access_token")?)
            .bind(refresh_token_json(c)?)
            .bind(opt_ts(c.expires_at))
            .bind(to_json(&c.scopes, "scopes")?)
            .bind(c.status.as_str())
            .bind(to_json(&c.metadata, "metadata")?)
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
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("connection")?
            .ok_or_else(|| Error::not_found(format!("connection {id}")))?
            .try_into()
    }

    async fn update_connection(&self, c: &PlatformConnection) -> Result<i64> {
        let id = c.id.to_string();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_CONNECTION)
            .bind(c.platform.as_str())
            .bind(&c.platform_user_id)
            .bind(&c.platform_username)
            .bind(to_json(&c.access_token, "access_token")?)
            .bind(refresh_token_json(c)?)
            .bind(opt_ts(c.expires_at))
            .bind(to_json(&c.scopes, "scopes")?)
            .bind(c.status.as_str())
            .bind(to_json(&c.metadata, "metadata")?)
            .bind(ts(c.updated_at))
            .bind(&id)
            .bind(c.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("connection {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "platform_connections", &id, "connection").await),
        }
    }

    async fn list_connections(&self, user_id: UserId) -> Result<Vec<PlatformConnection>> {
        sqlx::query_as::<_, ConnectionRow>(LIST_CONNECTIONS)
            .bind(user_id.to_string())
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
            .bind(user_id.to_string())
            .bind(platform.as_str())
            .fetch_optional(&self.pool)
            .await
            .db("connection")?
            .map(PlatformConnection::try_from)
            .transpose()
    }
}
