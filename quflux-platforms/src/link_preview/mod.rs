//! Link previews: the OpenGraph card (title, description, image, site name) of a URL a user
//! pasted, fetched behind an SSRF guard. The server's `GET /api/v1/link-preview?url=…` uses it.
//!
//! ```no_run
//! # async fn run() -> quflux_core::Result<()> {
//! use quflux_platforms::link_preview::LinkPreviewer;
//!
//! let previewer = LinkPreviewer::builder().build()?;
//! let preview = previewer.preview("https://www.rust-lang.org/").await?;
//! println!("{:?} {:?}", preview.title, preview.image);
//! # Ok(())
//! # }
//! ```
//!
//! # What is extracted
//!
//! The page is parsed with `scraper` (html5ever, which also decodes entities). Values are
//! whitespace-collapsed, trimmed and cut (title 300, description 1000, site name and type 200
//! characters); empty values count as missing.
//!
//! - `title`: `og:title`, then `twitter:title`, then `<title>` in `<head>`.
//! - `description`: `og:description`, then `twitter:description`, then `<meta name=description>`.
//! - `image`: `og:image`, `og:image:url`, `og:image:secure_url`, `twitter:image`,
//!   `twitter:image:src`: the first that resolves, against the final URL, to an `http`/`https`
//!   URL of at most 2048 bytes. The image itself is not fetched.
//! - `site_name`: `og:site_name`; `content_type`: `og:type`.
//!
//! Meta tags are matched on `property` or `name`, case-insensitively. The body is decoded with
//! the `charset` of the `Content-Type` header (or a byte-order mark), else as UTF-8 with
//! invalid bytes replaced.
//!
//! # The SSRF guard
//!
//! A preview fetches a URL chosen by a user from inside our network, so every destination is
//! checked, on the first request **and on every redirect hop**:
//!
//! - Only `http` and `https`; no user name or password in the URL. Any port is allowed: the
//!   guard is about which *hosts* can be reached, and public hosts serve pages on odd ports.
//! - Every address the host resolves to must be public unicast ([`blocked_reason`] lists the
//!   refused ranges: loopback, private, link-local, cloud metadata, carrier-grade NAT,
//!   unspecified, multicast, broadcast, documentation, reserved, and IPv6 forms embedding such
//!   an IPv4 address). If **any** address is blocked the URL is refused, even if others are
//!   fine. Cloud metadata names (`metadata.google.internal`, …) and `localhost` are refused by
//!   name ([`blocked_name`]).
//! - No DNS-rebinding window: the client's only resolver is a guard that resolves, checks and
//!   hands the client exactly the checked addresses. IP-literal hosts (which `reqwest` connects
//!   to without resolving) are checked before the request, after the `url` crate has
//!   normalised decimal, octal and hex forms such as `http://2130706433/` or `http://0x7f.1/`.
//! - Redirects are followed by hand (at most [`LinkPreviewerBuilder::with_max_redirects`],
//!   default 5), relative `Location`s resolved against the current URL, each hop re-checked.
//! - No proxies (system proxy settings are ignored), no compression (`Accept-Encoding` is not
//!   sent), one timeout for the whole operation (default 5 s, DNS and redirects included).
//! - The body is streamed and reading **stops at `max_bytes`** (default 1 MiB); the prefix read
//!   so far is parsed, which is enough for `<head>`. Only `text/html` and
//!   `application/xhtml+xml` responses are parsed.
//!
//! [`LinkPreviewerBuilder::allow_loopback`] lets loopback (and nothing else) through, for tests
//! and local development only.
//!
//! # Errors
//!
//! Everything that is about the URL the caller gave is [`Error::InvalidInput`] on field `url`,
//! so the server answers 4xx rather than 500 or 503:
//!
//! - a refused scheme, user info, or a malformed URL;
//! - a blocked destination: "`host` resolves to a blocked address (loopback)", naming the
//!   category;
//! - "could not fetch the page: …" when the target cannot be resolved or connected to, times
//!   out, answers with a non-2xx status, or sends more than `max_redirects` redirects;
//! - "not an HTML page" for other content types.
//!
//! A slow or unreachable site is the target's trouble, not ours, so it is not
//! [`Error::Transient`]. Our own trouble (the HTTP client cannot be built) surfaces as
//! [`Error::Config`] from [`LinkPreviewerBuilder::build`].
//!
//! [`Error::InvalidInput`]: quflux_core::Error::InvalidInput
//! [`Error::Transient`]: quflux_core::Error::Transient
//! [`Error::Config`]: quflux_core::Error::Config

mod config;
mod guard;
mod parse;
mod previewer;

use serde::{Deserialize, Serialize};

pub use config::{
    DEFAULT_MAX_BYTES, DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT, LinkPreviewerBuilder,
    LinkPreviewerConfig,
};
pub use guard::{BlockReason, blocked_name, blocked_reason};
pub use previewer::LinkPreviewer;

/// Service name used in errors and logs.
pub const SERVICE: &str = "link_preview";

/// The card shown for a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPreview {
    /// The final URL, after redirects.
    pub url: String,
    /// `og:title`, `twitter:title` or `<title>`.
    pub title: Option<String>,
    /// `og:description`, `twitter:description` or `<meta name=description>`.
    pub description: Option<String>,
    /// Absolute `http`/`https` URL of the image (`og:image`, …, `twitter:image`).
    pub image: Option<String>,
    /// `og:site_name`.
    pub site_name: Option<String>,
    /// `og:type`, e.g. `article`, `website`.
    pub content_type: Option<String>,
}
