//! The Mastodon adapter against the stand-in instance: the platform contract suite, the
//! `Idempotency-Key`, lookups (bounded by the first send, against Mastodon's status HTML),
//! instance limits, content warnings, media processing, rate limits, connecting through
//! `ConnectionService` to two instances, and app registrations racing across processes.
#![cfg(all(feature = "mastodon", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{InMemoryCache, InMemoryStore, ManualClock, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::testkit::fixtures::{connection_for, publish_request};
use quflux_core::testkit::standin::{Fault, StandIn, StandInPost, png_media, run_contract};
use quflux_core::{
    Cache, Clock, ConnectionStatus, ConnectionStore, ErrorKind, Lookup, Platform,
    PlatformConnection, PublishRequest, Publisher, Secret, TokenCipher, UserId,
};
use quflux_platforms::common::{AuthorizeOptions, ConnectionService, HttpConfig, TokenManager};
use quflux_platforms::mastodon::{MastodonConfig, MastodonConnector, MastodonPublisher};
use quflux_platforms::standin::mastodon::{self, MastodonFault, MastodonStandIn};

/// The stand-in seen through the core contract suite's trait.
///
/// `reset` also lets ten minutes pass on the publisher's clock, so the rate budget a
/// throttling scenario spent frees like the stand-in's window does.
struct Adapter<'a>(&'a MastodonStandIn, &'a ManualClock);

#[async_trait]
impl StandIn for Adapter<'_> {
    async fn inject(&self, fault: Fault) -> bool {
        let fault = match fault {
            Fault::RateLimited => MastodonFault::RateLimited,
            Fault::ExpiredToken => MastodonFault::ExpiredToken,
            // Mastodon has no duplicate detection.
            Fault::Duplicate => return false,
            Fault::InvalidContent => MastodonFault::InvalidContent,
            Fault::ServerError => MastodonFault::ServerError,
            Fault::TimeoutAfterCreate => MastodonFault::TimeoutAfterCreate,
        };
        self.0.inject_fault(fault);
        true
    }

    async fn posts(&self) -> Vec<StandInPost> {
        self.0
            .posts()
            .into_iter()
            .map(|p| StandInPost {
                id: p.id,
                text: p.text,
                reply_to: p.reply_to,
                media_alt: p.media_alt,
            })
            .collect()
    }

    async fn reset(&self) {
        self.0.reset();
        self.1.advance(Duration::from_secs(600));
    }
}

struct Env {
    standin: MastodonStandIn,
    store: Arc<InMemoryStore>,
    cache: Arc<InMemoryCache>,
    tokens: Arc<TokenManager>,
    notifier: Arc<RecordingNotifier>,
    clock: Arc<ManualClock>,
    publisher: MastodonPublisher,
    config: MastodonConfig,
}

fn config(instance: &str) -> MastodonConfig {
    MastodonConfig::default()
        .with_instance(instance)
        .with_redirect_url("https://app.example/cb")
        .with_http(HttpConfig::default().with_timeout(Duration::from_secs(3)))
        .with_media_poll_interval(Duration::from_millis(10))
}

async fn env() -> Env {
    let standin = mastodon::start().await;
    let store = Arc::new(InMemoryStore::new());
    let cache = Arc::new(InMemoryCache::new());
    let manual = Arc::new(ManualClock::new(chrono::Utc::now()));
    let clock: Arc<dyn Clock> = manual.clone();
    // The instance's `created_at` and the publisher's first-send times on one clock.
    standin.set_clock(clock.clone());
    let notifier = Arc::new(RecordingNotifier::new());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("test")),
        NotificationService::new(vec![notifier.clone()], clock.clone()),
        clock,
    ));
    let config = config(&standin.uri());
    let publisher = MastodonPublisher::new(config.clone(), tokens.clone(), cache.clone()).unwrap();
    Env {
        standin,
        store,
        cache,
        tokens,
        notifier,
        clock: manual,
        publisher,
        config,
    }
}

