#![cfg_attr(
    not(all(feature = "twitter", feature = "standin")),
    allow(missing_docs)
)]
#![cfg(all(feature = "twitter", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The X adapter against its stand-in: the platform contract suite, request bodies against the
//! official OpenAPI schema, rate budgets, the OAuth connection flow and concurrent refreshes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::memory::{InMemoryCache, InMemoryStore, ManualClock, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::testkit::fixtures::{publish_request, user};
use quflux_core::testkit::standin::{Fault, StandIn, StandInPost, png_media, run_contract};
use quflux_core::{
    Cache, Clock, ConnectionStatus, ConnectionStore, ErrorKind, Lookup, Platform,
    PlatformConnection, Poll, Publisher, Secret, TokenCipher, UserId, UserStore,
    cipher::AesGcmCipher,
};
use quflux_platforms::common::{
    AuthorizeOptions, ConnectedAccount, ConnectionService, Connector, HttpConfig, RateBudgets,
    TokenManager, TokenRefresher, TokenSet,
};
use quflux_platforms::standin::twitter::{USER, XFault, XStandIn};
use quflux_platforms::twitter::{XConfig, XConnector, XPublisher};
use serde_json::{Value, json};

struct Env {
    standin: Arc<XStandIn>,
    store: Arc<InMemoryStore>,
    cache: Arc<InMemoryCache>,
    clock: Arc<ManualClock>,
    cipher: Arc<AesGcmCipher>,
    tokens: Arc<TokenManager>,
    connector: Arc<XConnector>,
    publisher: Arc<XPublisher>,
    user_id: UserId,
}

async fn env() -> Env {
    let standin = Arc::new(XStandIn::start().await);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Arc::new(InMemoryStore::new());
    let cache = Arc::new(InMemoryCache::with_clock(clock.clone()));
    let cipher = Arc::new(AesGcmCipher::random("test"));
    let notifier = Arc::new(RecordingNotifier::new());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        cipher.clone(),
        NotificationService::new(vec![notifier], clock.clone()),
        clock.clone(),
    ));
    let config = XConfig::new("quflux-test-client", "https://app.example/cb")
        .with_api_base(standin.uri())
        .with_http(HttpConfig::default().with_timeout(Duration::from_secs(3)))
        .with_media_poll_cap(Duration::from_millis(10));
    let connector = Arc::new(XConnector::new(config.clone()).unwrap());
    let budgets = RateBudgets::new(cache.clone(), clock.clone());
    let publisher =
        Arc::new(XPublisher::new(config, tokens.clone(), connector.clone(), budgets).unwrap());
    let u = user();
    store.insert_user(&u).await.unwrap();
    Env {
        standin,
        store,
        cache,
        clock,
        cipher,
        tokens,
        connector,
        publisher,
        user_id: u.id,
    }
}

impl Env {
    fn connections(&self) -> ConnectionService {
        ConnectionService::new(self.tokens.clone(), self.cache.clone() as Arc<dyn Cache>)
            .with_connector(self.connector.clone())
    }

    /// A connection with a token pair issued by the stand-in, expiring in `expires_in`.
    async fn connect(&self, expires_in: Duration) -> (PlatformConnection, String) {
        let (access, refresh, _) = self.standin.issue_tokens();
        let saved = self
            .connections()
            .save(
                self.user_id,
                vec![ConnectedAccount {
                    platform: Platform::Twitter,
                    platform_user_id: USER.0.to_owned(),
                    username: USER.2.to_owned(),
                    tokens: TokenSet {
                        access_token: Secret::new(access),
                        refresh_token: Some(Secret::new(refresh.clone())),
                        expires_in: Some(expires_in),
                        scopes: vec![],
                    },
                    metadata: json!({}),
                }],
            )
            .await
            .unwrap();
        (saved.into_iter().next().unwrap(), refresh)
    }
}

/// The stand-in seen through the core contract's [`StandIn`]. `reset` also moves the clock
/// past any rate-limit block a scenario left behind.
struct Contract {
    standin: Arc<XStandIn>,
    clock: Arc<ManualClock>,
}

#[async_trait]
impl StandIn for Contract {
    async fn inject(&self, fault: Fault) -> bool {
        self.standin.inject_fault(match fault {
            Fault::RateLimited => XFault::RateLimited,
            Fault::ExpiredToken => XFault::ExpiredToken,
            Fault::Duplicate => XFault::Duplicate,
            Fault::InvalidContent => XFault::InvalidContent,
            Fault::ServerError => XFault::ServerError,
            Fault::TimeoutAfterCreate => XFault::TimeoutAfterCreate,
        });
        true
    }

    async fn posts(&self) -> Vec<StandInPost> {
        self.standin
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
        self.standin.reset();
        self.clock.advance(Duration::from_secs(16 * 60));
    }
}

