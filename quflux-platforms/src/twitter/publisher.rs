//! [`XPublisher`]: posts, threads, polls and media through `POST /2/tweets`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::rules::validate_for;
use quflux_core::{
    Error, Lookup, Platform, PlatformConnection, PlatformPostId, PublishRequest, PublishedPost,
    Publisher, Result, Violation,
};
use reqwest::Method;

use crate::common::fingerprint::same_text;
use crate::common::http::Idempotency;
use crate::common::{Limit, RateBudgets, SendLog, TokenManager};

use super::calls::Body;
use super::classify::{classify, classify_create, is_duplicate};
use super::config::XConfig;
use super::connector::XConnector;
use super::wire::{CreatePost, Created, Data, MediaIds, PollBody, Reply, Timeline, Tweet};
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
///
/// X has no idempotency key, so the account's timeline is the only record of what landed. The
/// time a request was first about to be sent is kept in a [`SendLog`]; a post matches a part of
/// the request when its text is the same, it was created after that time (less
/// [`SendLog::not_before`]'s skew) and, for a thread part, it belongs to the first post's
/// conversation. That match settles:
///
/// - a 5xx to a create, or a duplicate refusal on a retry: the post found is used as created;
///   a 5xx with nothing on the timeline is [`Error::Transient`], anything else unsettled
///   [`Error::OutcomeUnknown`];
/// - a retry (`attempt > 1`): the parts already posted are skipped and the next part replies to
///   the last one found;
/// - `lookup`: `Published` when every part is found, `ResendIsSafe` when only the first ones
///   are (a resend posts the rest), `NotPublished` when none is or nothing was ever sent.
#[derive(Debug, Clone)]
pub struct XPublisher {
    pub(crate) config: XConfig,
    pub(super) http: reqwest::Client,
    pub(super) tokens: Arc<TokenManager>,
    pub(super) connector: Arc<XConnector>,
    pub(super) budgets: RateBudgets,
    pub(super) sent: SendLog,
}

/// One post of a publish, as `POST /2/tweets` is about to create it.
struct Part<'a> {
    /// Its text.
    text: &'a str,
    /// The first post of the thread, for a thread part.
    root: Option<&'a str>,
    /// The earliest `created_at` it can have.
    since: DateTime<Utc>,
    /// Ids of the parts of this request already posted (never this one).
    known: &'a [String],
}

impl Part<'_> {
    /// Whether `tweet` is this part.
    fn is(&self, tweet: &Tweet) -> bool {
        tweet.created_at.is_some_and(|at| at >= self.since)
            && !self.known.contains(&tweet.id)
            && same_text(&tweet.text, self.text)
            && match (self.root, tweet.conversation_id.as_deref()) {
                (Some(root), Some(conversation)) => conversation == root,
                // A first post starts its own conversation.
                (None, Some(conversation)) => conversation == tweet.id,
                (_, None) => true,
            }
    }

    /// The oldest post of `timeline` (newest first, as X lists it) that is this part.
    fn find<'t>(&self, timeline: &'t [Tweet]) -> Option<&'t Tweet> {
        timeline.iter().rev().find(|t| self.is(t))
    }
}

