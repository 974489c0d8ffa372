//! The offline provider through `ContentService`: fit, relevance, graphics, bad input.

#![cfg(feature = "offline")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use quflux_ai::offline::{
    OfflineImageGenerator, OfflineTextGenerator, TEMPLATES, TONES, text_area,
    unsupported_characters,
};
use quflux_ai::{
    CONTENT_TYPES, ContentService, SOCIAL_GRAPHIC_SIZES, recommended_hashtags, text_violations,
};
use quflux_core::{ErrorKind, ImageGenerator, ImageTask, Platform, TextGenerator, TextTask};

const ARTICLE: &str = "Electric cargo bikes are changing urban delivery. Couriers in Amsterdam \
    and Berlin now move parcels with electric cargo bikes instead of vans, cutting emissions \
    and traffic. City planners say cargo bikes need wider bike lanes and secure parking, \
    and delivery companies report faster routes in dense city centres.";

fn service() -> ContentService {
    ContentService::offline()
}

/// The text's words: runs of letters and digits, lowercased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `tag`'s body is the concatenation of one or more consecutive words of `text`.
fn derived_from(tag: &str, text: &str) -> bool {
    let body = tag.trim_start_matches('#').to_lowercase();
    let words = words(text);
    (0..words.len()).any(|start| {
        let mut joined = String::new();
        words[start..].iter().any(|w| {
            joined.push_str(w);
            joined == body
        })
    })
}

#[tokio::test]
async fn hashtags_are_relevant_deduplicated_and_within_limits() {
    let ai = service();
    for platform in Platform::ALL {
        let tags = ai.hashtags(ARTICLE, platform).await.unwrap();
        assert_eq!(tags.adjusted, None);
        let tags = tags.value;
        assert!(!tags.is_empty(), "{platform}");
        assert!(
            tags.len() <= recommended_hashtags(platform),
            "{platform}: {tags:?}"
        );
        let mut lower: Vec<String> = tags.iter().map(|t| t.to_lowercase()).collect();
        lower.sort();
        lower.dedup();
        assert_eq!(lower.len(), tags.len(), "duplicates in {tags:?}");
        for tag in &tags {
            assert!(tag.starts_with('#'));
            assert!(tag[1..].chars().all(char::is_alphanumeric), "{tag}");
            assert!(
                derived_from(tag, ARTICLE),
                "{tag} is not made of words of the text"
            );
        }
        assert!(text_violations(platform, &tags.join(" ")).is_empty());
    }
    let x = ai.hashtags(ARTICLE, Platform::Twitter).await.unwrap().value;
    assert!(x.len() <= 3);
    assert!(
        x.iter()
            .any(|t| t.to_lowercase().contains("cargo") || t.to_lowercase().contains("bike")),
        "{x:?}"
    );
}

#[tokio::test]
async fn hashtag_casing_depends_on_the_platform() {
    let ai = service();
    let li = ai
        .hashtags(ARTICLE, Platform::Linkedin)
        .await
        .unwrap()
        .value;
    assert!(
        li.iter().all(|t| t[1..].starts_with(char::is_uppercase)),
        "{li:?}"
    );
    let ig = ai
        .hashtags(ARTICLE, Platform::Instagram)
        .await
        .unwrap()
        .value;
    assert!(
        ig.iter().all(|t| !t.chars().any(char::is_uppercase)),
        "{ig:?}"
    );
}

#[tokio::test]
async fn many_keywords_are_capped_at_the_platform_limit() {
    let long: String = (0..60)
        .map(|i| format!("Topic{i} matters greatly. "))
        .collect();
    let ai = service();
    for platform in Platform::ALL {
        let tags = ai.hashtags(&long, platform).await.unwrap().value;
        assert!(
            tags.len() <= recommended_hashtags(platform),
            "{platform}: {}",
            tags.len()
        );
    }
}

