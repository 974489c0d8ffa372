//! [`StubPublisher`]: a scripted [`Publisher`] that records what it is asked to do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::lock;
use crate::{
    Clock, ConnectionId, Error, Lookup, Platform, PlatformConnection, PlatformPostId,
    PublishRequest, PublishedPost, Publisher, Result, SystemClock,
};

/// One scripted outcome of [`StubPublisher`]'s `publish`.
#[derive(Debug)]
pub enum StubOutcome {
    /// Post with a fresh id and succeed (what happens when the script is empty).
    Succeed,
    /// Return this result. An `Ok` post counts as posted under the request's idempotency key; an
    /// error means nothing was posted.
    Return(Result<PublishedPost>),
    /// Post with a fresh id, then return this error: the request went out and the response was
    /// lost. A later `lookup` finds the post.
    PostThenFail(Error),
}

/// A post the stub holds, with what it was asked to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct StubPost {
    /// The connection it was published through.
    pub connection_id: ConnectionId,
    /// The request that created it.
    pub request: PublishRequest,
    /// The post.
    pub post: PublishedPost,
}

/// A [`Publisher`] for tests, examples and the server's dev mode.
///
/// - `publish` records the [`PublishRequest`], then plays the next scripted [`StubOutcome`]
///   ([`StubOutcome::Succeed`] when the script is empty). A success posts with a fresh id
///   `stub-<n>` (thread parts `stub-<n>-<i>`) and a URL under `https://stub.invalid/`.
/// - It keeps every post it made, duplicates included, so a test can assert that nothing was
///   posted twice ([`StubPublisher::published`]).
/// - `lookup` answers [`Lookup::Published`] for an idempotency key it posted and
///   [`Lookup::NotPublished`] otherwise; [`StubPublisher::with_lookup_indeterminate`] makes it
///   answer [`Lookup::Indeterminate`], and [`StubPublisher::push_lookup`] scripts answers.
/// - `delete` removes a held post; an unknown id is [`Error::NotFound`].
///
/// ```
/// use quflux_core::memory::StubPublisher;
/// use quflux_core::{Error, Platform};
///
/// let stub = StubPublisher::new(Platform::Mastodon);
/// stub.push_error(Error::RateLimited { service: "mastodon", retry_after: None, source: None });
/// stub.push_post_then_fail(Error::OutcomeUnknown { service: "mastodon", source: "timeout".into() });
/// // The third call and every later one succeed.
/// assert_eq!(stub.publish_calls(), 0);
/// ```
#[derive(Debug)]
pub struct StubPublisher {
    platform: Platform,
    clock: Arc<dyn Clock>,
    lookup_indeterminate: bool,
    state: Mutex<StubState>,
}

#[derive(Debug, Default)]
struct StubState {
    script: VecDeque<StubOutcome>,
    lookup_script: VecDeque<Result<Lookup>>,
    admit_script: VecDeque<Result<()>>,
    admits: usize,
    requests: Vec<PublishRequest>,
    posts: Vec<StubPost>,
    deleted: Vec<PlatformPostId>,
    lookups: usize,
    next_id: u64,
}

