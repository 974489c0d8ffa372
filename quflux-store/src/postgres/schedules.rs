//! [`ScheduleStore`] and [`PublicationStore`].

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use quflux_core::{
    Attempt, ConnectionId, Error, ErrorKind, Platform, PlatformPostId, PostId, Publication,
    PublicationFilter, PublicationId, PublicationStatus, PublicationStore, Result, Schedule,
    ScheduleId, ScheduleStatus, ScheduleStore, UserId,
};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use super::PostgresStore;
use super::codec::{DbResultExt, cas_miss, local_ts, opt_ts, parse, to_u32, ts};

/// `SELECT <every schedule column> FROM schedules <tail>`.
macro_rules! select_schedules {
    ($tail:literal) => {
        concat!(
            "SELECT id, post_id, user_id, scheduled_at, time_zone, local_time, platforms, status, version, \
            created_at, updated_at FROM schedules ",
            $tail
        )
    };
}

const GET_SCHEDULE: &str = select_schedules!("WHERE id = $1");
const LIST_SCHEDULES: &str = select_schedules!(
    "WHERE user_id = $1 AND scheduled_at >= $2 AND scheduled_at < $3 ORDER BY scheduled_at, id"
);
/// `platforms` is a `text[]`: containment of the one-element array is the membership test.
const COUNT_ACTIVE_SCHEDULES: &str = "SELECT count(*) FROM schedules \
    WHERE user_id = $1 AND status = 'active' AND scheduled_at >= $2 AND scheduled_at < $3 \
    AND platforms @> ARRAY[$4::text]";
const LIST_DUE_SCHEDULES: &str = select_schedules!(
    "WHERE status = 'active' AND scheduled_at < $1 ORDER BY scheduled_at, id LIMIT $2"
);

const INSERT_SCHEDULE: &str = "INSERT INTO schedules \
    (id, post_id, user_id, scheduled_at, time_zone, local_time, platforms, status, version, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

