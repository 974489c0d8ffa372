//! The `strands` provider (feature `strands`): text from a user-deployed
//! [Strands Agents](https://strandsagents.com) agent over A2A.
//!
//! Strands has Python and TypeScript SDKs only, so Quflux does not run the agent: you deploy
//! one (below) and [`StrandsTextGenerator`] calls it over HTTP.
//!
//! - **Protocol:** [A2A 0.3](https://a2a-protocol.org/v0.3.0/specification/) JSON-RPC 2.0 as
//!   served by `strands.multiagent.a2a.A2AServer` (Strands 1.x, `a2a-sdk` 0.3): `POST {url}/`
//!   with method `message/send`; the agent card is at `GET {url}/.well-known/agent-card.json`.
//!   A2A 1.0 servers use other method names and are not supported.
//! - **Request:** one user message with a fresh `messageId` (UUID v4), no `contextId` (every
//!   call is independent), a text part with the instructions and a `data` part with the task
//!   (`{"operation": "generate_caption" | "suggest_hashtags" | "generate_ideas" | "rewrite", …}`;
//!   Strands hands it to the model as `[Structured Data]\n{json}`).
//! - **Response:** a task; `completed` → the text parts of all artifacts joined (Strands streams
//!   one reply as many parts of the `agent_response` artifact). A direct `message` result is
//!   read the same way. Hashtags and ideas are asked for as a JSON array and parsed tolerantly.
//! - **Errors** (one `classify` for all of them): a failed task is still HTTP 200 —
//!   `failed`, `canceled`, `input-required` → [`Error::Other`](quflux_core::Error::Other) with
//!   the status message (Strands says "Agent execution failed"); `rejected` →
//!   `InvalidContent`; `auth-required` → `AuthExpired`. JSON-RPC errors: -32601 (method not
//!   found: not an A2A 0.3 agent) → `Config`; -32600/-32602/-32700 → `InvalidContent`.
//!   HTTP 429 → `RateLimited` (`Retry-After`), 401/403 → `AuthExpired`, 404 → `Config`,
//!   408/5xx and timeouts → `Transient`.
//! - **Auth:** none by default; [`with_token`](StrandsTextGeneratorBuilder::with_token) sends
//!   `Authorization: Bearer …` for a reverse proxy or Bedrock AgentCore OAuth.
//! - **Limits:** `message/send` blocks until the agent's tool loop ends; the default timeout
//!   is 120 s ([`with_timeout`](StrandsTextGeneratorBuilder::with_timeout)). Agents return
//!   text only, so images go to an image provider directly.
//! - **Settings:** `QUFLUX_STRANDS_URL` (required), `QUFLUX_STRANDS_TOKEN`,
//!   `QUFLUX_STRANDS_TIMEOUT_SECS` ([`StrandsTextGeneratorBuilder::from_env`]).
//!
//! ## The agent to deploy
//!
//! A Strands agent with the caption and hashtag tools of Quflux's design, served over A2A
//! (`pip install 'strands-agents[a2a]'`; add `[openai]` for `OpenAIModel`). The model defaults
//! to Amazon Bedrock; any Strands model provider works. The tools give the model a draft and
//! platform limits; the model writes the final answer in the format Quflux asks for.
//!
//! ```python
//! # quflux_agent.py: run with `python quflux_agent.py`, then QUFLUX_STRANDS_URL=http://HOST:9000
//! import re
//! from strands import Agent, tool
//! from strands.multiagent.a2a import A2AServer
//!
//! LIMITS = {"twitter": 280, "linkedin": 3000, "facebook": 63206, "instagram": 2200,
//!           "bluesky": 300, "mastodon": 500}
//!
//! @tool
//! def generate_social_caption(content_type: str, topic: str, platform: str,
//!                             tone: str = "professional") -> str:
//!     """Generate an engaging social media caption.
//!
//!     Args:
//!         content_type: Type of content (image, video, link, text)
//!         topic: Main topic or theme
//!         platform: Target platform (twitter, linkedin, instagram, facebook, bluesky, mastodon)
//!         tone: Desired tone (professional, casual, humorous, inspirational)
//!     """
//!     limit = LIMITS.get(platform.lower(), 280)
//!     return (f"Draft a {tone} caption about {topic} for a {content_type} post, "
//!             f"at most {limit} characters including hashtags.")
//!
//! @tool
//! def suggest_hashtags(content: str, platform: str, count: int = 3) -> list[str]:
//!     """Suggest relevant hashtags for a post.
//!
//!     Args:
//!         content: The post text to tag
//!         platform: Target platform
//!         count: How many hashtags to return at most
//!     """
//!     words = [w for w in re.findall(r"[^\W_]+", content) if len(w) > 3]
//!     return ["#" + w[0].upper() + w[1:] for w in dict.fromkeys(words)][:count]
//!
//! def make_agent(context_id: str | None = None) -> Agent:
//!     return Agent(
//!         name="Quflux Content Generator",
//!         description="Writes social media captions, hashtags, post ideas and rewrites.",
//!         system_prompt=("You write social media content. Use generate_social_caption for "
//!                        "captions and suggest_hashtags for hashtags, then answer exactly in "
//!                        "the format the user asks for, without commentary."),
//!         tools=[generate_social_caption, suggest_hashtags],
//!         callback_handler=None)
//!
//! A2AServer(agent_factory=make_agent, host="0.0.0.0", port=9000,
//!           enable_a2a_compliant_streaming=True).serve()
//! ```
//!
//! `agent_factory` gives every A2A context its own agent; `enable_a2a_compliant_streaming`
//! makes the reply one artifact. The project's test bed runs this agent offline against a
//! scripted OpenAI-compatible model: `scripts/testbed/strands.sh` and
//! `scripts/testbed/strands-agent.py`.

mod client;
mod config;
mod error;
mod wire;

use std::time::Duration;

pub use client::StrandsTextGenerator;
pub use config::{StrandsTextGeneratorBuilder, StrandsTextGeneratorConfig};

/// The provider id, used as [`GeneratedText::model`](quflux_core::GeneratedText::model) and
/// in errors.
pub const PROVIDER: &str = "strands";

/// The default request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
