//! Stand-in of SendGrid's v3 Mail Send API (`POST /v3/mail/send`), reproducing the documented
//! contract (see [`crate::notify::sendgrid`] for the sources):
//!
//! - `Authorization: Bearer <key>` must carry the key the stand-in was started with; otherwise
//!   `401 {"errors":[{"field":null,"message":"The provided authorization grant is invalid,
//!   expired, or revoked","help":null}]}` (`"authorization required"` when the header is
//!   missing).
//! - The body is validated like SendGrid does: at least one personalization with at least one
//!   valid `to` address, a `from` object with a valid address, a subject (on the message or on
//!   every personalization), and at least one content block with a type and a non-empty value
//!   (`text/plain` before `text/html`). Every violation is reported in one `400` answer as
//!   `{"errors":[{"message","field","help"}]}`; a body that is not JSON is `400 Bad Request`;
//!   more than 30 MB is `413`.
//! - A valid message is `202 Accepted` with an empty body and an `X-Message-Id` header, and is
//!   recorded ([`SendGridStandIn::messages`]).
//! - Faults ([`SendGridFault`]) are armed for the next authenticated request: `429` with
//!   `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` (unix seconds),
//!   or `500`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Utc;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Largest accepted body (SendGrid's 30 MB message limit).
pub const MAX_BODY_BYTES: usize = 30 * 1024 * 1024;
/// The `X-RateLimit-Limit` a throttled answer reports.
pub const RATE_LIMIT: u32 = 600;
/// Seconds from now to the `X-RateLimit-Reset` of a throttled answer.
pub const RATE_LIMIT_RESET_SECS: i64 = 60;

const HELP: &str = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html";

/// A failure armed for the next authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendGridFault {
    /// `429 {"errors":[{"field":null,"message":"too many requests"}]}` with rate-limit headers
    /// and a reset [`RATE_LIMIT_RESET_SECS`] from now.
    RateLimited,
    /// `500 {"errors":[{"field":null,"message":"internal server error"}]}`.
    ServerError,
}

/// A message the stand-in accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMail {
    /// The `X-Message-Id` it was answered with.
    pub message_id: String,
    /// Every `to` address of every personalization, in order.
    pub to: Vec<String>,
    /// `from.email`.
    pub from: String,
    /// `from.name`.
    pub from_name: Option<String>,
    /// The subject.
    pub subject: String,
    /// The `text/plain` content.
    pub text: Option<String>,
    /// The `text/html` content.
    pub html: Option<String>,
    /// The whole request body.
    pub body: Value,
}

#[derive(Debug)]
struct State {
    api_key: String,
    fault: Option<SendGridFault>,
    sent: Vec<SentMail>,
    next_id: u64,
}

/// A running stand-in.
#[derive(Debug)]
pub struct SendGridStandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

/// Starts a stand-in on a local port that accepts `api_key`.
pub async fn start(api_key: &str) -> SendGridStandIn {
    let server = MockServer::start().await;
    let state = Arc::new(Mutex::new(State {
        api_key: api_key.to_owned(),
        fault: None,
        sent: Vec::new(),
        next_id: 0,
    }));
    Mock::given(wiremock::matchers::any())
        .respond_with(Router(state.clone()))
        .mount(&server)
        .await;
    SendGridStandIn { server, state }
}

impl SendGridStandIn {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The API base URL (use as `QUFLUX_SENDGRID_BASE_URL`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Arms `fault` for the next authenticated request.
    pub fn inject_fault(&self, fault: SendGridFault) {
        self.state().fault = Some(fault);
    }

    /// Disarms any fault.
    pub fn reset(&self) {
        self.state().fault = None;
    }

    /// Messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<SentMail> {
        self.state().sent.clone()
    }

    /// How many requests reached the stand-in (accepted or not).
    pub async fn requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .map(|r| r.len())
            .unwrap_or_default()
    }
}

struct Router(Arc<Mutex<State>>);

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        route(&mut state, request)
    }
}

fn errors(status: u16, errors: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "errors": errors }))
}

fn error(field: Option<&str>, message: &str) -> Value {
    let help = match field {
        Some(f) => json!(format!("{HELP}#message.{f}")),
        None => Value::Null,
    };
    json!({ "message": message, "field": field, "help": help })
}

