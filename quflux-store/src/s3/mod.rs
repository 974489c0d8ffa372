//! [`BlobStore`] on Amazon S3 or any S3-compatible server (feature `s3`).
//!
//! Uses the AWS SDK for Rust (`aws-sdk-s3`, SigV4, rustls with aws-lc). A blob with key
//! `u1/cat.png` is the object `<prefix>u1/cat.png` in the bucket. Keys are checked with
//! [`validate_blob_key`] before any request.
//!
//! - **Addressing**: virtual-host URLs (`https://<bucket>.<endpoint>/<key>`) by default, path-style
//!   URLs (`<endpoint>/<bucket>/<key>`) with `force_path_style`. The store's HTTP client resolves
//!   `localhost` and every `*.localhost` name to loopback itself (RFC 6761, as curl does; glibc
//!   does not), so virtual-host addressing also reaches a local server at
//!   `http://localhost:9000`. Other names go to the system resolver.
//! - **Uploads**: bodies up to the multipart threshold (default 8 MiB) are one `PutObject`;
//!   larger ones are a multipart upload with parts of `max(5 MiB, threshold)`, four in flight,
//!   aborted on any failure.
//! - **Presigned URLs**: [`BlobStore::presigned_get`] returns a SigV4 query-signed `GET` URL
//!   valid for up to 7 days, built locally without a request.
//! - **Credentials**: static keys from the configuration, else the SDK's default chain
//!   (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, web identity, ECS, IMDS).
//! - **Checksums** are only sent where S3 requires them, for S3-compatible servers that refuse
//!   `aws-chunked` trailers. **Retries** are off in the SDK: failures are classified and the
//!   caller retries [`Error::is_retryable`] ones, as with every adapter.
//! - **Errors**: a missing object is [`Error::NotFound`]; refused credentials or signatures
//!   (`AccessDenied`, `SignatureDoesNotMatch`, `InvalidAccessKeyId`, …) and a missing bucket
//!   are [`Error::Config`] naming what to check; connection failures, timeouts, throttling
//!   (`SlowDown`) and 5xx are [`Error::Transient`].
//!
//! | variable | meaning |
//! |---|---|
//! | `QUFLUX_S3_BUCKET` | bucket (required) |
//! | `QUFLUX_S3_PREFIX` | key prefix, e.g. `media/` |
//! | `QUFLUX_S3_ENDPOINT` (else `AWS_ENDPOINT_URL`) | custom endpoint, e.g. `http://localhost:9000` |
//! | `QUFLUX_S3_REGION` (else `AWS_REGION`) | region, default `us-east-1` |
//! | `QUFLUX_S3_ACCESS_KEY_ID`, `QUFLUX_S3_SECRET_ACCESS_KEY` | static credentials |
//! | `QUFLUX_S3_FORCE_PATH_STYLE` | `true` for path-style URLs (default `false`) |
//! | `QUFLUX_S3_MULTIPART_THRESHOLD` | bytes above which uploads are multipart (default 8 MiB) |
//!
//! API reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/Welcome.html>; presigned
//! URLs: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>.
//!
//! ```no_run
//! # async fn demo() -> quflux_core::Result<()> {
//! use std::time::Duration;
//!
//! use quflux_core::BlobStore;
//! use quflux_store::s3::S3BlobStore;
//!
//! let blobs = S3BlobStore::builder()
//!     .with_bucket("quflux-media")
//!     .with_prefix("media/")
//!     .with_region("eu-west-3")
//!     .build()
//!     .await?;
//! blobs.put("u1/cat.png", bytes::Bytes::from_static(b"\x89PNG"), "image/png").await?;
//! let url = blobs.presigned_get("u1/cat.png", Duration::from_secs(600)).await?;
//! # let _ = url; Ok(()) }
//! ```

mod config;
mod error;
mod multipart;
mod resolver;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use bytes::Bytes;
use quflux_core::{BlobStore, Error, ErrorKind, Result, validate_blob_key};

pub use config::{
    ACCESS_KEY_ID_ENV, BUCKET_ENV, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_REGION, ENDPOINT_ENV,
    FORCE_PATH_STYLE_ENV, MAX_SINGLE_PUT, MIN_PART_SIZE, MULTIPART_THRESHOLD_ENV, PREFIX_ENV,
    REGION_ENV, S3BlobStoreBuilder, S3Config, SECRET_ACCESS_KEY_ENV,
};
use error::{Call, S3Error, classify};

/// Service name used in errors.
pub const BACKEND: &str = "s3";

/// Stores blobs as objects in an S3 bucket, under a key prefix.
#[derive(Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    region: String,
    endpoint: Option<String>,
    force_path_style: bool,
    multipart_threshold: u64,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its configuration is large, and credentials are best kept out.
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("force_path_style", &self.force_path_style)
            .field("multipart_threshold", &self.multipart_threshold)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// A builder; see [`S3BlobStoreBuilder`].
    pub fn builder() -> S3BlobStoreBuilder {
        S3BlobStoreBuilder::new()
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix: empty, or ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key of the blob `key`, after checking the key.
    fn object_key(&self, key: &str) -> Result<String> {
        validate_blob_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn call<'a>(&'a self, operation: &'static str, key: Option<&'a str>) -> Call<'a> {
        Call {
            operation,
            bucket: &self.bucket,
            key,
        }
    }

    /// Creates the bucket if it does not exist (in the configured region), for first starts
    /// and tests. A bucket that exists and is ours is fine.
    ///
    /// # Errors
    /// [`Error::Config`] if the credentials are refused or the name belongs to someone else;
    /// [`Error::Transient`] when the server cannot be reached.
    pub async fn ensure_bucket(&self) -> Result<()> {
        let head = self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| classify(e, self.call("HeadBucket", None)));
        match head {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the default location and must not be named.
        if self.region != DEFAULT_REGION {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_bucket_already_exists()) =>
            {
                Err(Error::Config(format!(
                    "s3: bucket `{}` exists and belongs to another account",
                    self.bucket
                )))
            }
            Err(e) => Err(classify(e, self.call("CreateBucket", None))),
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<()> {
        let object_key = self.object_key(key)?;
        if bytes.len() as u64 > self.multipart_threshold {
            return self
                .put_multipart(key, &object_key, bytes, content_type)
                .await;
        }
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .body(ByteStream::from(bytes));
        if !content_type.is_empty() {
            put = put.content_type(content_type);
        }
        put.send()
            .await
            .map(drop)
            .map_err(|e| classify(e, self.call("PutObject", Some(key))))
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let object_key = self.object_key(key)?;
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| classify(e, self.call("GetObject", Some(key))))?;
        let body = object.body.collect().await.map_err(|e| {
            Error::transient(
                BACKEND,
                S3Error::Transport {
                    operation: "GetObject",
                    source: e.into(),
                },
            )
        })?;
        Ok(body.into_bytes())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let object_key = self.object_key(key)?;
        let deleted = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| classify(e, self.call("DeleteObject", Some(key))));
        match deleted {
            Ok(_) => Ok(()),
            // S3 answers 204 for a missing key; some compatible servers say NoSuchKey.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let object_key = self.object_key(key)?;
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| classify(e, self.call("HeadObject", Some(key))));
        match head {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>> {
        let object_key = self.object_key(key)?;
        let presigning = PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::invalid_input("expires_in", e.to_string()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .presigned(presigning)
            .await
            .map_err(|e| classify(e, self.call("GetObject (presign)", Some(key))))?;
        Ok(Some(request.uri().to_owned()))
    }
}
