//! The one place Bluesky answers become core errors.

use chrono::{DateTime, Utc};
use quflux_core::Error;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::PLATFORM;
use crate::common::Idempotency;
use crate::common::http::{PlatformResponse, until_epoch_header};

/// The XRPC error body: `{"error": "<Name>", "message": "…"}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct XrpcError {
    #[serde(default)]
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) message: String,
}

impl XrpcError {
    pub(crate) fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// An access token the PDS refused because it expired or cannot be verified: refresh and
    /// retry once.
    pub(crate) fn is_token_rejection(&self) -> bool {
        matches!(self.error.as_str(), "ExpiredToken" | "InvalidToken")
    }
}

/// Maps a non-2xx XRPC answer. `idempotency` says whether the request may have been applied
/// although it failed (a 500 after a create).
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    idempotency: Idempotency,
    now: DateTime<Utc>,
) -> Error {
    let wire = XrpcError::parse(body);
    let source = PlatformResponse::boxed(status, body);
    match (status.as_u16(), wire.error.as_str()) {
        (429, _) | (_, "RateLimitExceeded") => Error::RateLimited {
            service: PLATFORM,
            retry_after: until_epoch_header(headers, "ratelimit-reset", now)
                .or_else(|| crate::common::http::retry_after_header(headers, now)),
            source: Some(source),
        },
        (
            _,
            "ExpiredToken"
            | "InvalidToken"
            | "AuthenticationRequired"
            | "AuthMissing"
            | "AuthFactorTokenRequired"
            | "AccountTakedown"
            | "AccountDeactivated",
        )
        | (401 | 403, _) => Error::AuthExpired {
            service: PLATFORM,
            source: Some(source),
        },
        (_, "RecordNotFound" | "RepoNotFound") | (404, _) => {
            Error::not_found(format!("bluesky record ({})", wire.message))
        }
        (
            _,
            "InvalidRequest" | "InvalidSwap" | "BlobTooLarge" | "InvalidMimeType"
            | "PayloadTooLarge",
        )
        | (413, _) => Error::InvalidContent {
            service: PLATFORM,
            reason: if wire.message.is_empty() {
                format!("{} ({status})", wire.error)
            } else {
                wire.message
            },
        },
        (500, _) if idempotency == Idempotency::Unsafe => Error::OutcomeUnknown {
            service: PLATFORM,
            source,
        },
        (500..=599, _) => Error::Transient {
            service: PLATFORM,
            source,
        },
        _ => Error::Other {
            service: PLATFORM,
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quflux_core::ErrorKind;
    use reqwest::header::HeaderValue;
    use std::time::Duration;

    fn kind(status: u16, body: &str, idempotency: Idempotency) -> Error {
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("1060"));
        let now = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        classify(
            StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            &h,
            body.as_bytes(),
            idempotency,
            now,
        )
    }

    #[test]
    fn every_documented_answer_is_classified() {
        use Idempotency::*;
        let e = kind(
            429,
            r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
            Safe,
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        for body in [
            r#"{"error":"ExpiredToken","message":"Token has expired"}"#,
            r#"{"error":"InvalidToken","message":"Token could not be verified"}"#,
        ] {
            assert_eq!(kind(400, body, Unsafe).kind(), ErrorKind::AuthExpired);
        }
        assert_eq!(
            kind(
                401,
                r#"{"error":"AuthMissing","message":"Authentication Required"}"#,
                Safe
            )
            .kind(),
            ErrorKind::AuthExpired
        );
        let e = kind(
            400,
            r#"{"error":"InvalidRequest","message":"Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"}"#,
            Unsafe,
        );
        assert_eq!(e.kind(), ErrorKind::InvalidContent);
        assert!(e.to_string().contains("300 graphemes"));
        assert_eq!(
            kind(
                400,
                r#"{"error":"RecordNotFound","message":"Could not locate record"}"#,
                Safe
            )
            .kind(),
            ErrorKind::NotFound
        );
        let internal = r#"{"error":"InternalServerError","message":"Internal Server Error"}"#;
        assert_eq!(
            kind(500, internal, Unsafe).kind(),
            ErrorKind::OutcomeUnknown
        );
        assert_eq!(kind(500, internal, Safe).kind(), ErrorKind::Transient);
        assert_eq!(
            kind(502, "bad gateway", Unsafe).kind(),
            ErrorKind::Transient
        );
        assert_eq!(kind(418, "", Safe).kind(), ErrorKind::Other);
    }
}
