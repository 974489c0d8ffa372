//! Caption and idea templates per tone, content type and platform.
//!
//! Placeholders: `{topic}` (as the caller wrote it), `{Topic}` (first letter capitalised),
//! `{audience}`, `{kw}` (a key phrase of the topic).

use quflux_core::{Error, Platform, Result};

use crate::service::CONTENT_TYPES;

/// The tones the offline provider writes in.
pub const TONES: [&str; 4] = ["professional", "casual", "humorous", "inspirational"];

/// A caption tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Professional,
    Casual,
    Humorous,
    Inspirational,
}

impl Tone {
    pub(crate) fn parse(tone: &str) -> Result<Self> {
        match tone.trim().to_lowercase().as_str() {
            "professional" => Ok(Self::Professional),
            "casual" => Ok(Self::Casual),
            "humorous" => Ok(Self::Humorous),
            "inspirational" => Ok(Self::Inspirational),
            other => Err(Error::invalid_input(
                "tone",
                format!(
                    "unknown tone `{other}`; expected one of {}",
                    TONES.join(", ")
                ),
            )),
        }
    }

    /// Opening lines; one is picked per topic.
    pub(crate) fn hooks(self) -> &'static [&'static str] {
        match self {
            Self::Professional => &[
                "{Topic}: what matters and why.",
                "A closer look at {topic}.",
                "What we have learned about {topic} so far.",
            ],
            Self::Casual => &[
                "Let's talk about {topic}! 🙌",
                "So… {topic}. Here's the scoop.",
                "Been thinking a lot about {topic} lately.",
            ],
            Self::Humorous => &[
                "{Topic}: because life wasn't complicated enough already. 😅",
                "Warning: this post contains dangerous levels of {topic}.",
                "Me, explaining {topic} to anyone who stands still long enough. 🤓",
            ],
            Self::Inspirational => &[
                "Every big step in {topic} starts with a small one. ✨",
                "Dream big, start small: {topic}. 🌱",
                "{Topic} is proof that progress beats perfection. 💡",
            ],
        }
    }

    /// A second paragraph for long-form platforms.
    pub(crate) fn body(self) -> &'static str {
        match self {
            Self::Professional => {
                "Here is a short overview of {topic}: the key ideas, the trade-offs and where to start."
            }
            Self::Casual => "We've been digging into {topic} and honestly, there's a lot to like.",
            Self::Humorous => "We took {topic} very seriously. For about five minutes.",
            Self::Inspirational => {
                "Small, steady steps in {topic} add up to results you can be proud of."
            }
        }
    }

    /// The call to action.
    pub(crate) fn call_to_action(self) -> &'static str {
        match self {
            Self::Professional => {
                "What is your experience with {topic}? Share your thoughts in the comments."
            }
            Self::Casual => "What do you think? Let us know below! 👇",
            Self::Humorous => "Tag a friend who needs to see this. 😂",
            Self::Inspirational => "Save this for the days you need a reminder. 💪",
        }
    }
}

/// What the post carries besides text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentType {
    Image,
    Video,
    Link,
    Text,
}

impl ContentType {
    pub(crate) fn parse(content_type: &str) -> Result<Self> {
        match content_type.trim().to_lowercase().as_str() {
            "image" => Ok(Self::Image),
            "video" => Ok(Self::Video),
            "link" => Ok(Self::Link),
            "text" => Ok(Self::Text),
            other => Err(Error::invalid_input(
                "content_type",
                format!(
                    "unknown content type `{other}`; expected one of {}",
                    CONTENT_TYPES.join(", ")
                ),
            )),
        }
    }

    /// A line pointing at the media, if any.
    pub(crate) fn cue(self, platform: Platform) -> &'static str {
        match (self, platform) {
            (Self::Image, _) => "Take a look at the image.",
            (Self::Video, _) => "Watch the video to see it in action.",
            // Links in Instagram captions are not clickable.
            (Self::Link, Platform::Instagram) => "Link in bio.",
            (Self::Link, _) => "Read more at the link.",
            (Self::Text, _) => "",
        }
    }
}

/// How a caption is laid out on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// X, Bluesky: hook, cue, hashtags.
    Short,
    /// Mastodon: hook and cue, call to action, hashtags.
    Medium,
    /// LinkedIn, Facebook: hook, body, cue, call to action, hashtags; one paragraph each.
    Long,
    /// Instagram: hook, body and cue, call to action, hashtags.
    Instagram,
}

impl Layout {
    pub(crate) fn of(platform: Platform) -> Self {
        match platform {
            Platform::Twitter | Platform::Bluesky => Self::Short,
            Platform::Mastodon => Self::Medium,
            Platform::Linkedin | Platform::Facebook => Self::Long,
            Platform::Instagram => Self::Instagram,
        }
    }

    /// Hashtags appended to a caption (fewer than a hashtag suggestion: captions carry a few).
    pub(crate) fn caption_hashtags(self) -> usize {
        match self {
            Self::Short => 2,
            Self::Medium | Self::Long => 3,
            Self::Instagram => 5,
        }
    }
}

/// Post-idea templates, one per content pillar.
pub(crate) const PILLARS: [&str; 5] = [
    "Tip: one habit that makes {topic} easier for {audience}.",
    "Question for {audience}: what is the hardest part of {topic}?",
    "Behind the scenes: how we work on {topic}, day to day.",
    "List: 5 common mistakes with {topic}, and how {audience} can avoid them.",
    "Announcement: what's new in {topic}, and why it matters to {audience}.",
];

/// Idea templates built on a key phrase of the topic.
pub(crate) const KEYWORD_IDEAS: [&str; 3] = [
    "Myth vs. fact: common misconceptions about {kw}.",
    "Beginner's guide: {kw}, explained in three steps.",
    "Case study: {kw} in practice, with results.",
];

/// `template` with its placeholders filled.
pub(crate) fn fill(template: &str, topic: &str, audience: &str, keyword: &str) -> String {
    template
        .replace("{Topic}", &capitalize(topic))
        .replace("{topic}", topic)
        .replace("{audience}", audience)
        .replace("{kw}", keyword)
}

/// `text` with its first letter in upper case.
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A stable choice among `n` variants for `key` (FNV-1a), so a topic always gets the same text.
pub(crate) fn pick(key: &str, n: usize) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(hash % n.max(1) as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tone_lists_the_valid_ones() {
        let err = Tone::parse("sarcastic").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tone: unknown tone `sarcastic`; expected one of professional, casual, humorous, inspirational"
        );
        assert_eq!(Tone::parse(" Casual ").unwrap(), Tone::Casual);
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            fill(
                "{Topic} for {audience}: {topic} ({kw})",
                "rust",
                "devs",
                "borrow checker"
            ),
            "Rust for devs: rust (borrow checker)"
        );
    }

    #[test]
    fn picks_are_stable_and_in_range() {
        assert_eq!(pick("rust", 3), pick("rust", 3));
        assert!((0..50).all(|i| pick(&i.to_string(), 3) < 3));
    }
}
