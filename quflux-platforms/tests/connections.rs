//! `ConnectionService` with a scripted connector, an in-memory store and a cache on a
//! `ManualClock`: state lifetime and single use, refusals, saving and reconnecting, refresh and
//! disconnect rules.
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{InMemoryCache, InMemoryStore, ManualClock, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::{
    Cache, Clock, ConnectionStatus, ConnectionStore, Error, ErrorKind, Platform,
    PlatformConnection, Result, Secret, TokenCipher, UserId,
};
use quflux_platforms::common::connect::{
    AuthorizeOptions, ConnectedAccount, ConnectionService, Connector,
};
use quflux_platforms::common::oauth::{AuthorizationRequest, TokenSet};
use quflux_platforms::common::tokens::{TokenManager, TokenRefresher};
use serde_json::json;

/// What the fake platform hands out at the next `complete`.
#[derive(Debug, Clone)]
struct Grant {
    account: &'static str,
    refresh: bool,
    expires: bool,
}

#[derive(Debug, Default)]
struct Fake {
    issued: Mutex<u32>,
    verifiers: Mutex<Vec<(String, Option<String>)>>,
    completed: Mutex<Vec<(String, Option<String>, serde_json::Value)>>,
    next: Mutex<Option<Grant>>,
    revoked: Mutex<Vec<(String, Option<String>)>>,
    revoke_fails: Mutex<bool>,
}

impl Fake {
    fn grant(&self, grant: Grant) {
        *self.next.lock().unwrap() = Some(grant);
    }
    fn n(&self) -> u32 {
        let mut n = self.issued.lock().unwrap();
        *n += 1;
        *n
    }
}

#[async_trait]
impl TokenRefresher for Fake {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        let n = self.n();
        Ok(TokenSet {
            access_token: Secret::new(format!("refreshed-access-{n}")),
            refresh_token: Some(Secret::new(format!("refreshed-refresh-{n}"))),
            expires_in: Some(Duration::from_secs(7200)),
            scopes: Vec::new(),
        })
    }
}

#[async_trait]
impl Connector for Fake {
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::Linkedin]
    }

    async fn authorize(
        &self,
        _platform: Platform,
        options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, serde_json::Value)> {
        let n = self.n();
        let state = format!("state-{n}-{}", uuid_like(n));
        let verifier = format!("verifier-{n}-abcdefghijklmnopqrstuvwxyz0123456789");
        self.verifiers
            .lock()
            .unwrap()
            .push((state.clone(), Some(verifier.clone())));
        Ok((
            AuthorizationRequest {
                url: format!("https://platform.test/authorize?state={state}"),
                state,
                pkce_verifier: Some(Secret::new(verifier)),
            },
            json!({"instance": options.instance, "n": n}),
        ))
    }

    async fn complete(
        &self,
        platform: Platform,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
        context: &serde_json::Value,
    ) -> Result<Vec<ConnectedAccount>> {
        self.completed.lock().unwrap().push((
            code.to_owned(),
            pkce_verifier.map(|v| v.expose().clone()),
            context.clone(),
        ));
        if code == "bad" {
            return Err(Error::invalid_input("code", "refused"));
        }
        let grant = self.next.lock().unwrap().clone().unwrap_or(Grant {
            account: "member-1",
            refresh: true,
            expires: true,
        });
        let n = self.n();
        Ok(vec![ConnectedAccount {
            platform,
            platform_user_id: grant.account.to_owned(),
            username: format!("{}-name", grant.account),
            tokens: TokenSet {
                access_token: Secret::new(format!("access-{n}")),
                refresh_token: grant.refresh.then(|| Secret::new(format!("refresh-{n}"))),
                expires_in: grant.expires.then_some(Duration::from_secs(3600)),
                scopes: vec!["w_member_social".into()],
            },
            metadata: json!({"n": n}),
        }])
    }

    async fn revoke(
        &self,
        _connection: &PlatformConnection,
        access_token: &Secret<String>,
        refresh_token: Option<&Secret<String>>,
    ) -> Result<()> {
        self.revoked.lock().unwrap().push((
            access_token.expose().clone(),
            refresh_token.map(|t| t.expose().clone()),
        ));
        if *self.revoke_fails.lock().unwrap() {
            return Err(Error::transient("linkedin", "revocation endpoint down"));
        }
        Ok(())
    }
}

fn uuid_like(n: u32) -> String {
    format!("{:08x}", n.wrapping_mul(2_654_435_761))
}

