//! Everything a request handler or the worker needs, assembled once from the configuration.

use std::ops::Deref;
use std::sync::Arc;

use quflux_ai::ContentService;
use quflux_core::services::{
    NotificationService, PostService, PublishingService, SchedulingConfig, SchedulingService,
};
use quflux_core::{BlobStore, Clock, Notifier, Result, SystemClock};
use quflux_platforms::{PlatformSet, Platforms};
use quflux_store::Database;

use crate::auth::{AuthConfig, AuthService};
use crate::config::{BlobBackend, Config, Settings};
use crate::events::{EventHub, MetricsNotifier};

/// The shared state of the server (cheap to clone).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// See [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// Validated server settings.
    pub config: Config,
    /// Every setting, for the libraries' configs.
    pub settings: Settings,
    /// The database: stores, queue and cache.
    pub db: Arc<dyn Database>,
    /// Media bytes.
    pub blobs: Arc<dyn BlobStore>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Posts.
    pub posts: PostService,
    /// Schedules and calendars.
    pub scheduling: SchedulingService,
    /// Publishing (used by the worker and by retries).
    pub publishing: Arc<PublishingService>,
    /// Platform publishers, connections and tokens.
    pub platforms: PlatformSet,
    /// AI content help.
    pub ai: ContentService,
    /// Accounts and sessions.
    pub auth: AuthService,
    /// Publication events.
    pub events: EventHub,
    /// Fan-out of notifications (websocket log, metrics, e-mail, webhooks).
    pub notifications: NotificationService,
    /// Link previews behind the SSRF guard.
    pub previews: quflux_platforms::link_preview::LinkPreviewer,
    /// Post lifecycle webhooks, when configured.
    pub webhooks: Option<Arc<quflux_platforms::notify::webhook::WebhookNotifier>>,
}

async fn open_blobs(config: &Config, settings: &Settings) -> Result<Arc<dyn BlobStore>> {
    match &config.blobs {
        BlobBackend::Fs(root) => Ok(Arc::new(quflux_store::fs::FsBlobStore::new(root)?)),
        BlobBackend::S3 => open_s3(settings).await,
    }
}

async fn open_s3(settings: &Settings) -> Result<Arc<dyn BlobStore>> {
    let store = quflux_store::s3::S3BlobStoreBuilder::from_lookup(settings.lookup())
        .build()
        .await?;
    Ok(Arc::new(store))
}

impl AppState {
    /// Opens the database (applying migrations), the blob store, the platforms and the AI
    /// providers.
    pub async fn build(config: Config, settings: Settings) -> Result<Self> {
        let db = quflux_store::open(&config.database_url).await?;
        Self::build_with(config, settings, db).await
    }

    /// As [`AppState::build`] over an opened database.
    pub async fn build_with(
        config: Config,
        settings: Settings,
        db: Arc<dyn Database>,
    ) -> Result<Self> {
        crate::app::prometheus();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let blobs = open_blobs(&config, &settings).await?;
        let events = EventHub::new(db.clone());
        let mut notifiers: Vec<Arc<dyn Notifier>> =
            vec![Arc::new(events.clone()), Arc::new(MetricsNotifier)];
        notifiers.extend(crate::notify::email_notifiers(&settings, db.clone())?);
        let webhooks = crate::notify::webhooks(&settings)?;
        if let Some(w) = &webhooks {
            notifiers.push(w.clone());
        }
        let notifications = NotificationService::new(notifiers, clock.clone());
        let platforms = Platforms::from_lookup(settings.lookup())?
            .with_outbox_fallback(&config.outbox_path)
            .build(db.clone(), db.clone(), notifications.clone(), clock.clone())?;
        let posts = PostService::new(db.clone(), db.clone(), clock.clone());
        let scheduling = SchedulingService::new(
            posts.clone(),
            db.clone(),
            db.clone(),
            db.clone(),
            db.clone(),
            clock.clone(),
            SchedulingConfig::default(),
        );
        let publishing = Arc::new(PublishingService::new(
            quflux_store::publishing_stores(&db),
            blobs.clone(),
            db.clone(),
            platforms.publishers.clone(),
            notifications.clone(),
            clock.clone(),
        ));
        let ai_config = quflux_ai::AiConfig::from_env();
        let ai = ContentService::new(
            quflux_ai::build_text_generator(&ai_config)?,
            quflux_ai::build_image_generator(&ai_config)?,
        );
        let auth = AuthService::new(
            db.clone(),
            db.clone(),
            db.clone(),
            clock.clone(),
            AuthConfig {
                session_ttl: config.session_ttl,
                session_cache: config.session_cache,
                max_failures: config.login_max_failures,
                max_attempts_per_address: config.login_max_attempts_per_address,
                window: config.login_window,
                default_time_zone: config.default_time_zone.clone(),
            },
        )?;
        #[cfg(feature = "supabase")]
        let auth = auth.with_supabase(crate::supabase::SupabaseVerifier::from_settings(&settings)?);
        let previews = quflux_platforms::link_preview::LinkPreviewer::builder()
            .allow_loopback(
                settings
                    .get("QUFLUX_LINK_PREVIEW_ALLOW_LOOPBACK")
                    .is_some_and(|v| v == "true"),
            )
            .build()?;
        Ok(Self(Arc::new(Inner {
            config,
            settings,
            db,
            blobs,
            clock,
            posts,
            scheduling,
            publishing,
            platforms,
            ai,
            auth,
            events,
            notifications,
            previews,
            webhooks,
        })))
    }

    /// Sends a post lifecycle webhook (`post.created`, ...) in the background, if webhooks
    /// are configured.
    pub fn lifecycle_event(&self, event_type: &'static str, data: serde_json::Value) {
        if let Some(w) = self.webhooks.clone() {
            tokio::spawn(async move { w.send_event(event_type, data).await });
        }
    }
}
