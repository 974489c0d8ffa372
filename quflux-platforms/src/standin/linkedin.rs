//! Stand-in of the LinkedIn API (PLATFORM-SPECS §2, §7): a stateful [`wiremock`] server.
//!
//! It serves, on one base URL:
//! - OAuth: `GET /oauth/v2/authorization` approves at once (302 to the redirect URL with `code`
//!   and `state`), `POST /oauth/v2/accessToken` (authorization code, single use; refresh when
//!   [`LinkedInStandIn::set_programmatic_refresh`] is on — the refresh answer has no
//!   `token_type`, as LinkedIn's), `GET /v2/userinfo`.
//! - `POST /rest/posts`: requires `Authorization`, an active `LinkedIn-Version` (the last 12
//!   monthly versions; else 426 `NONEXISTENT_VERSION`) and `X-Restli-Protocol-Version: 2.0.0`;
//!   answers 201 with an empty body and `x-restli-id`; 422 `DUPLICATE_POST` naming the earlier
//!   URN for the same author and identical commentary; 429 when the author's daily count
//!   (reset at 00:00 UTC) is spent, its message naming the `MEMBER DAY limit`
//!   ([`LinkedInFault::Throttled`] answers an infrastructure 429 naming no window); 401 `EXPIRED_ACCESS_TOKEN` for tokens past their 60 days.
//!   With [`LinkedInStandIn::set_truncate_unescaped`] the commentary is cut at the first
//!   unescaped reserved `little` character, as LinkedIn may do silently.
//! - `DELETE /rest/posts/{urn}` → 204 (404 if unknown).
//! - Images: `POST /rest/images?action=initializeUpload`, `PUT /dms-uploads/{id}`,
//!   `GET /rest/images/{urn}` (`WAITING_UPLOAD` → `PROCESSING` → `AVAILABLE`).
//!
//! Faults ([`LinkedInFault`]) are armed for the next create request (the refresh ones for the
//! next refresh).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod images;
mod oauth;

/// The client id the stand-in accepts.
pub const CLIENT_ID: &str = "quflux-standin-client";
/// The client secret the stand-in accepts.
pub const CLIENT_SECRET: &str = "quflux-standin-secret";
/// The member every issued token belongs to.
pub const MEMBER_SUB: &str = "782bbtaQ";
/// How long an issued access token lives (60 days).
pub const ACCESS_TOKEN_SECS: i64 = 5_184_000;
/// Reserved characters of the `little` format.
const RESERVED: &str = "|{}@[]()<>#\\*_~";

/// A failure armed for the next create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkedInFault {
    /// 429 for the member's daily limit (message names the `MEMBER DAY limit`).
    RateLimited,
    /// 429 for infrastructure protection: the message names no DAY limit; `Retry-After` is
    /// sent when [`LinkedInStandIn::set_throttle_retry_after`] set one.
    Throttled,
    /// 429 from the token endpoint on the next refresh (`grant_type=refresh_token`).
    RefreshThrottled,
    /// 401 `EXPIRED_ACCESS_TOKEN` on every call, and refresh refused, until reset.
    ExpiredToken,
    /// 422 `DUPLICATE_POST` (naming an unrelated earlier URN); nothing created.
    Duplicate,
    /// 400 validation error on `commentary`.
    InvalidContent,
    /// 500; nothing created.
    ServerError,
    /// The post is created, the 201 arrives after [`LinkedInStandIn::set_timeout_delay`].
    TimeoutAfterCreate,
}

/// A post the stand-in holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedInPost {
    /// Its URN (`urn:li:share:…`).
    pub urn: String,
    /// The author URN.
    pub author: String,
    /// `commentary` as received (escaped).
    pub commentary: String,
    /// The text as LinkedIn renders it (unescaped; cut in truncate mode).
    pub text: String,
    /// Attached images with their alt text.
    pub images: Vec<(String, Option<String>)>,
    /// The article link, if any.
    pub article: Option<String>,
}

#[derive(Debug, Clone)]
struct Image {
    uploaded: bool,
    polls: u32,
}

