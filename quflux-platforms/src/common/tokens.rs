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
//! Every refresh takes the lock under its own holder id, so a lock left behind by a cancelled
//! caller of this very process is waited for like anyone else's. The holder renews the lock
//! before every attempt (and sends nothing once it lost it), so the lock always outlives the
//! request in flight. When the new pair is to be stored, the holder checks the row: if the stored
//! refresh token is no longer the one it spent (someone refreshed, the user reconnected, even
//! under its lock), it keeps what is stored, releases its lock and reloads.
//!
//! # Cancellation
//! The refresh runs in a detached task that the caller awaits: dropping the caller (a publish
//! timeout) cannot drop a rotated pair. Storing the pair always runs detached and keeps retrying
//! a failing store for [`TokenPolicy::persist_patience`]; the HTTP exchange runs detached too
//! when the refresher hands out an owned handle ([`TokenRefresher::shared`]).
//!
//! # States
//! - `active` with a valid token: used as is.
//! - `active`, expiring within the margin (or rejected by the platform): refreshed under the
//!   lock; the new pair is stored before it is returned.
//! - refresh refused (spent, revoked): `needs_reauth`, the owner notified once, but only if the
//!   stored refresh token is still the refused one (otherwise the new one is used). The stored
//!   tokens stay: nothing is wiped.
//! - refresh unavailable (network, 5xx): retried with backoff; if it still fails and the current
//!   token has not yet expired, the current token is used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::services::NotificationService;
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

    /// An owned handle on this refresher (e.g. `Some(Arc::new(self.clone()))`), so that the
    /// whole refresh, HTTP exchange included, runs in a detached task and a rotated pair
    /// survives the cancellation of the caller. `None` (the default): the exchange runs in the
    /// caller's task and only storing the pair is detached.
    fn shared(&self) -> Option<Arc<dyn TokenRefresher>> {
        None
    }
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
    /// How long a refresh lock is honoured if its holder dies. Renewed before every attempt,
    /// so it must exceed one attempt (the HTTP timeout, 30 s by default).
    pub lock_ttl: Duration,
    /// How often a waiter re-reads the connection.
    pub poll: Duration,
    /// Attempts of a refresh failing transiently.
    pub refresh_attempts: usize,
    /// How long a refreshed pair is kept in memory and offered again while the store fails.
    pub persist_patience: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(300),
            // Longer than one refresh attempt can take (HTTP timeout 30 s); renewed before
            // every attempt.
            lock_ttl: Duration::from_secs(120),
            poll: Duration::from_millis(20),
            refresh_attempts: 3,
            persist_patience: Duration::from_secs(600),
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
        apply(&*self.cipher, connection, tokens, now)
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
            .unwrap_or_else(|_| chrono::Duration::seconds(240));
        // This refresh's own lock holder id: a lock left by an earlier (cancelled) caller of
        // this process is someone else's.
        let holder = format!("{}/{}", self.holder, uuid::Uuid::new_v4());
        let mut reloads = 0;
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
                    // Compare-and-swap on the row judged here: a reconnect meanwhile is reloaded,
                    // not marked.
                    let mut marked = connection.clone();
                    marked.status = ConnectionStatus::NeedsReauth;
                    marked.updated_at = now;
                    match self.connections.update_connection(&marked).await {
                        Ok(version) => marked.version = version,
                        Err(e) if e.kind() == ErrorKind::Conflict => continue,
                        Err(e) => return Err(e),
                    }
                    self.notifications.connection_needs_reauth(&marked).await;
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
            if let Some((other, until)) = lock_of(&connection)
                && until > now
                && other != holder
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
            // Decrypted before the lock is taken: a failure here must not leave our lock behind.
            let spent = self.cipher.decrypt(&encrypted_refresh)?;
            // Take the lock with a compare-and-swap on the row.
            let mut locked = connection.clone();
            set_lock(&mut locked, Some((&holder, now + ttl(&self.policy))));
            match self.connections.update_connection(&locked).await {
                Ok(version) => locked.version = version,
                Err(e) if e.kind() == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
            let worker = Worker {
                connections: Arc::clone(&self.connections),
                cipher: Arc::clone(&self.cipher),
                notifications: self.notifications.clone(),
                clock: Arc::clone(&self.clock),
                policy: self.policy.clone(),
                holder: holder.clone(),
                id,
                service,
            };
            // Detached, so that cancelling the caller cannot lose a rotated pair.
            let task = if let Some(shared) = refresher.shared() {
                tokio::spawn(async move {
                    let called = worker.call(locked, &spent, &*shared).await;
                    worker.finish(called, spent).await
                })
            } else {
                let called = worker.call(locked, &spent, refresher).await;
                tokio::spawn(async move { worker.finish(called, spent).await })
            };
            let outcome = task.await.unwrap_or_else(|e| {
                Outcome::Failed(Error::other(
                    service,
                    format!("the token refresh task failed: {e}"),
                ))
            });
            match outcome {
                Outcome::Stored(credentials) => {
                    tracing::info!(connection = %id, platform = service, "token refreshed");
                    return Ok(*credentials);
                }
                Outcome::Reload => {
                    reloads += 1;
                    if reloads > 20 {
                        return Err(Error::transient(
                            service,
                            "the connection kept changing while its token was refreshed",
                        ));
                    }
                }
                Outcome::Refused(e) => return Err(e),
                Outcome::Failed(e) => {
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
}

fn ttl(policy: &TokenPolicy) -> chrono::Duration {
    chrono::Duration::from_std(policy.lock_ttl).unwrap_or_else(|_| chrono::Duration::seconds(120))
}

/// Encrypts `tokens` into `connection` (see [`TokenManager::apply_tokens`]).
fn apply(
    cipher: &dyn TokenCipher,
    connection: &mut PlatformConnection,
    tokens: &TokenSet,
    now: DateTime<Utc>,
) -> Result<()> {
    connection.access_token = cipher.encrypt(&tokens.access_token)?;
    if let Some(refresh) = &tokens.refresh_token {
        connection.refresh_token = Some(cipher.encrypt(refresh)?);
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

/// What the platform said to a refresh made under the lock.
enum Called {
    /// A new pair; the row as last locked.
    Tokens(Box<(TokenSet, PlatformConnection)>),
    /// The lock was lost (or the refresh token replaced) before an attempt: nothing was sent.
    Lost,
    /// The refresh failed.
    Failed(Error),
}

/// How a refresh ended.
enum Outcome {
    /// The new pair is stored.
    Stored(Box<Credentials>),
    /// The row changed under us (someone else refreshed, the user reconnected): decide again.
    Reload,
    /// The refresh token was refused; the connection is marked if it still holds that token.
    Refused(Error),
    /// The refresh failed otherwise; our lock is released.
    Failed(Error),
}

/// One refresh under the lock, owning everything it needs so that it can run detached.
#[derive(Clone)]
struct Worker {
    connections: Arc<dyn ConnectionStore>,
    cipher: Arc<dyn TokenCipher>,
    notifications: NotificationService,
    clock: Arc<dyn Clock>,
    policy: TokenPolicy,
    holder: String,
    id: ConnectionId,
    service: &'static str,
}

impl Worker {
    fn ours(&self, row: &PlatformConnection) -> bool {
        lock_of(row).is_some_and(|(holder, _)| holder == self.holder)
    }

    /// Whether the row still stores `spent` as its refresh token.
    fn holds(&self, row: &PlatformConnection, spent: &Secret<String>) -> bool {
        row.refresh_token
            .as_ref()
            .and_then(|t| self.cipher.decrypt(t).ok())
            .is_some_and(|t| t.expose() == spent.expose())
    }

    /// Calls the platform, retrying transient failures; renews the lock before each retry and
    /// sends nothing once the lock is lost.
    async fn call(
        &self,
        mut locked: PlatformConnection,
        spent: &Secret<String>,
        refresher: &dyn TokenRefresher,
    ) -> Called {
        let attempts = self.policy.refresh_attempts.max(1);
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match refresher.refresh_tokens(&locked, spent).await {
                Ok(tokens) => return Called::Tokens(Box::new((tokens, locked))),
                Err(e) if e.kind() == ErrorKind::Transient && attempt < attempts => {
                    tracing::debug!(connection = %self.id, platform = self.service, error = %e.detailed_message(), "token refresh failed; retrying");
                }
                Err(e) => return Called::Failed(e),
            }
            attempt += 1;
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
            match self.renew(locked, spent).await {
                Ok(Some(row)) => locked = row,
                Ok(None) => return Called::Lost,
                Err(e) => return Called::Failed(e),
            }
        }
    }

    /// Extends our lock by `lock_ttl` from now; `None` if it is no longer ours or the refresh
    /// token was replaced meanwhile.
    async fn renew(
        &self,
        mut row: PlatformConnection,
        spent: &Secret<String>,
    ) -> Result<Option<PlatformConnection>> {
        loop {
            if !self.ours(&row) || !self.holds(&row, spent) {
                return Ok(None);
            }
            let until = self.clock.now() + ttl(&self.policy);
            set_lock(&mut row, Some((&self.holder, until)));
            match self.connections.update_connection(&row).await {
                Ok(version) => {
                    row.version = version;
                    return Ok(Some(row));
                }
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    row = self.connections.get_connection(self.id).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn finish(&self, called: Called, spent: Secret<String>) -> Outcome {
        match called {
            Called::Tokens(called) => {
                let (tokens, locked) = *called;
                self.persist(locked, &tokens, &spent).await
            }
            Called::Lost => {
                tracing::warn!(connection = %self.id, platform = self.service, "the refresh lock was lost before an attempt; reloading");
                // The refresh token may have been replaced under our lock (a reconnect keeps
                // the row's metadata): the lock may still be ours.
                self.release().await;
                Outcome::Reload
            }
            Called::Failed(e) if e.kind() == ErrorKind::AuthExpired => {
                self.refused(e, &spent).await
            }
            Called::Failed(e) => {
                self.release().await;
                Outcome::Failed(e)
            }
        }
    }

    /// Stores the new pair, retrying on concurrent edits (by re-applying the tokens on the
    /// fresh row) and on store failures (for `persist_patience`, the pair kept in memory).
    /// Writes only while the row still holds the refresh token we spent (our pair is then the
    /// newest; lock or not, as a spent rotating token is dead); otherwise keeps what is stored.
    async fn persist(
        &self,
        locked: PlatformConnection,
        tokens: &TokenSet,
        spent: &Secret<String>,
    ) -> Outcome {
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        let mut row = Some(locked);
        loop {
            let failure = match row.take() {
                None => match self.connections.get_connection(self.id).await {
                    Ok(fresh) => {
                        row = Some(fresh);
                        continue;
                    }
                    Err(e) => e,
                },
                Some(current) => {
                    // A stored refresh token other than the one we spent is newer than our
                    // pair (refreshed elsewhere, or a reconnect, which keeps our lock).
                    if !self.holds(&current, spent)
                        || (!self.ours(&current)
                            && current.status == ConnectionStatus::Disconnected)
                    {
                        tracing::warn!(connection = %self.id, platform = self.service, "the connection changed while its token was refreshed (refreshed elsewhere, reconnected or disconnected); keeping the stored state");
                        self.release().await;
                        return Outcome::Reload;
                    }
                    let now = self.clock.now();
                    let mut next = current.clone();
                    if let Err(e) = apply(&*self.cipher, &mut next, tokens, now) {
                        self.release().await;
                        return Outcome::Failed(e);
                    }
                    if self.ours(&current) {
                        set_lock(&mut next, None);
                    }
                    // Marked by someone who presented the token we had already spent: our pair
                    // is valid.
                    if next.status == ConnectionStatus::NeedsReauth {
                        next.status = ConnectionStatus::Active;
                    }
                    next.updated_at = now;
                    match self.connections.update_connection(&next).await {
                        Ok(version) => {
                            next.version = version;
                            return Outcome::Stored(Box::new(Credentials {
                                access_token: tokens.access_token.clone(),
                                connection: next,
                            }));
                        }
                        Err(e) if e.kind() == ErrorKind::Conflict => continue,
                        Err(e) => {
                            row = Some(current);
                            e
                        }
                    }
                }
            };
            if started.elapsed() >= self.policy.persist_patience {
                tracing::error!(connection = %self.id, platform = self.service, error = %failure.detailed_message(), "could not store the refreshed token pair; it is lost");
                return Outcome::Failed(failure);
            }
            tracing::warn!(connection = %self.id, platform = self.service, error = %failure.detailed_message(), "could not store the refreshed token pair yet; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The platform refused `spent`: marks the connection `needs_reauth` (and notifies), but
    /// only if it still stores that refresh token; otherwise reloads.
    async fn refused(&self, error: Error, spent: &Secret<String>) -> Outcome {
        loop {
            let Ok(mut row) = self.connections.get_connection(self.id).await else {
                return Outcome::Refused(error);
            };
            let ours = self.ours(&row);
            let still = self.holds(&row, spent);
            if !still || row.status != ConnectionStatus::Active {
                if ours {
                    set_lock(&mut row, None);
                    match self.connections.update_connection(&row).await {
                        Err(e) if e.kind() == ErrorKind::Conflict => continue,
                        _ => {}
                    }
                }
                if still {
                    return Outcome::Refused(error);
                }
                tracing::info!(connection = %self.id, platform = self.service, "a refused refresh token was already replaced; using the new one");
                return Outcome::Reload;
            }
            tracing::warn!(connection = %self.id, platform = self.service, error = %error.detailed_message(), "refresh token refused; the connection needs re-authorization");
            if ours {
                set_lock(&mut row, None);
            }
            row.status = ConnectionStatus::NeedsReauth;
            row.updated_at = self.clock.now();
            match self.connections.update_connection(&row).await {
                Ok(version) => {
                    row.version = version;
                    self.notifications.connection_needs_reauth(&row).await;
                    return Outcome::Refused(error);
                }
                Err(e) if e.kind() == ErrorKind::Conflict => continue,
                Err(_) => return Outcome::Refused(error),
            }
        }
    }

    /// Clears our lock, if it is still ours.
    async fn release(&self) {
        for _ in 0..5 {
            let Ok(mut row) = self.connections.get_connection(self.id).await else {
                return;
            };
            if !self.ours(&row) {
                return;
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
