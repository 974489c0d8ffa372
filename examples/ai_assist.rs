//! AI assist, offline: a caption, hashtags and post ideas for one topic on three platforms,
//! and three social graphics written as PNG files. No network, no credentials, no model.
//!
//! ```bash
//! cargo run --example ai_assist
//! ```
//!
//! Settings (optional): `QUFLUX_AI_OUT`, the directory for the PNG files (default
//! `quflux-ai-out`); `QUFLUX_AI_TOPIC`, the topic (default below).

use std::path::PathBuf;

use quflux::Platform;
use quflux::ai::ContentService;
use quflux::ai::offline::unsupported_characters;

const DEFAULT_TOPIC: &str = "electric cargo bikes for city deliveries";

/// The post text hashtags are suggested for.
const CONTENT: &str = "Our couriers now deliver parcels across the city centre on electric \
    cargo bikes: faster routes, no hunting for parking, and cleaner air for everyone. \
    Electric cargo bikes carry up to 250 kg and use the bike lanes.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let topic = std::env::var("QUFLUX_AI_TOPIC").unwrap_or_else(|_| DEFAULT_TOPIC.to_owned());
    let out_dir = PathBuf::from(
        std::env::var("QUFLUX_AI_OUT").unwrap_or_else(|_| "quflux-ai-out".to_owned()),
    );
    let ai = ContentService::offline();

    println!("Topic: {topic}\n");
    let platforms = [
        (Platform::Twitter, "casual"),
        (Platform::Linkedin, "professional"),
        (Platform::Instagram, "inspirational"),
    ];
    let mut previous_ideas: Option<Vec<String>> = None;
    for (platform, tone) in platforms {
        let caption = ai.caption("image", &topic, platform, tone).await?;
        let length = quflux::rules::measure(platform, &caption.value);
        println!(
            "== {platform} ({tone}) — caption, {} of {} characters",
            length.length, length.limit
        );
        println!("{}", caption.value);
        if let Some(adjusted) = caption.adjusted {
            println!("(adjusted: {adjusted:?})");
        }

        let tags = ai.hashtags(CONTENT, platform).await?;
        println!("-- hashtags: {}", tags.value.join(" "));

        let ideas = ai.ideas(&topic, "city shop owners", platform).await?;
        if previous_ideas.as_ref() == Some(&ideas.value) {
            println!(
                "-- ideas: the same {} as above (they fit)",
                ideas.value.len()
            );
        } else {
            println!("-- ideas:");
            for idea in &ideas.value {
                println!("   • {idea}");
            }
        }
        previous_ideas = Some(ideas.value);
        println!();
    }

    std::fs::create_dir_all(&out_dir)?;
    let graphics = [
        ("bold", 1080, 1080, capitalize(&topic)),
        (
            "gradient",
            1200,
            675,
            format!("{}: faster routes, cleaner air", capitalize(&topic)),
        ),
        (
            "quote",
            1080,
            1920,
            "The best delivery van in a dense city centre is often a bike. 🚲".to_owned(),
        ),
    ];
    for (template, width, height, text) in graphics {
        let missing = unsupported_characters(&text);
        let image = ai.social_graphic(&text, template, width, height).await?;
        let path = out_dir.join(format!("{template}-{width}x{height}.png"));
        std::fs::write(&path, &image.bytes)?;
        print!(
            "wrote {} ({} bytes, {width}×{height}, template `{template}`)",
            path.display(),
            image.bytes.len()
        );
        if missing.is_empty() {
            println!();
        } else {
            println!(", left out characters the font lacks: {missing:?}");
        }
    }
    Ok(())
}

/// `text` with its first letter in upper case, for a headline.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
