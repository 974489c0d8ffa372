//! The platform contract suite: a [`Publisher`] against a local stand-in of its platform that
//! can be told to fail the way the real platform does.
//!
//! Each platform crate provides a stand-in implementing [`StandIn`] (faults armed for the next
//! create request, and a view of the posts it holds) and runs [`run_contract`]. Scenarios:
//! success, thread, media with alt text, rate limited (with a reset time), duplicate content,
//! invalid content, 5xx, a timeout after the post was created (must end `OutcomeUnknown` and
//! settle through lookup without a second post), and an expired token (last, since it may leave
//! the connection needing re-authorization). The generic [`super::publisher::run_all`]
//! scenarios run first.

use async_trait::async_trait;
use bytes::Bytes;

use super::fixtures::{media_for, publish_request};
use super::{Must, unique};
use crate::{
    ErrorKind, Lookup, PlatformConnection, PublishMedia, PublishRequest, Publisher, UserId,
};

/// A failure a stand-in produces on the next create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The platform's throttling answer, with its reset headers.
    RateLimited,
    /// The access token is refused as expired or revoked (X 401, Bluesky 400 `ExpiredToken`,
    /// ...), and so is any refresh, until [`StandIn::reset`].
    ExpiredToken,
    /// The platform's duplicate-content refusal.
    Duplicate,
    /// The platform's invalid-content refusal (for content the local rules accept).
    InvalidContent,
    /// A 5xx answer; nothing is created.
    ServerError,
    /// The post is created, but the answer arrives after the client's timeout.
    TimeoutAfterCreate,
}

/// One post held by a stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandInPost {
    /// The platform id the stand-in gave it (as the publisher reports it).
    pub id: String,
    /// Its text as received.
    pub text: String,
    /// The id of the post it replies to (threads).
    pub reply_to: Option<String>,
    /// Alt text of each attached media item, in order (`None` for media without one).
    pub media_alt: Vec<Option<String>>,
}

/// Control of a platform stand-in.
#[async_trait]
pub trait StandIn: Send + Sync {
    /// Arms `fault` for the next create request. Returns `false` when the platform has no such
    /// failure (e.g. Bluesky detects no duplicates); the scenario is then skipped visibly.
    async fn inject(&self, fault: Fault) -> bool;
    /// Posts it holds (created and not deleted), oldest first.
    async fn posts(&self) -> Vec<StandInPost>;
    /// Disarms every fault.
    async fn reset(&self);
}

/// Unwraps the error of a call that must fail.
trait Fails {
    fn fails(self, what: &str) -> crate::Error;
}

impl<T: std::fmt::Debug> Fails for crate::Result<T> {
    fn fails(self, what: &str) -> crate::Error {
        match self {
            Ok(v) => panic!("{what}, but it succeeded with {v:?}"),
            Err(e) => e,
        }
    }
}

/// A 4×4 PNG.
pub const TINY_PNG: [u8; 73] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26, 0x93, 0x09,
    0x29, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xdf, 0xc0, 0x00,
    0x47, 0x0c, 0xc4, 0x71, 0x00, 0x7e, 0xa2, 0x17, 0xf1, 0x5d, 0xa1, 0x60, 0x05, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A PNG ready to publish, with `alt` text.
pub fn png_media(user_id: UserId, alt: &str) -> PublishMedia {
    let mut file = media_for(user_id);
    file.size_bytes = TINY_PNG.len() as u64;
    file.width = Some(4);
    file.height = Some(4);
    PublishMedia {
        file,
        alt_text: Some(alt.to_owned()),
        bytes: Bytes::from_static(&TINY_PNG),
    }
}

fn request(label: &str) -> PublishRequest {
    publish_request(&format!("Quflux {label} check {}", &unique()[..10]))
}

fn skipped(publisher: &dyn Publisher, scenario: &str) {
    eprintln!(
        "skipping {scenario} for {}: the platform has no such failure",
        publisher.platform()
    );
}

