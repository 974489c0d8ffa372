//! Media routes of the Mastodon stand-in: `POST /api/v2/media` and polling until processed.

use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use super::{Media, State, error, multipart, next_id};

pub(super) fn media_json(state: &State, id: &str, media: &Media, ready: bool) -> Value {
    let url = ready.then(|| format!("{}/system/media_attachments/{id}/original.png", state.base));
    json!({
        "id": id, "type": media.kind, "url": url, "preview_url": url, "remote_url": null,
        "description": media.description, "blurhash": null, "meta": {}
    })
}

pub(super) fn upload(state: &mut State, request: &Request) -> ResponseTemplate {
    let parts = multipart(request);
    let Some(file) = parts.get("file").filter(|f| !f.is_empty()) else {
        return error(422, "Validation failed: File can't be blank");
    };
    let kind = if file.starts_with(b"\x89PNG") || file.starts_with(b"\xff\xd8") {
        "image"
    } else {
        "video"
    };
    let media = Media {
        description: parts
            .get("description")
            .map(|d| String::from_utf8_lossy(d).into_owned()),
        kind,
        polls_left: state.media_polls,
    };
    let id = next_id(state);
    let ready = media.polls_left == 0;
    let body = media_json(state, &id, &media, ready);
    state.media.insert(id, media);
    ResponseTemplate::new(if ready { 200 } else { 202 }).set_body_json(body)
}

pub(super) fn poll_media(state: &mut State, id: &str) -> ResponseTemplate {
    let Some(media) = state.media.get_mut(id) else {
        return error(404, "Record not found");
    };
    if media.polls_left > 0 {
        media.polls_left -= 1;
        let media = media.clone();
        return ResponseTemplate::new(206).set_body_json(media_json(state, id, &media, false));
    }
    let media = media.clone();
    ResponseTemplate::new(200).set_body_json(media_json(state, id, &media, true))
}
