//! The token state machine: decrypt, refresh ahead of expiry, one refresh per connection at a
//! time across processes, persist before use, never wipe.
//!
//! # Lock
//! The refresh lock lives in the store, on the connection row itself: a holder writes
//! `metadata.refresh_lock = {"holder", "until"}` with the connection's compare-and-swap update
//! (`version`). Exactly one writer wins; the others reload and wait until the holder has stored
//! the new pair (or its lock expired, if it died). A rotating refresh token (X, Bluesky) is
//! therefore spent once, whatever the number of workers and processes. Within a process a
//! per-connection mutex keeps waiters from polling the store.
//!
//! # States
//! - `active` with a valid token: used as is.
//! - `active`, expiring within the margin (or rejected by the platform): refreshed under the
//!   lock; the new pair is stored before it is returned.
//! - refresh refused (spent, revoked): `needs_reauth`, the owner notified once
//!   ([`quflux_core::services::mark_needs_reauth`]). The stored tokens stay: nothing is wiped.
//! - refresh unavailable (network, 5xx): retried with backoff; if it still fails and the current
//!   token has not yet expired, the current token is used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use quflux_core::services::{NotificationService, mark_needs_reauth};
use quflux_core::{
    Clock, ConnectionId, ConnectionStatus, ConnectionStore, EncryptedToken, Error, ErrorKind,
    PlatformConnection, Result, Secret, TokenCipher,
};
use serde_json::json;

use super::oauth::TokenSet;

/// Metadata key of the store-level refresh lock.
pub const REFRESH_LOCK_KEY: &str = "refresh_lock";

/// Exchanges a refresh token for a new token pair (the platform-specific part).
#[async_trait]
pub trait TokenRefresher: Send + Sync + std::fmt::Debug {
    /// Calls the platform. A refused refresh token is [`Error::AuthExpired`]; an unreachable
    /// platform is [`Error::Transient`].
    async fn refresh_tokens(
        &self,
        connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet>;
}

/// A usable access token and the connection as stored when it was obtained.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The access token.
    pub access_token: Secret<String>,
    /// The connection (possibly refreshed, so with a newer version than the caller's copy).
    pub connection: PlatformConnection,
}

/// Tunables of the [`TokenManager`].
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Refresh when the token expires within this margin.
    pub refresh_margin: Duration,
    /// How long a refresh lock is honoured if its holder dies.
    pub lock_ttl: Duration,
    /// How often a waiter re-reads the connection.
    pub poll: Duration,
    /// Attempts of a refresh failing transiently.
    pub refresh_attempts: usize,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(300),
            lock_ttl: Duration::from_secs(30),
            poll: Duration::from_millis(20),
            refresh_attempts: 3,
        }
    }
}

/// Hands out access tokens, refreshing them as described in the [module docs](self).
pub struct TokenManager {
    connections: Arc<dyn ConnectionStore>,
    cipher: Arc<dyn TokenCipher>,
    notifications: NotificationService,
    clock: Arc<dyn Clock>,
    policy: TokenPolicy,
    holder: String,
    local: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("holder", &self.holder)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Refresh if expiring within the margin.
    AheadOfExpiry,
    /// The platform refused this access token: refresh unless it was already replaced.
    Rejected,
    /// Refresh whatever the expiry.
    Always,
}

