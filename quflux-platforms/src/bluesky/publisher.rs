//! [`Publisher`] for Bluesky.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    Error, ErrorKind, Lookup, MediaKind, Platform, PlatformConnection, PlatformPostId,
    PublishRequest, PublishedPost, Publisher, Result, rules,
};
use serde_json::{Value, json};

use super::connector::BlueskyConnector;
use super::record::{self, StrongRef};
use super::xrpc::{Body, Failure, Reply, Xrpc, field};
use super::{
    BLOB_BUCKET, BlueskyConfig, CREATE_POINTS, DELETE_POINTS, PLATFORM, POST_COLLECTION,
    WRITE_BUCKET, WRITE_LIMITS, facets, tid,
};
use crate::common::http::header_i64;
use crate::common::{Idempotency, RateBudgets, TokenManager};

/// Publishes posts, images, link cards and threads to Bluesky.
///
/// # Contract
/// - The request is checked against [`quflux_core::rules`] (300 graphemes and 3000 bytes per
///   part, ≤ 4 images with alt text) before any request; a violation is
///   [`Error::Validation`]. Video is not supported yet ([`Error::Unsupported`]).
/// - Every part's record key is [`tid::for_part`] of the idempotency key: `lookup` reads the
///   records back by key, and a resend writes the same keys, so it never creates a second post.
///   A resend (attempt > 1) first reads every part back and only creates the missing ones; a
///   `500` on create (what `@atproto/pds` answers when the key already exists) is settled the
///   same way.
/// - Rate budgets: the published write limits ([`WRITE_LIMITS`], create = 3 points) and the
///   `RateLimit-*` headers, per account DID, checked before sending.
///
/// # Errors
/// [`Error::Validation`], [`Error::RateLimited`] (with the reset time), [`Error::AuthExpired`]
/// (after one refresh of an `ExpiredToken`), [`Error::InvalidContent`] (`InvalidRequest`),
/// [`Error::Transient`] (5xx, nothing created), [`Error::OutcomeUnknown`] (no answer to a
/// create: settle with `lookup`).
#[derive(Debug, Clone)]
pub struct BlueskyPublisher {
    config: BlueskyConfig,
    xrpc: Xrpc,
    connector: Arc<BlueskyConnector>,
    tokens: Arc<TokenManager>,
    budgets: RateBudgets,
}

/// Which rate bucket a call counts against.
#[derive(Debug, Clone, Copy)]
enum Bucket {
    Write,
    Blob,
    None,
}

/// One XRPC call, sent again as is after a session refresh.
#[derive(Debug)]
enum Call<'a> {
    Query {
        nsid: &'static str,
        query: &'a [(&'a str, &'a str)],
    },
    Procedure {
        nsid: &'static str,
        body: Body,
        idempotency: Idempotency,
    },
}

impl Call<'_> {
    async fn send(
        &self,
        xrpc: &Xrpc,
        pds: &str,
        token: &quflux_core::Secret<String>,
    ) -> std::result::Result<Reply, Failure> {
        match self {
            Self::Query { nsid, query } => xrpc.query(pds, nsid, Some(token), query).await,
            Self::Procedure {
                nsid,
                body,
                idempotency,
            } => {
                xrpc.procedure(pds, nsid, Some(token), body.clone(), *idempotency)
                    .await
            }
        }
    }
}

