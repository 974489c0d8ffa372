//! The outbox publisher implementation.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    Error, Lookup, Platform, PlatformConnection, PlatformPostId, PublishRequest, PublishedPost,
    Publisher, Result,
};
use serde::{Deserialize, Serialize};

use super::BACKEND;

/// One line of the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// `publish` or `delete`.
    pub op: String,
    /// Platform the post stands in for.
    pub platform: Platform,
    /// Id given to the post.
    pub platform_post_id: String,
    /// The publication's idempotency key.
    #[serde(default)]
    pub idempotency_key: String,
    /// The publication.
    #[serde(default)]
    pub publication_id: Option<String>,
    /// Account handle it was "posted" as.
    #[serde(default)]
    pub account: String,
    /// Text of the first post.
    #[serde(default)]
    pub text: String,
    /// Thread parts.
    #[serde(default)]
    pub thread: Vec<String>,
    /// Attached media: file name, type, size and alt text.
    #[serde(default)]
    pub media: Vec<serde_json::Value>,
    /// Shared link.
    #[serde(default)]
    pub link_url: Option<String>,
    /// When it was written.
    pub at: DateTime<Utc>,
}

/// Settings of an [`OutboxPublisher`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OutboxPublisherConfig {
    /// The JSON-lines file.
    pub path: Option<PathBuf>,
    /// The platform it stands in for.
    pub platform: Option<Platform>,
}

/// Builds an [`OutboxPublisher`].
#[derive(Debug, Clone, Default)]
pub struct OutboxPublisherBuilder {
    config: OutboxPublisherConfig,
}

impl OutboxPublisherBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// From a config.
    pub fn from_config(config: OutboxPublisherConfig) -> Self {
        Self { config }
    }
    /// Reads `QUFLUX_OUTBOX_PATH`.
    pub fn from_env() -> Self {
        let mut b = Self::new();
        if let Ok(p) = std::env::var("QUFLUX_OUTBOX_PATH")
            && !p.is_empty()
        {
            b.config.path = Some(p.into());
        }
        b
    }
    /// The outbox file.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.path = Some(path.into());
        self
    }
    /// The platform it stands in for.
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.config.platform = Some(platform);
        self
    }
    /// Validates and builds.
    pub fn build(self) -> Result<OutboxPublisher> {
        let path = self
            .config
            .path
            .ok_or_else(|| Error::Config("outbox: path missing (QUFLUX_OUTBOX_PATH)".into()))?;
        let platform = self
            .config
            .platform
            .ok_or_else(|| Error::Config("outbox: platform missing".into()))?;
        Ok(OutboxPublisher {
            path,
            platform,
            index: Arc::new(Mutex::new(Index::default())),
        })
    }
}

#[derive(Debug, Default)]
struct Index {
    /// Bytes of the file already read.
    offset: u64,
    /// idempotency key → live post.
    by_key: HashMap<String, OutboxEntry>,
}

/// Writes published posts as JSON lines to a local file. See the module docs.
#[derive(Debug, Clone)]
pub struct OutboxPublisher {
    path: PathBuf,
    platform: Platform,
    index: Arc<Mutex<Index>>,
}

impl OutboxPublisher {
    /// A builder.
    pub fn builder() -> OutboxPublisherBuilder {
        OutboxPublisherBuilder::new()
    }

    /// The outbox file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn locked<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut File, &mut Index, Platform) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let path = self.path.clone();
        let index = self.index.clone();
        let platform = self.platform;
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| Error::other(BACKEND, e))?;
            }
            let mut file = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|e| Error::other(BACKEND, e))?;
            file.lock().map_err(|e| Error::other(BACKEND, e))?;
            let mut index = index.lock().unwrap_or_else(|e| e.into_inner());
            let result = catch_up(&mut file, &mut index, platform)
                .and_then(|()| f(&mut file, &mut index, platform));
            let _ = file.unlock();
            result
        })
        .await
        .map_err(|e| Error::other(BACKEND, e))?
    }
}

/// Reads the lines appended since the last read into the index.
fn catch_up(file: &mut File, index: &mut Index, platform: Platform) -> Result<()> {
    let len = file.metadata().map_err(|e| Error::other(BACKEND, e))?.len();
    if len < index.offset {
        // The file was truncated or replaced: start over.
        *index = Index::default();
    }
    if len == index.offset {
        return Ok(());
    }
    file.seek(SeekFrom::Start(index.offset))
        .map_err(|e| Error::other(BACKEND, e))?;
    let mut reader = BufReader::new(&mut *file);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| Error::other(BACKEND, e))?;
        if n == 0 || !line.ends_with('\n') {
            break; // a partial last line is re-read next time
        }
        index.offset += n as u64;
        let Ok(entry) = serde_json::from_str::<OutboxEntry>(line.trim_end()) else {
            continue;
        };
        if entry.platform != platform {
            continue;
        }
        match entry.op.as_str() {
            "publish" => {
                index.by_key.insert(entry.idempotency_key.clone(), entry);
            }
            "delete" => index
                .by_key
                .retain(|_, e| e.platform_post_id != entry.platform_post_id),
            _ => {}
        }
    }
    Ok(())
}

