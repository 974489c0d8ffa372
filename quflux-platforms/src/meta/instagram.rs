//! Instagram content publishing (README §3.3): container(s), poll `status_code`, `media_publish`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    Cache, Error, ErrorKind, Lookup, MediaKind, Platform, PlatformConnection, PlatformPostId,
    PublishMedia, PublishRequest, PublishedPost, Publisher, Result,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{Authed, Body, Graph, id_of};
use super::error::{Op, PUBLISH_CAP_WAIT};
use super::facebook::parse_graph_time;
use super::rules::check_rules;
use super::{MediaUrls, MetaConfig};
use crate::common::TokenManager;
use crate::common::fingerprint::same_text;

/// How long the container record of a publication is kept (containers expire after 24 h; a
/// published one is remembered longer for lookups).
const CONTAINER_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The container of one publication, stored in the shared cache before `media_publish`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    container_id: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    media_id: Option<String>,
}

/// Publishes to an Instagram business account (`platform_user_id` = IG user id) with the
/// Page access token of its Facebook Page.
///
/// # Contract
/// - Rules first: a caption without media, a PNG, a thread, over 10 items... fail with
///   [`Error::Validation`] before any request; without a [`MediaUrls`] mapping, publishing is
///   [`Error::Config`].
/// - `GET /{ig}/content_publishing_limit` is read before anything is created; a spent quota is
///   [`Error::RateLimited`] (the cap is not hard-coded).
/// - The container id is stored in the shared [`Cache`] under the request's idempotency key
///   before `media_publish`. A later attempt (or `lookup`) reads the container's `status_code`:
///   `PUBLISHED` → the post exists (found in `GET /{ig}/media`); `FINISHED` → publish that same
///   container; `IN_PROGRESS` → keep polling; `ERROR`/`EXPIRED` → a new container.
/// - Only `media_publish` can create a post: its lost answer is [`Error::OutcomeUnknown`].
/// - Media cannot be deleted through the API: `delete` is [`Error::Unsupported`].
/// - `link_url` is not published (Instagram captions have no links).
#[derive(Debug, Clone)]
pub struct InstagramPublisher {
    graph: Graph,
    tokens: Arc<TokenManager>,
    cache: Arc<dyn Cache>,
    media_urls: Option<Arc<dyn MediaUrls>>,
    poll_interval: Duration,
    poll_timeout: Duration,
}

impl InstagramPublisher {
    /// A publisher with `config`, tokens from `tokens`, container ids and budgets in `cache`.
    pub fn new(
        config: &MetaConfig,
        tokens: Arc<TokenManager>,
        cache: Arc<dyn Cache>,
    ) -> Result<Self> {
        let clock = Arc::clone(tokens.clock());
        Ok(Self {
            graph: Graph::new(Platform::Instagram, config, Some(Arc::clone(&cache)), clock)?,
            tokens,
            cache,
            media_urls: config.media_urls(),
            poll_interval: config.poll_interval,
            poll_timeout: config.poll_timeout,
        })
    }

    fn key(connection: &PlatformConnection, request: &PublishRequest) -> String {
        format!(
            "meta:instagram:{}:container:{}",
            connection.platform_user_id, request.idempotency_key
        )
    }

    async fn pending(&self, key: &str) -> Result<Option<Pending>> {
        Ok(self
            .cache
            .get(key)
            .await?
            .and_then(|v| serde_json::from_value(v).ok()))
    }

    async fn remember(&self, key: &str, pending: &Pending) -> Result<()> {
        let value = serde_json::to_value(pending).map_err(|e| Error::other("instagram", e))?;
        self.cache.set(key, &value, Some(CONTAINER_TTL)).await
    }

