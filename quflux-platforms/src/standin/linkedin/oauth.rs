//! OAuth 2.0 routes of the LinkedIn stand-in: authorization, the token endpoint (codes and
//! programmatic refresh) and the bearer check of API calls.

use std::collections::HashMap;

use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

use super::{ACCESS_TOKEN_SECS, CLIENT_ID, CLIENT_SECRET, LinkedInFault, Router, State, error};

pub(super) fn token_error(
    status: u16,
    service_code: u32,
    code: &str,
    message: &str,
) -> ResponseTemplate {
    error(
        status,
        json!({"status": status, "serviceErrorCode": service_code, "code": code, "message": message}),
    )
}

pub(super) fn oauth_error() -> ResponseTemplate {
    error(
        400,
        json!({
            "error": "invalid_request",
            "error_description": "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists"
        }),
    )
}

pub(super) fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

impl Router {
    pub(super) fn authorize(&self, request: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        if get("response_type") != "code" || get("client_id") != CLIENT_ID {
            return ResponseTemplate::new(400)
                .set_body_string("invalid client_id or response_type");
        }
        let redirect = get("redirect_uri");
        let Ok(mut target) = url::Url::parse(&redirect) else {
            return ResponseTemplate::new(400).set_body_string("invalid redirect_uri");
        };
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.state().codes.insert(code.clone(), redirect);
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &get("state"));
        ResponseTemplate::new(302).insert_header("Location", target.as_str())
    }

    pub(super) fn issue(&self, state: &mut State, with_refresh: bool) -> Value {
        let access = format!("AQX-{}", uuid::Uuid::new_v4().simple());
        let expires = state.now() + chrono::Duration::seconds(ACCESS_TOKEN_SECS);
        state.tokens.insert(access.clone(), expires);
        let mut body = json!({
            "access_token": access,
            "expires_in": ACCESS_TOKEN_SECS,
            "scope": "openid,profile,w_member_social",
        });
        if with_refresh {
            let refresh = format!("AQW-{}", uuid::Uuid::new_v4().simple());
            state.refresh_tokens.insert(refresh.clone());
            body["refresh_token"] = json!(refresh);
            body["refresh_token_expires_in"] = json!(31_536_000);
        }
        body
    }

    pub(super) fn access_token(&self, request: &Request) -> ResponseTemplate {
        let f = form(&request.body);
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
            return error(
                401,
                json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
            );
        }
        let mut state = self.state();
        match get("grant_type").as_str() {
            "authorization_code" => {
                let Some(redirect) = state.codes.remove(&get("code")) else {
                    return oauth_error();
                };
                if redirect != get("redirect_uri") {
                    return oauth_error();
                }
                let refresh = state.programmatic_refresh;
                let mut body = self.issue(&mut state, refresh);
                body["token_type"] = json!("Bearer");
                body["id_token"] = json!("eyJhbGciOiJub25lIn0.e30.");
                ResponseTemplate::new(200).set_body_json(body)
            }
            "refresh_token" => {
                if state.faults.remove(&LinkedInFault::RefreshThrottled) {
                    return error(
                        429,
                        json!({"status": 429, "serviceErrorCode": 101, "message": "Resource level throttle limit for calls to this resource is reached."}),
                    );
                }
                if state.faults.contains(&LinkedInFault::ExpiredToken)
                    || !state.refresh_tokens.contains(&get("refresh_token"))
                {
                    return oauth_error();
                }
                // The same refresh token stays valid; its TTL is not extended.
                let mut body = self.issue(&mut state, false);
                body["refresh_token"] = json!(get("refresh_token"));
                body["refresh_token_expires_in"] = json!(26_438_400);
                ResponseTemplate::new(200).set_body_json(body)
            }
            _ => oauth_error(),
        }
    }

    /// `Err(response)` unless the bearer token is acceptable. Tokens the stand-in did not
    /// issue (pre-seeded test connections) are accepted.
    pub(super) fn bearer(&self, request: &Request) -> Option<ResponseTemplate> {
        let state = self.state();
        let token = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if token.is_empty() {
            return Some(token_error(
                401,
                65600,
                "INVALID_ACCESS_TOKEN",
                "Invalid access token",
            ));
        }
        let expired = state.tokens.get(token).is_some_and(|at| *at <= state.now());
        if expired || state.faults.contains(&LinkedInFault::ExpiredToken) {
            return Some(token_error(
                401,
                65602,
                "EXPIRED_ACCESS_TOKEN",
                "The token used in the request has expired",
            ));
        }
        None
    }
}
