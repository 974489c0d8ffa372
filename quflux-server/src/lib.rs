//! The Quflux reference server: a thin axum application over the library crates.
//!
//! - [`config`]: settings from the environment, `.env` and an optional TOML file.
//! - [`state::AppState`]: the services, assembled once.
//! - [`app::router`]: the REST API under `/api/v1`, `/api/v1/ws`, `/openapi.json`, `/healthz`,
//!   `/readyz` and `/metrics`.
//! - [`serve`] and [`spawn_worker`]: what the `quflux-server` binary runs.
//!
//! Errors are answered in the design's format by [`error::ApiError`].

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
mod metrics;
pub mod notify;
pub mod routes;
pub mod state;
#[cfg(feature = "supabase")]
pub mod supabase;

use std::time::Duration;

use quflux_core::services::PUBLISH_JOB;
use quflux_core::worker::{Worker, WorkerConfig, WorkerHandle};
use quflux_core::{Error, Result};

pub use state::AppState;

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = app::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| Error::other("server", e))
}

/// Starts a publishing worker, and a housekeeping task that purges expired sessions and cache
/// entries every ten minutes.
pub fn spawn_worker(state: &AppState) -> WorkerHandle {
    let config = WorkerConfig {
        concurrency: state.config.worker_concurrency,
        ..WorkerConfig::default()
    };
    let housekeeping = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = housekeeping.clock.now();
            if let Err(e) = housekeeping.db.purge_sessions(now).await {
                tracing::warn!(error = %e, "purging sessions failed");
            }
            if let Err(e) = housekeeping.db.purge_expired().await {
                tracing::warn!(error = %e, "purging the cache failed");
            }
        }
    });
    Worker::new(state.db.clone(), config)
        .with_handler(PUBLISH_JOB, state.publishing.clone())
        .spawn()
}
