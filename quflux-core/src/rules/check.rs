//! The generic checks, driven by a [`PlatformRules`] value.

use super::{PlatformRules, RULE_IDS, TextCounting, count, twitter};
use crate::{MediaFile, MediaKind, PostContent, Violation};

/// Collects violations for one platform.
struct Report<'r> {
    rules: &'r PlatformRules,
    out: Vec<Violation>,
}

impl Report<'_> {
    fn add(&mut self, rule: &str, message: String) {
        let rule = format!("{}.{rule}", self.rules.platform);
        debug_assert!(
            RULE_IDS.contains(&rule.as_str()),
            "rule id `{rule}` is missing from RULE_IDS"
        );
        self.out.push(Violation { rule, message });
    }

    fn name(&self) -> &'static str {
        self.rules.display_name
    }
}

/// Every rule `content` breaks under `rules`.
pub(super) fn validate(
    rules: &PlatformRules,
    content: &PostContent,
    media: &[MediaFile],
) -> Vec<Violation> {
    let mut r = Report {
        rules,
        out: Vec::new(),
    };
    let text = content.text_for(rules.platform);
    if text.trim().is_empty() && content.media.is_empty() {
        let name = r.name();
        r.add(
            "text.empty",
            format!("the post has neither text nor media; {name} needs at least one"),
        );
    }
    check_text(&mut r, text, None);
    check_tags(&mut r, text);
    check_thread(&mut r, &content.thread);
    check_media(&mut r, content, media);
    r.out
}

/// Length, bytes and characters of the main text (`part` = None) or of a thread part.
fn check_text(r: &mut Report<'_>, text: &str, part: Option<usize>) {
    let rules = r.rules;
    let name = r.name();
    let (what, prefix) = match part {
        None => ("text".to_owned(), "text."),
        Some(i) => (
            format!("thread part {} (thread[{i}])", i + 2),
            "thread.part_",
        ),
    };
    let length = rules.text_counting.count(text);
    if length > rules.max_text_len {
        let unit = rules.text_counting.unit();
        let limit = rules.max_text_len;
        r.add(
            &format!("{prefix}too_long"),
            format!("{what} is {length} {unit}; {name} allows {limit}"),
        );
    }
    if let Some(max) = rules.max_text_bytes
        && text.len() > max
    {
        let bytes = text.len();
        r.add(
            &format!("{prefix}too_many_bytes"),
            format!("{what} is {bytes} bytes of UTF-8; {name} allows {max}"),
        );
    }
    if rules.text_counting == TextCounting::TwitterWeighted
        && text.chars().any(twitter::is_invalid_char)
    {
        r.add(
            &format!("{prefix}invalid_characters"),
            format!("{what} contains U+FFFE, U+FEFF or U+FFFF, which {name} rejects"),
        );
    }
}

fn check_tags(r: &mut Report<'_>, text: &str) {
    let name = r.name();
    if let Some(max) = r.rules.max_hashtags {
        let n = count::hashtags(text);
        if n > max {
            r.add(
                "hashtags.too_many",
                format!("the text has {n} hashtags; {name} allows {max}"),
            );
        }
    }
    if let Some(max) = r.rules.max_mentions {
        let n = count::mentions(text);
        if n > max {
            r.add(
                "mentions.too_many",
                format!("the text has {n} @mentions; {name} allows {max}"),
            );
        }
    }
}

fn check_thread(r: &mut Report<'_>, thread: &[String]) {
    if thread.is_empty() {
        return;
    }
    let name = r.name();
    if !r.rules.threads {
        let n = thread.len();
        r.add(
            "thread.unsupported",
            format!("{name} does not support threads; remove the {n} follow-up part(s) or post them separately"),
        );
        return;
    }
    for (i, part) in thread.iter().enumerate() {
        if part.trim().is_empty() {
            r.add(
                "thread.part_empty",
                format!("thread part {} (thread[{i}]) is empty", i + 2),
            );
        } else {
            check_text(r, part, Some(i));
        }
    }
}

fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Gif => "GIF",
        MediaKind::Video => "video",
        MediaKind::Other => "file",
    }
}

/// `bytes` for people: "6.3 MB".
fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1_000_000 && bytes.is_multiple_of(1_000_000) {
        format!("{} MB", bytes / 1_000_000)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    }
}

