//! HTTP calls to one Mastodon instance: sending, reading answers, classifying failures.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use quflux_core::{Error, Result};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::PLATFORM;
use super::error::classify;
use crate::common::Idempotency;
use crate::common::http::{body_bytes, send};

/// A received answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The body as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::other(
                PLATFORM,
                format!(
                    "unreadable answer (HTTP {}): {e}: {}",
                    self.status,
                    crate::common::http::excerpt(&self.body)
                ),
            )
        })
    }

    /// The body as `T`, for answers holding credentials: a parse failure names its position
    /// only, never the body or the offending value.
    pub(crate) fn json_secret<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::other(
                PLATFORM,
                format!(
                    "unreadable answer (HTTP {}): {:?} error at line {} column {} \
                     (body withheld: it holds credentials)",
                    self.status,
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// `Ok(self)` for a 2xx answer, the classified error otherwise.
    pub(crate) fn success(self, now: DateTime<Utc>) -> Result<Self> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(classify(self.status, &self.headers, &self.body, now))
        }
    }
}

/// Sends `request` and reads the whole answer, whatever its status.
pub(crate) async fn call(
    idempotency: Idempotency,
    request: reqwest::RequestBuilder,
) -> Result<Answer> {
    let response = send(PLATFORM, idempotency, request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = body_bytes(PLATFORM, idempotency, response).await?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}
