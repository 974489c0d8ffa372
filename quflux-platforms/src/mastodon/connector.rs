//! App registration per instance, OAuth (code + PKCE S256), identity and revocation.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::{
    Cache, EncryptedToken, Error, Platform, PlatformConnection, Result, Secret, TokenCipher,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::call;
use super::config::{MastodonConfig, normalize_instance};
use super::wire::{Account, RegisterApp, RegisteredApp};
use super::{PLATFORM, instance_of};
use crate::common::http::join;
use crate::common::oauth::{AuthorizationRequest, ClientAuth, OAuthApp, TokenSet};
use crate::common::{AuthorizeOptions, ConnectedAccount, Connector, Idempotency, TokenRefresher};

/// An application registered on one instance, as kept in the cache (secret encrypted).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredApp {
    client_id: String,
    client_secret: EncryptedToken,
    redirect_url: String,
    scopes: Vec<String>,
}

/// Connects Mastodon accounts on any instance.
///
/// The application is registered once per instance (`POST /api/v1/apps`) and kept in the
/// shared [`Cache`] with its client secret encrypted by the token cipher; later connections
/// to the same instance reuse it. Tokens never expire (no refresh:
/// [`TokenRefresher::refresh_tokens`] answers [`Error::AuthExpired`]).
pub struct MastodonConnector {
    config: MastodonConfig,
    http: reqwest::Client,
    cache: Arc<dyn Cache>,
    cipher: Arc<dyn TokenCipher>,
    registering: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for MastodonConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MastodonConnector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MastodonConnector {
    /// A connector keeping app registrations in `cache`, their secrets encrypted with
    /// `cipher` (pass the [`TokenManager`](crate::common::TokenManager)'s cipher).
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(
        config: MastodonConfig,
        cache: Arc<dyn Cache>,
        cipher: Arc<dyn TokenCipher>,
    ) -> Result<Self> {
        Ok(Self {
            http: config.http.client()?,
            config,
            cache,
            cipher,
            registering: tokio::sync::Mutex::new(()),
        })
    }

    fn app_key(instance: &str) -> String {
        format!("mastodon:app:{instance}")
    }

    /// The key of one registered application: several can exist for an instance when two
    /// processes registered at once, and each keeps serving the tokens it issued.
    fn app_id_key(instance: &str, client_id: &str) -> String {
        format!("mastodon:app:{instance}#{client_id}")
    }

    /// The OAuth application of `instance` (normalized), registering it on first use.
    ///
    /// # Errors
    /// [`Error::Transient`] when the instance is unreachable; the classified error when it
    /// refuses the registration.
    pub async fn app(&self, instance: &str) -> Result<OAuthApp> {
        let instance = normalize_instance(instance)?;
        let stored = self.stored_app(&instance).await?;
        self.oauth_app(&instance, &stored)
    }

    /// The application of `instance` (normalized) as stored, registering it on first use.
    ///
    /// Another process may register at the same time and overwrite the instance's entry:
    /// each authorization keeps the application it started with in its context, and every
    /// application stays stored under its `client_id`, so nothing in flight breaks.
    async fn stored_app(&self, instance: &str) -> Result<StoredApp> {
        if let Some(stored) = self.cached_stored(instance).await? {
            return Ok(stored);
        }
        // One registration at a time in this process; others reuse its result.
        let _guard = self.registering.lock().await;
        if let Some(stored) = self.cached_stored(instance).await? {
            return Ok(stored);
        }
        let scopes = self.config.scopes.join(" ");
        let request = self
            .http
            .post(join(instance, "/api/v1/apps"))
            .json(&RegisterApp {
                client_name: &self.config.client_name,
                redirect_uris: vec![self.config.redirect_url.as_str()],
                scopes,
                website: self.config.website.as_deref(),
            });
        // A lost answer leaves at most an unused application behind. The answer holds the
        // client secret: an unreadable one is reported without its body.
        let registered: RegisteredApp = call(Idempotency::Safe, request)
            .await?
            .success(Utc::now())?
            .json_secret()?;
        let stored = StoredApp {
            client_id: registered.client_id,
            client_secret: self
                .cipher
                .encrypt(&Secret::new(registered.client_secret))?,
            redirect_url: self.config.redirect_url.clone(),
            scopes: self.config.scopes.clone(),
        };
        let value = serde_json::to_value(&stored).map_err(|e| Error::other(PLATFORM, e))?;
        self.cache
            .set(&Self::app_id_key(instance, &stored.client_id), &value, None)
            .await?;
        self.cache
            .set(&Self::app_key(instance), &value, None)
            .await?;
        tracing::info!(instance = %instance, "registered the Mastodon application");
        Ok(stored)
    }

    /// The instance's current application, if one fits this connector's callback and scopes.
    async fn cached_stored(&self, instance: &str) -> Result<Option<StoredApp>> {
        let Some(value) = self.cache.get(&Self::app_key(instance)).await? else {
            return Ok(None);
        };
        let Ok(stored) = serde_json::from_value::<StoredApp>(value) else {
            return Ok(None);
        };
        // A registration for another callback or other scopes cannot serve this one.
        if stored.redirect_url != self.config.redirect_url || stored.scopes != self.config.scopes {
            return Ok(None);
        }
        Ok(Some(stored))
    }

    /// The application `client_id` of `instance`: stored under its id, else the instance's
    /// current one if it is that application.
    async fn app_by_id(&self, instance: &str, client_id: &str) -> Result<Option<StoredApp>> {
        if let Some(value) = self
            .cache
            .get(&Self::app_id_key(instance, client_id))
            .await?
            && let Ok(stored) = serde_json::from_value::<StoredApp>(value)
        {
            return Ok(Some(stored));
        }
        Ok(self
            .cache
            .get(&Self::app_key(instance))
            .await?
            .and_then(|v| serde_json::from_value::<StoredApp>(v).ok())
            .filter(|stored| stored.client_id == client_id))
    }

    /// Forgets the application `client_id` the instance no longer knows; the instance's
    /// current entry only if it is that application (another may have replaced it).
    async fn forget_app(&self, instance: &str, client_id: &str) -> Result<()> {
        self.cache
            .delete(&Self::app_id_key(instance, client_id))
            .await?;
        let current = self
            .cache
            .get(&Self::app_key(instance))
            .await?
            .and_then(|v| serde_json::from_value::<StoredApp>(v).ok());
        if current.is_some_and(|stored| stored.client_id == client_id) {
            self.cache.delete(&Self::app_key(instance)).await?;
        }
        Ok(())
    }

    fn oauth_app(&self, instance: &str, stored: &StoredApp) -> Result<OAuthApp> {
        Ok(OAuthApp {
            service: PLATFORM,
            client_id: stored.client_id.clone(),
            client_secret: Some(self.cipher.decrypt(&stored.client_secret)?),
            authorize_url: join(instance, "/oauth/authorize"),
            token_url: join(instance, "/oauth/token"),
            revoke_url: Some(join(instance, "/oauth/revoke")),
            redirect_url: stored.redirect_url.clone(),
            scopes: stored.scopes.clone(),
            pkce: true,
            client_auth: ClientAuth::Body,
            scope_separator: " ",
        })
    }

    /// The application an authorization started with (its `context`): carried in the context,
    /// else stored under the context's `client_id`; a context naming no application (started
    /// before contexts carried it) takes the instance's current one.
    async fn authorization_app(
        &self,
        instance: &str,
        context: &serde_json::Value,
    ) -> Result<StoredApp> {
        if let Some(stored) = context
            .get("app")
            .and_then(|v| serde_json::from_value::<StoredApp>(v.clone()).ok())
        {
            return Ok(stored);
        }
        match context.get("client_id").and_then(|v| v.as_str()) {
            Some(client_id) => self.app_by_id(instance, client_id).await?.ok_or_else(|| {
                Error::invalid_input(
                    "state",
                    "the Mastodon application of this authorization is no longer known; \
                     start connecting again",
                )
            }),
            None => self.stored_app(instance).await,
        }
    }

    /// The account a token belongs to (`GET /api/v1/accounts/verify_credentials`).
    async fn verify_credentials(&self, instance: &str, token: &Secret<String>) -> Result<Account> {
        let request = self
            .http
            .get(join(instance, "/api/v1/accounts/verify_credentials"))
            .bearer_auth(token.expose());
        call(Idempotency::Safe, request)
            .await?
            .success(Utc::now())?
            .json()
    }
}

/// Mastodon tokens live until revoked: there is nothing to refresh.
pub(crate) fn no_refresh() -> Error {
    Error::AuthExpired {
        service: PLATFORM,
        source: Some(
            "Mastodon tokens do not expire and cannot be refreshed; authorize again".into(),
        ),
    }
}

#[async_trait]
impl TokenRefresher for MastodonConnector {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        Err(no_refresh())
    }
}

