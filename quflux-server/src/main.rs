//! The `quflux-server` binary.
//!
//! ```text
//! quflux-server migrate   apply the database migrations and exit
//! quflux-server worker    run a publishing worker until Ctrl-C
//! ```
//!
//! Configuration comes from the environment: `QUFLUX_DATABASE_URL` (default
//! `sqlite://quflux.db`, or `postgres://user@host/db`), `QUFLUX_OUTBOX_PATH` (default `quflux-outbox.jsonl`: every platform is
//! published to the local outbox until platform adapters are configured), `QUFLUX_FS_ROOT`
//! (default `quflux-media`), `QUFLUX_WORKER_CONCURRENCY` (default 8).

use std::process::ExitCode;
use std::sync::Arc;

use quflux_core::services::{
    NotificationService, PUBLISH_JOB, PublisherRegistry, PublishingService,
};
use quflux_core::worker::{Worker, WorkerConfig};
use quflux_core::{Clock, Error, Platform, Result, SystemClock};
use quflux_platforms::outbox::OutboxPublisher;
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
    let mut registry = PublisherRegistry::new();
    for platform in Platform::ALL {
        registry.insert(Arc::new(
            OutboxPublisher::builder()
                .with_path(&outbox)
                .with_platform(platform)
                .build()?,
        ));
    }
    let blobs = Arc::new(FsBlobStore::new(setting("QUFLUX_FS_ROOT", "quflux-media"))?);
    let publishing = Arc::new(PublishingService::new(
        quflux_store::publishing_stores(&store),
        blobs,
        store.clone(),
        registry,
        NotificationService::new(Vec::new(), clock.clone()),
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
