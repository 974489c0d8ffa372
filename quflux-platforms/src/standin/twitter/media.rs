//! Media routes of the X stand-in: chunked upload (`initialize`, `append`, `finalize`),
//! `STATUS` polling and alt text metadata.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use super::{Media, State, invalid_request, problem};

/// The parts of a `multipart/form-data` body: name → bytes.
pub(super) fn multipart(request: &Request) -> HashMap<String, Vec<u8>> {
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    multipart_parts(content_type, &request.body)
        .into_iter()
        .collect()
}

/// The parts of a `multipart/form-data` body sent with `content_type` (whose `boundary`
/// parameter delimits them), in order: (name, bytes).
pub(super) fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Some(boundary) = content_type.split("boundary=").nth(1).map(|b| {
        format!(
            "--{}",
            b.split(';').next().unwrap_or(b).trim().trim_matches('"')
        )
    }) else {
        return out;
    };
    let delimiter = boundary.as_bytes();
    let mut positions = Vec::new();
    let mut i = 0;
    while i + delimiter.len() <= body.len() {
        if &body[i..i + delimiter.len()] == delimiter {
            positions.push(i);
            i += delimiter.len();
        } else {
            i += 1;
        }
    }
    for pair in positions.windows(2) {
        let part = &body[pair[0] + delimiter.len()..pair[1]];
        let Some(split) = part.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        let mut content = &part[split + 4..];
        if content.ends_with(b"\r\n") {
            content = &content[..content.len() - 2];
        }
        if let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        {
            out.push((name.to_owned(), content.to_vec()));
        }
    }
    out
}

impl State {
    pub(super) fn media_route(&mut self, request: &Request, segments: &[&str]) -> ResponseTemplate {
        let method = request.method.as_str();
        match (method, segments) {
            ("POST", ["initialize"]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let Some(total) = body.get("total_bytes").and_then(Value::as_u64) else {
                    return invalid_request("$.total_bytes: is missing but it is required");
                };
                let id = self.next_id();
                self.media.insert(
                    id.clone(),
                    Media {
                        total_bytes: usize::try_from(total).unwrap_or(usize::MAX),
                        ..Media::default()
                    },
                );
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "id": id, "media_key": format!("3_{id}"), "expires_after_secs": 86399
                }}))
            }
            ("POST", [id, "append"]) => {
                let parts = multipart(request);
                let Some(media) = self.media.get_mut(*id) else {
                    return invalid_request("$.id: media id not found");
                };
                let (Some(chunk), Some(index)) = (
                    parts.get("media"),
                    parts
                        .get("segment_index")
                        .and_then(|s| String::from_utf8_lossy(s).parse::<u64>().ok()),
                ) else {
                    return invalid_request("$.media: is missing but it is required");
                };
                if index > 999 {
                    return invalid_request("$.segment_index: must be at most 999");
                }
                media.received.insert(index, chunk.len());
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "expires_at": Utc::now().timestamp() + 86_399
                }}))
            }
            ("POST", [id, "finalize"]) => {
                let Some(media) = self.media.get_mut(*id) else {
                    return invalid_request("$.id: media id not found");
                };
                let received: usize = media.received.values().sum();
                if received != media.total_bytes {
                    return invalid_request(&format!(
                        "Segments do not add up to provided total file size ({received} != {})",
                        media.total_bytes
                    ));
                }
                media.state = Some("pending");
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "id": id, "media_key": format!("3_{id}"), "size": received,
                    "expires_after_secs": 86399,
                    "processing_info": {"state": "pending", "check_after_secs": 1}
                }}))
            }
            _ => problem(404, "Not Found", "Not Found", "about:blank"),
        }
    }

    pub(super) fn status(&mut self, request: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let id = q.get("media_id").cloned().unwrap_or_default();
        let Some(media) = self.media.get_mut(&id) else {
            return invalid_request("$.media_id: media id not found");
        };
        let (next, progress) = match media.state {
            Some("pending") => ("in_progress", 50),
            Some(_) => ("succeeded", 100),
            None => return invalid_request("$.media_id: the upload was not finalized"),
        };
        media.state = Some(next);
        let mut info = json!({"state": next, "progress_percent": progress});
        if next != "succeeded" {
            info["check_after_secs"] = json!(1);
        }
        ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": id, "media_key": format!("3_{id}"), "processing_info": info
        }}))
    }

    pub(super) fn metadata(&mut self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(media) = self.media.get_mut(&id) else {
            return invalid_request("$.id: media id not found");
        };
        let alt = body
            .pointer("/metadata/alt_text/text")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if alt.as_ref().is_some_and(|a| a.chars().count() > 1000) {
            return invalid_request("$.metadata.alt_text.text: must be at most 1000 characters");
        }
        media.alt = alt;
        ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": id, "associated_metadata": body.get("metadata").cloned().unwrap_or(json!({}))
        }}))
    }
}
