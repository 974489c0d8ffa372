//! `quflux_platforms::link_preview`: the SSRF guard (IP literals, names, schemes, user info,
//! redirect hops) and the OpenGraph extraction, against local wiremock servers.
//!
//! Servers listen on 127.0.0.1, so tests that fetch build the previewer with
//! `allow_loopback(true)`; redirect targets are then non-loopback blocked ranges, which proves
//! the guard still runs on every hop.
#![cfg(feature = "link-preview")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use quflux_core::Error;
use quflux_platforms::link_preview::{LinkPreview, LinkPreviewer};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The default previewer: loopback blocked like in production.
fn guarded() -> LinkPreviewer {
    LinkPreviewer::builder().build().unwrap()
}

/// A previewer that may reach the local wiremock servers.
fn local() -> LinkPreviewer {
    LinkPreviewer::builder()
        .allow_loopback(true)
        .build()
        .unwrap()
}

/// The message of an `InvalidInput` error on field `url`; panics on any other error.
fn url_error(err: Error) -> String {
    match &err {
        Error::InvalidInput { field, .. } if field == "url" => err.to_string(),
        other => panic!("expected invalid url, got {other:?}"),
    }
}

async fn refused(previewer: &LinkPreviewer, url: &str) -> String {
    match previewer.preview(url).await {
        Ok(preview) => panic!("{url} was previewed: {preview:?}"),
        Err(err) => url_error(err),
    }
}

fn html(body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "text/html; charset=utf-8")
}

fn redirect(location: &str) -> ResponseTemplate {
    ResponseTemplate::new(302).insert_header("location", location)
}

