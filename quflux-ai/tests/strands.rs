//! The Strands A2A client: against a local stand-in replaying the A2A 0.3 shapes of
//! ai-providers.md §1 (request shape, task and message results, failed tasks, JSON-RPC errors,
//! HTTP errors), and against a real Strands agent when `QUFLUX_TEST_STRANDS_URL` is set
//! (`bash scripts/testbed/strands.sh install && bash scripts/testbed/strands.sh start`;
//! `QUFLUX_TEST_STRANDS_URL=http://127.0.0.1:9010`). CI sets it and
//! `QUFLUX_TEST_REQUIRE_SERVICES=1`, so there the real-agent tests cannot skip.

#![cfg(feature = "strands")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use quflux_ai::strands::StrandsTextGenerator;
use quflux_ai::{ContentService, recommended_hashtags, text_violations};
use quflux_core::memory::ScriptedImageGenerator;
use quflux_core::testkit::generators::text_generator_run_all;
use quflux_core::{ErrorKind, Platform, TextGenerator, TextTask};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn generator(url: &str) -> StrandsTextGenerator {
    StrandsTextGenerator::builder()
        .with_url(url)
        .with_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn caption(topic: &str) -> TextTask {
    TextTask::Caption {
        content_type: "image".into(),
        topic: topic.into(),
        platform: Platform::Twitter,
        tone: "casual".into(),
    }
}

fn hashtags() -> TextTask {
    TextTask::Hashtags {
        content: "Our new espresso blend is roasted in small batches in Lisbon".into(),
        platform: Platform::Twitter,
    }
}

// ------------------------------------------------------------------------------- stand-in

/// A completed task whose single artifact streams `text` in word-sized parts, as Strands does.
fn completed(request_id: &Value, text: &str) -> Value {
    let mut parts: Vec<Value> = text
        .split_inclusive(' ')
        .map(|w| json!({"kind": "text", "text": w}))
        .collect();
    parts.push(json!({"kind": "text", "text": ""}));
    json!({"jsonrpc": "2.0", "id": request_id, "result": {
        "kind": "task", "id": "4894f30b", "contextId": "609ce564",
        "status": {"state": "completed", "timestamp": "2026-11-24T20:22:51.231551+00:00"},
        "artifacts": [{"artifactId": "d4128f72", "name": "agent_response", "parts": parts}],
        "history": [{"kind": "message", "role": "user", "messageId": "m", "parts": []}]
    }})
}

fn failed(request_id: &Value, state: &str, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": request_id, "result": {
        "kind": "task", "id": "t1", "contextId": "c1",
        "status": {"state": state, "timestamp": "2026-11-24T20:22:51Z",
            "message": {"kind": "message", "role": "agent", "messageId": "m2",
                "parts": [{"kind": "text", "text": message}]}}
    }})
}

/// Answers like a Strands agent: by the `operation` of the data part.
fn stand_in(request: &Request) -> ResponseTemplate {
    let body: Value = request.body_json().unwrap();
    let data = &body["params"]["message"]["parts"][1]["data"];
    let reply = match data["operation"].as_str().unwrap() {
        "generate_caption" => "Loving this: home-made bread! #Bread",
        "suggest_hashtags" => "[\"#Espresso\", \"#Lisbon\"]",
        "generate_ideas" => "[\"Tip: one\", \"Question: two\", \"List: three\"]",
        _ => "A shorter text.",
    };
    ResponseTemplate::new(200).set_body_json(completed(&body["id"], reply))
}

