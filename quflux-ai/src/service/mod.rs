//! [`ContentService`]: input validation and platform-rule checks around any AI provider.

mod input;
mod result;

use std::sync::Arc;

use bytes::Bytes;
use quflux_core::{
    Error, GeneratedImage, GeneratedText, ImageGenerator, ImageTask, Platform, Result,
    TextGenerator, TextTask,
};

pub(crate) use input::check_graphic_size;
pub use input::{
    CONTENT_TYPES, MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, SOCIAL_GRAPHIC_SIZES, parse_platform,
};
use input::{decode_check, non_empty, normalize_hashtags};
pub use result::{Adjustment, AdjustmentKind, Checked};

use crate::fit::{self, fit_text, recommended_hashtags, text_violations};

/// The service name used in errors raised by [`ContentService`] itself.
const SERVICE: &str = "ai";

/// Caption, hashtag, idea, rewrite and image operations over any [`TextGenerator`] and
/// [`ImageGenerator`].
///
/// Every method validates its input before calling a provider, and every generated text is
/// checked against the platform's rules from `quflux_core::rules` (length in the platform's
/// unit, hashtag and mention counts; see [`text_violations`]). A text that breaks a rule is
/// generated once more; if the second one breaks a rule too it is shortened. [`Checked::adjusted`]
/// says which. Hashtag lists are also capped at [`recommended_hashtags`].
///
/// ```
/// # #[cfg(feature = "offline")]
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use quflux_ai::ContentService;
/// use quflux_core::Platform;
///
/// let ai = ContentService::offline();
/// let caption = ai.caption("image", "Rust for web services", Platform::Twitter, "casual").await?;
/// assert!(quflux_ai::text_violations(Platform::Twitter, &caption.value).is_empty());
/// # Ok::<(), quflux_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ContentService {
    text: Arc<dyn TextGenerator>,
    image: Arc<dyn ImageGenerator>,
}

impl ContentService {
    /// A service over the given providers.
    pub fn new(text: Arc<dyn TextGenerator>, image: Arc<dyn ImageGenerator>) -> Self {
        Self { text, image }
    }

    /// A service over the offline providers with default settings.
    #[cfg(feature = "offline")]
    pub fn offline() -> Self {
        Self::new(
            Arc::new(crate::offline::OfflineTextGenerator::new()),
            Arc::new(crate::offline::OfflineImageGenerator::new()),
        )
    }

    /// The text provider.
    pub fn text_generator(&self) -> &Arc<dyn TextGenerator> {
        &self.text
    }

    /// The image provider.
    pub fn image_generator(&self) -> &Arc<dyn ImageGenerator> {
        &self.image
    }

    /// A caption for a post about `topic` on `platform`.
    ///
    /// `content_type` is one of [`CONTENT_TYPES`] (case-insensitive); `tone` is passed to the
    /// provider (the offline one knows `professional`, `casual`, `humorous`, `inspirational`).
    ///
    /// # Errors
    /// - [`Error::InvalidInput`]: empty `topic` or `tone`, unknown `content_type`, or a tone the
    ///   provider does not know.
    /// - [`Error::Validation`]: the text could not be made to pass the platform's rules.
    /// - Any provider error ([`Error::RateLimited`], [`Error::Transient`], …).
    pub async fn caption(
        &self,
        content_type: &str,
        topic: &str,
        platform: Platform,
        tone: &str,
    ) -> Result<Checked<String>> {
        let topic = non_empty("topic", topic)?;
        let tone = non_empty("tone", tone)?;
        let content_type = content_type.trim().to_lowercase();
        if !CONTENT_TYPES.contains(&content_type.as_str()) {
            return Err(Error::invalid_input(
                "content_type",
                format!(
                    "unknown content type `{content_type}`; expected one of {}",
                    CONTENT_TYPES.join(", ")
                ),
            ));
        }
        let task = TextTask::Caption {
            content_type,
            topic: topic.to_owned(),
            platform,
            tone: tone.to_owned(),
        };
        self.checked_text(&task, platform).await
    }

