//! [`StrandsTextGenerator`]: `message/send` to a Strands agent.

use std::time::Duration;

use async_trait::async_trait;
use quflux_core::{Error, GeneratedText, Result, Secret, TextGenerator, TextTask};

use super::PROVIDER;
use super::config::StrandsTextGeneratorBuilder;
use super::error::classify;
use super::wire::{OutMessage, OutPart, RpcResponse, RpcResult, SendParams, SendRequest};
use crate::http::{self, send};
use crate::prompt::{parse_items, prompt};

/// Text from a user-deployed Strands agent over A2A 0.3 (`message/send` JSON-RPC).
///
/// Each task becomes one user message with a fresh `messageId` and no `contextId` (every
/// request is its own conversation): a text part with the instructions and a `data` part with
/// the task's arguments (`{"operation": "generate_caption", "topic": …, "max_chars": …}`). The
/// reply is the agent's task: when `completed`, the text parts of all its artifacts are joined
/// and parsed into items (hashtags and ideas from a JSON array, `#tags` or lines); a direct
/// `message` reply is read the same way. Failures are classified as described in the
/// [module docs](super).
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use quflux_ai::strands::StrandsTextGenerator;
/// use quflux_core::{Platform, TextGenerator, TextTask};
///
/// let agent = StrandsTextGenerator::builder().with_url("http://127.0.0.1:9000").build()?;
/// let tags = agent
///     .generate_text(&TextTask::Hashtags {
///         content: "Our spring coffee menu is here".into(),
///         platform: Platform::Instagram,
///     })
///     .await?;
/// println!("{:?}", tags.items);
/// # Ok::<(), quflux_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct StrandsTextGenerator {
    client: reqwest::Client,
    url: String,
    token: Option<Secret<String>>,
    timeout: Duration,
}

impl StrandsTextGenerator {
    /// A builder ([`StrandsTextGeneratorBuilder::new`]).
    pub fn builder() -> StrandsTextGeneratorBuilder {
        StrandsTextGeneratorBuilder::new()
    }

    pub(super) fn from_parts(
        client: reqwest::Client,
        url: String,
        token: Option<Secret<String>>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            url,
            token,
            timeout,
        }
    }

    /// The agent's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one message and returns the agent's reply text.
    async fn ask(&self, text: &str, data: &serde_json::Value) -> Result<String> {
        let request = SendRequest {
            jsonrpc: "2.0",
            id: uuid::Uuid::new_v4().to_string(),
            method: "message/send",
            params: SendParams {
                message: OutMessage {
                    kind: "message",
                    message_id: uuid::Uuid::new_v4().to_string(),
                    role: "user",
                    parts: vec![OutPart::Text { text }, OutPart::Data { data }],
                },
            },
        };
        let mut builder = self
            .client
            .post(format!("{}/", self.url))
            .timeout(self.timeout)
            .json(&request);
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token.expose());
        }
        let reply = send(PROVIDER, builder).await?;
        let token = self.token.as_ref();
        if !reply.status.is_success() {
            return Err(classify(reply.status, &reply.headers, &reply.body, token));
        }
        let response: RpcResponse = http::decode(PROVIDER, &reply.body, token)?;
        let text = match (response.error.is_none(), response.result) {
            (true, Some(result)) => match serde_json::from_value::<RpcResult>(result) {
                Ok(RpcResult::Task(task)) if task.status.state == "completed" => task.text(),
                Ok(RpcResult::Message(message)) => message.text(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        if text.trim().is_empty() {
            return Err(classify(reply.status, &reply.headers, &reply.body, token));
        }
        Ok(text.trim().to_owned())
    }
}

#[async_trait]
impl TextGenerator for StrandsTextGenerator {
    async fn generate_text(&self, task: &TextTask) -> Result<GeneratedText> {
        let prompt = prompt(task);
        let reply = self.ask(&prompt.text, &prompt.data).await?;
        let items = parse_items(task, &reply);
        if items.is_empty() {
            return Err(Error::other(
                PROVIDER,
                format!("the agent's reply has no usable items: {reply}"),
            ));
        }
        Ok(GeneratedText {
            items,
            model: PROVIDER.to_owned(),
        })
    }
}
