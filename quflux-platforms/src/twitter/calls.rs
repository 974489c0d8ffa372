//! Authenticated calls to the X API: bearer token with one refresh on 401, rate-limit headers
//! recorded into the account's budgets, and the budget check made before a call.

use bytes::Bytes;
use quflux_core::{Error, PlatformConnection, Result, Secret};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::common::Limit;
use crate::common::http::{self, Idempotency, body_bytes, header_i64};

use super::classify::{HEADER_FAMILIES, classify};
use super::publisher::XPublisher;
use super::{PLATFORM, SERVICE};

/// Rate-budget account key of the per-app 24-hour bucket.
const APP_ACCOUNT: &str = "_app";

/// A request body.
pub(crate) enum Body<'a> {
    Empty,
    Json(&'a serde_json::Value),
    Multipart(&'a (dyn Fn() -> Result<reqwest::multipart::Form> + Send + Sync)),
}

/// A received answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::other(SERVICE, format!("unreadable X answer: {e}")))
    }
}

impl XPublisher {
    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, &str)],
        body: &Body<'_>,
        token: &Secret<String>,
        idempotency: Idempotency,
    ) -> Result<Answer> {
        let mut request = self
            .http
            .request(method.clone(), self.config.url(path))
            .bearer_auth(token.expose());
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(v) => request.json(v),
            Body::Multipart(form) => request.multipart(form()?),
        };
        let response = http::send(SERVICE, idempotency, request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = body_bytes(SERVICE, idempotency, response).await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Sends an authenticated request; on 401 refreshes once and repeats it once. Returns the
    /// answer whatever its status.
    pub(crate) async fn raw_call(
        &self,
        connection: &PlatformConnection,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body<'_>,
        idempotency: Idempotency,
    ) -> Result<Answer> {
        let credentials = self
            .tokens
            .access_token(connection, self.connector.as_ref())
            .await?;
        let answer = self
            .send_once(
                &method,
                path,
                query,
                &body,
                &credentials.access_token,
                idempotency,
            )
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!(connection = %connection.id, "X refused the access token; refreshing once");
        let fresh = self
            .tokens
            .after_rejection(
                connection,
                &credentials.access_token,
                self.connector.as_ref(),
            )
            .await?;
        self.send_once(
            &method,
            path,
            query,
            &body,
            &fresh.access_token,
            idempotency,
        )
        .await
    }

    /// [`raw_call`](Self::raw_call), with error answers classified.
    pub(crate) async fn call(
        &self,
        connection: &PlatformConnection,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body<'_>,
        idempotency: Idempotency,
    ) -> Result<Answer> {
        let answer = self
            .raw_call(connection, method, path, query, body, idempotency)
            .await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(classify(
                answer.status,
                &answer.headers,
                &answer.body,
                self.now(),
            ))
        }
    }

    /// Records the rate-limit headers of an answer to `bucket` (`create`, `delete`, `timeline`).
    pub(super) async fn observe(&self, account: &str, bucket: &str, answer: &Answer) -> Result<()> {
        for (family, remaining, reset) in HEADER_FAMILIES {
            let (Some(remaining), Some(at)) = (
                header_i64(&answer.headers, remaining),
                header_i64(&answer.headers, reset)
                    .and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
            ) else {
                continue;
            };
            let owner = if family == "app_24h" {
                APP_ACCOUNT
            } else {
                account
            };
            self.budgets
                .observe(
                    PLATFORM,
                    owner,
                    &format!("{bucket}_{family}"),
                    remaining,
                    at,
                )
                .await?;
        }
        if answer.status == StatusCode::TOO_MANY_REQUESTS
            && let Some(wait) = super::retry_after(&answer.headers, self.now())
            && let Ok(wait) = chrono::Duration::from_std(wait)
        {
            self.budgets
                .block_until(
                    PLATFORM,
                    account,
                    &format!("{bucket}_blocked"),
                    self.now() + wait,
                )
                .await?;
        }
        Ok(())
    }

    pub(super) async fn check_budget(
        &self,
        account: &str,
        bucket: &str,
        limit: Limit,
        cost: u32,
    ) -> Result<()> {
        let b15 = format!("{bucket}_15min");
        let b24 = format!("{bucket}_user_24h");
        let blocked = format!("{bucket}_blocked");
        self.budgets
            .check(
                PLATFORM,
                account,
                &[limit],
                &[b15.as_str(), b24.as_str(), blocked.as_str()],
                cost,
            )
            .await?;
        let app = format!("{bucket}_app_24h");
        self.budgets
            .check(PLATFORM, APP_ACCOUNT, &[], &[app.as_str()], cost)
            .await
    }
}
