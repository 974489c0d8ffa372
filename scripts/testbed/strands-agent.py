#!/usr/bin/env python3
"""Quflux test bed: a real Strands Agents content agent, served over A2A, running offline.

What this is
------------
The agent users deploy for Quflux's `strands` text provider (documented in
quflux-ai/src/strands/mod.rs), with the tools of the original design:

  * generate_social_caption(content_type, topic, platform, tone)  -> a caption
  * suggest_hashtags(content, platform, count)                     -> hashtags

served by strands.multiagent.a2a.A2AServer (A2A 0.3 JSON-RPC, `message/send`) exactly as a user
would serve it. Instead of Bedrock/OpenAI, the agent's model is strands.models.openai.OpenAIModel
pointed at a scripted, deterministic fake OpenAI-compatible LLM served by this same process, so
the real Strands code runs (A2A server, event loop, tool calls, OpenAI streaming client) with no
internet and no API key. Used by `quflux-ai/tests/strands.rs`; started by `strands.sh`.

Servers (loopback only)
-----------------------
  agent     http://127.0.0.1:$QUFLUX_STRANDS_AGENT_PORT (9010)
            POST /  A2A JSON-RPC (message/send, message/stream, tasks/get)
            GET  /.well-known/agent-card.json, GET /healthz
  fake LLM  http://127.0.0.1:$QUFLUX_FAKE_LLM_PORT/v1 (8091)
            POST /v1/chat/completions (stream and non-stream, tool calls), GET /v1/models

How the fake LLM decides (the "script")
---------------------------------------
It reads the task from the last user message: the JSON after "[Structured Data]" (how Strands
passes an A2A data part to the model) or after "Details (JSON):" (how Quflux's
openai-compatible client states the task), key "operation":

  generate_caption  first turn: calls generate_social_caption; then answers with its result
  suggest_hashtags  first turn: calls suggest_hashtags; then answers with a JSON array of tags
  generate_ideas    answers at once with a JSON array of five ideas
  rewrite           answers at once with the text, Markdown stripped, cut to max_chars
  (none)            answers with a short caption about the user's words

Test triggers in the user's text: "quflux-test-fail" -> HTTP 400 (so an agent task fails with
"Agent execution failed"); "quflux-test-ratelimit" -> HTTP 429 with `retry-after: 7`;
"quflux-test-filter" -> an empty reply with finish_reason "content_filter". The last two are for
direct OpenAI-compatible clients (Strands itself retries 429s with backoff).

Set QUFLUX_AGENT_LLM_URL (+ QUFLUX_AGENT_LLM_KEY, QUFLUX_AGENT_LLM_MODEL) to run the agent on a
real OpenAI-compatible server instead; the fake LLM is still served for direct clients.
"""
import asyncio
import json
import logging
import os
import re
import time
import uuid

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from strands import Agent, tool
from strands.models.openai import OpenAIModel
from strands.multiagent.a2a import A2AServer

HOST = "127.0.0.1"
AGENT_PORT = int(os.environ.get("QUFLUX_STRANDS_AGENT_PORT", "9010"))
LLM_PORT = int(os.environ.get("QUFLUX_FAKE_LLM_PORT", "8091"))
LLM_URL = os.environ.get("QUFLUX_AGENT_LLM_URL") or f"http://127.0.0.1:{LLM_PORT}/v1"
LLM_KEY = os.environ.get("QUFLUX_AGENT_LLM_KEY", "not-needed")
LLM_MODEL = os.environ.get("QUFLUX_AGENT_LLM_MODEL", "quflux-fake-llm")
log = logging.getLogger("quflux-strands-agent")

# ------------------------------------------------------------------------------------- tools
# Character limits per platform (X counts weighted characters; close enough for a draft).
LIMITS = {"twitter": 280, "x": 280, "linkedin": 3000, "facebook": 63206, "instagram": 2200,
          "bluesky": 300, "mastodon": 500}
HASHTAGS = {"twitter": 3, "x": 3, "linkedin": 5, "facebook": 3, "instagram": 10, "bluesky": 3,
            "mastodon": 5}
STOPWORDS = set("""a an and are as at be by for from has have how in into is it its new of on or our
our that the their this to was we what when where which who why will with you your about after
over more most very just than then them they""".split())
OPENERS = {"image": "New photo: ", "video": "Watch: ", "link": "Read: ", "text": ""}
TONES = {
    "professional": "{opener}{Topic}. What it means for your team, in one post. {cta}",
    "casual": "{opener}{Topic}, and we love it! {cta}",
    "humorous": "{opener}{Topic}. Yes, really. No, we can't stop talking about it. {cta}",
    "inspirational": "{opener}{Topic}. Every big change starts with one small step. {cta}",
}
CTAS = {"professional": "Read more and share your view.", "casual": "What do you think?",
        "humorous": "Tell us we're not alone.", "inspirational": "Start yours today."}