    /// Hashtags for `content` on `platform`: normalized to `#Word` (letters and digits only),
    /// deduplicated case-insensitively and at most [`recommended_hashtags`]`(platform)`.
    ///
    /// # Errors
    /// - [`Error::InvalidInput`]: empty `content`, or content with no words to tag.
    /// - Any provider error.
    pub async fn hashtags(
        &self,
        content: &str,
        platform: Platform,
    ) -> Result<Checked<Vec<String>>> {
        let content = non_empty("content", content)?;
        let task = TextTask::Hashtags {
            content: content.to_owned(),
            platform,
        };
        let limit = recommended_hashtags(platform);
        let passes = |tags: &[String]| {
            tags.len() <= limit && text_violations(platform, &tags.join(" ")).is_empty()
        };

        let first = self.generate(&task).await?;
        let first_tags = normalize_hashtags(&first.items);
        if first_tags.is_empty() {
            return Err(no_items(&first.model));
        }
        if passes(&first_tags) {
            return Ok(checked(first_tags, platform, first.model, None));
        }
        let original_length = first_tags.len();
        let (mut tags, model) = match self.generate(&task).await {
            Ok(second) => {
                let tags = normalize_hashtags(&second.items);
                if !tags.is_empty() && passes(&tags) {
                    let adjustment =
                        adjustment(AdjustmentKind::Regenerated, original_length, tags.len());
                    return Ok(checked(tags, platform, second.model, Some(adjustment)));
                }
                if tags.is_empty() {
                    (first_tags, first.model)
                } else {
                    (tags, second.model)
                }
            }
            Err(_) => (first_tags, first.model),
        };
        tags.truncate(limit);
        while !tags.is_empty() && !passes(&tags) {
            tags.pop();
        }
        if tags.is_empty() {
            return Err(Error::Validation {
                violations: text_violations(platform, ""),
            });
        }
        let adjustment = adjustment(AdjustmentKind::Shortened, original_length, tags.len());
        Ok(checked(tags, platform, model, Some(adjustment)))
    }

    /// Ideas for posts about `topic` for `audience` (may be empty), each fitting `platform`.
    ///
    /// # Errors
    /// - [`Error::InvalidInput`]: empty `topic`.
    /// - [`Error::Validation`]: an idea could not be made to pass the platform's rules.
    /// - Any provider error.
    pub async fn ideas(
        &self,
        topic: &str,
        audience: &str,
        platform: Platform,
    ) -> Result<Checked<Vec<String>>> {
        let topic = non_empty("topic", topic)?;
        let task = TextTask::Ideas {
            topic: topic.to_owned(),
            audience: audience.trim().to_owned(),
        };
        let passes = |items: &[String]| {
            items
                .iter()
                .all(|i| text_violations(platform, i).is_empty())
        };
        let longest = |items: &[String]| {
            items
                .iter()
                .map(|i| fit::length(platform, i))
                .max()
                .unwrap_or(0)
        };

        let first = self.generate(&task).await?;
        let first_items = clean_items(first.items);
        if first_items.is_empty() {
            return Err(no_items(&first.model));
        }
        if passes(&first_items) {
            return Ok(checked(first_items, platform, first.model, None));
        }
        let original_length = longest(&first_items);
        let (items, model) = match self.generate(&task).await {
            Ok(second) => {
                let items = clean_items(second.items);
                if !items.is_empty() && passes(&items) {
                    let adjustment = adjustment(
                        AdjustmentKind::Regenerated,
                        original_length,
                        longest(&items),
                    );
                    return Ok(checked(items, platform, second.model, Some(adjustment)));
                }
                if items.is_empty() {
                    (first_items, first.model)
                } else {
                    (items, second.model)
                }
            }
            Err(_) => (first_items, first.model),
        };
        let items = items
            .iter()
            .map(|i| shorten_checked(platform, i))
            .collect::<Result<Vec<_>>>()?;
        let adjustment = adjustment(AdjustmentKind::Shortened, original_length, longest(&items));
        Ok(checked(items, platform, model, Some(adjustment)))
    }

