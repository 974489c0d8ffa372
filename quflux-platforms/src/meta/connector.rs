//! Facebook Login (README §3.1): code → short-lived user token → long-lived user token →
//! one Page token per Page (Facebook) and per linked Instagram business account (Instagram).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use quflux_core::{Error, Platform, PlatformConnection, Result, Secret, SystemClock};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::MetaConfig;
use super::client::{Body, Graph, no_refresh};
use super::error::{Op, classify};
use crate::common::http::{Idempotency, body_bytes, join, send};
use crate::common::{
    AuthorizationRequest, AuthorizeOptions, ClientAuth, ConnectedAccount, Connector, OAuthApp,
    TokenRefresher, TokenSet,
};

/// Connects Facebook Pages and Instagram business accounts with Facebook Login.
///
/// One login yields every Page the user can publish to (task `CREATE_CONTENT` or `MANAGE`) as a
/// Facebook account, and every Page's `instagram_business_account` as an Instagram account,
/// whichever of the two platforms the flow was started for. Both hold the **Page access
/// token**, obtained with a long-lived user token, which does not expire (until the user
/// changes their password or removes the app).
///
/// - Refresh: there is nothing to refresh; [`TokenRefresher::refresh_tokens`] answers
///   [`Error::AuthExpired`], and the user logs in again.
/// - Revoke: a no-op. Meta revokes per user and app (`DELETE /me/permissions` with the user
///   token, which is not kept), which would cut every other Page and Instagram connection of
///   that login; disconnecting one account only stops using its token.
#[derive(Debug, Clone)]
pub struct MetaConnector {
    config: MetaConfig,
    oauth: OAuthApp,
    graph: Graph,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct PageAnswer {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    tasks: Vec<String>,
    #[serde(default)]
    instagram_business_account: Option<IgRef>,
}

#[derive(Debug, Deserialize)]
struct IgRef {
    id: String,
}

impl MetaConnector {
    /// A connector for the app in `config` (app id, secret and redirect URL required).
    pub fn new(config: MetaConfig) -> Result<Self> {
        config.validate_app()?;
        let oauth = OAuthApp {
            service: "facebook",
            client_id: config.app_id.clone(),
            client_secret: config.app_secret.clone(),
            authorize_url: config.dialog(),
            token_url: join(&config.graph_url(), "oauth/access_token"),
            revoke_url: None,
            redirect_url: config.redirect_url.clone(),
            scopes: config.scopes.clone(),
            pkce: false,
            client_auth: ClientAuth::Body,
            scope_separator: ",",
        };
        let graph = Graph::new(Platform::Facebook, &config, None, Arc::new(SystemClock))?;
        Ok(Self {
            config,
            oauth,
            graph,
        })
    }

    /// Exchanges a short-lived user token for a long-lived one (`fb_exchange_token`, ~60 days).
    async fn long_lived(&self, short: &Secret<String>) -> Result<TokenSet> {
        let secret = self
            .config
            .app_secret
            .as_ref()
            .ok_or_else(|| Error::Config("meta: app_secret missing".into()))?;
        let form = [
            ("grant_type", "fb_exchange_token"),
            ("client_id", self.config.app_id.as_str()),
            ("client_secret", secret.expose().as_str()),
            ("fb_exchange_token", short.expose().as_str()),
        ];
        let request = self
            .graph
            .http
            .post(join(&self.graph.base, "oauth/access_token"))
            .form(&form);
        let response = send("facebook", Idempotency::Safe, request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = body_bytes("facebook", Idempotency::Safe, response).await?;
        if !status.is_success() {
            return Err(classify(
                "facebook",
                Op::Read,
                status,
                &headers,
                "me",
                &body,
            ));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| Error::other("facebook", e))?;
        Ok(TokenSet {
            access_token: Secret::new(answer.access_token),
            refresh_token: None,
            expires_in: answer.expires_in.map(Duration::from_secs),
            scopes: Vec::new(),
        })
    }

    async fn accounts(
        &self,
        user: &Secret<String>,
        scopes: &[String],
    ) -> Result<Vec<ConnectedAccount>> {
        let v = self
            .graph
            .call(
                user,
                "me",
                Method::GET,
                "me/accounts",
                &[
                    (
                        "fields",
                        "id,name,access_token,tasks,instagram_business_account",
                    ),
                    ("limit", "100"),
                ],
                Body::None,
                Op::Read,
            )
            .await?;
        let pages: Vec<PageAnswer> = serde_json::from_value(
            v.get("data")
                .cloned()
                .unwrap_or_else(|| Value::Array(Vec::new())),
        )
        .map_err(|e| Error::other("facebook", e))?;
        let mut out = Vec::new();
        for page in pages {
            let can_post = page
                .tasks
                .iter()
                .any(|t| t == "CREATE_CONTENT" || t == "MANAGE");
            let Some(token) = page.access_token.filter(|_| can_post) else {
                tracing::info!(page = %page.id, "skipping a Page the user cannot publish to");
                continue;
            };
            let token = Secret::new(token);
            let tokens = TokenSet {
                access_token: token.clone(),
                refresh_token: None,
                expires_in: None,
                scopes: scopes.to_vec(),
            };
            out.push(ConnectedAccount {
                platform: Platform::Facebook,
                platform_user_id: page.id.clone(),
                username: page.name.clone(),
                tokens: tokens.clone(),
                metadata: json!({ "page_id": page.id, "page_name": page.name }),
            });
            if let Some(ig) = page.instagram_business_account {
                let username = self
                    .graph
                    .call(
                        &token,
                        &ig.id,
                        Method::GET,
                        &ig.id,
                        &[("fields", "id,username")],
                        Body::None,
                        Op::Read,
                    )
                    .await
                    .ok()
                    .and_then(|v| v.get("username").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| ig.id.clone());
                out.push(ConnectedAccount {
                    platform: Platform::Instagram,
                    platform_user_id: ig.id.clone(),
                    username,
                    tokens,
                    metadata: json!({
                        "ig_user_id": ig.id,
                        "page_id": page.id,
                        "page_name": page.name,
                    }),
                });
            }
        }
        if out.is_empty() {
            return Err(Error::invalid_input(
                "code",
                "the Facebook login grants no Page the user can publish to",
            ));
        }
        Ok(out)
    }
}

#[async_trait]
impl TokenRefresher for MetaConnector {
    async fn refresh_tokens(
        &self,
        connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        Err(no_refresh(connection.platform))
    }
}

#[async_trait]
impl Connector for MetaConnector {
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::Facebook, Platform::Instagram]
    }

    async fn authorize(
        &self,
        _platform: Platform,
        _options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, Value)> {
        Ok((self.oauth.authorize()?, json!({})))
    }

    async fn complete(
        &self,
        _platform: Platform,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
        _context: &Value,
    ) -> Result<Vec<ConnectedAccount>> {
        let short = self
            .oauth
            .exchange_code(&self.graph.http, code, pkce_verifier)
            .await?;
        let long = self.long_lived(&short.access_token).await?;
        let scopes = if short.scopes.is_empty() {
            self.config.scopes.clone()
        } else {
            short.scopes.clone()
        };
        self.accounts(&long.access_token, &scopes).await
    }

    async fn revoke(
        &self,
        _connection: &PlatformConnection,
        _access_token: &Secret<String>,
        _refresh_token: Option<&Secret<String>>,
    ) -> Result<()> {
        Ok(())
    }
}
