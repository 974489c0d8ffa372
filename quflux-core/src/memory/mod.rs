//! In-memory implementations of every port, always compiled.
//!
//! They are the reference implementations the conformance suites in `testkit` are checked
//! against, and they back documentation examples, the server's dev mode and end-to-end tests.
//! Nothing here survives a restart.
//!
//! | type | implements |
//! |---|---|
//! | [`InMemoryStore`] | [`UserStore`](crate::UserStore), [`ConnectionStore`](crate::ConnectionStore), [`PostStore`](crate::PostStore), [`MediaStore`](crate::MediaStore), [`ScheduleStore`](crate::ScheduleStore), [`PublicationStore`](crate::PublicationStore), [`AuthStore`](crate::AuthStore), [`NotificationStore`](crate::NotificationStore) |
//! | [`InMemoryQueue`] | [`JobQueue`](crate::JobQueue) |
//! | [`InMemoryCache`] | [`Cache`](crate::Cache) |
//! | [`InMemoryBlobStore`] | [`BlobStore`](crate::BlobStore) |
//! | [`RecordingNotifier`] | [`Notifier`](crate::Notifier) (records, can simulate failures) |
//! | [`ManualClock`] | [`Clock`](crate::Clock) (set and advanced by hand) |
//! | [`ScriptedTextGenerator`], [`ScriptedImageGenerator`] | [`TextGenerator`](crate::TextGenerator), [`ImageGenerator`](crate::ImageGenerator) (scripted results) |
//! | [`StubPublisher`] | [`Publisher`](crate::Publisher) (scripted results, records calls) |
//!
//! ```
//! use quflux_core::memory::{InMemoryStore, StubPublisher};
//! use quflux_core::{Platform, Publisher, User, UserStore};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = InMemoryStore::new();
//! let user = User::new("Ada@Example.com", "Europe/Paris", chrono::Utc::now());
//! store.insert_user(&user).await?;
//! assert_eq!(store.find_user_by_email("ada@example.com").await?, Some(user));
//!
//! let publisher = StubPublisher::new(Platform::Bluesky);
//! assert_eq!(publisher.platform(), Platform::Bluesky);
//! # Ok::<(), quflux_core::Error>(())
//! # }).unwrap();
//! ```

mod ai;
mod infra;
mod publisher;
mod queue;
mod store;

pub use ai::{ScriptedImageGenerator, ScriptedTextGenerator};
pub use infra::{InMemoryBlobStore, InMemoryCache, ManualClock, RecordingNotifier};
pub use publisher::{StubOutcome, StubPost, StubPublisher};
pub use queue::InMemoryQueue;
pub use store::InMemoryStore;

/// Locks a std mutex, recovering the data if a panicking thread poisoned it (every critical
/// section here leaves the data consistent before anything can panic).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(all(test, feature = "testkit"))]
mod tests;
