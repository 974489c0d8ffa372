use std::collections::BTreeSet;

use super::*;
use crate::{MediaId, MediaRef, UserId};

fn file(content_type: &str, size_bytes: u64) -> MediaFile {
    MediaFile {
        id: MediaId::new(),
        user_id: UserId::new(),
        filename: "f".into(),
        content_type: content_type.into(),
        size_bytes,
        storage_key: "k".into(),
        width: Some(1000),
        height: Some(1000),
        duration_secs: Some(10.0),
        ai_generated: false,
        created_at: chrono::Utc::now(),
    }
}

fn image() -> MediaFile {
    file("image/jpeg", 1000)
}
fn gif() -> MediaFile {
    file("image/gif", 1000)
}
fn video() -> MediaFile {
    file("video/mp4", 1_000_000)
}

fn with_media(text: &str, files: &[MediaFile]) -> PostContent {
    let mut content = PostContent::text(text);
    content.media = files
        .iter()
        .map(|f| MediaRef {
            media_id: f.id,
            alt_text: None,
        })
        .collect();
    content
}

fn rules_of(platform: Platform) -> &'static PlatformRules {
    rules_for(platform)
}

/// Text whose length is `len` in the platform's unit (ASCII letters count 1 everywhere).
fn text_of_len(len: usize) -> String {
    "a".repeat(len)
}

/// An input breaking `rule` (`<platform>.<area>.<problem>`), built from the platform's rules.
fn trigger(rule: &str) -> (Platform, PostContent, Vec<MediaFile>) {
    let (platform, suffix) = rule.split_once('.').unwrap();
    let platform: Platform = platform.parse().unwrap();
    let r = rules_of(platform);
    let over = |n: Option<usize>| n.unwrap() + 1;
    let many = |f: fn() -> MediaFile, n: usize| (0..n).map(|_| f()).collect::<Vec<_>>();
    let sized = |ct: &str, max: Option<u64>| vec![file(ct, max.unwrap() + 1)];
    let family = "👨‍👩‍👧‍👦"; // 1 grapheme, 25 bytes
    let (content, files) = match suffix {
        "text.empty" => (PostContent::text("  "), vec![]),
        "text.too_long" => (PostContent::text(text_of_len(r.max_text_len + 1)), vec![]),
        "text.too_many_bytes" => (
            PostContent::text(family.repeat(over(r.max_text_bytes) / 25 + 1)),
            vec![],
        ),
        "text.invalid_characters" => (PostContent::text("hi\u{feff}"), vec![]),
        "hashtags.too_many" => (
            PostContent::text("#tag ".repeat(over(r.max_hashtags))),
            vec![],
        ),
        "mentions.too_many" => (
            PostContent::text("@user ".repeat(over(r.max_mentions))),
            vec![],
        ),
        "thread.unsupported"
        | "thread.part_empty"
        | "thread.part_too_long"
        | "thread.part_too_many_bytes"
        | "thread.part_invalid_characters" => {
            let part = match suffix {
                "thread.part_empty" => " ".to_owned(),
                "thread.part_too_long" => text_of_len(r.max_text_len + 1),
                "thread.part_too_many_bytes" => family.repeat(over(r.max_text_bytes) / 25 + 1),
                "thread.part_invalid_characters" => "x\u{fffe}".to_owned(),
                _ => "more".to_owned(),
            };
            let mut c = PostContent::text("first");
            c.thread = vec!["fine".into(), part];
            (c, vec![])
        }
        "media.required" => (PostContent::text("hello"), vec![]),
        "media.unknown" => (with_media("hi", &[image()]), vec![]),
        "media.too_many" => {
            let files = many(image, over(r.max_media));
            (with_media("hi", &files), files)
        }
        "media.too_many_videos" => {
            let files = many(video, over(r.max_videos));
            (with_media("hi", &files), files)
        }
        "media.too_many_gifs" => {
            let files = many(gif, over(r.max_gifs));
            (with_media("hi", &files), files)
        }
        "media.mixed" => {
            let files = vec![video(), image()];
            (with_media("hi", &files), files)
        }
        "media.unsupported_type" => {
            let files = vec![file("application/pdf", 10)];
            (with_media("hi", &files), files)
        }
        "media.image_too_large" | "media.gif_too_large" | "media.video_too_large" => {
            let files = match suffix {
                "media.image_too_large" => sized("image/jpeg", r.max_image_bytes),
                "media.gif_too_large" => sized("image/gif", r.max_gif_bytes),
                _ => sized("video/mp4", r.max_video_bytes),
            };
            (with_media("hi", &files), files)
        }
        "media.video_too_short" | "media.video_too_long" => {
            let mut v = video();
            v.duration_secs = Some(if suffix.ends_with("short") {
                r.min_video_secs.unwrap() / 2.0
            } else {
                r.max_video_secs.unwrap() + 1.0
            });
            (with_media("hi", std::slice::from_ref(&v)), vec![v])
        }
        "media.image_too_many_pixels" => {
            let mut i = image();
            i.width = Some(10_000);
            i.height = Some(u32::try_from(r.max_image_pixels.unwrap() / 10_000 + 1).unwrap());
            (with_media("hi", std::slice::from_ref(&i)), vec![i])
        }
        "media.bad_aspect_ratio" => {
            let mut i = image();
            i.width = Some(1000);
            i.height = Some(3000);
            (with_media("hi", std::slice::from_ref(&i)), vec![i])
        }
        "alt_text.too_long" => {
            let i = image();
            let mut c = with_media("hi", std::slice::from_ref(&i));
            c.media[0].alt_text = Some(text_of_len(over(r.max_alt_text_len)));
            (c, vec![i])
        }
        other => panic!("no trigger for rule `{other}`"),
    };
    (platform, content, files)
}

