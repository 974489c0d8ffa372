//! Stand-in of a Bluesky PDS (XRPC), for the fault scenarios a real `@atproto/pds` cannot
//! produce on demand. It reproduces the contract of the platform specs (§4, §7):
//!
//! - `com.atproto.server.createSession` / `refreshSession` (rotating refresh JWT, the old one
//!   usable for a 2 h grace) / `deleteSession`; JWT-shaped tokens with an `exp` claim (access
//!   2 h, refresh 90 days);
//! - `com.atproto.repo.uploadBlob`, `createRecord` (TID record keys checked, a key collision
//!   is a generic `500 InternalServerError` as on `@atproto/pds`, text ≤ 300 graphemes and
//!   ≤ 3000 bytes, facet byte ranges inside the text and on character boundaries, blobs and
//!   reply refs must exist), `getRecord` (`400 RecordNotFound`), `listRecords` (newest first),
//!   `deleteRecord`, `com.atproto.identity.resolveHandle` (`400 HandleNotFound`);
//! - `{"error","message"}` bodies; an expired access token is `400 ExpiredToken`, an unknown
//!   one `400 InvalidToken`, none `401 AuthMissing`;
//! - repo-write points per account (5000 / hour, create = 3, delete = 1) with
//!   `RateLimit-Limit/Remaining/Reset/Policy` headers, `429 RateLimitExceeded` when spent.
//!
//! Faults ([`BlueskyFault`]) are armed for the next `createRecord`. Bluesky has no duplicate
//! detection, so there is no duplicate fault.

// Handlers answer with a response either way; `Err` is the refusal (boxing it buys nothing).
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod records;

use records::{create_record, delete_record, upload_blob};

/// How long a [`BlueskyFault::TimeoutAfterCreate`] answer is delayed (tests use a 3 s client
/// timeout).
pub const TIMEOUT_DELAY: Duration = Duration::from_secs(10);

/// Write points an account may spend per hour.
pub const POINTS_PER_HOUR: u32 = 5_000;

/// A failure of the next `createRecord`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlueskyFault {
    /// `429 RateLimitExceeded` with `RateLimit-*` headers resetting in about a second.
    RateLimited,
    /// Every access token is refused with `400 ExpiredToken`, and so is every refresh, until
    /// [`BlueskyStandIn::reset`].
    ExpiredToken,
    /// `400 InvalidRequest` (an invalid record).
    InvalidContent,
    /// `500 InternalServerError`; nothing is created.
    ServerError,
    /// The record is created, but the answer comes after [`TIMEOUT_DELAY`].
    TimeoutAfterCreate,
}

/// A record the stand-in holds.
#[derive(Debug, Clone, PartialEq)]
pub struct StandInRecord {
    /// `at://{did}/{collection}/{rkey}`.
    pub uri: String,
    /// Its CID.
    pub cid: String,
    /// The record as received.
    pub value: Value,
}

impl StandInRecord {
    /// The `reply.parent.uri` of a post.
    pub fn reply_parent(&self) -> Option<String> {
        self.value["reply"]["parent"]["uri"]
            .as_str()
            .map(str::to_owned)
    }

