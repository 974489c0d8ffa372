//! `impl Publisher` for LinkedIn: posts, images, articles, deletion.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use quflux_core::{
    Cache, Error, ErrorKind, Lookup, Platform, PlatformConnection, PlatformPostId, PublishMedia,
    PublishRequest, PublishedPost, Publisher, Result, Secret,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::PLATFORM;
use super::connector::{AUTHOR_URN_KEY, LinkedInConnector};
use super::error::{
    THROTTLE_BACKOFF, classify, duplicate_urn, is_day_limit, is_duplicate, next_utc_midnight,
};
use super::little::escape_little;
use crate::common::http::{self, Idempotency, PlatformResponse, join};
use crate::common::{Credentials, Limit, RateBudgets, TokenManager};

/// The rate bucket blocked after a 429 naming a DAY limit (daily quotas reset at 00:00 UTC).
const DAY_BUCKET: &str = "posts_day";
/// The rate bucket blocked after any other 429 (infrastructure protection): for `Retry-After`,
/// else [`THROTTLE_BACKOFF`].
const THROTTLE_BUCKET: &str = "throttled";
/// The `X-Restli-Protocol-Version` every versioned call carries.
const RESTLI_VERSION: &str = "2.0.0";
/// How long uploaded image URNs are remembered for a resend of the same publication.
const IMAGE_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// Publishes member posts through the Posts API. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct LinkedInPublisher {
    connector: Arc<LinkedInConnector>,
    tokens: Arc<TokenManager>,
    cache: Arc<dyn Cache>,
    budgets: RateBudgets,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeUpload {
    value: UploadTarget,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadTarget {
    upload_url: String,
    image: String,
}

#[derive(Deserialize)]
struct ImageStatus {
    #[serde(default)]
    status: Option<String>,
}

/// An answer read in full.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// `urn` percent-encoded for a URL path (`urn%3Ali%3Ashare%3A…`).
pub fn encode_urn(urn: &str) -> String {
    url::form_urlencoded::byte_serialize(urn.as_bytes()).collect()
}

/// The public URL of a post.
pub fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}")
}

/// The author URN of a connection: its stored `author_urn`, else `urn:li:person:{account id}`.
pub fn author_urn(connection: &PlatformConnection) -> String {
    connection
        .metadata
        .get(AUTHOR_URN_KEY)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("urn:li:person:{}", connection.platform_user_id))
}

