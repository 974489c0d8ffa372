//! [`OfflineTextGenerator`]: captions, hashtags, ideas and rewrites without a model.

use async_trait::async_trait;
use quflux_core::{Error, GeneratedText, Platform, Result, TextGenerator, TextTask};
use unicode_segmentation::UnicodeSegmentation;

use super::PROVIDER;
use super::config::{HashtagCase, OfflineTextGeneratorBuilder, OfflineTextGeneratorConfig};
use super::keywords;
use super::templates::{self, ContentType, KEYWORD_IDEAS, Layout, PILLARS, Tone};
use crate::fit::{fit_text, recommended_hashtags, shorten_with, text_violations};

/// Longest topic quoted in an idea, in grapheme clusters; longer topics are cut with `…`.
const MAX_IDEA_TOPIC: usize = 80;

/// Hashtags suggested at most unless configured: Instagram allows 30, but beyond about ten the
/// extra tags are weak keywords and read as spam.
pub(crate) const DEFAULT_MAX_HASHTAGS: usize = 10;

/// The audience named in ideas when none is given.
const DEFAULT_AUDIENCE: &str = "your audience";

/// Writes captions, hashtags, post ideas and rewrites from templates and YAKE keywords; no
/// network, no model, deterministic (the same task always gives the same text).
///
/// Every [`TextTask`] is supported:
///
/// - **Caption**: a hook, body, media cue and call to action per tone ([`TONES`](super::TONES))
///   laid out per platform (short on X and Bluesky, paragraphs on LinkedIn, Facebook and
///   Instagram), plus a few hashtags from the topic. If it is too long for the platform, a
///   compact version (hook and hashtags) is used, then the hook is shortened at a word boundary
///   with `…`.
/// - **Hashtags**: key phrases of the content (YAKE, 1–2 words) as `#CamelCase` or
///   `#lowercase` ([`HashtagCase::default_for`]), letters and digits only, deduplicated
///   case-insensitively, at most [`recommended_hashtags`] and at most 10 unless configured
///   ([`OfflineTextGeneratorBuilder::with_max_hashtags`]). Each hashtag is made of consecutive
///   words of the content; hashtags, URLs and `@mentions` already in it are ignored.
/// - **Ideas**: five content pillars (tip, question, behind the scenes, list, announcement) for
///   the topic and audience, plus ideas built on the topic's key phrases.
/// - **Rewrite**: Markdown stripped, whitespace tidied, then shortened to fit the platform at a
///   sentence boundary, or a word boundary with `…`; surplus hashtags dropped.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use quflux_ai::offline::OfflineTextGenerator;
/// use quflux_core::{Platform, TextGenerator, TextTask};
///
/// let ai = OfflineTextGenerator::new();
/// let task = TextTask::Hashtags {
///     content: "Baking sourdough bread at home: starter, flour and patience".into(),
///     platform: Platform::Twitter,
/// };
/// let tags = ai.generate_text(&task).await.unwrap().items;
/// assert!(!tags.is_empty() && tags.len() <= 3);
/// assert!(tags.iter().all(|t| t.starts_with('#')));
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct OfflineTextGenerator {
    config: OfflineTextGeneratorConfig,
}

impl OfflineTextGenerator {
    /// A generator with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for custom settings.
    pub fn builder() -> OfflineTextGeneratorBuilder {
        OfflineTextGeneratorBuilder::new()
    }

    pub(super) fn from_parts(config: OfflineTextGeneratorConfig) -> Self {
        Self { config }
    }

    /// The settings in use.
    pub fn config(&self) -> &OfflineTextGeneratorConfig {
        &self.config
    }

    fn hashtag_case(&self, platform: Platform) -> HashtagCase {
        self.config
            .hashtag_case
            .unwrap_or_else(|| HashtagCase::default_for(platform))
    }

    fn hashtag_limit(&self, platform: Platform) -> usize {
        self.config
            .max_hashtags
            .unwrap_or(DEFAULT_MAX_HASHTAGS)
            .min(recommended_hashtags(platform))
    }

    fn hashtags(&self, content: &str, platform: Platform) -> Result<Vec<String>> {
        let content = required("content", content)?;
        let tags = keywords::hashtags(
            &content,
            self.hashtag_limit(platform),
            self.hashtag_case(platform),
        );
        if tags.is_empty() {
            return Err(Error::invalid_input(
                "content",
                "has no words to make hashtags from (needs letters, not only numbers, URLs or @mentions)",
            ));
        }
        Ok(tags)
    }

