//! `/api/v1/schedules`: create, update, cancel, list by range, calendar by day in the user's
//! time zone, conflicts, and an iCalendar feed.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike};
use quflux_core::services::{
    CalendarDay, ScheduleConflict, ScheduleRequest, ScheduleUpdate, Scheduled,
};
use quflux_core::{Platform, PostId, Publication, Schedule, ScheduleId, ScheduleStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_schedule, list_schedules))
        .routes(routes!(calendar))
        .routes(routes!(conflicts))
        .routes(routes!(feed))
        .routes(routes!(get_schedule, update_schedule))
        .routes(routes!(cancel_schedule))
}

/// A new schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScheduleRequest {
    /// The post.
    #[schema(value_type = String, format = Uuid)]
    pub post_id: PostId,
    /// Wall-clock time in `time_zone`, e.g. `2026-12-01T09:30:00`.
    #[schema(value_type = String, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$", example = "2026-12-01T09:30:00")]
    pub local_time: NaiveDateTime,
    /// IANA time zone (default: the user's).
    #[schema(value_type = Option<crate::routes::TimeZoneName>, example = "Europe/Paris")]
    pub time_zone: Option<String>,
    /// Target platforms.
    #[schema(min_items = 1)]
    pub platforms: Vec<Platform>,
}

/// Changes to a schedule; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScheduleRequest {
    /// New wall-clock time.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$", example = "2026-12-01T10:00:00")]
    pub local_time: Option<NaiveDateTime>,
    /// New time zone (the wall-clock time is kept and re-resolved in it).
    #[schema(value_type = Option<crate::routes::TimeZoneName>)]
    pub time_zone: Option<String>,
    /// New target platforms.
    pub platforms: Option<Vec<Platform>>,
}

/// A schedule with its publications.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleDetail {
    /// The schedule.
    pub schedule: Schedule,
    /// One publication per platform.
    pub publications: Vec<Publication>,
}

/// Schedules.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// Ordered by due time.
    pub items: Vec<Schedule>,
}

/// A calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    /// The zone the days are in.
    pub time_zone: String,
    /// Every day of the range, with its schedules.
    pub days: Vec<CalendarDay>,
}

/// Conflicts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictList {
    /// Pairs of schedules on the same platform closer than the minimum gap.
    pub items: Vec<ScheduleConflict>,
}

/// A UTC range.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start (inclusive), RFC 3339.
    pub from: DateTime<Utc>,
    /// End (exclusive), RFC 3339; at most 366 days after `from`.
    pub to: DateTime<Utc>,
}

/// A range of local dates.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CalendarQuery {
    /// First day, `YYYY-MM-DD`.
    #[param(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last day (inclusive), at most 366 days after `from`.
    #[param(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// IANA time zone of the days (default: the user's).
    #[param(value_type = Option<crate::routes::TimeZoneName>)]
    pub time_zone: Option<String>,
}

/// Path of one schedule.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SchedulePath {
    /// The schedule's id.
    #[param(value_type = String, format = Uuid)]
    pub id: ScheduleId,
}

/// Schedules a post at a wall-clock time in a time zone. Every platform rule and daily cap is
/// checked first; conflicts with nearby posts are reported.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules",
    security(("bearer" = [])),
    request_body = CreateScheduleRequest,
    responses(
        (status = 201, description = "Scheduled", body = Scheduled),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such post of the caller", body = ErrorBody),
        (status = 409, description = "Already scheduled, or a conflict", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "In the past, unknown zone or a broken rule", body = ErrorBody)))]
async fn create_schedule(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(r): ApiJson<CreateScheduleRequest>,
) -> ApiResult<(StatusCode, axum::Json<Scheduled>)> {
    let request = ScheduleRequest {
        post_id: r.post_id,
        local_time: r.local_time,
        time_zone: r.time_zone.unwrap_or_else(|| user.user.time_zone.clone()),
        platforms: r.platforms,
    };
    let scheduled = state.scheduling.schedule(user.id(), request).await?;
    state.lifecycle_event(
        "schedule.created",
        json!({
            "schedule_id": scheduled.schedule.id,
            "post_id": scheduled.schedule.post_id,
            "user_id": user.id(),
            "scheduled_at": scheduled.schedule.scheduled_at,
        }),
    );
    Ok((StatusCode::CREATED, axum::Json(scheduled)))
}

