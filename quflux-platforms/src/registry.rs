//! Assembling the platforms from configuration.
//!
//! [`Platforms`] reads which platforms this deployment can publish to (from the environment with
//! [`Platforms::from_env`], or from any lookup with [`Platforms::from_lookup`]) and
//! [`builds`](Platforms::build) their connectors and publishers around one shared
//! [`TokenManager`], one set of [`RateBudgets`] (the database's [`Cache`]) and one
//! [`HttpConfig`]. The result is a [`PublisherRegistry`] for the publishing service and a
//! [`ConnectionService`] for connecting accounts.
//!
//! | platform | configured when | optional |
//! |---|---|---|
//! | X | `QUFLUX_X_CLIENT_ID` (and `QUFLUX_X_REDIRECT_URL`) | `QUFLUX_X_CLIENT_SECRET`, `QUFLUX_X_API_BASE` |
//! | LinkedIn | `QUFLUX_LINKEDIN_CLIENT_ID` + `QUFLUX_LINKEDIN_CLIENT_SECRET` (and `QUFLUX_LINKEDIN_REDIRECT_URL`) | `QUFLUX_LINKEDIN_API_BASE`, `QUFLUX_LINKEDIN_OAUTH_BASE`, `QUFLUX_LINKEDIN_VERSION` |
//! | Facebook | `QUFLUX_META_APP_ID` + `QUFLUX_META_APP_SECRET` (and `QUFLUX_META_REDIRECT_URL`) | `QUFLUX_META_GRAPH_BASE`, `QUFLUX_META_API_VERSION`, `QUFLUX_META_DIALOG_URL` |
//! | Instagram | as Facebook, and `QUFLUX_PUBLIC_MEDIA_BASE_URL` (Instagram fetches every image and video from there) | |
//! | Bluesky | always (app passwords) | `QUFLUX_BLUESKY_PDS_URL` (default `https://bsky.social`), `QUFLUX_BLUESKY_APP_VIEW_URL` |
//! | Mastodon | always (an app is registered per instance) | `QUFLUX_MASTODON_INSTANCE` (default `https://mastodon.social`), `QUFLUX_MASTODON_REDIRECT_URL` |
//!
//! Every real platform stores encrypted tokens, so it also needs the token keys,
//! [`TOKEN_KEYS_VAR`] (`QUFLUX_TOKEN_KEYS=id:base64-of-32-bytes[,older-id:key…]`, the first key
//! encrypts, all decrypt). Without keys Bluesky and Mastodon stay off, and [`Platforms::build`]
//! refuses an app-registered platform (X, LinkedIn, Meta), naming the variable. A platform whose
//! credentials are only partly set, or a malformed value, is an [`Error::Config`] naming the
//! variable. [`HTTP_TIMEOUT_VAR`] sets the whole-request timeout of every adapter.
//!
//! [`Platforms::summary`] says which platforms are real, which go to the outbox
//! ([`Platforms::with_outbox_fallback`]) and why; it never contains a secret.
//!
//! ```no_run
//! # async fn demo(db: std::sync::Arc<quflux_core::memory::InMemoryStore>) -> quflux_core::Result<()> {
//! use std::sync::Arc;
//! use quflux_core::memory::InMemoryCache;
//! use quflux_core::services::NotificationService;
//! use quflux_core::{Clock, SystemClock};
//! use quflux_platforms::registry::Platforms;
//!
//! let clock: Arc<dyn Clock> = Arc::new(SystemClock);
//! let platforms = Platforms::from_env()?;
//! println!("{}", platforms.summary());
//! let set = platforms.build(
//!     db,
//!     Arc::new(InMemoryCache::new()),
//!     NotificationService::new(Vec::new(), clock.clone()),
//!     clock,
//! )?;
//! let (publishers, connections) = (set.publishers, set.connections);
//! # let _ = (publishers, connections); Ok(()) }
//! ```

// Builds with only some platform features leave parts of the assembly unused.
#![cfg_attr(
    not(all(
        feature = "outbox",
        feature = "twitter",
        feature = "linkedin",
        feature = "meta",
        feature = "bluesky",
        feature = "mastodon"
    )),
    allow(dead_code, unused_mut, unused_variables, unused_imports)
)]

