//! The Facebook Login routes of the Meta stand-in: the dialog, the token exchange and the bearer
//! token of a Graph call.

use serde_json::json;
use wiremock::{Request, ResponseTemplate};

use super::{APP_ID, APP_SECRET, Params, State, graph_error};

pub(super) fn dialog(s: &mut State, p: &Params) -> ResponseTemplate {
    let (Some(redirect), Some(state)) = (p.get("redirect_uri"), p.get("state")) else {
        return ResponseTemplate::new(400).set_body_string("missing redirect_uri or state");
    };
    if p.get("client_id") != Some(APP_ID) {
        return ResponseTemplate::new(400).set_body_string("Invalid App ID");
    }
    let Ok(mut url) = url::Url::parse(redirect) else {
        return ResponseTemplate::new(400).set_body_string("bad redirect_uri");
    };
    if std::mem::take(&mut s.deny) {
        url.query_pairs_mut()
            .append_pair("error_reason", "user_denied")
            .append_pair("error", "access_denied")
            .append_pair("error_description", "Permissions error")
            .append_pair("state", state);
    } else {
        let code = format!("standin-code-{}", s.id());
        s.codes.insert(code.clone(), redirect.to_owned());
        url.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", state);
    }
    ResponseTemplate::new(302).insert_header("location", url.as_str())
}

pub(super) fn token(s: &mut State, p: &Params) -> ResponseTemplate {
    if p.get("client_id") != Some(APP_ID) || p.get("client_secret") != Some(APP_SECRET) {
        return graph_error(
            400,
            101,
            None,
            "Error validating application. Invalid application ID or secret.",
        );
    }
    if p.get("grant_type") == Some("fb_exchange_token") {
        let short = p.get("fb_exchange_token").unwrap_or("");
        if !s.short_tokens.iter().any(|t| t == short) {
            return graph_error(
                400,
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
            );
        }
        let long = format!("EAAB-standin-long-{}", s.id());
        s.long_tokens.push(long.clone());
        return ResponseTemplate::new(200).set_body_json(
            json!({"access_token": long, "token_type": "bearer", "expires_in": 5_183_944}),
        );
    }
    let code = p.get("code").unwrap_or("");
    match s.codes.remove(code) {
        Some(redirect) if p.get("redirect_uri") == Some(redirect.as_str()) => {
            let short = format!("EAAB-standin-short-{}", s.id());
            s.short_tokens.push(short.clone());
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": short, "token_type": "bearer", "expires_in": 7200}),
            )
        }
        _ => graph_error(400, 100, Some(36_007), "Invalid verification code format."),
    }
}

pub(super) fn bearer(req: &Request, p: &Params) -> String {
    req.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(str::to_owned)
        .or_else(|| p.get("access_token").map(str::to_owned))
        .unwrap_or_default()
}
