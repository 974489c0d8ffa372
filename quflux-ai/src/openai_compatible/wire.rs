//! OpenAI-compatible wire types (private), read tolerantly: servers differ in what they send.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST {base}/chat/completions` body.
#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub(super) model: &'a str,
    pub(super) messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_tokens: Option<u32>,
    pub(super) stream: bool,
}

/// A chat message.
#[derive(Debug, Serialize)]
pub(super) struct ChatMessage {
    pub(super) role: &'static str,
    pub(super) content: String,
}

/// The chat completion.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ChatResponse {
    pub(super) model: Option<String>,
    pub(super) choices: Vec<Choice>,
}

/// One choice.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Choice {
    pub(super) message: Option<ChoiceMessage>,
    pub(super) finish_reason: Option<String>,
}

/// The assistant's message.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ChoiceMessage {
    /// A string, `null`, or (some servers) a list of `{"type": "text", "text": …}` parts.
    pub(super) content: Option<Value>,
    pub(super) refusal: Option<String>,
    pub(super) tool_calls: Option<Vec<Value>>,
}

impl ChoiceMessage {
    /// The text content, without a leading `<think>…</think>` block of reasoning models.
    pub(super) fn text(&self) -> String {
        let text = match &self.content {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        let trimmed = text.trim_start();
        match trimmed
            .strip_prefix("<think>")
            .and_then(|rest| rest.split_once("</think>"))
        {
            Some((_, answer)) => answer.trim().to_owned(),
            None => text.trim().to_owned(),
        }
    }
}

/// `POST {base}/images/generations` body.
#[derive(Debug, Serialize)]
pub(super) struct ImageRequest<'a> {
    pub(super) model: &'a str,
    pub(super) prompt: &'a str,
    pub(super) size: String,
    pub(super) n: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) response_format: Option<&'static str>,
}

/// The generated images.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ImagesResponse {
    pub(super) data: Vec<ImageData>,
}

/// One image: base64 bytes or a URL.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ImageData {
    pub(super) b64_json: Option<String>,
    pub(super) url: Option<String>,
}

/// An error body in any of the shapes servers use: `{"error": {"message", "type", "code"}}`
/// (OpenAI, llama.cpp, Ollama), `{"error": "…"}`, `{"object": "error", "message", "type",
/// "code"}` (vLLM) or `{"detail": "…"}`.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ApiErrorBody {
    pub(super) message: String,
    pub(super) kind: Option<String>,
    pub(super) code: Option<String>,
}

impl ApiErrorBody {
    /// Parses `body`; an unreadable body gives an empty error.
    pub(super) fn parse(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let object = match value.get("error") {
            Some(Value::String(message)) => {
                return Self {
                    message: message.clone(),
                    ..Self::default()
                };
            }
            Some(error @ Value::Object(_)) => error,
            _ => &value,
        };
        Self {
            message: text(object.get("message"))
                .or_else(|| text(object.get("detail")))
                .unwrap_or_default(),
            kind: text(object.get("type")),
            code: text(object.get("code")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_parse_in_every_shape() {
        let openai = ApiErrorBody::parse(
            br#"{"error":{"message":"m","type":"invalid_request_error","code":"model_not_found"}}"#,
        );
        assert_eq!(openai.code.as_deref(), Some("model_not_found"));
        let vllm = ApiErrorBody::parse(
            br#"{"object":"error","message":"m","type":"BadRequestError","code":400}"#,
        );
        assert_eq!(
            (vllm.message.as_str(), vllm.code.as_deref()),
            ("m", Some("400"))
        );
        assert_eq!(ApiErrorBody::parse(br#"{"error":"m"}"#).message, "m");
        assert_eq!(
            ApiErrorBody::parse(br#"{"detail":"Not Found"}"#).message,
            "Not Found"
        );
        assert_eq!(ApiErrorBody::parse(b"<html>"), ApiErrorBody::default());
    }

    #[test]
    fn content_is_read_from_strings_or_parts_without_thinking() {
        let m = |v: Value| ChoiceMessage {
            content: Some(v),
            ..ChoiceMessage::default()
        };
        assert_eq!(m(Value::from(" hi ")).text(), "hi");
        assert_eq!(
            m(serde_json::json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]))
                .text(),
            "ab"
        );
        assert_eq!(
            m(Value::from("<think>hmm</think>\nAnswer")).text(),
            "Answer"
        );
    }
}
