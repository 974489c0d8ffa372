//! Settings of the LinkedIn adapter.

use std::time::Duration;

use quflux_core::{Error, Result, Secret};

use crate::common::HttpConfig;
use crate::common::vars::Vars;

/// Variable holding the app's client id (required).
pub const CLIENT_ID_VAR: &str = "QUFLUX_LINKEDIN_CLIENT_ID";
/// Variable holding the app's client secret (required).
pub const CLIENT_SECRET_VAR: &str = "QUFLUX_LINKEDIN_CLIENT_SECRET";
/// Variable holding the registered redirect URL (required).
pub const REDIRECT_URL_VAR: &str = "QUFLUX_LINKEDIN_REDIRECT_URL";
/// Variable holding another REST API base (optional, a stand-in).
pub const API_BASE_VAR: &str = "QUFLUX_LINKEDIN_API_BASE";
/// Variable holding another OAuth base (optional, a stand-in).
pub const OAUTH_BASE_VAR: &str = "QUFLUX_LINKEDIN_OAUTH_BASE";
/// Variable holding another `LinkedIn-Version` (optional, `YYYYMM`).
pub const VERSION_VAR: &str = "QUFLUX_LINKEDIN_VERSION";

/// Default REST API base.
pub const DEFAULT_API_BASE: &str = "https://api.linkedin.com";
/// Default OAuth base (`/authorization`, `/accessToken` below it).
pub const DEFAULT_OAUTH_BASE: &str = "https://www.linkedin.com/oauth/v2";
/// Default `LinkedIn-Version` (YYYYMM; LinkedIn keeps about the last 12 monthly versions active).
pub const DEFAULT_VERSION: &str = "202608";
/// Default scopes: sign in with OpenID Connect, and post as the member.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "profile", "w_member_social"];
/// Default daily posting budget per member. LinkedIn does not publish the number
/// (PLATFORM-SPECS §2.6); 150 is the per-member daily figure of its share APIs. Counted locally
/// so a spent budget is refused before sending.
pub const DEFAULT_DAILY_POST_LIMIT: u32 = 150;

/// Settings of [`LinkedInConnector`](super::LinkedInConnector) and
/// [`LinkedInPublisher`](super::LinkedInPublisher).
#[derive(Debug, Clone)]
pub struct LinkedInConfig {
    /// REST API base (`/rest/posts`, `/rest/images`, `/v2/userinfo`).
    pub api_base: String,
    /// OAuth base (`/authorization`, `/accessToken`).
    pub oauth_base: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Secret<String>,
    /// The registered redirect URL.
    pub redirect_url: String,
    /// The `LinkedIn-Version` header value (YYYYMM).
    pub version: String,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// HTTP client settings.
    pub http: HttpConfig,
    /// Posts per member and day counted locally before LinkedIn's 429.
    pub daily_post_limit: u32,
    /// Pause between two image status polls.
    pub image_poll_interval: Duration,
    /// Image status polls before giving up (transiently).
    pub image_poll_attempts: u32,
}

impl LinkedInConfig {
    /// A configuration with the default endpoints, version and scopes.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Secret<String>,
        redirect_url: impl Into<String>,
    ) -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            oauth_base: DEFAULT_OAUTH_BASE.to_owned(),
            client_id: client_id.into(),
            client_secret,
            redirect_url: redirect_url.into(),
            version: DEFAULT_VERSION.to_owned(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            http: HttpConfig::default(),
            daily_post_limit: DEFAULT_DAILY_POST_LIMIT,
            image_poll_interval: Duration::from_secs(1),
            image_poll_attempts: 30,
        }
    }

    /// Reads [`CLIENT_ID_VAR`], [`CLIENT_SECRET_VAR`], [`REDIRECT_URL_VAR`] (required) and
    /// [`API_BASE_VAR`], [`OAUTH_BASE_VAR`], [`VERSION_VAR`] (optional).
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
    /// [`Error::Config`] naming the variable: the first missing required one, a URL that is
    /// not http(s), or a version that is not `YYYYMM`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars(&get);
        let missing = |name: &str| Error::Config(format!("linkedin: {name} is not set"));
        let required = |name: &str| vars.get(name).ok_or_else(|| missing(name));
        let client_id = required(CLIENT_ID_VAR)?;
        let client_secret = Secret::new(required(CLIENT_SECRET_VAR)?);
        let redirect_url = vars
            .url(REDIRECT_URL_VAR)?
            .ok_or_else(|| missing(REDIRECT_URL_VAR))?;
        let mut config = Self::new(client_id, client_secret, redirect_url);
        if let Some(base) = vars.url(API_BASE_VAR)? {
            config.api_base = base;
        }
        if let Some(base) = vars.url(OAUTH_BASE_VAR)? {
            config.oauth_base = base;
        }
        if let Some(version) = vars.get(VERSION_VAR) {
            if version.len() != 6 || !version.chars().all(|c| c.is_ascii_digit()) {
                return Err(Error::Config(format!(
                    "{VERSION_VAR}: expected YYYYMM, e.g. 202608"
                )));
            }
            config.version = version;
        }
        Ok(config)
    }

    /// Another REST API base (a stand-in).
    pub fn with_api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into();
        self
    }

    /// Another OAuth base (a stand-in).
    pub fn with_oauth_base(mut self, base: impl Into<String>) -> Self {
        self.oauth_base = base.into();
        self
    }

    /// Another `LinkedIn-Version`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Other HTTP settings.
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Another daily posting budget per member.
    pub fn with_daily_post_limit(mut self, limit: u32) -> Self {
        self.daily_post_limit = limit;
        self
    }

    /// Other image polling settings.
    pub fn with_image_polling(mut self, interval: Duration, attempts: u32) -> Self {
        self.image_poll_interval = interval;
        self.image_poll_attempts = attempts;
        self
    }
}