#[derive(Debug)]
struct State {
    faults: HashSet<LinkedInFault>,
    posts: Vec<LinkedInPost>,
    next_id: u64,
    codes: HashMap<String, String>,
    tokens: HashMap<String, DateTime<Utc>>,
    refresh_tokens: HashSet<String>,
    programmatic_refresh: bool,
    truncate_unescaped: bool,
    daily_limit: u32,
    daily: HashMap<(String, NaiveDate), u32>,
    images: HashMap<String, Image>,
    processing_polls: u32,
    create_requests: usize,
    timeout_delay: Duration,
    throttle_retry_after: Option<Duration>,
    clock_offset: chrono::Duration,
}

impl State {
    fn new() -> Self {
        Self {
            faults: HashSet::new(),
            posts: Vec::new(),
            next_id: 7_141_138_937_766_391_808,
            codes: HashMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            programmatic_refresh: false,
            truncate_unescaped: false,
            daily_limit: 150,
            daily: HashMap::new(),
            images: HashMap::new(),
            processing_polls: 1,
            create_requests: 0,
            timeout_delay: Duration::from_secs(10),
            throttle_retry_after: None,
            clock_offset: chrono::Duration::zero(),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }
}

/// A running LinkedIn stand-in. Dropping it stops the server.
#[derive(Debug)]
pub struct LinkedInStandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

/// Starts a stand-in on a free local port.
pub async fn start() -> LinkedInStandIn {
    let server = MockServer::start().await;
    let state = Arc::new(Mutex::new(State::new()));
    Mock::given(any())
        .respond_with(Router {
            state: Arc::clone(&state),
            base: server.uri(),
        })
        .mount(&server)
        .await;
    LinkedInStandIn { server, state }
}

impl LinkedInStandIn {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Base URL (the REST API base: `/rest/…`, `/v2/userinfo`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The OAuth base (`/authorization`, `/accessToken` below it).
    pub fn oauth_base(&self) -> String {
        format!("{}/oauth/v2", self.server.uri())
    }

    /// Arms `fault` for the next create request (always supported: returns `true`).
    pub fn inject_fault(&self, fault: LinkedInFault) -> bool {
        self.state().faults.insert(fault);
        true
    }

    /// Posts held (created and not deleted), oldest first.
    pub fn posts(&self) -> Vec<LinkedInPost> {
        self.state().posts.clone()
    }

    /// Disarms every fault.
    pub fn reset(&self) {
        self.state().faults.clear();
    }

    /// `POST /rest/posts` requests received (including refused ones).
    pub fn create_requests(&self) -> usize {
        self.state().create_requests
    }

    /// Posts allowed per member and UTC day (default 150).
    pub fn set_daily_member_limit(&self, limit: u32) {
        self.state().daily_limit = limit;
    }

    /// Cut `commentary` at the first unescaped reserved character (LinkedIn's silent
    /// truncation).
    pub fn set_truncate_unescaped(&self, on: bool) {
        self.state().truncate_unescaped = on;
    }

    /// Issue refresh tokens (apps approved for programmatic refresh).
    pub fn set_programmatic_refresh(&self, on: bool) {
        self.state().programmatic_refresh = on;
    }

    /// Status polls answered `PROCESSING` after an upload before `AVAILABLE` (default 1).
    pub fn set_image_processing_polls(&self, polls: u32) {
        self.state().processing_polls = polls;
    }

    /// Delay of the late answer of [`LinkedInFault::TimeoutAfterCreate`] (default 10 s).
    pub fn set_timeout_delay(&self, delay: Duration) {
        self.state().timeout_delay = delay;
    }

    /// The `Retry-After` of [`LinkedInFault::Throttled`] answers (default: none).
    pub fn set_throttle_retry_after(&self, wait: Option<Duration>) {
        self.state().throttle_retry_after = wait;
    }

    /// Moves the stand-in's clock forward (e.g. 60 days, to expire issued tokens).
    pub fn advance(&self, by: Duration) {
        let mut state = self.state();
        state.clock_offset +=
            chrono::Duration::from_std(by).unwrap_or_else(|_| chrono::Duration::zero());
    }
}

struct Router {
    state: Arc<Mutex<State>>,
    base: String,
}

fn error(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn bad_request(message: &str, field: &str) -> ResponseTemplate {
    error(
        400,
        json!({
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": message,
            "errorDetails": {"inputErrors": [{
                "description": message,
                "input": {"inputPath": {"fieldPath": field}},
                "code": "INVALID_VALUE"
            }]},
            "status": 400
        }),
    )
}

/// Percent-decodes a path segment.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Renders `little` commentary: escapes undone; in truncate mode the text ends at the first
/// unescaped reserved character.
pub fn render_little(commentary: &str, truncate: bool) -> String {
    let mut out = String::with_capacity(commentary.len());
    let mut chars = commentary.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) => out.push(next),
                None => out.push(c),
            }
        } else if RESERVED.contains(c) && truncate {
            break;
        } else {
            out.push(c);
        }
    }
    out
}

