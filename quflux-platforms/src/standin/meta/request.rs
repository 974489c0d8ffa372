//! Request parameters of the Meta stand-in: query, form, JSON and multipart bodies, merged.

use std::collections::HashMap;

use serde_json::Value;
use wiremock::Request;

/// Request parameters: query, form, JSON or multipart, merged.
#[derive(Debug, Default)]
pub(super) struct Params {
    pub(super) map: HashMap<String, String>,
    pub(super) json: Option<Value>,
}

impl Params {
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }
}

pub(super) fn params(req: &Request) -> Params {
    let mut p = Params::default();
    for (k, v) in req.url.query_pairs() {
        p.map.insert(k.into_owned(), v.into_owned());
    }
    let ct = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if ct.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(&req.body) {
            p.map.insert(k.into_owned(), v.into_owned());
        }
    } else if ct.starts_with("application/json") {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&req.body) {
            for (k, v) in &o {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                p.map.insert(k.clone(), s);
            }
            p.json = Some(Value::Object(o));
        }
    } else if let Some(boundary) = ct.split("boundary=").nth(1) {
        multipart(&req.body, boundary.trim_matches('"'), &mut p.map);
    }
    p
}

pub(super) fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A minimal multipart/form-data reader: text fields as text, files as `<N bytes>`.
pub(super) fn multipart(body: &[u8], boundary: &str, out: &mut HashMap<String, String>) {
    let delim = format!("--{boundary}").into_bytes();
    let mut pos = match find(body, &delim, 0) {
        Some(p) => p + delim.len(),
        None => return,
    };
    while let Some(next) = find(body, &delim, pos) {
        let part = &body[pos..next];
        pos = next + delim.len();
        let Some(split) = find(part, b"\r\n\r\n", 0) else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        let mut value = &part[split + 4..];
        if value.ends_with(b"\r\n") {
            value = &value[..value.len() - 2];
        }
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        else {
            continue;
        };
        let text = if head.contains("filename=") {
            format!("<{} bytes>", value.len())
        } else {
            String::from_utf8_lossy(value).into_owned()
        };
        out.insert(name.to_owned(), text);
    }
}
