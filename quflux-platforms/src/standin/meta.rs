//! Stand-in of the Meta Graph API (README §3, §7): Facebook Login dialog and token exchanges,
//! `/me/accounts`, Page feed/photos/delete, the Instagram container state machine,
//! `media_publish` with the publishing quota, the Graph error envelope and usage headers.
//!
//! One stateful router (a `wiremock::Respond`) answers every request; faults are armed for the
//! next create request of a platform with [`MetaStandIn::inject_fault`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use quflux_core::{Error, Platform, Result, Secret};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::meta::MetaConfig;

mod oauth;
mod publish;
mod request;

use oauth::{bearer, dialog, token};
use publish::{ig_container, ig_publish, page_create};
use request::{Params, params};

/// API version the stand-in serves (any `vX.Y` prefix is accepted).
pub const API_VERSION: &str = "v24.0";
/// The app id it knows.
pub const APP_ID: &str = "987654321000001";
/// The app secret it knows.
pub const APP_SECRET: &str = "standin-app-secret";
/// The Page the test user manages.
pub const PAGE_ID: &str = "105000000000001";
/// Its name.
pub const PAGE_NAME: &str = "Quflux Test Page";
/// The Page's Instagram business account.
pub const IG_USER_ID: &str = "17841400000000001";
/// Its username.
pub const IG_USERNAME: &str = "quflux_test";
/// The Page access token handed out by `/me/accounts`.
pub const PAGE_TOKEN: &str = "EAAB-standin-page-token";
/// The redirect URL of [`MetaStandIn::config`].
pub const REDIRECT_URL: &str = "https://app.example/cb";
/// How late a `TimeoutAfterCreate` answer arrives.
pub const LATE_ANSWER: Duration = Duration::from_secs(10);

/// A failure armed for the next create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaFault {
    /// Business-use-case throttling (80001 Pages / 80002 Instagram) with usage at 100 %.
    RateLimited,
    /// Every request with the Page token fails with 190/463 until [`MetaStandIn::reset`].
    ExpiredToken,
    /// `(#506) Duplicate status message` (Facebook only).
    Duplicate,
    /// Facebook `(#100) Invalid parameter`; Instagram 36000/2207004 (image too large).
    InvalidContent,
    /// HTTP 503 from the front end (an HTML page, no Graph error envelope): the Graph API never
    /// saw the request, so nothing is created and a retry is safe (Instagram: at
    /// `media_publish`).
    ServerError,
    /// Created, but answered HTTP 503 with the Graph envelope, code 2: a 503 from the API
    /// itself does not mean that nothing was created (README §3.4, §6).
    ServiceUnavailableButCreated,
    /// Created, but answered after [`LATE_ANSWER`] (Instagram: at `media_publish`).
    TimeoutAfterCreate,
    /// Created, but answered HTTP 500 code 2 (the observed "error but posted" mode).
    UnexpectedErrorButCreated,
}

/// A post the stand-in holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaPost {
    /// Facebook post id (`{page}_{n}`) or Instagram media id.
    pub id: String,
    /// Message or caption.
    pub text: String,
    /// Shared link (Facebook).
    pub link: Option<String>,
    /// Alt text of each attached item.
    pub media_alt: Vec<Option<String>>,
    /// Instagram media type (`IMAGE`, `REELS`, `CAROUSEL_ALBUM`); `None` on Facebook.
    pub media_type: Option<String>,
}

/// An Instagram container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaContainer {
    /// Id.
    pub id: String,
    /// `IMAGE`, `VIDEO`, `REELS` or `CAROUSEL`.
    pub media_type: String,
    /// `IN_PROGRESS`, `FINISHED`, `ERROR`, `EXPIRED` or `PUBLISHED`.
    pub status_code: String,
    /// Carousel children.
    pub children: Vec<String>,
    /// Status polls answered so far.
    pub polls: u32,
}