async fn serve(server: &MockServer, at: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn blocked_ip_literals_are_refused_with_their_category() {
    let previewer = guarded();
    let cases = [
        ("http://127.0.0.1/", "127.0.0.1", "loopback"),
        ("http://127.0.0.1:8080/admin", "127.0.0.1", "loopback"),
        ("http://[::1]/", "[::1]", "loopback"),
        ("http://10.0.0.1/", "10.0.0.1", "private"),
        ("http://172.16.5.4/", "172.16.5.4", "private"),
        ("https://192.168.1.1/", "192.168.1.1", "private"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
            "cloud metadata",
        ),
        (
            "http://100.100.100.200/",
            "100.100.100.200",
            "cloud metadata",
        ),
        (
            "http://[fd00:ec2::254]/",
            "[fd00:ec2::254]",
            "cloud metadata",
        ),
        ("http://[fe80::1]/", "[fe80::1]", "link-local"),
        ("http://0.0.0.0/", "0.0.0.0", "unspecified"),
        ("http://[::]/", "[::]", "unspecified"),
        ("http://224.0.0.1/", "224.0.0.1", "multicast"),
        ("http://255.255.255.255/", "255.255.255.255", "broadcast"),
        ("http://192.0.2.1/", "192.0.2.1", "documentation"),
        ("http://240.0.0.1/", "240.0.0.1", "reserved"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]", "loopback"),
        (
            "http://[::ffff:169.254.169.254]/",
            "[::ffff:a9fe:a9fe]",
            "cloud metadata",
        ),
        ("http://[64:ff9b::a00:1]/", "[64:ff9b::a00:1]", "private"),
        ("http://[2002:7f00:1::]/", "[2002:7f00:1::]", "loopback"),
        ("http://100.64.0.1/", "100.64.0.1", "carrier-grade NAT"),
    ];
    for (url, host, category) in cases {
        assert_eq!(
            refused(&previewer, url).await,
            format!("invalid url: {host} resolves to a blocked address ({category})"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn decimal_hex_and_octal_forms_of_loopback_are_refused() {
    let previewer = guarded();
    for url in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://017700000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
    ] {
        assert_eq!(
            refused(&previewer, url).await,
            "invalid url: 127.0.0.1 resolves to a blocked address (loopback)",
            "{url}"
        );
    }
}

#[tokio::test]
async fn localhost_and_metadata_names_are_refused() {
    let previewer = guarded();
    let cases = [
        ("http://localhost/", "localhost", "loopback"),
        ("http://LOCALHOST.:8080/", "localhost.", "loopback"),
        ("http://app.localhost/", "app.localhost", "loopback"),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            "metadata.google.internal",
            "cloud metadata",
        ),
    ];
    for (url, host, category) in cases {
        assert_eq!(
            refused(&previewer, url).await,
            format!("invalid url: {host} resolves to a blocked address ({category})"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn loopback_stays_blocked_by_default_even_when_a_server_listens() {
    let server = MockServer::start().await;
    serve(&server, "/", html("<title>secret</title>")).await;
    let url = format!("http://localhost:{}/", server.address().port());
    assert!(
        refused(&guarded(), &url)
            .await
            .ends_with("resolves to a blocked address (loopback)")
    );
    assert!(
        refused(&guarded(), &server.uri())
            .await
            .ends_with("resolves to a blocked address (loopback)")
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn only_http_and_https_urls_are_previewed() {
    let previewer = local();
    let cases = [
        ("file:///etc/passwd", "file"),
        ("ftp://example.com/file.txt", "ftp"),
        ("gopher://example.com/", "gopher"),
        ("javascript:alert(1)", "javascript"),
        ("data:text/html,<title>x</title>", "data"),
        ("ws://example.com/", "ws"),
    ];
    for (url, scheme) in cases {
        assert_eq!(
            refused(&previewer, url).await,
            format!("invalid url: only http and https URLs can be previewed, not {scheme}:"),
            "{url}"
        );
    }
    assert!(
        refused(&previewer, "not a url")
            .await
            .starts_with("invalid url: not a valid URL")
    );
}

#[tokio::test]
async fn urls_with_user_info_are_refused() {
    let previewer = local();
    for url in [
        "http://user:password@example.com/",
        "http://user@example.com/",
        "https://:password@example.com/",
    ] {
        assert_eq!(
            refused(&previewer, url).await,
            "invalid url: URLs with a user name or password cannot be previewed",
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_redirect_to_cloud_metadata_is_refused() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/meta",
        redirect("http://169.254.169.254/latest/meta-data/"),
    )
    .await;
    let message = refused(&local(), &format!("{}/meta", server.uri())).await;
    assert_eq!(
        message,
        "invalid url: 169.254.169.254 resolves to a blocked address (cloud metadata)"
    );
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let server = MockServer::start().await;
    serve(&server, "/private", redirect("http://10.0.0.1/")).await;
    serve(&server, "/scheme", redirect("file:///etc/passwd")).await;
    assert_eq!(
        refused(&local(), &format!("{}/private", server.uri())).await,
        "invalid url: 10.0.0.1 resolves to a blocked address (private)"
    );
    assert_eq!(
        refused(&local(), &format!("{}/scheme", server.uri())).await,
        "invalid url: only http and https URLs can be previewed, not file:"
    );
}

#[tokio::test]
async fn redirect_chains_longer_than_the_limit_are_refused() {
    let server = MockServer::start().await;
    for i in 0..3 {
        serve(
            &server,
            &format!("/r{i}"),
            redirect(&format!("/r{}", i + 1)),
        )
        .await;
    }
    serve(&server, "/r3", redirect("/page")).await;
    serve(&server, "/page", html("<title>End of the chain</title>")).await;
    let previewer = LinkPreviewer::builder()
        .allow_loopback(true)
        .with_max_redirects(2)
        .build()
        .unwrap();

    // From /r2: two redirects (/r2 → /r3 → /page), within the limit.
    let preview = previewer
        .preview(&format!("{}/r2", server.uri()))
        .await
        .unwrap();
    assert_eq!(preview.title.as_deref(), Some("End of the chain"));

    let message = refused(&previewer, &format!("{}/r1", server.uri())).await;
    assert_eq!(
        message,
        "invalid url: could not fetch the page: too many redirects (more than 2)"
    );
}

#[tokio::test]
async fn an_open_graph_page_is_previewed() {
    let server = MockServer::start().await;
    let page = r#"<!doctype html>
        <html><head>
          <title>Fallback title</title>
          <meta property="og:title" content="  Caf&eacute; &amp; Co &mdash; &quot;News&quot;  ">
          <meta property="og:description" content="Fresh   beans
             &lt;daily&gt;">
          <meta property="og:image" content="../images/cover.png?size=large&amp;v=2">
          <meta property="og:site_name" content="Caf&eacute; Blog">
          <meta property="og:type" content="article">
          <meta name="twitter:title" content="Twitter title">
        </head><body><h1>Hello</h1></body></html>"#;
    serve(&server, "/blog/post", html(page)).await;

    let preview = local()
        .preview(&format!("{}/blog/post", server.uri()))
        .await
        .unwrap();
    assert_eq!(
        preview,
        LinkPreview {
            url: format!("{}/blog/post", server.uri()),
            title: Some("Café & Co — \"News\"".to_owned()),
            description: Some("Fresh beans <daily>".to_owned()),
            image: Some(format!("{}/images/cover.png?size=large&v=2", server.uri())),
            site_name: Some("Café Blog".to_owned()),
            content_type: Some("article".to_owned()),
        }
    );
}

#[tokio::test]
async fn fallbacks_apply_when_open_graph_is_missing() {
    let server = MockServer::start().await;
    let page = r#"<html><head><title> Plain &amp; simple </title>
        <meta name="description" content="The meta description">
        <meta name="twitter:image" content="https://cdn.example.com/card.jpg">
        </head></html>"#;
    serve(&server, "/", html(page)).await;
    let preview = local().preview(&server.uri()).await.unwrap();
    assert_eq!(preview.title.as_deref(), Some("Plain & simple"));
    assert_eq!(preview.description.as_deref(), Some("The meta description"));
    assert_eq!(
        preview.image.as_deref(),
        Some("https://cdn.example.com/card.jpg")
    );
    assert_eq!(preview.site_name, None);
    assert_eq!(preview.content_type, None);
}

#[tokio::test]
async fn a_redirect_to_another_local_page_is_followed() {
    let server = MockServer::start().await;
    let port = server.address().port();
    serve(&server, "/old", redirect("/new/place")).await;
    serve(
        &server,
        "/new/place",
        html(r#"<head><meta property="og:title" content="Moved here"><meta property="og:image" content="img.png"></head>"#),
    )
    .await;

    // Through the system resolver (`localhost`), which loopback-allowed previewers accept.
    let preview = local()
        .preview(&format!("http://localhost:{port}/old"))
        .await
        .unwrap();
    assert_eq!(preview.url, format!("http://localhost:{port}/new/place"));
    assert_eq!(preview.title.as_deref(), Some("Moved here"));
    assert_eq!(
        preview.image.as_deref(),
        Some(format!("http://localhost:{port}/new/img.png").as_str())
    );
}

#[tokio::test]
async fn oversized_bodies_are_read_only_up_to_max_bytes() {
    let server = MockServer::start().await;
    let padding = "x".repeat(64 * 1024);
    let page = format!(
        r#"<html><head><meta property="og:title" content="Early title">
        <!-- {padding} -->
        <meta property="og:description" content="Past the limit">
        </head></html>"#
    );
    assert!(page.len() > 64 * 1024);
    serve(&server, "/big", html(page)).await;
    let url = format!("{}/big", server.uri());

    let limited = LinkPreviewer::builder()
        .allow_loopback(true)
        .with_max_bytes(4 * 1024)
        .build()
        .unwrap();
    let preview = limited.preview(&url).await.unwrap();
    assert_eq!(preview.title.as_deref(), Some("Early title"));
    assert_eq!(preview.description, None, "read past max_bytes");

    // The same page under the default limit: the description is there to be found.
    let preview = local().preview(&url).await.unwrap();
    assert_eq!(preview.description.as_deref(), Some("Past the limit"));
}

#[tokio::test]
async fn slow_responses_time_out_quickly() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/slow",
        html("<title>Too late</title>").set_delay(Duration::from_secs(10)),
    )
    .await;
    let previewer = LinkPreviewer::builder()
        .allow_loopback(true)
        .with_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let message = refused(&previewer, &format!("{}/slow", server.uri())).await;
    let elapsed = started.elapsed();
    assert!(
        message.starts_with("invalid url: could not fetch the page: timed out"),
        "{message}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn non_html_responses_are_refused() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/data.json",
        ResponseTemplate::new(200).set_body_raw(r#"{"title": "not a page"}"#, "application/json"),
    )
    .await;
    serve(
        &server,
        "/image.png",
        ResponseTemplate::new(200)
            .insert_header("content-type", "image/png")
            .set_body_bytes(vec![0x89, b'P', b'N', b'G']),
    )
    .await;
    assert_eq!(
        refused(&local(), &format!("{}/data.json", server.uri())).await,
        "invalid url: not an HTML page (content type \"application/json\")"
    );
    assert_eq!(
        refused(&local(), &format!("{}/image.png", server.uri())).await,
        "invalid url: not an HTML page (content type \"image/png\")"
    );
}

#[tokio::test]
async fn error_statuses_and_unreachable_hosts_are_invalid_urls() {
    let server = MockServer::start().await;
    serve(&server, "/gone", ResponseTemplate::new(404)).await;
    assert_eq!(
        refused(&local(), &format!("{}/gone", server.uri())).await,
        "invalid url: could not fetch the page: the server answered 404 Not Found"
    );

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let message = refused(&local(), &format!("http://127.0.0.1:{port}/")).await;
    assert!(
        message.starts_with("invalid url: could not fetch the page: could not connect"),
        "{message}"
    );
}
