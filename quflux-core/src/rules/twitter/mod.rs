//! X (Twitter) text weighting: a hand-written implementation of twitter-text's `parseTweet`
//! (configuration v3, the one X uses; v2 is available for comparison).
//!
//! * The text is NFC-normalized, then weighed per code point: 100 for U+0000–U+10FF,
//!   U+2000–U+200D, U+2010–U+201F and U+2032–U+2037, 200 otherwise; the sum is divided by the
//!   scale (100) and must be at most 280.
//! * URLs, as twitter-text extracts them (scheme-less `example.com` included when the TLD is
//!   known), weigh 23 whatever their length.
//! * With emoji parsing (v3) every emoji sequence — ZWJ families, skin tones, flags, keycaps,
//!   tag sequences — weighs 2 in total.
//! * U+FFFE, U+FEFF and U+FFFF make a text invalid.
//!
//! Checked against every case of the twitter-text conformance file `validate.yml`
//! (`quflux-core/tests/twitter_text.rs`).

mod idna;
mod url;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{EmojiStatus, UnicodeEmoji};

pub use url::extract_urls;
pub(crate) use url::find_urls;

/// Code points weighing something other than the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WeightRange {
    /// First code point.
    pub start: u32,
    /// Last code point (inclusive).
    pub end: u32,
    /// Weight of each code point in the range.
    pub weight: u32,
}

/// A twitter-text configuration (`config/v*.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TwitterTextConfig {
    /// `version`.
    pub version: u32,
    /// `maxWeightedTweetLength`.
    pub max_weighted_tweet_length: usize,
    /// `scale`.
    pub scale: usize,
    /// `defaultWeight`.
    pub default_weight: usize,
    /// `transformedURLLength`.
    pub transformed_url_length: usize,
    /// `emojiParsingEnabled`.
    pub emoji_parsing_enabled: bool,
    /// `ranges`.
    pub ranges: &'static [WeightRange],
}

const RANGES: &[WeightRange] = &[
    WeightRange {
        start: 0,
        end: 4351,
        weight: 100,
    },
    WeightRange {
        start: 8192,
        end: 8205,
        weight: 100,
    },
    WeightRange {
        start: 8208,
        end: 8223,
        weight: 100,
    },
    WeightRange {
        start: 8242,
        end: 8247,
        weight: 100,
    },
];

/// twitter-text `config/v3.json`: the weighting X applies.
pub const CONFIG_V3: TwitterTextConfig = TwitterTextConfig {
    version: 3,
    max_weighted_tweet_length: 280,
    scale: 100,
    default_weight: 200,
    transformed_url_length: 23,
    emoji_parsing_enabled: true,
    ranges: RANGES,
};

/// twitter-text `config/v2.json`: v3 without the emoji discount.
pub const CONFIG_V2: TwitterTextConfig = TwitterTextConfig {
    version: 2,
    emoji_parsing_enabled: false,
    ..CONFIG_V3
};

/// What twitter-text's `parseTweet` says about a text. Ranges are inclusive indices in UTF-16
/// code units of the text as given (0 for an empty text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwitterTextResult {
    /// The weighted length (280 is the limit).
    pub weighted_length: usize,
    /// Whether X accepts the text: not empty, not too long, no invalid characters.
    pub valid: bool,
    /// `weighted_length` in thousandths of the limit.
    pub permillage: usize,
    /// Start of the part that fits (always 0).
    pub valid_range_start: usize,
    /// Last UTF-16 index of the part that fits.
    pub valid_range_end: usize,
    /// Start of the displayed text (always 0).
    pub display_range_start: usize,
    /// Last UTF-16 index of the displayed text.
    pub display_range_end: usize,
}

/// twitter-text's weighted length of `text` under configuration v3.
pub fn weighted_length(text: &str) -> TwitterTextResult {
    parse_tweet(text, &CONFIG_V3)
}

/// twitter-text's `parseTweet` under any configuration.
pub fn parse_tweet(text: &str, config: &TwitterTextConfig) -> TwitterTextResult {
    let chars: Vec<char> = text.nfc().collect();
    if chars.is_empty() {
        return TwitterTextResult::default();
    }
    let scale = config.scale.max(1);
    let scaled_max = config.max_weighted_tweet_length * scale;
    let url_weight = config.transformed_url_length * scale;
    let urls = find_urls(&chars, false);
    let mut next_url = 0;
    let (mut weighted, mut invalid) = (0usize, false);
    // Offsets in chars and in UTF-16 units (the unit twitter-text reports ranges in).
    let (mut offset, mut offset16, mut valid16) = (0usize, 0usize, 0usize);
    while offset < chars.len() {
        while next_url < urls.len() && urls[next_url].0 < offset {
            next_url += 1;
        }
        if let Some(&(start, end)) = urls.get(next_url).filter(|u| u.0 == offset) {
            let len16 = utf16_len(&chars[start..end]);
            weighted += url_weight;
            offset = end;
            offset16 += len16;
            if weighted <= scaled_max {
                valid16 += len16;
            }
            next_url += 1;
        }
        if offset >= chars.len() {
            break;
        }
        let c = chars[offset];
        let emoji = if config.emoji_parsing_enabled {
            emoji_len(&chars, offset)
        } else {
            None
        };
        weighted += match emoji {
            Some(_) => config.default_weight,
            None => char_weight(c, config),
        };
        invalid |= is_invalid_char(c);
        let delta = emoji.unwrap_or(1);
        let delta16 = utf16_len(&chars[offset..offset + delta]);
        offset += delta;
        offset16 += delta16;
        if !invalid && weighted <= scaled_max {
            valid16 += delta16;
        }
    }
    let weighted_length = weighted / scale;
    // Normalization may change the length; twitter-text shifts the ranges by the difference.
    let shift =
        |end16: usize| (end16 + text.encode_utf16().count()).saturating_sub(utf16_len(&chars) + 1);
    TwitterTextResult {
        weighted_length,
        valid: !invalid
            && weighted_length > 0
            && weighted_length <= config.max_weighted_tweet_length,
        permillage: weighted_length * 1000 / config.max_weighted_tweet_length.max(1),
        valid_range_start: 0,
        valid_range_end: shift(valid16),
        display_range_start: 0,
        display_range_end: shift(offset16),
    }
}

