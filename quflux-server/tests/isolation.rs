//! Owner isolation: a user never reads, changes or learns about another user's media, posts,
//! schedules, publications, connections or notifications, on any endpoint.
//!
//! The endpoints come from the server's OpenAPI document, so an endpoint added without an
//! isolation case here fails [`another_users_resources_are_not_found_anywhere_on_sqlite`].
//! The same scenario runs on PostgreSQL when `QUFLUX_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use common::{Options, TestServer, assert_error};
use futures::StreamExt;
use quflux_core::testkit::standin::TINY_PNG;
use quflux_core::{
    ConnectionId, ConnectionStatus, MediaId, Notification, NotificationId, NotificationKind,
    Notifier, Platform, PlatformConnection, PostId, PublicationId, ScheduleId, Secret, Session,
    UserId,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Operations in the OpenAPI document that need no session.
const PUBLIC: [(&str, &str); 5] = [
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
];

/// Secured reads without a path id that hold no user data and need outside input, so they
/// have no list case (the link preview fetches a public web page).
const NOT_LISTS: [&str; 1] = ["/api/v1/link-preview"];

// ---------------------------------------------------------------------------------------------
// The OpenAPI document.

/// One operation of the OpenAPI document.
struct Op {
    method: String,
    path: String,
    op: Value,
}

async fn openapi(server: &TestServer) -> (Value, Vec<Op>) {
    let res = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
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
    (doc, ops)
}

fn is_secured(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|s| !s.is_empty())
}

/// Names of the `…_id` properties anywhere in a schema (following `$ref`s).
fn id_fields(doc: &Value, schema: &Value, seen: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        if seen.insert(r.to_owned()) {
            let name = r.rsplit('/').next().unwrap();
            id_fields(doc, &doc["components"]["schemas"][name], seen, out);
        }
        return;
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            if name.ends_with("_id") {
                out.insert(name.clone());
            }
            id_fields(doc, prop, seen, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if schema[key].is_object() {
            id_fields(doc, &schema[key], seen, out);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            id_fields(doc, s, seen, out);
        }
    }
}

/// The `…_id` fields of an operation's JSON request body.
fn body_ids(doc: &Value, op: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    if schema.is_object() {
        id_fields(doc, schema, &mut BTreeSet::new(), &mut out);
    }
    out
}

/// The `…_id` query parameters of an operation.
fn query_ids(op: &Value) -> BTreeSet<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str())
        .filter(|n| n.ends_with("_id"))
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Requests.

async fn call(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = server.http.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        server.url(path),
    );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