use std::fmt;
#[cfg(feature = "outbox")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use quflux_core::cipher::AesGcmCipher;
use quflux_core::services::{NotificationService, PublisherRegistry};
use quflux_core::{Cache, Clock, ConnectionStore, Error, Platform, Result, TokenCipher};

use crate::common::vars::Vars;
use crate::common::{ConnectionService, HttpConfig, RateBudgets, TokenManager};

mod env;

pub use env::token_cipher_from_lookup;

/// The token keys: `id:base64[,id:base64…]`; the first encrypts, every one decrypts.
pub const TOKEN_KEYS_VAR: &str = "QUFLUX_TOKEN_KEYS";
/// Whole-request timeout of every platform call, in seconds (default 30).
pub const HTTP_TIMEOUT_VAR: &str = "QUFLUX_HTTP_TIMEOUT_SECS";

/// What a platform ends up as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformState {
    /// Published through its real adapter.
    Real,
    /// Written to the local outbox instead.
    Outbox,
    /// No publisher.
    Off,
}

impl fmt::Display for PlatformState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Real => "real",
            Self::Outbox => "outbox",
            Self::Off => "off",
        })
    }
}

/// One platform's line of the [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformStatus {
    /// The platform.
    pub platform: Platform,
    /// What it ends up as.
    pub state: PlatformState,
    /// Where it publishes, or why it is not real (which variable is missing). No secrets.
    pub detail: String,
}

/// Which platforms are real and why the others are not; safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// One line per platform, in [`Platform::ALL`] order.
    pub platforms: Vec<PlatformStatus>,
}

impl Summary {
    /// The status of `platform`.
    pub fn get(&self, platform: Platform) -> Option<&PlatformStatus> {
        self.platforms.iter().find(|s| s.platform == platform)
    }

    /// The platforms published through their real adapter.
    pub fn real(&self) -> Vec<Platform> {
        self.platforms
            .iter()
            .filter(|s| s.state == PlatformState::Real)
            .map(|s| s.platform)
            .collect()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.platforms.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{:<10} {:<6} {}", s.platform.as_str(), s.state, s.detail)?;
        }
        Ok(())
    }
}

/// A platform's configuration, or why there is none.
#[derive(Debug, Clone)]
enum Slot<T> {
    Set(T),
    Unset(String),
}

impl<T> Slot<T> {
    fn unset(reason: impl Into<String>) -> Self {
        Self::Unset(reason.into())
    }
}

/// Builder of the configured platforms; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Platforms {
    http: HttpConfig,
    cipher: Option<Arc<dyn TokenCipher>>,
    #[cfg(feature = "outbox")]
    outbox: Option<PathBuf>,
    #[cfg(feature = "twitter")]
    twitter: Slot<crate::twitter::XConfig>,
    #[cfg(feature = "linkedin")]
    linkedin: Slot<crate::linkedin::LinkedInConfig>,
    #[cfg(feature = "meta")]
    meta: Slot<crate::meta::MetaConfig>,
    #[cfg(feature = "bluesky")]
    bluesky: Slot<crate::bluesky::BlueskyConfig>,
    #[cfg(feature = "mastodon")]
    mastodon: Slot<crate::mastodon::MastodonConfig>,
}

impl Default for Platforms {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything [`Platforms::build`] assembled.
#[derive(Debug, Clone)]
pub struct PlatformSet {
    /// One publisher per real (or outbox) platform.
    pub publishers: PublisherRegistry,
    /// Connects accounts of the real platforms.
    pub connections: ConnectionService,
    /// The token manager every adapter shares.
    pub tokens: Arc<TokenManager>,
    /// The rate budgets every adapter shares.
    pub budgets: RateBudgets,
    /// What was built, and why the rest was not.
    pub summary: Summary,
}

// Unused when every platform feature is on.
#[allow(dead_code)]
fn not_compiled(feature: &str) -> String {
    format!("not compiled in (feature `{feature}` of quflux-platforms)")
}

impl Platforms {
    /// Nothing configured, no token keys, default HTTP settings.
    pub fn new() -> Self {
        Self {
            http: HttpConfig::default(),
            cipher: None,
            #[cfg(feature = "outbox")]
            outbox: None,
            #[cfg(feature = "twitter")]
            twitter: Slot::unset("not configured"),
            #[cfg(feature = "linkedin")]
            linkedin: Slot::unset("not configured"),
            #[cfg(feature = "meta")]
            meta: Slot::unset("not configured"),
            #[cfg(feature = "bluesky")]
            bluesky: Slot::unset("not configured"),
            #[cfg(feature = "mastodon")]
            mastodon: Slot::unset("not configured"),
        }
    }

