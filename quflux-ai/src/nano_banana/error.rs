//! [`classify`]: every failed Gemini call, mapped to a [`quflux_core::Error`].

use std::time::Duration;

use quflux_core::{Error, Secret};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::PROVIDER;
use super::wire::{ErrorBody, GenerateContentResponse};
use crate::http::{ApiError, malformed, retry_after};

/// Finish reasons that mean the output was blocked.
const BLOCKED: [&str; 8] = [
    "SAFETY",
    "IMAGE_SAFETY",
    "PROHIBITED_CONTENT",
    "IMAGE_PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_RECITATION",
];

/// Finish reasons that mean the model chose not to draw.
const NO_IMAGE: [&str; 3] = ["NO_IMAGE", "IMAGE_OTHER", "STOP"];

/// Classifies a response that did not carry an image: an HTTP error, or an HTTP 200 answer
/// without an image part.
///
/// | response | error |
/// |---|---|
/// | 429 `RESOURCE_EXHAUSTED` | `RateLimited` (`Retry-After`, else `RetryInfo.retryDelay`) |
/// | 400 with `API_KEY_INVALID`; 401, 403 | `Config`: the API key |
/// | 400 `FAILED_PRECONDITION` (region, billing); 404 (unknown model) | `Config` |
/// | other 400 `INVALID_ARGUMENT` | `InvalidContent` with Google's message |
/// | 408, 500, 502, 503 `UNAVAILABLE`, 504 | `Transient` |
/// | 200 with `promptFeedback.blockReason` | `InvalidContent`: the prompt was blocked |
/// | 200 with `finishReason` `SAFETY`, `IMAGE_SAFETY`, `PROHIBITED_CONTENT`, … | `InvalidContent`: the image was blocked |
/// | 200 with `NO_IMAGE`, `IMAGE_OTHER`, or a text-only answer | `InvalidContent` with the model's text |
/// | anything else | `Other` with the raw response |
pub(super) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    key: Option<&Secret<String>>,
) -> Error {
    if status.is_success() {
        return no_image(body, key);
    }
    let error = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_default();
    let reason = error_info_reason(&error.details);
    let source = ApiError::new(
        status,
        error.status.clone(),
        Some(error.message.clone()),
        body,
        key,
    );
    let google_status = error.status.as_deref().unwrap_or("");
    match status.as_u16() {
        429 => Error::RateLimited {
            service: PROVIDER,
            retry_after: retry_after(headers).or_else(|| retry_delay(&error.details)),
            source: Some(source.into()),
        },
        400 if reason.as_deref() == Some("API_KEY_INVALID")
            || error.message.contains("API key not valid") =>
        {
            Error::Config(format!(
                "{PROVIDER}: the API key is not valid (api_key, QUFLUX_NANO_BANANA_API_KEY)"
            ))
        }
        400 if google_status == "FAILED_PRECONDITION" => {
            Error::Config(format!("{PROVIDER}: {}", source.message))
        }
        401 | 403 => Error::Config(format!(
            "{PROVIDER}: the API key was refused (api_key, QUFLUX_NANO_BANANA_API_KEY): {source}"
        )),
        404 => Error::Config(format!(
            "{PROVIDER}: {} (check the model id: model, QUFLUX_NANO_BANANA_MODEL)",
            source.message
        )),
        400 | 413 => Error::InvalidContent {
            service: PROVIDER,
            reason: source.message,
        },
        408 | 500 | 502 | 503 | 504 => Error::transient(PROVIDER, source),
        _ => Error::other(PROVIDER, source),
    }
}

