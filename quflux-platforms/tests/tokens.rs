//! The token state machine (`common::tokens::TokenManager`) against a scripted refresher, on the
//! in-memory store and on SQLite: refresh ahead of expiry, persist before use, one refresh per
//! connection across "processes", lock take-over, refused and failing refreshes, no secret in
//! `Debug`.
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{InMemoryStore, ManualClock, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::{
    Clock, ConnectionId, ConnectionStatus, ConnectionStore, Error, ErrorKind, Platform,
    PlatformConnection, Result, Secret, TokenCipher, User, UserId, UserStore,
};
use quflux_platforms::common::oauth::{ClientAuth, OAuthApp, TokenSet};
use quflux_platforms::common::tokens::{
    Credentials, REFRESH_LOCK_KEY, TokenManager, TokenPolicy, TokenRefresher, lock_of,
};
use serde_json::json;

/// What the scripted platform answers to one refresh.
#[derive(Debug, Clone)]
enum Answer {
    /// A new pair `access-N` / `refresh-N`, valid one hour.
    NewPair,
    /// A new access token only (the platform keeps the refresh token).
    AccessOnly,
    /// `invalid_grant`: the refresh token is spent or revoked.
    Refused,
    /// The token endpoint is down.
    Down,
}

/// The store, the cipher and the access token the store must still hold during a refresh.
type Watch = (Arc<dyn ConnectionStore>, Arc<dyn TokenCipher>, String);

/// A scripted platform token endpoint that counts calls and checks, at the moment it is
/// called, that the store still holds the old pair and that the refresh lock is taken.
#[derive(Debug)]
struct Scripted {
    calls: AtomicUsize,
    script: Mutex<VecDeque<Answer>>,
    otherwise: Answer,
    delay: Duration,
    watch: Option<Watch>,
    seen_refresh_tokens: Mutex<Vec<String>>,
    /// Advances this clock by this much at the start of every call (a slow platform).
    tick: Option<(Arc<ManualClock>, Duration)>,
}

impl Scripted {
    fn new(otherwise: Answer) -> Self {
        Self {
            calls: AtomicUsize::new(0),
            script: Mutex::new(VecDeque::new()),
            otherwise,
            delay: Duration::ZERO,
            watch: None,
            seen_refresh_tokens: Mutex::new(Vec::new()),
            tick: None,
        }
    }

    fn ticking(mut self, clock: Arc<ManualClock>, by: Duration) -> Self {
        self.tick = Some((clock, by));
        self
    }

    fn then(self, answers: impl IntoIterator<Item = Answer>) -> Self {
        self.script.lock().unwrap().extend(answers);
        self
    }

    fn slow(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Checks on every call that `store` still holds `old_access` and the lock marker.
    fn watching(
        mut self,
        store: Arc<dyn ConnectionStore>,
        cipher: Arc<dyn TokenCipher>,
        old_access: &str,
    ) -> Self {
        self.watch = Some((store, cipher, old_access.to_owned()));
        self
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenRefresher for Scripted {
    async fn refresh_tokens(
        &self,
        connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((clock, by)) = &self.tick {
            clock.advance(*by);
        }
        self.seen_refresh_tokens
            .lock()
            .unwrap()
            .push(refresh_token.expose().clone());
        if let Some((store, cipher, old)) = &self.watch {
            let stored = store.get_connection(connection.id).await.unwrap();
            assert_eq!(
                cipher.decrypt(&stored.access_token).unwrap().expose(),
                old,
                "the new pair must not be stored before the platform answered"
            );
            assert!(
                lock_of(&stored).is_some(),
                "the refresh lock must be held while refreshing"
            );
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.otherwise.clone());
        match answer {
            Answer::NewPair => Ok(TokenSet {
                access_token: Secret::new(format!("access-{n}")),
                refresh_token: Some(Secret::new(format!("refresh-{n}"))),
                expires_in: Some(Duration::from_secs(3600)),
                scopes: vec!["posts.write".into()],
            }),
            Answer::AccessOnly => Ok(TokenSet {
                access_token: Secret::new(format!("access-{n}")),
                refresh_token: None,
                expires_in: Some(Duration::from_secs(3600)),
                scopes: Vec::new(),
            }),
            Answer::Refused => Err(Error::AuthExpired {
                service: "test",
                source: Some("invalid_grant".into()),
            }),
            Answer::Down => Err(Error::transient("test", "token endpoint unavailable")),
        }
    }
}

struct Bed {
    store: Arc<dyn ConnectionStore>,
    cipher: Arc<dyn TokenCipher>,
    clock: Arc<ManualClock>,
    notifier: Arc<RecordingNotifier>,
}

impl Bed {
    fn memory() -> Self {
        Self::on(Arc::new(InMemoryStore::new()))
    }

    fn on(store: Arc<dyn ConnectionStore>) -> Self {
        Self {
            store,
            cipher: Arc::new(AesGcmCipher::random("k1")),
            clock: Arc::new(ManualClock::new(
                "2026-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            )),
            notifier: Arc::new(RecordingNotifier::new()),
        }
    }

    /// A manager, as one worker process would build it.
    fn manager(&self) -> Arc<TokenManager> {
        let notifications = NotificationService::new(
            vec![self.notifier.clone() as Arc<dyn quflux_core::Notifier>],
            self.clock.clone(),
        );
        Arc::new(
            TokenManager::new(
                self.store.clone(),
                self.cipher.clone(),
                notifications,
                self.clock.clone(),
            )
            .with_policy(TokenPolicy {
                refresh_margin: Duration::from_secs(300),
                lock_ttl: Duration::from_secs(30),
                poll: Duration::from_millis(5),
                refresh_attempts: 3,
                persist_patience: Duration::from_secs(30),
            }),
        )
    }

    /// Inserts an active connection whose token expires in `expires_in` seconds.
    async fn connection(&self, user_id: UserId, expires_in: i64) -> PlatformConnection {
        let now = self.clock.now();
        let c = PlatformConnection {
            id: ConnectionId::new(),
            user_id,
            platform: Platform::Twitter,
            platform_user_id: "12345".into(),
            platform_username: "quflux".into(),
            access_token: self
                .cipher
                .encrypt(&Secret::new("access-0".into()))
                .unwrap(),
            refresh_token: Some(
                self.cipher
                    .encrypt(&Secret::new("refresh-0".into()))
                    .unwrap(),
            ),
            expires_at: Some(now + chrono::Duration::seconds(expires_in)),
            scopes: vec!["posts.write".into()],
            status: ConnectionStatus::Active,
            metadata: json!({}),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_connection(&c).await.unwrap();
        c
    }

    async fn stored(&self, id: ConnectionId) -> PlatformConnection {
        self.store.get_connection(id).await.unwrap()
    }

    fn plain(&self, token: &quflux_core::EncryptedToken) -> String {
        self.cipher.decrypt(token).unwrap().expose().clone()
    }
}

#[tokio::test]
async fn a_valid_token_is_used_without_refresh() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 3600).await;
    let refresher = Scripted::new(Answer::NewPair);
    let creds = bed.manager().access_token(&c, &refresher).await.unwrap();
    assert_eq!(creds.access_token.expose(), "access-0");
    assert_eq!(refresher.calls(), 0);
    assert_eq!(bed.stored(c.id).await.version, 1, "nothing was written");
}

async fn expiring_token_is_refreshed_once_and_stored_before_use(bed: Bed) {
    let c = bed.connection(UserId::new(), 60).await;
    let refresher =
        Scripted::new(Answer::NewPair).watching(bed.store.clone(), bed.cipher.clone(), "access-0");
    let creds = bed.manager().access_token(&c, &refresher).await.unwrap();
    assert_eq!(refresher.calls(), 1);
    assert_eq!(creds.access_token.expose(), "access-1");
    assert_eq!(
        refresher.seen_refresh_tokens.lock().unwrap().as_slice(),
        ["refresh-0"]
    );
    let stored = bed.stored(c.id).await;
    // Stored (encrypted) by the time access_token returned.
    assert_eq!(bed.plain(&stored.access_token), "access-1");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-1"
    );
    assert!(!stored.access_token.ciphertext.contains("access-1"));
    assert_eq!(
        stored.expires_at,
        Some(bed.clock.now() + chrono::Duration::seconds(3600))
    );
    assert!(lock_of(&stored).is_none(), "the lock is released");
    assert!(stored.metadata.get(REFRESH_LOCK_KEY).is_none());
    assert_eq!(creds.connection.version, stored.version);
    // Used as is afterwards.
    let again = bed
        .manager()
        .access_token(&stored, &refresher)
        .await
        .unwrap();
    assert_eq!(again.access_token.expose(), "access-1");
    assert_eq!(refresher.calls(), 1);
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_once_and_stored_before_use() {
    expiring_token_is_refreshed_once_and_stored_before_use(Bed::memory()).await;
}

async fn sqlite_bed() -> (Bed, UserId) {
    let store = Arc::new(
        quflux_store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap(),
    );
    let user = User::new("tokens@example.test", "Europe/Paris", Utc::now());
    store.insert_user(&user).await.unwrap();
    (Bed::on(store), user.id)
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_once_and_stored_before_use_on_sqlite() {
    let (bed, user) = sqlite_bed().await;
    let c = bed.connection(user, 60).await;
    let refresher =
        Scripted::new(Answer::NewPair).watching(bed.store.clone(), bed.cipher.clone(), "access-0");
    let creds = bed.manager().access_token(&c, &refresher).await.unwrap();
    assert_eq!(creds.access_token.expose(), "access-1");
    assert_eq!(refresher.calls(), 1);
    let stored = bed.stored(c.id).await;
    assert_eq!(bed.plain(&stored.access_token), "access-1");
    assert!(lock_of(&stored).is_none());
}

async fn twenty_callers_in_two_processes_refresh_once(bed: Bed, user: UserId) {
    let c = bed.connection(user, 10).await;
    let refresher = Arc::new(Scripted::new(Answer::NewPair).slow(Duration::from_millis(100)));
    // Two managers = two worker processes sharing one database.
    let managers = [bed.manager(), bed.manager()];
    let mut tasks = Vec::new();
    for i in 0..20 {
        let m = managers[i % 2].clone();
        let r = refresher.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(
            async move { m.access_token(&c, r.as_ref()).await },
        ));
    }
    for t in tasks {
        let creds: Credentials = t.await.unwrap().unwrap();
        assert_eq!(creds.access_token.expose(), "access-1");
    }
    assert_eq!(refresher.calls(), 1, "one refresh for twenty callers");
    let stored = bed.stored(c.id).await;
    assert_eq!(bed.plain(&stored.access_token), "access-1");
    assert!(lock_of(&stored).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_callers_in_two_processes_refresh_once() {
    twenty_callers_in_two_processes_refresh_once(Bed::memory(), UserId::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_callers_in_two_processes_refresh_once_on_sqlite() {
    let (bed, user) = sqlite_bed().await;
    twenty_callers_in_two_processes_refresh_once(bed, user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lock_is_taken_over_after_lock_ttl() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    // A process took the lock and died.
    let mut locked = bed.stored(c.id).await;
    locked.metadata = json!({REFRESH_LOCK_KEY: {
        "holder": "dead-process",
        "until": (bed.clock.now() + chrono::Duration::seconds(30)).to_rfc3339(),
    }});
    bed.store.update_connection(&locked).await.unwrap();

    let refresher = Arc::new(Scripted::new(Answer::NewPair));
    let m = bed.manager();
    let task = {
        let r = refresher.clone();
        let c = c.clone();
        tokio::spawn(async move { m.access_token(&c, r.as_ref()).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(refresher.calls(), 0, "a live lock is honoured");
    assert!(!task.is_finished());
    bed.clock.advance(Duration::from_secs(31));
    let creds = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the expired lock is taken over")
        .unwrap()
        .unwrap();
    assert_eq!(creds.access_token.expose(), "access-1");
    assert_eq!(refresher.calls(), 1);
    assert!(lock_of(&bed.stored(c.id).await).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_refresh_marks_needs_reauth_and_notifies_once() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 10).await;
    let refresher = Arc::new(Scripted::new(Answer::Refused).slow(Duration::from_millis(50)));
    let managers = [bed.manager(), bed.manager()];
    let mut tasks = Vec::new();
    for i in 0..10 {
        let m = managers[i % 2].clone();
        let r = refresher.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(
            async move { m.access_token(&c, r.as_ref()).await },
        ));
    }
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AuthExpired, "{e:?}");
    }
    assert_eq!(refresher.calls(), 1, "a refused token is presented once");
    let stored = bed.stored(c.id).await;
    assert_eq!(stored.status, ConnectionStatus::NeedsReauth);
    // Nothing is wiped.
    assert_eq!(bed.plain(&stored.access_token), "access-0");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-0"
    );
    assert!(lock_of(&stored).is_none());
    let sent = bed.notifier.notifications();
    assert_eq!(sent.len(), 1, "exactly one notification: {sent:?}");
    assert_eq!(sent[0].connection_id, Some(c.id));
    assert_eq!(sent[0].user_id, c.user_id);
}

#[tokio::test]
async fn a_transient_failure_is_retried() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    let refresher = Scripted::new(Answer::NewPair).then([Answer::Down, Answer::Down]);
    let creds = bed.manager().access_token(&c, &refresher).await.unwrap();
    assert_eq!(refresher.calls(), 3);
    assert_eq!(creds.access_token.expose(), "access-3");
    assert_eq!(bed.plain(&bed.stored(c.id).await.access_token), "access-3");
}

#[tokio::test]
async fn a_failing_refresh_falls_back_to_the_still_valid_token() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    let refresher = Scripted::new(Answer::Down);
    let creds = bed.manager().access_token(&c, &refresher).await.unwrap();
    assert_eq!(refresher.calls(), 3, "every attempt was made");
    assert_eq!(creds.access_token.expose(), "access-0");
    let stored = bed.stored(c.id).await;
    assert_eq!(stored.status, ConnectionStatus::Active);
    assert!(lock_of(&stored).is_none(), "the lock is released");
    assert!(bed.notifier.notifications().is_empty());
}

#[tokio::test]
async fn a_failing_refresh_of_an_expired_token_is_transient() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), -5).await;
    let refresher = Scripted::new(Answer::Down);
    let e = bed
        .manager()
        .access_token(&c, &refresher)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    let stored = bed.stored(c.id).await;
    assert_eq!(stored.status, ConnectionStatus::Active);
    assert!(lock_of(&stored).is_none());
}

#[tokio::test]
async fn the_old_refresh_token_is_kept_when_none_is_issued() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    let refresher = Scripted::new(Answer::AccessOnly);
    let creds = bed.manager().access_token(&c, &refresher).await.unwrap();
    assert_eq!(creds.access_token.expose(), "access-1");
    let stored = bed.stored(c.id).await;
    assert_eq!(bed.plain(&stored.access_token), "access-1");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-0"
    );
    assert_eq!(stored.scopes, vec!["posts.write".to_owned()]);
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_then_the_new_one_is_returned() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 3600).await;
    let refresher = Scripted::new(Answer::NewPair);
    let m = bed.manager();
    let rejected = Secret::new("access-0".to_owned());
    let first = m.after_rejection(&c, &rejected, &refresher).await.unwrap();
    assert_eq!(first.access_token.expose(), "access-1");
    // A second worker that saw the same 401 gets the replacement without a new refresh.
    let second = m.after_rejection(&c, &rejected, &refresher).await.unwrap();
    assert_eq!(second.access_token.expose(), "access-1");
    assert_eq!(refresher.calls(), 1);
}

#[tokio::test]
async fn a_connection_needing_reauth_is_not_refreshed() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 10).await;
    let mut dead = bed.stored(c.id).await;
    dead.status = ConnectionStatus::NeedsReauth;
    bed.store.update_connection(&dead).await.unwrap();
    let refresher = Scripted::new(Answer::NewPair);
    let e = bed
        .manager()
        .access_token(&dead, &refresher)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
    assert_eq!(refresher.calls(), 0);
}

