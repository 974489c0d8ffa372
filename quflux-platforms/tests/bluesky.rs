//! The Bluesky adapter against the stand-in PDS: the platform contract suite, every created
//! record validated against the official lexicons (`fixtures/bluesky/lexicons`), facets at
//! exact byte offsets, session refresh with rotation, rate budgets and crash-safe resends.
#![cfg(all(feature = "bluesky", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{InMemoryCache, InMemoryStore, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::testkit::standin::{Fault, StandIn, StandInPost, png_media, run_contract};
use quflux_core::{
    Cache, Clock, ConnectionStore, ErrorKind, LinkPreview, Lookup, Platform, PlatformConnection,
    PublishRequest, Publisher, Secret, SystemClock, UserId,
};
use quflux_platforms::bluesky::facets::{FacetKind, detect};
use quflux_platforms::bluesky::{BlueskyConfig, BlueskyConnector, BlueskyPublisher, tid};
use quflux_platforms::common::{
    AuthorizeOptions, ConnectionService, Connector, HttpConfig, RateBudgets, TokenManager,
};
use quflux_platforms::standin::bluesky::{BlueskyFault, BlueskyStandIn, StandInRecord};
use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

struct Harness {
    standin: BlueskyStandIn,
    publisher: BlueskyPublisher,
    connection: PlatformConnection,
    store: Arc<InMemoryStore>,
    tokens: Arc<TokenManager>,
}

fn config(uri: &str) -> BlueskyConfig {
    BlueskyConfig::default()
        .with_pds_url(uri)
        .with_http(HttpConfig::default().with_timeout(Duration::from_secs(3)))
}

async fn harness() -> Harness {
    let standin = BlueskyStandIn::start().await;
    standin.add_account("alice.test", "app-pass-alice");
    standin.add_account("bob.test", "app-pass-bob");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(InMemoryStore::new());
    let cache: Arc<dyn Cache> = Arc::new(InMemoryCache::new());
    let notifier = Arc::new(RecordingNotifier::new());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("test")),
        NotificationService::new(vec![notifier], clock.clone()),
        clock.clone(),
    ));
    let connector = Arc::new(BlueskyConnector::new(config(&standin.uri())).unwrap());
    let service = ConnectionService::new(tokens.clone(), cache.clone()).with_connector(connector);
    let mut connections = service
        .login(
            UserId::new(),
            Platform::Bluesky,
            "alice.test",
            &Secret::new("app-pass-alice".to_owned()),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap();
    let connection = connections.pop().unwrap();
    let publisher = BlueskyPublisher::new(
        config(&standin.uri()),
        tokens.clone(),
        RateBudgets::new(cache, clock),
    )
    .unwrap();
    Harness {
        standin,
        publisher,
        connection,
        store,
        tokens,
    }
}

/// The contract suite's view of the stand-in.
struct Control<'a>(&'a BlueskyStandIn);

#[async_trait]
impl StandIn for Control<'_> {
    async fn inject(&self, fault: Fault) -> bool {
        let fault = match fault {
            Fault::RateLimited => BlueskyFault::RateLimited,
            Fault::ExpiredToken => BlueskyFault::ExpiredToken,
            Fault::InvalidContent => BlueskyFault::InvalidContent,
            Fault::ServerError => BlueskyFault::ServerError,
            Fault::TimeoutAfterCreate => BlueskyFault::TimeoutAfterCreate,
            // Bluesky detects no duplicates.
            Fault::Duplicate => return false,
        };
        self.0.inject_fault(fault);
        true
    }

    async fn posts(&self) -> Vec<StandInPost> {
        self.0
            .posts()
            .into_iter()
            .map(|r| StandInPost {
                text: r.value["text"].as_str().unwrap_or_default().to_owned(),
                reply_to: r.reply_parent(),
                media_alt: r.image_alts(),
                id: r.uri,
            })
            .collect()
    }

    async fn reset(&self) {
        self.0.reset();
        // A throttling answer blocks the account's write budget until its announced reset.
        if let Some(reset) = self.0.rate_reset() {
            let wait = (reset + 1) * 1000 - chrono::Utc::now().timestamp_millis();
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            }
        }
    }
}

fn request(text: &str) -> PublishRequest {
    quflux_core::testkit::fixtures::publish_request(text)
}

#[tokio::test]
async fn the_platform_contract_holds() {
    let h = harness().await;
    run_contract(&h.publisher, &h.connection, &Control(&h.standin)).await;
    let posts = h.standin.posts();
    assert!(posts.len() >= 5, "{posts:?}");
    for record in &posts {
        Lexicons::load().validate_record(&record.value);
    }
}

