//! The `openai-compatible` provider (feature `openai-compatible`): text from any server that
//! speaks OpenAI's chat completions, and images where the server offers them.
//!
//! One contract covers [OpenAI](https://platform.openai.com/docs/api-reference/chat),
//! [Ollama](https://github.com/ollama/ollama/blob/main/docs/openai.md)
//! (`http://127.0.0.1:11434/v1`), vLLM, llama.cpp's `llama-server`, LM Studio, OpenRouter, Gemini
//! (`…/v1beta/openai`) and Bedrock (mantle): the route to local models.
//!
//! - **API:** `POST {base}/chat/completions` (non-streaming; `{"model", "messages",
//!   "temperature", "max_tokens", "stream": false}` → `choices[0].message.content`), and
//!   `POST {base}/images/generations` (`{"model", "prompt", "size", "n": 1, "response_format":
//!   "b64_json"}` → `data[0].b64_json` or `url`). `base` includes the version (`…/v1`).
//! - **Auth:** optional `Authorization: Bearer <api_key>` ([`Secret`](quflux_core::Secret));
//!   local servers need none.
//! - **Limits:** set by the server and model. Rate-limit headers: `retry-after` /
//!   `retry-after-ms` on 429 (OpenAI also sends `x-ratelimit-*`). The default timeout is 120 s
//!   for local models on a CPU.
//! - **Errors** (one `classify`): 429 → [`RateLimited`](quflux_core::Error::RateLimited) (but
//!   `insufficient_quota` → `Config`); 401/403 and 404 (unknown model or wrong base URL) →
//!   `Config`; 400/413/422 → `InvalidContent` (content-filter codes such as
//!   `content_policy_violation` say so); 408/5xx and timeouts → `Transient`; a reply with
//!   `finish_reason: "content_filter"` or a `refusal` → `InvalidContent`. Error bodies are read in
//!   OpenAI's, vLLM's and Ollama's shapes.
//! - **Images:** a server without `/images/generations` (404, 405, 501) is
//!   [`Unsupported`](quflux_core::Error::Unsupported); edits and social graphics are
//!   `Unsupported` too.
//! - **Settings:** `QUFLUX_OPENAI_COMPATIBLE_BASE_URL` (required), `_API_KEY`, `_MODEL`
//!   (required for text), `_TEMPERATURE`, `_MAX_TOKENS`, `_IMAGE_MODEL` (default
//!   `gpt-image-1`), `_IMAGE_SIZES` (`1024x1024,1536x1024,1024x1536`), `_TIMEOUT_SECS`
//!   ([`OpenAiCompatibleConfig`], shared by both builders).

mod client;
mod config;
mod error;
mod image;
mod text;
mod wire;

use std::time::Duration;

pub use config::{
    OpenAiCompatibleConfig, OpenAiCompatibleImageGeneratorBuilder,
    OpenAiCompatibleTextGeneratorBuilder,
};
pub use image::OpenAiCompatibleImageGenerator;
pub use text::OpenAiCompatibleTextGenerator;

/// The provider id, used in errors and in configuration (`text_provider = "openai-compatible"`).
pub const PROVIDER: &str = "openai-compatible";

/// The default image model.
pub const DEFAULT_IMAGE_MODEL: &str = "gpt-image-1";

/// The default image sizes (`gpt-image-1`'s).
const DEFAULT_IMAGE_SIZES: [(u32, u32); 3] = [(1024, 1024), (1536, 1024), (1024, 1536)];

/// The default request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
