//! Storing generated images as media files, marked `ai_generated`.

use std::io::Cursor;

use image::ImageFormat;
use quflux_core::{
    BlobStore, Clock, Error, GeneratedImage, MediaFile, MediaId, MediaStore, Result, SystemClock,
    UserId,
};

/// The longest file name kept from a hint, in characters (without the extension).
const MAX_FILENAME_CHARS: usize = 100;

/// Stores a generated image: the bytes through `blobs` under `ai/{user_id}/{media_id}.{ext}`,
/// and a [`MediaFile`] with `ai_generated = true` in `media`.
///
/// The content type and pixel size come from the bytes themselves (the image header), not
/// from `image`'s fields. The file name is `filename_hint`'s last path segment without control
/// characters and with the right extension (`ai-image.png` when the hint is blank).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # #[cfg(feature = "offline")] {
/// use quflux_ai::{ContentService, store_generated_image};
/// use quflux_core::memory::{InMemoryBlobStore, InMemoryStore};
/// use quflux_core::{BlobStore, UserId};
///
/// let (blobs, store) = (InMemoryBlobStore::new(), InMemoryStore::new());
/// let png = ContentService::offline().social_graphic("Launch day", "bold", 1080, 1080).await?;
/// let user = UserId::new();
/// let file = store_generated_image(&blobs, &store, user, &png, "launch").await?;
/// assert!(file.ai_generated);
/// assert_eq!(file.filename, "launch.png");
/// assert_eq!((file.width, file.height), (Some(1080), Some(1080)));
/// assert_eq!(file.storage_key, format!("ai/{user}/{}.png", file.id));
/// assert!(blobs.exists(&file.storage_key).await?);
/// # }
/// # Ok::<(), quflux_core::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// - [`Error::InvalidInput`] (field `image`): the bytes are not a PNG, JPEG, WebP or GIF image.
/// - Any error of `blobs.put` or `media.insert_media`; when the metadata cannot be inserted the
///   stored bytes are deleted again (best effort).
pub async fn store_generated_image(
    blobs: &dyn BlobStore,
    media: &dyn MediaStore,
    user_id: UserId,
    image: &GeneratedImage,
    filename_hint: &str,
) -> Result<MediaFile> {
    let (format, width, height) = probe(&image.bytes)
        .ok_or_else(|| Error::invalid_input("image", "not a PNG/JPEG/WebP/GIF image"))?;
    let ext = match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpg",
        ImageFormat::WebP => "webp",
        ImageFormat::Gif => "gif",
        _ => {
            return Err(Error::invalid_input(
                "image",
                "not a PNG/JPEG/WebP/GIF image",
            ));
        }
    };
    let content_type = format.to_mime_type();
    let id = MediaId::new();
    let storage_key = format!("ai/{user_id}/{id}.{ext}");
    blobs
        .put(&storage_key, image.bytes.clone(), content_type)
        .await?;
    let file = MediaFile {
        id,
        user_id,
        filename: filename(filename_hint, ext),
        content_type: content_type.to_owned(),
        size_bytes: image.bytes.len() as u64,
        storage_key,
        width: Some(width),
        height: Some(height),
        duration_secs: None,
        ai_generated: true,
        created_at: SystemClock.now(),
    };
    if let Err(e) = media.insert_media(&file).await {
        // Do not leave unreferenced bytes behind; the insert error is what matters.
        let _ = blobs.delete(&file.storage_key).await;
        return Err(e);
    }
    Ok(file)
}

/// The format and size from the image header.
fn probe(bytes: &[u8]) -> Option<(ImageFormat, u32, u32)> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let format = reader.format()?;
    let (width, height) = reader.into_dimensions().ok()?;
    Some((format, width, height))
}

