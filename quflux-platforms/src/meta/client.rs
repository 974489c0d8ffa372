//! Graph API calls: bearer token, usage headers into the rate budget, failures into `classify`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use quflux_core::{Cache, Clock, Error, ErrorKind, Platform, PlatformConnection, Result, Secret};
use reqwest::Method;
use serde_json::Value;

use super::MetaConfig;
use super::error::{DEFAULT_THROTTLE_WAIT, Envelope, Op, classify, usage};
use crate::common::http::{Idempotency, body_bytes, join, send};
use crate::common::{RateBudgets, TokenManager, TokenRefresher, TokenSet};

/// Bucket of the usage-header budget (one per account).
pub(crate) const USAGE_BUCKET: &str = "graph_usage";

/// A request body.
pub(crate) enum Body {
    /// No body.
    None,
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// JSON.
    Json(Value),
    /// Multipart (photo bytes as `source`).
    Multipart(reqwest::multipart::Form),
}

/// Graph API access for one platform (Facebook or Instagram).
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub(crate) platform: Platform,
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) budgets: Option<RateBudgets>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Graph {
    pub(crate) fn new(
        platform: Platform,
        config: &MetaConfig,
        cache: Option<Arc<dyn Cache>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        config.validate_graph()?;
        Ok(Self {
            platform,
            http: config.http.client()?,
            base: config.graph_url(),
            budgets: cache.map(|c| RateBudgets::new(c, Arc::clone(&clock))),
            clock,
        })
    }

    pub(crate) fn service(&self) -> &'static str {
        self.platform.as_str()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The budget check made before every call on behalf of `account`: refused while a usage
    /// header at 100 % or a throttling error blocks the account. No network.
    pub(crate) async fn admission(&self, account: &str) -> Result<()> {
        match &self.budgets {
            Some(b) => {
                b.check(self.platform, account, &[], &[USAGE_BUCKET], 1)
                    .await
            }
            None => Ok(()),
        }
    }

    /// One Graph call on behalf of `account` (a Page or IG user id, for the usage budget).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call(
        &self,
        token: &Secret<String>,
        account: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
        op: Op,
    ) -> Result<Value> {
        let service = self.service();
        self.admission(account).await?;
        let mut request = self
            .http
            .request(method, join(&self.base, path))
            .bearer_auth(token.expose());
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::None => request,
            Body::Form(f) => request.form(&f),
            Body::Json(j) => request.json(&j),
            Body::Multipart(m) => request.multipart(m),
        };
        let idempotency = if op.creates() {
            Idempotency::Unsafe
        } else {
            Idempotency::Safe
        };
        let response = send(service, idempotency, request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = body_bytes(service, idempotency, response).await?;
        let (percent, wait) = usage(&headers, account);
        let throttle_code = serde_json::from_slice::<Envelope>(&bytes)
            .ok()
            .is_some_and(|e| matches!(e.error.code, 4 | 17 | 32 | 613 | 80_001 | 80_002));
        if let Some(b) = &self.budgets
            && (percent.is_some_and(|p| p >= 100) || throttle_code)
        {
            let wait = chrono::Duration::from_std(wait.unwrap_or(DEFAULT_THROTTLE_WAIT))
                .unwrap_or_else(|_| chrono::Duration::minutes(5));
            b.block_until(self.platform, account, USAGE_BUCKET, self.now() + wait)
                .await?;
        } else if percent.is_some_and(|p| p >= 75) {
            tracing::warn!(
                platform = service,
                account,
                percent,
                "Graph API usage above 75%"
            );
        }
        if !status.is_success() {
            return Err(classify(service, op, status, &headers, account, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            if op.creates() {
                Error::OutcomeUnknown {
                    service,
                    source: format!("unreadable answer to a create: {e}").into(),
                }
            } else {
                Error::other(service, e)
            }
        })
    }
}

/// Page tokens do not expire and cannot be refreshed: a refused one needs a new login.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoRefresh(pub(crate) Platform);

#[async_trait::async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        Err(no_refresh(self.0))
    }
}

pub(crate) fn no_refresh(platform: Platform) -> Error {
    Error::AuthExpired {
        service: platform.as_str(),
        source: Some("Meta Page tokens cannot be refreshed; log in with Facebook again".into()),
    }
}

/// Gets the connection's token, runs `call`, and marks the connection `needs_reauth` when the
/// platform refused the token.
pub(crate) struct Authed<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) tokens: &'a TokenManager,
    pub(crate) connection: &'a PlatformConnection,
    pub(crate) token: Secret<String>,
}

impl<'a> Authed<'a> {
    pub(crate) async fn new(
        graph: &'a Graph,
        tokens: &'a TokenManager,
        connection: &'a PlatformConnection,
    ) -> Result<Self> {
        let refresher = NoRefresh(graph.platform);
        let credentials = tokens.access_token(connection, &refresher).await?;
        Ok(Self {
            graph,
            tokens,
            connection,
            token: credentials.access_token,
        })
    }

    pub(crate) fn account(&self) -> &str {
        &self.connection.platform_user_id
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
        op: Op,
    ) -> Result<Value> {
        let result = self
            .graph
            .call(&self.token, self.account(), method, path, query, body, op)
            .await;
        if let Err(e) = &result
            && e.kind() == ErrorKind::AuthExpired
        {
            let refresher = NoRefresh(self.graph.platform);
            // Marks the connection `needs_reauth` and notifies its owner (once).
            if let Err(again) = self
                .tokens
                .after_rejection(self.connection, &self.token, &refresher)
                .await
            {
                tracing::warn!(platform = self.graph.service(), connection = %self.connection.id, error = %again.detailed_message(), "Meta token refused");
            }
        }
        result
    }
}

/// The `id` field of a Graph answer.
pub(crate) fn id_of(service: &'static str, op: Op, value: &Value, field: &str) -> Result<String> {
    value
        .get(field)
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| {
            let source = format!("the answer carries no `{field}`").into();
            if op.creates() {
                Error::OutcomeUnknown { service, source }
            } else {
                Error::Other { service, source }
            }
        })
}