#[tokio::test]
async fn debug_output_holds_no_secret() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 3600).await;
    let creds = bed
        .manager()
        .access_token(&c, &Scripted::new(Answer::NewPair))
        .await
        .unwrap();
    let tokens = TokenSet {
        access_token: Secret::new("plain-access-secret".into()),
        refresh_token: Some(Secret::new("plain-refresh-secret".into())),
        expires_in: Some(Duration::from_secs(60)),
        scopes: vec![],
    };
    let app = OAuthApp {
        service: "test",
        client_id: "client-id".into(),
        client_secret: Some(Secret::new("plain-client-secret".into())),
        authorize_url: "http://127.0.0.1:1/authorize".into(),
        token_url: "http://127.0.0.1:1/token".into(),
        revoke_url: None,
        redirect_url: "http://127.0.0.1:1/callback".into(),
        scopes: vec!["a".into()],
        pkce: true,
        client_auth: ClientAuth::Basic,
        scope_separator: " ",
    };
    let request = app.authorize().unwrap();
    let verifier = request.pkce_verifier.as_ref().unwrap().expose().clone();
    let outputs = [
        format!("{creds:?}"),
        format!("{tokens:?}"),
        format!("{app:?}"),
        format!("{request:?}"),
        format!("{:?}", bed.manager()),
    ];
    for out in &outputs {
        for secret in [
            "access-0",
            "refresh-0",
            "plain-access-secret",
            "plain-refresh-secret",
            "plain-client-secret",
            verifier.as_str(),
        ] {
            assert!(!out.contains(secret), "{secret} leaked in {out}");
        }
    }
    assert!(outputs[2].contains("client-id"));
}

