//! [`XConnector`]: OAuth 2.0 with PKCE, the account behind a token, refresh and revocation.

use async_trait::async_trait;
use quflux_core::{Error, Platform, PlatformConnection, Result, Secret};

use crate::common::http::{self, Idempotency, body_bytes};
use crate::common::oauth::{AuthorizationRequest, OAuthApp, TokenSet};
use crate::common::{AuthorizeOptions, ConnectedAccount, Connector, TokenRefresher};

use super::config::XConfig;
use super::wire::{Data, User};
use super::{PLATFORM, SERVICE, classify};

/// Connects X accounts (authorization code + PKCE S256) and refreshes their rotating tokens.
#[derive(Debug, Clone)]
pub struct XConnector {
    config: XConfig,
    app: OAuthApp,
    http: reqwest::Client,
}

impl XConnector {
    /// A connector for `config`.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(config: XConfig) -> Result<Self> {
        let http = config.http.client()?;
        let app = config.oauth_app();
        Ok(Self { config, app, http })
    }

    /// The configuration.
    pub fn config(&self) -> &XConfig {
        &self.config
    }

    /// `GET /2/users/me` with `access_token`: the account's id and username.
    ///
    /// # Errors
    /// Classified X errors ([`classify`]); a transport failure is [`Error::Transient`].
    pub async fn me(&self, access_token: &Secret<String>) -> Result<(String, String)> {
        let response = http::send(
            SERVICE,
            Idempotency::Safe,
            self.http
                .get(self.config.url("/2/users/me"))
                .bearer_auth(access_token.expose()),
        )
        .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = body_bytes(SERVICE, Idempotency::Safe, response).await?;
        if !status.is_success() {
            return Err(classify(status, &headers, &body, chrono::Utc::now()));
        }
        let me: Data<User> = serde_json::from_slice(&body)
            .map_err(|e| Error::other(SERVICE, format!("unreadable /2/users/me answer: {e}")))?;
        Ok((me.data.id, me.data.username))
    }

    fn check(platform: Platform) -> Result<()> {
        if platform == PLATFORM {
            Ok(())
        } else {
            Err(Error::invalid_input(
                "platform",
                format!("the X connector cannot connect {platform}"),
            ))
        }
    }
}

#[async_trait]
impl TokenRefresher for XConnector {
    fn shared(&self) -> Option<std::sync::Arc<dyn TokenRefresher>> {
        // Single-use rotating refresh tokens: the whole exchange must survive a cancelled caller.
        Some(std::sync::Arc::new(self.clone()))
    }

    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        self.app.refresh(&self.http, refresh_token).await
    }
}

#[async_trait]
impl Connector for XConnector {
    fn platforms(&self) -> Vec<Platform> {
        vec![PLATFORM]
    }

    async fn authorize(
        &self,
        platform: Platform,
        _options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, serde_json::Value)> {
        Self::check(platform)?;
        Ok((self.app.authorize()?, serde_json::json!({})))
    }

    async fn complete(
        &self,
        platform: Platform,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
        _context: &serde_json::Value,
    ) -> Result<Vec<ConnectedAccount>> {
        Self::check(platform)?;
        let tokens = self
            .app
            .exchange_code(&self.http, code, pkce_verifier)
            .await?;
        let (id, username) = self.me(&tokens.access_token).await?;
        Ok(vec![ConnectedAccount {
            platform: PLATFORM,
            platform_user_id: id,
            username,
            tokens,
            metadata: serde_json::json!({ "api_base": self.config.api_base }),
        }])
    }

    async fn revoke(
        &self,
        _connection: &PlatformConnection,
        access_token: &Secret<String>,
        refresh_token: Option<&Secret<String>>,
    ) -> Result<()> {
        // Revoking the refresh token ends the whole grant; the access token too, in case.
        if let Some(refresh) = refresh_token {
            self.app.revoke(&self.http, refresh, true).await?;
        }
        self.app.revoke(&self.http, access_token, false).await
    }
}
