//! `OAuthApp`, `TokenManager` and `ConnectionService` against a REAL local OAuth 2.0 server
//! (`scripts/testbed/oauth.sh`: oauth2-mock-server with PKCE checks, single-use codes and
//! rotating refresh tokens). Skipped unless `QUFLUX_TEST_OAUTH_URL` is set (fails instead under
//! `QUFLUX_TEST_REQUIRE_SERVICES=1`).
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{InMemoryCache, InMemoryStore, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::testkit::env;
use quflux_core::{
    ConnectionId, ConnectionStatus, ConnectionStore, Error, ErrorKind, Platform,
    PlatformConnection, Result, Secret, SystemClock, TokenCipher, UserId,
};
use quflux_platforms::common::connect::{
    AuthorizeOptions, ConnectedAccount, ConnectionService, Connector,
};
use quflux_platforms::common::http::HttpConfig;
use quflux_platforms::common::oauth::{AuthorizationRequest, ClientAuth, OAuthApp, TokenSet};
use quflux_platforms::common::tokens::{TokenManager, TokenRefresher};
use serde_json::json;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn server() -> Option<String> {
    env("QUFLUX_TEST_OAUTH_URL").map(|u| u.trim_end_matches('/').to_owned())
}

fn app(base: &str, client_auth: ClientAuth) -> OAuthApp {
    OAuthApp {
        service: "oauth-testbed",
        client_id: "quflux-test".into(),
        client_secret: Some(Secret::new("quflux-test-secret".into())),
        authorize_url: format!("{base}/authorize"),
        token_url: format!("{base}/token"),
        revoke_url: Some(format!("{base}/revoke")),
        redirect_url: REDIRECT.into(),
        scopes: vec![
            "openid".into(),
            "offline_access".into(),
            "posts.write".into(),
        ],
        pkce: true,
        client_auth,
        scope_separator: " ",
    }
}

fn http() -> reqwest::Client {
    HttpConfig::default()
        .with_timeout(Duration::from_secs(5))
        .client()
        .unwrap()
}

/// Plays the browser: opens the authorize URL (the test server approves at once) and reads
/// `code` and `state` from the redirect back to us.
async fn approve(http: &reqwest::Client, authorize_url: &str) -> (String, String) {
    let response = http.get(authorize_url).send().await.unwrap();
    assert!(
        response.status().is_redirection(),
        "authorize answered {}",
        response.status()
    );
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let url = url::Url::parse(&location).unwrap();
    let get = |k: &str| {
        url.query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {k} in {location}"))
    };
    (get("code"), get("state"))
}

async fn userinfo(http: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    http.get(format!("{base}/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_authorize_url_carries_state_and_an_s256_challenge() {
    let Some(base) = server() else { return };
    let app = app(&base, ClientAuth::Basic);
    let request = app.authorize().unwrap();
    let url = url::Url::parse(&request.url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "quflux-test");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "openid offline_access posts.write");
    assert_eq!(q["state"], request.state);
    assert!(request.state.len() >= 16);
    assert_eq!(q["code_challenge_method"], "S256");
    // The challenge is BASE64URL(SHA256(verifier)).
    use base64::Engine;
    use sha2::Digest;
    let verifier = request.pkce_verifier.as_ref().unwrap().expose();
    assert!((43..=128).contains(&verifier.len()));
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    assert_eq!(q["code_challenge"], expected);
    assert!(!request.url.contains(verifier.as_str()));
    // Two authorizations never share a state or a verifier.
    let other = app.authorize().unwrap();
    assert_ne!(other.state, request.state);
    assert_ne!(
        other.pkce_verifier.unwrap().expose(),
        request.pkce_verifier.unwrap().expose()
    );
    // The server echoes the state.
    let (_, state) = approve(&http(), &request.url).await;
    assert_eq!(state, request.state);
}

#[tokio::test]
async fn a_code_is_exchanged_once_with_the_right_verifier() {
    let Some(base) = server() else { return };
    let http = http();
    for auth in [ClientAuth::Basic, ClientAuth::Body] {
        let app = app(&base, auth);
        // Wrong verifier (well-formed, 64 characters): refused, as invalid input.
        let request = app.authorize().unwrap();
        let (code, _) = approve(&http, &request.url).await;
        let wrong = Secret::new("w".repeat(64));
        let e = app
            .exchange_code(&http, &code, Some(&wrong))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");

        // Right verifier: tokens.
        let request = app.authorize().unwrap();
        let (code, _) = approve(&http, &request.url).await;
        let tokens = app
            .exchange_code(&http, &code, request.pkce_verifier.as_ref())
            .await
            .unwrap();
        assert!(!tokens.access_token.expose().is_empty());
        assert!(tokens.refresh_token.is_some());
        assert_eq!(tokens.expires_in, Some(Duration::from_secs(3600)));
        assert_eq!(tokens.scopes, ["openid", "offline_access", "posts.write"]);
        let me = userinfo(&http, &base, tokens.access_token.expose()).await;
        assert_eq!(me.status(), 200);

        // The same code again: refused.
        let e = app
            .exchange_code(&http, &code, request.pkce_verifier.as_ref())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
        // No secret in the error.
        let text = format!("{e:?} {e}");
        assert!(!text.contains(request.pkce_verifier.as_ref().unwrap().expose()));
        assert!(!text.contains("quflux-test-secret"));
    }
}

#[tokio::test]
async fn a_refresh_rotates_the_refresh_token_and_reuse_is_refused() {
    let Some(base) = server() else { return };
    let http = http();
    let app = app(&base, ClientAuth::Basic);
    let request = app.authorize().unwrap();
    let (code, _) = approve(&http, &request.url).await;
    let first = app
        .exchange_code(&http, &code, request.pkce_verifier.as_ref())
        .await
        .unwrap();
    let old = first.refresh_token.unwrap();
    let second = app.refresh(&http, &old).await.unwrap();
    let new = second.refresh_token.clone().unwrap();
    assert_ne!(new.expose(), old.expose(), "refresh tokens rotate");
    assert_ne!(second.access_token.expose(), first.access_token.expose());
    assert_eq!(
        userinfo(&http, &base, second.access_token.expose())
            .await
            .status(),
        200
    );
    // Reusing the spent token is refused: the connection needs re-authorization.
    let e = app.refresh(&http, &old).await.unwrap_err();
    assert!(matches!(e, Error::AuthExpired { .. }), "{e:?}");
    assert!(!format!("{e:?} {e}").contains(old.expose()));
    // The server treats the reuse as theft and revokes the family: the new one is dead too.
    let e = app.refresh(&http, &new).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
    // An unknown refresh token likewise.
    let e = app
        .refresh(&http, &Secret::new("never-issued".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
}

#[tokio::test]
async fn revoked_tokens_stop_working() {
    let Some(base) = server() else { return };
    let http = http();
    let app = app(&base, ClientAuth::Body);
    let request = app.authorize().unwrap();
    let (code, _) = approve(&http, &request.url).await;
    let tokens = app
        .exchange_code(&http, &code, request.pkce_verifier.as_ref())
        .await
        .unwrap();
    assert_eq!(
        userinfo(&http, &base, tokens.access_token.expose())
            .await
            .status(),
        200
    );
    app.revoke(&http, &tokens.access_token, false)
        .await
        .unwrap();
    assert_eq!(
        userinfo(&http, &base, tokens.access_token.expose())
            .await
            .status(),
        401
    );
    let refresh = tokens.refresh_token.unwrap();
    app.revoke(&http, &refresh, true).await.unwrap();
    let e = app.refresh(&http, &refresh).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_transient() {
    // Needs no server: nothing listens on port 9 of the loopback.
    let app = app("http://127.0.0.1:9", ClientAuth::Basic);
    let e = app
        .refresh(&http(), &Secret::new("r".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e:?}");
}

/// A minimal OIDC connector: the code flow of [`OAuthApp`] plus the server's `/userinfo`.
#[derive(Debug)]
struct OidcConnector {
    app: OAuthApp,
    base: String,
    http: reqwest::Client,
    /// `login_hint` for the next authorization (picks the account at the test server).
    account: Mutex<String>,
}

#[async_trait]
impl TokenRefresher for OidcConnector {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        self.app.refresh(&self.http, refresh_token).await
    }
}

#[async_trait]
impl Connector for OidcConnector {
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::Mastodon]
    }

    async fn authorize(
        &self,
        _platform: Platform,
        _options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, serde_json::Value)> {
        let hint = self.account.lock().unwrap().clone();
        let request = self.app.authorize_with(&[("login_hint", hint.as_str())])?;
        Ok((request, json!({"issuer": self.base})))
    }

    async fn complete(
        &self,
        platform: Platform,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
        context: &serde_json::Value,
    ) -> Result<Vec<ConnectedAccount>> {
        let tokens = self
            .app
            .exchange_code(&self.http, code, pkce_verifier)
            .await?;
        let me: serde_json::Value = userinfo(&self.http, &self.base, tokens.access_token.expose())
            .await
            .error_for_status()
            .map_err(|e| Error::other("oauth-testbed", e))?
            .json()
            .await
            .map_err(|e| Error::other("oauth-testbed", e))?;
        Ok(vec![ConnectedAccount {
            platform,
            platform_user_id: me["sub"].as_str().unwrap_or_default().to_owned(),
            username: me["preferred_username"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            tokens,
            metadata: context.clone(),
        }])
    }

    async fn revoke(
        &self,
        _connection: &PlatformConnection,
        access_token: &Secret<String>,
        refresh_token: Option<&Secret<String>>,
    ) -> Result<()> {
        if let Some(r) = refresh_token {
            self.app.revoke(&self.http, r, true).await?;
        }
        self.app.revoke(&self.http, access_token, false).await
    }
}

/// Records every connection row written, to prove no write ever lacks a token.
#[derive(Debug, Default)]
struct WatchedStore {
    inner: InMemoryStore,
    writes: Mutex<Vec<PlatformConnection>>,
}

#[async_trait]
impl ConnectionStore for WatchedStore {
    async fn insert_connection(&self, c: &PlatformConnection) -> Result<()> {
        self.writes.lock().unwrap().push(c.clone());
        self.inner.insert_connection(c).await
    }
    async fn get_connection(&self, id: ConnectionId) -> Result<PlatformConnection> {
        self.inner.get_connection(id).await
    }
    async fn update_connection(&self, c: &PlatformConnection) -> Result<i64> {
        self.writes.lock().unwrap().push(c.clone());
        self.inner.update_connection(c).await
    }
    async fn list_connections(&self, user_id: UserId) -> Result<Vec<PlatformConnection>> {
        self.inner.list_connections(user_id).await
    }
    async fn find_active_connection(
        &self,
        user_id: UserId,
        platform: Platform,
    ) -> Result<Option<PlatformConnection>> {
        self.inner.find_active_connection(user_id, platform).await
    }
}

struct Flow {
    base: String,
    http: reqwest::Client,
    store: Arc<WatchedStore>,
    cipher: Arc<dyn TokenCipher>,
    cache: Arc<InMemoryCache>,
    connector: Arc<OidcConnector>,
    service: ConnectionService,
}

impl Flow {
    fn new(base: &str) -> Self {
        let http = http();
        let store = Arc::new(WatchedStore::default());
        let cipher: Arc<dyn TokenCipher> = Arc::new(AesGcmCipher::random("k1"));
        let clock = Arc::new(SystemClock);
        let notifier = Arc::new(RecordingNotifier::new());
        let tokens = Arc::new(TokenManager::new(
            store.clone(),
            cipher.clone(),
            NotificationService::new(vec![notifier], clock.clone()),
            clock,
        ));
        let cache = Arc::new(InMemoryCache::new());
        let connector = Arc::new(OidcConnector {
            app: app(base, ClientAuth::Basic),
            base: base.to_owned(),
            http: http.clone(),
            account: Mutex::new("alice".into()),
        });
        let service =
            ConnectionService::new(tokens, cache.clone()).with_connector(connector.clone());
        Self {
            base: base.to_owned(),
            http,
            store,
            cipher,
            cache,
            connector,
            service,
        }
    }

    fn plain(&self, t: &quflux_core::EncryptedToken) -> String {
        self.cipher.decrypt(t).unwrap().expose().clone()
    }

    /// `start` + the browser round trip: the callback's code and state.
    async fn authorize(&self, user: UserId, account: &str) -> (String, String) {
        *self.connector.account.lock().unwrap() = account.to_owned();
        let start = self
            .service
            .start(user, Platform::Mastodon, &AuthorizeOptions::default())
            .await
            .unwrap();
        let (code, state) = approve(&self.http, &start.authorize_url).await;
        assert_eq!(state, start.state);
        (code, state)
    }

    async fn connect(&self, user: UserId, account: &str) -> PlatformConnection {
        let (code, state) = self.authorize(user, account).await;
        let mut saved = self
            .service
            .callback(user, &state, Some(&code), None)
            .await
            .unwrap();
        assert_eq!(saved.len(), 1);
        saved.remove(0)
    }
}

#[tokio::test]
async fn a_callback_stores_an_encrypted_connection() {
    let Some(base) = server() else { return };
    let flow = Flow::new(&base);
    let user = UserId::new();
    let c = flow.connect(user, "alice").await;
    assert_eq!(c.platform, Platform::Mastodon);
    assert_eq!(c.platform_user_id, "alice");
    assert_eq!(c.platform_username, "alice");
    assert_eq!(c.status, ConnectionStatus::Active);
    assert_eq!(c.metadata["issuer"], base);
    let stored = flow.store.get_connection(c.id).await.unwrap();
    let access = flow.plain(&stored.access_token);
    let refresh = flow.plain(stored.refresh_token.as_ref().unwrap());
    assert_ne!(stored.access_token.ciphertext, access);
    assert!(!stored.access_token.ciphertext.contains(&access));
    assert!(
        !stored
            .refresh_token
            .as_ref()
            .unwrap()
            .ciphertext
            .contains(&refresh)
    );
    assert!(!serde_json::to_string(&stored).unwrap().contains(&access));
    assert!(stored.expires_at.is_some());
    // The decrypted token is the real one.
    assert_eq!(userinfo(&flow.http, &base, &access).await.status(), 200);
    // The pending authorization is gone from the cache.
    assert!(flow.cache.is_empty());
}

#[tokio::test]
async fn unknown_reused_or_foreign_states_are_refused() {
    let Some(base) = server() else { return };
    let flow = Flow::new(&base);
    let (alice, mallory) = (UserId::new(), UserId::new());

    let e = flow
        .service
        .callback(alice, "never-issued", Some("code"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "state"),
        "{e:?}"
    );

    // Another user cannot complete alice's authorization.
    let (code, state) = flow.authorize(alice, "alice").await;
    let e = flow
        .service
        .callback(mallory, &state, Some(&code), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "state"),
        "{e:?}"
    );
    assert!(
        flow.store
            .list_connections(mallory)
            .await
            .unwrap()
            .is_empty()
    );

    // Alice completes it once; the same state again is refused.
    flow.service
        .callback(alice, &state, Some(&code), None)
        .await
        .unwrap();
    let e = flow
        .service
        .callback(alice, &state, Some(&code), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "state"),
        "{e:?}"
    );
    assert_eq!(flow.store.list_connections(alice).await.unwrap().len(), 1);

    // A state is spent even when the code exchange fails (here: a forged code).
    let (_, state) = flow.authorize(alice, "alice").await;
    let e = flow
        .service
        .callback(alice, &state, Some("forged-code"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "code"),
        "{e:?}"
    );
    let e = flow
        .service
        .callback(alice, &state, Some("forged-code"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "state"),
        "{e:?}"
    );
}

#[tokio::test]
async fn reconnecting_updates_the_tokens_in_place() {
    let Some(base) = server() else { return };
    let flow = Flow::new(&base);
    let user = UserId::new();
    let first = flow.connect(user, "bob").await;
    let old_access = flow.plain(&first.access_token);
    let writes_before = flow.store.writes.lock().unwrap().len();

    let second = flow.connect(user, "bob").await;
    assert_eq!(second.id, first.id, "same account, same connection");
    assert!(second.version > first.version);
    let stored = flow.store.get_connection(first.id).await.unwrap();
    let new_access = flow.plain(&stored.access_token);
    assert_ne!(new_access, old_access);
    assert_eq!(userinfo(&flow.http, &base, &new_access).await.status(), 200);
    assert_eq!(flow.store.list_connections(user).await.unwrap().len(), 1);

    // The reconnect was ONE write carrying the whole new pair: never a row without tokens.
    let writes = flow.store.writes.lock().unwrap().clone();
    let reconnect: Vec<_> = writes[writes_before..].to_vec();
    assert_eq!(reconnect.len(), 1, "{reconnect:?}");
    for w in &writes {
        assert!(!flow.plain(&w.access_token).is_empty());
        assert!(w.refresh_token.is_some());
    }
    assert_eq!(flow.plain(&reconnect[0].access_token), new_access);

    // Another account of the same user is another connection.
    let other = flow.connect(user, "bob-work").await;
    assert_ne!(other.id, first.id);
}

#[tokio::test]
async fn refresh_and_disconnect_talk_to_the_server_and_keep_the_row() {
    let Some(base) = server() else { return };
    let flow = Flow::new(&base);
    let user = UserId::new();
    let c = flow.connect(user, "carol").await;
    let old_refresh = flow.plain(c.refresh_token.as_ref().unwrap());

    // A forced refresh rotates the pair at the server and stores it.
    let refreshed = flow.service.refresh(user, c.id).await.unwrap();
    let access = flow.plain(&refreshed.access_token);
    let refresh = flow.plain(refreshed.refresh_token.as_ref().unwrap());
    assert_ne!(refresh, old_refresh);
    assert_eq!(userinfo(&flow.http, &base, &access).await.status(), 200);
    let e = flow
        .connector
        .app
        .refresh(&flow.http, &Secret::new(old_refresh))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
    // The server revoked the family after that reuse: the next refresh is refused, the
    // connection needs re-authorization (and keeps its tokens).
    let e = flow.service.refresh(user, c.id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
    let dead = flow.store.get_connection(c.id).await.unwrap();
    assert_eq!(dead.status, ConnectionStatus::NeedsReauth);
    assert_eq!(flow.plain(&dead.access_token), access);

    // Reconnecting revives it in place.
    let again = flow.connect(user, "carol").await;
    assert_eq!(again.id, c.id);
    assert_eq!(again.status, ConnectionStatus::Active);
    let access = flow.plain(&again.access_token);

    // Another user cannot disconnect it.
    let e = flow
        .service
        .disconnect(UserId::new(), c.id)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let before = flow.store.get_connection(c.id).await.unwrap();
    let gone = flow.service.disconnect(user, c.id).await.unwrap();
    assert_eq!(gone.status, ConnectionStatus::Disconnected);
    let stored = flow.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Disconnected);
    assert_eq!(stored.access_token, before.access_token, "tokens are kept");
    assert_eq!(stored.refresh_token, before.refresh_token);
    // ... but revoked at the server.
    assert_eq!(userinfo(&flow.http, &base, &access).await.status(), 401);
    let e = flow
        .connector
        .app
        .refresh(
            &flow.http,
            &flow
                .cipher
                .decrypt(stored.refresh_token.as_ref().unwrap())
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
    // A disconnected connection hands out no token.
    let e = flow
        .service
        .tokens()
        .access_token(&stored, flow.connector.as_ref())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
    let _ = &flow.base;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_spend_a_rotating_refresh_token_once() {
    let Some(base) = server() else { return };
    let flow = Flow::new(&base);
    let user = UserId::new();
    let c = flow.connect(user, "dave").await;
    // Make the token due for refresh.
    let mut due = flow.store.get_connection(c.id).await.unwrap();
    due.expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(30));
    flow.store.update_connection(&due).await.unwrap();
    let due = flow.store.get_connection(c.id).await.unwrap();

    let before: serde_json::Value = flow
        .http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens = flow.service.tokens().clone();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (t, conn, c) = (tokens.clone(), flow.connector.clone(), due.clone());
        tasks.push(tokio::spawn(async move {
            t.access_token(&c, conn.as_ref()).await
        }));
    }
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap().unwrap().access_token.expose().clone());
    }
    assert_eq!(seen.len(), 1, "everyone got the same new token");
    let after: serde_json::Value = flow
        .http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Other tests may refresh concurrently on the same server: at least ours happened, and the
    // rotation was never tripped (a double spend would have revoked the family).
    assert!(after["refreshes"].as_u64() > before["refreshes"].as_u64());
    let stored = flow.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active);
    let token = seen.into_iter().next().unwrap();
    assert_eq!(flow.plain(&stored.access_token), token);
    assert_eq!(userinfo(&flow.http, &base, &token).await.status(), 200);
    // The stored refresh token is the live one.
    flow.service.refresh(user, c.id).await.unwrap();
}