#[tokio::test]
async fn rich_posts_and_threads_match_the_lexicons_with_exact_facets() {
    let h = harness().await;
    let text = "東京🗼 Quflux ✨ docs https://example.com/パス?q=1 #日本語 #rust @bob.test @nobody.test 👩‍💻";
    let mut rich = request(text);
    rich.media = vec![png_media(h.connection.user_id, "Ein kleines Quadrat 🟧")];
    rich.thread = vec!["2/ #thread with 🎉 emoji".into(), "3/ the end".into()];
    let post = h.publisher.publish(&h.connection, &rich).await.unwrap();
    assert_eq!(post.thread_ids.len(), 2);
    assert!(
        post.url
            .unwrap()
            .ends_with(&tid::for_part(&rich.idempotency_key, 0))
    );

    let mut card = request("read this");
    card.link_url = Some("https://example.com/article".into());
    card.link_preview = Some(LinkPreview {
        url: "https://example.com/article".into(),
        title: Some("An article".into()),
        description: Some("What it is about".into()),
        ..Default::default()
    });
    let card_post = h.publisher.publish(&h.connection, &card).await.unwrap();

    let posts = h.standin.posts();
    let lexicons = Lexicons::load();
    for record in &posts {
        lexicons.validate_record(&record.value);
    }
    let find =
        |uri: &str| -> StandInRecord { posts.iter().find(|r| r.uri == uri).unwrap().clone() };

    let first = find(post.platform_post_id.as_str());
    assert_eq!(first.value["text"], text);
    assert!(first.uri.ends_with(&format!(
        "/app.bsky.feed.post/{}",
        tid::for_part(&rich.idempotency_key, 0)
    )));
    let slices: Vec<(String, Value)> = first.value["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let (s, e) = (
                f["index"]["byteStart"].as_u64().unwrap() as usize,
                f["index"]["byteEnd"].as_u64().unwrap() as usize,
            );
            (text[s..e].to_owned(), f["features"][0].clone())
        })
        .collect();
    assert_eq!(
        slices.len(),
        4,
        "the unknown handle gets no facet: {slices:?}"
    );
    assert_eq!(slices[0].0, "https://example.com/パス?q=1");
    assert_eq!(slices[0].1["uri"], "https://example.com/パス?q=1");
    assert_eq!(slices[1].0, "#日本語");
    assert_eq!(slices[1].1["tag"], "日本語");
    assert_eq!(slices[2].0, "#rust");
    assert_eq!(slices[3].0, "@bob.test");
    assert!(slices[3].1["did"].as_str().unwrap().starts_with("did:plc:"));
    assert_eq!(
        first.image_alts(),
        vec![Some("Ein kleines Quadrat 🟧".to_owned())]
    );
    assert_eq!(first.value["embed"]["images"][0]["aspectRatio"]["width"], 4);

    let second = find(post.thread_ids[0].as_str());
    let third = find(post.thread_ids[1].as_str());
    assert_eq!(second.value["reply"]["root"]["uri"], first.uri.as_str());
    assert_eq!(second.value["reply"]["parent"]["cid"], first.cid.as_str());
    assert_eq!(third.value["reply"]["root"]["uri"], first.uri.as_str());
    assert_eq!(third.value["reply"]["parent"]["uri"], second.uri.as_str());
    assert_eq!(second.value["facets"][0]["index"]["byteStart"], 3);
    assert_eq!(second.value["facets"][0]["index"]["byteEnd"], 10);

    let card_record = find(card_post.platform_post_id.as_str());
    assert_eq!(
        card_record.value["embed"]["$type"],
        "app.bsky.embed.external"
    );
    assert_eq!(
        card_record.value["embed"]["external"]["title"],
        "An article"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_pair_rotates() {
    let h = harness().await;
    let before = h.store.get_connection(h.connection.id).await.unwrap();
    h.standin.expire_access_tokens();
    let post = h
        .publisher
        .publish(&h.connection, &request("after expiry"))
        .await
        .unwrap();
    assert!(post.platform_post_id.as_str().starts_with("at://did:plc:"));
    assert_eq!(
        h.standin.refreshes(),
        1,
        "one refresh for the 400 ExpiredToken"
    );
    let after = h.store.get_connection(h.connection.id).await.unwrap();
    let decrypt = |t| h.tokens.decrypt(t).unwrap().expose().clone();
    assert_ne!(
        decrypt(before.refresh_token.as_ref().unwrap()),
        decrypt(after.refresh_token.as_ref().unwrap()),
        "the rotated refresh token is stored"
    );
    assert_ne!(decrypt(&before.access_token), decrypt(&after.access_token));
    assert!(after.expires_at.unwrap() > chrono::Utc::now() + chrono::Duration::minutes(100));
}

#[tokio::test]
async fn a_throttled_account_is_not_sent_anything_until_the_reset() {
    let h = harness().await;
    h.standin.inject_fault(BlueskyFault::RateLimited);
    let e = h
        .publisher
        .publish(&h.connection, &request("one"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    // The stand-in would accept now, but the budget knows the reset has not passed.
    let e = h
        .publisher
        .publish(&h.connection, &request("two"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some());
    assert!(h.standin.posts().is_empty());
}

#[tokio::test]
async fn a_resend_after_a_lost_answer_completes_the_thread_without_duplicates() {
    let h = harness().await;
    let mut req = request("first part");
    req.thread = vec!["second part".into()];
    h.standin.inject_fault(BlueskyFault::TimeoutAfterCreate);
    let e = h.publisher.publish(&h.connection, &req).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(h.standin.posts().len(), 1);
    // Only part one exists: not published yet, and a resend cannot duplicate it.
    assert_eq!(
        h.publisher.lookup(&h.connection, &req).await.unwrap(),
        Lookup::NotPublished
    );
    // Even a first attempt colliding with the existing key (500 on @atproto/pds) settles.
    let post = h.publisher.publish(&h.connection, &req).await.unwrap();
    req.attempt = 2;
    let again = h.publisher.publish(&h.connection, &req).await.unwrap();
    assert_eq!(post, Lookup::Published(again.clone()).published().unwrap());
    assert_eq!(h.standin.posts().len(), 2, "never a second copy");
    match h.publisher.lookup(&h.connection, &req).await.unwrap() {
        Lookup::Published(p) => {
            assert_eq!(p.platform_post_id, again.platform_post_id);
            assert_eq!(p.thread_ids, again.thread_ids);
        }
        other => panic!("{other:?}"),
    }
}

trait Published {
    fn published(self) -> Option<quflux_core::PublishedPost>;
}
impl Published for Lookup {
    fn published(self) -> Option<quflux_core::PublishedPost> {
        match self {
            Lookup::Published(p) => Some(p),
            _ => None,
        }
    }
}

#[tokio::test]
async fn over_long_text_is_refused_before_any_request() {
    let h = harness().await;
    let e = h
        .publisher
        .publish(&h.connection, &request(&"🦋".repeat(301)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    // 300 graphemes but more than 3000 bytes.
    let e = h
        .publisher
        .publish(&h.connection, &request(&"👩‍👩‍👧‍👦".repeat(200)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(h.standin.posts().is_empty());
}

#[tokio::test]
async fn login_is_by_app_password_only() {
    let standin = BlueskyStandIn::start().await;
    let did = standin.add_account("carol.test", "right");
    let connector = BlueskyConnector::new(config(&standin.uri())).unwrap();
    let e = connector
        .authorize(Platform::Bluesky, &AuthorizeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = connector
        .login(
            Platform::Bluesky,
            "carol.test",
            &Secret::new("wrong".into()),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        !format!("{e:?}").contains("wrong\""),
        "the password is not echoed"
    );
    let accounts = connector
        .login(
            Platform::Bluesky,
            "@carol.test",
            &Secret::new("right".into()),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(accounts[0].platform_user_id, did);
    assert_eq!(accounts[0].username, "carol.test");
    assert_eq!(
        accounts[0].metadata["pds_url"],
        standin.uri().trim_end_matches('/')
    );
    let life = accounts[0].tokens.expires_in.unwrap();
    assert!(
        life > Duration::from_secs(7_000) && life <= Duration::from_secs(7_200),
        "{life:?}"
    );
}

#[test]
fn facet_offsets_are_utf8_bytes() {
    let text = "✨ Quflux docs: https://example.com #rust @bob.bsky.social";
    let f = detect(text);
    assert_eq!((f[0].byte_start, f[0].byte_end), (17, 36));
    assert_eq!((f[1].byte_start, f[1].byte_end), (37, 42));
    assert_eq!((f[2].byte_start, f[2].byte_end), (43, 59));
    let cjk = "日本語のテキスト #東京タワー と https://例え.テスト/路径 😀 @alice.test";
    let f = detect(cjk);
    let slices: Vec<&str> = f.iter().map(|f| &cjk[f.byte_start..f.byte_end]).collect();
    assert_eq!(
        slices,
        ["#東京タワー", "https://例え.テスト/路径", "@alice.test"]
    );
    assert_eq!(
        f[0].byte_start, 25,
        "8 CJK characters of 3 bytes and a space"
    );
    assert_eq!(f[0].kind, FacetKind::Tag("東京タワー".into()));
}

// ---------------------------------------------------------------------------------------------
// A validator for the lexicon subset Quflux writes: app.bsky.feed.post, app.bsky.richtext.facet,
// app.bsky.embed.images, app.bsky.embed.external, com.atproto.repo.strongRef.

struct Lexicons {
    root: PathBuf,
}

impl Lexicons {
    fn load() -> Self {
        Self {
            root: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bluesky/lexicons"),
        }
    }

    fn doc(&self, nsid: &str) -> Value {
        let path = self.root.join(format!("{}.json", nsid.replace('.', "/")));
        serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")),
        )
        .unwrap()
    }

    /// Resolves `ref` (`#name`, `nsid#name` or `nsid`) seen in lexicon `nsid`.
    fn resolve(&self, nsid: &str, r: &str) -> (String, Value) {
        let (target, name) = match r.split_once('#') {
            Some(("", name)) => (nsid.to_owned(), name.to_owned()),
            Some((n, name)) => (n.to_owned(), name.to_owned()),
            None => (r.to_owned(), "main".to_owned()),
        };
        let def = self.doc(&target)["defs"][&name].clone();
        assert!(!def.is_null(), "unknown lexicon ref {r} in {nsid}");
        (target, def)
    }

    fn validate_record(&self, value: &Value) {
        let nsid = value["$type"].as_str().expect("a record has a $type");
        let def = self.doc(nsid)["defs"]["main"].clone();
        assert_eq!(def["type"], "record");
        self.object(nsid, &def["record"], value, "record");
    }

    fn object(&self, nsid: &str, def: &Value, value: &Value, at: &str) {
        let obj = value
            .as_object()
            .unwrap_or_else(|| panic!("{at}: not an object: {value}"));
        for req in def["required"].as_array().into_iter().flatten() {
            let name = req.as_str().unwrap();
            assert!(
                obj.contains_key(name),
                "{at}: missing required `{name}` in {value}"
            );
        }
        let props = def["properties"].as_object().cloned().unwrap_or_default();
        for (k, v) in obj {
            if k == "$type" {
                continue;
            }
            let prop = props
                .get(k)
                .unwrap_or_else(|| panic!("{at}: `{k}` is not in the lexicon"));
            self.field(nsid, prop, v, &format!("{at}.{k}"));
        }
    }

    fn field(&self, nsid: &str, def: &Value, value: &Value, at: &str) {
        match def["type"].as_str().unwrap() {
            "string" => {
                let s = value
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: not a string"));
                if let Some(max) = def["maxLength"].as_u64() {
                    assert!(s.len() as u64 <= max, "{at}: longer than {max} bytes");
                }
                if let Some(max) = def["maxGraphemes"].as_u64() {
                    assert!(
                        s.graphemes(true).count() as u64 <= max,
                        "{at}: more than {max} graphemes"
                    );
                }
                match def["format"].as_str() {
                    Some("datetime") => assert!(
                        chrono::DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with('Z'),
                        "{at}: {s}"
                    ),
                    Some("uri") => assert!(reqwest::Url::parse(s).is_ok(), "{at}: not a URI: {s}"),
                    Some("at-uri") => assert!(
                        s.starts_with("at://") && s.split('/').count() == 5,
                        "{at}: {s}"
                    ),
                    Some("did") => assert!(
                        s.starts_with("did:") && s.split(':').count() >= 3,
                        "{at}: {s}"
                    ),
                    Some("cid") => assert!(
                        s.len() > 8 && s.chars().all(|c| c.is_ascii_alphanumeric()),
                        "{at}: {s}"
                    ),
                    Some("language") => assert!(!s.is_empty() && s.len() <= 16, "{at}: {s}"),
                    _ => {}
                }
            }
            "integer" => {
                let n = value
                    .as_i64()
                    .unwrap_or_else(|| panic!("{at}: not an integer"));
                if let Some(min) = def["minimum"].as_i64() {
                    assert!(n >= min, "{at}: below {min}");
                }
                if let Some(max) = def["maximum"].as_i64() {
                    assert!(n <= max, "{at}: above {max}");
                }
            }
            "boolean" => assert!(value.is_boolean(), "{at}"),
            "array" => {
                let items = value
                    .as_array()
                    .unwrap_or_else(|| panic!("{at}: not an array"));
                if let Some(max) = def["maxLength"].as_u64() {
                    assert!(items.len() as u64 <= max, "{at}: more than {max} items");
                }
                if let Some(min) = def["minLength"].as_u64() {
                    assert!(items.len() as u64 >= min, "{at}: fewer than {min} items");
                }
                for (i, item) in items.iter().enumerate() {
                    self.field(nsid, &def["items"], item, &format!("{at}[{i}]"));
                }
            }
            "ref" => {
                let (target, d) = self.resolve(nsid, def["ref"].as_str().unwrap());
                self.field(&target, &d, value, at);
            }
            "object" => self.object(nsid, def, value, at),
            "union" => {
                let ty = value["$type"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: a union member needs $type"));
                let normalize = |r: &str| {
                    let full = if r.starts_with('#') {
                        format!("{nsid}{r}")
                    } else {
                        r.to_owned()
                    };
                    full.strip_suffix("#main")
                        .map(str::to_owned)
                        .unwrap_or(full)
                };
                let allowed: Vec<String> = def["refs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| normalize(r.as_str().unwrap()))
                    .collect();
                assert!(
                    allowed.contains(&normalize(ty)),
                    "{at}: $type {ty} is not one of {allowed:?}"
                );
                let (target, d) = self.resolve(nsid, &normalize(ty));
                self.field(&target, &d, value, at);
            }
            "blob" => {
                assert_eq!(value["$type"], "blob", "{at}");
                assert!(value["ref"]["$link"].is_string(), "{at}: blob ref");
                let mime = value["mimeType"].as_str().unwrap();
                let size = value["size"].as_u64().unwrap();
                if let Some(max) = def["maxSize"].as_u64() {
                    assert!(size <= max, "{at}: blob larger than {max}");
                }
                if let Some(accept) = def["accept"].as_array() {
                    assert!(
                        accept.iter().any(|a| {
                            let a = a.as_str().unwrap();
                            a == "*/*"
                                || a == mime
                                || a.strip_suffix("/*")
                                    .is_some_and(|p| mime.starts_with(&format!("{p}/")))
                        }),
                        "{at}: {mime} not accepted"
                    );
                }
            }
            "unknown" => {}
            other => panic!("{at}: lexicon type {other} is outside the validated subset"),
        }
    }
}

#[test]
fn the_validator_rejects_what_the_lexicons_forbid() {
    let lex = Lexicons::load();
    let ok = serde_json::json!({"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-09-20T12:00:00.000Z"});
    lex.validate_record(&ok);
    for bad in [
        serde_json::json!({"$type": "app.bsky.feed.post", "text": "x".repeat(301), "createdAt": "2026-09-20T12:00:00.000Z"}),
        serde_json::json!({"$type": "app.bsky.feed.post", "text": "hi"}),
        serde_json::json!({"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-09-20T12:00:00.000Z",
            "embed": {"$type": "app.bsky.embed.images", "images": [{"image": {"$type": "blob", "ref": {"$link": "bafkrei"}, "mimeType": "image/png", "size": 3}}]}}),
        serde_json::json!({"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-09-20T12:00:00.000Z",
            "facets": [{"index": {"byteStart": 0, "byteEnd": 2}, "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "bob"}]}]}),
    ] {
        let r = std::panic::catch_unwind(|| lex.validate_record(&bad));
        assert!(r.is_err(), "accepted {bad}");
    }
}

#[tokio::test]
async fn admit_sends_nothing_and_refuses_a_throttled_account() {
    let h = harness().await;
    let mut thread = request("admitted?");
    thread.thread = vec!["part two".into()];
    h.publisher.admit(&h.connection, &thread).await.unwrap();
    assert!(h.standin.posts().is_empty(), "admit created nothing");
    h.standin.inject_fault(BlueskyFault::RateLimited);
    h.publisher
        .publish(&h.connection, &request("throttled"))
        .await
        .unwrap_err();
    let e = h.publisher.admit(&h.connection, &thread).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some_and(|d| d > Duration::ZERO), "{e:?}");
    // The fault was used up by the throttled publish: a create now would have landed.
    assert!(h.standin.posts().is_empty(), "no create request");
}
