//! The OpenAI-compatible clients against a local stand-in replaying the shapes of
//! ai-providers.md §3 (chat completions, image generations, errors in OpenAI's, vLLM's and
//! Ollama's shapes, content filters, rate limits), and — when `QUFLUX_TEST_OPENAI_URL` is set —
//! against the test bed's fake LLM (`scripts/testbed/strands.sh start`, port 8091).

#![cfg(feature = "openai-compatible")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::{ImageFormat, Rgb, RgbImage};
use quflux_ai::openai_compatible::{OpenAiCompatibleImageGenerator, OpenAiCompatibleTextGenerator};
use quflux_core::testkit::generators::{image_generator_run_all, png_size, text_generator_run_all};
use quflux_core::{ErrorKind, ImageGenerator, ImageTask, Platform, TextGenerator, TextTask};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk-test-abcdef0123456789";

fn completion(content: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-123", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "logprobs": null, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 12, "total_tokens": 54}
    })
}

fn text_generator(server: &MockServer) -> OpenAiCompatibleTextGenerator {
    OpenAiCompatibleTextGenerator::builder()
        .with_base_url(format!("{}/v1", server.uri()))
        .with_api_key(KEY)
        .with_model("gpt-4o-mini")
        .build()
        .unwrap()
}

fn caption() -> TextTask {
    TextTask::Caption {
        content_type: "image".into(),
        topic: "home-made sourdough".into(),
        platform: Platform::Twitter,
        tone: "casual".into(),
    }
}

async fn answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// The task data the client sends after `Details (JSON):`.
fn task_data(request: &Request) -> Value {
    let body: Value = request.body_json().unwrap();
    let user = body["messages"][1]["content"].as_str().unwrap().to_owned();
    let at = user.find("Details (JSON): ").unwrap();
    serde_json::from_str(&user[at + "Details (JSON): ".len()..]).unwrap()
}

/// A stand-in model that answers each operation in the format the prompt asks for.
fn stand_in(request: &Request) -> ResponseTemplate {
    let reply = match task_data(request)["operation"].as_str().unwrap() {
        "generate_caption" => "Fresh sourdough from our kitchen. #Sourdough".to_owned(),
        "suggest_hashtags" => {
            "```json\n[\"#Espresso\", \"#Lisbon\", \"#SmallBatch\"]\n```".to_owned()
        }
        "generate_ideas" => {
            "1. Share a day in the life\n2. Ask your team a question\n3. List your tools".to_owned()
        }
        _ => "A shorter text.".to_owned(),
    };
    ResponseTemplate::new(200).set_body_json(completion(Value::from(reply), "stop"))
}

#[tokio::test]
async fn chat_requests_have_the_documented_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "model": "gpt-4o-mini",
            "stream": false,
            "messages": [{"role": "system"}, {"role": "user"}]
        })))
        .respond_with(stand_in)
        .expect(1)
        .mount(&server)
        .await;
    let out = text_generator(&server)
        .generate_text(&caption())
        .await
        .unwrap();
    assert_eq!(out.items, ["Fresh sourdough from our kitchen. #Sourdough"]);
    assert_eq!(out.model, "gpt-4o-mini-2024-07-18");

    let request = &server.received_requests().await.unwrap()[0];
    let body: Value = request.body_json().unwrap();
    assert_eq!(body["messages"].as_array().unwrap().len(), 2);
    assert!(body.get("temperature").is_none() && body.get("max_tokens").is_none());
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.starts_with(
            "Write a casual caption for a image post on X (Twitter) about: home-made sourdough"
        ),
        "{user}"
    );
    assert_eq!(
        task_data(request),
        json!({"operation": "generate_caption", "content_type": "image", "topic": "home-made sourdough",
               "platform": "twitter", "tone": "casual", "max_chars": 280})
    );
}

#[tokio::test]
async fn a_local_server_gets_no_key_and_the_settings_are_sent() {
    let server = answering(ResponseTemplate::new(200).set_body_json(json!({
        // Ollama's answer: no usage, content as a string.
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "llama3.2",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Bread!"}, "finish_reason": "stop"}]
    })))
    .await;
    let ollama = OpenAiCompatibleTextGenerator::builder()
        .with_base_url(format!("{}/v1/", server.uri()))
        .with_model("llama3.2")
        .with_temperature(0.2)
        .with_max_tokens(300)
        .build()
        .unwrap();
    let out = ollama.generate_text(&caption()).await.unwrap();
    assert_eq!(
        (out.items[0].as_str(), out.model.as_str()),
        ("Bread!", "llama3.2")
    );
    let request = &server.received_requests().await.unwrap()[0];
    assert!(request.headers.get("authorization").is_none());
    let body: Value = request.body_json().unwrap();
    assert_eq!(body["max_tokens"], 300);
    assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
}

