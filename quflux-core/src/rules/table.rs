//! The rules of each platform, as data.
//!
//! "README" below is the project's platform-specs README (`shared/platform-specs/README.md`),
//! the source of truth for these numbers; other sources are the platforms' own published limits,
//! named where used. Sizes: `MB` = 1 000 000 bytes, `MiB` = 1 048 576 bytes.

use super::{PlatformRules, TextCounting};
use crate::{MediaKind, Platform};

const MIB: u64 = 1024 * 1024;
const MB: u64 = 1_000_000;

/// X (Twitter).
pub(super) static TWITTER: PlatformRules = PlatformRules {
    platform: Platform::Twitter,
    display_name: "X",
    // README §1.3/§1.7: ≤ 280 weighted characters (twitter-text config v3).
    max_text_len: 280,
    text_counting: TextCounting::TwitterWeighted,
    max_text_bytes: None,
    max_hashtags: None,
    max_mentions: None,
    // X Help Center "X limits": 2,400 posts per day per account (split into semi-hourly
    // limits). The API's 100 / 15 min and the tier-dependent 24-hour caps (README §1.5) are rate
    // limits read from response headers, not a fixed daily cap.
    daily_post_cap: Some(2_400),
    // README §1.3: threads = each post replies to the previous one.
    threads: true,
    requires_media: false,
    // README §0/§1.3: 1–4 media ids; 4 images or 1 video or 1 GIF, never mixed.
    max_media: Some(4),
    max_videos: Some(1),
    max_gifs: Some(1),
    exclusive_media_kinds: &[MediaKind::Video, MediaKind::Gif],
    // X media best practices: JPEG, PNG, WebP, GIF; MP4 and MOV.
    media_types: &[
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "video/mp4",
        "video/quicktime",
    ],
    // X media best practices: images ≤ 5 MB, animated GIFs ≤ 15 MB, videos ≤ 512 MB,
    // 0.5–140 seconds.
    max_image_bytes: Some(5 * MIB),
    max_gif_bytes: Some(15 * MIB),
    max_video_bytes: Some(512 * MIB),
    min_video_secs: Some(0.5),
    max_video_secs: Some(140.0),
    max_image_pixels: None,
    min_image_aspect_ratio: None,
    max_image_aspect_ratio: None,
    // X media metadata (alt text): at most 1000 characters.
    max_alt_text_len: Some(1_000),
    alt_text_counting: TextCounting::Chars,
};

/// LinkedIn member posts.
pub(super) static LINKEDIN: PlatformRules = PlatformRules {
    platform: Platform::Linkedin,
    display_name: "LinkedIn",
    // README §2.3: commentary ≤ 3000 characters. LinkedIn's back end is Java, so count UTF-16
    // units (an emoji counts 2), the conservative reading. The `little` escaping the adapter
    // adds is not counted.
    max_text_len: 3_000,
    text_counting: TextCounting::Utf16,
    max_text_bytes: None,
    max_hashtags: None,
    max_mentions: None,
    // README §2.6: daily quotas exist but are not published.
    daily_post_cap: None,
    threads: false,
    requires_media: false,
    // README §0/§2.3: one image/video, or multiImage with 2–20 images.
    max_media: Some(20),
    max_videos: Some(1),
    max_gifs: Some(1),
    exclusive_media_kinds: &[MediaKind::Video, MediaKind::Gif],
    // README §2.4: JPG/PNG/GIF; LinkedIn Videos API: MP4.
    media_types: &["image/jpeg", "image/png", "image/gif", "video/mp4"],
    max_image_bytes: None,
    max_gif_bytes: None,
    // LinkedIn Videos API: 75 KB – 500 MB, 3 seconds – 30 minutes.
    max_video_bytes: Some(500 * MB),
    min_video_secs: Some(3.0),
    max_video_secs: Some(30.0 * 60.0),
    // README §2.4: images < 36 152 320 pixels.
    max_image_pixels: Some(36_152_320),
    min_image_aspect_ratio: None,
    max_image_aspect_ratio: None,
    // LinkedIn Posts API: `altText` at most 4086 characters.
    max_alt_text_len: Some(4_086),
    alt_text_counting: TextCounting::Utf16,
};

/// Facebook Pages.
pub(super) static FACEBOOK: PlatformRules = PlatformRules {
    platform: Platform::Facebook,
    display_name: "Facebook",
    // README §0: ~63 206 characters (UTF-16 units, as for LinkedIn).
    max_text_len: 63_206,
    text_counting: TextCounting::Utf16,
    max_text_bytes: None,
    max_hashtags: None,
    max_mentions: None,
    // No published per-Page daily post cap (README §3.5: usage-percentage throttling only).
    daily_post_cap: None,
    threads: false,
    requires_media: false,
    // README §3.2: N photos via `attached_media` (no documented maximum); a video is posted alone.
    max_media: None,
    max_videos: Some(1),
    max_gifs: None,
    exclusive_media_kinds: &[MediaKind::Video],
    // Graph API Photo / Video references: JPEG, PNG, GIF, BMP, TIFF; MP4, MOV.
    media_types: &[
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/bmp",
        "image/tiff",
        "video/mp4",
        "video/quicktime",
    ],
    // Graph API Photo reference: photos (GIF included) ≤ 4 MB; Video API: ≤ 10 GB, ≤ 240 minutes.
    max_image_bytes: Some(4 * MIB),
    max_gif_bytes: Some(4 * MIB),
    max_video_bytes: Some(10 * 1024 * MIB),
    min_video_secs: None,
    max_video_secs: Some(240.0 * 60.0),
    max_image_pixels: None,
    min_image_aspect_ratio: None,
    max_image_aspect_ratio: None,
    max_alt_text_len: None,
    alt_text_counting: TextCounting::Utf16,
};

