//! Stand-in of a Mastodon 4.x instance (README §5, §7): app registration, OAuth with PKCE,
//! `verify_credentials`, `/api/v2/instance`, media v2 (`202` → `206` → `200`), statuses
//! (`200`, `Idempotency-Key` replay for an hour per account, `503` on a concurrent same key,
//! `422` over the instance limit or with unprocessed media), the account's statuses as HTML
//! rendered like Mastodon's (paragraphs, `<br />`, mention `h-card`s, links with `invisible`
//! scheme spans, hashtags), deletion, revocation, and `X-RateLimit-*` headers with an
//! ISO-8601 reset on every API answer (`429` past 300 calls per 5 minutes per token).
//!
//! One [`MastodonStandIn`] is one instance with one account (`alice`). Faults
//! ([`MastodonFault`]) are armed for the next `POST /api/v1/statuses`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use quflux_core::{Clock, Platform, SystemClock};
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod format;
mod media;
mod oauth;

use format::{html, multipart};
use media::{poll_media, upload};
use oauth::{authorize, register_app, revoke, token};

/// The account every stand-in instance holds.
pub const ACCOUNT_ID: &str = "14715";
/// Its username.
pub const USERNAME: &str = "alice";
/// Calls allowed per token and 5-minute window (README §5.5).
pub const API_LIMIT: u32 = 300;
/// How long an `Idempotency-Key` is remembered.
pub const KEY_TTL: Duration = Duration::from_secs(3600);

/// A failure armed for the next `POST /api/v1/statuses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MastodonFault {
    /// `429 {"error":"Too many requests"}` with `X-RateLimit-Remaining: 0` and an ISO reset.
    RateLimited,
    /// `401 {"error":"The access token is invalid"}` on every authenticated call until reset.
    ExpiredToken,
    /// `422 {"error":"Validation failed: ..."}` for content the local rules accept.
    InvalidContent,
    /// `503 {"error":"Remote data could not be fetched"}`; nothing created.
    ServerError,
    /// The status is created (and its key stored), the answer is delayed past the client's
    /// timeout.
    TimeoutAfterCreate,
    /// `503` as when another request with the same `Idempotency-Key` holds the lock.
    ConcurrentSameKey,
}

/// A status the instance holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandInStatus {
    /// Its id.
    pub id: String,
    /// The text as received.
    pub text: String,
    /// The content warning as received.
    pub spoiler_text: String,
    /// The status it replies to.
    pub reply_to: Option<String>,
    /// Alt text of each attachment, in order.
    pub media_alt: Vec<Option<String>>,
    /// The `Idempotency-Key` it was created with.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone)]
struct App {
    client_id: String,
    client_secret: String,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
}

#[derive(Debug, Clone)]
struct Media {
    description: Option<String>,
    kind: &'static str,
    polls_left: u32,
}

#[derive(Debug, Clone)]
struct Status {
    public: StandInStatus,
    created_at: DateTime<Utc>,
    deleted: bool,
}

#[derive(Debug)]
struct State {
    base: String,
    apps: Vec<App>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, bool>,
    statuses: Vec<Status>,
    keys: HashMap<String, (String, DateTime<Utc>)>,
    media: HashMap<String, Media>,
    fault: Option<MastodonFault>,
    expired: bool,
    max_characters: usize,
    max_media: usize,
    media_polls: u32,
    next_id: u64,
    windows: HashMap<String, (DateTime<Utc>, u32)>,
    timeout_delay: Duration,
    clock: Arc<dyn Clock>,
    broken_app_answer: bool,
}

/// A running stand-in instance.
#[derive(Debug)]
pub struct MastodonStandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

/// Starts a stand-in instance on a local port.
pub async fn start() -> MastodonStandIn {
    let server = MockServer::start().await;
    let state = Arc::new(Mutex::new(State {
        base: server.uri(),
        apps: Vec::new(),
        codes: HashMap::new(),
        tokens: HashMap::new(),
        statuses: Vec::new(),
        keys: HashMap::new(),
        media: HashMap::new(),
        fault: None,
        expired: false,
        max_characters: 500,
        max_media: 4,
        media_polls: 0,
        next_id: 109_000_000_000_000_000,
        windows: HashMap::new(),
        timeout_delay: Duration::from_secs(10),
        clock: Arc::new(SystemClock),
        broken_app_answer: false,
    }));
    Mock::given(wiremock::matchers::any())
        .respond_with(Router(state.clone()))
        .mount(&server)
        .await;
    MastodonStandIn { server, state }
}

