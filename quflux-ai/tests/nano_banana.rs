//! The Gemini image client against a local stand-in for `models/{model}:generateContent`,
//! replaying the request and response shapes of ai-providers.md §2: generation, editing with an
//! inline image, thought images, snake_case answers, rate limits, outages, bad keys, blocked
//! content and malformed answers.

#![cfg(feature = "nano-banana")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use image::{ImageFormat, Rgb, RgbImage};
use quflux_ai::nano_banana::GeminiImageGenerator;
use quflux_core::testkit::generators::{image_generator_run_all, png_size};
use quflux_core::{ErrorKind, ImageGenerator, ImageTask};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "AIzaSy-test-key-123";
const GENERATE: &str = "/v1beta/models/gemini-2.5-flash-image:generateContent";

fn png(width: u32, height: u32, color: [u8; 3]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    RgbImage::from_pixel(width, height, Rgb(color))
        .write_to(&mut out, ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The documented success answer: a text part, then the image.
fn image_answer(image: &[u8]) -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Here is your image."},
                {"inlineData": {"mimeType": "image/png", "data": b64(image)}}
            ]},
            "finishReason": "STOP",
            "index": 0
        }],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302},
        "modelVersion": "gemini-2.5-flash-image"
    })
}

fn google_error(code: u16, status: &str, message: &str, details: Value) -> Value {
    json!({"error": {"code": code, "message": message, "status": status, "details": details}})
}

fn generator(server: &MockServer) -> GeminiImageGenerator {
    GeminiImageGenerator::builder()
        .with_api_key(KEY)
        .with_base_url(server.uri())
        .build()
        .unwrap()
}

fn generate(width: u32, height: u32) -> ImageTask {
    ImageTask::Generate {
        prompt: "a lighthouse at dawn".into(),
        style: "realistic".into(),
        width,
        height,
    }
}

fn decode(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory(bytes).unwrap().to_rgb8()
}

async fn answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn generation_sends_the_documented_request_and_crops_to_exact_pixels() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(header("x-goog-api-key", KEY))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "contents": [{"role": "user", "parts": [{"text": "a lighthouse at dawn\nStyle: realistic."}]}],
            "generationConfig": {
                "responseModalities": ["TEXT", "IMAGE"],
                "imageConfig": {"aspectRatio": "16:9"}
            }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer(&png(
            1344,
            768,
            [10, 20, 200],
        ))))
        .expect(1)
        .mount(&server)
        .await;

    let image = generator(&server)
        .generate_image(&generate(1200, 675))
        .await
        .unwrap();
    assert_eq!((image.width, image.height), (1200, 675));
    assert_eq!(image.content_type, "image/png");
    assert_eq!(png_size(&image.bytes), Some((1200, 675)));
    assert_eq!(image.model, "gemini-2.5-flash-image");
    assert_eq!(decode(&image.bytes).get_pixel(600, 337).0, [10, 20, 200]);

    let body: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert!(
        body["generationConfig"]["imageConfig"]
            .get("imageSize")
            .is_none()
    );
    assert_eq!(body["contents"][0]["parts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn post_sizes_ask_for_their_aspect_ratio_and_image_size_is_sent_when_set() {
    let server = MockServer::start().await;
    let answer = image_answer(&png(64, 64, [0, 0, 0]));
    for (ratio, size) in [("1:1", "2K"), ("9:16", "2K"), ("4:5", "2K")] {
        Mock::given(method("POST"))
            .and(path(
                "/v1beta/models/gemini-3-pro-image-preview:generateContent",
            ))
            .and(body_partial_json(
                json!({"generationConfig": {"imageConfig": {
                "aspectRatio": ratio, "imageSize": size}}}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer.clone()))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pro = GeminiImageGenerator::builder()
        .with_api_key(KEY)
        .with_base_url(server.uri())
        .with_model("gemini-3-pro-image-preview")
        .with_image_size("2K")
        .build()
        .unwrap();
    for (w, h) in [(1080, 1080), (1080, 1920), (1080, 1350)] {
        let image = pro.generate_image(&generate(w, h)).await.unwrap();
        assert_eq!(png_size(&image.bytes), Some((w, h)));
    }
}

#[tokio::test]
async fn the_last_non_thought_image_is_taken_and_snake_case_is_read() {
    let answer = json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"inline_data": {"mime_type": "image/png", "data": b64(&png(32, 32, [255, 0, 0]))}, "thought": true},
            {"text": "Final image:", "thoughtSignature": "c2ln"},
            {"inline_data": {"mime_type": "image/png", "data": b64(&png(32, 32, [0, 255, 0]))}}
        ]}, "finish_reason": "STOP"}],
        "model_version": "gemini-3-pro-image-preview"
    });
    let server = answering(ResponseTemplate::new(200).set_body_json(answer)).await;
    let image = generator(&server)
        .generate_image(&generate(300, 300))
        .await
        .unwrap();
    assert_eq!(decode(&image.bytes).get_pixel(150, 150).0, [0, 255, 0]);
    assert_eq!(image.model, "gemini-3-pro-image-preview");
}

