//! [`XPublisher`]: posts, threads, polls and media through `POST /2/tweets`.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use quflux_core::rules::validate_for;
use quflux_core::{
    Error, Lookup, MediaRef, Platform, PlatformConnection, PlatformPostId, PostContent,
    PublishRequest, PublishedPost, Publisher, Result, Secret, Violation,
};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::common::fingerprint::same_text;
use crate::common::http::{self, Idempotency, body_bytes, header_i64};
use crate::common::{Limit, RateBudgets, TokenManager};

use super::classify::{HEADER_FAMILIES, classify, is_duplicate};
use super::config::XConfig;
use super::connector::XConnector;
use super::wire::{CreatePost, Created, Data, MediaIds, PollBody, Reply, Timeline};
use super::{PLATFORM, SERVICE};

/// Published per-user limit of `POST /2/tweets` (spec §1.5).
pub const CREATE_LIMIT: Limit = Limit::new(
    "tweets_create_15min",
    100,
    std::time::Duration::from_secs(15 * 60),
);
/// Published per-user limit of `DELETE /2/tweets/:id`.
pub const DELETE_LIMIT: Limit = Limit::new(
    "tweets_delete_15min",
    50,
    std::time::Duration::from_secs(15 * 60),
);
/// Published per-user limit of `GET /2/users/:id/tweets`.
pub const TIMELINE_LIMIT: Limit = Limit::new(
    "timeline_15min",
    900,
    std::time::Duration::from_secs(15 * 60),
);

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

/// Publishes to X on behalf of connected accounts.
///
/// Every call takes its token from the [`TokenManager`] (refreshed ahead of expiry, once per
/// connection); a 401 refreshes once and repeats that request once (a refused request was not
/// applied). `POST /2/tweets` is checked against the account's rate budgets before it is
/// sent, and the answer's rate-limit headers are recorded.
#[derive(Debug, Clone)]
pub struct XPublisher {
    pub(crate) config: XConfig,
    http: reqwest::Client,
    tokens: Arc<TokenManager>,
    connector: Arc<XConnector>,
    budgets: RateBudgets,
}

/// The JSON body of `POST /2/tweets` for one part (`CreatePostsRequest`).
pub fn create_body(
    text: &str,
    reply_to: Option<&str>,
    media_ids: &[String],
    poll: Option<&quflux_core::Poll>,
    made_with_ai: bool,
) -> serde_json::Value {
    let body = CreatePost {
        text,
        reply: reply_to.map(|id| Reply {
            in_reply_to_tweet_id: id,
        }),
        media: (!media_ids.is_empty()).then_some(MediaIds { media_ids }),
        poll: poll.map(|p| PollBody {
            options: &p.options,
            duration_minutes: p.duration_minutes,
        }),
        made_with_ai: made_with_ai.then_some(true),
    };
    serde_json::to_value(&body).unwrap_or_default()
}

/// The text of the first post: the request text, with the link appended unless it is in it.
fn first_text(request: &PublishRequest) -> String {
    match request.link_url.as_deref() {
        Some(link) if !request.text.contains(link) => {
            if request.text.trim().is_empty() {
                link.to_owned()
            } else {
                format!("{} {link}", request.text)
            }
        }
        _ => request.text.clone(),
    }
}

fn poll_violations(request: &PublishRequest) -> Vec<Violation> {
    let Some(poll) = &request.options.poll else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut add = |rule: &str, message: String| {
        out.push(Violation {
            rule: format!("twitter.poll.{rule}"),
            message,
        })
    };
    if !(2..=4).contains(&poll.options.len()) {
        add(
            "options",
            format!("an X poll has 2 to 4 choices, not {}", poll.options.len()),
        );
    }
    for o in &poll.options {
        let n = o.chars().count();
        if !(1..=25).contains(&n) {
            add(
                "option_length",
                format!("an X poll choice has 1 to 25 characters; \"{o}\" has {n}"),
            );
        }
    }
    if !(5..=10_080).contains(&poll.duration_minutes) {
        add(
            "duration",
            format!(
                "an X poll runs 5 to 10080 minutes, not {}",
                poll.duration_minutes
            ),
        );
    }
    if !request.media.is_empty() {
        add(
            "with_media",
            "an X post carries either a poll or media, not both".to_owned(),
        );
    }
    out
}

