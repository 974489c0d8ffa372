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
//! - `GET /2/users/{id}/tweets` (newest first), `DELETE /2/tweets/{id}`;
//! - media: `initialize` → `append` (multipart) → `finalize` → `STATUS`
//!   (`pending` → `in_progress` → `succeeded`), `POST /2/media/metadata` (alt text).
//!
//! Faults ([`XFault`]) are armed for the next create request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

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
    expired: bool,
    timeout_delay: Duration,
    windows: HashMap<&'static str, (DateTime<Utc>, u32)>,
    daily: (DateTime<Utc>, u32),
    daily_cap: u32,
    create_bodies: Vec<Value>,
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

fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": error, "error_description": description}))
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The parts of a `multipart/form-data` body: name → bytes.
fn multipart(request: &Request) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    let Some(boundary) = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| format!("--{}", b.trim_matches('"')))
    else {
        return out;
    };
    let body = &request.body;
    let delimiter = boundary.as_bytes();
    let mut positions = Vec::new();
    let mut i = 0;
    while i + delimiter.len() <= body.len() {
        if &body[i..i + delimiter.len()] == delimiter {
            positions.push(i);
            i += delimiter.len();
        } else {
            i += 1;
        }
    }
    for pair in positions.windows(2) {
        let part = &body[pair[0] + delimiter.len()..pair[1]];
        let Some(split) = part.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        let mut content = &part[split + 4..];
        if content.ends_with(b"\r\n") {
            content = &content[..content.len() - 2];
        }
        if let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        {
            out.insert(name.to_owned(), content.to_vec());
        }
    }
    out
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
            expired: false,
            timeout_delay: Duration::from_secs(3),
            windows: HashMap::new(),
            daily: (now, 0),
            daily_cap: 10_000,
            create_bodies: Vec::new(),
            requests: 0,
            create_requests: 0,
            refresh_grants: 0,
            code_grants: 0,
        }
    }

    fn next_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    fn issue(&mut self) -> Value {
        let access = token("xat");
        let refresh = token("xrt");
        let ttl = chrono::Duration::from_std(self.access_ttl)
            .unwrap_or_else(|_| chrono::Duration::hours(2));
        self.access.insert(access.clone(), Utc::now() + ttl);
        self.refresh_live.insert(refresh.clone());
        json!({
            "token_type": "bearer",
            "expires_in": self.access_ttl.as_secs(),
            "access_token": access,
            "scope": "tweet.write users.read tweet.read offline.access media.write",
            "refresh_token": refresh,
        })
    }

    /// Client authentication at the token endpoint, as X does it: `Some(refusal)` if it fails.
    fn client_refusal(
        &self,
        request: &Request,
        form: &HashMap<String, String>,
    ) -> Option<ResponseTemplate> {
        let basic = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| STANDARD.decode(v.trim()).ok())
            .and_then(|v| String::from_utf8(v).ok());
        match (&self.client_secret, basic) {
            (Some(secret), Some(pair)) => {
                let expected = format!(
                    "{}:{}",
                    url::form_urlencoded::byte_serialize(
                        self.client_id.clone().unwrap_or_default().as_bytes()
                    )
                    .collect::<String>(),
                    url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()
                );
                let raw = format!("{}:{secret}", self.client_id.clone().unwrap_or_default());
                if pair == expected || pair == raw {
                    None
                } else {
                    Some(oauth_error(
                        401,
                        "unauthorized_client",
                        "Missing valid authorization header",
                    ))
                }
            }
            (Some(_), None) => Some(oauth_error(
                401,
                "unauthorized_client",
                "Missing valid authorization header",
            )),
            (None, _) => match (form.get("client_id"), &self.client_id) {
                (Some(id), Some(expected)) if id == expected => None,
                (Some(_), None) => None,
                _ => Some(oauth_error(
                    400,
                    "invalid_request",
                    "Missing required parameter [client_id].",
                )),
            },
        }
    }

    fn token_endpoint(&mut self, request: &Request) -> ResponseTemplate {
        let form = form(&request.body);
        if let Some(r) = self.client_refusal(request, &form) {
            return r;
        }
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                self.code_grants += 1;
                let bad = || {
                    oauth_error(
                        400,
                        "invalid_request",
                        "Value passed for the authorization code was invalid.",
                    )
                };
                let Some(pending) = form.get("code").and_then(|c| self.codes.remove(c)) else {
                    return bad();
                };
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                let computed = if pending.method == "plain" {
                    verifier.clone()
                } else {
                    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                };
                let client_matches = self
                    .client_id
                    .as_ref()
                    .is_none_or(|id| *id == pending.client_id);
                if computed != pending.challenge
                    || form.get("redirect_uri") != Some(&pending.redirect_uri)
                    || !client_matches
                {
                    return bad();
                }
                ResponseTemplate::new(200).set_body_json(self.issue())
            }
            Some("refresh_token") => {
                self.refresh_grants += 1;
                let presented = form.get("refresh_token").cloned().unwrap_or_default();
                if self.expired || !self.refresh_live.remove(&presented) {
                    return oauth_error(
                        400,
                        "invalid_request",
                        "Value passed for the token was invalid.",
                    );
                }
                self.refresh_spent.insert(presented);
                ResponseTemplate::new(200).set_body_json(self.issue())
            }
            _ => oauth_error(
                400,
                "invalid_request",
                "Value passed for the grant type was invalid.",
            ),
        }
    }

    fn authorize(&mut self, request: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let method = q
            .get("code_challenge_method")
            .cloned()
            .unwrap_or_else(|| "plain".to_owned());
        if get("response_type") != "code"
            || get("redirect_uri").is_empty()
            || get("state").is_empty()
            || get("code_challenge").is_empty()
            || !matches!(method.as_str(), "S256" | "plain")
            || self
                .client_id
                .as_ref()
                .is_some_and(|id| *id != get("client_id"))
        {
            return ResponseTemplate::new(400).set_body_string("Something went wrong");
        }
        let code = token("code");
        self.codes.insert(
            code.clone(),
            PendingCode {
                client_id: get("client_id"),
                redirect_uri: get("redirect_uri"),
                challenge: get("code_challenge"),
                method,
            },
        );
        let mut location = match url::Url::parse(&get("redirect_uri")) {
            Ok(u) => u,
            Err(_) => return ResponseTemplate::new(400).set_body_string("bad redirect_uri"),
        };
        location
            .query_pairs_mut()
            .append_pair("state", &get("state"))
            .append_pair("code", &code);
        ResponseTemplate::new(302).insert_header("location", location.as_str())
    }

    fn bearer_ok(&self, request: &Request) -> bool {
        let Some(token) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        !self.expired && self.access.get(token).is_some_and(|at| *at > Utc::now())
    }

    /// Counts one request to `bucket` (15-min window) and returns its headers.
    fn spend(&mut self, bucket: &'static str, limit: u32) -> (u32, i64) {
        let now = Utc::now();
        let entry = self.windows.entry(bucket).or_insert((now, 0));
        if entry.0 + chrono::Duration::minutes(15) <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (
            limit.saturating_sub(entry.1),
            (entry.0 + chrono::Duration::minutes(15)).timestamp(),
        )
    }

    fn rate_headers(
        r: ResponseTemplate,
        limit: u32,
        remaining: u32,
        reset: i64,
    ) -> ResponseTemplate {
        r.insert_header("x-rate-limit-limit", limit.to_string().as_str())
            .insert_header("x-rate-limit-remaining", remaining.to_string().as_str())
            .insert_header("x-rate-limit-reset", reset.to_string().as_str())
    }

    fn daily_headers(&mut self, r: ResponseTemplate, used_now: bool) -> ResponseTemplate {
        let now = Utc::now();
        if self.daily.0 + chrono::Duration::hours(24) <= now {
            self.daily = (now, 0);
        }
        if used_now {
            self.daily.1 += 1;
        }
        let reset = (self.daily.0 + chrono::Duration::hours(24))
            .timestamp()
            .to_string();
        let remaining = self.daily_cap.saturating_sub(self.daily.1).to_string();
        r.insert_header(
            "x-user-limit-24hour-limit",
            self.daily_cap.to_string().as_str(),
        )
        .insert_header("x-user-limit-24hour-remaining", remaining.as_str())
        .insert_header("x-user-limit-24hour-reset", reset.as_str())
        .insert_header("x-app-limit-24hour-limit", "10000")
        .insert_header("x-app-limit-24hour-remaining", "9999")
        .insert_header("x-app-limit-24hour-reset", reset.as_str())
    }

    fn create(&mut self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        self.create_bodies.push(body.clone());
        let (remaining, reset) = self.spend("create", 100);
        let now = Utc::now().timestamp();
        if self.faults.remove(&XFault::RateLimited)
            || self.windows.get("create").is_some_and(|w| w.1 > 100)
        {
            let r = problem(429, "Too Many Requests", "Too Many Requests", "about:blank");
            let r = Self::rate_headers(r, 100, 0, reset.min(now + 60));
            return self.daily_headers(r, false);
        }
        if self.faults.remove(&XFault::DailyCapReached) || self.daily.1 >= self.daily_cap {
            let r = problem(429, "Too Many Requests", "Too Many Requests", "about:blank");
            let r = Self::rate_headers(r, 100, remaining, reset);
            let r = self.daily_headers(r, false);
            let reset = (self.daily.0 + chrono::Duration::hours(24))
                .timestamp()
                .to_string();
            return r
                .insert_header("x-user-limit-24hour-remaining", "0")
                .insert_header("x-user-limit-24hour-reset", reset.as_str());
        }
        let finish = |state: &mut Self, r: ResponseTemplate, used: bool| {
            let r = Self::rate_headers(r, 100, remaining, reset);
            state.daily_headers(r, used)
        };
        if self.faults.remove(&XFault::ServerError) {
            return finish(
                self,
                problem(
                    503,
                    "Service Unavailable",
                    "Service Unavailable",
                    "about:blank",
                ),
                false,
            );
        }
        if self.faults.remove(&XFault::InvalidContent) {
            return finish(
                self,
                invalid_request("$.text: does not match the expected format"),
                false,
            );
        }
        if self.faults.remove(&XFault::Duplicate) {
            return finish(self, duplicate(), false);
        }
        let Some(obj) = body.as_object() else {
            return finish(
                self,
                invalid_request("the body is not a JSON object"),
                false,
            );
        };
        const KNOWN: &[&str] = &[
            "card_uri",
            "community_id",
            "direct_message_deep_link",
            "edit_options",
            "for_super_followers_only",
            "geo",
            "made_with_ai",
            "media",
            "nullcast",
            "paid_partnership",
            "poll",
            "quote_tweet_id",
            "reply",
            "reply_settings",
            "share_with_followers",
            "text",
        ];
        if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return finish(
                self,
                invalid_request(&format!(
                    "$.{unknown}: is not defined in the schema and the schema does not allow additional properties"
                )),
                false,
            );
        }
        let text = obj
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let media: Vec<String> = obj
            .get("media")
            .and_then(|m| m.get("media_ids"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let poll: Vec<String> = obj
            .get("poll")
            .and_then(|m| m.get("options"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if text.is_empty() && media.is_empty() {
            return finish(
                self,
                invalid_request("$.text: is missing but it is required"),
                false,
            );
        }
        if !text.is_empty() && !quflux_core::rules::twitter::weighted_length(&text).valid {
            return finish(
                self,
                problem(
                    400,
                    "Bad Request",
                    "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.",
                    "about:blank",
                ),
                false,
            );
        }
        if media.len() > 4 || obj.contains_key("poll") && !media.is_empty() {
            return finish(
                self,
                invalid_request(
                    "$.media.media_ids: there must be a maximum of 4 items in the array",
                ),
                false,
            );
        }
        for id in &media {
            if self.media.get(id).and_then(|m| m.state) != Some("succeeded") {
                return finish(
                    self,
                    invalid_request(&format!(
                        "$.media.media_ids: Your media IDs are invalid ({id})."
                    )),
                    false,
                );
            }
        }
        let reply_to = obj
            .get("reply")
            .and_then(|r| r.get("in_reply_to_tweet_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if obj.contains_key("reply") && reply_to.is_none() {
            return finish(
                self,
                invalid_request("$.reply.in_reply_to_tweet_id: is missing but it is required"),
                false,
            );
        }
        if let Some(parent) = &reply_to
            && !self.posts.iter().any(|p| &p.id == parent)
        {
            return finish(
                self,
                invalid_request("$.reply.in_reply_to_tweet_id: the post replied to does not exist"),
                false,
            );
        }
        if !text.is_empty()
            && self
                .posts
                .iter()
                .any(|p| p.author == USER.0 && p.text == text)
        {
            return finish(self, duplicate(), false);
        }
        let id = self.next_id();
        self.posts.push(Post {
            id: id.clone(),
            author: USER.0.to_owned(),
            text: text.clone(),
            reply_to,
            media,
            poll,
            created_at: Utc::now(),
        });
        let mut r = ResponseTemplate::new(201).set_body_json(json!({
            "data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}
        }));
        if self.faults.remove(&XFault::TimeoutAfterCreate) {
            r = r.set_delay(self.timeout_delay);
        }
        finish(self, r, true)
    }

    fn timeline(&mut self, request: &Request, user: &str) -> ResponseTemplate {
        let (remaining, reset) = self.spend("timeline", 900);
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let max = match q.get("max_results").map(|m| m.parse::<usize>()) {
            None => 10,
            Some(Ok(n)) if (5..=100).contains(&n) => n,
            Some(_) => {
                return invalid_request(
                    "The `max_results` query parameter value is not between 5 and 100",
                );
            }
        };
        let with_created = q
            .get("tweet.fields")
            .is_some_and(|f| f.split(',').any(|f| f == "created_at"));
        let data: Vec<Value> = self
            .posts
            .iter()
            .rev()
            .filter(|p| p.author == user)
            .take(max)
            .map(|p| {
                let mut v = json!({"id": p.id, "text": p.text, "edit_history_tweet_ids": [p.id]});
                if with_created {
                    v["created_at"] = json!(
                        p.created_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    );
                }
                v
            })
            .collect();
        let body = if data.is_empty() {
            json!({"meta": {"result_count": 0}})
        } else {
            json!({"data": data, "meta": {
                "result_count": data.len(),
                "newest_id": data.first().map(|d| d["id"].clone()),
                "oldest_id": data.last().map(|d| d["id"].clone()),
            }})
        };
        Self::rate_headers(
            ResponseTemplate::new(200).set_body_json(body),
            900,
            remaining,
            reset,
        )
    }

    fn delete(&mut self, id: &str) -> ResponseTemplate {
        let (remaining, reset) = self.spend("delete", 50);
        let before = self.posts.len();
        self.posts.retain(|p| !(p.id == id && p.author == USER.0));
        let r = if self.posts.len() < before {
            ResponseTemplate::new(200).set_body_json(json!({"data": {"deleted": true}}))
        } else {
            problem(
                404,
                "Not Found Error",
                &format!("Could not find tweet with id: [{id}]."),
                "https://api.twitter.com/2/problems/resource-not-found",
            )
        };
        Self::rate_headers(r, 50, remaining, reset)
    }

    fn media_route(&mut self, request: &Request, segments: &[&str]) -> ResponseTemplate {
        let method = request.method.as_str();
        match (method, segments) {
            ("POST", ["initialize"]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let Some(total) = body.get("total_bytes").and_then(Value::as_u64) else {
                    return invalid_request("$.total_bytes: is missing but it is required");
                };
                let id = self.next_id();
                self.media.insert(
                    id.clone(),
                    Media {
                        total_bytes: usize::try_from(total).unwrap_or(usize::MAX),
                        ..Media::default()
                    },
                );
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "id": id, "media_key": format!("3_{id}"), "expires_after_secs": 86399
                }}))
            }
            ("POST", [id, "append"]) => {
                let parts = multipart(request);
                let Some(media) = self.media.get_mut(*id) else {
                    return invalid_request("$.id: media id not found");
                };
                let (Some(chunk), Some(index)) = (
                    parts.get("media"),
                    parts
                        .get("segment_index")
                        .and_then(|s| String::from_utf8_lossy(s).parse::<u64>().ok()),
                ) else {
                    return invalid_request("$.media: is missing but it is required");
                };
                if index > 999 {
                    return invalid_request("$.segment_index: must be at most 999");
                }
                media.received.insert(index, chunk.len());
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "expires_at": Utc::now().timestamp() + 86_399
                }}))
            }
            ("POST", [id, "finalize"]) => {
                let Some(media) = self.media.get_mut(*id) else {
                    return invalid_request("$.id: media id not found");
                };
                let received: usize = media.received.values().sum();
                if received != media.total_bytes {
                    return invalid_request(&format!(
                        "Segments do not add up to provided total file size ({received} != {})",
                        media.total_bytes
                    ));
                }
                media.state = Some("pending");
                ResponseTemplate::new(200).set_body_json(json!({"data": {
                    "id": id, "media_key": format!("3_{id}"), "size": received,
                    "expires_after_secs": 86399,
                    "processing_info": {"state": "pending", "check_after_secs": 1}
                }}))
            }
            _ => problem(404, "Not Found", "Not Found", "about:blank"),
        }
    }

    fn status(&mut self, request: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let id = q.get("media_id").cloned().unwrap_or_default();
        let Some(media) = self.media.get_mut(&id) else {
            return invalid_request("$.media_id: media id not found");
        };
        let (next, progress) = match media.state {
            Some("pending") => ("in_progress", 50),
            Some(_) => ("succeeded", 100),
            None => return invalid_request("$.media_id: the upload was not finalized"),
        };
        media.state = Some(next);
        let mut info = json!({"state": next, "progress_percent": progress});
        if next != "succeeded" {
            info["check_after_secs"] = json!(1);
        }
        ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": id, "media_key": format!("3_{id}"), "processing_info": info
        }}))
    }

    fn metadata(&mut self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(media) = self.media.get_mut(&id) else {
            return invalid_request("$.id: media id not found");
        };
        let alt = body
            .pointer("/metadata/alt_text/text")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if alt.as_ref().is_some_and(|a| a.chars().count() > 1000) {
            return invalid_request("$.metadata.alt_text.text: must be at most 1000 characters");
        }
        media.alt = alt;
        ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": id, "associated_metadata": body.get("metadata").cloned().unwrap_or(json!({}))
        }}))
    }

    fn route(&mut self, request: &Request) -> ResponseTemplate {
        self.requests += 1;
        let path = request.url.path().to_owned();
        let method = request.method.as_str().to_owned();
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

fn duplicate() -> ResponseTemplate {
    problem(
        403,
        "Forbidden",
        "You are not allowed to create a Tweet with duplicate content.",
        "about:blank",
    )
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

    /// Disarms every fault (and ends [`XFault::ExpiredToken`]).
    pub fn reset(&self) {
        let mut s = self.state();
        s.faults.clear();
        s.expired = false;
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

    /// How late the answer of [`XFault::TimeoutAfterCreate`] comes (3 s by default).
    pub fn set_timeout_delay(&self, delay: Duration) {
        self.state().timeout_delay = delay;
    }

    /// The 24-hour per-user cap of `POST /2/tweets` (10 000 by default).
    pub fn set_daily_cap(&self, cap: u32) {
        self.state().daily_cap = cap;
    }
}
