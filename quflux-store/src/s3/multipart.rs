//! Multipart uploads: CreateMultipartUpload, UploadPart (a few at a time),
//! CompleteMultipartUpload, and AbortMultipartUpload when anything fails.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use quflux_core::{Error, Result};

use super::config::MIN_PART_SIZE;
use super::error::{Call, S3Error, classify};
use super::{BACKEND, S3BlobStore};

/// S3 accepts at most this many parts per upload.
const MAX_PARTS: u64 = 10_000;

/// Parts in flight at once.
const CONCURRENT_PARTS: usize = 4;

/// The size of each part for a `len`-byte body: `max(MIN_PART_SIZE, threshold)`, grown so that
/// no upload needs more than [`MAX_PARTS`] parts.
pub(super) fn part_size(threshold: u64, len: u64) -> u64 {
    threshold.max(MIN_PART_SIZE).max(len.div_ceil(MAX_PARTS))
}

/// The `(part number, bytes)` pairs of `body`, numbered from 1.
fn parts(body: &Bytes, part_size: u64) -> Vec<(i32, Bytes)> {
    let size = usize::try_from(part_size).unwrap_or(usize::MAX);
    (0..body.len())
        .step_by(size.max(1))
        .zip(1..)
        .map(|(start, number)| (number, body.slice(start..body.len().min(start + size))))
        .collect()
}

impl S3BlobStore {
    /// Uploads `body` in parts to `object_key` (the key of the blob `key`); on failure the upload
    /// is aborted, so no parts are left to bill, and the first error is returned.
    pub(super) async fn put_multipart(
        &self,
        key: &str,
        object_key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<()> {
        let call = |operation| Call {
            operation,
            bucket: &self.bucket,
            key: Some(key),
        };
        let mut create = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(object_key);
        if !content_type.is_empty() {
            create = create.content_type(content_type);
        }
        let created = create
            .send()
            .await
            .map_err(|e| classify(e, call("CreateMultipartUpload")))?;
        let Some(upload_id) = created.upload_id() else {
            return Err(Error::other(
                BACKEND,
                S3Error::Protocol {
                    operation: "CreateMultipartUpload",
                    what: "the answer has no upload id",
                },
            ));
        };

        let uploaded = self.upload_parts(key, object_key, upload_id, &body).await;
        let completed = match uploaded {
            Ok(parts) => self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(object_key)
                .upload_id(upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(e, call("CompleteMultipartUpload"))),
            Err(e) => Err(e),
        };
        if let Err(err) = completed {
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(object_key)
                .upload_id(upload_id)
                .send()
                .await;
            if let Err(abort) = aborted {
                let abort = classify(abort, call("AbortMultipartUpload"));
                tracing::warn!(
                    bucket = %self.bucket,
                    key = %object_key,
                    error = %abort.detailed_message(),
                    "s3: could not abort a failed multipart upload; its parts stay until a \
                     lifecycle rule removes them"
                );
            }
            return Err(err);
        }
        Ok(())
    }

    /// Sends every part, [`CONCURRENT_PARTS`] at a time, and returns them in order.
    async fn upload_parts(
        &self,
        key: &str,
        object_key: &str,
        upload_id: &str,
        body: &Bytes,
    ) -> Result<Vec<CompletedPart>> {
        let size = part_size(self.multipart_threshold, body.len() as u64);
        futures::stream::iter(parts(body, size))
            .map(|(number, chunk)| async move {
                let sent = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(object_key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(ByteStream::from(chunk))
                    .send()
                    .await
                    .map_err(|e| {
                        classify(
                            e,
                            Call {
                                operation: "UploadPart",
                                bucket: &self.bucket,
                                key: Some(key),
                            },
                        )
                    })?;
                let e_tag = sent.e_tag().ok_or_else(|| {
                    Error::other(
                        BACKEND,
                        S3Error::Protocol {
                            operation: "UploadPart",
                            what: "the answer has no ETag",
                        },
                    )
                })?;
                Ok::<_, Error>(
                    CompletedPart::builder()
                        .part_number(number)
                        .e_tag(e_tag)
                        .build(),
                )
            })
            .buffered(CONCURRENT_PARTS)
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn parts_are_at_least_five_mib_and_at_most_ten_thousand() {
        assert_eq!(part_size(0, 12 * MIB), 5 * MIB);
        assert_eq!(part_size(5 * MIB, 12 * MIB), 5 * MIB);
        assert_eq!(part_size(8 * MIB, 100 * MIB), 8 * MIB);
        let huge = 100_000 * MIB;
        assert!(huge.div_ceil(part_size(8 * MIB, huge)) <= MAX_PARTS);
    }

    #[test]
    fn parts_cover_the_body_in_order() {
        let body = Bytes::from((0..=255u8).cycle().take(23).collect::<Vec<_>>());
        let split = parts(&body, 10);
        let numbers: Vec<i32> = split.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![1, 2, 3]);
        assert_eq!(
            split.iter().map(|(_, b)| b.len()).collect::<Vec<_>>(),
            vec![10, 10, 3]
        );
        let joined: Vec<u8> = split.iter().flat_map(|(_, b)| b.to_vec()).collect();
        assert_eq!(joined, body.to_vec());
    }
}
