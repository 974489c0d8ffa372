//! Keyword extraction (YAKE, via `yake-rust`) and hashtags made from the keywords.

use std::collections::HashSet;

use yake_rust::{Config, StopWords};

use super::config::HashtagCase;

/// Longest hashtag body kept, in characters; longer phrases make unreadable tags.
const MAX_TAG_CHARS: usize = 30;

/// Longest text given to YAKE, in bytes (about 3,000 words).
const MAX_INPUT_BYTES: usize = 20_000;

/// A key phrase: one or more consecutive words of the text, as they appear there.
pub(crate) type Phrase = Vec<String>;

/// English stopwords from `yake-rust`, plus the ones it keeps that make poor tags.
fn stopwords() -> StopWords {
    let mut words = StopWords::predefined("en").unwrap_or_default();
    for w in ["http", "https", "www", "com", "amp"] {
        words.insert(w.to_owned());
    }
    words
}

/// The words of `text`: maximal runs of letters and digits. Hashtag bodies therefore always
/// consist of whole consecutive words of the text.
pub(crate) fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// `text` without URLs, `@mentions`, e-mail addresses and existing `#hashtags` (suggesting a
/// tag the text already has is pointless, and glued tags make poor phrases), so keywords come
/// from prose.
fn prose(text: &str) -> String {
    text.split_whitespace()
        .filter(|t| {
            let lower = t.to_ascii_lowercase();
            !(lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("www.")
                || t.starts_with('#')
                || t.contains('@'))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Up to `n` key phrases of `text` (of its first 20,000 bytes), most important first.
///
/// YAKE scores candidates of 1 to `ngrams` words; when it finds nothing (very short or unusual text), the
/// text's non-stopword words of three or more characters are used in order of frequency, then
/// of first appearance. Phrases made only of digits are dropped.
pub(crate) fn key_phrases(text: &str, n: usize, ngrams: usize) -> Vec<Phrase> {
    let mut text = prose(text);
    if text.len() > MAX_INPUT_BYTES {
        // Keywords of a very long text come from its first part; YAKE's cost grows with length.
        let boundary = text.floor_char_boundary(MAX_INPUT_BYTES);
        let cut = text[..boundary].rfind(' ').unwrap_or(boundary);
        text.truncate(cut);
    }
    let stop = stopwords();
    let config = Config {
        ngrams: ngrams.max(1),
        ..Config::default()
    };
    // yake-rust sorts scores with `partial_cmp().unwrap()`; guard against a NaN score panicking
    // on unusual input rather than trusting every input to be well-behaved.
    let found = std::panic::catch_unwind(|| {
        yake_rust::get_n_best(n.saturating_mul(2), &text, &stop, &config)
    })
    .unwrap_or_default();
    let mut phrases: Vec<Phrase> = found
        .iter()
        .map(|item| {
            words(&item.raw)
                .into_iter()
                .map(str::to_owned)
                .collect::<Phrase>()
        })
        .filter(|p| !p.is_empty() && !p.iter().all(|w| w.chars().all(char::is_numeric)))
        .collect();
    if phrases.is_empty() {
        phrases = frequent_words(&text, &stop);
    }
    phrases.truncate(n);
    phrases
}

fn frequent_words(text: &str, stop: &StopWords) -> Vec<Phrase> {
    let mut counts: Vec<(String, usize, usize)> = Vec::new();
    for (position, word) in words(text).into_iter().enumerate() {
        let lower = word.to_lowercase();
        if word.chars().count() < 3 || word.chars().all(char::is_numeric) || stop.contains(&lower) {
            continue;
        }
        match counts
            .iter_mut()
            .find(|(w, _, _)| w.to_lowercase() == lower)
        {
            Some(entry) => entry.1 += 1,
            None => counts.push((word.to_owned(), 1, position)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    counts.into_iter().map(|(w, _, _)| vec![w]).collect()
}

/// A hashtag from a phrase: `#RustProgramming` or `#rustprogramming`.
pub(crate) fn hashtag(phrase: &[String], case: HashtagCase) -> String {
    let mut tag = String::from("#");
    for word in phrase {
        match case {
            HashtagCase::Lower => tag.push_str(&word.to_lowercase()),
            HashtagCase::Camel => {
                // First letter up, the rest as written: `rust` → `Rust`, `NASA` stays.
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    tag.extend(first.to_uppercase());
                    tag.extend(chars);
                }
            }
        }
    }
    tag
}

/// Up to `max` hashtags for `text`, best first, deduplicated case-insensitively. A one-word
/// phrase whose word is already part of a chosen tag is skipped (`#CargoBikes` makes `#Cargo`
/// redundant).
pub(crate) fn hashtags(text: &str, max: usize, case: HashtagCase) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut used_words: HashSet<String> = HashSet::new();
    let mut tags = Vec::new();
    for phrase in key_phrases(text, max.saturating_mul(2).max(4), 2) {
        let tag = hashtag(&phrase, case);
        let body_chars = tag.chars().count() - 1;
        if !(2..=MAX_TAG_CHARS).contains(&body_chars) {
            continue;
        }
        let lower: Vec<String> = phrase.iter().map(|w| w.to_lowercase()).collect();
        if lower.len() == 1 && used_words.contains(&lower[0]) {
            continue;
        }
        if seen.insert(tag.to_lowercase()) {
            used_words.extend(lower);
            tags.push(tag);
        }
        if tags.len() == max {
            break;
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_come_from_the_text() {
        let text = "Rust makes systems programming safe. Rust programming is fast, and the Rust compiler catches memory bugs.";
        let phrases = key_phrases(text, 5, 2);
        assert!(!phrases.is_empty());
        let lower: Vec<String> = words(text).iter().map(|w| w.to_lowercase()).collect();
        for p in &phrases {
            for w in p {
                assert!(lower.contains(&w.to_lowercase()), "{w} not in text");
            }
        }
        assert!(
            phrases.iter().any(|p| p.iter().any(|w| w == "Rust")),
            "{phrases:?}"
        );
    }

    #[test]
    fn a_single_word_still_gives_a_keyword() {
        assert_eq!(
            key_phrases("Gardening", 3, 2),
            vec![vec!["Gardening".to_owned()]]
        );
    }

    #[test]
    fn urls_and_mentions_are_not_keywords() {
        let tags = hashtags(
            "Read https://example.com/rust-news by @ferris about Rust",
            5,
            HashtagCase::Camel,
        );
        assert!(
            tags.iter().all(|t| !t.to_lowercase().contains("http")
                && !t.contains("ferris")
                && !t.contains("already")),
            "{tags:?}"
        );
    }

    #[test]
    fn casing_follows_the_setting() {
        let phrase = vec!["rust".to_owned(), "NASA".to_owned(), "iPhone".to_owned()];
        assert_eq!(hashtag(&phrase, HashtagCase::Camel), "#RustNASAIPhone");
        assert_eq!(hashtag(&phrase, HashtagCase::Lower), "#rustnasaiphone");
    }

    #[test]
    fn very_long_texts_are_read_from_their_start() {
        let text = format!("{} {}", "bicycle ".repeat(3000), "zeppelin ".repeat(3000));
        let phrases = key_phrases(&text, 3, 2);
        assert!(
            phrases.iter().any(|p| p[0].eq_ignore_ascii_case("bicycle")),
            "{phrases:?}"
        );
        assert!(phrases.iter().all(|p| p[0] != "zeppelin"), "{phrases:?}");
    }

    #[test]
    fn numbers_alone_are_not_tags() {
        assert!(hashtags("2024 2025 2026", 5, HashtagCase::Camel).is_empty());
    }
}
