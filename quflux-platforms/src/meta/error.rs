//! The Graph API error envelope, the usage headers, and the one `classify` of the Meta adapter.

use std::time::Duration;

use quflux_core::Error;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::common::http::{PlatformResponse, header};

/// Wait assumed when a throttling answer carries no `estimated_time_to_regain_access`
/// (the app/user limits are computed over a rolling hour).
pub const DEFAULT_THROTTLE_WAIT: Duration = Duration::from_secs(300);
/// Wait assumed when the Instagram publishing cap (rolling 24 h) is reached.
pub const PUBLISH_CAP_WAIT: Duration = Duration::from_secs(3600);

/// `{"error": {...}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub error: GraphError,
}

/// The Graph error object. Contract: `code` + `error_subcode` + `is_transient`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
}

/// Whether the failed request could have created something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// A read, or a write that creates nothing visible (an unpublished photo, a container).
    Read,
    /// A request that creates a post (`/feed`, published `/photos`, `media_publish`), on the
    /// first attempt of its publication.
    Create,
    /// The same create on a later attempt of the same publication: a duplicate refusal may be
    /// the earlier attempt's post, so it is an unknown outcome to look up (README §3.4).
    Recreate,
}

impl Op {
    /// The create of attempt `attempt` (1-based) of a publication.
    pub(crate) fn create(attempt: u32) -> Self {
        if attempt > 1 {
            Self::Recreate
        } else {
            Self::Create
        }
    }

    /// Whether the request could have created a post.
    pub(crate) fn creates(self) -> bool {
        !matches!(self, Self::Read)
    }
}

/// Highest percentage in the usage headers that concern `account` (`X-App-Usage`,
/// `X-Page-Usage`, and the account's `X-Business-Use-Case-Usage` entries), and the longest
/// `estimated_time_to_regain_access`.
pub(crate) fn usage(headers: &HeaderMap, account: &str) -> (Option<u32>, Option<Duration>) {
    let mut max: Option<u32> = None;
    let mut wait: Option<Duration> = None;
    let mut bump = |v: &serde_json::Value| {
        for key in ["call_count", "total_time", "total_cputime"] {
            if let Some(p) = v.get(key).and_then(serde_json::Value::as_u64) {
                let p = u32::try_from(p).unwrap_or(u32::MAX);
                max = Some(max.map_or(p, |m| m.max(p)));
            }
        }
    };
    for name in ["x-app-usage", "x-page-usage"] {
        if let Some(v) = header(headers, name).and_then(|s| serde_json::from_str(s).ok()) {
            bump(&v);
        }
    }
    if let Some(buc) = header(headers, "x-business-use-case-usage")
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        && let Some(map) = buc.as_object()
    {
        for (id, entries) in map {
            if id != account {
                continue;
            }
            for entry in entries.as_array().into_iter().flatten() {
                bump(entry);
                if let Some(m) = entry
                    .get("estimated_time_to_regain_access")
                    .and_then(serde_json::Value::as_u64)
                    .filter(|m| *m > 0)
                {
                    let d = Duration::from_secs(m * 60);
                    wait = Some(wait.map_or(d, |w| w.max(d)));
                }
            }
        }
    }
    (max, wait)
}

