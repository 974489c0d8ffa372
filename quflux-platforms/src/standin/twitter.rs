//! Stand-in of the X API v2 (spec §1 and §7), on a local [`wiremock::MockServer`].
//!
//! One stateful responder serves every route:
//!
//! - `GET /i/oauth2/authorize` approves at once: `302` to `redirect_uri?code=…&state=…`;
//! - `POST /2/oauth2/token`: authorization codes (single use, PKCE `S256`/`plain` verified,
//!   `redirect_uri` checked) and **rotating** refresh tokens (a spent one answers
//!   `400 invalid_request` "Value passed for the token was invalid."); client authentication as
//!   X does it (Basic for a confidential client, `client_id` in the body for a public one);
//!   access tokens expire (7200 s by default);
//! - `POST /2/oauth2/revoke`, `GET /2/users/me`;
//! - `POST /2/tweets`: `201` + `data.id`; `400` Problem for unknown fields, text over 280
//!   weighted characters, unknown or unprocessed media, replies to unknown posts; `403`
//!   duplicate for an identical text of the same user; `429` with `x-rate-limit-*` and
//!   `x-user-limit-24hour-*` headers (100 per 15 min per user, a configurable 24-hour cap);
//!   every body received is recorded;
//! - `GET /2/users/{id}/tweets` (newest first; `created_at` and `conversation_id` when asked in
//!   `tweet.fields`), `DELETE /2/tweets/{id}`;
//! - media: `initialize` → `append` (multipart) → `finalize` → `STATUS`
//!   (`pending` → `in_progress` → `succeeded`), `POST /2/media/metadata` (alt text).
//!
//! Every request received is recorded ([`XStandIn::received`]), for checks against the
//! official OpenAPI document.
//!
//! Faults ([`XFault`]) are armed for the next create request ([`XStandIn::inject_fault`]) or
//! for the n-th one from now ([`XStandIn::inject_fault_at`], e.g. a thread's third part).
//!
//! Posts are dated by the system clock unless [`XStandIn::set_clock`] gives another (the test's
//! clock, so that `created_at` and the adapter's own times agree).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use quflux_core::Clock;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod media;
mod oauth;
mod posts;

/// The account every token of the stand-in belongs to: (id, name, username).
pub const USER: (&str, &str, &str) = ("2244994945", "X Dev", "XDevelopers");

/// A failure armed for the next `POST /2/tweets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XFault {
    /// `429` from the 15-minute bucket (`x-rate-limit-remaining: 0`).
    RateLimited,
    /// `429` from the 24-hour user cap while `x-rate-limit-remaining` is still > 0.
    DailyCapReached,
    /// Every access token is refused (`401`) and every refresh too, until [`XStandIn::reset`].
    ExpiredToken,
    /// `403` duplicate content.
    Duplicate,
    /// `400` invalid request.
    InvalidContent,
    /// `503`; nothing is created.
    ServerError,
    /// `503`, but the post was created (X's answer hides what happened).
    ServerErrorAfterCreate,
    /// The post is created but the answer is delayed past the client's timeout.
    TimeoutAfterCreate,
}

/// A post the stand-in holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XStandInPost {
    /// Its id.
    pub id: String,
    /// Its text as received.
    pub text: String,
    /// The post it replies to.
    pub reply_to: Option<String>,
    /// Alt text of each attached media item.
    pub media_alt: Vec<Option<String>>,
    /// Poll choices, if any.
    pub poll: Vec<String>,
}

/// A request the stand-in received (any route, answered or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XReceived {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL path, e.g. `/2/media/upload/1445880548472328193/append`.
    pub path: String,
    /// The query pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The `Content-Type` header as sent (with its parameters), if any.
    pub content_type: Option<String>,
    /// The body as sent.
    pub body: Vec<u8>,
}

impl XReceived {
    /// The media type of the body, lower case and without parameters (`multipart/form-data`).
    pub fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// The parts of a `multipart/form-data` body, in order: (name, bytes).
    pub fn multipart_parts(&self) -> Vec<(String, Vec<u8>)> {
        media::multipart_parts(self.content_type.as_deref().unwrap_or_default(), &self.body)
    }

    /// The pairs of an `application/x-www-form-urlencoded` body, in order.
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Post {
    id: String,
    author: String,
    text: String,
    reply_to: Option<String>,
    media: Vec<String>,
    poll: Vec<String>,
    created_at: DateTime<Utc>,
}

#[derive(Debug)]
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    method: String,
}

#[derive(Debug, Default)]
struct Media {
    total_bytes: usize,
    received: HashMap<u64, usize>,
    state: Option<&'static str>,
    alt: Option<String>,
}

