//! [`S3Config`] and [`S3BlobStoreBuilder`].

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedCredentialsProvider, SharedHttpClient,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use quflux_core::{Error, Result, Secret, validate_blob_key};
use serde::{Deserialize, Serialize};

use super::S3BlobStore;
use super::resolver::LoopbackLocalhost;

/// Environment variable: the bucket (required).
pub const BUCKET_ENV: &str = "QUFLUX_S3_BUCKET";
/// Environment variable: the key prefix, e.g. `media/` (optional).
pub const PREFIX_ENV: &str = "QUFLUX_S3_PREFIX";
/// Environment variable: a custom endpoint, e.g. `http://localhost:9000` (optional; falls back
/// to `AWS_ENDPOINT_URL`).
pub const ENDPOINT_ENV: &str = "QUFLUX_S3_ENDPOINT";
/// Environment variable: the region (falls back to `AWS_REGION`, then [`DEFAULT_REGION`]).
pub const REGION_ENV: &str = "QUFLUX_S3_REGION";
/// Environment variable: the access key id (optional; without it the SDK's default credential
/// chain is used: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, web identity, ECS, IMDS).
pub const ACCESS_KEY_ID_ENV: &str = "QUFLUX_S3_ACCESS_KEY_ID";
/// Environment variable: the secret access key (required with [`ACCESS_KEY_ID_ENV`]).
pub const SECRET_ACCESS_KEY_ENV: &str = "QUFLUX_S3_SECRET_ACCESS_KEY";
/// Environment variable: `true` for path-style URLs (`endpoint/bucket/key`), `false` (the
/// default) for virtual-host URLs (`bucket.endpoint/key`).
pub const FORCE_PATH_STYLE_ENV: &str = "QUFLUX_S3_FORCE_PATH_STYLE";
/// Environment variable: bodies larger than this many bytes are sent as a multipart upload
/// (default [`DEFAULT_MULTIPART_THRESHOLD`]).
pub const MULTIPART_THRESHOLD_ENV: &str = "QUFLUX_S3_MULTIPART_THRESHOLD";

/// The region used when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Bodies above this size are uploaded in parts unless configured otherwise: 8 MiB.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// The smallest part S3 accepts (except for the last one): 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest body S3 accepts in one `PutObject` (and in one part): 5 GiB.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Settings of a [`S3BlobStore`], as deserialized from the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct S3Config {
    /// The bucket (required).
    pub bucket: Option<String>,
    /// Prefix of every object key, e.g. `media/` (a missing trailing `/` is added).
    pub prefix: Option<String>,
    /// A custom endpoint (S3-compatible servers, local test servers); default AWS.
    pub endpoint: Option<String>,
    /// The region (default [`DEFAULT_REGION`]).
    pub region: Option<String>,
    /// Static credentials: the access key id. Without it, the SDK's default credential chain.
    pub access_key_id: Option<String>,
    /// Static credentials: the secret access key.
    pub secret_access_key: Option<Secret<String>>,
    /// Path-style URLs (`endpoint/bucket/key`) instead of virtual-host URLs
    /// (`bucket.endpoint/key`).
    pub force_path_style: bool,
    /// Bodies larger than this many bytes go as multipart uploads (default
    /// [`DEFAULT_MULTIPART_THRESHOLD`], at most [`MAX_SINGLE_PUT`]). Parts are
    /// `max(MIN_PART_SIZE, threshold)` bytes, larger if a body would need over 10 000 parts.
    pub multipart_threshold: Option<u64>,
}

/// Builds a [`S3BlobStore`].
///
/// ```no_run
/// # async fn demo() -> quflux_core::Result<()> {
/// use quflux_store::s3::S3BlobStoreBuilder;
///
/// let blobs = S3BlobStoreBuilder::from_env() // QUFLUX_S3_BUCKET, QUFLUX_S3_ENDPOINT, ...
///     .with_prefix("media/")
///     .build()
///     .await?;
/// # let _ = blobs; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct S3BlobStoreBuilder {
    config: S3Config,
    /// Variables that were set but could not be parsed; `build()` reports the first.
    invalid: Vec<String>,
}