fn append(file: &mut File, entry: &OutboxEntry) -> Result<()> {
    let mut line = serde_json::to_string(entry).map_err(|e| Error::other(BACKEND, e))?;
    line.push('\n');
    file.write_all(line.as_bytes())
        .map_err(|e| Error::other(BACKEND, e))?;
    file.sync_data().map_err(|e| Error::other(BACKEND, e))
}

fn published(entry: &OutboxEntry) -> PublishedPost {
    PublishedPost {
        platform_post_id: PlatformPostId::new(entry.platform_post_id.clone()),
        url: Some(format!(
            "outbox://{}/{}",
            entry.platform, entry.platform_post_id
        )),
        thread_ids: (1..=entry.thread.len())
            .map(|i| PlatformPostId::new(format!("{}-{i}", entry.platform_post_id)))
            .collect(),
        published_at: entry.at,
    }
}

/// Reads every live published entry of an outbox file (all platforms), in file order.
pub fn read_outbox(path: &Path) -> Result<Vec<OutboxEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::other(BACKEND, e)),
    };
    let mut out: Vec<OutboxEntry> = Vec::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<OutboxEntry>(line) else {
            continue;
        };
        match entry.op.as_str() {
            "publish" => out.push(entry),
            "delete" => out.retain(|e| {
                !(e.platform == entry.platform && e.platform_post_id == entry.platform_post_id)
            }),
            _ => {}
        }
    }
    Ok(out)
}

#[async_trait]
impl Publisher for OutboxPublisher {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn publish(
        &self,
        connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<PublishedPost> {
        if request.text.trim().is_empty() && request.media.is_empty() {
            return Err(Error::InvalidContent {
                service: BACKEND,
                reason: "empty post".into(),
            });
        }
        let key = request.idempotency_key.clone();
        let entry = OutboxEntry {
            op: "publish".into(),
            platform: self.platform,
            platform_post_id: format!("outbox-{}", uuid_like()),
            idempotency_key: key.clone(),
            publication_id: Some(request.publication_id.to_string()),
            account: connection.platform_username.clone(),
            text: request.text.clone(),
            thread: request.thread.clone(),
            media: request
                .media
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "filename": m.file.filename,
                        "content_type": m.file.content_type,
                        "size_bytes": m.bytes.len(),
                        "alt_text": m.alt_text,
                    })
                })
                .collect(),
            link_url: request.link_url.clone(),
            at: Utc::now(),
        };
        self.locked(move |file, index, _| {
            if let Some(existing) = index.by_key.get(&key) {
                return Ok(published(existing));
            }
            append(file, &entry)?;
            index.offset = file.metadata().map_err(|e| Error::other(BACKEND, e))?.len();
            let p = published(&entry);
            index.by_key.insert(key, entry);
            Ok(p)
        })
        .await
    }

    async fn delete(&self, connection: &PlatformConnection, id: &PlatformPostId) -> Result<()> {
        let id = id.as_str().to_owned();
        let account = connection.platform_username.clone();
        self.locked(move |file, index, platform| {
            if !index.by_key.values().any(|e| e.platform_post_id == id) {
                return Err(Error::not_found(format!("outbox post {id}")));
            }
            let entry = OutboxEntry {
                op: "delete".into(),
                platform,
                platform_post_id: id.clone(),
                idempotency_key: String::new(),
                publication_id: None,
                account,
                text: String::new(),
                thread: Vec::new(),
                media: Vec::new(),
                link_url: None,
                at: Utc::now(),
            };
            append(file, &entry)?;
            index.offset = file.metadata().map_err(|e| Error::other(BACKEND, e))?.len();
            index.by_key.retain(|_, e| e.platform_post_id != id);
            Ok(())
        })
        .await
    }

    async fn lookup(
        &self,
        _connection: &PlatformConnection,
        request: &PublishRequest,
    ) -> Result<Lookup> {
        let key = request.idempotency_key.clone();
        self.locked(move |_, index, _| {
            Ok(match index.by_key.get(&key) {
                Some(e) => Lookup::Published(published(e)),
                None => Lookup::NotPublished,
            })
        })
        .await
    }
}

fn uuid_like() -> String {
    quflux_core::PostId::new().to_string()
}