/// Runs the generic scenarios, then every platform scenario; `expired_token` last.
pub async fn run_contract(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    super::publisher::run_all(publisher, connection).await;
    success(publisher, connection, standin).await;
    thread(publisher, connection, standin).await;
    media(publisher, connection, standin).await;
    rate_limited(publisher, connection, standin).await;
    duplicate(publisher, connection, standin).await;
    invalid_content(publisher, connection, standin).await;
    server_error(publisher, connection, standin).await;
    timeout_after_create(publisher, connection, standin).await;
    expired_token(publisher, connection, standin).await;
}

async fn count(standin: &dyn StandIn) -> usize {
    standin.posts().await.len()
}

/// A plain post lands with its text and is found by lookup.
pub async fn success(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    let request = request("success");
    let post = publisher
        .publish(connection, &request)
        .await
        .must("publish");
    let held = standin.posts().await;
    let found = held
        .iter()
        .find(|p| p.id == post.platform_post_id.as_str())
        .unwrap_or_else(|| {
            panic!(
                "the stand-in holds no post {}: {held:?}",
                post.platform_post_id
            )
        });
    assert_eq!(
        found.text, request.text,
        "the post text reaches the platform unchanged"
    );
    match publisher.lookup(connection, &request).await.must("lookup") {
        Lookup::Published(p) => assert_eq!(p.platform_post_id, post.platform_post_id),
        Lookup::Indeterminate { .. } | Lookup::ResendIsSafe { .. } => {}
        Lookup::NotPublished => panic!("lookup says NotPublished for a published post"),
    }
}

/// A thread posts each part as a reply to the previous one.
pub async fn thread(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    let mut request = request("thread");
    request.thread = vec![
        format!("second part {}", &unique()[..8]),
        format!("third part {}", &unique()[..8]),
    ];
    let post = publisher
        .publish(connection, &request)
        .await
        .must("publish a thread");
    assert_eq!(post.thread_ids.len(), 2, "every thread part gets an id");
    let held = standin.posts().await;
    let by_id = |id: &str| {
        held.iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("the stand-in holds no post {id}: {held:?}"))
            .clone()
    };
    let first = by_id(post.platform_post_id.as_str());
    let second = by_id(post.thread_ids[0].as_str());
    let third = by_id(post.thread_ids[1].as_str());
    assert_eq!(first.reply_to, None);
    assert_eq!(
        second.reply_to.as_deref(),
        Some(first.id.as_str()),
        "part 2 replies to part 1"
    );
    assert_eq!(
        third.reply_to.as_deref(),
        Some(second.id.as_str()),
        "part 3 replies to part 2"
    );
    assert_eq!(second.text, request.thread[0]);
    assert_eq!(third.text, request.thread[1]);
}

/// An image is uploaded and attached with its alt text.
pub async fn media(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    let mut request = request("media");
    request.media = vec![png_media(connection.user_id, "A tiny orange square")];
    let post = publisher
        .publish(connection, &request)
        .await
        .must("publish with an image");
    let held = standin.posts().await;
    let found = held
        .iter()
        .find(|p| p.id == post.platform_post_id.as_str())
        .unwrap_or_else(|| {
            panic!(
                "the stand-in holds no post {}: {held:?}",
                post.platform_post_id
            )
        });
    assert_eq!(
        found.media_alt,
        vec![Some("A tiny orange square".to_owned())],
        "the image is attached with its alt text"
    );
}

/// Throttling maps to `RateLimited` with the wait the platform announced; nothing is posted.
pub async fn rate_limited(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    if !standin.inject(Fault::RateLimited).await {
        return skipped(publisher, "rate_limited");
    }
    let before = count(standin).await;
    let e = publisher
        .publish(connection, &request("rate limit"))
        .await
        .fails("a throttled publish fails");
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(
        e.retry_after().is_some_and(|d| !d.is_zero()),
        "the wait is read from the platform's reset headers: {e:?}"
    );
    assert_eq!(count(standin).await, before, "nothing was posted");
    standin.reset().await;
}

