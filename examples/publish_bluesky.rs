//! Publishes one post (a link and hashtag facet, optionally an image) to a Bluesky PDS with an
//! app password.
//!
//! ```bash
//! QUFLUX_BLUESKY_PDS_URL=https://bsky.social \
//! QUFLUX_BLUESKY_IDENTIFIER=alice.bsky.social QUFLUX_BLUESKY_APP_PASSWORD=xxxx-xxxx-xxxx-xxxx \
//! [QUFLUX_BLUESKY_IMAGE=picture.png] [QUFLUX_BLUESKY_TEXT="…"] \
//!   cargo run --example publish_bluesky
//! ```
//! With the variables unset it prints what to set and exits successfully. Connections and
//! tokens live in an in-memory SQLite store (encrypted with a random key).

use std::sync::Arc;

use quflux::cipher::AesGcmCipher;
use quflux::memory::RecordingNotifier;
use quflux::platforms::bluesky::{BlueskyConfig, BlueskyConnector, BlueskyPublisher};
use quflux::platforms::common::{AuthorizeOptions, ConnectionService, RateBudgets, TokenManager};
use quflux::services::NotificationService;
use quflux::store::sqlite::SqliteStore;
use quflux::{
    Clock, MediaFile, MediaId, Platform, PublicationId, PublishMedia, PublishRequest, Publisher,
    Secret, SystemClock, User, UserStore,
};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (Some(identifier), Some(password)) = (
        var("QUFLUX_BLUESKY_IDENTIFIER"),
        var("QUFLUX_BLUESKY_APP_PASSWORD"),
    ) else {
        println!("publish_bluesky: nothing to do. Set:");
        println!(
            "  QUFLUX_BLUESKY_PDS_URL       the PDS or entryway (default https://bsky.social)"
        );
        println!("  QUFLUX_BLUESKY_IDENTIFIER    handle, DID or e-mail of the account");
        println!("  QUFLUX_BLUESKY_APP_PASSWORD  an app password (Settings → App passwords)");
        println!("  QUFLUX_BLUESKY_IMAGE         optional: a PNG or JPEG to attach");
        println!(
            "  QUFLUX_BLUESKY_TEXT          optional: the text (links, #tags, @mentions get facets)"
        );
        println!(
            "A local PDS: bash scripts/testbed/pds.sh install && bash scripts/testbed/pds.sh start"
        );
        return Ok(());
    };
    let config = BlueskyConfig::from_env()?;
    println!("connecting {identifier} on {}", config.pds_url);

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(SqliteStore::in_memory().await?);
    let user = User::new("example@quflux.test", "Europe/Paris", clock.now());
    store.insert_user(&user).await?;
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("example")),
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone()),
        clock.clone(),
    ));
    let connections = ConnectionService::new(tokens.clone(), store.clone())
        .with_connector(Arc::new(BlueskyConnector::new(config.clone())?));
    let connection = connections
        .login(
            user.id,
            Platform::Bluesky,
            &identifier,
            &Secret::new(password),
            &AuthorizeOptions::default(),
        )
        .await?
        .pop()
        .ok_or("the login returned no account")?;
    println!(
        "connected {} ({}), PDS {}",
        connection.platform_username, connection.platform_user_id, connection.metadata["pds_url"]
    );

    let text = var("QUFLUX_BLUESKY_TEXT").unwrap_or_else(|| {
        format!(
            "Hello from Quflux 🦋 https://github.com/quflux #quflux ({})",
            clock.now().format("%Y-%m-%d %H:%M:%S UTC")
        )
    });
    let mut media = Vec::new();
    if let Some(path) = var("QUFLUX_BLUESKY_IMAGE") {
        let bytes = tokio::fs::read(&path).await?;
        let content_type = if path.to_ascii_lowercase().ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        media.push(PublishMedia {
            file: MediaFile {
                id: MediaId::new(),
                user_id: user.id,
                filename: path.clone(),
                content_type: content_type.to_owned(),
                size_bytes: bytes.len() as u64,
                storage_key: path.clone(),
                width: None,
                height: None,
                duration_secs: None,
                ai_generated: false,
                created_at: clock.now(),
            },
            alt_text: Some("An image published by the Quflux example".to_owned()),
            bytes: bytes.into(),
        });
    }
    let request = PublishRequest {
        publication_id: PublicationId::new(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        text,
        thread: Vec::new(),
        media,
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: Default::default(),
    };
    let publisher = BlueskyPublisher::new(config, tokens, RateBudgets::new(store, clock))?;
    let post = publisher.publish(&connection, &request).await?;
    println!("published {}", post.platform_post_id);
    if let Some(url) = post.url {
        println!("  {url}");
    }
    Ok(())
}
