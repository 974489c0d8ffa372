//! [`LinkPreviewer`]: fetching a page through the guard and following redirects by hand.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use quflux_core::{Error, Result};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use url::Url;

use super::config::LinkPreviewerBuilder;
use super::guard::{
    AddressPolicy, BlockedDestination, GuardedResolver, Lookup, blocked_error, check_url,
};
use super::{LinkPreview, SERVICE, parse};

/// Longest URL accepted, in bytes.
const MAX_URL_LEN: usize = 4_096;

/// Fetches pages and extracts their [`LinkPreview`]. Cheap to clone; share one.
///
/// See the [module docs](super) for the SSRF guard and the error contract.
#[derive(Debug, Clone)]
pub struct LinkPreviewer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    policy: AddressPolicy,
    timeout: Duration,
    max_bytes: usize,
    max_redirects: u8,
}

/// A fetched HTML page.
struct Page {
    url: Url,
    html: String,
}

impl LinkPreviewer {
    /// A builder with the defaults (5 s, 1 MiB, 5 redirects, loopback blocked).
    pub fn builder() -> LinkPreviewerBuilder {
        LinkPreviewerBuilder::new()
    }

    pub(super) fn new(
        timeout: Duration,
        max_bytes: usize,
        max_redirects: u8,
        user_agent: &str,
        policy: AddressPolicy,
    ) -> Result<Self> {
        let resolver = GuardedResolver {
            policy,
            lookup: Lookup::System,
        };
        Self::with_resolver(timeout, max_bytes, max_redirects, user_agent, resolver)
    }

