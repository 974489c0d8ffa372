//! The `Quflux-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use quflux_core::{Error, Result, Secret};
use sha2::Sha256;

use super::{BACKEND, SIGNATURE_HEADER};

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &Secret<String>) -> Result<HmacSha256> {
    HmacSha256::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Error::Config(format!("{BACKEND}: unusable signing secret")))
}

/// The `Quflux-Signature` value for `body` sent at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
///
/// # Errors
/// [`Error::Config`] if the secret cannot key an HMAC (never for HMAC-SHA256 in practice).
pub fn signature_header(secret: &Secret<String>, timestamp: i64, body: &[u8]) -> Result<String> {
    let mut mac = mac(secret)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Checks a `Quflux-Signature` header against the raw `body`, for receivers.
///
/// Accepts the header if one of its `v1` signatures (several may be present while secrets
/// rotate) is the HMAC-SHA256 of `"<t>.<body>"` under `secret`, compared in constant time, and
/// `t` is within `tolerance` of `now` (either way, so replays of old requests fail).
///
/// # Errors
/// [`Error::InvalidInput`] on `Quflux-Signature` when the header is malformed, the timestamp
/// is outside the tolerance, or no signature matches.
pub fn verify_signature(
    secret: &Secret<String>,
    header_value: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<()> {
    let bad = |why: &str| Error::invalid_input(SIGNATURE_HEADER, why);
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header_value.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(bad("expected `t=<unix seconds>,v1=<hex>`"));
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(bad("more than one timestamp"));
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| bad("the timestamp is not a number"))?,
                );
            }
            "v1" => signatures.push(value),
            _ => {} // other schemes are ignored
        }
    }
    let timestamp = timestamp.ok_or_else(|| bad("no timestamp"))?;
    if signatures.is_empty() {
        return Err(bad("no v1 signature"));
    }
    if now.timestamp().abs_diff(timestamp) > tolerance.as_secs() {
        return Err(bad(
            "the timestamp is outside the tolerance (replayed or clock skew)",
        ));
    }
    for signature in signatures {
        let Ok(expected) = hex::decode(signature) else {
            continue;
        };
        let mut mac = mac(secret)?;
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(bad("no signature matches the body"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let secret = Secret::new("whsec_unit".to_owned());
        let body = br#"{"id":"1","type":"post.created"}"#;
        let now = Utc::now();
        let header = signature_header(&secret, now.timestamp(), body).unwrap();
        assert!(header.starts_with(&format!("t={},v1=", now.timestamp())));
        verify_signature(&secret, &header, body, now, MINUTE).unwrap();
        let other = Secret::new("whsec_other".to_owned());
        assert!(verify_signature(&other, &header, body, now, MINUTE).is_err());
        assert!(verify_signature(&secret, &header, b"{}", now, MINUTE).is_err());
        let later = now + chrono::Duration::minutes(10);
        assert!(verify_signature(&secret, &header, body, later, MINUTE).is_err());
        // A rotated secret: one of two signatures matches.
        let rotated = format!("{header},v1=00ff");
        verify_signature(&secret, &rotated, body, now, MINUTE).unwrap();
        for malformed in [
            "",
            "t=abc,v1=00",
            "v1=00",
            "t=1",
            "garbage",
            "t=1,t=2,v1=00",
        ] {
            let err = verify_signature(&secret, malformed, body, now, MINUTE).unwrap_err();
            assert_eq!(
                err.kind(),
                quflux_core::ErrorKind::InvalidInput,
                "{malformed}"
            );
        }
    }
}