/// Duplicate content is refused as invalid content, not retried.
pub async fn duplicate(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    if !standin.inject(Fault::Duplicate).await {
        return skipped(publisher, "duplicate");
    }
    let before = count(standin).await;
    let e = publisher
        .publish(connection, &request("duplicate"))
        .await
        .fails("a duplicate is refused");
    assert_eq!(e.kind(), ErrorKind::InvalidContent, "{e:?}");
    assert!(!e.is_retryable());
    assert_eq!(count(standin).await, before, "nothing was posted");
}

/// The platform's invalid-content answer maps to `InvalidContent`.
pub async fn invalid_content(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    if !standin.inject(Fault::InvalidContent).await {
        return skipped(publisher, "invalid_content");
    }
    let before = count(standin).await;
    let e = publisher
        .publish(connection, &request("invalid"))
        .await
        .fails("invalid content is refused");
    assert!(
        matches!(e.kind(), ErrorKind::InvalidContent | ErrorKind::Validation),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    assert_eq!(count(standin).await, before, "nothing was posted");
}

/// A 5xx that created nothing is retryable (or `OutcomeUnknown`, settled by lookup, when the
/// platform documents that a 5xx may have posted); lookup does not find a post.
pub async fn server_error(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    if !standin.inject(Fault::ServerError).await {
        return skipped(publisher, "server_error");
    }
    let before = count(standin).await;
    let request = request("server error");
    let e = publisher
        .publish(connection, &request)
        .await
        .fails("a 5xx fails");
    assert!(
        e.is_retryable() || e.kind() == ErrorKind::OutcomeUnknown,
        "a 5xx is retried, or settled by lookup when the platform may have applied it: {e:?}"
    );
    assert_eq!(count(standin).await, before, "nothing was posted");
    if let Lookup::Published(p) = publisher.lookup(connection, &request).await.must("lookup") {
        panic!("lookup found {p:?} after a 5xx that created nothing");
    }
}

/// A timeout after the post was created ends `OutcomeUnknown`; reconciliation finds the post
/// (or resends, which the platform deduplicates): never a second post.
pub async fn timeout_after_create(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    if !standin.inject(Fault::TimeoutAfterCreate).await {
        return skipped(publisher, "timeout_after_create");
    }
    let before = count(standin).await;
    let mut request = request("timeout");
    let e = publisher
        .publish(connection, &request)
        .await
        .fails("a lost answer fails");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e:?}");
    let held = standin.posts().await;
    assert_eq!(held.len(), before + 1, "the stand-in created the post");
    let created = held
        .iter()
        .find(|p| p.text == request.text)
        .unwrap_or_else(|| {
            panic!(
                "the stand-in holds no post with the text {:?}",
                request.text
            )
        })
        .id
        .clone();
    standin.reset().await;
    match publisher.lookup(connection, &request).await.must("lookup") {
        Lookup::Published(p) => assert_eq!(p.platform_post_id.as_str(), created),
        Lookup::ResendIsSafe { .. } => {
            request.attempt += 1;
            let p = publisher
                .publish(connection, &request)
                .await
                .must("resend a deduplicated request");
            assert_eq!(
                p.platform_post_id.as_str(),
                created,
                "the resend returns the first post"
            );
        }
        other => panic!("lookup must settle a timed-out publish, got {other:?}"),
    }
    assert_eq!(count(standin).await, before + 1, "never a second post");
}

/// An expired or revoked token maps to `AuthExpired`; nothing is posted.
pub async fn expired_token(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
    standin: &dyn StandIn,
) {
    standin.reset().await;
    if !standin.inject(Fault::ExpiredToken).await {
        return skipped(publisher, "expired_token");
    }
    let before = count(standin).await;
    let e = publisher
        .publish(connection, &request("expired"))
        .await
        .fails("an expired token fails");
    assert_eq!(e.kind(), ErrorKind::AuthExpired, "{e:?}");
    assert_eq!(count(standin).await, before, "nothing was posted");
    standin.reset().await;
}
