//! Facebook Page publishing (README §3.2): `/{page}/feed` for text and links, `/{page}/photos`
//! for one photo, unpublished photos + `attached_media` for several.

use std::sync::Arc;

use async_trait::async_trait;
use quflux_core::{
    Cache, Error, Lookup, MediaKind, Platform, PlatformConnection, PlatformPostId, PublishRequest,
    PublishedPost, Publisher, Result,
};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::MetaConfig;
use super::client::{Authed, Body, Graph, id_of};
use super::error::Op;
use super::rules::check_rules;
use crate::common::fingerprint::same_text;
use crate::common::{SendLog, TokenManager};

/// How many recent Page posts `lookup` compares with the request.
const LOOKUP_LIMIT: &str = "25";
/// The post fields `lookup` reads. A Post has no `link` field since v3.3 (asking for it is an
/// error): the shared link is the `share` attachment's `unshimmed_url` (`url` is Facebook's
/// `l.facebook.com` redirect).
const LOOKUP_FIELDS: &str = "id,message,created_time,attachments{unshimmed_url,url}";

/// Publishes to a Facebook Page with the Page access token of the connection
/// (`platform_user_id` = Page id).
///
/// # Contract
/// - Rules first ([`quflux_core::rules`]): threads and broken limits fail with
///   [`Error::Validation`] before any request. Videos are [`Error::Unsupported`].
/// - A text post is one `POST /{page}/feed` (`message`, `link`); one photo is one
///   `POST /{page}/photos` (multipart `source`, `message`, `alt_text_custom`); several photos
///   are uploaded with `published=false` (creating no post) and attached with one
///   `POST /{page}/feed` `attached_media`. Only that last request can create a post, so only its
///   lost answer, a 5xx or code 1/2 answer to it, or a duplicate refusal (506/368) of it on a
///   later attempt is [`Error::OutcomeUnknown`].
/// - Right before that request, the time is recorded in the shared cache ([`SendLog`], first
///   attempt wins). `lookup` answers `NotPublished` for a request never sent; otherwise it reads
///   `GET /{page}/feed` and matches a post created no earlier than the first send (less
///   [`crate::common::sent::SKEW`]) with the same text (links stripped) and, for a link post,
///   the same shared link (its attachment's `unshimmed_url`; a link-only post has no
///   `message`). `delete` is `DELETE /{post-id}`.
#[derive(Debug, Clone)]
pub struct FacebookPublisher {
    graph: Graph,
    tokens: Arc<TokenManager>,
    sent: SendLog,
}

impl FacebookPublisher {
    /// A publisher with `config`, tokens from `tokens`, and usage budgets in `cache`.
    pub fn new(
        config: &MetaConfig,
        tokens: Arc<TokenManager>,
        cache: Arc<dyn Cache>,
    ) -> Result<Self> {
        let clock = Arc::clone(tokens.clock());
        let sent = SendLog::new(Arc::clone(&cache), Arc::clone(&clock));
        Ok(Self {
            graph: Graph::new(Platform::Facebook, config, Some(cache), clock)?,
            tokens,
            sent,
        })
    }

    /// Records the first send of `request`; called right before its create request.
    async fn mark(&self, request: &PublishRequest) -> Result<()> {
        self.sent
            .mark(Platform::Facebook, &request.idempotency_key)
            .await
            .map(|_| ())
    }

    fn published(&self, id: String) -> PublishedPost {
        PublishedPost {
            url: Some(format!("https://www.facebook.com/{id}")),
            platform_post_id: PlatformPostId::new(id),
            thread_ids: Vec::new(),
            published_at: self.graph.now(),
        }
    }
}

fn photo_form(
    request_media: &quflux_core::PublishMedia,
    published: bool,
    message: Option<&str>,
) -> Result<Form> {
    let part = Part::bytes(request_media.bytes.to_vec())
        .file_name(request_media.file.filename.clone())
        .mime_str(&request_media.file.content_type)
        .map_err(|e| Error::invalid_input("media", format!("bad content type: {e}")))?;
    let mut form = Form::new()
        .part("source", part)
        .text("published", published.to_string());
    if let Some(m) = message {
        form = form.text("message", m.to_owned());
    }
    if let Some(alt) = &request_media.alt_text {
        form = form.text("alt_text_custom", alt.clone());
    }
    Ok(form)
}

