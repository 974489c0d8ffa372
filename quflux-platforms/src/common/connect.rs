//! Connecting accounts: the platform-neutral flow around each platform's [`Connector`].
//!
//! 1. [`ConnectionService::start`] asks the connector for an authorize URL (random `state`,
//!    PKCE S256 where the platform takes it) and keeps the pending authorization in the
//!    [`Cache`] for ten minutes, its PKCE verifier encrypted.
//! 2. [`ConnectionService::callback`] consumes the `state` (single use, and only by the user who
//!    started it), lets the connector exchange the code, and saves every account it returns.
//!    Password-based platforms (Bluesky app passwords) use [`ConnectionService::login`].
//! 3. Saving upserts by (user, platform, account id): a reconnect writes the new token pair
//!    over the old one in a single compare-and-swap, so a stored token is never wiped before
//!    its replacement is saved. The store keeps that triple unique: when a concurrent save of
//!    the same account inserted first, the insert is a conflict and the save updates that row
//!    instead (one row, no error).
//!
//! Limit: the [`Cache`] has no atomic take, so the `state` is consumed by a read then a
//! delete; two callbacks racing with the same `state` may both pass. The harm is bounded: the
//! platform accepts a code once, and both saves land on the same row.
//! 4. [`ConnectionService::refresh`] and [`ConnectionService::disconnect`] act on one owned
//!    connection; disconnecting revokes at the platform (best effort) and keeps the row.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    Cache, ConnectionId, ConnectionStatus, Error, ErrorKind, Platform, PlatformConnection, Result,
    Secret, UserId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::oauth::{AuthorizationRequest, TokenSet};
use super::tokens::{TokenManager, TokenRefresher};

/// Per-request options of an authorization.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthorizeOptions {
    /// The instance or PDS to connect to (Mastodon, Bluesky); `None` for the configured default.
    pub instance: Option<String>,
}

/// An account a connector authorized.
#[derive(Debug, Clone)]
pub struct ConnectedAccount {
    /// Its platform (a Meta login yields Facebook pages and Instagram accounts).
    pub platform: Platform,
    /// The account id on the platform.
    pub platform_user_id: String,
    /// Its handle or name.
    pub username: String,
    /// Its tokens.
    pub tokens: TokenSet,
    /// Non-secret extras (instance URL, page id, PDS endpoint, ...).
    pub metadata: serde_json::Value,
}

/// One platform's connection flow. Connectors are also the [`TokenRefresher`] of their
/// connections.
#[async_trait]
pub trait Connector: TokenRefresher {
    /// The platforms it connects.
    fn platforms(&self) -> Vec<Platform>;

    /// Starts an OAuth authorization. Returns the request and a context to hand back to
    /// [`complete`](Self::complete) (e.g. the Mastodon instance and its registered app id).
    /// Platforms without OAuth answer [`Error::Unsupported`].
    async fn authorize(
        &self,
        platform: Platform,
        options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, serde_json::Value)>;

    /// Completes an authorization with the callback's `code`.
    async fn complete(
        &self,
        platform: Platform,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
        context: &serde_json::Value,
    ) -> Result<Vec<ConnectedAccount>>;

    /// Logs in with an identifier and an app password (Bluesky).
    async fn login(
        &self,
        platform: Platform,
        identifier: &str,
        password: &Secret<String>,
        options: &AuthorizeOptions,
    ) -> Result<Vec<ConnectedAccount>> {
        let _ = (identifier, password, options);
        Err(Error::Unsupported {
            service: platform.as_str(),
            operation: "password login",
        })
    }

    /// Revokes the tokens at the platform.
    async fn revoke(
        &self,
        connection: &PlatformConnection,
        access_token: &Secret<String>,
        refresh_token: Option<&Secret<String>>,
    ) -> Result<()>;
}

/// What the user is sent to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionStart {
    /// The platform's authorize page.
    pub authorize_url: String,
    /// The `state` the callback must bring back.
    pub state: String,
    /// When the pending authorization expires.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    user_id: UserId,
    platform: Platform,
    verifier: Option<quflux_core::EncryptedToken>,
    context: serde_json::Value,
}

/// Connects, refreshes and disconnects accounts through the registered [`Connector`]s.
#[derive(Debug, Clone)]
pub struct ConnectionService {
    connectors: HashMap<Platform, Arc<dyn Connector>>,
    tokens: Arc<TokenManager>,
    cache: Arc<dyn Cache>,
    state_ttl: Duration,
}

