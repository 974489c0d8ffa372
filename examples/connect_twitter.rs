//! Connects an X account and publishes a thread with an image — against the local X stand-in,
//! so it runs with no account and no network:
//!
//! ```bash
//! cargo run --example connect_twitter
//! ```
//!
//! 1. starts the stand-in of the X API in-process;
//! 2. starts an authorization through `ConnectionService` and prints the authorize URL;
//! 3. follows it as a browser would (the stand-in approves at once and redirects to the
//!    callback with `code` and `state`), then completes the callback: the code is exchanged with
//!    the PKCE verifier and the connection is stored, tokens encrypted, in a SQLite database;
//! 4. publishes a two-part thread whose first post carries an image with alt text through
//!    `XPublisher` (chunked upload, processing poll, alt-text metadata, `POST /2/tweets`) and
//!    prints the post ids.

use std::sync::Arc;
use std::time::Duration;

use quflux::cipher::AesGcmCipher;
use quflux::platforms::common::{
    AuthorizeOptions, ConnectionService, HttpConfig, RateBudgets, TokenManager,
};
use quflux::platforms::standin::twitter::XStandIn;
use quflux::platforms::twitter::{XConfig, XConnector, XPublisher};
use quflux::services::NotificationService;
use quflux::store::sqlite::SqliteStore;
use quflux::{
    Clock, MediaFile, MediaId, Platform, PublicationId, PublishMedia, PublishRequest, Publisher,
    SystemClock, User, UserStore,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The X stand-in.
    let x = XStandIn::start().await;
    println!("X stand-in listening on {}", x.uri());

    // The store: SQLite in a temporary directory.
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}", dir.path().join("quflux-x.db").display());
    let store = Arc::new(SqliteStore::open(&db).await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let user = User::new("demo@example.com", "Europe/Paris", clock.now());
    store.insert_user(&user).await?;

    let config = XConfig::new("quflux-demo-client", "https://app.example/x/callback")
        .with_api_base(x.uri())
        .with_http(HttpConfig::default().with_timeout(Duration::from_secs(10)))
        .with_media_poll_cap(Duration::from_millis(200));
    let connector = Arc::new(XConnector::new(config.clone())?);
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("demo")),
        NotificationService::new(vec![], clock.clone()),
        clock.clone(),
    ));
    let connections =
        ConnectionService::new(tokens.clone(), store.clone()).with_connector(connector.clone());

    // 2. Start the authorization.
    let start = connections
        .start(user.id, Platform::Twitter, &AuthorizeOptions::default())
        .await?;
    println!("authorize URL: {}", start.authorize_url);

    // 3. Follow it as a browser would, then hand the callback to the service.
    let callback = browser_get(&start.authorize_url).await?;
    println!("redirected to: {callback}");
    let code = query_param(&callback, "code").ok_or("no code in the callback")?;
    let state = query_param(&callback, "state").ok_or("no state in the callback")?;
    let saved = connections
        .callback(user.id, &state, Some(&code), None)
        .await?;
    let connection = saved.into_iter().next().ok_or("no connection saved")?;
    println!(
        "connected @{} (id {}), connection {} stored in {db}; token expires at {:?}",
        connection.platform_username,
        connection.platform_user_id,
        connection.id,
        connection.expires_at
    );

    // 4. Publish a thread with an image.
    let publisher = XPublisher::new(
        config,
        tokens,
        connector,
        RateBudgets::new(store.clone(), clock.clone()),
    )?;
    // The image: a 4×4 PNG.
    let image = quflux::testkit::standin::TINY_PNG.to_vec();
    let request = PublishRequest {
        publication_id: PublicationId::new(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        text: "Hello from Quflux 👋 — a thread with a picture (1/2)".to_owned(),
        thread: vec!["And the second part of the thread (2/2)".to_owned()],
        media: vec![PublishMedia {
            file: MediaFile {
                id: MediaId::new(),
                user_id: user.id,
                filename: "square.png".to_owned(),
                content_type: "image/png".to_owned(),
                size_bytes: image.len() as u64,
                storage_key: "demo/square.png".to_owned(),
                width: Some(4),
                height: Some(4),
                duration_secs: None,
                ai_generated: false,
                created_at: clock.now(),
            },
            alt_text: Some("A tiny orange square".to_owned()),
            bytes: image.into(),
        }],
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: Default::default(),
    };
    let post = publisher.publish(&connection, &request).await?;
    println!(
        "published post {} ({})",
        post.platform_post_id,
        post.url.as_deref().unwrap_or("-")
    );
    for (i, id) in post.thread_ids.iter().enumerate() {
        println!("  thread part {}: {id}", i + 2);
    }
    for p in x.posts() {
        println!(
            "  the stand-in holds {}: {:?} reply_to={:?} media_alt={:?}",
            p.id, p.text, p.reply_to, p.media_alt
        );
    }
    store.close().await;
    Ok(())
}

/// A minimal HTTP/1.1 GET that does not follow redirects: returns the `Location` header.
async fn browser_get(url: &str) -> Result<String, Box<dyn std::error::Error>> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("the stand-in speaks plain http")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    if !answer.starts_with("HTTP/1.1 302") {
        return Err(format!(
            "the authorize page did not redirect: {}",
            answer.lines().next().unwrap_or("")
        )
        .into());
    }
    answer
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .ok_or_else(|| "no Location header".into())
}

/// A query parameter of `url` (the stand-in's codes and states need no percent-decoding).
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}
