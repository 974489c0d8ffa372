//! [`Endpoint`]: the server's base URL, key and timeout, and JSON posting.

use std::time::Duration;

use quflux_core::{Result, Secret};
use serde::Serialize;

use super::PROVIDER;
use crate::http::{Reply, send};

/// Where and how to call the server.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<Secret<String>>,
    timeout: Duration,
}

impl Endpoint {
    pub(super) fn new(
        client: reqwest::Client,
        base_url: String,
        api_key: Option<Secret<String>>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            base_url,
            api_key,
            timeout,
        }
    }

    /// The API key, for stripping it from error bodies.
    pub(super) fn key(&self) -> Option<&Secret<String>> {
        self.api_key.as_ref()
    }

    /// `POST {base}{path}` with `body` as JSON (and the bearer key, if any).
    pub(super) async fn post<B: Serialize + Sync>(&self, path: &str, body: &B) -> Result<Reply> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .timeout(self.timeout)
            .json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        send(PROVIDER, request).await
    }

    /// `GET url` (an image URL the server returned; no key is sent to it).
    pub(super) async fn get(&self, url: &str) -> Result<Reply> {
        send(PROVIDER, self.client.get(url).timeout(self.timeout)).await
    }
}
