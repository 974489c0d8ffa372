//! Checking generated text against a platform's rules, and shortening it until it passes.
//!
//! Only the text rules of [`quflux_core::rules::validate`] apply to generated text (length,
//! UTF-8 bytes, forbidden characters, `#hashtag` and `@mention` counts); media rules such as
//! Instagram's "needs an image" are about the post, not the text, and are ignored here.

use quflux_core::rules::{self, rules_for};
use quflux_core::{Platform, PostContent, Violation};
use unicode_segmentation::UnicodeSegmentation;

/// The ellipsis appended when a text is cut at a word boundary.
pub(crate) const ELLIPSIS: char = '…';

/// The text rules `text` breaks on `platform` (an empty list when it fits).
///
/// This is [`quflux_core::rules::validate`] for a text-only post, keeping the `text`,
/// `hashtags` and `mentions` rules and ignoring media rules.
///
/// ```
/// use quflux_core::Platform;
///
/// assert!(quflux_ai::text_violations(Platform::Twitter, "Hello").is_empty());
/// let long = "word ".repeat(100);
/// assert_eq!(
///     quflux_ai::text_violations(Platform::Twitter, &long)[0].rule,
///     "twitter.text.too_long"
/// );
/// ```
pub fn text_violations(platform: Platform, text: &str) -> Vec<Violation> {
    rules::validate(platform, &PostContent::text(text), &[])
        .into_iter()
        .filter(|v| {
            matches!(
                v.rule.split('.').nth(1),
                Some("text" | "hashtags" | "mentions")
            )
        })
        .collect()
}

/// How many hashtags Quflux suggests at most for `platform`.
///
/// The platform's hard limit when it has one ([`rules_for`]`(platform).max_hashtags`: 30 on
/// Instagram); otherwise a recommendation from the platforms' own guidance:
///
/// | platform | hashtags | why |
/// |---|---|---|
/// | X | 3 | X advises one or two; more reads as spam and costs characters |
/// | LinkedIn | 5 | LinkedIn suggests three to five |
/// | Facebook | 3 | hashtags matter little on Facebook; a few for grouping |
/// | Instagram | 30 | the hard limit (Instagram itself now suggests three to five) |
/// | Bluesky | 3 | 300 characters leave little room |
/// | Mastodon | 5 | hashtags drive discovery there; a handful is the norm |
pub fn recommended_hashtags(platform: Platform) -> usize {
    if let Some(max) = rules_for(platform).max_hashtags {
        return max;
    }
    match platform {
        Platform::Twitter | Platform::Facebook | Platform::Bluesky => 3,
        Platform::Linkedin | Platform::Mastodon => 5,
        Platform::Instagram => 30,
    }
}

/// Whether `text`'s length (and UTF-8 size, where the platform caps it) is within the limit.
pub(crate) fn fits_length(platform: Platform, text: &str) -> bool {
    let r = rules_for(platform);
    r.text_counting.count(text) <= r.max_text_len
        && r.max_text_bytes.is_none_or(|m| text.len() <= m)
}

/// The length of `text` in `platform`'s own unit.
pub(crate) fn length(platform: Platform, text: &str) -> usize {
    rules::measure(platform, text).length
}

/// Makes `text` pass the platform's text rules where cutting can: strips characters the
/// platform rejects, drops trailing `#hashtags`/`@mentions` beyond the platform's maximum, then
/// shortens ([`shorten_with`]). The result may still break a rule that cutting cannot fix (an
/// empty text); callers re-check it.
pub(crate) fn fit_text(platform: Platform, text: &str) -> String {
    let r = rules_for(platform);
    let mut text: String = text
        .chars()
        .filter(|c| !matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}'))
        .collect();
    if let Some(max) = r.max_hashtags {
        text = drop_trailing_tags(&text, '#', max, is_tag_char);
    }
    if let Some(max) = r.max_mentions {
        text = drop_trailing_tags(&text, '@', max, |c| {
            c.is_alphanumeric() || c == '_' || c == '.'
        });
    }
    shorten_with(&text, |t| fits_length(platform, t))
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Byte ranges of `sigil`-tags (`#tag`, `@name`) in `text`, in order.
fn tag_spans(text: &str, sigil: char, body: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let starts_tag = c == sigil
            && (i == 0 || {
                let p = chars[i - 1].1;
                !(is_tag_char(p) || p == '&' || p == sigil)
            })
            && chars.get(i + 1).is_some_and(|&(_, n)| body(n) && n != '.');
        if starts_tag {
            let mut j = i + 1;
            while j < chars.len() && body(chars[j].1) {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |&(b, _)| b);
            spans.push((start, end));
            i = j;
        } else {
            i += 1;
        }
    }
    spans
}

/// Removes the tags after the first `max`, with the whitespace before each.
fn drop_trailing_tags(text: &str, sigil: char, max: usize, body: impl Fn(char) -> bool) -> String {
    let spans = tag_spans(text, sigil, body);
    if spans.len() <= max {
        return text.to_owned();
    }
    let mut out = text.to_owned();
    for &(start, end) in spans[max..].iter().rev() {
        let ws_start = out[..start].trim_end().len();
        out.replace_range(ws_start..end, "");
    }
    out.trim_end().to_owned()
}