#[derive(Debug)]
struct State {
    client_id: Option<String>,
    client_secret: Option<String>,
    codes: HashMap<String, PendingCode>,
    access: HashMap<String, DateTime<Utc>>,
    refresh_live: HashSet<String>,
    refresh_spent: HashSet<String>,
    access_ttl: Duration,
    posts: Vec<Post>,
    media: HashMap<String, Media>,
    next_id: u64,
    faults: HashSet<XFault>,
    /// Faults armed for a later create: (value of `create_requests` it fires at, fault).
    scheduled: Vec<(usize, XFault)>,
    clock: Option<Arc<dyn Clock>>,
    expired: bool,
    timeout_delay: Duration,
    windows: HashMap<&'static str, (DateTime<Utc>, u32)>,
    daily: (DateTime<Utc>, u32),
    daily_cap: u32,
    create_bodies: Vec<Value>,
    received: Vec<XReceived>,
    requests: usize,
    create_requests: usize,
    refresh_grants: usize,
    code_grants: usize,
}

/// A running stand-in of the X API.
#[derive(Debug)]
pub struct XStandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

fn token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{prefix}-{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn problem(status: u16, title: &str, detail: &str, kind: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "title": title, "detail": detail, "type": kind, "status": status
    }))
}

fn invalid_request(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "errors": [{"parameters": {}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"
    }))
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

impl State {
    fn new(client_id: Option<String>, client_secret: Option<String>) -> Self {
        let now = Utc::now();
        Self {
            client_id,
            client_secret,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh_live: HashSet::new(),
            refresh_spent: HashSet::new(),
            access_ttl: Duration::from_secs(7200),
            posts: Vec::new(),
            media: HashMap::new(),
            next_id: 1_445_880_548_472_328_192,
            faults: HashSet::new(),
            scheduled: Vec::new(),
            clock: None,
            expired: false,
            timeout_delay: Duration::from_secs(10),
            windows: HashMap::new(),
            daily: (now, 0),
            daily_cap: 10_000,
            create_bodies: Vec::new(),
            received: Vec::new(),
            requests: 0,
            create_requests: 0,
            refresh_grants: 0,
            code_grants: 0,
        }
    }

    /// The time posts are dated with.
    fn now(&self) -> DateTime<Utc> {
        self.clock.as_ref().map_or_else(Utc::now, |c| c.now())
    }

    fn next_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    fn route(&mut self, request: &Request) -> ResponseTemplate {
        self.requests += 1;
        let path = request.url.path().to_owned();
        let method = request.method.as_str().to_owned();
        self.received.push(XReceived {
            method: method.clone(),
            path: path.clone(),
            query: request.url.query_pairs().into_owned().collect(),
            content_type: request
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: request.body.clone(),
        });
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["i", "oauth2", "authorize"]) => return self.authorize(request),
            ("POST", ["2", "oauth2", "token"]) => return self.token_endpoint(request),
            ("POST", ["2", "oauth2", "revoke"]) => {
                let form = form(&request.body);
                if let Some(r) = self.client_refusal(request, &form) {
                    return r;
                }
                if let Some(t) = form.get("token") {
                    self.access.remove(t);
                    self.refresh_live.remove(t);
                }
                return ResponseTemplate::new(200).set_body_json(json!({"revoked": true}));
            }
            _ => {}
        }
        if method == "POST" && segments.as_slice() == ["2", "tweets"] {
            self.create_requests += 1;
            let at = self.create_requests;
            let due: Vec<XFault> = self
                .scheduled
                .iter()
                .filter(|(n, _)| *n == at)
                .map(|(_, f)| *f)
                .collect();
            self.scheduled.retain(|(n, _)| *n != at);
            self.faults.extend(due);
        }
        if !self.bearer_ok(request) {
            return problem(401, "Unauthorized", "Unauthorized", "about:blank");
        }
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["2", "users", "me"]) => ResponseTemplate::new(200).set_body_json(json!({
                "data": {"id": USER.0, "name": USER.1, "username": USER.2}
            })),
            ("GET", ["2", "users", id, "tweets"]) => {
                let id = (*id).to_owned();
                self.timeline(request, &id)
            }
            ("POST", ["2", "tweets"]) => self.create(request),
            ("DELETE", ["2", "tweets", id]) => {
                let id = (*id).to_owned();
                self.delete(&id)
            }
            ("GET", ["2", "media", "upload"]) => self.status(request),
            ("POST", ["2", "media", "metadata"]) => self.metadata(request),
            (_, ["2", "media", "upload", rest @ ..]) => {
                let rest: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
                let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                self.media_route(request, &rest)
            }
            _ => problem(404, "Not Found", "Not Found", "about:blank"),
        }
    }
}

