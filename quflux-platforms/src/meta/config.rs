//! Settings of the Meta adapter, and how media files become the public URLs Instagram needs.

use std::sync::Arc;
use std::time::Duration;

use quflux_core::{Error, MediaFile, Result, Secret};
use serde::Deserialize;

use crate::common::HttpConfig;
use crate::common::http::join;
use crate::common::vars::Vars;

/// Variable holding the app id.
pub const APP_ID_VAR: &str = "QUFLUX_META_APP_ID";
/// Variable holding the app secret.
pub const APP_SECRET_VAR: &str = "QUFLUX_META_APP_SECRET";
/// Variable holding the OAuth redirect URL registered with the app.
pub const REDIRECT_URL_VAR: &str = "QUFLUX_META_REDIRECT_URL";
/// Variable holding another Graph API host (a stand-in).
pub const GRAPH_BASE_VAR: &str = "QUFLUX_META_GRAPH_BASE";
/// Variable holding another Graph API version (`v24.0`).
pub const API_VERSION_VAR: &str = "QUFLUX_META_API_VERSION";
/// Variable holding another login dialog URL.
pub const DIALOG_URL_VAR: &str = "QUFLUX_META_DIALOG_URL";
/// Variable holding the base URL under which media files are public (Instagram fetches them).
pub const PUBLIC_MEDIA_BASE_URL_VAR: &str = "QUFLUX_PUBLIC_MEDIA_BASE_URL";

/// The Graph API version this adapter is written against (README §3).
pub const DEFAULT_API_VERSION: &str = "v24.0";
/// The Graph API host.
pub const DEFAULT_GRAPH_BASE: &str = "https://graph.facebook.com";
/// Scopes requested by Facebook Login: Pages publishing and Instagram content publishing.
pub const DEFAULT_SCOPES: &[&str] = &[
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "instagram_basic",
    "instagram_content_publish",
    "business_management",
];

/// Turns a stored media file into a URL Meta can download at request time. Instagram fetches
/// every image and video itself (`image_url`, `video_url`); there is no byte upload for images.
pub trait MediaUrls: Send + Sync + std::fmt::Debug {
    /// The public URL of `file`.
    fn public_url(&self, file: &MediaFile) -> Result<String>;
}

/// Public URLs made of a base URL and the file's storage key (a CDN or a public bucket in
/// front of the blob store): `{base}/{storage_key}`.
#[derive(Debug, Clone)]
pub struct BaseUrlMedia {
    base: String,
}

impl BaseUrlMedia {
    /// Files are served under `base` (`https://cdn.example/media`).
    pub fn new(base: impl Into<String>) -> Self {
        Self { base: base.into() }
    }
}

impl MediaUrls for BaseUrlMedia {
    fn public_url(&self, file: &MediaFile) -> Result<String> {
        Ok(join(&self.base, &file.storage_key))
    }
}

/// Settings of the Meta adapter (connector and both publishers).
///
/// [`from_env`](MetaConfig::from_env) (or [`from_lookup`](MetaConfig::from_lookup)) reads
/// `QUFLUX_META_APP_ID`, `QUFLUX_META_APP_SECRET`, `QUFLUX_META_REDIRECT_URL`,
/// `QUFLUX_META_GRAPH_BASE`, `QUFLUX_META_API_VERSION`, `QUFLUX_META_DIALOG_URL` and
/// `QUFLUX_PUBLIC_MEDIA_BASE_URL`; it fails only on a malformed value, and
/// [`MetaConfig::validate_app`] names what is missing.
#[derive(Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MetaConfig {
    /// Graph API host, without version (`https://graph.facebook.com`).
    pub graph_base: String,
    /// Pinned Graph API version (`v24.0`).
    pub api_version: String,
    /// Login dialog; default `https://www.facebook.com/{api_version}/dialog/oauth`.
    pub dialog_url: Option<String>,
    /// App id.
    pub app_id: String,
    /// App secret.
    pub app_secret: Option<Secret<String>>,
    /// OAuth redirect URL registered with the app.
    pub redirect_url: String,
    /// Scopes requested at login (comma-separated in the dialog URL).
    pub scopes: Vec<String>,
    /// Base URL under which media files are public (Instagram), see [`BaseUrlMedia`].
    pub media_url_base: Option<String>,
    /// How long to wait between two Instagram container status polls.
    #[serde(with = "secs")]
    pub poll_interval: Duration,
    /// How long to poll an Instagram container before giving the attempt up as transient (the
    /// container id is kept, so the next attempt resumes it).
    #[serde(with = "secs")]
    pub poll_timeout: Duration,
    /// HTTP client settings.
    #[serde(skip)]
    pub http: HttpConfig,
    /// Overrides `media_url_base` with a custom mapping.
    #[serde(skip)]
    pub media_urls: Option<Arc<dyn MediaUrls>>,
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(f64::deserialize(d)?.max(0.0)))
    }
}

impl std::fmt::Debug for MetaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaConfig")
            .field("graph_base", &self.graph_base)
            .field("api_version", &self.api_version)
            .field("dialog_url", &self.dialog_url)
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("media_url_base", &self.media_url_base)
            .field("poll_interval", &self.poll_interval)
            .field("poll_timeout", &self.poll_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            graph_base: DEFAULT_GRAPH_BASE.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            dialog_url: None,
            app_id: String::new(),
            app_secret: None,
            redirect_url: String::new(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            media_url_base: None,
            poll_interval: Duration::from_secs(10),
            poll_timeout: Duration::from_secs(300),
            http: HttpConfig::default(),
            media_urls: None,
        }
    }
}

