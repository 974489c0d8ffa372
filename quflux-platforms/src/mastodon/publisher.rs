//! `impl Publisher` for Mastodon: instance limits, media v2, statuses with `Idempotency-Key`,
//! lookup by the account's recent statuses.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    Cache, Error, Lookup, Platform, PlatformConnection, PlatformPostId, PublishMedia,
    PublishRequest, PublishedPost, Publisher, Result, Secret,
};
use reqwest::StatusCode;

use super::client::{Answer, call};
use super::config::MastodonConfig;
use super::connector::no_refresh;
use super::error::{classify, rate_headers};
use super::limits::{
    InstanceLimits, check_instance_limits, check_rules, content_warning, part_key, parts,
};
use super::wire::{Instance, MediaAttachment, NewStatus, Status};
use super::{PLATFORM, instance_of};
use crate::common::fingerprint::same_text;
use crate::common::http::join;
use crate::common::oauth::TokenSet;
use crate::common::{Idempotency, Limit, RateBudgets, SendLog, TokenManager, TokenRefresher};

/// Every API call: 300 per 5 minutes per access token (README §5.5).
const API: Limit = Limit::new("api_5min", 300, Duration::from_secs(300));
/// Status creation: 300 per 3 hours per account.
const STATUSES: Limit = Limit::new("statuses_3h", 300, Duration::from_secs(3 * 3600));
/// Media uploads: 30 per 30 minutes per account.
const MEDIA: Limit = Limit::new("media_30min", 30, Duration::from_secs(1800));
/// Status deletion: 30 per 30 minutes per account.
const DELETES: Limit = Limit::new("deletes_30min", 30, Duration::from_secs(1800));

/// Statuses read back by [`Publisher::lookup`] (README §6).
const LOOKUP_WINDOW: usize = 20;

/// Publishes to any Mastodon instance: see the [module docs](super).
pub struct MastodonPublisher {
    config: MastodonConfig,
    http: reqwest::Client,
    tokens: Arc<TokenManager>,
    cache: Arc<dyn Cache>,
    budgets: RateBudgets,
    sent: SendLog,
}

impl std::fmt::Debug for MastodonPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MastodonPublisher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The refresher of connections whose tokens never expire.
#[derive(Debug)]
struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh_tokens(
        &self,
        _connection: &PlatformConnection,
        _refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        Err(no_refresh())
    }
}

/// Which budget a call spends and which header bucket it reads.
#[derive(Debug, Clone, Copy)]
enum Op {
    Read,
    Upload,
    Create,
    Delete,
}

impl Op {
    fn bucket(self) -> &'static str {
        match self {
            Self::Read => "api",
            Self::Upload => "media",
            Self::Create => "statuses",
            Self::Delete => "deletes",
        }
    }

    fn limits(self) -> &'static [Limit] {
        match self {
            Self::Read => &[API],
            Self::Upload => &[API, MEDIA],
            Self::Create => &[API, STATUSES],
            Self::Delete => &[API, DELETES],
        }
    }
}

/// When `status` was created, if it says.
fn created_at(status: &Status) -> Option<DateTime<Utc>> {
    status
        .created_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `text` HTML-escaped, as it appears in a status's `content`: compared with that HTML, a
/// `<` typed in the text stays text instead of reading as a tag.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `text` with every remote mention `@user@domain` shortened to `@user`, as Mastodon displays
/// it (`@<span>user</span>` in a status's HTML). E-mail addresses (an `@` inside a word) are
/// left alone.
fn local_mentions(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_user = |c: char| c.is_alphanumeric() || c == '_';
    let is_domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_mention = c == '@'
            && (i == 0 || !(is_user(chars[i - 1]) || matches!(chars[i - 1], '@' | '.' | '-')));
        if !starts_mention {
            out.push(c);
            i += 1;
            continue;
        }
        // `@`, the username (letters, digits, `_`, inner `.` and `-`).
        let mut end = i + 1;
        while end < chars.len()
            && (is_user(chars[end])
                || (matches!(chars[end], '.' | '-')
                    && chars.get(end + 1).copied().is_some_and(is_user)))
        {
            end += 1;
        }
        out.extend(&chars[i..end]);
        if end > i + 1 && chars.get(end) == Some(&'@') {
            // The domain, without trailing punctuation.
            let mut domain_end = end + 1;
            while domain_end < chars.len() && is_domain(chars[domain_end]) {
                domain_end += 1;
            }
            while domain_end > end + 1 && matches!(chars[domain_end - 1], '.' | '-') {
                domain_end -= 1;
            }
            if domain_end > end + 1 {
                end = domain_end;
            }
        }
        i = end;
    }
    out
}