impl Env {
    /// A stored connection with a token the stand-in issued (no OAuth).
    async fn connection(&self) -> PlatformConnection {
        let cipher: &dyn TokenCipher = self.tokens.cipher().as_ref();
        let mut c = connection_for(UserId::new(), Platform::Mastodon, cipher);
        c.platform_user_id = mastodon::ACCOUNT_ID.to_owned();
        c.access_token = cipher
            .encrypt(&Secret::new(self.standin.issue_token()))
            .unwrap();
        c.refresh_token = None;
        c.expires_at = None;
        c.metadata = serde_json::json!({ "instance_url": self.standin.uri() });
        self.store.insert_connection(&c).await.unwrap();
        c
    }
}

fn request(text: &str) -> PublishRequest {
    publish_request(&format!("{text} {}", uuid::Uuid::new_v4().simple()))
}

#[tokio::test]
async fn contract() {
    let env = env().await;
    let connection = env.connection().await;
    run_contract(
        &env.publisher,
        &connection,
        &Adapter(&env.standin, &env.clock),
    )
    .await;
}

#[tokio::test]
async fn a_timed_out_publish_sent_again_returns_the_same_status() {
    let env = env().await;
    let connection = env.connection().await;
    let request = request("Timed out");
    env.standin.inject_fault(MastodonFault::TimeoutAfterCreate);
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    let created = env.standin.posts();
    assert_eq!(created.len(), 1);
    // The same request again: the instance replays the status of the same Idempotency-Key.
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(post.platform_post_id.as_str(), created[0].id);
    assert_eq!(env.standin.posts().len(), 1, "one status, not two");
    assert_eq!(
        created[0].idempotency_key.as_deref(),
        Some(request.idempotency_key.as_str())
    );
}

#[tokio::test]
async fn after_the_key_hour_a_later_attempt_finds_the_status_instead_of_posting() {
    let env = env().await;
    let connection = env.connection().await;
    let mut request = request("An hour later");
    request.thread = vec!["second".into()];
    let first = env.publisher.publish(&connection, &request).await.unwrap();
    env.standin.forget_idempotency_keys();
    request.attempt = 2;
    let again = env.publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(again.platform_post_id, first.platform_post_id);
    assert_eq!(again.thread_ids, first.thread_ids);
    assert_eq!(env.standin.posts().len(), 2);
}

#[tokio::test]
async fn a_partial_thread_is_resent_safely() {
    let env = env().await;
    let connection = env.connection().await;
    let mut request = request("Partial thread");
    request.thread = vec!["part two".into(), "part three".into()];
    // Part 1 lands; part 2's answer is lost.
    let mut only_first = request.clone();
    only_first.thread.clear();
    env.publisher
        .publish(&connection, &only_first)
        .await
        .unwrap();
    match env.publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::ResendIsSafe { .. } => {}
        other => panic!("expected ResendIsSafe, got {other:?}"),
    }
    env.standin.forget_idempotency_keys();
    request.attempt = 2;
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    let held = env.standin.posts();
    assert_eq!(held.len(), 3, "{held:?}");
    assert_eq!(post.platform_post_id.as_str(), held[0].id);
    assert_eq!(held[1].reply_to.as_deref(), Some(held[0].id.as_str()));
    assert_eq!(held[2].reply_to.as_deref(), Some(held[1].id.as_str()));
}