#[tokio::test]
async fn captions_fit_every_platform_in_every_tone() {
    let ai = service();
    let long = "a remarkably long topic that goes on and on ".repeat(80);
    let cases = [
        ("Electric cargo bikes", &CONTENT_TYPES[..]),
        ("今日のランチ: ラーメン 🍜", &CONTENT_TYPES[..]),
        (long.as_str(), &["link"][..]),
    ];
    for (topic, content_types) in cases {
        for platform in Platform::ALL {
            for tone in TONES {
                for &content_type in content_types {
                    let c = ai
                        .caption(content_type, topic, platform, tone)
                        .await
                        .unwrap();
                    assert!(
                        text_violations(platform, &c.value).is_empty(),
                        "{platform} {tone}: {}",
                        c.value
                    );
                    assert_eq!(
                        c.adjusted, None,
                        "the offline provider fits its own captions"
                    );
                    assert_eq!(c.model, "offline");
                }
            }
        }
    }
}

#[tokio::test]
async fn ideas_and_rewrites_fit() {
    let ai = service();
    for platform in Platform::ALL {
        let ideas = ai
            .ideas("Electric cargo bikes", "city couriers", platform)
            .await
            .unwrap();
        assert!(ideas.value.len() >= 5);
        assert!(
            ideas
                .value
                .iter()
                .all(|i| text_violations(platform, i).is_empty())
        );
        let long = ARTICLE.repeat(40);
        let r = ai.rewrite(&long, platform).await.unwrap();
        assert!(text_violations(platform, &r.value).is_empty(), "{platform}");
    }
}

#[tokio::test]
async fn the_generator_supports_every_text_task() {
    let g = OfflineTextGenerator::new();
    let tasks = [
        TextTask::Caption {
            content_type: "video".into(),
            topic: "Cargo bikes".into(),
            platform: Platform::Mastodon,
            tone: "humorous".into(),
        },
        TextTask::Hashtags {
            content: ARTICLE.into(),
            platform: Platform::Bluesky,
        },
        TextTask::Ideas {
            topic: "Cargo bikes".into(),
            audience: "".into(),
        },
        TextTask::Rewrite {
            text: ARTICLE.into(),
            platform: Platform::Twitter,
        },
    ];
    for task in &tasks {
        let out = g.generate_text(task).await.unwrap();
        assert!(!out.items.is_empty());
        assert_eq!(out.model, quflux_ai::offline::PROVIDER);
    }
}