impl S3BlobStoreBuilder {
    /// An empty builder; `build()` needs at least a bucket.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from the process environment; see [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A builder from variables read through `get` (blank values count as unset):
    /// [`BUCKET_ENV`], [`PREFIX_ENV`], [`ENDPOINT_ENV`] (else `AWS_ENDPOINT_URL`), [`REGION_ENV`]
    /// (else `AWS_REGION`), [`ACCESS_KEY_ID_ENV`], [`SECRET_ACCESS_KEY_ENV`],
    /// [`FORCE_PATH_STYLE_ENV`] and [`MULTIPART_THRESHOLD_ENV`]. It cannot fail: missing or
    /// malformed values are reported by [`build`](Self::build).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut builder = Self::new();
        let config = &mut builder.config;
        config.bucket = var(BUCKET_ENV);
        config.prefix = var(PREFIX_ENV);
        config.endpoint = var(ENDPOINT_ENV).or_else(|| var("AWS_ENDPOINT_URL"));
        config.region = var(REGION_ENV).or_else(|| var("AWS_REGION"));
        config.access_key_id = var(ACCESS_KEY_ID_ENV);
        config.secret_access_key = var(SECRET_ACCESS_KEY_ENV).map(Secret::new);
        if let Some(value) = var(FORCE_PATH_STYLE_ENV) {
            match parse_bool(&value) {
                Some(flag) => config.force_path_style = flag,
                None => builder
                    .invalid
                    .push(format!("{FORCE_PATH_STYLE_ENV} must be true or false")),
            }
        }
        if let Some(value) = var(MULTIPART_THRESHOLD_ENV) {
            match value.parse::<u64>() {
                Ok(bytes) => builder.config.multipart_threshold = Some(bytes),
                Err(_) => builder.invalid.push(format!(
                    "{MULTIPART_THRESHOLD_ENV} must be a number of bytes"
                )),
            }
        }
        builder
    }

    /// A builder with the given settings.
    pub fn from_config(config: S3Config) -> Self {
        Self {
            config,
            invalid: Vec::new(),
        }
    }

    /// Sets the bucket.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.config.bucket = Some(bucket.into());
        self
    }

    /// Sets the key prefix (e.g. `media/`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = Some(prefix.into());
        self
    }

    /// Sets a custom endpoint, e.g. `http://localhost:9000`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.config.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.config.region = Some(region.into());
        self
    }

    /// Sets static credentials instead of the SDK's default credential chain.
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: Secret<String>,
    ) -> Self {
        self.config.access_key_id = Some(access_key_id.into());
        self.config.secret_access_key = Some(secret_access_key);
        self
    }

    /// Path-style URLs (`true`) or virtual-host URLs (`false`, the default).
    pub fn with_force_path_style(mut self, force_path_style: bool) -> Self {
        self.config.force_path_style = force_path_style;
        self
    }

    /// Sets the size above which bodies are sent as multipart uploads.
    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.config.multipart_threshold = Some(bytes);
        self
    }

    /// Checks the settings and creates the client. No request is sent: a wrong key or a missing
    /// bucket shows on the first call (or [`S3BlobStore::ensure_bucket`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting: no bucket, an invalid bucket name or prefix, an
    /// endpoint that is not an http(s) URL, only one half of the static credentials, a
    /// multipart threshold above [`MAX_SINGLE_PUT`], or a malformed variable.
    pub async fn build(self) -> Result<S3BlobStore> {
        if let Some(invalid) = self.invalid.first() {
            return Err(Error::Config(format!("s3: {invalid}")));
        }
        let config = self.config;
        let bucket = config
            .bucket
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::Config(format!("s3: {BUCKET_ENV} is not set")))?;
        check_bucket(&bucket)?;
        let prefix = normalize_prefix(config.prefix.as_deref().unwrap_or(""))?;
        let endpoint = match config.endpoint.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(endpoint) => Some(check_endpoint(endpoint)?),
        };
        let region = config
            .region
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let multipart_threshold = config
            .multipart_threshold
            .unwrap_or(DEFAULT_MULTIPART_THRESHOLD);
        if multipart_threshold > MAX_SINGLE_PUT {
            return Err(Error::Config(format!(
                "s3: {MULTIPART_THRESHOLD_ENV} must be at most {MAX_SINGLE_PUT} bytes (5 GiB, \
                 the largest single PutObject)"
            )));
        }

        let http = http_client();
        let region = Region::new(region);
        let access_key_id = config
            .access_key_id
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty());
        let secret_access_key = config
            .secret_access_key
            .map(|secret| Secret::new(secret.expose().trim().to_owned()))
            .filter(|secret| !secret.expose().is_empty());
        let credentials = match (access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => SharedCredentialsProvider::new(Credentials::new(
                id,
                secret.into_inner(),
                None,
                None,
                "quflux",
            )),
            (Some(_), None) => {
                return Err(Error::Config(format!(
                    "s3: {SECRET_ACCESS_KEY_ENV} is not set ({ACCESS_KEY_ID_ENV} is)"
                )));
            }
            (None, Some(_)) => {
                return Err(Error::Config(format!(
                    "s3: {ACCESS_KEY_ID_ENV} is not set ({SECRET_ACCESS_KEY_ENV} is)"
                )));
            }
            (None, None) => {
                let chain = DefaultCredentialsChain::builder()
                    .configure(
                        ProviderConfig::default()
                            .with_http_client(http.clone())
                            .with_region(Some(region.clone())),
                    )
                    .build()
                    .await;
                SharedCredentialsProvider::new(chain)
            }
        };

        let mut sdk = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(credentials)
            .http_client(http)
            .force_path_style(config.force_path_style)
            // Retries belong to the caller (`Error::is_retryable`), as for every adapter.
            .retry_config(RetryConfig::disabled())
            // Checksums only where S3 requires them: many S3-compatible servers refuse the
            // default CRC trailers of `aws-chunked` bodies.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &endpoint {
            sdk = sdk.endpoint_url(endpoint);
        }
        Ok(S3BlobStore {
            client: aws_sdk_s3::Client::from_conf(sdk.build()),
            bucket,
            prefix,
            region: region.to_string(),
            endpoint,
            force_path_style: config.force_path_style,
            multipart_threshold,
        })
    }
}