    fn caption(
        &self,
        content_type: &str,
        topic: &str,
        platform: Platform,
        tone: &str,
    ) -> Result<String> {
        let topic = required("topic", topic)?;
        let tone = Tone::parse(tone)?;
        let content_type = ContentType::parse(content_type)?;
        let layout = Layout::of(platform);
        // Hashtags come from the topic's opening; a topic is normally a few words.
        let tags = keywords::hashtags(
            &cut_graphemes(&topic, MAX_IDEA_TOPIC),
            layout.caption_hashtags().min(self.hashtag_limit(platform)),
            self.hashtag_case(platform),
        )
        .join(" ");

        let hooks = tone.hooks();
        let hook_template =
            hooks[templates::pick(&format!("{platform}:{}", topic.to_lowercase()), hooks.len())];
        let fill = |t: &str| templates::fill(t, &topic, "", "");
        let hook = fill(hook_template);
        let cue = content_type.cue(platform);
        let body = fill(tone.body());
        let cta = fill(tone.call_to_action());

        let full = match layout {
            Layout::Short => paragraphs(&[&join_line(&[&hook, cue]), &tags]),
            Layout::Medium => paragraphs(&[&join_line(&[&hook, cue]), &cta, &tags]),
            Layout::Long => paragraphs(&[&hook, &body, cue, &cta, &tags]),
            Layout::Instagram => paragraphs(&[&hook, &join_line(&[&body, cue]), &cta, &tags]),
        };
        if text_violations(platform, &full).is_empty() {
            return Ok(full);
        }
        let compact = paragraphs(&[&hook, &tags]);
        if text_violations(platform, &compact).is_empty() {
            return Ok(compact);
        }
        // A very long topic: shorten the hook so the hashtags still fit after it.
        let hook = shorten_with(&hook, |h| {
            text_violations(platform, &paragraphs(&[h, &tags])).is_empty()
        });
        let caption = if hook.is_empty() {
            fit_text(platform, &compact)
        } else {
            paragraphs(&[&hook, &tags])
        };
        Ok(caption)
    }

    fn ideas(&self, topic: &str, audience: &str) -> Result<Vec<String>> {
        let topic = required("topic", topic)?;
        let topic = cut_graphemes(&topic, MAX_IDEA_TOPIC);
        let audience = collapse_whitespace(audience);
        let audience = if audience.is_empty() {
            DEFAULT_AUDIENCE.to_owned()
        } else {
            cut_graphemes(&audience, MAX_IDEA_TOPIC)
        };
        let mut ideas: Vec<String> = PILLARS
            .iter()
            .map(|t| templates::fill(t, &topic, &audience, ""))
            .collect();
        let phrases = keywords::key_phrases(&topic, 2, 3);
        let phrases: Vec<String> = if phrases.is_empty() {
            vec![topic.clone()]
        } else {
            phrases.iter().map(|p| p.join(" ")).collect()
        };
        for (i, template) in KEYWORD_IDEAS.iter().enumerate() {
            // The first two use the best phrase, the third the second best.
            let keyword = phrases
                .get(i / 2)
                .or(phrases.first())
                .map_or(topic.as_str(), String::as_str);
            ideas.push(templates::fill(template, &topic, &audience, keyword));
        }
        ideas.dedup();
        Ok(ideas)
    }

    fn rewrite(&self, text: &str, platform: Platform) -> Result<String> {
        required("text", text)?;
        let plain = strip_markdown(text);
        if plain.trim().is_empty() {
            return Err(Error::invalid_input(
                "text",
                "has no text once Markdown is removed",
            ));
        }
        Ok(fit_text(platform, &plain))
    }
}

#[async_trait]
impl TextGenerator for OfflineTextGenerator {
    async fn generate_text(&self, task: &TextTask) -> Result<GeneratedText> {
        let items = match task {
            TextTask::Caption {
                content_type,
                topic,
                platform,
                tone,
            } => vec![self.caption(content_type, topic, *platform, tone)?],
            TextTask::Hashtags { content, platform } => self.hashtags(content, *platform)?,
            TextTask::Ideas { topic, audience } => self.ideas(topic, audience)?,
            TextTask::Rewrite { text, platform } => vec![self.rewrite(text, *platform)?],
        };
        Ok(GeneratedText {
            items,
            model: PROVIDER.to_owned(),
        })
    }
}

