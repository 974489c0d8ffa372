//! `S3BlobStore` against a real S3-compatible server (s3s-fs, which checks SigV4 signatures,
//! presigned URLs included): the `BlobStore` suite in path-style and virtual-host addressing,
//! presigned GET URLs, multipart uploads and the error mapping.
//!
//! Start the server with `bash scripts/testbed/s3.sh install && bash scripts/testbed/s3.sh start`
//! and export what `bash scripts/testbed/s3.sh env` prints: `QUFLUX_TEST_S3_URL`
//! (`http://localhost:9000`), `QUFLUX_TEST_S3_ACCESS_KEY`, `QUFLUX_TEST_S3_SECRET_KEY`. Without
//! them every server test prints a skip (and fails under `QUFLUX_TEST_REQUIRE_SERVICES=1`).
//! Each test works in a fresh bucket with a random name. Virtual-host requests go to
//! `<bucket>.localhost`, which the store's HTTP client resolves to loopback itself; the
//! `reqwest` client fetching presigned URLs is given the same mapping with `resolve`.
#![cfg(feature = "s3")]
// Helpers outside `#[test]` functions unwrap too: a failing fixture should fail the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use quflux_core::{BlobStore, ErrorKind, Secret};
use quflux_store::s3::{S3BlobStore, S3BlobStoreBuilder};

/// The server of `QUFLUX_TEST_S3_*`.
#[derive(Clone)]
struct Server {
    url: String,
    access_key: String,
    secret_key: String,
}

impl Server {
    /// `None` (and a printed skip) when the server is not configured.
    fn from_env() -> Option<Self> {
        let url = quflux_core::testkit::env("QUFLUX_TEST_S3_URL")?;
        let access_key = quflux_core::testkit::env("QUFLUX_TEST_S3_ACCESS_KEY")?;
        let secret_key = quflux_core::testkit::env("QUFLUX_TEST_S3_SECRET_KEY")?;
        Some(Self {
            url,
            access_key,
            secret_key,
        })
    }

    /// The server's port, for `reqwest`'s `resolve`.
    fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or(80)
    }

    /// A builder for `bucket` on this server, made from variables as the server would read
    /// them (through `from_lookup`, so the process environment is left alone).
    fn builder(&self, bucket: &str, path_style: bool) -> S3BlobStoreBuilder {
        let vars: HashMap<&str, String> = HashMap::from([
            ("QUFLUX_S3_BUCKET", bucket.to_owned()),
            ("QUFLUX_S3_ENDPOINT", self.url.clone()),
            ("QUFLUX_S3_REGION", "us-east-1".to_owned()),
            ("QUFLUX_S3_ACCESS_KEY_ID", self.access_key.clone()),
            ("QUFLUX_S3_SECRET_ACCESS_KEY", self.secret_key.clone()),
            ("QUFLUX_S3_FORCE_PATH_STYLE", path_style.to_string()),
        ]);
        S3BlobStoreBuilder::from_lookup(move |name| vars.get(name).cloned())
    }

    /// A store on a new bucket of its own.
    async fn fresh_store(&self, path_style: bool) -> S3BlobStore {
        let store = self
            .builder(&random_bucket(), path_style)
            .build()
            .await
            .unwrap();
        store.ensure_bucket().await.unwrap();
        store
    }

    /// A client for presigned URLs that maps `<bucket>.localhost` to loopback.
    fn http(&self, bucket: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .resolve(
                &format!("{bucket}.localhost"),
                SocketAddr::from((Ipv4Addr::LOCALHOST, self.port())),
            )
            .build()
            .unwrap()
    }
}

fn random_bucket() -> String {
    format!(
        "quflux-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..20]
    )
}

fn random_key(name: &str) -> String {
    format!("it/{}/{name}", uuid::Uuid::new_v4().simple())
}

/// `len` bytes that differ from part to part (a repeating pattern could hide a part mix-up).
fn noise(len: usize) -> Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Replaces the last character of the `X-Amz-Signature` value.
fn tamper_signature(url: &str) -> String {
    let start = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let end = url[start..].find('&').map_or(url.len(), |i| start + i);
    let last = &url[end - 1..end];
    let swapped = if last == "0" { "1" } else { "0" };
    format!("{}{swapped}{}", &url[..end - 1], &url[end..])
}

#[tokio::test]
async fn path_style_passes_the_blob_store_suite() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let store = server.fresh_store(true).await;
    quflux_core::testkit::blob_store::run_all(&store).await;
}

#[tokio::test]
async fn virtual_host_passes_the_blob_store_suite() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let store = server.fresh_store(false).await;
    quflux_core::testkit::blob_store::run_all(&store).await;
}

