//! Conformance suites: one module per port, each with public async scenarios and a `run_all`.
//!
//! Every implementation of a port must pass its suite. Core runs each suite against its
//! [`memory`](crate::memory) implementations; adapter crates run them against theirs with the
//! dev-dependency `quflux-core = { workspace = true, features = ["testkit"] }`:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // In an adapter crate: `#[tokio::test] async fn conformance()` with the adapter's store.
//! let store = quflux_core::memory::InMemoryStore::new();
//! quflux_core::testkit::store::run_all(&store).await;
//! # });
//! ```
//!
//! Scenarios create fresh ids, e-mails, queue names and keys, so one backend may be reused across
//! scenarios, test runs and concurrently running tests. They panic with a message naming the
//! broken contract point. Times in fixtures are whole milliseconds ([`fixtures::now`]), so
//! backends that store microseconds or milliseconds round-trip them exactly.
//!
//! | module | port | `run_all` |
//! |---|---|---|
//! | [`user_store`] | [`UserStore`](crate::UserStore) | `run_all(store)` |
//! | [`connection_store`] | [`ConnectionStore`](crate::ConnectionStore) | `run_all(users, store)` |
//! | [`post_store`] | [`PostStore`](crate::PostStore) | `run_all(users, store)` |
//! | [`media_store`] | [`MediaStore`](crate::MediaStore) | `run_all(users, store)` |
//! | [`schedule_store`] | [`ScheduleStore`](crate::ScheduleStore) | `run_all(users, posts, schedules, publications)` |
//! | [`publication_store`] | [`PublicationStore`](crate::PublicationStore) | `run_all(users, posts, schedules, publications)` |
//! | [`auth_store`] | [`AuthStore`](crate::AuthStore) | `run_all(users, store)` |
//! | [`notification_store`] | [`NotificationStore`](crate::NotificationStore) | `run_all(store)` |
//! | [`store`] | [`Store`](crate::Store) (all eight) | `run_all(store)` |
//! | [`job_queue`] | [`JobQueue`](crate::JobQueue) | `run_all(queue)` |
//! | [`cache`] | [`Cache`](crate::Cache) | `run_all(cache)` |
//! | [`blob_store`] | [`BlobStore`](crate::BlobStore) | `run_all(blobs)` |
//! | [`token_cipher`] | [`TokenCipher`](crate::TokenCipher) | `run_all(cipher)` |
//! | [`notifier`] | [`Notifier`](crate::Notifier) | `run_all(notifier)` |
//! | [`publisher`] | [`Publisher`](crate::Publisher) | `run_all(publisher, connection)` |
//! | [`generators`] | [`TextGenerator`](crate::TextGenerator), [`ImageGenerator`](crate::ImageGenerator) | `text_generator_run_all(g)`, `image_generator_run_all(g)` |
//!
//! Backing-service tests skip themselves with [`env()`] when their service is not configured.

use std::fmt::Debug;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{Error, ErrorKind, Result};

pub mod auth_store;
pub mod blob_store;
pub mod cache;
pub mod connection_store;
pub mod fixtures;
pub mod generators;
pub mod job_queue;
pub mod media_store;
pub mod notification_store;
pub mod notifier;
pub mod post_store;
pub mod publication_store;
pub mod publisher;
pub mod schedule_store;
pub mod standin;
pub mod store;
pub mod token_cipher;
pub mod user_store;

pub use crate::memory::{ScriptedImageGenerator, ScriptedTextGenerator};

/// Set to `1` (as CI does) to make [`env()`] fail instead of skip.
pub const REQUIRE_SERVICES_VAR: &str = "QUFLUX_TEST_REQUIRE_SERVICES";

/// Reads the environment variable that points a backing-service test at its service.
///
/// Returns the value if it is set and non-empty. Otherwise, if `QUFLUX_TEST_REQUIRE_SERVICES=1`,
/// it panics with `required service variable {name} is not set`; if not, it prints
/// `skipping: set {name}` and returns `None`, and the test should return early:
///
/// ```no_run
/// # fn postgres_conformance() {
/// let Some(url) = quflux_core::testkit::env("QUFLUX_TEST_POSTGRES_URL") else { return };
/// # let _ = url;
/// # }
/// ```
pub fn env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            if std::env::var(REQUIRE_SERVICES_VAR).is_ok_and(|v| v.trim() == "1") {
                panic!("required service variable {name} is not set");
            }
            eprintln!("skipping: set {name}");
            None
        }
    }
}

/// Unwraps a result, panicking with the scenario's description and the full error chain.
pub(crate) trait Must<T> {
    /// The `Ok` value, or a panic naming `what` was being done.
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for Result<T> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(e) => panic!(
                "{what}: unexpected {} error: {}",
                e.kind().as_str(),
                e.detailed_message()
            ),
        }
    }
}

/// Asserts that `result` is an error of `kind`.
#[track_caller]
pub(crate) fn expect_kind<T: Debug>(result: Result<T>, kind: ErrorKind, what: &str) -> Error {
    match result {
        Err(e) if e.kind() == kind => e,
        Err(e) => panic!(
            "{what}: expected a {} error, got {}: {}",
            kind.as_str(),
            e.kind().as_str(),
            e.detailed_message()
        ),
        Ok(value) => panic!(
            "{what}: expected a {} error, got Ok({value:?})",
            kind.as_str()
        ),
    }
}

/// Asserts that `result` is an error of one of `kinds`.
#[track_caller]
pub(crate) fn expect_kinds<T: Debug>(result: Result<T>, kinds: &[ErrorKind], what: &str) {
    match result {
        Err(e) if kinds.contains(&e.kind()) => {}
        Err(e) => panic!(
            "{what}: expected one of {kinds:?}, got {}: {}",
            e.kind().as_str(),
            e.detailed_message()
        ),
        Ok(value) => panic!("{what}: expected one of {kinds:?}, got Ok({value:?})"),
    }
}

/// Asserts that two instants are at most `tolerance` apart.
#[track_caller]
pub(crate) fn assert_close(
    actual: DateTime<Utc>,
    expected: DateTime<Utc>,
    tolerance: TimeDelta,
    what: &str,
) {
    let diff = (actual - expected).abs();
    assert!(
        diff <= tolerance,
        "{what}: expected about {expected}, got {actual} ({diff} apart, tolerance {tolerance})"
    );
}

/// A fresh suffix for names, keys and e-mails.
pub(crate) fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
