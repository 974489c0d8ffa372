//! The flow every end-to-end test runs over real HTTP against the in-process server (with a
//! worker): register, connect the Mastodon stand-in through its OAuth flow, upload an image,
//! create a post, schedule it, receive `published` on the websocket, the e-mail and the
//! webhooks, and see the publication listed.

use base64::Engine;
use chrono::{DateTime, Timelike, Utc};
use futures::StreamExt;
use quflux_core::testkit::standin::TINY_PNG;
use quflux_core::{BlobStore, MediaId};
use quflux_platforms::standin::mastodon::{self, MastodonStandIn};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{Options, TestServer};
use crate::sinks::{Mail, S3Target, TIMEOUT, WebhookReceiver};

/// Where the stand-in sends the browser back (never fetched: the test reads the redirect).
const REDIRECT_URL: &str = "https://app.quflux.test/connections/mastodon/callback";
const WEBHOOK_SECRET: &str = "whsec_e2e_3f9c1a7d5b";
/// The zone `TestServer::register` gives the user.
const USER_TIME_ZONE: &str = "Europe/Paris";
const ALT_TEXT: &str = "A tiny orange square";

/// Where the media bytes live.
pub(crate) enum Blobs {
    /// The server's default: files under its temp dir.
    Fs,
    /// A bucket on the real local S3 server.
    S3(Box<S3Target>),
}

