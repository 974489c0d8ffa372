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

pub(super) fn html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let paragraphs: Vec<String> = escaped
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br />")))
        .collect();
    paragraphs.concat()
}