#[tokio::test]
async fn the_instance_limit_refuses_an_over_long_post_before_any_create() {
    let env = env().await;
    env.standin.set_max_characters(100);
    let connection = env.connection().await;
    let request = publish_request(&"a".repeat(150));
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    assert!(e.to_string().contains("mastodon.text.too_long"), "{e}");
    assert_eq!(env.standin.requests("POST", "/api/v1/statuses").await, 0);
    assert_eq!(env.standin.requests("POST", "/api/v2/media").await, 0);
    // The limits are cached: a second attempt does not ask the instance again.
    env.publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(env.standin.requests("GET", "/api/v2/instance").await, 1);
    // 100 characters fit.
    env.publisher
        .publish(&connection, &publish_request(&"b".repeat(100)))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_content_warning_is_sent_as_spoiler_text_and_counts() {
    let env = env().await;
    env.standin.set_max_characters(60);
    let connection = env.connection().await;
    let mut request = request("Spoilers ahead");
    request.options.content_warning = Some("Film plot".to_owned());
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    let held = env.standin.posts();
    assert_eq!(held[0].id, post.platform_post_id.as_str());
    assert_eq!(held[0].spoiler_text, "Film plot");
    match env.publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::Published(p) => assert_eq!(p.platform_post_id, post.platform_post_id),
        other => panic!("{other:?}"),
    }
    // Text within the limit, but not with its content warning.
    let mut long = publish_request(&"c".repeat(55));
    long.options.content_warning = Some("a warning".to_owned());
    let e = env.publisher.publish(&connection, &long).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
}

#[tokio::test]
async fn processing_media_is_polled_until_ready() {
    let env = env().await;
    env.standin.set_media_processing_polls(2);
    let connection = env.connection().await;
    let mut request = request("A processed picture");
    request.media = vec![png_media(connection.user_id, "An orange square")];
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    let held = env.standin.posts();
    assert_eq!(held[0].id, post.platform_post_id.as_str());
    assert_eq!(held[0].media_alt, vec![Some("An orange square".to_owned())]);
    // 206, 206, then 200.
    assert_eq!(env.standin.requests("GET", "/api/v1/media/").await, 3);
}

#[tokio::test]
async fn a_concurrent_same_key_is_transient_and_the_retry_posts_once() {
    let env = env().await;
    let connection = env.connection().await;
    let request = request("Locked key");
    env.standin.inject_fault(MastodonFault::ConcurrentSameKey);
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e:?}");
    assert!(env.standin.posts().is_empty());
    env.publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(env.standin.posts().len(), 1);
}

