//! OAuth 2.0 routes of the X stand-in: authorize, token (codes with PKCE, rotating refresh
//! tokens, client authentication) and the bearer check.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::{Request, ResponseTemplate};

use super::{PendingCode, State, form, token};

pub(super) fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": error, "error_description": description}))
}

impl State {
    pub(super) fn issue(&mut self) -> Value {
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
    pub(super) fn client_refusal(
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

    pub(super) fn token_endpoint(&mut self, request: &Request) -> ResponseTemplate {
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

    pub(super) fn authorize(&mut self, request: &Request) -> ResponseTemplate {
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

    pub(super) fn bearer_ok(&self, request: &Request) -> bool {
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
}
