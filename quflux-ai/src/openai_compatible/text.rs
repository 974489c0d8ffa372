//! [`OpenAiCompatibleTextGenerator`]: chat completions.

use async_trait::async_trait;
use quflux_core::{Error, GeneratedText, Result, TextGenerator, TextTask};

use super::PROVIDER;
use super::client::Endpoint;
use super::config::OpenAiCompatibleTextGeneratorBuilder;
use super::error::classify;
use super::wire::{ChatMessage, ChatRequest, ChatResponse};
use crate::http;
use crate::prompt::{parse_items, prompt};

/// The system prompt of chat-style providers.
const SYSTEM: &str = "You write social media content. Answer exactly in the format \
     the user asks for, with no introduction, explanation or Markdown.";

/// Text from any OpenAI-compatible `POST {base}/chat/completions` server: OpenAI, Ollama
/// (`http://127.0.0.1:11434/v1`), vLLM, llama.cpp's `llama-server`, LM Studio, OpenRouter, …
///
/// Each task is one non-streaming request with a system message and a user message holding the
/// instructions followed by `Details (JSON): {…}` (the task's arguments). Hashtags and ideas are
/// asked for as a JSON array and parsed tolerantly (JSON, `#tags`, or lines); a leading
/// `<think>…</think>` block of reasoning models is dropped.
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use quflux_ai::openai_compatible::OpenAiCompatibleTextGenerator;
/// use quflux_core::{Platform, TextGenerator, TextTask};
///
/// let ollama = OpenAiCompatibleTextGenerator::builder()
///     .with_base_url("http://127.0.0.1:11434/v1")
///     .with_model("llama3.2")
///     .build()?;
/// let caption = ollama
///     .generate_text(&TextTask::Rewrite {
///         text: "A long announcement …".into(),
///         platform: Platform::Bluesky,
///     })
///     .await?;
/// println!("{}", caption.items[0]);
/// # Ok::<(), quflux_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiCompatibleTextGenerator {
    endpoint: Endpoint,
    model: String,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
}

impl OpenAiCompatibleTextGenerator {
    /// A builder ([`OpenAiCompatibleTextGeneratorBuilder::new`]).
    pub fn builder() -> OpenAiCompatibleTextGeneratorBuilder {
        OpenAiCompatibleTextGeneratorBuilder::new()
    }

    pub(super) fn from_parts(
        endpoint: Endpoint,
        model: String,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
    ) -> Self {
        Self {
            endpoint,
            model,
            temperature,
            max_tokens,
        }
    }

    /// The chat model id.
    pub fn model(&self) -> &str {
        &self.model
    }
}

#[async_trait]
impl TextGenerator for OpenAiCompatibleTextGenerator {
    async fn generate_text(&self, task: &TextTask) -> Result<GeneratedText> {
        let prompt = prompt(task);
        let request = ChatRequest {
            model: &self.model,
            messages: vec![
                ChatMessage {
                    role: "system",
                    content: SYSTEM.to_owned(),
                },
                ChatMessage {
                    role: "user",
                    content: format!("{}\n\nDetails (JSON): {}", prompt.text, prompt.data),
                },
            ],
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            stream: false,
        };
        let reply = self.endpoint.post("/chat/completions", &request).await?;
        let key = self.endpoint.key();
        if !reply.status.is_success() {
            return Err(classify(reply.status, &reply.headers, &reply.body, key));
        }
        let response: ChatResponse = http::decode(PROVIDER, &reply.body, key)?;
        let usable = response.choices.first().and_then(|choice| {
            let filtered = choice.finish_reason.as_deref() == Some("content_filter");
            let message = choice.message.as_ref()?;
            let text = message.text();
            (!filtered && message.refusal.is_none() && !text.is_empty()).then_some(text)
        });
        let Some(text) = usable else {
            return Err(classify(reply.status, &reply.headers, &reply.body, key));
        };
        let items = parse_items(task, &text);
        if items.is_empty() {
            return Err(Error::other(
                PROVIDER,
                format!("the model's reply has no usable items: {text}"),
            ));
        }
        let model = response
            .model
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| self.model.clone());
        Ok(GeneratedText { items, model })
    }
}
