//! Request and content formats: `multipart/form-data` bodies and status HTML.

use std::collections::HashMap;

use wiremock::Request;

pub(super) fn multipart(request: &Request) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    let Some(boundary) = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| format!("--{}", b.trim_matches('"')))
    else {
        return out;
    };
    let body = &request.body;
    let positions: Vec<usize> = (0..body.len().saturating_sub(boundary.len()) + 1)
        .filter(|&i| body[i..].starts_with(boundary.as_bytes()))
        .collect();
    for pair in positions.windows(2) {
        let part = &body[pair[0] + boundary.len()..pair[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = (0..part.len()).find(|&i| part[i..].starts_with(b"\r\n\r\n")) else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..split]);
        let Some(name) = headers
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        out.insert(name.to_owned(), part[split + 4..].to_vec());
    }
    out
}

/// A status text as Mastodon renders it: paragraphs (`<p>`, split on blank lines), line breaks
/// (`<br />`), links (scheme hidden in an `invisible` span, long ones cut with an `ellipsis`),
/// mentions (`@<span>bob</span>` in an `h-card`, the domain of a remote one dropped from the
/// text) and hashtags, everything else HTML-escaped. `base` is the instance's URL.
pub(super) fn html(text: &str, base: &str) -> String {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.split('\n').map(|l| line(l, base)).collect();
            format!("<p>{}</p>", lines.join("<br />"))
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// One line: plain text, links, mentions and hashtags.
fn line(text: &str, base: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut plain = String::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !(is_word(chars[i - 1]) || chars[i - 1] == '/');
        let rendered = if boundary {
            link(&chars, i)
                .map(|(end, url)| (end, render_link(&url)))
                .or_else(|| {
                    mention(&chars, i).map(|(end, user, domain)| {
                        (end, render_mention(&user, domain.as_deref(), base))
                    })
                })
                .or_else(|| hashtag(&chars, i).map(|(end, tag)| (end, render_hashtag(&tag, base))))
        } else {
            None
        };
        match rendered {
            Some((end, html)) => {
                out.push_str(&escape(&plain));
                plain.clear();
                out.push_str(&html);
                i = end;
            }
            None => {
                plain.push(chars[i]);
                i += 1;
            }
        }
    }
    out.push_str(&escape(&plain));
    out
}

/// A URL starting at `i`: its end and text (trailing punctuation left out).
fn link(chars: &[char], i: usize) -> Option<(usize, String)> {
    let rest: String = chars[i..].iter().take(8).collect();
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| rest.to_ascii_lowercase().starts_with(s))?;
    let mut end = i + scheme.len();
    while end < chars.len() && !chars[end].is_whitespace() && chars[end] != '<' {
        end += 1;
    }
    while end > i + scheme.len()
        && matches!(
            chars[end - 1],
            '.' | ',' | ';' | ':' | '!' | '?' | ')' | '\'' | '"'
        )
    {
        end -= 1;
    }
    (end > i + scheme.len()).then(|| (end, chars[i..end].iter().collect()))
}

/// `@user` or `@user@domain` starting at `i`: its end, the user and the domain.
fn mention(chars: &[char], i: usize) -> Option<(usize, String, Option<String>)> {
    if chars.get(i) != Some(&'@') {
        return None;
    }
    let mut end = i + 1;
    while end < chars.len()
        && (is_word(chars[end])
            || (matches!(chars[end], '.' | '-')
                && chars.get(end + 1).copied().is_some_and(is_word)))
    {
        end += 1;
    }
    if end == i + 1 {
        return None;
    }
    let user: String = chars[i + 1..end].iter().collect();
    if chars.get(end) != Some(&'@') {
        return Some((end, user, None));
    }
    let mut domain_end = end + 1;
    while domain_end < chars.len()
        && (is_word(chars[domain_end]) || matches!(chars[domain_end], '.' | '-'))
    {
        domain_end += 1;
    }
    while domain_end > end + 1 && matches!(chars[domain_end - 1], '.' | '-') {
        domain_end -= 1;
    }
    if domain_end == end + 1 {
        return Some((end, user, None));
    }
    let domain: String = chars[end + 1..domain_end].iter().collect();
    Some((domain_end, user, Some(domain)))
}