impl ConnectionService {
    /// A service with no connector yet.
    pub fn new(tokens: Arc<TokenManager>, cache: Arc<dyn Cache>) -> Self {
        Self {
            connectors: HashMap::new(),
            tokens,
            cache,
            state_ttl: Duration::from_secs(600),
        }
    }

    /// Registers a connector for each of its platforms.
    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        for platform in connector.platforms() {
            self.connectors.insert(platform, Arc::clone(&connector));
        }
        self
    }

    /// The token manager.
    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// The connector of `platform`.
    pub fn connector(&self, platform: Platform) -> Result<&Arc<dyn Connector>> {
        self.connectors.get(&platform).ok_or_else(|| {
            Error::invalid_input(
                "platform",
                format!("{platform} is not configured on this server"),
            )
        })
    }

    /// Platforms with a connector.
    pub fn platforms(&self) -> Vec<Platform> {
        let mut out: Vec<_> = self.connectors.keys().copied().collect();
        out.sort();
        out
    }

    fn state_key(state: &str) -> String {
        format!("oauth_state:{state}")
    }

    /// Starts connecting `platform` for `user_id`.
    pub async fn start(
        &self,
        user_id: UserId,
        platform: Platform,
        options: &AuthorizeOptions,
    ) -> Result<ConnectionStart> {
        let connector = self.connector(platform)?;
        let (request, context) = connector.authorize(platform, options).await?;
        let verifier = request
            .pkce_verifier
            .as_ref()
            .map(|v| self.tokens.cipher().encrypt(v))
            .transpose()?;
        let pending = Pending {
            user_id,
            platform,
            verifier,
            context,
        };
        self.cache
            .set(
                &Self::state_key(&request.state),
                &serde_json::to_value(&pending).map_err(|e| Error::other("connections", e))?,
                Some(self.state_ttl),
            )
            .await?;
        let expires_at = self.tokens.clock().now()
            + chrono::Duration::from_std(self.state_ttl)
                .unwrap_or_else(|_| chrono::Duration::minutes(10));
        Ok(ConnectionStart {
            authorize_url: request.url,
            state: request.state,
            expires_at,
        })
    }

    /// Finishes the authorization `state` of `user_id` with the callback's `code`, or with the
    /// `error` the platform sent back (`access_denied`, ...).
    pub async fn callback(
        &self,
        user_id: UserId,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
    ) -> Result<Vec<PlatformConnection>> {
        let key = Self::state_key(state);
        let pending = self
            .cache
            .get(&key)
            .await?
            .and_then(|v| serde_json::from_value::<Pending>(v).ok())
            .filter(|p| p.user_id == user_id)
            .ok_or_else(|| {
                Error::invalid_input(
                    "state",
                    "unknown or expired authorization state; start connecting again",
                )
            })?;
        // Single use, whatever happens next.
        self.cache.delete(&key).await?;
        if let Some(error) = error {
            return Err(Error::invalid_input(
                "code",
                format!("{} refused the authorization: {error}", pending.platform),
            ));
        }
        let code = code
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| Error::invalid_input("code", "the callback carries no code"))?;
        let verifier = pending
            .verifier
            .as_ref()
            .map(|v| self.tokens.decrypt(v))
            .transpose()?;
        let connector = self.connector(pending.platform)?;
        let accounts = connector
            .complete(pending.platform, code, verifier.as_ref(), &pending.context)
            .await?;
        self.save(user_id, accounts).await
    }

    /// Connects with an identifier and app password (Bluesky).
    pub async fn login(
        &self,
        user_id: UserId,
        platform: Platform,
        identifier: &str,
        password: &Secret<String>,
        options: &AuthorizeOptions,
    ) -> Result<Vec<PlatformConnection>> {
        let accounts = self
            .connector(platform)?
            .login(platform, identifier, password, options)
            .await?;
        self.save(user_id, accounts).await
    }

    /// Saves authorized accounts: updates the user's existing connection of the same account
    /// (new tokens over old in one compare-and-swap), or inserts a new one.
    pub async fn save(
        &self,
        user_id: UserId,
        accounts: Vec<ConnectedAccount>,
    ) -> Result<Vec<PlatformConnection>> {
        let store = self.tokens.connections();
        let mut saved = Vec::with_capacity(accounts.len());
        for account in accounts {
            let mut races = 0;
            loop {
                let now = self.tokens.clock().now();
                let existing = store
                    .list_connections(user_id)
                    .await?
                    .into_iter()
                    .find(|c| {
                        c.platform == account.platform
                            && c.platform_user_id == account.platform_user_id
                    });
                match existing {
                    Some(mut c) => {
                        self.tokens.apply_tokens(&mut c, &account.tokens, now)?;
                        if account.tokens.refresh_token.is_none()
                            && account.tokens.expires_in.is_none()
                        {
                            // A non-expiring token replaces a refreshable one entirely.
                            c.refresh_token = None;
                        }
                        c.platform_username = account.username.clone();
                        merge(&mut c.metadata, &account.metadata);
                        c.status = ConnectionStatus::Active;
                        c.updated_at = now;
                        match store.update_connection(&c).await {
                            Ok(version) => {
                                c.version = version;
                                saved.push(c);
                                break;
                            }
                            Err(e) if e.kind() == ErrorKind::Conflict => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    None => {
                        let mut c = PlatformConnection {
                            id: ConnectionId::new(),
                            user_id,
                            platform: account.platform,
                            platform_user_id: account.platform_user_id.clone(),
                            platform_username: account.username.clone(),
                            access_token: self
                                .tokens
                                .cipher()
                                .encrypt(&account.tokens.access_token)?,
                            refresh_token: None,
                            expires_at: None,
                            scopes: Vec::new(),
                            status: ConnectionStatus::Active,
                            metadata: if account.metadata.is_object() {
                                account.metadata.clone()
                            } else {
                                json!({})
                            },
                            version: 1,
                            created_at: now,
                            updated_at: now,
                        };
                        self.tokens.apply_tokens(&mut c, &account.tokens, now)?;
                        match store.insert_connection(&c).await {
                            Ok(()) => {
                                saved.push(c);
                                break;
                            }
                            // A concurrent save of the same account inserted first (the store
                            // keeps (user, platform, account id) unique): write over its row.
                            Err(e) if e.kind() == ErrorKind::Conflict && races < 5 => {
                                races += 1;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        Ok(saved)
    }

    /// Loads a connection owned by `user_id` (another user's is not found).
    pub async fn owned(&self, user_id: UserId, id: ConnectionId) -> Result<PlatformConnection> {
        let c = self.tokens.connections().get_connection(id).await?;
        if c.user_id != user_id {
            return Err(Error::not_found(format!("connection {id}")));
        }
        Ok(c)
    }

    /// Refreshes the connection's token now.
    pub async fn refresh(&self, user_id: UserId, id: ConnectionId) -> Result<PlatformConnection> {
        let c = self.owned(user_id, id).await?;
        if c.refresh_token.is_none() {
            return Err(Error::Unsupported {
                service: c.platform.as_str(),
                operation: "refreshing a token that does not expire",
            });
        }
        let connector = self.connector(c.platform)?;
        Ok(self
            .tokens
            .force_refresh(id, connector.as_ref())
            .await?
            .connection)
    }

    /// Disconnects: revokes at the platform (a failure is logged, not fatal) and marks the
    /// connection `disconnected`. The encrypted tokens stay on the row.
    pub async fn disconnect(
        &self,
        user_id: UserId,
        id: ConnectionId,
    ) -> Result<PlatformConnection> {
        let c = self.owned(user_id, id).await?;
        if let Ok(connector) = self.connector(c.platform) {
            let access = self.tokens.decrypt(&c.access_token)?;
            let refresh = c
                .refresh_token
                .as_ref()
                .map(|t| self.tokens.decrypt(t))
                .transpose()?;
            if let Err(e) = connector.revoke(&c, &access, refresh.as_ref()).await {
                tracing::warn!(connection = %id, error = %e.detailed_message(), "token revocation failed; disconnecting anyway");
            }
        }
        let store = self.tokens.connections();
        loop {
            let mut c = store.get_connection(id).await?;
            c.status = ConnectionStatus::Disconnected;
            c.updated_at = self.tokens.clock().now();
            match store.update_connection(&c).await {
                Ok(version) => {
                    c.version = version;
                    return Ok(c);
                }
                Err(e) if e.kind() == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn merge(into: &mut serde_json::Value, from: &serde_json::Value) {
    if !into.is_object() {
        *into = json!({});
    }
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}
