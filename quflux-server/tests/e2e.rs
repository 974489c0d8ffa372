//! End-to-end over HTTP: register, connect a Mastodon stand-in through the OAuth flow, upload an
//! image, create a post, schedule it, receive the `published` event on the websocket, the
//! e-mail and the signed webhooks, and see the publication listed — against the real server
//! (in-process, on a loopback port, with a publishing worker), configured only through its
//! `QUFLUX_*` settings.
//!
//! | test | database | e-mail | media |
//! |---|---|---|---|
//! | `published_post_is_mailed_over_smtp` | SQLite | MailDev (`QUFLUX_TEST_SMTP_URL`, `QUFLUX_TEST_MAILDEV_API`) | files |
//! | `published_post_is_mailed_through_sendgrid` | SQLite | SendGrid stand-in | files |
//! | `the_flow_runs_on_postgres` | PostgreSQL (`QUFLUX_TEST_POSTGRES_URL`) | SendGrid stand-in | files |
//! | `media_on_s3_is_presigned_and_published` | SQLite | SendGrid stand-in | S3 (`QUFLUX_TEST_S3_URL`, `QUFLUX_TEST_S3_ACCESS_KEY`, `QUFLUX_TEST_S3_SECRET_KEY`) |
//!
//! A test whose service is not configured prints a skip, and fails instead under
//! `QUFLUX_TEST_REQUIRE_SERVICES=1`. Start the services with `scripts/testbed/smtp.sh` and
//! `scripts/testbed/s3.sh` (`… env` prints the variables).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "e2e/flow.rs"]
mod flow;
#[path = "e2e/sinks.rs"]
mod sinks;

use common::Options;
use flow::Blobs;
use sinks::{Mail, S3Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_post_is_mailed_over_smtp() {
    let Some(mail) = Mail::smtp_from_env() else {
        return;
    };
    flow::run(Options::default(), mail, Blobs::Fs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_post_is_mailed_through_sendgrid() {
    let mail = Mail::sendgrid().await;
    flow::run(Options::default(), mail, Blobs::Fs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_runs_on_postgres() {
    if common::postgres_url().is_none() {
        return;
    }
    let mail = Mail::sendgrid().await;
    flow::run(Options::default().postgres(), mail, Blobs::Fs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_on_s3_is_presigned_and_published() {
    let Some(target) = S3Target::from_env().await else {
        return;
    };
    let mail = Mail::sendgrid().await;
    flow::run(Options::default(), mail, Blobs::S3(Box::new(target))).await;
}
