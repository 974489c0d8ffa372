//! Media files and posts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{MediaId, Platform, PostId, UserId};

/// The kind of a media file, derived from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A still image (PNG, JPEG, WebP).
    Image,
    /// An animated GIF.
    Gif,
    /// A video.
    Video,
    /// Anything else.
    Other,
}

impl MediaKind {
    /// Classifies a MIME type.
    pub fn from_content_type(content_type: &str) -> Self {
        let ct = content_type.trim().to_ascii_lowercase();
        if ct == "image/gif" {
            Self::Gif
        } else if ct.starts_with("image/") {
            Self::Image
        } else if ct.starts_with("video/") {
            Self::Video
        } else {
            Self::Other
        }
    }
}

/// An uploaded media file; the bytes live in a [`crate::BlobStore`] under `storage_key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaFile {
    /// Id.
    pub id: MediaId,
    /// Owner.
    pub user_id: UserId,
    /// Original file name.
    pub filename: String,
    /// MIME type sniffed from the bytes.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Key in the blob store.
    pub storage_key: String,
    /// Pixel width, for images and videos.
    pub width: Option<u32>,
    /// Pixel height, for images and videos.
    pub height: Option<u32>,
    /// Video duration in seconds.
    pub duration_secs: Option<f64>,
    /// Whether an AI generated it.
    pub ai_generated: bool,
    /// Upload time.
    pub created_at: DateTime<Utc>,
}

impl MediaFile {
    /// The kind derived from the content type.
    pub fn kind(&self) -> MediaKind {
        MediaKind::from_content_type(&self.content_type)
    }
}

/// A media file attached to a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MediaRef {
    /// The media file.
    pub media_id: MediaId,
    /// Alternative text for screen readers.
    #[serde(default)]
    pub alt_text: Option<String>,
}

/// OpenGraph preview of a link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkPreview {
    /// The canonical URL.
    pub url: String,
    /// `og:title`.
    pub title: Option<String>,
    /// `og:description`.
    pub description: Option<String>,
    /// `og:image`.
    pub image_url: Option<String>,
    /// `og:site_name`.
    pub site_name: Option<String>,
}

/// What a post says: the base text, per-platform variants, media, link and thread.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
#[serde(deny_unknown_fields)]
pub struct PostContent {
    /// Optional internal title (not published).
    pub title: Option<String>,
    /// The base text, used on every platform without a variant.
    pub text: String,
    /// Per-platform replacements of `text`.
    pub variants: BTreeMap<Platform, String>,
    /// Attached media with alt text.
    pub media: Vec<MediaRef>,
    /// A link to share.
    pub link_url: Option<String>,
    /// The link's preview.
    pub link_preview: Option<LinkPreview>,
    /// Follow-up parts published as a thread (replies) after the first post.
    pub thread: Vec<String>,
    /// Whether an AI wrote it.
    pub ai_generated: bool,
    /// Platform-specific publishing options (X poll, Mastodon content warning, ...).
    pub options: PublishOptions,
}

/// Platform-specific publishing options; a platform ignores the ones it has no use for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
#[serde(deny_unknown_fields)]
pub struct PublishOptions {
    /// A poll on the first post (X).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// A content warning shown before the text (Mastodon `spoiler_text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_warning: Option<String>,
    /// Publish a single video as an Instagram reel (the default for video) rather than a
    /// feed video; `Some(false)` asks for a feed post.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instagram_reel: Option<bool>,
}

/// A poll.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// 2 to 4 choices.
    pub options: Vec<String>,
    /// How long it runs, in minutes.
    pub duration_minutes: u32,
}

impl PostContent {
    /// Content with only a text.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The text to publish on `platform`: its variant, or the base text.
    pub fn text_for(&self, platform: Platform) -> &str {
        self.variants
            .get(&platform)
            .map(String::as_str)
            .unwrap_or(&self.text)
    }
}

/// Lifecycle of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Being written.
    Draft,
    /// Has an active schedule.
    Scheduled,
    /// Published on every target.
    Published,
    /// At least one target failed.
    Failed,
}

impl PostStatus {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Published => "published",
            Self::Failed => "failed",
        }
    }
    /// Parses [`PostStatus::as_str`].
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "draft" => Ok(Self::Draft),
            "scheduled" => Ok(Self::Scheduled),
            "published" => Ok(Self::Published),
            "failed" => Ok(Self::Failed),
            other => Err(crate::Error::invalid_input(
                "status",
                format!("unknown post status `{other}`"),
            )),
        }
    }
}

/// A post owned by a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Post {
    /// Id.
    pub id: PostId,
    /// Owner.
    pub user_id: UserId,
    /// What it says.
    pub content: PostContent,
    /// Lifecycle state.
    pub status: PostStatus,
    /// Optimistic-concurrency version, bumped by every update.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Filters for listing posts. Empty filters list everything of the user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PostFilter {
    /// Only posts in this state.
    pub status: Option<PostStatus>,
    /// Only posts created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Only posts created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Only posts whose text contains this (case-insensitive).
    pub text_contains: Option<String>,
    /// Maximum number of rows (stores cap it at 1000; `None` = 100).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

impl PostFilter {
    /// The effective limit: default 100, at most 1000.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}
