//! `/api/v1/ws`: a websocket of the caller's publication events, and
//! `/api/v1/notifications`: the same events as a list.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quflux_core::{StoredNotification, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthUser, bearer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// How often a socket looks for events written by other processes.
const POLL: Duration = Duration::from_millis(500);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(websocket))
        .routes(routes!(list_notifications))
}

/// Where to start.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events after this sequence number (default: only new events on the socket, every
    /// event in the list).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// The session token, for browsers that cannot set `Authorization` on a websocket.
    #[param(max_length = 128)]
    pub access_token: Option<String>,
    /// Page size of the list (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// Oldest first; each has a `seq` to resume from.
    pub items: Vec<StoredNotification>,
}

/// Checks the documented bounds of `after`, `access_token` and `limit`.
fn check_query(q: &EventQuery) -> ApiResult<()> {
    if q.limit.is_some_and(|l| !(1..=500).contains(&l)) {
        return Err(ApiError::bad_request("limit", "limit: must be 1 to 500"));
    }
    if q.after.is_some_and(|a| a < 0) {
        return Err(ApiError::bad_request(
            "after",
            "after: must not be negative",
        ));
    }
    if q.access_token
        .as_ref()
        .is_some_and(|t| t.chars().count() > 128)
    {
        return Err(ApiError::bad_request(
            "access_token",
            "access_token: at most 128 characters",
        ));
    }
    Ok(())
}

async fn authenticate(
    state: &AppState,
    parts_token: Option<&str>,
    q: &EventQuery,
) -> ApiResult<AuthUser> {
    let token = parts_token.or(q.access_token.as_deref()).ok_or_else(|| {
        ApiError::unauthenticated(
            "sign in and send `Authorization: Bearer <token>` (or `access_token`)",
        )
    })?;
    state.auth.authenticate(token).await
}

/// The caller's events as a list (`published`, `failed`, `unconfirmed`,
/// `connection_needs_reauth`).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "events",
    security(("bearer" = [])),
    params(EventQuery),
    responses(
        (status = 200, description = "Events", body = EventList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn list_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<axum::Json<EventList>> {
    let user = authenticate(&state, bearer(&headers), &q).await?;
    check_query(&q)?;
    let items = state
        .events
        .store()
        .list_notifications(user.id(), q.after.unwrap_or(0), q.limit.unwrap_or(100))
        .await?;
    Ok(axum::Json(EventList { items }))
}

/// A websocket of the caller's publication events. Each message is a JSON
/// `{"seq", "notification": {"kind": "published" | "failed" | "unconfirmed" |
/// "connection_needs_reauth", ...}}`. Reconnect with `?after=<last seq>` to get what was missed.
#[utoipa::path(get, path = "/api/v1/ws", tag = "events",
    security(("bearer" = [])),
    params(EventQuery),
    responses(
        (status = 101, description = "Switching to the websocket protocol"),
        (status = 400, description = "Bad query or a malformed websocket handshake", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 426, description = "Not a websocket request (`Upgrade: websocket` needed)", body = ErrorBody,
            headers(("Upgrade" = String, description = "`websocket`")))))]
async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let user = authenticate(&state, bearer(&headers), &q).await?;
    check_query(&q)?;
    let upgrade = match upgrade {
        Ok(u) => u,
        // A plain HTTP request: this resource only speaks the websocket protocol.
        Err(
            e @ (WebSocketUpgradeRejection::InvalidConnectionHeader(_)
            | WebSocketUpgradeRejection::InvalidUpgradeHeader(_)),
        ) => {
            let mut res = ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "UPGRADE_REQUIRED",
                format!("this is a websocket endpoint: {}", e.body_text()),
            )
            .into_response();
            let h = res.headers_mut();
            h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            return Ok(res);
        }
        Err(e) => {
            return Err(ApiError::bad_request(
                "upgrade",
                format!("expected a websocket upgrade: {}", e.body_text()),
            ));
        }
    };
    let after = match q.after {
        Some(a) => a,
        None => {
            state
                .events
                .store()
                .last_notification_seq(user.id())
                .await?
        }
    };
    let user_id = user.id();
    Ok(upgrade.on_upgrade(move |socket| stream(state, user_id, after, socket)))
}

async fn stream(state: AppState, user: UserId, mut after: i64, mut socket: WebSocket) {
    let mut wake = state.events.subscribe();
    loop {
        match state
            .events
            .store()
            .list_notifications(user, after, 100)
            .await
        {
            Ok(batch) => {
                for n in batch {
                    after = after.max(n.seq);
                    let Ok(text) = serde_json::to_string(&n) else {
                        continue;
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading events failed"),
        }
        tokio::select! {
            w = wake.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = w {
                    return;
                }
            }
            () = tokio::time::sleep(POLL) => {}
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