impl TokenManager {
    /// A manager over `connections`, decrypting with `cipher` and telling users through
    /// `notifications` when a connection needs re-authorization.
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        cipher: Arc<dyn TokenCipher>,
        notifications: NotificationService,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            connections,
            cipher,
            notifications,
            clock,
            policy: TokenPolicy::default(),
            holder: uuid::Uuid::new_v4().to_string(),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the tunables.
    pub fn with_policy(mut self, policy: TokenPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The cipher tokens are encrypted with.
    pub fn cipher(&self) -> &Arc<dyn TokenCipher> {
        &self.cipher
    }

    /// The connection store.
    pub fn connections(&self) -> &Arc<dyn ConnectionStore> {
        &self.connections
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Decrypts a token.
    pub fn decrypt(&self, token: &EncryptedToken) -> Result<Secret<String>> {
        self.cipher.decrypt(token)
    }

    /// Writes a freshly obtained token set into `connection` (encrypted), keeping the stored
    /// refresh token when the platform did not issue a new one.
    pub fn apply_tokens(
        &self,
        connection: &mut PlatformConnection,
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> Result<()> {
        connection.access_token = self.cipher.encrypt(&tokens.access_token)?;
        if let Some(refresh) = &tokens.refresh_token {
            connection.refresh_token = Some(self.cipher.encrypt(refresh)?);
        }
        connection.expires_at = tokens
            .expires_in
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| now + d);
        if !tokens.scopes.is_empty() {
            connection.scopes = tokens.scopes.clone();
        }
        Ok(())
    }

    /// A usable access token for `connection`, refreshed first if it expires within the
    /// margin. The caller's copy may be stale: the stored row is what counts.
    pub async fn access_token(
        &self,
        connection: &PlatformConnection,
        refresher: &dyn TokenRefresher,
    ) -> Result<Credentials> {
        if let Some(c) = self.fast_path(connection)? {
            return Ok(c);
        }
        self.ensure(connection.id, refresher, Need::AheadOfExpiry, None)
            .await
    }

    /// After the platform refused `rejected` (HTTP 401 / `ExpiredToken`): refreshes, unless
    /// another worker already replaced that token, and returns the token to retry with.
    pub async fn after_rejection(
        &self,
        connection: &PlatformConnection,
        rejected: &Secret<String>,
        refresher: &dyn TokenRefresher,
    ) -> Result<Credentials> {
        self.ensure(connection.id, refresher, Need::Rejected, Some(rejected))
            .await
    }

    /// Refreshes now, whatever the expiry (the user pressed "refresh").
    pub async fn force_refresh(
        &self,
        id: ConnectionId,
        refresher: &dyn TokenRefresher,
    ) -> Result<Credentials> {
        self.ensure(id, refresher, Need::Always, None).await
    }

    /// Returns the caller's copy's token when it is clearly valid, without a store read.
    fn fast_path(&self, connection: &PlatformConnection) -> Result<Option<Credentials>> {
        if connection.status != ConnectionStatus::Active
            || self.expiring(connection, self.clock.now())
            || lock_of(connection).is_some()
        {
            return Ok(None);
        }
        Ok(Some(Credentials {
            access_token: self.cipher.decrypt(&connection.access_token)?,
            connection: connection.clone(),
        }))
    }

    fn expiring(&self, connection: &PlatformConnection, now: DateTime<Utc>) -> bool {
        let margin = chrono::Duration::from_std(self.policy.refresh_margin)
            .unwrap_or_else(|_| chrono::Duration::zero());
        connection.expires_at.is_some_and(|at| at - margin <= now)
    }

    fn local_lock(&self, id: ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(id).or_default())
    }

    async fn ensure(
        &self,
        id: ConnectionId,
        refresher: &dyn TokenRefresher,
        need: Need,
        rejected: Option<&Secret<String>>,
    ) -> Result<Credentials> {
        let local = self.local_lock(id);
        let _guard = local.lock().await;
        let started = self.clock.now();
        let max_wait = chrono::Duration::from_std(self.policy.lock_ttl * 2)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        loop {
            let now = self.clock.now();
            let connection = self.connections.get_connection(id).await?;
            let service = connection.platform.as_str();
            if connection.status != ConnectionStatus::Active {
                return Err(Error::AuthExpired {
                    service,
                    source: Some(
                        format!("the connection is {}", connection.status.as_str()).into(),
                    ),
                });
            }
            let access = self.cipher.decrypt(&connection.access_token)?;
            let must = match need {
                Need::AheadOfExpiry => self.expiring(&connection, now),
                Need::Rejected => rejected.is_some_and(|r| r.expose() == access.expose()),
                Need::Always => true,
            };
            if !must {
                return Ok(Credentials {
                    access_token: access,
                    connection,
                });
            }
            let Some(encrypted_refresh) = connection.refresh_token.clone() else {
                let expired = connection.expires_at.is_some_and(|at| at <= now);
                if need == Need::Rejected || expired {
                    mark_needs_reauth(&*self.connections, &self.notifications, &*self.clock, id)
                        .await?;
                    return Err(Error::AuthExpired {
                        service,
                        source: Some(
                            "the access token expired and there is no refresh token".into(),
                        ),
                    });
                }
                return Ok(Credentials {
                    access_token: access,
                    connection,
                });
            };
            if let Some((holder, until)) = lock_of(&connection)
                && until > now
                && holder != self.holder
            {
                if now - started > max_wait {
                    return Err(Error::transient(
                        service,
                        "another process has been refreshing this connection's token for too long",
                    ));
                }
                tokio::time::sleep(self.policy.poll).await;
                continue;
            }
            // Take the lock with a compare-and-swap on the row.
            let mut locked = connection.clone();
            let until = now
                + chrono::Duration::from_std(self.policy.lock_ttl)
                    .unwrap_or_else(|_| chrono::Duration::seconds(30));
            set_lock(&mut locked, Some((&self.holder, until)));
            match self.connections.update_connection(&locked).await {
                Ok(version) => locked.version = version,
                Err(e) if e.kind() == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
            let refresh = self.cipher.decrypt(&encrypted_refresh)?;
            let attempt = || async { refresher.refresh_tokens(&locked, &refresh).await };
            let result = attempt
                .retry(
                    ExponentialBuilder::default()
                        .with_min_delay(Duration::from_millis(200))
                        .with_max_delay(Duration::from_secs(2))
                        .with_max_times(self.policy.refresh_attempts.saturating_sub(1))
                        .with_jitter(),
                )
                .when(|e: &Error| e.kind() == ErrorKind::Transient)
                .await;
            match result {
                Ok(tokens) => {
                    let stored = self.persist(locked, &tokens).await?;
                    tracing::info!(connection = %id, platform = service, "token refreshed");
                    return Ok(Credentials {
                        access_token: tokens.access_token,
                        connection: stored,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AuthExpired => {
                    self.release(id).await;
                    tracing::warn!(connection = %id, platform = service, error = %e.detailed_message(), "refresh token refused; the connection needs re-authorization");
                    mark_needs_reauth(&*self.connections, &self.notifications, &*self.clock, id)
                        .await?;
                    return Err(e);
                }
                Err(e) => {
                    self.release(id).await;
                    let still_valid = connection.expires_at.is_none_or(|at| at > self.clock.now());
                    if need == Need::AheadOfExpiry && still_valid {
                        tracing::warn!(connection = %id, platform = service, error = %e.detailed_message(), "token refresh failed; using the current token until it expires");
                        return Ok(Credentials {
                            access_token: access,
                            connection,
                        });
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Stores the new pair and releases the lock. Retries on concurrent edits (metadata,
    /// status) by re-applying the tokens on the fresh row: the pair is persisted before use.
    async fn persist(
        &self,
        mut row: PlatformConnection,
        tokens: &TokenSet,
    ) -> Result<PlatformConnection> {
        let mut failures = 0;
        loop {
            let now = self.clock.now();
            self.apply_tokens(&mut row, tokens, now)?;
            set_lock(&mut row, None);
            row.updated_at = now;
            match self.connections.update_connection(&row).await {
                Ok(version) => {
                    row.version = version;
                    return Ok(row);
                }
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    row = self.connections.get_connection(row.id).await?;
                }
                Err(e) if failures < 5 => {
                    failures += 1;
                    tracing::warn!(connection = %row.id, error = %e.detailed_message(), "could not store the refreshed token yet; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << failures)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Clears our lock, if it is still ours.
    async fn release(&self, id: ConnectionId) {
        for _ in 0..5 {
            let Ok(mut row) = self.connections.get_connection(id).await else {
                return;
            };
            match lock_of(&row) {
                Some((holder, _)) if holder == self.holder => {}
                _ => return,
            }
            set_lock(&mut row, None);
            match self.connections.update_connection(&row).await {
                Err(e) if e.kind() == ErrorKind::Conflict => continue,
                _ => return,
            }
        }
    }
}

/// The refresh lock recorded on a connection: holder and expiry.
pub fn lock_of(connection: &PlatformConnection) -> Option<(String, DateTime<Utc>)> {
    let lock = connection.metadata.get(REFRESH_LOCK_KEY)?;
    let holder = lock.get("holder")?.as_str()?.to_owned();
    let until = DateTime::parse_from_rfc3339(lock.get("until")?.as_str()?).ok()?;
    Some((holder, until.with_timezone(&Utc)))
}

fn set_lock(connection: &mut PlatformConnection, lock: Option<(&str, DateTime<Utc>)>) {
    if !connection.metadata.is_object() {
        connection.metadata = json!({});
    }
    if let Some(map) = connection.metadata.as_object_mut() {
        match lock {
            Some((holder, until)) => {
                map.insert(
                    REFRESH_LOCK_KEY.to_owned(),
                    json!({"holder": holder, "until": until.to_rfc3339()}),
                );
            }
            None => {
                map.remove(REFRESH_LOCK_KEY);
            }
        }
    }
}
