//! [`PostStore`] and [`MediaStore`].

use async_trait::async_trait;
use quflux_core::{
    Error, MediaFile, MediaId, MediaStore, Post, PostContent, PostFilter, PostId, PostStatus,
    PostStore, Result, UserId,
};

use super::SqliteStore;
use super::codec::{
    DbResultExt, cas_miss, from_json, opt_ts, parse, parse_ts, to_i64, to_json, to_u32, ts,
};

/// `SELECT <every post column> FROM posts <tail>`.
macro_rules! select_posts {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, content, status, version, created_at, updated_at FROM posts ",
            $tail
        )
    };
}

const GET_POST: &str = select_posts!("WHERE id = ?");

// Optional filters are `?n IS NULL OR ...`; numbered parameters let one value serve twice.
const LIST_POSTS: &str = select_posts!(
    "WHERE user_id = ?1 \
     AND (?2 IS NULL OR status = ?2) \
     AND (?3 IS NULL OR created_at >= ?3) \
     AND (?4 IS NULL OR created_at < ?4) \
     AND (?5 IS NULL OR instr(search_text, ?5) > 0) \
     ORDER BY created_at DESC, id DESC LIMIT ?6 OFFSET ?7"
);

const INSERT_POST: &str = "INSERT INTO posts \
    (id, user_id, content, search_text, status, version, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_POST: &str = "UPDATE posts SET content = ?, search_text = ?, status = ?, updated_at = ?, \
    version = version + 1 WHERE id = ? AND version = ? RETURNING version";

const DELETE_POST: &str = "DELETE FROM posts WHERE id = ?";

/// What `text_contains` searches: the base text, lowercased.
fn search_text(content: &PostContent) -> String {
    content.text.to_lowercase()
}

#[derive(sqlx::FromRow)]
struct PostRow {
    id: String,
    user_id: String,
    content: String,
    status: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

impl TryFrom<PostRow> for Post {
    type Error = Error;
    fn try_from(row: PostRow) -> Result<Self> {
        Ok(Post {
            id: parse(&row.id, "posts.id")?,
            user_id: parse(&row.user_id, "posts.user_id")?,
            content: from_json(&row.content, "posts.content")?,
            status: PostStatus::parse(&row.status)?,
            version: row.version,
            created_at: parse_ts(&row.created_at, "posts.created_at")?,
            updated_at: parse_ts(&row.updated_at, "posts.updated_at")?,
        })
    }
}

#[async_trait]
impl PostStore for SqliteStore {
    async fn insert_post(&self, post: &Post) -> Result<()> {
        sqlx::query(INSERT_POST)
            .bind(post.id.to_string())
            .bind(post.user_id.to_string())
            .bind(to_json(&post.content, "content")?)
            .bind(search_text(&post.content))
            .bind(post.status.as_str())
            .bind(post.version)
            .bind(ts(post.created_at))
            .bind(ts(post.updated_at))
            .execute(&self.pool)
            .await
            .db(&format!("post {}", post.id))?;
        Ok(())
    }

    async fn get_post(&self, id: PostId) -> Result<Post> {
        sqlx::query_as::<_, PostRow>(GET_POST)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("post")?
            .ok_or_else(|| Error::not_found(format!("post {id}")))?
            .try_into()
    }

    async fn update_post(&self, post: &Post) -> Result<i64> {
        let id = post.id.to_string();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_POST)
            .bind(to_json(&post.content, "content")?)
            .bind(search_text(&post.content))
            .bind(post.status.as_str())
            .bind(ts(post.updated_at))
            .bind(&id)
            .bind(post.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("post {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "posts", &id, "post").await),
        }
    }