impl StubPublisher {
    /// A stub for `platform` that succeeds unless scripted otherwise.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            clock: Arc::new(SystemClock),
            lookup_indeterminate: false,
            state: Mutex::default(),
        }
    }

    /// Uses `clock` for `published_at`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Makes `lookup` answer [`Lookup::Indeterminate`] (unless scripted with
    /// [`StubPublisher::push_lookup`]), like a platform with no way to search by key.
    pub fn with_lookup_indeterminate(mut self) -> Self {
        self.lookup_indeterminate = true;
        self
    }

    fn state(&self) -> MutexGuard<'_, StubState> {
        lock(&self.state)
    }

    /// Appends an outcome to the publish script.
    pub fn push(&self, outcome: StubOutcome) {
        self.state().script.push_back(outcome);
    }

    /// Scripts the next publish to return `result` (see [`StubOutcome::Return`]).
    pub fn push_result(&self, result: Result<PublishedPost>) {
        self.push(StubOutcome::Return(result));
    }

    /// Scripts the next publish to fail with `error`, posting nothing.
    pub fn push_error(&self, error: Error) {
        self.push(StubOutcome::Return(Err(error)));
    }

    /// Scripts the next publish to post and then fail with `error` (see
    /// [`StubOutcome::PostThenFail`]).
    pub fn push_post_then_fail(&self, error: Error) {
        self.push(StubOutcome::PostThenFail(error));
    }

    /// Scripts the next `admit` answer (it admits everything otherwise).
    pub fn push_admit(&self, result: Result<()>) {
        self.state().admit_script.push_back(result);
    }

    /// How many times `admit` was asked.
    pub fn admit_calls(&self) -> usize {
        self.state().admits
    }

    /// Scripts the next `lookup` answer (before the default behaviour applies).
    pub fn push_lookup(&self, result: Result<Lookup>) {
        self.state().lookup_script.push_back(result);
    }

    /// The posts it holds (published and not deleted), oldest first, duplicates included.
    pub fn published(&self) -> Vec<PublishedPost> {
        self.state().posts.iter().map(|p| p.post.clone()).collect()
    }

    /// The posts it holds with the requests that created them.
    pub fn posts(&self) -> Vec<StubPost> {
        self.state().posts.clone()
    }

    /// Every publish request received, in order, whatever its outcome.
    pub fn requests(&self) -> Vec<PublishRequest> {
        self.state().requests.clone()
    }

    /// How many times `publish` was called.
    pub fn publish_calls(&self) -> usize {
        self.state().requests.len()
    }

    /// How many times `lookup` was called.
    pub fn lookup_calls(&self) -> usize {
        self.state().lookups
    }

    /// Ids of the posts deleted through `delete`, in order.
    pub fn deleted(&self) -> Vec<PlatformPostId> {
        self.state().deleted.clone()
    }

    fn fresh_post(&self, state: &mut StubState, request: &PublishRequest) -> PublishedPost {
        state.next_id += 1;
        let id = format!("stub-{}", state.next_id);
        PublishedPost {
            url: Some(format!("https://stub.invalid/{}/{id}", self.platform)),
            thread_ids: (1..=request.thread.len())
                .map(|i| PlatformPostId::new(format!("{id}-{i}")))
                .collect(),
            platform_post_id: PlatformPostId::new(id),
            published_at: self.clock.now(),
        }
    }
}

