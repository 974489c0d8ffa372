//! Private serde types of the X API.

use serde::{Deserialize, Serialize};

/// An RFC 7807 Problem (or the `errors` envelope of a partial answer).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) errors: Vec<ProblemItem>,
}

/// One entry of a Problem's `errors`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ProblemItem {
    pub(crate) message: Option<String>,
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) detail: Option<String>,
}

/// `{"data": T}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Data<T> {
    pub(crate) data: T,
}

/// `GET /2/users/me` → `data`.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) username: String,
}

/// `POST /2/tweets` → `data`.
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub(crate) id: String,
}

/// One post of `GET /2/users/{id}/tweets`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tweet {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The id of the conversation's first post (its own id for a post that replies to none).
    #[serde(default)]
    pub(crate) conversation_id: Option<String>,
}

/// `GET /2/users/{id}/tweets` (no `data` when there are no posts).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Timeline {
    pub(crate) data: Vec<Tweet>,
}

/// `POST /2/tweets` body (`CreatePostsRequest`, `additionalProperties: false`).
#[derive(Debug, Serialize)]
pub(crate) struct CreatePost<'a> {
    pub(crate) text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply: Option<Reply<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) media: Option<MediaIds<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) poll: Option<PollBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) made_with_ai: Option<bool>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Reply<'a> {
    pub(crate) in_reply_to_tweet_id: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct MediaIds<'a> {
    pub(crate) media_ids: &'a [String],
}

#[derive(Debug, Serialize)]
pub(crate) struct PollBody<'a> {
    pub(crate) options: &'a [String],
    pub(crate) duration_minutes: u32,
}

/// Media upload answers (`initialize`, `finalize`, `STATUS`).
#[derive(Debug, Deserialize)]
pub(crate) struct MediaUpload {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) processing_info: Option<ProcessingInfo>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProcessingInfo {
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) check_after_secs: Option<u64>,
}
