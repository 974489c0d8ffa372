//! Settings of the LinkedIn adapter.

use std::time::Duration;

use quflux_core::{Error, Result, Secret};

use crate::common::HttpConfig;

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

    /// Reads `QUFLUX_LINKEDIN_CLIENT_ID`, `QUFLUX_LINKEDIN_CLIENT_SECRET`,
    /// `QUFLUX_LINKEDIN_REDIRECT_URL` (required) and `QUFLUX_LINKEDIN_API_BASE`,
    /// `QUFLUX_LINKEDIN_OAUTH_BASE`, `QUFLUX_LINKEDIN_VERSION` (optional).
    ///
    /// # Errors
    /// [`Error::Config`] naming the first missing variable.
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let required = |name: &str| {
            var(name).ok_or_else(|| Error::Config(format!("linkedin: {name} is not set")))
        };
        let mut config = Self::new(
            required("QUFLUX_LINKEDIN_CLIENT_ID")?,
            Secret::new(required("QUFLUX_LINKEDIN_CLIENT_SECRET")?),
            required("QUFLUX_LINKEDIN_REDIRECT_URL")?,
        );
        if let Some(base) = var("QUFLUX_LINKEDIN_API_BASE") {
            config.api_base = base;
        }
        if let Some(base) = var("QUFLUX_LINKEDIN_OAUTH_BASE") {
            config.oauth_base = base;
        }
        if let Some(version) = var("QUFLUX_LINKEDIN_VERSION") {
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
