//! Platform rules as data, checked at compose time.
//!
//! Every platform's limits live in one static [`PlatformRules`] value ([`rules_for`]); the
//! checks in [`validate`] are generic code driven by those values. Each broken rule is reported
//! as a [`Violation`] whose `rule` is a stable id `<platform>.<area>.<problem>`; every id the
//! checks can produce is listed in [`RULE_IDS`].
//!
//! Text is measured in each platform's own unit ([`TextCounting`], [`measure`]): X's
//! twitter-text weighting ([`twitter::weighted_length`]), Bluesky's grapheme clusters (plus a
//! UTF-8 byte cap), Mastodon's graphemes with URLs counted as 23 and remote mentions as local, and
//! UTF-16 code units for LinkedIn, Facebook and Instagram.
//!
//! The numbers and their sources are in the table module's source (`rules/table.rs`); the source
//! of truth is the project's platform-specs README (sections 0–5) and the platforms' published
//! limits.

mod check;
mod count;
mod table;
pub mod twitter;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::{Error, MediaFile, MediaKind, Platform, PostContent, Violation};

/// How a platform measures text length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TextCounting {
    /// twitter-text config v3 weighting (X): most non-Latin code points and emoji weigh 2,
    /// URLs 23.
    TwitterWeighted,
    /// Extended grapheme clusters (Bluesky).
    Graphemes,
    /// Grapheme clusters with every URL counted as 23 and `@user@domain` as `@user` (Mastodon).
    MastodonGraphemes,
    /// Unicode scalar values (code points).
    Chars,
    /// UTF-16 code units, as Java/JavaScript back ends count (an emoji usually counts 2).
    Utf16,
}

impl TextCounting {
    /// The length of `text` in this unit.
    pub fn count(self, text: &str) -> usize {
        match self {
            Self::TwitterWeighted => twitter::weighted_length(text).weighted_length,
            Self::Graphemes => count::graphemes(text),
            Self::MastodonGraphemes => count::mastodon_length(text),
            Self::Chars => text.chars().count(),
            Self::Utf16 => count::utf16_units(text),
        }
    }

    /// The unit's name in messages, e.g. `"weighted characters"`.
    pub fn unit(self) -> &'static str {
        match self {
            Self::TwitterWeighted => "weighted characters",
            _ => "characters",
        }
    }
}

/// Limits and features of one platform.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformRules {
    /// The platform.
    pub platform: Platform,
    /// Name shown in messages, e.g. `"X"`.
    pub display_name: &'static str,
    /// Maximum text length in the platform's own unit ([`PlatformRules::text_counting`]).
    pub max_text_len: usize,
    /// How the text length is measured.
    pub text_counting: TextCounting,
    /// Maximum text size in UTF-8 bytes, when the platform has one besides the length.
    pub max_text_bytes: Option<usize>,
    /// Maximum number of `#hashtags` in the text.
    pub max_hashtags: Option<usize>,
    /// Maximum number of `@mentions` in the text.
    pub max_mentions: Option<usize>,
    /// Posts per account per day the platform allows, when it publishes one.
    pub daily_post_cap: Option<u32>,
    /// Whether threads are supported (`PostContent::thread` parts published as replies).
    pub threads: bool,
    /// Whether a post needs at least one media file.
    pub requires_media: bool,
    /// Maximum number of media files per post.
    pub max_media: Option<usize>,
    /// Maximum number of videos per post.
    pub max_videos: Option<usize>,
    /// Maximum number of animated GIFs per post.
    pub max_gifs: Option<usize>,
    /// Kinds that must be the only kind in a post (no images next to a video, say).
    pub exclusive_media_kinds: &'static [MediaKind],
    /// Accepted MIME types (lowercase, without parameters).
    pub media_types: &'static [&'static str],
    /// Maximum size of a still image.
    pub max_image_bytes: Option<u64>,
    /// Maximum size of an animated GIF.
    pub max_gif_bytes: Option<u64>,
    /// Maximum size of a video.
    pub max_video_bytes: Option<u64>,
    /// Minimum video duration in seconds.
    pub min_video_secs: Option<f64>,
    /// Maximum video duration in seconds.
    pub max_video_secs: Option<f64>,
    /// Maximum width × height of an image or GIF.
    pub max_image_pixels: Option<u64>,
    /// Narrowest accepted image aspect ratio (width / height).
    pub min_image_aspect_ratio: Option<f64>,
    /// Widest accepted image aspect ratio (width / height).
    pub max_image_aspect_ratio: Option<f64>,
    /// Maximum alt text length, in [`PlatformRules::alt_text_counting`] units.
    pub max_alt_text_len: Option<usize>,
    /// How alt text length is measured.
    pub alt_text_counting: TextCounting,
}

