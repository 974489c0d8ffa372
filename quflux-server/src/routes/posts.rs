//! `/api/v1/posts`: create, read, update, delete, list, validate, publish now; and
//! `/api/v1/link-preview`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use quflux_core::services::Scheduled;
use quflux_core::{
    MediaRef, Platform, Post, PostContent, PostFilter, PostId, PostStatus, Violation,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_post, list_posts))
        .routes(routes!(get_post, update_post, delete_post))
        .routes(routes!(validate_post))
        .routes(routes!(publish_now))
        .routes(routes!(link_preview))
}

/// A page of posts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostList {
    /// The posts, newest first.
    pub items: Vec<Post>,
}

/// Filters for listing posts.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// Only posts in this state.
    pub status: Option<PostStatus>,
    /// Only posts created at or after (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Only posts created before (RFC 3339).
    pub created_to: Option<DateTime<Utc>>,
    /// Only posts whose text contains this (case-insensitive).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Page size (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[param(minimum = 0, maximum = 1000000)]
    pub offset: Option<u32>,
}

/// Path of one post.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PostPath {
    /// The post's id.
    #[param(value_type = String, format = Uuid)]
    pub id: PostId,
}

/// Creates a draft post.
#[utoipa::path(post, path = "/api/v1/posts", tag = "posts",
    security(("bearer" = [])),
    request_body = PostContent,
    responses(
        (status = 201, description = "Created", body = Post),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "A media file is not the caller's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid content", body = ErrorBody)))]
async fn create_post(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(content): ApiJson<PostContent>,
) -> ApiResult<(StatusCode, axum::Json<Post>)> {
    let post = state.posts.create(user.id(), content).await?;
    state.lifecycle_event(
        "post.created",
        json!({ "post_id": post.id, "user_id": post.user_id }),
    );
    Ok((StatusCode::CREATED, axum::Json(post)))
}

/// Lists the caller's posts.
#[utoipa::path(get, path = "/api/v1/posts", tag = "posts",
    security(("bearer" = [])),
    params(PostQuery),
    responses(
        (status = 200, description = "Posts", body = PostList),
        (status = 400, description = "Bad filter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad filter", body = ErrorBody)))]
async fn list_posts(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<PostQuery>,
) -> ApiResult<axum::Json<PostList>> {
    super::check_page(q.limit, q.offset)?;
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::bad_request("q", "q: at most 200 characters"));
    }
    let filter = PostFilter {
        status: q.status,
        created_from: q.created_from,
        created_to: q.created_to,
        text_contains: q.q,
        limit: q.limit,
        offset: q.offset,
    };
    let items = state.posts.list(user.id(), &filter).await?;
    Ok(axum::Json(PostList { items }))
}

/// One of the caller's posts.
#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "posts",
    security(("bearer" = [])),
    params(PostPath),
    responses(
        (status = 200, description = "The post", body = Post),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such post of the caller", body = ErrorBody)))]
async fn get_post(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<PostPath>,
) -> ApiResult<axum::Json<Post>> {
    Ok(axum::Json(state.posts.get(user.id(), p.id).await?))
}

/// Replaces a post's content. Send `If-Match: <version>` to refuse the change when the post
/// changed since it was read (409).
#[utoipa::path(put, path = "/api/v1/posts/{id}", tag = "posts",
    security(("bearer" = [])),
    params(PostPath, ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(?:[0-9]{1,18}|"[0-9]{1,18}")$"#,
        description = "Expected version, as a number or a quoted number (`3` or `\"3\"`)")),
    request_body = PostContent,
    responses(
        (status = 200, description = "Updated", body = Post),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such post of the caller", body = ErrorBody),
        (status = 409, description = "Changed meanwhile, or not editable", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid content", body = ErrorBody)))]
async fn update_post(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<PostPath>,
    headers: HeaderMap,
    ApiJson(content): ApiJson<PostContent>,
) -> ApiResult<axum::Json<Post>> {
    let expected = match headers.get(axum::http::header::IF_MATCH) {
        None => None,
        Some(v) => Some(if_match_version(v).ok_or_else(|| {
            ApiError::bad_request("If-Match", "If-Match: expected a version number")
        })?),
    };
    let post = state
        .posts
        .update(user.id(), p.id, content, expected)
        .await?;
    state.lifecycle_event(
        "post.updated",
        json!({ "post_id": post.id, "user_id": post.user_id }),
    );
    Ok(axum::Json(post))
}

/// The version in an `If-Match` header: digits, optionally in double quotes.
fn if_match_version(v: &axum::http::HeaderValue) -> Option<i64> {
    let s = v.to_str().ok()?.trim();
    let digits = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Deletes a post and cancels its schedules.
#[utoipa::path(delete, path = "/api/v1/posts/{id}", tag = "posts",
    security(("bearer" = [])),
    params(PostPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such post of the caller", body = ErrorBody),
        (status = 409, description = "Being published", body = ErrorBody)))]
async fn delete_post(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<PostPath>,
) -> ApiResult<StatusCode> {
    state.posts.delete(user.id(), p.id).await?;
    state.lifecycle_event(
        "post.deleted",
        json!({ "post_id": p.id, "user_id": user.id() }),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// A text (and media) to check against one platform's rules.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The platform.
    pub platform: Platform,
    /// The text.
    #[schema(max_length = 100000)]
    pub text: String,
    /// Media files of the caller to attach.
    #[serde(default)]
    pub media: Vec<MediaRef>,
    /// Follow-up thread parts.
    #[serde(default)]
    pub thread: Vec<String>,
}

/// The result of a validation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    /// Whether every rule holds.
    pub valid: bool,
    /// Length of the text in the platform's unit (X: weighted characters).
    pub length: usize,
    /// The platform's limit.
    pub limit: usize,
    /// Every broken rule.
    pub violations: Vec<Violation>,
}

/// Checks a text against a platform's rules (X's weighted 280 characters, Instagram's 30
/// hashtags, media limits, ...) without saving anything.
#[utoipa::path(post, path = "/api/v1/posts/validate", tag = "posts",
    security(("bearer" = [])),
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "Validation result", body = ValidateResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "A media file is not the caller's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody)))]
async fn validate_post(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ValidateRequest>,
) -> ApiResult<axum::Json<ValidateResponse>> {
    super::check_len("text", &body.text, 0, 100_000)?;
    let content = PostContent {
        text: body.text,
        media: body.media,
        thread: body.thread,
        ..PostContent::default()
    };
    let mut results = state
        .posts
        .validate(user.id(), &content, &[body.platform])
        .await?;
    let r = results.pop().ok_or_else(|| {
        ApiError::from(quflux_core::Error::other("posts", "no validation result"))
    })?;
    Ok(axum::Json(ValidateResponse {
        valid: r.violations.is_empty(),
        length: r.length,
        limit: r.limit,
        violations: r.violations,
    }))
}

/// Platforms to publish on now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishNowRequest {
    /// Target platforms (connected accounts are needed for real platforms).
    #[schema(min_items = 1)]
    pub platforms: Vec<Platform>,
}