async fn ok_json(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Value {
    let res = call(server, Some(token), method, path, body).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"))
}

async fn ok_text(server: &TestServer, token: &str, path: &str) -> String {
    let res = call(server, Some(token), "GET", path, None).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    text
}

fn typed<T: DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn upload_png(server: &TestServer, token: &str) -> Value {
    let part = reqwest::multipart::Part::bytes(TINY_PNG.to_vec())
        .file_name("tiny.png")
        .mime_str("image/png")
        .unwrap();
    let res = server
        .http
        .post(server.url("/api/v1/media"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// A connection inserted through the store, with tokens encrypted by the server's cipher.
async fn insert_connection(server: &TestServer, user: UserId, handle: &str) -> PlatformConnection {
    let cipher = server.state.platforms.tokens.cipher();
    let now = Utc::now();
    let c = PlatformConnection {
        id: ConnectionId::new(),
        user_id: user,
        platform: Platform::Mastodon,
        platform_user_id: format!("id-{handle}"),
        platform_username: handle.to_owned(),
        access_token: cipher
            .encrypt(&Secret::new(format!("access-{handle}")))
            .unwrap(),
        refresh_token: Some(
            cipher
                .encrypt(&Secret::new(format!("refresh-{handle}")))
                .unwrap(),
        ),
        expires_at: Some(now + chrono::Duration::hours(2)),
        scopes: vec!["write:statuses".to_owned()],
        status: ConnectionStatus::Active,
        metadata: json!({ "instance": "https://mastodon.example" }),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    server.state.db.insert_connection(&c).await.unwrap();
    server.state.db.get_connection(c.id).await.unwrap()
}

/// A notification delivered through the server's event hub (stored and announced).
async fn notify(server: &TestServer, user: UserId, title: &str) -> Notification {
    let n = Notification {
        id: NotificationId::new(),
        user_id: user,
        kind: NotificationKind::Failed,
        title: title.to_owned(),
        message: format!("{title}: the platform refused the post"),
        platform: Some(Platform::Mastodon),
        post_id: None,
        publication_id: None,
        connection_id: None,
        platform_post_id: None,
        url: None,
        created_at: Utc::now(),
    };
    server.state.events.notify(&n).await.unwrap();
    n
}

// ---------------------------------------------------------------------------------------------
// The scenario.

/// Where a case puts the other user's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// In the path (`{id}`): 404.
    Path,
    /// In the JSON body: 404.
    Body,
    /// In a query filter: 200 with no items.
    Query,
}

struct Case {
    method: &'static str,
    template: &'static str,
    target: Target,
    path: String,
    body: Option<Value>,
    /// A's id the request carries.
    a_id: String,
}

impl Case {
    fn new(
        method: &'static str,
        template: &'static str,
        target: Target,
        path_id: &str,
        a_id: &str,
        body: Option<Value>,
    ) -> Self {
        Self {
            method,
            template,
            target,
            path: template.replace("{id}", path_id),
            body,
            a_id: a_id.to_owned(),
        }
    }
    fn path(method: &'static str, template: &'static str, a_id: &str, body: Option<Value>) -> Self {
        Self::new(method, template, Target::Path, a_id, a_id, body)
    }
    fn body(
        method: &'static str,
        template: &'static str,
        path_id: &str,
        a_id: &str,
        body: Value,
    ) -> Self {
        Self::new(method, template, Target::Body, path_id, a_id, Some(body))
    }
    fn query(mut self, q: String) -> Self {
        self.path = format!("{}?{q}", self.path);
        self
    }
    /// The same request with A's id replaced by an id nobody has.
    fn with_unknown_id(&self) -> (String, Option<Value>, String) {
        let unknown = uuid::Uuid::new_v4().to_string();
        let path = self.path.replace(&self.a_id, &unknown);
        let body = self
            .body
            .as_ref()
            .map(|b| serde_json::from_str(&b.to_string().replace(&self.a_id, &unknown)).unwrap());
        (path, body, unknown)
    }
}

/// A list a user reads; B's answer must hold none of A's ids, A's must hold some (`a_sees`).
struct ListCase {
    template: &'static str,
    path: String,
    a_sees: bool,
}

/// What user A owns.
struct Alpha {
    token: String,
    user: UserId,
    media: MediaId,
    post: PostId,
    second_post: PostId,
    schedule: ScheduleId,
    second_schedule: ScheduleId,
    publications: Vec<PublicationId>,
    connection: ConnectionId,
    notification: NotificationId,
    email: String,
    marker: String,
}

impl Alpha {
    /// Every string that must never appear in an answer to B.
    fn secrets(&self) -> Vec<String> {
        let mut s = vec![
            self.user.to_string(),
            self.media.to_string(),
            self.post.to_string(),
            self.second_post.to_string(),
            self.schedule.to_string(),
            self.second_schedule.to_string(),
            self.connection.to_string(),
            self.notification.to_string(),
            self.email.clone(),
            self.marker.clone(),
        ];
        s.extend(self.publications.iter().map(ToString::to_string));
        s
    }
}

async fn schedule(server: &TestServer, token: &str, post: &str, at: DateTime<Utc>) -> Value {
    ok_json(
        server,
        token,
        "POST",
        "/api/v1/schedules",
        Some(&json!({
            "post_id": post,
            "local_time": at.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "time_zone": "UTC",
            "platforms": ["mastodon", "bluesky"],
        })),
    )
    .await
}

async fn create_alpha(server: &TestServer, at: DateTime<Utc>) -> Alpha {
    let email = format!("alpha-{}@example.com", uuid::Uuid::new_v4().simple());
    let (token, user) = server.register(&email).await;
    let marker = format!("alpha-private-{}", uuid::Uuid::new_v4().simple());
    let media = upload_png(server, &token).await;
    let post = ok_json(
        server,
        &token,
        "POST",
        "/api/v1/posts",
        Some(&json!({ "text": format!("{marker} first"), "media": [{ "media_id": media["id"], "alt_text": "a dot" }] })),
    )
    .await;
    let second_post = ok_json(
        server,
        &token,
        "POST",
        "/api/v1/posts",
        Some(&json!({ "text": format!("{marker} second") })),
    )
    .await;
    let scheduled = schedule(server, &token, post["id"].as_str().unwrap(), at).await;
    // Two minutes later on the same platforms: a conflict A sees and B must not.
    let second = schedule(
        server,
        &token,
        second_post["id"].as_str().unwrap(),
        at + chrono::Duration::minutes(2),
    )
    .await;
    assert!(
        !second["conflicts"].as_array().unwrap().is_empty(),
        "two schedules two minutes apart should conflict: {second}"
    );
    let mut publications: Vec<PublicationId> = scheduled["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| typed(&p["id"]))
        .collect();
    publications.extend(
        second["publications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| typed::<PublicationId>(&p["id"])),
    );
    assert_eq!(publications.len(), 4);
    let user_id: UserId = typed(&user["id"]);
    let connection = insert_connection(server, user_id, "alpha").await;
    let notification = notify(server, user_id, &format!("{marker} notice")).await;
    Alpha {
        token,
        user: user_id,
        media: typed(&media["id"]),
        post: typed(&post["id"]),
        second_post: typed(&second_post["id"]),
        schedule: typed(&scheduled["schedule"]["id"]),
        second_schedule: typed(&second["schedule"]["id"]),
        publications,
        connection: connection.id,
        notification: notification.id,
        email,
        marker,
    }
}

/// A's rows as the store holds them, every field (to prove B changed nothing).
fn row<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap()
}

async fn snapshot(server: &TestServer, a: &Alpha) -> Vec<Value> {
    let db = &server.state.db;
    let mut rows = vec![
        row(db.get_media(a.media).await.unwrap()),
        row(db.get_post(a.post).await.unwrap()),
        row(db.get_post(a.second_post).await.unwrap()),
        row(db.get_schedule(a.schedule).await.unwrap()),
        row(db.get_schedule(a.second_schedule).await.unwrap()),
        row(db.get_connection(a.connection).await.unwrap()),
    ];
    for p in &a.publications {
        rows.push(row(db.get_publication(*p).await.unwrap()));
    }
    rows
}

fn isolation_cases(a: &Alpha, b_post: &str, future: DateTime<Utc>) -> Vec<Case> {
    let media = a.media.to_string();
    let post = a.post.to_string();
    let sched = a.schedule.to_string();
    let publication = a.publications[0].to_string();
    let conn = a.connection.to_string();
    let local = (future + chrono::Duration::hours(3))
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let a_media = json!([{ "media_id": media }]);
    vec![
        Case::path("GET", "/api/v1/media/{id}", &media, None),
        Case::path("GET", "/api/v1/media/{id}/content", &media, None),
        Case::path("DELETE", "/api/v1/media/{id}", &media, None),
        Case::path("GET", "/api/v1/posts/{id}", &post, None),
        Case::path(
            "PUT",
            "/api/v1/posts/{id}",
            &post,
            Some(json!({ "text": "overwritten by B" })),
        ),
        Case::path("DELETE", "/api/v1/posts/{id}", &post, None),
        Case::path(
            "POST",
            "/api/v1/posts/{id}/publish",
            &post,
            Some(json!({ "platforms": ["mastodon"] })),
        ),
        Case::path("GET", "/api/v1/schedules/{id}", &sched, None),
        Case::path(
            "PATCH",
            "/api/v1/schedules/{id}",
            &sched,
            Some(json!({ "local_time": local })),
        ),
        Case::path("POST", "/api/v1/schedules/{id}/cancel", &sched, None),
        Case::path("GET", "/api/v1/publications/{id}", &publication, None),
        Case::path(
            "POST",
            "/api/v1/publications/{id}/retry",
            &publication,
            None,
        ),
        Case::path(
            "POST",
            "/api/v1/publications/{id}/resend",
            &publication,
            None,
        ),
        Case::path("GET", "/api/v1/connections/{id}", &conn, None),
        Case::path("POST", "/api/v1/connections/{id}/refresh", &conn, None),
        Case::path("DELETE", "/api/v1/connections/{id}", &conn, None),
        Case::body(
            "POST",
            "/api/v1/posts",
            "",
            &media,
            json!({ "text": "B with A's image", "media": a_media }),
        ),
        // B's own post, A's media.
        Case::body(
            "PUT",
            "/api/v1/posts/{id}",
            b_post,
            &media,
            json!({ "text": "B with A's image", "media": a_media }),
        ),
        Case::body(
            "POST",
            "/api/v1/posts/validate",
            "",
            &media,
            json!({ "platform": "mastodon", "text": "B", "media": a_media }),
        ),
        Case::body(
            "POST",
            "/api/v1/schedules",
            "",
            &post,
            json!({ "post_id": post, "local_time": local, "time_zone": "UTC", "platforms": ["mastodon"] }),
        ),
        Case::body(
            "POST",
            "/api/v1/ai/images/edit",
            "",
            &media,
            json!({ "media_id": media, "prompt": "make it blue" }),
        ),
        Case::new(
            "GET",
            "/api/v1/publications",
            Target::Query,
            "",
            &sched,
            None,
        )
        .query(format!("schedule_id={sched}")),
    ]
}

fn list_cases(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<ListCase> {
    let range = format!("from={}&to={}", rfc3339(from), rfc3339(to));
    let days = format!(
        "from={}&to={}&time_zone=UTC",
        from.date_naive(),
        to.date_naive()
    );
    let l = |template: &'static str, query: &str, a_sees: bool| ListCase {
        template,
        path: if query.is_empty() {
            template.to_owned()
        } else {
            format!("{template}?{query}")
        },
        a_sees,
    };
    vec![
        l("/api/v1/auth/me", "", true),
        l("/api/v1/media", "", true),
        l("/api/v1/posts", "", true),
        l("/api/v1/posts", "q=alpha-private", true),
        l("/api/v1/schedules", &range, true),
        l("/api/v1/schedules/calendar", &days, true),
        l("/api/v1/schedules/conflicts", &range, true),
        l("/api/v1/schedules/feed.ics", "", true),
        l("/api/v1/publications", "", true),
        l("/api/v1/connections", "", true),
        l("/api/v1/connections/platforms", "", false),
        l("/api/v1/notifications", "", true),
        l("/api/v1/notifications", "after=0&limit=500", true),
        // Checked by `websocket_events`.
        l("/api/v1/ws", "", true),
    ]
}

/// Every operation with an id in its path, body or query must have a case, and every case
/// must name a documented operation.
fn assert_cases_cover_the_document(doc: &Value, ops: &[Op], cases: &[Case], lists: &[ListCase]) {
    let has = |method: &str, path: &str, target: Target| {
        cases
            .iter()
            .any(|c| c.method == method && c.template == path && c.target == target)
    };
    let mut missing = Vec::new();
    for op in ops {
        if op.path.contains("{id}") && !has(&op.method, &op.path, Target::Path) {
            missing.push(format!("{} {} (path id)", op.method, op.path));
        }
        let body = body_ids(doc, &op.op);
        if !body.is_empty() && !has(&op.method, &op.path, Target::Body) {
            missing.push(format!("{} {} (body {body:?})", op.method, op.path));
        }
        let query = query_ids(&op.op);
        if !query.is_empty() && !has(&op.method, &op.path, Target::Query) {
            missing.push(format!("{} {} (query {query:?})", op.method, op.path));
        }
        let is_list = op.method == "GET"
            && is_secured(&op.op)
            && !op.path.contains('{')
            && !NOT_LISTS.contains(&op.path.as_str());
        if is_list && !lists.iter().any(|l| l.template == op.path) {
            missing.push(format!("{} {} (list)", op.method, op.path));
        }
    }
    assert!(
        missing.is_empty(),
        "operations without an isolation case: {missing:#?}"
    );
    for c in cases {
        assert!(
            ops.iter()
                .any(|o| o.method == c.method && o.path == c.template),
            "case {} {} is not in the OpenAPI document",
            c.method,
            c.template
        );
    }
    for l in lists {
        assert!(
            ops.iter()
                .any(|o| o.method == "GET" && o.path == l.template),
            "list {} is not in the OpenAPI document",
            l.template
        );
    }
}

fn assert_no_leak(what: &str, text: &str, a: &Alpha) {
    for s in a.secrets() {
        assert!(!text.contains(&s), "{what} shows A's `{s}` to B: {text}");
    }
}

async fn ws_connect(
    server: &TestServer,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!(
        "{}/api/v1/ws?after=0",
        server.base.replacen("http", "ws", 1)
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, res) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(res.status(), 101);
    socket
}

/// Reads events until one mentions `until`; returns every text received.
async fn ws_read_until(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    until: &str,
) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no event mentioning {until}; got {got:#?}"))
            .expect("socket closed")
            .unwrap();
        if let Message::Text(t) = msg {
            let text = t.as_str().to_owned();
            let done = text.contains(until);
            got.push(text);
            if done {
                return got;
            }
        }
    }
}

/// B's socket carries B's events and none of A's, even those announced while it is open.
async fn websocket_events(server: &TestServer, a: &Alpha, b_token: &str, b_user: UserId) {
    let before = notify(server, b_user, "beta first notice").await;
    let mut b_socket = ws_connect(server, b_token).await;
    let mut a_socket = ws_connect(server, &a.token).await;
    let mut got = ws_read_until(&mut b_socket, &before.id.to_string()).await;
    let live = notify(server, a.user, &format!("{} live notice", a.marker)).await;
    let sentinel = notify(server, b_user, "beta second notice").await;
    got.extend(ws_read_until(&mut b_socket, &sentinel.id.to_string()).await);
    for text in &got {
        assert_no_leak("the websocket", text, a);
        assert!(
            !text.contains(&live.id.to_string()),
            "B received A's live event: {text}"
        );
    }
    // A's socket replays A's stored event and carries the live one.
    let a_got = ws_read_until(&mut a_socket, &live.id.to_string()).await;
    assert!(
        a_got
            .iter()
            .any(|t| t.contains(&a.notification.to_string())),
        "A's socket did not replay A's event: {a_got:#?}"
    );
    assert!(
        a_got.iter().all(|t| !t.contains("beta")),
        "A received B's events: {a_got:#?}"
    );
}

async fn isolation_scenario(server: &TestServer) {
    let now = Utc::now();
    let at = (now + chrono::Duration::days(2))
        .with_nanosecond(0)
        .unwrap();
    let a = create_alpha(server, at).await;

    let (b_token, b_user_json) = server
        .register(&format!(
            "beta-{}@example.com",
            uuid::Uuid::new_v4().simple()
        ))
        .await;
    let b_user: UserId = typed(&b_user_json["id"]);
    // B's own data, so the lists B reads are not empty.
    let b_media = upload_png(server, &b_token).await;
    let b_post = ok_json(
        server,
        &b_token,
        "POST",
        "/api/v1/posts",
        Some(&json!({ "text": "beta's own post" })),
    )
    .await;
    let b_post_id = b_post["id"].as_str().unwrap().to_owned();
    let b_sched = schedule(
        server,
        &b_token,
        &b_post_id,
        at + chrono::Duration::minutes(1),
    )
    .await;
    assert!(
        b_sched["conflicts"].as_array().unwrap().is_empty(),
        "B's schedule conflicts with A's: {b_sched}"
    );
    insert_connection(server, b_user, "beta").await;
    notify(server, b_user, "beta notice").await;

    let (doc, ops) = openapi(server).await;
    let cases = isolation_cases(&a, &b_post_id, at);
    let lists = list_cases(
        now - chrono::Duration::days(1),
        now + chrono::Duration::days(10),
    );
    assert_cases_cover_the_document(&doc, &ops, &cases, &lists);

    let before = snapshot(server, &a).await;
    let b_posts_before = ok_json(server, &b_token, "GET", "/api/v1/posts", None).await;

    for c in &cases {
        let res = call(server, Some(&b_token), c.method, &c.path, c.body.as_ref()).await;
        let what = format!("B: {} {}", c.method, c.path);
        match c.target {
            Target::Path | Target::Body => {
                let status = res.status();
                if status != 404 {
                    panic!(
                        "{what}: expected 404, got {status}: {}",
                        res.text().await.unwrap()
                    );
                }
                let body = assert_error(res, 404, "NOT_FOUND").await;
                // Indistinguishable from an id that does not exist.
                let (path, unknown_body, unknown) = c.with_unknown_id();
                let res = call(
                    server,
                    Some(&b_token),
                    c.method,
                    &path,
                    unknown_body.as_ref(),
                )
                .await;
                let twin = assert_error(res, 404, "NOT_FOUND").await;
                assert_eq!(
                    body["error_message"]
                        .as_str()
                        .unwrap()
                        .replace(&c.a_id, &unknown),
                    twin["error_message"],
                    "{what}: the answer differs from the one for an unknown id"
                );
                assert_eq!(body["error_details"], twin["error_details"], "{what}");
                let others = body.to_string().replace(&c.a_id, "");
                assert_no_leak(&what, &others, &a);
            }
            Target::Query => {
                assert_eq!(res.status(), 200, "{what}");
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["items"], json!([]), "{what}");
            }
        }
    }

    // Nothing of A's changed, and B's rejected writes left B's data alone too.
    assert_eq!(
        snapshot(server, &a).await,
        before,
        "B's requests changed A's data"
    );
    let b_posts_after = ok_json(server, &b_token, "GET", "/api/v1/posts", None).await;
    assert_eq!(
        b_posts_after, b_posts_before,
        "a refused request changed B's posts"
    );

    // Lists: B sees only B's data; A sees A's.
    for l in lists.iter().filter(|l| l.template != "/api/v1/ws") {
        let b_text = ok_text(server, &b_token, &l.path).await;
        assert_no_leak(&format!("B: GET {}", l.path), &b_text, &a);
        if l.a_sees {
            let a_text = ok_text(server, &a.token, &l.path).await;
            assert!(
                a.secrets().iter().any(|s| a_text.contains(s)),
                "A: GET {} shows none of A's data: {a_text}",
                l.path
            );
        }
    }
    for (path, b_own) in [
        ("/api/v1/media", b_media["id"].as_str().unwrap()),
        ("/api/v1/posts", b_post_id.as_str()),
        (
            "/api/v1/schedules/feed.ics",
            b_sched["schedule"]["id"].as_str().unwrap(),
        ),
    ] {
        assert!(
            ok_text(server, &b_token, path).await.contains(b_own),
            "B does not see its own {path}"
        );
    }
    websocket_events(server, &a, &b_token, b_user).await;

    // A still reads everything.
    let media = ok_json(
        server,
        &a.token,
        "GET",
        &format!("/api/v1/media/{}", a.media),
        None,
    )
    .await;
    assert_eq!(media["size_bytes"], TINY_PNG.len());
    let content = call(
        server,
        Some(&a.token),
        "GET",
        &format!("/api/v1/media/{}/content", a.media),
        None,
    )
    .await;
    assert_eq!(content.status(), 200);
    assert_eq!(content.bytes().await.unwrap().as_ref(), TINY_PNG.as_slice());
    let post = ok_json(
        server,
        &a.token,
        "GET",
        &format!("/api/v1/posts/{}", a.post),
        None,
    )
    .await;
    assert_eq!(post["content"]["text"], format!("{} first", a.marker));
    let sched = ok_json(
        server,
        &a.token,
        "GET",
        &format!("/api/v1/schedules/{}", a.schedule),
        None,
    )
    .await;
    assert_eq!(sched["schedule"]["status"], "active");
    assert_eq!(sched["publications"].as_array().unwrap().len(), 2);
    for p in &a.publications {
        ok_json(
            server,
            &a.token,
            "GET",
            &format!("/api/v1/publications/{p}"),
            None,
        )
        .await;
    }
    let conn = ok_json(
        server,
        &a.token,
        "GET",
        &format!("/api/v1/connections/{}", a.connection),
        None,
    )
    .await;
    assert_eq!(conn["status"], "active");
    let notes = ok_text(server, &a.token, "/api/v1/notifications").await;
    assert!(notes.contains(&a.notification.to_string()));
}

#[tokio::test]
async fn another_users_resources_are_not_found_anywhere_on_sqlite() {
    let server = TestServer::start(Options::default()).await;
    isolation_scenario(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn another_users_resources_are_not_found_anywhere_on_postgres() {
    let Some(server) = TestServer::try_start(Options::default().postgres()).await else {
        return;
    };
    isolation_scenario(&server).await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Authentication on every operation.

/// A concrete path for an operation (any `{…}` parameter becomes a fresh UUID).
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&uuid::Uuid::new_v4().to_string());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every secured operation answers 401 with `WWW-Authenticate` for this token (`None`: no
/// `Authorization` header at all).
async fn assert_every_secured_operation_refuses(
    server: &TestServer,
    ops: &[Op],
    token: Option<&str>,
) {
    let mut checked = 0;
    for op in ops.iter().filter(|o| is_secured(&o.op)) {
        let path = concrete(&op.path);
        let res = call(server, token, &op.method, &path, None).await;
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let what = format!("{} {path} with token {token:?}", op.method);
        let status = res.status();
        if status != 401 {
            panic!(
                "{what}: expected 401, got {status}: {}",
                res.text().await.unwrap()
            );
        }
        assert_error(res, 401, "UNAUTHENTICATED").await;
        assert!(
            challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Bearer")),
            "{what}: WWW-Authenticate is {challenge:?}"
        );
        checked += 1;
    }
    assert!(checked > 30, "only {checked} secured operations");
}

#[tokio::test]
async fn every_secured_operation_needs_a_live_session() {
    let server = TestServer::start(Options::default()).await;
    let (_, ops) = openapi(&server).await;
    for op in ops.iter().filter(|o| !is_secured(&o.op)) {
        assert!(
            PUBLIC.contains(&(op.method.as_str(), op.path.as_str())),
            "{} {} declares no security; add it, or list it in PUBLIC if it is meant to be public",
            op.method,
            op.path
        );
    }

    assert_every_secured_operation_refuses(&server, &ops, None).await;
    assert_every_secured_operation_refuses(&server, &ops, Some("qfx_not-a-real-session-token"))
        .await;
    assert_every_secured_operation_refuses(&server, &ops, Some("not-even-our-prefix")).await;

    // Signed out: the token stops working everywhere.
    let (token, _) = server.register("leaver@example.com").await;
    ok_json(&server, &token, "GET", "/api/v1/auth/me", None).await;
    let res = call(&server, Some(&token), "POST", "/api/v1/auth/logout", None).await;
    assert_eq!(res.status(), 204);
    assert_every_secured_operation_refuses(&server, &ops, Some(&token)).await;
    server.stop().await;
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let server = TestServer::start(Options::default()).await;
    let (_, user) = server.register("expired@example.com").await;
    let user_id: UserId = typed(&user["id"]);
    let now = Utc::now();
    let insert = |expires_at: DateTime<Utc>| {
        let token = format!("qfx_{}", uuid::Uuid::new_v4().simple());
        let session = Session {
            token_hash: quflux_server::auth::token_hash(&token),
            user_id,
            created_at: now - chrono::Duration::hours(48),
            expires_at,
            revoked_at: None,
            user_agent: Some("isolation-test".to_owned()),
            address: Some("127.0.0.1".to_owned()),
        };
        let db = server.state.db.clone();
        async move {
            db.insert_session(&session).await.unwrap();
            token
        }
    };
    // A session inserted the same way but still live works: the refusal below is the expiry.
    let live = insert(now + chrono::Duration::hours(1)).await;
    let me = ok_json(&server, &live, "GET", "/api/v1/auth/me", None).await;
    assert_eq!(me["id"], user["id"]);

    let expired = insert(now - chrono::Duration::seconds(1)).await;
    let (_, ops) = openapi(&server).await;
    assert_every_secured_operation_refuses(&server, &ops, Some(&expired)).await;
    server.stop().await;
}