    async fn status(&self, api: &Authed<'_>, container: &str) -> Result<Option<String>> {
        match api
            .call(
                Method::GET,
                container,
                &[("fields", "status_code,status")],
                Body::None,
                Op::Read,
            )
            .await
        {
            Ok(v) => Ok(v
                .get("status_code")
                .and_then(Value::as_str)
                .map(str::to_owned)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Polls until the container is `FINISHED`.
    async fn wait_finished(&self, api: &Authed<'_>, container: &str) -> Result<()> {
        let started = tokio::time::Instant::now();
        loop {
            let status = self.status(api, container).await?;
            match status.as_deref() {
                Some("FINISHED") => return Ok(()),
                Some("IN_PROGRESS") if started.elapsed() < self.poll_timeout => {
                    tokio::time::sleep(self.poll_interval).await;
                }
                Some("IN_PROGRESS") => {
                    return Err(Error::transient(
                        "instagram",
                        format!(
                            "container {container} still processing; the next attempt resumes it"
                        ),
                    ));
                }
                Some("ERROR") => {
                    return Err(Error::InvalidContent {
                        service: "instagram",
                        reason: format!(
                            "Instagram could not process the media of container {container}"
                        ),
                    });
                }
                other => {
                    return Err(Error::transient(
                        "instagram",
                        format!(
                            "container {container} is {}; a new one is needed",
                            other.unwrap_or("gone")
                        ),
                    ));
                }
            }
        }
    }

    fn url_of(&self, media: &PublishMedia) -> Result<String> {
        let urls = self.media_urls.as_ref().ok_or_else(|| {
            Error::Config(
                "meta: Instagram needs public media URLs (QUFLUX_PUBLIC_MEDIA_BASE_URL)".into(),
            )
        })?;
        urls.public_url(&media.file)
    }

    async fn create_container(
        &self,
        api: &Authed<'_>,
        form: Vec<(String, String)>,
    ) -> Result<String> {
        let path = format!("{}/media", api.account());
        let v = api
            .call(Method::POST, &path, &[], Body::Form(form), Op::Read)
            .await?;
        id_of("instagram", Op::Read, &v, "id")
    }

    /// Creates the container(s) of `request` and returns the one to publish.
    async fn create(&self, api: &Authed<'_>, request: &PublishRequest) -> Result<String> {
        let s = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let caption = s("caption", &request.text);
        match request.media.as_slice() {
            [one] if one.file.kind() == MediaKind::Video => {
                let form = vec![
                    s("media_type", "REELS"),
                    s("video_url", &self.url_of(one)?),
                    caption,
                    // Reels also appear in the feed; the feed-only VIDEO type is retired.
                    s("share_to_feed", "true"),
                ];
                self.create_container(api, form).await
            }
            [one] => {
                let mut form = vec![s("image_url", &self.url_of(one)?), caption];
                if let Some(alt) = &one.alt_text {
                    form.push(s("alt_text", alt));
                }
                self.create_container(api, form).await
            }
            many => {
                let mut children = Vec::with_capacity(many.len());
                for m in many {
                    let mut form = vec![s("is_carousel_item", "true")];
                    let video = m.file.kind() == MediaKind::Video;
                    if video {
                        form.push(s("media_type", "VIDEO"));
                        form.push(s("video_url", &self.url_of(m)?));
                    } else {
                        form.push(s("image_url", &self.url_of(m)?));
                        if let Some(alt) = &m.alt_text {
                            form.push(s("alt_text", alt));
                        }
                    }
                    let id = self.create_container(api, form).await?;
                    if video {
                        self.wait_finished(api, &id).await?;
                    }
                    children.push(id);
                }
                let form = vec![
                    s("media_type", "CAROUSEL"),
                    s("children", &children.join(",")),
                    caption,
                ];
                self.create_container(api, form).await
            }
        }
    }

    async fn quota(&self, api: &Authed<'_>) -> Result<()> {
        let v = api
            .call(
                Method::GET,
                &format!("{}/content_publishing_limit", api.account()),
                &[("fields", "quota_usage,config")],
                Body::None,
                Op::Read,
            )
            .await?;
        let entry = v.get("data").and_then(|d| d.get(0));
        let used = entry
            .and_then(|e| e.get("quota_usage"))
            .and_then(Value::as_u64);
        let total = entry
            .and_then(|e| e.get("config"))
            .and_then(|c| c.get("quota_total"))
            .and_then(Value::as_u64);
        if let (Some(used), Some(total)) = (used, total)
            && used >= total
        {
            return Err(Error::RateLimited {
                service: "instagram",
                retry_after: Some(PUBLISH_CAP_WAIT),
                source: Some(
                    format!("the Instagram publishing quota is spent ({used}/{total} in 24 h)")
                        .into(),
                ),
            });
        }
        Ok(())
    }

    /// The published media of `pending`, from `GET /{ig}/media` (caption match).
    async fn find_media(
        &self,
        api: &Authed<'_>,
        request: &PublishRequest,
        pending: &Pending,
    ) -> Result<Option<PublishedPost>> {
        let v = api
            .call(
                Method::GET,
                &format!("{}/media", api.account()),
                &[
                    ("fields", "id,caption,timestamp,permalink"),
                    ("limit", "25"),
                ],
                Body::None,
                Op::Read,
            )
            .await?;
        let not_before = pending.created_at - chrono::Duration::minutes(5);
        let found = v
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|m| {
                let caption = m.get("caption").and_then(Value::as_str).unwrap_or("");
                let at = m
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .and_then(parse_graph_time);
                same_text(caption, &request.text)
                    && at.is_none_or(|at| at >= not_before)
                    && pending
                        .media_id
                        .as_deref()
                        .is_none_or(|id| m.get("id").and_then(Value::as_str) == Some(id))
            });
        Ok(match found {
            None => None,
            Some(m) => Some(self.published(m)?),
        })
    }

    fn published(&self, media: &Value) -> Result<PublishedPost> {
        Ok(PublishedPost {
            platform_post_id: PlatformPostId::new(id_of("instagram", Op::Read, media, "id")?),
            url: media
                .get("permalink")
                .and_then(Value::as_str)
                .map(str::to_owned),
            thread_ids: Vec::new(),
            published_at: media
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(parse_graph_time)
                .unwrap_or_else(|| self.graph.now()),
        })
    }
}

#[async_trait]
impl Publisher for InstagramPublisher {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        check_rules(Platform::Instagram, request)?;
        for m in &request.media {
            self.url_of(m)?;
        }
        let api = Authed::new(&self.graph, &self.tokens, connection).await?;
        let key = Self::key(connection, request);
        let mut pending = self.pending(&key).await?;
        if let Some(p) = &pending {
            match self.status(&api, &p.container_id).await?.as_deref() {
                Some("PUBLISHED") => {
                    if let Some(post) = self.find_media(&api, request, p).await? {
                        return Ok(post);
                    }
                    return Err(Error::OutcomeUnknown {
                        service: "instagram",
                        source: format!(
                            "container {} is published but its media was not found yet",
                            p.container_id
                        )
                        .into(),
                    });
                }
                Some("FINISHED" | "IN_PROGRESS") => {}
                _ => pending = None,
            }
        }
        self.quota(&api).await?;
        let mut pending = match pending {
            Some(p) => p,
            None => {
                let created_at = self.graph.now();
                let container_id = self.create(&api, request).await?;
                let p = Pending {
                    container_id,
                    created_at,
                    media_id: None,
                };
                // Persisted before media_publish: reconciliation starts from it.
                self.remember(&key, &p).await?;
                p
            }
        };
        self.wait_finished(&api, &pending.container_id).await?;
        let v = api
            .call(
                Method::POST,
                &format!("{}/media_publish", api.account()),
                &[],
                Body::Form(vec![(
                    "creation_id".to_owned(),
                    pending.container_id.clone(),
                )]),
                Op::Create,
            )
            .await?;
        let media_id = id_of("instagram", Op::Create, &v, "id")?;
        pending.media_id = Some(media_id.clone());
        if let Err(e) = self.remember(&key, &pending).await {
            tracing::warn!(error = %e.detailed_message(), "could not record the published Instagram media id");
        }
        let details = api
            .call(
                Method::GET,
                &media_id,
                &[("fields", "id,permalink,timestamp")],
                Body::None,
                Op::Read,
            )
            .await
            .ok();
        let mut post = PublishedPost {
            platform_post_id: PlatformPostId::new(media_id),
            url: None,
            thread_ids: Vec::new(),
            published_at: self.graph.now(),
        };
        if let Some(d) = details.and_then(|d| self.published(&d).ok()) {
            post.url = d.url;
            post.published_at = d.published_at;
        }
        Ok(post)
    }

    /// The checks `publish` makes before creating anything, without creating anything: the
    /// account's usage budget (local), then, unless a container of this request is already
    /// recorded, the publishing quota (`GET /{ig}/content_publishing_limit`, one read). A
    /// recorded container may already be published, and `publish` settles it before reading
    /// the quota itself, so a spent quota must not hold it back.
    ///
    /// # Errors
    /// [`Error::RateLimited`] while the usage budget is blocked or the quota is spent; errors
    /// of the quota read (the scheduler then lets `publish` decide).
    async fn admit(&self, connection: &PlatformConnection, request: &PublishRequest) -> Result<()> {
        self.graph.admission(&connection.platform_user_id).await?;
        if self
            .pending(&Self::key(connection, request))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let api = Authed::new(&self.graph, &self.tokens, connection).await?;
        self.quota(&api).await
    }

    async fn delete(&self, _connection: &PlatformConnection, _id: &PlatformPostId) -> Result<()> {
        Err(Error::Unsupported {
            service: "instagram",
            operation: "deleting media (the Graph API cannot delete Instagram posts)",
        })
    }

    async fn lookup(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        let Some(pending) = self.pending(&Self::key(connection, request)).await? else {
            // No container was recorded, so media_publish was never called.
            return Ok(Lookup::NotPublished);
        };
        let api = Authed::new(&self.graph, &self.tokens, connection).await?;
        match self.status(&api, &pending.container_id).await?.as_deref() {
            Some("PUBLISHED") => match self.find_media(&api, request, &pending).await? {
                Some(post) => Ok(Lookup::Published(post)),
                None => Ok(Lookup::Indeterminate {
                    reason: format!(
                        "container {} is published but its media is not listed yet",
                        pending.container_id
                    ),
                }),
            },
            // FINISHED: publishing the same container is safe; the others need a new one.
            _ => Ok(Lookup::NotPublished),
        }
    }
}