impl MastodonStandIn {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The instance's base URL.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Arms `fault` for the next status creation.
    pub fn inject_fault(&self, fault: MastodonFault) {
        let mut s = self.state();
        if fault == MastodonFault::ExpiredToken {
            s.expired = true;
        }
        s.fault = Some(fault);
    }

    /// Statuses held (created and not deleted), oldest first.
    pub fn posts(&self) -> Vec<StandInStatus> {
        self.state()
            .statuses
            .iter()
            .filter(|s| !s.deleted)
            .map(|s| s.public.clone())
            .collect()
    }

    /// Disarms every fault and restores every token.
    pub fn reset(&self) {
        let mut s = self.state();
        s.fault = None;
        s.expired = false;
        s.windows.clear();
    }

    /// Sets `configuration.statuses.max_characters`.
    pub fn set_max_characters(&self, max: usize) {
        self.state().max_characters = max;
    }

    /// Makes every upload answer `202` and need `polls` polls (`206`) before it is ready.
    pub fn set_media_processing_polls(&self, polls: u32) {
        self.state().media_polls = polls;
    }

    /// How long a [`MastodonFault::TimeoutAfterCreate`] answer is delayed (10 s by default).
    pub fn set_timeout_delay(&self, delay: Duration) {
        self.state().timeout_delay = delay;
    }

    /// Takes the time (`created_at`, key expiry, rate windows) from `clock` instead of the
    /// system clock: share the publisher's clock so lookups compare like times.
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        self.state().clock = clock;
    }

    /// Makes the next `POST /api/v1/apps` register the application but answer a truncated JSON
    /// body (which still holds the client secret).
    pub fn truncate_next_app_answer(&self) {
        self.state().broken_app_answer = true;
    }

    /// Forgets the application `client_id`, as an instance whose admin deleted it: its
    /// credentials are refused from then on.
    pub fn forget_app(&self, client_id: &str) {
        self.state().apps.retain(|a| a.client_id != client_id);
    }

    /// Forgets every `Idempotency-Key`, as an hour passing would.
    pub fn forget_idempotency_keys(&self) {
        self.state().keys.clear();
    }

    /// Issues an access token for the account without the OAuth dance.
    pub fn issue_token(&self) -> String {
        let token = random("tok");
        self.state().tokens.insert(token.clone(), true);
        token
    }

    /// Whether `token` is valid (issued and not revoked).
    pub fn token_is_valid(&self, token: &str) -> bool {
        self.state().tokens.get(token).copied().unwrap_or(false)
    }

    /// How many applications were registered.
    pub fn app_registrations(&self) -> usize {
        self.state().apps.len()
    }

    /// How many requests with `method` had a path starting with `path`.
    pub async fn requests(&self, method: &str, path: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == method && r.url.path().starts_with(path))
            .count()
    }
}

struct Router(Arc<Mutex<State>>);

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        route(&mut state, request)
    }
}

fn random(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": message }))
}

fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({ "error": error, "error_description": description }))
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn route(state: &mut State, request: &Request) -> ResponseTemplate {
    let path = request.url.path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["api", "v1", "apps"]) => register_app(state, request),
        ("GET", ["oauth", "authorize"]) => authorize(state, request),
        ("POST", ["oauth", "token"]) => token(state, request),
        ("POST", ["oauth", "revoke"]) => revoke(state, request),
        ("GET", ["api", "v2", "instance"]) => instance(state),
        (_, ["api", ..]) => authenticated(state, request, &segments),
        _ => error(404, "Record not found"),
    }
}

