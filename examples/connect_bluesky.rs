//! Connects a Bluesky account with an app password and publishes a thread, against the
//! in-process stand-in PDS (`quflux::platforms::standin::bluesky`): no network, no account.
//!
//! ```bash
//! cargo run --example connect_bluesky
//! ```

use std::sync::Arc;

use quflux::cipher::AesGcmCipher;
use quflux::memory::RecordingNotifier;
use quflux::platforms::bluesky::{BlueskyConfig, BlueskyConnector, BlueskyPublisher};
use quflux::platforms::common::{AuthorizeOptions, ConnectionService, RateBudgets, TokenManager};
use quflux::platforms::standin::bluesky::BlueskyStandIn;
use quflux::services::NotificationService;
use quflux::store::sqlite::SqliteStore;
use quflux::{
    Clock, Lookup, Platform, PublicationId, PublishRequest, Publisher, Secret, SystemClock, User,
    UserStore,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let standin = BlueskyStandIn::start().await;
    let did = standin.add_account("alice.test", "abcd-efgh-ijkl-mnop");
    standin.add_account("bob.test", "bob-pass");
    println!("stand-in PDS on {} with alice.test ({did})", standin.uri());

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
    let config = BlueskyConfig::default().with_pds_url(standin.uri());
    let connections = ConnectionService::new(tokens.clone(), store.clone())
        .with_connector(Arc::new(BlueskyConnector::new(config.clone())?));

    // Bluesky has no OAuth here: starting an authorization is refused, login is the way.
    if let Err(e) = connections
        .start(user.id, Platform::Bluesky, &AuthorizeOptions::default())
        .await
    {
        println!("OAuth start refused as expected: {e}");
    }
    let connection = connections
        .login(
            user.id,
            Platform::Bluesky,
            "alice.test",
            &Secret::new("abcd-efgh-ijkl-mnop".to_owned()),
            &AuthorizeOptions::default(),
        )
        .await?
        .pop()
        .ok_or("no account")?;
    println!(
        "connected {} ({}), token expires at {:?}",
        connection.platform_username, connection.platform_user_id, connection.expires_at
    );

    let publisher = BlueskyPublisher::new(config, tokens, RateBudgets::new(store, clock))?;
    let request = PublishRequest {
        publication_id: PublicationId::new(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        text: "A thread from Quflux 🧵 with @bob.test and #rust — https://example.com".to_owned(),
        thread: vec!["2/ 東京から ✨ #日本語".to_owned(), "3/ done".to_owned()],
        media: Vec::new(),
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: Default::default(),
    };
    let post = publisher.publish(&connection, &request).await?;
    println!("published {}", post.platform_post_id);
    for id in &post.thread_ids {
        println!("  reply {id}");
    }
    for record in standin.posts() {
        println!(
            "record {} text={:?} facets={} reply_to={:?}",
            record.uri,
            record.value["text"].as_str().unwrap_or_default(),
            record.value["facets"].as_array().map_or(0, Vec::len),
            record.reply_parent()
        );
    }
    let settled = matches!(
        publisher.lookup(&connection, &request).await?,
        Lookup::Published(p) if p.platform_post_id == post.platform_post_id
    );
    println!("lookup finds it: {settled}");
    if !settled {
        return Err("lookup did not find the thread".into());
    }
    Ok(())
}