struct Bed {
    clock: Arc<ManualClock>,
    cache: Arc<InMemoryCache>,
    store: Arc<InMemoryStore>,
    cipher: Arc<dyn TokenCipher>,
    fake: Arc<Fake>,
    service: ConnectionService,
}

fn bed() -> Bed {
    let clock = Arc::new(ManualClock::new(
        "2026-03-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap(),
    ));
    let cache = Arc::new(InMemoryCache::with_clock(clock.clone()));
    let store = Arc::new(InMemoryStore::new());
    let cipher: Arc<dyn TokenCipher> = Arc::new(AesGcmCipher::random("k1"));
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        cipher.clone(),
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone()),
        clock.clone(),
    ));
    let fake = Arc::new(Fake::default());
    let service = ConnectionService::new(tokens, cache.clone()).with_connector(fake.clone());
    Bed {
        clock,
        cache,
        store,
        cipher,
        fake,
        service,
    }
}

impl Bed {
    async fn start(&self, user: UserId) -> String {
        let start = self
            .service
            .start(user, Platform::Linkedin, &AuthorizeOptions::default())
            .await
            .unwrap();
        assert_eq!(
            start.expires_at,
            self.clock.now() + chrono::Duration::minutes(10)
        );
        assert!(start.authorize_url.contains(&start.state));
        start.state
    }

    fn plain(&self, t: &quflux_core::EncryptedToken) -> String {
        self.cipher.decrypt(t).unwrap().expose().clone()
    }
}

fn is_invalid(e: &Error, which: &str) -> bool {
    matches!(e, Error::InvalidInput { field, .. } if field == which)
}

