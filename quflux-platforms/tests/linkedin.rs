//! The LinkedIn adapter against its stand-in (compiled with features `linkedin` and `standin`).
#![cfg(all(feature = "linkedin", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Covers the contract scenarios, error classification,
//! `little` escaping, reconciliation by resend, OAuth connection and the daily budget.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{InMemoryCache, InMemoryStore, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::testkit::fixtures::{connection_for, publish_request};
use quflux_core::testkit::standin::{self as suite, Fault, StandIn, StandInPost, png_media};
use quflux_core::{
    Cache, Clock, ConnectionStatus, ConnectionStore, ErrorKind, LinkPreview, Lookup, Platform,
    PlatformConnection, Publisher, SystemClock, TokenCipher, UserId,
};
use quflux_platforms::common::{AuthorizeOptions, ConnectionService, HttpConfig, TokenManager};
use quflux_platforms::linkedin::{
    CLIENT_SECRET_VAR, LinkedInConfig, LinkedInConnector, LinkedInPublisher, RESERVED,
    THROTTLE_BACKOFF, classify, classify_refresh, duplicate_urn, escape_little, is_day_limit,
    next_utc_midnight,
};
use quflux_platforms::standin::linkedin::{self as standin, LinkedInFault, LinkedInStandIn};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

struct Env {
    standin: LinkedInStandIn,
    store: Arc<InMemoryStore>,
    cache: Arc<dyn Cache>,
    tokens: Arc<TokenManager>,
    connector: Arc<LinkedInConnector>,
    publisher: LinkedInPublisher,
}

fn config(standin: &LinkedInStandIn) -> LinkedInConfig {
    LinkedInConfig::new(
        standin::CLIENT_ID,
        quflux_core::Secret::new(standin::CLIENT_SECRET.to_owned()),
        "https://app.example/cb",
    )
    .with_api_base(standin.uri())
    .with_oauth_base(standin.oauth_base())
    .with_http(HttpConfig::default().with_timeout(Duration::from_secs(3)))
    .with_image_polling(Duration::from_millis(10), 20)
}

async fn env_with(adjust: impl FnOnce(LinkedInConfig) -> LinkedInConfig) -> Env {
    let standin = standin::start().await;
    let store = Arc::new(InMemoryStore::new());
    let cache: Arc<dyn Cache> = Arc::new(InMemoryCache::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let notifications =
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("test")),
        notifications,
        clock,
    ));
    let connector = Arc::new(LinkedInConnector::new(adjust(config(&standin))).unwrap());
    let publisher = LinkedInPublisher::new(connector.clone(), tokens.clone(), cache.clone());
    Env {
        standin,
        store,
        cache,
        tokens,
        connector,
        publisher,
    }
}

async fn env() -> Env {
    env_with(|c| c).await
}

/// A stored connection to a fresh member (tokens the stand-in did not issue are accepted).
async fn connection(env: &Env) -> PlatformConnection {
    let cipher: &dyn TokenCipher = env.tokens.cipher().as_ref();
    let c = connection_for(UserId::new(), Platform::Linkedin, cipher);
    env.store.insert_connection(&c).await.unwrap();
    c
}

/// The stand-in seen through the core contract suite's control trait.
struct Adapter<'a>(&'a LinkedInStandIn);

#[async_trait]
impl StandIn for Adapter<'_> {
    async fn inject(&self, fault: Fault) -> bool {
        self.0.inject_fault(match fault {
            Fault::RateLimited => LinkedInFault::RateLimited,
            Fault::ExpiredToken => LinkedInFault::ExpiredToken,
            Fault::Duplicate => LinkedInFault::Duplicate,
            Fault::InvalidContent => LinkedInFault::InvalidContent,
            Fault::ServerError => LinkedInFault::ServerError,
            Fault::TimeoutAfterCreate => LinkedInFault::TimeoutAfterCreate,
        })
    }
    async fn posts(&self) -> Vec<StandInPost> {
        self.0
            .posts()
            .into_iter()
            .map(|p| StandInPost {
                id: p.urn,
                text: p.text,
                reply_to: None,
                media_alt: p.images.into_iter().map(|(_, alt)| alt).collect(),
            })
            .collect()
    }
    async fn reset(&self) {
        self.0.reset();
    }
}