#[derive(Debug, Clone)]
struct Container {
    public: MetaContainer,
    polls_left: u32,
    caption: String,
    alt: Option<String>,
    carousel_item: bool,
}

#[derive(Debug)]
struct State {
    next: u64,
    codes: HashMap<String, String>,
    short_tokens: Vec<String>,
    long_tokens: Vec<String>,
    deny: bool,
    facebook: Vec<(MetaPost, DateTime<Utc>)>,
    photos: HashMap<String, Option<String>>,
    containers: HashMap<String, Container>,
    instagram: Vec<(MetaPost, DateTime<Utc>)>,
    publishes: Vec<DateTime<Utc>>,
    quota_used: u64,
    quota_total: u64,
    video_polls: u32,
    fault: Option<(Platform, MetaFault)>,
    expired: bool,
    usage: HashMap<String, u32>,
    requests: Vec<String>,
}

impl State {
    fn new() -> Self {
        Self {
            next: 1,
            codes: HashMap::new(),
            short_tokens: Vec::new(),
            long_tokens: Vec::new(),
            deny: false,
            facebook: Vec::new(),
            photos: HashMap::new(),
            containers: HashMap::new(),
            instagram: Vec::new(),
            publishes: Vec::new(),
            quota_used: 0,
            quota_total: 50,
            video_polls: 2,
            fault: None,
            expired: false,
            usage: HashMap::new(),
            requests: Vec::new(),
        }
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn take_fault(&mut self, platform: Platform) -> Option<MetaFault> {
        match self.fault {
            Some((p, f)) if p == platform => {
                self.fault = None;
                Some(f)
            }
            _ => None,
        }
    }
}

/// The running stand-in.
#[derive(Debug)]
pub struct MetaStandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl MetaStandIn {
    /// Starts it on a random local port.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::new()));
        Mock::given(any())
            .respond_with(Router(Arc::clone(&state)))
            .mount(&server)
            .await;
        Self { server, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Its base URL (the Graph host; paths start with the version).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The login dialog URL.
    pub fn dialog_url(&self) -> String {
        format!("{}/{API_VERSION}/dialog/oauth", self.uri())
    }

    /// A [`MetaConfig`] pointed at the stand-in, with its app, [`REDIRECT_URL`] and public media
    /// under `https://cdn.example/media`.
    pub fn config(&self) -> MetaConfig {
        MetaConfig::new()
            .with_graph_base(self.uri())
            .with_api_version(API_VERSION)
            .with_dialog_url(self.dialog_url())
            .with_app(APP_ID, Secret::new(APP_SECRET.to_owned()))
            .with_redirect_url(REDIRECT_URL)
            .with_media_url_base("https://cdn.example/media")
    }

    /// Arms `fault` for the next create request on `platform`. `false` when the platform has
    /// no such failure (Instagram has no duplicate detection).
    pub fn inject_fault(&self, platform: Platform, fault: MetaFault) -> bool {
        let mut s = self.lock();
        match (platform, fault) {
            (Platform::Instagram, MetaFault::Duplicate) => false,
            (_, MetaFault::ExpiredToken) => {
                s.expired = true;
                true
            }
            _ => {
                s.fault = Some((platform, fault));
                true
            }
        }
    }

    /// Disarms every fault, the expired token and the usage percentages.
    pub fn reset(&self) {
        let mut s = self.lock();
        s.fault = None;
        s.expired = false;
        s.deny = false;
        s.usage.clear();
    }

    /// Posts held on `platform` (Facebook Page posts or Instagram media), oldest first.
    pub fn posts(&self, platform: Platform) -> Vec<MetaPost> {
        let s = self.lock();
        let list = if platform == Platform::Instagram {
            &s.instagram
        } else {
            &s.facebook
        };
        list.iter().map(|(p, _)| p.clone()).collect()
    }

    /// Every container, in no particular order.
    pub fn containers(&self) -> Vec<MetaContainer> {
        self.lock()
            .containers
            .values()
            .map(|c| c.public.clone())
            .collect()
    }

    /// Requests received, as `METHOD /path` (version stripped).
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Sets the publishing quota: `used` publishes already counted, `total` allowed per 24 h.
    pub fn set_quota(&self, used: u64, total: u64) {
        let mut s = self.lock();
        s.quota_used = used;
        s.quota_total = total;
    }

    /// How many status polls a video container answers `IN_PROGRESS` before `FINISHED`.
    pub fn set_video_polls(&self, polls: u32) {
        self.lock().video_polls = polls;
    }

    /// Sets the usage percentage reported for `account`; at 100 every call is throttled.
    pub fn set_usage(&self, account: &str, percent: u32) {
        self.lock().usage.insert(account.to_owned(), percent);
    }

    /// Lets 24 h pass for containers: every unpublished one is `EXPIRED`.
    pub fn expire_containers(&self) {
        for c in self.lock().containers.values_mut() {
            if c.public.status_code != "PUBLISHED" {
                c.public.status_code = "EXPIRED".into();
            }
        }
    }

    /// Makes every post held so far `by` older (its `created_time`/`timestamp`), as if it had
    /// been published that long ago.
    pub fn age_posts(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or_else(|_| chrono::Duration::days(1));
        let mut guard = self.lock();
        let s = &mut *guard;
        for (_, at) in s.facebook.iter_mut().chain(s.instagram.iter_mut()) {
            *at -= by;
        }
    }

    /// The next login dialog answers `access_denied`.
    pub fn deny_next_login(&self) {
        self.lock().deny = true;
    }
}

/// Follows a login dialog URL like a browser whose user approves, and returns the callback URL
/// the dialog redirects to.
pub async fn follow_dialog(url: &str) -> Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::other("facebook", e))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| Error::transient("facebook", e.without_url()))?;
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Error::other("facebook", "the dialog did not redirect"))
}

