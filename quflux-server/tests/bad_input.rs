//! Bad input: every malformed, mistyped, oversized or misaddressed request gets a 4xx in the
//! error format (five fields, a `req_…` request id equal to the `x-request-id` header), never a
//! 5xx; plus the login rate limit, registration checks and X's weighted length.
//!
//! The JSON bodies, path ids and query parameters tried come from the OpenAPI document, so a
//! new endpoint is covered without a change here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Options, TestServer, assert_error};
use quflux_core::testkit::standin::TINY_PNG;
use reqwest::Method;
use serde_json::{Value, json};

/// `QUFLUX_MAX_BODY_BYTES` of these tests.
const MAX_BODY: usize = 64 * 1024;
/// `QUFLUX_MAX_UPLOAD_BYTES` of these tests.
const MAX_UPLOAD: usize = 256 * 1024;

async fn start() -> TestServer {
    TestServer::start(
        Options::default()
            .set("QUFLUX_MAX_BODY_BYTES", MAX_BODY.to_string())
            .set("QUFLUX_MAX_UPLOAD_BYTES", MAX_UPLOAD.to_string()),
    )
    .await
}

/// One operation of the OpenAPI document.
struct Op {
    method: String,
    path: String,
    op: Value,
}

impl Op {
    fn is_secured(&self) -> bool {
        self.op["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    }
    fn takes_json(&self) -> bool {
        self.op["requestBody"]["content"]["application/json"].is_object()
    }
    fn query_params(&self) -> Vec<&Value> {
        self.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .collect()
    }
}

async fn operations(server: &TestServer) -> Vec<Op> {
    let doc: Value = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                ops.push(Op {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    op: op.clone(),
                });
            }
        }
    }
    assert!(
        ops.len() > 30,
        "the document lists only {} operations",
        ops.len()
    );
    ops
}