#[tokio::test]
async fn contract_scenarios_pass_except_threads() {
    let env = env().await;
    let c = connection(&env).await;
    let s = Adapter(&env.standin);
    let p: &dyn Publisher = &env.publisher;
    quflux_core::testkit::publisher::run_all(p, &c).await;
    suite::success(p, &c, &s).await;
    suite::media(p, &c, &s).await;
    // A 429 blocks the member until midnight UTC: give that scenario its own member.
    let throttled = connection(&env).await;
    suite::rate_limited(p, &throttled, &s).await;
    suite::duplicate(p, &c, &s).await;
    suite::invalid_content(p, &c, &s).await;
    suite::server_error(p, &c, &s).await;
    suite::timeout_after_create(p, &c, &s).await;
    suite::expired_token(p, &c, &s).await;
    // The refused refresh left the connection needing re-authorization.
    let stored = env.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::NeedsReauth);
}

#[tokio::test]
async fn a_thread_is_refused_before_any_request() {
    let env = env().await;
    let c = connection(&env).await;
    let mut request = publish_request("Part one");
    request.thread = vec!["Part two".to_owned()];
    let e = env.publisher.publish(&c, &request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    assert!(
        format!("{e:?}").contains("linkedin.thread.unsupported"),
        "{e:?}"
    );
    assert_eq!(env.standin.create_requests(), 0);
}

#[tokio::test]
async fn over_long_text_is_refused_before_any_request() {
    let env = env().await;
    let c = connection(&env).await;
    let e = env
        .publisher
        .publish(&c, &publish_request(&"a".repeat(3001)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    assert_eq!(env.standin.create_requests(), 0);
}

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/linkedin/fixtures.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn classify_fixture(name: &str) -> quflux_core::Error {
    let f = fixtures();
    let response = &f[name]["response"];
    let status = StatusCode::from_u16(response["status"].as_u64().unwrap() as u16).unwrap();
    let body = serde_json::to_vec(&response["body"]).unwrap();
    classify(status, &HeaderMap::new(), &body, Utc::now())
}

#[test]
fn every_documented_error_is_classified() {
    let cases = [
        ("error_expired_token", ErrorKind::AuthExpired),
        ("error_revoked_token", ErrorKind::AuthExpired),
        ("error_invalid_token", ErrorKind::AuthExpired),
        ("error_access_denied", ErrorKind::AuthExpired),
        ("error_duplicate_post", ErrorKind::InvalidContent),
        ("error_version_not_active", ErrorKind::Config),
        ("error_throttled", ErrorKind::RateLimited),
    ];
    for (name, kind) in cases {
        let e = classify_fixture(name);
        assert_eq!(e.kind(), kind, "{name}: {e:?}");
    }
    let validation = br#"{"errorDetailType":"com.linkedin.common.error.BadRequest","message":"Invalid","errorDetails":{"inputErrors":[{"description":"commentary too long","input":{"inputPath":{"fieldPath":"commentary"}},"code":"FIELD_LENGTH_TOO_LONG"}]},"status":400}"#;
    let e = classify(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        validation,
        Utc::now(),
    );
    assert_eq!(e.kind(), ErrorKind::InvalidContent);
    assert!(e.to_string().contains("commentary too long"), "{e}");
    for status in [500, 502, 503, 504] {
        let e = classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            b"",
            Utc::now(),
        );
        assert_eq!(e.kind(), ErrorKind::Transient, "{status}");
        assert!(e.is_retryable());
    }
    let e = classify(StatusCode::NOT_FOUND, &HeaderMap::new(), b"{}", Utc::now());
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!classify_fixture("error_duplicate_post").is_retryable());
}

/// A 429 whose message names the member's daily window (PLATFORM-SPECS §2.5 variant).
const DAY_THROTTLE: &[u8] = br#"{"serviceErrorCode":101,"message":"Resource level throttle limit for calls to this resource is reached. MEMBER DAY limit reached.","status":429}"#;

#[test]
fn only_a_day_limit_throttle_waits_until_midnight_utc() {
    let now = Utc::now();
    let to_midnight = (next_utc_midnight(now) - now).to_std().unwrap();
    let e = classify(
        StatusCode::TOO_MANY_REQUESTS,
        &HeaderMap::new(),
        DAY_THROTTLE,
        now,
    );
    assert_eq!(e.retry_after(), Some(to_midnight));
    let app_day = br#"{"serviceErrorCode":101,"message":"Resource level throttle limit for calls to this resource is reached. APPLICATION DAY limit reached.","status":429}"#;
    assert!(is_day_limit(app_day));
    // The documented 429 names no window: infrastructure protection, a short back-off.
    let e = classify_fixture("error_throttled");
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(THROTTLE_BACKOFF));
    assert!(THROTTLE_BACKOFF <= Duration::from_secs(300));
    // Retry-After is honoured when the 429 names no day limit.
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "30".parse().unwrap());
    let e = classify(StatusCode::TOO_MANY_REQUESTS, &headers, b"{}", now);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    let body = serde_json::to_vec(&fixtures()["error_throttled"]["response"]["body"]).unwrap();
    let e = classify(StatusCode::TOO_MANY_REQUESTS, &headers, &body, now);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
}