struct Router(Arc<Mutex<State>>);

fn graph_error(status: u16, code: i64, sub: Option<i64>, message: &str) -> ResponseTemplate {
    let mut error = json!({
        "message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "AStandInTrace"
    });
    if let Some(sub) = sub {
        error["error_subcode"] = json!(sub);
    }
    if matches!(code, 1 | 2 | 4 | 17 | 32 | 613 | 80_001 | 80_002) {
        error["is_transient"] = json!(true);
    }
    ResponseTemplate::new(status).set_body_json(json!({ "error": error }))
}

fn not_found(id: &str) -> ResponseTemplate {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
    )
}

fn with_usage(t: ResponseTemplate, account: Option<&str>, percent: u32) -> ResponseTemplate {
    let app = json!({"call_count": percent.min(100) / 4, "total_time": 3, "total_cputime": 3});
    let mut t = t.insert_header("x-app-usage", app.to_string().as_str());
    if let Some(account) = account {
        let kind = if account == IG_USER_ID {
            "instagram"
        } else {
            "pages"
        };
        let eta = if percent >= 100 { 19 } else { 0 };
        let buc = json!({ account: [{
            "type": kind, "call_count": percent.min(100), "total_cputime": 5, "total_time": 5,
            "estimated_time_to_regain_access": eta
        }]});
        t = t.insert_header("x-business-use-case-usage", buc.to_string().as_str());
    }
    t
}

fn graph_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

impl Respond for Router {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let p = params(req);
        let method = req.method.as_str().to_owned();
        let mut segs: Vec<String> = req
            .url
            .path_segments()
            .map(|it| it.filter(|x| !x.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        if segs
            .first()
            .is_some_and(|v| v.starts_with('v') && v.contains('.'))
        {
            segs.remove(0);
        }
        s.requests.push(format!("{method} /{}", segs.join("/")));
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["dialog", "oauth"]) => dialog(&mut s, &p),
            (_, ["oauth", "access_token"]) => token(&mut s, &p),
            _ => graph(&mut s, req, &p, &method, &segs),
        }
    }
}

