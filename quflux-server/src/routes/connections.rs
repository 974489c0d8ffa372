//! `/api/v1/connections`: platform accounts connected by OAuth (or a Bluesky app password).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use quflux_core::{ConnectionId, ConnectionStatus, Error, Platform, PlatformConnection, Secret};
use quflux_platforms::PlatformState;
use quflux_platforms::common::AuthorizeOptions;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::check_len;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connections))
        .routes(routes!(list_platforms))
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(login))
        .routes(routes!(get_connection, disconnect))
        .routes(routes!(refresh))
}

/// A connected account; tokens are never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: ConnectionId,
    /// Platform.
    pub platform: Platform,
    /// The account's id on the platform.
    pub platform_user_id: String,
    /// The account's handle.
    pub username: String,
    /// `active`, `needs_reauth` or `disconnected`.
    pub status: ConnectionStatus,
    /// When the access token expires (it is refreshed before).
    pub expires_at: Option<DateTime<Utc>>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Connected at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<PlatformConnection> for ConnectionView {
    fn from(c: PlatformConnection) -> Self {
        Self {
            id: c.id,
            platform: c.platform,
            platform_user_id: c.platform_user_id,
            username: c.platform_username,
            status: c.status,
            expires_at: c.expires_at,
            scopes: c.scopes,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// The caller's connections.
    pub items: Vec<ConnectionView>,
}

/// A platform the server can connect accounts of.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformInfo {
    /// The platform.
    pub platform: Platform,
    /// `oauth`, `app_password` (Bluesky), or `outbox` (no credentials configured: connect a
    /// local account with `POST /api/v1/connections/login`; posts go to the outbox file).
    pub method: String,
}

/// Connectable platforms.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformList {
    /// Platforms with a configured connector.
    pub items: Vec<PlatformInfo>,
}

/// Starts an OAuth authorization.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The platform.
    pub platform: Platform,
    /// Mastodon instance or Bluesky PDS URL (default: the configured one).
    #[schema(max_length = 2048)]
    pub instance: Option<String>,
}

/// Where to send the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartResponse {
    /// The platform's authorize page.
    pub authorize_url: String,
    /// The `state` the callback must bring back.
    pub state: String,
    /// When the pending authorization expires.
    pub expires_at: DateTime<Utc>,
}

/// What the platform sent back to the redirect URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    /// The `state` from the start.
    #[schema(max_length = 512)]
    pub state: String,
    /// The authorization code.
    #[schema(max_length = 4096)]
    pub code: Option<String>,
    /// The error the platform sent instead (`access_denied`, ...).
    #[schema(max_length = 512)]
    pub error: Option<String>,
}

/// A Bluesky (or other password-login) account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPasswordLoginRequest {
    /// The platform (`bluesky`).
    pub platform: Platform,
    /// Handle, e-mail or DID.
    #[schema(max_length = 256)]
    pub identifier: String,
    /// An app password (never the account password).
    #[schema(max_length = 256)]
    pub app_password: String,
    /// PDS URL (default: the configured one).
    #[schema(max_length = 2048)]
    pub instance: Option<String>,
}

/// Path of one connection.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConnectionPath {
    /// The connection's id.
    #[param(value_type = String, format = Uuid)]
    pub id: ConnectionId,
}

/// Lists the caller's connections.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Connections", body = ConnectionList),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn list_connections(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<axum::Json<ConnectionList>> {
    let items = state
        .db
        .list_connections(user.id())
        .await?
        .into_iter()
        .map(ConnectionView::from)
        .collect();
    Ok(axum::Json(ConnectionList { items }))
}

/// The platforms this server can connect accounts of.
#[utoipa::path(get, path = "/api/v1/connections/platforms", tag = "connections",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Platforms", body = PlatformList),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn list_platforms(
    State(state): State<AppState>,
    _user: AuthUser,
) -> axum::Json<PlatformList> {
    let mut items: Vec<PlatformInfo> = state
        .platforms
        .connections
        .platforms()
        .into_iter()
        .map(|platform| PlatformInfo {
            platform,
            method: if platform == Platform::Bluesky {
                "app_password"
            } else {
                "oauth"
            }
            .to_owned(),
        })
        .collect();
    for s in &state.platforms.summary.platforms {
        if s.state == PlatformState::Outbox && !items.iter().any(|i| i.platform == s.platform) {
            items.push(PlatformInfo {
                platform: s.platform,
                method: "outbox".to_owned(),
            });
        }
    }
    axum::Json(PlatformList { items })
}

