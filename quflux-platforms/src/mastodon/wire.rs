//! Private serde types of the Mastodon API (README §5, `openapi.json`).

use serde::{Deserialize, Serialize};

/// `{"error": "...", "error_description": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}

/// `POST /api/v1/apps` request.
#[derive(Debug, Serialize)]
pub(crate) struct RegisterApp<'a> {
    pub(crate) client_name: &'a str,
    pub(crate) redirect_uris: Vec<&'a str>,
    pub(crate) scopes: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) website: Option<&'a str>,
}

/// `POST /api/v1/apps` answer (the fields used).
#[derive(Deserialize)]
pub(crate) struct RegisteredApp {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

/// `GET /api/v1/accounts/verify_credentials` (the fields used).
#[derive(Debug, Deserialize)]
pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) acct: Option<String>,
    #[serde(default)]
    pub(crate) url: Option<String>,
}

/// `GET /api/v2/instance` (the fields used).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Instance {
    #[serde(default)]
    pub(crate) configuration: Configuration,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Configuration {
    #[serde(default)]
    pub(crate) statuses: StatusesConfig,
    #[serde(default)]
    pub(crate) media_attachments: MediaConfig,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatusesConfig {
    pub(crate) max_characters: Option<usize>,
    pub(crate) max_media_attachments: Option<usize>,
    pub(crate) characters_reserved_per_url: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MediaConfig {
    pub(crate) description_limit: Option<usize>,
}

/// `POST /api/v1/statuses` body.
#[derive(Debug, Serialize)]
pub(crate) struct NewStatus<'a> {
    pub(crate) status: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) media_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) in_reply_to_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) spoiler_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sensitive: Option<bool>,
}

/// A Status (the fields used).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Status {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) created_at: Option<String>,
    #[serde(default)]
    pub(crate) in_reply_to_id: Option<String>,
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) spoiler_text: String,
}

/// A MediaAttachment (the fields used).
#[derive(Debug, Deserialize)]
pub(crate) struct MediaAttachment {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) url: Option<String>,
}
