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

fn strip_html(text: &str) -> String {
    if !text.contains('<') && !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                let name = tag
                    .trim_start_matches('/')
                    .split_whitespace()
                    .next()
                    .unwrap_or("");
                if matches!(name.to_ascii_lowercase().as_str(), "p" | "br" | "br/") {
                    out.push(' ');
                }
            }
            _ if in_tag => tag.push(c),
            _ => out.push(c),
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
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
    }
}