    /// Reads the process environment; see [`from_lookup`](Self::from_lookup).
    ///
    /// # Errors
    /// As [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables of the [module docs](self) through `get`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable: a platform partly configured, a malformed URL,
    /// version, timeout or token key.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars(&get);
        let mut platforms = Self::new();
        if let Some(cipher) = token_cipher_from_lookup(&get)? {
            platforms.cipher = Some(Arc::new(cipher));
        }
        if let Some(secs) = vars.get(HTTP_TIMEOUT_VAR) {
            let secs: u64 = secs.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                Error::Config(format!(
                    "{HTTP_TIMEOUT_VAR}: expected a positive number of seconds"
                ))
            })?;
            platforms.http = platforms.http.with_timeout(Duration::from_secs(secs));
        }
        #[cfg(feature = "twitter")]
        {
            platforms.twitter = env::twitter_from(vars)?;
        }
        #[cfg(feature = "linkedin")]
        {
            platforms.linkedin = env::linkedin_from(vars)?;
        }
        #[cfg(feature = "meta")]
        {
            platforms.meta = env::meta_from(vars)?;
        }
        #[cfg(feature = "bluesky")]
        {
            platforms.bluesky = env::bluesky_from(vars)?;
        }
        #[cfg(feature = "mastodon")]
        {
            platforms.mastodon = env::mastodon_from(vars)?;
        }
        Ok(platforms)
    }

    /// Encrypts tokens with `cipher` (instead of [`TOKEN_KEYS_VAR`]).
    pub fn with_cipher(mut self, cipher: Arc<dyn TokenCipher>) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// Uses `http` for every adapter.
    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Publishes every platform without a real adapter to the outbox file at `path`.
    #[cfg(feature = "outbox")]
    pub fn with_outbox_fallback(mut self, path: impl Into<PathBuf>) -> Self {
        self.outbox = Some(path.into());
        self
    }

    /// Configures X.
    #[cfg(feature = "twitter")]
    pub fn with_twitter(mut self, config: crate::twitter::XConfig) -> Self {
        self.twitter = Slot::Set(config);
        self
    }

    /// Configures LinkedIn.
    #[cfg(feature = "linkedin")]
    pub fn with_linkedin(mut self, config: crate::linkedin::LinkedInConfig) -> Self {
        self.linkedin = Slot::Set(config);
        self
    }

    /// Configures Facebook and Instagram.
    #[cfg(feature = "meta")]
    pub fn with_meta(mut self, config: crate::meta::MetaConfig) -> Self {
        self.meta = Slot::Set(config);
        self
    }

    /// Configures Bluesky.
    #[cfg(feature = "bluesky")]
    pub fn with_bluesky(mut self, config: crate::bluesky::BlueskyConfig) -> Self {
        self.bluesky = Slot::Set(config);
        self
    }

    /// Configures Mastodon.
    #[cfg(feature = "mastodon")]
    pub fn with_mastodon(mut self, config: crate::mastodon::MastodonConfig) -> Self {
        self.mastodon = Slot::Set(config);
        self
    }

    /// Which platforms [`build`](Self::build) makes real, which go to the outbox, and why.
    pub fn summary(&self) -> Summary {
        let keyless = format!("{TOKEN_KEYS_VAR} not set (it encrypts the stored tokens)");
        let line = |platform: Platform, real: std::result::Result<String, String>| {
            let (state, detail) = match real {
                Ok(detail) if self.cipher.is_some() => (PlatformState::Real, detail),
                Ok(_) => self.fallback(keyless.clone()),
                Err(reason) => self.fallback(reason),
            };
            PlatformStatus {
                platform,
                state,
                detail,
            }
        };
        Summary {
            platforms: Platform::ALL
                .into_iter()
                .map(|p| line(p, self.describe(p)))
                .collect(),
        }
    }

    fn fallback(&self, reason: String) -> (PlatformState, String) {
        #[cfg(feature = "outbox")]
        if let Some(path) = &self.outbox {
            return (
                PlatformState::Outbox,
                format!("to {}: {reason}", path.display()),
            );
        }
        (PlatformState::Off, reason)
    }

    /// Where `platform` would publish, or why it is not configured.
    fn describe(&self, platform: Platform) -> std::result::Result<String, String> {
        fn slot<T>(s: &Slot<T>, f: impl Fn(&T) -> String) -> std::result::Result<String, String> {
            match s {
                Slot::Set(c) => Ok(f(c)),
                Slot::Unset(reason) => Err(reason.clone()),
            }
        }
        match platform {
            #[cfg(feature = "twitter")]
            Platform::Twitter => slot(&self.twitter, |c| format!("X API v2 at {}", c.api_base)),
            #[cfg(feature = "linkedin")]
            Platform::Linkedin => slot(&self.linkedin, |c| {
                format!(
                    "Posts API at {} (LinkedIn-Version {})",
                    c.api_base, c.version
                )
            }),
            #[cfg(feature = "meta")]
            Platform::Facebook => slot(&self.meta, |c| {
                format!("Graph API {} at {}", c.api_version, c.graph_base)
            }),
            #[cfg(feature = "meta")]
            Platform::Instagram => match &self.meta {
                // Instagram fetches every image and video from a public URL: without one every
                // post would fail, so it is not real.
                Slot::Set(c) if c.media_urls().is_none() => Err(format!(
                    "{} not set (Instagram fetches the media from public URLs)",
                    crate::meta::PUBLIC_MEDIA_BASE_URL_VAR
                )),
                meta => slot(meta, |c| {
                    let media = match &c.media_url_base {
                        Some(base) => format!("media served from {base}"),
                        None => "custom media URLs".to_owned(),
                    };
                    format!("Graph API {} at {}; {media}", c.api_version, c.graph_base)
                }),
            },
            #[cfg(feature = "bluesky")]
            Platform::Bluesky => slot(&self.bluesky, |c| {
                format!("AT Protocol, app passwords; default PDS {}", c.pds_url)
            }),
            #[cfg(feature = "mastodon")]
            Platform::Mastodon => slot(&self.mastodon, |c| {
                format!("an app per instance; default instance {}", c.instance_url)
            }),
            #[cfg(not(feature = "twitter"))]
            Platform::Twitter => Err(not_compiled("twitter")),
            #[cfg(not(feature = "linkedin"))]
            Platform::Linkedin => Err(not_compiled("linkedin")),
            #[cfg(not(feature = "meta"))]
            Platform::Facebook | Platform::Instagram => Err(not_compiled("meta")),
            #[cfg(not(feature = "bluesky"))]
            Platform::Bluesky => Err(not_compiled("bluesky")),
            #[cfg(not(feature = "mastodon"))]
            Platform::Mastodon => Err(not_compiled("mastodon")),
        }
    }

    /// Builds the connectors and publishers of the real platforms (and the outbox for the
    /// rest, when asked) over one [`TokenManager`] (`connections`, the cipher, `notifications`,
    /// `clock`) and one [`RateBudgets`] (`cache`).
    ///
    /// # Errors
    /// [`Error::Config`] naming [`TOKEN_KEYS_VAR`] when an app-registered platform (X,
    /// LinkedIn, Meta) is configured without token keys; [`Error::Config`] when an adapter's
    /// HTTP client or the outbox cannot be set up.
    pub fn build(
        &self,
        connections: Arc<dyn ConnectionStore>,
        cache: Arc<dyn Cache>,
        notifications: NotificationService,
        clock: Arc<dyn Clock>,
    ) -> Result<PlatformSet> {
        let summary = self.summary();
        if self.cipher.is_none() {
            let needy: Vec<&str> = [Platform::Twitter, Platform::Linkedin, Platform::Facebook]
                .into_iter()
                .filter(|p| self.describe(*p).is_ok())
                .map(Platform::as_str)
                .collect();
            if !needy.is_empty() {
                return Err(Error::Config(format!(
                    "{TOKEN_KEYS_VAR} is not set; it encrypts the stored tokens of {}: set \
                     {TOKEN_KEYS_VAR}=key1:$(openssl rand -base64 32)",
                    needy.join(", "),
                )));
            }
        }
        // Without keys nothing real is built; the ephemeral key then never encrypts anything.
        let cipher = self
            .cipher
            .clone()
            .unwrap_or_else(|| Arc::new(AesGcmCipher::random("ephemeral")));
        let tokens = Arc::new(TokenManager::new(
            connections,
            cipher,
            notifications,
            clock.clone(),
        ));
        let budgets = RateBudgets::new(cache.clone(), clock);
        let mut set = PlatformSet {
            publishers: PublisherRegistry::new(),
            connections: ConnectionService::new(tokens.clone(), cache.clone()),
            tokens,
            budgets,
            summary,
        };
        let real = set.summary.real();
        let http = &self.http;
        #[cfg(feature = "twitter")]
        if let (Slot::Set(c), true) = (&self.twitter, real.contains(&Platform::Twitter)) {
            use crate::twitter::{XConnector, XPublisher};
            let config = c.clone().with_http(http.clone());
            let connector = Arc::new(XConnector::new(config.clone())?);
            set.publishers.insert(Arc::new(XPublisher::new(
                config,
                set.tokens.clone(),
                connector.clone(),
                set.budgets.clone(),
            )?));
            set.connections = set.connections.with_connector(connector);
        }
        #[cfg(feature = "linkedin")]
        if let (Slot::Set(c), true) = (&self.linkedin, real.contains(&Platform::Linkedin)) {
            use crate::linkedin::{LinkedInConnector, LinkedInPublisher};
            let connector = Arc::new(LinkedInConnector::new(c.clone().with_http(http.clone()))?);
            set.publishers.insert(Arc::new(LinkedInPublisher::new(
                connector.clone(),
                set.tokens.clone(),
                cache.clone(),
            )));
            set.connections = set.connections.with_connector(connector);
        }
        #[cfg(feature = "meta")]
        if let (Slot::Set(c), true) = (&self.meta, real.contains(&Platform::Facebook)) {
            use crate::meta::{FacebookPublisher, InstagramPublisher, MetaConnector};
            let config = c.clone().with_http(http.clone());
            let connector = Arc::new(MetaConnector::new(config.clone())?);
            set.publishers.insert(Arc::new(FacebookPublisher::new(
                &config,
                set.tokens.clone(),
                cache.clone(),
            )?));
            if real.contains(&Platform::Instagram) {
                set.publishers.insert(Arc::new(InstagramPublisher::new(
                    &config,
                    set.tokens.clone(),
                    cache.clone(),
                )?));
            }
            set.connections = set.connections.with_connector(connector);
        }
        #[cfg(feature = "bluesky")]
        if let (Slot::Set(c), true) = (&self.bluesky, real.contains(&Platform::Bluesky)) {
            use crate::bluesky::BlueskyPublisher;
            let publisher = BlueskyPublisher::new(
                c.clone().with_http(http.clone()),
                set.tokens.clone(),
                set.budgets.clone(),
            )?;
            // The publisher's connector refreshes sessions on the token manager's clock.
            set.connections = set
                .connections
                .with_connector(publisher.connector().clone());
            set.publishers.insert(Arc::new(publisher));
        }
        #[cfg(feature = "mastodon")]
        if let (Slot::Set(c), true) = (&self.mastodon, real.contains(&Platform::Mastodon)) {
            use crate::mastodon::{MastodonConnector, MastodonPublisher};
            let config = c.clone().with_http(http.clone());
            let connector = Arc::new(MastodonConnector::new(
                config.clone(),
                cache.clone(),
                set.tokens.cipher().clone(),
            )?);
            set.publishers.insert(Arc::new(MastodonPublisher::new(
                config,
                set.tokens.clone(),
                cache.clone(),
            )?));
            set.connections = set.connections.with_connector(connector);
        }
        #[cfg(feature = "outbox")]
        if let Some(path) = &self.outbox {
            for platform in Platform::ALL {
                if set.publishers.get(platform).is_none() {
                    set.publishers.insert(Arc::new(
                        crate::outbox::OutboxPublisher::builder()
                            .with_path(path)
                            .with_platform(platform)
                            .build()?,
                    ));
                }
            }
        }
        Ok(set)
    }
}

#[cfg(all(
    test,
    feature = "outbox",
    feature = "twitter",
    feature = "linkedin",
    feature = "meta",
    feature = "bluesky",
    feature = "mastodon"
))]
mod tests;
