#![cfg_attr(
    not(all(feature = "twitter", feature = "standin")),
    allow(missing_docs)
)]
#![cfg(all(feature = "twitter", feature = "standin"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The X adapter against its stand-in: the platform contract suite, every request (operation,
//! parameters, content type, body) against the official OpenAPI document, rate budgets, the
//! OAuth connection flow and concurrent refreshes.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::memory::{InMemoryCache, InMemoryStore, ManualClock, RecordingNotifier};
use quflux_core::services::NotificationService;
use quflux_core::testkit::fixtures::{publish_request, user};
use quflux_core::testkit::standin::{Fault, StandIn, StandInPost, png_media, run_contract};
use quflux_core::{
    Cache, Clock, ConnectionStatus, ConnectionStore, ErrorKind, Lookup, Platform,
    PlatformConnection, Poll, Publisher, Secret, TokenCipher, UserId, UserStore,
    cipher::AesGcmCipher,
};
use quflux_platforms::common::{
    AuthorizeOptions, ConnectedAccount, ConnectionService, Connector, HttpConfig, RateBudgets,
    TokenManager, TokenRefresher, TokenSet,
};
use quflux_platforms::standin::twitter::{USER, XFault, XReceived, XStandIn};
use quflux_platforms::twitter::{XConfig, XConnector, XPublisher};
use serde_json::{Value, json};

struct Env {
    standin: Arc<XStandIn>,
    store: Arc<InMemoryStore>,
    cache: Arc<InMemoryCache>,
    clock: Arc<ManualClock>,
    cipher: Arc<AesGcmCipher>,
    tokens: Arc<TokenManager>,
    connector: Arc<XConnector>,
    publisher: Arc<XPublisher>,
    user_id: UserId,
}

async fn env() -> Env {
    let standin = Arc::new(XStandIn::start().await);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    // Posts are dated by the test's clock, which the contract moves forward.
    standin.set_clock(clock.clone());
    let store = Arc::new(InMemoryStore::new());
    let cache = Arc::new(InMemoryCache::with_clock(clock.clone()));
    let cipher = Arc::new(AesGcmCipher::random("test"));
    let notifier = Arc::new(RecordingNotifier::new());
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        cipher.clone(),
        NotificationService::new(vec![notifier], clock.clone()),
        clock.clone(),
    ));
    let config = XConfig::new("quflux-test-client", "https://app.example/cb")
        .with_api_base(standin.uri())
        .with_http(HttpConfig::default().with_timeout(Duration::from_secs(3)))
        .with_media_poll_cap(Duration::from_millis(10));
    let connector = Arc::new(XConnector::new(config.clone()).unwrap());
    let budgets = RateBudgets::new(cache.clone(), clock.clone());
    let publisher =
        Arc::new(XPublisher::new(config, tokens.clone(), connector.clone(), budgets).unwrap());
    let u = user();
    store.insert_user(&u).await.unwrap();
    Env {
        standin,
        store,
        cache,
        clock,
        cipher,
        tokens,
        connector,
        publisher,
        user_id: u.id,
    }
}

impl Env {
    fn connections(&self) -> ConnectionService {
        ConnectionService::new(self.tokens.clone(), self.cache.clone() as Arc<dyn Cache>)
            .with_connector(self.connector.clone())
    }

    /// A connection with a token pair issued by the stand-in, expiring in `expires_in`.
    async fn connect(&self, expires_in: Duration) -> (PlatformConnection, String) {
        let (access, refresh, _) = self.standin.issue_tokens();
        let saved = self
            .connections()
            .save(
                self.user_id,
                vec![ConnectedAccount {
                    platform: Platform::Twitter,
                    platform_user_id: USER.0.to_owned(),
                    username: USER.2.to_owned(),
                    tokens: TokenSet {
                        access_token: Secret::new(access),
                        refresh_token: Some(Secret::new(refresh.clone())),
                        expires_in: Some(expires_in),
                        scopes: vec![],
                    },
                    metadata: json!({}),
                }],
            )
            .await
            .unwrap();
        (saved.into_iter().next().unwrap(), refresh)
    }
}

/// The stand-in seen through the core contract's [`StandIn`]. `reset` also moves the clock
/// past any rate-limit block a scenario left behind.
struct Contract {
    standin: Arc<XStandIn>,
    clock: Arc<ManualClock>,
}

