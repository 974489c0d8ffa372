//! The HTTP application: routes, OpenAPI document and middleware.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::{ApiError, REQUEST_ID, new_request_id};
use crate::routes;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Quflux API",
        description = "Social media scheduling: accounts, connections, media, posts, AI help, schedules and publications. Every error body has the fields error_code, error_message, error_details, timestamp and request_id.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    components(schemas(crate::error::ErrorBody, crate::routes::TimeZoneName)),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "connections", description = "Platform accounts connected by OAuth"),
        (name = "media", description = "Uploaded images and videos"),
        (name = "posts", description = "Posts, validation and link previews"),
        (name = "ai", description = "AI help with captions, hashtags, ideas and images"),
        (name = "schedules", description = "Schedules, calendar, conflicts, iCalendar feed"),
        (name = "publications", description = "One post on one platform"),
        (name = "events", description = "Live publication events"),
        (name = "ops", description = "Health, readiness and metrics")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .build(),
            ),
        );
    }
}

/// The process-wide Prometheus recorder (installed once, shared by every app in the process).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ])
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours just stays empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The API router and its OpenAPI document.
pub fn router_and_doc(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let max_body = state.config.max_body_bytes;
    // Install the recorder before anything is measured.
    prometheus();
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::ops::router())
        .merge(routes::auth::router())
        .merge(routes::posts::router())
        .merge(routes::media::router(state.config.max_upload_bytes))
        .merge(routes::connections::router())
        .merge(routes::ai::router())
        .merge(routes::schedules::router())
        .merge(routes::publications::router())
        .merge(routes::events::router())
        .split_for_parts();
    let doc_json = std::sync::Arc::new(doc.clone());
    let router = api
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc_json.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route_layer(middleware::from_fn(record_latency))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this method is not allowed on this path",
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("handler panicked");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "internal error; the request id identifies it in the server logs",
                )
                .into_response()
            },
        ))
        .layer(middleware::from_fn(request_context))
        .with_state(state);
    (router, doc)
}

/// The API router.
pub fn router(state: AppState) -> Router {
    router_and_doc(state).0
}

/// Gives every request an id (`x-request-id`, in the error body and in every log line of the
/// request), a tracing span, and an entry in the HTTP latency histogram.
async fn request_context(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(new_request_id, str::to_owned);
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = tracing::field::Empty,
        user_id = tracing::field::Empty
    );
    let start = Instant::now();
    let mut res = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, ms = elapsed.as_secs_f64() * 1e3, "request");
        } else {
            tracing::debug!(status, ms = elapsed.as_secs_f64() * 1e3, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Records the HTTP latency of matched routes, labelled by the route template. The labels are
/// `&'static str`s (route templates are interned once each), so recording allocates nothing.
async fn record_latency(req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| intern_route(p.as_str()));
    tracing::Span::current().record("route", route);
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status();
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status_label(status)),
    ];
    metrics::histogram!("quflux_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The status code as a label: three ASCII digits, one static string per code (100–999).
fn status_label(status: StatusCode) -> &'static str {
    static CODES: OnceLock<Vec<String>> = OnceLock::new();
    let codes = CODES.get_or_init(|| (100..1000).map(|c: u16| c.to_string()).collect());
    codes
        .get(usize::from(status.as_u16()).saturating_sub(100))
        .map_or("other", String::as_str)
}

/// One `&'static str` per route template. The templates are the router's own, a fixed set,
/// so the interned strings are bounded.
fn intern_route(route: &str) -> &'static str {
    static ROUTES: OnceLock<std::sync::RwLock<std::collections::HashSet<&'static str>>> =
        OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(r) = routes
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(route)
    {
        return r;
    }
    let mut set = routes
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = set.get(route) {
        return r;
    }
    let r: &'static str = Box::leak(route.to_owned().into_boxed_str());
    set.insert(r);
    r
}
