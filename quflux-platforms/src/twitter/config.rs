//! [`XConfig`]: where the X API is and how this application is registered.

use std::time::Duration;

use quflux_core::{Error, Result, Secret};

use crate::common::http::join;
use crate::common::vars::Vars;
use crate::common::{ClientAuth, HttpConfig, OAuthApp};

use super::{SCOPES, SERVICE};

/// Settings of the X adapter.
#[derive(Debug, Clone)]
pub struct XConfig {
    /// API base URL (`https://api.x.com`).
    pub api_base: String,
    /// The user-facing authorize page (`https://x.com/i/oauth2/authorize`).
    pub authorize_url: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret (confidential clients); `None` for public clients.
    pub client_secret: Option<Secret<String>>,
    /// Where X sends the user back after authorizing.
    pub redirect_url: String,
    /// HTTP client settings.
    pub http: HttpConfig,
    /// Longest wait between two media `STATUS` polls (X's `check_after_secs` is honoured up to
    /// this).
    pub media_poll_cap: Duration,
    /// Longest total wait for media processing.
    pub media_processing_timeout: Duration,
    /// How many recent posts `lookup` reads (5–100).
    pub lookup_depth: u32,
}

/// Default API base URL.
pub const DEFAULT_API_BASE: &str = "https://api.x.com";
/// Default authorize page.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://x.com/i/oauth2/authorize";
/// Variable holding the OAuth client id (required).
pub const CLIENT_ID_VAR: &str = "QUFLUX_X_CLIENT_ID";
/// Variable holding the OAuth client secret (optional: confidential clients).
pub const CLIENT_SECRET_VAR: &str = "QUFLUX_X_CLIENT_SECRET";
/// Variable holding the redirect URL (required).
pub const REDIRECT_URL_VAR: &str = "QUFLUX_X_REDIRECT_URL";
/// Variable holding another API base (optional, a stand-in).
pub const API_BASE_VAR: &str = "QUFLUX_X_API_BASE";

impl XConfig {
    /// A configuration for the real X with the given registration.
    pub fn new(client_id: impl Into<String>, redirect_url: impl Into<String>) -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            authorize_url: DEFAULT_AUTHORIZE_URL.to_owned(),
            client_id: client_id.into(),
            client_secret: None,
            redirect_url: redirect_url.into(),
            http: HttpConfig::default(),
            media_poll_cap: Duration::from_secs(30),
            media_processing_timeout: Duration::from_secs(300),
            lookup_depth: 100,
        }
    }

    /// Reads [`CLIENT_ID_VAR`], [`REDIRECT_URL_VAR`] (required), [`CLIENT_SECRET_VAR`] and
    /// [`API_BASE_VAR`] (optional).
    ///
    /// # Errors
    /// As [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get` (blank values count
    /// as unset).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable: a required one missing, or a URL that is not
    /// http(s).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars(&get);
        let missing = |name: &str| Error::Config(format!("{name} is not set (X adapter)"));
        let client_id = vars
            .get(CLIENT_ID_VAR)
            .ok_or_else(|| missing(CLIENT_ID_VAR))?;
        let redirect_url = vars
            .url(REDIRECT_URL_VAR)?
            .ok_or_else(|| missing(REDIRECT_URL_VAR))?;
        let mut config = Self::new(client_id, redirect_url);
        config.client_secret = vars.get(CLIENT_SECRET_VAR).map(Secret::new);
        if let Some(base) = vars.url(API_BASE_VAR)? {
            config.api_base = base;
        }
        Ok(config)
    }

    /// A copy pointed at another API base (a stand-in); the authorize page moves along to
    /// `{base}/i/oauth2/authorize`.
    pub fn with_api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into();
        self.authorize_url = join(&self.api_base, "/i/oauth2/authorize");
        self
    }

    /// A copy with a client secret (confidential client, HTTP Basic at the token endpoint).
    pub fn with_client_secret(mut self, secret: Secret<String>) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// A copy with other HTTP settings.
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// A copy with another cap on the wait between media status polls.
    pub fn with_media_poll_cap(mut self, cap: Duration) -> Self {
        self.media_poll_cap = cap;
        self
    }

    /// `{api_base}/2/oauth2/token`.
    pub fn token_url(&self) -> String {
        join(&self.api_base, "/2/oauth2/token")
    }

    /// `{api_base}/2/oauth2/revoke`.
    pub fn revoke_url(&self) -> String {
        join(&self.api_base, "/2/oauth2/revoke")
    }

    /// An API URL.
    pub fn url(&self, path: &str) -> String {
        join(&self.api_base, path)
    }

    /// The OAuth registration.
    pub fn oauth_app(&self) -> OAuthApp {
        OAuthApp {
            service: SERVICE,
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            authorize_url: self.authorize_url.clone(),
            token_url: self.token_url(),
            revoke_url: Some(self.revoke_url()),
            redirect_url: self.redirect_url.clone(),
            scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            pkce: true,
            // Basic with a secret; without one the oauth2 crate sends `client_id` in the body,
            // which is X's public-client form.
            client_auth: ClientAuth::Basic,
            scope_separator: " ",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn from_env_names_the_missing_variable() {
        let e = XConfig::from_lookup(|_| None).unwrap_err();
        assert!(e.to_string().contains("QUFLUX_X_CLIENT_ID"), "{e}");
        let e =
            XConfig::from_lookup(|n| (n == "QUFLUX_X_CLIENT_ID").then(|| "id".into())).unwrap_err();
        assert!(e.to_string().contains("QUFLUX_X_REDIRECT_URL"), "{e}");
        let c = XConfig::from_lookup(|n| match n {
            "QUFLUX_X_CLIENT_ID" => Some("id".into()),
            "QUFLUX_X_REDIRECT_URL" => Some("https://app.example/cb".into()),
            "QUFLUX_X_API_BASE" => Some("http://127.0.0.1:9".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.token_url(), "http://127.0.0.1:9/2/oauth2/token");
        assert_eq!(c.revoke_url(), "http://127.0.0.1:9/2/oauth2/revoke");
        assert_eq!(c.authorize_url, DEFAULT_AUTHORIZE_URL);
        assert!(c.client_secret.is_none());
    }
}