/// Whether `c` makes a text invalid on X (U+FFFE, U+FEFF, U+FFFF).
pub fn is_invalid_char(c: char) -> bool {
    matches!(c, '\u{fffe}' | '\u{feff}' | '\u{ffff}')
}

fn char_weight(c: char, config: &TwitterTextConfig) -> usize {
    let cp = u32::from(c);
    config
        .ranges
        .iter()
        .find(|r| (r.start..=r.end).contains(&cp))
        .map_or(config.default_weight, |r| r.weight as usize)
}

fn utf16_len(chars: &[char]) -> usize {
    chars.iter().map(|c| c.len_utf16()).sum()
}

const ZWJ: char = '\u{200d}';
const VS16: char = '\u{fe0f}';
const KEYCAP: char = '\u{20e3}';

fn is_regional_indicator(c: char) -> bool {
    ('\u{1f1e6}'..='\u{1f1ff}').contains(&c)
}

fn is_skin_tone(c: char) -> bool {
    ('\u{1f3fb}'..='\u{1f3ff}').contains(&c)
}

fn is_emoji_presentation(c: char) -> bool {
    matches!(
        c.emoji_status(),
        EmojiStatus::EmojiPresentation
            | EmojiStatus::EmojiPresentationAndModifierBase
            | EmojiStatus::EmojiPresentationAndEmojiComponent
            | EmojiStatus::EmojiPresentationAndModifierAndEmojiComponent
    )
}

/// One emoji element at `i` (a pictograph with optional VS16, skin tone and tag sequence):
/// its end, and whether it asks for emoji presentation.
fn emoji_element(t: &[char], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut emoji_style = is_emoji_presentation(t[i]);
    if t.get(j) == Some(&VS16) {
        j += 1;
        emoji_style = true;
    }
    if t.get(j).is_some_and(|&c| is_skin_tone(c)) {
        j += 1;
        emoji_style = true;
    }
    let tags_start = j;
    while t
        .get(j)
        .is_some_and(|c| ('\u{e0020}'..='\u{e007e}').contains(c))
    {
        j += 1;
    }
    if j > tags_start && t.get(j) == Some(&'\u{e007f}') {
        j += 1;
        emoji_style = true;
    } else {
        j = tags_start;
    }
    (j, emoji_style)
}

/// Length in chars of the emoji sequence starting at `i`, if one does (UTS #51: keycaps, flags,
/// modifier, tag and ZWJ sequences, and single emoji with emoji presentation).
fn emoji_len(t: &[char], i: usize) -> Option<usize> {
    let c = t[i];
    if matches!(c, '#' | '*' | '0'..='9') {
        let j = if t.get(i + 1) == Some(&VS16) {
            i + 2
        } else {
            i + 1
        };
        return (t.get(j) == Some(&KEYCAP)).then_some(j + 1 - i);
    }
    if is_regional_indicator(c) {
        return Some(if t.get(i + 1).is_some_and(|&n| is_regional_indicator(n)) {
            2
        } else {
            1
        });
    }
    if !c.is_emoji_char() {
        return None;
    }
    let (mut end, mut emoji_style) = emoji_element(t, i);
    while t.get(end) == Some(&ZWJ)
        && t.get(end + 1)
            .is_some_and(|n| n.is_emoji_char() && !n.is_ascii())
    {
        end = emoji_element(t, end + 1).0;
        emoji_style = true;
    }
    emoji_style.then_some(end - i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighs_latin_cjk_emoji_and_urls() {
        assert_eq!(weighted_length("hello").weighted_length, 5);
        assert_eq!(weighted_length("日本").weighted_length, 4);
        assert_eq!(weighted_length("👨‍👩‍👧‍👦").weighted_length, 2);
        assert_eq!(weighted_length("1\u{20e3}").weighted_length, 2);
        assert_eq!(weighted_length("🇫🇷").weighted_length, 2);
        assert_eq!(weighted_length("©").weighted_length, 1);
        assert_eq!(weighted_length("©\u{fe0f}").weighted_length, 2);
        assert_eq!(
            weighted_length("go https://example.com/a/very/long/path/indeed").weighted_length,
            26
        );
        assert_eq!(weighted_length("go example.com").weighted_length, 26);
    }

    #[test]
    fn empty_and_invalid_texts_are_invalid() {
        let empty = weighted_length("");
        assert!(!empty.valid);
        assert_eq!(empty.weighted_length, 0);
        let bom = weighted_length("a\u{feff}b");
        assert!(!bom.valid);
        assert_eq!(bom.weighted_length, 4);
    }

    #[test]
    fn limit_is_280() {
        assert!(weighted_length(&"a".repeat(280)).valid);
        let over = weighted_length(&"a".repeat(281));
        assert!(!over.valid);
        assert_eq!(over.valid_range_end, 279);
        assert_eq!(over.permillage, 1003);
    }
}