/// Runs the whole flow on a server started with `options` (database), sending mail to `mail`
/// and keeping media in `blobs`. Returns without doing anything when `options` asks for
/// PostgreSQL and none is configured (the harness prints the skip).
pub(crate) async fn run(options: Options, mail: Mail, blobs: Blobs) {
    let standin = mastodon::start().await;
    let hooks = WebhookReceiver::start().await;
    let mut options = options
        .with_worker()
        .set("QUFLUX_TOKEN_KEYS", token_keys())
        .set("QUFLUX_MASTODON_INSTANCE", standin.uri())
        .set("QUFLUX_MASTODON_REDIRECT_URL", REDIRECT_URL)
        .set("QUFLUX_HTTP_TIMEOUT_SECS", "10")
        .set("QUFLUX_WEBHOOK_URLS", hooks.url.clone())
        .set("QUFLUX_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .set("QUFLUX_LOG_FORMAT", "text");
    for (name, value) in mail.settings() {
        options = options.set(name, value);
    }
    if let Blobs::S3(target) = &blobs {
        for (name, value) in target.settings() {
            options = options.set(name, value);
        }
    }
    let Some(server) = TestServer::try_start(options).await else {
        return;
    };

    // Register.
    let email = format!("e2e-{}@mail.test", uuid::Uuid::new_v4().simple());
    let (token, user) = server.register(&email).await;
    assert_eq!(user["email"], email.as_str());
    let api = Api {
        server: &server,
        token,
    };

    connect_through_oauth(&api, &standin).await;
    let media_id = upload_image(&api, &blobs).await;

    // A post with the image.
    let text = format!(
        "Quflux end-to-end {} 🚀",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (status, post) = api
        .post(
            "/api/v1/posts",
            json!({ "text": text, "media": [{ "media_id": media_id, "alt_text": ALT_TEXT }] }),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    let post_id = post["id"].as_str().unwrap().to_owned();
    assert_eq!(post["content"]["media"][0]["media_id"], media_id.as_str());

    // The websocket, opened before the schedule so it sees the event live.
    let ws_url = format!("{}/api/v1/ws", server.base.replacen("http://", "ws://", 1));
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", api.token).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    // Schedule it two to three seconds ahead, as wall-clock time in the user's zone.
    let due = (Utc::now() + chrono::Duration::seconds(3))
        .with_nanosecond(0)
        .unwrap();
    let zone: chrono_tz::Tz = USER_TIME_ZONE.parse().unwrap();
    let local_time = due.with_timezone(&zone).naive_local();
    let (status, scheduled) = api
        .post(
            "/api/v1/schedules",
            json!({
                "post_id": post_id,
                "local_time": local_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "platforms": ["mastodon"],
            }),
        )
        .await;
    assert_eq!(status, 201, "{scheduled}");
    let schedule_id = scheduled["schedule"]["id"].as_str().unwrap().to_owned();
    let scheduled_at: DateTime<Utc> = scheduled["schedule"]["scheduled_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        scheduled_at, due,
        "the local time is read in the user's zone"
    );
    assert_eq!(scheduled["publications"].as_array().unwrap().len(), 1);

    // `published` arrives on the websocket.
    let event = tokio::time::timeout(TIMEOUT, async {
        while let Some(message) = socket.next().await {
            let Message::Text(text) = message.unwrap() else {
                continue;
            };
            let event: Value = serde_json::from_str(&text).unwrap();
            let n = &event["notification"];
            if n["post_id"] == post_id.as_str() {
                assert_eq!(n["kind"], "published", "{event}");
                return event;
            }
        }
        panic!("the websocket closed before the event");
    })
    .await;
    let event = match event {
        Ok(event) => event,
        Err(_) => {
            let (_, publications) = api.get("/api/v1/publications").await;
            panic!("no `published` event within 30 s; publications: {publications}");
        }
    };
    let notification = &event["notification"];
    assert!(event["seq"].as_i64().unwrap() > 0);
    assert_eq!(notification["platform"], "mastodon");
    let platform_post_id = notification["platform_post_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post_url = notification["url"].as_str().unwrap().to_owned();
    let _ = socket.close(None).await;

    // The publication is listed as published.
    let (status, list) = api.get("/api/v1/publications?status=published").await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let publication = &items[0];
    assert_eq!(publication["post_id"], post_id.as_str());
    assert_eq!(publication["schedule_id"], schedule_id.as_str());
    assert_eq!(publication["platform"], "mastodon");
    assert_eq!(publication["status"], "published");
    assert_eq!(publication["platform_post_id"], platform_post_id.as_str());
    assert_eq!(publication["url"], post_url.as_str());
    assert!(publication["published_at"].is_string(), "{publication}");

    // The stand-in got exactly one status, with the text and the image, and one upload.
    let statuses = standin.posts();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].id, platform_post_id);
    assert_eq!(statuses[0].text, text);
    assert_eq!(statuses[0].media_alt, vec![Some(ALT_TEXT.to_owned())]);
    assert_eq!(standin.requests("POST", "/api/v1/statuses").await, 1);
    assert_eq!(standin.requests("POST", "/api/v2/media").await, 1);

    // The e-mail.
    mail.expect_published(&email, &post_url).await;

    // The webhooks: lifecycle events and the publication, each validly signed.
    let created = hooks
        .wait_for(WEBHOOK_SECRET, "post.created", "post_id", &post_id)
        .await;
    assert_eq!(created.data["user_id"], user["id"]);
    let scheduled_hook = hooks
        .wait_for(
            WEBHOOK_SECRET,
            "schedule.created",
            "schedule_id",
            &schedule_id,
        )
        .await;
    assert_eq!(scheduled_hook.data["post_id"], post_id.as_str());
    let published = hooks
        .wait_for(WEBHOOK_SECRET, "publication.published", "post_id", &post_id)
        .await;
    assert_eq!(
        published.data["platform_post_id"],
        platform_post_id.as_str()
    );
    assert_eq!(published.data["kind"], "published");

    if let Blobs::S3(target) = &blobs {
        media_came_from_s3(&server, target, &media_id).await;
    }
    server.stop().await;
}

/// `id:base64` of a fixed 32-byte key.
fn token_keys() -> String {
    format!(
        "e2e:{}",
        base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32])
    )
}

/// An authenticated client of the server's API.
struct Api<'a> {
    server: &'a TestServer,
    token: String,
}

impl Api<'_> {
    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .server
            .http
            .get(self.server.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .server
            .http
            .post(self.server.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }
}

