//! [`PostStore`] and [`MediaStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    Error, MediaFile, MediaId, MediaStore, Post, PostContent, PostFilter, PostId, PostStatus,
    PostStore, Result, UserId,
};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::PostgresStore;
use super::codec::{DbResultExt, cas_miss, corrupt, opt_ts, to_i64, to_u32, ts};
use super::inserter::GroupRow;

/// `SELECT <every post column> FROM posts <tail>`.
macro_rules! select_posts {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, content, status, version, created_at, updated_at FROM posts ",
            $tail
        )
    };
}

const GET_POST: &str = select_posts!("WHERE id = $1");

// Optional filters are `$n IS NULL OR ...`.
const LIST_POSTS: &str = select_posts!(
    "WHERE user_id = $1 \
     AND ($2::text IS NULL OR status = $2) \
     AND ($3::timestamptz IS NULL OR created_at >= $3) \
     AND ($4::timestamptz IS NULL OR created_at < $4) \
     AND ($5::text IS NULL OR strpos(search_text, $5) > 0) \
     ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"
);

/// Inserts the posts given as parallel arrays; the content arrives as JSON text.
const INSERT_POSTS: &str = "INSERT INTO posts \
    (id, user_id, content, search_text, status, version, created_at, updated_at) \
    SELECT id, user_id, content::jsonb, search_text, status, version, created_at, updated_at \
    FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int8[], \
        $7::timestamptz[], $8::timestamptz[]) \
    AS t (id, user_id, content, search_text, status, version, created_at, updated_at)";

const UPDATE_POST: &str = "UPDATE posts SET content = $1, search_text = $2, status = $3, updated_at = $4, \
    version = version + 1 WHERE id = $5 AND version = $6 RETURNING version";

const DELETE_POST: &str = "DELETE FROM posts WHERE id = $1";

/// What `text_contains` searches: the base text, lowercased.
fn search_text(content: &PostContent) -> String {
    content.text.to_lowercase()
}

/// A new post, encoded for the group insert: concurrent `insert_post` calls share one
/// statement and one commit (see `inserter.rs`).
#[derive(Debug)]
pub(super) struct PostInsert {
    id: Uuid,
    user_id: Uuid,
    content: String,
    search_text: String,
    status: &'static str,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PostInsert {
    fn new(post: &Post) -> Result<Self> {
        let content = serde_json::to_string(&post.content)
            .map_err(|e| Error::invalid_input("content", e.to_string()))?;
        Ok(Self {
            id: *post.id.as_uuid(),
            user_id: *post.user_id.as_uuid(),
            content,
            search_text: search_text(&post.content),
            status: post.status.as_str(),
            version: post.version,
            created_at: ts(post.created_at),
            updated_at: ts(post.updated_at),
        })
    }
}

impl GroupRow for PostInsert {
    fn what(rows: &[&Self]) -> String {
        match rows {
            [one] => format!("post {}", PostId::from_uuid(one.id)),
            _ => "posts".to_owned(),
        }
    }

    async fn insert(
        conn: &mut PgConnection,
        rows: &[&Self],
    ) -> std::result::Result<(), sqlx::Error> {
        sqlx::query(INSERT_POSTS)
            .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.content.as_str()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| r.search_text.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct PostRow {
    id: Uuid,
    user_id: Uuid,
    content: Json<PostContent>,
    status: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<PostRow> for Post {
    type Error = Error;
    fn try_from(row: PostRow) -> Result<Self> {
        Ok(Post {
            id: PostId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            content: row.content.0,
            status: PostStatus::parse(&row.status)?,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[async_trait]
impl PostStore for PostgresStore {
    async fn insert_post(&self, post: &Post) -> Result<()> {
        // Shares a statement and a commit with concurrent inserts.
        let row = PostInsert::new(post)?;
        self.post_inserter.insert(&self.pool, row).await
    }

    async fn get_post(&self, id: PostId) -> Result<Post> {
        sqlx::query_as::<_, PostRow>(GET_POST)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .db("post")?
            .ok_or_else(|| Error::not_found(format!("post {id}")))?
            .try_into()
    }

    async fn update_post(&self, post: &Post) -> Result<i64> {
        let id = *post.id.as_uuid();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_POST)
            .bind(Json(&post.content))
            .bind(search_text(&post.content))
            .bind(post.status.as_str())
            .bind(ts(post.updated_at))
            .bind(id)
            .bind(post.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("post {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "posts", id, "post").await),
        }
    }

    async fn delete_post(&self, id: PostId) -> Result<()> {
        let done = sqlx::query(DELETE_POST)
            .bind(id.as_uuid())
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
            .bind(user_id.as_uuid())
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

const GET_MEDIA: &str = select_media!("WHERE id = $1");
const LIST_MEDIA: &str = select_media!("WHERE user_id = $1 ORDER BY created_at DESC, id DESC");

const INSERT_MEDIA: &str = "INSERT INTO media_files \
    (id, user_id, filename, content_type, size_bytes, storage_key, width, height, duration_secs, ai_generated, \
    created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

const DELETE_MEDIA: &str = "DELETE FROM media_files WHERE id = $1";

#[derive(sqlx::FromRow)]
struct MediaRow {
    id: Uuid,
    user_id: Uuid,
    filename: String,
    content_type: String,
    size_bytes: i64,
    storage_key: String,
    width: Option<i64>,
    height: Option<i64>,
    duration_secs: Option<f64>,
    ai_generated: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<MediaRow> for MediaFile {
    type Error = Error;
    fn try_from(row: MediaRow) -> Result<Self> {
        Ok(MediaFile {
            id: MediaId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            filename: row.filename,
            content_type: row.content_type,
            size_bytes: u64::try_from(row.size_bytes)
                .map_err(|e| corrupt("media_files.size_bytes", e))?,
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
            created_at: row.created_at,
        })
    }
}

#[async_trait]
impl MediaStore for PostgresStore {
    async fn insert_media(&self, media: &MediaFile) -> Result<()> {
        sqlx::query(INSERT_MEDIA)
            .bind(media.id.as_uuid())
            .bind(media.user_id.as_uuid())
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
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .db("media")?
            .ok_or_else(|| Error::not_found(format!("media {id}")))?
            .try_into()
    }

    async fn list_media(&self, user_id: UserId) -> Result<Vec<MediaFile>> {
        sqlx::query_as::<_, MediaRow>(LIST_MEDIA)
            .bind(user_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .db("media")?
            .into_iter()
            .map(MediaFile::try_from)
            .collect()
    }

    async fn delete_media(&self, id: MediaId) -> Result<()> {
        let done = sqlx::query(DELETE_MEDIA)
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .db("media")?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("media {id}")));
        }
        Ok(())
    }
}