/// The one mapping of a Graph API failure into the core error (README §3.4).
///
/// - 190 (and 102), 10, 200–299 → `AuthExpired` (token expired/revoked, or permission missing:
///   the user must log in again).
/// - 4/2207051 (Instagram anti-spam) → `InvalidContent` (do not retry quickly).
/// - 4, 17, 32, 613, 80001, 80002 → `RateLimited`, waiting `estimated_time_to_regain_access`
///   minutes from `X-Business-Use-Case-Usage`, else [`DEFAULT_THROTTLE_WAIT`].
/// - 9 / 2207042 (Instagram publishing cap) → `RateLimited` ([`PUBLISH_CAP_WAIT`]).
/// - 506, 368 (duplicate / already posted): on a first attempt → `InvalidContent`; on a later
///   attempt ([`Op::Recreate`]) → `OutcomeUnknown`, since it may be the earlier attempt's post
///   ("treat as 'already posted', look it up").
/// - 100 (invalid parameter), 36000 (image too large) → `InvalidContent`; 100/33 (object does
///   not exist) and HTTP 404 → `NotFound`.
/// - 9007/2207027 (container not ready), -2/2207020 (container expired), and the Instagram
///   server-side failures -1/-2 with 2207001/2207003/2207032/2207053 → `Transient` (nothing was
///   published; the next attempt polls or recreates the container).
/// - 1, 2 (any HTTP status) and any 5xx carrying a Graph error envelope, 503 included, on a
///   create → `OutcomeUnknown`: Meta has been observed to create the post anyway, so it must be
///   looked up before any retry ("never blind-retry"). On a read, → `Transient`.
/// - HTTP 503 without a Graph error envelope → `Transient`: the front end refused the request
///   and the Graph API never handled it. Other 5xx without an envelope (a gateway that may
///   have forwarded the request) → `OutcomeUnknown` on a create.
pub(crate) fn classify(
    service: &'static str,
    op: Op,
    status: StatusCode,
    headers: &HeaderMap,
    account: &str,
    body: &[u8],
) -> Error {
    // A Graph answer has `{"error": {...}}`; anything else came from in front of the API.
    let graph_answered = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v.get("error").is_some_and(serde_json::Value::is_object));
    let envelope: Option<Envelope> = serde_json::from_slice(body).ok();
    let e = envelope.map(|e| e.error).unwrap_or_default();
    let source = || PlatformResponse::boxed(status, body);
    let reason = || {
        let text = e
            .error_user_msg
            .clone()
            .unwrap_or_else(|| e.message.clone());
        match e.error_subcode {
            Some(sub) => format!("({}/{sub}) {text}", e.code),
            None => format!("({}) {text}", e.code),
        }
    };
    let throttled = |wait: Option<Duration>| Error::RateLimited {
        service,
        retry_after: Some(wait.unwrap_or(DEFAULT_THROTTLE_WAIT)),
        source: Some(source()),
    };
    let sub = e.error_subcode.unwrap_or(0);
    match (e.code, sub) {
        (190 | 102 | 10 | 200..=299, _) => Error::AuthExpired {
            service,
            source: Some(source()),
        },
        (4, 2_207_051) => Error::InvalidContent {
            service,
            reason: reason(),
        },
        (4 | 17 | 32 | 613 | 80_001 | 80_002, _) => throttled(usage(headers, account).1),
        (9, _) => Error::RateLimited {
            service,
            retry_after: Some(PUBLISH_CAP_WAIT),
            source: Some(source()),
        },
        (100, 33) => Error::not_found(format!("{service} object ({})", e.message)),
        (506 | 368, _) if op == Op::Recreate => Error::OutcomeUnknown {
            service,
            source: format!(
                "duplicate refused on a retry, maybe the earlier attempt's post: {}",
                reason()
            )
            .into(),
        },
        (506 | 368 | 100 | 36_000, _) => Error::InvalidContent {
            service,
            reason: reason(),
        },
        (9007, _) | (-2, 2_207_020 | 2_207_003) | (-1, 2_207_001 | 2_207_032 | 2_207_053) => {
            Error::transient(service, source())
        }
        _ if status == StatusCode::NOT_FOUND => {
            Error::not_found(format!("{service} object ({})", e.message))
        }
        (1 | 2, _) => server_error(service, op, source()),
        _ if status == StatusCode::SERVICE_UNAVAILABLE && !graph_answered => {
            Error::transient(service, source())
        }
        _ if status.is_server_error() => server_error(service, op, source()),
        _ if e.is_transient == Some(true) => Error::transient(service, source()),
        _ if status.is_client_error() && e.code != 0 => Error::InvalidContent {
            service,
            reason: reason(),
        },
        _ => Error::other(service, source()),
    }
}

