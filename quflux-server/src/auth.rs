//! Accounts and sessions: argon2id password hashes, opaque bearer tokens stored as SHA-256
//! digests with an expiry and revocation, and login rate limits per account and address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use chrono::{DateTime, Utc};
use quflux_core::{AuthStore, Cache, Clock, Error, Session, User, UserId, UserStore};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::state::AppState;

/// Prefix of every session token.
pub const TOKEN_PREFIX: &str = "qfx_";

/// Settings of [`AuthService`].
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Session lifetime.
    pub session_ttl: Duration,
    /// How long a checked session is trusted without asking the store.
    pub session_cache: Duration,
    /// Failed logins per (account, address) per window.
    pub max_failures: u32,
    /// Login attempts per address per window.
    pub max_attempts_per_address: u32,
    /// Rate-limit window.
    pub window: Duration,
    /// Time zone of new users.
    pub default_time_zone: String,
}

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user.
    pub user: User,
    /// Digest of the session token (what logout revokes).
    pub token_hash: String,
}

impl AuthUser {
    /// The user's id.
    pub fn id(&self) -> UserId {
        self.user.id
    }
}

/// A new session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedSession {
    /// The bearer token: send it as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user: UserView,
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    /// E-mail address (lower case).
    pub email: String,
    /// Display name.
    pub display_name: Option<String>,
    /// IANA time zone used for calendars.
    pub time_zone: String,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            time_zone: u.time_zone.clone(),
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Window {
    count: u32,
    started: DateTime<Utc>,
}

/// A checked session: its user, its expiry, and when it was checked.
type CachedSession = (User, DateTime<Utc>, Instant);

/// Registration, login, logout and session checks.
#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserStore>,
    auth: Arc<dyn AuthStore>,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    config: AuthConfig,
    hashing: Arc<Semaphore>,
    sessions: Arc<Mutex<HashMap<String, CachedSession>>>,
    dummy_hash: Arc<String>,
    #[cfg(feature = "supabase")]
    supabase: Option<crate::supabase::SupabaseVerifier>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::other("auth", e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::other("auth", e.to_string()))
}

fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// SHA-256 hex digest of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Checks an e-mail address's shape (the server sends no confirmation mail).
fn check_email(email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if ok {
        Ok(e)
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_INPUT",
            "email: not a valid e-mail address",
        )
        .with_details(json!({ "field": "email" })))
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(8..=256).contains(&n) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_INPUT",
            "password: must be 8 to 256 characters",
        )
        .with_details(json!({ "field": "password" })));
    }
    Ok(())
}

impl AuthService {
    /// A service over these stores.
    pub fn new(
        users: Arc<dyn UserStore>,
        auth: Arc<dyn AuthStore>,
        cache: Arc<dyn Cache>,
        clock: Arc<dyn Clock>,
        config: AuthConfig,
    ) -> Result<Self, Error> {
        Ok(Self {
            users,
            auth,
            cache,
            clock,
            config,
            hashing: Arc::new(Semaphore::new(2)),
            sessions: Arc::new(Mutex::new(HashMap::new())),
            dummy_hash: Arc::new(hash_password("quflux-timing-equaliser")?),
            #[cfg(feature = "supabase")]
            supabase: None,
        })
    }

    /// Also accepts Supabase Auth access tokens checked by `verifier`.
    #[cfg(feature = "supabase")]
    pub fn with_supabase(mut self, verifier: Option<crate::supabase::SupabaseVerifier>) -> Self {
        self.supabase = verifier;
        self
    }

    /// The Quflux user of a valid Supabase token, created on first use.
    #[cfg(feature = "supabase")]
    async fn supabase_user(&self, token: &str) -> Result<Option<AuthUser>, ApiError> {
        let Some(verifier) = &self.supabase else {
            return Ok(None);
        };
        let Some(claims) = verifier.verify(token) else {
            return Ok(None);
        };
        let Some(email) = claims.email.as_deref().map(|e| e.trim().to_lowercase()) else {
            return Ok(None);
        };
        let user = match self.users.find_user_by_email(&email).await? {
            Some(u) => u,
            None => {
                let user = User::new(&email, &self.config.default_time_zone, self.clock.now());
                match self.users.insert_user(&user).await {
                    Ok(()) => {
                        tracing::info!(user_id = %user.id, "user created from a Supabase token");
                        user
                    }
                    // Created meanwhile by a concurrent request.
                    Err(Error::Conflict { .. }) => self
                        .users
                        .find_user_by_email(&email)
                        .await?
                        .ok_or_else(|| ApiError::from(Error::other("auth", "user vanished")))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if !user.is_active {
            return Ok(None);
        }
        Ok(Some(AuthUser {
            user,
            token_hash: token_hash(token),
        }))
    }

    async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| ApiError::from(Error::other("auth", e)))?;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| ApiError::from(Error::other("auth", e)))?
            .map_err(ApiError::from)
    }

