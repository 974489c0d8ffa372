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
use crate::common::TokenManager;
use crate::common::fingerprint::same_text;

/// How many recent Page posts `lookup` compares with the request.
const LOOKUP_LIMIT: &str = "25";

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
///   lost answer is [`Error::OutcomeUnknown`].
/// - `lookup` reads `GET /{page}/feed` and matches the text (links stripped); `delete` is
///   `DELETE /{post-id}`.
#[derive(Debug, Clone)]
pub struct FacebookPublisher {
    graph: Graph,
    tokens: Arc<TokenManager>,
}

impl FacebookPublisher {
    /// A publisher with `config`, tokens from `tokens`, and usage budgets in `cache`.
    pub fn new(
        config: &MetaConfig,
        tokens: Arc<TokenManager>,
        cache: Arc<dyn Cache>,
    ) -> Result<Self> {
        let clock = Arc::clone(tokens.clock());
        Ok(Self {
            graph: Graph::new(Platform::Facebook, config, Some(cache), clock)?,
            tokens,
        })
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
        match request.media.as_slice() {
            [] => {
                let mut form = vec![("message".to_owned(), message)];
                if let Some(link) = &request.link_url {
                    form.push(("link".to_owned(), link.clone()));
                }
                let v = api
                    .call(
                        Method::POST,
                        &format!("{page}/feed"),
                        &[],
                        Body::Form(form),
                        Op::Create,
                    )
                    .await?;
                Ok(self.published(id_of(service, Op::Create, &v, "id")?))
            }
            [one] => {
                let form = photo_form(one, true, Some(&message))?;
                let v = api
                    .call(
                        Method::POST,
                        &format!("{page}/photos"),
                        &[],
                        Body::Multipart(form),
                        Op::Create,
                    )
                    .await?;
                let id = id_of(service, Op::Create, &v, "post_id")
                    .or_else(|_| id_of(service, Op::Create, &v, "id"))?;
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
                let v = api
                    .call(
                        Method::POST,
                        &format!("{page}/feed"),
                        &[],
                        Body::Json(json!({ "message": message, "attached_media": attached })),
                        Op::Create,
                    )
                    .await?;
                Ok(self.published(id_of(service, Op::Create, &v, "id")?))
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
        let api = Authed::new(&self.graph, &self.tokens, connection).await?;
        let page = &connection.platform_user_id;
        let v = api
            .call(
                Method::GET,
                &format!("{page}/feed"),
                &[
                    ("fields", "id,message,created_time"),
                    ("limit", LOOKUP_LIMIT),
                ],
                Body::None,
                Op::Read,
            )
            .await?;
        let found = v
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| {
                p.get("message")
                    .and_then(Value::as_str)
                    .is_some_and(|m| same_text(m, &request.text))
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

/// Graph times look like `2026-09-20T12:00:00+0000`.
pub(crate) fn parse_graph_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}
