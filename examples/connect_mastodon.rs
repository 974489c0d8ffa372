//! Connects a Mastodon account through OAuth (app registration, PKCE, callback) and publishes a
//! thread with an image and a content warning, against an in-process stand-in instance
//! (`quflux::platforms::standin::mastodon`): no network, no account.
//!
//! ```bash
//! cargo run --example connect_mastodon
//! ```

use std::sync::Arc;

use quflux::cipher::AesGcmCipher;
use quflux::memory::RecordingNotifier;
use quflux::platforms::common::{AuthorizeOptions, ConnectionService, TokenManager};
use quflux::platforms::mastodon::{MastodonConfig, MastodonConnector, MastodonPublisher};
use quflux::platforms::standin::mastodon;
use quflux::services::NotificationService;
use quflux::store::sqlite::SqliteStore;
use quflux::{
    Clock, Lookup, Platform, PublicationId, PublishOptions, PublishRequest, Publisher, SystemClock,
    User, UserStore,
};
use quflux_core::testkit::standin::png_media;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a browser does with the authorize URL when the user approves: GET it and read the
/// redirect. Returns the `Location` header.
async fn follow(authorize_url: &str) -> Result<String, Box<dyn std::error::Error>> {
    let rest = authorize_url
        .strip_prefix("http://")
        .ok_or("the stand-in speaks plain http")?;
    let (authority, path) = rest.split_at(rest.find('/').ok_or("no path")?);
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let status = answer.lines().next().unwrap_or_default().to_owned();
    if !status.contains(" 302") {
        return Err(format!("the authorize page answered {status}").into());
    }
    answer
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .ok_or_else(|| "no Location header".into())
}

/// A query parameter of a callback URL.
fn param(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?.1.split('&').find_map(|pair| {
        pair.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let standin = mastodon::start().await;
    println!("stand-in Mastodon instance on {}", standin.uri());

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(SqliteStore::in_memory().await?);
    let user = User::new("alice@quflux.test", "Europe/Paris", clock.now());
    store.insert_user(&user).await?;
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("example")),
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone()),
        clock.clone(),
    ));
    let config = MastodonConfig::default()
        .with_instance(standin.uri())
        .with_redirect_url("https://app.example/cb");
    let connector = MastodonConnector::new(config.clone(), store.clone(), tokens.cipher().clone())?;
    let connections =
        ConnectionService::new(tokens.clone(), store.clone()).with_connector(Arc::new(connector));

    // 1. Start: registers the app on the instance, builds the authorize URL (PKCE S256).
    let options = AuthorizeOptions {
        instance: Some(standin.uri()),
    };
    let start = connections
        .start(user.id, Platform::Mastodon, &options)
        .await?;
    println!(
        "authorize at {}…",
        &start.authorize_url[..start.authorize_url.len().min(80)]
    );
    // 2. The user approves; the instance redirects to the callback with a code.
    let callback = follow(&start.authorize_url).await?;
    println!("callback {}…", &callback[..callback.len().min(60)]);
    let code = param(&callback, "code").ok_or("no code")?;
    let state = param(&callback, "state").ok_or("no state")?;
    // 3. The callback exchanges the code and saves the connection.
    let connection = connections
        .callback(user.id, &state, Some(&code), None)
        .await?
        .pop()
        .ok_or("no account")?;
    println!(
        "connected {} ({}) on {}; the token never expires: {:?}",
        connection.platform_username,
        connection.platform_user_id,
        connection.metadata["instance_url"],
        connection.expires_at
    );
    println!(
        "applications registered on the instance: {}",
        standin.app_registrations()
    );

    // 4. A thread with an image and a content warning.
    let publisher = MastodonPublisher::new(config, tokens, store.clone())?;
    let request = PublishRequest {
        publication_id: PublicationId::new(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        text: "The ending of the film, explained 🧵 https://example.com/film".to_owned(),
        thread: vec![
            "2/ It was the cat all along.".to_owned(),
            "3/ Thanks for reading!".to_owned(),
        ],
        media: vec![png_media(user.id, "A tiny orange square")],
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: PublishOptions {
            content_warning: Some("Film spoilers".to_owned()),
            ..PublishOptions::default()
        },
    };
    let post = publisher.publish(&connection, &request).await?;
    println!(
        "published {} ({})",
        post.platform_post_id,
        post.url.as_deref().unwrap_or("-")
    );
    for id in &post.thread_ids {
        println!("  reply {id}");
    }
    for status in standin.posts() {
        println!(
            "status {} cw={:?} media_alt={:?} reply_to={:?} key={:?}",
            status.id,
            status.spoiler_text,
            status.media_alt,
            status.reply_to,
            status.idempotency_key
        );
    }
    // 5. The same request again (a retry after a lost answer): the Idempotency-Keys make the
    // instance return the same statuses.
    let again = publisher.publish(&connection, &request).await?;
    println!(
        "resent: same statuses = {}, statuses held = {}",
        again == post,
        standin.posts().len()
    );
    let settled = matches!(
        publisher.lookup(&connection, &request).await?,
        Lookup::Published(p) if p.platform_post_id == post.platform_post_id
    );
    println!("lookup finds it: {settled}");
    if !settled || again.platform_post_id != post.platform_post_id || standin.posts().len() != 3 {
        return Err("the thread was not published exactly once".into());
    }
    Ok(())
}
