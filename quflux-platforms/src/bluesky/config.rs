//! Settings of the Bluesky adapter.

use quflux_core::Result;

use crate::common::HttpConfig;
use crate::common::vars::Vars;

/// Variable naming the PDS (or entryway) to log in to (default `https://bsky.social`).
pub const PDS_URL_VAR: &str = "QUFLUX_BLUESKY_PDS_URL";
/// Variable naming an app view to resolve mention handles with.
pub const APP_VIEW_URL_VAR: &str = "QUFLUX_BLUESKY_APP_VIEW_URL";

/// Where the adapter talks to, and its HTTP settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BlueskyConfig {
    /// The PDS (or entryway) to log in to; `https://bsky.social` by default. After login the
    /// account's own PDS (from the session's DID document) is stored on the connection and
    /// used instead.
    pub pds_url: String,
    /// An app view to resolve mention handles with (`com.atproto.identity.resolveHandle`);
    /// `None` asks the account's PDS.
    pub app_view_url: Option<String>,
    /// Base of public post links (`{web_url}/profile/{handle}/post/{rkey}`).
    pub web_url: String,
    /// HTTP client settings.
    pub http: HttpConfig,
}

impl Default for BlueskyConfig {
    fn default() -> Self {
        Self {
            pds_url: "https://bsky.social".to_owned(),
            app_view_url: None,
            web_url: "https://bsky.app".to_owned(),
            http: HttpConfig::default(),
        }
    }
}

impl BlueskyConfig {
    /// The defaults, with [`PDS_URL_VAR`] and [`APP_VIEW_URL_VAR`] applied when set.
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
    /// [`Error::Config`](quflux_core::Error::Config) naming the variable when a URL is not
    /// http(s).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars(&get);
        let mut config = Self::default();
        if let Some(url) = vars.url(PDS_URL_VAR)? {
            config.pds_url = url;
        }
        config.app_view_url = vars.url(APP_VIEW_URL_VAR)?;
        Ok(config)
    }

    /// Another PDS or entryway.
    pub fn with_pds_url(mut self, url: impl Into<String>) -> Self {
        self.pds_url = url.into();
        self
    }

    /// An app view for handle resolution.
    pub fn with_app_view_url(mut self, url: impl Into<String>) -> Self {
        self.app_view_url = Some(url.into());
        self
    }

    /// Another base of public post links.
    pub fn with_web_url(mut self, url: impl Into<String>) -> Self {
        self.web_url = url.into();
        self
    }

    /// Other HTTP settings (tests use a short timeout).
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }
}
