//! AI content generation ports.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Platform, Result};

/// A text generation task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "task")]
pub enum TextTask {
    /// A caption for a post.
    Caption {
        /// `image`, `video`, `link` or `text`.
        content_type: String,
        /// Main topic.
        topic: String,
        /// Target platform.
        platform: Platform,
        /// `professional`, `casual`, `humorous`, `inspirational`, ...
        tone: String,
    },
    /// Hashtags for a text.
    Hashtags {
        /// The text to tag.
        content: String,
        /// Target platform.
        platform: Platform,
    },
    /// Ideas for posts.
    Ideas {
        /// Topic.
        topic: String,
        /// Audience.
        audience: String,
    },
    /// Rewrite or shorten a text to fit a platform.
    Rewrite {
        /// The text.
        text: String,
        /// Target platform.
        platform: Platform,
    },
}

/// Generated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedText {
    /// One caption or rewrite, or several hashtags or ideas.
    pub items: Vec<String>,
    /// The model or provider that made them.
    pub model: String,
}

/// An image generation task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "task")]
pub enum ImageTask {
    /// A new image from a prompt.
    Generate {
        /// What to draw.
        prompt: String,
        /// `realistic`, `artistic`, ...
        style: String,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// An edit of an existing image.
    Edit {
        /// The image.
        image: Bytes,
        /// Its MIME type.
        content_type: String,
        /// What to change.
        prompt: String,
    },
    /// A text graphic from a template.
    SocialGraphic {
        /// The text.
        text: String,
        /// Template name.
        template: String,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// A generated image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedImage {
    /// The bytes.
    pub bytes: Bytes,
    /// Their MIME type.
    pub content_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The model or provider that made it.
    pub model: String,
}

/// Generates text.
///
/// # Contract
/// - Returns at least one item or an error; provider failures map to the core error kinds
///   (throttling to [`crate::Error::RateLimited`], outages to [`crate::Error::Transient`]).
#[async_trait]
pub trait TextGenerator: Send + Sync + std::fmt::Debug + 'static {
    /// Runs one task.
    async fn generate_text(&self, task: &TextTask) -> Result<GeneratedText>;
}

/// Generates images.
///
/// # Contract
/// - Tasks the provider cannot do are [`crate::Error::Unsupported`].
#[async_trait]
pub trait ImageGenerator: Send + Sync + std::fmt::Debug + 'static {
    /// Runs one task.
    async fn generate_image(&self, task: &ImageTask) -> Result<GeneratedImage>;
}