def _limit(platform: str) -> int:
    return LIMITS.get(platform.strip().lower(), 280)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"


def _keywords(text: str) -> list[str]:
    seen, out = set(), []
    for word in re.findall(r"[^\W_]+", text):
        low = word.lower()
        if len(low) > 3 and low not in STOPWORDS and not low.isdigit() and low not in seen:
            seen.add(low)
            out.append(word)
    return out


@tool
def generate_social_caption(content_type: str, topic: str, platform: str,
                            tone: str = "professional") -> str:
    """Generate an engaging social media caption that fits the platform's length limit.

    Args:
        content_type: Type of content (image, video, link, text)
        topic: Main topic or theme
        platform: Target platform (twitter, linkedin, instagram, facebook, bluesky, mastodon)
        tone: Desired tone (professional, casual, humorous, inspirational)
    """
    tone = tone.strip().lower() if tone.strip().lower() in TONES else "professional"
    topic = " ".join(topic.split()) or "our latest update"
    caption = TONES[tone].format(opener=OPENERS.get(content_type.strip().lower(), ""),
                                 Topic=topic[0].upper() + topic[1:], cta=CTAS[tone])
    tags = suggest_hashtags(topic, platform, 2)
    return _cut(f"{caption} {' '.join(tags)}".strip(), _limit(platform))


@tool
def suggest_hashtags(content: str, platform: str, count: int = 3) -> list[str]:
    """Suggest relevant hashtags for a post, no more than the platform's recommended number.

    Args:
        content: The post text to tag
        platform: Target platform (twitter, linkedin, instagram, facebook, bluesky, mastodon)
        count: How many hashtags to return at most
    """
    count = max(1, min(int(count), HASHTAGS.get(platform.strip().lower(), 3)))
    tags = ["#" + w[0].upper() + w[1:] for w in _keywords(content)][:count]
    return tags or ["#News"]


def make_agent(context_id: str | None = None) -> Agent:
    model = OpenAIModel(client_args={"base_url": LLM_URL, "api_key": LLM_KEY, "max_retries": 0},
                        model_id=LLM_MODEL, params={"temperature": 0})
    return Agent(
        name="Quflux Content Generator",
        description="Writes social media captions, hashtags, post ideas and rewrites.",
        system_prompt=("You write social media content. Use generate_social_caption for captions "
                       "and suggest_hashtags for hashtags, then answer exactly in the format the "
                       "user asks for, without commentary."),
        model=model, tools=[generate_social_caption, suggest_hashtags], callback_handler=None)


# ----------------------------------------------------------------- fake OpenAI-compatible LLM
def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def _task(user: str) -> dict:
    """The JSON object after a task marker in the user's text, or {}."""
    for marker in ("[Structured Data]", "Details (JSON):"):
        at = user.find(marker)
        if at < 0:
            continue
        brace = user.find("{", at)
        if brace < 0:
            continue
        try:
            value, _ = json.JSONDecoder().raw_decode(user[brace:])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _ideas(topic: str, audience: str) -> list[str]:
    who = audience.strip() or "your audience"
    return [
        f"Tip: one thing {who} often get wrong about {topic}, and how to fix it.",
        f"Question: ask {who} how they approach {topic} today.",
        f"Behind the scenes: how our team handles {topic} day to day.",
        f"List: five resources on {topic} worth bookmarking for {who}.",
        f"Announcement: what is new in {topic} this month.",
    ]


