//! [`BlobStore`] on the local filesystem (feature `fs`, default).
//!
//! A blob with key `media/2026/a.png` is the file `<root>/media/2026/a.png`. Keys are checked
//! with [`validate_blob_key`], so no key can leave the root. `put` writes a temporary file next
//! to the target, syncs it and renames it over the target: readers see the old bytes or the
//! new ones, never a partial file. Content types are not stored (the trait never returns them).
//!
//! ```no_run
//! # async fn demo() -> quflux_core::Result<()> {
//! use quflux_core::BlobStore;
//! use quflux_store::fs::FsBlobStore;
//!
//! let blobs = FsBlobStore::new("data/media")?;
//! blobs.put("u1/cat.png", bytes::Bytes::from_static(b"\x89PNG"), "image/png").await?;
//! # Ok(()) }
//! ```

use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use quflux_core::{BlobStore, Error, Result, validate_blob_key};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

/// Service name used in errors.
pub const BACKEND: &str = "fs";

/// Environment variable read by [`FsBlobStoreBuilder::from_env`].
pub const ROOT_ENV: &str = "QUFLUX_FS_ROOT";

/// Stores blobs as files under a root directory.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A store under `root`, which is created if missing.
    ///
    /// # Errors
    /// [`Error::Config`] if `root` is empty or cannot be created.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if root.as_os_str().is_empty() {
            return Err(Error::Config("fs: root must not be empty".into()));
        }
        std::fs::create_dir_all(&root).map_err(|e| {
            Error::Config(format!("fs: cannot create root {}: {e}", root.display()))
        })?;
        Ok(Self { root })
    }

    /// A builder; see [`FsBlobStoreBuilder`].
    pub fn builder() -> FsBlobStoreBuilder {
        FsBlobStoreBuilder::new()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key`, after checking the key.
    fn path_of(&self, key: &str) -> Result<PathBuf> {
        validate_blob_key(key)?;
        Ok(self.root.join(key))
    }
}

/// Maps an I/O error on `key`.
fn io_error(err: std::io::Error, key: &str) -> Error {
    match err.kind() {
        IoKind::NotFound => Error::not_found(format!("blob {key}")),
        // A key whose path crosses another key's file (`a` vs `a/b`).
        IoKind::NotADirectory | IoKind::IsADirectory | IoKind::AlreadyExists => {
            Error::conflict(format!("blob {key}"))
        }
        IoKind::Interrupted
        | IoKind::TimedOut
        | IoKind::WouldBlock
        | IoKind::StorageFull
        | IoKind::QuotaExceeded => Error::transient(BACKEND, err),
        _ => Error::other(BACKEND, err),
    }
}

/// Writes `bytes` to a temporary file in `dir`, syncs it and renames it to `path`.
async fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &str, bytes: Bytes, _content_type: &str) -> Result<()> {
        let path = self.path_of(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error(e, key))?;
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) {
            return Err(Error::conflict(format!("blob {key}")));
        }
        write_atomically(&dir, &path, &bytes)
            .await
            .map_err(|e| io_error(e, key))
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path_of(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            // A directory (the prefix of other keys) or a path through a file is no blob.
            Err(e) if matches!(e.kind(), IoKind::IsADirectory | IoKind::NotADirectory) => {
                Err(Error::not_found(format!("blob {key}")))
            }
            Err(e) => Err(io_error(e, key)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    IoKind::NotFound | IoKind::NotADirectory | IoKind::IsADirectory
                ) =>
            {
                Ok(())
            }
            // Some platforms report a directory as "permission denied" here.
            Err(_) if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) => Ok(()),
            Err(e) => Err(io_error(e, key)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::NotADirectory) => Ok(false),
            Err(e) => Err(io_error(e, key)),
        }
    }
}

/// Settings of a [`FsBlobStore`], as deserialized from the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FsBlobStoreConfig {
    /// The root directory; created if missing.
    pub root: Option<PathBuf>,
}

/// Builds a [`FsBlobStore`].
///
/// ```no_run
/// # fn demo() -> quflux_core::Result<()> {
/// let blobs = quflux_store::fs::FsBlobStoreBuilder::from_env() // QUFLUX_FS_ROOT
///     .build()?;
/// # let _ = blobs; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct FsBlobStoreBuilder {
    config: FsBlobStoreConfig,
}

impl FsBlobStoreBuilder {
    /// An empty builder; `build()` needs a root.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with the root from `QUFLUX_FS_ROOT`, if set.
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        if let Some(root) = std::env::var_os(ROOT_ENV)
            && !root.is_empty()
        {
            builder.config.root = Some(PathBuf::from(root));
        }
        builder
    }

    /// A builder with the given settings.
    pub fn from_config(config: FsBlobStoreConfig) -> Self {
        Self { config }
    }

    /// Sets the root directory.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.config.root = Some(root.into());
        self
    }

    /// Creates the root if missing and returns the store.
    ///
    /// # Errors
    /// [`Error::Config`] if no root is set or it cannot be created.
    pub fn build(self) -> Result<FsBlobStore> {
        let root = self
            .config
            .root
            .ok_or_else(|| Error::Config(format!("fs: root missing (set {ROOT_ENV})")))?;
        FsBlobStore::new(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_needs_a_root() {
        let err = FsBlobStoreBuilder::new().build().unwrap_err();
        assert!(err.to_string().contains("QUFLUX_FS_ROOT"), "{err}");
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path().join("blobs")).unwrap();
        for key in ["../escape", "/etc/passwd", "a/../../b", "a//b", "", "a\\b"] {
            let err = store
                .put(key, Bytes::from_static(b"x"), "text/plain")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), quflux_core::ErrorKind::InvalidInput, "{key}");
            assert_eq!(
                store.get(key).await.unwrap_err().kind(),
                quflux_core::ErrorKind::InvalidInput
            );
        }
        assert!(!dir.path().join("escape").exists());
    }
}
