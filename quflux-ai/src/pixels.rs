//! Fitting model images to exact pixel sizes: the nearest supported shape to ask for, then a
//! cover resize and centre crop, re-encoded as PNG.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};
use quflux_core::{Error, Result};

/// The candidate whose aspect ratio is closest to `width`×`height` (compared on a log scale, so
/// 2:1 and 1:2 are equally far from 1:1); ties go to the earlier candidate.
pub(crate) fn nearest<T: Copy>(width: u32, height: u32, candidates: &[(u32, u32, T)]) -> Option<T> {
    let target = ratio(width, height);
    candidates
        .iter()
        .map(|&(w, h, value)| ((ratio(w, h) - target).abs(), value))
        .fold(
            None,
            |best: Option<(f64, T)>, (distance, value)| match best {
                Some((d, _)) if d <= distance => best,
                _ => Some((distance, value)),
            },
        )
        .map(|(_, value)| value)
}

fn ratio(width: u32, height: u32) -> f64 {
    (f64::from(width.max(1)) / f64::from(height.max(1))).ln()
}

/// A decoded image's format and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    /// The format.
    pub(crate) format: ImageFormat,
    /// Width in pixels.
    pub(crate) width: u32,
    /// Height in pixels.
    pub(crate) height: u32,
}

/// The format and size of `bytes`, read from the header.
pub(crate) fn probe(bytes: &[u8]) -> Option<Probe> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let format = reader.format()?;
    let (width, height) = reader.into_dimensions().ok()?;
    Some(Probe {
        format,
        width,
        height,
    })
}

/// `bytes` (any format the `image` crate reads) as a PNG of exactly `width`×`height`: scaled to
/// cover the size, then cropped around the centre. A PNG of the right size is returned as is.
///
/// # Errors
/// [`Error::Other`] naming `service` when the bytes do not decode.
pub(crate) fn fit_png(
    service: &'static str,
    bytes: &[u8],
    width: u32,
    height: u32,
) -> Result<Vec<u8>> {
    if probe(bytes)
        .is_some_and(|p| p.format == ImageFormat::Png && (p.width, p.height) == (width, height))
    {
        return Ok(bytes.to_vec());
    }
    let image =
        image::load_from_memory(bytes).map_err(|e| Error::other(service, DecodeError(e)))?;
    let fitted = if (image.width(), image.height()) == (width, height) {
        image
    } else {
        image.resize_to_fill(width, height, FilterType::CatmullRom)
    };
    encode_png(service, &fitted)
}

/// `image` encoded as PNG.
pub(crate) fn encode_png(service: &'static str, image: &DynamicImage) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| Error::other(service, e))?;
    Ok(out.into_inner())
}

/// `fit_png` off the async workers.
pub(crate) async fn fit_png_blocking(
    service: &'static str,
    bytes: Vec<u8>,
    width: u32,
    height: u32,
) -> Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || fit_png(service, &bytes, width, height))
        .await
        .map_err(|e| Error::other(service, e))?
}

/// The provider's image did not decode.
#[derive(Debug)]
struct DecodeError(image::ImageError);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the returned image does not decode: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, _| {
            image::Rgb([(x % 256) as u8, 0, 0])
        }));
        encode_png("t", &image).unwrap()
    }

    #[test]
    fn nearest_ratio_is_found_on_a_log_scale() {
        let ratios = [
            (1, 1, "1:1"),
            (16, 9, "16:9"),
            (9, 16, "9:16"),
            (4, 5, "4:5"),
        ];
        assert_eq!(nearest(1080, 1080, &ratios), Some("1:1"));
        assert_eq!(nearest(1200, 675, &ratios), Some("16:9"));
        assert_eq!(nearest(1080, 1920, &ratios), Some("9:16"));
        assert_eq!(nearest(1080, 1350, &ratios), Some("4:5"));
        assert_eq!(nearest::<&str>(1, 1, &[]), None);
    }

    #[test]
    fn images_are_cover_cropped_to_exact_pixels() {
        let out = fit_png("t", &png(64, 36), 30, 30).unwrap();
        let p = probe(&out).unwrap();
        assert_eq!((p.format, p.width, p.height), (ImageFormat::Png, 30, 30));
        let same = png(20, 10);
        assert_eq!(fit_png("t", &same, 20, 10).unwrap(), same);
        let e = fit_png("t", b"nope", 10, 10).unwrap_err();
        assert!(e.detailed_message().contains("does not decode"), "{e}");
    }
}