struct Router(Arc<Mutex<State>>);

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .route(request)
    }
}

impl XStandIn {
    /// Starts a stand-in for a public client (any `client_id`, sent in the token request body).
    pub async fn start() -> Self {
        Self::start_with(State::new(None, None)).await
    }

    /// Starts a stand-in for a confidential client: the token endpoint requires
    /// `Authorization: Basic base64(client_id:client_secret)`.
    pub async fn start_confidential(client_id: &str, client_secret: &str) -> Self {
        Self::start_with(State::new(
            Some(client_id.to_owned()),
            Some(client_secret.to_owned()),
        ))
        .await
    }

    async fn start_with(state: State) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(state));
        Mock::given(any())
            .respond_with(Router(Arc::clone(&state)))
            .mount(&server)
            .await;
        Self { server, state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The base URL (use it as the API base; the authorize page is `{uri}/i/oauth2/authorize`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Arms `fault` for the next create request.
    pub fn inject_fault(&self, fault: XFault) {
        let mut s = self.state();
        if fault == XFault::ExpiredToken {
            s.expired = true;
        } else {
            s.faults.insert(fault);
        }
    }

    /// Arms `fault` for the `n`-th create request from now (1 is the next one), e.g. the third
    /// part of a thread. [`XFault::ExpiredToken`] is not a create fault: it is armed at once.
    pub fn inject_fault_at(&self, n: usize, fault: XFault) {
        if fault == XFault::ExpiredToken || n <= 1 {
            return self.inject_fault(fault);
        }
        let mut s = self.state();
        let at = s.create_requests + n;
        s.scheduled.push((at, fault));
    }

    /// Disarms every fault, scheduled ones too (and ends [`XFault::ExpiredToken`]).
    pub fn reset(&self) {
        let mut s = self.state();
        s.faults.clear();
        s.scheduled.clear();
        s.expired = false;
    }

    /// Dates posts from now on with `clock` instead of the system clock.
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        self.state().clock = Some(clock);
    }

    /// Posts held, oldest first.
    pub fn posts(&self) -> Vec<XStandInPost> {
        let s = self.state();
        s.posts
            .iter()
            .map(|p| XStandInPost {
                id: p.id.clone(),
                text: p.text.clone(),
                reply_to: p.reply_to.clone(),
                media_alt: p
                    .media
                    .iter()
                    .map(|m| s.media.get(m).and_then(|m| m.alt.clone()))
                    .collect(),
                poll: p.poll.clone(),
            })
            .collect()
    }

    /// Every JSON body received by `POST /2/tweets`, in order.
    pub fn create_bodies(&self) -> Vec<Value> {
        self.state().create_bodies.clone()
    }

    /// Every request received (all routes), in order.
    pub fn received(&self) -> Vec<XReceived> {
        self.state().received.clone()
    }

    /// Requests received (all routes).
    pub fn request_count(&self) -> usize {
        self.state().requests
    }

    /// `POST /2/tweets` requests received.
    pub fn create_requests(&self) -> usize {
        self.state().create_requests
    }

    /// `refresh_token` grants received at the token endpoint (accepted or not).
    pub fn refresh_grants(&self) -> usize {
        self.state().refresh_grants
    }

    /// `authorization_code` grants received at the token endpoint.
    pub fn code_grants(&self) -> usize {
        self.state().code_grants
    }

    /// Issues a token pair for [`USER`] directly, as if an authorization had completed:
    /// `(access_token, refresh_token, expires_in)`.
    pub fn issue_tokens(&self) -> (String, String, Duration) {
        let mut s = self.state();
        let v = s.issue();
        let ttl = s.access_ttl;
        (
            v["access_token"].as_str().unwrap_or_default().to_owned(),
            v["refresh_token"].as_str().unwrap_or_default().to_owned(),
            ttl,
        )
    }

    /// Whether `refresh_token` is still accepted (not rotated away or revoked).
    pub fn refresh_token_is_live(&self, refresh_token: &str) -> bool {
        self.state().refresh_live.contains(refresh_token)
    }

    /// Lifetime of access tokens issued from now on (7200 s by default).
    pub fn set_access_ttl(&self, ttl: Duration) {
        self.state().access_ttl = ttl;
    }

    /// How late the answer of [`XFault::TimeoutAfterCreate`] comes (10 s by default).
    pub fn set_timeout_delay(&self, delay: Duration) {
        self.state().timeout_delay = delay;
    }

    /// The 24-hour per-user cap of `POST /2/tweets` (10 000 by default).
    pub fn set_daily_cap(&self, cap: u32) {
        self.state().daily_cap = cap;
    }
}
