//! Building `app.bsky.feed.post` records (pure: no network).

use chrono::{DateTime, SecondsFormat, Utc};
use quflux_core::{LinkPreview, PublishMedia};
use serde_json::{Map, Value, json};

use super::POST_COLLECTION;
use super::facets::{DetectedFacet, FacetKind};

/// A strong reference to a record (`com.atproto.repo.strongRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StrongRef {
    pub(crate) uri: String,
    pub(crate) cid: String,
}

impl StrongRef {
    pub(crate) fn to_json(&self) -> Value {
        json!({ "uri": self.uri, "cid": self.cid })
    }
}

/// The facets of `text`, mentions resolved by `did_of` (an unresolved mention gets none).
pub(crate) fn facets_json(
    detected: &[DetectedFacet],
    did_of: impl Fn(&str) -> Option<String>,
) -> Vec<Value> {
    detected
        .iter()
        .filter_map(|f| {
            let feature = match &f.kind {
                FacetKind::Link(uri) => {
                    json!({"$type": "app.bsky.richtext.facet#link", "uri": uri})
                }
                FacetKind::Tag(tag) => json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
                FacetKind::Mention(handle) => {
                    json!({"$type": "app.bsky.richtext.facet#mention", "did": did_of(handle)?})
                }
            };
            Some(json!({
                "index": {"byteStart": f.byte_start, "byteEnd": f.byte_end},
                "features": [feature],
            }))
        })
        .collect()
}

/// `app.bsky.embed.images` from uploaded blobs, alt text and aspect ratio.
pub(crate) fn images_embed(media: &[PublishMedia], blobs: Vec<Value>) -> Value {
    let images: Vec<Value> = media
        .iter()
        .zip(blobs)
        .map(|(m, blob)| {
            let mut image = Map::new();
            image.insert("alt".into(), json!(m.alt_text.clone().unwrap_or_default()));
            image.insert("image".into(), blob);
            if let (Some(w), Some(h)) = (m.file.width, m.file.height)
                && w > 0
                && h > 0
            {
                image.insert("aspectRatio".into(), json!({"width": w, "height": h}));
            }
            Value::Object(image)
        })
        .collect();
    json!({"$type": "app.bsky.embed.images", "images": images})
}

/// `app.bsky.embed.external` (a link card without thumbnail) for `url` and its preview.
pub(crate) fn external_embed(url: &str, preview: Option<&LinkPreview>) -> Value {
    let title = preview.and_then(|p| p.title.clone()).unwrap_or_default();
    let description = preview
        .and_then(|p| p.description.clone())
        .unwrap_or_default();
    json!({
        "$type": "app.bsky.embed.external",
        "external": {"uri": url, "title": title, "description": description},
    })
}

/// A post record.
pub(crate) fn post(
    text: &str,
    facets: Vec<Value>,
    embed: Option<Value>,
    reply: Option<(&StrongRef, &StrongRef)>,
    created_at: DateTime<Utc>,
) -> Value {
    let mut record = Map::new();
    record.insert("$type".into(), json!(POST_COLLECTION));
    record.insert("text".into(), json!(text));
    record.insert(
        "createdAt".into(),
        json!(created_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    if !facets.is_empty() {
        record.insert("facets".into(), Value::Array(facets));
    }
    if let Some(embed) = embed {
        record.insert("embed".into(), embed);
    }
    if let Some((root, parent)) = reply {
        record.insert(
            "reply".into(),
            json!({"root": root.to_json(), "parent": parent.to_json()}),
        );
    }
    Value::Object(record)
}

/// Splits `at://{repo}/{collection}/{rkey}`.
pub(crate) fn parse_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.splitn(3, '/');
    let repo = parts.next().filter(|s| !s.is_empty())?;
    let collection = parts.next().filter(|s| !s.is_empty())?;
    let rkey = parts.next().filter(|s| !s.is_empty() && !s.contains('/'))?;
    Some((repo, collection, rkey))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bluesky::facets::detect;

    #[test]
    fn unresolved_mentions_get_no_facet() {
        let text = "hi @known.test and @unknown.test #tag";
        let facets = facets_json(&detect(text), |h| {
            (h == "known.test").then(|| "did:plc:known".to_owned())
        });
        assert_eq!(facets.len(), 2);
        assert_eq!(facets[0]["features"][0]["did"], "did:plc:known");
        assert_eq!(facets[0]["index"]["byteStart"], 3);
        assert_eq!(facets[1]["features"][0]["tag"], "tag");
    }

    #[test]
    fn at_uris_split() {
        assert_eq!(
            parse_at_uri("at://did:plc:abc/app.bsky.feed.post/3l4f5g6h7j2k2"),
            Some(("did:plc:abc", "app.bsky.feed.post", "3l4f5g6h7j2k2"))
        );
        assert_eq!(parse_at_uri("https://bsky.app/x"), None);
        assert_eq!(parse_at_uri("at://did:plc:abc/app.bsky.feed.post"), None);
    }
}
