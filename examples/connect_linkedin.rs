//! Connects a LinkedIn member and publishes a post with an image — against the in-process
//! LinkedIn stand-in, so it needs no account and no network:
//!
//! ```bash
//! cargo run --example connect_linkedin
//! ```
//!
//! It starts the stand-in, opens a SQLite database in memory, starts the OAuth flow with
//! `ConnectionService`, follows the authorize URL like a browser (the stand-in approves at once
//! and redirects with `code` and `state`), completes the callback, then publishes a post with an
//! image (Images API: initializeUpload → PUT → AVAILABLE) and prints its URN.

use std::sync::Arc;

use quflux::cipher::AesGcmCipher;
use quflux::memory::RecordingNotifier;
use quflux::platforms::common::{AuthorizeOptions, ConnectionService, TokenManager};
use quflux::platforms::linkedin::{LinkedInConfig, LinkedInConnector, LinkedInPublisher};
use quflux::platforms::standin::linkedin as standin;
use quflux::services::NotificationService;
use quflux::store::sqlite::SqliteStore;
use quflux::{
    Cache, Clock, MediaFile, MediaId, Platform, PublicationId, PublishMedia, PublishRequest,
    Publisher, Secret, SystemClock, User, UserStore,
};

/// A 4×4 PNG.
const PNG: [u8; 73] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26, 0x93, 0x09,
    0x29, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xdf, 0xc0, 0x00,
    0x47, 0x0c, 0xc4, 0x71, 0x00, 0x7e, 0xa2, 0x17, 0xf1, 0x5d, 0xa1, 0x60, 0x05, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let linkedin = standin::start().await;
    println!("LinkedIn stand-in listening on {}", linkedin.uri());

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(SqliteStore::in_memory().await?);
    let user = User::new("ada@example.com", "Europe/Paris", clock.now());
    store.insert_user(&user).await?;
    let cache: Arc<dyn Cache> = store.clone();
    let notifications =
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("example")),
        notifications,
        clock.clone(),
    ));

    let config = LinkedInConfig::new(
        standin::CLIENT_ID,
        Secret::new(standin::CLIENT_SECRET.to_owned()),
        "https://app.example/cb",
    )
    .with_api_base(linkedin.uri())
    .with_oauth_base(linkedin.oauth_base())
    .with_image_polling(std::time::Duration::from_millis(100), 20);
    let connector = Arc::new(LinkedInConnector::new(config)?);
    let connections =
        ConnectionService::new(tokens.clone(), cache.clone()).with_connector(connector.clone());

    // 1. Start: where to send the member.
    let start = connections
        .start(user.id, Platform::Linkedin, &AuthorizeOptions::default())
        .await?;
    println!("authorize at {}", start.authorize_url);

    // 2. The "browser": follow the authorize URL; the stand-in approves and redirects.
    let location = follow(&start.authorize_url).await?;
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    };
    let state = param("state").ok_or("no state in the callback")?;
    let code = param("code");
    let error = param("error");

    // 3. Callback: exchange the code, read the member, store the connection.
    let connection = connections
        .callback(user.id, &state, code.as_deref(), error.as_deref())
        .await?
        .pop()
        .ok_or("no account was connected")?;
    println!(
        "connected {} ({}), token expires {:?}",
        connection.platform_username, connection.metadata["author_urn"], connection.expires_at
    );

    // 4. Publish a post with an image.
    let publisher = LinkedInPublisher::new(connector, tokens, cache);
    let now = clock.now();
    let image = PublishMedia {
        file: MediaFile {
            id: MediaId::new(),
            user_id: user.id,
            filename: "square.png".to_owned(),
            content_type: "image/png".to_owned(),
            size_bytes: PNG.len() as u64,
            storage_key: "example/square.png".to_owned(),
            width: Some(4),
            height: Some(4),
            duration_secs: None,
            ai_generated: false,
            created_at: now,
        },
        alt_text: Some("A tiny orange square".to_owned()),
        bytes: PNG.to_vec().into(),
    };
    let request = PublishRequest {
        publication_id: PublicationId::new(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        text: "Shipping Quflux 1.0 (beta) today #rust".to_owned(),
        thread: Vec::new(),
        media: vec![image],
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: Default::default(),
    };
    let post = publisher.publish(&connection, &request).await?;
    println!("published {}", post.platform_post_id);
    if let Some(url) = &post.url {
        println!("  {url}");
    }
    let held = linkedin.posts();
    println!(
        "the stand-in holds {} post(s); commentary sent: {}",
        held.len(),
        held.first()
            .map(|p| p.commentary.as_str())
            .unwrap_or_default()
    );
    Ok(())
}

/// One `GET` over plain HTTP/1.1, like a browser that stops at the first redirect: returns the
/// `Location` header.
async fn follow(url: &str) -> Result<String, Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or("the stand-in serves plain http")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    response
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .ok_or_else(|| {
            format!(
                "the authorize page did not redirect: {}",
                response.lines().next().unwrap_or_default()
            )
            .into()
        })
}

/// Undoes `%XX` and `+` of a query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => match u8::from_str_radix(&value[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