impl XPublisher {
    /// A publisher for `config`, taking tokens from `tokens` (refreshed through `connector`)
    /// and keeping rate budgets in `budgets`.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(
        config: XConfig,
        tokens: Arc<TokenManager>,
        connector: Arc<XConnector>,
        budgets: RateBudgets,
    ) -> Result<Self> {
        let http = config.http.client()?;
        Ok(Self {
            config,
            http,
            tokens,
            connector,
            budgets,
        })
    }

    /// Checks `request` against X's rules without a network call.
    ///
    /// # Errors
    /// [`Error::Validation`] with every broken rule.
    pub fn validate(&self, request: &PublishRequest) -> Result<()> {
        let content = PostContent {
            text: first_text(request),
            media: request
                .media
                .iter()
                .map(|m| MediaRef {
                    media_id: m.file.id,
                    alt_text: m.alt_text.clone(),
                })
                .collect(),
            thread: request.thread.clone(),
            ai_generated: request.ai_generated,
            options: request.options.clone(),
            ..PostContent::default()
        };
        let files: Vec<_> = request.media.iter().map(|m| m.file.clone()).collect();
        let mut violations = match validate_for(&[PLATFORM], &content, &files) {
            Ok(()) => Vec::new(),
            Err(Error::Validation { violations }) => violations,
            Err(e) => return Err(e),
        };
        violations.extend(poll_violations(request));
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation { violations })
        }
    }

    fn now(&self) -> chrono::DateTime<Utc> {
        self.tokens.clock().now()
    }

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
    async fn observe(&self, account: &str, bucket: &str, answer: &Answer) -> Result<()> {
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

    async fn check_budget(
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

    /// Sends one `POST /2/tweets`; returns the new post id.
    async fn create(
        &self,
        connection: &PlatformConnection,
        body: &serde_json::Value,
    ) -> Result<String> {
        let account = connection.platform_user_id.as_str();
        self.check_budget(account, "create", CREATE_LIMIT, 1)
            .await?;
        let result = self
            .raw_call(
                connection,
                Method::POST,
                "/2/tweets",
                &[],
                Body::Json(body),
                Idempotency::Unsafe,
            )
            .await;
        self.budgets
            .spend(PLATFORM, account, &[CREATE_LIMIT], 1)
            .await?;
        let answer = result?;
        self.observe(account, "create", &answer).await?;
        if !answer.status.is_success() {
            if is_duplicate(answer.status, &answer.body) {
                tracing::info!(connection = %connection.id, "X refused a duplicate text");
            }
            return Err(classify(
                answer.status,
                &answer.headers,
                &answer.body,
                self.now(),
            ));
        }
        Ok(answer.parse::<Data<Created>>()?.data.id)
    }

    fn published(
        &self,
        connection: &PlatformConnection,
        id: String,
        thread: Vec<String>,
    ) -> PublishedPost {
        PublishedPost {
            url: Some(format!(
                "https://x.com/{}/status/{id}",
                if connection.platform_username.is_empty() {
                    "i"
                } else {
                    connection.platform_username.as_str()
                }
            )),
            platform_post_id: PlatformPostId::new(id),
            thread_ids: thread.into_iter().map(PlatformPostId::new).collect(),
            published_at: self.now(),
        }
    }
}

#[async_trait]
impl Publisher for XPublisher {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        self.validate(request)?;
        let parts = 1 + request.thread.len() as u32;
        // Refuse up front when the whole thread does not fit the budget.
        self.check_budget(&connection.platform_user_id, "create", CREATE_LIMIT, parts)
            .await?;
        let mut media_ids = Vec::with_capacity(request.media.len());
        for media in &request.media {
            media_ids.push(self.upload(connection, media).await?);
        }
        let text = first_text(request);
        let body = create_body(
            &text,
            None,
            &media_ids,
            request.options.poll.as_ref(),
            request.ai_generated && !media_ids.is_empty(),
        );
        let first = self.create(connection, &body).await?;
        let mut previous = first.clone();
        let mut thread = Vec::with_capacity(request.thread.len());
        for (i, part) in request.thread.iter().enumerate() {
            let body = create_body(part, Some(&previous), &[], None, false);
            match self.create(connection, &body).await {
                Ok(id) => {
                    thread.push(id.clone());
                    previous = id;
                }
                Err(e) => {
                    // The first post exists: never let a retry post it again.
                    return Err(Error::OutcomeUnknown {
                        service: SERVICE,
                        source: format!(
                            "thread part {} failed after post {first} was published: {}",
                            i + 2,
                            e.detailed_message()
                        )
                        .into(),
                    });
                }
            }
        }
        Ok(self.published(connection, first, thread))
    }

    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        let account = connection.platform_user_id.as_str();
        self.check_budget(account, "delete", DELETE_LIMIT, 1)
            .await?;
        let answer = self
            .raw_call(
                connection,
                Method::DELETE,
                &format!("/2/tweets/{}", id.as_str()),
                &[],
                Body::Empty,
                Idempotency::Safe,
            )
            .await?;
        self.budgets
            .spend(PLATFORM, account, &[DELETE_LIMIT], 1)
            .await?;
        self.observe(account, "delete", &answer).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(classify(
                answer.status,
                &answer.headers,
                &answer.body,
                self.now(),
            ))
        }
    }

    async fn lookup(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        let account = connection.platform_user_id.as_str();
        self.check_budget(account, "timeline", TIMELINE_LIMIT, 1)
            .await?;
        let depth = self.config.lookup_depth.clamp(5, 100).to_string();
        let answer = self
            .raw_call(
                connection,
                Method::GET,
                &format!("/2/users/{account}/tweets"),
                &[
                    ("max_results", depth.as_str()),
                    ("tweet.fields", "created_at"),
                ],
                Body::Empty,
                Idempotency::Safe,
            )
            .await?;
        self.budgets
            .spend(PLATFORM, account, &[TIMELINE_LIMIT], 1)
            .await?;
        self.observe(account, "timeline", &answer).await?;
        if !answer.status.is_success() {
            return Err(classify(
                answer.status,
                &answer.headers,
                &answer.body,
                self.now(),
            ));
        }
        let timeline: Timeline = answer.parse()?;
        let text = first_text(request);
        // Newest first: the latest post with this text.
        let Some(first) = timeline.data.iter().find(|t| same_text(&t.text, &text)) else {
            return Ok(Lookup::NotPublished);
        };
        let mut thread = Vec::new();
        let mut used = vec![first.id.as_str()];
        for part in &request.thread {
            // The oldest matching reply not yet used (parts are posted in order).
            let Some(found) = timeline
                .data
                .iter()
                .rev()
                .find(|t| !used.contains(&t.id.as_str()) && same_text(&t.text, part))
            else {
                break;
            };
            used.push(found.id.as_str());
            thread.push(found.id.clone());
        }
        let mut post = self.published(connection, first.id.clone(), thread);
        if let Some(at) = first.created_at {
            post.published_at = at;
        }
        Ok(Lookup::Published(post))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use quflux_core::Poll;

    #[test]
    fn bodies_match_the_documented_examples() {
        let f: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/x/fixtures.json")).unwrap();
        assert_eq!(
            create_body("Hello world!", None, &[], None, false),
            f["create_post_text"]["request"]["body"]
        );
        assert_eq!(
            create_body(
                "2/ second post of the thread",
                Some("1445880548472328192"),
                &[],
                None,
                false
            ),
            f["create_post_reply_thread"]["request"]["body"]
        );
        assert_eq!(
            create_body(
                "with picture",
                None,
                &["1880028106020515840".to_owned()],
                None,
                false
            ),
            f["create_post_media"]["request"]["body"]
        );
        let poll = Poll {
            options: vec!["A".into(), "B".into()],
            duration_minutes: 1440,
        };
        assert_eq!(
            create_body("Which?", None, &[], Some(&poll), false),
            f["create_post_poll"]["request"]["body"]
        );
    }

    #[test]
    fn the_link_is_appended_once() {
        let mut r = quflux_core::testkit::fixtures::publish_request("Read this");
        r.link_url = Some("https://example.com/a".into());
        assert_eq!(first_text(&r), "Read this https://example.com/a");
        r.text = "See https://example.com/a now".into();
        assert_eq!(first_text(&r), "See https://example.com/a now");
    }

    #[test]
    fn bad_polls_are_violations() {
        let mut r = quflux_core::testkit::fixtures::publish_request("Which?");
        r.options.poll = Some(Poll {
            options: vec!["only one".into()],
            duration_minutes: 1,
        });
        let v = poll_violations(&r);
        let rules: Vec<_> = v.iter().map(|v| v.rule.as_str()).collect();
        assert_eq!(rules, ["twitter.poll.options", "twitter.poll.duration"]);
    }
}
