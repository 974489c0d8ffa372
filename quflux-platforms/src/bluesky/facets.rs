//! Rich-text facet detection: links, mentions and hashtags, at UTF-8 **byte** offsets.
//!
//! Bluesky links nothing by itself: a URL, `@handle` or `#tag` without a facet is plain text.
//! [`detect`] follows the rules of the reference client (`@atproto/api` `RichText.detectFacets`)
//! for what Quflux composes:
//! - links: `http://` or `https://` URLs at the start or after whitespace or `(`; trailing
//!   `.,;:!?"'` (and CJK punctuation) and an unbalanced `)` are not part of the link;
//! - mentions: `@` + a domain-like handle (`[A-Za-z0-9.-]`, at least one dot) at the start or
//!   after whitespace or `(`; the facet needs the handle's DID, resolved by the publisher
//!   (an unresolvable handle gets no facet);
//! - hashtags: `#` or `＃` at the start or after whitespace, up to the next whitespace,
//!   trailing punctuation removed, not only digits, at most 64 graphemes; the tag value has no
//!   `#`.
//!
//! `byte_start` is inclusive and `byte_end` exclusive, so `&text[byte_start..byte_end]` is the
//! facet's text.

use unicode_segmentation::UnicodeSegmentation;

/// What a facet points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacetKind {
    /// A link (`app.bsky.richtext.facet#link`).
    Link(String),
    /// A mention of a handle (`app.bsky.richtext.facet#mention`, once resolved to a DID).
    Mention(String),
    /// A hashtag without `#` (`app.bsky.richtext.facet#tag`).
    Tag(String),
}

/// A facet found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedFacet {
    /// First byte (inclusive).
    pub byte_start: usize,
    /// End byte (exclusive).
    pub byte_end: usize,
    /// What it points to.
    pub kind: FacetKind,
}

/// Longest hashtag value, in graphemes (lexicon `app.bsky.richtext.facet#tag`).
pub const MAX_TAG_GRAPHEMES: usize = 64;

/// Every link, mention and hashtag of `text`, in order, non-overlapping.
pub fn detect(text: &str) -> Vec<DetectedFacet> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    let mut skip_to = 0usize;
    for (i, c) in text.char_indices() {
        if i < skip_to {
            prev = Some(c);
            continue;
        }
        let after_space = prev.is_none_or(char::is_whitespace);
        let after_space_or_paren = after_space || prev == Some('(');
        let found = match c {
            'h' if after_space_or_paren => link_at(text, i),
            '@' if after_space_or_paren => mention_at(text, i),
            '#' | '＃' if after_space => tag_at(text, i, c.len_utf8()),
            _ => None,
        };
        if let Some(facet) = found {
            skip_to = facet.byte_end;
            out.push(facet);
        }
        prev = Some(c);
    }
    out
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '。' | '、'
                | '，'
                | '．'
                | '！'
                | '？'
                | '：'
                | '；'
                | '「'
                | '」'
                | '『'
                | '』'
                | '（'
                | '）'
                | '【'
                | '】'
                | '…'
                | '‥'
                | '·'
                | '—'
                | '–'
                | '“'
                | '”'
                | '‘'
                | '’'
                | '«'
                | '»'
                | '¡'
                | '¿'
        )
}

fn run_end(text: &str, start: usize, keep: impl Fn(char) -> bool) -> usize {
    text[start..]
        .char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(text.len(), |(j, _)| start + j)
}

fn link_at(text: &str, i: usize) -> Option<DetectedFacet> {
    let rest = &text[i..];
    let scheme = if rest.starts_with("https://") {
        8
    } else if rest.starts_with("http://") {
        7
    } else {
        return None;
    };
    let mut end = run_end(text, i, |c| !c.is_whitespace());
    loop {
        let url = &text[i..end];
        let last = url.chars().next_back()?;
        let unbalanced_paren = last == ')' && url.matches('(').count() < url.matches(')').count();
        let trailing = matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '"' | '\'')
            || (is_punct(last) && !last.is_ascii());
        if unbalanced_paren || trailing {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    let url = &text[i..end];
    let host = url[scheme..].split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with('.') {
        return None;
    }
    Some(DetectedFacet {
        byte_start: i,
        byte_end: end,
        kind: FacetKind::Link(url.to_owned()),
    })
}

fn mention_at(text: &str, i: usize) -> Option<DetectedFacet> {
    let start = i + 1;
    let mut end = run_end(text, start, |c| {
        c.is_ascii_alphanumeric() || c == '.' || c == '-'
    });
    while end > start && matches!(text.as_bytes()[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let handle = &text[start..end];
    let labels: Vec<&str> = handle.split('.').collect();
    let valid = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.len() <= 63)
        && labels
            .last()
            .is_some_and(|tld| tld.starts_with(|c: char| c.is_ascii_alphabetic()))
        && handle.len() <= 253;
    // A handle directly followed by more word characters (`@a.b_c`) is not a mention.
    let next_ok = text[end..]
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    (valid && next_ok).then(|| DetectedFacet {
        byte_start: i,
        byte_end: end,
        kind: FacetKind::Mention(handle.to_ascii_lowercase()),
    })
}

fn is_tag_breaker(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}' | '\u{2060}' | '\u{200A}'..='\u{200D}' | '\u{20E2}'
        )
}

