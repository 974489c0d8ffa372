//! Text measures: graphemes, UTF-16 units, Mastodon's countable length, hashtags and mentions.

use unicode_segmentation::UnicodeSegmentation;

use super::twitter;

/// What Mastodon counts a URL as (`characters_reserved_per_url`).
pub(crate) const MASTODON_URL_LENGTH: usize = 23;

/// Extended grapheme clusters.
pub(crate) fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// UTF-16 code units (what Java/JavaScript back ends call a string's length).
pub(crate) fn utf16_units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `[[:word:]]` of Ruby's Onigmo, approximately: letters, numbers and `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Mastodon's remote mentions (`Account::MENTION_RE`): `(start, end, username end)` char indices.
fn mastodon_mentions(t: &[char]) -> Vec<(usize, usize, usize)> {
    let user_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    // `first[.-]+next...` starting at `i`: its end (or `i` when nothing matched).
    let dotted = |i: usize, part: &dyn Fn(char) -> bool| -> usize {
        let run = |from: usize| (from..t.len()).find(|&j| !part(t[j])).unwrap_or(t.len());
        let mut end = run(i);
        if end == i {
            return i;
        }
        loop {
            let sep_end = (end..t.len())
                .find(|&j| !matches!(t[j], '.' | '-'))
                .unwrap_or(t.len());
            let next = run(sep_end);
            if sep_end == end || next == sep_end {
                return end;
            }
            end = next;
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let preceded_ok = i == 0 || !(matches!(t[i - 1], '=' | '/') || is_word(t[i - 1]));
        if t[i] != '@' || !preceded_ok {
            i += 1;
            continue;
        }
        let user_end = dotted(i + 1, &user_char);
        if user_end == i + 1 {
            i += 1;
            continue;
        }
        let mut end = user_end;
        if t.get(user_end) == Some(&'@') {
            let domain_end = dotted(user_end + 1, &is_word);
            if domain_end > user_end + 1 {
                end = domain_end;
            }
        }
        out.push((i, end, user_end));
        i = end;
    }
    out
}

/// Mastodon's status length (`StatusLengthValidator`): grapheme clusters of the text where every
/// URL with a scheme counts 23 and every `@user@domain` counts as `@user`.
pub(crate) fn mastodon_length(text: &str) -> usize {
    let t: Vec<char> = text.chars().collect();
    // (start, end, replacement length or None for a URL)
    let mut entities: Vec<(usize, usize, Option<usize>)> = twitter::find_urls(&t, true)
        .into_iter()
        .map(|(s, e)| (s, e, None))
        .collect();
    entities.extend(
        mastodon_mentions(&t)
            .into_iter()
            .map(|(s, e, u)| (s, e, Some(u))),
    );
    entities.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(text.len());
    let mut extra = 0;
    let mut pos = 0;
    for (start, end, user_end) in entities {
        if start < pos {
            continue; // overlaps the previous entity (twitter-text's remove_overlapping_entities)
        }
        out.extend(&t[pos..start]);
        match user_end {
            None => extra += MASTODON_URL_LENGTH,
            Some(user_end) => out.extend(&t[start..user_end]),
        }
        pos = end;
    }
    out.extend(&t[pos..]);
    graphemes(&out) + extra
}

/// `#hashtags` the way Instagram counts them: `#` followed by a word character, not preceded by a
/// word character or `&` (so `&#39;` and `a#b` do not count).
pub(crate) fn hashtags(text: &str) -> usize {
    count_tagged(text, '#', is_word)
}

/// `@mentions` the way Instagram counts them: `@` followed by a username character
/// (letters, digits, `.`, `_`), not preceded by a word character (so e-mail addresses do not count).
pub(crate) fn mentions(text: &str) -> usize {
    count_tagged(text, '@', |c| {
        c.is_ascii_alphanumeric() || c == '_' || c == '.'
    })
}

fn count_tagged(text: &str, sigil: char, body: impl Fn(char) -> bool) -> usize {
    let t: Vec<char> = text.chars().collect();
    (0..t.len())
        .filter(|&i| {
            t[i] == sigil
                && (i == 0 || !(is_word(t[i - 1]) || t[i - 1] == '&' || t[i - 1] == sigil))
                && t.get(i + 1).is_some_and(|&c| body(c) && c != '.')
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphemes_versus_bytes_for_emoji_and_cjk() {
        let family = "👨‍👩‍👧‍👦";
        assert_eq!(graphemes(family), 1);
        assert_eq!(family.len(), 25);
        assert_eq!(utf16_units(family), 11);
        let cjk = "日本語のテキスト";
        assert_eq!(graphemes(cjk), 8);
        assert_eq!(cjk.len(), 24);
        let flag = "🇯🇵";
        assert_eq!(graphemes(flag), 1);
        assert_eq!(flag.len(), 8);
        assert_eq!(graphemes("e\u{301}"), 1);
    }

    #[test]
    fn mastodon_counts_urls_as_23_and_remote_mentions_as_local() {
        assert_eq!(mastodon_length("hello"), 5);
        let url = "https://example.com/a/very/long/path/that/is/much/longer/than/23";
        assert_eq!(mastodon_length(url), 23);
        assert_eq!(mastodon_length(&format!("see {url} now")), 4 + 23 + 4);
        // Scheme-less domains are plain text on Mastodon.
        assert_eq!(mastodon_length("example.com"), 11);
        assert_eq!(
            mastodon_length("hi @alice@mastodon.social!"),
            "hi @alice!".len()
        );
        assert_eq!(mastodon_length("@bob"), 4);
        // An e-mail address is not a mention.
        assert_eq!(mastodon_length("mail bob@example.org"), 20);
        // Emoji and CJK are one character each.
        assert_eq!(mastodon_length("👨‍👩‍👧‍👦日本"), 3);
    }

    #[test]
    fn counts_hashtags_and_mentions() {
        assert_eq!(hashtags("#one #two and#not &#39; # #3x"), 3);
        assert_eq!(mentions("@a @b.c mail@example.com @"), 2);
    }
}