    async fn delete_post(&self, id: PostId) -> Result<()> {
        let done = sqlx::query(DELETE_POST)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .db("post")?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("post {id}")));
        }
        Ok(())
    }

    async fn list_posts(&self, user_id: UserId, filter: &PostFilter) -> Result<Vec<Post>> {
        sqlx::query_as::<_, PostRow>(LIST_POSTS)
            .bind(user_id.to_string())
            .bind(filter.status.map(PostStatus::as_str))
            .bind(opt_ts(filter.created_from))
            .bind(opt_ts(filter.created_to))
            .bind(filter.text_contains.as_deref().map(str::to_lowercase))
            .bind(i64::from(filter.effective_limit()))
            .bind(i64::from(filter.offset.unwrap_or(0)))
            .fetch_all(&self.pool)
            .await
            .db("post")?
            .into_iter()
            .map(Post::try_from)
            .collect()
    }
}

/// `SELECT <every media column> FROM media_files <tail>`.
macro_rules! select_media {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, filename, content_type, size_bytes, storage_key, width, height, duration_secs, \
            ai_generated, created_at FROM media_files ",
            $tail
        )
    };
}

const GET_MEDIA: &str = select_media!("WHERE id = ?");
const LIST_MEDIA: &str = select_media!("WHERE user_id = ? ORDER BY created_at DESC, id DESC");

const INSERT_MEDIA: &str = "INSERT INTO media_files \
    (id, user_id, filename, content_type, size_bytes, storage_key, width, height, duration_secs, ai_generated, \
    created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const DELETE_MEDIA: &str = "DELETE FROM media_files WHERE id = ?";

#[derive(sqlx::FromRow)]
struct MediaRow {
    id: String,
    user_id: String,
    filename: String,
    content_type: String,
    size_bytes: i64,
    storage_key: String,
    width: Option<i64>,
    height: Option<i64>,
    duration_secs: Option<f64>,
    ai_generated: bool,
    created_at: String,
}

impl TryFrom<MediaRow> for MediaFile {
    type Error = Error;
    fn try_from(row: MediaRow) -> Result<Self> {
        Ok(MediaFile {
            id: parse(&row.id, "media_files.id")?,
            user_id: parse(&row.user_id, "media_files.user_id")?,
            filename: row.filename,
            content_type: row.content_type,
            size_bytes: u64::try_from(row.size_bytes).map_err(|e| {
                Error::other(super::BACKEND, format!("media_files.size_bytes: {e}"))
            })?,
            storage_key: row.storage_key,
            width: row
                .width
                .map(|w| to_u32(w, "media_files.width"))
                .transpose()?,
            height: row
                .height
                .map(|h| to_u32(h, "media_files.height"))
                .transpose()?,
            duration_secs: row.duration_secs,
            ai_generated: row.ai_generated,
            created_at: parse_ts(&row.created_at, "media_files.created_at")?,
        })
    }
}

#[async_trait]
impl MediaStore for SqliteStore {
    async fn insert_media(&self, media: &MediaFile) -> Result<()> {
        sqlx::query(INSERT_MEDIA)
            .bind(media.id.to_string())
            .bind(media.user_id.to_string())
            .bind(&media.filename)
            .bind(&media.content_type)
            .bind(to_i64(media.size_bytes, "size_bytes")?)
            .bind(&media.storage_key)
            .bind(media.width.map(i64::from))
            .bind(media.height.map(i64::from))
            .bind(media.duration_secs)
            .bind(media.ai_generated)
            .bind(ts(media.created_at))
            .execute(&self.pool)
            .await
            .db(&format!("media {}", media.id))?;
        Ok(())
    }

    async fn get_media(&self, id: MediaId) -> Result<MediaFile> {
        sqlx::query_as::<_, MediaRow>(GET_MEDIA)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("media")?
            .ok_or_else(|| Error::not_found(format!("media {id}")))?
            .try_into()
    }

    async fn list_media(&self, user_id: UserId) -> Result<Vec<MediaFile>> {
        sqlx::query_as::<_, MediaRow>(LIST_MEDIA)
            .bind(user_id.to_string())
            .fetch_all(&self.pool)
            .await
            .db("media")?
            .into_iter()
            .map(MediaFile::try_from)
            .collect()
    }

    async fn delete_media(&self, id: MediaId) -> Result<()> {
        let done = sqlx::query(DELETE_MEDIA)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .db("media")?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("media {id}")));
        }
        Ok(())
    }
}
