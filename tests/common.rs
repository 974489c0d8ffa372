//! Shared setup of the end-to-end tests: the embedded default (SQLite + files + outbox).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use quflux::cipher::AesGcmCipher;
use quflux::memory::RecordingNotifier;
use quflux::platforms::outbox::OutboxPublisher;
use quflux::services::{
    NotificationService, PUBLISH_JOB, PostService, PublisherRegistry, PublishingService,
    PublishingStores, RetryConfig, SchedulingConfig, SchedulingService,
};
use quflux::store::fs::FsBlobStore;
use quflux::store::sqlite::SqliteStore;
use quflux::worker::{Worker, WorkerConfig, WorkerHandle};
use quflux::{
    Clock, ConnectionId, ConnectionStatus, ConnectionStore, Platform, PlatformConnection,
    Publisher, Secret, SystemClock, TokenCipher, User, UserStore,
};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub blobs: Arc<FsBlobStore>,
    pub clock: Arc<dyn Clock>,
    pub posts: PostService,
    pub scheduling: SchedulingService,
    pub notifier: Arc<RecordingNotifier>,
    pub outbox_path: PathBuf,
}

impl Env {
    pub async fn new(config: SchedulingConfig) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("quflux.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let blobs = Arc::new(FsBlobStore::new(dir.path().join("media")).unwrap());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let posts = PostService::new(store.clone(), store.clone(), clock.clone());
        let scheduling = SchedulingService::new(
            posts.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            clock.clone(),
            config,
        );
        let outbox_path = dir.path().join("outbox.jsonl");
        Env {
            dir,
            store,
            blobs,
            clock,
            posts,
            scheduling,
            notifier: Arc::new(RecordingNotifier::new()),
            outbox_path,
        }
    }

    pub fn outbox(&self, platform: Platform) -> OutboxPublisher {
        OutboxPublisher::builder()
            .with_path(&self.outbox_path)
            .with_platform(platform)
            .build()
            .unwrap()
    }

    pub fn publishing(&self, publishers: Vec<Arc<dyn Publisher>>) -> Arc<PublishingService> {
        let mut registry = PublisherRegistry::new();
        for p in publishers {
            registry.insert(p);
        }
        Arc::new(
            PublishingService::new(
                PublishingStores::from_store(self.store.clone()),
                self.blobs.clone(),
                self.store.clone(),
                registry,
                NotificationService::new(vec![self.notifier.clone()], self.clock.clone()),
                self.clock.clone(),
            )
            .with_retry(RetryConfig {
                base_delay: Duration::from_millis(50),
                ..RetryConfig::default()
            }),
        )
    }

    pub fn worker(
        &self,
        publishing: Arc<PublishingService>,
        concurrency: usize,
        lease: Duration,
    ) -> WorkerHandle {
        let config = WorkerConfig {
            concurrency,
            lease,
            max_idle: Duration::from_millis(500),
            ..WorkerConfig::default()
        };
        Worker::new(self.store.clone(), config)
            .with_handler(PUBLISH_JOB, publishing)
            .spawn()
    }

    pub async fn user_with_accounts(&self, email: &str, platforms: &[Platform]) -> User {
        let user = User::new(email, "Europe/Paris", self.clock.now());
        self.store.insert_user(&user).await.unwrap();
        let cipher = AesGcmCipher::random("test");
        for &platform in platforms {
            let now = self.clock.now();
            let c = PlatformConnection {
                id: ConnectionId::new(),
                user_id: user.id,
                platform,
                platform_user_id: format!("{platform}-{}", user.id),
                platform_username: "tester".into(),
                access_token: cipher.encrypt(&Secret::new("token".to_owned())).unwrap(),
                refresh_token: None,
                expires_at: None,
                scopes: Vec::new(),
                status: ConnectionStatus::Active,
                metadata: serde_json::json!({}),
                version: 0,
                created_at: now,
                updated_at: now,
            };
            self.store.insert_connection(&c).await.unwrap();
        }
        user
    }
}

pub fn outbox_entries(path: &Path) -> Vec<quflux::platforms::outbox::OutboxEntry> {
    quflux::platforms::outbox::read_outbox(path).unwrap()
}
