//! [`ScheduleStore`] and [`PublicationStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quflux_core::{
    Error, ErrorKind, Platform, PlatformPostId, Publication, PublicationFilter, PublicationId,
    PublicationStatus, PublicationStore, Result, Schedule, ScheduleId, ScheduleStatus,
    ScheduleStore, UserId,
};
use sqlx::SqliteExecutor;

use super::SqliteStore;
use super::codec::{
    DbResultExt, cas_miss, from_json, local_time, opt_ts, parse, parse_local_time, parse_opt_ts,
    parse_ts, to_json, to_u32, ts,
};

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

const GET_SCHEDULE: &str = select_schedules!("WHERE id = ?");
const LIST_SCHEDULES: &str = select_schedules!(
    "WHERE user_id = ? AND scheduled_at >= ? AND scheduled_at < ? ORDER BY scheduled_at, id"
);
const COUNT_ACTIVE_SCHEDULES: &str = "SELECT COUNT(*) FROM schedules \
    WHERE user_id = ? AND status = 'active' AND scheduled_at >= ? AND scheduled_at < ? \
    AND EXISTS (SELECT 1 FROM json_each(schedules.platforms) WHERE json_each.value = ?)";
const LIST_DUE_SCHEDULES: &str = select_schedules!(
    "WHERE status = 'active' AND scheduled_at < ? ORDER BY scheduled_at, id LIMIT ?"
);

const INSERT_SCHEDULE: &str = "INSERT INTO schedules \
    (id, post_id, user_id, scheduled_at, time_zone, local_time, platforms, status, version, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_SCHEDULE: &str = "UPDATE schedules SET scheduled_at = ?, time_zone = ?, local_time = ?, platforms = ?, \
    status = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ? RETURNING version";

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: String,
    post_id: String,
    user_id: String,
    scheduled_at: String,
    time_zone: String,
    local_time: String,
    platforms: String,
    status: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = Error;
    fn try_from(row: ScheduleRow) -> Result<Self> {
        Ok(Schedule {
            id: parse(&row.id, "schedules.id")?,
            post_id: parse(&row.post_id, "schedules.post_id")?,
            user_id: parse(&row.user_id, "schedules.user_id")?,
            scheduled_at: parse_ts(&row.scheduled_at, "schedules.scheduled_at")?,
            time_zone: row.time_zone,
            local_time: parse_local_time(&row.local_time, "schedules.local_time")?,
            platforms: from_json(&row.platforms, "schedules.platforms")?,
            status: ScheduleStatus::parse(&row.status)?,
            version: row.version,
            created_at: parse_ts(&row.created_at, "schedules.created_at")?,
            updated_at: parse_ts(&row.updated_at, "schedules.updated_at")?,
        })
    }
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

const GET_PUBLICATION: &str = select_publications!("WHERE id = ?");
const LIST_SCHEDULE_PUBLICATIONS: &str =
    select_publications!("WHERE schedule_id = ? ORDER BY platform, id");
const LIST_PUBLICATIONS: &str = select_publications!(
    "WHERE user_id = ?1 \
     AND (?2 IS NULL OR status = ?2) \
     AND (?3 IS NULL OR platform = ?3) \
     AND (?4 IS NULL OR schedule_id = ?4) \
     ORDER BY created_at DESC, id DESC LIMIT ?5 OFFSET ?6"
);

const INSERT_PUBLICATION: &str = "INSERT INTO publications \
    (id, schedule_id, post_id, user_id, platform, connection_id, status, idempotency_key, platform_post_id, url, \
    thread_ids, attempts, manual_retries, last_error_kind, last_error, published_at, version, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_PUBLICATION: &str = "UPDATE publications SET connection_id = ?, status = ?, idempotency_key = ?, \
    platform_post_id = ?, url = ?, thread_ids = ?, attempts = ?, manual_retries = ?, last_error_kind = ?, \
    last_error = ?, published_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ? RETURNING version";

#[derive(sqlx::FromRow)]
struct PublicationRow {
    id: String,
    schedule_id: String,
    post_id: String,
    user_id: String,
    platform: String,
    connection_id: Option<String>,
    status: String,
    idempotency_key: String,
    platform_post_id: Option<String>,
    url: Option<String>,
    thread_ids: String,
    attempts: String,
    manual_retries: i64,
    last_error_kind: Option<String>,
    last_error: Option<String>,
    published_at: Option<String>,
    version: i64,
    created_at: String,
    updated_at: String,
}