fn not_configured(e: Error, platform: Platform) -> ApiError {
    match e {
        Error::Unsupported { .. } | Error::Config(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "PLATFORM_NOT_CONFIGURED",
            format!(
                "{} cannot be connected on this server (not configured, or it does not support this flow)",
                platform.as_str()
            ),
        ),
        other => other.into(),
    }
}

/// Starts connecting an account: returns the platform's authorize URL (with `state` and PKCE).
#[utoipa::path(post, path = "/api/v1/connections/start", tag = "connections",
    security(("bearer" = [])),
    request_body = StartRequest,
    responses(
        (status = 201, description = "Send the user to authorize_url", body = StartResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Platform not configured", body = ErrorBody),
        (status = 503, description = "The platform is unreachable", body = ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<StartRequest>,
) -> ApiResult<(StatusCode, axum::Json<StartResponse>)> {
    check_len(
        "instance",
        body.instance.as_deref().unwrap_or_default(),
        0,
        2048,
    )?;
    if state
        .platforms
        .connections
        .connector(body.platform)
        .is_err()
    {
        return Err(not_configured(
            Error::Config("no connector".into()),
            body.platform,
        ));
    }
    let options = AuthorizeOptions {
        instance: body.instance,
    };
    let s = state
        .platforms
        .connections
        .start(user.id(), body.platform, &options)
        .await
        .map_err(|e| not_configured(e, body.platform))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(StartResponse {
            authorize_url: s.authorize_url,
            state: s.state,
            expires_at: s.expires_at,
        }),
    ))
}

/// Finishes an authorization with what the platform sent to the redirect URL. The `state` is
/// single use and belongs to the user who started it.
#[utoipa::path(post, path = "/api/v1/connections/callback", tag = "connections",
    security(("bearer" = [])),
    request_body = CallbackRequest,
    responses(
        (status = 200, description = "Connected accounts", body = ConnectionList),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Unknown or expired state", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Refused by the user or the platform", body = ErrorBody),
        (status = 503, description = "The platform is unreachable", body = ErrorBody)))]
async fn callback(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<CallbackRequest>,
) -> ApiResult<axum::Json<ConnectionList>> {
    check_len("state", &body.state, 0, 512)?;
    check_len("code", body.code.as_deref().unwrap_or_default(), 0, 4096)?;
    check_len("error", body.error.as_deref().unwrap_or_default(), 0, 512)?;
    let connections = state
        .platforms
        .connections
        .callback(
            user.id(),
            &body.state,
            body.code.as_deref(),
            body.error.as_deref(),
        )
        .await?;
    Ok(axum::Json(ConnectionList {
        items: connections.into_iter().map(ConnectionView::from).collect(),
    }))
}

/// Connects an account with an identifier and an app password (Bluesky). For a platform that
/// publishes to the local outbox (no credentials configured on this server), it creates a
/// local account named `identifier` (the password is ignored).
#[utoipa::path(post, path = "/api/v1/connections/login", tag = "connections",
    security(("bearer" = [])),
    request_body = AppPasswordLoginRequest,
    responses(
        (status = 200, description = "Connected accounts", body = ConnectionList),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Conflict", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Refused, or platform not configured", body = ErrorBody),
        (status = 503, description = "The platform is unreachable", body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<AppPasswordLoginRequest>,
) -> ApiResult<axum::Json<ConnectionList>> {
    check_len("identifier", &body.identifier, 0, 256)?;
    check_len("app_password", &body.app_password, 0, 256)?;
    check_len(
        "instance",
        body.instance.as_deref().unwrap_or_default(),
        0,
        2048,
    )?;
    if state
        .platforms
        .connections
        .connector(body.platform)
        .is_err()
    {
        if is_outbox(&state, body.platform) {
            let c = outbox_connection(&state, &user, body.platform, &body.identifier).await?;
            return Ok(axum::Json(ConnectionList {
                items: vec![c.into()],
            }));
        }
        return Err(not_configured(
            Error::Config("no connector".into()),
            body.platform,
        ));
    }
    let options = AuthorizeOptions {
        instance: body.instance,
    };
    let connections = state
        .platforms
        .connections
        .login(
            user.id(),
            body.platform,
            &body.identifier,
            &Secret::new(body.app_password),
            &options,
        )
        .await
        .map_err(|e| not_configured(e, body.platform))?;
    Ok(axum::Json(ConnectionList {
        items: connections.into_iter().map(ConnectionView::from).collect(),
    }))
}