#[async_trait]
impl Publisher for StubPublisher {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        let mut state = self.state();
        state.requests.push(request.clone());
        let (posted, result) = match state.script.pop_front().unwrap_or(StubOutcome::Succeed) {
            StubOutcome::Succeed => {
                let post = self.fresh_post(&mut state, request);
                (Some(post.clone()), Ok(post))
            }
            StubOutcome::Return(Ok(post)) => (Some(post.clone()), Ok(post)),
            StubOutcome::Return(Err(error)) => (None, Err(error)),
            StubOutcome::PostThenFail(error) => {
                (Some(self.fresh_post(&mut state, request)), Err(error))
            }
        };
        if let Some(post) = posted {
            state.posts.push(StubPost {
                connection_id: connection.id,
                request: request.clone(),
                post,
            });
        }
        result
    }

    async fn admit(
        &self,
        _connection: &PlatformConnection,
        _request: &PublishRequest,
    ) -> Result<()> {
        let mut state = self.state();
        state.admits += 1;
        state.admit_script.pop_front().unwrap_or(Ok(()))
    }

    async fn delete(&self, _connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        let mut state = self.state();
        let index = state
            .posts
            .iter()
            .position(|p| &p.post.platform_post_id == id)
            .ok_or_else(|| Error::not_found(format!("{} post {id}", self.platform)))?;
        state.posts.remove(index);
        state.deleted.push(id.clone());
        Ok(())
    }

    async fn lookup(
        &self,
        _connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        let mut state = self.state();
        state.lookups += 1;
        if let Some(scripted) = state.lookup_script.pop_front() {
            return scripted;
        }
        if self.lookup_indeterminate {
            return Ok(Lookup::Indeterminate {
                reason: "the stub was built without lookup support".into(),
            });
        }
        Ok(state
            .posts
            .iter()
            .find(|p| p.request.idempotency_key == request.idempotency_key)
            .map_or(Lookup::NotPublished, |p| Lookup::Published(p.post.clone())))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{ConnectionStatus, EncryptedToken, ErrorKind, PublicationId, UserId};

    fn connection() -> PlatformConnection {
        PlatformConnection {
            id: ConnectionId::new(),
            user_id: UserId::new(),
            platform: Platform::Bluesky,
            platform_user_id: "did:plc:stub".into(),
            platform_username: "stub.bsky.social".into(),
            access_token: EncryptedToken {
                key_id: "k".into(),
                ciphertext: "x".into(),
            },
            refresh_token: None,
            expires_at: None,
            scopes: Vec::new(),
            status: ConnectionStatus::Active,
            metadata: serde_json::json!({}),
            version: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn request(key: &str) -> PublishRequest {
        PublishRequest {
            publication_id: PublicationId::new(),
            idempotency_key: key.into(),
            attempt: 1,
            text: "hello".into(),
            thread: vec!["two".into(), "three".into()],
            media: Vec::new(),
            link_url: None,
            link_preview: None,
            ai_generated: false,
            options: Default::default(),
        }
    }

    fn unknown() -> Error {
        Error::OutcomeUnknown {
            service: "bluesky",
            source: "timeout after send".into(),
        }
    }

    #[tokio::test]
    async fn stub_succeeds_by_default_with_fresh_ids() {
        let stub = StubPublisher::new(Platform::Bluesky);
        let c = connection();
        let a = stub.publish(&c, &request("a")).await.unwrap();
        let b = stub.publish(&c, &request("b")).await.unwrap();
        assert_eq!(a.platform_post_id.as_str(), "stub-1");
        assert_eq!(
            a.thread_ids,
            vec![
                PlatformPostId::new("stub-1-1"),
                PlatformPostId::new("stub-1-2")
            ]
        );
        assert_ne!(a.platform_post_id, b.platform_post_id);
        assert_eq!(stub.publish_calls(), 2);
        assert_eq!(stub.published(), vec![a, b]);
        assert_eq!(stub.posts()[0].connection_id, c.id);
        assert_eq!(stub.requests()[1].idempotency_key, "b");
    }

    #[tokio::test]
    async fn stub_plays_its_script_in_order() {
        let stub = StubPublisher::new(Platform::Bluesky);
        let c = connection();
        let custom = PublishedPost {
            platform_post_id: PlatformPostId::new("at://custom"),
            url: None,
            thread_ids: Vec::new(),
            published_at: Utc::now(),
        };
        stub.push_error(Error::transient("bluesky", "502"));
        stub.push_result(Ok(custom.clone()));
        let err = stub.publish(&c, &request("k")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert!(stub.published().is_empty());
        assert_eq!(
            stub.lookup(&c, &request("k")).await.unwrap(),
            Lookup::NotPublished
        );
        assert_eq!(stub.publish(&c, &request("k")).await.unwrap(), custom);
        assert_eq!(
            stub.lookup(&c, &request("k")).await.unwrap(),
            Lookup::Published(custom)
        );
        assert_eq!(stub.publish_calls(), 2);
        assert_eq!(stub.lookup_calls(), 2);
    }

    #[tokio::test]
    async fn post_then_fail_is_found_by_lookup() {
        let stub = StubPublisher::new(Platform::Bluesky);
        let c = connection();
        stub.push(StubOutcome::PostThenFail(unknown()));
        let err = stub.publish(&c, &request("lost")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
        assert_eq!(stub.published().len(), 1);
        match stub.lookup(&c, &request("lost")).await.unwrap() {
            Lookup::Published(post) => assert_eq!(post, stub.published()[0]),
            other => panic!("expected Published, got {other:?}"),
        }
        assert_eq!(
            stub.lookup(&c, &request("other")).await.unwrap(),
            Lookup::NotPublished
        );
    }

    #[tokio::test]
    async fn indeterminate_lookup_and_scripted_lookups() {
        let stub = StubPublisher::new(Platform::Bluesky).with_lookup_indeterminate();
        let c = connection();
        stub.push_post_then_fail(unknown());
        let _ = stub.publish(&c, &request("k")).await;
        assert!(matches!(
            stub.lookup(&c, &request("k")).await.unwrap(),
            Lookup::Indeterminate { .. }
        ));
        stub.push_lookup(Err(Error::transient("bluesky", "503")));
        assert_eq!(
            stub.lookup(&c, &request("k")).await.unwrap_err().kind(),
            ErrorKind::Transient
        );
    }

    #[tokio::test]
    async fn delete_removes_and_unknown_ids_are_not_found() {
        let stub = StubPublisher::new(Platform::Bluesky);
        let c = connection();
        let post = stub.publish(&c, &request("d")).await.unwrap();
        stub.delete(&c, &post.platform_post_id).await.unwrap();
        assert!(stub.published().is_empty());
        assert_eq!(stub.deleted(), vec![post.platform_post_id.clone()]);
        assert_eq!(
            stub.lookup(&c, &request("d")).await.unwrap(),
            Lookup::NotPublished
        );
        let err = stub.delete(&c, &post.platform_post_id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn duplicates_are_kept_so_tests_can_see_double_posts() {
        let stub = StubPublisher::new(Platform::Bluesky);
        let c = connection();
        stub.publish(&c, &request("same")).await.unwrap();
        stub.publish(&c, &request("same")).await.unwrap();
        assert_eq!(stub.published().len(), 2);
    }

    #[tokio::test]
    async fn manual_clock_sets_published_at() {
        let at = "2026-05-01T08:00:00Z".parse().unwrap();
        let stub = StubPublisher::new(Platform::Bluesky)
            .with_clock(Arc::new(crate::memory::ManualClock::new(at)));
        assert_eq!(
            stub.publish(&connection(), &request("t"))
                .await
                .unwrap()
                .published_at,
            at
        );
    }
}