/// Instagram business accounts.
pub(super) static INSTAGRAM: PlatformRules = PlatformRules {
    platform: Platform::Instagram,
    display_name: "Instagram",
    // README §0/§3.3: caption ≤ 2200 characters, ≤ 30 hashtags, ≤ 20 @-mentions.
    max_text_len: 2_200,
    text_counting: TextCounting::Utf16,
    max_text_bytes: None,
    max_hashtags: Some(30),
    max_mentions: Some(20),
    // README §3.3: 50 API-published posts per account per rolling 24 h (`content_publishing_limit`
    // `quota_total`; formerly 25). Adapters should still read the live quota.
    daily_post_cap: Some(50),
    threads: false,
    // README §3.3: every container is an image, a video (reel) or a carousel.
    requires_media: true,
    // README §3.3: carousel ≤ 10 children, images and videos may be mixed.
    max_media: Some(10),
    max_videos: None,
    max_gifs: None,
    exclusive_media_kinds: &[],
    // README §3.3: images JPEG only; Graph API reels: MP4/MOV.
    media_types: &["image/jpeg", "video/mp4", "video/quicktime"],
    // README §3.3/§3.4: images ≤ 8 MiB (error 36000/2207004). Graph API reels specs:
    // ≤ 300 MB, 3 seconds – 15 minutes.
    max_image_bytes: Some(8 * MIB),
    max_gif_bytes: None,
    max_video_bytes: Some(300 * MB),
    min_video_secs: Some(3.0),
    max_video_secs: Some(15.0 * 60.0),
    max_image_pixels: None,
    // Graph API IG media reference: image aspect ratio within 4:5 and 1.91:1.
    min_image_aspect_ratio: Some(0.8),
    max_image_aspect_ratio: Some(1.91),
    max_alt_text_len: None,
    alt_text_counting: TextCounting::Utf16,
};

/// Bluesky.
pub(super) static BLUESKY: PlatformRules = PlatformRules {
    platform: Platform::Bluesky,
    display_name: "Bluesky",
    // README §4.3 and lexicon app.bsky.feed.post: ≤ 300 graphemes and ≤ 3000 UTF-8 bytes.
    max_text_len: 300,
    text_counting: TextCounting::Graphemes,
    max_text_bytes: Some(3_000),
    max_hashtags: None,
    max_mentions: None,
    // README §4.5: 35 000 write points per account per day, create = 3 → 11 666 posts a day.
    daily_post_cap: Some(11_666),
    // README §4.3: replies with root/parent strong refs.
    threads: true,
    requires_media: false,
    // README §0 and lexicons app.bsky.embed.images (1–4) / app.bsky.embed.video (1): 4 images
    // or 1 video. GIFs are converted to video by the Bluesky app, so one GIF stands alone.
    max_media: Some(4),
    max_videos: Some(1),
    max_gifs: Some(1),
    exclusive_media_kinds: &[MediaKind::Video, MediaKind::Gif],
    // Lexicons: images `image/*` (the app sends these), video `video/mp4` only.
    media_types: &[
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "video/mp4",
    ],
    // README §4.2 and lexicon app.bsky.embed.images: image blob ≤ 2 000 000 bytes (was 1 MB);
    // lexicon app.bsky.embed.video: ≤ 300 000 000 bytes; the Bluesky app: ≤ 3 minutes.
    max_image_bytes: Some(2 * MB),
    max_gif_bytes: Some(2 * MB),
    max_video_bytes: Some(300 * MB),
    min_video_secs: None,
    max_video_secs: Some(180.0),
    max_image_pixels: None,
    min_image_aspect_ratio: None,
    max_image_aspect_ratio: None,
    // The lexicon sets no limit; the Bluesky app caps alt text at 2000 graphemes.
    max_alt_text_len: Some(2_000),
    alt_text_counting: TextCounting::Graphemes,
};

/// Mastodon (defaults of upstream Mastodon; instances may differ).
pub(super) static MASTODON: PlatformRules = PlatformRules {
    platform: Platform::Mastodon,
    display_name: "Mastodon",
    // README §5.1: `max_characters` default 500 graphemes, URLs count 23, `@user@domain` as `@user`.
    max_text_len: 500,
    text_counting: TextCounting::MastodonGraphemes,
    max_text_bytes: None,
    max_hashtags: None,
    max_mentions: None,
    // README §5.5: 300 statuses per 3 hours is a rate limit, not a daily cap.
    daily_post_cap: None,
    threads: true,
    requires_media: false,
    // README §5.1: `max_media_attachments` default 4. Mastodon refuses a video or GIF (stored as
    // gifv video) next to other media.
    max_media: Some(4),
    max_videos: Some(1),
    max_gifs: Some(1),
    exclusive_media_kinds: &[MediaKind::Video, MediaKind::Gif],
    // Mastodon `MediaAttachment` supported types (images, videos; audio is not modelled here).
    media_types: &[
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "video/mp4",
        "video/webm",
        "video/quicktime",
    ],
    // README §5.1: image 16 MiB, video ~99 MiB, alt text ≤ 1500 characters.
    max_image_bytes: Some(16 * MIB),
    max_gif_bytes: Some(16 * MIB),
    max_video_bytes: Some(99 * MIB),
    min_video_secs: None,
    max_video_secs: None,
    max_image_pixels: None,
    min_image_aspect_ratio: None,
    max_image_aspect_ratio: None,
    max_alt_text_len: Some(1_500),
    alt_text_counting: TextCounting::Chars,
};