#[tokio::test]
async fn ensure_bucket_is_idempotent() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let store = server.fresh_store(true).await;
    store.ensure_bucket().await.unwrap();
    store
        .put("a.txt", Bytes::from_static(b"kept"), "text/plain")
        .await
        .unwrap();
    store.ensure_bucket().await.unwrap();
    assert_eq!(
        store.get("a.txt").await.unwrap(),
        Bytes::from_static(b"kept")
    );
}

#[tokio::test]
async fn keys_are_stored_under_the_prefix() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let bucket = random_bucket();
    let prefixed = server
        .builder(&bucket, false)
        .with_prefix("media")
        .build()
        .await
        .unwrap();
    prefixed.ensure_bucket().await.unwrap();
    assert_eq!(prefixed.prefix(), "media/");
    let whole = server.builder(&bucket, true).build().await.unwrap();

    prefixed
        .put("u1/cat.png", Bytes::from_static(b"\x89PNG"), "image/png")
        .await
        .unwrap();
    assert_eq!(
        whole.get("media/u1/cat.png").await.unwrap(),
        Bytes::from_static(b"\x89PNG"),
        "the object key is prefix + key"
    );
    assert!(!whole.exists("u1/cat.png").await.unwrap());
    whole.delete("media/u1/cat.png").await.unwrap();
    assert!(!prefixed.exists("u1/cat.png").await.unwrap());
}

/// Presigned URLs serve the bytes in both addressing modes; s3s-fs checks the signature, so a
/// changed signature or a changed key is refused.
#[tokio::test]
async fn presigned_get_serves_the_bytes_and_refuses_tampering() {
    let Some(server) = Server::from_env() else {
        return;
    };
    for path_style in [true, false] {
        let store = server.fresh_store(path_style).await;
        let http = server.http(store.bucket());
        let key = random_key("photo.jpg");
        let bytes = noise(70_000);
        store.put(&key, bytes.clone(), "image/jpeg").await.unwrap();

        let url = store
            .presigned_get(&key, Duration::from_secs(300))
            .await
            .unwrap()
            .expect("S3 hands out presigned URLs");
        let expected_base = if path_style {
            format!("{}/{}/{key}?", server.url, store.bucket())
        } else {
            format!(
                "{}/{key}?",
                server
                    .url
                    .replacen("://", &format!("://{}.", store.bucket()), 1)
            )
        };
        assert!(url.starts_with(&expected_base), "{url} vs {expected_base}");
        assert!(url.contains("X-Amz-Expires=300"), "{url}");

        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "path_style={path_style}");
        assert_eq!(
            response.headers()["content-type"],
            "image/jpeg",
            "the content type is stored"
        );
        assert_eq!(response.bytes().await.unwrap(), bytes);

        let tampered = tamper_signature(&url);
        assert_ne!(tampered, url);
        let response = http.get(&tampered).send().await.unwrap();
        assert_eq!(response.status(), 403, "a tampered signature is refused");
        let body = response.text().await.unwrap();
        assert!(body.contains("SignatureDoesNotMatch"), "{body}");

        let other_key = url.replacen("photo.jpg", "other.jpg", 1);
        let response = http.get(&other_key).send().await.unwrap();
        assert_eq!(response.status(), 403, "the signature covers the key");

        // Signing needs no request, so a missing key signs fine and the fetch is a 404.
        let missing = store
            .presigned_get(&random_key("missing.jpg"), Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(http.get(&missing).send().await.unwrap().status(), 404);
    }
}

/// A presigned URL past its lifetime is refused, and for that reason: s3s-fs answers
/// "Request has expired" (a broken signature would say SignatureDoesNotMatch). The check does
/// not race the clock: only the fetch after the lifetime is asserted.
#[tokio::test]
async fn expired_presigned_url_is_refused() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let store = server.fresh_store(true).await;
    let key = random_key("short.txt");
    store
        .put(&key, Bytes::from_static(b"soon gone"), "text/plain")
        .await
        .unwrap();
    let http = server.http(store.bucket());
    let short = store
        .presigned_get(&key, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert!(short.contains("X-Amz-Expires=1&"), "{short}");
    // X-Amz-Date has whole seconds: wait well past the second the URL expires in.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let response = http.get(&short).send().await.unwrap();
    assert_eq!(
        response.status(),
        403,
        "an expired presigned URL is refused"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("Request has expired"), "{body}");

    let long = store
        .presigned_get(&key, Duration::from_secs(300))
        .await
        .unwrap()
        .unwrap();
    let response = http.get(&long).send().await.unwrap();
    assert_eq!(response.status(), 200, "a live URL for the same key works");
    assert_eq!(response.text().await.unwrap(), "soon gone");
}