/// The path with every `{…}` parameter replaced by `value` (a fresh UUID when `None`).
fn fill(path: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        match value {
            Some(v) => out.push_str(v),
            None => out.push_str(&uuid::Uuid::new_v4().to_string()),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn request(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    let req = server.http.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        server.url(path),
    );
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// Sends and asserts the error; the description names the request on failure.
async fn expect_error(req: reqwest::RequestBuilder, what: &str, status: u16, code: &str) -> Value {
    let res = req.send().await.unwrap();
    let got = res.status().as_u16();
    if got != status {
        panic!(
            "{what}: expected {status} {code}, got {got}: {}",
            res.text().await.unwrap()
        );
    }
    assert_error(res, status, code).await
}

fn json_body(req: reqwest::RequestBuilder, body: impl Into<String>) -> reqwest::RequestBuilder {
    req.header("content-type", "application/json")
        .body(body.into())
}

#[tokio::test]
async fn json_bodies_refuse_malformed_mistyped_unknown_unlabelled_and_oversized_input() {
    let server = start().await;
    let (token, _) = server.register("json@example.com").await;
    let ops = operations(&server).await;
    let mut tried = 0;
    for op in ops.iter().filter(|o| o.takes_json()) {
        let t = op.is_secured().then_some(token.as_str());
        let path = fill(&op.path, None);
        let req = || request(&server, t, &op.method, &path);
        let what = |case: &str| format!("{} {} ({case})", op.method, op.path);

        expect_error(
            json_body(req(), "{"),
            &what("truncated JSON"),
            400,
            "MALFORMED_JSON",
        )
        .await;
        expect_error(
            json_body(req(), "{'single': 'quotes'}"),
            &what("not JSON"),
            400,
            "MALFORMED_JSON",
        )
        .await;
        expect_error(
            json_body(req(), "{,}"),
            &what("a comma for a key"),
            400,
            "MALFORMED_JSON",
        )
        .await;
        expect_error(
            json_body(req(), "[1, 2, 3]"),
            &what("an array"),
            422,
            "INVALID_INPUT",
        )
        .await;
        expect_error(
            json_body(req(), "42"),
            &what("a number"),
            422,
            "INVALID_INPUT",
        )
        .await;
        let body = expect_error(
            json_body(req(), r#"{"definitely_not_a_field": 1}"#),
            &what("unknown field"),
            422,
            "INVALID_INPUT",
        )
        .await;
        assert!(
            body["error_message"]
                .as_str()
                .unwrap()
                .contains("unknown field"),
            "{}: unknown fields are not refused as such: {body}",
            what("unknown field")
        );
        expect_error(
            req().body("{}"),
            &what("no Content-Type"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        .await;
        expect_error(
            req().header("content-type", "text/plain").body("{}"),
            &what("text/plain"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        .await;
        let big = json!({ "text": "a".repeat(MAX_BODY + 1024) }).to_string();
        expect_error(
            json_body(req(), big),
            &what("oversized"),
            413,
            "PAYLOAD_TOO_LARGE",
        )
        .await;
        tried += 1;
    }
    assert!(tried >= 15, "only {tried} operations take JSON");

    // Wrong types and unknown fields next to otherwise valid bodies.
    let auth = |method: &str, path: &str| request(&server, Some(&token), method, path);
    let some_post = uuid::Uuid::new_v4();
    for (method, path, body) in [
        ("POST", "/api/v1/posts", json!({ "text": 5 })),
        (
            "POST",
            "/api/v1/posts",
            json!({ "text": "hi", "media": "not-a-list" }),
        ),
        (
            "POST",
            "/api/v1/posts",
            json!({ "text": "hi", "media": [{ "media_id": "not-a-uuid" }] }),
        ),
        (
            "POST",
            "/api/v1/posts",
            json!({ "text": "hi", "colour": "red" }),
        ),
        (
            "POST",
            "/api/v1/posts",
            json!({ "text": "hi", "variants": { "myspace": "x" } }),
        ),
        (
            "POST",
            "/api/v1/posts/validate",
            json!({ "platform": "myspace", "text": "x" }),
        ),
        // serde_json calls a number where an enum goes a syntax error; it is a type error.
        (
            "POST",
            "/api/v1/posts/validate",
            json!({ "platform": 5, "text": "x" }),
        ),
        (
            "POST",
            "/api/v1/posts/validate",
            json!({ "platform": null, "text": "x" }),
        ),
        (
            "POST",
            "/api/v1/posts/validate",
            json!({ "platform": "twitter", "text": ["x"] }),
        ),
        (
            "POST",
            "/api/v1/schedules",
            json!({ "post_id": "not-a-uuid", "local_time": "2030-01-01T09:00:00", "platforms": ["twitter"] }),
        ),
        (
            "POST",
            "/api/v1/schedules",
            json!({ "post_id": some_post, "local_time": "tomorrow at nine", "platforms": ["twitter"] }),
        ),
        (
            "POST",
            "/api/v1/schedules",
            json!({ "post_id": some_post, "local_time": "2030-01-01T09:00:00", "platforms": ["twitter"], "priority": 1 }),
        ),
        (
            "POST",
            "/api/v1/ai/caption",
            json!({ "content_type": "announcement", "topic": "t", "platform": "twitter", "tone": "casual", "temperature": 2 }),
        ),
        (
            "POST",
            "/api/v1/ai/images",
            json!({ "prompt": "a cat", "width": "wide", "height": 512 }),
        ),
        (
            "POST",
            "/api/v1/ai/images",
            json!({ "prompt": "a cat", "width": -5, "height": 512 }),
        ),
    ] {
        let what = format!("{method} {path} {body}");
        expect_error(auth(method, path).json(&body), &what, 422, "INVALID_INPUT").await;
    }
    let publish = format!("/api/v1/posts/{some_post}/publish");
    for body in [
        json!({ "platforms": "twitter" }),
        json!({ "platforms": [1] }),
        json!({ "platforms": [["twitter"]] }),
    ] {
        expect_error(
            auth("POST", &publish).json(&body),
            &format!("{publish} {body}"),
            422,
            "INVALID_INPUT",
        )
        .await;
    }
    // None of the refused bodies created anything.
    let posts: Value = auth("GET", "/api/v1/posts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posts["items"], json!([]));

    // Registration with an unknown field creates no account.
    let reg = |body: Value| request(&server, None, "POST", "/api/v1/auth/register").json(&body);
    expect_error(
        reg(
            json!({ "email": "extra@example.com", "password": "long enough pw", "is_admin": true }),
        ),
        "register with is_admin",
        422,
        "INVALID_INPUT",
    )
    .await;
    expect_error(
        reg(json!({ "email": 42, "password": "long enough pw" })),
        "register with a numeric email",
        422,
        "INVALID_INPUT",
    )
    .await;
    // A JSON media type with parameters, in any case, is JSON.
    let res = request(&server, None, "POST", "/api/v1/auth/register")
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(json!({ "email": "extra@example.com", "password": "long enough pw" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    server.stop().await;
}

/// A PNG padded with trailing bytes to exactly `len` bytes (still a readable PNG).
fn png_of(len: usize) -> Vec<u8> {
    let mut bytes = TINY_PNG.to_vec();
    bytes.resize(len, 0);
    bytes
}

async fn upload(
    server: &TestServer,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
    mime: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap();
    request(server, Some(token), "POST", "/api/v1/media")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn uploads_are_limited_in_size_and_type() {
    let server = start().await;
    let (token, _) = server.register("upload@example.com").await;

    // The limit itself is accepted.
    let res = upload(&server, &token, "edge.png", png_of(MAX_UPLOAD), "image/png").await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let edge: Value = res.json().await.unwrap();
    assert_eq!(edge["size_bytes"], MAX_UPLOAD);

    for (len, what) in [
        (MAX_UPLOAD + 1, "one byte over the limit"),
        (MAX_UPLOAD + 32 * 1024, "within the multipart allowance"),
        (MAX_UPLOAD * 3, "far over the limit"),
    ] {
        let res = upload(&server, &token, "big.png", png_of(len), "image/png").await;
        let got = res.status();
        if got != 413 {
            panic!(
                "{what} ({len} bytes): expected 413, got {got}: {}",
                res.text().await.unwrap()
            );
        }
        assert_error(res, 413, "PAYLOAD_TOO_LARGE").await;
    }

    let mut random = vec![0u8; 4096];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    for (name, bytes, mime, what) in [
        (
            "doc.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec(),
            "application/pdf",
            "a PDF",
        ),
        (
            "doc.png",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec(),
            "image/png",
            "a PDF claiming to be a PNG",
        ),
        ("noise.jpg", random, "image/jpeg", "random bytes"),
        (
            "note.txt",
            b"just some text, no image here".to_vec(),
            "text/plain",
            "text",
        ),
        (
            "page.html",
            b"<!doctype html><html><body>hi</body></html>".to_vec(),
            "image/png",
            "HTML",
        ),
        (
            "a.zip",
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec(),
            "image/png",
            "a zip archive",
        ),
    ] {
        let res = upload(&server, &token, name, bytes, mime).await;
        let got = res.status();
        if got != 415 {
            panic!(
                "{what}: expected 415, got {got}: {}",
                res.text().await.unwrap()
            );
        }
        let body = assert_error(res, 415, "UNSUPPORTED_MEDIA_TYPE").await;
        assert_eq!(body["error_details"]["field"], "file", "{what}: {body}");
    }

    // A PNG signature over garbage is recognised but unreadable.
    let mut broken = TINY_PNG[..8].to_vec();
    broken.extend_from_slice(&[0xAB; 64]);
    let res = upload(&server, &token, "broken.png", broken, "image/png").await;
    assert_error(res, 422, "INVALID_INPUT").await;
    let res = upload(&server, &token, "empty.png", Vec::new(), "image/png").await;
    assert_error(res, 422, "INVALID_INPUT").await;

    // Not a multipart body, or no `file` part.
    expect_error(
        request(&server, Some(&token), "POST", "/api/v1/media")
            .json(&json!({ "file": "aGVsbG8=" })),
        "JSON instead of multipart",
        400,
        "INVALID_INPUT",
    )
    .await;
    expect_error(
        request(&server, Some(&token), "POST", "/api/v1/media")
            .multipart(reqwest::multipart::Form::new()),
        "no part at all",
        400,
        "INVALID_INPUT",
    )
    .await;
    let part = reqwest::multipart::Part::bytes(TINY_PNG.to_vec()).file_name("x.png");
    expect_error(
        request(&server, Some(&token), "POST", "/api/v1/media")
            .multipart(reqwest::multipart::Form::new().part("image", part)),
        "a part named `image`",
        422,
        "INVALID_INPUT",
    )
    .await;

    // Only the upload at the limit was stored.
    let list: Value = request(&server, Some(&token), "GET", "/api/v1/media")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, vec![&edge["id"]]);
    server.stop().await;
}

#[tokio::test]
async fn bad_path_ids_and_query_parameters_are_400() {
    let server = start().await;
    let (token, _) = server.register("query@example.com").await;
    let ops = operations(&server).await;

    let mut ids = 0;
    for op in ops.iter().filter(|o| o.path.contains('{')) {
        for bad in ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"] {
            let path = fill(&op.path, Some(bad));
            let what = format!("{} {path}", op.method);
            let body = expect_error(
                request(&server, Some(&token), &op.method, &path),
                &what,
                400,
                "INVALID_INPUT",
            )
            .await;
            assert_eq!(body["error_details"]["field"], "path", "{what}: {body}");
        }
        ids += 1;
    }
    assert!(ids >= 15, "only {ids} operations take a path id");

    // Every integer or date query parameter of the document, given a value of the wrong type,
    // with every other required parameter valid.
    let mut queries = 0;
    for op in &ops {
        let params = op.query_params();
        for p in &params {
            let schema = &p["schema"];
            let types: Vec<&str> = match &schema["type"] {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let bad = if types.contains(&"integer") {
                "abc"
            } else if matches!(schema["format"].as_str(), Some("date-time" | "date")) {
                "notadate"
            } else {
                continue;
            };
            let name = p["name"].as_str().unwrap();
            let mut query = vec![format!("{name}={bad}")];
            for other in params
                .iter()
                .filter(|o| o["required"] == true && o["name"] != name)
            {
                let value = match other["schema"]["format"].as_str() {
                    Some("date-time") => "2030-01-01T00:00:00Z",
                    Some("date") => "2030-01-01",
                    _ => "1",
                };
                query.push(format!("{}={value}", other["name"].as_str().unwrap()));
            }
            let path = format!("{}?{}", fill(&op.path, None), query.join("&"));
            let what = format!("{} {path}", op.method);
            expect_error(
                request(&server, Some(&token), &op.method, &path),
                &what,
                400,
                "INVALID_INPUT",
            )
            .await;
            queries += 1;
        }
    }
    assert!(queries >= 12, "only {queries} typed query parameters");

    for path in [
        "/api/v1/posts?limit=abc",
        "/api/v1/posts?limit=0",
        "/api/v1/posts?limit=-1",
        "/api/v1/posts?status=bogus",
        "/api/v1/posts?created_from=yesterday",
        "/api/v1/posts?unknown_filter=1",
        "/api/v1/publications?limit=0",
        "/api/v1/publications?schedule_id=nope",
        "/api/v1/notifications?limit=0",
        "/api/v1/notifications?limit=501",
        "/api/v1/notifications?after=abc",
        "/api/v1/schedules?from=notadate&to=2030-01-01T00:00:00Z",
        "/api/v1/schedules?from=2030-01-01T00:00:00Z",
        "/api/v1/schedules/calendar?from=notadate&to=2030-01-07",
        "/api/v1/schedules/conflicts?from=2030-01-01T00:00:00Z&to=notadate",
        "/api/v1/ws?after=abc",
    ] {
        expect_error(
            request(&server, Some(&token), "GET", path),
            path,
            400,
            "INVALID_INPUT",
        )
        .await;
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() {
    let server = start().await;
    let (token, _) = server.register("routes@example.com").await;
    for (method, path) in [
        ("GET", "/api/v1/nope"),
        ("GET", "/nope"),
        ("GET", "/api/v2/posts"),
        (
            "POST",
            "/api/v1/posts/0b6d7a5e-6a51-4c39-9a53-2b7f7a3b8f10/nope",
        ),
        (
            "GET",
            "/api/v1/media/0b6d7a5e-6a51-4c39-9a53-2b7f7a3b8f10/content/extra",
        ),
        ("DELETE", "/api/v1"),
    ] {
        let what = format!("{method} {path}");
        expect_error(
            request(&server, Some(&token), method, path),
            &what,
            404,
            "NOT_FOUND",
        )
        .await;
        expect_error(
            request(&server, None, method, path),
            &format!("{what} unsigned"),
            404,
            "NOT_FOUND",
        )
        .await;
    }

    // Every documented path refuses the methods it does not document.
    let ops = operations(&server).await;
    let paths: std::collections::BTreeSet<&str> = ops.iter().map(|o| o.path.as_str()).collect();
    let mut refused = 0;
    for path in paths {
        let concrete = fill(path, None);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if ops.iter().any(|o| o.path == path && o.method == method) {
                continue;
            }
            let what = format!("{method} {path}");
            expect_error(
                request(&server, Some(&token), method, &concrete),
                &what,
                405,
                "METHOD_NOT_ALLOWED",
            )
            .await;
            refused += 1;
        }
    }
    assert!(refused > 80, "only {refused} wrong methods tried");
    server.stop().await;
}

async fn login(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_address() {
    const WINDOW: u64 = 20;
    let server = TestServer::start(
        Options::default()
            .set("QUFLUX_LOGIN_MAX_FAILURES", "3")
            .set("QUFLUX_LOGIN_WINDOW_SECS", WINDOW.to_string()),
    )
    .await;
    let password = "correct horse battery";
    server.register("victim@example.com").await;
    server.register("bystander@example.com").await;

    let started = Instant::now();
    for i in 1..=3 {
        let res = login(&server, "victim@example.com", &format!("guess {i}")).await;
        assert_error(res, 401, "INVALID_CREDENTIALS").await;
    }
    let limited = |res: reqwest::Response| async move {
        let retry: u64 = res
            .headers()
            .get("retry-after")
            .expect("429 without Retry-After")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=WINDOW).contains(&retry), "Retry-After {retry}");
        let body = assert_error(res, 429, "RATE_LIMITED").await;
        assert_eq!(body["error_details"]["retry_after"], retry, "{body}");
        retry
    };
    let res = login(&server, "victim@example.com", "guess 4").await;
    assert_eq!(res.status(), 429, "the 4th failure is not limited");
    limited(res).await;
    // The right password is refused too, and so is the same account spelled differently.
    let res = login(&server, "victim@example.com", password).await;
    assert_eq!(
        res.status(),
        429,
        "the right password got through the limit"
    );
    let retry = limited(res).await;
    let res = login(&server, "  Victim@Example.COM ", password).await;
    assert_eq!(res.status(), 429);
    assert!(
        started.elapsed() < Duration::from_secs(WINDOW),
        "the checks took longer than the window; they prove nothing"
    );

    // Another account from the same address signs in, and its failures count on their own.
    let res = login(&server, "bystander@example.com", "wrong").await;
    assert_error(res, 401, "INVALID_CREDENTIALS").await;
    let res = login(&server, "bystander@example.com", password).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // Once the window has passed (a client waits what Retry-After says), the right password
    // works again.
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(300)).await;
    let res = login(&server, "victim@example.com", password).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().starts_with("qfx_"));
    server.stop().await;
}

#[tokio::test]
async fn registration_refuses_duplicates_and_bad_fields() {
    let server = start().await;
    let reg = |body: Value| {
        server
            .http
            .post(server.url("/api/v1/auth/register"))
            .json(&body)
    };
    server.register("taken@example.com").await;
    for email in [
        "taken@example.com",
        "Taken@Example.com",
        "  TAKEN@example.com ",
    ] {
        expect_error(
            reg(json!({ "email": email, "password": "another good password" })),
            &format!("duplicate {email:?}"),
            409,
            "EMAIL_TAKEN",
        )
        .await;
    }
    for (body, field) in [
        (
            json!({ "email": "not-an-email", "password": "long enough pw" }),
            "email",
        ),
        (
            json!({ "email": "a@b", "password": "long enough pw" }),
            "email",
        ),
        (
            json!({ "email": "two@@example.com", "password": "long enough pw" }),
            "email",
        ),
        (
            json!({ "email": "", "password": "long enough pw" }),
            "email",
        ),
        (
            json!({ "email": "short@example.com", "password": "short" }),
            "password",
        ),
        (
            json!({ "email": "short@example.com", "password": "x".repeat(257) }),
            "password",
        ),
        (
            json!({ "email": "tz@example.com", "password": "long enough pw", "time_zone": "Mars/Olympus" }),
            "time_zone",
        ),
        (
            json!({ "email": "tz@example.com", "password": "long enough pw", "time_zone": "" }),
            "time_zone",
        ),
        (
            json!({ "email": "name@example.com", "password": "long enough pw", "display_name": "n".repeat(101) }),
            "display_name",
        ),
    ] {
        let what = format!("register {body}");
        let err = expect_error(reg(body), &what, 422, "INVALID_INPUT").await;
        assert_eq!(err["error_details"]["field"], field, "{what}: {err}");
    }
    expect_error(
        reg(json!({ "email": "missing@example.com" })),
        "no password",
        422,
        "INVALID_INPUT",
    )
    .await;
    // Refused registrations created nothing: the addresses are still free.
    for email in ["short@example.com", "tz@example.com", "name@example.com"] {
        let res =
            reg(json!({ "email": email, "password": "long enough pw", "time_zone": "Asia/Tokyo" }))
                .send()
                .await
                .unwrap();
        assert_eq!(res.status(), 201, "{email}: {}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["user"]["time_zone"], "Asia/Tokyo");
    }
    server.stop().await;
}

async fn validate(server: &TestServer, token: &str, text: &str) -> Value {
    let res = request(server, Some(token), "POST", "/api/v1/posts/validate")
        .json(&json!({ "platform": "twitter", "text": text }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn validation_counts_text_the_way_x_does() {
    let server = start().await;
    let (token, _) = server.register("counter@example.com").await;

    let over = validate(&server, &token, &"a".repeat(281)).await;
    assert_eq!(over["valid"], false, "{over}");
    assert_eq!(over["length"], 281);
    assert_eq!(over["limit"], 280);
    let violations = over["violations"].as_array().unwrap();
    assert!(!violations.is_empty(), "{over}");
    for v in violations {
        assert!(v["rule"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    assert!(
        violations
            .iter()
            .any(|v| v["rule"] == "twitter.text.too_long"),
        "{over}"
    );

    // Weight 2 for CJK and emoji, 23 for any URL.
    let url = "https://example.com/a/rather/long/path/that/is/much/longer/than/twenty-three";
    for (text, length, valid) in [
        ("a".repeat(280), 280, true),
        ("字".repeat(140), 280, true),
        ("字".repeat(141), 282, false),
        ("한".repeat(141), 282, false),
        ("😀".repeat(140), 280, true),
        ("😀".repeat(141), 282, false),
        (format!("{}字", "a".repeat(278)), 280, true),
        (format!("{}字", "a".repeat(279)), 281, false),
        (format!("{} {url}", "a".repeat(256)), 280, true),
        (format!("{} {url}", "a".repeat(257)), 281, false),
    ] {
        let r = validate(&server, &token, &text).await;
        let what = format!(
            "{} chars ({}…)",
            text.chars().count(),
            text.chars().take(3).collect::<String>()
        );
        assert_eq!(r["length"], length, "{what}: {r}");
        assert_eq!(r["limit"], 280, "{what}: {r}");
        assert_eq!(r["valid"], valid, "{what}: {r}");
        assert_eq!(
            r["violations"].as_array().unwrap().is_empty(),
            valid,
            "{what}: {r}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_connection_without_refresh_is_not_refreshable_not_a_server_error() {
    let server = start().await;
    let (token, _) = server.register("refresher@example.com").await;
    // An outbox account: no refresh token, nothing to refresh.
    let res = request(&server, Some(&token), "POST", "/api/v1/connections/login")
        .json(&json!({ "platform": "mastodon", "identifier": "demo", "app_password": "unused" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = request(
        &server,
        Some(&token),
        "POST",
        &format!("/api/v1/connections/{id}/refresh"),
    )
    .send()
    .await
    .unwrap();
    let body = assert_error(res, 422, "NOT_REFRESHABLE").await;
    assert!(
        body["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be refreshed")),
        "{body}"
    );
    server.stop().await;
}