async fn answering(respond: impl wiremock::Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(respond)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn message_send_has_the_documented_shape_with_a_fresh_message_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("content-type", "application/json"))
        .and(header("authorization", "Bearer proxy-token-1"))
        .and(body_partial_json(json!({
            "jsonrpc": "2.0",
            "method": "message/send",
            "params": {"message": {"kind": "message", "role": "user", "parts": [
                {"kind": "text"},
                {"kind": "data", "data": {"operation": "generate_caption", "topic": "home-made bread",
                    "platform": "twitter", "tone": "casual", "content_type": "image", "max_chars": 280}}
            ]}}
        })))
        .respond_with(stand_in)
        .expect(2)
        .mount(&server)
        .await;
    let g = StrandsTextGenerator::builder()
        .with_url(server.uri())
        .with_token("proxy-token-1")
        .build()
        .unwrap();
    let out = g.generate_text(&caption("home-made bread")).await.unwrap();
    assert_eq!(out.items, ["Loving this: home-made bread! #Bread"]);
    assert_eq!(out.model, "strands");
    g.generate_text(&caption("home-made bread")).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let ids: Vec<String> = requests
        .iter()
        .map(|r| {
            let body: Value = r.body_json().unwrap();
            let message = &body["params"]["message"];
            assert!(
                message.get("contextId").is_none(),
                "each call is independent"
            );
            let text = message["parts"][0]["text"].as_str().unwrap();
            assert!(text.starts_with("Write a casual caption"), "{text}");
            message["messageId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids[0].len(), 36, "a UUID: {}", ids[0]);
    assert_ne!(ids[0], ids[1], "a fresh messageId per request");
}

#[tokio::test]
async fn a_message_result_and_multiple_artifacts_are_joined() {
    let server = answering(|request: &Request| {
        let body: Value = request.body_json().unwrap();
        ResponseTemplate::new(200).set_body_json(
            json!({"jsonrpc": "2.0", "id": body["id"], "result": {
            "kind": "message", "role": "agent", "messageId": "m9",
            "parts": [{"kind": "text", "text": "#Espresso "}, {"kind": "data", "data": {}},
                      {"kind": "text", "text": "#Lisbon"}]}}),
        )
    })
    .await;
    let out = generator(&server.uri())
        .generate_text(&hashtags())
        .await
        .unwrap();
    assert_eq!(out.items, ["#Espresso", "#Lisbon"]);

    let server = answering(|request: &Request| {
        let body: Value = request.body_json().unwrap();
        ResponseTemplate::new(200).set_body_json(json!({"jsonrpc": "2.0", "id": body["id"], "result": {
            "kind": "task", "status": {"state": "completed"},
            "artifacts": [
                {"artifactId": "a", "parts": [{"kind": "text", "text": "1. First "}, {"kind": "text", "text": "idea"}]},
                {"artifactId": "b", "parts": [{"kind": "text", "text": "2. Second idea"}]}
            ]}}))
    })
    .await;
    let out = generator(&server.uri())
        .generate_text(&TextTask::Ideas {
            topic: "x".into(),
            audience: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(out.items, ["First idea", "Second idea"]);
}

#[tokio::test]
async fn failed_tasks_and_json_rpc_errors_are_classified() {
    let cases: Vec<(Value, ErrorKind, &str)> = vec![
        (
            failed(&json!("1"), "failed", "Agent execution failed"),
            ErrorKind::Other,
            "strands failed: agent task failed: Agent execution failed",
        ),
        (
            failed(&json!("1"), "canceled", "Task was canceled"),
            ErrorKind::Other,
            "strands failed: agent task canceled: Task was canceled",
        ),
        (
            failed(&json!("1"), "input-required", "Which platform?"),
            ErrorKind::Other,
            "strands failed: agent task input-required: Which platform?",
        ),
        (
            failed(&json!("1"), "rejected", "I do not write political ads"),
            ErrorKind::InvalidContent,
            "strands rejected the content: I do not write political ads",
        ),
        (
            json!({"jsonrpc": "2.0", "id": "1", "error": {"code": -32602, "message": "Invalid parameters",
                "data": [{"type": "missing", "loc": ["params", "message", "messageId"], "msg": "Field required"}]}}),
            ErrorKind::InvalidContent,
            "strands rejected the content: Invalid parameters (params.message.messageId: Field required)",
        ),
        (
            json!({"jsonrpc": "2.0", "id": "1", "error": {"code": -32601, "message": "Method not found"}}),
            ErrorKind::Config,
            "invalid configuration: strands: the agent at the configured url does not offer A2A 0.3 `message/send` (Method not found)",
        ),
        (
            json!({"jsonrpc": "2.0", "id": "1", "error": {"code": -32603, "message": "Internal error"}}),
            ErrorKind::Other,
            "strands failed: HTTP 200 -32603: Internal error",
        ),
        (
            json!({"jsonrpc": "2.0", "id": "1", "result": {"kind": "task", "status": {"state": "completed"}, "artifacts": []}}),
            ErrorKind::Other,
            "strands failed: agent task completed: the agent's reply has no text",
        ),
    ];
    for (answer, kind, message) in cases {
        let server = answering(ResponseTemplate::new(200).set_body_json(answer)).await;
        let e = generator(&server.uri())
            .generate_text(&caption("x"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{}", e.detailed_message());
        assert_eq!(e.detailed_message(), message);
    }
}

#[tokio::test]
async fn http_errors_malformed_answers_and_timeouts_are_classified() {
    let cases = [
        (
            ResponseTemplate::new(429).insert_header("retry-after", "12"),
            ErrorKind::RateLimited,
        ),
        (
            ResponseTemplate::new(503).set_body_string("upstream down"),
            ErrorKind::Transient,
        ),
        (ResponseTemplate::new(502), ErrorKind::Transient),
        (ResponseTemplate::new(401), ErrorKind::AuthExpired),
        (
            ResponseTemplate::new(404).set_body_json(json!({"detail": "Not Found"})),
            ErrorKind::Config,
        ),
        (
            ResponseTemplate::new(200).set_body_string("<html>proxy login</html>"),
            ErrorKind::Other,
        ),
        (
            ResponseTemplate::new(200).set_body_json(
                json!({"jsonrpc": "2.0", "id": "1", "result": {"kind": "status-update"}}),
            ),
            ErrorKind::Other,
        ),
    ];
    for (template, kind) in cases {
        let server = answering(template).await;
        let e = generator(&server.uri())
            .generate_text(&caption("x"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{}", e.detailed_message());
        if kind == ErrorKind::RateLimited {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
        }
    }

    let server = answering(
        ResponseTemplate::new(200)
            .set_delay(Duration::from_secs(3))
            .set_body_json(completed(&json!("1"), "late")),
    )
    .await;
    let g = StrandsTextGenerator::builder()
        .with_url(server.uri())
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = g.generate_text(&caption("x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
}

#[tokio::test]
async fn the_client_passes_the_conformance_suite_against_the_stand_in() {
    let server = answering(stand_in).await;
    text_generator_run_all(&generator(&server.uri())).await;
}

// ------------------------------------------------------------------- a real Strands agent

/// Captions, hashtags, ideas and rewrites through a real Strands agent (A2AServer, the agent's
/// tool loop, OpenAIModel) and the ContentService checks.
#[tokio::test]
async fn a_real_agent_writes_captions_hashtags_ideas_and_rewrites() {
    let Some(url) = quflux_core::testkit::env("QUFLUX_TEST_STRANDS_URL") else {
        return;
    };
    let agent = generator(&url);

    // Caption: the agent calls generate_social_caption, then answers with its result.
    let out = agent
        .generate_text(&caption("electric cargo bikes in Lisbon"))
        .await
        .unwrap();
    assert_eq!(out.model, "strands");
    assert_eq!(out.items.len(), 1);
    assert!(
        out.items[0].contains("Electric cargo bikes in Lisbon"),
        "{:?}",
        out.items
    );

    // Hashtags: the agent calls suggest_hashtags and answers a JSON array.
    let tags = agent.generate_text(&hashtags()).await.unwrap();
    assert_eq!(tags.items, ["#Espresso", "#Blend", "#Roasted"]);

    let ai = ContentService::new(
        Arc::new(agent.clone()),
        Arc::new(ScriptedImageGenerator::new([])),
    );
    for platform in Platform::ALL {
        let c = ai
            .caption(
                "image",
                "home-made sourdough bread",
                platform,
                "professional",
            )
            .await
            .unwrap();
        assert!(
            text_violations(platform, &c.value).is_empty(),
            "{platform}: {}",
            c.value
        );
        assert!(c.value.contains("sourdough"), "{}", c.value);
    }
    let tags = ai
        .hashtags(
            "Baking sourdough bread at home with a rye starter",
            Platform::Linkedin,
        )
        .await
        .unwrap();
    assert!(!tags.value.is_empty() && tags.value.len() <= recommended_hashtags(Platform::Linkedin));
    assert!(
        tags.value.iter().any(|t| t.contains("Sourdough")),
        "{:?}",
        tags.value
    );

    let ideas = ai
        .ideas("remote work", "engineering managers", Platform::Twitter)
        .await
        .unwrap();
    assert_eq!(ideas.value.len(), 5, "{:?}", ideas.value);
    assert!(
        ideas.value.iter().all(|i| i.contains("remote work")),
        "{:?}",
        ideas.value
    );

    let long = "**Big news**: our scheduler now publishes to six platforms. ".repeat(12);
    let rewritten = ai.rewrite(&long, Platform::Bluesky).await.unwrap();
    assert!(!rewritten.value.contains("**"), "{}", rewritten.value);
    assert!(text_violations(Platform::Bluesky, &rewritten.value).is_empty());
}

#[tokio::test]
async fn a_real_agent_passes_the_conformance_suite() {
    let Some(url) = quflux_core::testkit::env("QUFLUX_TEST_STRANDS_URL") else {
        return;
    };
    text_generator_run_all(&generator(&url)).await;
}

/// A task the agent fails (its model answers HTTP 400 to the test trigger) is reported as an
/// error with the agent's status message; a URL that is not the A2A endpoint is `Config`.
#[tokio::test]
async fn a_real_agent_reports_failed_tasks_and_wrong_urls_as_errors() {
    let Some(url) = quflux_core::testkit::env("QUFLUX_TEST_STRANDS_URL") else {
        return;
    };
    let e = generator(&url)
        .generate_text(&caption("a launch quflux-test-fail"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Other, "{}", e.detailed_message());
    assert_eq!(
        e.detailed_message(),
        "strands failed: agent task failed: Agent execution failed"
    );
    assert!(!e.is_retryable());

    let wrong = generator(&format!("{}/v2/agent", url.trim_end_matches('/')));
    let e = wrong.generate_text(&caption("x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{}", e.detailed_message());
}
