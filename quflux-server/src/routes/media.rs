//! `/api/v1/media`: upload (multipart, type sniffed from the bytes), list, read, delete.

use std::io::Cursor;

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use quflux_core::{Error, MediaFile, MediaId, MediaKind, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiPath;
use crate::state::AppState;

/// Largest image accepted, whatever the upload limit (no platform takes more).
pub const MAX_IMAGE_BYTES: usize = 20 << 20;

pub(crate) fn router(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_media, list_media))
        .routes(routes!(get_media, delete_media))
        .routes(routes!(media_content))
        // Multipart framing adds a little to the file itself.
        .layer(DefaultBodyLimit::max(max_upload.saturating_add(64 * 1024)))
}

/// A media file as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaView {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: MediaId,
    /// Original file name.
    pub filename: String,
    /// MIME type sniffed from the bytes.
    pub content_type: String,
    /// `image`, `gif` or `video`.
    pub kind: MediaKind,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Pixel width (images).
    pub width: Option<u32>,
    /// Pixel height (images).
    pub height: Option<u32>,
    /// Whether an AI generated it.
    pub ai_generated: bool,
    /// Where to download it: a time-limited presigned URL on S3, else the API's content URL.
    pub url: String,
    /// Upload time.
    pub created_at: DateTime<Utc>,
}

/// The caller's media.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaList {
    /// Newest first.
    pub items: Vec<MediaView>,
}

/// A multipart upload: one `file` part and no other.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file: JPEG, PNG, GIF, WebP, MP4, MOV or WebM, recognised from its bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The schema of a media file's bytes (a binary string).
#[derive(Debug)]
pub struct MediaBytes;

impl utoipa::PartialSchema for MediaBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for MediaBytes {}

/// Path of one media file.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MediaPath {
    /// The media file's id.
    #[param(value_type = String, format = Uuid)]
    pub id: MediaId,
}

pub(crate) async fn view(state: &AppState, m: MediaFile) -> MediaView {
    let url = match state
        .blobs
        .presigned_get(&m.storage_key, state.config.presign_ttl)
        .await
    {
        Ok(Some(url)) => url,
        _ => format!("/api/v1/media/{}/content", m.id),
    };
    MediaView {
        id: m.id,
        kind: m.kind(),
        filename: m.filename,
        content_type: m.content_type,
        size_bytes: m.size_bytes,
        width: m.width,
        height: m.height,
        ai_generated: m.ai_generated,
        url,
        created_at: m.created_at,
    }
}

fn extension(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        _ => "bin",
    }
}

/// Recognises the file from its bytes; the declared type and name are not trusted.
fn sniff(bytes: &[u8]) -> Result<&'static str, ApiError> {
    let mime = infer::get(bytes).map(|t| t.mime_type());
    match mime {
        Some(m @ ("image/jpeg" | "image/png" | "image/gif" | "image/webp" | "video/mp4"
        | "video/quicktime" | "video/webm")) => Ok(m),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            match other {
                Some(m) => format!("file: {m} is not accepted; upload JPEG, PNG, GIF, WebP, MP4, MOV or WebM"),
                None => "file: the bytes are not a recognised image or video; upload JPEG, PNG, GIF, WebP, MP4, MOV or WebM".to_owned(),
            },
        )
        .with_details(json!({ "field": "file" }))),
    }
}

fn clean_filename(name: Option<&str>, mime: &str) -> String {
    let base: String = name
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if base.trim().is_empty() {
        format!("upload.{}", extension(mime))
    } else {
        base
    }
}

fn multipart_error(e: impl std::fmt::Display, status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "PAYLOAD_TOO_LARGE", "the upload is too large")
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            format!("expected a multipart/form-data body with a `file` part: {e}"),
        )
    }
}

/// Uploads an image or video (`multipart/form-data`, part `file`).
#[utoipa::path(post, path = "/api/v1/media", tag = "media",
    security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = MediaView),
        (status = 400, description = "Not a multipart body with a file", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
        (status = 415, description = "Not an accepted image or video", body = ErrorBody),
        (status = 422, description = "Unreadable image, empty file or an unknown part", body = ErrorBody)))]
