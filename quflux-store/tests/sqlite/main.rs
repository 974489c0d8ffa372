//! `SqliteStore` against a temporary file database and `in_memory()`: focused tests per trait,
//! then every `quflux_core::testkit` suite.
#![cfg(feature = "sqlite")]
// Helpers outside `#[test]` functions unwrap too: a failing fixture should fail the test.
#![allow(clippy::unwrap_used)]

mod conformance;
mod queue;
mod store;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use quflux_core::memory::ManualClock;
use quflux_core::{
    Attempt, AttemptOutcome, Cache, ConnectionId, ConnectionStatus, ConnectionStore,
    EncryptedToken, EnqueueOutcome, ErrorKind, JobQueue, JobState, MediaFile, MediaId, MediaStore,
    NewJob, Platform, PlatformConnection, PlatformPostId, Post, PostContent, PostFilter, PostId,
    PostStatus, PostStore, Publication, PublicationFilter, PublicationStatus, PublicationStore,
    Schedule, ScheduleId, ScheduleStatus, ScheduleStore, User, UserId, UserStore,
};
use quflux_store::sqlite::{SqliteStore, SqliteStoreBuilder};
use serde_json::json;
use tempfile::TempDir;

/// A migrated store on a fresh file database.
async fn file_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("quflux.db").display());
    (dir, SqliteStore::open(&url).await.unwrap())
}

fn t0() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn q(name: &str) -> Vec<String> {
    vec![name.to_owned()]
}