/// `#tag` starting at `i` (not all digits): its end and the tag.
fn hashtag(chars: &[char], i: usize) -> Option<(usize, String)> {
    if chars.get(i) != Some(&'#') {
        return None;
    }
    let mut end = i + 1;
    while end < chars.len() && is_word(chars[end]) {
        end += 1;
    }
    let tag: String = chars[i + 1..end].iter().collect();
    (!tag.is_empty() && !tag.chars().all(|c| c.is_ascii_digit())).then_some((end, tag))
}

fn render_link(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let mut prefix_len = if lower.starts_with("https://") { 8 } else { 7 };
    if lower[prefix_len..].starts_with("www.") {
        prefix_len += 4;
    }
    let (prefix, display) = url.split_at(prefix_len);
    let (shown, hidden, class) = if display.chars().count() > 30 {
        let cut = display
            .char_indices()
            .nth(30)
            .map_or(display.len(), |(at, _)| at);
        (&display[..cut], &display[cut..], "ellipsis")
    } else {
        (display, "", "")
    };
    format!(
        "<a href=\"{}\" rel=\"nofollow noopener\" target=\"_blank\">\
         <span class=\"invisible\">{}</span><span class=\"{class}\">{}</span>\
         <span class=\"invisible\">{}</span></a>",
        escape(url),
        escape(prefix),
        escape(shown),
        escape(hidden)
    )
}

fn render_mention(user: &str, domain: Option<&str>, base: &str) -> String {
    let profile = match domain {
        Some(domain) => format!("https://{domain}/@{user}"),
        None => format!("{}/@{user}", base.trim_end_matches('/')),
    };
    format!(
        "<span class=\"h-card\"><a href=\"{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
        escape(&profile),
        escape(user)
    )
}

fn render_hashtag(tag: &str, base: &str) -> String {
    format!(
        "<a href=\"{}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
        escape(base.trim_end_matches('/')),
        escape(&tag.to_lowercase()),
        escape(tag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_rendered_like_mastodon() {
        assert_eq!(
            html(
                "Hi @bob@host.social & @alice!\nSee https://example.com/x.\n\n#Rust",
                "http://i.test"
            ),
            "<p>Hi <span class=\"h-card\"><a href=\"https://host.social/@bob\" \
             class=\"u-url mention\">@<span>bob</span></a></span> &amp; \
             <span class=\"h-card\"><a href=\"http://i.test/@alice\" class=\"u-url mention\">\
             @<span>alice</span></a></span>!<br />See \
             <a href=\"https://example.com/x\" rel=\"nofollow noopener\" target=\"_blank\">\
             <span class=\"invisible\">https://</span><span class=\"\">example.com/x</span>\
             <span class=\"invisible\"></span></a>.</p>\
             <p><a href=\"http://i.test/tags/rust\" class=\"mention hashtag\" rel=\"tag\">\
             #<span>Rust</span></a></p>"
        );
        assert_eq!(
            html(
                "https://www.example.com/a/very/long/path/that/goes/on?q=1&r=2",
                "http://i.test"
            ),
            "<p><a href=\"https://www.example.com/a/very/long/path/that/goes/on?q=1&amp;r=2\" \
             rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://www.\
             </span><span class=\"ellipsis\">example.com/a/very/long/path/t</span>\
             <span class=\"invisible\">hat/goes/on?q=1&amp;r=2</span></a></p>"
        );
        // E-mail addresses are not mentions; markup in the text is escaped.
        assert_eq!(
            html("me@example.com <b>'x'</b>", "http://i.test"),
            "<p>me@example.com &lt;b&gt;&#39;x&#39;&lt;/b&gt;</p>"
        );
    }
}
