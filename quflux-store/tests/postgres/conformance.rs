//! The conformance suites of `quflux_core::testkit`.

use super::*;
use quflux_core::testkit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_store_suite() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    testkit::store::run_all(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_job_queue_suite() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    testkit::job_queue::run_all(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_on_tasks_claim_each_job_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db
        .builder()
        .with_max_connections(8)
        .with_auto_migrate(true)
        .build()
        .await
        .unwrap();
    testkit::job_queue::concurrent_claimers_on_tasks_claim_each_job_once(Arc::new(store.clone()))
        .await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_cache_suite() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = db.store().await;
    testkit::cache::run_all(&store).await;
    store.close().await;
}