const UPDATE_SCHEDULE: &str = "UPDATE schedules SET scheduled_at = $1, time_zone = $2, local_time = $3, \
    platforms = $4, status = $5, updated_at = $6, version = version + 1 \
    WHERE id = $7 AND version = $8 RETURNING version";

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: Uuid,
    post_id: Uuid,
    user_id: Uuid,
    scheduled_at: DateTime<Utc>,
    time_zone: String,
    local_time: NaiveDateTime,
    platforms: Vec<String>,
    status: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = Error;
    fn try_from(row: ScheduleRow) -> Result<Self> {
        Ok(Schedule {
            id: ScheduleId::from_uuid(row.id),
            post_id: PostId::from_uuid(row.post_id),
            user_id: UserId::from_uuid(row.user_id),
            scheduled_at: row.scheduled_at,
            time_zone: row.time_zone,
            local_time: row.local_time,
            platforms: row
                .platforms
                .iter()
                .map(|p| parse::<Platform>(p, "schedules.platforms"))
                .collect::<Result<_>>()?,
            status: ScheduleStatus::parse(&row.status)?,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn platform_names(platforms: &[Platform]) -> Vec<&'static str> {
    platforms.iter().map(|p| p.as_str()).collect()
}

/// `SELECT <every publication column> FROM publications <tail>`.
macro_rules! select_publications {
    ($tail:literal) => {
        concat!(
            "SELECT id, schedule_id, post_id, user_id, platform, connection_id, status, idempotency_key, \
            platform_post_id, url, thread_ids, attempts, manual_retries, last_error_kind, last_error, published_at, \
            version, created_at, updated_at FROM publications ",
            $tail
        )
    };
}

const GET_PUBLICATION: &str = select_publications!("WHERE id = $1");
const LIST_SCHEDULE_PUBLICATIONS: &str =
    select_publications!("WHERE schedule_id = $1 ORDER BY platform COLLATE \"C\", id");
const LIST_PUBLICATIONS: &str = select_publications!(
    "WHERE user_id = $1 \
     AND ($2::text IS NULL OR status = $2) \
     AND ($3::text IS NULL OR platform = $3) \
     AND ($4::uuid IS NULL OR schedule_id = $4) \
     ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
);

const INSERT_PUBLICATION: &str = "INSERT INTO publications \
    (id, schedule_id, post_id, user_id, platform, connection_id, status, idempotency_key, platform_post_id, url, \
    thread_ids, attempts, manual_retries, last_error_kind, last_error, published_at, version, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

const UPDATE_PUBLICATION: &str = "UPDATE publications SET connection_id = $1, status = $2, idempotency_key = $3, \
    platform_post_id = $4, url = $5, thread_ids = $6, attempts = $7, manual_retries = $8, last_error_kind = $9, \
    last_error = $10, published_at = $11, updated_at = $12, version = version + 1 \
    WHERE id = $13 AND version = $14 RETURNING version";

#[derive(sqlx::FromRow)]
struct PublicationRow {
    id: Uuid,
    schedule_id: Uuid,
    post_id: Uuid,
    user_id: Uuid,
    platform: String,
    connection_id: Option<Uuid>,
    status: String,
    idempotency_key: String,
    platform_post_id: Option<String>,
    url: Option<String>,
    thread_ids: Vec<String>,
    attempts: Json<Vec<Attempt>>,
    manual_retries: i64,
    last_error_kind: Option<String>,
    last_error: Option<String>,
    published_at: Option<DateTime<Utc>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<PublicationRow> for Publication {
    type Error = Error;
    fn try_from(row: PublicationRow) -> Result<Self> {
        Ok(Publication {
            id: PublicationId::from_uuid(row.id),
            schedule_id: ScheduleId::from_uuid(row.schedule_id),
            post_id: PostId::from_uuid(row.post_id),
            user_id: UserId::from_uuid(row.user_id),
            platform: parse::<Platform>(&row.platform, "publications.platform")?,
            connection_id: row.connection_id.map(ConnectionId::from_uuid),
            status: PublicationStatus::parse(&row.status)?,
            idempotency_key: row.idempotency_key,
            platform_post_id: row.platform_post_id.map(PlatformPostId::new),
            url: row.url,
            thread_ids: row
                .thread_ids
                .into_iter()
                .map(PlatformPostId::new)
                .collect(),
            attempts: row.attempts.0,
            manual_retries: to_u32(row.manual_retries, "publications.manual_retries")?,
            last_error_kind: row.last_error_kind.as_deref().map(ErrorKind::parse),
            last_error: row.last_error,
            published_at: row.published_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn thread_ids(p: &Publication) -> Vec<&str> {
    p.thread_ids.iter().map(PlatformPostId::as_str).collect()
}

/// Inserts one publication with `executor` (the pool, or a transaction).
async fn insert_publication<'e>(executor: impl PgExecutor<'e>, p: &Publication) -> Result<()> {
    sqlx::query(INSERT_PUBLICATION)
        .bind(p.id.as_uuid())
        .bind(p.schedule_id.as_uuid())
        .bind(p.post_id.as_uuid())
        .bind(p.user_id.as_uuid())
        .bind(p.platform.as_str())
        .bind(p.connection_id.map(Uuid::from))
        .bind(p.status.as_str())
        .bind(&p.idempotency_key)
        .bind(p.platform_post_id.as_ref().map(PlatformPostId::as_str))
        .bind(&p.url)
        .bind(thread_ids(p))
        .bind(Json(&p.attempts))
        .bind(i64::from(p.manual_retries))
        .bind(p.last_error_kind.map(ErrorKind::as_str))
        .bind(&p.last_error)
        .bind(opt_ts(p.published_at))
        .bind(p.version)
        .bind(ts(p.created_at))
        .bind(ts(p.updated_at))
        .execute(executor)
        .await
        .db(&format!(
            "{} publication of schedule {}",
            p.platform, p.schedule_id
        ))?;
    Ok(())
}

#[async_trait]
impl ScheduleStore for PostgresStore {
    async fn create_schedule(
        &self,
        schedule: &Schedule,
        publications: &[Publication],
    ) -> Result<()> {
        if let Some(p) = publications.iter().find(|p| p.schedule_id != schedule.id) {
            return Err(Error::invalid_input(
                "publications",
                format!(
                    "publication {} belongs to schedule {}, not {}",
                    p.id, p.schedule_id, schedule.id
                ),
            ));
        }
        let what = format!("schedule {}", schedule.id);
        let mut tx = self.pool.begin().await.db(&what)?;
        sqlx::query(INSERT_SCHEDULE)
            .bind(schedule.id.as_uuid())
            .bind(schedule.post_id.as_uuid())
            .bind(schedule.user_id.as_uuid())
            .bind(ts(schedule.scheduled_at))
            .bind(&schedule.time_zone)
            .bind(local_ts(schedule.local_time))
            .bind(platform_names(&schedule.platforms))
            .bind(schedule.status.as_str())
            .bind(schedule.version)
            .bind(ts(schedule.created_at))
            .bind(ts(schedule.updated_at))
            .execute(&mut *tx)
            .await
            .db(&what)?;
        for publication in publications {
            insert_publication(&mut *tx, publication).await?;
        }
        // Dropping `tx` on any error above rolls everything back.
        tx.commit().await.db(&what)
    }

    async fn get_schedule(&self, id: ScheduleId) -> Result<Schedule> {
        sqlx::query_as::<_, ScheduleRow>(GET_SCHEDULE)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .db("schedule")?
            .ok_or_else(|| Error::not_found(format!("schedule {id}")))?
            .try_into()
    }

    async fn update_schedule(&self, schedule: &Schedule) -> Result<i64> {
        let id = *schedule.id.as_uuid();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_SCHEDULE)
            .bind(ts(schedule.scheduled_at))
            .bind(&schedule.time_zone)
            .bind(local_ts(schedule.local_time))
            .bind(platform_names(&schedule.platforms))
            .bind(schedule.status.as_str())
            .bind(ts(schedule.updated_at))
            .bind(id)
            .bind(schedule.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("schedule {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "schedules", id, "schedule").await),
        }
    }

    async fn list_schedules(
        &self,
        user_id: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Schedule>> {
        sqlx::query_as::<_, ScheduleRow>(LIST_SCHEDULES)
            .bind(user_id.as_uuid())
            .bind(ts(from))
            .bind(ts(to))
            .fetch_all(&self.pool)
            .await
            .db("schedule")?
            .into_iter()
            .map(Schedule::try_from)
            .collect()
    }

    async fn count_active_schedules(
        &self,
        user_id: UserId,
        platform: Platform,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(COUNT_ACTIVE_SCHEDULES)
            .bind(user_id.as_uuid())
            .bind(ts(from))
            .bind(ts(to))
            .bind(platform.as_str())
            .fetch_one(&self.pool)
            .await
            .db("schedule")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn list_due_schedules(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Schedule>> {
        sqlx::query_as::<_, ScheduleRow>(LIST_DUE_SCHEDULES)
            .bind(ts(before))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .db("schedule")?
            .into_iter()
            .map(Schedule::try_from)
            .collect()
    }
}

#[async_trait]
impl PublicationStore for PostgresStore {
    async fn insert_publication(&self, publication: &Publication) -> Result<()> {
        insert_publication(&self.pool, publication).await
    }

    async fn get_publication(&self, id: PublicationId) -> Result<Publication> {
        sqlx::query_as::<_, PublicationRow>(GET_PUBLICATION)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .db("publication")?
            .ok_or_else(|| Error::not_found(format!("publication {id}")))?
            .try_into()
    }

    async fn update_publication(&self, p: &Publication) -> Result<i64> {
        let id = *p.id.as_uuid();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_PUBLICATION)
            .bind(p.connection_id.map(Uuid::from))
            .bind(p.status.as_str())
            .bind(&p.idempotency_key)
            .bind(p.platform_post_id.as_ref().map(PlatformPostId::as_str))
            .bind(&p.url)
            .bind(thread_ids(p))
            .bind(Json(&p.attempts))
            .bind(i64::from(p.manual_retries))
            .bind(p.last_error_kind.map(ErrorKind::as_str))
            .bind(&p.last_error)
            .bind(opt_ts(p.published_at))
            .bind(ts(p.updated_at))
            .bind(id)
            .bind(p.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("publication {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "publications", id, "publication").await),
        }
    }

    async fn list_publications_for_schedule(
        &self,
        schedule_id: ScheduleId,
    ) -> Result<Vec<Publication>> {
        // Ordered by the platforms' ids in byte order (`bluesky` < `facebook` < ...), whatever
        // the database's collation, then by id.
        sqlx::query_as::<_, PublicationRow>(LIST_SCHEDULE_PUBLICATIONS)
            .bind(schedule_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .db("publication")?
            .into_iter()
            .map(Publication::try_from)
            .collect()
    }

    async fn list_publications(
        &self,
        user_id: UserId,
        filter: &PublicationFilter,
    ) -> Result<Vec<Publication>> {
        sqlx::query_as::<_, PublicationRow>(LIST_PUBLICATIONS)
            .bind(user_id.as_uuid())
            .bind(filter.status.map(PublicationStatus::as_str))
            .bind(filter.platform.map(Platform::as_str))
            .bind(filter.schedule_id.map(Uuid::from))
            .bind(i64::from(filter.effective_limit()))
            .bind(i64::from(filter.offset.unwrap_or(0)))
            .fetch_all(&self.pool)
            .await
            .db("publication")?
            .into_iter()
            .map(Publication::try_from)
            .collect()
    }
}