#[tokio::test]
async fn an_edit_sends_the_image_inline_and_keeps_its_size() {
    let input = png(300, 200, [1, 2, 3]);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(header("x-goog-api-key", KEY))
        .and(body_partial_json(json!({
            "contents": [{"role": "user", "parts": [
                {"text": "put it on a beach at sunset"},
                {"inlineData": {"mimeType": "image/png", "data": b64(&input)}}
            ]}],
            "generationConfig": {"imageConfig": {"aspectRatio": "3:2"}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer(&png(
            1248,
            832,
            [9, 9, 9],
        ))))
        .expect(1)
        .mount(&server)
        .await;
    let edit = ImageTask::Edit {
        image: Bytes::from(input),
        content_type: "image/png".into(),
        prompt: "put it on a beach at sunset".into(),
    };
    let image = generator(&server).generate_image(&edit).await.unwrap();
    assert_eq!((image.width, image.height), (300, 200));
    assert_eq!(png_size(&image.bytes), Some((300, 200)));
}

#[tokio::test]
async fn a_gif_is_sent_as_png_and_junk_is_refused_before_sending() {
    let mut gif = Cursor::new(Vec::new());
    RgbImage::from_pixel(40, 40, Rgb([5, 5, 5]))
        .write_to(&mut gif, ImageFormat::Gif)
        .unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"contents": [{"parts": [
            {"text": "brighter"}, {"inlineData": {"mimeType": "image/png"}}]}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_answer(&png(8, 8, [0; 3]))))
        .expect(1)
        .mount(&server)
        .await;
    let g = generator(&server);
    let edit = |image: Vec<u8>| ImageTask::Edit {
        image: Bytes::from(image),
        content_type: "image/gif".into(),
        prompt: "brighter".into(),
    };
    let image = g.generate_image(&edit(gif.into_inner())).await.unwrap();
    assert_eq!((image.width, image.height), (40, 40));
    let e = g
        .generate_image(&edit(b"GIF89a junk".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn rate_limits_carry_the_retry_delay() {
    let body = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        json!([
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests"}]},
            {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
        ]),
    );
    let server = answering(ResponseTemplate::new(429).set_body_json(body)).await;
    let e = generator(&server)
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(37)));
    assert!(e.detailed_message().contains("RESOURCE_EXHAUSTED"), "{e}");

    let server = answering(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "5")
            .set_body_json(google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "slow down",
                json!([]),
            )),
    )
    .await;
    let e = generator(&server)
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
}

#[tokio::test]
async fn outages_and_timeouts_are_transient() {
    let server = answering(ResponseTemplate::new(503).set_body_json(google_error(
        503,
        "UNAVAILABLE",
        "The model is overloaded. Please try again later.",
        json!([]),
    )))
    .await;
    let e = generator(&server)
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert_eq!(e.to_string(), "nano-banana is temporarily unavailable");

    let server = answering(ResponseTemplate::new(500).set_body_string("internal")).await;
    let e = generator(&server)
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);

    let slow = answering(
        ResponseTemplate::new(200)
            .set_delay(Duration::from_secs(3))
            .set_body_json(image_answer(&png(8, 8, [0; 3]))),
    )
    .await;
    let g = GeminiImageGenerator::builder()
        .with_api_key(KEY)
        .with_base_url(slow.uri())
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = g.generate_image(&generate(512, 512)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);

    let closed = GeminiImageGenerator::builder()
        .with_api_key(KEY)
        .with_base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let e = closed
        .generate_image(&generate(512, 512))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
}

#[tokio::test]
async fn bad_requests_keys_and_models_are_told_apart() {
    let server = answering(ResponseTemplate::new(400).set_body_json(google_error(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        json!([]),
    )))
    .await;
    let e = generator(&server)
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "nano-banana rejected the content: Request contains an invalid argument."
    );

    let server = answering(ResponseTemplate::new(400).set_body_json(google_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]),
    )))
    .await;
    let e = generator(&server)
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(!e.detailed_message().contains(KEY));
    assert!(!format!("{e:?}").contains(KEY));

    let server = answering(ResponseTemplate::new(404).set_body_json(google_error(
        404,
        "NOT_FOUND",
        "models/gemini-2.5-flash-image is not found for API version v1beta",
        json!([]),
    )))
    .await;
    let e = generator(&server)
        .generate_image(&generate(1024, 1024))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("check the model id"), "{e}");
}

