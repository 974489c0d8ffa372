//! 3-legged OAuth, member identity and token refresh.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::{Error, Platform, PlatformConnection, Result, Secret};
use serde::Deserialize;
use serde_json::json;

use super::PLATFORM;
use super::config::LinkedInConfig;
use super::error::{classify, classify_refresh};
use crate::common::http::{self, Idempotency, PlatformResponse, join};
use crate::common::{
    AuthorizationRequest, AuthorizeOptions, ClientAuth, ConnectedAccount, Connector, OAuthApp,
    TokenRefresher, TokenSet,
};

/// Metadata key holding the member's author URN (`urn:li:person:{sub}`).
pub const AUTHOR_URN_KEY: &str = "author_urn";

/// Connects LinkedIn members (authorization code flow, client secret in the form body) and
/// refreshes their tokens when LinkedIn issued a refresh token (apps approved for programmatic
/// refresh; others re-authorize before day 60).
#[derive(Debug)]
pub struct LinkedInConnector {
    config: LinkedInConfig,
    http: reqwest::Client,
    oauth: OAuthApp,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

/// A token endpoint answer, read leniently: LinkedIn's refresh answer has no `token_type`, and
/// its `scope` is comma-separated.
#[derive(Deserialize)]
struct WireToken {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// Splits scopes on commas and spaces (LinkedIn answers `openid,profile,w_member_social`).
pub fn split_scopes<S: AsRef<str>>(scopes: &[S]) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| {
            s.as_ref()
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

impl LinkedInConnector {
    /// A connector for the app in `config`.
    ///
    /// # Errors
    /// [`Error::Config`] if the HTTP client cannot be built.
    pub fn new(config: LinkedInConfig) -> Result<Self> {
        let http = config.http.client()?;
        let oauth = OAuthApp {
            service: PLATFORM,
            client_id: config.client_id.clone(),
            client_secret: Some(config.client_secret.clone()),
            authorize_url: join(&config.oauth_base, "authorization"),
            token_url: join(&config.oauth_base, "accessToken"),
            // PLATFORM-SPECS §2.1 documents no revocation endpoint.
            revoke_url: None,
            redirect_url: config.redirect_url.clone(),
            scopes: config.scopes.clone(),
            pkce: false,
            client_auth: ClientAuth::Body,
            scope_separator: " ",
        };
        Ok(Self {
            config,
            http,
            oauth,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LinkedInConfig {
        &self.config
    }

    /// The HTTP client (shared with the publisher).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The member behind `access_token`, from the OpenID Connect userinfo endpoint.
    async fn userinfo(&self, access_token: &Secret<String>) -> Result<UserInfo> {
        let response = http::send(
            PLATFORM,
            Idempotency::Safe,
            self.http
                .get(join(&self.config.api_base, "v2/userinfo"))
                .bearer_auth(access_token.expose()),
        )
        .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::body_bytes(PLATFORM, Idempotency::Safe, response).await?;
        if !status.is_success() {
            return Err(classify(status, &headers, &body, Utc::now()));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Error::other(
                PLATFORM,
                format!(
                    "unreadable userinfo answer: {e}; {}",
                    PlatformResponse::new(status, &body)
                ),
            )
        })
    }
}

#[async_trait]
impl TokenRefresher for LinkedInConnector {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        // Not through `OAuthApp::refresh`: LinkedIn's refresh answer carries no `token_type`,
        // which the oauth2 crate requires.
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose().as_str()),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose().as_str()),
        ];
        let response = http::send(
            PLATFORM,
            Idempotency::Safe,
            self.http
                .post(join(&self.config.oauth_base, "accessToken"))
                .form(&form),
        )
        .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::body_bytes(PLATFORM, Idempotency::Safe, response).await?;
        if !status.is_success() {
            // Only a refused refresh token is AuthExpired; wrong client credentials are a
            // configuration error, a 429 or 5xx is retried later.
            return Err(classify_refresh(status, &headers, &body, Utc::now()));
        }
        let token: WireToken = serde_json::from_slice(&body).map_err(|e| {
            Error::other(PLATFORM, format!("unreadable token endpoint answer: {e}"))
        })?;
        Ok(TokenSet {
            access_token: Secret::new(token.access_token),
            refresh_token: token.refresh_token.map(Secret::new),
            expires_in: token.expires_in.map(Duration::from_secs),
            scopes: token.scope.map(|s| split_scopes(&[s])).unwrap_or_default(),
        })
    }
}

#[async_trait]
impl Connector for LinkedInConnector {
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::Linkedin]
    }

    async fn authorize(
        &self,
        _platform: Platform,
        _options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, serde_json::Value)> {
        Ok((self.oauth.authorize()?, json!({})))
    }

    async fn complete(
        &self,
        _platform: Platform,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
        _context: &serde_json::Value,
    ) -> Result<Vec<ConnectedAccount>> {
        let mut tokens = self
            .oauth
            .exchange_code(&self.http, code, pkce_verifier)
            .await?;
        tokens.scopes = split_scopes(&tokens.scopes);
        let member = self.userinfo(&tokens.access_token).await?;
        let author = format!("urn:li:person:{}", member.sub);
        Ok(vec![ConnectedAccount {
            platform: Platform::Linkedin,
            username: member.name.clone().unwrap_or_else(|| member.sub.clone()),
            platform_user_id: member.sub,
            tokens,
            metadata: json!({ AUTHOR_URN_KEY: author, "picture": member.picture }),
        }])
    }

    async fn revoke(
        &self,
        connection: &PlatformConnection,
        _access_token: &Secret<String>,
        _refresh_token: Option<&Secret<String>>,
    ) -> Result<()> {
        // PLATFORM-SPECS §2.1 documents no revocation endpoint: the member removes the app in
        // their LinkedIn settings, and the token lapses after 60 days.
        tracing::info!(connection = %connection.id, "LinkedIn has no token revocation endpoint; nothing to revoke");
        Ok(())
    }
}