/// The account's id on its instance: `metadata.account_id`, else the connection's
/// `platform_user_id` up to its `@instance` suffix.
fn account_id(connection: &PlatformConnection) -> &str {
    connection
        .metadata
        .get("account_id")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| {
            connection
                .platform_user_id
                .split('@')
                .next()
                .unwrap_or(&connection.platform_user_id)
        })
}

impl MastodonPublisher {
    /// A publisher taking tokens from `tokens` and keeping instance limits and rate budgets in
    /// `cache`.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(
        config: MastodonConfig,
        tokens: Arc<TokenManager>,
        cache: Arc<dyn Cache>,
    ) -> Result<Self> {
        let budgets = RateBudgets::new(cache.clone(), tokens.clock().clone());
        let sent = SendLog::from_budgets(&budgets);
        Ok(Self {
            http: config.http.client()?,
            config,
            tokens,
            cache,
            budgets,
            sent,
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.tokens.clock().now()
    }

    /// The limits of `instance` (`GET /api/v2/instance`), cached for
    /// [`MastodonConfig::instance_ttl`]. An instance without `/api/v2/instance` (404) gets the
    /// upstream defaults.
    ///
    /// # Errors
    /// [`Error::Transient`] when the instance is unreachable.
    pub async fn instance_limits(&self, instance: &str) -> Result<InstanceLimits> {
        let key = format!("mastodon:instance:{instance}");
        if let Some(v) = self.cache.get(&key).await?
            && let Ok(limits) = serde_json::from_value::<InstanceLimits>(v)
        {
            return Ok(limits);
        }
        let answer = call(
            Idempotency::Safe,
            self.http.get(join(instance, "/api/v2/instance")),
        )
        .await?;
        let limits = if answer.status == StatusCode::NOT_FOUND {
            InstanceLimits::default()
        } else {
            InstanceLimits::from_wire(&answer.success(self.now())?.json::<Instance>()?)
        };
        self.cache
            .set(
                &key,
                &serde_json::to_value(limits).map_err(|e| Error::other(PLATFORM, e))?,
                Some(self.config.instance_ttl),
            )
            .await?;
        Ok(limits)
    }

    /// The budget account: ids are per instance.
    fn account(instance: &str, connection: &PlatformConnection) -> String {
        format!("{instance}#{}", connection.platform_user_id)
    }

    /// Whether `count` calls of `op` fit the budgets of `account`. No network.
    async fn check_budget(&self, account: &str, op: Op, count: usize) -> Result<()> {
        self.budgets
            .check(
                Platform::Mastodon,
                account,
                op.limits(),
                &[op.bucket()],
                u32::try_from(count).unwrap_or(u32::MAX),
            )
            .await
    }

    /// The budget checks of a publish, made before anything is sent: every part's status, and
    /// the media uploads of a first attempt (a later attempt uploads only when it finds nothing
    /// posted, and checks the upload budget then). No network.
    async fn admission(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<()> {
        let account = Self::account(&instance_of(connection)?, connection);
        self.check_budget(&account, Op::Create, parts(request).len())
            .await?;
        if request.attempt <= 1 && !request.media.is_empty() {
            self.check_budget(&account, Op::Upload, request.media.len())
                .await?;
        }
        Ok(())
    }

    /// Sends one authenticated call: budgets checked before, headers observed after, a 401
    /// reported to the token manager (the connection then needs re-authorization).
    async fn request(
        &self,
        connection: &PlatformConnection,
        token: &Secret<String>,
        op: Op,
        idempotency: Idempotency,
        builder: reqwest::RequestBuilder,
    ) -> Result<Answer> {
        let instance = instance_of(connection)?;
        let account = Self::account(&instance, connection);
        self.budgets
            .check(Platform::Mastodon, &account, op.limits(), &[op.bucket()], 1)
            .await?;
        let answer = call(idempotency, builder.bearer_auth(token.expose())).await?;
        self.budgets
            .spend(Platform::Mastodon, &account, op.limits(), 1)
            .await?;
        if let Some((remaining, reset)) = rate_headers(&answer.headers) {
            self.budgets
                .observe(Platform::Mastodon, &account, op.bucket(), remaining, reset)
                .await?;
        }
        let now = self.now();
        match answer.status.as_u16() {
            401 => {
                let e = classify(answer.status, &answer.headers, &answer.body, now);
                // Marks the connection `needs_reauth` (and notifies) unless it was replaced.
                if let Err(reauth) = self
                    .tokens
                    .after_rejection(connection, token, &NoRefresh)
                    .await
                {
                    tracing::warn!(connection = %connection.id, error = %reauth.detailed_message(), "Mastodon token refused");
                }
                Err(e)
            }
            429 => {
                let e = classify(answer.status, &answer.headers, &answer.body, now);
                let until = now
                    + chrono::Duration::from_std(
                        e.retry_after().unwrap_or(Duration::from_secs(60)),
                    )
                    .unwrap_or_else(|_| chrono::Duration::minutes(1));
                self.budgets
                    .block_until(Platform::Mastodon, &account, op.bucket(), until)
                    .await?;
                Err(e)
            }
            _ => answer.success(now),
        }
    }

    /// Uploads one media file (`POST /api/v2/media`) and waits until it is processed.
    async fn upload(
        &self,
        connection: &PlatformConnection,
        token: &Secret<String>,
        instance: &str,
        media: &PublishMedia,
    ) -> Result<String> {
        let part = reqwest::multipart::Part::bytes(media.bytes.to_vec())
            .file_name(media.file.filename.clone())
            .mime_str(&media.file.content_type)
            .map_err(|e| Error::invalid_input("media", e.to_string()))?;
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(alt) = &media.alt_text {
            form = form.text("description", alt.clone());
        }
        // An upload whose answer is lost leaves an unattached file, never a post: safe.
        let answer = self
            .request(
                connection,
                token,
                Op::Upload,
                Idempotency::Safe,
                self.http
                    .post(join(instance, "/api/v2/media"))
                    .multipart(form),
            )
            .await?;
        let attachment: MediaAttachment = answer.json()?;
        if answer.status == StatusCode::OK && attachment.url.is_some() {
            return Ok(attachment.id);
        }
        // 202: still processing. Poll until 200 (206 meanwhile).
        let url = join(instance, &format!("/api/v1/media/{}", attachment.id));
        for _ in 0..self.config.media_poll_attempts {
            tokio::time::sleep(self.config.media_poll_interval).await;
            let answer = self
                .request(
                    connection,
                    token,
                    Op::Read,
                    Idempotency::Safe,
                    self.http.get(&url),
                )
                .await?;
            if answer.status == StatusCode::OK {
                return Ok(attachment.id);
            }
        }
        Err(Error::transient(
            PLATFORM,
            format!("media {} is still processing", attachment.id),
        ))
    }

    /// The account's recent statuses matching `request`: the first part, then each thread part
    /// found replying to the previous one.
    ///
    /// Only statuses created since the request was first about to be sent (less the allowed
    /// clock skew) count, so an older status with the same text (a recurring "Good morning!")
    /// is never taken for this one; a request never sent finds nothing, without a call.
    async fn find(
        &self,
        connection: &PlatformConnection,
        token: &Secret<String>,
        request: &PublishRequest,
    ) -> Result<Vec<Status>> {
        let Some(first_sent) = self
            .sent
            .first(Platform::Mastodon, &request.idempotency_key)
            .await?
        else {
            return Ok(Vec::new());
        };
        let not_before = SendLog::not_before(first_sent);
        let instance = instance_of(connection)?;
        let url = join(
            &instance,
            &format!("/api/v1/accounts/{}/statuses", account_id(connection)),
        );
        let limit = LOOKUP_WINDOW.to_string();
        let answer = self
            .request(
                connection,
                token,
                Op::Read,
                Idempotency::Safe,
                self.http
                    .get(url)
                    .query(&[("limit", limit.as_str()), ("exclude_replies", "false")]),
            )
            .await?;
        let statuses: Vec<Status> = answer.json()?;
        let cw = content_warning(request).unwrap_or("");
        let parts = parts(request);
        let matches = |s: &Status, text: &str, parent: Option<&str>| {
            s.in_reply_to_id.as_deref() == parent
                && created_at(s).is_some_and(|at| at >= not_before)
                && same_text(&local_mentions(&s.content), &local_mentions(&escape(text)))
                && same_text(&s.spoiler_text, cw)
        };
        let mut found: Vec<Status> = Vec::new();
        for part in &parts {
            let parent = found.last().map(|s| s.id.clone());
            // Newest first: the most recent match is the likeliest to be ours.
            match statuses
                .iter()
                .find(|s| matches(s, part, parent.as_deref()))
            {
                Some(s) => found.push(s.clone()),
                None => break,
            }
        }
        Ok(found)
    }

    fn published(first: &Status, thread: &[Status], now: DateTime<Utc>) -> PublishedPost {
        PublishedPost {
            platform_post_id: PlatformPostId::new(first.id.clone()),
            url: first.url.clone(),
            thread_ids: thread
                .iter()
                .map(|s| PlatformPostId::new(s.id.clone()))
                .collect(),
            published_at: created_at(first).unwrap_or(now),
        }
    }
}

#[async_trait]
impl Publisher for MastodonPublisher {
    fn platform(&self) -> Platform {
        Platform::Mastodon
    }

    /// Publishes the first status, its media and its thread.
    ///
    /// Each part carries an `Idempotency-Key` (`key`, `key-2`, ...): within the hour the
    /// instance answers a resend with the status it already created. A later attempt
    /// (`attempt > 1`) first reads the account's recent statuses and only posts the parts not
    /// found there.
    ///
    /// # Errors
    /// `Validation` (core rules, instance limits) before any create; `RateLimited` when a
    /// budget is spent; `AuthExpired`, `InvalidContent`, `Transient`, `OutcomeUnknown` (a
    /// status request whose answer was lost) from the instance.
    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        check_rules(request)?;
        let instance = instance_of(connection)?;
        let limits = self.instance_limits(&instance).await?;
        check_instance_limits(&limits, request)?;
        let credentials = self.tokens.access_token(connection, &NoRefresh).await?;
        let connection = &credentials.connection;
        let token = &credentials.access_token;
        let parts = parts(request);
        let account = Self::account(&instance, connection);
        self.admission(connection, request).await?;
        let mut done = if request.attempt > 1 {
            self.find(connection, token, request).await?
        } else {
            Vec::new()
        };
        let media_ids = if done.is_empty() && !request.media.is_empty() {
            // Checked by `admission` on a first attempt; a resend that found nothing uploads too.
            self.check_budget(&account, Op::Upload, request.media.len())
                .await?;
            let mut ids = Vec::with_capacity(request.media.len());
            for media in &request.media {
                ids.push(self.upload(connection, token, &instance, media).await?);
            }
            ids
        } else {
            Vec::new()
        };
        let cw = content_warning(request);
        let url = join(&instance, "/api/v1/statuses");
        if done.len() < parts.len() {
            // Before the first create: lookups ignore statuses older than this.
            self.sent
                .mark(Platform::Mastodon, &request.idempotency_key)
                .await?;
        }
        for (n, part) in parts.iter().enumerate().skip(done.len()) {
            let body = NewStatus {
                status: part,
                media_ids: if n == 0 {
                    media_ids.clone()
                } else {
                    Vec::new()
                },
                in_reply_to_id: done.last().map(|s| s.id.as_str()),
                spoiler_text: cw,
                sensitive: cw.map(|_| true),
            };
            let answer = self
                .request(
                    connection,
                    token,
                    Op::Create,
                    Idempotency::Unsafe,
                    self.http
                        .post(&url)
                        .header("Idempotency-Key", part_key(&request.idempotency_key, n))
                        .json(&body),
                )
                .await?;
            done.push(answer.json()?);
        }
        let (first, thread) = done
            .split_first()
            .ok_or_else(|| Error::other(PLATFORM, "no status was created"))?;
        Ok(Self::published(first, thread, self.now()))
    }

    /// The same budget checks `publish` makes before anything is sent; sends nothing.
    ///
    /// # Errors
    /// [`Error::RateLimited`] until the status (or media) budget frees; [`Error::Config`] for a
    /// connection without an instance.
    async fn admit(&self, connection: &PlatformConnection, request: &PublishRequest) -> Result<()> {
        self.admission(connection, request).await
    }

    /// `DELETE /api/v1/statuses/{id}`.
    ///
    /// # Errors
    /// `NotFound` for an unknown status; `AuthExpired`, `RateLimited`, `Transient`.
    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        let instance = instance_of(connection)?;
        let credentials = self.tokens.access_token(connection, &NoRefresh).await?;
        self.request(
            &credentials.connection,
            &credentials.access_token,
            Op::Delete,
            Idempotency::Safe,
            self.http.delete(join(
                &instance,
                &format!("/api/v1/statuses/{}", id.as_str()),
            )),
        )
        .await?;
        Ok(())
    }

    /// Reads the account's last 20 statuses (replies included) and matches the text, the
    /// content warning and the reply chain among those created since the request was first
    /// sent (a request never sent is `NotPublished` without a call). Never creates anything.
    ///
    /// All parts found: `Published`; none: `NotPublished`; only some of a thread:
    /// `ResendIsSafe` (a resend posts only the missing parts). A status pushed out of the last
    /// 20 by later posts of the same account is not seen: ask soon after the unknown outcome.
    async fn lookup(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        let credentials = self.tokens.access_token(connection, &NoRefresh).await?;
        let found = self
            .find(&credentials.connection, &credentials.access_token, request)
            .await?;
        let expected = parts(request).len();
        Ok(match found.split_first() {
            None => Lookup::NotPublished,
            Some((first, thread)) if found.len() == expected => {
                Lookup::Published(Self::published(first, thread, self.now()))
            }
            Some(_) => Lookup::ResendIsSafe {
                reason: format!(
                    "{} of {expected} thread parts are posted; a resend posts only the rest",
                    found.len()
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_mentions_are_shortened_like_mastodon_displays_them() {
        assert_eq!(
            local_mentions("Hi @bob@host.social, @carol and (@dan@x.org)."),
            "Hi @bob, @carol and (@dan)."
        );
        assert_eq!(
            local_mentions("@first.last@mastodon.example!"),
            "@first.last!"
        );
        // E-mail addresses and bare `@`s stay.
        assert_eq!(
            local_mentions("mail me@example.com or @ noon"),
            "mail me@example.com or @ noon"
        );
        assert!(same_text("<p>a &lt;b&gt; c</p>", &escape("a <b> c")));
        assert!(same_text(
            &local_mentions(
                "<p>Hi <span class=\"h-card\"><a href=\"https://host.social/@bob\" \
                 class=\"u-url mention\">@<span>bob</span></a></span>!</p>"
            ),
            &local_mentions("Hi @bob@host.social!")
        ));
    }
}