fn route(state: &mut State, request: &Request) -> ResponseTemplate {
    if request.url.path().trim_end_matches('/') != "/v3/mail/send" {
        return errors(404, vec![error(None, "not found")]);
    }
    if request.method.as_str() != "POST" {
        return errors(405, vec![error(None, "method not allowed")]);
    }
    let auth = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    match auth {
        None => return errors(401, vec![error(None, "authorization required")]),
        Some(value) if value != format!("Bearer {}", state.api_key) => {
            return errors(
                401,
                vec![error(
                    None,
                    "The provided authorization grant is invalid, expired, or revoked",
                )],
            );
        }
        Some(_) => {}
    }
    match state.fault.take() {
        Some(SendGridFault::RateLimited) => {
            let reset = Utc::now().timestamp() + RATE_LIMIT_RESET_SECS;
            return errors(429, vec![error(None, "too many requests")])
                .insert_header("X-RateLimit-Limit", RATE_LIMIT.to_string().as_str())
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", reset.to_string().as_str());
        }
        Some(SendGridFault::ServerError) => {
            return errors(500, vec![error(None, "internal server error")]);
        }
        None => {}
    }
    if request.body.len() > MAX_BODY_BYTES {
        return errors(
            413,
            vec![error(
                None,
                "The JSON payload you have included in your request is too large.",
            )],
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return errors(400, vec![error(None, "Bad Request")]);
    };
    let problems = validate(&body);
    if !problems.is_empty() {
        return errors(400, problems);
    }
    state.next_id += 1;
    let message_id = format!("sg-standin-{:08}", state.next_id);
    let content = |kind: &str| {
        body["content"].as_array().and_then(|blocks| {
            blocks
                .iter()
                .find(|b| b["type"].as_str() == Some(kind))
                .and_then(|b| b["value"].as_str())
                .map(str::to_owned)
        })
    };
    let to = body["personalizations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["to"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["email"].as_str().map(str::to_owned))
        .collect();
    state.sent.push(SentMail {
        message_id: message_id.clone(),
        to,
        from: body["from"]["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        from_name: body["from"]["name"].as_str().map(str::to_owned),
        subject: body["subject"].as_str().unwrap_or_default().to_owned(),
        text: content("text/plain"),
        html: content("text/html"),
        body: body.clone(),
    });
    ResponseTemplate::new(202).insert_header("X-Message-Id", message_id.as_str())
}

/// Every rule the body breaks, as SendGrid error objects.
fn validate(body: &Value) -> Vec<Value> {
    let mut problems = Vec::new();
    let personalizations = body["personalizations"].as_array();
    match personalizations {
        Some(list) if !list.is_empty() => {
            for (i, p) in list.iter().enumerate() {
                match p["to"].as_array() {
                    Some(to) if !to.is_empty() => {
                        for (j, t) in to.iter().enumerate() {
                            if !t["email"].as_str().is_some_and(valid_address) {
                                problems.push(error(
                                    Some(&format!("personalizations.{i}.to.{j}.email")),
                                    "Does not contain a valid address.",
                                ));
                            }
                        }
                    }
                    _ => problems.push(error(
                        Some(&format!("personalizations.{i}.to")),
                        "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                    )),
                }
            }
        }
        _ => problems.push(error(
            Some("personalizations"),
            "The personalizations field is required and must have at least one personalization.",
        )),
    }
    match body["from"].as_object() {
        Some(from) => {
            if !from
                .get("email")
                .and_then(Value::as_str)
                .is_some_and(valid_address)
            {
                problems.push(error(
                    Some("from.email"),
                    "The from email does not contain a valid address.",
                ));
            }
        }
        None => problems.push(error(
            Some("from"),
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
        )),
    }
    let has_subject = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
    let every_personalization_has_subject = personalizations
        .is_some_and(|l| !l.is_empty() && l.iter().all(|p| has_subject(&p["subject"])));
    if !has_subject(&body["subject"]) && !every_personalization_has_subject {
        problems.push(error(
            Some("subject"),
            "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
        ));
    }
    match body["content"].as_array() {
        Some(blocks) if !blocks.is_empty() => {
            for (i, block) in blocks.iter().enumerate() {
                let kind = block["type"].as_str().unwrap_or_default();
                if kind.is_empty() || kind.contains([';', '\r', '\n']) {
                    problems.push(error(
                        Some(&format!("content.{i}.type")),
                        "The content type cannot contain ';', or CRLF characters, and must be at least one character.",
                    ));
                }
                if block["value"].as_str().is_none_or(str::is_empty) {
                    problems.push(error(
                        Some(&format!("content.{i}.value")),
                        "The content value must be a string at least one character in length.",
                    ));
                }
            }
            let position = |kind: &str| blocks.iter().position(|b| b["type"] == kind);
            if let (Some(text), Some(html)) = (position("text/plain"), position("text/html"))
                && (text != 0 || html < text)
            {
                problems.push(error(
                    Some("content"),
                    "If present, text/plain and text/html may only be provided in the following order: text/plain, text/html. This order must be followed even if some of the content types are not present.",
                ));
            }
        }
        _ => problems.push(error(
            Some("content"),
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.",
        )),
    }
    problems
}

/// One `@`, no whitespace, a non-empty local part and a dotted domain.
fn valid_address(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_body_breaks_every_rule() {
        let fields: Vec<String> = validate(&json!({}))
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(fields, ["personalizations", "from", "subject", "content"]);
    }

    #[test]
    fn a_complete_body_is_valid() {
        let body = json!({
            "personalizations": [{"to": [{"email": "a@example.com"}]}],
            "from": {"email": "noreply@example.com", "name": "Quflux"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "x"}, {"type": "text/html", "value": "<p>x</p>"}]
        });
        assert!(validate(&body).is_empty(), "{:?}", validate(&body));
        let mut swapped = body.clone();
        swapped["content"] = json!([{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]);
        assert_eq!(validate(&swapped)[0]["field"], "content");
        let mut bad_to = body;
        bad_to["personalizations"][0]["to"][0]["email"] = json!("not an address");
        assert_eq!(
            validate(&bad_to)[0]["field"],
            "personalizations.0.to.0.email"
        );
    }
}