fn graph(
    s: &mut State,
    req: &Request,
    p: &Params,
    method: &str,
    segs: &[&str],
) -> ResponseTemplate {
    let token = bearer(req, p);
    if segs == ["me", "accounts"] {
        if !s.long_tokens.contains(&token) {
            return graph_error(
                400,
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
            );
        }
        return with_usage(
            ResponseTemplate::new(200).set_body_json(json!({
                "data": [
                    {"id": PAGE_ID, "name": PAGE_NAME, "access_token": PAGE_TOKEN,
                     "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
                     "instagram_business_account": {"id": IG_USER_ID}},
                    {"id": "105000000000009", "name": "Read-only Page", "access_token": "EAAB-standin-ro",
                     "tasks": ["ANALYZE"]}
                ],
                "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}
            })),
            None,
            1,
        );
    }
    if segs == ["me", "permissions"] && method == "DELETE" {
        return ResponseTemplate::new(200).set_body_json(json!({"success": true}));
    }
    if s.expired {
        return graph_error(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired on Sunday, 20-Sep-26 12:00:00 PDT.",
        );
    }
    if token != PAGE_TOKEN {
        return graph_error(
            400,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    let account = match segs.first() {
        Some(&IG_USER_ID) => IG_USER_ID,
        _ => PAGE_ID,
    };
    let percent = s.usage.get(account).copied().unwrap_or(2);
    if percent >= 100 {
        let code = if account == IG_USER_ID {
            80_002
        } else {
            80_001
        };
        return with_usage(
            graph_error(
                400,
                code,
                None,
                "There have been too many calls to this account. Wait a bit and try again.",
            ),
            Some(account),
            100,
        );
    }
    let t = match (method, segs) {
        ("GET", [PAGE_ID]) => ResponseTemplate::new(200).set_body_json(
            json!({"instagram_business_account": {"id": IG_USER_ID}, "id": PAGE_ID, "name": PAGE_NAME}),
        ),
        ("GET", [IG_USER_ID]) => ResponseTemplate::new(200)
            .set_body_json(json!({"id": IG_USER_ID, "username": IG_USERNAME})),
        ("POST", [PAGE_ID, "feed"]) => page_create(s, p, false),
        ("POST", [PAGE_ID, "photos"]) => page_create(s, p, true),
        ("GET", [PAGE_ID, "feed"]) => {
            let limit = p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            let fields = p.get("fields").unwrap_or("id,message,created_time");
            if field_names(fields).any(|(name, _)| name == "link") {
                // Post `link` is gone since v3.3.
                return with_usage(
                    graph_error(
                        400,
                        12,
                        None,
                        "(#12) link field is deprecated for versions v3.3 and higher",
                    ),
                    Some(account),
                    percent,
                );
            }
            let data: Vec<Value> = s
                .facebook
                .iter()
                .rev()
                .take(limit)
                .map(|(post, at)| only(page_post_json(post, *at), fields))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"data": data, "paging": {}}))
        }
        ("POST", [IG_USER_ID, "media"]) => ig_container(s, p),
        ("POST", [IG_USER_ID, "media_publish"]) => ig_publish(s, p),
        ("GET", [IG_USER_ID, "content_publishing_limit"]) => {
            let used = ig_used(s);
            ResponseTemplate::new(200).set_body_json(json!({"data": [{
                "quota_usage": used,
                "config": {"quota_total": s.quota_total, "quota_duration": 86_400}
            }]}))
        }
        ("GET", [IG_USER_ID, "media"]) => {
            let data: Vec<Value> = s
                .instagram
                .iter()
                .rev()
                .map(|(m, at)| ig_json(m, *at))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"data": data, "paging": {}}))
        }
        ("GET", [id]) => get_object(s, id),
        ("DELETE", [id]) => {
            let before = s.facebook.len();
            s.facebook.retain(|(post, _)| post.id != *id);
            if s.facebook.len() < before {
                ResponseTemplate::new(200).set_body_json(json!({"success": true}))
            } else {
                not_found(id)
            }
        }
        _ => not_found(&segs.join("/")),
    };
    with_usage(t, Some(account), percent)
}

