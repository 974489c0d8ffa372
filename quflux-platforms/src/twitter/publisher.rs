//! [`XPublisher`]: posts, threads, polls and media through `POST /2/tweets`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use quflux_core::rules::validate_for;
use quflux_core::{
    Error, Lookup, Platform, PlatformConnection, PlatformPostId, PublishRequest, PublishedPost,
    Publisher, Result, Violation,
};
use reqwest::Method;

use crate::common::fingerprint::same_text;
use crate::common::http::Idempotency;
use crate::common::{Limit, RateBudgets, TokenManager};

use super::calls::Body;
use super::classify::{classify, is_duplicate};
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

/// Publishes to X on behalf of connected accounts.
///
/// Every call takes its token from the [`TokenManager`] (refreshed ahead of expiry, once per
/// connection); a 401 refreshes once and repeats that request once (a refused request was not
/// applied). `POST /2/tweets` is checked against the account's rate budgets before it is
/// sent, and the answer's rate-limit headers are recorded.
#[derive(Debug, Clone)]
pub struct XPublisher {
    pub(crate) config: XConfig,
    pub(super) http: reqwest::Client,
    pub(super) tokens: Arc<TokenManager>,
    pub(super) connector: Arc<XConnector>,
    pub(super) budgets: RateBudgets,
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
        let mut content = request.content();
        // The link travels in the text (see `first_text`).
        content.text = first_text(request);
        content.link_url = None;
        content.link_preview = None;
        let files = request.media_files();
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

    pub(super) fn now(&self) -> chrono::DateTime<Utc> {
        self.tokens.clock().now()
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

    /// The budget check of a publish: the whole thread (one `POST /2/tweets` per part) must fit
    /// the account's create budgets and the app's 24-hour bucket. No network.
    async fn admission(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<()> {
        let parts = u32::try_from(request.thread.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        self.check_budget(&connection.platform_user_id, "create", CREATE_LIMIT, parts)
            .await
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
        self.admission(connection, request).await?;
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

    /// The same budget check `publish` makes before anything is sent; sends nothing.
    ///
    /// # Errors
    /// [`Error::RateLimited`] with the time until the tightest budget frees.
    async fn admit(&self, connection: &PlatformConnection, request: &PublishRequest) -> Result<()> {
        self.admission(connection, request).await
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
