//! The one place where X's answers become core [`Error`]s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use quflux_core::Error;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::common::http::{PlatformResponse, header_i64, retry_after_header, until};

use super::SERVICE;
use super::wire::Problem;

/// The rate-limit header families X sends: (remaining, reset) pairs.
pub(crate) const HEADER_FAMILIES: [(&str, &str, &str); 3] = [
    ("15min", "x-rate-limit-remaining", "x-rate-limit-reset"),
    (
        "user_24h",
        "x-user-limit-24hour-remaining",
        "x-user-limit-24hour-reset",
    ),
    (
        "app_24h",
        "x-app-limit-24hour-remaining",
        "x-app-limit-24hour-reset",
    ),
];

/// How long to wait after a throttling answer: the latest reset among the header families
/// whose remaining count is spent (a 429 can come with `x-rate-limit-remaining > 0` when a
/// 24-hour cap is spent), else the latest reset announced, else `retry-after`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let mut spent: Option<DateTime<Utc>> = None;
    let mut any: Option<DateTime<Utc>> = None;
    for (_, remaining, reset) in HEADER_FAMILIES {
        let Some(at) = header_i64(headers, reset).and_then(|s| DateTime::from_timestamp(s, 0))
        else {
            continue;
        };
        any = Some(any.map_or(at, |x| x.max(at)));
        if header_i64(headers, remaining).is_some_and(|r| r <= 0) {
            spent = Some(spent.map_or(at, |x| x.max(at)));
        }
    }
    spent
        .or(any)
        .map(|at| until(at, now))
        .or_else(|| retry_after_header(headers, now))
}

/// The path suffix of a Problem `type` (`…/2/problems/usage-capped` → `usage-capped`), for
/// both the `api.twitter.com` and the `api.x.com` forms; `about:blank` stays as is.
fn problem_kind(problem: &Problem) -> &str {
    let kind = problem
        .kind
        .as_deref()
        .or_else(|| problem.errors.iter().find_map(|e| e.kind.as_deref()))
        .unwrap_or("about:blank");
    kind.rsplit('/').next().unwrap_or(kind)
}

fn reason(problem: &Problem, fallback: &str) -> String {
    let detail = problem
        .detail
        .clone()
        .or_else(|| problem.errors.iter().find_map(|e| e.message.clone()))
        .or_else(|| problem.errors.iter().find_map(|e| e.detail.clone()))
        .or_else(|| problem.title.clone())
        .unwrap_or_else(|| fallback.to_owned());
    match problem.errors.iter().find_map(|e| e.message.as_deref()) {
        Some(m) if !detail.contains(m) => format!("{detail} ({m})"),
        _ => detail,
    }
}

/// Maps an X error answer (status, headers, body) into the core error.
///
/// | status | Problem `type` / detail | error |
/// |---|---|---|
/// | 429 | `about:blank` (15-min or 24-h bucket), `usage-capped` | `RateLimited` (wait from the reset headers) |
/// | 401 | any | `AuthExpired` |
/// | 403 | `about:blank` "duplicate content" | `InvalidContent` |
/// | 403 | `client-forbidden` (app not in a Project, wrong tier) | `Config` |
/// | 403 | `unsupported-authentication` | `AuthExpired` |
/// | 403 | `not-authorized-for-resource`, `disallowed-resource`, other | `InvalidContent` |
/// | 400 | `invalid-request`, `about:blank` (text too long), other | `InvalidContent` |
/// | 404 | `resource-not-found` | `NotFound` |
/// | 409 | `conflict` | `Conflict` |
/// | 5xx | any | `Transient` (`OutcomeUnknown` for a create: [`classify_create`]) |
/// | other | any | `Other` |
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Error {
    let problem: Problem = serde_json::from_slice(body).unwrap_or_default();
    let kind = problem_kind(&problem);
    let source = || PlatformResponse::boxed(status, body);
    match status.as_u16() {
        429 => Error::RateLimited {
            service: SERVICE,
            retry_after: retry_after(headers, now),
            source: Some(source()),
        },
        401 => Error::AuthExpired {
            service: SERVICE,
            source: Some(source()),
        },
        403 => match kind {
            "client-forbidden" => Error::Config(format!(
                "X refused the app: {} (reason: {})",
                reason(&problem, "client forbidden"),
                problem.reason.as_deref().unwrap_or("unknown")
            )),
            "unsupported-authentication" => Error::AuthExpired {
                service: SERVICE,
                source: Some(source()),
            },
            _ => Error::InvalidContent {
                service: SERVICE,
                reason: reason(&problem, "forbidden"),
            },
        },
        400 | 422 => Error::InvalidContent {
            service: SERVICE,
            reason: reason(&problem, "invalid request"),
        },
        404 => Error::not_found(format!("X resource ({})", reason(&problem, "not found"))),
        409 => Error::conflict(format!("X resource ({})", reason(&problem, "conflict"))),
        500..=599 => Error::transient(SERVICE, source()),
        _ => Error::other(SERVICE, source()),
    }
}

/// Maps an error answer to `POST /2/tweets` of the `attempt`-th attempt (1-based): as
/// [`classify`], except that
///
/// - a 5xx is `OutcomeUnknown`: X documents no 5xx that guarantees nothing was created, and a
///   post that was created must not be blindly sent again (spec §6);
/// - on a retry (`attempt > 1`), the duplicate-content 403 is `OutcomeUnknown` too: it is
///   "strong evidence the first attempt landed" (spec §6), to be settled by a lookup rather than
///   failing a publication that is live.
pub(crate) fn classify_create(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    attempt: u32,
) -> Error {
    if status.is_server_error() || (attempt > 1 && is_duplicate(status, body)) {
        return Error::OutcomeUnknown {
            service: SERVICE,
            source: PlatformResponse::boxed(status, body),
        };
    }
    classify(status, headers, body, now)
}

