//! Input validation and normalisation for [`ContentService`](super::ContentService).

use image::ImageFormat;
use quflux_core::{Error, Platform, Result};

/// The content types a caption can be written for.
pub const CONTENT_TYPES: [&str; 4] = ["image", "video", "link", "text"];

/// The social graphic sizes (width × height) every provider renders: square post, landscape
/// (X / LinkedIn link card), story / reel (9:16) and portrait post (4:5).
pub const SOCIAL_GRAPHIC_SIZES: [(u32, u32); 4] =
    [(1080, 1080), (1200, 675), (1080, 1920), (1080, 1350)];

/// The smallest width or height accepted for [`ContentService::generate_image`](super::ContentService::generate_image).
pub const MIN_IMAGE_SIDE: u32 = 256;

/// The largest width or height accepted for [`ContentService::generate_image`](super::ContentService::generate_image).
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// Parses a platform name (`"twitter"`/`"x"`, `"linkedin"`, …) for callers holding strings.
///
/// # Errors
/// [`Error::InvalidInput`] (field `platform`) naming the valid platforms.
///
/// ```
/// use quflux_core::Platform;
///
/// assert_eq!(quflux_ai::parse_platform("X").unwrap(), Platform::Twitter);
/// assert!(quflux_ai::parse_platform("myspace").is_err());
/// ```
pub fn parse_platform(name: &str) -> Result<Platform> {
    name.parse()
}

/// `text` trimmed, or `InvalidInput` naming `field` when it is blank.
pub(crate) fn non_empty<'t>(field: &str, text: &'t str) -> Result<&'t str> {
    let text = text.trim();
    if text.is_empty() {
        Err(Error::invalid_input(field, "must not be empty"))
    } else {
        Ok(text)
    }
}

/// `#Tag` forms of provider hashtags: letters and digits only, no all-digit tags, deduplicated
/// case-insensitively, in order.
pub(crate) fn normalize_hashtags(items: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for item in items {
        // A provider may return several tags in one item ("#a #b").
        for raw in item.split(|c: char| c.is_whitespace() || c == ',') {
            let body: String = raw.chars().filter(|c| c.is_alphanumeric()).collect();
            if body.is_empty() || body.chars().all(|c| c.is_numeric()) {
                continue;
            }
            if seen.insert(body.to_lowercase()) {
                out.push(format!("#{body}"));
            }
        }
    }
    out
}

/// `InvalidInput` unless `width`×`height` is one of [`SOCIAL_GRAPHIC_SIZES`].
pub(crate) fn check_graphic_size(width: u32, height: u32) -> Result<()> {
    if SOCIAL_GRAPHIC_SIZES.contains(&(width, height)) {
        return Ok(());
    }
    let sizes: Vec<String> = SOCIAL_GRAPHIC_SIZES
        .iter()
        .map(|(w, h)| format!("{w}×{h}"))
        .collect();
    Err(Error::invalid_input(
        "size",
        format!(
            "{width}×{height} is not supported; use one of {}",
            sizes.join(", ")
        ),
    ))
}

/// The format of `bytes` if it fully decodes as PNG, JPEG, WebP or GIF.
pub(crate) fn decode_check(bytes: &[u8]) -> Result<ImageFormat> {
    let not_an_image = || Error::invalid_input("image", "not a PNG/JPEG/WebP/GIF image");
    let format = image::guess_format(bytes).map_err(|_| not_an_image())?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(not_an_image());
    }
    image::load_from_memory_with_format(bytes, format).map_err(|_| not_an_image())?;
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_are_normalized() {
        let items = [
            "rust".to_owned(),
            "#Rust".into(),
            "web dev!".into(),
            "2024".into(),
            "#a,#b".into(),
        ];
        assert_eq!(
            normalize_hashtags(&items),
            ["#rust", "#web", "#dev", "#a", "#b"]
        );
    }

    #[test]
    fn truncated_images_do_not_pass() {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbImage::new(4, 4)
            .write_to(&mut png, ImageFormat::Png)
            .unwrap();
        let png = png.into_inner();
        assert_eq!(decode_check(&png).unwrap(), ImageFormat::Png);
        let err = decode_check(&png[..png.len() / 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid image: not a PNG/JPEG/WebP/GIF image"
        );
    }
}