#[async_trait]
impl Connector for MastodonConnector {
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::Mastodon]
    }

    async fn authorize(
        &self,
        platform: Platform,
        options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, serde_json::Value)> {
        check_platform(platform)?;
        let instance = normalize_instance(
            options
                .instance
                .as_deref()
                .unwrap_or(&self.config.instance_url),
        )?;
        let stored = self.stored_app(&instance).await?;
        let request = self.oauth_app(&instance, &stored)?.authorize()?;
        // The application travels with the authorization (its secret encrypted): `complete`
        // exchanges the code with exactly this one, whatever is registered meanwhile.
        Ok((
            request,
            json!({
                "instance_url": instance,
                "client_id": stored.client_id,
                "app": serde_json::to_value(&stored).map_err(|e| Error::other(PLATFORM, e))?,
            }),
        ))
    }

    async fn complete(
        &self,
        platform: Platform,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
        context: &serde_json::Value,
    ) -> Result<Vec<ConnectedAccount>> {
        check_platform(platform)?;
        let instance = context
            .get("instance_url")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::invalid_input("state", "the authorization names no instance"))?;
        let instance = normalize_instance(instance)?;
        let stored = self.authorization_app(&instance, context).await?;
        let app = self.oauth_app(&instance, &stored)?;
        let tokens = match app.exchange_code(&self.http, code, pkce_verifier).await {
            Ok(tokens) => tokens,
            Err(e) => {
                if e.to_string().contains("invalid_client") {
                    // The instance forgot this application: register again next time (unless
                    // another one already replaced it).
                    self.forget_app(&instance, &stored.client_id).await?;
                }
                return Err(e);
            }
        };
        let account = self
            .verify_credentials(&instance, &tokens.access_token)
            .await?;
        let acct = account
            .acct
            .clone()
            .unwrap_or_else(|| account.username.clone());
        let host = url::Url::parse(&instance)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        // Account ids are only unique within an instance.
        let authority = instance
            .split_once("://")
            .map_or(instance.as_str(), |(_, a)| a);
        Ok(vec![ConnectedAccount {
            platform: Platform::Mastodon,
            platform_user_id: format!("{}@{authority}", account.id),
            username: format!("{}@{host}", account.username),
            metadata: json!({
                "instance_url": instance,
                "account_id": account.id,
                "acct": acct,
                "profile_url": account.url,
                "client_id": app.client_id,
            }),
            tokens: TokenSet {
                access_token: tokens.access_token,
                refresh_token: None,
                expires_in: None,
                scopes: tokens.scopes,
            },
        }])
    }

    async fn revoke(
        &self,
        connection: &PlatformConnection,
        access_token: &Secret<String>,
        _refresh_token: Option<&Secret<String>>,
    ) -> Result<()> {
        let instance = instance_of(connection)?;
        // The token was issued to the application the connection names.
        let stored = match connection
            .metadata
            .get("client_id")
            .and_then(|v| v.as_str())
        {
            Some(client_id) => self.app_by_id(&instance, client_id).await?,
            None => self.cached_stored(&instance).await?,
        };
        let Some(stored) = stored else {
            return Err(Error::Config(format!(
                "no registered Mastodon application for {instance}; cannot revoke"
            )));
        };
        self.oauth_app(&instance, &stored)?
            .revoke(&self.http, access_token, false)
            .await
    }
}

fn check_platform(platform: Platform) -> Result<()> {
    if platform == Platform::Mastodon {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "platform",
            format!("the Mastodon connector cannot connect {platform}"),
        ))
    }
}
