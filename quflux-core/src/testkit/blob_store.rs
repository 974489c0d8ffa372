//! Conformance suite for [`BlobStore`].

use bytes::Bytes;

use super::{Must, expect_kind, unique};
use crate::{BlobStore, ErrorKind};

/// Every [`BlobStore`] must pass these. Scenarios use fresh keys under `testkit/`, and delete what
/// they write, so a store may be shared.
pub async fn run_all(blobs: &dyn BlobStore) {
    put_then_get_roundtrips(blobs).await;
    put_overwrites(blobs).await;
    missing_key_is_not_found(blobs).await;
    delete_removes_and_missing_key_is_fine(blobs).await;
    invalid_keys_are_invalid_input(blobs).await;
}

fn key(name: &str) -> String {
    format!("testkit/{}/{name}", unique())
}

/// Bytes read back exactly as written, for empty, text and binary blobs, under nested keys.
pub async fn put_then_get_roundtrips(blobs: &dyn BlobStore) {
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let cases = [
        (
            key("media/2026/picture.png"),
            Bytes::from(binary),
            "image/png",
        ),
        (
            key("notes.txt"),
            Bytes::from_static("héllo 👋\n".as_bytes()),
            "text/plain; charset=utf-8",
        ),
        (key("empty.bin"), Bytes::new(), "application/octet-stream"),
        (
            key("A-Z_a-z.0-9"),
            Bytes::from_static(b"x"),
            "application/octet-stream",
        ),
    ];
    for (k, bytes, content_type) in cases {
        assert!(
            !blobs.exists(&k).await.must("exists before put"),
            "a key never written does not exist"
        );
        blobs
            .put(&k, bytes.clone(), content_type)
            .await
            .must("put a blob");
        assert!(
            blobs.exists(&k).await.must("exists after put"),
            "a written key exists"
        );
        assert_eq!(
            blobs.get(&k).await.must("get the blob"),
            bytes,
            "get must return the bytes as put ({k})"
        );
        blobs.delete(&k).await.must("clean up");
    }
}

/// `put` to an existing key replaces its bytes.
pub async fn put_overwrites(blobs: &dyn BlobStore) {
    let k = key("overwrite.bin");
    blobs
        .put(
            &k,
            Bytes::from_static(b"first version, longer"),
            "text/plain",
        )
        .await
        .must("put");
    blobs
        .put(&k, Bytes::from_static(b"second"), "text/plain")
        .await
        .must("put again");
    assert_eq!(
        blobs.get(&k).await.must("get"),
        Bytes::from_static(b"second"),
        "put overwrites"
    );
    blobs.delete(&k).await.must("clean up");
}

/// `get` of a missing key is `NotFound`; `exists` is false.
pub async fn missing_key_is_not_found(blobs: &dyn BlobStore) {
    let k = key("missing.png");
    expect_kind(
        blobs.get(&k).await,
        ErrorKind::NotFound,
        "get of a missing key",
    );
    assert!(
        !blobs.exists(&k).await.must("exists of a missing key"),
        "a missing key does not exist"
    );
}

/// `delete` removes a key; deleting a missing key succeeds.
pub async fn delete_removes_and_missing_key_is_fine(blobs: &dyn BlobStore) {
    let k = key("delete.png");
    let sibling = format!("{k}.keep");
    blobs
        .put(&k, Bytes::from_static(b"bytes"), "image/png")
        .await
        .must("put");
    blobs
        .put(&sibling, Bytes::from_static(b"kept"), "image/png")
        .await
        .must("put a sibling");
    blobs.delete(&k).await.must("delete");
    assert!(
        !blobs.exists(&k).await.must("exists after delete"),
        "a deleted key does not exist"
    );
    expect_kind(blobs.get(&k).await, ErrorKind::NotFound, "get after delete");
    blobs.delete(&k).await.must("delete a deleted key");
    assert_eq!(
        blobs.get(&sibling).await.must("get the sibling"),
        Bytes::from_static(b"kept"),
        "delete removes only its key"
    );
    blobs.delete(&sibling).await.must("clean up");
}

/// Empty keys, absolute keys and `..` segments are `InvalidInput` for every operation.
pub async fn invalid_keys_are_invalid_input(blobs: &dyn BlobStore) {
    let dir = unique();
    for bad in [
        String::new(),
        format!("/testkit/{dir}/abs.png"),
        format!("testkit/{dir}/../escape.png"),
        "..".to_owned(),
        "../x".to_owned(),
    ] {
        let what = |op: &str| format!("{op} with the invalid key {bad:?}");
        expect_kind(
            blobs
                .put(&bad, Bytes::from_static(b"x"), "text/plain")
                .await,
            ErrorKind::InvalidInput,
            &what("put"),
        );
        expect_kind(blobs.get(&bad).await, ErrorKind::InvalidInput, &what("get"));
        expect_kind(
            blobs.delete(&bad).await,
            ErrorKind::InvalidInput,
            &what("delete"),
        );
        expect_kind(
            blobs.exists(&bad).await,
            ErrorKind::InvalidInput,
            &what("exists"),
        );
    }
}