/// Whether an error answer is X's duplicate-content refusal.
pub(crate) fn is_duplicate(status: StatusCode, body: &[u8]) -> bool {
    if status != StatusCode::FORBIDDEN {
        return false;
    }
    let problem: Problem = serde_json::from_slice(body).unwrap_or_default();
    reason(&problem, "")
        .to_lowercase()
        .contains("duplicate content")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use quflux_core::ErrorKind;
    use reqwest::header::HeaderValue;

    fn fixtures() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/x/fixtures.json")).unwrap()
    }

    fn answer(name: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let f = fixtures();
        let r = &f[name]["response"];
        let status = StatusCode::from_u16(r["status"].as_u64().unwrap() as u16).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(h) = r["headers"].as_object() {
            for (k, v) in h {
                let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap();
                headers.insert(name, HeaderValue::from_str(v.as_str().unwrap()).unwrap());
            }
        }
        (status, headers, serde_json::to_vec(&r["body"]).unwrap())
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_705_420_000, 0).unwrap()
    }

    fn classify_fixture(name: &str) -> Error {
        let (s, h, b) = answer(name);
        classify(s, &h, &b, now())
    }

    #[test]
    fn every_documented_error_is_classified() {
        let cases = [
            ("error_invalid_request", ErrorKind::InvalidContent),
            ("error_text_too_long", ErrorKind::InvalidContent),
            ("error_unauthorized", ErrorKind::AuthExpired),
            ("error_duplicate", ErrorKind::InvalidContent),
            ("error_client_forbidden", ErrorKind::Config),
            ("error_rate_limited", ErrorKind::RateLimited),
            ("error_usage_capped", ErrorKind::RateLimited),
        ];
        for (name, kind) in cases {
            let e = classify_fixture(name);
            assert_eq!(e.kind(), kind, "{name}: {e:?}");
        }
    }

    #[test]
    fn duplicate_and_too_long_say_why() {
        let e = classify_fixture("error_duplicate");
        assert!(e.to_string().contains("duplicate content"), "{e}");
        let (s, _, b) = answer("error_duplicate");
        assert!(is_duplicate(s, &b));
        let e = classify_fixture("error_text_too_long");
        assert!(e.to_string().contains("too long"), "{e}");
        let e = classify_fixture("error_invalid_request");
        assert!(e.to_string().contains("in_reply_to_tweet_id"), "{e}");
        assert!(!e.is_retryable());
    }

    #[test]
    fn a_429_waits_for_the_reset_header() {
        let e = classify_fixture("error_rate_limited");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(800)));
    }

    #[test]
    fn a_429_with_15min_budget_left_waits_for_the_24h_reset() {
        let mut h = HeaderMap::new();
        let now = now().timestamp();
        for (k, v) in [
            ("x-rate-limit-remaining", "57".to_owned()),
            ("x-rate-limit-reset", (now + 300).to_string()),
            ("x-user-limit-24hour-remaining", "0".to_owned()),
            ("x-user-limit-24hour-reset", (now + 36_000).to_string()),
        ] {
            h.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &h, b"{}", self::now());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(36_000)));
    }

    #[test]
    fn a_create_5xx_or_a_retried_duplicate_leaves_the_outcome_open() {
        for s in [500, 502, 503, 504] {
            let status = StatusCode::from_u16(s).unwrap();
            let e = classify_create(status, &HeaderMap::new(), b"{}", now(), 1);
            assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{s}");
        }
        let (s, h, b) = answer("error_duplicate");
        assert_eq!(
            classify_create(s, &h, &b, now(), 1).kind(),
            ErrorKind::InvalidContent
        );
        assert_eq!(
            classify_create(s, &h, &b, now(), 2).kind(),
            ErrorKind::OutcomeUnknown
        );
        let (s, h, b) = answer("error_invalid_request");
        assert_eq!(
            classify_create(s, &h, &b, now(), 2).kind(),
            ErrorKind::InvalidContent
        );
        let (s, h, b) = answer("error_rate_limited");
        assert_eq!(
            classify_create(s, &h, &b, now(), 2).kind(),
            ErrorKind::RateLimited
        );
    }

    #[test]
    fn server_errors_are_transient_and_others_map() {
        for s in [500, 502, 503, 504] {
            let e = classify(
                StatusCode::from_u16(s).unwrap(),
                &HeaderMap::new(),
                b"{\"title\":\"Service Unavailable\"}",
                now(),
            );
            assert_eq!(e.kind(), ErrorKind::Transient, "{s}");
        }
        let body = br#"{"title":"Not Found Error","type":"https://api.x.com/2/problems/resource-not-found","detail":"Could not find tweet with id: [1]."}"#;
        let e = classify(StatusCode::NOT_FOUND, &HeaderMap::new(), body, now());
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let body = br#"{"title":"Unsupported Authentication","type":"https://api.twitter.com/2/problems/unsupported-authentication","detail":"Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."}"#;
        let e = classify(StatusCode::FORBIDDEN, &HeaderMap::new(), body, now());
        assert_eq!(e.kind(), ErrorKind::AuthExpired);
        let body = br#"{"title":"Forbidden","type":"https://api.x.com/2/problems/not-authorized-for-resource","detail":"not authorized"}"#;
        let e = classify(StatusCode::FORBIDDEN, &HeaderMap::new(), body, now());
        assert_eq!(e.kind(), ErrorKind::InvalidContent);
        assert!(!is_duplicate(StatusCode::FORBIDDEN, body));
        let e = classify(StatusCode::IM_A_TEAPOT, &HeaderMap::new(), b"", now());
        assert_eq!(e.kind(), ErrorKind::Other);
    }
}
