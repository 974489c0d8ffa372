//! Composing posts.

use std::sync::Arc;

use crate::rules;
use crate::{
    Clock, Error, MediaFile, MediaStore, Platform, Post, PostContent, PostFilter, PostId,
    PostStatus, PostStore, Result, UserId, Violation,
};

/// Longest base text or variant accepted at all, in bytes (platform limits are checked by rules).
pub const MAX_TEXT_BYTES: usize = 100_000;
/// Most thread parts a post may have.
pub const MAX_THREAD_PARTS: usize = 25;

/// Creates, edits, lists and validates posts. Every call checks ownership: another user's post
/// is reported as not found.
#[derive(Debug, Clone)]
pub struct PostService {
    posts: Arc<dyn PostStore>,
    media: Arc<dyn MediaStore>,
    clock: Arc<dyn Clock>,
}

/// The validation of one post for one platform.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformValidation {
    /// The platform.
    pub platform: Platform,
    /// Length of the text in the platform's unit.
    pub length: usize,
    /// The platform's limit.
    pub limit: usize,
    /// Every broken rule.
    pub violations: Vec<Violation>,
}

impl PostService {
    /// A service over these stores.
    pub fn new(
        posts: Arc<dyn PostStore>,
        media: Arc<dyn MediaStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            posts,
            media,
            clock,
        }
    }

    /// Creates a draft.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty or oversized content, [`Error::NotFound`] for media the
    /// user does not own.
    pub async fn create(&self, user_id: UserId, content: PostContent) -> Result<Post> {
        check_content(&content)?;
        self.media_for(user_id, &content).await?;
        let now = self.clock.now();
        let post = Post {
            id: PostId::new(),
            user_id,
            content,
            status: PostStatus::Draft,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        self.posts.insert_post(&post).await?;
        Ok(post)
    }

    /// Loads one of the user's posts.
    pub async fn get(&self, user_id: UserId, id: PostId) -> Result<Post> {
        let post = self.posts.get_post(id).await?;
        if post.user_id != user_id {
            return Err(Error::not_found(format!("post {id}")));
        }
        Ok(post)
    }

    /// Replaces a post's content. `expected_version`, when given, must match (optimistic locking
    /// for editors). Published posts cannot change.
    pub async fn update(
        &self,
        user_id: UserId,
        id: PostId,
        content: PostContent,
        expected_version: Option<i64>,
    ) -> Result<Post> {
        check_content(&content)?;
        self.media_for(user_id, &content).await?;
        let mut post = self.get(user_id, id).await?;
        if let Some(v) = expected_version
            && v != post.version
        {
            return Err(Error::conflict(format!(
                "post {id} (version {v} is stale; current is {})",
                post.version
            )));
        }
        if post.status == PostStatus::Published {
            return Err(Error::invalid_input(
                "post",
                "a published post cannot be edited",
            ));
        }
        post.content = content;
        post.updated_at = self.clock.now();
        post.version = self.posts.update_post(&post).await?;
        Ok(post)
    }

    /// Deletes a post that is not scheduled.
    pub async fn delete(&self, user_id: UserId, id: PostId) -> Result<()> {
        let post = self.get(user_id, id).await?;
        if post.status == PostStatus::Scheduled {
            return Err(Error::conflict(format!(
                "post {id} is scheduled; cancel its schedule first"
            )));
        }
        self.posts.delete_post(id).await
    }

    /// Lists the user's posts.
    pub async fn list(&self, user_id: UserId, filter: &PostFilter) -> Result<Vec<Post>> {
        if let (Some(from), Some(to)) = (filter.created_from, filter.created_to)
            && from > to
        {
            return Err(Error::invalid_input(
                "created_from",
                "must not be after created_to",
            ));
        }
        self.posts.list_posts(user_id, filter).await
    }

    /// Loads the metadata of the content's media, checking the user owns each file.
    pub async fn media_for(
        &self,
        user_id: UserId,
        content: &PostContent,
    ) -> Result<Vec<MediaFile>> {
        let mut files = Vec::with_capacity(content.media.len());
        for r in &content.media {
            let file = match self.media.get_media(r.media_id).await {
                Ok(f) if f.user_id == user_id => f,
                Ok(_) | Err(Error::NotFound { .. }) => {
                    return Err(Error::not_found(format!("media {}", r.media_id)));
                }
                Err(e) => return Err(e),
            };
            files.push(file);
        }
        Ok(files)
    }

    /// Checks `content` against each platform's rules without saving anything.
    pub async fn validate(
        &self,
        user_id: UserId,
        content: &PostContent,
        platforms: &[Platform],
    ) -> Result<Vec<PlatformValidation>> {
        let media = self.media_for(user_id, content).await?;
        Ok(platforms
            .iter()
            .map(|&platform| {
                let m = rules::measure(platform, content.text_for(platform));
                PlatformValidation {
                    platform,
                    length: m.length,
                    limit: m.limit,
                    violations: rules::validate(platform, content, &media),
                }
            })
            .collect())
    }
}

/// Sanity limits that hold whatever the platform.
pub(crate) fn check_content(content: &PostContent) -> Result<()> {
    if content.text.trim().is_empty() && content.media.is_empty() && content.variants.is_empty() {
        return Err(Error::invalid_input("text", "a post needs text or media"));
    }
    let texts = std::iter::once(&content.text)
        .chain(content.variants.values())
        .chain(content.thread.iter());
    for t in texts {
        if t.len() > MAX_TEXT_BYTES {
            return Err(Error::invalid_input(
                "text",
                format!("is {} bytes; at most {MAX_TEXT_BYTES}", t.len()),
            ));
        }
    }
    if content.thread.len() > MAX_THREAD_PARTS {
        return Err(Error::invalid_input(
            "thread",
            format!(
                "has {} parts; at most {MAX_THREAD_PARTS}",
                content.thread.len()
            ),
        ));
    }
    if let Some(url) = &content.link_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(Error::invalid_input(
            "link_url",
            "must be an http or https URL",
        ));
    }
    Ok(())
}
