//! Settings of the Bluesky adapter.

use crate::common::HttpConfig;

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
    /// The defaults, with `QUFLUX_BLUESKY_PDS_URL` and `QUFLUX_BLUESKY_APP_VIEW_URL` applied
    /// when set. Never fails.
    pub fn from_env() -> Self {
        let mut config = Self::default();
        if let Some(url) = var("QUFLUX_BLUESKY_PDS_URL") {
            config.pds_url = url;
        }
        config.app_view_url = var("QUFLUX_BLUESKY_APP_VIEW_URL");
        config
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

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}