#[async_trait]
impl Publisher for FacebookPublisher {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        check_rules(Platform::Facebook, request)?;
        if request
            .media
            .iter()
            .any(|m| m.file.kind() == MediaKind::Video)
        {
            return Err(Error::Unsupported {
                service: "facebook",
                operation: "video posts",
            });
        }
        let api = Authed::new(&self.graph, &self.tokens, connection).await?;
        let page = connection.platform_user_id.clone();
        // A link next to photos goes into the message (a feed post has either a link preview or
        // attached photos).
        let mut message = request.text.clone();
        if let Some(link) = &request.link_url
            && !request.media.is_empty()
            && !message.contains(link.as_str())
        {
            message = format!("{message}\n\n{link}");
        }
        let service = self.graph.service();
        let create = Op::create(request.attempt);
        match request.media.as_slice() {
            [] => {
                let mut form = vec![("message".to_owned(), message)];
                if let Some(link) = &request.link_url {
                    form.push(("link".to_owned(), link.clone()));
                }
                self.mark(request).await?;
                let v = api
                    .call(
                        Method::POST,
                        &format!("{page}/feed"),
                        &[],
                        Body::Form(form),
                        create,
                    )
                    .await?;
                Ok(self.published(id_of(service, create, &v, "id")?))
            }
            [one] => {
                let form = photo_form(one, true, Some(&message))?;
                self.mark(request).await?;
                let v = api
                    .call(
                        Method::POST,
                        &format!("{page}/photos"),
                        &[],
                        Body::Multipart(form),
                        create,
                    )
                    .await?;
                let id = id_of(service, create, &v, "post_id")
                    .or_else(|_| id_of(service, create, &v, "id"))?;
                Ok(self.published(id))
            }
            many => {
                let mut attached = Vec::with_capacity(many.len());
                for m in many {
                    let v = api
                        .call(
                            Method::POST,
                            &format!("{page}/photos"),
                            &[],
                            Body::Multipart(photo_form(m, false, None)?),
                            Op::Read,
                        )
                        .await?;
                    attached.push(json!({ "media_fbid": id_of(service, Op::Read, &v, "id")? }));
                }
                self.mark(request).await?;
                let v = api
                    .call(
                        Method::POST,
                        &format!("{page}/feed"),
                        &[],
                        Body::Json(json!({ "message": message, "attached_media": attached })),
                        create,
                    )
                    .await?;
                Ok(self.published(id_of(service, create, &v, "id")?))
            }
        }
    }

    /// The usage-budget check every Graph call of `publish` makes first; sends nothing.
    ///
    /// # Errors
    /// [`Error::RateLimited`] while the Page's usage budget is blocked.
    async fn admit(
        &self,
        connection: &PlatformConnection,
        _request: &PublishRequest,
    ) -> Result<()> {
        self.graph.admission(&connection.platform_user_id).await
    }

    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        let api = Authed::new(&self.graph, &self.tokens, connection).await?;
        api.call(Method::DELETE, id.as_str(), &[], Body::None, Op::Read)
            .await?;
        Ok(())
    }

    async fn lookup(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        let Some(first) = self
            .sent
            .first(Platform::Facebook, &request.idempotency_key)
            .await?
        else {
            // Never sent, so never published.
            return Ok(Lookup::NotPublished);
        };
        let not_before = SendLog::not_before(first);
        let api = Authed::new(&self.graph, &self.tokens, connection).await?;
        let page = &connection.platform_user_id;
        let v = api
            .call(
                Method::GET,
                &format!("{page}/feed"),
                &[("fields", LOOKUP_FIELDS), ("limit", LOOKUP_LIMIT)],
                Body::None,
                Op::Read,
            )
            .await?;
        // A feed post shares the request's link only when it has no photos.
        let link = request
            .link_url
            .as_deref()
            .filter(|_| request.media.is_empty());
        let found = v
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| {
                // A link-only post has no `message`: its text is empty once links are stripped.
                let message = p.get("message").and_then(Value::as_str).unwrap_or("");
                let created = p
                    .get("created_time")
                    .and_then(Value::as_str)
                    .and_then(parse_graph_time);
                same_text(message, &request.text)
                    && created.is_none_or(|at| at >= not_before)
                    && link.is_none_or(|want| shared_links(p).any(|got| same_link(got, want)))
            });
        let Some(post) = found else {
            return Ok(Lookup::NotPublished);
        };
        let id = id_of(self.graph.service(), Op::Read, post, "id")?;
        let mut published = self.published(id);
        if let Some(at) = post
            .get("created_time")
            .and_then(Value::as_str)
            .and_then(parse_graph_time)
        {
            published.published_at = at;
        }
        Ok(Lookup::Published(published))
    }
}

/// The links a feed post shares: its attachments' `unshimmed_url` and `url` (and `link`, which
/// versions before v3.3 answer).
fn shared_links(post: &Value) -> impl Iterator<Item = &str> {
    let attachments = post
        .get("attachments")
        .and_then(|a| a.get("data"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|a| ["unshimmed_url", "url"].map(|k| a.get(k)));
    std::iter::once(post.get("link"))
        .chain(attachments)
        .flatten()
        .filter_map(Value::as_str)
}

/// Whether two links name the same page: scheme, letter case and trailing slashes aside
/// (Facebook may normalise the shared link).
fn same_link(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim();
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        s.trim_end_matches('/').to_lowercase()
    };
    norm(a) == norm(b)
}

/// Graph times look like `2026-09-20T12:00:00+0000`.
pub(crate) fn parse_graph_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}
