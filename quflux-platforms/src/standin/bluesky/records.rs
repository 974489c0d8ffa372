//! Repository writes of the Bluesky stand-in: `uploadBlob`, `createRecord` (with the post
//! lexicon checks and faults) and `deleteRecord`.

use chrono::Utc;
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;
use wiremock::{Request, ResponseTemplate};

use crate::bluesky::tid;

use super::{
    BlueskyFault, StandInRecord, State, Stored, TIMEOUT_DELAY, cid, error, ok, rate_limited,
    with_headers,
};

pub(super) fn upload_blob(
    s: &mut State,
    request: &Request,
) -> Result<ResponseTemplate, ResponseTemplate> {
    s.auth(request)?;
    let mime = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    if request.body.len() > 5 * 1024 * 1024 {
        return Err(error(400, "PayloadTooLarge", "request entity too large"));
    }
    let link = cid("bafkrei", &request.body);
    s.blobs.insert(link.clone());
    Ok(ok(
        json!({"blob": {"$type": "blob", "ref": {"$link": link}, "mimeType": mime,
        "size": request.body.len()}}),
    ))
}

pub(super) fn invalid(message: &str) -> ResponseTemplate {
    error(400, "InvalidRequest", message)
}

/// Checks a post record the way the PDS's lexicon validation does (the subset Quflux uses).
pub(super) fn check_post(s: &State, did: &str, record: &Value) -> Result<(), ResponseTemplate> {
    let bad = |m: &str| invalid(&format!("Invalid app.bsky.feed.post record: {m}"));
    if record["$type"] != "app.bsky.feed.post" {
        return Err(bad("Record/$type must be app.bsky.feed.post"));
    }
    let text = record["text"]
        .as_str()
        .ok_or_else(|| bad("Record/text must be a string"))?;
    if text.graphemes(true).count() > 300 {
        return Err(bad("Record/text must not be longer than 300 graphemes"));
    }
    if text.len() > 3_000 {
        return Err(bad("Record/text must not be longer than 3000 characters"));
    }
    let created = record["createdAt"].as_str().unwrap_or_default();
    if chrono::DateTime::parse_from_rfc3339(created).is_err() {
        return Err(bad("Record/createdAt must be an valid atproto datetime"));
    }
    for facet in record["facets"].as_array().into_iter().flatten() {
        let start = facet["index"]["byteStart"].as_u64().unwrap_or(u64::MAX) as usize;
        let end = facet["index"]["byteEnd"].as_u64().unwrap_or(u64::MAX) as usize;
        if start > end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return Err(bad("Record/facets/index is outside the text"));
        }
    }
    for image in record["embed"]["images"].as_array().into_iter().flatten() {
        let link = image["image"]["ref"]["$link"].as_str().unwrap_or_default();
        if !s.blobs.contains(link) {
            return Err(invalid(&format!("Could not find blob: {link}")));
        }
        if !image["alt"].is_string() {
            return Err(bad("Record/embed/images/0 must have the property \"alt\""));
        }
    }
    if record["reply"].is_object() {
        for which in ["root", "parent"] {
            let uri = record["reply"][which]["uri"].as_str().unwrap_or_default();
            let known = s.records.iter().any(|r| {
                r.record.uri == uri
                    && Some(r.record.cid.as_str()) == record["reply"][which]["cid"].as_str()
            });
            if !known {
                return Err(bad(&format!("Record/reply/{which} does not exist")));
            }
        }
    }
    let _ = did;
    Ok(())
}

pub(super) fn create_record(
    s: &mut State,
    request: &Request,
    body: &Value,
) -> Result<ResponseTemplate, ResponseTemplate> {
    let did = s.auth(request)?;
    match s.fault.take() {
        Some(BlueskyFault::RateLimited) => {
            let reset = Utc::now().timestamp() + 1;
            s.rate_reset = Some(reset);
            return Err(rate_limited(reset));
        }
        Some(BlueskyFault::InvalidContent) => {
            return Err(invalid(
                "Invalid app.bsky.feed.post record: Record/langs/0 must be a valid language code",
            ));
        }
        Some(BlueskyFault::ServerError) => {
            return Err(error(500, "InternalServerError", "Internal Server Error"));
        }
        other => s.fault = other,
    }
    let repo = body["repo"].as_str().unwrap_or_default();
    if repo != did {
        return Err(invalid(&format!("Invalid repo: {repo}")));
    }
    let collection = body["collection"].as_str().unwrap_or_default().to_owned();
    let rkey = match body["rkey"].as_str() {
        Some(k) if tid::is_valid(k) => k.to_owned(),
        Some(k) => return Err(invalid(&format!("Invalid record key: {k}"))),
        None => {
            s.serial += 1;
            tid::encode(((Utc::now().timestamp_micros() as u64) << 10) | (s.serial & 0x3ff))
        }
    };
    let record = body["record"].clone();
    if collection == "app.bsky.feed.post" {
        check_post(s, &did, &record)?;
    }
    if s.find(&did, &collection, &rkey).is_some() {
        // @atproto/pds fails inside the MST ("There is already a value at key").
        return Err(error(500, "InternalServerError", "Internal Server Error"));
    }
    let headers = s.spend(&did, 3)?;
    let uri = format!("at://{did}/{collection}/{rkey}");
    let cid = cid("bafyrei", record.to_string().as_bytes());
    s.serial += 1;
    let rev = tid::encode(((Utc::now().timestamp_micros() as u64) << 10) | (s.serial & 0x3ff));
    s.records.push(Stored {
        did: did.clone(),
        collection,
        rkey,
        record: StandInRecord {
            uri: uri.clone(),
            cid: cid.clone(),
            value: record,
        },
    });
    let mut answer = with_headers(
        ok(
            json!({"uri": uri, "cid": cid, "commit": {"cid": cid, "rev": rev},
            "validationStatus": "valid"}),
        ),
        headers,
    );
    if s.fault.take() == Some(BlueskyFault::TimeoutAfterCreate) {
        answer = answer.set_delay(TIMEOUT_DELAY);
    }
    Ok(answer)
}

pub(super) fn delete_record(
    s: &mut State,
    request: &Request,
    body: &Value,
) -> Result<ResponseTemplate, ResponseTemplate> {
    let did = s.auth(request)?;
    if body["repo"].as_str() != Some(did.as_str()) {
        return Err(invalid("Invalid repo"));
    }
    let collection = body["collection"].as_str().unwrap_or_default();
    let rkey = body["rkey"].as_str().unwrap_or_default();
    let headers = s.spend(&did, 1)?;
    s.records
        .retain(|r| !(r.did == did && r.collection == collection && r.rkey == rkey));
    Ok(with_headers(ok(json!({})), headers))
}