#[tokio::test]
async fn the_pending_state_lives_ten_minutes() {
    let b = bed();
    let user = UserId::new();
    let state = b.start(user).await;
    b.clock.advance(Duration::from_secs(9 * 60 + 59));
    b.service
        .callback(user, &state, Some("code"), None)
        .await
        .unwrap();

    let state = b.start(user).await;
    b.clock.advance(Duration::from_secs(10 * 60 + 1));
    let e = b
        .service
        .callback(user, &state, Some("code"), None)
        .await
        .unwrap_err();
    assert!(is_invalid(&e, "state"), "{e:?}");
    assert_eq!(b.fake.completed.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_verifier_is_kept_encrypted_and_handed_to_the_connector() {
    let b = bed();
    let user = UserId::new();
    let start = b
        .service
        .start(
            user,
            Platform::Linkedin,
            &AuthorizeOptions {
                instance: Some("https://example.test".into()),
            },
        )
        .await
        .unwrap();
    let (_, verifier) = b.fake.verifiers.lock().unwrap()[0].clone();
    let verifier = verifier.unwrap();
    let pending = b
        .cache
        .get(&format!("oauth_state:{}", start.state))
        .await
        .unwrap()
        .unwrap();
    assert!(!pending.to_string().contains(&verifier), "{pending}");
    b.service
        .callback(user, &start.state, Some("the-code"), None)
        .await
        .unwrap();
    let (code, got, context) = b.fake.completed.lock().unwrap()[0].clone();
    assert_eq!(code, "the-code");
    assert_eq!(got.as_deref(), Some(verifier.as_str()));
    assert_eq!(context["instance"], "https://example.test");
}

#[tokio::test]
async fn a_denied_authorization_is_refused_and_spends_the_state() {
    let b = bed();
    let user = UserId::new();
    let state = b.start(user).await;
    let e = b
        .service
        .callback(user, &state, None, Some("access_denied"))
        .await
        .unwrap_err();
    assert!(is_invalid(&e, "code"), "{e:?}");
    assert!(e.to_string().contains("access_denied"), "{e}");
    assert!(b.fake.completed.lock().unwrap().is_empty());
    assert!(b.store.list_connections(user).await.unwrap().is_empty());
    let e = b
        .service
        .callback(user, &state, Some("code"), None)
        .await
        .unwrap_err();
    assert!(is_invalid(&e, "state"), "{e:?}");
}

#[tokio::test]
async fn a_callback_without_code_or_with_a_refused_code_saves_nothing() {
    let b = bed();
    let user = UserId::new();
    for code in [None, Some(""), Some("  ")] {
        let state = b.start(user).await;
        let e = b
            .service
            .callback(user, &state, code, None)
            .await
            .unwrap_err();
        assert!(is_invalid(&e, "code"), "{e:?}");
    }
    let state = b.start(user).await;
    let e = b
        .service
        .callback(user, &state, Some("bad"), None)
        .await
        .unwrap_err();
    assert!(is_invalid(&e, "code"), "{e:?}");
    assert!(b.store.list_connections(user).await.unwrap().is_empty());
}

#[tokio::test]
async fn another_users_state_is_refused() {
    let b = bed();
    let (alice, mallory) = (UserId::new(), UserId::new());
    let state = b.start(alice).await;
    let e = b
        .service
        .callback(mallory, &state, Some("code"), None)
        .await
        .unwrap_err();
    assert!(is_invalid(&e, "state"), "{e:?}");
    assert!(b.fake.completed.lock().unwrap().is_empty());
    assert!(b.store.list_connections(mallory).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unconfigured_platform_is_invalid_input() {
    let b = bed();
    let user = UserId::new();
    let e = b
        .service
        .start(user, Platform::Twitter, &AuthorizeOptions::default())
        .await
        .unwrap_err();
    assert!(is_invalid(&e, "platform"), "{e:?}");
    let e = b
        .service
        .login(
            user,
            Platform::Bluesky,
            "alice.test",
            &Secret::new("app-password".into()),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(is_invalid(&e, "platform"), "{e:?}");
    assert_eq!(b.service.platforms(), vec![Platform::Linkedin]);
}

#[tokio::test]
async fn password_login_is_unsupported_by_an_oauth_connector() {
    let b = bed();
    let e = b
        .service
        .login(
            UserId::new(),
            Platform::Linkedin,
            "someone",
            &Secret::new("pw".into()),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn reconnecting_replaces_tokens_in_place_and_keeps_the_refresh_token_when_none_comes() {
    let b = bed();
    let user = UserId::new();
    let state = b.start(user).await;
    let first = b
        .service
        .callback(user, &state, Some("c1"), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.status, ConnectionStatus::Active);
    let first_refresh = b.plain(first.refresh_token.as_ref().unwrap());

    // Reconnect: the platform issues only a new (expiring) access token.
    b.fake.grant(Grant {
        account: "member-1",
        refresh: false,
        expires: true,
    });
    let state = b.start(user).await;
    let second = b
        .service
        .callback(user, &state, Some("c2"), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.id, first.id);
    assert!(second.version > first.version);
    assert_ne!(b.plain(&second.access_token), b.plain(&first.access_token));
    assert_eq!(
        b.plain(second.refresh_token.as_ref().unwrap()),
        first_refresh,
        "the old refresh token is not wiped"
    );
    // Metadata is merged.
    assert!(second.metadata["n"].as_u64() > first.metadata["n"].as_u64());

    // A non-expiring token replaces a refreshable one entirely.
    b.fake.grant(Grant {
        account: "member-1",
        refresh: false,
        expires: false,
    });
    let state = b.start(user).await;
    let third = b
        .service
        .callback(user, &state, Some("c3"), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(third.id, first.id);
    assert!(third.refresh_token.is_none());
    assert!(third.expires_at.is_none());
    // ... and cannot be refreshed.
    let e = b.service.refresh(user, third.id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(b.store.list_connections(user).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_reconnect_revives_a_connection_that_needed_reauth() {
    let b = bed();
    let user = UserId::new();
    let state = b.start(user).await;
    let c = b
        .service
        .callback(user, &state, Some("c1"), None)
        .await
        .unwrap()
        .remove(0);
    let mut dead = b.store.get_connection(c.id).await.unwrap();
    dead.status = ConnectionStatus::NeedsReauth;
    b.store.update_connection(&dead).await.unwrap();
    let state = b.start(user).await;
    let back = b
        .service
        .callback(user, &state, Some("c2"), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(back.id, c.id);
    assert_eq!(back.status, ConnectionStatus::Active);
}

#[tokio::test]
async fn refresh_stores_the_new_pair() {
    let b = bed();
    let user = UserId::new();
    let state = b.start(user).await;
    let c = b
        .service
        .callback(user, &state, Some("c1"), None)
        .await
        .unwrap()
        .remove(0);
    let refreshed = b.service.refresh(user, c.id).await.unwrap();
    assert!(
        b.plain(&refreshed.access_token)
            .starts_with("refreshed-access-")
    );
    let stored = b.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored, refreshed);
    assert_eq!(
        stored.expires_at,
        Some(b.clock.now() + chrono::Duration::seconds(7200))
    );
    let e = b.service.refresh(UserId::new(), c.id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn disconnect_revokes_best_effort_and_keeps_the_encrypted_tokens() {
    let b = bed();
    let user = UserId::new();
    let state = b.start(user).await;
    let c = b
        .service
        .callback(user, &state, Some("c1"), None)
        .await
        .unwrap()
        .remove(0);
    let e = b.service.disconnect(UserId::new(), c.id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(b.fake.revoked.lock().unwrap().is_empty());

    *b.fake.revoke_fails.lock().unwrap() = true;
    let gone = b.service.disconnect(user, c.id).await.unwrap();
    assert_eq!(gone.status, ConnectionStatus::Disconnected);
    let revoked = b.fake.revoked.lock().unwrap().clone();
    assert_eq!(
        revoked,
        vec![(
            b.plain(&c.access_token),
            Some(b.plain(c.refresh_token.as_ref().unwrap()))
        )]
    );
    let stored = b.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Disconnected);
    assert_eq!(stored.access_token, c.access_token);
    assert_eq!(stored.refresh_token, c.refresh_token);
}

/// A store whose first two `list_connections` calls wait for each other, so two saves both
/// find no row and both try to insert.
#[derive(Debug)]
struct Racy {
    inner: Arc<InMemoryStore>,
    barrier: tokio::sync::Barrier,
    held: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl ConnectionStore for Racy {
    async fn insert_connection(&self, connection: &PlatformConnection) -> Result<()> {
        self.inner.insert_connection(connection).await
    }
    async fn get_connection(&self, id: quflux_core::ConnectionId) -> Result<PlatformConnection> {
        self.inner.get_connection(id).await
    }
    async fn update_connection(&self, connection: &PlatformConnection) -> Result<i64> {
        self.inner.update_connection(connection).await
    }
    async fn list_connections(&self, user_id: UserId) -> Result<Vec<PlatformConnection>> {
        let rows = self.inner.list_connections(user_id).await?;
        if self.held.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            self.barrier.wait().await;
        }
        Ok(rows)
    }
    async fn find_active_connection(
        &self,
        user_id: UserId,
        platform: Platform,
    ) -> Result<Option<PlatformConnection>> {
        self.inner.find_active_connection(user_id, platform).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_saves_of_one_account_both_succeed_on_one_row() {
    let clock = Arc::new(ManualClock::new(
        "2026-03-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap(),
    ));
    let inner = Arc::new(InMemoryStore::new());
    let store = Arc::new(Racy {
        inner: inner.clone(),
        barrier: tokio::sync::Barrier::new(2),
        held: std::sync::atomic::AtomicUsize::new(0),
    });
    let cipher: Arc<dyn TokenCipher> = Arc::new(AesGcmCipher::random("k1"));
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        cipher.clone(),
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone()),
        clock.clone(),
    ));
    let service = ConnectionService::new(tokens, Arc::new(InMemoryCache::with_clock(clock)));
    let user = UserId::new();
    let account = |n: u32| ConnectedAccount {
        platform: Platform::Linkedin,
        platform_user_id: "member-1".into(),
        username: "member-1-name".into(),
        tokens: TokenSet {
            access_token: Secret::new(format!("access-{n}")),
            refresh_token: Some(Secret::new(format!("refresh-{n}"))),
            expires_in: Some(Duration::from_secs(3600)),
            scopes: Vec::new(),
        },
        metadata: json!({}),
    };
    let (a, b) = tokio::join!(
        service.save(user, vec![account(1)]),
        service.save(user, vec![account(2)])
    );
    // The save that lost the insert race updates the winner's row instead of failing.
    let (a, b) = (a.unwrap(), b.unwrap());
    let rows = inner.list_connections(user).await.unwrap();
    assert_eq!(rows.len(), 1, "one row per account: {rows:#?}");
    let row = &rows[0];
    assert_eq!(row.status, ConnectionStatus::Active);
    assert_eq!(a[0].id, row.id);
    assert_eq!(b[0].id, row.id);
    // The row holds the pair of whichever save wrote last, and that save returned it.
    let plain = cipher.decrypt(&row.access_token).unwrap();
    let last = if a[0].version == row.version {
        &a[0]
    } else {
        &b[0]
    };
    assert_eq!(last.version, row.version);
    assert_eq!(
        cipher.decrypt(&last.access_token).unwrap().expose(),
        plain.expose()
    );
    // A later save (reconnect) updates that row in place.
    let again = service.save(user, vec![account(3)]).await.unwrap();
    assert_eq!(again[0].id, row.id);
}
