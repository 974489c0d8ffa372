//! [`classify`]: every failed Strands call, mapped to a [`quflux_core::Error`].

use std::fmt;

use quflux_core::{Error, Secret};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::PROVIDER;
use super::wire::{RpcError, RpcResponse, RpcResult, Task};
use crate::http::{ApiError, malformed, retry_after};

/// Classifies a response that did not carry a usable reply: an HTTP error status, a JSON-RPC
/// `error` object, or a task that did not complete with text.
///
/// | response | error |
/// |---|---|
/// | HTTP 429 | `RateLimited` (`Retry-After`) |
/// | HTTP 401, 403 | `AuthExpired` (the bearer token of a proxy or AgentCore) |
/// | HTTP 404, 405; JSON-RPC -32601 | `Config`: not an A2A 0.3 endpoint |
/// | HTTP 400, 413, 415, 422; JSON-RPC -32700, -32600, -32602, -32005 | `InvalidContent` |
/// | HTTP 408, 500, 502, 503, 504 | `Transient` |
/// | JSON-RPC -32004 (unsupported operation) | `Unsupported` |
/// | task `rejected` | `InvalidContent` with the status message |
/// | task `auth-required` | `AuthExpired` |
/// | task `failed`, `canceled`, `input-required`, or completed without text | `Other` with the status message |
/// | anything else | `Other` |
pub(super) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    token: Option<&Secret<String>>,
) -> Error {
    let parsed: Option<RpcResponse> = serde_json::from_slice(body).ok();
    if let Some(error) = parsed.as_ref().and_then(|r| r.error.as_ref()) {
        return rpc_error(status, error, body, token);
    }
    if !status.is_success() {
        return http_error(status, headers, body, token);
    }
    let Some(result) = parsed.and_then(|r| r.result) else {
        return malformed(
            PROVIDER,
            "not a JSON-RPC response with a result",
            body,
            token,
        );
    };
    match serde_json::from_value::<RpcResult>(result) {
        Ok(RpcResult::Task(task)) => task_error(&task),
        Ok(RpcResult::Message(_)) => Error::other(PROVIDER, "the agent's reply has no text"),
        Err(e) => malformed(PROVIDER, format!("result: {e}"), body, token),
    }
}

fn http_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    token: Option<&Secret<String>>,
) -> Error {
    let source = ApiError::new(status, None, None, body, token);
    match status.as_u16() {
        429 => Error::RateLimited {
            service: PROVIDER,
            retry_after: retry_after(headers),
            source: Some(source.into()),
        },
        401 | 403 => Error::AuthExpired {
            service: PROVIDER,
            source: Some(source.into()),
        },
        404 | 405 => Error::Config(format!(
            "{PROVIDER}: no A2A JSON-RPC endpoint at the configured url (HTTP {}); \
             use the agent's base URL, as in its agent card",
            status.as_u16()
        )),
        400 | 413 | 415 | 422 => Error::InvalidContent {
            service: PROVIDER,
            reason: source.message,
        },
        408 | 500 | 502 | 503 | 504 => Error::transient(PROVIDER, source),
        _ => Error::other(PROVIDER, source),
    }
}

fn rpc_error(
    status: StatusCode,
    error: &RpcError,
    body: &[u8],
    token: Option<&Secret<String>>,
) -> Error {
    let message = match error.data.as_ref().and_then(describe_data) {
        Some(details) => format!("{} ({details})", error.message),
        None => error.message.clone(),
    };
    let source = ApiError::new(
        status,
        Some(error.code.to_string()),
        Some(message),
        body,
        token,
    );
    match error.code {
        -32601 => Error::Config(format!(
            "{PROVIDER}: the agent at the configured url does not offer A2A 0.3 `message/send` \
             ({})",
            source.message
        )),
        -32700 | -32600 | -32602 | -32005 => Error::InvalidContent {
            service: PROVIDER,
            reason: source.message,
        },
        -32004 => Error::Unsupported {
            service: PROVIDER,
            operation: "message/send",
        },
        _ => Error::other(PROVIDER, source),
    }
}