    /// `text` rewritten to fit `platform`.
    ///
    /// # Errors
    /// - [`Error::InvalidInput`]: empty `text`.
    /// - [`Error::Validation`]: the text could not be made to pass the platform's rules.
    /// - Any provider error.
    pub async fn rewrite(&self, text: &str, platform: Platform) -> Result<Checked<String>> {
        let text = non_empty("text", text)?;
        let task = TextTask::Rewrite {
            text: text.to_owned(),
            platform,
        };
        self.checked_text(&task, platform).await
    }

    /// A text graphic rendered from `template` at one of [`SOCIAL_GRAPHIC_SIZES`].
    ///
    /// # Errors
    /// - [`Error::InvalidInput`]: empty `text` or `template`, a size not in
    ///   [`SOCIAL_GRAPHIC_SIZES`], or a template the provider does not have.
    /// - [`Error::Other`]: the provider returned an image of another size.
    /// - Any provider error.
    pub async fn social_graphic(
        &self,
        text: &str,
        template: &str,
        width: u32,
        height: u32,
    ) -> Result<GeneratedImage> {
        let text = non_empty("text", text)?;
        let template = non_empty("template", template)?;
        check_graphic_size(width, height)?;
        let task = ImageTask::SocialGraphic {
            text: text.to_owned(),
            template: template.to_owned(),
            width,
            height,
        };
        let image = self.image.generate_image(&task).await?;
        if (image.width, image.height) != (width, height) {
            return Err(Error::other(
                SERVICE,
                format!(
                    "the image provider returned {}×{} instead of {width}×{height}",
                    image.width, image.height
                ),
            ));
        }
        Ok(image)
    }

    /// A new image from `prompt` in `style`, `width`×`height` pixels (each side between
    /// [`MIN_IMAGE_SIDE`] and [`MAX_IMAGE_SIDE`]).
    ///
    /// # Errors
    /// - [`Error::InvalidInput`]: empty `prompt`, a side out of range.
    /// - [`Error::Unsupported`]: the provider cannot generate images (the offline one cannot).
    /// - Any provider error.
    pub async fn generate_image(
        &self,
        prompt: &str,
        style: &str,
        width: u32,
        height: u32,
    ) -> Result<GeneratedImage> {
        let prompt = non_empty("prompt", prompt)?;
        for (field, side) in [("width", width), ("height", height)] {
            if !(MIN_IMAGE_SIDE..=MAX_IMAGE_SIDE).contains(&side) {
                return Err(Error::invalid_input(
                    field,
                    format!(
                        "{side} px is out of range; use {MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} px"
                    ),
                ));
            }
        }
        let task = ImageTask::Generate {
            prompt: prompt.to_owned(),
            style: style.trim().to_owned(),
            width,
            height,
        };
        self.image.generate_image(&task).await
    }

    /// `image` edited as `prompt` says. `image` must decode as PNG, JPEG, WebP or GIF, and
    /// `content_type` must match it (`image/jpg` is taken as `image/jpeg`).
    ///
    /// # Errors
    /// - [`Error::InvalidInput`]: empty `prompt`, an image that does not decode
    ///   (field `image`), a `content_type` that does not match the data.
    /// - [`Error::Unsupported`]: the provider cannot edit images (the offline one cannot).
    /// - Any provider error.
    pub async fn edit_image(
        &self,
        image: Bytes,
        content_type: &str,
        prompt: &str,
    ) -> Result<GeneratedImage> {
        let prompt = non_empty("prompt", prompt)?;
        let checked_bytes = image.clone();
        let format = tokio::task::spawn_blocking(move || decode_check(&checked_bytes))
            .await
            .map_err(|e| Error::other(SERVICE, e))??;
        let declared = content_type.trim().to_ascii_lowercase();
        let declared = if declared == "image/jpg" {
            "image/jpeg".to_owned()
        } else {
            declared
        };
        if declared != format.to_mime_type() {
            return Err(Error::invalid_input(
                "content_type",
                format!(
                    "`{content_type}` does not match the image data, which is {}",
                    format.to_mime_type()
                ),
            ));
        }
        let task = ImageTask::Edit {
            image,
            content_type: declared,
            prompt: prompt.to_owned(),
        };
        self.image.generate_image(&task).await
    }