/// Publishes a post now: it is scheduled for the current instant and a worker publishes it;
/// the outcome arrives on the websocket and in the publications list.
#[utoipa::path(post, path = "/api/v1/posts/{id}/publish", tag = "posts",
    security(("bearer" = [])),
    params(PostPath),
    request_body = PublishNowRequest,
    responses(
        (status = 202, description = "Queued for publishing", body = Scheduled),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such post of the caller", body = ErrorBody),
        (status = 409, description = "Already scheduled or published", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Breaks a platform rule", body = ErrorBody)))]
async fn publish_now(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<PostPath>,
    ApiJson(body): ApiJson<PublishNowRequest>,
) -> ApiResult<(StatusCode, axum::Json<Scheduled>)> {
    let scheduled = state
        .publishing
        .publish_now(&state.scheduling, user.id(), p.id, body.platforms)
        .await?;
    state.lifecycle_event(
        "schedule.created",
        json!({ "schedule_id": scheduled.schedule.id, "post_id": p.id, "user_id": user.id() }),
    );
    Ok((StatusCode::ACCEPTED, axum::Json(scheduled)))
}

/// The link to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkPreviewQuery {
    /// An http or https URL on the public internet.
    #[param(max_length = 2048)]
    pub url: String,
}

/// The OpenGraph preview of a public web page. Addresses that are not public (loopback,
/// private, link-local, cloud metadata, ...) are refused, on every redirect too.
#[utoipa::path(get, path = "/api/v1/link-preview", tag = "posts",
    security(("bearer" = [])),
    params(LinkPreviewQuery),
    responses(
        (status = 200, description = "The preview", body = quflux_core::LinkPreview),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Refused or unreadable URL", body = ErrorBody),
        (status = 503, description = "The page could not be fetched now", body = ErrorBody)))]
async fn link_preview(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiQuery(q): ApiQuery<LinkPreviewQuery>,
) -> ApiResult<axum::Json<quflux_core::LinkPreview>> {
    if q.url.len() > 2048 {
        return Err(ApiError::bad_request("url", "url: at most 2048 characters"));
    }
    let p = state.previews.preview(&q.url).await?;
    Ok(axum::Json(quflux_core::LinkPreview {
        url: p.url,
        title: p.title,
        description: p.description,
        image_url: p.image,
        site_name: p.site_name,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_a_plain_or_quoted_version() {
        let v = |s: &'static str| if_match_version(&axum::http::HeaderValue::from_static(s));
        assert_eq!(v("3"), Some(3));
        assert_eq!(v("\"42\""), Some(42));
        for bad in [
            "",
            "\"\"",
            "null",
            "+3",
            "-3",
            "3.0",
            "\"3",
            "W/\"3\"",
            "1234567890123456789",
        ] {
            assert_eq!(v(bad), None, "{bad}");
        }
    }
}
