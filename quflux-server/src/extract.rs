//! Extractors whose rejections are [`ApiError`]s in the design's format.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::json;

use crate::error::ApiError;

/// A JSON body. Malformed JSON is 400 `MALFORMED_JSON`; wrong types, missing or unknown fields
/// are 422 `INVALID_INPUT`; a missing `Content-Type` is 415; an oversized body is 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(not_json());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_rejection(e.status(), e.body_text()))?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Self(v)),
            // serde_json reports some wrong types (a number where an enum goes) as syntax
            // errors; a body that parses as JSON is never malformed.
            Err(JsonRejection::JsonSyntaxError(e))
                if serde_json::from_slice::<IgnoredAny>(&bytes).is_ok() =>
            {
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_INPUT",
                    format!(
                        "the JSON body does not match the expected shape: {}",
                        inner(&e)
                    ),
                ))
            }
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json` or `application/…+json`, as axum's `Json` accepts.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .and_then(|m| m.strip_prefix("application/").map(str::to_owned))
        .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_INPUT",
            format!(
                "the JSON body does not match the expected shape: {}",
                inner(&e)
            ),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("the body is not valid JSON: {}", inner(&e)),
        ),
        JsonRejection::MissingJsonContentType(_) => not_json(),
        other => body_rejection(other.status(), other.body_text()),
    }
}

fn not_json() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "expected `Content-Type: application/json`",
    )
}

fn body_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "PAYLOAD_TOO_LARGE", "the request body is too large")
    } else if status.is_client_error() {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", text)
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            "the request body could not be read",
        )
    }
}

/// The innermost error text (serde's message with line and column).
fn inner(e: &dyn std::error::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Query parameters; bad ones are 400 `INVALID_INPUT`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_INPUT",
                format!("bad query parameters: {}", inner(&e)),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_INPUT",
                e.body_text(),
            )),
        }
    }
}

/// Path parameters; a malformed id is 400 `INVALID_INPUT`.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_INPUT",
                format!("bad path parameter: {}", e.body_text()),
            )
            .with_details(json!({ "field": "path" }))),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_INPUT",
                e.body_text(),
            )),
        }
    }
}

/// The caller's address (when the server knows it) and user agent.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// `User-Agent`.
    pub agent: Option<String>,
    /// Peer address.
    pub addr: Option<std::net::IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            agent: parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            addr: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        })
    }
}