    async fn generate(&self, task: &TextTask) -> Result<GeneratedText> {
        self.text.generate_text(task).await
    }

    /// One text (the first item), checked; regenerated once, then shortened.
    async fn checked_text(&self, task: &TextTask, platform: Platform) -> Result<Checked<String>> {
        let first = self.generate(task).await?;
        let first_text = first_item(first.items).ok_or_else(|| no_items(&first.model))?;
        if text_violations(platform, &first_text).is_empty() {
            return Ok(checked(first_text, platform, first.model, None));
        }
        let original_length = fit::length(platform, &first_text);
        let (text, model) = match self.generate(task).await {
            Ok(second) => match first_item(second.items) {
                Some(text) if text_violations(platform, &text).is_empty() => {
                    let adjustment = adjustment(
                        AdjustmentKind::Regenerated,
                        original_length,
                        fit::length(platform, &text),
                    );
                    return Ok(checked(text, platform, second.model, Some(adjustment)));
                }
                Some(text) => (text, second.model),
                None => (first_text, first.model),
            },
            Err(_) => (first_text, first.model),
        };
        let text = shorten_checked(platform, &text)?;
        let adjustment = adjustment(
            AdjustmentKind::Shortened,
            original_length,
            fit::length(platform, &text),
        );
        Ok(checked(text, platform, model, Some(adjustment)))
    }
}

fn checked<T>(
    value: T,
    platform: Platform,
    model: String,
    adjusted: Option<Adjustment>,
) -> Checked<T> {
    Checked {
        value,
        platform,
        model,
        adjusted,
    }
}

fn adjustment(kind: AdjustmentKind, original_length: usize, final_length: usize) -> Adjustment {
    Adjustment {
        kind,
        original_length,
        final_length,
    }
}

fn no_items(model: &str) -> Error {
    Error::other(
        SERVICE,
        format!("the text provider ({model}) returned no text"),
    )
}

fn first_item(items: Vec<String>) -> Option<String> {
    items
        .into_iter()
        .map(|i| i.trim().to_owned())
        .find(|i| !i.is_empty())
}

fn clean_items(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .collect()
}