    fn with_resolver(
        timeout: Duration,
        max_bytes: usize,
        max_redirects: u8,
        user_agent: &str,
        resolver: GuardedResolver,
    ) -> Result<Self> {
        let policy = resolver.policy;
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .dns_resolver(resolver)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(user_agent)
            .build()
            .map_err(|e| Error::Config(format!("{SERVICE}: cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                policy,
                timeout,
                max_bytes,
                max_redirects,
            }),
        })
    }

    /// The preview of the page at `url`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on field `url` for everything about the URL: not http(s), user
    /// info, a blocked destination (on any redirect hop), unreachable, timed out, non-2xx,
    /// too many redirects, not HTML. See the [module docs](super#errors).
    pub async fn preview(&self, url: &str) -> Result<LinkPreview> {
        let url = url.trim();
        if url.len() > MAX_URL_LEN {
            return Err(Error::invalid_input(
                "url",
                format!("the URL is longer than {MAX_URL_LEN} bytes"),
            ));
        }
        let url = Url::parse(url)
            .map_err(|e| Error::invalid_input("url", format!("not a valid URL: {e}")))?;
        // Refuse obvious cases before any timer or socket.
        check_url(&url, self.inner.policy)?;
        let timeout = self.inner.timeout;
        let page = tokio::time::timeout(timeout, self.fetch(url))
            .await
            .map_err(|_| {
                Error::invalid_input(
                    "url",
                    format!("could not fetch the page: timed out after {timeout:?}"),
                )
            })??;
        Ok(parse::parse(&page.html, &page.url))
    }

    /// GETs `url`, following at most `max_redirects` redirects, each hop re-checked.
    async fn fetch(&self, mut url: Url) -> Result<Page> {
        let inner = &*self.inner;
        let mut redirects = 0u8;
        loop {
            check_url(&url, inner.policy)?;
            let response = inner
                .client
                .get(url.clone())
                .header(ACCEPT, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1")
                .send()
                .await
                .map_err(fetch_error)?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(LOCATION)
            {
                if redirects >= inner.max_redirects {
                    return Err(Error::invalid_input(
                        "url",
                        format!(
                            "could not fetch the page: too many redirects (more than {})",
                            inner.max_redirects
                        ),
                    ));
                }
                let next = location
                    .to_str()
                    .ok()
                    .and_then(|l| url.join(l.trim()).ok())
                    .ok_or_else(|| {
                        Error::invalid_input(
                            "url",
                            "could not fetch the page: a redirect points to an invalid URL",
                        )
                    })?;
                tracing::debug!(from = %url, to = %next, "link preview follows a redirect");
                redirects += 1;
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(Error::invalid_input(
                    "url",
                    format!("could not fetch the page: the server answered {status}"),
                ));
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if !is_html(&content_type) {
                return Err(Error::invalid_input(
                    "url",
                    format!(
                        "not an HTML page (content type {:?})",
                        mime_of(&content_type)
                    ),
                ));
            }
            let body = read_prefix(response, inner.max_bytes).await?;
            return Ok(Page {
                url,
                html: decode(&body, &content_type),
            });
        }
    }
}

/// Reads at most `max_bytes` of the body, then drops the connection.
async fn read_prefix(mut response: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>> {
    let capacity = response
        .content_length()
        .map_or(16 * 1024, |n| usize::try_from(n).unwrap_or(max_bytes))
        .min(max_bytes);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
        let room = max_bytes - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
fn mime_of(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_html(content_type: &str) -> bool {
    matches!(
        mime_of(content_type).as_str(),
        "text/html" | "application/xhtml+xml"
    )
}

/// `body` as text: a byte-order mark, else the header's `charset`, else UTF-8; invalid bytes
/// are replaced.
fn decode(body: &[u8], content_type: &str) -> String {
    let encoding = content_type
        .split(';')
        .skip(1)
        .filter_map(|param| param.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .and_then(|(_, label)| {
            encoding_rs::Encoding::for_label(label.trim().trim_matches('"').as_bytes())
        })
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

/// Maps a transport failure: a resolver refusal names its category, anything else is
/// "could not fetch".
fn fetch_error(e: reqwest::Error) -> Error {
    let e = e.without_url();
    let mut source: Option<&(dyn StdError + 'static)> = Some(&e);
    let mut innermost = String::new();
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<BlockedDestination>() {
            return blocked_error(&blocked.host, blocked.reason);
        }
        innermost = s.to_string();
        source = s.source();
    }
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("could not connect ({innermost})")
    } else {
        innermost
    };
    Error::invalid_input("url", format!("could not fetch the page: {what}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::IpAddr;

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    /// A previewer whose resolver answers from `hosts` instead of DNS.
    fn previewer(allow_loopback: bool, hosts: &[(&str, &[&str])]) -> LinkPreviewer {
        let hosts: HashMap<String, Vec<IpAddr>> = hosts
            .iter()
            .map(|(name, ips)| {
                let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
                ((*name).to_owned(), ips)
            })
            .collect();
        let resolver = GuardedResolver {
            policy: AddressPolicy { allow_loopback },
            lookup: Lookup::Fixed(hosts),
        };
        LinkPreviewer::with_resolver(Duration::from_secs(5), 1 << 20, 5, "test", resolver).unwrap()
    }

    fn message(err: &Error) -> String {
        assert!(
            matches!(err, Error::InvalidInput { field, .. } if field == "url"),
            "{err:?}"
        );
        err.to_string()
    }

    async fn html_server() -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw("<title>Resolved</title>", "text/html"),
            )
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_blocked_address_is_refused_before_connecting() {
        let server = html_server().await;
        let port = server.address().port();
        let previewer = previewer(false, &[("rebind.test", &["127.0.0.1"])]);
        let err = previewer
            .preview(&format!("http://rebind.test:{port}/"))
            .await
            .unwrap_err();
        assert_eq!(
            message(&err),
            "invalid url: rebind.test resolves to a blocked address (loopback)"
        );
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn one_blocked_address_refuses_the_whole_name() {
        let previewer = previewer(false, &[("mixed.test", &["93.184.216.34", "10.0.0.1"])]);
        let err = previewer.preview("http://mixed.test/").await.unwrap_err();
        assert_eq!(
            message(&err),
            "invalid url: mixed.test resolves to a blocked address (private)"
        );
    }

    #[tokio::test]
    async fn connections_go_to_the_checked_addresses() {
        // `site.test` exists only in the guard's answers, so reaching the server proves the
        // client connected to the address the guard returned.
        let server = html_server().await;
        let port = server.address().port();
        let previewer = previewer(true, &[("site.test", &["127.0.0.1"])]);
        let preview = previewer
            .preview(&format!("http://site.test:{port}/"))
            .await
            .unwrap();
        assert_eq!(preview.title.as_deref(), Some("Resolved"));
        assert_eq!(preview.url, format!("http://site.test:{port}/"));
    }

    #[tokio::test]
    async fn a_redirect_to_a_name_resolving_to_a_blocked_address_is_refused() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/go"))
            .respond_with(
                ResponseTemplate::new(302).insert_header("location", "http://internal.test/admin"),
            )
            .mount(&server)
            .await;
        let previewer = previewer(true, &[("internal.test", &["10.1.2.3"])]);
        let err = previewer
            .preview(&format!("{}/go", server.uri()))
            .await
            .unwrap_err();
        assert_eq!(
            message(&err),
            "invalid url: internal.test resolves to a blocked address (private)"
        );
    }

    #[test]
    fn html_content_types_are_recognised() {
        assert!(is_html("text/html"));
        assert!(is_html("Text/HTML; charset=utf-8"));
        assert!(is_html("application/xhtml+xml"));
        assert!(!is_html("application/json"));
        assert!(!is_html("text/plain; charset=utf-8"));
        assert!(!is_html(""));
    }

    #[test]
    fn bodies_are_decoded_with_the_header_charset() {
        assert_eq!(decode(b"caf\xe9", "text/html; charset=ISO-8859-1"), "café");
        assert_eq!(decode("café".as_bytes(), "text/html"), "café");
        assert_eq!(decode(b"caf\xe9", "text/html"), "caf\u{fffd}");
        assert_eq!(
            decode(b"caf\xe9", "text/html; charset=\"windows-1252\""),
            "café"
        );
    }
}