/// The parts of `request` on `timeline` (newest first), created at `since` or later: the first
/// post, then the thread parts in order up to the first one missing; empty when the first post
/// is missing.
fn landed(timeline: &[Tweet], request: &PublishRequest, since: DateTime<Utc>) -> Vec<Tweet> {
    let text = first_text(request);
    let mut found: Vec<Tweet> = Vec::new();
    let mut known: Vec<String> = Vec::new();
    let texts = std::iter::once(text.as_str()).chain(request.thread.iter().map(String::as_str));
    for text in texts {
        let root = found.first().map(|t| t.id.clone());
        let part = Part {
            text,
            root: root.as_deref(),
            since,
            known: &known,
        };
        let Some(tweet) = part.find(timeline) else {
            break;
        };
        known.push(tweet.id.clone());
        found.push(tweet.clone());
    }
    found
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
        let sent = SendLog::from_budgets(&budgets);
        Ok(Self {
            config,
            http,
            tokens,
            connector,
            budgets,
            sent,
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

    /// Sends one `POST /2/tweets` for `part` of the `attempt`-th attempt; returns the new post
    /// id. An answer that leaves the outcome open (a 5xx, a duplicate refusal on a retry) is
    /// settled on the timeline: the post found there is returned as created.
    async fn create(
        &self,
        connection: &PlatformConnection,
        attempt: u32,
        part: &Part<'_>,
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
                tracing::info!(connection = %connection.id, attempt, "X refused a duplicate text");
            }
            let e = classify_create(
                answer.status,
                &answer.headers,
                &answer.body,
                self.now(),
                attempt,
            );
            if !matches!(e, Error::OutcomeUnknown { .. }) {
                return Err(e);
            }
            return match self.timeline(connection).await {
                Ok(timeline) => match part.find(&timeline) {
                    Some(found) => {
                        tracing::info!(
                            connection = %connection.id,
                            status = answer.status.as_u16(),
                            id = %found.id,
                            "X's error answer hid a created post; found on the timeline"
                        );
                        Ok(found.id.clone())
                    }
                    None if answer.status.is_server_error() => Err(Error::transient(
                        SERVICE,
                        format!(
                            "X answered {} to POST /2/tweets and the post is not on the \
                             account's timeline: {}",
                            answer.status.as_u16(),
                            e.detailed_message()
                        ),
                    )),
                    None => Err(e),
                },
                Err(lookup) => {
                    tracing::warn!(
                        connection = %connection.id,
                        error = %lookup.detailed_message(),
                        "could not check the timeline after an unsettled create"
                    );
                    Err(e)
                }
            };
        }
        Ok(answer.parse::<Data<Created>>()?.data.id)
    }

    /// The account's recent posts, newest first (`lookup_depth` of them, with `created_at` and
    /// `conversation_id`).
    async fn timeline(&self, connection: &PlatformConnection) -> Result<Vec<Tweet>> {
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
                    ("tweet.fields", "created_at,conversation_id"),
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
        Ok(answer.parse::<Timeline>()?.data)
    }

    /// The parts of `request` already posted, if it was ever sent: (earliest `created_at`,
    /// parts found in order).
    async fn already_posted(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Option<(DateTime<Utc>, Vec<Tweet>)>> {
        let Some(first) = self.sent.first(PLATFORM, &request.idempotency_key).await? else {
            return Ok(None);
        };
        let since = SendLog::not_before(first);
        let timeline = self.timeline(connection).await?;
        Ok(Some((since, landed(&timeline, request, since))))
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
        // A retry first reconciles: the parts an earlier attempt posted are not posted again.
        let mut resumed = None;
        if request.attempt > 1 {
            resumed = self.already_posted(connection, request).await?;
        }
        let mut posted: Vec<String> = Vec::with_capacity(request.thread.len() + 1);
        let mut since = None;
        if let Some((at, found)) = resumed
            && !found.is_empty()
        {
            tracing::info!(
                connection = %connection.id,
                attempt = request.attempt,
                found = found.len(),
                parts = request.thread.len() + 1,
                "resuming: parts posted by an earlier attempt are on the timeline"
            );
            since = Some(at);
            posted.extend(found.into_iter().map(|t| t.id));
        }
        let since = match since {
            Some(at) => at,
            None => {
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
                let since =
                    SendLog::not_before(self.sent.mark(PLATFORM, &request.idempotency_key).await?);
                let part = Part {
                    text: &text,
                    root: None,
                    since,
                    known: &[],
                };
                posted.push(
                    self.create(connection, request.attempt, &part, &body)
                        .await?,
                );
                since
            }
        };
        let first = posted[0].clone();
        for (i, text) in request.thread.iter().enumerate().skip(posted.len() - 1) {
            let previous = posted[posted.len() - 1].clone();
            let body = create_body(text, Some(&previous), &[], None, false);
            let part = Part {
                text,
                root: Some(&first),
                since,
                known: &posted,
            };
            match self.create(connection, request.attempt, &part, &body).await {
                Ok(id) => posted.push(id),
                Err(e) => {
                    // The first post exists: never let a retry post it again. Reconciliation
                    // finds the parts posted, and a retry posts the rest.
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
        let thread = posted.split_off(1);
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
        // Never sent by this request: nothing of it can be on X.
        let Some((_, mut found)) = self.already_posted(connection, request).await? else {
            return Ok(Lookup::NotPublished);
        };
        if found.is_empty() {
            return Ok(Lookup::NotPublished);
        }
        let parts = request.thread.len() + 1;
        if found.len() < parts {
            return Ok(Lookup::ResendIsSafe {
                reason: format!(
                    "{} of the {parts} posts of the thread are on X; a retry posts the rest as \
                     replies to the last one",
                    found.len()
                ),
            });
        }
        let thread = found.split_off(1).into_iter().map(|t| t.id).collect();
        let first = found.remove(0);
        let mut post = self.published(connection, first.id, thread);
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
