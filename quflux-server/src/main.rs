//! The `quflux-server` binary.
//!
//! ```text
//! quflux-server migrate   apply the database migrations and exit
//! quflux-server worker    run a publishing worker until Ctrl-C
//! ```
//!
//! Configuration comes from the environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `QUFLUX_DATABASE_URL` | `sqlite://quflux.db` | `sqlite://…` or `postgres://user@host/db` |
//! | `QUFLUX_OUTBOX_PATH` | `quflux-outbox.jsonl` | where platforms without a real adapter are published |
//! | `QUFLUX_FS_ROOT` | `quflux-media` | local blob store root |
//! | `QUFLUX_WORKER_CONCURRENCY` | 8 | jobs run at once |
//! | `QUFLUX_TOKEN_KEYS` | — | token encryption keys, `id:base64-of-32-bytes[,old-id:key…]` (first encrypts); required by every real platform |
//! | `QUFLUX_HTTP_TIMEOUT_SECS` | 30 | whole-request timeout of platform calls |
//! | `QUFLUX_X_CLIENT_ID`, `QUFLUX_X_REDIRECT_URL` (`QUFLUX_X_CLIENT_SECRET`, `QUFLUX_X_API_BASE`) | — | X |
//! | `QUFLUX_LINKEDIN_CLIENT_ID`, `…_CLIENT_SECRET`, `…_REDIRECT_URL` (`…_API_BASE`, `…_OAUTH_BASE`, `…_VERSION`) | — | LinkedIn |
//! | `QUFLUX_META_APP_ID`, `…_APP_SECRET`, `…_REDIRECT_URL` (`…_GRAPH_BASE`, `…_API_VERSION`, `…_DIALOG_URL`, `QUFLUX_PUBLIC_MEDIA_BASE_URL`) | — | Facebook and Instagram |
//! | `QUFLUX_BLUESKY_PDS_URL`, `QUFLUX_BLUESKY_APP_VIEW_URL` | `https://bsky.social` | Bluesky (on whenever token keys are set) |
//! | `QUFLUX_MASTODON_INSTANCE`, `QUFLUX_MASTODON_REDIRECT_URL` | `https://mastodon.social` | Mastodon (on whenever token keys are set) |
//!
//! The worker logs which platforms are real and why the others go to the outbox
//! ([`quflux_platforms::Platforms::summary`]). It refuses to start when X, LinkedIn or Meta is
//! configured without `QUFLUX_TOKEN_KEYS`; with no token keys at all every platform goes to
//! the outbox.

use std::process::ExitCode;
use std::sync::Arc;

use quflux_core::services::{NotificationService, PUBLISH_JOB, PublishingService};
use quflux_core::worker::{Worker, WorkerConfig};
use quflux_core::{Clock, Error, Result, SystemClock};
use quflux_platforms::Platforms;
use quflux_store::Database;
use quflux_store::fs::FsBlobStore;

const USAGE: &str = "usage: quflux-server <migrate|worker>\n\n  migrate  apply the database migrations and exit\n  worker   run a publishing worker until Ctrl-C\n";

fn setting(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn open_store() -> Result<Arc<dyn Database>> {
    quflux_store::open(&setting("QUFLUX_DATABASE_URL", "sqlite://quflux.db")).await
}

async fn worker() -> Result<()> {
    let store = open_store().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let outbox = setting("QUFLUX_OUTBOX_PATH", "quflux-outbox.jsonl");
    let concurrency: usize = setting("QUFLUX_WORKER_CONCURRENCY", "8")
        .parse()
        .map_err(|_| {
            Error::Config("QUFLUX_WORKER_CONCURRENCY: expected a positive number".into())
        })?;
    let notifications = NotificationService::new(Vec::new(), clock.clone());
    let platforms = Platforms::from_env()?.with_outbox_fallback(&outbox).build(
        store.clone(),
        store.clone(),
        notifications.clone(),
        clock.clone(),
    )?;
    for s in &platforms.summary.platforms {
        tracing::info!(platform = s.platform.as_str(), state = %s.state, "{}", s.detail);
    }
    let blobs = Arc::new(FsBlobStore::new(setting("QUFLUX_FS_ROOT", "quflux-media"))?);
    let publishing = Arc::new(PublishingService::new(
        quflux_store::publishing_stores(&store),
        blobs,
        store.clone(),
        platforms.publishers,
        notifications,
        clock,
    ));
    let config = WorkerConfig {
        concurrency: concurrency.max(1),
        ..WorkerConfig::default()
    };
    let handle = Worker::new(store, config)
        .with_handler(PUBLISH_JOB, publishing)
        .spawn();
    tracing::info!(%outbox, "worker running; Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::other("worker", e))?;
    tracing::info!("shutting down");
    handle.shutdown().await
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "migrate" => open_store()
            .await
            .map(|_| tracing::info!("migrations applied")),
        "worker" => worker().await,
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprint!("unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.detailed_message());
            ExitCode::FAILURE
        }
    }
}
