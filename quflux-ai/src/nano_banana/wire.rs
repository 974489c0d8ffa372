//! Gemini `generateContent` wire types (private). Requests are camelCase; responses are read in
//! camelCase or snake_case.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST …/models/{model}:generateContent` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateContentRequest<'a> {
    pub(super) contents: Vec<Content<'a>>,
    pub(super) generation_config: GenerationConfig<'a>,
}

/// One turn.
#[derive(Debug, Serialize)]
pub(super) struct Content<'a> {
    pub(super) role: &'static str,
    pub(super) parts: Vec<RequestPart<'a>>,
}

/// A text or inline-image part.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum RequestPart<'a> {
    Text {
        text: &'a str,
    },
    Image {
        #[serde(rename = "inlineData")]
        inline_data: InlineData,
    },
}

/// Base64 bytes with their MIME type.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InlineData {
    pub(super) mime_type: String,
    pub(super) data: String,
}

/// `generationConfig`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerationConfig<'a> {
    pub(super) response_modalities: [&'static str; 2],
    pub(super) image_config: ImageConfig<'a>,
}

/// `generationConfig.imageConfig`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ImageConfig<'a> {
    pub(super) aspect_ratio: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) image_size: Option<&'a str>,
}

/// The response.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct GenerateContentResponse {
    pub(super) candidates: Vec<Candidate>,
    #[serde(alias = "prompt_feedback")]
    pub(super) prompt_feedback: Option<PromptFeedback>,
    #[serde(alias = "model_version")]
    pub(super) model_version: Option<String>,
}

/// One candidate answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Candidate {
    pub(super) content: Option<CandidateContent>,
    #[serde(alias = "finish_reason")]
    pub(super) finish_reason: Option<String>,
    #[serde(alias = "finish_message")]
    pub(super) finish_message: Option<String>,
}

/// A candidate's parts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CandidateContent {
    pub(super) parts: Vec<ResponsePart>,
}

/// A response part: text, an image, or a thought (Gemini 3 interim images).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ResponsePart {
    pub(super) text: Option<String>,
    #[serde(alias = "inline_data")]
    pub(super) inline_data: Option<InlineImage>,
    pub(super) thought: bool,
}

/// A returned image.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct InlineImage {
    #[serde(alias = "mime_type")]
    pub(super) mime_type: String,
    pub(super) data: String,
}

/// `promptFeedback`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct PromptFeedback {
    #[serde(alias = "block_reason")]
    pub(super) block_reason: Option<String>,
    #[serde(alias = "block_reason_message")]
    pub(super) block_reason_message: Option<String>,
}

/// `{"error": {...}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ErrorBody {
    pub(super) error: GoogleError,
}

/// A `google.rpc.Status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GoogleError {
    pub(super) code: Option<i64>,
    pub(super) message: String,
    pub(super) status: Option<String>,
    pub(super) details: Vec<Value>,
}

impl GenerateContentResponse {
    /// The last non-thought image of the first candidate that has one.
    pub(super) fn image(&self) -> Option<&InlineImage> {
        self.candidates.iter().find_map(|c| {
            c.content
                .as_ref()?
                .parts
                .iter()
                .rev()
                .filter(|p| !p.thought)
                .find_map(|p| p.inline_data.as_ref().filter(|d| !d.data.is_empty()))
        })
    }

    /// The non-thought text parts, joined.
    pub(super) fn text(&self) -> String {
        self.candidates
            .iter()
            .filter_map(|c| c.content.as_ref())
            .flat_map(|c| c.parts.iter())
            .filter(|p| !p.thought)
            .filter_map(|p| p.text.as_deref())
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .to_owned()
    }
}
