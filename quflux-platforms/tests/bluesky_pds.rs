//! The Bluesky adapter against a REAL local PDS (`@atproto/pds`, started by
//! `scripts/testbed/pds.sh`; URL in `QUFLUX_TEST_PDS_URL`, skipped when unset unless
//! `QUFLUX_TEST_REQUIRE_SERVICES=1`). Creates a fresh account and an app password, connects
//! through `ConnectionService::login`, publishes a post with an image, alt text, a link, a
//! mention and hashtags in emoji and CJK text plus a thread, and reads every record back.
#![cfg(all(feature = "bluesky", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use quflux_core::cipher::AesGcmCipher;
use quflux_core::memory::{InMemoryCache, InMemoryStore, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::testkit::standin::png_media;
use quflux_core::{Clock, Lookup, Platform, Publisher, Secret, SystemClock, UserId};
use quflux_platforms::bluesky::{BlueskyConfig, BlueskyConnector, BlueskyPublisher, tid};
use quflux_platforms::common::{AuthorizeOptions, ConnectionService, RateBudgets, TokenManager};
use serde_json::{Value, json};

async fn xrpc_post(
    http: &reqwest::Client,
    base: &str,
    nsid: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut r = http.post(format!("{base}/xrpc/{nsid}")).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{nsid}: {status} {body}");
    body
}

async fn xrpc_get(
    http: &reqwest::Client,
    base: &str,
    nsid: &str,
    query: &[(&str, &str)],
) -> (u16, Value) {
    let response = http
        .get(format!("{base}/xrpc/{nsid}"))
        .query(query)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn slice<'a>(text: &'a str, facet: &Value) -> &'a str {
    let start = facet["index"]["byteStart"].as_u64().unwrap() as usize;
    let end = facet["index"]["byteEnd"].as_u64().unwrap() as usize;
    &text[start..end]
}