impl BlueskyPublisher {
    /// A publisher using `tokens` for sessions and `budgets` for rate limits.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(
        config: BlueskyConfig,
        tokens: Arc<TokenManager>,
        budgets: RateBudgets,
    ) -> Result<Self> {
        let clock = Arc::clone(tokens.clock());
        let connector = Arc::new(BlueskyConnector::with_clock(config.clone(), clock.clone())?);
        let xrpc = Xrpc::new(config.http.client()?, clock);
        Ok(Self {
            config,
            xrpc,
            connector,
            tokens,
            budgets,
        })
    }

    /// The connector this publisher refreshes sessions with.
    pub fn connector(&self) -> &Arc<BlueskyConnector> {
        &self.connector
    }

    /// One authenticated call: refreshes the session once on `ExpiredToken`/`InvalidToken`,
    /// records the rate headers of `bucket`.
    async fn call(
        &self,
        connection: &PlatformConnection,
        bucket: Bucket,
        request: Call<'_>,
    ) -> std::result::Result<Reply, Failure> {
        let credentials = self
            .tokens
            .access_token(connection, self.connector.as_ref())
            .await?;
        let pds = self.connector.pds_of(&credentials.connection);
        let mut result = request
            .send(&self.xrpc, &pds, &credentials.access_token)
            .await;
        if let Err(f) = &result
            && f.token_rejected
        {
            let fresh = self
                .tokens
                .after_rejection(
                    connection,
                    &credentials.access_token,
                    self.connector.as_ref(),
                )
                .await?;
            let pds = self.connector.pds_of(&fresh.connection);
            result = request.send(&self.xrpc, &pds, &fresh.access_token).await;
        }
        let headers = match &result {
            Ok(reply) => Some(&reply.headers),
            Err(f) => f.headers.as_ref(),
        };
        let bucket = match bucket {
            Bucket::Write => Some(WRITE_BUCKET),
            Bucket::Blob => Some(BLOB_BUCKET),
            Bucket::None => None,
        };
        if let (Some(headers), Some(bucket)) = (headers, bucket) {
            self.observe(connection, bucket, headers, result.as_ref().err())
                .await?;
        }
        result
    }

    async fn observe(
        &self,
        connection: &PlatformConnection,
        bucket: &str,
        headers: &reqwest::header::HeaderMap,
        failure: Option<&Failure>,
    ) -> Result<()> {
        let account = connection.platform_user_id.as_str();
        let reset =
            header_i64(headers, "ratelimit-reset").and_then(|s| DateTime::from_timestamp(s, 0));
        if let Some(f) = failure
            && f.error.kind() == ErrorKind::RateLimited
        {
            let until = reset.or_else(|| {
                f.error
                    .retry_after()
                    .and_then(|d| chrono::Duration::from_std(d).ok())
                    .map(|d| self.xrpc.now() + d)
            });
            if let Some(until) = until {
                self.budgets
                    .block_until(Platform::Bluesky, account, bucket, until)
                    .await?;
            }
            return Ok(());
        }
        if let (Some(remaining), Some(reset)) = (header_i64(headers, "ratelimit-remaining"), reset)
        {
            self.budgets
                .observe(Platform::Bluesky, account, bucket, remaining, reset)
                .await?;
        }
        Ok(())
    }

    /// `getRecord` of one of the account's posts; `None` when it does not exist.
    async fn get_post(
        &self,
        connection: &PlatformConnection,
        rkey: &str,
    ) -> Result<Option<(StrongRef, Value)>> {
        let repo = connection.platform_user_id.as_str();
        let result = self
            .call(
                connection,
                Bucket::None,
                Call::Query {
                    nsid: "com.atproto.repo.getRecord",
                    query: &[
                        ("repo", repo),
                        ("collection", POST_COLLECTION),
                        ("rkey", rkey),
                    ],
                },
            )
            .await;
        match result {
            Ok(reply) => Ok(Some((
                strong_ref(&reply.body)?,
                reply.body["value"].clone(),
            ))),
            Err(f) if f.error.kind() == ErrorKind::NotFound => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    async fn resolve_handle(
        &self,
        connection: &PlatformConnection,
        handle: &str,
    ) -> Result<Option<String>> {
        let base = self
            .config
            .app_view_url
            .clone()
            .unwrap_or_else(|| self.connector.pds_of(connection));
        match self
            .xrpc
            .query(
                &base,
                "com.atproto.identity.resolveHandle",
                None,
                &[("handle", handle)],
            )
            .await
        {
            Ok(reply) => Ok(reply
                .body
                .get("did")
                .and_then(Value::as_str)
                .map(str::to_owned)),
            // HandleNotFound, InvalidRequest, ...: the mention stays plain text.
            Err(f)
                if f.status
                    .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
            {
                Ok(None)
            }
            Err(f) => Err(f.error),
        }
    }

    async fn upload_images(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Vec<Value>> {
        let mut blobs = Vec::with_capacity(request.media.len());
        for media in &request.media {
            let reply = self
                .call(
                    connection,
                    Bucket::Blob,
                    Call::Procedure {
                        nsid: "com.atproto.repo.uploadBlob",
                        body: Body::Raw {
                            mime: media.file.content_type.clone(),
                            bytes: media.bytes.clone(),
                        },
                        idempotency: Idempotency::Safe,
                    },
                )
                .await
                .map_err(|f| f.error)?;
            let blob = reply
                .body
                .get("blob")
                .cloned()
                .ok_or_else(|| Error::other(PLATFORM, "uploadBlob answered no `blob`"))?;
            blobs.push(blob);
        }
        Ok(blobs)
    }

    /// `createRecord` with key `rkey`; a 5xx is settled by reading the key back.
    async fn create(
        &self,
        connection: &PlatformConnection,
        rkey: &str,
        record: Value,
    ) -> Result<(StrongRef, Option<DateTime<Utc>>)> {
        let account = connection.platform_user_id.as_str();
        let body = json!({
            "repo": account,
            "collection": POST_COLLECTION,
            "rkey": rkey,
            "record": record,
        });
        let result = self
            .call(
                connection,
                Bucket::Write,
                Call::Procedure {
                    nsid: "com.atproto.repo.createRecord",
                    body: Body::Json(body),
                    idempotency: Idempotency::Unsafe,
                },
            )
            .await;
        if !matches!(&result, Err(f) if f.status.is_none() && f.error.kind() != ErrorKind::OutcomeUnknown)
        {
            // Sent (or possibly sent): it counts against the write budget.
            self.budgets
                .spend(Platform::Bluesky, account, &WRITE_LIMITS, CREATE_POINTS)
                .await?;
        }
        match result {
            Ok(reply) => Ok((strong_ref(&reply.body)?, None)),
            Err(f) if f.status.is_some_and(|s| s >= 500) => {
                // The key may already exist (a 500 from @atproto/pds), or the write may have
                // happened before the failure: the record itself says.
                match self.get_post(connection, rkey).await {
                    Ok(Some((found, value))) => Ok((found, created_at(&value))),
                    Ok(None) => Err(Error::Transient {
                        service: PLATFORM,
                        source: Box::new(f.error),
                    }),
                    Err(_) => Err(f.error),
                }
            }
            Err(f) => Err(f.error),
        }
    }

    /// The budget check of a publish: every part's `createRecord` (3 points each) must fit the
    /// account's write limits and its `RateLimit-*` bucket. No network.
    async fn admission(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<()> {
        let points =
            CREATE_POINTS.saturating_mul(u32::try_from(parts(request).len()).unwrap_or(u32::MAX));
        self.budgets
            .check(
                Platform::Bluesky,
                &connection.platform_user_id,
                &WRITE_LIMITS,
                &[WRITE_BUCKET],
                points,
            )
            .await
    }

    fn validate(&self, request: &PublishRequest) -> Result<()> {
        let content = request.content();
        let violations = rules::validate(Platform::Bluesky, &content, &request.media_files());
        if !violations.is_empty() {
            return Err(Error::Validation { violations });
        }
        if request
            .media
            .iter()
            .any(|m| !matches!(m.file.kind(), MediaKind::Image))
        {
            return Err(Error::Unsupported {
                service: PLATFORM,
                operation: "video and GIF posts",
            });
        }
        Ok(())
    }

    fn published(
        &self,
        connection: &PlatformConnection,
        refs: &[StrongRef],
        published_at: DateTime<Utc>,
    ) -> Result<PublishedPost> {
        let (first, rest) = refs
            .split_first()
            .ok_or_else(|| Error::other(PLATFORM, "no post was created"))?;
        let url = record::parse_at_uri(&first.uri).map(|(_, _, rkey)| {
            format!(
                "{}/profile/{}/post/{rkey}",
                self.config.web_url.trim_end_matches('/'),
                connection.platform_username
            )
        });
        Ok(PublishedPost {
            platform_post_id: PlatformPostId::new(first.uri.clone()),
            url,
            thread_ids: rest
                .iter()
                .map(|r| PlatformPostId::new(r.uri.clone()))
                .collect(),
            published_at,
        })
    }
}

fn strong_ref(body: &Value) -> Result<StrongRef> {
    Ok(StrongRef {
        uri: field(body, "uri")?.to_owned(),
        cid: field(body, "cid")?.to_owned(),
    })
}

/// The `createdAt` of a record.
fn created_at(value: &Value) -> Option<DateTime<Utc>> {
    value
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn parts(request: &PublishRequest) -> Vec<&str> {
    std::iter::once(request.text.as_str())
        .chain(request.thread.iter().map(String::as_str))
        .collect()
}

#[async_trait]
impl Publisher for BlueskyPublisher {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        self.validate(request)?;
        self.admission(connection, request).await?;
        let texts = parts(request);

        // Facets of every part, mentions resolved, before anything is written.
        let detected: Vec<_> = texts.iter().map(|t| facets::detect(t)).collect();
        let mut dids: HashMap<String, Option<String>> = HashMap::new();
        for f in detected.iter().flatten() {
            if let facets::FacetKind::Mention(handle) = &f.kind
                && !dids.contains_key(handle)
            {
                let did = self.resolve_handle(connection, handle).await?;
                dids.insert(handle.clone(), did);
            }
        }

        let reconcile = request.attempt > 1;
        let mut refs: Vec<StrongRef> = Vec::with_capacity(texts.len());
        let mut published_at = self.xrpc.now();
        for (i, text) in texts.iter().enumerate() {
            let rkey = tid::for_part(&request.idempotency_key, i);
            if reconcile && let Some((found, value)) = self.get_post(connection, &rkey).await? {
                if i == 0
                    && let Some(at) = created_at(&value)
                {
                    published_at = at;
                }
                refs.push(found);
                continue;
            }
            let embed = if i > 0 {
                None
            } else if !request.media.is_empty() {
                let blobs = self.upload_images(connection, request).await?;
                Some(record::images_embed(&request.media, blobs))
            } else {
                request
                    .link_url
                    .as_deref()
                    .or(request.link_preview.as_ref().map(|p| p.url.as_str()))
                    .map(|url| record::external_embed(url, request.link_preview.as_ref()))
            };
            let facets = record::facets_json(&detected[i], |h| dids.get(h).cloned().flatten());
            let reply = match (refs.first(), refs.last()) {
                (Some(root), Some(parent)) => Some((root, parent)),
                _ => None,
            };
            let now = self.xrpc.now();
            let value = record::post(text, facets, embed, reply, now);
            let (created, existing_at) = self.create(connection, &rkey, value).await?;
            if i == 0 {
                published_at = existing_at.unwrap_or(now);
            }
            refs.push(created);
        }
        self.published(connection, &refs, published_at)
    }

    /// The same budget check `publish` makes before anything is sent; sends nothing.
    ///
    /// # Errors
    /// [`Error::RateLimited`] until the write budget frees.
    async fn admit(&self, connection: &PlatformConnection, request: &PublishRequest) -> Result<()> {
        self.admission(connection, request).await
    }

    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        let (repo, collection, rkey) = record::parse_at_uri(id.as_str())
            .ok_or_else(|| Error::invalid_input("id", "not an at:// URI of a record"))?;
        let body = json!({ "repo": repo, "collection": collection, "rkey": rkey });
        let account = connection.platform_user_id.as_str();
        self.budgets
            .check(
                Platform::Bluesky,
                account,
                &WRITE_LIMITS,
                &[WRITE_BUCKET],
                DELETE_POINTS,
            )
            .await?;
        let result = self
            .call(
                connection,
                Bucket::Write,
                Call::Procedure {
                    nsid: "com.atproto.repo.deleteRecord",
                    body: Body::Json(body),
                    idempotency: Idempotency::Safe,
                },
            )
            .await;
        self.budgets
            .spend(Platform::Bluesky, account, &WRITE_LIMITS, DELETE_POINTS)
            .await?;
        result.map(|_| ()).map_err(|f| f.error)
    }

    /// Reads every part back by its record key. All found: `Published`. The first missing:
    /// `NotPublished`. Some parts missing: `NotPublished` as well — a resend reads the existing
    /// parts back and creates only the missing ones under their fixed keys, so it cannot
    /// duplicate anything.
    async fn lookup(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        let mut refs = Vec::new();
        let mut published_at = None;
        for i in 0..parts(request).len() {
            let rkey = tid::for_part(&request.idempotency_key, i);
            match self.get_post(connection, &rkey).await? {
                Some((found, value)) => {
                    if i == 0 {
                        published_at = created_at(&value);
                    }
                    refs.push(found);
                }
                None => return Ok(Lookup::NotPublished),
            }
        }
        let at = published_at.unwrap_or_else(|| self.xrpc.now());
        Ok(Lookup::Published(self.published(connection, &refs, at)?))
    }
}
