//! `/api/v1/ai`: captions, hashtags, ideas, image generation and editing, social graphics.
//! Texts come back checked against the platform's rules; images are stored as the caller's
//! media (marked AI-generated).

use axum::extract::State;
use axum::http::StatusCode;
use quflux_ai::Checked;
use quflux_core::{Error, GeneratedImage, MediaId, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::metrics::timed_ai;
use crate::routes::check_len;
use crate::routes::media::{MediaView, view};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(caption))
        .routes(routes!(hashtags))
        .routes(routes!(ideas))
        .routes(routes!(generate_image))
        .routes(routes!(edit_image))
        .routes(routes!(social_graphic))
}

/// What a captioned post carries (the AI service's `CONTENT_TYPES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaptionContentType {
    /// An image post.
    Image,
    /// A video post.
    Video,
    /// A link post.
    Link,
    /// A text-only post.
    Text,
}

impl CaptionContentType {
    /// The name the AI service takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Link => "link",
            Self::Text => "text",
        }
    }
}

/// A caption request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionRequest {
    /// What the post carries.
    pub content_type: CaptionContentType,
    /// The subject.
    #[schema(min_length = 1, max_length = 2000)]
    pub topic: String,
    /// The platform whose rules the caption must pass.
    pub platform: Platform,
    /// The provider's tone; the offline provider knows `professional`, `casual`, `humorous`
    /// and `inspirational`.
    #[schema(example = "casual", min_length = 1, max_length = 50)]
    pub tone: String,
}

/// A generated text.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextResult {
    /// The text, passing the platform's text rules.
    pub text: String,
    /// The platform.
    pub platform: Platform,
    /// The model that wrote it.
    pub model: String,
    /// Whether it had to be regenerated or shortened to pass.
    pub adjusted: bool,
}

/// Generated texts.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextListResult {
    /// The items, each passing the platform's rules.
    pub items: Vec<String>,
    /// The platform.
    pub platform: Platform,
    /// The model that wrote them.
    pub model: String,
    /// Whether they had to be regenerated or shortened to pass.
    pub adjusted: bool,
}

impl From<Checked<Vec<String>>> for TextListResult {
    fn from(c: Checked<Vec<String>>) -> Self {
        Self {
            items: c.value,
            platform: c.platform,
            model: c.model,
            adjusted: c.adjusted.is_some(),
        }
    }
}

/// A hashtag request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HashtagsRequest {
    /// The post text to tag.
    #[schema(min_length = 1, max_length = 10000)]
    pub content: String,
    /// The platform (its hashtag limit applies).
    pub platform: Platform,
}

/// An ideas request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdeasRequest {
    /// The subject.
    #[schema(min_length = 1, max_length = 2000)]
    pub topic: String,
    /// Who the posts are for.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub audience: String,
    /// The platform whose rules every idea must pass.
    pub platform: Platform,
}

/// An image generation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateImageRequest {
    /// What to draw.
    #[schema(min_length = 1, max_length = 4000)]
    pub prompt: String,
    /// A style hint.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub style: String,
    /// Width in pixels.
    #[schema(minimum = 256, maximum = 4096)]
    pub width: u32,
    /// Height in pixels.
    #[schema(minimum = 256, maximum = 4096)]
    pub height: u32,
}

/// An image edit request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditImageRequest {
    /// One of the caller's media files (an image).
    #[schema(value_type = String, format = Uuid)]
    pub media_id: MediaId,
    /// What to change.
    #[schema(min_length = 1, max_length = 4000)]
    pub prompt: String,
}

/// A social graphic request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialGraphicRequest {
    /// The text on the graphic.
    #[schema(min_length = 1, max_length = 500)]
    pub text: String,
    /// The provider's template; the offline provider knows `bold`, `gradient` and `quote`.
    #[schema(example = "bold", min_length = 1, max_length = 50)]
    pub template: String,
    /// Width: 1080×1080, 1200×675, 1080×1920 or 1080×1350.
    #[schema(example = 1080)]
    pub width: u32,
    /// Height.
    #[schema(example = 1080)]
    pub height: u32,
}

/// Writes a caption for a platform.
#[utoipa::path(post, path = "/api/v1/ai/caption", tag = "ai",
    security(("bearer" = [])),
    request_body = CaptionRequest,
    responses(
        (status = 200, description = "The caption", body = TextResult),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid request, or no caption passes the rules", body = ErrorBody),
        (status = 429, description = "Provider rate limit", body = ErrorBody),
        (status = 503, description = "Provider unavailable", body = ErrorBody)))]
async fn caption(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(r): ApiJson<CaptionRequest>,
) -> ApiResult<axum::Json<TextResult>> {
    check_len("topic", &r.topic, 1, 2000)?;
    check_len("tone", &r.tone, 1, 50)?;
    let c = timed_ai(
        "caption",
        state
            .ai
            .caption(r.content_type.as_str(), &r.topic, r.platform, &r.tone),
    )
    .await?;
    Ok(axum::Json(TextResult {
        text: c.value,
        platform: c.platform,
        model: c.model,
        adjusted: c.adjusted.is_some(),
    }))
}

/// Suggests hashtags (at most the platform's recommended number).
#[utoipa::path(post, path = "/api/v1/ai/hashtags", tag = "ai",
    security(("bearer" = [])),
    request_body = HashtagsRequest,
    responses(
        (status = 200, description = "Hashtags", body = TextListResult),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
        (status = 429, description = "Provider rate limit", body = ErrorBody),
        (status = 503, description = "Provider unavailable", body = ErrorBody)))]
