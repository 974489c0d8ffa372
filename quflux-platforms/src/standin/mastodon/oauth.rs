//! The OAuth side of the stand-in: app registration, the auto-approving authorize page, the
//! token endpoint (PKCE S256 checked) and revocation.

use std::collections::HashMap;

use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::Digest;
use wiremock::{Request, ResponseTemplate};

use super::{App, Grant, State, error, form, oauth_error, random};

pub(super) fn register_app(state: &mut State, request: &Request) -> ResponseTemplate {
    let body: Value = request
        .body_json()
        .unwrap_or_else(|_| json!(form(&request.body)));
    let Some(name) = body.get("client_name").and_then(Value::as_str) else {
        return error(422, "Validation failed: Application name can't be blank");
    };
    let redirect_uris: Vec<String> = match body.get("redirect_uris") {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if redirect_uris.is_empty() {
        return error(422, "Validation failed: Redirect URI can't be blank");
    }
    let scopes: Vec<String> = body
        .get("scopes")
        .and_then(Value::as_str)
        .unwrap_or("read")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let app = App {
        client_id: random("cid"),
        client_secret: random("secret"),
        redirect_uris,
        scopes,
    };
    state.apps.push(app.clone());
    let body = json!({
        "id": state.apps.len().to_string(),
        "name": name,
        "website": body.get("website"),
        "scopes": app.scopes,
        "redirect_uri": app.redirect_uris.join("\n"),
        "redirect_uris": app.redirect_uris,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "client_secret_expires_at": 0,
    });
    if std::mem::take(&mut state.broken_app_answer) {
        let mut text = body.to_string();
        text.pop();
        return ResponseTemplate::new(200).set_body_raw(text.into_bytes(), "application/json");
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// The user approves at once: `302` back to the redirect URI with a code and the state.
pub(super) fn authorize(state: &mut State, request: &Request) -> ResponseTemplate {
    let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let Some(app) = state.apps.iter().find(|a| a.client_id == get("client_id")) else {
        return oauth_error(
            401,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        );
    };
    let redirect_uri = get("redirect_uri");
    if !app.redirect_uris.contains(&redirect_uri) {
        return oauth_error(
            400,
            "invalid_redirect_uri",
            "The requested redirect uri is malformed or doesn't match client redirect URI.",
        );
    }
    let scope = get("scope");
    if get("response_type") != "code"
        || scope
            .split_whitespace()
            .any(|s| !app.scopes.iter().any(|a| a == s))
    {
        return oauth_error(
            400,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        );
    }
    let challenge = q.get("code_challenge").cloned();
    if challenge.is_some() && get("code_challenge_method") != "S256" {
        return oauth_error(
            400,
            "invalid_request",
            "Code challenge method must be S256.",
        );
    }
    let code = random("code");
    state.codes.insert(
        code.clone(),
        Grant {
            client_id: app.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            challenge,
            scope,
        },
    );
    let mut location = match url::Url::parse(&redirect_uri) {
        Ok(u) => u,
        Err(_) => return error(400, "bad redirect uri"),
    };
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    ResponseTemplate::new(302).insert_header("Location", location.as_str())
}

pub(super) fn token(state: &mut State, request: &Request) -> ResponseTemplate {
    let f = form(&request.body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let client_ok = state
        .apps
        .iter()
        .any(|a| a.client_id == get("client_id") && a.client_secret == get("client_secret"));
    if !client_ok {
        return oauth_error(
            401,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        );
    }
    let invalid_grant = || {
        oauth_error(
            400,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        )
    };
    if get("grant_type") != "authorization_code" {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    // Single use.
    let Some(grant) = state.codes.remove(&get("code")) else {
        return invalid_grant();
    };
    if grant.client_id != get("client_id") || grant.redirect_uri != get("redirect_uri") {
        return invalid_grant();
    }
    if let Some(challenge) = &grant.challenge {
        let digest = sha2::Sha256::digest(get("code_verifier").as_bytes());
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        if &computed != challenge {
            return invalid_grant();
        }
    }
    let access = random("tok");
    state.tokens.insert(access.clone(), true);
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "scope": grant.scope,
        "created_at": Utc::now().timestamp(),
    }))
}

pub(super) fn revoke(state: &mut State, request: &Request) -> ResponseTemplate {
    let f = form(&request.body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let client_ok = state
        .apps
        .iter()
        .any(|a| a.client_id == get("client_id") && a.client_secret == get("client_secret"));
    if !client_ok {
        return oauth_error(
            403,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        );
    }
    if let Some(valid) = state.tokens.get_mut(&get("token")) {
        *valid = false;
    }
    ResponseTemplate::new(200).set_body_json(json!({}))
}