fn instance(state: &State) -> ResponseTemplate {
    let domain = url::Url::parse(&state.base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    ResponseTemplate::new(200).set_body_json(json!({
        "domain": domain,
        "title": "Quflux stand-in",
        "version": "4.5.0",
        "configuration": {
            "statuses": {
                "max_characters": state.max_characters,
                "max_media_attachments": state.max_media,
                "characters_reserved_per_url": 23
            },
            "media_attachments": {
                "description_limit": 1500,
                "image_size_limit": 16_777_216,
                "image_matrix_limit": 33_177_600,
                "video_size_limit": 103_809_024
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2_629_746
            }
        }
    }))
}

fn authenticated(state: &mut State, request: &Request, segments: &[&str]) -> ResponseTemplate {
    let token = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    if state.expired || !state.tokens.get(&token).copied().unwrap_or(false) {
        return error(401, "The access token is invalid");
    }
    // Per-token window of 300 calls / 5 minutes.
    let now = state.clock.now();
    let window = state.windows.entry(token).or_insert((now, 0));
    if now - window.0 >= chrono::Duration::minutes(5) {
        *window = (now, 0);
    }
    window.1 += 1;
    let reset = window.0 + chrono::Duration::minutes(5);
    let used = window.1;
    let with_headers = |r: ResponseTemplate, remaining: u32| {
        r.insert_header("X-RateLimit-Limit", API_LIMIT.to_string().as_str())
            .insert_header("X-RateLimit-Remaining", remaining.to_string().as_str())
            .insert_header("X-RateLimit-Reset", iso(reset).as_str())
    };
    if used > API_LIMIT {
        return with_headers(error(429, "Too many requests"), 0);
    }
    let remaining = API_LIMIT - used;
    let method = request.method.as_str();
    let answer = match (method, segments) {
        ("GET", ["api", "v1", "accounts", "verify_credentials"]) => {
            ResponseTemplate::new(200).set_body_json(account_json(state, true))
        }
        ("POST", ["api", "v2", "media"]) => upload(state, request),
        ("GET", ["api", "v1", "media", id]) => poll_media(state, id),
        ("POST", ["api", "v1", "statuses"]) => {
            if state.fault == Some(MastodonFault::RateLimited) {
                state.fault = None;
                let reset = iso(now + chrono::Duration::seconds(90));
                return error(429, "Too many requests")
                    .insert_header("X-RateLimit-Limit", "300")
                    .insert_header("X-RateLimit-Remaining", "0")
                    .insert_header("X-RateLimit-Reset", reset.as_str());
            }
            create_status(state, request)
        }
        ("DELETE", ["api", "v1", "statuses", id]) => delete_status(state, id),
        ("GET", ["api", "v1", "accounts", id, "statuses"]) => list_statuses(state, request, id),
        _ => error(404, "Record not found"),
    };
    with_headers(answer, remaining)
}

fn account_json(state: &State, credentials: bool) -> Value {
    let mut account = json!({
        "id": ACCOUNT_ID,
        "username": USERNAME,
        "acct": USERNAME,
        "display_name": "Alice",
        "url": format!("{}/@{USERNAME}", state.base),
    });
    if credentials {
        account["source"] = json!({
            "privacy": "public", "sensitive": false, "language": "en", "note": "", "fields": []
        });
    }
    account
}

/// Named parts of a `multipart/form-data` body: name → bytes.
fn next_id(state: &mut State) -> String {
    state.next_id += 1;
    state.next_id.to_string()
}

fn status_json(state: &State, status: &Status) -> Value {
    let s = &status.public;
    let media: Vec<Value> = s
        .media_alt
        .iter()
        .enumerate()
        .map(|(i, alt)| json!({ "id": format!("{}-{i}", s.id), "type": "image", "description": alt }))
        .collect();
    json!({
        "id": s.id,
        "created_at": iso(status.created_at),
        "in_reply_to_id": s.reply_to,
        "in_reply_to_account_id": s.reply_to.as_ref().map(|_| ACCOUNT_ID),
        "sensitive": !s.spoiler_text.is_empty(),
        "spoiler_text": s.spoiler_text,
        "visibility": "public",
        "language": "en",
        "uri": format!("{}/users/{USERNAME}/statuses/{}", state.base, s.id),
        "url": format!("{}/@{USERNAME}/{}", state.base, s.id),
        "content": html(&s.text, &state.base),
        "media_attachments": media,
        "account": account_json(state, false),
        "application": { "name": "Quflux", "website": null },
    })
}

fn create_status(state: &mut State, request: &Request) -> ResponseTemplate {
    let now = state.clock.now();
    let key = request
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let scoped = key.as_ref().map(|k| format!("{ACCOUNT_ID}:{k}"));
    state
        .keys
        .retain(|_, (_, at)| now - *at < chrono::Duration::seconds(KEY_TTL.as_secs() as i64));
    // Replay: the original status, whatever the new body says.
    if let Some((id, _)) = scoped.as_ref().and_then(|k| state.keys.get(k)).cloned()
        && let Some(status) = state.statuses.iter().find(|s| s.public.id == id)
    {
        return ResponseTemplate::new(200).set_body_json(status_json(state, status));
    }
    match state.fault {
        Some(MastodonFault::ConcurrentSameKey) => {
            state.fault = None;
            return error(
                503,
                "There was a temporary problem serving your request, please try again",
            );
        }
        Some(MastodonFault::ServerError) => {
            state.fault = None;
            return error(503, "Remote data could not be fetched");
        }
        Some(MastodonFault::InvalidContent) => {
            state.fault = None;
            return error(
                422,
                "Validation failed: Text contains a link to a blocked domain",
            );
        }
        _ => {}
    }
    let body: Value = request
        .body_json()
        .unwrap_or_else(|_| json!(form(&request.body)));
    let text = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let spoiler = body
        .get("spoiler_text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let media_ids: Vec<String> = body
        .get("media_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if text.trim().is_empty() && media_ids.is_empty() {
        return error(422, "Validation failed: Text can't be blank");
    }
    let length = quflux_core::rules::measure(Platform::Mastodon, &text).length
        + spoiler.graphemes(true).count();
    if length > state.max_characters {
        return error(
            422,
            &format!(
                "Validation failed: Text character limit of {} exceeded",
                state.max_characters
            ),
        );
    }
    if media_ids.len() > state.max_media {
        return error(422, "Validation failed: Media attachments limit exceeded");
    }
    let mut media_alt = Vec::new();
    for id in &media_ids {
        match state.media.get(id) {
            None => return error(404, "Record not found"),
            Some(m) if m.polls_left > 0 => {
                return error(
                    422,
                    "Cannot attach files that have not finished processing. Try again in a moment!",
                );
            }
            Some(m) => media_alt.push(m.description.clone()),
        }
    }
    let reply_to = body
        .get("in_reply_to_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(parent) = &reply_to
        && !state
            .statuses
            .iter()
            .any(|s| &s.public.id == parent && !s.deleted)
    {
        return error(404, "Record not found");
    }
    let id = next_id(state);
    let status = Status {
        public: StandInStatus {
            id: id.clone(),
            text,
            spoiler_text: spoiler,
            reply_to,
            media_alt,
            idempotency_key: key,
        },
        created_at: now,
        deleted: false,
    };
    if let Some(k) = scoped {
        state.keys.insert(k, (id, now));
    }
    let answer = ResponseTemplate::new(200).set_body_json(status_json(state, &status));
    state.statuses.push(status);
    if state.fault == Some(MastodonFault::TimeoutAfterCreate) {
        state.fault = None;
        return answer.set_delay(state.timeout_delay);
    }
    answer
}

fn delete_status(state: &mut State, id: &str) -> ResponseTemplate {
    let Some(index) = state
        .statuses
        .iter()
        .position(|s| s.public.id == id && !s.deleted)
    else {
        return error(404, "Record not found");
    };
    state.statuses[index].deleted = true;
    let mut body = status_json(state, &state.statuses[index]);
    body["text"] = json!(state.statuses[index].public.text);
    ResponseTemplate::new(200).set_body_json(body)
}

fn list_statuses(state: &State, request: &Request, id: &str) -> ResponseTemplate {
    if id != ACCOUNT_ID {
        return error(404, "Record not found");
    }
    let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 40);
    let exclude_replies = q.get("exclude_replies").is_some_and(|v| v == "true");
    let list: Vec<Value> = state
        .statuses
        .iter()
        .rev()
        .filter(|s| !s.deleted && (!exclude_replies || s.public.reply_to.is_none()))
        .take(limit)
        .map(|s| status_json(state, s))
        .collect();
    ResponseTemplate::new(200).set_body_json(list)
}