#[tokio::test]
async fn a_429_blocks_the_account_until_the_iso_reset() {
    let env = env().await;
    let connection = env.connection().await;
    env.standin.inject_fault(MastodonFault::RateLimited);
    let e = env
        .publisher
        .publish(&connection, &request("Throttled"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(60) && wait <= Duration::from_secs(91),
        "{wait:?}"
    );
    let sent = env.standin.requests("POST", "/api/v1/statuses").await;
    // The next publish is refused before it is sent.
    let e = env
        .publisher
        .publish(&connection, &request("Still throttled"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(env.standin.requests("POST", "/api/v1/statuses").await, sent);
}

#[tokio::test]
async fn a_refused_token_marks_the_connection_for_reauthorization() {
    let env = env().await;
    let connection = env.connection().await;
    env.standin.inject_fault(MastodonFault::ExpiredToken);
    let e = env
        .publisher
        .publish(&connection, &request("Expired"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
    let stored = env.store.get_connection(connection.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::NeedsReauth);
    assert_eq!(env.notifier.notifications().len(), 1);
}

/// Follows an authorize URL like a browser whose user approves: returns (code, state).
async fn approve(authorize_url: &str) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&location).unwrap();
    assert!(location.starts_with("https://app.example/cb?"));
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (get("code"), get("state"))
}

#[tokio::test]
async fn connecting_two_instances_registers_one_app_per_instance() {
    let env = env().await;
    let other = mastodon::start().await;
    let connector = Arc::new(
        MastodonConnector::new(
            env.config.clone(),
            env.cache.clone(),
            env.tokens.cipher().clone(),
        )
        .unwrap(),
    );
    let service = ConnectionService::new(env.tokens.clone(), env.cache.clone())
        .with_connector(connector.clone());
    let user = UserId::new();
    let mut connected = Vec::new();
    for instance in [None, Some(other.uri()), None, Some(other.uri())] {
        let options = AuthorizeOptions {
            instance: instance.clone(),
        };
        let start = service
            .start(user, Platform::Mastodon, &options)
            .await
            .unwrap();
        assert!(start.authorize_url.contains("code_challenge_method=S256"));
        let (code, state) = approve(&start.authorize_url).await;
        assert_eq!(state, start.state);
        let saved = service
            .callback(user, &state, Some(&code), None)
            .await
            .unwrap();
        assert_eq!(saved.len(), 1);
        connected.push(saved.into_iter().next().unwrap());
    }
    assert_eq!(
        env.standin.app_registrations(),
        1,
        "registered once, reused"
    );
    assert_eq!(other.app_registrations(), 1, "registered once, reused");
    let (a, b) = (&connected[0], &connected[1]);
    assert_eq!(a.metadata["instance_url"], env.standin.uri());
    assert_eq!(b.metadata["instance_url"], other.uri());
    assert_ne!(
        a.id, b.id,
        "same account id, two instances: two connections"
    );
    assert_eq!(connected[2].id, a.id, "a reconnect updates the connection");
    let host = env.standin.uri().trim_start_matches("http://").to_owned();
    assert_eq!(
        a.platform_user_id,
        format!("{}@{host}", mastodon::ACCOUNT_ID)
    );
    assert_eq!(a.metadata["account_id"], mastodon::ACCOUNT_ID);
    assert!(a.refresh_token.is_none() && a.expires_at.is_none());
    // The client secret is cached encrypted only.
    let cached = env
        .cache
        .get(&format!("mastodon:app:{}", env.standin.uri()))
        .await
        .unwrap()
        .unwrap();
    assert!(!cached.to_string().contains("secret-"), "{cached}");
    // Each connection publishes to its own instance.
    let latest_b = env.store.get_connection(b.id).await.unwrap();
    env.publisher
        .publish(&latest_b, &request("Hello from the second instance"))
        .await
        .unwrap();
    assert_eq!(other.posts().len(), 1);
    assert!(env.standin.posts().is_empty());
    // Disconnecting revokes the token at its instance.
    let token = env
        .tokens
        .decrypt(&env.store.get_connection(b.id).await.unwrap().access_token)
        .unwrap();
    assert!(other.token_is_valid(token.expose()));
    service.disconnect(user, b.id).await.unwrap();
    assert!(!other.token_is_valid(token.expose()));
}

#[tokio::test]
async fn a_code_is_single_use_and_tokens_do_not_refresh() {
    let env = env().await;
    let connector = MastodonConnector::new(
        env.config.clone(),
        env.cache.clone(),
        env.tokens.cipher().clone(),
    )
    .unwrap();
    use quflux_platforms::common::{Connector, TokenRefresher};
    let (auth, context) = connector
        .authorize(Platform::Mastodon, &AuthorizeOptions::default())
        .await
        .unwrap();
    let (code, _) = approve(&auth.url).await;
    let accounts = connector
        .complete(
            Platform::Mastodon,
            &code,
            auth.pkce_verifier.as_ref(),
            &context,
        )
        .await
        .unwrap();
    assert_eq!(accounts[0].username, "alice@127.0.0.1");
    let e = connector
        .complete(
            Platform::Mastodon,
            &code,
            auth.pkce_verifier.as_ref(),
            &context,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    // A wrong PKCE verifier is refused.
    let (auth, context) = connector
        .authorize(Platform::Mastodon, &AuthorizeOptions::default())
        .await
        .unwrap();
    let (code, _) = approve(&auth.url).await;
    let e = connector
        .complete(
            Platform::Mastodon,
            &code,
            Some(&Secret::new(
                "wrong-verifier-wrong-verifier-wrong-verifier".to_owned(),
            )),
            &context,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    let connection = env.connection().await;
    let e = connector
        .refresh_tokens(&connection, &Secret::new("x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired);
}

#[tokio::test]
async fn admit_sends_nothing_and_refuses_a_throttled_account() {
    let env = env().await;
    let connection = env.connection().await;
    let before = every_request(&env.standin).await;
    env.publisher
        .admit(&connection, &request("May I?"))
        .await
        .unwrap();
    assert_eq!(
        every_request(&env.standin).await,
        before,
        "admit sent nothing"
    );
    env.standin.inject_fault(MastodonFault::RateLimited);
    env.publisher
        .publish(&connection, &request("Throttled"))
        .await
        .unwrap_err();
    let sent = env.standin.requests("POST", "/api/v1/statuses").await;
    let e = env
        .publisher
        .admit(&connection, &request("May I now?"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some_and(|d| d > Duration::ZERO), "{e:?}");
    assert_eq!(
        env.standin.requests("POST", "/api/v1/statuses").await,
        sent,
        "no create request"
    );
}

async fn every_request(standin: &MastodonStandIn) -> usize {
    let mut n = 0;
    for method in ["GET", "POST", "PUT", "DELETE"] {
        n += standin.requests(method, "/").await;
    }
    n
}

#[tokio::test]
async fn a_recurring_identical_post_is_not_taken_for_an_older_one() {
    let env = env().await;
    let connection = env.connection().await;
    let text = format!("Good morning! {}", uuid::Uuid::new_v4().simple());
    let yesterday = publish_request(&text);
    let old = env
        .publisher
        .publish(&connection, &yesterday)
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(24 * 3600));
    // Today's post, same text, another request: never sent, so never published.
    let mut today = publish_request(&text);
    match env.publisher.lookup(&connection, &today).await.unwrap() {
        Lookup::NotPublished => {}
        other => panic!("today's post was never sent, got {other:?}"),
    }
    // Sent, but the instance created nothing: yesterday's status is not today's.
    env.standin.inject_fault(MastodonFault::ServerError);
    env.publisher
        .publish(&connection, &today)
        .await
        .unwrap_err();
    match env.publisher.lookup(&connection, &today).await.unwrap() {
        Lookup::NotPublished => {}
        other => panic!("yesterday's status taken for today's: {other:?}"),
    }
    today.attempt = 2;
    let new = env.publisher.publish(&connection, &today).await.unwrap();
    assert_ne!(new.platform_post_id, old.platform_post_id);
    assert_eq!(env.standin.posts().len(), 2, "today's post went out");
    // And today's is found for today's request.
    match env.publisher.lookup(&connection, &today).await.unwrap() {
        Lookup::Published(p) => assert_eq!(p.platform_post_id, new.platform_post_id),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn statuses_come_back_as_mastodon_html_and_lookup_still_finds_them() {
    let env = env().await;
    let connection = env.connection().await;
    let mut request = request(
        "Hi @bob@other.example and @alice!\nRead https://example.com/a/very/long/path/that/goes/on?q=1&r=2 \
         \u{2014} it's <good>.\n\n#Rust",
    );
    request.thread = vec!["Thanks @carol@third.example, see https://example.com/x".into()];
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    // The instance renders the text as Mastodon does.
    let token = env.standin.issue_token();
    let statuses: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/accounts/{}/statuses",
            env.standin.uri(),
            mastodon::ACCOUNT_ID
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = statuses[1]["content"].as_str().unwrap();
    assert!(
        first.starts_with(
            "<p>Hi <span class=\"h-card\"><a href=\"https://other.example/@bob\" \
             class=\"u-url mention\">@<span>bob</span></a></span> and "
        ),
        "{first}"
    );
    assert!(
        first.contains(
            "<br />Read <a href=\"https://example.com/a/very/long/path/that/goes/on?q=1&amp;r=2\" \
             rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://</span>\
             <span class=\"ellipsis\">"
        ),
        "{first}"
    );
    assert!(first.contains("it&#39;s &lt;good&gt;.</p><p>"), "{first}");
    let second = statuses[0]["content"].as_str().unwrap();
    assert!(
        second.contains("@<span>carol</span></a></span>, see <a href=\"https://example.com/x\""),
        "{second}"
    );
    // Lookup matches that HTML with the text sent.
    match env.publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::Published(p) => {
            assert_eq!(p.platform_post_id, post.platform_post_id);
            assert_eq!(p.thread_ids, post.thread_ids);
        }
        other => panic!("the posted thread is not recognised: {other:?}"),
    }
    // After the key's hour, a later attempt finds it instead of posting it again.
    env.standin.forget_idempotency_keys();
    request.attempt = 2;
    let again = env.publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(again.platform_post_id, post.platform_post_id);
    assert_eq!(env.standin.posts().len(), 2, "no duplicate");
}

fn connector(env: &Env, cache: Arc<InMemoryCache>) -> MastodonConnector {
    MastodonConnector::new(env.config.clone(), cache, env.tokens.cipher().clone()).unwrap()
}

#[tokio::test]
async fn an_authorization_completes_with_the_app_it_started_with() {
    use quflux_platforms::common::Connector;
    let env = env().await;
    let here = connector(&env, env.cache.clone());
    // Two authorizations start here with the application registered here...
    let (auth_a, context_a) = here
        .authorize(Platform::Mastodon, &AuthorizeOptions::default())
        .await
        .unwrap();
    let (auth_b, context_b) = here
        .authorize(Platform::Mastodon, &AuthorizeOptions::default())
        .await
        .unwrap();
    // ...while another process registers its own and its cache write lands last.
    let elsewhere_cache = Arc::new(InMemoryCache::new());
    let elsewhere = connector(&env, elsewhere_cache.clone());
    let (auth_c, context_c) = elsewhere
        .authorize(Platform::Mastodon, &AuthorizeOptions::default())
        .await
        .unwrap();
    let key = format!("mastodon:app:{}", env.standin.uri());
    let theirs = elsewhere_cache.get(&key).await.unwrap().unwrap();
    env.cache.set(&key, &theirs, None).await.unwrap();
    assert_eq!(env.standin.app_registrations(), 2);
    assert_ne!(context_a["client_id"], context_c["client_id"]);
    // Each authorization exchanges its code with its own application.
    let (code_a, _) = approve(&auth_a.url).await;
    let (code_b, _) = approve(&auth_b.url).await;
    let (code_c, _) = approve(&auth_c.url).await;
    let accounts = here
        .complete(
            Platform::Mastodon,
            &code_a,
            auth_a.pkce_verifier.as_ref(),
            &context_a,
        )
        .await
        .unwrap();
    assert_eq!(accounts[0].metadata["client_id"], context_a["client_id"]);
    // Its token is revoked with the application it was issued to.
    let mut connection = env.connection().await;
    connection.metadata = accounts[0].metadata.clone();
    let token = accounts[0].tokens.access_token.clone();
    assert!(env.standin.token_is_valid(token.expose()));
    here.revoke(&connection, &token, None).await.unwrap();
    assert!(!env.standin.token_is_valid(token.expose()));
    // The instance forgets the first application: its authorization fails, but the
    // application registered since stays cached for everyone else.
    env.standin
        .forget_app(context_a["client_id"].as_str().unwrap());
    here.complete(
        Platform::Mastodon,
        &code_b,
        auth_b.pkce_verifier.as_ref(),
        &context_b,
    )
    .await
    .unwrap_err();
    assert_eq!(env.cache.get(&key).await.unwrap(), Some(theirs));
    here.complete(
        Platform::Mastodon,
        &code_c,
        auth_c.pkce_verifier.as_ref(),
        &context_c,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unreadable_app_registration_never_quotes_the_client_secret() {
    let env = env().await;
    env.standin.truncate_next_app_answer();
    let e = connector(&env, env.cache.clone())
        .app(&env.standin.uri())
        .await
        .unwrap_err();
    let shown = format!("{e} | {e:?} | {}", e.detailed_message());
    assert!(shown.contains("unreadable answer"), "{shown}");
    assert!(
        !shown.contains("secret-"),
        "the client secret leaked: {shown}"
    );
    // Nothing was cached: the next call registers again and works.
    connector(&env, env.cache.clone())
        .app(&env.standin.uri())
        .await
        .unwrap();
}