/// Hands out an owned handle, so that the whole refresh runs in a detached task.
#[derive(Debug)]
struct Owned(Arc<Scripted>);

#[async_trait]
impl TokenRefresher for Owned {
    async fn refresh_tokens(
        &self,
        connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        self.0.refresh_tokens(connection, refresh_token).await
    }

    fn shared(&self) -> Option<Arc<dyn TokenRefresher>> {
        Some(Arc::new(Owned(self.0.clone())))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_caller_does_not_lose_the_rotated_pair() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    let scripted = Arc::new(Scripted::new(Answer::NewPair).slow(Duration::from_millis(200)));
    let refresher = Owned(scripted.clone());
    let m = bed.manager();
    // The publish timeout drops the caller while the refresh request is in flight.
    let cut = tokio::time::timeout(Duration::from_millis(50), m.access_token(&c, &refresher)).await;
    assert!(cut.is_err(), "the caller was cancelled mid-refresh");
    // The detached refresh still stores the rotated pair and releases the lock.
    let mut stored = bed.stored(c.id).await;
    for _ in 0..100 {
        if lock_of(&stored).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored = bed.stored(c.id).await;
    }
    assert!(lock_of(&stored).is_none(), "the lock is released");
    assert_eq!(bed.plain(&stored.access_token), "access-1");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-1"
    );
    let creds = m.access_token(&c, &refresher).await.unwrap();
    assert_eq!(creds.access_token.expose(), "access-1");
    assert_eq!(
        scripted.calls(),
        1,
        "the spent refresh token is never presented again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_left_by_a_cancelled_caller_of_the_same_process_is_waited_for() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    let scripted = Scripted::new(Answer::NewPair).slow(Duration::from_millis(200));
    let m = bed.manager();
    let cut = tokio::time::timeout(Duration::from_millis(50), m.access_token(&c, &scripted)).await;
    assert!(cut.is_err(), "the caller was cancelled mid-refresh");
    assert!(
        lock_of(&bed.stored(c.id).await).is_some(),
        "the cancelled refresh left its lock (its exchange may have gone out)"
    );
    // The same process must not go ahead with the refresh token that may be spent.
    let again =
        tokio::time::timeout(Duration::from_millis(300), m.access_token(&c, &scripted)).await;
    assert!(again.is_err(), "the live lock is waited for: {again:?}");
    assert_eq!(scripted.calls(), 1);
    assert_eq!(
        scripted.seen_refresh_tokens.lock().unwrap().as_slice(),
        ["refresh-0"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lock_is_renewed_so_a_long_refresh_is_not_taken_over() {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    // Every attempt takes 15 s of the 30 s lock: three attempts outlast one lock period.
    let refresher = Arc::new(
        Scripted::new(Answer::NewPair)
            .then([Answer::Down, Answer::Down])
            .slow(Duration::from_millis(100))
            .ticking(bed.clock.clone(), Duration::from_secs(15)),
    );
    let (a, b) = (bed.manager(), bed.manager());
    let first = {
        let (r, c) = (refresher.clone(), c.clone());
        tokio::spawn(async move { a.access_token(&c, r.as_ref()).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Another process needs the token meanwhile.
    let second = {
        let (r, c) = (refresher.clone(), c.clone());
        tokio::spawn(async move { b.access_token(&c, r.as_ref()).await })
    };
    for t in [first, second] {
        assert_eq!(t.await.unwrap().unwrap().access_token.expose(), "access-3");
    }
    assert_eq!(refresher.calls(), 3, "only the holder called the platform");
    assert_eq!(
        refresher.seen_refresh_tokens.lock().unwrap().as_slice(),
        ["refresh-0", "refresh-0", "refresh-0"]
    );
    assert!(lock_of(&bed.stored(c.id).await).is_none());
}

#[test]
fn the_default_lock_outlives_an_attempt() {
    // One attempt can take the HTTP timeout (30 s) plus the backoff before the next renewal.
    let policy = TokenPolicy::default();
    assert!(policy.lock_ttl >= Duration::from_secs(60), "{policy:?}");
}

/// What happens to the row while our refresh request is in flight.
#[derive(Debug, Clone, Copy)]
enum Meddle {
    /// Another process took over the (expired) lock, refreshed and stored its pair.
    RefreshedElsewhere,
    /// Another process presented the refresh token we had already spent and marked the
    /// connection `needs_reauth`; its lock expired.
    MarkedNeedsReauth,
}

#[derive(Debug)]
struct Interloper {
    store: Arc<dyn ConnectionStore>,
    cipher: Arc<dyn TokenCipher>,
    clock: Arc<ManualClock>,
    meddle: Meddle,
    answer: Answer,
}

#[async_trait]
impl TokenRefresher for Interloper {
    async fn refresh_tokens(
        &self,
        connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        let mut row = self.store.get_connection(connection.id).await.unwrap();
        let now = self.clock.now();
        match self.meddle {
            Meddle::RefreshedElsewhere => {
                row.access_token = self
                    .cipher
                    .encrypt(&Secret::new("access-other".into()))
                    .unwrap();
                row.refresh_token = Some(
                    self.cipher
                        .encrypt(&Secret::new("refresh-other".into()))
                        .unwrap(),
                );
                row.expires_at = Some(now + chrono::Duration::hours(1));
                row.metadata = json!({});
            }
            Meddle::MarkedNeedsReauth => {
                row.status = ConnectionStatus::NeedsReauth;
                row.metadata = json!({REFRESH_LOCK_KEY: {
                    "holder": "other-process",
                    "until": (now - chrono::Duration::seconds(1)).to_rfc3339(),
                }});
            }
        }
        self.store.update_connection(&row).await.unwrap();
        match self.answer {
            Answer::Refused => Err(Error::AuthExpired {
                service: "test",
                source: Some("invalid_request: token already used".into()),
            }),
            _ => Ok(TokenSet {
                access_token: Secret::new("access-1".into()),
                refresh_token: Some(Secret::new("refresh-1".into())),
                expires_in: Some(Duration::from_secs(3600)),
                scopes: Vec::new(),
            }),
        }
    }
}

async fn meddled(meddle: Meddle, answer: Answer) -> (Bed, Result<Credentials>, PlatformConnection) {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    let refresher = Interloper {
        store: bed.store.clone(),
        cipher: bed.cipher.clone(),
        clock: bed.clock.clone(),
        meddle,
        answer,
    };
    let result = bed.manager().access_token(&c, &refresher).await;
    let stored = bed.stored(c.id).await;
    (bed, result, stored)
}

#[tokio::test]
async fn a_refusal_after_someone_else_refreshed_does_not_mark_needs_reauth() {
    let (bed, result, stored) = meddled(Meddle::RefreshedElsewhere, Answer::Refused).await;
    assert_eq!(result.unwrap().access_token.expose(), "access-other");
    assert_eq!(stored.status, ConnectionStatus::Active);
    assert_eq!(bed.plain(&stored.access_token), "access-other");
    assert!(bed.notifier.notifications().is_empty());
}

#[tokio::test]
async fn a_pair_obtained_after_losing_the_lock_does_not_overwrite_a_newer_one() {
    let (bed, result, stored) = meddled(Meddle::RefreshedElsewhere, Answer::NewPair).await;
    assert_eq!(result.unwrap().access_token.expose(), "access-other");
    assert_eq!(bed.plain(&stored.access_token), "access-other");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-other"
    );
    assert_eq!(stored.status, ConnectionStatus::Active);
}

#[tokio::test]
async fn a_valid_pair_revives_a_connection_marked_by_a_reuse_of_the_spent_token() {
    let (bed, result, stored) = meddled(Meddle::MarkedNeedsReauth, Answer::NewPair).await;
    assert_eq!(result.unwrap().access_token.expose(), "access-1");
    assert_eq!(bed.plain(&stored.access_token), "access-1");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-1"
    );
    assert_eq!(
        stored.status,
        ConnectionStatus::Active,
        "valid tokens must not sit on a needs_reauth row"
    );
}

/// A store that refuses the next `fail` updates (a database outage).
#[derive(Debug, Default)]
struct Flaky {
    inner: InMemoryStore,
    fail: AtomicUsize,
}

#[async_trait]
impl ConnectionStore for Flaky {
    async fn insert_connection(&self, connection: &PlatformConnection) -> Result<()> {
        self.inner.insert_connection(connection).await
    }
    async fn get_connection(&self, id: ConnectionId) -> Result<PlatformConnection> {
        self.inner.get_connection(id).await
    }
    async fn update_connection(&self, connection: &PlatformConnection) -> Result<i64> {
        let down = self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if down {
            return Err(Error::transient("store", "database unavailable"));
        }
        self.inner.update_connection(connection).await
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

/// Rotates the pair, then the store goes down for `failures` writes.
#[derive(Debug)]
struct ThenStoreDown {
    store: Arc<Flaky>,
    failures: usize,
}

#[async_trait]
impl TokenRefresher for ThenStoreDown {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        self.store.fail.store(self.failures, Ordering::SeqCst);
        Ok(TokenSet {
            access_token: Secret::new("access-1".into()),
            refresh_token: Some(Secret::new("refresh-1".into())),
            expires_in: Some(Duration::from_secs(3600)),
            scopes: Vec::new(),
        })
    }
}

#[tokio::test]
async fn a_refreshed_pair_is_kept_until_the_store_takes_it() {
    let store = Arc::new(Flaky::default());
    let bed = Bed::on(store.clone());
    let c = bed.connection(UserId::new(), 60).await;
    let refresher = ThenStoreDown {
        store: store.clone(),
        failures: 6,
    };
    let creds = bed.manager().access_token(&c, &refresher).await.unwrap();
    assert_eq!(creds.access_token.expose(), "access-1");
    assert_eq!(
        store.fail.load(Ordering::SeqCst),
        0,
        "the outage was sat out"
    );
    let stored = bed.stored(c.id).await;
    assert_eq!(bed.plain(&stored.access_token), "access-1");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-1"
    );
    assert!(lock_of(&stored).is_none());
}

#[tokio::test]
async fn an_undecryptable_refresh_token_leaves_no_lock_behind() {
    let bed = Bed::memory();
    let mut c = bed.connection(UserId::new(), 60).await;
    // Encrypted under a key this process does not have (a key rotation gone wrong).
    c.refresh_token = Some(
        AesGcmCipher::random("k2")
            .encrypt(&Secret::new("refresh-0".into()))
            .unwrap(),
    );
    c.version = bed.store.update_connection(&c).await.unwrap();
    let refresher = Scripted::new(Answer::NewPair);
    assert!(bed.manager().access_token(&c, &refresher).await.is_err());
    assert_eq!(refresher.calls(), 0);
    assert!(
        lock_of(&bed.stored(c.id).await).is_none(),
        "a refresh that could not start must not block the connection for lock_ttl"
    );
}

/// While our refresh request is in flight, the user reconnects the account: the connect flow
/// stores a new pair and keeps the row's metadata (our lock included).
#[derive(Debug)]
struct Reconnect {
    store: Arc<dyn ConnectionStore>,
    cipher: Arc<dyn TokenCipher>,
    clock: Arc<ManualClock>,
    answer: Answer,
    calls: AtomicUsize,
}

#[async_trait]
impl TokenRefresher for Reconnect {
    async fn refresh_tokens(
        &self,
        connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut row = self.store.get_connection(connection.id).await.unwrap();
        row.access_token = self
            .cipher
            .encrypt(&Secret::new("access-reconnected".into()))
            .unwrap();
        row.refresh_token = Some(
            self.cipher
                .encrypt(&Secret::new("refresh-reconnected".into()))
                .unwrap(),
        );
        row.expires_at = Some(self.clock.now() + chrono::Duration::hours(2));
        row.scopes = vec!["posts.write".into(), "media.write".into()];
        self.store.update_connection(&row).await.unwrap();
        match self.answer {
            Answer::Down => Err(Error::transient("test", "token endpoint unavailable")),
            _ => Ok(TokenSet {
                access_token: Secret::new("access-1".into()),
                refresh_token: Some(Secret::new("refresh-1".into())),
                expires_in: Some(Duration::from_secs(3600)),
                scopes: vec!["posts.write".into()],
            }),
        }
    }
}

async fn reconnected(answer: Answer) -> (Bed, Result<Credentials>, PlatformConnection, usize) {
    let bed = Bed::memory();
    let c = bed.connection(UserId::new(), 60).await;
    let refresher = Reconnect {
        store: bed.store.clone(),
        cipher: bed.cipher.clone(),
        clock: bed.clock.clone(),
        answer,
        calls: AtomicUsize::new(0),
    };
    let result = bed.manager().access_token(&c, &refresher).await;
    let stored = bed.stored(c.id).await;
    let calls = refresher.calls.load(Ordering::SeqCst);
    (bed, result, stored, calls)
}

#[tokio::test]
async fn a_reconnect_during_a_failing_refresh_leaves_no_lock_behind() {
    let (bed, result, stored, calls) = reconnected(Answer::Down).await;
    assert_eq!(
        calls, 1,
        "the replaced refresh token is not presented again"
    );
    assert_eq!(result.unwrap().access_token.expose(), "access-reconnected");
    assert_eq!(bed.plain(&stored.access_token), "access-reconnected");
    assert!(lock_of(&stored).is_none(), "our lock is released");
}

#[tokio::test]
async fn a_pair_refreshed_from_the_old_grant_does_not_overwrite_a_reconnect() {
    let (bed, result, stored, calls) = reconnected(Answer::NewPair).await;
    assert_eq!(calls, 1);
    assert_eq!(result.unwrap().access_token.expose(), "access-reconnected");
    assert_eq!(bed.plain(&stored.access_token), "access-reconnected");
    assert_eq!(
        bed.plain(stored.refresh_token.as_ref().unwrap()),
        "refresh-reconnected"
    );
    assert_eq!(stored.scopes, ["posts.write", "media.write"]);
    assert!(lock_of(&stored).is_none(), "our lock is released");
}

/// A store in which the user reconnects (a new, non-expiring token) just before the first
/// write that marks the connection `needs_reauth`.
#[derive(Debug)]
struct ReconnectBeforeMark {
    inner: InMemoryStore,
    cipher: Arc<dyn TokenCipher>,
    done: AtomicUsize,
}

#[async_trait]
impl ConnectionStore for ReconnectBeforeMark {
    async fn insert_connection(&self, connection: &PlatformConnection) -> Result<()> {
        self.inner.insert_connection(connection).await
    }
    async fn get_connection(&self, id: ConnectionId) -> Result<PlatformConnection> {
        self.inner.get_connection(id).await
    }
    async fn update_connection(&self, connection: &PlatformConnection) -> Result<i64> {
        if connection.status == ConnectionStatus::NeedsReauth
            && self.done.fetch_add(1, Ordering::SeqCst) == 0
        {
            let mut row = self.inner.get_connection(connection.id).await?;
            row.access_token = self
                .cipher
                .encrypt(&Secret::new("access-reconnected".into()))
                .unwrap();
            self.inner.update_connection(&row).await?;
        }
        self.inner.update_connection(connection).await
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

#[tokio::test]
async fn a_rejection_does_not_mark_a_connection_reconnected_meanwhile() {
    let cipher: Arc<dyn TokenCipher> = Arc::new(AesGcmCipher::random("k1"));
    let store = Arc::new(ReconnectBeforeMark {
        inner: InMemoryStore::new(),
        cipher: cipher.clone(),
        done: AtomicUsize::new(0),
    });
    let mut bed = Bed::on(store.clone());
    bed.cipher = cipher;
    let mut c = bed.connection(UserId::new(), 3600).await;
    c.refresh_token = None;
    c.expires_at = None;
    c.version = bed.store.update_connection(&c).await.unwrap();
    let rejected = Secret::new("access-0".to_owned());
    let refresher = Scripted::new(Answer::NewPair);
    let creds = bed
        .manager()
        .after_rejection(&c, &rejected, &refresher)
        .await
        .unwrap();
    assert_eq!(creds.access_token.expose(), "access-reconnected");
    assert_eq!(bed.stored(c.id).await.status, ConnectionStatus::Active);
    assert!(bed.notifier.notifications().is_empty());
}