async fn hashtags(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(r): ApiJson<HashtagsRequest>,
) -> ApiResult<axum::Json<TextListResult>> {
    check_len("content", &r.content, 1, 10_000)?;
    let c = timed_ai("hashtags", state.ai.hashtags(&r.content, r.platform)).await?;
    Ok(axum::Json(c.into()))
}

/// Suggests post ideas.
#[utoipa::path(post, path = "/api/v1/ai/ideas", tag = "ai",
    security(("bearer" = [])),
    request_body = IdeasRequest,
    responses(
        (status = 200, description = "Ideas", body = TextListResult),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
        (status = 429, description = "Provider rate limit", body = ErrorBody),
        (status = 503, description = "Provider unavailable", body = ErrorBody)))]
async fn ideas(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(r): ApiJson<IdeasRequest>,
) -> ApiResult<axum::Json<TextListResult>> {
    check_len("topic", &r.topic, 1, 2000)?;
    check_len("audience", &r.audience, 0, 500)?;
    let c = timed_ai("ideas", state.ai.ideas(&r.topic, &r.audience, r.platform)).await?;
    Ok(axum::Json(c.into()))
}

async fn store(
    state: &AppState,
    user: &AuthUser,
    image: &GeneratedImage,
    hint: &str,
) -> ApiResult<(StatusCode, axum::Json<MediaView>)> {
    let media = quflux_ai::store_generated_image(
        state.blobs.as_ref(),
        state.db.as_ref(),
        user.id(),
        image,
        hint,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(view(state, media).await)))
}

/// Generates an image and stores it as the caller's media.
#[utoipa::path(post, path = "/api/v1/ai/images", tag = "ai",
    security(("bearer" = [])),
    request_body = GenerateImageRequest,
    responses(
        (status = 201, description = "The stored image", body = MediaView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid request", body = ErrorBody),
        (status = 429, description = "Provider rate limit", body = ErrorBody),
        (status = 501, description = "The configured provider cannot generate images", body = ErrorBody),
        (status = 503, description = "Provider unavailable", body = ErrorBody)))]
async fn generate_image(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(r): ApiJson<GenerateImageRequest>,
) -> ApiResult<(StatusCode, axum::Json<MediaView>)> {
    check_len("prompt", &r.prompt, 1, 4000)?;
    check_len("style", &r.style, 0, 200)?;
    let image = timed_ai(
        "generate_image",
        state
            .ai
            .generate_image(&r.prompt, &r.style, r.width, r.height),
    )
    .await?;
    store(&state, &user, &image, "generated").await
}

/// Edits one of the caller's images as the prompt says; the result is a new media file.
#[utoipa::path(post, path = "/api/v1/ai/images/edit", tag = "ai",
    security(("bearer" = [])),
    request_body = EditImageRequest,
    responses(
        (status = 201, description = "The stored edited image", body = MediaView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such media of the caller", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid request or not an image", body = ErrorBody),
        (status = 429, description = "Provider rate limit", body = ErrorBody),
        (status = 501, description = "The configured provider cannot edit images", body = ErrorBody),
        (status = 503, description = "Provider unavailable", body = ErrorBody)))]
async fn edit_image(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(r): ApiJson<EditImageRequest>,
) -> ApiResult<(StatusCode, axum::Json<MediaView>)> {
    check_len("prompt", &r.prompt, 1, 4000)?;
    let media = match state.db.get_media(r.media_id).await {
        Ok(m) if m.user_id == user.id() => m,
        Ok(_) | Err(Error::NotFound { .. }) => return Err(ApiError::not_found("media")),
        Err(e) => return Err(e.into()),
    };
    let bytes = state.blobs.get(&media.storage_key).await?;
    let image = timed_ai(
        "edit_image",
        state.ai.edit_image(bytes, &media.content_type, &r.prompt),
    )
    .await?;
    store(&state, &user, &image, "edited").await
}

/// Renders a text graphic at a social size and stores it as the caller's media.
#[utoipa::path(post, path = "/api/v1/ai/social-graphic", tag = "ai",
    security(("bearer" = [])),
    request_body = SocialGraphicRequest,
    responses(
        (status = 201, description = "The stored graphic", body = MediaView),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid text, template or size", body = ErrorBody),
        (status = 429, description = "Provider rate limit", body = ErrorBody),
        (status = 503, description = "Provider unavailable", body = ErrorBody)))]
async fn social_graphic(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(r): ApiJson<SocialGraphicRequest>,
) -> ApiResult<(StatusCode, axum::Json<MediaView>)> {
    check_len("text", &r.text, 1, 500)?;
    check_len("template", &r.template, 1, 50)?;
    let image = timed_ai(
        "social_graphic",
        state
            .ai
            .social_graphic(&r.text, &r.template, r.width, r.height),
    )
    .await?;
    store(&state, &user, &image, "graphic").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_content_types_are_the_services() {
        let ours: Vec<&str> = [
            CaptionContentType::Image,
            CaptionContentType::Video,
            CaptionContentType::Link,
            CaptionContentType::Text,
        ]
        .iter()
        .map(|c| c.as_str())
        .collect();
        assert_eq!(ours, quflux_ai::CONTENT_TYPES);
        for name in quflux_ai::CONTENT_TYPES {
            let parsed: CaptionContentType =
                serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(parsed.as_str(), name);
        }
    }
}
