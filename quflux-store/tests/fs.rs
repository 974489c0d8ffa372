//! `FsBlobStore` on a temporary directory.
#![cfg(feature = "fs")]
// Helpers outside `#[test]` functions unwrap too: a failing fixture should fail the test.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use quflux_core::{BlobStore, ErrorKind};
use quflux_store::fs::{FsBlobStore, FsBlobStoreBuilder};

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

#[tokio::test]
async fn blobs_roundtrip_overwrite_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("not/yet/there");
    let store = FsBlobStoreBuilder::new().with_root(&root).build().unwrap();
    assert!(root.is_dir(), "the root is created");

    let key = "media/2026/03/cat.png";
    assert!(!store.exists(key).await.unwrap());
    assert_eq!(
        store.get(key).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    store
        .put(key, Bytes::from_static(b"first"), "image/png")
        .await
        .unwrap();
    assert!(store.exists(key).await.unwrap());
    assert_eq!(store.get(key).await.unwrap(), Bytes::from_static(b"first"));
    store
        .put(key, Bytes::from_static(b"second, longer"), "image/png")
        .await
        .unwrap();
    assert_eq!(
        store.get(key).await.unwrap(),
        Bytes::from_static(b"second, longer")
    );
    assert_eq!(
        files_under(&root),
        vec!["cat.png".to_owned()],
        "no temporary file is left behind"
    );

    // A prefix of other keys is a directory, not a blob.
    assert!(!store.exists("media/2026").await.unwrap());
    assert_eq!(
        store.get("media/2026").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    store.delete("media/2026").await.unwrap();
    assert!(store.exists(key).await.unwrap());

    store.delete(key).await.unwrap();
    store.delete(key).await.unwrap();
    assert!(!store.exists(key).await.unwrap());
    assert_eq!(
        store.get(key).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    store
        .put("empty", Bytes::new(), "text/plain")
        .await
        .unwrap();
    assert_eq!(store.get("empty").await.unwrap(), Bytes::new());
}

#[tokio::test]
async fn traversal_and_malformed_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path().join("root")).unwrap();
    for key in [
        "../outside",
        "a/../../outside",
        "/tmp/abs",
        "./x",
        "a//b",
        "",
        "sp ace",
        "é",
    ] {
        assert_eq!(
            store
                .put(key, Bytes::from_static(b"x"), "text/plain")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput,
            "put {key:?}"
        );
        assert_eq!(
            store.get(key).await.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "get {key:?}"
        );
        assert_eq!(
            store.delete(key).await.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "delete {key:?}"
        );
        assert_eq!(
            store.exists(key).await.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "exists {key:?}"
        );
    }
    assert!(!dir.path().join("outside").exists());
}

#[tokio::test]
async fn a_key_through_another_blob_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path()).unwrap();
    store
        .put("a", Bytes::from_static(b"file"), "text/plain")
        .await
        .unwrap();
    assert_eq!(
        store
            .put("a/b", Bytes::from_static(b"x"), "text/plain")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert!(!store.exists("a/b").await.unwrap());
    assert_eq!(
        store.get("a/b").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    store.delete("a/b").await.unwrap();
    store
        .put("d/e", Bytes::from_static(b"x"), "text/plain")
        .await
        .unwrap();
    assert_eq!(
        store
            .put("d", Bytes::from_static(b"x"), "text/plain")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_leave_one_whole_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path()).unwrap();
    let values: Vec<Bytes> = (0..8u8).map(|n| Bytes::from(vec![n; 64 * 1024])).collect();
    let mut tasks = Vec::new();
    for value in values.clone() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .put("same/key.bin", value, "application/octet-stream")
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = store.get("same/key.bin").await.unwrap();
    assert!(
        values.contains(&stored),
        "the stored value is one of the written ones, whole"
    );
    assert_eq!(files_under(dir.path()), vec!["key.bin".to_owned()]);
}

#[tokio::test]
async fn passes_the_blob_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path().join("blobs")).unwrap();
    quflux_core::testkit::blob_store::run_all(&store).await;
}
