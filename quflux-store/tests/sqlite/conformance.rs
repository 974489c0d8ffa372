//! The conformance suites of `quflux_core::testkit`.

use super::*;
use quflux_core::testkit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_database_passes_the_store_suite() {
    let (_dir, store) = file_store().await;
    testkit::store::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_database_passes_the_job_queue_suite() {
    let (_dir, store) = file_store().await;
    testkit::job_queue::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_database_passes_the_cache_suite() {
    let (_dir, store) = file_store().await;
    testkit::cache::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_database_passes_every_suite() {
    let store = SqliteStore::in_memory().await.unwrap();
    testkit::store::run_all(&store).await;
    testkit::job_queue::run_all(&store).await;
    testkit::cache::run_all(&store).await;
}
