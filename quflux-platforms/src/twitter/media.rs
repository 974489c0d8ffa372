//! Media upload through the v2 chunked endpoints: initialize, append (4 MB segments),
//! finalize, `STATUS` polling until `succeeded`, then alt text via `POST /2/media/metadata`.

use std::time::{Duration, Instant};

use quflux_core::{Error, PlatformConnection, PublishMedia, Result};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::common::Idempotency;

use super::SERVICE;
use super::calls::Body;
use super::publisher::XPublisher;
use super::wire::{Data, MediaUpload};

/// Segment size of `append` (X accepts up to 5 MB).
const SEGMENT: usize = 4 * 1024 * 1024;

/// `media_category` for a MIME type.
fn category(content_type: &str) -> &'static str {
    match content_type {
        "image/gif" => "tweet_gif",
        t if t.starts_with("video/") => "tweet_video",
        _ => "tweet_image",
    }
}

impl XPublisher {
    /// Uploads `media` and sets its alt text; returns the media id to attach.
    pub(crate) async fn upload(
        &self,
        connection: &PlatformConnection,
        media: &PublishMedia,
    ) -> Result<String> {
        let content_type = media.file.content_type.to_ascii_lowercase();
        let init = json!({
            "media_type": content_type,
            "total_bytes": media.bytes.len(),
            "media_category": category(&content_type),
        });
        let answer = self
            .call(
                connection,
                Method::POST,
                "/2/media/upload/initialize",
                &[],
                Body::Json(&init),
                Idempotency::Safe,
            )
            .await?;
        let id = answer.parse::<Data<MediaUpload>>()?.data.id;
        let path = format!("/2/media/upload/{id}/append");
        for (index, chunk) in media.bytes.chunks(SEGMENT).enumerate() {
            let chunk = media.bytes.slice_ref(chunk);
            let file_name = media.file.filename.clone();
            let content_type = content_type.clone();
            let form = move || -> Result<Form> {
                let part = Part::bytes(chunk.to_vec())
                    .file_name(file_name.clone())
                    .mime_str(&content_type)
                    .map_err(|e| Error::invalid_input("media.content_type", e.to_string()))?;
                Ok(Form::new()
                    .part("media", part)
                    .text("segment_index", index.to_string()))
            };
            self.call(
                connection,
                Method::POST,
                &path,
                &[],
                Body::Multipart(&form),
                Idempotency::Safe,
            )
            .await?;
        }
        let answer = self
            .call(
                connection,
                Method::POST,
                &format!("/2/media/upload/{id}/finalize"),
                &[],
                Body::Empty,
                Idempotency::Safe,
            )
            .await?;
        let mut info = answer.parse::<Data<MediaUpload>>()?.data.processing_info;
        let started = Instant::now();
        while let Some(p) = &info {
            match p.state.as_str() {
                "succeeded" => break,
                "failed" => {
                    return Err(Error::InvalidContent {
                        service: SERVICE,
                        reason: format!("X could not process {}", media.file.filename),
                    });
                }
                _ => {}
            }
            if started.elapsed() > self.config.media_processing_timeout {
                return Err(Error::transient(
                    SERVICE,
                    format!("X is still processing media {id}"),
                ));
            }
            let wait = Duration::from_secs(p.check_after_secs.unwrap_or(1).max(1))
                .min(self.config.media_poll_cap);
            tokio::time::sleep(wait).await;
            let answer = self
                .call(
                    connection,
                    Method::GET,
                    "/2/media/upload",
                    &[("command", "STATUS"), ("media_id", &id)],
                    Body::Empty,
                    Idempotency::Safe,
                )
                .await?;
            info = answer.parse::<Data<MediaUpload>>()?.data.processing_info;
        }
        if let Some(alt) = media.alt_text.as_deref().filter(|a| !a.trim().is_empty()) {
            let body = json!({"id": id, "metadata": {"alt_text": {"text": alt}}});
            self.call(
                connection,
                Method::POST,
                "/2/media/metadata",
                &[],
                Body::Json(&body),
                Idempotency::Safe,
            )
            .await?;
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_the_mime_type() {
        assert_eq!(category("image/png"), "tweet_image");
        assert_eq!(category("image/gif"), "tweet_gif");
        assert_eq!(category("video/mp4"), "tweet_video");
    }
}