/// Shortens `text` until `fits` accepts it.
///
/// - Whole sentences are kept when cutting at the last sentence end that fits keeps at least
///   two thirds of what a word cut would keep; no ellipsis then.
/// - Otherwise the text is cut at the last word boundary that fits, trailing punctuation is
///   trimmed and `…` appended.
/// - A first word too long to fit on its own is cut between grapheme clusters.
///
/// Returns `text` unchanged when it fits, and an empty string when not even `…` fits.
pub(crate) fn shorten_with(text: &str, fits: impl Fn(&str) -> bool) -> String {
    let text = text.trim();
    if fits(text) {
        return text.to_owned();
    }
    let with_ellipsis = |end: usize| {
        let mut s = text[..end]
            .trim_end()
            .trim_end_matches([',', ';', ':', '-', '–', '—', '(', '[', '/', '&'])
            .trim_end()
            .to_owned();
        s.push(ELLIPSIS);
        s
    };
    // Word boundaries: the byte index where each whitespace run starts.
    let mut words = Vec::new();
    let mut previous_is_space = true;
    for (i, c) in text.char_indices() {
        let is_space = c.is_whitespace();
        if is_space && !previous_is_space {
            words.push(i);
        }
        previous_is_space = is_space;
    }
    let word_cut = last_fitting(&words, |&end| fits(&with_ellipsis(end)));

    let sentence_ends: Vec<usize> = text
        .char_indices()
        .filter(|&(i, c)| {
            (matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
                && text[i + c.len_utf8()..].starts_with(char::is_whitespace))
                || c == '\n'
        })
        .map(|(i, c)| if c == '\n' { i } else { i + c.len_utf8() })
        .collect();
    let sentence_cut = last_fitting(&sentence_ends, |&end| fits(text[..end].trim_end()));

    match (sentence_cut, word_cut) {
        (Some(s), Some(w)) if s * 3 >= w * 2 => text[..s].trim_end().to_owned(),
        (Some(s), None) => text[..s].trim_end().to_owned(),
        (_, Some(w)) => with_ellipsis(w),
        (None, None) => {
            let graphemes: Vec<usize> = text.grapheme_indices(true).map(|(i, _)| i).collect();
            match last_fitting(&graphemes, |&end| fits(&with_ellipsis(end))) {
                Some(end) if end > 0 => with_ellipsis(end),
                _ => String::new(),
            }
        }
    }
}

/// The last candidate (candidates ascending) accepted by `ok`, assuming acceptance is
/// monotonic (binary search), then walking down if the assumption fails near the edge.
fn last_fitting(candidates: &[usize], ok: impl Fn(&usize) -> bool) -> Option<usize> {
    let n = candidates.partition_point(|c| ok(c));
    candidates[..n].iter().rev().find(|c| ok(c)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(fit_text(Platform::Twitter, "Hello world"), "Hello world");
    }

    #[test]
    fn long_text_is_cut_at_a_word_boundary_with_an_ellipsis() {
        let text = "alpha beta gamma, ".repeat(40);
        let out = fit_text(Platform::Twitter, &text);
        assert!(text_violations(Platform::Twitter, &out).is_empty());
        assert!(out.ends_with('…'), "{out}");
        let kept = out.trim_end_matches('…');
        assert!(text.starts_with(kept));
        assert!(!kept.ends_with(','));
        assert!(length(Platform::Twitter, &out) > 250);
    }

    #[test]
    fn whole_sentences_are_kept_when_that_loses_little() {
        let sentence = "This sentence has exactly some words in it. ";
        let text = sentence.repeat(20);
        let out = fit_text(Platform::Bluesky, &text);
        assert!(out.ends_with('.'), "{out}");
        assert!(text_violations(Platform::Bluesky, &out).is_empty());
    }

    #[test]
    fn one_huge_word_is_cut_between_graphemes() {
        let text = "é".repeat(400);
        let out = fit_text(Platform::Bluesky, &text);
        assert!(out.ends_with('…'));
        assert_eq!(out.graphemes(true).count(), 300);
    }

    #[test]
    fn cjk_counts_double_on_x() {
        let text = "日本語のテキスト ".repeat(40);
        let out = fit_text(Platform::Twitter, &text);
        assert!(text_violations(Platform::Twitter, &out).is_empty(), "{out}");
    }

    #[test]
    fn excess_hashtags_are_dropped_from_the_end() {
        let tags: Vec<String> = (0..35).map(|i| format!("#tag{i}")).collect();
        let text = format!("Caption {}", tags.join(" "));
        assert!(!text_violations(Platform::Instagram, &text).is_empty());
        let out = fit_text(Platform::Instagram, &text);
        assert!(
            text_violations(Platform::Instagram, &out).is_empty(),
            "{out}"
        );
        assert!(out.ends_with("#tag29"), "{out}");
    }

    #[test]
    fn media_rules_are_ignored() {
        assert!(text_violations(Platform::Instagram, "Just text").is_empty());
        assert_eq!(
            text_violations(Platform::Instagram, " ")[0].rule,
            "instagram.text.empty"
        );
    }

    #[test]
    fn recommendations_use_the_hard_limit_when_there_is_one() {
        assert_eq!(recommended_hashtags(Platform::Instagram), 30);
        assert_eq!(recommended_hashtags(Platform::Twitter), 3);
        assert_eq!(recommended_hashtags(Platform::Linkedin), 5);
    }
}