fn ig_used(s: &State) -> u64 {
    let since = Utc::now() - chrono::Duration::hours(24);
    s.quota_used + s.publishes.iter().filter(|at| **at > since).count() as u64
}

fn ig_json(m: &MetaPost, at: DateTime<Utc>) -> Value {
    json!({
        "id": m.id, "caption": m.text, "media_type": m.media_type,
        "permalink": format!("https://www.instagram.com/p/S{}/", m.id), "timestamp": graph_time(at)
    })
}

/// A Page post as the Graph API shows it: no `message` when it was empty or only the shared
/// link (Facebook shows the link as a preview); a link post's link in a `share` attachment
/// (`url` is the `l.facebook.com` redirect, `unshimmed_url` the link itself).
fn page_post_json(post: &MetaPost, at: DateTime<Utc>) -> Value {
    let mut v = json!({"id": post.id, "created_time": graph_time(at)});
    let rest = match &post.link {
        Some(link) => post.text.replace(link.as_str(), ""),
        None => post.text.clone(),
    };
    if !rest.trim().is_empty() {
        v["message"] = json!(post.text);
    }
    if let Some(link) = &post.link {
        let shim = format!(
            "https://l.facebook.com/l.php?u={}&h=AT0standin",
            url::form_urlencoded::byte_serialize(link.as_bytes()).collect::<String>()
        );
        v["attachments"] = json!({"data": [{
            "type": "share", "url": shim, "unshimmed_url": link, "target": {"url": shim}
        }]});
    }
    v
}

/// The top-level names of a `fields` list, each with its `{...}` sub-field list if any
/// (`id,attachments{url,unshimmed_url}`).
fn field_names(fields: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (i, c) in fields.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&fields[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&fields[start..]);
    parts.into_iter().map(|part| {
        let part = part.trim();
        match part.split_once('{') {
            Some((name, sub)) => (name.trim(), Some(sub.trim_end_matches('}'))),
            None => (part, None),
        }
    })
}

/// `value` with only the requested `fields` (and `id`), as the Graph API answers; an edge
/// asked with sub-fields (`attachments{url}`) keeps only those in each of its items.
fn only(mut value: Value, fields: &str) -> Value {
    let wanted: Vec<(&str, Option<&str>)> = field_names(fields).collect();
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| k == "id" || wanted.iter().any(|(name, _)| name == k));
        for (name, sub) in &wanted {
            let (Some(sub), Some(items)) = (
                sub,
                map.get_mut(*name)
                    .and_then(|e| e.get_mut("data"))
                    .and_then(Value::as_array_mut),
            ) else {
                continue;
            };
            let keep: Vec<&str> = field_names(sub).map(|(n, _)| n).collect();
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.retain(|k, _| keep.contains(&k.as_str()));
            }
        }
    }
    value
}

fn get_object(s: &mut State, id: &str) -> ResponseTemplate {
    if let Some(c) = s.containers.get_mut(id) {
        if c.public.status_code == "IN_PROGRESS" {
            c.public.polls += 1;
            if c.polls_left > 0 {
                c.polls_left -= 1;
            }
            if c.polls_left == 0 {
                c.public.status_code = "FINISHED".into();
            }
        }
        let code = c.public.status_code.clone();
        return ResponseTemplate::new(200)
            .set_body_json(json!({"status_code": code, "status": code, "id": id}));
    }
    if let Some((m, at)) = s.instagram.iter().find(|(m, _)| m.id == id) {
        return ResponseTemplate::new(200).set_body_json(ig_json(m, *at));
    }
    if let Some((post, at)) = s.facebook.iter().find(|(m, _)| m.id == id) {
        return ResponseTemplate::new(200).set_body_json(page_post_json(post, *at));
    }
    not_found(id)
}
