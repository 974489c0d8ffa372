//! The API's one error type, in the design's format:
//! `{"error_code", "error_message", "error_details", "timestamp", "request_id"}`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use quflux_core::{Error, ErrorKind};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware).
    pub(crate) static REQUEST_ID: String;
}

/// The current request's id, or a fresh one outside a request.
pub(crate) fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| new_request_id())
}

/// A new request id: `req_` and 32 hex digits.
pub(crate) fn new_request_id() -> String {
    format!("req_{}", uuid::Uuid::new_v4().simple())
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable upper-snake code, e.g. `NOT_FOUND`, `VALIDATION_FAILED`.
    pub error_code: String,
    /// Human-readable message.
    pub error_message: String,
    /// Structured details (field, violations, retry_after, ...), or null.
    #[schema(value_type = Option<Object>)]
    pub error_details: Option<Value>,
    /// When the error happened.
    pub timestamp: DateTime<Utc>,
    /// The request's id, also in the `x-request-id` header and the logs.
    pub request_id: String,
}

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Value>,
    retry_after: Option<Duration>,
    www_authenticate: bool,
}

/// Result of a handler.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            www_authenticate: false,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Adds a `Retry-After`.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// 400 with a field.
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", message)
            .with_details(json!({ "field": field }))
    }

    /// 401: no valid session.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message);
        e.www_authenticate = true;
        e
    }

    /// 404 for a resource that does not exist or is not the caller's.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let retry_after = e.retry_after();
        let (status, code) = match kind {
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "CONFLICT"),
            ErrorKind::AuthExpired => (StatusCode::CONFLICT, "CONNECTION_NEEDS_REAUTH"),
            ErrorKind::InvalidContent => (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_CONTENT"),
            ErrorKind::Validation => (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED"),
            ErrorKind::InvalidInput => (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_INPUT"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            ErrorKind::Transient => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            ErrorKind::OutcomeUnknown => (StatusCode::SERVICE_UNAVAILABLE, "OUTCOME_UNKNOWN"),
            ErrorKind::Unsupported => (StatusCode::NOT_IMPLEMENTED, "UNSUPPORTED"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        };
        let details = match &e {
            Error::InvalidInput { field, .. } => Some(json!({ "field": field })),
            Error::Validation { violations, .. } => Some(json!({ "violations": violations })),
            Error::NotFound { .. } | Error::Conflict { .. } | Error::Unsupported { .. } => None,
            _ => retry_after.map(|d| json!({ "retry_after": d.as_secs() })),
        };
        let message = match kind {
            ErrorKind::Transient | ErrorKind::Config | ErrorKind::Other => {
                tracing::error!(error = %e.detailed_message(), kind = kind.as_str(), "request failed");
                match kind {
                    ErrorKind::Transient => {
                        "a service the server depends on is unavailable; try again".to_owned()
                    }
                    _ => {
                        "internal error; the request id identifies it in the server logs".to_owned()
                    }
                }
            }
            _ => e.to_string(),
        };
        Self {
            status,
            code,
            message,
            details,
            retry_after,
            www_authenticate: false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = current_request_id();
        if self.status.is_server_error() {
            tracing::warn!(
                status = self.status.as_u16(),
                code = self.code,
                "error response"
            );
        }
        let body = ErrorBody {
            error_code: self.code.to_owned(),
            error_message: self.message,
            error_details: self.details,
            timestamp: Utc::now(),
            request_id: request_id.clone(),
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-request-id", v);
        }
        if let Some(after) = self.retry_after {
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        if self.www_authenticate {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"quflux\""),
            );
        }
        res
    }
}