/// An HTTP 200 answer without an image.
fn no_image(body: &[u8], key: Option<&Secret<String>>) -> Error {
    let response: GenerateContentResponse = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return malformed(PROVIDER, e.to_string(), body, key),
    };
    if let Some(feedback) = &response.prompt_feedback
        && let Some(block) = &feedback.block_reason
    {
        let message = feedback
            .block_reason_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Error::InvalidContent {
            service: PROVIDER,
            reason: format!("the prompt was blocked ({block}){message}"),
        };
    }
    let Some(candidate) = response.candidates.first() else {
        return malformed(PROVIDER, "no candidates", body, key);
    };
    let finish = candidate.finish_reason.as_deref().unwrap_or("");
    let mut text = response.text();
    if text.is_empty() {
        text = candidate.finish_message.clone().unwrap_or_default();
    }
    let with_text = |what: String| {
        if text.is_empty() {
            what
        } else {
            format!("{what}: {text}")
        }
    };
    if BLOCKED.contains(&finish) {
        Error::InvalidContent {
            service: PROVIDER,
            reason: with_text(format!("the image was blocked ({finish})")),
        }
    } else if NO_IMAGE.contains(&finish) || (finish.is_empty() && !text.is_empty()) {
        let finish = if finish.is_empty() { "STOP" } else { finish };
        Error::InvalidContent {
            service: PROVIDER,
            reason: with_text(format!("no image was returned ({finish})")),
        }
    } else {
        malformed(
            PROVIDER,
            format!("no image part (finishReason {finish:?})"),
            body,
            key,
        )
    }
}

/// `ErrorInfo.reason` from the details, e.g. `API_KEY_INVALID`.
fn error_info_reason(details: &[Value]) -> Option<String> {
    details
        .iter()
        .filter(|d| type_is(d, "google.rpc.ErrorInfo"))
        .find_map(|d| d.get("reason")?.as_str().map(str::to_owned))
}

/// `RetryInfo.retryDelay` from the details (`"37s"`).
fn retry_delay(details: &[Value]) -> Option<Duration> {
    details
        .iter()
        .filter(|d| type_is(d, "google.rpc.RetryInfo"))
        .find_map(|d| parse_seconds(d.get("retryDelay")?.as_str()?))
}

/// Parses a Google-style duration (`"37s"`, `"1.5s"`).
fn parse_seconds(value: &str) -> Option<Duration> {
    value
        .trim()
        .strip_suffix('s')?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

fn type_is(detail: &Value, name: &str) -> bool {
    detail
        .get("@type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quflux_core::ErrorKind;

    fn status(code: u16, body: &str) -> Error {
        classify(
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            None,
        )
    }

    #[test]
    fn google_durations_parse() {
        assert_eq!(parse_seconds("37s"), Some(Duration::from_secs(37)));
        assert_eq!(parse_seconds("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_seconds("soon"), None);
    }

    #[test]
    fn quota_errors_carry_the_retry_delay() {
        let e = status(
            429,
            r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(37)));
        assert_eq!(
            e.detailed_message(),
            "nano-banana rate limit reached: HTTP 429 RESOURCE_EXHAUSTED: Quota exceeded"
        );
    }

    #[test]
    fn key_and_model_problems_are_configuration() {
        let e = status(
            400,
            r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",
            "status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",
            "reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = status(
            403,
            r#"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = status(
            404,
            r#"{"error":{"code":404,"message":"models/nope is not found","status":"NOT_FOUND"}}"#,
        );
        assert!(e.to_string().contains("models/nope is not found"), "{e}");
        let e = status(
            400,
            r#"{"error":{"code":400,"message":"Unsupported aspect ratio","status":"INVALID_ARGUMENT"}}"#,
        );
        assert_eq!(
            e.to_string(),
            "nano-banana rejected the content: Unsupported aspect ratio"
        );
        assert_eq!(status(503, "overloaded").kind(), ErrorKind::Transient);
        assert_eq!(status(418, "").kind(), ErrorKind::Other);
    }

    #[test]
    fn blocked_and_text_only_answers_are_invalid_content() {
        let e = status(
            200,
            r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"modelVersion":"m"}"#,
        );
        assert_eq!(
            e.to_string(),
            "nano-banana rejected the content: the prompt was blocked (PROHIBITED_CONTENT)"
        );
        let e = status(
            200,
            r#"{"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"IMAGE_SAFETY"}]}"#,
        );
        assert_eq!(
            e.to_string(),
            "nano-banana rejected the content: the image was blocked (IMAGE_SAFETY)"
        );
        let e = status(
            200,
            r#"{"candidates":[{"content":{"parts":[{"text":"I can't draw that."}]},"finishReason":"STOP"}]}"#,
        );
        assert_eq!(
            e.to_string(),
            "nano-banana rejected the content: no image was returned (STOP): I can't draw that."
        );
        assert_eq!(status(200, "{not json").kind(), ErrorKind::Other);
    }
}
