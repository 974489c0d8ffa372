//! The one place LinkedIn answers become core errors.

use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use quflux_core::Error;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::PLATFORM;
use super::config::{CLIENT_ID_VAR, CLIENT_SECRET_VAR};
use crate::common::http::{PlatformResponse, retry_after_header, until};

/// A LinkedIn error body (Rest.li error response, all fields optional).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireError {
    message: Option<String>,
    code: Option<String>,
    error_details: Option<WireDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireDetails {
    input_errors: Vec<WireInputError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireInputError {
    description: Option<String>,
    code: Option<String>,
}

impl WireError {
    fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// Every error code in the body: the top-level `code` and each input error's `code`.
    fn codes(&self) -> impl Iterator<Item = &str> {
        self.code.as_deref().into_iter().chain(
            self.error_details
                .iter()
                .flat_map(|d| d.input_errors.iter().filter_map(|e| e.code.as_deref())),
        )
    }

    fn has_code(&self, code: &str) -> bool {
        self.codes().any(|c| c == code)
    }

    fn reason(&self) -> String {
        let described = self
            .error_details
            .iter()
            .flat_map(|d| d.input_errors.iter())
            .filter_map(|e| e.description.as_deref())
            .collect::<Vec<_>>()
            .join("; ");
        match (&self.message, described.is_empty()) {
            (Some(m), true) => m.clone(),
            (Some(m), false) => format!("{described} ({m})"),
            (None, false) => described,
            (None, true) => "no reason given".to_owned(),
        }
    }
}

/// The next 00:00 UTC after `now`: when LinkedIn's daily quotas reset.
pub fn next_utc_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(now + chrono::Duration::days(1))
}

/// How long a 429 that names no daily window waits when LinkedIn sends no `Retry-After`
/// (infrastructure protection: back off briefly and retry, PLATFORM-SPECS §2.6).
pub const THROTTLE_BACKOFF: Duration = Duration::from_secs(60);

/// Whether a 429 body names a daily quota: its `message` names a DAY window
/// ("…MEMBER DAY limit…", "…APPLICATION DAY limit…", PLATFORM-SPECS §2.5). Only those reset at
/// 00:00 UTC; other 429s are infrastructure protection.
pub fn is_day_limit(body: &[u8]) -> bool {
    let Some(message) = WireError::parse(body).message else {
        return false;
    };
    let words: Vec<String> = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words.windows(2).any(|pair| {
        matches!(pair[0].as_str(), "day" | "daily") && matches!(pair[1].as_str(), "limit" | "quota")
    })
}

/// How long a 429 asks us to wait: until the daily quotas reset at 00:00 UTC when the message
/// names a DAY limit; otherwise a `Retry-After` header if one is sent (LinkedIn sends no quota
/// headers), else [`THROTTLE_BACKOFF`].
pub fn throttle_wait(headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Duration {
    if is_day_limit(body) {
        return until(next_utc_midnight(now), now);
    }
    retry_after_header(headers, now).unwrap_or(THROTTLE_BACKOFF)
}

/// A token endpoint error body (`{"error":"…","error_description":"…"}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireOAuthError {
    error: Option<String>,
    error_description: Option<String>,
}

/// Maps a refused refresh (`POST /oauth/v2/accessToken`, `grant_type=refresh_token`) to the
/// core error. Only a refusal of the refresh token itself means the member must reconnect:
///
/// | answer | error |
/// |---|---|
/// | `invalid_grant`; `invalid_request` about the token (expired after 365 days, revoked) | [`Error::AuthExpired`] |
/// | `invalid_request` naming a client parameter (`client_id`, `client_secret`, …) | [`Error::Config`] |
/// | `invalid_client`, `unauthorized_client`, any other 401 | [`Error::Config`]: the LinkedIn client credentials are wrong |
/// | `unsupported_grant_type` | [`Error::Config`]: the app is not approved for programmatic refresh |
/// | 429 | [`Error::RateLimited`] (`Retry-After`, else [`THROTTLE_BACKOFF`]) |
/// | 5xx | [`Error::Transient`] |
/// | anything else | [`Error::Other`] |
pub fn classify_refresh(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Error {
    let source = || PlatformResponse::boxed(status, body);
    let wire: WireOAuthError = serde_json::from_slice(body).unwrap_or_default();
    let code = wire.error.as_deref().unwrap_or_default();
    let description = wire.error_description.as_deref().unwrap_or_default();
    let credentials = |what: &str| {
        Error::Config(format!(
            "LinkedIn refused the client credentials ({CLIENT_ID_VAR} / {CLIENT_SECRET_VAR}) \
             while refreshing a token: {what}: {}",
            source()
        ))
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Error::RateLimited {
            service: PLATFORM,
            retry_after: Some(throttle_wait(headers, body, now)),
            source: Some(source()),
        };
    }
    if status.is_server_error() {
        return Error::transient(PLATFORM, source());
    }
    let expired = || Error::AuthExpired {
        service: PLATFORM,
        source: Some(source()),
    };
    match code {
        "invalid_grant" => expired(),
        "invalid_client" | "unauthorized_client" => credentials(code),
        "unsupported_grant_type" => Error::Config(format!(
            "LinkedIn refused grant_type=refresh_token: the app is not approved for programmatic \
             refresh: {}",
            source()
        )),
        "invalid_request" if names_client_parameter(description) => credentials(code),
        "invalid_request" => expired(),
        _ if status == StatusCode::UNAUTHORIZED => credentials("client authentication failed"),
        _ if status == StatusCode::BAD_REQUEST
            && description.to_ascii_lowercase().contains("token") =>
        {
            expired()
        }
        _ => Error::other(PLATFORM, source()),
    }
}

/// Whether an `invalid_request` description is about a client parameter rather than the
/// refresh token (e.g. `A required parameter "client_secret" is missing`).
fn names_client_parameter(description: &str) -> bool {
    let d = description.to_ascii_lowercase();
    !d.contains("refresh")
        && [
            "client_id",
            "client_secret",
            "grant_type",
            "client id",
            "client secret",
        ]
        .iter()
        .any(|p| d.contains(p))
}

/// Whether a 422 body is `DUPLICATE_POST`.
pub fn is_duplicate(body: &[u8]) -> bool {
    WireError::parse(body).has_code("DUPLICATE_POST")
}

/// The existing post a `DUPLICATE_POST` answer names: the first `urn:li:share:<digits>` or
/// `urn:li:ugcPost:<digits>` in its `message`.
pub fn duplicate_urn(body: &[u8]) -> Option<String> {
    let message = WireError::parse(body).message?;
    for prefix in ["urn:li:share:", "urn:li:ugcPost:"] {
        let mut rest = message.as_str();
        while let Some(at) = rest.find(prefix) {
            let tail = &rest[at + prefix.len()..];
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                return Some(format!("{prefix}{digits}"));
            }
            rest = tail;
        }
    }
    None
}