def _rewrite(text: str, limit: int) -> str:
    text = re.sub(r"[*_`#>]+", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return _cut(text, limit)


def _script(body: dict) -> dict:
    """The scripted reply: {"tool_calls": [...]} or {"content": str, "finish": str}."""
    msgs = body.get("messages", [])
    offered = {t["function"]["name"] for t in body.get("tools") or []}
    user = next((_text_of(m.get("content")) for m in reversed(msgs) if m.get("role") == "user"), "")
    calls = {tc["id"]: tc["function"]["name"] for m in msgs if m.get("role") == "assistant"
             for tc in m.get("tool_calls") or []}
    results = {calls.get(m.get("tool_call_id"), "?"): _text_of(m.get("content"))
               for m in msgs if m.get("role") == "tool"}
    task = _task(user)
    op = task.get("operation", "")
    platform = str(task.get("platform", "twitter"))

    def call(name: str, args: dict) -> dict:
        return {"tool_calls": [{"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                                "function": {"name": name, "arguments": json.dumps(args)}}]}

    if op == "generate_caption":
        if "generate_social_caption" in offered and not results:
            return call("generate_social_caption", {
                "content_type": task.get("content_type", "text"), "topic": task.get("topic", ""),
                "platform": platform, "tone": task.get("tone", "professional")})
        caption = results.get("generate_social_caption") or generate_social_caption(
            task.get("content_type", "text"), task.get("topic", ""), platform,
            task.get("tone", "professional"))
        return {"content": caption}
    if op == "suggest_hashtags":
        count = int(task.get("max_hashtags", 3))
        if "suggest_hashtags" in offered and not results:
            return call("suggest_hashtags", {"content": task.get("content", ""),
                                             "platform": platform, "count": count})
        raw = results.get("suggest_hashtags")
        tags = re.findall(r"#\w+", raw) if raw else suggest_hashtags(
            task.get("content", ""), platform, count)
        return {"content": json.dumps(tags)}
    if op == "generate_ideas":
        return {"content": json.dumps(_ideas(str(task.get("topic", "")),
                                             str(task.get("audience", ""))))}
    if op == "rewrite":
        return {"content": _rewrite(str(task.get("text", "")),
                                    int(task.get("max_chars", _limit(platform))))}
    words = " ".join(_keywords(user)[:6]) or "our update"
    return {"content": f"Here is a caption about {words}. What do you think?"}


fake = FastAPI(title="quflux fake OpenAI-compatible LLM")


@fake.get("/v1/models")
async def models():
    return {"object": "list",
            "data": [{"id": LLM_MODEL, "object": "model", "created": 0, "owned_by": "quflux"}]}


@fake.post("/v1/chat/completions")
async def chat_completions(request: Request):
    body = await request.json()
    user = "\n".join(_text_of(m.get("content")) for m in body.get("messages", [])
                     if m.get("role") == "user")
    if "quflux-test-fail" in user:
        return JSONResponse({"error": {"message": "scripted failure (quflux-test-fail)",
                                       "type": "invalid_request_error",
                                       "code": "scripted_failure"}}, status_code=400)
    if "quflux-test-ratelimit" in user:
        return JSONResponse({"error": {"message": "Rate limit reached (scripted)",
                                       "type": "requests", "code": "rate_limit_exceeded"}},
                            status_code=429, headers={"retry-after": "7"})
    reply = ({"content": "", "finish": "content_filter"} if "quflux-test-filter" in user
             else _script(body))
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:16]}", int(time.time())
    model = body.get("model") or LLM_MODEL
    finish = "tool_calls" if reply.get("tool_calls") else reply.get("finish", "stop")
    usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    if not body.get("stream"):
        message = {"role": "assistant", "content": reply.get("content")}
        if reply.get("tool_calls"):
            message["tool_calls"] = reply["tool_calls"]
        return JSONResponse({"id": cid, "object": "chat.completion", "created": created,
                             "model": model, "usage": usage,
                             "choices": [{"index": 0, "message": message,
                                          "finish_reason": finish}]})

    def chunk(choices, **extra) -> str:
        return "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk",
                                      "created": created, "model": model, "choices": choices,
                                      **extra}) + "\n\n"

    def delta(d, finish_reason=None):
        return chunk([{"index": 0, "delta": d, "finish_reason": finish_reason}])

    async def events():
        yield delta({"role": "assistant", "content": ""})
        for i, tc in enumerate(reply.get("tool_calls") or []):
            yield delta({"tool_calls": [{"index": i, "id": tc["id"], "type": "function",
                                         "function": {"name": tc["function"]["name"],
                                                      "arguments": ""}}]})
            yield delta({"tool_calls": [{"index": i,
                                         "function": {"arguments": tc["function"]["arguments"]}}]})
        for piece in re.findall(r"\S+\s*", reply.get("content") or ""):
            yield delta({"content": piece})
        yield delta({}, finish)
        yield chunk([], usage=usage)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


# ------------------------------------------------------------------------------ agent server
# agent_factory: one agent per A2A context; enable_a2a_compliant_streaming: the reply arrives as
# one artifact (otherwise every streamed chunk becomes a separate history message).
a2a = A2AServer(agent_factory=make_agent, host=HOST, port=AGENT_PORT, version="1.0.0",
                enable_a2a_compliant_streaming=True)
app = a2a.to_fastapi_app()


@app.get("/healthz")
async def healthz():
    return {"ok": True, "llm": LLM_URL}


async def main() -> None:
    servers = [uvicorn.Server(uvicorn.Config(app, host=HOST, port=AGENT_PORT, log_level="warning")),
               uvicorn.Server(uvicorn.Config(fake, host=HOST, port=LLM_PORT, log_level="warning"))]
    print(f"quflux strands agent on http://{HOST}:{AGENT_PORT} (A2A POST /), "
          f"fake LLM on http://{HOST}:{LLM_PORT}/v1, agent model at {LLM_URL}", flush=True)
    await asyncio.gather(*(s.serve() for s in servers))


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    asyncio.run(main())