/// [`fit_text`], then `Err(Error::Validation)` if it still breaks a rule.
fn shorten_checked(platform: Platform, text: &str) -> Result<String> {
    let text = fit_text(platform, text);
    let violations = text_violations(platform, &text);
    if violations.is_empty() {
        Ok(text)
    } else {
        Err(Error::Validation { violations })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageFormat;
    use quflux_core::memory::{ScriptedImageGenerator, ScriptedTextGenerator};

    fn text(items: &[&str]) -> Result<GeneratedText> {
        Ok(GeneratedText {
            items: items.iter().map(|s| (*s).to_owned()).collect(),
            model: "script".into(),
        })
    }

    fn service(script: Vec<Result<GeneratedText>>) -> (ContentService, Arc<ScriptedTextGenerator>) {
        let text = Arc::new(ScriptedTextGenerator::new(script));
        let image = Arc::new(ScriptedImageGenerator::new([]));
        (ContentService::new(text.clone(), image), text)
    }

    #[tokio::test]
    async fn a_fitting_caption_is_returned_unchanged() {
        let (ai, _) = service(vec![text(&["Short caption"])]);
        let c = ai
            .caption("image", "rust", Platform::Twitter, "casual")
            .await
            .unwrap();
        assert_eq!(c.value, "Short caption");
        assert_eq!(c.adjusted, None);
        assert_eq!(c.model, "script");
    }

    #[tokio::test]
    async fn a_too_long_caption_is_regenerated_once() {
        let long = "word ".repeat(100);
        let (ai, gen_) = service(vec![text(&[&long]), text(&["Better"])]);
        let c = ai
            .caption("text", "rust", Platform::Twitter, "casual")
            .await
            .unwrap();
        assert_eq!(c.value, "Better");
        let adj = c.adjusted.unwrap();
        assert_eq!(adj.kind, AdjustmentKind::Regenerated);
        assert_eq!(adj.original_length, 499);
        assert_eq!(adj.final_length, 6);
        assert_eq!(gen_.tasks().len(), 2);
    }

    #[tokio::test]
    async fn a_caption_too_long_twice_is_shortened() {
        let long = "word ".repeat(100);
        let (ai, gen_) = service(vec![text(&[&long]), text(&[&long])]);
        let c = ai
            .caption("text", "rust", Platform::Twitter, "casual")
            .await
            .unwrap();
        assert!(c.value.ends_with('…'));
        assert!(text_violations(Platform::Twitter, &c.value).is_empty());
        let adj = c.adjusted.unwrap();
        assert_eq!(adj.kind, AdjustmentKind::Shortened);
        assert!(adj.final_length <= 280);
        assert_eq!(gen_.remaining(), 0);
    }

    #[tokio::test]
    async fn a_failed_retry_shortens_the_first_text() {
        let long = "word ".repeat(100);
        let (ai, _) = service(vec![text(&[&long]), Err(Error::transient("x", "down"))]);
        let c = ai.rewrite("some text", Platform::Twitter).await.unwrap();
        assert_eq!(c.adjusted.unwrap().kind, AdjustmentKind::Shortened);
    }

    #[tokio::test]
    async fn provider_hashtags_are_normalized_and_capped() {
        let many: Vec<String> = (0..8).map(|i| format!("#tag{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let (ai, _) = service(vec![
            text(&["rust", "#Rust", "web dev!", "2024"]),
            text(&many),
            text(&many),
        ]);
        let tags = ai.hashtags("rust web", Platform::Twitter).await.unwrap();
        assert_eq!(tags.value, ["#rust", "#web", "#dev"]);
        assert_eq!(tags.adjusted, None);
        let tags = ai.hashtags("many tags", Platform::Twitter).await.unwrap();
        assert_eq!(tags.value.len(), 3);
        assert_eq!(
            tags.adjusted,
            Some(Adjustment {
                kind: AdjustmentKind::Shortened,
                original_length: 8,
                final_length: 3
            })
        );
    }

    #[tokio::test]
    async fn over_long_ideas_are_shortened_item_by_item() {
        let long = "idea ".repeat(80);
        let (ai, _) = service(vec![text(&["ok", &long]), text(&[&long, "fine"])]);
        let ideas = ai.ideas("rust", "", Platform::Twitter).await.unwrap();
        assert_eq!(ideas.value.len(), 2);
        assert!(ideas.value[0].ends_with('…'));
        assert_eq!(ideas.value[1], "fine");
        assert_eq!(ideas.adjusted.unwrap().kind, AdjustmentKind::Shortened);
    }

    #[tokio::test]
    async fn bad_input_is_rejected_before_the_provider_is_called() {
        let (ai, gen_) = service(vec![]);
        let e = ai
            .caption("image", "  ", Platform::Twitter, "casual")
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid topic: must not be empty");
        let e = ai
            .caption("podcast", "rust", Platform::Twitter, "casual")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("image, video, link, text"), "{e}");
        let e = ai.social_graphic("hi", "bold", 800, 600).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("1080×1080, 1200×675, 1080×1920, 1080×1350"),
            "{e}"
        );
        let e = ai.generate_image("a cat", "", 100, 512).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid width: 100 px is out of range; use 256 to 4096 px"
        );
        let e = ai
            .edit_image(Bytes::from_static(b"hello"), "image/png", "x")
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid image: not a PNG/JPEG/WebP/GIF image"
        );
        assert!(gen_.tasks().is_empty());
    }

    #[tokio::test]
    async fn an_edit_image_must_match_its_content_type() {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbImage::new(2, 2)
            .write_to(&mut png, ImageFormat::Png)
            .unwrap();
        let (ai, _) = service(vec![]);
        let e = ai
            .edit_image(Bytes::from(png.into_inner()), "image/jpeg", "brighter")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("which is image/png"), "{e}");
    }
}