#[tokio::test]
async fn presigned_get_checks_its_arguments() {
    // Signing is local: no server needed.
    let store = S3BlobStore::builder()
        .with_bucket("media")
        .with_endpoint("http://127.0.0.1:1")
        .with_credentials("id", Secret::new("secret".into()))
        .build()
        .await
        .unwrap();
    assert_eq!(
        store
            .presigned_get("a/../b", Duration::from_secs(60))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    let too_long = store
        .presigned_get("a.png", Duration::from_secs(8 * 24 * 3600))
        .await
        .unwrap_err();
    assert_eq!(too_long.kind(), ErrorKind::InvalidInput, "{too_long}");
}

/// 12 MiB with a 5 MiB threshold: three parts (5 + 5 + 2 MiB), read back byte for byte. The
/// object's ETag has the multipart form `"<md5 of the part md5s>-3"`.
#[tokio::test]
async fn large_bodies_are_uploaded_in_parts() {
    let Some(server) = Server::from_env() else {
        return;
    };
    for path_style in [true, false] {
        let bucket = random_bucket();
        let store = server
            .builder(&bucket, path_style)
            .with_multipart_threshold(5 * 1024 * 1024)
            .build()
            .await
            .unwrap();
        store.ensure_bucket().await.unwrap();
        let key = random_key("video.mp4");
        let body = noise(12 * 1024 * 1024);
        store.put(&key, body.clone(), "video/mp4").await.unwrap();
        let read = store.get(&key).await.unwrap();
        assert_eq!(read.len(), body.len());
        assert!(read == body, "the multipart object reads back byte-equal");

        let url = store
            .presigned_get(&key, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let response = server.http(&bucket).get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.ends_with("-3\""), "three parts were uploaded: {etag}");
        assert_eq!(response.headers()["content-type"], "video/mp4");

        // At the threshold exactly, one PutObject (a plain MD5 ETag).
        let small_key = random_key("exact.bin");
        let exact = noise(5 * 1024 * 1024);
        store
            .put(&small_key, exact.clone(), "application/octet-stream")
            .await
            .unwrap();
        assert!(store.get(&small_key).await.unwrap() == exact);
        let url = store
            .presigned_get(&small_key, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let response = server.http(&bucket).get(&url).send().await.unwrap();
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert!(!etag.contains('-'), "a single PutObject: {etag}");
        store.delete(&small_key).await.unwrap();

        store.delete(&key).await.unwrap();
        assert!(!store.exists(&key).await.unwrap());
    }
}

/// A wrong secret key makes the server refuse the signature: a configuration error that names
/// the code and never the secret.
#[tokio::test]
async fn wrong_secret_is_a_config_error() {
    let Some(server) = Server::from_env() else {
        return;
    };
    let good = server.fresh_store(true).await;
    good.put("there.txt", Bytes::from_static(b"x"), "text/plain")
        .await
        .unwrap();
    for path_style in [true, false] {
        let wrong_secret = "not-the-secret-1234";
        let store = server
            .builder(good.bucket(), path_style)
            .with_credentials(server.access_key.clone(), Secret::new(wrong_secret.into()))
            .build()
            .await
            .unwrap();
        let put = store
            .put("a.txt", Bytes::from_static(b"x"), "text/plain")
            .await
            .unwrap_err();
        let get = store.get("there.txt").await.unwrap_err();
        let exists = store.exists("there.txt").await.unwrap_err();
        for err in [put, get, exists] {
            assert_eq!(err.kind(), ErrorKind::Config, "{}", err.detailed_message());
            let text = err.detailed_message();
            assert!(text.contains(good.bucket()), "{text}");
            assert!(!text.contains(wrong_secret), "{text}");
            assert!(!text.contains(&server.secret_key), "{text}");
        }
        let text = store.get("there.txt").await.unwrap_err().detailed_message();
        assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    }
    let unknown_key = server
        .builder(good.bucket(), true)
        .with_credentials("no-such-access-key", Secret::new(server.secret_key.clone()))
        .build()
        .await
        .unwrap();
    let err = unknown_key.get("there.txt").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{}", err.detailed_message());
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    // Port 1 on loopback: the connection is refused at once.
    let store = S3BlobStore::builder()
        .with_bucket("media")
        .with_endpoint("http://127.0.0.1:1")
        .with_force_path_style(true)
        .with_credentials("id", Secret::new("secret".into()))
        .build()
        .await
        .unwrap();
    for err in [
        store
            .put("a.txt", Bytes::from_static(b"x"), "text/plain")
            .await
            .unwrap_err(),
        store.get("a.txt").await.unwrap_err(),
        store.exists("a.txt").await.unwrap_err(),
        store.delete("a.txt").await.unwrap_err(),
    ] {
        assert_eq!(
            err.kind(),
            ErrorKind::Transient,
            "{}",
            err.detailed_message()
        );
        assert!(err.is_retryable());
    }
}

/// A scripted S3 endpoint on a loopback socket (path style, any bucket): CreateMultipartUpload
/// answers upload id `up-1`; UploadPart succeeds for part 1 and, if `fail_part`, fails with 500
/// for the others; CompleteMultipartUpload fails with `InvalidPart` unless `fail_part`;
/// AbortMultipartUpload answers 204. Returns the endpoint and the request lines seen.
fn scripted_multipart_server(fail_part: bool) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve_connection(stream, &log, fail_part));
        }
    });
    (endpoint, seen)
}

