//! The one place where Mastodon answers become core errors.

use chrono::{DateTime, Utc};
use quflux_core::Error;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::PLATFORM;
use super::wire::ErrorBody;
use crate::common::http::{PlatformResponse, header, retry_after_header, until_iso_header};

/// Rate-limit reset header: an ISO-8601 timestamp on Mastodon (README §5.5).
pub(crate) const RESET_HEADER: &str = "x-ratelimit-reset";
/// Rate-limit remaining header.
pub(crate) const REMAINING_HEADER: &str = "x-ratelimit-remaining";

/// The `error` message of a Mastodon error body, or the raw excerpt.
pub(crate) fn message(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            error: Some(error),
            error_description,
        }) => match error_description {
            Some(d) => format!("{error} ({d})"),
            None => error,
        },
        _ => crate::common::http::excerpt(body),
    }
}

/// Maps a non-success Mastodon answer to the core error (README §5.4, §5.5):
///
/// | status | error |
/// |---|---|
/// | 401, 403 (outside the authorized scopes) | `AuthExpired`: the user must authorize again |
/// | 404, 410 | `NotFound` |
/// | 422 "not finished processing" | `Transient`: the media will be ready in a moment |
/// | 422, 400 | `InvalidContent` with the instance's message |
/// | 429 | `RateLimited`, waiting until `X-RateLimit-Reset` (ISO-8601) |
/// | 503 (lock on the same `Idempotency-Key`), other 5xx | `Transient` |
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Error {
    let source = || PlatformResponse::boxed(status, body);
    match status.as_u16() {
        401 | 403 => Error::AuthExpired {
            service: PLATFORM,
            source: Some(source()),
        },
        404 | 410 => Error::not_found(format!("{PLATFORM} record ({})", message(body))),
        422 if message(body).contains("not finished processing") => {
            Error::transient(PLATFORM, source())
        }
        400 | 413 | 422 => Error::InvalidContent {
            service: PLATFORM,
            reason: message(body),
        },
        429 => Error::RateLimited {
            service: PLATFORM,
            retry_after: until_iso_header(headers, RESET_HEADER, now)
                .or_else(|| retry_after_header(headers, now)),
            source: Some(source()),
        },
        500..=599 => Error::transient(PLATFORM, source()),
        _ => Error::other(PLATFORM, source()),
    }
}

/// The `X-RateLimit-Remaining` and `X-RateLimit-Reset` of an answer, if both are there.
pub(crate) fn rate_headers(headers: &HeaderMap) -> Option<(i64, DateTime<Utc>)> {
    let remaining = header(headers, REMAINING_HEADER)?.parse().ok()?;
    let reset = DateTime::parse_from_rfc3339(header(headers, RESET_HEADER)?).ok()?;
    Some((remaining, reset.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use quflux_core::ErrorKind;
    use reqwest::header::HeaderValue;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-09-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn kind(status: u16, body: &str) -> ErrorKind {
        classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            now(),
        )
        .kind()
    }

    #[test]
    fn documented_errors_are_classified() {
        assert_eq!(
            kind(401, r#"{"error":"The access token is invalid"}"#),
            ErrorKind::AuthExpired
        );
        assert_eq!(
            kind(
                403,
                r#"{"error":"This action is outside the authorized scopes"}"#
            ),
            ErrorKind::AuthExpired
        );
        assert_eq!(
            kind(404, r#"{"error":"Record not found"}"#),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(
                422,
                r#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#
            ),
            ErrorKind::InvalidContent
        );
        assert_eq!(
            kind(
                422,
                r#"{"error":"Cannot attach files that have not finished processing. Try again in a moment!"}"#
            ),
            ErrorKind::Transient
        );
        assert_eq!(
            kind(
                503,
                r#"{"error":"There was a temporary problem serving your request, please try again"}"#
            ),
            ErrorKind::Transient
        );
        assert_eq!(kind(500, "<html>oops</html>"), ErrorKind::Transient);
        assert_eq!(kind(418, "{}"), ErrorKind::Other);
    }

    #[test]
    fn invalid_content_carries_the_instance_message() {
        let e = classify(
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            br#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#,
            now(),
        );
        assert!(e.to_string().contains("character limit of 500"), "{e}");
    }

    #[test]
    fn rate_limit_waits_until_the_iso_reset() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("300"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-09-20T12:05:00.000000Z"),
        );
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            br#"{"error":"Too many requests"}"#,
            now(),
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(300)));
        let (remaining, reset) = rate_headers(&h).unwrap();
        assert_eq!(remaining, 0);
        assert!(reset > now());
    }

    #[test]
    fn error_bodies_never_leak_into_debug_beyond_an_excerpt() {
        let long = "x".repeat(1000);
        let e = classify(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            long.as_bytes(),
            now(),
        );
        assert!(e.detailed_message().len() < 400);
    }
}