impl LinkedInPublisher {
    /// A publisher using `connector` (configuration, HTTP client, token refresh), `tokens`, and
    /// `cache` for rate budgets and resend memory.
    pub fn new(
        connector: Arc<LinkedInConnector>,
        tokens: Arc<TokenManager>,
        cache: Arc<dyn Cache>,
    ) -> Self {
        let budgets = RateBudgets::new(Arc::clone(&cache), Arc::clone(tokens.clock()));
        Self {
            connector,
            tokens,
            cache,
            budgets,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.tokens.clock().now()
    }

    fn limits(&self) -> [Limit; 1] {
        [Limit::new(
            "posts_day",
            self.connector.config().daily_post_limit,
            Duration::from_secs(24 * 3600),
        )]
    }

    fn url(&self, path: &str) -> String {
        join(&self.connector.config().api_base, path)
    }

    /// The budget check of a publish: the member's daily post budget (counted locally) and the
    /// blocks left by a 429 (until midnight UTC for a DAY limit, briefly otherwise). No network.
    async fn admission(&self, connection: &PlatformConnection) -> Result<()> {
        self.budgets
            .check(
                Platform::Linkedin,
                &connection.platform_user_id,
                &self.limits(),
                &[DAY_BUCKET, THROTTLE_BUCKET],
                1,
            )
            .await
    }

    /// The three headers every versioned call needs.
    fn rest(
        &self,
        request: reqwest::RequestBuilder,
        token: &Secret<String>,
    ) -> reqwest::RequestBuilder {
        request
            .bearer_auth(token.expose())
            .header("LinkedIn-Version", &self.connector.config().version)
            .header("X-Restli-Protocol-Version", RESTLI_VERSION)
    }

    /// Core rules first, then what this adapter cannot send. No network.
    fn check(request: &PublishRequest) -> Result<()> {
        request.check_rules(Platform::Linkedin)?;
        if request
            .media
            .iter()
            .any(|m| !m.file.content_type.starts_with("image/"))
        {
            return Err(Error::Unsupported {
                service: PLATFORM,
                operation: "video posts (only images are uploaded)",
            });
        }
        Ok(())
    }

    /// Sends the request `build` makes with the current token; on a 401 refreshes (or marks
    /// the connection for re-authorization) and sends once more.
    async fn send(
        &self,
        connection: &PlatformConnection,
        credentials: &mut Credentials,
        idempotency: Idempotency,
        build: &(dyn Fn(&Secret<String>) -> reqwest::RequestBuilder + Sync),
    ) -> Result<Answer> {
        let mut retried = false;
        loop {
            let response =
                http::send(PLATFORM, idempotency, build(&credentials.access_token)).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = http::body_bytes(PLATFORM, idempotency, response).await?;
            if status == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                tracing::info!(connection = %connection.id, "LinkedIn refused the access token; refreshing");
                *credentials = self
                    .tokens
                    .after_rejection(connection, &credentials.access_token, &*self.connector)
                    .await?;
                continue;
            }
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
    }

    fn fail(&self, answer: &Answer) -> Error {
        classify(answer.status, &answer.headers, &answer.body, self.now())
    }

    /// Uploads one image (initializeUpload → PUT → poll until `AVAILABLE`); returns its URN.
    async fn upload_image(
        &self,
        connection: &PlatformConnection,
        credentials: &mut Credentials,
        author: &str,
        media: &PublishMedia,
    ) -> Result<String> {
        let init_url = self.url("rest/images?action=initializeUpload");
        let init_body = json!({ "initializeUploadRequest": { "owner": author } });
        let answer = self
            .send(connection, credentials, Idempotency::Safe, &|token| {
                self.rest(self.connector.http().post(&init_url), token)
                    .json(&init_body)
            })
            .await?;
        if !answer.status.is_success() {
            return Err(self.fail(&answer));
        }
        let target: InitializeUpload = serde_json::from_slice(&answer.body).map_err(|e| {
            Error::other(
                PLATFORM,
                format!(
                    "unreadable initializeUpload answer: {e}; {}",
                    PlatformResponse::new(answer.status, &answer.body)
                ),
            )
        })?;
        let bytes = media.bytes.clone();
        let upload_url = target.value.upload_url;
        let answer = self
            .send(connection, credentials, Idempotency::Safe, &|token| {
                self.connector
                    .http()
                    .put(&upload_url)
                    .bearer_auth(token.expose())
                    .header("Content-Type", "application/octet-stream")
                    .body(bytes.clone())
            })
            .await?;
        if !answer.status.is_success() {
            return Err(self.fail(&answer));
        }
        let image = target.value.image;
        let status_url = self.url(&format!("rest/images/{}", encode_urn(&image)));
        let config = self.connector.config();
        for attempt in 0..config.image_poll_attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(config.image_poll_interval).await;
            }
            let answer = self
                .send(connection, credentials, Idempotency::Safe, &|token| {
                    self.rest(self.connector.http().get(&status_url), token)
                })
                .await?;
            if !answer.status.is_success() {
                return Err(self.fail(&answer));
            }
            let state: ImageStatus = serde_json::from_slice(&answer.body)
                .map_err(|e| Error::other(PLATFORM, format!("unreadable image status: {e}")))?;
            match state.status.as_deref() {
                Some("AVAILABLE") => return Ok(image),
                Some("PROCESSING_FAILED") => {
                    return Err(Error::InvalidContent {
                        service: PLATFORM,
                        reason: format!("LinkedIn could not process the image {image}"),
                    });
                }
                _ => {}
            }
        }
        Err(Error::transient(
            PLATFORM,
            format!("the image {image} is still processing"),
        ))
    }

    /// The image URNs of `request`: remembered from an earlier attempt (so a resend carries the
    /// identical body), else uploaded now.
    async fn images(
        &self,
        connection: &PlatformConnection,
        credentials: &mut Credentials,
        author: &str,
        request: &PublishRequest,
    ) -> Result<Vec<String>> {
        if request.media.is_empty() {
            return Ok(Vec::new());
        }
        let key = format!(
            "linkedin:images:{}:{}",
            connection.id, request.idempotency_key
        );
        if let Some(remembered) = self
            .cache
            .get(&key)
            .await?
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .filter(|urns| urns.len() == request.media.len())
        {
            return Ok(remembered);
        }
        let mut urns = Vec::with_capacity(request.media.len());
        for media in &request.media {
            urns.push(
                self.upload_image(connection, credentials, author, media)
                    .await?,
            );
        }
        self.cache
            .set(&key, &json!(urns), Some(IMAGE_MEMORY))
            .await?;
        Ok(urns)
    }

    fn published(&self, urn: String) -> PublishedPost {
        PublishedPost {
            url: Some(post_url(&urn)),
            platform_post_id: PlatformPostId::new(urn),
            thread_ids: Vec::new(),
            published_at: self.now(),
        }
    }
}