fn is_outbox(state: &AppState, platform: Platform) -> bool {
    state
        .platforms
        .summary
        .get(platform)
        .is_some_and(|s| s.state == PlatformState::Outbox)
}

/// A local account of a platform that publishes to the outbox (no platform credentials are
/// configured): posts for it are written to the outbox file instead of being sent.
async fn outbox_connection(
    state: &AppState,
    user: &AuthUser,
    platform: Platform,
    identifier: &str,
) -> ApiResult<PlatformConnection> {
    let name = identifier.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid_input("identifier", "1 to 100 characters").into());
    }
    if let Some(c) = state.db.find_active_connection(user.id(), platform).await? {
        return Ok(c);
    }
    let now = state.clock.now();
    let connection = PlatformConnection {
        id: ConnectionId::new(),
        user_id: user.id(),
        platform,
        platform_user_id: format!("outbox:{name}"),
        platform_username: name.to_owned(),
        access_token: state
            .platforms
            .tokens
            .cipher()
            .encrypt(&Secret::new("outbox".to_owned()))?,
        refresh_token: None,
        expires_at: None,
        scopes: Vec::new(),
        status: ConnectionStatus::Active,
        metadata: serde_json::json!({ "outbox": true }),
        version: 0,
        created_at: now,
        updated_at: now,
    };
    state.db.insert_connection(&connection).await?;
    Ok(connection)
}

/// One of the caller's connections.
#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "connections",
    security(("bearer" = [])),
    params(ConnectionPath),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such connection of the caller", body = ErrorBody)))]
async fn get_connection(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<ConnectionPath>,
) -> ApiResult<axum::Json<ConnectionView>> {
    let c = state.platforms.connections.owned(user.id(), p.id).await?;
    Ok(axum::Json(c.into()))
}

/// Refreshes a connection's access token now.
#[utoipa::path(post, path = "/api/v1/connections/{id}/refresh", tag = "connections",
    security(("bearer" = [])),
    params(ConnectionPath),
    responses(
        (status = 200, description = "Refreshed", body = ConnectionView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such connection of the caller", body = ErrorBody),
        (status = 409, description = "The account must be connected again", body = ErrorBody),
        (status = 422, description = "Cannot be refreshed: no refresh token (`NOT_REFRESHABLE`), or the platform's answer", body = ErrorBody),
        (status = 503, description = "The platform is unreachable", body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<ConnectionPath>,
) -> ApiResult<axum::Json<ConnectionView>> {
    let c = state
        .platforms
        .connections
        .refresh(user.id(), p.id)
        .await
        .map_err(|e| match e {
            // The connection's own state (no refresh token, a platform without refresh), not
            // a missing server feature.
            e @ Error::Unsupported { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "NOT_REFRESHABLE",
                format!("this connection cannot be refreshed: {e}"),
            ),
            other => other.into(),
        })?;
    Ok(axum::Json(c.into()))
}

/// Disconnects an account: the tokens are revoked at the platform and the connection is
/// marked disconnected.
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections",
    security(("bearer" = [])),
    params(ConnectionPath),
    responses(
        (status = 200, description = "Disconnected", body = ConnectionView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such connection of the caller", body = ErrorBody),
        (status = 503, description = "The platform is unreachable", body = ErrorBody)))]
async fn disconnect(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<ConnectionPath>,
) -> ApiResult<axum::Json<ConnectionView>> {
    let c = state
        .platforms
        .connections
        .disconnect(user.id(), p.id)
        .await?;
    Ok(axum::Json(c.into()))
}