/// Start → the authorize page (followed as a browser would, redirect read not followed) →
/// callback → the connection listed as active.
async fn connect_through_oauth(api: &Api<'_>, standin: &MastodonStandIn) {
    let (status, platforms) = api.get("/api/v1/connections/platforms").await;
    assert_eq!(status, 200, "{platforms}");
    assert!(
        platforms["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["platform"] == "mastodon" && p["method"] == "oauth"),
        "{platforms}"
    );
    let (status, start) = api
        .post(
            "/api/v1/connections/start",
            json!({ "platform": "mastodon" }),
        )
        .await;
    assert_eq!(status, 201, "{start}");
    let authorize_url = start["authorize_url"].as_str().unwrap();
    assert!(
        authorize_url.starts_with(&format!("{}/oauth/authorize?", standin.uri())),
        "{authorize_url}"
    );
    assert_eq!(standin.app_registrations(), 1);

    // The user approves: the stand-in redirects to the redirect URL with a code and the state.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 302, "{}", page.text().await.unwrap());
    let location = page.headers()["location"].to_str().unwrap();
    let callback = reqwest::Url::parse(location).unwrap();
    assert!(location.starts_with(REDIRECT_URL), "{location}");
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no `{name}` in {location}"))
    };
    let (code, state) = (param("code"), param("state"));
    assert_eq!(state, start["state"].as_str().unwrap());

    let (status, connected) = api
        .post(
            "/api/v1/connections/callback",
            json!({ "state": state, "code": code }),
        )
        .await;
    assert_eq!(status, 200, "{connected}");
    assert_eq!(connected["items"][0]["platform"], "mastodon");
    let host = reqwest::Url::parse(&standin.uri())
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        connected["items"][0]["username"],
        format!("{}@{host}", mastodon::USERNAME)
    );

    let (status, list) = api.get("/api/v1/connections").await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["platform"], "mastodon");
    let authority = standin.uri().replacen("http://", "", 1);
    assert_eq!(
        items[0]["platform_user_id"],
        format!("{}@{authority}", mastodon::ACCOUNT_ID)
    );
    assert_eq!(items[0]["status"], "active");
    assert!(
        !list.to_string().contains("tok-"),
        "tokens are never shown: {list}"
    );
}

/// Uploads the PNG (multipart) and checks it reads back: through the content route on the
/// file system, through a presigned URL that downloads the same bytes on S3.
async fn upload_image(api: &Api<'_>, blobs: &Blobs) -> String {
    let part = reqwest::multipart::Part::bytes(TINY_PNG.to_vec())
        .file_name("square.png")
        .mime_str("application/octet-stream")
        .unwrap();
    let res = api
        .server
        .http
        .post(api.server.url("/api/v1/media"))
        .bearer_auth(&api.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let media: Value = res.json().await.unwrap();
    assert_eq!(media["content_type"], "image/png", "sniffed from the bytes");
    assert_eq!(media["filename"], "square.png");
    assert_eq!(media["size_bytes"], TINY_PNG.len());
    assert_eq!(
        (media["width"].as_u64(), media["height"].as_u64()),
        (Some(4), Some(4))
    );
    let id = media["id"].as_str().unwrap().to_owned();

    let (status, shown) = api.get(&format!("/api/v1/media/{id}")).await;
    assert_eq!(status, 200, "{shown}");
    let url = shown["url"].as_str().unwrap();
    let downloaded = match blobs {
        Blobs::Fs => {
            assert_eq!(url, format!("/api/v1/media/{id}/content"));
            let res = api
                .server
                .http
                .get(api.server.url(url))
                .bearer_auth(&api.token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.bytes().await.unwrap()
        }
        Blobs::S3(target) => {
            assert!(
                url.starts_with(&format!("{}/{}/", target.url, target.bucket)),
                "a path-style URL on the S3 server: {url}"
            );
            assert!(url.contains("X-Amz-Signature="), "presigned: {url}");
            // No credentials: the signature in the URL is the authorization.
            let res = reqwest::get(url).await.unwrap();
            assert_eq!(res.status(), 200, "{url}");
            res.bytes().await.unwrap()
        }
    };
    assert_eq!(&downloaded[..], &TINY_PNG[..]);
    id
}

/// The image the platform received can only have come from S3: the server has no other copy
/// (nothing under its file-system root), and the object holds the uploaded bytes.
async fn media_came_from_s3(server: &TestServer, target: &S3Target, media_id: &str) {
    let id: MediaId = media_id.parse().unwrap();
    let file = server.state.db.get_media(id).await.unwrap();
    let stored = target.store.get(&file.storage_key).await.unwrap();
    assert_eq!(&stored[..], &TINY_PNG[..]);
    assert!(
        format!("{:?}", server.state.blobs).contains(&target.bucket),
        "the server's blob store is the bucket: {:?}",
        server.state.blobs
    );
    let fs_root = server.dir.path().join("media");
    let local_files = std::fs::read_dir(&fs_root).map_or(0, |d| d.count());
    assert_eq!(local_files, 0, "no media under {}", fs_root.display());
}
