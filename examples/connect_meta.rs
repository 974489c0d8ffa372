//! Connects a Facebook Page and its Instagram business account through the Meta stand-in
//! (no network, no account), then publishes a Facebook post with a photo and an Instagram
//! image.
//!
//! ```bash
//! cargo run --example connect_meta
//! ```
//!
//! Against the real Graph API, build the [`MetaConfig`] with `MetaConfig::from_env()`
//! (`QUFLUX_META_APP_ID`, `QUFLUX_META_APP_SECRET`, `QUFLUX_META_REDIRECT_URL`,
//! `QUFLUX_PUBLIC_MEDIA_BASE_URL`) and send the user to the authorize URL in a real browser.

use std::sync::Arc;

use quflux::cipher::AesGcmCipher;
use quflux::memory::RecordingNotifier;
use quflux::platforms::common::{AuthorizeOptions, ConnectionService, TokenManager};
use quflux::platforms::meta::{FacebookPublisher, InstagramPublisher, MetaConfig, MetaConnector};
use quflux::platforms::standin::meta::{MetaStandIn, follow_dialog};
use quflux::services::NotificationService;
use quflux::store::sqlite::SqliteStore;
use quflux::testkit::fixtures::{publish_request, user};
use quflux::testkit::standin::png_media;
use quflux::{Platform, PublishMedia, Publisher, SystemClock, UserStore};

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn image(user_id: quflux::UserId, content_type: &str, alt: &str) -> PublishMedia {
    let mut media = png_media(user_id, alt);
    media.file.content_type = content_type.to_owned();
    media
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let standin = MetaStandIn::start().await;
    let config: MetaConfig = standin.config();

    let store = Arc::new(SqliteStore::in_memory().await?);
    let clock = Arc::new(SystemClock);
    let me = user();
    store.insert_user(&me).await?;
    let notifications =
        NotificationService::new(vec![Arc::new(RecordingNotifier::new())], clock.clone());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(AesGcmCipher::random("example")),
        notifications,
        clock,
    ));
    let connections = ConnectionService::new(tokens.clone(), store.clone())
        .with_connector(Arc::new(MetaConnector::new(config.clone())?));

    // 1. Send the user to Facebook Login; the stand-in approves like a user would.
    let start = connections
        .start(me.id, Platform::Facebook, &AuthorizeOptions::default())
        .await?;
    println!("authorize at: {}", start.authorize_url);
    let callback = follow_dialog(&start.authorize_url).await?;
    let code = query_param(&callback, "code").ok_or("the dialog returned no code")?;
    let state = query_param(&callback, "state").ok_or("the dialog returned no state")?;

    // 2. The callback: one connection per Page and per Instagram business account.
    let connected = connections
        .callback(me.id, &state, Some(&code), None)
        .await?;
    for c in &connected {
        println!(
            "connected {} account {} ({})",
            c.platform, c.platform_user_id, c.platform_username
        );
    }
    let facebook = connected
        .iter()
        .find(|c| c.platform == Platform::Facebook)
        .ok_or("no Facebook Page connected")?;
    let instagram = connected
        .iter()
        .find(|c| c.platform == Platform::Instagram)
        .ok_or("no Instagram account connected")?;

    // 3. A Facebook Page post with a photo.
    let mut post = publish_request("Hello from Quflux on Facebook");
    post.media = vec![image(me.id, "image/png", "The Quflux logo")];
    let fb = FacebookPublisher::new(&config, tokens.clone(), store.clone())?
        .publish(facebook, &post)
        .await?;
    println!("Facebook post {} ({:?})", fb.platform_post_id, fb.url);

    // 4. An Instagram image (JPEG, served from the public media base URL).
    let mut post = publish_request("Hello from Quflux on Instagram #quflux");
    post.media = vec![image(me.id, "image/jpeg", "The Quflux logo")];
    let ig = InstagramPublisher::new(&config, tokens, store.clone())?
        .publish(instagram, &post)
        .await?;
    println!("Instagram media {} ({:?})", ig.platform_post_id, ig.url);
    Ok(())
}