fn create_posts_validator() -> jsonschema::Validator {
    let doc: Value =
        serde_json::from_str(include_str!("fixtures/x/openapi.json")).expect("openapi.json");
    let root = json!({
        "$ref": "#/components/schemas/CreatePostsRequest",
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).expect("the CreatePostsRequest schema compiles")
}

#[tokio::test]
async fn the_platform_contract_holds_and_every_body_matches_the_openapi_schema() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let contract = Contract {
        standin: env.standin.clone(),
        clock: env.clock.clone(),
    };
    run_contract(env.publisher.as_ref(), &connection, &contract).await;
    // A poll, and a thread with an image, on a fresh connection (the contract's last scenario
    // leaves the first one needing re-authorization).
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let mut poll = publish_request("Which editor? (poll check)");
    poll.options.poll = Some(Poll {
        options: vec!["Helix".into(), "Zed".into(), "Vim".into()],
        duration_minutes: 1440,
    });
    let posted = env.publisher.publish(&connection, &poll).await.unwrap();
    let held = env.standin.posts();
    let held = held
        .iter()
        .find(|p| p.id == posted.platform_post_id.as_str())
        .unwrap();
    assert_eq!(held.poll, ["Helix", "Zed", "Vim"]);

    let validator = create_posts_validator();
    let bodies = env.standin.create_bodies();
    assert!(bodies.len() > 10, "{bodies:?}");
    let has = |key: &str| bodies.iter().any(|b| b.get(key).is_some());
    assert!(has("reply") && has("media") && has("poll"), "{bodies:?}");
    for body in &bodies {
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{body} breaks CreatePostsRequest: {errors:?}"
        );
    }
    // The validator does reject what X rejects.
    assert!(!validator.is_valid(&json!({"text": "hi", "unknown_field": 1})));
    assert!(!validator.is_valid(&json!({"text": "hi", "reply": {}})));
}