/// `value` with whitespace collapsed, or `InvalidInput` naming `field` when blank.
fn required(field: &str, value: &str) -> Result<String> {
    let value = collapse_whitespace(value);
    if value.is_empty() {
        Err(Error::invalid_input(field, "must not be empty"))
    } else {
        Ok(value)
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Non-empty parts joined by a blank line.
fn paragraphs(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Non-empty parts joined by a space.
fn join_line(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut to `max` grapheme clusters at a word boundary, with `…`, when longer.
fn cut_graphemes(text: &str, max: usize) -> String {
    shorten_with(text, |t| t.graphemes(true).count() <= max)
}

/// Plain text from Markdown: emphasis, code marks, heading marks and link syntax removed,
/// bullets as `•`, spaces collapsed within lines and at most one blank line between paragraphs.
fn strip_markdown(text: &str) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut line = line.trim().to_owned();
        // Headings: `# Title` (a hashtag has no space after `#`).
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            line = line[hashes..].trim_start().to_owned();
        }
        for bullet in ["* ", "- ", "+ "] {
            if let Some(rest) = line.strip_prefix(bullet) {
                line = format!("• {rest}");
            }
        }
        line = strip_links(&line);
        for mark in ["**", "__", "~~", "`", "*"] {
            line = line.replace(mark, "");
        }
        lines.push(collapse_whitespace(&line));
    }
    let mut out = String::new();
    let mut blank = false;
    for line in lines {
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        out.push_str(&line);
        blank = false;
    }
    out
}

/// `[label](url)` → `label (url)`, `![alt](url)` → `alt`.
fn strip_links(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        let is_image = rest[..open].ends_with('!');
        let before = if is_image {
            &rest[..open - 1]
        } else {
            &rest[..open]
        };
        out.push_str(before);
        let label = &rest[open + 1..close];
        let url = &rest[close + 2..end];
        if is_image || label == url {
            out.push_str(if is_image { label } else { url });
        } else {
            out.push_str(&format!("{label} ({url})"));
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fit::ELLIPSIS;

    fn len(platform: Platform, text: &str) -> usize {
        crate::fit::length(platform, text)
    }

    fn caption(topic: &str, platform: Platform, tone: &str) -> String {
        OfflineTextGenerator::new()
            .caption("image", topic, platform, tone)
            .unwrap()
    }

    #[test]
    fn captions_follow_the_platform_layout() {
        let x = caption("Rust for web services", Platform::Twitter, "professional");
        let li = caption("Rust for web services", Platform::Linkedin, "professional");
        assert!(len(Platform::Linkedin, &li) > len(Platform::Twitter, &x));
        assert!(li.contains("Share your thoughts"));
        assert!(x.contains("#Rust"), "{x}");
        let ig = OfflineTextGenerator::new()
            .caption(
                "link",
                "Rust for web services",
                Platform::Instagram,
                "casual",
            )
            .unwrap();
        assert!(ig.contains("Link in bio."), "{ig}");
        assert!(ig.contains("#rust"), "{ig}");
    }

    #[test]
    fn a_huge_topic_still_fits_with_its_hashtags() {
        let topic = "sustainable urban gardening ".repeat(60);
        for platform in Platform::ALL {
            let c = caption(&topic, platform, "inspirational");
            assert!(text_violations(platform, &c).is_empty(), "{platform}: {c}");
            assert!(
                c.contains(ELLIPSIS) || len(platform, &topic) < 3000,
                "{platform}"
            );
        }
    }

    #[test]
    fn ideas_cover_the_pillars_and_keywords() {
        let ideas = OfflineTextGenerator::new()
            .ideas("Composting for small balconies", "city gardeners")
            .unwrap();
        assert_eq!(ideas.len(), 8);
        assert!(ideas[0].starts_with("Tip:"));
        assert!(ideas.iter().any(|i| i.contains("city gardeners")));
        let default = OfflineTextGenerator::new()
            .ideas("Composting", " ")
            .unwrap();
        assert!(default[1].contains("your audience"));
    }

    #[test]
    fn markdown_is_stripped() {
        let md = "# Big news\n\nWe **shipped** `v2` today!\n\n\n- faster\n- [docs](https://x.io) and ![logo](l.png)\n#rust";
        assert_eq!(
            strip_markdown(md),
            "Big news\n\nWe shipped v2 today!\n\n• faster\n• docs (https://x.io) and logo\n#rust"
        );
    }

    #[test]
    fn rewrites_fit() {
        let text = "**Long** post. ".repeat(100);
        let out = OfflineTextGenerator::new()
            .rewrite(&text, Platform::Bluesky)
            .unwrap();
        assert!(text_violations(Platform::Bluesky, &out).is_empty());
        assert!(!out.contains('*'));
        let err = OfflineTextGenerator::new()
            .rewrite("** **", Platform::Bluesky)
            .unwrap_err();
        assert_eq!(err.kind(), quflux_core::ErrorKind::InvalidInput);
    }

    #[test]
    fn hashtag_limits_combine_setting_and_platform() {
        let g = OfflineTextGenerator::builder()
            .with_max_hashtags(4)
            .build()
            .unwrap();
        assert_eq!(g.hashtag_limit(Platform::Twitter), 3);
        assert_eq!(g.hashtag_limit(Platform::Instagram), 4);
    }
}