#[tokio::test]
async fn blocked_content_is_invalid_content_with_the_reason() {
    let cases = [
        (
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "modelVersion": "gemini-2.5-flash-image"}),
            "the prompt was blocked (PROHIBITED_CONTENT)",
        ),
        (
            json!({"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "IMAGE_SAFETY",
                   "finishMessage": "Unable to show the generated image."}]}),
            "the image was blocked (IMAGE_SAFETY): Unable to show the generated image.",
        ),
        (
            json!({"candidates": [{"finishReason": "SAFETY"}]}),
            "the image was blocked (SAFETY)",
        ),
        (
            json!({"candidates": [{"content": {"parts": [{"text": "I can only create images of landscapes."}]},
                   "finishReason": "NO_IMAGE"}]}),
            "no image was returned (NO_IMAGE): I can only create images of landscapes.",
        ),
        (
            json!({"candidates": [{"content": {"parts": [{"text": "What style would you like?"}]},
                   "finishReason": "STOP"}]}),
            "no image was returned (STOP): What style would you like?",
        ),
    ];
    for (answer, reason) in cases {
        let server = answering(ResponseTemplate::new(200).set_body_json(answer)).await;
        let e = generator(&server)
            .generate_image(&generate(1024, 1024))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidContent, "{reason}");
        assert_eq!(
            e.to_string(),
            format!("nano-banana rejected the content: {reason}")
        );
        assert!(!e.is_retryable());
    }
}

#[tokio::test]
async fn malformed_answers_are_other_errors() {
    for answer in [
        ResponseTemplate::new(200).set_body_string("{\"candidates\": [{"),
        ResponseTemplate::new(200).set_body_json(json!({"candidates": []})),
        ResponseTemplate::new(200).set_body_json(json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": "%%% not base64 %%%"}}]}}]})),
        ResponseTemplate::new(200).set_body_json(json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": b64(b"not a png")}}]}}]})),
    ] {
        let server = answering(answer).await;
        let e = generator(&server)
            .generate_image(&generate(1024, 1024))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Other, "{}", e.detailed_message());
    }
}

#[tokio::test]
async fn social_graphics_are_unsupported() {
    let server = MockServer::start().await;
    let e = generator(&server)
        .generate_image(&ImageTask::SocialGraphic {
            text: "hi".into(),
            template: "bold".into(),
            width: 1080,
            height: 1080,
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "social graphics is not supported by nano-banana"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Answers every request with an image of the requested aspect ratio's documented 1K size.
fn stand_in(request: &Request) -> ResponseTemplate {
    let body: Value = request.body_json().unwrap();
    let (w, h) = match body["generationConfig"]["imageConfig"]["aspectRatio"]
        .as_str()
        .unwrap()
    {
        "16:9" => (1344, 768),
        "9:16" => (768, 1344),
        _ => (1024, 1024),
    };
    ResponseTemplate::new(200).set_body_json(image_answer(&png(w, h, [50, 60, 70])))
}

#[tokio::test]
async fn the_generator_passes_the_conformance_suite() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(stand_in)
        .mount(&server)
        .await;
    image_generator_run_all(&generator(&server)).await;
}

#[cfg(feature = "offline")]
mod integration {
    use quflux_ai::{AiConfig, ContentService, build_image_generator, build_text_generator};
    use quflux_ai::{SOCIAL_GRAPHIC_SIZES, store_generated_image};
    use quflux_core::memory::{InMemoryBlobStore, InMemoryStore};
    use quflux_core::{BlobStore, MediaStore, UserId};

    use super::*;

    /// `image_provider = "nano-banana"` from configuration: images from the stand-in, social
    /// graphics still rendered offline, results stored as AI-generated media.
    #[tokio::test]
    async fn a_configured_gemini_provider_generates_and_results_are_stored_as_ai_media() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(GENERATE))
            .and(header("x-goog-api-key", KEY))
            .respond_with(stand_in)
            .mount(&server)
            .await;
        let config: AiConfig = serde_json::from_value(json!({
            "image_provider": "nano-banana",
            "nano_banana": {"api_key": KEY, "base_url": server.uri()}
        }))
        .unwrap();
        let ai = ContentService::new(
            build_text_generator(&config).unwrap(),
            build_image_generator(&config).unwrap(),
        );

        let image = ai
            .generate_image("a lighthouse at dawn", "realistic", 1080, 1350)
            .await
            .unwrap();
        assert_eq!(png_size(&image.bytes), Some((1080, 1350)));

        let (w, h) = SOCIAL_GRAPHIC_SIZES[1];
        let graphic = ai.social_graphic("Launch day", "bold", w, h).await.unwrap();
        assert_eq!(graphic.model, "offline");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);

        let edited = ai
            .edit_image(Bytes::from(png(400, 400, [0; 3])), "image/png", "add a sun")
            .await
            .unwrap();
        assert_eq!((edited.width, edited.height), (400, 400));

        let (blobs, store) = (InMemoryBlobStore::new(), InMemoryStore::new());
        let user = UserId::new();
        let file = store_generated_image(&blobs, &store, user, &image, "lighthouse")
            .await
            .unwrap();
        assert!(file.ai_generated);
        assert_eq!(file.filename, "lighthouse.png");
        assert_eq!((file.width, file.height), (Some(1080), Some(1350)));
        assert!(file.storage_key.starts_with(&format!("ai/{user}/")));
        assert_eq!(blobs.get(&file.storage_key).await.unwrap(), image.bytes);
        assert_eq!(store.list_media(user).await.unwrap(), vec![file]);
    }
}