/// The SDK's rustls (aws-lc) client with the [`LoopbackLocalhost`] resolver.
fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .build_with_resolver(LoopbackLocalhost)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// S3's bucket naming rules: 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending
/// with a letter or digit.
fn check_bucket(bucket: &str) -> Result<()> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(bucket.chars().next())
        && edge_ok(bucket.chars().last())
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "s3: {BUCKET_ENV} `{bucket}` is not a valid bucket name (3 to 63 lowercase letters, \
             digits, `.` and `-`)"
        )))
    }
}

/// `media` and `/media/` become `media/`; empty stays empty. The prefix must itself be a valid
/// blob key, so prefixed keys are too.
fn normalize_prefix(prefix: &str) -> Result<String> {
    let trimmed = prefix.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    validate_blob_key(trimmed).map_err(|_| {
        Error::Config(format!(
            "s3: {PREFIX_ENV} `{prefix}` may only hold `/`-separated segments of A-Z a-z 0-9 . _ -"
        ))
    })?;
    Ok(format!("{trimmed}/"))
}

/// An http(s) URL with a host; returned without a trailing `/`. The value is not repeated in the
/// error (it might carry userinfo).
fn check_endpoint(endpoint: &str) -> Result<String> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(host) if !host.is_empty() && !host.contains('@') => {
            Ok(endpoint.trim_end_matches('/').to_owned())
        }
        _ => Err(Error::Config(format!(
            "s3: {ENDPOINT_ENV} must be an http(s) URL with a host and no credentials"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use quflux_core::ErrorKind;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> S3BlobStoreBuilder {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        S3BlobStoreBuilder::from_lookup(move |name| vars.get(name).cloned())
    }

    async fn config_error(builder: S3BlobStoreBuilder) -> String {
        let err = builder.build().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        err.to_string()
    }

    #[tokio::test]
    async fn build_names_the_missing_bucket() {
        assert_eq!(
            config_error(lookup(&[])).await,
            "invalid configuration: s3: QUFLUX_S3_BUCKET is not set"
        );
        assert_eq!(
            config_error(lookup(&[(BUCKET_ENV, "  ")])).await,
            "invalid configuration: s3: QUFLUX_S3_BUCKET is not set"
        );
    }

    #[tokio::test]
    async fn half_of_the_static_credentials_is_an_error() {
        let only_id = lookup(&[(BUCKET_ENV, "media"), (ACCESS_KEY_ID_ENV, "AKIA")]);
        assert!(
            config_error(only_id)
                .await
                .contains("QUFLUX_S3_SECRET_ACCESS_KEY is not set")
        );
        let only_secret = lookup(&[(BUCKET_ENV, "media"), (SECRET_ACCESS_KEY_ENV, "s3cr3t")]);
        let message = config_error(only_secret).await;
        assert!(
            message.contains("QUFLUX_S3_ACCESS_KEY_ID is not set"),
            "{message}"
        );
        assert!(!message.contains("s3cr3t"));
    }

    #[tokio::test]
    async fn malformed_values_are_reported_by_build() {
        for (name, value) in [
            (FORCE_PATH_STYLE_ENV, "maybe"),
            (MULTIPART_THRESHOLD_ENV, "8MB"),
            (BUCKET_ENV, "Not_A_Bucket"),
            (PREFIX_ENV, "../up"),
            (ENDPOINT_ENV, "localhost:9000"),
            (ENDPOINT_ENV, "http://user:pw@localhost:9000"),
            (MULTIPART_THRESHOLD_ENV, "6000000000"),
        ] {
            let mut vars = vec![(BUCKET_ENV, "media"), (name, value)];
            if name == BUCKET_ENV {
                vars.remove(0);
            }
            let message = config_error(lookup(&vars)).await;
            assert!(message.contains(name), "{name}={value}: {message}");
            assert!(!message.contains("pw@"), "{message}");
        }
    }

    #[tokio::test]
    async fn variables_fill_the_store_and_fall_back_to_aws_names() {
        let store = lookup(&[
            (BUCKET_ENV, " media-bucket "),
            (PREFIX_ENV, "/uploads"),
            ("AWS_ENDPOINT_URL", "http://localhost:9000/"),
            ("AWS_REGION", "eu-west-3"),
            (ACCESS_KEY_ID_ENV, "testkey"),
            (SECRET_ACCESS_KEY_ENV, "testsecret"),
            (FORCE_PATH_STYLE_ENV, "TRUE"),
            (MULTIPART_THRESHOLD_ENV, "6291456"),
        ])
        .build()
        .await
        .unwrap();
        assert_eq!(store.bucket(), "media-bucket");
        assert_eq!(store.prefix(), "uploads/");
        assert_eq!(store.endpoint.as_deref(), Some("http://localhost:9000"));
        assert_eq!(store.region, "eu-west-3");
        assert!(store.force_path_style);
        assert_eq!(store.multipart_threshold, 6_291_456);

        let own_names_win = lookup(&[
            (BUCKET_ENV, "media"),
            (ENDPOINT_ENV, "https://s3.example.com"),
            ("AWS_ENDPOINT_URL", "http://localhost:9000"),
            (REGION_ENV, "us-west-2"),
            ("AWS_REGION", "eu-west-3"),
        ])
        .build()
        .await
        .unwrap();
        assert_eq!(
            own_names_win.endpoint.as_deref(),
            Some("https://s3.example.com")
        );
        assert_eq!(own_names_win.region, "us-west-2");
        assert!(!own_names_win.force_path_style, "virtual-host by default");
        assert_eq!(
            own_names_win.multipart_threshold,
            DEFAULT_MULTIPART_THRESHOLD
        );
        assert_eq!(own_names_win.prefix(), "");
    }

    #[tokio::test]
    async fn defaults_without_any_region() {
        let store = S3BlobStoreBuilder::new()
            .with_bucket("media")
            .with_credentials("id", Secret::new("secret".into()))
            .build()
            .await
            .unwrap();
        assert_eq!(store.region, DEFAULT_REGION);
    }

    #[tokio::test]
    async fn debug_output_never_shows_the_secret_key() {
        let builder = S3BlobStoreBuilder::new()
            .with_bucket("media")
            .with_credentials(
                "AKIDEXAMPLE",
                Secret::new("wJalrXUtnFEMI-very-secret".into()),
            );
        let shown = format!("{builder:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
        let store = builder.build().await.unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("media"), "{shown}");
    }

    #[test]
    fn config_deserializes_with_defaults() {
        let config: S3Config = serde_json::from_value(serde_json::json!({
            "bucket": "media",
            "force_path_style": true
        }))
        .unwrap();
        assert_eq!(config.bucket.as_deref(), Some("media"));
        assert!(config.force_path_style);
        assert_eq!(config.multipart_threshold, None);
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for good in ["abc", "media-2026", "my.bucket.name", "a1b"] {
            assert!(check_bucket(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Media",
            "-media",
            "media-",
            "me..dia",
            "me_dia",
            &"a".repeat(64),
        ] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_normalized() {
        assert_eq!(normalize_prefix("").unwrap(), "");
        assert_eq!(normalize_prefix("/").unwrap(), "");
        assert_eq!(normalize_prefix("media").unwrap(), "media/");
        assert_eq!(normalize_prefix("/media/2026/").unwrap(), "media/2026/");
        assert!(normalize_prefix("a//b").is_err());
        assert!(normalize_prefix("a b").is_err());
    }
}