#[test]
fn every_rule_id_is_reachable_and_every_reported_id_is_listed() {
    let listed: BTreeSet<&str> = RULE_IDS.iter().copied().collect();
    assert_eq!(listed.len(), RULE_IDS.len(), "duplicate rule ids");
    for &rule in RULE_IDS {
        let (platform, content, files) = trigger(rule);
        let violations = validate(platform, &content, &files);
        assert!(
            violations.iter().any(|v| v.rule == rule),
            "{rule} not triggered; got {violations:?}"
        );
        for v in &violations {
            assert!(
                listed.contains(v.rule.as_str()),
                "{} is not in RULE_IDS",
                v.rule
            );
            assert!(
                v.rule.starts_with(platform.as_str()),
                "{} reported for {platform}",
                v.rule
            );
            assert!(!v.message.is_empty());
        }
        // The same input on every other platform only reports listed ids.
        for other in Platform::ALL {
            for v in validate(other, &content, &files) {
                assert!(
                    listed.contains(v.rule.as_str()),
                    "{} is not in RULE_IDS",
                    v.rule
                );
            }
        }
    }
}

#[test]
fn rule_ids_are_lowercase_platform_area_problem() {
    for &rule in RULE_IDS {
        let parts: Vec<&str> = rule.split('.').collect();
        assert_eq!(parts.len(), 3, "{rule}");
        assert!(parts[0].parse::<Platform>().is_ok(), "{rule}");
        assert!(
            rule.chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
            "{rule}"
        );
    }
}

#[test]
fn valid_posts_pass_everywhere() {
    let content = PostContent::text("Shipping Quflux 1.0 today 🚀 https://example.com #rust");
    for platform in Platform::ALL {
        let v = validate(platform, &content, &[]);
        if platform == Platform::Instagram {
            assert_eq!(
                v.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(),
                ["instagram.media.required"]
            );
        } else {
            assert!(v.is_empty(), "{platform}: {v:?}");
        }
    }
    let files = vec![image(), image()];
    let content = with_media("two pictures", &files);
    for platform in Platform::ALL {
        assert!(
            validate(platform, &content, &files).is_empty(),
            "{platform}"
        );
    }
    assert!(validate_for(&Platform::ALL, &content, &files).is_ok());
}

#[test]
fn messages_give_the_numbers() {
    let v = validate(Platform::Twitter, &PostContent::text("a".repeat(312)), &[]);
    assert_eq!(v[0].rule, "twitter.text.too_long");
    assert_eq!(
        v[0].message,
        "text is 312 weighted characters; X allows 280"
    );
    let mut c = PostContent::text("ok");
    c.thread = vec!["fine".into(), "b".repeat(281)];
    let v = validate(Platform::Twitter, &c, &[]);
    assert_eq!(v[0].rule, "twitter.thread.part_too_long");
    assert!(v[0].message.contains("thread[1]"), "{}", v[0].message);
    assert!(v[0].message.contains("281"), "{}", v[0].message);
}

