//! `PostgresStore` against a real PostgreSQL: every `quflux_core::testkit` suite, then focused
//! tests of what the suites cannot see (batches, cross-process wake-ups, strict mode, ...).
//!
//! Set `QUFLUX_TEST_POSTGRES_URL` to a server where the user may `CREATE DATABASE`, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`; without it every test prints a skip (and
//! fails under `QUFLUX_TEST_REQUIRE_SERVICES=1`). Each test creates its own database
//! `quflux_test_<uuid>` on that server and drops it when it ends, pass or fail, so runs and
//! tests never see each other's rows or notifications.
#![cfg(feature = "postgres")]
// Helpers outside `#[test]` functions unwrap too: a failing fixture should fail the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod queue;
mod store;
mod strict;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use quflux_core::memory::ManualClock;
use quflux_core::{Cache, EnqueueOutcome, ErrorKind, JobQueue, JobState, NewJob};
use quflux_store::postgres::{PostgresStore, PostgresStoreBuilder};
use serde_json::json;
use support::TestDb;

fn t0() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn q(name: &str) -> Vec<String> {
    vec![name.to_owned()]
}