/// The `POST /rest/posts` body.
fn post_body(author: &str, request: &PublishRequest, images: &[String]) -> Value {
    let mut body = json!({
        "author": author,
        "commentary": escape_little(&request.text),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": []
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false
    });
    let image = |(urn, media): (&String, &PublishMedia)| {
        let mut item = json!({ "id": urn });
        if let Some(alt) = media.alt_text.as_deref().filter(|a| !a.is_empty()) {
            item["altText"] = json!(alt);
        }
        item
    };
    let mut items = images.iter().zip(&request.media).map(image);
    let content = match images.len() {
        0 => request.link_url.as_deref().map(|source| {
            let preview = request.link_preview.as_ref();
            let mut article = json!({
                "source": source,
                "title": preview.and_then(|p| p.title.as_deref()).unwrap_or(source),
            });
            if let Some(d) = preview.and_then(|p| p.description.as_deref()) {
                article["description"] = json!(d);
            }
            json!({ "article": article })
        }),
        1 => items.next().map(|item| json!({ "media": item })),
        _ => Some(json!({ "multiImage": { "images": items.collect::<Vec<_>>() } })),
    };
    if let Some(content) = content {
        body["content"] = content;
    }
    body
}

#[async_trait]
impl Publisher for LinkedInPublisher {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        Self::check(request)?;
        self.admission(connection).await?;
        let account = connection.platform_user_id.as_str();
        let limits = self.limits();
        let author = author_urn(connection);
        let mut credentials = self
            .tokens
            .access_token(connection, &*self.connector)
            .await?;
        let images = self
            .images(connection, &mut credentials, &author, request)
            .await?;
        let body = post_body(&author, request, &images);
        let url = self.url("rest/posts");
        let sent = self
            .send(
                connection,
                &mut credentials,
                Idempotency::Unsafe,
                &|token| {
                    self.rest(self.connector.http().post(&url), token)
                        .json(&body)
                },
            )
            .await;
        if !matches!(&sent, Err(e) if e.kind() == ErrorKind::Transient) {
            self.budgets
                .spend(Platform::Linkedin, account, &limits, 1)
                .await?;
        }
        let answer = sent?;
        match answer.status.as_u16() {
            200 | 201 => {
                let urn = http::header(&answer.headers, "x-restli-id")
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| Error::OutcomeUnknown {
                        service: PLATFORM,
                        source: "LinkedIn created the post but sent no x-restli-id".into(),
                    })?;
                Ok(self.published(urn))
            }
            422 if request.attempt > 1 && is_duplicate(&answer.body) => {
                // An earlier attempt of this request landed: LinkedIn names it.
                match duplicate_urn(&answer.body) {
                    Some(urn) => {
                        tracing::info!(connection = %connection.id, urn = %urn, "resend matched the post of an earlier attempt");
                        Ok(self.published(urn))
                    }
                    None => Err(self.fail(&answer)),
                }
            }
            429 => {
                let error = self.fail(&answer);
                let now = self.now();
                // Only a 429 naming a DAY limit blocks the member until the quotas reset;
                // any other one (infrastructure protection) is a short back-off.
                let (bucket, until) = if is_day_limit(&answer.body) {
                    (DAY_BUCKET, next_utc_midnight(now))
                } else {
                    let wait = error.retry_after().unwrap_or(THROTTLE_BACKOFF);
                    let wait = chrono::Duration::from_std(wait)
                        .unwrap_or_else(|_| chrono::Duration::seconds(60));
                    (THROTTLE_BUCKET, now + wait)
                };
                tracing::info!(connection = %connection.id, bucket, until = %until, "LinkedIn throttled the member");
                self.budgets
                    .block_until(Platform::Linkedin, account, bucket, until)
                    .await?;
                Err(error)
            }
            _ => Err(self.fail(&answer)),
        }
    }

    /// The same budget check `publish` makes before anything is sent; sends nothing.
    ///
    /// # Errors
    /// [`Error::RateLimited`] until the daily budget frees (00:00 UTC after a 429 naming a DAY
    /// limit), or a short back-off after another 429 ends.
    async fn admit(
        &self,
        connection: &PlatformConnection,
        _request: &PublishRequest,
    ) -> Result<()> {
        self.admission(connection).await
    }

    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        let mut credentials = self
            .tokens
            .access_token(connection, &*self.connector)
            .await?;
        let url = self.url(&format!("rest/posts/{}", encode_urn(id.as_str())));
        let answer = self
            .send(connection, &mut credentials, Idempotency::Safe, &|token| {
                self.rest(self.connector.http().delete(&url), token)
            })
            .await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(self.fail(&answer))
        }
    }

    async fn lookup(
        &self,
        _connection: &PlatformConnection,
        _request: &PublishRequest,
    ) -> Result<Lookup> {
        Ok(Lookup::ResendIsSafe {
            reason: "LinkedIn cannot list member posts; an identical resend is refused as \
                     DUPLICATE_POST naming the existing post"
                .to_owned(),
        })
    }
}