async fn upload_media(
    State(state): State<AppState>,
    user: AuthUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, axum::Json<MediaView>)> {
    let mut multipart = multipart.map_err(|e| multipart_error(e.body_text(), e.status()))?;
    let mut file: Option<(Option<String>, Bytes)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e.body_text(), e.status())),
        };
        if field.name() != Some("file") {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_INPUT",
                "unknown part: the only part is `file`",
            ));
        }
        let name = field.file_name().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_error(e.body_text(), e.status()))?;
        file = Some((name, bytes));
    }
    let (name, bytes) = file.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            "file: the `file` part is missing",
        )
        .with_details(json!({ "field": "file" }))
    })?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_INPUT",
            "file: is empty",
        )
        .with_details(json!({ "field": "file" })));
    }
    // The body limit leaves room for the multipart framing; the file itself gets none.
    if bytes.len() > state.config.max_upload_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!(
                "file: uploads may be at most {} bytes",
                state.config.max_upload_bytes
            ),
        )
        .with_details(json!({ "field": "file" })));
    }
    let mime = sniff(&bytes)?;
    let kind = MediaKind::from_content_type(mime);
    let (mut width, mut height) = (None, None);
    if kind != MediaKind::Video {
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("file: images may be at most {} MiB", MAX_IMAGE_BYTES >> 20),
            ));
        }
        let dims = image::ImageReader::new(Cursor::new(&bytes[..]))
            .with_guessed_format()
            .ok()
            .and_then(|r| r.into_dimensions().ok());
        match dims {
            Some((w, h)) => {
                width = Some(w);
                height = Some(h);
            }
            None => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_INPUT",
                    format!("file: looks like {mime} but cannot be read as an image"),
                )
                .with_details(json!({ "field": "file" })));
            }
        }
    }
    let id = MediaId::new();
    let key = storage_key(user.id(), id, mime);
    state.blobs.put(&key, bytes.clone(), mime).await?;
    let media = MediaFile {
        id,
        user_id: user.id(),
        filename: clean_filename(name.as_deref(), mime),
        content_type: mime.to_owned(),
        size_bytes: bytes.len() as u64,
        storage_key: key.clone(),
        width,
        height,
        duration_secs: None,
        ai_generated: false,
        created_at: state.clock.now(),
    };
    if let Err(e) = state.db.insert_media(&media).await {
        let _ = state.blobs.delete(&key).await;
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, axum::Json(view(&state, media).await)))
}

/// The blob key of a media file.
pub(crate) fn storage_key(user: UserId, id: MediaId, mime: &str) -> String {
    format!("media/{user}/{id}.{}", extension(mime))
}

async fn owned(state: &AppState, user: &AuthUser, id: MediaId) -> ApiResult<MediaFile> {
    match state.db.get_media(id).await {
        Ok(m) if m.user_id == user.id() => Ok(m),
        Ok(_) | Err(Error::NotFound { .. }) => Err(ApiError::not_found("media")),
        Err(e) => Err(e.into()),
    }
}

/// Lists the caller's media.
#[utoipa::path(get, path = "/api/v1/media", tag = "media",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Media", body = MediaList),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn list_media(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<axum::Json<MediaList>> {
    let mut items = Vec::new();
    for m in state.db.list_media(user.id()).await? {
        items.push(view(&state, m).await);
    }
    Ok(axum::Json(MediaList { items }))
}

/// One of the caller's media files.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "media",
    security(("bearer" = [])),
    params(MediaPath),
    responses(
        (status = 200, description = "The media file", body = MediaView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such media of the caller", body = ErrorBody)))]
async fn get_media(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<MediaPath>,
) -> ApiResult<axum::Json<MediaView>> {
    let m = owned(&state, &user, p.id).await?;
    Ok(axum::Json(view(&state, m).await))
}

/// The bytes of one of the caller's media files.
#[utoipa::path(get, path = "/api/v1/media/{id}/content", tag = "media",
    security(("bearer" = [])),
    params(MediaPath),
    responses(
        (status = 200, description = "The bytes, with the file's own type", content(
            (MediaBytes = "image/jpeg"), (MediaBytes = "image/png"), (MediaBytes = "image/gif"),
            (MediaBytes = "image/webp"), (MediaBytes = "video/mp4"), (MediaBytes = "video/quicktime"),
            (MediaBytes = "video/webm"))),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such media of the caller", body = ErrorBody)))]
async fn media_content(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<MediaPath>,
) -> ApiResult<Response> {
    let m = owned(&state, &user, p.id).await?;
    let bytes = state.blobs.get(&m.storage_key).await?;
    Ok((
        [
            (header::CONTENT_TYPE, m.content_type.clone()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// Deletes one of the caller's media files.
#[utoipa::path(delete, path = "/api/v1/media/{id}", tag = "media",
    security(("bearer" = [])),
    params(MediaPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such media of the caller", body = ErrorBody)))]
async fn delete_media(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(p): ApiPath<MediaPath>,
) -> ApiResult<StatusCode> {
    let m = owned(&state, &user, p.id).await?;
    state.db.delete_media(m.id).await?;
    if let Err(e) = state.blobs.delete(&m.storage_key).await {
        tracing::warn!(error = %e, media_id = %m.id, "media row deleted but its blob was not");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        let png = quflux_core::testkit::standin::TINY_PNG;
        assert_eq!(sniff(&png).unwrap(), "image/png");
        assert!(sniff(b"GIF89a-but-not-really").is_ok());
        assert!(sniff(b"%PDF-1.7 whatever").is_err());
        assert!(sniff(b"hello").is_err());
    }

    #[test]
    fn filenames_lose_paths() {
        assert_eq!(
            clean_filename(Some("../../etc/passwd"), "image/png"),
            "passwd"
        );
        assert_eq!(clean_filename(Some("C:\\x\\a.png"), "image/png"), "a.png");
        assert_eq!(clean_filename(None, "image/png"), "upload.png");
    }
}