impl TryFrom<PublicationRow> for Publication {
    type Error = Error;
    fn try_from(row: PublicationRow) -> Result<Self> {
        Ok(Publication {
            id: parse(&row.id, "publications.id")?,
            schedule_id: parse(&row.schedule_id, "publications.schedule_id")?,
            post_id: parse(&row.post_id, "publications.post_id")?,
            user_id: parse(&row.user_id, "publications.user_id")?,
            platform: parse::<Platform>(&row.platform, "publications.platform")?,
            connection_id: row
                .connection_id
                .as_deref()
                .map(|c| parse(c, "publications.connection_id"))
                .transpose()?,
            status: PublicationStatus::parse(&row.status)?,
            idempotency_key: row.idempotency_key,
            platform_post_id: row.platform_post_id.map(PlatformPostId::new),
            url: row.url,
            thread_ids: from_json(&row.thread_ids, "publications.thread_ids")?,
            attempts: from_json(&row.attempts, "publications.attempts")?,
            manual_retries: to_u32(row.manual_retries, "publications.manual_retries")?,
            last_error_kind: row.last_error_kind.as_deref().map(ErrorKind::parse),
            last_error: row.last_error,
            published_at: parse_opt_ts(row.published_at.as_deref(), "publications.published_at")?,
            version: row.version,
            created_at: parse_ts(&row.created_at, "publications.created_at")?,
            updated_at: parse_ts(&row.updated_at, "publications.updated_at")?,
        })
    }
}

/// Inserts one publication with `executor` (the pool, or a transaction).
async fn insert_publication<'e>(executor: impl SqliteExecutor<'e>, p: &Publication) -> Result<()> {
    sqlx::query(INSERT_PUBLICATION)
        .bind(p.id.to_string())
        .bind(p.schedule_id.to_string())
        .bind(p.post_id.to_string())
        .bind(p.user_id.to_string())
        .bind(p.platform.as_str())
        .bind(p.connection_id.map(|c| c.to_string()))
        .bind(p.status.as_str())
        .bind(&p.idempotency_key)
        .bind(p.platform_post_id.as_ref().map(PlatformPostId::as_str))
        .bind(&p.url)
        .bind(to_json(&p.thread_ids, "thread_ids")?)
        .bind(to_json(&p.attempts, "attempts")?)
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
impl ScheduleStore for SqliteStore {
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
        let mut tx = self.begin_immediate(&what).await?;
        sqlx::query(INSERT_SCHEDULE)
            .bind(schedule.id.to_string())
            .bind(schedule.post_id.to_string())
            .bind(schedule.user_id.to_string())
            .bind(ts(schedule.scheduled_at))
            .bind(&schedule.time_zone)
            .bind(local_time(schedule.local_time))
            .bind(to_json(&schedule.platforms, "platforms")?)
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
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("schedule")?
            .ok_or_else(|| Error::not_found(format!("schedule {id}")))?
            .try_into()
    }

    async fn update_schedule(&self, schedule: &Schedule) -> Result<i64> {
        let id = schedule.id.to_string();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_SCHEDULE)
            .bind(ts(schedule.scheduled_at))
            .bind(&schedule.time_zone)
            .bind(local_time(schedule.local_time))
            .bind(to_json(&schedule.platforms, "platforms")?)
            .bind(schedule.status.as_str())
            .bind(ts(schedule.updated_at))
            .bind(&id)
            .bind(schedule.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("schedule {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "schedules", &id, "schedule").await),
        }
    }

    async fn list_schedules(
        &self,
        user_id: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Schedule>> {
        sqlx::query_as::<_, ScheduleRow>(LIST_SCHEDULES)
            .bind(user_id.to_string())
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
            .bind(user_id.to_string())
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
impl PublicationStore for SqliteStore {
    async fn insert_publication(&self, publication: &Publication) -> Result<()> {
        insert_publication(&self.pool, publication).await
    }

    async fn get_publication(&self, id: PublicationId) -> Result<Publication> {
        sqlx::query_as::<_, PublicationRow>(GET_PUBLICATION)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db("publication")?
            .ok_or_else(|| Error::not_found(format!("publication {id}")))?
            .try_into()
    }

    async fn update_publication(&self, p: &Publication) -> Result<i64> {
        let id = p.id.to_string();
        let version = sqlx::query_scalar::<_, i64>(UPDATE_PUBLICATION)
            .bind(p.connection_id.map(|c| c.to_string()))
            .bind(p.status.as_str())
            .bind(&p.idempotency_key)
            .bind(p.platform_post_id.as_ref().map(PlatformPostId::as_str))
            .bind(&p.url)
            .bind(to_json(&p.thread_ids, "thread_ids")?)
            .bind(to_json(&p.attempts, "attempts")?)
            .bind(i64::from(p.manual_retries))
            .bind(p.last_error_kind.map(ErrorKind::as_str))
            .bind(&p.last_error)
            .bind(opt_ts(p.published_at))
            .bind(ts(p.updated_at))
            .bind(&id)
            .bind(p.version)
            .fetch_optional(&self.pool)
            .await
            .db(&format!("publication {id}"))?;
        match version {
            Some(v) => Ok(v),
            None => Err(cas_miss(&self.pool, "publications", &id, "publication").await),
        }
    }

    async fn list_publications_for_schedule(
        &self,
        schedule_id: ScheduleId,
    ) -> Result<Vec<Publication>> {
        // Ordered by the platforms' ids (`bluesky` < `facebook` < ...), then by id.
        sqlx::query_as::<_, PublicationRow>(LIST_SCHEDULE_PUBLICATIONS)
            .bind(schedule_id.to_string())
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
            .bind(user_id.to_string())
            .bind(filter.status.map(PublicationStatus::as_str))
            .bind(filter.platform.map(Platform::as_str))
            .bind(filter.schedule_id.map(|s| s.to_string()))
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