#[tokio::test]
async fn lists_are_parsed_from_json_fences_and_numbered_lines() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stand_in)
        .mount(&server)
        .await;
    let g = text_generator(&server);
    let tags = g
        .generate_text(&TextTask::Hashtags {
            content: "Our new espresso blend is roasted in small batches in Lisbon".into(),
            platform: Platform::Instagram,
        })
        .await
        .unwrap();
    assert_eq!(tags.items, ["#Espresso", "#Lisbon", "#SmallBatch"]);
    let ideas = g
        .generate_text(&TextTask::Ideas {
            topic: "remote work".into(),
            audience: "engineering managers".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        ideas.items,
        [
            "Share a day in the life",
            "Ask your team a question",
            "List your tools"
        ]
    );
    let body: Value = server.received_requests().await.unwrap()[1]
        .body_json()
        .unwrap();
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("for engineering managers"), "{user}");
}

#[tokio::test]
async fn the_text_generator_passes_the_conformance_suite_and_the_service_checks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(stand_in)
        .mount(&server)
        .await;
    let g = text_generator(&server);
    text_generator_run_all(&g).await;

    let ai = quflux_ai::ContentService::new(
        std::sync::Arc::new(g),
        std::sync::Arc::new(quflux_core::memory::ScriptedImageGenerator::new([])),
    );
    let tags = ai
        .hashtags("Espresso in Lisbon", Platform::Twitter)
        .await
        .unwrap();
    assert_eq!(tags.value, ["#Espresso", "#Lisbon", "#SmallBatch"]);
}

#[tokio::test]
async fn errors_are_classified() {
    let cases: Vec<(ResponseTemplate, ErrorKind, &str)> = vec![
        (
            ResponseTemplate::new(429)
                .insert_header("retry-after", "20")
                .set_body_json(json!({"error": {"message": "Rate limit reached for gpt-4o-mini",
                    "type": "requests", "param": null, "code": "rate_limit_exceeded"}})),
            ErrorKind::RateLimited,
            "openai-compatible rate limit reached",
        ),
        (
            ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "The engine is currently overloaded",
                "type": "server_error", "code": null}})),
            ErrorKind::Transient,
            "openai-compatible is temporarily unavailable",
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "This model's maximum context length is 8192 tokens",
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})),
            ErrorKind::InvalidContent,
            "openai-compatible rejected the content: This model's maximum context length is 8192 tokens",
        ),
        (
            // vLLM's error shape.
            ResponseTemplate::new(400).set_body_json(json!({"object": "error", "message": "temperature must be non-negative",
                "type": "BadRequestError", "param": null, "code": 400})),
            ErrorKind::InvalidContent,
            "openai-compatible rejected the content: temperature must be non-negative",
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "The response was filtered due to the prompt triggering content management policy.",
                "type": null, "param": "prompt", "code": "content_filter", "status": 400}})),
            ErrorKind::InvalidContent,
            "openai-compatible rejected the content: blocked by the content filter: The response was filtered due to the prompt triggering content management policy.",
        ),
        (
            ResponseTemplate::new(200).set_body_json(completion(Value::Null, "content_filter")),
            ErrorKind::InvalidContent,
            "openai-compatible rejected the content: the reply was withheld by the content filter (content_filter)",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"choices": [{"index": 0, "message": {"role": "assistant",
                "content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}]})),
            ErrorKind::InvalidContent,
            "openai-compatible rejected the content: the model refused: I can't help with that.",
        ),
        (
            ResponseTemplate::new(200).set_body_json(completion(Value::Null, "tool_calls")),
            ErrorKind::Other,
            "openai-compatible failed",
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"choices\": [ {\"message\": "),
            ErrorKind::Other,
            "openai-compatible failed",
        ),
        (
            ResponseTemplate::new(404).set_body_json(json!({"error": "model \"llama9\" not found, try pulling it first"})),
            ErrorKind::Config,
            "invalid configuration: openai-compatible: HTTP 404: model \"llama9\" not found, try pulling it first (check base_url and the model id)",
        ),
    ];
    for (template, kind, message) in cases {
        let server = answering(template).await;
        let e = text_generator(&server)
            .generate_text(&caption())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{}", e.detailed_message());
        assert_eq!(e.to_string(), message);
    }

    let server = answering(
        ResponseTemplate::new(429)
            .insert_header("retry-after-ms", "1500")
            .set_body_json(
                json!({"error": {"message": "slow down", "code": "rate_limit_exceeded"}}),
            ),
    )
    .await;
    let e = text_generator(&server)
        .generate_text(&caption())
        .await
        .unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
}