/// A server-side failure: the post may exist if the request could create one.
fn server_error(service: &'static str, op: Op, source: quflux_core::BoxError) -> Error {
    if op.creates() {
        Error::OutcomeUnknown { service, source }
    } else {
        Error::transient(service, source)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use quflux_core::ErrorKind;
    use reqwest::header::HeaderValue;

    fn body(code: i64, sub: Option<i64>) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"error": {
            "message": "m", "type": "OAuthException", "code": code, "error_subcode": sub,
            "fbtrace_id": "A"}}))
        .unwrap()
    }

    fn kind(op: Op, status: u16, code: i64, sub: Option<i64>) -> ErrorKind {
        classify(
            "facebook",
            op,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            "105",
            &body(code, sub),
        )
        .kind()
    }

    #[test]
    fn every_documented_code_is_classified() {
        use ErrorKind::*;
        let cases: &[(u16, i64, Option<i64>, ErrorKind)] = &[
            (400, 190, Some(463), AuthExpired),
            (400, 190, Some(460), AuthExpired),
            (403, 10, None, AuthExpired),
            (403, 200, None, AuthExpired),
            (400, 100, None, InvalidContent),
            (400, 100, Some(33), NotFound),
            (403, 4, None, RateLimited),
            (400, 17, None, RateLimited),
            (400, 32, None, RateLimited),
            (400, 613, None, RateLimited),
            (400, 80_001, None, RateLimited),
            (400, 80_002, None, RateLimited),
            (400, 506, None, InvalidContent),
            (400, 368, None, InvalidContent),
            (400, 9, Some(2_207_042), RateLimited),
            (400, 4, Some(2_207_051), InvalidContent),
            (400, 9007, Some(2_207_027), Transient),
            (400, -2, Some(2_207_020), Transient),
            (400, -2, Some(2_207_003), Transient),
            (400, -1, Some(2_207_001), Transient),
            (400, -1, Some(2_207_032), Transient),
            (400, -1, Some(2_207_053), Transient),
            (400, 36_000, Some(2_207_004), InvalidContent),
            (500, 1, None, OutcomeUnknown),
            (500, 2, None, OutcomeUnknown),
            // "The post may have been created anyway": a 503 is no exception.
            (503, 2, None, OutcomeUnknown),
            (503, 1, None, OutcomeUnknown),
            (400, 2, None, OutcomeUnknown),
        ];
        for (status, code, sub, want) in cases {
            assert_eq!(
                kind(Op::Create, *status, *code, *sub),
                *want,
                "HTTP {status} code {code}/{sub:?}"
            );
        }
        // A read that fails with 500 created nothing.
        assert_eq!(kind(Op::Read, 500, 2, None), Transient);
        assert_eq!(kind(Op::Read, 503, 2, None), Transient);
        assert_eq!(kind(Op::Read, 400, 1, None), Transient);
    }

    #[test]
    fn a_duplicate_on_a_later_attempt_is_looked_up() {
        use ErrorKind::*;
        for code in [506, 368] {
            assert_eq!(kind(Op::Create, 400, code, None), InvalidContent);
            assert_eq!(kind(Op::Recreate, 400, code, None), OutcomeUnknown);
        }
        assert_eq!(Op::create(1), Op::Create);
        assert_eq!(Op::create(2), Op::Recreate);
        // Other refusals stay what they are on a retry.
        assert_eq!(kind(Op::Recreate, 400, 100, None), InvalidContent);
        assert_eq!(kind(Op::Recreate, 500, 2, None), OutcomeUnknown);
    }

    #[test]
    fn throttling_waits_as_long_as_the_usage_header_says() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"105":[{"type":"pages","call_count":100,"total_cputime":25,"total_time":25,"estimated_time_to_regain_access":19}]}"#,
            ),
        );
        h.insert(
            "x-app-usage",
            HeaderValue::from_static(r#"{"call_count":28,"total_time":25,"total_cputime":25}"#),
        );
        let e = classify(
            "facebook",
            Op::Create,
            StatusCode::BAD_REQUEST,
            &h,
            "105",
            &body(80_001, None),
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(19 * 60)));
        assert_eq!(
            usage(&h, "105"),
            (Some(100), Some(Duration::from_secs(1140)))
        );
        // Another account's entry does not count.
        assert_eq!(usage(&h, "999"), (Some(28), None));
        let e = classify(
            "facebook",
            Op::Create,
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            "105",
            &body(4, None),
        );
        assert_eq!(e.retry_after(), Some(DEFAULT_THROTTLE_WAIT));
    }

    #[test]
    fn unreadable_bodies_fall_back_on_the_status() {
        let k = |op, s: u16| {
            classify(
                "instagram",
                op,
                StatusCode::from_u16(s).unwrap(),
                &HeaderMap::new(),
                "1",
                b"<html>bad gateway</html>",
            )
            .kind()
        };
        assert_eq!(k(Op::Create, 502), ErrorKind::OutcomeUnknown);
        assert_eq!(k(Op::Read, 502), ErrorKind::Transient);
        // A front-end 503 (no Graph envelope) was never handled by the API.
        assert_eq!(k(Op::Create, 503), ErrorKind::Transient);
        assert_eq!(k(Op::Read, 503), ErrorKind::Transient);
        assert_eq!(k(Op::Create, 504), ErrorKind::OutcomeUnknown);
        assert_eq!(k(Op::Read, 404), ErrorKind::NotFound);
    }
}
