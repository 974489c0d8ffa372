//! XRPC calls: `GET /xrpc/{query}` with query parameters, `POST /xrpc/{procedure}` with a JSON
//! or raw body; non-2xx answers go through [`classify`].

use std::sync::Arc;

use bytes::Bytes;
use quflux_core::{Clock, Error, Result, Secret};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use serde_json::Value;

use super::PLATFORM;
use super::error::{XrpcError, classify};
use crate::common::Idempotency;
use crate::common::http::{body_bytes, join, send};

/// What a call sends.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// A query (GET) or a procedure without input.
    None,
    /// A JSON procedure input.
    Json(Value),
    /// Raw bytes with their MIME type (`uploadBlob`).
    Raw { mime: String, bytes: Bytes },
}

/// A successful answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

/// A failed answer, with the token-rejection flag callers need to decide on a refresh.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) token_rejected: bool,
    /// The HTTP status, when the platform answered (`None` for transport failures).
    pub(crate) status: Option<u16>,
    pub(crate) headers: Option<HeaderMap>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            token_rejected: false,
            status: None,
            headers: None,
        }
    }
}

/// An XRPC client.
#[derive(Debug, Clone)]
pub(crate) struct Xrpc {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl Xrpc {
    pub(crate) fn new(http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self { http, clock }
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// `GET {base}/xrpc/{nsid}?{query}`.
    pub(crate) async fn query(
        &self,
        base: &str,
        nsid: &str,
        bearer: Option<&Secret<String>>,
        query: &[(&str, &str)],
    ) -> std::result::Result<Reply, Failure> {
        let mut request = self
            .http
            .get(join(base, &format!("xrpc/{nsid}")))
            .query(query);
        if let Some(token) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        self.finish(request, Idempotency::Safe).await
    }

    /// `POST {base}/xrpc/{nsid}` with `body`.
    pub(crate) async fn procedure(
        &self,
        base: &str,
        nsid: &str,
        bearer: Option<&Secret<String>>,
        body: Body,
        idempotency: Idempotency,
    ) -> std::result::Result<Reply, Failure> {
        let mut request = self.http.post(join(base, &format!("xrpc/{nsid}")));
        if let Some(token) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Raw { mime, bytes } => request.header(CONTENT_TYPE, mime).body(bytes),
        };
        self.finish(request, idempotency).await
    }

    async fn finish(
        &self,
        request: reqwest::RequestBuilder,
        idempotency: Idempotency,
    ) -> std::result::Result<Reply, Failure> {
        let response = send(PLATFORM, idempotency, request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = body_bytes(PLATFORM, idempotency, response).await?;
        if status.is_success() {
            let body = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&body).map_err(|e| {
                    Error::other(PLATFORM, format!("undecodable answer ({status}): {e}"))
                })?
            };
            return Ok(Reply { headers, body });
        }
        let token_rejected = XrpcError::parse(&body).is_token_rejection();
        Err(Failure {
            error: classify(status, &headers, &body, idempotency, self.clock.now()),
            token_rejected,
            status: Some(status.as_u16()),
            headers: Some(headers),
        })
    }
}

/// A string field of a JSON answer, or a decode error naming it.
pub(crate) fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::other(PLATFORM, format!("the answer has no string field `{name}`")))
}