/// The real server's refresh, with the answer arriving late (the server has already rotated
/// the pair when the caller gives up), handing out an owned handle so the refresh runs
/// detached.
#[derive(Debug, Clone)]
struct LateAnswer {
    app: OAuthApp,
    http: reqwest::Client,
}

#[async_trait]
impl TokenRefresher for LateAnswer {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        let tokens = self.app.refresh(&self.http, refresh_token).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        tokens
    }

    fn shared(&self) -> Option<Arc<dyn TokenRefresher>> {
        Some(Arc::new(self.clone()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_cancelled_mid_refresh_does_not_lose_the_rotated_pair() {
    let Some(base) = server() else { return };
    let flow = Flow::new(&base);
    let user = UserId::new();
    let c = flow.connect(user, "erin").await;
    let old_refresh = flow.plain(c.refresh_token.as_ref().unwrap());
    let refresher = LateAnswer {
        app: flow.connector.app.clone(),
        http: flow.http.clone(),
    };
    let tokens = flow.service.tokens();
    // A publish timeout drops the caller after the server rotated the pair.
    let cut = tokio::time::timeout(
        Duration::from_millis(150),
        tokens.force_refresh(c.id, &refresher),
    )
    .await;
    assert!(cut.is_err(), "the caller was cancelled mid-refresh");
    // The detached refresh stores the rotated pair anyway.
    let mut stored = flow.store.get_connection(c.id).await.unwrap();
    for _ in 0..100 {
        if flow.plain(stored.refresh_token.as_ref().unwrap()) != old_refresh {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored = flow.store.get_connection(c.id).await.unwrap();
    }
    assert_ne!(
        flow.plain(stored.refresh_token.as_ref().unwrap()),
        old_refresh
    );
    assert_eq!(stored.status, ConnectionStatus::Active);
    let access = flow.plain(&stored.access_token);
    assert_eq!(userinfo(&flow.http, &base, &access).await.status(), 200);
    // The stored refresh token is the live one: the next refresh works (a reuse of the spent
    // one would have revoked the whole family).
    let next = tokens.force_refresh(c.id, &refresher).await.unwrap();
    assert_ne!(next.access_token.expose(), &access);
    let stored = flow.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active);
}