/// The MIME type without parameters, lowercase.
fn mime(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn check_media(r: &mut Report<'_>, content: &PostContent, media: &[MediaFile]) {
    let rules = r.rules;
    let name = r.name();
    if rules.requires_media && content.media.is_empty() {
        r.add(
            "media.required",
            format!("{name} posts need at least one image or video"),
        );
    }
    if let Some(max) = rules.max_media
        && content.media.len() > max
    {
        let n = content.media.len();
        r.add(
            "media.too_many",
            format!("{n} media files are attached; {name} allows {max}"),
        );
    }
    let mut kinds: Vec<MediaKind> = Vec::new();
    for (i, media_ref) in content.media.iter().enumerate() {
        let n = i + 1;
        if let Some(max) = rules.max_alt_text_len
            && let Some(alt) = &media_ref.alt_text
        {
            let len = rules.alt_text_counting.count(alt);
            if len > max {
                r.add(
                    "alt_text.too_long",
                    format!("alt text of media {n} is {len} characters; {name} allows {max}"),
                );
            }
        }
        let Some(file) = media.iter().find(|f| f.id == media_ref.media_id) else {
            let id = media_ref.media_id;
            r.add(
                "media.unknown",
                format!("media {n} ({id}) is not a known uploaded file"),
            );
            continue;
        };
        let kind = file.kind();
        let ct = mime(&file.content_type);
        if kind == MediaKind::Other || !rules.media_types.contains(&ct.as_str()) {
            let accepted = rules.media_types.join(", ");
            r.add(
                "media.unsupported_type",
                format!("media {n} is {ct}; {name} accepts {accepted}"),
            );
            continue;
        }
        kinds.push(kind);
        check_file(r, n, kind, file);
    }
    check_kinds(r, &kinds);
}

/// Size, duration, pixels and aspect ratio of one accepted file.
fn check_file(r: &mut Report<'_>, n: usize, kind: MediaKind, file: &MediaFile) {
    let rules = r.rules;
    let name = r.name();
    let what = kind_name(kind);
    let (max_bytes, rule) = match kind {
        MediaKind::Image => (rules.max_image_bytes, "media.image_too_large"),
        MediaKind::Gif => (rules.max_gif_bytes, "media.gif_too_large"),
        MediaKind::Video | MediaKind::Other => (rules.max_video_bytes, "media.video_too_large"),
    };
    if let Some(max) = max_bytes
        && file.size_bytes > max
    {
        let (size, limit) = (human_bytes(file.size_bytes), human_bytes(max));
        let bytes = file.size_bytes;
        r.add(
            rule,
            format!("{what} {n} is {size} ({bytes} bytes); {name} allows {limit} ({max} bytes)"),
        );
    }
    if kind == MediaKind::Video
        && let Some(secs) = file.duration_secs
    {
        if let Some(min) = rules.min_video_secs
            && secs < min
        {
            r.add(
                "media.video_too_short",
                format!("video {n} is {secs:.1} s long; {name} needs at least {min} s"),
            );
        }
        if let Some(max) = rules.max_video_secs
            && secs > max
        {
            r.add(
                "media.video_too_long",
                format!("video {n} is {secs:.1} s long; {name} allows {max} s"),
            );
        }
    }
    if matches!(kind, MediaKind::Image | MediaKind::Gif)
        && let (Some(w), Some(h)) = (file.width, file.height)
    {
        let pixels = u64::from(w) * u64::from(h);
        if let Some(max) = rules.max_image_pixels
            && pixels > max
        {
            r.add(
                "media.image_too_many_pixels",
                format!("{what} {n} has {pixels} pixels ({w}×{h}); {name} allows {max}"),
            );
        }
        if h > 0 && kind == MediaKind::Image {
            let ratio = f64::from(w) / f64::from(h);
            let min = rules.min_image_aspect_ratio.unwrap_or(0.0);
            let max = rules.max_image_aspect_ratio.unwrap_or(f64::INFINITY);
            if ratio < min || ratio > max {
                r.add(
                    "media.bad_aspect_ratio",
                    format!("image {n} is {w}×{h} (aspect ratio {ratio:.2}); {name} accepts {min:.2} to {max:.2}"),
                );
            }
        }
    }
}

/// Counts per kind and kinds that must stand alone.
fn check_kinds(r: &mut Report<'_>, kinds: &[MediaKind]) {
    let rules = r.rules;
    let name = r.name();
    let count = |k: MediaKind| kinds.iter().filter(|&&x| x == k).count();
    for (kind, max, rule) in [
        (MediaKind::Video, rules.max_videos, "media.too_many_videos"),
        (MediaKind::Gif, rules.max_gifs, "media.too_many_gifs"),
    ] {
        let n = count(kind);
        if let Some(max) = max
            && n > max
        {
            let what = kind_name(kind);
            r.add(
                rule,
                format!("{n} {what}s are attached; {name} allows {max}"),
            );
        }
    }
    if let Some(&alone) = rules
        .exclusive_media_kinds
        .iter()
        .find(|k| kinds.contains(k))
        && kinds.iter().any(|&k| k != alone)
    {
        let what = kind_name(alone);
        r.add(
            "media.mixed",
            format!("{name} cannot combine a {what} with other kinds of media in one post"),
        );
    }
}
