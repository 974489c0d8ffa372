//! A2A 0.3 JSON-RPC wire types (private).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"jsonrpc":"2.0","id":…,"method":"message/send","params":{"message":…}}`.
#[derive(Debug, Serialize)]
pub(super) struct SendRequest<'a> {
    pub(super) jsonrpc: &'static str,
    pub(super) id: String,
    pub(super) method: &'static str,
    pub(super) params: SendParams<'a>,
}

/// `params` of `message/send`.
#[derive(Debug, Serialize)]
pub(super) struct SendParams<'a> {
    pub(super) message: OutMessage<'a>,
}

/// The user's message.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutMessage<'a> {
    pub(super) kind: &'static str,
    pub(super) message_id: String,
    pub(super) role: &'static str,
    pub(super) parts: Vec<OutPart<'a>>,
}

/// A part of the user's message.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum OutPart<'a> {
    /// Prose for the model.
    Text { text: &'a str },
    /// Structured arguments; Strands hands them to the model as `[Structured Data]\n{json}`.
    Data { data: &'a Value },
}

/// A JSON-RPC response: `result` or `error`.
#[derive(Debug, Deserialize)]
pub(super) struct RpcResponse {
    #[serde(default)]
    pub(super) result: Option<Value>,
    #[serde(default)]
    pub(super) error: Option<RpcError>,
}

/// A JSON-RPC error object.
#[derive(Debug, Deserialize)]
pub(super) struct RpcError {
    pub(super) code: i64,
    #[serde(default)]
    pub(super) message: String,
    #[serde(default)]
    pub(super) data: Option<Value>,
}

/// `result`: a task (what Strands answers) or a direct message.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum RpcResult {
    Task(Task),
    Message(Message),
}

/// An A2A task.
#[derive(Debug, Deserialize)]
pub(super) struct Task {
    pub(super) status: TaskStatus,
    #[serde(default)]
    pub(super) artifacts: Vec<Artifact>,
}

/// A task's state and optional status message.
#[derive(Debug, Deserialize)]
pub(super) struct TaskStatus {
    pub(super) state: String,
    #[serde(default)]
    pub(super) message: Option<Message>,
}

/// A task output.
#[derive(Debug, Deserialize)]
pub(super) struct Artifact {
    #[serde(default)]
    pub(super) parts: Vec<Part>,
}

/// A message (the agent's reply, or a status message).
#[derive(Debug, Deserialize)]
pub(super) struct Message {
    #[serde(default)]
    pub(super) parts: Vec<Part>,
}

/// A part; only text parts are read.
#[derive(Debug, Deserialize)]
pub(super) struct Part {
    #[serde(default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) text: Option<String>,
}

impl Message {
    /// The text parts, concatenated (Strands streams one reply as many parts).
    pub(super) fn text(&self) -> String {
        join_parts(&self.parts)
    }
}

impl Task {
    /// The text parts of every artifact: each artifact's parts concatenated, artifacts on
    /// separate lines.
    pub(super) fn text(&self) -> String {
        self.artifacts
            .iter()
            .map(|a| join_parts(&a.parts))
            .filter(|t| !t.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The status message's text, if any.
    pub(super) fn status_text(&self) -> Option<String> {
        self.status
            .message
            .as_ref()
            .map(Message::text)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    }
}

fn join_parts(parts: &[Part]) -> String {
    parts
        .iter()
        .filter(|p| p.kind == "text" || p.kind.is_empty())
        .filter_map(|p| p.text.as_deref())
        .collect()
}
