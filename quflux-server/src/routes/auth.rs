//! `/api/v1/auth`: register, login, logout, me.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthUser, IssuedSession, UserView};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ClientInfo};
use crate::state::AppState;

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// E-mail address (case-insensitive, unique).
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// Password, 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    /// Display name.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// IANA time zone for calendars (default: the server's default, UTC).
    #[schema(value_type = Option<crate::routes::TimeZoneName>, example = "Europe/Paris")]
    pub time_zone: Option<String>,
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// E-mail address.
    #[schema(max_length = 254)]
    pub email: String,
    /// Password.
    #[schema(max_length = 256)]
    pub password: String,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in", body = IssuedSession),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 409, description = "E-mail address taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid e-mail, password or time zone", body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, axum::Json<IssuedSession>)> {
    let session = state
        .auth
        .register(
            &body.email,
            &body.password,
            body.display_name,
            body.time_zone,
            client.agent,
            client.addr,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(session)))
}

/// Signs in. Failed attempts are limited per account and address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = IssuedSession),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong e-mail address or password", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<axum::Json<IssuedSession>> {
    let session = state
        .auth
        .login(&body.email, &body.password, client.agent, client.addr)
        .await?;
    Ok(axum::Json(session))
}

/// Revokes the session whose token authorizes this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn logout(State(state): State<AppState>, user: AuthUser) -> ApiResult<StatusCode> {
    state.auth.logout(&user.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn me(user: AuthUser) -> axum::Json<UserView> {
    axum::Json(UserView::from(&user.user))
}