/// `hint`'s last path segment, cleaned, with `.{ext}`.
fn filename(hint: &str, ext: &str) -> String {
    let last = hint.rsplit(['/', '\\']).next().unwrap_or("");
    let mut stem: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILENAME_CHARS + 5)
        .collect();
    if let Some((base, old_ext)) = stem.rsplit_once('.')
        && matches!(
            old_ext.to_ascii_lowercase().as_str(),
            "png" | "jpg" | "jpeg" | "webp" | "gif"
        )
    {
        stem = base.to_owned();
    }
    let stem: String = stem
        .trim()
        .trim_matches('.')
        .chars()
        .take(MAX_FILENAME_CHARS)
        .collect();
    let stem = stem.trim();
    if stem.is_empty() {
        format!("ai-image.{ext}")
    } else {
        format!("{stem}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use quflux_core::memory::{InMemoryBlobStore, InMemoryStore};
    use quflux_core::{ErrorKind, MediaKind};

    use super::*;

    fn image(format: ImageFormat, width: u32, height: u32) -> GeneratedImage {
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::new(width, height))
            .write_to(&mut out, format)
            .unwrap();
        GeneratedImage {
            bytes: Bytes::from(out.into_inner()),
            content_type: "image/png".into(),
            width,
            height,
            model: "test".into(),
        }
    }

    #[tokio::test]
    async fn a_generated_image_is_stored_as_ai_generated_media() {
        let (blobs, store) = (InMemoryBlobStore::new(), InMemoryStore::new());
        let user = UserId::new();
        let png = image(ImageFormat::Png, 40, 30);
        let file = store_generated_image(&blobs, &store, user, &png, "My Poster.png")
            .await
            .unwrap();
        assert!(file.ai_generated);
        assert_eq!(file.filename, "My Poster.png");
        assert_eq!(file.content_type, "image/png");
        assert_eq!(file.kind(), MediaKind::Image);
        assert_eq!(file.size_bytes, png.bytes.len() as u64);
        assert_eq!((file.width, file.height), (Some(40), Some(30)));
        assert_eq!(file.storage_key, format!("ai/{user}/{}.png", file.id));
        assert_eq!(blobs.get(&file.storage_key).await.unwrap(), png.bytes);
        assert_eq!(
            blobs.content_type(&file.storage_key).as_deref(),
            Some("image/png")
        );
        assert_eq!(store.get_media(file.id).await.unwrap(), file);
    }

    #[tokio::test]
    async fn the_bytes_decide_the_type_and_the_extension() {
        let (blobs, store) = (InMemoryBlobStore::new(), InMemoryStore::new());
        let jpeg = image(ImageFormat::Jpeg, 16, 8); // declared image/png
        let file = store_generated_image(&blobs, &store, UserId::new(), &jpeg, "../x/photo.png")
            .await
            .unwrap();
        assert_eq!(file.content_type, "image/jpeg");
        assert_eq!(file.filename, "photo.jpg");
        assert!(file.storage_key.ends_with(".jpg"));
        let mut junk = jpeg.clone();
        junk.bytes = Bytes::from_static(b"not an image");
        let e = store_generated_image(&blobs, &store, UserId::new(), &junk, "x")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(blobs.keys().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_insert_removes_the_bytes() {
        #[derive(Debug)]
        struct Refusing;
        #[async_trait::async_trait]
        impl MediaStore for Refusing {
            async fn insert_media(&self, _: &MediaFile) -> Result<()> {
                Err(Error::transient("db", "down"))
            }
            async fn get_media(&self, id: MediaId) -> Result<MediaFile> {
                Err(Error::not_found(id.to_string()))
            }
            async fn list_media(&self, _: UserId) -> Result<Vec<MediaFile>> {
                Ok(Vec::new())
            }
            async fn delete_media(&self, id: MediaId) -> Result<()> {
                Err(Error::not_found(id.to_string()))
            }
        }
        let blobs = InMemoryBlobStore::new();
        let e = store_generated_image(
            &blobs,
            &Refusing,
            UserId::new(),
            &image(ImageFormat::Png, 4, 4),
            "",
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(blobs.keys().is_empty());
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(filename("", "png"), "ai-image.png");
        assert_eq!(filename("a/b\\c.webp", "png"), "c.png");
        assert_eq!(filename("été\u{7}.jpeg", "jpg"), "été.jpg");
        assert_eq!(filename("report.v2", "png"), "report.v2.png");
        assert_eq!(filename("..", "png"), "ai-image.png");
        assert_eq!(filename(&"x".repeat(300), "gif").len(), 104);
    }
}