#[test]
fn bluesky_counts_graphemes_and_bytes() {
    // 300 family emoji: 300 graphemes (fine) but 7500 bytes (too many).
    let v = validate(Platform::Bluesky, &PostContent::text("👨‍👩‍👧‍👦".repeat(300)), &[]);
    let rules: Vec<&str> = v.iter().map(|v| v.rule.as_str()).collect();
    assert_eq!(rules, ["bluesky.text.too_many_bytes"]);
    // 300 CJK characters: 300 graphemes, 900 bytes: fine; 301 is too long.
    assert!(validate(Platform::Bluesky, &PostContent::text("語".repeat(300)), &[]).is_empty());
    let v = validate(Platform::Bluesky, &PostContent::text("語".repeat(301)), &[]);
    assert_eq!(v[0].rule, "bluesky.text.too_long");
    assert_eq!(
        measure(Platform::Bluesky, "👍🏽 日本"),
        TextLength {
            length: 4,
            limit: 300
        }
    );
}

#[test]
fn mastodon_counts_urls_and_remote_mentions() {
    let long_url = format!("https://example.com/{}", "p".repeat(600));
    let text = format!("@alice@very.long.instance.example {long_url}");
    assert_eq!(
        measure(Platform::Mastodon, &text),
        TextLength {
            length: 6 + 1 + 23,
            limit: 500
        }
    );
    assert!(validate(Platform::Mastodon, &PostContent::text(text), &[]).is_empty());
    // X weighs the same URL 23 too, but the mention's domain counts there.
    assert_eq!(measure(Platform::Twitter, &long_url).length, 23);
}

#[test]
fn measure_uses_each_platforms_unit() {
    let text = "Hi 👋 日本";
    assert_eq!(measure(Platform::Twitter, text).length, 3 + 2 + 1 + 4);
    assert_eq!(measure(Platform::Bluesky, text).length, 7);
    assert_eq!(measure(Platform::Mastodon, text).length, 7);
    assert_eq!(
        measure(Platform::Linkedin, text),
        TextLength {
            length: 8,
            limit: 3000
        }
    );
    assert_eq!(measure(Platform::Instagram, text).limit, 2200);
}

#[test]
fn no_threads_on_linkedin_facebook_instagram() {
    let mut c = PostContent::text("first");
    c.thread = vec!["second".into()];
    for p in Platform::ALL {
        let has = validate(p, &c, &[])
            .iter()
            .any(|v| v.rule.ends_with("thread.unsupported"));
        assert_eq!(has, !rules_for(p).threads, "{p}");
    }
}

#[test]
fn validate_for_collects_every_platform() {
    let c = PostContent::text("a".repeat(600));
    let err = validate_for(
        &[
            Platform::Twitter,
            Platform::Mastodon,
            Platform::Twitter,
            Platform::Linkedin,
        ],
        &c,
        &[],
    )
    .unwrap_err();
    let crate::Error::Validation { violations } = err else {
        panic!("not a validation error")
    };
    let rules: Vec<&str> = violations.iter().map(|v| v.rule.as_str()).collect();
    assert_eq!(rules, ["twitter.text.too_long", "mastodon.text.too_long"]);
}

#[test]
fn media_variants_and_kinds() {
    // A per-platform variant replaces the text.
    let mut c = PostContent::text("a".repeat(400));
    c.variants.insert(Platform::Twitter, "short".into());
    assert!(validate(Platform::Twitter, &c, &[]).is_empty());
    assert!(!validate(Platform::Bluesky, &c, &[]).is_empty());
    // Instagram mixes images and videos in a carousel; X does not.
    let files = vec![image(), video()];
    let c = with_media("carousel", &files);
    assert!(validate(Platform::Instagram, &c, &files).is_empty());
    let v = validate(Platform::Twitter, &c, &files);
    assert_eq!(
        v.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(),
        ["twitter.media.mixed"]
    );
    // Four images on X are fine, content type parameters are ignored.
    let mut files: Vec<MediaFile> = (0..4).map(|_| image()).collect();
    files[0].content_type = "IMAGE/PNG; charset=binary".into();
    assert!(validate(Platform::Twitter, &with_media("", &files), &files).is_empty());
}

#[test]
fn daily_caps_are_documented_numbers() {
    assert_eq!(rules_for(Platform::Instagram).daily_post_cap, Some(50));
    assert_eq!(rules_for(Platform::Mastodon).daily_post_cap, None);
    for p in Platform::ALL {
        assert_eq!(rules_for(p).platform, p);
    }
}
