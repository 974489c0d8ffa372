//! Operability: health, readiness, metrics, the OpenAPI document, JSON logs with request ids,
//! configuration errors, and the binary's commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Options, TestServer, assert_error};
use serde_json::{Value, json};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start(Options::default().with_worker()).await;
    let res = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ready: Value = server
        .http
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready,
        json!({ "status": "ok", "database": true, "queue": true })
    );

    // Activity: a publication through the outbox and an AI call.
    let (token, _) = server.register("ops@example.com").await;
    let res = server
        .http
        .post(server.url("/api/v1/connections/login"))
        .bearer_auth(&token)
        .json(&json!({ "platform": "mastodon", "identifier": "demo", "app_password": "unused" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let post: Value = server
        .http
        .post(server.url("/api/v1/posts"))
        .bearer_auth(&token)
        .json(&json!({ "text": "metrics please" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = server
        .http
        .post(server.url(&format!(
            "/api/v1/posts/{}/publish",
            post["id"].as_str().unwrap()
        )))
        .bearer_auth(&token)
        .json(&json!({ "platforms": ["mastodon"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let res = server
        .http
        .post(server.url("/api/v1/ai/hashtags"))
        .bearer_auth(&token)
        .json(&json!({ "content": "Rust scheduling engine release", "platform": "twitter" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = server
            .http
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("quflux_publications_total{platform=\"mastodon\",outcome=\"published\"}")
            || Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for family in [
        "quflux_publications_total{platform=\"mastodon\",outcome=\"published\"}",
        "quflux_http_request_duration_seconds_bucket",
        "route=\"/api/v1/posts\"",
        "quflux_queue_lag_seconds{queue=\"publishing\"}",
        "quflux_queue_jobs{queue=\"publishing\",state=\"queued\"}",
        "quflux_ai_request_duration_seconds_bucket",
        "operation=\"hashtags\"",
    ] {
        assert!(text.contains(family), "/metrics lacks {family}:\n{text}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_covers_every_area_and_declares_bearer_auth() {
    let server = TestServer::start(Options::default()).await;
    let doc: Value = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/connections",
        "/api/v1/connections/start",
        "/api/v1/connections/callback",
        "/api/v1/connections/{id}/refresh",
        "/api/v1/connections/{id}",
        "/api/v1/media",
        "/api/v1/media/{id}",
        "/api/v1/posts",
        "/api/v1/posts/{id}",
        "/api/v1/posts/validate",
        "/api/v1/posts/{id}/publish",
        "/api/v1/link-preview",
        "/api/v1/ai/caption",
        "/api/v1/ai/hashtags",
        "/api/v1/ai/ideas",
        "/api/v1/ai/images",
        "/api/v1/ai/images/edit",
        "/api/v1/ai/social-graphic",
        "/api/v1/schedules",
        "/api/v1/schedules/{id}",
        "/api/v1/schedules/{id}/cancel",
        "/api/v1/schedules/calendar",
        "/api/v1/schedules/conflicts",
        "/api/v1/schedules/feed.ics",
        "/api/v1/publications",
        "/api/v1/publications/{id}/retry",
        "/api/v1/ws",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every operation documents its error responses with the error body.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            if path.starts_with("/api/v1/") {
                assert!(
                    responses.keys().any(|k| k.starts_with('4')),
                    "{method} {path} documents no 4xx"
                );
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_and_generated() {
    let server = TestServer::start(Options::default()).await;
    let res = server
        .http
        .get(server.url("/api/v1/posts"))
        .header("x-request-id", "req_client_supplied_1")
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 401, "UNAUTHENTICATED").await;
    assert_eq!(body["request_id"], "req_client_supplied_1");
    // An unusable id is replaced.
    let res = server
        .http
        .get(server.url("/api/v1/posts"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 401, "UNAUTHENTICATED").await;
    assert_ne!(body["request_id"], "bad id with spaces");
    server.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_binary_logs_json_with_the_request_id_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_quflux-server"))
        .arg("all")
        .current_dir(dir.path())
        .env("QUFLUX_BIND", format!("127.0.0.1:{port}"))
        .env(
            "QUFLUX_LOG",
            "debug,sqlx=warn,hyper=warn,h2=warn,reqwest=warn",
        )
        .env_remove("QUFLUX_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = raw_http::blocking_client();
    loop {
        if client(&format!("{url}/healthz"), None).is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server did not start: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = client(&format!("{url}/api/v1/posts"), Some("req_logged_42")).unwrap();
    assert_eq!(status, 401);
    std::thread::sleep(Duration::from_millis(300));
    // SIGTERM: graceful shutdown.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let exit = child.wait().unwrap();
    reader.join().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    let lines = lines.lock().unwrap();
    let tagged: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.to_string().contains("req_logged_42"))
        .collect();
    assert!(
        !tagged.is_empty(),
        "no JSON log line carries the request id:\n{}",
        lines.join("\n")
    );
    assert!(
        dir.path().join("quflux.db").exists(),
        "the default SQLite file was not created"
    );
}

#[test]
fn bad_settings_stop_the_binary_with_the_setting_named() {
    for (name, value) in [
        ("QUFLUX_BIND", "not-an-address"),
        ("QUFLUX_DATABASE_URL", "mysql://nope"),
        ("QUFLUX_BLOB_STORE", "floppy"),
        ("QUFLUX_EMAIL_PROVIDER", "pigeon"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_quflux-server"))
            .arg("serve")
            .current_dir(dir.path())
            .env(name, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(name),
            "{name}={value}: stderr does not name it: {err}"
        );
    }
    // A TOML file: keys without the prefix, tables flattened.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quflux.toml"),
        "[login]\nmax_failures = \"many\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_quflux-server"))
        .args(["--config", "quflux.toml", "migrate"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("QUFLUX_LOGIN_MAX_FAILURES"));
}

mod raw_http {
    /// A tiny blocking GET over std (the test must not depend on a runtime): status code.
    pub(super) fn blocking_client() -> impl Fn(&str, Option<&str>) -> Option<u16> {
        |url: &str, request_id: Option<&str>| {
            use std::io::{Read, Write};
            let rest = url.strip_prefix("http://")?;
            let (host, path) = rest
                .split_once('/')
                .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
            let mut s = std::net::TcpStream::connect(host).ok()?;
            let extra = request_id.map_or(String::new(), |id| format!("x-request-id: {id}\r\n"));
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
            )
            .ok()?;
            let mut buf = String::new();
            s.read_to_string(&mut buf).ok()?;
            buf.split_whitespace().nth(1)?.parse().ok()
        }
    }
}