    async fn verify(&self, password: String, hash: String) -> Result<bool, ApiError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| ApiError::from(Error::other("auth", e)))?;
        tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| ApiError::from(Error::other("auth", e)))
    }

    /// Registers a user and signs them in.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: Option<String>,
        time_zone: Option<String>,
        user_agent: Option<String>,
        address: Option<IpAddr>,
    ) -> Result<IssuedSession, ApiError> {
        let email = check_email(email)?;
        check_password(password)?;
        let tz = time_zone.unwrap_or_else(|| self.config.default_time_zone.clone());
        if tz.parse::<chrono_tz::Tz>().is_err() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_INPUT",
                format!("time_zone: `{tz}` is not an IANA time zone"),
            )
            .with_details(json!({ "field": "time_zone" })));
        }
        if let Some(name) = &display_name
            && name.chars().count() > 100
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_INPUT",
                "display_name: at most 100 characters",
            )
            .with_details(json!({ "field": "display_name" })));
        }
        let hash = self.hash(password.to_owned()).await?;
        let mut user = User::new(&email, &tz, self.clock.now());
        user.display_name = display_name.filter(|n| !n.trim().is_empty());
        match self.auth.insert_user_with_password(&user, &hash).await {
            Ok(()) => {}
            Err(Error::Conflict { .. }) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "EMAIL_TAKEN",
                    "an account with this e-mail address exists",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_id = %user.id, "user registered");
        self.issue(&user, user_agent, address).await
    }

    async fn issue(
        &self,
        user: &User,
        user_agent: Option<String>,
        address: Option<IpAddr>,
    ) -> Result<IssuedSession, ApiError> {
        let token = new_token();
        let now = self.clock.now();
        let expires_at = now
            + chrono::Duration::from_std(self.config.session_ttl)
                .unwrap_or_else(|_| chrono::Duration::days(30));
        let session = Session {
            token_hash: token_hash(&token),
            user_id: user.id,
            created_at: now,
            expires_at,
            revoked_at: None,
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            address: address.map(|a| a.to_string()),
        };
        self.auth.insert_session(&session).await?;
        Ok(IssuedSession {
            token,
            expires_at,
            user: UserView::from(user),
        })
    }

    async fn bump(&self, key: &str) -> Result<u32, ApiError> {
        let now = self.clock.now();
        let window = chrono::Duration::from_std(self.config.window)
            .unwrap_or_else(|_| chrono::Duration::minutes(15));
        let mut w: Window = match self.cache.get(key).await? {
            Some(v) => serde_json::from_value(v).unwrap_or(Window {
                count: 0,
                started: now,
            }),
            None => Window {
                count: 0,
                started: now,
            },
        };
        if now - w.started >= window {
            w = Window {
                count: 0,
                started: now,
            };
        }
        w.count += 1;
        let left = (w.started + window - now)
            .to_std()
            .unwrap_or(self.config.window);
        self.cache
            .set(
                key,
                &serde_json::to_value(&w).map_err(|e| ApiError::from(Error::other("auth", e)))?,
                Some(left),
            )
            .await?;
        Ok(w.count)
    }

    async fn count(&self, key: &str) -> Result<(u32, Duration), ApiError> {
        let now = self.clock.now();
        let window = chrono::Duration::from_std(self.config.window)
            .unwrap_or_else(|_| chrono::Duration::minutes(15));
        Ok(match self.cache.get(key).await? {
            Some(v) => match serde_json::from_value::<Window>(v) {
                Ok(w) if now - w.started < window => (
                    w.count,
                    (w.started + window - now).to_std().unwrap_or_default(),
                ),
                _ => (0, Duration::ZERO),
            },
            None => (0, Duration::ZERO),
        })
    }

    fn limited(retry: Duration) -> ApiError {
        // Whole seconds, rounded up: a client that waits `Retry-After` is past the window.
        let secs = (retry.as_secs() + u64::from(retry.subsec_nanos() > 0)).max(1);
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many login attempts; try again later",
        )
        .with_details(json!({ "retry_after": secs }))
        .with_retry_after(Duration::from_secs(secs))
    }

    /// Signs a user in. Failures are rate-limited per (account, address) and attempts per
    /// address; a limited caller gets 429 with `Retry-After` before the password is checked.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        user_agent: Option<String>,
        address: Option<IpAddr>,
    ) -> Result<IssuedSession, ApiError> {
        let email = email.trim().to_lowercase();
        let addr = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        let pair_key = format!("login_fail:{}:{addr}", token_hash(&email));
        let addr_key = format!("login_addr:{addr}");
        let (failures, retry) = self.count(&pair_key).await?;
        if failures >= self.config.max_failures {
            tracing::warn!(%addr, "login refused: too many failures for this account");
            return Err(Self::limited(retry));
        }
        let attempts = self.bump(&addr_key).await?;
        if attempts > self.config.max_attempts_per_address {
            let (_, retry) = self.count(&addr_key).await?;
            tracing::warn!(%addr, "login refused: too many attempts from this address");
            return Err(Self::limited(retry));
        }
        let user = self.users.find_user_by_email(&email).await?;
        let hash = match &user {
            Some(u) => self.auth.get_password_hash(u.id).await?,
            None => None,
        };
        let ok = match (&user, hash) {
            (Some(u), Some(h)) if u.is_active => self.verify(password.to_owned(), h).await?,
            _ => {
                // Same work for unknown accounts, so timing does not reveal which exist.
                let _ = self
                    .verify(password.to_owned(), self.dummy_hash.as_ref().clone())
                    .await?;
                false
            }
        };
        match user {
            Some(u) if ok => {
                let _ = self.cache.delete(&pair_key).await;
                tracing::info!(user_id = %u.id, "login");
                self.issue(&u, user_agent, address).await
            }
            _ => {
                self.bump(&pair_key).await?;
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_CREDENTIALS",
                    "wrong e-mail address or password",
                ))
            }
        }
    }

    /// Revokes a session.
    pub async fn logout(&self, token_hash: &str) -> Result<(), ApiError> {
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(token_hash);
        }
        self.auth
            .revoke_session(token_hash, self.clock.now())
            .await?;
        Ok(())
    }

    /// The user behind a bearer token.
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser, ApiError> {
        let invalid =
            || ApiError::unauthenticated("the session token is invalid, expired or revoked");
        #[cfg(feature = "supabase")]
        if !token.starts_with(TOKEN_PREFIX) && token.len() <= 8192 {
            return self.supabase_user(token).await?.ok_or_else(invalid);
        }
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(invalid());
        }
        let hash = token_hash(token);
        let now = self.clock.now();
        if !self.config.session_cache.is_zero()
            && let Ok(m) = self.sessions.lock()
            && let Some((user, expires_at, checked)) = m.get(&hash)
            && checked.elapsed() < self.config.session_cache
            && *expires_at > now
        {
            return Ok(AuthUser {
                user: user.clone(),
                token_hash: hash,
            });
        }
        let session = self.auth.get_session(&hash).await?.ok_or_else(invalid)?;
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(invalid());
        }
        let user = match self.users.get_user(session.user_id).await {
            Ok(u) if u.is_active => u,
            Ok(_) | Err(Error::NotFound { .. }) => return Err(invalid()),
            Err(e) => return Err(e.into()),
        };
        if !self.config.session_cache.is_zero()
            && let Ok(mut m) = self.sessions.lock()
        {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(
                hash.clone(),
                (user.clone(), session.expires_at, Instant::now()),
            );
        }
        Ok(AuthUser {
            user,
            token_hash: hash,
        })
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::unauthenticated("sign in and send `Authorization: Bearer <token>`")
        })?;
        let user = state.auth.authenticate(token).await?;
        tracing::Span::current().record("user_id", tracing::field::display(user.id()));
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(check_email(" A@Example.COM ").unwrap(), "a@example.com");
        for bad in ["", "a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@b.", "a@b@c.d"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