/// Serves requests on one keep-alive connection until the client closes it.
fn serve_connection(stream: TcpStream, log: &Mutex<Vec<String>>, fail_part: bool) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = request_line.trim_end().to_owned();
        let mut content_length = 0usize;
        let mut expect_continue = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                content_length = value.trim().parse().unwrap();
            }
            if header == "expect: 100-continue" {
                expect_continue = true;
            }
        }
        if expect_continue {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).unwrap();
        log.lock().unwrap().push(request_line.clone());

        let error = |status: &str, code: &str| {
            (
                status.to_owned(),
                Vec::new(),
                format!(
                    "<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>scripted</Message></Error>"
                ),
            )
        };
        let (status, headers, body): (String, Vec<(&str, &str)>, String) =
            if request_line.starts_with("POST ") && request_line.contains("?uploads") {
                (
                    "200 OK".into(),
                    Vec::new(),
                    "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>media</Bucket>\
                     <Key>k</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>"
                        .into(),
                )
            } else if request_line.starts_with("PUT ") && request_line.contains("partNumber=1&") {
                ("200 OK".into(), vec![("ETag", "\"etag-1\"")], String::new())
            } else if request_line.starts_with("PUT ") && request_line.contains("partNumber=") {
                if fail_part {
                    error("500 Internal Server Error", "InternalError")
                } else {
                    ("200 OK".into(), vec![("ETag", "\"etag-n\"")], String::new())
                }
            } else if request_line.starts_with("POST ") && request_line.contains("uploadId=up-1") {
                error("400 Bad Request", "InvalidPart")
            } else if request_line.starts_with("DELETE ") && request_line.contains("uploadId=up-1")
            {
                ("204 No Content".into(), Vec::new(), String::new())
            } else {
                error("400 Bad Request", "UnexpectedRequest")
            };
        let mut response = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            response.push_str("content-type: application/xml\r\n");
        }
        response.push_str("\r\n");
        response.push_str(&body);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Any failure after CreateMultipartUpload aborts the upload, so no parts are left behind, and
/// the first error is returned.
#[tokio::test]
async fn a_failed_multipart_upload_is_aborted() {
    for fail_part in [true, false] {
        let (endpoint, seen) = scripted_multipart_server(fail_part);
        let store = S3BlobStore::builder()
            .with_bucket("media")
            .with_endpoint(&endpoint)
            .with_force_path_style(true)
            .with_credentials("id", Secret::new("secret".into()))
            .with_multipart_threshold(5 * 1024 * 1024)
            .build()
            .await
            .unwrap();
        let err = store
            .put(
                "big.bin",
                noise(11 * 1024 * 1024),
                "application/octet-stream",
            )
            .await
            .unwrap_err();
        let seen = seen.lock().unwrap().clone();
        let expected = if fail_part {
            ErrorKind::Transient
        } else {
            ErrorKind::Other
        };
        assert_eq!(err.kind(), expected, "{}: {seen:?}", err.detailed_message());
        assert!(
            seen.first()
                .is_some_and(|l| l.starts_with("POST /media/big.bin?uploads")),
            "{seen:?}"
        );
        assert!(
            seen.iter().any(|l| l.starts_with("PUT /media/big.bin?")),
            "{seen:?}"
        );
        let completes = seen
            .iter()
            .filter(|l| l.starts_with("POST ") && l.contains("uploadId=up-1"))
            .count();
        assert_eq!(completes, usize::from(!fail_part), "{seen:?}");
        assert_eq!(
            seen.last()
                .map(|l| l.starts_with("DELETE /media/big.bin?") && l.contains("uploadId=up-1")),
            Some(true),
            "the upload is aborted last: {seen:?}"
        );
    }
}