    /// Alt text of each embedded image.
    pub fn image_alts(&self) -> Vec<Option<String>> {
        self.value["embed"]["images"]
            .as_array()
            .map(|images| {
                images
                    .iter()
                    .map(|i| i["alt"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Account {
    did: String,
    handle: String,
    password: String,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    did: String,
    exp: i64,
    rotated_at: Option<i64>,
}

#[derive(Debug, Clone)]
struct Stored {
    did: String,
    collection: String,
    rkey: String,
    record: StandInRecord,
}

#[derive(Debug, Default)]
struct State {
    base: String,
    accounts: Vec<Account>,
    access: HashMap<String, (String, i64)>,
    refresh: HashMap<String, RefreshToken>,
    records: Vec<Stored>,
    blobs: HashSet<String>,
    fault: Option<BlueskyFault>,
    expired: bool,
    points: HashMap<String, (i64, u32)>,
    serial: u64,
    refreshes: usize,
    rate_reset: Option<i64>,
}

/// A running stand-in PDS.
#[derive(Debug)]
pub struct BlueskyStandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BlueskyStandIn {
    /// Starts a stand-in on a free local port.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            base: server.uri(),
            ..State::default()
        }));
        Mock::given(path_regex("^/xrpc/"))
            .respond_with(Handler {
                state: Arc::clone(&state),
            })
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// Its base URL (`http://127.0.0.1:port`), the PDS URL to configure.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Registers an account; returns its DID. Log in with `handle` (or the DID) and `password`.
    pub fn add_account(&self, handle: &str, password: &str) -> String {
        let mut s = lock(&self.state);
        let digest = Sha256::digest(handle.as_bytes());
        let did = format!("did:plc:{}", &base32(&digest)[..24]);
        s.accounts.push(Account {
            did: did.clone(),
            handle: handle.to_owned(),
            password: password.to_owned(),
        });
        did
    }

    /// Arms `fault` for the next `createRecord`.
    pub fn inject_fault(&self, fault: BlueskyFault) {
        let mut s = lock(&self.state);
        if fault == BlueskyFault::ExpiredToken {
            s.expired = true;
        } else {
            s.fault = Some(fault);
        }
    }

    /// Disarms every fault.
    pub fn reset(&self) {
        let mut s = lock(&self.state);
        s.fault = None;
        s.expired = false;
    }

    /// The epoch second the last throttling answer announced as its reset, if any.
    pub fn rate_reset(&self) -> Option<i64> {
        lock(&self.state).rate_reset
    }

    /// Makes every access token issued so far expire (the next call gets `400 ExpiredToken`).
    pub fn expire_access_tokens(&self) {
        let mut s = lock(&self.state);
        for (_, exp) in s.access.values_mut() {
            *exp = 0;
        }
    }

    /// How many `refreshSession` calls succeeded.
    pub fn refreshes(&self) -> usize {
        lock(&self.state).refreshes
    }

    /// Posts (`app.bsky.feed.post` records) held, oldest first.
    pub fn posts(&self) -> Vec<StandInRecord> {
        lock(&self.state)
            .records
            .iter()
            .filter(|r| r.collection == "app.bsky.feed.post")
            .map(|r| r.record.clone())
            .collect()
    }
}

struct Handler {
    state: Arc<Mutex<State>>,
}

fn error(status: u16, name: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": name, "message": message }))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn base32(bytes: &[u8]) -> String {
    const A: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(A[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(A[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn cid(prefix: &str, bytes: &[u8]) -> String {
    format!("{prefix}{}", &base32(&Sha256::digest(bytes))[..52])
}

fn jwt(claims: Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b64.encode(br#"{"typ":"at+jwt","alg":"HS256"}"#),
        b64.encode(claims.to_string()),
        b64.encode(Sha256::digest(claims.to_string().as_bytes()))
    )
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn bearer(request: &Request) -> Option<String> {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

impl State {
    fn session(&mut self, did: &str) -> Value {
        let now = Utc::now().timestamp();
        self.serial += 1;
        let access = jwt(
            json!({"scope": "com.atproto.appPass", "sub": did, "iat": now,
            "exp": now + 7_200, "jti": self.serial}),
        );
        let refresh = jwt(
            json!({"scope": "com.atproto.refresh", "sub": did, "iat": now,
            "exp": now + 90 * 86_400, "jti": format!("r{}", self.serial)}),
        );
        self.access
            .insert(access.clone(), (did.to_owned(), now + 7_200));
        self.refresh.insert(
            refresh.clone(),
            RefreshToken {
                did: did.to_owned(),
                exp: now + 90 * 86_400,
                rotated_at: None,
            },
        );
        let handle = self
            .accounts
            .iter()
            .find(|a| a.did == did)
            .map(|a| a.handle.clone())
            .unwrap_or_default();
        json!({
            "did": did, "handle": handle, "accessJwt": access, "refreshJwt": refresh,
            "email": format!("{handle}@mail.test"), "emailConfirmed": true, "active": true,
            "didDoc": {"@context": ["https://www.w3.org/ns/did/v1"], "id": did,
                "alsoKnownAs": [format!("at://{handle}")],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.base}]},
        })
    }

    /// The DID of a valid access token, or the refusal.
    fn auth(&self, request: &Request) -> Result<String, ResponseTemplate> {
        let Some(token) = bearer(request) else {
            return Err(error(401, "AuthMissing", "Authentication Required"));
        };
        if self.expired {
            return Err(error(400, "ExpiredToken", "Token has expired"));
        }
        match self.access.get(&token) {
            Some((_, exp)) if *exp <= Utc::now().timestamp() => {
                Err(error(400, "ExpiredToken", "Token has expired"))
            }
            Some((did, _)) => Ok(did.clone()),
            None => Err(error(400, "InvalidToken", "Token could not be verified")),
        }
    }

    /// Spends write points; `Err` is the 429.
    fn spend(
        &mut self,
        did: &str,
        cost: u32,
    ) -> Result<Vec<(&'static str, String)>, ResponseTemplate> {
        let now = Utc::now().timestamp();
        let window = self.points.entry(did.to_owned()).or_insert((now, 0));
        if window.0 + 3_600 <= now {
            *window = (now, 0);
        }
        let reset = window.0 + 3_600;
        if window.1 + cost > POINTS_PER_HOUR {
            self.rate_reset = Some(reset);
            return Err(rate_limited(reset));
        }
        window.1 += cost;
        Ok(vec![
            ("RateLimit-Limit", POINTS_PER_HOUR.to_string()),
            (
                "RateLimit-Remaining",
                (POINTS_PER_HOUR - window.1).to_string(),
            ),
            ("RateLimit-Reset", reset.to_string()),
            ("RateLimit-Policy", format!("{POINTS_PER_HOUR};w=3600")),
        ])
    }

    fn find(&self, did: &str, collection: &str, rkey: &str) -> Option<&Stored> {
        self.records
            .iter()
            .find(|r| r.did == did && r.collection == collection && r.rkey == rkey)
    }
}

fn rate_limited(reset: i64) -> ResponseTemplate {
    error(429, "RateLimitExceeded", "Rate Limit Exceeded")
        .insert_header("RateLimit-Limit", POINTS_PER_HOUR.to_string())
        .insert_header("RateLimit-Remaining", "0")
        .insert_header("RateLimit-Reset", reset.to_string())
        .insert_header("RateLimit-Policy", format!("{POINTS_PER_HOUR};w=3600"))
}

fn with_headers(mut t: ResponseTemplate, headers: Vec<(&'static str, String)>) -> ResponseTemplate {
    for (k, v) in headers {
        t = t.insert_header(k, v);
    }
    t
}

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut s = lock(&self.state);
        let nsid = request.url.path().trim_start_matches("/xrpc/").to_owned();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let result = match nsid.as_str() {
            "com.atproto.server.createSession" => create_session(&mut s, &body),
            "com.atproto.server.refreshSession" => refresh_session(&mut s, request),
            "com.atproto.server.deleteSession" => {
                if let Some(t) = bearer(request) {
                    s.refresh.remove(&t);
                }
                Ok(ResponseTemplate::new(200))
            }
            "com.atproto.identity.resolveHandle" => {
                let handle = query(request, "handle").unwrap_or_default();
                match s.accounts.iter().find(|a| a.handle == handle) {
                    Some(a) => Ok(ok(json!({ "did": a.did }))),
                    None => Err(error(400, "HandleNotFound", "Unable to resolve handle")),
                }
            }
            "com.atproto.repo.uploadBlob" => upload_blob(&mut s, request),
            "com.atproto.repo.createRecord" => create_record(&mut s, request, &body),
            "com.atproto.repo.getRecord" => {
                let (repo, collection, rkey) = (
                    query(request, "repo").unwrap_or_default(),
                    query(request, "collection").unwrap_or_default(),
                    query(request, "rkey").unwrap_or_default(),
                );
                match s.find(&repo, &collection, &rkey) {
                    Some(r) => Ok(ok(json!({"uri": r.record.uri, "cid": r.record.cid,
                        "value": r.record.value}))),
                    None => Err(error(
                        400,
                        "RecordNotFound",
                        &format!("Could not locate record: at://{repo}/{collection}/{rkey}"),
                    )),
                }
            }
            "com.atproto.repo.listRecords" => {
                let repo = query(request, "repo").unwrap_or_default();
                let collection = query(request, "collection").unwrap_or_default();
                let limit = query(request, "limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(50usize);
                let records: Vec<Value> = s
                    .records
                    .iter()
                    .rev()
                    .filter(|r| r.did == repo && r.collection == collection)
                    .take(limit)
                    .map(|r| json!({"uri": r.record.uri, "cid": r.record.cid, "value": r.record.value}))
                    .collect();
                Ok(ok(json!({ "records": records })))
            }
            "com.atproto.repo.deleteRecord" => delete_record(&mut s, request, &body),
            // What a real PDS answers for an XRPC method it does not serve (XRPC spec): the
            // stand-in serves exactly the methods the adapter uses, so anything else is refused
            // the way the platform refuses it.
            _ => Err(error(501, "MethodNotImplemented", "Method Not Implemented")),
        };
        result.unwrap_or_else(|refusal| refusal)
    }
}

fn create_session(s: &mut State, body: &Value) -> Result<ResponseTemplate, ResponseTemplate> {
    let identifier = body["identifier"].as_str().unwrap_or_default();
    let password = body["password"].as_str().unwrap_or_default();
    let did = s
        .accounts
        .iter()
        .find(|a| (a.handle == identifier || a.did == identifier) && a.password == password)
        .map(|a| a.did.clone())
        .ok_or_else(|| {
            error(
                401,
                "AuthenticationRequired",
                "Invalid identifier or password",
            )
        })?;
    Ok(ok(s.session(&did)))
}

fn refresh_session(s: &mut State, request: &Request) -> Result<ResponseTemplate, ResponseTemplate> {
    let token =
        bearer(request).ok_or_else(|| error(401, "AuthMissing", "Authentication Required"))?;
    if s.expired {
        return Err(error(400, "ExpiredToken", "Token has expired"));
    }
    let now = Utc::now().timestamp();
    let stored = s
        .refresh
        .get(&token)
        .cloned()
        .ok_or_else(|| error(400, "InvalidToken", "Token could not be verified"))?;
    // The old refresh token stays usable for a 2 h grace after rotation, capped at its expiry.
    let usable_until = stored
        .rotated_at
        .map_or(stored.exp, |at| (at + 7_200).min(stored.exp));
    if usable_until <= now {
        return Err(error(400, "ExpiredToken", "Token has expired"));
    }
    if let Some(t) = s.refresh.get_mut(&token) {
        t.rotated_at.get_or_insert(now);
    }
    s.refreshes += 1;
    Ok(ok(s.session(&stored.did)))
}