#[tokio::test]
async fn over_long_text_is_refused_before_any_request() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let before = env.standin.request_count();
    let e = env
        .publisher
        .publish(&connection, &publish_request(&"é".repeat(281)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    let mut five = publish_request("five images");
    five.media = (0..5).map(|_| png_media(env.user_id, "alt")).collect();
    let e = env.publisher.publish(&connection, &five).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    let mut bad_poll = publish_request("bad poll");
    bad_poll.options.poll = Some(Poll {
        options: vec!["only".into()],
        duration_minutes: 60,
    });
    let e = env
        .publisher
        .publish(&connection, &bad_poll)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    assert_eq!(env.standin.request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn after_a_429_the_next_publish_is_refused_locally() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.standin.inject_fault(XFault::RateLimited);
    let e = env
        .publisher
        .publish(&connection, &publish_request("throttled once"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(30) && wait <= Duration::from_secs(61),
        "{wait:?}"
    );
    let requests = env.standin.request_count();
    let e = env
        .publisher
        .publish(&connection, &publish_request("throttled twice"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some_and(|d| d > Duration::from_secs(30)));
    assert_eq!(
        env.standin.request_count(),
        requests,
        "refused before sending"
    );
    // Once the reset has passed, publishing works again.
    env.clock.advance(Duration::from_secs(62));
    env.publisher
        .publish(&connection, &publish_request("after the reset"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_spent_daily_cap_waits_for_the_24_hour_reset() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.standin.inject_fault(XFault::DailyCapReached);
    let e = env
        .publisher
        .publish(&connection, &publish_request("daily cap"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(
        e.retry_after().unwrap() > Duration::from_secs(23 * 3600),
        "the 24-hour reset wins over the 15-minute one: {e:?}"
    );
    let requests = env.standin.request_count();
    let e = env
        .publisher
        .publish(&connection, &publish_request("daily cap again"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert_eq!(env.standin.request_count(), requests);
}

#[tokio::test]
async fn a_thread_with_an_image_lands_in_order_and_lookup_finds_every_part() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let mut request = publish_request("Thread with a picture 1/3");
    request.thread = vec!["Part 2/3".into(), "Part 3/3".into()];
    request.media = vec![png_media(env.user_id, "A tiny square")];
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(post.thread_ids.len(), 2);
    assert_eq!(
        post.url.as_deref(),
        Some(format!("https://x.com/{}/status/{}", USER.2, post.platform_post_id).as_str())
    );
    match env.publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::Published(found) => {
            assert_eq!(found.platform_post_id, post.platform_post_id);
            assert_eq!(found.thread_ids, post.thread_ids);
        }
        other => panic!("{other:?}"),
    }
    // A retry of the same text is X's duplicate refusal.
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidContent, "{e:?}");
}

#[tokio::test]
async fn connecting_through_the_connection_service_verifies_state_and_pkce() {
    let env = env().await;
    let service = env.connections();
    let start = service
        .start(env.user_id, Platform::Twitter, &AuthorizeOptions::default())
        .await
        .unwrap();
    let url = url::Url::parse(&start.authorize_url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q["scope"],
        "tweet.read tweet.write users.read media.write offline.access"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], start.state);

    let (code, state) = follow(&start.authorize_url).await;
    assert_eq!(state, start.state);
    let saved = service
        .callback(env.user_id, &state, Some(&code), None)
        .await
        .unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].platform_user_id, USER.0);
    assert_eq!(saved[0].platform_username, USER.2);
    assert!(saved[0].refresh_token.is_some());
    assert!(saved[0].expires_at.is_some());
    // The state is single use.
    let e = service
        .callback(env.user_id, &state, Some(&code), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    // The code is single use at the platform too.
    let e = env
        .connector
        .complete(Platform::Twitter, &code, None, &json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    // A wrong PKCE verifier is refused.
    let start = service
        .start(env.user_id, Platform::Twitter, &AuthorizeOptions::default())
        .await
        .unwrap();
    let (code, _) = follow(&start.authorize_url).await;
    let e = env
        .connector
        .complete(
            Platform::Twitter,
            &code,
            Some(&Secret::new("not-the-verifier".to_owned())),
            &json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    // Refusal at the authorize page.
    let start = service
        .start(env.user_id, Platform::Twitter, &AuthorizeOptions::default())
        .await
        .unwrap();
    let e = service
        .callback(env.user_id, &start.state, None, Some("access_denied"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    assert_eq!(env.standin.code_grants(), 3);
}

/// Follows the authorize page as a browser would: returns the callback's `code` and `state`.
async fn follow(authorize_url: &str) -> (String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(authorize_url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let location = url::Url::parse(&location).unwrap();
    assert!(location.as_str().starts_with("https://app.example/cb"));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    (q["code"].clone(), q["state"].clone())
}

#[tokio::test]
async fn twenty_concurrent_publishes_refresh_the_token_once() {
    let env = env().await;
    let (connection, old_refresh) = env.connect(Duration::from_secs(60)).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let publisher = env.publisher.clone();
        let connection = connection.clone();
        tasks.push(tokio::spawn(async move {
            publisher
                .publish(
                    &connection,
                    &publish_request(&format!("concurrent post {i}")),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(env.standin.refresh_grants(), 1, "exactly one refresh");
    assert_eq!(env.standin.posts().len(), 20);
    let stored = env.store.get_connection(connection.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active);
    let encrypted = stored.refresh_token.clone().unwrap();
    let new_refresh = env.cipher.decrypt(&encrypted).unwrap();
    assert_ne!(
        new_refresh.expose(),
        &old_refresh,
        "the rotated token is stored"
    );
    assert!(!encrypted.ciphertext.contains(new_refresh.expose().as_str()));
    assert!(env.standin.refresh_token_is_live(new_refresh.expose()));
    assert!(stored.expires_at.unwrap() > env.clock.now() + chrono::Duration::hours(1));
    // The old refresh token is dead at the platform.
    let e = env
        .connector
        .refresh_tokens(&stored, &Secret::new(old_refresh))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired, "{e:?}");
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_and_the_request_repeated() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    // The platform forgets the access token (revoked elsewhere); the refresh token still works.
    let access = env.tokens.decrypt(&connection.access_token).unwrap();
    let revoker = reqwest::Client::new();
    revoker
        .post(format!("{}/2/oauth2/revoke", env.standin.uri()))
        .form(&[
            ("token", access.expose().as_str()),
            ("client_id", "quflux-test-client"),
        ])
        .send()
        .await
        .unwrap();
    let post = env
        .publisher
        .publish(&connection, &publish_request("after a 401"))
        .await
        .unwrap();
    assert!(!post.platform_post_id.as_str().is_empty());
    assert_eq!(env.standin.refresh_grants(), 1);
    assert_eq!(
        env.standin.create_requests(),
        2,
        "the refused create is repeated once"
    );
}

#[tokio::test]
async fn disconnect_revokes_at_the_platform() {
    let env = env().await;
    let (connection, refresh) = env.connect(Duration::from_secs(7200)).await;
    let c = env
        .connections()
        .disconnect(env.user_id, connection.id)
        .await
        .unwrap();
    assert_eq!(c.status, ConnectionStatus::Disconnected);
    assert!(!env.standin.refresh_token_is_live(&refresh));
}

#[tokio::test]
async fn admit_sends_nothing_and_refuses_while_the_budget_is_spent() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let mut request = publish_request("may this go out?");
    request.thread = vec!["second part".into()];
    let before = env.standin.request_count();
    env.publisher.admit(&connection, &request).await.unwrap();
    assert_eq!(env.standin.request_count(), before, "admit sent nothing");
    // Spend the budget the way X does: a 429 with a reset a minute away.
    env.standin.inject_fault(XFault::RateLimited);
    env.publisher
        .publish(&connection, &publish_request("throttled"))
        .await
        .unwrap_err();
    let (requests, creates) = (env.standin.request_count(), env.standin.create_requests());
    let e = env
        .publisher
        .admit(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some_and(|d| d > Duration::ZERO), "{e:?}");
    assert_eq!(env.standin.request_count(), requests, "admit sent nothing");
    assert_eq!(env.standin.create_requests(), creates, "no create request");
    env.clock.advance(Duration::from_secs(62));
    env.publisher.admit(&connection, &request).await.unwrap();
}