fn tag_at(text: &str, i: usize, hash_len: usize) -> Option<DetectedFacet> {
    let start = i + hash_len;
    if text[start..].starts_with('\u{FE0F}') {
        return None; // keycap emoji #️⃣
    }
    let mut end = run_end(text, start, |c| !is_tag_breaker(c));
    while let Some(last) = text[start..end].chars().next_back() {
        if is_punct(last) {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    let tag = &text[start..end];
    let meaningful = tag.chars().any(|c| !c.is_ascii_digit() && !is_punct(c));
    (meaningful && tag.graphemes(true).count() <= MAX_TAG_GRAPHEMES).then(|| DetectedFacet {
        byte_start: i,
        byte_end: end,
        kind: FacetKind::Tag(tag.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(text: &str) -> Vec<(&str, FacetKind)> {
        detect(text)
            .into_iter()
            .map(|f| (&text[f.byte_start..f.byte_end], f.kind))
            .collect()
    }

    #[test]
    fn the_spec_example_has_exact_byte_offsets() {
        let text = "✨ Quflux docs: https://example.com #rust @bob.bsky.social";
        let f = detect(text);
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].byte_start, f[0].byte_end), (17, 36));
        assert_eq!(f[0].kind, FacetKind::Link("https://example.com".into()));
        assert_eq!((f[1].byte_start, f[1].byte_end), (37, 42));
        assert_eq!(f[1].kind, FacetKind::Tag("rust".into()));
        assert_eq!((f[2].byte_start, f[2].byte_end), (43, 59));
        assert_eq!(f[2].kind, FacetKind::Mention("bob.bsky.social".into()));
    }

    #[test]
    fn trailing_punctuation_and_parentheses_are_excluded() {
        assert_eq!(
            slices("see (https://a.example/x_(y)) now, https://b.example."),
            vec![
                (
                    "https://a.example/x_(y)",
                    FacetKind::Link("https://a.example/x_(y)".into())
                ),
                (
                    "https://b.example",
                    FacetKind::Link("https://b.example".into())
                ),
            ]
        );
        assert_eq!(
            slices("hi @alice.test. and #tag! #123 #"),
            vec![
                ("@alice.test", FacetKind::Mention("alice.test".into())),
                ("#tag", FacetKind::Tag("tag".into())),
            ]
        );
    }

    #[test]
    fn not_facets() {
        assert!(detect("mail me: bob@example.com, a#b, @nodot, ftp://x.example").is_empty());
        assert!(detect("#️⃣ keycap").is_empty());
        assert!(detect(&format!("#{}", "a".repeat(65))).is_empty());
    }

    #[test]
    fn cjk_and_emoji_offsets_are_bytes() {
        let text = "東京🗼 #日本語タグ。 https://例え.jp/パス 👩‍💻 @alice.test";
        let f = detect(text);
        assert_eq!(f.len(), 3, "{f:?}");
        let tag_at = text.find('#').unwrap_or(0);
        assert_eq!(tag_at, 11, "東京 is 6 bytes, 🗼 4, a space 1");
        assert_eq!(&text[f[0].byte_start..f[0].byte_end], "#日本語タグ");
        assert_eq!(f[0].byte_end - f[0].byte_start, 1 + 5 * 3);
        assert_eq!(f[0].kind, FacetKind::Tag("日本語タグ".into()));
        assert_eq!(
            &text[f[1].byte_start..f[1].byte_end],
            "https://例え.jp/パス"
        );
        assert_eq!(&text[f[2].byte_start..f[2].byte_end], "@alice.test");
        assert_eq!(f[2].byte_end, text.len());
    }

    #[test]
    fn fullwidth_hash_starts_a_tag() {
        let text = "𝕏 ＃rustlang";
        let f = detect(text);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].byte_start, 5, "𝕏 is 4 bytes");
        assert_eq!(f[0].byte_end, text.len());
        assert_eq!(f[0].kind, FacetKind::Tag("rustlang".into()));
    }
}
