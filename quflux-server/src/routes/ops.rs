//! Health, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Liveness or readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with the failing checks.
    pub status: String,
    /// Database reachable (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<bool>,
    /// Job queue reachable (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<bool>,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        database: None,
        queue: None,
    })
}

/// The database and the job queue answer.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Health)))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let probe = std::time::Duration::from_secs(2);
    let database =
        tokio::time::timeout(probe, state.db.find_user_by_email("readyz@quflux.invalid"))
            .await
            .is_ok_and(|r| r.is_ok());
    let queue = tokio::time::timeout(probe, state.db.stats(quflux_core::PUBLISHING_QUEUE))
        .await
        .is_ok_and(|r| r.is_ok());
    let ok = database && queue;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(Health {
            status: if ok { "ok" } else { "unavailable" }.into(),
            database: Some(database),
            queue: Some(queue),
        }),
    )
}

/// Prometheus metrics: `quflux_http_request_duration_seconds`, `quflux_publications_total`,
/// `quflux_queue_jobs`, `quflux_queue_lag_seconds`, `quflux_ai_request_duration_seconds`.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    crate::metrics::refresh_queue_gauges(&state).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::app::prometheus().render(),
    )
}