#[test]
fn the_duplicate_urn_is_read_from_the_message() {
    let f = fixtures();
    let body = serde_json::to_vec(&f["error_duplicate_post"]["response"]["body"]).unwrap();
    assert_eq!(
        duplicate_urn(&body).as_deref(),
        Some("urn:li:share:7141138937766391808")
    );
    let ugc = br#"{"message":"Content is a duplicate of urn:li:ugcPost:123456","status":422}"#;
    assert_eq!(duplicate_urn(ugc).as_deref(), Some("urn:li:ugcPost:123456"));
    assert_eq!(duplicate_urn(br#"{"message":"duplicate"}"#), None);
}

#[test]
fn little_escaping_covers_every_reserved_character() {
    let table = [
        ("|", r"\|"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("@", r"\@"),
        ("[", r"\["),
        ("]", r"\]"),
        ("(", r"\("),
        (")", r"\)"),
        ("<", r"\<"),
        (">", r"\>"),
        ("#", r"\#"),
        ("\\", r"\\"),
        ("*", r"\*"),
        ("_", r"\_"),
        ("~", r"\~"),
    ];
    assert_eq!(table.len(), RESERVED.len());
    for (raw, escaped) in table {
        assert_eq!(escape_little(raw), escaped, "{raw}");
    }
    // Nothing else changes: letters, digits, punctuation, emoji, newlines, URLs.
    let plain = "Hello, world! 1.0 — déjà vu 🚀\nhttps://example.com/a?b=c&d=e%20f";
    assert_eq!(escape_little(plain), plain);
    // The spec example.
    assert_eq!(
        escape_little("Shipping Quflux 1.0 (beta) today"),
        r"Shipping Quflux 1.0 \(beta\) today"
    );
    assert_eq!(escape_little(r"a\(b"), r"a\\\(b");
}

#[tokio::test]
async fn escaping_keeps_every_reserved_character_where_linkedin_would_truncate() {
    let env = env().await;
    env.standin.set_truncate_unescaped(true);
    let c = connection(&env).await;
    let text = r"Launch (beta) #rust @team [x] {y} <z> a*b_c~d|e\f";
    let post = env
        .publisher
        .publish(&c, &publish_request(text))
        .await
        .unwrap();
    let held = env.standin.posts();
    let held = held
        .iter()
        .find(|p| p.urn == post.platform_post_id.as_str())
        .unwrap();
    assert_eq!(held.text, text, "the escaped text survives intact");

    // The same text sent unescaped is cut at the first reserved character: escaping matters.
    let response = reqwest::Client::new()
        .post(format!("{}/rest/posts", env.standin.uri()))
        .bearer_auth("raw-token")
        .header("LinkedIn-Version", quflux_platforms::linkedin::DEFAULT_VERSION)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .json(&serde_json::json!({
            "author": "urn:li:person:raw",
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let urn = response.headers()["x-restli-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let raw = env
        .standin
        .posts()
        .into_iter()
        .find(|p| p.urn == urn)
        .unwrap();
    assert_eq!(raw.text, "Launch ");
}

#[tokio::test]
async fn a_timed_out_publish_is_settled_by_resending_without_a_second_post() {
    let env = env().await;
    let c = connection(&env).await;
    env.standin.inject_fault(LinkedInFault::TimeoutAfterCreate);
    let mut request = publish_request("Quflux reconciliation check (resend)");
    request.media = vec![png_media(c.user_id, "A square")];
    let e = env.publisher.publish(&c, &request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    let created = env.standin.posts();
    assert_eq!(created.len(), 1);
    assert!(matches!(
        env.publisher.lookup(&c, &request).await.unwrap(),
        Lookup::ResendIsSafe { .. }
    ));
    request.attempt = 2;
    let post = env.publisher.publish(&c, &request).await.unwrap();
    assert_eq!(
        post.platform_post_id.as_str(),
        created[0].urn,
        "the same URN"
    );
    assert_eq!(env.standin.posts().len(), 1, "one post on the platform");
    assert_eq!(
        post.url.as_deref(),
        Some(format!("https://www.linkedin.com/feed/update/{}", created[0].urn).as_str())
    );
}

#[tokio::test]
async fn a_first_attempt_duplicate_is_invalid_content() {
    let env = env().await;
    let c = connection(&env).await;
    let request = publish_request("Quflux duplicate on first attempt");
    env.publisher.publish(&c, &request).await.unwrap();
    let again = publish_request("Quflux duplicate on first attempt");
    let e = env.publisher.publish(&c, &again).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidContent, "{e:?}");
    assert_eq!(env.standin.posts().len(), 1);
}

#[tokio::test]
async fn the_local_daily_budget_refuses_before_sending() {
    let env = env_with(|c| c.with_daily_post_limit(2)).await;
    let c = connection(&env).await;
    for n in 0..2 {
        env.publisher
            .publish(&c, &publish_request(&format!("Quflux budget post {n}")))
            .await
            .unwrap();
    }
    let e = env
        .publisher
        .publish(&c, &publish_request("Quflux budget post 3"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some());
    assert_eq!(env.standin.create_requests(), 2, "the third was never sent");
}

#[tokio::test]
async fn a_daily_429_blocks_the_member_until_midnight() {
    let env = env().await;
    env.standin.set_daily_member_limit(1);
    let c = connection(&env).await;
    env.publisher
        .publish(&c, &publish_request("Quflux daily one"))
        .await
        .unwrap();
    let e = env
        .publisher
        .publish(&c, &publish_request("Quflux daily two"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    let now = Utc::now();
    let to_midnight = (next_utc_midnight(now) - now).to_std().unwrap();
    assert!(
        e.retry_after()
            .unwrap()
            .as_secs()
            .abs_diff(to_midnight.as_secs())
            <= 2
    );
    let sent = env.standin.create_requests();
    let e = env
        .publisher
        .publish(&c, &publish_request("Quflux daily three"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(
        env.standin.create_requests(),
        sent,
        "refused before sending"
    );
}

#[tokio::test]
async fn an_infrastructure_429_backs_off_briefly_without_blocking_the_day() {
    let env = env().await;
    let c = connection(&env).await;
    env.standin.inject_fault(LinkedInFault::Throttled);
    let e = env
        .publisher
        .publish(&c, &publish_request("Quflux throttled briefly"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert_eq!(e.retry_after(), Some(THROTTLE_BACKOFF), "{e:?}");
    // The member is held back for the short back-off only, not until midnight.
    let e = env
        .publisher
        .admit(&c, &publish_request("Quflux next one"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(
        e.retry_after().unwrap() <= THROTTLE_BACKOFF,
        "a short back-off, not a day block: {e:?}"
    );

    // With Retry-After, that wait is used; once it has passed the member posts again.
    let other = connection(&env).await;
    env.standin
        .set_throttle_retry_after(Some(Duration::from_secs(1)));
    env.standin.inject_fault(LinkedInFault::Throttled);
    let e = env
        .publisher
        .publish(&other, &publish_request("Quflux retry after"))
        .await
        .unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)), "{e:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.publisher
        .publish(&other, &publish_request("Quflux retry after"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sunset_version_is_a_configuration_error() {
    let env = env_with(|c| c.with_version("202401")).await;
    let c = connection(&env).await;
    let e = env
        .publisher
        .publish(&c, &publish_request("Quflux version check"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert!(env.standin.posts().is_empty());
}

#[tokio::test]
async fn a_link_becomes_an_article_and_several_images_a_multi_image() {
    let env = env().await;
    let c = connection(&env).await;
    let mut request = publish_request("Read this");
    request.link_url = Some("https://example.com/post".to_owned());
    request.link_preview = Some(LinkPreview {
        url: "https://example.com/post".to_owned(),
        title: Some("Title".to_owned()),
        description: Some("Desc".to_owned()),
        ..Default::default()
    });
    env.publisher.publish(&c, &request).await.unwrap();
    let mut request = publish_request("Two pictures");
    request.media = vec![png_media(c.user_id, "one"), png_media(c.user_id, "two")];
    env.publisher.publish(&c, &request).await.unwrap();
    let posts = env.standin.posts();
    assert_eq!(
        posts[0].article.as_deref(),
        Some("https://example.com/post")
    );
    let alts: Vec<_> = posts[1].images.iter().map(|(_, a)| a.clone()).collect();
    assert_eq!(alts, vec![Some("one".to_owned()), Some("two".to_owned())]);
}

/// Follows the authorize URL like a browser: the stand-in approves and redirects.
async fn approve(authorize_url: &str) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with("https://app.example/cb"));
    let get = |k: &str| {
        location
            .query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (get("code"), get("state"))
}

#[tokio::test]
async fn connecting_through_the_connection_service_yields_a_publishing_member() {
    let env = env().await;
    let service = ConnectionService::new(env.tokens.clone(), env.cache.clone())
        .with_connector(env.connector.clone());
    let user = UserId::new();
    let start = service
        .start(user, Platform::Linkedin, &AuthorizeOptions::default())
        .await
        .unwrap();
    assert!(
        start
            .authorize_url
            .contains("scope=openid+profile+w_member_social")
            || start
                .authorize_url
                .contains("scope=openid%20profile%20w_member_social"),
        "{}",
        start.authorize_url
    );
    let (code, state) = approve(&start.authorize_url).await;
    assert_eq!(state, start.state);
    let connections = service
        .callback(user, &state, Some(&code), None)
        .await
        .unwrap();
    assert_eq!(connections.len(), 1);
    let c = &connections[0];
    assert_eq!(c.platform_user_id, standin::MEMBER_SUB);
    assert_eq!(c.platform_username, "John Doe");
    assert_eq!(c.metadata["author_urn"], "urn:li:person:782bbtaQ");
    assert_eq!(c.scopes, vec!["openid", "profile", "w_member_social"]);
    assert!(
        c.refresh_token.is_none(),
        "ordinary apps get no refresh token"
    );
    let days = (c.expires_at.unwrap() - Utc::now()).num_days();
    assert!((59..=60).contains(&days), "{days}");
    // The state is single use.
    assert!(
        service
            .callback(user, &state, Some(&code), None)
            .await
            .is_err()
    );

    let post = env
        .publisher
        .publish(c, &publish_request("Hello from a connected member"))
        .await
        .unwrap();
    let held = env.standin.posts();
    assert_eq!(held[0].urn, post.platform_post_id.as_str());
    assert_eq!(held[0].author, "urn:li:person:782bbtaQ");

    // Day 61: the token has expired at LinkedIn, and there is no refresh token.
    env.standin.advance(Duration::from_secs(61 * 24 * 3600));
    let e = env
        .publisher
        .publish(c, &publish_request("Too late"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired, "{e:?}");
    let stored = env.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::NeedsReauth);
}

#[tokio::test]
async fn approved_apps_refresh_their_tokens() {
    let env = env().await;
    env.standin.set_programmatic_refresh(true);
    let service = ConnectionService::new(env.tokens.clone(), env.cache.clone())
        .with_connector(env.connector.clone());
    let user = UserId::new();
    let start = service
        .start(user, Platform::Linkedin, &AuthorizeOptions::default())
        .await
        .unwrap();
    let (code, state) = approve(&start.authorize_url).await;
    let c = service
        .callback(user, &state, Some(&code), None)
        .await
        .unwrap()
        .remove(0);
    assert!(c.refresh_token.is_some());
    // Day 61: the token has expired at LinkedIn; the 401 refreshes and the post goes out.
    env.standin.advance(Duration::from_secs(61 * 24 * 3600));
    env.publisher
        .publish(&c, &publish_request("Refreshed after a 401"))
        .await
        .unwrap();
    let stored = env.store.get_connection(c.id).await.unwrap();
    let before = env.tokens.decrypt(&c.access_token).unwrap();
    let after = env.tokens.decrypt(&stored.access_token).unwrap();
    assert_ne!(before.expose(), after.expose(), "the new token was stored");
    // A manual refresh works too, and keeps the scopes readable.
    let refreshed = service.refresh(user, c.id).await.unwrap();
    assert_ne!(
        env.tokens
            .decrypt(&refreshed.access_token)
            .unwrap()
            .expose(),
        after.expose()
    );
    assert_eq!(
        refreshed.scopes,
        vec!["openid", "profile", "w_member_social"]
    );
    assert_eq!(env.standin.posts().len(), 1);
}

/// Connects the stand-in's member through the connection service, with a refresh token.
async fn connect_refreshable(env: &Env) -> PlatformConnection {
    env.standin.set_programmatic_refresh(true);
    let service = ConnectionService::new(env.tokens.clone(), env.cache.clone())
        .with_connector(env.connector.clone());
    let user = UserId::new();
    let start = service
        .start(user, Platform::Linkedin, &AuthorizeOptions::default())
        .await
        .unwrap();
    let (code, state) = approve(&start.authorize_url).await;
    let c = service
        .callback(user, &state, Some(&code), None)
        .await
        .unwrap()
        .remove(0);
    assert!(c.refresh_token.is_some());
    c
}

#[tokio::test]
async fn wrong_client_credentials_on_refresh_are_a_configuration_error() {
    let env = env().await;
    let c = connect_refreshable(&env).await;
    let wrong = LinkedInConnector::new(LinkedInConfig {
        client_secret: quflux_core::Secret::new("rotated".to_owned()),
        ..config(&env.standin)
    })
    .unwrap();
    let e = env.tokens.force_refresh(c.id, &wrong).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert!(e.to_string().contains(CLIENT_SECRET_VAR), "{e}");
    let stored = env.store.get_connection(c.id).await.unwrap();
    assert_eq!(
        stored.status,
        ConnectionStatus::Active,
        "the member's tokens are fine"
    );
    // With the right credentials the same refresh token still works.
    env.tokens
        .force_refresh(c.id, &*env.connector)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_throttled_refresh_is_retried_later_not_a_reconnect() {
    let env = env().await;
    let c = connect_refreshable(&env).await;
    env.standin.inject_fault(LinkedInFault::RefreshThrottled);
    let e = env
        .tokens
        .force_refresh(c.id, &*env.connector)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(THROTTLE_BACKOFF));
    let stored = env.store.get_connection(c.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active);
    env.tokens
        .force_refresh(c.id, &*env.connector)
        .await
        .unwrap();
}

#[test]
fn only_a_refused_refresh_token_is_auth_expired() {
    let now = Utc::now();
    let refresh = |status: u16, body: &str| {
        classify_refresh(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            now,
        )
    };
    let cases = [
        (400, r#"{"error":"invalid_grant"}"#, ErrorKind::AuthExpired),
        (
            400,
            r#"{"error":"invalid_request","error_description":"The provided refresh token is invalid or has expired"}"#,
            ErrorKind::AuthExpired,
        ),
        (
            400,
            r#"{"error":"invalid_request","error_description":"Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists"}"#,
            ErrorKind::AuthExpired,
        ),
        (
            400,
            r#"{"error":"invalid_request","error_description":"A required parameter \"client_secret\" is missing"}"#,
            ErrorKind::Config,
        ),
        (
            401,
            r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
            ErrorKind::Config,
        ),
        (400, r#"{"error":"unauthorized_client"}"#, ErrorKind::Config),
        (401, "", ErrorKind::Config),
        (
            400,
            r#"{"error":"unsupported_grant_type"}"#,
            ErrorKind::Config,
        ),
        (429, r#"{"status":429}"#, ErrorKind::RateLimited),
        (500, "", ErrorKind::Transient),
        (503, "", ErrorKind::Transient),
        (403, "{}", ErrorKind::Other),
    ];
    for (status, body, kind) in cases {
        let e = refresh(status, body);
        assert_eq!(e.kind(), kind, "{status} {body}: {e:?}");
    }
    assert!(
        refresh(401, r#"{"error":"invalid_client"}"#)
            .to_string()
            .contains(CLIENT_SECRET_VAR)
    );
    assert_eq!(refresh(429, "{}").retry_after(), Some(THROTTLE_BACKOFF));
}

#[test]
fn secrets_stay_out_of_debug() {
    let config = LinkedInConfig::new(
        "id",
        quflux_core::Secret::new("very-secret-value".to_owned()),
        "https://app.example/cb",
    );
    assert!(!format!("{config:?}").contains("very-secret-value"));
    let connector = LinkedInConnector::new(config).unwrap();
    assert!(!format!("{connector:?}").contains("very-secret-value"));
}

#[tokio::test]
async fn admit_follows_the_daily_budget_without_sending() {
    let env = env_with(|c| c.with_daily_post_limit(1)).await;
    let c = connection(&env).await;
    let request = publish_request("Quflux admitted post");
    env.publisher.admit(&c, &request).await.unwrap();
    assert_eq!(env.standin.create_requests(), 0, "admit sent nothing");
    env.publisher
        .publish(&c, &publish_request("Quflux budget spender"))
        .await
        .unwrap();
    let e = env.publisher.admit(&c, &request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some_and(|d| d > Duration::ZERO), "{e:?}");
    assert_eq!(env.standin.create_requests(), 1, "no create request");
}