/// `loc: msg` pairs of a validation error's `data` (a2a-sdk sends pydantic errors there).
fn describe_data(data: &Value) -> Option<String> {
    let items: Vec<String> = data
        .as_array()?
        .iter()
        .filter_map(|item| {
            let msg = item.get("msg")?.as_str()?;
            let loc: Vec<String> = item
                .get("loc")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .map(|p| match p {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(format!("{}: {msg}", loc.join(".")))
        })
        .collect();
    (!items.is_empty()).then(|| items.join("; "))
}

fn task_error(task: &Task) -> Error {
    let state = task.status.state.as_str();
    let message = task.status_text();
    match state {
        "rejected" => Error::InvalidContent {
            service: PROVIDER,
            reason: message.unwrap_or_else(|| "the agent rejected the task".to_owned()),
        },
        "auth-required" => Error::AuthExpired {
            service: PROVIDER,
            source: Some(
                TaskFailed {
                    state: state.to_owned(),
                    message,
                }
                .into(),
            ),
        },
        _ => Error::other(
            PROVIDER,
            TaskFailed {
                state: state.to_owned(),
                message: message.or_else(|| {
                    (state == "completed").then(|| "the agent's reply has no text".to_owned())
                }),
            },
        ),
    }
}

/// A task that ended without a usable reply.
#[derive(Debug)]
pub(super) struct TaskFailed {
    /// The A2A task state (`failed`, `canceled`, `input-required`, ...).
    pub(super) state: String,
    /// The status message's text.
    pub(super) message: Option<String>,
}

impl fmt::Display for TaskFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agent task {}", self.state)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TaskFailed {}

#[cfg(test)]
mod tests {
    use super::*;
    use quflux_core::ErrorKind;
    use reqwest::header::HeaderValue;

    fn ok(body: &str) -> Error {
        classify(StatusCode::OK, &HeaderMap::new(), body.as_bytes(), None)
    }

    #[test]
    fn a_failed_task_carries_its_status_message() {
        let e = ok(
            r#"{"jsonrpc":"2.0","id":"1","result":{"kind":"task","id":"t",
            "status":{"state":"failed","message":{"kind":"message","role":"agent",
            "parts":[{"kind":"text","text":"Agent execution failed"}]}}}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Other);
        assert_eq!(
            e.detailed_message(),
            "strands failed: agent task failed: Agent execution failed"
        );
        let e = ok(r#"{"result":{"kind":"task","status":{"state":"rejected"}}}"#);
        assert_eq!(
            e.to_string(),
            "strands rejected the content: the agent rejected the task"
        );
        let e = ok(r#"{"result":{"kind":"task","status":{"state":"auth-required"}}}"#);
        assert_eq!(e.kind(), ErrorKind::AuthExpired);
    }

    #[test]
    fn json_rpc_errors_are_classified_by_code() {
        let e = ok(
            r#"{"error":{"code":-32602,"message":"Invalid parameters","data":[{"type":"missing",
            "loc":["params","message","messageId"],"msg":"Field required"}]},"id":"1","jsonrpc":"2.0"}"#,
        );
        assert_eq!(
            e.to_string(),
            "strands rejected the content: Invalid parameters (params.message.messageId: Field required)"
        );
        let e = ok(r#"{"error":{"code":-32601,"message":"Method not found"},"id":"1"}"#);
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("Method not found"), "{e}");
        let e = ok(r#"{"error":{"code":-32603,"message":"Internal error"},"id":"1"}"#);
        assert_eq!(e.kind(), ErrorKind::Other);
        assert!(
            e.detailed_message()
                .contains("HTTP 200 -32603: Internal error")
        );
    }

    #[test]
    fn http_statuses_are_classified() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &headers, b"slow down", None);
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(3)));
        let e = classify(StatusCode::SERVICE_UNAVAILABLE, &headers, b"", None);
        assert_eq!(e.kind(), ErrorKind::Transient);
        let e = classify(
            StatusCode::NOT_FOUND,
            &headers,
            b"{\"detail\":\"Not Found\"}",
            None,
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        let token = Secret::new("tok-123456".to_owned());
        let e = classify(
            StatusCode::UNAUTHORIZED,
            &headers,
            b"bad token tok-123456",
            Some(&token),
        );
        assert_eq!(e.kind(), ErrorKind::AuthExpired);
        assert!(!e.detailed_message().contains("tok-123456"));
        assert_eq!(ok("<html>").kind(), ErrorKind::Other);
    }
}
