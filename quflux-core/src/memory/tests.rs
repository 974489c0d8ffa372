//! The conformance suites run against the in-memory implementations.

use std::sync::Arc;

use crate::cipher::AesGcmCipher;
use crate::memory::{
    InMemoryBlobStore, InMemoryCache, InMemoryQueue, InMemoryStore, RecordingNotifier,
    StubPublisher,
};
use crate::testkit::{self, fixtures};
use crate::{JobQueue, Lookup, Platform, Publisher};

#[tokio::test]
async fn memory_user_store_conforms() {
    testkit::user_store::run_all(&InMemoryStore::new()).await;
}

#[tokio::test]
async fn memory_connection_store_conforms() {
    let store = InMemoryStore::new();
    testkit::connection_store::run_all(&store, &store).await;
}

#[tokio::test]
async fn memory_post_store_conforms() {
    let store = InMemoryStore::new();
    testkit::post_store::run_all(&store, &store).await;
}

#[tokio::test]
async fn memory_media_store_conforms() {
    let store = InMemoryStore::new();
    testkit::media_store::run_all(&store, &store).await;
}

#[tokio::test]
async fn memory_schedule_store_conforms() {
    let store = InMemoryStore::new();
    testkit::schedule_store::run_all(&store, &store, &store, &store).await;
}

#[tokio::test]
async fn memory_publication_store_conforms() {
    let store = InMemoryStore::new();
    testkit::publication_store::run_all(&store, &store, &store, &store).await;
}

#[tokio::test]
async fn memory_store_passes_every_store_suite_twice_on_one_instance() {
    let store = InMemoryStore::new();
    testkit::store::run_all(&store).await;
    testkit::store::run_all(&store).await;
}

#[tokio::test]
async fn memory_queue_conforms() {
    testkit::job_queue::run_all(&InMemoryQueue::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_queue_claimers_on_tasks_claim_each_job_once() {
    let queue: Arc<dyn JobQueue> = Arc::new(InMemoryQueue::new());
    testkit::job_queue::concurrent_claimers_on_tasks_claim_each_job_once(queue.clone()).await;
    testkit::job_queue::concurrent_claimers_on_tasks_claim_each_job_once(queue).await;
}

#[tokio::test]
async fn memory_cache_conforms() {
    testkit::cache::run_all(&InMemoryCache::new()).await;
}

#[tokio::test]
async fn memory_blob_store_conforms() {
    let blobs = InMemoryBlobStore::new();
    testkit::blob_store::run_all(&blobs).await;
    assert!(
        blobs.keys().is_empty(),
        "the blob suite cleans up after itself"
    );
}

#[tokio::test]
async fn memory_aes_gcm_cipher_conforms() {
    testkit::token_cipher::run_all(&AesGcmCipher::random("k")).await;
}

#[tokio::test]
async fn memory_recording_notifier_conforms_and_records() {
    let notifier = RecordingNotifier::new();
    testkit::notifier::run_all(&notifier).await;
    let delivered = notifier.notifications();
    assert_eq!(delivered.len(), 15);
    assert!(delivered.iter().any(|n| n.message.is_empty()));
}

#[tokio::test]
async fn memory_stub_publisher_conforms() {
    let cipher = AesGcmCipher::random("k");
    for platform in Platform::ALL {
        let stub = StubPublisher::new(platform);
        let connection = fixtures::connection_for(crate::UserId::new(), platform, &cipher);
        testkit::publisher::run_all(&stub, &connection).await;
        assert!(
            stub.published().is_empty(),
            "the publisher suite deletes what it posts"
        );
        assert_eq!(stub.publish_calls(), 2);
    }
}

#[tokio::test]
async fn memory_stub_publisher_without_lookup_conforms() {
    let stub = StubPublisher::new(Platform::Instagram).with_lookup_indeterminate();
    let connection = fixtures::connection_for(
        crate::UserId::new(),
        Platform::Instagram,
        &AesGcmCipher::random("k"),
    );
    testkit::publisher::run_all(&stub, &connection).await;
    let request = fixtures::publish_request("x");
    assert!(matches!(
        stub.lookup(&connection, &request).await.unwrap(),
        Lookup::Indeterminate { .. }
    ));
}

#[test]
fn memory_env_helper_skips_unset_variables() {
    // QUFLUX_TEST_REQUIRE_SERVICES may be set by CI; only check the skip path when it is not.
    if std::env::var(testkit::REQUIRE_SERVICES_VAR).is_ok_and(|v| v.trim() == "1") {
        return;
    }
    assert_eq!(testkit::env("QUFLUX_TEST_SURELY_NOT_SET_3F9A1C"), None);
    assert!(testkit::env("PATH").is_some());
}

#[test]
fn memory_fixtures_are_valid_and_fresh() {
    let a = fixtures::user();
    let b = fixtures::user();
    assert_ne!(a.id, b.id);
    assert_ne!(a.email, b.email);
    assert_eq!(a.email, a.email.to_lowercase());
    let post = fixtures::post_for(a.id);
    assert_eq!(post.user_id, a.id);
    assert!(crate::rules::validate(Platform::Twitter, &post.content, &[]).is_empty());
    let at = fixtures::now();
    assert_eq!(
        at.timestamp_subsec_nanos() % 1_000_000,
        0,
        "fixture times are whole milliseconds"
    );
    let schedule = fixtures::schedule_for(&post, &[Platform::Bluesky, Platform::Twitter], at);
    let pubs = fixtures::publications_for(&schedule);
    assert_eq!(pubs.len(), 2);
    assert!(pubs.iter().all(|p| p.schedule_id == schedule.id));
    let tz = crate::time::parse_time_zone(&schedule.time_zone).unwrap();
    assert_eq!(crate::time::resolve_local(schedule.local_time, tz), at);
}

#[tokio::test]
async fn scripted_generators_pass_the_generator_suites() {
    use crate::{GeneratedImage, GeneratedText};
    let text = |s: &str| {
        Ok(GeneratedText {
            items: vec![s.to_owned()],
            model: "scripted".into(),
        })
    };
    let texts = crate::memory::ScriptedTextGenerator::new([
        text("a caption"),
        text("#coffee"),
        text("an idea"),
        text("short"),
    ]);
    testkit::generators::text_generator_run_all(&texts).await;
    assert_eq!(texts.remaining(), 0);

    // A 1080x1080 PNG header is enough for the suite's size check.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&1080u32.to_be_bytes());
    png.extend_from_slice(&1080u32.to_be_bytes());
    let images = crate::memory::ScriptedImageGenerator::new([
        Ok(GeneratedImage {
            bytes: bytes::Bytes::from(png),
            content_type: "image/png".into(),
            width: 1080,
            height: 1080,
            model: "scripted".into(),
        }),
        Err(crate::Error::Unsupported {
            service: "scripted",
            operation: "image generation",
        }),
    ]);
    testkit::generators::image_generator_run_all(&images).await;
}