/// The caller's schedules due in `[from, to)`.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules",
    security(("bearer" = [])),
    params(RangeQuery),
    responses(
        (status = 200, description = "Schedules", body = ScheduleList),
        (status = 400, description = "Bad range", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad range", body = ErrorBody)))]
async fn list_schedules(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<axum::Json<ScheduleList>> {
    let items = state.scheduling.list(user.id(), q.from, q.to).await?;
    Ok(axum::Json(ScheduleList { items }))
}

/// The caller's schedules by day, in their time zone (or `time_zone`).
#[utoipa::path(get, path = "/api/v1/schedules/calendar", tag = "schedules",
    security(("bearer" = [])),
    params(CalendarQuery),
    responses(
        (status = 200, description = "The calendar", body = CalendarView),
        (status = 400, description = "Bad range", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad range or zone", body = ErrorBody)))]
async fn calendar(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<CalendarQuery>,
) -> ApiResult<axum::Json<CalendarView>> {
    let tz = q.time_zone.unwrap_or_else(|| user.user.time_zone.clone());
    let days = state
        .scheduling
        .calendar(user.id(), q.from, q.to, &tz)
        .await?;
    Ok(axum::Json(CalendarView {
        time_zone: tz,
        days,
    }))
}

/// Pairs of the caller's schedules in `[from, to)` on the same platform that are too close.
#[utoipa::path(get, path = "/api/v1/schedules/conflicts", tag = "schedules",
    security(("bearer" = [])),
    params(RangeQuery),
    responses(
        (status = 200, description = "Conflicts", body = ConflictList),
        (status = 400, description = "Bad range", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad range", body = ErrorBody)))]
async fn conflicts(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<axum::Json<ConflictList>> {
    let items = state.scheduling.conflicts(user.id(), q.from, q.to).await?;
    Ok(axum::Json(ConflictList { items }))
}

/// The caller's active and completed schedules from 30 days ago to a year ahead, as an
/// iCalendar (RFC 5545) feed.
#[utoipa::path(get, path = "/api/v1/schedules/feed.ics", tag = "schedules",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "iCalendar feed", body = String, content_type = "text/calendar"),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn feed(State(state): State<AppState>, user: AuthUser) -> ApiResult<impl IntoResponse> {
    let now = state.clock.now();
    let from = now - chrono::Duration::days(30);
    let to = now + chrono::Duration::days(365);
    let schedules = state.scheduling.list(user.id(), from, to).await?;
    let mut cal = Calendar::new();
    cal.name("Quflux schedule");
    for s in schedules
        .iter()
        .filter(|s| s.status != ScheduleStatus::Cancelled)
    {
        let preview = match state.posts.get(user.id(), s.post_id).await {
            Ok(p) => p.content.text.chars().take(80).collect::<String>(),
            Err(_) => String::new(),
        };
        let platforms: Vec<&str> = s.platforms.iter().map(|p| p.as_str()).collect();
        let summary = if preview.is_empty() {
            format!("Post on {}", platforms.join(", "))
        } else {
            format!("[{}] {preview}", platforms.join(", "))
        };
        cal.push(
            Event::new()
                .uid(&format!("{}@quflux", s.id))
                .summary(&summary)
                .description(&format!(
                    "Status: {}\nPlatforms: {}\nLocal time: {} ({})",
                    s.status.as_str(),
                    platforms.join(", "),
                    s.local_time,
                    s.time_zone
                ))
                .starts(s.scheduled_at)
                .ends(s.scheduled_at + chrono::Duration::minutes(15))
                .timestamp(s.updated_at)
                .done(),
        );
    }
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        cal.done().to_string(),
    ))
}

/// One of the caller's schedules with its publications.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules",
    security(("bearer" = [])),
    params(SchedulePath),
    responses(
        (status = 200, description = "The schedule", body = ScheduleDetail),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such schedule of the caller", body = ErrorBody)))]
async fn get_schedule(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<SchedulePath>,
) -> ApiResult<axum::Json<ScheduleDetail>> {
    let (schedule, publications) = state
        .scheduling
        .get_with_publications(user.id(), p.id)
        .await?;
    Ok(axum::Json(ScheduleDetail {
        schedule,
        publications,
    }))
}

/// Moves a schedule or changes its platforms (only before it starts publishing).
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "schedules",
    security(("bearer" = [])),
    params(SchedulePath),
    request_body = UpdateScheduleRequest,
    responses(
        (status = 200, description = "Updated", body = Scheduled),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such schedule of the caller", body = ErrorBody),
        (status = 409, description = "No longer editable, or a conflict", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "In the past, unknown zone or a broken rule", body = ErrorBody)))]
async fn update_schedule(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<SchedulePath>,
    ApiJson(r): ApiJson<UpdateScheduleRequest>,
) -> ApiResult<axum::Json<Scheduled>> {
    let update = ScheduleUpdate {
        local_time: r.local_time,
        time_zone: r.time_zone,
        platforms: r.platforms,
    };
    Ok(axum::Json(
        state.scheduling.update(user.id(), p.id, update).await?,
    ))
}

/// Cancels a schedule that has not gone out yet.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/cancel", tag = "schedules",
    security(("bearer" = [])),
    params(SchedulePath),
    responses(
        (status = 200, description = "Cancelled", body = Schedule),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such schedule of the caller", body = ErrorBody),
        (status = 409, description = "Already publishing or done", body = ErrorBody)))]
async fn cancel_schedule(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<SchedulePath>,
) -> ApiResult<axum::Json<Schedule>> {
    let s = state.scheduling.cancel(user.id(), p.id).await?;
    state.lifecycle_event(
        "schedule.cancelled",
        json!({ "schedule_id": s.id, "post_id": s.post_id, "user_id": user.id() }),
    );
    Ok(axum::Json(s))
}
