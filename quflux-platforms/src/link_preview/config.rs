//! [`LinkPreviewerConfig`] and [`LinkPreviewerBuilder`].

use std::time::Duration;

use quflux_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::SERVICE;
use super::guard::AddressPolicy;
use super::previewer::LinkPreviewer;

/// Default time for the whole preview: DNS, connects, redirects and reading the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of body bytes read; the rest is not downloaded.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: u8 = 5;

/// Settings of a [`LinkPreviewer`] (serde; every field optional). There is deliberately no
/// setting for [`LinkPreviewerBuilder::allow_loopback`].
///
/// ```
/// use quflux_platforms::link_preview::{LinkPreviewerBuilder, LinkPreviewerConfig};
///
/// let config: LinkPreviewerConfig =
///     serde_json::from_str(r#"{"timeout_secs": 3, "max_redirects": 2}"#).unwrap();
/// let previewer = LinkPreviewerBuilder::from_config(config).build().unwrap();
/// # let _ = previewer;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LinkPreviewerConfig {
    /// Time for the whole preview, in seconds. `None`: 5.
    pub timeout_secs: Option<u64>,
    /// Body bytes read at most. `None`: 1 MiB.
    pub max_bytes: Option<usize>,
    /// Redirects followed at most. `None`: 5.
    pub max_redirects: Option<u8>,
    /// `User-Agent` sent. `None`: `quflux/<version> (link preview)`.
    pub user_agent: Option<String>,
}

/// Builds a [`LinkPreviewer`].
///
/// ```
/// use std::time::Duration;
/// use quflux_platforms::link_preview::LinkPreviewer;
///
/// let previewer = LinkPreviewer::builder()
///     .with_timeout(Duration::from_secs(3))
///     .with_max_bytes(256 * 1024)
///     .with_max_redirects(3)
///     .build()
///     .unwrap();
/// # let _ = previewer;
/// let err = LinkPreviewer::builder().with_max_bytes(0).build().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: link_preview: max_bytes must be at least 1"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct LinkPreviewerBuilder {
    timeout: Duration,
    max_bytes: usize,
    max_redirects: u8,
    user_agent: String,
    allow_loopback: bool,
}

impl Default for LinkPreviewerBuilder {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            user_agent: format!("quflux/{} (link preview)", env!("CARGO_PKG_VERSION")),
            allow_loopback: false,
        }
    }
}

impl LinkPreviewerBuilder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with `config`'s settings, defaults for the missing ones.
    pub fn from_config(config: LinkPreviewerConfig) -> Self {
        let mut builder = Self::new();
        if let Some(secs) = config.timeout_secs {
            builder.timeout = Duration::from_secs(secs);
        }
        if let Some(max_bytes) = config.max_bytes {
            builder.max_bytes = max_bytes;
        }
        if let Some(max_redirects) = config.max_redirects {
            builder.max_redirects = max_redirects;
        }
        if let Some(user_agent) = config.user_agent {
            builder.user_agent = user_agent;
        }
        builder
    }

    /// Time for the whole preview, DNS, connects, redirects and body included (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Body bytes read at most (default 1 MiB); reading stops there and the prefix is parsed.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Redirects followed at most (default 5); one more is an error. `0` follows none.
    pub fn with_max_redirects(mut self, max_redirects: u8) -> Self {
        self.max_redirects = max_redirects;
        self
    }

    /// The `User-Agent` sent (default `quflux/<version> (link preview)`).
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Lets loopback destinations (`127.0.0.0/8`, `::1`, `localhost`) through; every other
    /// blocked range stays blocked. **For tests and local development only**: in production it
    /// exposes every service listening on the host. Default `false`.
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// The previewer.
    ///
    /// # Errors
    /// [`Error::Config`]: a zero timeout or `max_bytes`, or a `User-Agent` that is not a valid
    /// header value (the HTTP client cannot be built).
    pub fn build(self) -> Result<LinkPreviewer> {
        if self.timeout.is_zero() {
            return Err(Error::Config(format!(
                "{SERVICE}: timeout must be positive"
            )));
        }
        if self.max_bytes == 0 {
            return Err(Error::Config(format!(
                "{SERVICE}: max_bytes must be at least 1"
            )));
        }
        LinkPreviewer::new(
            self.timeout,
            self.max_bytes,
            self.max_redirects,
            &self.user_agent,
            AddressPolicy {
                allow_loopback: self.allow_loopback,
            },
        )
    }
}
