//! Content fingerprints: how a lookup recognises its own post among an account's recent posts
//! on platforms without idempotency keys (X, Facebook, Mastodon after the key's hour).
//!
//! Platforms rewrite links (X's t.co, Mastodon's HTML), so URLs are removed, HTML tags and
//! entities are undone, whitespace is collapsed and case is folded before comparing.

/// The normalised form of a post text used for matching.
pub fn normalize(text: &str) -> String {
    let text = strip_html(text);
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        let lower = word.to_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            continue;
        }
        words.push(lower);
    }
    words.join(" ")
}

/// Whether two texts are the same post text once normalised.
pub fn same_text(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// Tags platforms put in post HTML; anything else between `<` and `>` is literal text
/// (a user may well write "<good>").
const HTML_TAGS: [&str; 21] = [
    "a",
    "b",
    "blockquote",
    "br",
    "br/",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "ul",
];

fn strip_html(text: &str) -> String {
    if !text.contains('<') && !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let tag = after.find('>').map(|end| (&after[..end], end));
        let name = tag.map(|(inner, _)| {
            inner
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        });
        match (tag, name) {
            (Some((_, end)), Some(name)) if HTML_TAGS.contains(&name.as_str()) => {
                if matches!(name.as_str(), "p" | "br" | "div" | "li") {
                    out.push(' ');
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewritten_links_and_html_still_match() {
        assert!(same_text(
            "Launch day! https://example.com/a?b=1  #rust",
            "launch day! https://t.co/abc123 #Rust"
        ));
        assert!(same_text(
            "<p>Hello &amp; welcome<br>to <a href=\"https://x\">https://x.org</a></p>",
            "Hello & welcome to https://x.org"
        ));
        assert!(!same_text("Hello", "Hello again"));
        // Literal angle brackets are text, escaped or not.
        assert!(same_text(
            "this is <good> & fine",
            "this is &lt;good&gt; &amp; fine"
        ));
        assert!(same_text("this is <good>", "<p>this is &lt;good&gt;</p>"));
        assert!(!same_text("this is <good>", "this is"));
    }
}
