//! `/api/v1/publications`: one post on one platform — list, read, retry, resend.

use axum::extract::State;
use axum::http::StatusCode;
use quflux_core::{
    Error, Platform, Publication, PublicationFilter, PublicationId, PublicationStatus, ScheduleId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_publications))
        .routes(routes!(get_publication))
        .routes(routes!(retry_publication))
        .routes(routes!(resend_publication))
}

/// Publications.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicationList {
    /// Newest first.
    pub items: Vec<Publication>,
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PublicationQuery {
    /// Only this state.
    pub status: Option<PublicationStatus>,
    /// Only this platform.
    pub platform: Option<Platform>,
    /// Only this schedule.
    #[param(value_type = Option<String>, format = Uuid)]
    pub schedule_id: Option<ScheduleId>,
    /// Page size (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[param(minimum = 0, maximum = 1000000)]
    pub offset: Option<u32>,
}

/// Path of one publication.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PublicationPath {
    /// The publication's id.
    #[param(value_type = String, format = Uuid)]
    pub id: PublicationId,
}

async fn owned(state: &AppState, user: &AuthUser, id: PublicationId) -> ApiResult<Publication> {
    match state.db.get_publication(id).await {
        Ok(p) if p.user_id == user.id() => Ok(p),
        Ok(_) | Err(Error::NotFound { .. }) => Err(ApiError::not_found("publication")),
        Err(e) => Err(e.into()),
    }
}

/// 409: the publication's state does not allow the action.
fn state_conflict(p: &Publication, rule: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "CONFLICT",
        format!("the publication is {}; {rule}", p.status.as_str()),
    )
}

/// Lists the caller's publications.
#[utoipa::path(get, path = "/api/v1/publications", tag = "publications",
    security(("bearer" = [])),
    params(PublicationQuery),
    responses(
        (status = 200, description = "Publications", body = PublicationList),
        (status = 400, description = "Bad filter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad filter", body = ErrorBody)))]
async fn list_publications(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<PublicationQuery>,
) -> ApiResult<axum::Json<PublicationList>> {
    super::check_page(q.limit, q.offset)?;
    let filter = PublicationFilter {
        status: q.status,
        platform: q.platform,
        schedule_id: q.schedule_id,
        limit: q.limit,
        offset: q.offset,
    };
    let items = state.db.list_publications(user.id(), &filter).await?;
    Ok(axum::Json(PublicationList { items }))
}

/// One of the caller's publications, with every attempt.
#[utoipa::path(get, path = "/api/v1/publications/{id}", tag = "publications",
    security(("bearer" = [])),
    params(PublicationPath),
    responses(
        (status = 200, description = "The publication", body = Publication),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such publication of the caller", body = ErrorBody)))]
async fn get_publication(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<PublicationPath>,
) -> ApiResult<axum::Json<Publication>> {
    Ok(axum::Json(owned(&state, &user, p.id).await?))
}

/// Retries a failed publication (queued for a worker).
#[utoipa::path(post, path = "/api/v1/publications/{id}/retry", tag = "publications",
    security(("bearer" = [])),
    params(PublicationPath),
    responses(
        (status = 200, description = "Queued again", body = Publication),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such publication of the caller", body = ErrorBody),
        (status = 409, description = "Not failed or unconfirmed, or changed meanwhile", body = ErrorBody),
        (status = 422, description = "Not failed or unconfirmed (found by the publishing service)", body = ErrorBody)))]
async fn retry_publication(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<PublicationPath>,
) -> ApiResult<axum::Json<Publication>> {
    let current = owned(&state, &user, p.id).await?;
    if !matches!(
        current.status,
        PublicationStatus::Failed | PublicationStatus::Unconfirmed
    ) {
        return Err(state_conflict(
            &current,
            "only failed or unconfirmed publications can be retried",
        ));
    }
    Ok(axum::Json(
        state.publishing.retry_publication(user.id(), p.id).await?,
    ))
}

/// Publishes an unconfirmed publication again, after the user checked that it is not on the
/// platform (the platform could not tell).
#[utoipa::path(post, path = "/api/v1/publications/{id}/resend", tag = "publications",
    security(("bearer" = [])),
    params(PublicationPath),
    responses(
        (status = 200, description = "Queued again", body = Publication),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such publication of the caller", body = ErrorBody),
        (status = 409, description = "Not unconfirmed, or changed meanwhile", body = ErrorBody),
        (status = 422, description = "Not unconfirmed (found by the publishing service)", body = ErrorBody)))]
async fn resend_publication(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<PublicationPath>,
) -> ApiResult<axum::Json<Publication>> {
    let current = owned(&state, &user, p.id).await?;
    if current.status != PublicationStatus::Unconfirmed {
        return Err(state_conflict(
            &current,
            "only unconfirmed publications can be resent",
        ));
    }
    Ok(axum::Json(
        state.publishing.resend_unconfirmed(user.id(), p.id).await?,
    ))
}