impl Router {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
    /// `Some(refusal)` unless the versioned-API headers are right.
    fn versioned(&self, request: &Request) -> Option<ResponseTemplate> {
        if let Some(r) = self.bearer(request) {
            return Some(r);
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let version = header("linkedin-version");
        let now = self.state().now();
        let current = now.year() * 100 + now.month() as i32;
        let oldest = (now.year() - 1) * 100 + now.month() as i32;
        let active = version.len() == 6
            && version
                .parse::<i32>()
                .is_ok_and(|v| v > oldest && v <= current && (1..=12).contains(&(v % 100)));
        if !active {
            return Some(error(
                426,
                json!({
                    "status": 426,
                    "code": "NONEXISTENT_VERSION",
                    "message": format!("Requested version {version}01 is not active")
                }),
            ));
        }
        if header("x-restli-protocol-version") != "2.0.0" {
            return Some(bad_request(
                "X-Restli-Protocol-Version 2.0.0 is required",
                "X-Restli-Protocol-Version",
            ));
        }
        None
    }

    fn create_post(&self, request: &Request) -> ResponseTemplate {
        self.state().create_requests += 1;
        if let Some(r) = self.versioned(request) {
            return r;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return bad_request("Malformed JSON body", "");
        };
        let author = body["author"].as_str().unwrap_or_default().to_owned();
        let Some(commentary) = body["commentary"].as_str().map(str::to_owned) else {
            return bad_request("commentary is required", "commentary");
        };
        if !author.starts_with("urn:li:person:") && !author.starts_with("urn:li:organization:") {
            return bad_request("author must be a person or organization URN", "author");
        }
        if body["visibility"].as_str().is_none() || body["lifecycleState"].as_str().is_none() {
            return bad_request("visibility and lifecycleState are required", "visibility");
        }
        let mut state = self.state();
        let fault = |s: &mut State, f: LinkedInFault| s.faults.remove(&f);
        let today = state.now().date_naive();
        if fault(&mut state, LinkedInFault::RateLimited)
            || state
                .daily
                .get(&(author.clone(), today))
                .copied()
                .unwrap_or(0)
                >= state.daily_limit
        {
            return error(
                429,
                json!({
                    "serviceErrorCode": 101,
                    "message": "Resource level throttle limit for calls to this resource is reached. MEMBER DAY limit reached.",
                    "status": 429
                }),
            );
        }
        if fault(&mut state, LinkedInFault::Throttled) {
            let response = error(
                429,
                json!({
                    "serviceErrorCode": 101,
                    "message": "Resource level throttle limit for calls to this resource is reached.",
                    "status": 429
                }),
            );
            return match state.throttle_retry_after {
                Some(wait) => {
                    response.insert_header("Retry-After", wait.as_secs().to_string().as_str())
                }
                None => response,
            };
        }
        if fault(&mut state, LinkedInFault::ServerError) {
            return error(
                500,
                json!({"message": "Internal Server Error", "status": 500}),
            );
        }
        if fault(&mut state, LinkedInFault::InvalidContent) {
            return bad_request(
                "commentary contains content that is not allowed",
                "commentary",
            );
        }
        let duplicate_of = if fault(&mut state, LinkedInFault::Duplicate) {
            Some("urn:li:share:6999999999999999999".to_owned())
        } else {
            state
                .posts
                .iter()
                .find(|p| p.author == author && p.commentary == commentary)
                .map(|p| p.urn.clone())
        };
        if let Some(urn) = duplicate_of {
            return error(
                422,
                json!({
                    "errorDetailType": "com.linkedin.common.error.BadRequest",
                    "message": format!("com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {urn}"),
                    "errorDetails": {"inputErrors": [{"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}]},
                    "status": 422
                }),
            );
        }
        let content = &body["content"];
        let mut images = Vec::new();
        let mut items: Vec<&Value> = Vec::new();
        if content["media"].is_object() {
            items.push(&content["media"]);
        }
        if let Some(list) = content["multiImage"]["images"].as_array() {
            if !(2..=20).contains(&list.len()) {
                return bad_request("multiImage needs 2 to 20 images", "content.multiImage");
            }
            items.extend(list);
        }
        for item in items {
            let id = item["id"].as_str().unwrap_or_default().to_owned();
            if !state.images.get(&id).is_some_and(|i| i.uploaded) {
                return bad_request(&format!("Image {id} is not available"), "content.media.id");
            }
            images.push((id, item["altText"].as_str().map(str::to_owned)));
        }
        let id = state.next_id;
        state.next_id += 1;
        let urn = format!("urn:li:share:{id}");
        let text = render_little(&commentary, state.truncate_unescaped);
        state.posts.push(LinkedInPost {
            urn: urn.clone(),
            author: author.clone(),
            commentary,
            text,
            images,
            article: content["article"]["source"].as_str().map(str::to_owned),
        });
        *state.daily.entry((author, today)).or_default() += 1;
        let response = ResponseTemplate::new(201).insert_header("x-restli-id", urn.as_str());
        if fault(&mut state, LinkedInFault::TimeoutAfterCreate) {
            return response.set_delay(state.timeout_delay);
        }
        response
    }

    fn delete_post(&self, request: &Request, urn: &str) -> ResponseTemplate {
        if let Some(r) = self.versioned(request) {
            return r;
        }
        let mut state = self.state();
        let before = state.posts.len();
        state.posts.retain(|p| p.urn != urn);
        if state.posts.len() == before {
            return error(
                404,
                json!({"status": 404, "message": format!("Not found: {urn}")}),
            );
        }
        ResponseTemplate::new(204)
    }
}

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let method = request.method.as_str();
        match (method, segments.as_slice()) {
            ("GET", ["oauth", "v2", "authorization"]) => self.authorize(request),
            ("POST", ["oauth", "v2", "accessToken"]) => self.access_token(request),
            ("GET", ["v2", "userinfo"]) => match self.bearer(request) {
                Some(r) => r,
                None => ResponseTemplate::new(200).set_body_json(json!({
                    "sub": MEMBER_SUB,
                    "name": "John Doe",
                    "given_name": "John",
                    "family_name": "Doe",
                    "picture": "https://media.licdn.com/dms/image/standin",
                    "locale": "en-US"
                })),
            },
            ("POST", ["rest", "posts"]) => self.create_post(request),
            ("DELETE", ["rest", "posts", urn]) => self.delete_post(request, &decode(urn)),
            ("POST", ["rest", "images"])
                if request
                    .url
                    .query_pairs()
                    .any(|(k, v)| k == "action" && v == "initializeUpload") =>
            {
                self.initialize_upload(request)
            }
            ("PUT", ["dms-uploads", key, ..]) => self.upload(request, key),
            ("GET", ["rest", "images", urn]) => self.image_status(request, &decode(urn)),
            _ => error(
                404,
                json!({"status": 404, "message": format!("No route {method} {path}")}),
            ),
        }
    }
}
