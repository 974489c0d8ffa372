//! [`classify`]: every failed OpenAI-compatible call, mapped to a [`quflux_core::Error`].

use quflux_core::{Error, Secret};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::PROVIDER;
use super::wire::{ApiErrorBody, ChatResponse};
use crate::http::{ApiError, malformed, retry_after};

/// Error codes that mean a content filter refused the request.
const FILTERED: [&str; 4] = [
    "content_filter",
    "content_policy_violation",
    "moderation_blocked",
    "safety_violation",
];

/// Classifies a response without a usable answer: an HTTP error, or an HTTP 200 chat
/// completion without text.
///
/// | response | error |
/// |---|---|
/// | 429 | `RateLimited` (`retry-after-ms` / `retry-after`); `insufficient_quota` → `Config` |
/// | 401, 403 | `Config`: the API key |
/// | 404 | `Config`: base URL or model (image generation maps a bare 404 to `Unsupported` first) |
/// | 400, 413, 422 | `InvalidContent` (a content-filter code says so) |
/// | 408, 500, 502, 503, 504, 529 | `Transient` |
/// | 200 with `finish_reason: "content_filter"` or a `refusal` | `InvalidContent` |
/// | 200 with only `tool_calls`, or no text | `Other` |
/// | anything else | `Other` with the raw response |
pub(super) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    key: Option<&Secret<String>>,
) -> Error {
    if status.is_success() {
        return no_text(body, key);
    }
    let error = ApiErrorBody::parse(body);
    let code = error.code.clone().unwrap_or_default();
    let filtered = FILTERED.contains(&code.as_str())
        || error.kind.as_deref().is_some_and(|k| FILTERED.contains(&k));
    let source = ApiError::new(
        status,
        error.code.clone().or(error.kind.clone()),
        Some(error.message.clone()),
        body,
        key,
    );
    match status.as_u16() {
        429 if code == "insufficient_quota" => Error::Config(format!(
            "{PROVIDER}: the account behind api_key has no quota left: {}",
            source.message
        )),
        429 => Error::RateLimited {
            service: PROVIDER,
            retry_after: retry_after(headers),
            source: Some(source.into()),
        },
        401 | 403 => Error::Config(format!(
            "{PROVIDER}: the API key was refused (api_key, QUFLUX_OPENAI_COMPATIBLE_API_KEY): \
             {source}"
        )),
        404 => Error::Config(format!(
            "{PROVIDER}: {source} (check base_url and the model id)"
        )),
        400 | 413 | 422 if filtered => Error::InvalidContent {
            service: PROVIDER,
            reason: format!("blocked by the content filter: {}", source.message),
        },
        400 | 413 | 422 => Error::InvalidContent {
            service: PROVIDER,
            reason: source.message,
        },
        408 | 500 | 502 | 503 | 504 | 529 => Error::transient(PROVIDER, source),
        _ => Error::other(PROVIDER, source),
    }
}

/// Whether a 404 says the model is unknown (rather than the route).
pub(super) fn is_unknown_model(body: &[u8]) -> bool {
    let error = ApiErrorBody::parse(body);
    error.code.as_deref() == Some("model_not_found")
        || error.message.to_ascii_lowercase().contains("model")
}

/// An HTTP 200 chat completion without text.
fn no_text(body: &[u8], key: Option<&Secret<String>>) -> Error {
    let response: ChatResponse = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return malformed(PROVIDER, e.to_string(), body, key),
    };
    let Some(choice) = response.choices.first() else {
        return malformed(PROVIDER, "no choices", body, key);
    };
    let finish = choice.finish_reason.as_deref().unwrap_or("");
    let message = choice.message.as_ref();
    if let Some(refusal) = message.and_then(|m| m.refusal.as_deref()) {
        return Error::InvalidContent {
            service: PROVIDER,
            reason: format!("the model refused: {refusal}"),
        };
    }
    if finish == "content_filter" {
        return Error::InvalidContent {
            service: PROVIDER,
            reason: "the reply was withheld by the content filter (content_filter)".to_owned(),
        };
    }
    if message.is_some_and(|m| m.tool_calls.as_ref().is_some_and(|t| !t.is_empty())) {
        return Error::other(
            PROVIDER,
            "the model answered with tool calls instead of text",
        );
    }
    Error::other(
        PROVIDER,
        format!("the model's reply has no usable text (finish_reason {finish:?})"),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use quflux_core::ErrorKind;
    use reqwest::header::HeaderValue;

    fn status(code: u16, body: &str) -> Error {
        classify(
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            None,
        )
    }

    #[test]
    fn http_errors_are_classified() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("20"));
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
            None,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(20)));
        assert_eq!(
            e.detailed_message(),
            "openai-compatible rate limit reached: HTTP 429 rate_limit_exceeded: Rate limit reached"
        );
        let e = status(
            429,
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        let key = Secret::new("sk-abcdef123".to_owned());
        let e = classify(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            br#"{"error":{"message":"Incorrect API key provided: sk-abcdef123","code":"invalid_api_key"}}"#,
            Some(&key),
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.to_string().contains("sk-abcdef123"), "{e}");
        let e = status(
            400,
            r#"{"error":{"message":"Your request was rejected by the safety system","code":"content_policy_violation"}}"#,
        );
        assert_eq!(
            e.to_string(),
            "openai-compatible rejected the content: blocked by the content filter: Your request was rejected by the safety system"
        );
        assert_eq!(status(503, "").kind(), ErrorKind::Transient);
        assert_eq!(
            status(404, r#"{"error":"model 'x' not found"}"#).kind(),
            ErrorKind::Config
        );
    }

    #[test]
    fn filtered_and_tool_call_answers_are_errors() {
        let e = status(
            200,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"content_filter"}]}"#,
        );
        assert_eq!(e.kind(), ErrorKind::InvalidContent);
        let e = status(
            200,
            r#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
        );
        assert!(e.detailed_message().contains("tool calls"), "{e}");
        assert_eq!(status(200, "not json").kind(), ErrorKind::Other);
        assert!(is_unknown_model(
            br#"{"error":{"message":"The model `x` does not exist","code":"model_not_found"}}"#
        ));
        assert!(!is_unknown_model(b"404 page not found"));
    }
}