/// Maps a LinkedIn error answer (PLATFORM-SPECS §2.5) to the core error:
///
/// | answer | error |
/// |---|---|
/// | 400 `BadRequest` (validation) | [`Error::InvalidContent`] with the input errors |
/// | 401 `EXPIRED_ACCESS_TOKEN` / `REVOKED_ACCESS_TOKEN` / `INVALID_ACCESS_TOKEN` | [`Error::AuthExpired`] |
/// | 403 `ACCESS_DENIED` (scope or product missing) | [`Error::AuthExpired`]: reconnect granting `w_member_social` |
/// | 404 | [`Error::NotFound`] |
/// | 422 `DUPLICATE_POST` | [`Error::InvalidContent`] (duplicate; a resend is settled by the publisher) |
/// | other 422 | [`Error::InvalidContent`] |
/// | 426 `NONEXISTENT_VERSION` | [`Error::Config`]: the configured `LinkedIn-Version` is sunset |
/// | 429 naming a DAY limit | [`Error::RateLimited`] until 00:00 UTC (daily quotas) |
/// | other 429 | [`Error::RateLimited`] for `Retry-After`, else [`THROTTLE_BACKOFF`] |
/// | 500, 502, 503, 504 | [`Error::Transient`] |
/// | anything else | [`Error::Other`] |
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Error {
    let wire = WireError::parse(body);
    let source = || PlatformResponse::boxed(status, body);
    match status.as_u16() {
        401 => Error::AuthExpired {
            service: PLATFORM,
            source: Some(source()),
        },
        403 => Error::AuthExpired {
            service: PLATFORM,
            source: Some(
                format!(
                    "permission missing; reconnect the account granting w_member_social: {}",
                    source()
                )
                .into(),
            ),
        },
        404 => Error::not_found(format!("LinkedIn resource ({})", wire.reason())),
        422 if wire.has_code("DUPLICATE_POST") => Error::InvalidContent {
            service: PLATFORM,
            reason: format!("duplicate post: {}", wire.reason()),
        },
        400 | 422 => Error::InvalidContent {
            service: PLATFORM,
            reason: wire.reason(),
        },
        426 => Error::Config(format!(
            "the LinkedIn-Version header is not (or no longer) active: {} ({})",
            wire.reason(),
            wire.code.as_deref().unwrap_or("NONEXISTENT_VERSION")
        )),
        429 => Error::RateLimited {
            service: PLATFORM,
            retry_after: Some(throttle_wait(headers, body, now)),
            source: Some(source()),
        },
        500 | 502 | 503 | 504 => Error::transient(PLATFORM, source()),
        _ => Error::other(PLATFORM, source()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn midnight_is_the_next_day() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            next_utc_midnight(now).to_rfc3339(),
            "2026-11-25T00:00:00+00:00"
        );
        let day = br#"{"message":"Resource level throttle limit for calls to this resource is reached. MEMBER DAY limit reached.","status":429}"#;
        assert_eq!(
            throttle_wait(&HeaderMap::new(), day, now),
            Duration::from_secs(1800)
        );
        let infra = br#"{"message":"Resource level throttle limit for calls to this resource is reached.","status":429}"#;
        assert_eq!(
            throttle_wait(&HeaderMap::new(), infra, now),
            THROTTLE_BACKOFF
        );
        assert!(!is_day_limit(br#"{"message":"Try again today"}"#));
        assert!(is_day_limit(
            br#"{"message":"APPLICATION DAY limit reached"}"#
        ));
    }
}
