//! Shared harness of the server's integration tests: the real app on a loopback port.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use quflux_server::AppState;
use quflux_server::config::{Config, Settings};
use serde_json::{Value, json};

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A SQLite file in the server's temp dir.
    Sqlite,
    /// A fresh PostgreSQL database created from `QUFLUX_TEST_POSTGRES_URL`.
    Postgres,
}

/// Options of [`TestServer::start`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Database.
    pub db: Db,
    /// Run a publishing worker in the same process.
    pub worker: bool,
    /// Extra settings (`QUFLUX_…` names).
    pub settings: BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            db: Db::Sqlite,
            worker: false,
            settings: BTreeMap::new(),
        }
    }
}

impl Options {
    /// Adds a setting.
    pub fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.settings.insert(name.to_owned(), value.into());
        self
    }
    /// Runs a worker too.
    pub fn with_worker(mut self) -> Self {
        self.worker = true;
        self
    }
    /// On PostgreSQL.
    pub fn postgres(mut self) -> Self {
        self.db = Db::Postgres;
        self
    }
}

/// The PostgreSQL URL tests use, or `None` (the test then skips, unless services are required).
pub fn postgres_url() -> Option<String> {
    match std::env::var("QUFLUX_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("QUFLUX_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "QUFLUX_TEST_POSTGRES_URL is not set but QUFLUX_TEST_REQUIRE_SERVICES=1"
            );
            eprintln!("skipped: QUFLUX_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Creates a fresh database and returns its URL.
pub async fn fresh_postgres(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("quflux_srv_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its state (stores, services).
    pub state: AppState,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// Temp dir holding the SQLite file, media and outbox.
    pub dir: tempfile::TempDir,
    worker: Option<quflux_core::worker::WorkerHandle>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server, or `None` when it needs PostgreSQL and none is configured.
    pub async fn try_start(options: Options) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match options.db {
            Db::Sqlite => format!("sqlite://{}/quflux.db", dir.path().display()),
            Db::Postgres => fresh_postgres(&postgres_url()?).await,
        };
        let mut pairs: BTreeMap<String, String> = BTreeMap::new();
        pairs.insert("QUFLUX_DATABASE_URL".into(), database_url);
        pairs.insert(
            "QUFLUX_FS_ROOT".into(),
            dir.path().join("media").display().to_string(),
        );
        pairs.insert(
            "QUFLUX_OUTBOX_PATH".into(),
            dir.path().join("outbox.jsonl").display().to_string(),
        );
        pairs.insert("QUFLUX_BIND".into(), "127.0.0.1:0".into());
        pairs.extend(options.settings);
        let settings = Settings::from_pairs(pairs);
        let config = Config::from_settings(&settings).unwrap();
        let state = AppState::build(config, settings).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            quflux_server::serve(serve_state, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let worker = options.worker.then(|| quflux_server::spawn_worker(&state));
        Some(Self {
            base,
            state,
            http: reqwest::Client::new(),
            dir,
            worker,
            shutdown: Some(tx),
        })
    }

    /// Starts a server (panics when it cannot).
    pub async fn start(options: Options) -> Self {
        Self::try_start(options)
            .await
            .expect("server needs PostgreSQL")
    }

    /// A full URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a user; returns (token, user json).
    pub async fn register(&self, email: &str) -> (String, Value) {
        let res = self
            .http
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({ "email": email, "password": "correct horse battery", "time_zone": "Europe/Paris" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: Value = res.json().await.unwrap();
        (
            body["token"].as_str().unwrap().to_owned(),
            body["user"].clone(),
        )
    }

    /// Stops the worker and the server.
    pub async fn stop(mut self) {
        if let Some(w) = self.worker.take() {
            w.shutdown().await.unwrap();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts an error response in the design's format; returns its body.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let header = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "status (body {text})");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(body["error_code"], code, "{body}");
    assert!(
        body["error_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body.get("error_details").is_some(), "{body}");
    assert!(body["timestamp"].as_str().is_some(), "{body}");
    let id = body["request_id"].as_str().unwrap();
    assert!(id.starts_with("req_"), "{body}");
    assert_eq!(Some(id.to_owned()), header, "x-request-id header");
    body
}
