//! Users and their platform connections.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ConnectionId, Platform, UserId};

/// A Quflux user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Unique e-mail address (compared case-insensitively by stores: store it lowercased).
    pub email: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Default IANA time zone for calendars, e.g. `Europe/Paris`.
    pub time_zone: String,
    /// Whether the user may sign in.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A new active user; the e-mail is trimmed and lowercased.
    pub fn new(email: &str, time_zone: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: UserId::new(),
            email: email.trim().to_lowercase(),
            display_name: None,
            time_zone: time_zone.to_owned(),
            is_active: true,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A login session. The token itself is never stored, only its SHA-256 hex digest.
///
/// A session is live while `revoked_at` is `None` and `expires_at` is in the future; stores keep
/// expired and revoked sessions until [`crate::AuthStore::purge_sessions`] deletes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// Lowercase hex SHA-256 of the opaque token handed to the client.
    pub token_hash: String,
    /// The signed-in user.
    pub user_id: UserId,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When the session stops being valid.
    pub expires_at: DateTime<Utc>,
    /// When the session was revoked (signed out), if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client's `User-Agent`, if known.
    pub user_agent: Option<String>,
    /// The client's IP address as text, if known.
    pub address: Option<String>,
}

impl Session {
    /// Whether the session is usable at `now`: not revoked and not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A token encrypted by a [`crate::TokenCipher`]. It never holds plain text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EncryptedToken {
    /// Id of the key that encrypted it (keys rotate).
    pub key_id: String,
    /// Nonce followed by ciphertext and tag, base64 (standard alphabet).
    pub ciphertext: String,
}

impl std::fmt::Debug for EncryptedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptedToken(key_id={:?}, ***)", self.key_id)
    }
}

/// The state of a connection's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Usable.
    Active,
    /// The token is dead; the user must connect again.
    NeedsReauth,
    /// The user disconnected it.
    Disconnected,
}

impl ConnectionStatus {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needs_reauth",
            Self::Disconnected => "disconnected",
        }
    }
    /// Parses [`ConnectionStatus::as_str`].
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "active" => Ok(Self::Active),
            "needs_reauth" => Ok(Self::NeedsReauth),
            "disconnected" => Ok(Self::Disconnected),
            other => Err(crate::Error::invalid_input(
                "status",
                format!("unknown connection status `{other}`"),
            )),
        }
    }
}

/// A user's authorized account on one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformConnection {
    /// Id.
    pub id: ConnectionId,
    /// Owner.
    pub user_id: UserId,
    /// Platform.
    pub platform: Platform,
    /// The account id on the platform (a DID, a numeric id, ...).
    pub platform_user_id: String,
    /// The account's handle.
    pub platform_username: String,
    /// Access token, encrypted at rest.
    pub access_token: EncryptedToken,
    /// Refresh token, encrypted at rest.
    pub refresh_token: Option<EncryptedToken>,
    /// When the access token expires, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Credential state.
    pub status: ConnectionStatus,
    /// Platform-specific extras (instance URL, page id, ...); never secrets.
    pub metadata: serde_json::Value,
    /// Optimistic-concurrency version, bumped by every update.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}
