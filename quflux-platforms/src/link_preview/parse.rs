//! Extracting a [`LinkPreview`] from an HTML document with `scraper` (html5ever).

use std::collections::HashMap;

use scraper::{ElementRef, Html};
use url::Url;

use super::LinkPreview;

/// Longest title kept, in characters.
pub(crate) const MAX_TITLE_CHARS: usize = 300;
/// Longest description kept, in characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Longest site name and `og:type` kept, in characters.
pub(crate) const MAX_SHORT_CHARS: usize = 200;
/// Longest image URL kept, in bytes (longer ones are dropped, not cut).
pub(crate) const MAX_IMAGE_URL_LEN: usize = 2_048;

/// The preview of `html`, fetched from `url` (the final URL, after redirects).
pub(crate) fn parse(html: &str, url: &Url) -> LinkPreview {
    let document = Html::parse_document(html);
    let root = document.root_element();

    // First value of each `<meta property|name=… content=…>`, keys lowercased.
    let mut meta: HashMap<String, String> = HashMap::new();
    for element in root.descendent_elements() {
        if element.value().name() != "meta" {
            continue;
        }
        let key = element.attr("property").or_else(|| element.attr("name"));
        if let (Some(key), Some(content)) = (key, element.attr("content")) {
            meta.entry(key.trim().to_ascii_lowercase())
                .or_insert_with(|| content.to_owned());
        }
    }
    let first = |keys: &[&str], max: usize| {
        keys.iter()
            .filter_map(|k| meta.get(*k))
            .find_map(|v| clean(v, max))
    };

    let title = first(&["og:title", "twitter:title"], MAX_TITLE_CHARS)
        .or_else(|| title_element(root).and_then(|t| clean(&t, MAX_TITLE_CHARS)));
    let description = first(
        &["og:description", "twitter:description", "description"],
        MAX_DESCRIPTION_CHARS,
    );
    let image = [
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "twitter:image",
        "twitter:image:src",
    ]
    .iter()
    .filter_map(|k| meta.get(*k))
    .find_map(|v| absolute_image(v, url));

    LinkPreview {
        url: url.to_string(),
        title,
        description,
        image,
        site_name: first(&["og:site_name"], MAX_SHORT_CHARS),
        content_type: first(&["og:type"], MAX_SHORT_CHARS),
    }
}

/// The text of the `<title>` in `<head>` (not an SVG `<title>` in the body).
fn title_element(root: ElementRef<'_>) -> Option<String> {
    let head = root.child_elements().find(|e| e.value().name() == "head")?;
    let title = head
        .descendent_elements()
        .find(|e| e.value().name() == "title")?;
    Some(title.text().collect())
}

/// Whitespace runs collapsed to one space, trimmed, cut to `max` characters; `None` if empty.
fn clean(text: &str, max: usize) -> Option<String> {
    let mut out = String::new();
    for (i, word) in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        return None;
    }
    if let Some((cut, _)) = out.char_indices().nth(max) {
        out.truncate(cut);
        out.truncate(out.trim_end().len());
    }
    Some(out)
}

/// `value` resolved against `base`, if it is an http(s) URL of reasonable length.
fn absolute_image(value: &str, base: &Url) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let image = base.join(value).ok()?;
    let allowed = matches!(image.scheme(), "http" | "https");
    (allowed && image.as_str().len() <= MAX_IMAGE_URL_LEN).then(|| image.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/articles/one").unwrap()
    }

    #[test]
    fn open_graph_wins_over_twitter_and_title() {
        let html = r#"<html><head><title>Plain</title>
            <meta name="twitter:title" content="Twitter">
            <meta property="og:title" content="  Open &amp; Graph  ">
            <meta name="description" content="plain description">
            <meta property="og:type" content="article">
            <meta property="og:site_name" content="Example">
            <meta property="og:image" content="../img/a.png">
            </head><body></body></html>"#;
        let preview = parse(html, &base());
        assert_eq!(preview.title.as_deref(), Some("Open & Graph"));
        assert_eq!(preview.description.as_deref(), Some("plain description"));
        assert_eq!(preview.content_type.as_deref(), Some("article"));
        assert_eq!(preview.site_name.as_deref(), Some("Example"));
        assert_eq!(
            preview.image.as_deref(),
            Some("https://example.com/img/a.png")
        );
        assert_eq!(preview.url, "https://example.com/articles/one");
    }

    #[test]
    fn title_falls_back_to_twitter_then_title_element() {
        let html = r#"<head><meta name="twitter:title" content="Tw"></head>"#;
        assert_eq!(parse(html, &base()).title.as_deref(), Some("Tw"));
        let html = "<head><title>\n  A   &lt;b&gt; title\n</title></head>\
                    <body><svg><title>svg</title></svg></body>";
        assert_eq!(parse(html, &base()).title.as_deref(), Some("A <b> title"));
        let html = "<body><svg><title>svg</title></svg></body>";
        assert_eq!(parse(html, &base()).title, None);
    }

    #[test]
    fn empty_values_fall_through_and_long_ones_are_cut() {
        let long = "é".repeat(MAX_TITLE_CHARS + 50);
        let html = format!(
            r#"<head><meta property="og:title" content="   ">
            <meta name="twitter:title" content="{long}"></head>"#
        );
        let title = parse(&html, &base()).title.unwrap();
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn only_http_images_are_kept() {
        let html = r#"<head><meta property="og:image" content="javascript:alert(1)">
            <meta property="og:image:secure_url" content="data:image/png;base64,AAAA">
            <meta name="twitter:image" content="//cdn.example.net/x.jpg"></head>"#;
        assert_eq!(
            parse(html, &base()).image.as_deref(),
            Some("https://cdn.example.net/x.jpg")
        );
        let html = r#"<head><meta property="og:image" content="file:///etc/passwd"></head>"#;
        assert_eq!(parse(html, &base()).image, None);
    }
}