#[tokio::test]
async fn publishing_to_a_real_pds_round_trips() {
    let Some(base) = quflux_core::testkit::env("QUFLUX_TEST_PDS_URL") else {
        return;
    };
    let base = base.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();

    // A fresh account (no invite code on the test bed) and an app password.
    let name = format!("q{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let handle = format!("{name}.test");
    let account = xrpc_post(
        &http,
        &base,
        "com.atproto.server.createAccount",
        None,
        json!({"handle": handle, "email": format!("{name}@mail.test"), "password": "main-password-1"}),
    )
    .await;
    let did = account["did"].as_str().unwrap().to_owned();
    let app = xrpc_post(
        &http,
        &base,
        "com.atproto.server.createAppPassword",
        account["accessJwt"].as_str(),
        json!({"name": "quflux"}),
    )
    .await;
    let app_password = app["password"].as_str().unwrap().to_owned();

    // Connect through the connection service, as the server does.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(InMemoryStore::new());
    let cache = Arc::new(InMemoryCache::new());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("pds")),
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone()),
        clock.clone(),
    ));
    let config = BlueskyConfig::default().with_pds_url(&base);
    let service = ConnectionService::new(tokens.clone(), cache.clone())
        .with_connector(Arc::new(BlueskyConnector::new(config.clone()).unwrap()));
    let connection = service
        .login(
            UserId::new(),
            Platform::Bluesky,
            &handle,
            &Secret::new(app_password),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(connection.platform_user_id, did);
    assert_eq!(connection.platform_username, handle);
    // A forced refresh rotates the pair on the real PDS.
    service
        .refresh(connection.user_id, connection.id)
        .await
        .unwrap();

    let publisher = BlueskyPublisher::new(config, tokens, RateBudgets::new(cache, clock)).unwrap();
    quflux_core::testkit::publisher::run_all(&publisher, &connection).await;

    let text =
        format!("東京🗼 Quflux ✨ https://example.com/路径?x=1 #日本語 #rust by @{handle} 👩‍💻");
    let mut request = quflux_core::testkit::fixtures::publish_request(&text);
    request.media = vec![png_media(connection.user_id, "Ein kleines Quadrat 🟧 四角")];
    request.thread = vec!["2/ ✨ #スレッド".to_owned()];
    let post = publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(post.thread_ids.len(), 1);
    let rkey = tid::for_part(&request.idempotency_key, 0);
    assert_eq!(
        post.platform_post_id.as_str(),
        format!("at://{did}/app.bsky.feed.post/{rkey}")
    );

    // Read back the first post.
    let (status, first) = xrpc_get(
        &http,
        &base,
        "com.atproto.repo.getRecord",
        &[
            ("repo", &did),
            ("collection", "app.bsky.feed.post"),
            ("rkey", &rkey),
        ],
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let value = &first["value"];
    assert_eq!(value["text"], text.as_str());
    let facets = value["facets"].as_array().unwrap();
    let slices: Vec<&str> = facets.iter().map(|f| slice(&text, f)).collect();
    let mention = format!("@{handle}");
    assert_eq!(
        slices,
        [
            "https://example.com/路径?x=1",
            "#日本語",
            "#rust",
            mention.as_str()
        ]
    );
    assert_eq!(
        facets[0]["features"][0]["uri"],
        "https://example.com/路径?x=1"
    );
    assert_eq!(facets[1]["features"][0]["tag"], "日本語");
    assert_eq!(facets[3]["features"][0]["did"], did.as_str());
    assert_eq!(value["embed"]["$type"], "app.bsky.embed.images");
    assert_eq!(
        value["embed"]["images"][0]["alt"],
        "Ein kleines Quadrat 🟧 四角"
    );
    assert_eq!(
        value["embed"]["images"][0]["image"]["mimeType"],
        "image/png"
    );

    // The thread part replies to it with strong refs.
    let (_, list) = xrpc_get(
        &http,
        &base,
        "com.atproto.repo.listRecords",
        &[
            ("repo", &did),
            ("collection", "app.bsky.feed.post"),
            ("limit", "100"),
        ],
    )
    .await;
    let records = list["records"].as_array().unwrap();
    let second = records
        .iter()
        .find(|r| r["uri"] == post.thread_ids[0].as_str())
        .expect("the thread part is listed");
    assert_eq!(second["value"]["reply"]["root"]["uri"], first["uri"]);
    assert_eq!(second["value"]["reply"]["root"]["cid"], first["cid"]);
    assert_eq!(second["value"]["reply"]["parent"]["uri"], first["uri"]);
    let second_text = second["value"]["text"].as_str().unwrap();
    assert_eq!(
        slice(second_text, &second["value"]["facets"][0]),
        "#スレッド"
    );
    let count = records.len();

    // Lookup settles; a resend creates nothing (the keys collide and are read back).
    match publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::Published(found) => {
            assert_eq!(found.platform_post_id, post.platform_post_id);
            assert_eq!(found.thread_ids, post.thread_ids);
        }
        other => panic!("lookup: {other:?}"),
    }
    for attempt in [1, 2] {
        request.attempt = attempt;
        let again = publisher.publish(&connection, &request).await.unwrap();
        assert_eq!(again.platform_post_id, post.platform_post_id);
        assert_eq!(again.thread_ids, post.thread_ids);
    }
    let (_, list) = xrpc_get(
        &http,
        &base,
        "com.atproto.repo.listRecords",
        &[
            ("repo", &did),
            ("collection", "app.bsky.feed.post"),
            ("limit", "100"),
        ],
    )
    .await;
    assert_eq!(
        list["records"].as_array().unwrap().len(),
        count,
        "no second copy"
    );

    // Delete works.
    publisher
        .delete(&connection, &post.thread_ids[0])
        .await
        .unwrap();
    publisher
        .delete(&connection, &post.platform_post_id)
        .await
        .unwrap();
    let (status, gone) = xrpc_get(
        &http,
        &base,
        "com.atproto.repo.getRecord",
        &[
            ("repo", &did),
            ("collection", "app.bsky.feed.post"),
            ("rkey", &rkey),
        ],
    )
    .await;
    assert_eq!(
        (status, gone["error"].as_str()),
        (400, Some("RecordNotFound"))
    );
    assert_eq!(
        publisher.lookup(&connection, &request).await.unwrap(),
        Lookup::NotPublished
    );
}