#[tokio::test]
async fn a_refused_key_is_configuration_and_never_shown() {
    let server = answering(ResponseTemplate::new(401).set_body_json(json!({"error": {
        "message": format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."),
        "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})))
    .await;
    let e = text_generator(&server)
        .generate_text(&caption())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(!e.detailed_message().contains(KEY), "{e}");
    assert!(!format!("{e:?}").contains(KEY));
    assert!(!format!("{:?}", text_generator(&server)).contains(KEY));
}

#[tokio::test]
async fn a_timeout_is_transient() {
    let server = answering(
        ResponseTemplate::new(200)
            .set_delay(Duration::from_secs(3))
            .set_body_json(completion(Value::from("late"), "stop")),
    )
    .await;
    let g = OpenAiCompatibleTextGenerator::builder()
        .with_base_url(format!("{}/v1", server.uri()))
        .with_model("m")
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = g.generate_text(&caption()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
}

// ----------------------------------------------------------------------------------- images

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    RgbImage::from_pixel(width, height, Rgb([30, 40, 50]))
        .write_to(&mut out, ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn image_generator(server: &MockServer, model: &str) -> OpenAiCompatibleImageGenerator {
    OpenAiCompatibleImageGenerator::builder()
        .with_base_url(format!("{}/v1", server.uri()))
        .with_api_key(KEY)
        .with_model(model)
        .build()
        .unwrap()
}

fn generate(width: u32, height: u32) -> ImageTask {
    ImageTask::Generate {
        prompt: "a lighthouse at dawn".into(),
        style: "watercolor".into(),
        width,
        height,
    }
}

/// Answers with a base64 PNG of the requested size.
fn image_stand_in(request: &Request) -> ResponseTemplate {
    let body: Value = request.body_json().unwrap();
    let (w, h) = body["size"].as_str().unwrap().split_once('x').unwrap();
    let image = png(w.parse().unwrap(), h.parse().unwrap());
    ResponseTemplate::new(200).set_body_json(json!({
        "created": 1_713_833_628,
        "data": [{"b64_json": STANDARD.encode(image)}],
        "usage": {"total_tokens": 100, "input_tokens": 50, "output_tokens": 50}
    }))
}

#[tokio::test]
async fn image_requests_have_the_documented_shape_and_are_cropped_to_exact_pixels() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(
            json!({"model": "gpt-image-1", "prompt": "a lighthouse at dawn\nStyle: watercolor.",
            "size": "1536x1024", "n": 1}),
        ))
        .respond_with(image_stand_in)
        .expect(1)
        .mount(&server)
        .await;
    let image = image_generator(&server, "gpt-image-1")
        .generate_image(&generate(1200, 675))
        .await
        .unwrap();
    assert_eq!(png_size(&image.bytes), Some((1200, 675)));
    assert_eq!(
        (image.content_type.as_str(), image.model.as_str()),
        ("image/png", "gpt-image-1")
    );
    let body: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert!(
        body.get("response_format").is_none(),
        "gpt-image-1 rejects response_format"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(body_partial_json(
            json!({"model": "dall-e-3", "size": "1024x1792", "response_format": "b64_json"}),
        ))
        .respond_with(image_stand_in)
        .expect(1)
        .mount(&server)
        .await;
    let dalle = OpenAiCompatibleImageGenerator::builder()
        .with_base_url(format!("{}/v1", server.uri()))
        .with_model("dall-e-3")
        .with_sizes([(1024, 1024), (1792, 1024), (1024, 1792)])
        .build()
        .unwrap();
    let image = dalle.generate_image(&generate(1080, 1920)).await.unwrap();
    assert_eq!(png_size(&image.bytes), Some((1080, 1920)));
}

#[tokio::test]
async fn an_image_url_answer_is_downloaded() {
    let server = MockServer::start().await;
    let url = format!("{}/files/img-1.png", server.uri());
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"created": 1, "data": [{"url": url}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/img-1.png"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(png(1024, 1024), "image/png"))
        .expect(1)
        .mount(&server)
        .await;
    let image = image_generator(&server, "dall-e-2")
        .generate_image(&generate(512, 512))
        .await
        .unwrap();
    assert_eq!(png_size(&image.bytes), Some((512, 512)));
    let get = &server.received_requests().await.unwrap()[1];
    assert!(
        get.headers.get("authorization").is_none(),
        "the key stays with the API"
    );
}

#[tokio::test]
async fn a_server_without_image_generation_is_unsupported() {
    // Ollama and llama.cpp answer an unknown route with a bare 404.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("404 page not found"))
        .mount(&server)
        .await;
    let e = image_generator(&server, "gpt-image-1")
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "image generation is not supported by openai-compatible"
    );

    // An unknown model is a configuration error, not a missing feature.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "message": "The model `gpt-image-9` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": null, "code": "model_not_found"}})))
        .mount(&server)
        .await;
    let e = image_generator(&server, "gpt-image-9")
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);

    let e = image_generator(&server, "gpt-image-1")
        .generate_image(&ImageTask::Edit {
            image: bytes::Bytes::from(png(8, 8)),
            content_type: "image/png".into(),
            prompt: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn image_errors_are_classified() {
    let cases = [
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": {"code": "moderation_blocked",
                "message": "Your request was rejected by the safety system.", "param": null, "type": "image_generation_user_error"}})),
            ErrorKind::InvalidContent,
        ),
        (
            ResponseTemplate::new(429).insert_header("retry-after", "2").set_body_json(json!({"error": {
                "message": "Rate limit exceeded for images per minute", "code": "rate_limit_exceeded"}})),
            ErrorKind::RateLimited,
        ),
        (ResponseTemplate::new(502).set_body_string("Bad gateway"), ErrorKind::Transient),
        (ResponseTemplate::new(200).set_body_json(json!({"data": []})), ErrorKind::Other),
        (ResponseTemplate::new(200).set_body_json(json!({"data": [{"b64_json": "!!"}]})), ErrorKind::Other),
    ];
    for (template, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        let e = image_generator(&server, "gpt-image-1")
            .generate_image(&generate(1024, 1024))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{}", e.detailed_message());
    }
}

#[tokio::test]
async fn the_image_generator_passes_the_conformance_suite() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(image_stand_in)
        .mount(&server)
        .await;
    image_generator_run_all(&image_generator(&server, "gpt-image-1")).await;
}

// ----------------------------------------------------------- the test bed's fake LLM, for real

/// The OpenAI-compatible client against the test bed's fake LLM over real HTTP
/// (`bash scripts/testbed/strands.sh start`; `QUFLUX_TEST_OPENAI_URL=http://127.0.0.1:8091/v1`).
#[tokio::test]
async fn the_testbed_llm_answers_every_task_and_its_scripted_errors() {
    let Some(url) = quflux_core::testkit::env("QUFLUX_TEST_OPENAI_URL") else {
        return;
    };
    let g = OpenAiCompatibleTextGenerator::builder()
        .with_base_url(&url)
        .with_api_key("sk-local-test")
        .with_model("quflux-fake-llm")
        .with_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    text_generator_run_all(&g).await;

    let out = g.generate_text(&caption()).await.unwrap();
    assert_eq!(out.model, "quflux-fake-llm");
    assert!(
        out.items[0].contains("Home-made sourdough"),
        "{:?}",
        out.items
    );
    let tags = g
        .generate_text(&TextTask::Hashtags {
            content: "Our new espresso blend is roasted in small batches in Lisbon".into(),
            platform: Platform::Twitter,
        })
        .await
        .unwrap();
    assert_eq!(tags.items, ["#Espresso", "#Blend", "#Roasted"]);

    let ai = quflux_ai::ContentService::new(
        std::sync::Arc::new(g.clone()),
        std::sync::Arc::new(quflux_core::memory::ScriptedImageGenerator::new([])),
    );
    let rewritten = ai
        .rewrite(
            &"**Big** news about our scheduler. ".repeat(30),
            Platform::Bluesky,
        )
        .await
        .unwrap();
    assert!(quflux_ai::text_violations(Platform::Bluesky, &rewritten.value).is_empty());
    assert!(!rewritten.value.contains("**"));

    let topic = |marker: &str| TextTask::Caption {
        content_type: "text".into(),
        topic: format!("launch {marker}"),
        platform: Platform::Mastodon,
        tone: "casual".into(),
    };
    let e = g
        .generate_text(&topic("quflux-test-ratelimit"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = g
        .generate_text(&topic("quflux-test-fail"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidContent);
    assert!(e.to_string().contains("scripted failure"), "{e}");
    let e = g
        .generate_text(&topic("quflux-test-filter"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidContent);

    // The fake LLM has no image endpoint, like most local servers.
    let images = OpenAiCompatibleImageGenerator::builder()
        .with_base_url(&url)
        .build()
        .unwrap();
    let e = images
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    image_generator_run_all(&images).await;
}