#[async_trait]
impl StandIn for Contract {
    async fn inject(&self, fault: Fault) -> bool {
        self.standin.inject_fault(match fault {
            Fault::RateLimited => XFault::RateLimited,
            Fault::ExpiredToken => XFault::ExpiredToken,
            Fault::Duplicate => XFault::Duplicate,
            Fault::InvalidContent => XFault::InvalidContent,
            Fault::ServerError => XFault::ServerError,
            Fault::TimeoutAfterCreate => XFault::TimeoutAfterCreate,
        });
        true
    }

    async fn posts(&self) -> Vec<StandInPost> {
        self.standin
            .posts()
            .into_iter()
            .map(|p| StandInPost {
                id: p.id,
                text: p.text,
                reply_to: p.reply_to,
                media_alt: p.media_alt,
            })
            .collect()
    }

    async fn reset(&self) {
        self.standin.reset();
        self.clock.advance(Duration::from_secs(16 * 60));
    }
}

/// OAuth 2.0 endpoints the adapter posts forms to. The X OpenAPI document does not describe
/// them (checked below); were it to, their requests would be checked like every other.
const OAUTH_PATHS: &[&str] = &["/i/oauth2/authorize", "/2/oauth2/token", "/2/oauth2/revoke"];

/// Query parameter names the document spells two ways. Version 2.167 renamed `tweet.fields` to
/// `post.fields` for some operations only (`getUsersPosts` among them) while ten others still
/// declare `tweet.fields`, the name X's API reference documents; the adapter keeps
/// `tweet.fields`, and its value is checked against the schema of `post.fields`.
const QUERY_ALIASES: &[(&str, &str)] = &[("tweet.fields", "post.fields")];

/// The official X OpenAPI document, and the check of a received request against it.
struct OpenApi {
    doc: Value,
    validators: RefCell<HashMap<String, jsonschema::Validator>>,
}

impl OpenApi {
    fn load() -> Self {
        Self {
            doc: serde_json::from_str(include_str!("fixtures/x/openapi.json"))
                .expect("openapi.json"),
            validators: RefCell::new(HashMap::new()),
        }
    }

