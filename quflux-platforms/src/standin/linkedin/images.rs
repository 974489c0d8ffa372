//! Images API of the LinkedIn stand-in: `initializeUpload`, the upload itself and the image
//! status polled until `AVAILABLE`.

use chrono::Utc;
use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use super::{Image, MEMBER_SUB, Router, bad_request, error};

impl Router {
    pub(super) fn initialize_upload(&self, request: &Request) -> ResponseTemplate {
        if let Some(r) = self.versioned(request) {
            return r;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return bad_request("Malformed JSON body", "");
        };
        if body["initializeUploadRequest"]["owner"].as_str().is_none() {
            return bad_request("owner is required", "initializeUploadRequest.owner");
        }
        let key = format!(
            "C4E10AQ{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let urn = format!("urn:li:image:{key}");
        self.state().images.insert(
            urn.clone(),
            Image {
                uploaded: false,
                polls: 0,
            },
        );
        let expires = (Utc::now() + chrono::Duration::hours(1)).timestamp_millis();
        ResponseTemplate::new(200).set_body_json(json!({"value": {
            "uploadUrlExpiresAt": expires,
            "uploadUrl": format!("{}/dms-uploads/{key}/uploaded-image/0", self.base),
            "image": urn
        }}))
    }

    pub(super) fn upload(&self, request: &Request, key: &str) -> ResponseTemplate {
        if let Some(r) = self.bearer(request) {
            return r;
        }
        if request.body.is_empty() {
            return ResponseTemplate::new(400).set_body_string("empty upload");
        }
        let mut state = self.state();
        match state.images.get_mut(&format!("urn:li:image:{key}")) {
            Some(image) => {
                image.uploaded = true;
                ResponseTemplate::new(201)
            }
            None => ResponseTemplate::new(404),
        }
    }

    pub(super) fn image_status(&self, request: &Request, urn: &str) -> ResponseTemplate {
        if let Some(r) = self.versioned(request) {
            return r;
        }
        let mut state = self.state();
        let processing = state.processing_polls;
        let Some(image) = state.images.get_mut(urn) else {
            return error(
                404,
                json!({"status": 404, "message": format!("Not found: {urn}")}),
            );
        };
        let status = if !image.uploaded {
            "WAITING_UPLOAD"
        } else if image.polls < processing {
            image.polls += 1;
            "PROCESSING"
        } else {
            "AVAILABLE"
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "owner": format!("urn:li:person:{MEMBER_SUB}"),
            "status": status,
            "id": urn
        }))
    }
}