fn decode(png: &[u8]) -> image::RgbImage {
    assert_eq!(image::guess_format(png).unwrap(), image::ImageFormat::Png);
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

/// Every pixel outside the text area is background: the templates' backgrounds are constant
/// along each row, so the pixel at column 0 of the row is the reference. Returns how many
/// pixels inside differ from the background (the text).
fn assert_inside_margins(img: &image::RgbImage, what: &str) -> usize {
    let area = text_area(img.width(), img.height());
    let mut inside = 0;
    for (x, y, p) in img.enumerate_pixels() {
        let background = img.get_pixel(0, y);
        if area.contains(x, y) {
            inside += usize::from(p != background);
        } else {
            assert_eq!(
                p, background,
                "{what}: pixel ({x}, {y}) outside the text area {area:?}"
            );
        }
    }
    inside
}

/// Renders `template` at every size with a short and a very long text, and at one size with
/// an unbreakable word; checks format, exact size and margins.
async fn check_template(template: &str) {
    let ai = service();
    let short = "Ship it";
    let very_long = "Electric cargo bikes move parcels through dense city centres. ".repeat(60);
    let unbreakable = "W".repeat(400);
    let mut cases: Vec<(&str, u32, u32)> = Vec::new();
    for (width, height) in SOCIAL_GRAPHIC_SIZES {
        cases.push((short, width, height));
        cases.push((&very_long, width, height));
    }
    cases.push((&unbreakable, 1080, 1080));
    for (text, width, height) in cases {
        let png = ai
            .social_graphic(text, template, width, height)
            .await
            .unwrap();
        assert_eq!(png.content_type, "image/png");
        assert_eq!((png.width, png.height), (width, height));
        let img = decode(&png.bytes);
        assert_eq!(img.dimensions(), (width, height));
        let what = format!("{template} {width}x{height} {} chars", text.len());
        let drawn = assert_inside_margins(&img, &what);
        assert!(drawn > 500, "{what}: only {drawn} text pixels");
    }
}

#[tokio::test]
async fn bold_graphics_are_pngs_of_the_exact_size_with_text_inside_the_margins() {
    check_template("bold").await;
}

#[tokio::test]
async fn gradient_graphics_are_pngs_of_the_exact_size_with_text_inside_the_margins() {
    check_template("gradient").await;
}

#[tokio::test]
async fn quote_graphics_are_pngs_of_the_exact_size_with_text_inside_the_margins() {
    check_template("quote").await;
}

#[test]
fn every_template_is_tested() {
    assert_eq!(TEMPLATES, ["bold", "gradient", "quote"]);
}

#[tokio::test]
async fn non_latin_text_and_emoji_do_not_crash() {
    let ai = service();
    let texts = [
        "مرحبا بالعالم — العربية",
        "Привет, мир! Ελληνικά",
        "Launch day 🚀🎉 👩🏽‍💻 with 新品 inside",
        "שלום עולם",
    ];
    for text in texts {
        for template in TEMPLATES {
            let png = ai.social_graphic(text, template, 1080, 1350).await.unwrap();
            assert_inside_margins(&decode(&png.bytes), text);
        }
    }
    assert_eq!(unsupported_characters("Hi 🚀 新"), ['🚀', '新']);
    // Nothing drawable left: a clear error, not an empty picture.
    let err = ai
        .social_graphic("新品発売 🎉", "bold", 1080, 1080)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("not CJK or emoji"), "{err}");
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let ai = service();
    let err = ai
        .caption("image", "", Platform::Twitter, "casual")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid topic: must not be empty");
    let err = ai
        .ideas("   ", "devs", Platform::Twitter)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid topic: must not be empty");
    let err = ai
        .caption("image", "bikes", Platform::Twitter, "grumpy")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("professional, casual, humorous, inspirational"),
        "{err}"
    );
    let err = quflux_ai::parse_platform("myspace").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("myspace"), "{err}");
    let err = ai
        .social_graphic("hi", "bold", 1000, 1000)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid size: 1000×1000 is not supported; use one of 1080×1080, 1200×675, 1080×1920, 1080×1350"
    );
    let err = ai
        .social_graphic("hi", "neon", 1080, 1080)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid template: unknown template `neon`; expected one of bold, gradient, quote"
    );
    let err = ai
        .edit_image(
            Bytes::from_static(b"GIF89a but not really"),
            "image/gif",
            "add a hat",
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid image: not a PNG/JPEG/WebP/GIF image"
    );
    let err = ai
        .hashtags("123 456 https://example.com", Platform::Twitter)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn image_generation_and_editing_are_unsupported_offline() {
    let ai = service();
    let err = ai
        .generate_image("a cargo bike", "realistic", 1024, 1024)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(
        err.to_string(),
        "image generation is not supported by offline"
    );

    let png = ai
        .social_graphic("source", "bold", 1080, 1080)
        .await
        .unwrap();
    let err = ai
        .edit_image(png.bytes, "image/png", "add a hat")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.to_string(), "image editing is not supported by offline");
}

#[tokio::test]
async fn the_image_generator_checks_its_own_input() {
    let g: Arc<dyn ImageGenerator> = Arc::new(OfflineImageGenerator::new());
    let task = ImageTask::SocialGraphic {
        text: "hello".into(),
        template: "bold".into(),
        width: 640,
        height: 480,
    };
    assert_eq!(
        g.generate_image(&task).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn offline_providers_pass_the_core_generator_suites() {
    quflux_core::testkit::generators::text_generator_run_all(
        &quflux_ai::offline::OfflineTextGenerator::new(),
    )
    .await;
    quflux_core::testkit::generators::image_generator_run_all(
        &quflux_ai::offline::OfflineImageGenerator::new(),
    )
    .await;
}
