//! Every store suite on one backend.

use crate::Store;

/// Runs the eight store suites ([`super::user_store`], [`super::connection_store`],
/// [`super::post_store`], [`super::media_store`], [`super::schedule_store`],
/// [`super::publication_store`], [`super::auth_store`], [`super::notification_store`]) against
/// one backend implementing them all.
pub async fn run_all<S: Store>(store: &S) {
    super::user_store::run_all(store).await;
    super::connection_store::run_all(store, store).await;
    super::post_store::run_all(store, store).await;
    super::media_store::run_all(store, store).await;
    super::schedule_store::run_all(store, store, store, store).await;
    super::publication_store::run_all(store, store, store, store).await;
    super::auth_store::run_all(store, store).await;
    super::notification_store::run_all(store).await;
}
