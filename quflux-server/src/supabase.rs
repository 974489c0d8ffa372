//! Supabase Auth: access tokens (JWTs) signed with the project's JWT secret (HS256) are
//! accepted as bearer tokens. The first time a Supabase user calls the API, a Quflux user with
//! the token's e-mail address is created (without a password); later calls find it by e-mail.
//!
//! | setting | meaning |
//! |---|---|
//! | `QUFLUX_SUPABASE_JWT_SECRET` | the project's JWT secret (Settings → API); enables Supabase tokens |
//! | `QUFLUX_SUPABASE_URL` | optional: `https://<project>.supabase.co`; the issuer must then be `<url>/auth/v1` |
//! | `QUFLUX_SUPABASE_AUDIENCE` | expected `aud` (default `authenticated`) |

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use quflux_core::{Error, Result, Secret};
use serde::Deserialize;

use crate::config::Settings;

/// Checks Supabase access tokens.
#[derive(Clone)]
pub struct SupabaseVerifier {
    key: Arc<DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for SupabaseVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupabaseVerifier")
            .field("key", &"***")
            .field("audience", &self.validation.aud)
            .field("issuer", &self.validation.iss)
            .finish()
    }
}

/// What Quflux reads from a Supabase token.
#[derive(Debug, Clone, Deserialize)]
pub struct SupabaseClaims {
    /// The Supabase user id.
    pub sub: String,
    /// The user's e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// `authenticated` for signed-in users.
    #[serde(default)]
    pub role: Option<String>,
}

impl SupabaseVerifier {
    /// A verifier from the settings, or `None` when `QUFLUX_SUPABASE_JWT_SECRET` is unset.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>> {
        let Some(secret) = settings.get("QUFLUX_SUPABASE_JWT_SECRET") else {
            return Ok(None);
        };
        let secret = Secret::new(secret);
        if secret.expose().len() < 32 {
            return Err(Error::Config(
                "QUFLUX_SUPABASE_JWT_SECRET: must be at least 32 characters (the project's JWT secret)".into(),
            ));
        }
        let audience = settings
            .get("QUFLUX_SUPABASE_AUDIENCE")
            .unwrap_or_else(|| "authenticated".to_owned());
        let issuer = match settings.get("QUFLUX_SUPABASE_URL") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(format!("{}/auth/v1", url.trim_end_matches('/')))
            }
            Some(url) => {
                return Err(Error::Config(format!(
                    "QUFLUX_SUPABASE_URL: `{url}` is not an http(s) URL"
                )));
            }
            None => None,
        };
        Ok(Some(Self::new(&secret, &audience, issuer.as_deref())))
    }

    /// A verifier for HS256 tokens signed with `secret`.
    pub fn new(secret: &Secret<String>, audience: &str, issuer: Option<&str>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[audience]);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        if let Some(iss) = issuer {
            validation.set_issuer(&[iss]);
        }
        Self {
            key: Arc::new(DecodingKey::from_secret(secret.expose().as_bytes())),
            validation,
        }
    }

    /// The claims of a valid token (signature, expiry, audience and issuer checked), or `None`.
    pub fn verify(&self, token: &str) -> Option<SupabaseClaims> {
        match decode::<SupabaseClaims>(token, &self.key, &self.validation) {
            Ok(data) => Some(data.claims),
            Err(e) => {
                tracing::debug!(error = %e, "supabase token refused");
                None
            }
        }
    }
}