/// Every rule id [`validate`] can report, `<platform>.<area>.<problem>`.
pub const RULE_IDS: &[&str] = &[
    // X
    "twitter.text.empty",
    "twitter.text.too_long",
    "twitter.text.invalid_characters",
    "twitter.thread.part_empty",
    "twitter.thread.part_too_long",
    "twitter.thread.part_invalid_characters",
    "twitter.media.unknown",
    "twitter.media.too_many",
    "twitter.media.too_many_videos",
    "twitter.media.too_many_gifs",
    "twitter.media.mixed",
    "twitter.media.unsupported_type",
    "twitter.media.image_too_large",
    "twitter.media.gif_too_large",
    "twitter.media.video_too_large",
    "twitter.media.video_too_short",
    "twitter.media.video_too_long",
    "twitter.alt_text.too_long",
    // LinkedIn
    "linkedin.text.empty",
    "linkedin.text.too_long",
    "linkedin.thread.unsupported",
    "linkedin.media.unknown",
    "linkedin.media.too_many",
    "linkedin.media.too_many_videos",
    "linkedin.media.too_many_gifs",
    "linkedin.media.mixed",
    "linkedin.media.unsupported_type",
    "linkedin.media.video_too_large",
    "linkedin.media.video_too_short",
    "linkedin.media.video_too_long",
    "linkedin.media.image_too_many_pixels",
    "linkedin.alt_text.too_long",
    // Facebook
    "facebook.text.empty",
    "facebook.text.too_long",
    "facebook.thread.unsupported",
    "facebook.media.unknown",
    "facebook.media.too_many_videos",
    "facebook.media.mixed",
    "facebook.media.unsupported_type",
    "facebook.media.image_too_large",
    "facebook.media.gif_too_large",
    "facebook.media.video_too_large",
    "facebook.media.video_too_long",
    // Instagram
    "instagram.text.empty",
    "instagram.text.too_long",
    "instagram.hashtags.too_many",
    "instagram.mentions.too_many",
    "instagram.thread.unsupported",
    "instagram.media.required",
    "instagram.media.unknown",
    "instagram.media.too_many",
    "instagram.media.unsupported_type",
    "instagram.media.image_too_large",
    "instagram.media.video_too_large",
    "instagram.media.video_too_short",
    "instagram.media.video_too_long",
    "instagram.media.bad_aspect_ratio",
    // Bluesky
    "bluesky.text.empty",
    "bluesky.text.too_long",
    "bluesky.text.too_many_bytes",
    "bluesky.thread.part_empty",
    "bluesky.thread.part_too_long",
    "bluesky.thread.part_too_many_bytes",
    "bluesky.media.unknown",
    "bluesky.media.too_many",
    "bluesky.media.too_many_videos",
    "bluesky.media.too_many_gifs",
    "bluesky.media.mixed",
    "bluesky.media.unsupported_type",
    "bluesky.media.image_too_large",
    "bluesky.media.gif_too_large",
    "bluesky.media.video_too_large",
    "bluesky.media.video_too_long",
    "bluesky.alt_text.too_long",
    // Mastodon
    "mastodon.text.empty",
    "mastodon.text.too_long",
    "mastodon.thread.part_empty",
    "mastodon.thread.part_too_long",
    "mastodon.media.unknown",
    "mastodon.media.too_many",
    "mastodon.media.too_many_videos",
    "mastodon.media.too_many_gifs",
    "mastodon.media.mixed",
    "mastodon.media.unsupported_type",
    "mastodon.media.image_too_large",
    "mastodon.media.gif_too_large",
    "mastodon.media.video_too_large",
    "mastodon.alt_text.too_long",
];

/// The rules of `platform`.
pub fn rules_for(platform: Platform) -> &'static PlatformRules {
    match platform {
        Platform::Twitter => &table::TWITTER,
        Platform::Linkedin => &table::LINKEDIN,
        Platform::Facebook => &table::FACEBOOK,
        Platform::Instagram => &table::INSTAGRAM,
        Platform::Bluesky => &table::BLUESKY,
        Platform::Mastodon => &table::MASTODON,
    }
}

/// A text's length in a platform's own unit, and the platform's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TextLength {
    /// The length ([`PlatformRules::text_counting`]).
    pub length: usize,
    /// The platform's maximum ([`PlatformRules::max_text_len`]).
    pub limit: usize,
}

/// The length of `text` on `platform`, in the platform's own unit, with its limit.
pub fn measure(platform: Platform, text: &str) -> TextLength {
    let rules = rules_for(platform);
    TextLength {
        length: rules.text_counting.count(text),
        limit: rules.max_text_len,
    }
}

/// Every rule `content` breaks on `platform`. `media` holds the metadata of `content.media`.
pub fn validate(platform: Platform, content: &PostContent, media: &[MediaFile]) -> Vec<Violation> {
    check::validate(rules_for(platform), content, media)
}

/// Checks `content` on every platform of `platforms`: `Err(Error::Validation)` carrying every
/// violation of every platform, or `Ok(())`.
pub fn validate_for(
    platforms: &[Platform],
    content: &PostContent,
    media: &[MediaFile],
) -> crate::Result<()> {
    let mut seen = Vec::with_capacity(platforms.len());
    let mut violations = Vec::new();
    for &platform in platforms {
        if !seen.contains(&platform) {
            seen.push(platform);
            violations.extend(validate(platform, content, media));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation { violations })
    }
}
