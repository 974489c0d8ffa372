//! Conformance suites for [`TextGenerator`] and [`ImageGenerator`].
//!
//! Both ports let a provider decline a task it cannot do with [`crate::Error::Unsupported`];
//! everything else must answer with a usable result.

use crate::{ErrorKind, ImageGenerator, ImageTask, Platform, TextGenerator, TextTask};

/// Every [`TextGenerator`] must pass these.
pub async fn text_generator_run_all(generator: &dyn TextGenerator) {
    every_text_task_yields_non_empty_items_or_unsupported(generator).await;
}

/// Each task answers at least one non-blank item and names its model, or is `Unsupported`.
pub async fn every_text_task_yields_non_empty_items_or_unsupported(generator: &dyn TextGenerator) {
    let tasks = [
        TextTask::Caption {
            content_type: "image".into(),
            topic: "sustainable coffee farming".into(),
            platform: Platform::Instagram,
            tone: "casual".into(),
        },
        TextTask::Hashtags {
            content: "Our new espresso blend is roasted in small batches in Lisbon".into(),
            platform: Platform::Twitter,
        },
        TextTask::Ideas {
            topic: "remote work".into(),
            audience: "engineering managers".into(),
        },
        TextTask::Rewrite {
            text: "A very long text ".repeat(40),
            platform: Platform::Bluesky,
        },
    ];
    for task in &tasks {
        match generator.generate_text(task).await {
            Ok(out) => {
                assert!(
                    !out.items.is_empty(),
                    "{task:?}: a result has at least one item"
                );
                assert!(
                    out.items.iter().all(|i| !i.trim().is_empty()),
                    "{task:?}: items are not blank"
                );
                assert!(!out.model.trim().is_empty(), "{task:?}: the model is named");
            }
            Err(e) => assert_eq!(
                e.kind(),
                ErrorKind::Unsupported,
                "{task:?}: only Unsupported may decline: {e}"
            ),
        }
    }
}

/// Every [`ImageGenerator`] must pass these.
pub async fn image_generator_run_all(generator: &dyn ImageGenerator) {
    images_have_the_requested_size_or_are_unsupported(generator).await;
}

/// A generated image is a PNG or JPEG of the requested size (for tasks that request one), or
/// the task is `Unsupported`.
pub async fn images_have_the_requested_size_or_are_unsupported(generator: &dyn ImageGenerator) {
    let tasks = [
        ImageTask::SocialGraphic {
            text: "Launch day".into(),
            template: "bold".into(),
            width: 1080,
            height: 1080,
        },
        ImageTask::Generate {
            prompt: "a lighthouse at dawn".into(),
            style: "realistic".into(),
            width: 1024,
            height: 1024,
        },
    ];
    for task in &tasks {
        let (w, h) = match task {
            ImageTask::SocialGraphic { width, height, .. }
            | ImageTask::Generate { width, height, .. } => (*width, *height),
            ImageTask::Edit { .. } => continue,
        };
        match generator.generate_image(task).await {
            Ok(img) => {
                assert_eq!(
                    (img.width, img.height),
                    (w, h),
                    "{task:?}: the requested size"
                );
                assert!(!img.model.trim().is_empty(), "the model is named");
                if img.content_type == "image/png" {
                    assert_eq!(
                        png_size(&img.bytes),
                        Some((w, h)),
                        "{task:?}: the PNG header agrees with the size"
                    );
                } else {
                    assert!(
                        img.content_type.starts_with("image/"),
                        "an image type: {}",
                        img.content_type
                    );
                }
            }
            Err(e) => assert_eq!(
                e.kind(),
                ErrorKind::Unsupported,
                "{task:?}: only Unsupported may decline: {e}"
            ),
        }
    }
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != MAGIC || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    Some((w, h))
}
