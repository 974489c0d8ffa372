//! AI requests run as jobs on the ai_generation queue, with their latency recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use quflux_ai::offline::{OfflineImageGenerator, OfflineTextGenerator};
use quflux_ai::{AI_JOB, AiJobs};
use quflux_core::memory::{
    InMemoryBlobStore, InMemoryCache, InMemoryQueue, InMemoryStore, ScriptedTextGenerator,
};
use quflux_core::worker::{Worker, WorkerConfig};
use quflux_core::{
    AI_GENERATION_QUEUE, BlobStore, Clock, Error, ImageTask, JobQueue, MediaStore, Platform,
    SystemClock, TextTask, User, UserStore,
};

struct Env {
    jobs: Arc<AiJobs>,
    store: Arc<InMemoryStore>,
    blobs: Arc<InMemoryBlobStore>,
    queue: Arc<InMemoryQueue>,
}

fn env(text: Arc<dyn quflux_core::TextGenerator>) -> Env {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(InMemoryStore::new());
    let blobs = Arc::new(InMemoryBlobStore::new());
    let queue = Arc::new(InMemoryQueue::new());
    let jobs = Arc::new(AiJobs::new(
        queue.clone(),
        Arc::new(InMemoryCache::new()),
        text,
        Arc::new(OfflineImageGenerator::new()),
        blobs.clone(),
        store.clone(),
        clock,
    ));
    Env {
        jobs,
        store,
        blobs,
        queue,
    }
}

fn worker(e: &Env) -> quflux_core::worker::WorkerHandle {
    let config = WorkerConfig {
        queues: vec![AI_GENERATION_QUEUE.into()],
        ..WorkerConfig::default()
    };
    Worker::new(e.queue.clone(), config)
        .with_handler(AI_JOB, e.jobs.clone())
        .spawn()
}

async fn wait(e: &Env, id: quflux_core::JobId) -> quflux_ai::AiJobResult {
    let start = Instant::now();
    loop {
        if let Some(r) = e.jobs.result(id).await.unwrap() {
            return r;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no result");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_image_requests_run_on_the_ai_queue_with_latency_and_media_recorded() {
    let e = env(Arc::new(OfflineTextGenerator::new()));
    let user = User::new("ai@example.com", "UTC", chrono::Utc::now());
    e.store.insert_user(&user).await.unwrap();
    let text = e
        .jobs
        .submit_text(
            user.id,
            TextTask::Hashtags {
                content: "Rust async runtimes compared".into(),
                platform: Platform::Mastodon,
            },
        )
        .await
        .unwrap();
    let graphic = e
        .jobs
        .submit_image(
            user.id,
            ImageTask::SocialGraphic {
                text: "Launch day".into(),
                template: "bold".into(),
                width: 1080,
                height: 1080,
            },
        )
        .await
        .unwrap();
    let queued = e.queue.get_job(text).await.unwrap().unwrap();
    assert_eq!(queued.queue, AI_GENERATION_QUEUE);
    assert!(
        e.jobs.result(text).await.unwrap().is_none(),
        "no result before a worker ran it"
    );

    let w = worker(&e);
    let t = wait(&e, text).await;
    let g = wait(&e, graphic).await;
    w.shutdown().await.unwrap();

    assert_eq!(t.status, "succeeded");
    assert!(
        !t.items.is_empty() && t.items.iter().all(|h| h.starts_with('#')),
        "{:?}",
        t.items
    );
    assert!(t.latency_ms > 0.0);
    assert_eq!(g.status, "succeeded");
    assert!(g.latency_ms > 0.0);
    let media = e.store.get_media(g.media_id.unwrap()).await.unwrap();
    assert!(
        media.ai_generated,
        "generated images are marked ai_generated"
    );
    assert_eq!(media.user_id, user.id);
    assert_eq!((media.width, media.height), (Some(1080), Some(1080)));
    assert!(e.blobs.exists(&media.storage_key).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_request_records_why_and_unsupported_tasks_are_reported() {
    let scripted = ScriptedTextGenerator::new([Err(Error::InvalidContent {
        service: "x",
        reason: "blocked".into(),
    })]);
    let e = env(Arc::new(scripted));
    let user = User::new("ai2@example.com", "UTC", chrono::Utc::now());
    e.store.insert_user(&user).await.unwrap();
    let text = e
        .jobs
        .submit_text(
            user.id,
            TextTask::Ideas {
                topic: "t".into(),
                audience: "a".into(),
            },
        )
        .await
        .unwrap();
    let image = e
        .jobs
        .submit_image(
            user.id,
            ImageTask::Generate {
                prompt: "p".into(),
                style: "s".into(),
                width: 512,
                height: 512,
            },
        )
        .await
        .unwrap();
    let w = worker(&e);
    let t = wait(&e, text).await;
    let i = wait(&e, image).await;
    w.shutdown().await.unwrap();
    assert_eq!(t.status, "failed");
    assert_eq!(t.error_kind, Some(quflux_core::ErrorKind::InvalidContent));
    assert!(t.error_message.unwrap().contains("blocked"));
    assert_eq!(i.status, "failed");
    assert_eq!(i.error_kind, Some(quflux_core::ErrorKind::Unsupported));
    assert!(e.store.list_media(user.id).await.unwrap().is_empty());
}