    /// `v` with its `$ref`s followed (within the document).
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            v = self
                .doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling {r}"));
        }
        v
    }

    /// Where `instance` breaks `schema` (its `$ref`s resolved against the whole document).
    fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut cache = self.validators.borrow_mut();
        let validator = cache.entry(schema.to_string()).or_insert_with(|| {
            let root = json!({"allOf": [schema], "components": self.doc["components"]});
            jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{schema}: {e}"))
        });
        validator
            .iter_errors(instance)
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect()
    }

    /// The path item whose template matches `path`, the most literal one first.
    fn path_item(&self, path: &str) -> Option<(&str, &Value)> {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .iter()
            .filter_map(|(template, item)| {
                let t: Vec<&str> = template.split('/').collect();
                if t.len() != segments.len() {
                    return None;
                }
                let mut params = 0;
                for (t, s) in t.iter().zip(&segments) {
                    if t.starts_with('{') && t.ends_with('}') {
                        if s.is_empty() {
                            return None;
                        }
                        params += 1;
                    } else if t != s {
                        return None;
                    }
                }
                Some((params, template.as_str(), item))
            })
            .min_by_key(|(params, _, _)| *params)
            .map(|(_, template, item)| (template, item))
    }

    /// A text value (path, query, form or multipart part) as the JSON value `schema` types.
    fn coerce(&self, schema: &Value, text: &str) -> Value {
        let schema = self.resolve(schema);
        match schema["type"].as_str() {
            Some("integer") => text
                .parse::<i64>()
                .map_or_else(|_| json!(text), Value::from),
            Some("number") => text
                .parse::<f64>()
                .map_or_else(|_| json!(text), Value::from),
            Some("boolean") => text
                .parse::<bool>()
                .map_or_else(|_| json!(text), Value::from),
            Some("array") => Value::Array(
                text.split(',')
                    .map(|item| self.coerce(&schema["items"], item))
                    .collect(),
            ),
            _ => json!(text),
        }
    }

    /// Checks a form-like body (multipart parts or form pairs) against an object `schema`:
    /// part names against its properties and required list, values against their schemas.
    fn parts_problems(&self, schema: &Value, parts: &[(String, String)]) -> Vec<String> {
        let object = self.resolve(schema);
        let properties = object["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut problems = Vec::new();
        let mut instance = serde_json::Map::new();
        for (name, value) in parts {
            match properties.get(name) {
                Some(p) => {
                    if instance
                        .insert(name.clone(), self.coerce(p, value))
                        .is_some()
                    {
                        problems.push(format!("part {name} sent twice"));
                    }
                }
                None => problems.push(format!("part {name} is not in the schema")),
            }
        }
        for required in object["required"].as_array().into_iter().flatten() {
            let required = required.as_str().unwrap_or_default();
            if !instance.contains_key(required) {
                problems.push(format!("required part {required} is missing"));
            }
        }
        problems.extend(self.errors(schema, &Value::Object(instance)));
        problems
    }

    /// Finds the operation of `r` by method and path template and checks its path and query
    /// parameters and its body (content type accepted, body valid); returns the operation id.
    fn check(&self, r: &XReceived) -> Result<String, String> {
        let what = format!("{} {}", r.method, r.path);
        let (template, item) = self
            .path_item(&r.path)
            .ok_or_else(|| format!("{what}: no such path in the X OpenAPI document"))?;
        let op = item
            .get(r.method.to_ascii_lowercase())
            .ok_or_else(|| format!("{what}: {template} has no {} operation", r.method))?;
        let id = op["operationId"].as_str().unwrap_or(template).to_owned();
        let params: Vec<&Value> = [item.get("parameters"), op.get("parameters")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .map(|p| self.resolve(p))
            .collect();
        let param = |place: &str, name: &str| {
            params
                .iter()
                .find(|p| p["in"] == place && p["name"] == name)
                .copied()
        };
        let mut problems = Vec::new();
        let path_values = template
            .split('/')
            .zip(r.path.split('/'))
            .filter_map(|(t, s)| {
                t.strip_prefix('{')
                    .and_then(|t| t.strip_suffix('}'))
                    .map(|name| (name, s))
            });
        for (name, value) in path_values {
            match param("path", name) {
                Some(p) => problems.extend(
                    self.errors(&p["schema"], &self.coerce(&p["schema"], value))
                        .into_iter()
                        .map(|e| format!("path parameter {name}={value}: {e}")),
                ),
                None => problems.push(format!("path parameter {name} is not declared")),
            }
        }
        for (name, value) in &r.query {
            let declared = param("query", name).or_else(|| {
                QUERY_ALIASES
                    .iter()
                    .find(|(sent, _)| sent == name)
                    .and_then(|(_, alias)| param("query", alias))
            });
            match declared {
                Some(p) => problems.extend(
                    self.errors(&p["schema"], &self.coerce(&p["schema"], value))
                        .into_iter()
                        .map(|e| format!("query parameter {name}={value}: {e}")),
                ),
                None => problems.push(format!("query parameter {name} is not declared")),
            }
        }
        for p in params.iter().filter(|p| p["required"] == true) {
            let name = p["name"].as_str().unwrap_or_default();
            if p["in"] == "query" && !r.query.iter().any(|(n, _)| n == name) {
                problems.push(format!("required query parameter {name} is missing"));
            }
        }
        let request_body = op.get("requestBody").map(|b| self.resolve(b));
        match (r.media_type(), request_body) {
            (None, body) if r.body.is_empty() => {
                if body.is_some_and(|b| b["required"] == true) {
                    problems.push("the operation requires a body; none was sent".to_owned());
                }
            }
            (None, _) => problems.push("a body without a content type".to_owned()),
            (Some(ct), None) => {
                problems.push(format!("a {ct} body, but the operation takes no body"));
            }
            (Some(ct), Some(body)) => match body["content"].get(&ct) {
                None => {
                    let accepted: Vec<&String> = body["content"]
                        .as_object()
                        .map(|c| c.keys().collect())
                        .unwrap_or_default();
                    problems.push(format!("{ct} is not accepted (only {accepted:?})"));
                }
                Some(content) => {
                    let schema = &content["schema"];
                    match ct.as_str() {
                        "application/json" => match serde_json::from_slice::<Value>(&r.body) {
                            Ok(json) => problems.extend(self.errors(schema, &json)),
                            Err(e) => problems.push(format!("not JSON: {e}")),
                        },
                        "multipart/form-data" => {
                            let parts: Vec<(String, String)> = r
                                .multipart_parts()
                                .into_iter()
                                .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
                                .collect();
                            if parts.is_empty() {
                                problems.push("an empty or unreadable multipart body".to_owned());
                            }
                            problems.extend(self.parts_problems(schema, &parts));
                        }
                        "application/x-www-form-urlencoded" => {
                            problems.extend(self.parts_problems(schema, &r.form_pairs()));
                        }
                        other => problems.push(format!("no check for {other} bodies")),
                    }
                }
            },
        }
        if problems.is_empty() {
            Ok(id)
        } else {
            Err(format!("{what} ({id}): {problems:#?}"))
        }
    }

    /// Checks every request `standin` received (but the OAuth form posts the document does not
    /// describe); returns how many requests each operation got.
    fn check_all(&self, standin: &XStandIn) -> BTreeMap<String, usize> {
        for path in OAUTH_PATHS {
            assert!(
                self.path_item(path).is_none(),
                "the X OpenAPI document now describes {path}: drop it from OAUTH_PATHS"
            );
        }
        let mut seen = BTreeMap::new();
        let mut failures = Vec::new();
        for r in standin.received() {
            if OAUTH_PATHS.contains(&r.path.as_str()) {
                continue;
            }
            match self.check(&r) {
                Ok(id) => *seen.entry(id).or_insert(0) += 1,
                Err(e) => failures.push(e),
            }
        }
        assert!(
            failures.is_empty(),
            "requests the X OpenAPI document does not allow:\n{}",
            failures.join("\n")
        );
        seen
    }
}

/// A request as the stand-in records it, for the checker's own tests.
fn received(method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> XReceived {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    XReceived {
        method: method.to_owned(),
        path: path.to_owned(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        content_type: content_type.map(str::to_owned),
        body: body.to_vec(),
    }
}

fn multipart_body(parts: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in parts {
        body.push_str(&format!(
            "--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--b--\r\n");
    body.into_bytes()
}

#[test]
fn the_openapi_check_refuses_what_x_refuses() {
    let api = OpenApi::load();
    let json = Some("application/json");
    let ok = |r: XReceived| api.check(&r).unwrap_or_else(|e| panic!("{e}"));
    let refused = |r: XReceived, why: &str| {
        let e = api.check(&r).unwrap_err();
        assert!(e.contains(why), "{e} should say {why:?}");
    };
    assert_eq!(
        ok(received("POST", "/2/tweets", json, br#"{"text":"hi"}"#)),
        "createPosts"
    );
    refused(
        received(
            "POST",
            "/2/tweets",
            json,
            br#"{"text":"hi","unknown_field":1}"#,
        ),
        "unknown_field",
    );
    refused(
        received("POST", "/2/tweets", json, br#"{"text":"hi","reply":{}}"#),
        "in_reply_to_tweet_id",
    );
    refused(
        received("POST", "/2/tweets", Some("text/plain"), b"hi"),
        "text/plain is not accepted",
    );
    refused(received("POST", "/2/tweets", None, b""), "requires a body");
    refused(
        received("POST", "/2/tweetz", json, br#"{"text":"hi"}"#),
        "no such path",
    );
    refused(
        received("PATCH", "/2/tweets", json, br#"{"text":"hi"}"#),
        "has no PATCH operation",
    );
    let multipart = Some("multipart/form-data; boundary=b");
    let id = "/2/media/upload/1445880548472328193";
    assert_eq!(
        ok(received(
            "POST",
            &format!("{id}/append"),
            multipart,
            &multipart_body(&[("media", "\u{89}PNG"), ("segment_index", "0")]),
        )),
        "appendMediaUpload"
    );
    refused(
        received(
            "POST",
            &format!("{id}/append"),
            multipart,
            &multipart_body(&[("media", "\u{89}PNG")]),
        ),
        "required part segment_index is missing",
    );
    refused(
        received(
            "POST",
            &format!("{id}/append"),
            multipart,
            &multipart_body(&[("media", "x"), ("segment_index", "1000")]),
        ),
        "greater than the maximum of 999",
    );
    refused(
        received(
            "POST",
            &format!("{id}/append"),
            multipart,
            &multipart_body(&[("media", "x"), ("segment_index", "0"), ("extra", "1")]),
        ),
        "part extra is not in the schema",
    );
    refused(
        received(
            "POST",
            "/2/media/upload/abc/append",
            multipart,
            &multipart_body(&[("media", "x"), ("segment_index", "0")]),
        ),
        "does not match",
    );
    assert_eq!(
        ok(received("POST", &format!("{id}/finalize"), None, b"")),
        "finalizeMediaUpload"
    );
    refused(
        received("POST", &format!("{id}/finalize"), json, b"{}"),
        "takes no body",
    );
    refused(
        received(
            "POST",
            "/2/media/upload/initialize",
            json,
            br#"{"media_type":"image/jpg","total_bytes":1}"#,
        ),
        "/media_type: ",
    );
    refused(
        received(
            "POST",
            "/2/media/metadata",
            json,
            br#"{"metadata":{"alt_text":{"text":"no id"}}}"#,
        ),
        "is a required property",
    );
    refused(
        received("GET", "/2/media/upload?command=STATUS", None, b""),
        "required query parameter media_id is missing",
    );
    refused(
        received(
            "GET",
            "/2/users/2244994945/tweets?max_results=500",
            None,
            b"",
        ),
        "greater than the maximum of 100",
    );
}

#[tokio::test]
async fn the_platform_contract_holds_and_every_request_matches_the_openapi_document() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let contract = Contract {
        standin: env.standin.clone(),
        clock: env.clock.clone(),
    };
    run_contract(env.publisher.as_ref(), &connection, &contract).await;
    // Every kind of publish, on a fresh connection (the contract's last scenario leaves the
    // first one needing re-authorization): text, thread, image with alt text, poll, link.
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let publish = |request: quflux_core::PublishRequest| {
        let (publisher, connection) = (env.publisher.clone(), connection.clone());
        async move { publisher.publish(&connection, &request).await.unwrap() }
    };
    publish(publish_request("Just text (openapi check)")).await;
    let mut thread = publish_request("A thread 1/3 (openapi check)");
    thread.thread = vec!["2/3 (openapi check)".into(), "3/3 (openapi check)".into()];
    assert_eq!(publish(thread).await.thread_ids.len(), 2);
    let mut image = publish_request("An image (openapi check)");
    image.media = vec![
        png_media(env.user_id, "A tiny square"),
        png_media(env.user_id, "Another tiny square"),
    ];
    let posted = publish(image).await;
    let held = env.standin.posts();
    let held = held
        .iter()
        .find(|p| p.id == posted.platform_post_id.as_str())
        .unwrap();
    assert_eq!(
        held.media_alt,
        [
            Some("A tiny square".to_owned()),
            Some("Another tiny square".to_owned())
        ]
    );
    let mut poll = publish_request("Which editor? (poll check)");
    poll.options.poll = Some(Poll {
        options: vec!["Helix".into(), "Zed".into(), "Vim".into()],
        duration_minutes: 1440,
    });
    let posted = publish(poll).await;
    let held = env.standin.posts();
    let held = held
        .iter()
        .find(|p| p.id == posted.platform_post_id.as_str())
        .unwrap();
    assert_eq!(held.poll, ["Helix", "Zed", "Vim"]);
    let mut link = publish_request("A link (openapi check)");
    link.link_url = Some("https://example.com/openapi-check".into());
    let posted = publish(link).await;
    assert!(
        env.standin
            .posts()
            .iter()
            .any(|p| p.id == posted.platform_post_id.as_str()
                && p.text.ends_with(" https://example.com/openapi-check"))
    );

    let seen = OpenApi::load().check_all(&env.standin);
    for operation in [
        "createPosts",
        "deletePosts",
        "getUsersPosts",
        "initializeMediaUpload",
        "appendMediaUpload",
        "finalizeMediaUpload",
        "getMediaUploadStatus",
        "createMediaMetadata",
    ] {
        assert!(seen.contains_key(operation), "no {operation}: {seen:?}");
    }
    let bodies = env.standin.create_bodies();
    assert!(bodies.len() > 10, "{bodies:?}");
    let has = |key: &str| bodies.iter().any(|b| b.get(key).is_some());
    assert!(has("reply") && has("media") && has("poll"), "{bodies:?}");
}

#[tokio::test]
async fn over_long_text_is_refused_before_any_request() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let before = env.standin.request_count();
    let e = env
        .publisher
        .publish(&connection, &publish_request(&"é".repeat(281)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    let mut five = publish_request("five images");
    five.media = (0..5).map(|_| png_media(env.user_id, "alt")).collect();
    let e = env.publisher.publish(&connection, &five).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    let mut bad_poll = publish_request("bad poll");
    bad_poll.options.poll = Some(Poll {
        options: vec!["only".into()],
        duration_minutes: 60,
    });
    let e = env
        .publisher
        .publish(&connection, &bad_poll)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    assert_eq!(env.standin.request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn after_a_429_the_next_publish_is_refused_locally() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.standin.inject_fault(XFault::RateLimited);
    let e = env
        .publisher
        .publish(&connection, &publish_request("throttled once"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(30) && wait <= Duration::from_secs(61),
        "{wait:?}"
    );
    let requests = env.standin.request_count();
    let e = env
        .publisher
        .publish(&connection, &publish_request("throttled twice"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some_and(|d| d > Duration::from_secs(30)));
    assert_eq!(
        env.standin.request_count(),
        requests,
        "refused before sending"
    );
    // Once the reset has passed, publishing works again.
    env.clock.advance(Duration::from_secs(62));
    env.publisher
        .publish(&connection, &publish_request("after the reset"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_spent_daily_cap_waits_for_the_24_hour_reset() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.standin.inject_fault(XFault::DailyCapReached);
    let e = env
        .publisher
        .publish(&connection, &publish_request("daily cap"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(
        e.retry_after().unwrap() > Duration::from_secs(23 * 3600),
        "the 24-hour reset wins over the 15-minute one: {e:?}"
    );
    let requests = env.standin.request_count();
    let e = env
        .publisher
        .publish(&connection, &publish_request("daily cap again"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert_eq!(env.standin.request_count(), requests);
}

#[tokio::test]
async fn a_thread_with_an_image_lands_in_order_and_lookup_finds_every_part() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let mut request = publish_request("Thread with a picture 1/3");
    request.thread = vec!["Part 2/3".into(), "Part 3/3".into()];
    request.media = vec![png_media(env.user_id, "A tiny square")];
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(post.thread_ids.len(), 2);
    assert_eq!(
        post.url.as_deref(),
        Some(format!("https://x.com/{}/status/{}", USER.2, post.platform_post_id).as_str())
    );
    match env.publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::Published(found) => {
            assert_eq!(found.platform_post_id, post.platform_post_id);
            assert_eq!(found.thread_ids, post.thread_ids);
        }
        other => panic!("{other:?}"),
    }
    // A retry of the same text is X's duplicate refusal.
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidContent, "{e:?}");
    OpenApi::load().check_all(&env.standin);
}

#[tokio::test]
async fn connecting_through_the_connection_service_verifies_state_and_pkce() {
    let env = env().await;
    let service = env.connections();
    let start = service
        .start(env.user_id, Platform::Twitter, &AuthorizeOptions::default())
        .await
        .unwrap();
    let url = url::Url::parse(&start.authorize_url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q["scope"],
        "tweet.read tweet.write users.read media.write offline.access"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], start.state);

    let (code, state) = follow(&start.authorize_url).await;
    assert_eq!(state, start.state);
    let saved = service
        .callback(env.user_id, &state, Some(&code), None)
        .await
        .unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].platform_user_id, USER.0);
    assert_eq!(saved[0].platform_username, USER.2);
    assert!(saved[0].refresh_token.is_some());
    assert!(saved[0].expires_at.is_some());
    // The state is single use.
    let e = service
        .callback(env.user_id, &state, Some(&code), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    // The code is single use at the platform too.
    let e = env
        .connector
        .complete(Platform::Twitter, &code, None, &json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    // A wrong PKCE verifier is refused.
    let start = service
        .start(env.user_id, Platform::Twitter, &AuthorizeOptions::default())
        .await
        .unwrap();
    let (code, _) = follow(&start.authorize_url).await;
    let e = env
        .connector
        .complete(
            Platform::Twitter,
            &code,
            Some(&Secret::new("not-the-verifier".to_owned())),
            &json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    // Refusal at the authorize page.
    let start = service
        .start(env.user_id, Platform::Twitter, &AuthorizeOptions::default())
        .await
        .unwrap();
    let e = service
        .callback(env.user_id, &start.state, None, Some("access_denied"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e:?}");
    assert_eq!(env.standin.code_grants(), 3);
    let seen = OpenApi::load().check_all(&env.standin);
    assert!(seen.contains_key("getUsersMe"), "{seen:?}");
}

/// Follows the authorize page as a browser would: returns the callback's `code` and `state`.
async fn follow(authorize_url: &str) -> (String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(authorize_url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let location = url::Url::parse(&location).unwrap();
    assert!(location.as_str().starts_with("https://app.example/cb"));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    (q["code"].clone(), q["state"].clone())
}

#[tokio::test]
async fn twenty_concurrent_publishes_refresh_the_token_once() {
    let env = env().await;
    let (connection, old_refresh) = env.connect(Duration::from_secs(60)).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let publisher = env.publisher.clone();
        let connection = connection.clone();
        tasks.push(tokio::spawn(async move {
            publisher
                .publish(
                    &connection,
                    &publish_request(&format!("concurrent post {i}")),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(env.standin.refresh_grants(), 1, "exactly one refresh");
    assert_eq!(env.standin.posts().len(), 20);
    let stored = env.store.get_connection(connection.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active);
    let encrypted = stored.refresh_token.clone().unwrap();
    let new_refresh = env.cipher.decrypt(&encrypted).unwrap();
    assert_ne!(
        new_refresh.expose(),
        &old_refresh,
        "the rotated token is stored"
    );
    assert!(!encrypted.ciphertext.contains(new_refresh.expose().as_str()));
    assert!(env.standin.refresh_token_is_live(new_refresh.expose()));
    assert!(stored.expires_at.unwrap() > env.clock.now() + chrono::Duration::hours(1));
    // The old refresh token is dead at the platform.
    let e = env
        .connector
        .refresh_tokens(&stored, &Secret::new(old_refresh))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthExpired, "{e:?}");
    OpenApi::load().check_all(&env.standin);
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_and_the_request_repeated() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    // The platform forgets the access token (revoked elsewhere); the refresh token still works.
    let access = env.tokens.decrypt(&connection.access_token).unwrap();
    let revoker = reqwest::Client::new();
    revoker
        .post(format!("{}/2/oauth2/revoke", env.standin.uri()))
        .form(&[
            ("token", access.expose().as_str()),
            ("client_id", "quflux-test-client"),
        ])
        .send()
        .await
        .unwrap();
    let post = env
        .publisher
        .publish(&connection, &publish_request("after a 401"))
        .await
        .unwrap();
    assert!(!post.platform_post_id.as_str().is_empty());
    assert_eq!(env.standin.refresh_grants(), 1);
    assert_eq!(
        env.standin.create_requests(),
        2,
        "the refused create is repeated once"
    );
    OpenApi::load().check_all(&env.standin);
}

#[tokio::test]
async fn disconnect_revokes_at_the_platform() {
    let env = env().await;
    let (connection, refresh) = env.connect(Duration::from_secs(7200)).await;
    let c = env
        .connections()
        .disconnect(env.user_id, connection.id)
        .await
        .unwrap();
    assert_eq!(c.status, ConnectionStatus::Disconnected);
    assert!(!env.standin.refresh_token_is_live(&refresh));
}

#[tokio::test]
async fn admit_sends_nothing_and_refuses_while_the_budget_is_spent() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    let mut request = publish_request("may this go out?");
    request.thread = vec!["second part".into()];
    let before = env.standin.request_count();
    env.publisher.admit(&connection, &request).await.unwrap();
    assert_eq!(env.standin.request_count(), before, "admit sent nothing");
    // Spend the budget the way X does: a 429 with a reset a minute away.
    env.standin.inject_fault(XFault::RateLimited);
    env.publisher
        .publish(&connection, &publish_request("throttled"))
        .await
        .unwrap_err();
    let (requests, creates) = (env.standin.request_count(), env.standin.create_requests());
    let e = env
        .publisher
        .admit(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.retry_after().is_some_and(|d| d > Duration::ZERO), "{e:?}");
    assert_eq!(env.standin.request_count(), requests, "admit sent nothing");
    assert_eq!(env.standin.create_requests(), creates, "no create request");
    env.clock.advance(Duration::from_secs(62));
    env.publisher.admit(&connection, &request).await.unwrap();
}

/// A publisher on `env`'s stand-in and tokens whose cache is new: it has no record of what
/// `env.publisher` sent.
fn publisher_without_memory(env: &Env) -> XPublisher {
    let config = XConfig::new("quflux-test-client", "https://app.example/cb")
        .with_api_base(env.standin.uri())
        .with_http(HttpConfig::default().with_timeout(Duration::from_secs(3)));
    let cache = Arc::new(InMemoryCache::with_clock(env.clock.clone()));
    XPublisher::new(
        config,
        env.tokens.clone(),
        env.connector.clone(),
        RateBudgets::new(cache, env.clock.clone()),
    )
    .unwrap()
}

/// Finding 3: a 5xx to `POST /2/tweets` may hide a created post. The adapter checks the
/// timeline before answering: found, it is the post; not found, the 5xx is `Transient`.
#[tokio::test]
async fn a_5xx_that_created_the_post_is_found_instead_of_failing() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.standin.inject_fault(XFault::ServerErrorAfterCreate);
    let request = publish_request("Created behind a 503");
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    let held = env.standin.posts();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].id, post.platform_post_id.as_str());
    assert_eq!(env.standin.create_requests(), 1, "never sent twice");

    // The same in the middle of a thread: part 3 is created behind a 503.
    env.standin
        .inject_fault_at(3, XFault::ServerErrorAfterCreate);
    let mut thread = publish_request("Thread behind a 503 1/4");
    thread.thread = vec!["2/4".into(), "3/4".into(), "4/4".into()];
    let post = env.publisher.publish(&connection, &thread).await.unwrap();
    assert_eq!(post.thread_ids.len(), 3);
    let held = env.standin.posts();
    assert_eq!(held.len(), 5, "{held:?}");
    assert_eq!(held[4].reply_to.as_deref(), Some(held[3].id.as_str()));
    assert_eq!(held[3].reply_to.as_deref(), Some(held[2].id.as_str()));

    // A 503 that created nothing stays a retryable error, and lookup finds nothing.
    env.standin.inject_fault(XFault::ServerError);
    let request = publish_request("Refused by a 503");
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e:?}");
    assert_eq!(
        env.publisher.lookup(&connection, &request).await.unwrap(),
        Lookup::NotPublished
    );
    assert_eq!(env.standin.posts().len(), 5);
    OpenApi::load().check_all(&env.standin);
}

/// Finding 3: on a retry, X's duplicate refusal means the first attempt landed; the publication
/// is settled as published, not failed as invalid content.
#[tokio::test]
async fn a_duplicate_refusal_on_a_retry_is_the_first_attempts_post() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.standin.inject_fault(XFault::TimeoutAfterCreate);
    let mut request = publish_request("Landed but the answer was lost");
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    let created = env.standin.posts()[0].id.clone();
    // A retry by a process that has no record of the first send (so it cannot skip the
    // create): X refuses the duplicate, and the timeline shows the post.
    request.attempt = 2;
    let post = publisher_without_memory(&env)
        .publish(&connection, &request)
        .await
        .unwrap();
    assert_eq!(post.platform_post_id.as_str(), created);
    assert_eq!(env.standin.posts().len(), 1);
    // The first attempt's duplicate refusal stays invalid content.
    request.attempt = 1;
    let e = publisher_without_memory(&env)
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidContent, "{e:?}");
}

/// Finding 6: a thread whose part 2 failed is not reported as published; the retry posts the
/// missing parts as replies to the last part found, without reposting the first.
#[tokio::test]
async fn a_partly_posted_thread_is_resumed_not_reported_published() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.standin.inject_fault_at(2, XFault::ServerError);
    let mut request = publish_request("Resumed thread 1/3");
    request.thread = vec!["Resumed 2/3".into(), "Resumed 3/3".into()];
    let e = env
        .publisher
        .publish(&connection, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    assert_eq!(env.standin.posts().len(), 1);
    match env.publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::ResendIsSafe { reason } => assert!(reason.contains("1 of the 3"), "{reason}"),
        other => panic!("only part 1 is posted: {other:?}"),
    }
    request.attempt = 2;
    let post = env.publisher.publish(&connection, &request).await.unwrap();
    let held = env.standin.posts();
    assert_eq!(held.len(), 3, "part 1 is not reposted: {held:?}");
    assert_eq!(post.platform_post_id.as_str(), held[0].id);
    assert_eq!(post.thread_ids.len(), 2);
    assert_eq!(held[1].text, "Resumed 2/3");
    assert_eq!(held[1].reply_to.as_deref(), Some(held[0].id.as_str()));
    assert_eq!(held[2].reply_to.as_deref(), Some(held[1].id.as_str()));
    match env.publisher.lookup(&connection, &request).await.unwrap() {
        Lookup::Published(found) => {
            assert_eq!(found.platform_post_id, post.platform_post_id);
            assert_eq!(found.thread_ids, post.thread_ids);
        }
        other => panic!("{other:?}"),
    }
    // A further retry finds every part and posts nothing.
    request.attempt = 3;
    let again = env.publisher.publish(&connection, &request).await.unwrap();
    assert_eq!(again.thread_ids, post.thread_ids);
    assert_eq!(env.standin.posts().len(), 3);
}

/// Finding 7: an identical post published earlier (yesterday's "Good morning!") is not this
/// request's post.
#[tokio::test]
async fn lookup_ignores_an_identical_older_post() {
    let env = env().await;
    let (connection, _) = env.connect(Duration::from_secs(7200)).await;
    env.publisher
        .publish(&connection, &publish_request("Good morning!"))
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(24 * 3600));
    let today = publish_request("Good morning!");
    let requests = env.standin.request_count();
    assert_eq!(
        env.publisher.lookup(&connection, &today).await.unwrap(),
        Lookup::NotPublished,
        "never sent"
    );
    assert_eq!(
        env.standin.request_count(),
        requests,
        "known without asking X"
    );
    // Sent today, refused by a 503: yesterday's post on the timeline is not today's.
    env.standin.inject_fault(XFault::ServerError);
    let e = env
        .publisher
        .publish(&connection, &today)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e:?}");
    assert_eq!(
        env.publisher.lookup(&connection, &today).await.unwrap(),
        Lookup::NotPublished
    );
    assert_eq!(env.standin.posts().len(), 1);
}