impl MetaConfig {
    /// Defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads [`APP_ID_VAR`], [`APP_SECRET_VAR`], [`REDIRECT_URL_VAR`], [`GRAPH_BASE_VAR`],
    /// [`API_VERSION_VAR`], [`DIALOG_URL_VAR`] and [`PUBLIC_MEDIA_BASE_URL_VAR`]; every one is
    /// optional (an unset one keeps its default).
    ///
    /// # Errors
    /// As [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get` (blank values count
    /// as unset). A missing app id, secret or redirect URL is not an error here;
    /// [`validate_app`](Self::validate_app) names it.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable: a URL that is not http(s), or an API version not
    /// like `v24.0`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars(&get);
        let mut c = Self::default();
        if let Some(v) = vars.get(APP_ID_VAR) {
            c.app_id = v;
        }
        c.app_secret = vars.get(APP_SECRET_VAR).map(Secret::new);
        if let Some(v) = vars.url(REDIRECT_URL_VAR)? {
            c.redirect_url = v;
        }
        if let Some(v) = vars.url(GRAPH_BASE_VAR)? {
            c.graph_base = v;
        }
        if let Some(version) = vars.get(API_VERSION_VAR) {
            let ok = version.strip_prefix('v').is_some_and(|rest| {
                rest.split_once('.').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
                })
            });
            if !ok {
                return Err(Error::Config(format!(
                    "{API_VERSION_VAR}: expected a Graph API version like v24.0"
                )));
            }
            c.api_version = version;
        }
        c.dialog_url = vars.url(DIALOG_URL_VAR)?;
        c.media_url_base = vars.url(PUBLIC_MEDIA_BASE_URL_VAR)?;
        Ok(c)
    }

    /// Sets the Graph API host.
    pub fn with_graph_base(mut self, base: impl Into<String>) -> Self {
        self.graph_base = base.into();
        self
    }
    /// Sets the API version.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }
    /// Sets the login dialog URL.
    pub fn with_dialog_url(mut self, url: impl Into<String>) -> Self {
        self.dialog_url = Some(url.into());
        self
    }
    /// Sets the app id and secret.
    pub fn with_app(mut self, app_id: impl Into<String>, app_secret: Secret<String>) -> Self {
        self.app_id = app_id.into();
        self.app_secret = Some(app_secret);
        self
    }
    /// Sets the redirect URL.
    pub fn with_redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = url.into();
        self
    }
    /// Sets the public media base URL.
    pub fn with_media_url_base(mut self, base: impl Into<String>) -> Self {
        self.media_url_base = Some(base.into());
        self
    }
    /// Sets a custom media URL mapping.
    pub fn with_media_urls(mut self, urls: Arc<dyn MediaUrls>) -> Self {
        self.media_urls = Some(urls);
        self
    }
    /// Sets the HTTP settings.
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }
    /// Sets the container polling interval and timeout.
    pub fn with_polling(mut self, interval: Duration, timeout: Duration) -> Self {
        self.poll_interval = interval;
        self.poll_timeout = timeout;
        self
    }

    /// `{graph_base}/{api_version}`.
    pub fn graph_url(&self) -> String {
        join(&self.graph_base, &self.api_version)
    }

    /// The login dialog URL.
    pub fn dialog(&self) -> String {
        self.dialog_url.clone().unwrap_or_else(|| {
            format!("https://www.facebook.com/{}/dialog/oauth", self.api_version)
        })
    }

    /// The media URL mapping, if configured.
    pub fn media_urls(&self) -> Option<Arc<dyn MediaUrls>> {
        self.media_urls.clone().or_else(|| {
            self.media_url_base
                .as_ref()
                .map(|b| Arc::new(BaseUrlMedia::new(b.clone())) as Arc<dyn MediaUrls>)
        })
    }

    /// Checks what publishing needs (the Graph base and version).
    pub fn validate_graph(&self) -> Result<()> {
        if self.graph_base.trim().is_empty() {
            return Err(Error::Config(
                "meta: graph_base missing (QUFLUX_META_GRAPH_BASE)".into(),
            ));
        }
        if self.api_version.trim().is_empty() {
            return Err(Error::Config(
                "meta: api_version missing (QUFLUX_META_API_VERSION)".into(),
            ));
        }
        Ok(())
    }

    /// Checks what connecting accounts needs (app id, secret, redirect URL).
    pub fn validate_app(&self) -> Result<()> {
        self.validate_graph()?;
        if self.app_id.trim().is_empty() {
            return Err(Error::Config(
                "meta: app_id missing (QUFLUX_META_APP_ID)".into(),
            ));
        }
        if self.app_secret.is_none() {
            return Err(Error::Config(
                "meta: app_secret missing (QUFLUX_META_APP_SECRET)".into(),
            ));
        }
        if self.redirect_url.trim().is_empty() {
            return Err(Error::Config(
                "meta: redirect_url missing (QUFLUX_META_REDIRECT_URL)".into(),
            ));
        }
        Ok(())
    }
}
