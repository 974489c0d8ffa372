//! Scheduling posts: time zones, conflicts, daily caps, the calendar.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::posts::PostService;
use crate::rules;
use crate::time::{local_date, parse_time_zone, resolve_local, start_of_local_day, with_date};
use crate::{
    Clock, Error, JobQueue, NewJob, PUBLISHING_QUEUE, Platform, Post, PostId, PostStatus,
    PostStore, Publication, PublicationStatus, PublicationStore, Result, Schedule, ScheduleId,
    ScheduleStatus, ScheduleStore, UserId, Violation,
};

/// Job kind that publishes one schedule.
pub const PUBLISH_JOB: &str = "publish_schedule";

/// What to do when a schedule lands close to another post on the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Schedule it and report the conflicts.
    #[default]
    Warn,
    /// Refuse it with [`Error::Conflict`].
    Reject,
}

/// Scheduling settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SchedulingConfig {
    /// Two posts on the same account closer than this are a conflict.
    pub min_gap: Duration,
    /// What a conflict does.
    pub conflict_policy: ConflictPolicy,
    /// Refuse schedules beyond a platform's daily post cap (see [`rules::PlatformRules`]).
    pub enforce_daily_caps: bool,
    /// Failures after which a publishing job is dead-lettered (store outages, not platform errors).
    pub job_max_attempts: u32,
}

impl Default for SchedulingConfig {
    fn default() -> Self {
        Self {
            min_gap: Duration::from_secs(5 * 60),
            conflict_policy: ConflictPolicy::Warn,
            enforce_daily_caps: true,
            job_max_attempts: 25,
        }
    }
}

/// A request to schedule a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleRequest {
    /// The post.
    pub post_id: PostId,
    /// Wall-clock time, in `time_zone`.
    pub local_time: NaiveDateTime,
    /// IANA time zone name.
    pub time_zone: String,
    /// Target platforms.
    pub platforms: Vec<Platform>,
}

/// Changes to a schedule; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ScheduleUpdate {
    /// New wall-clock time.
    pub local_time: Option<NaiveDateTime>,
    /// New time zone (the wall-clock time is kept and re-resolved in it).
    pub time_zone: Option<String>,
    /// New target platforms.
    pub platforms: Option<Vec<Platform>>,
}

/// Another post on the same account too close to this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleConflict {
    /// The platform (account) shared.
    pub platform: Platform,
    /// The schedule being checked.
    pub schedule_id: ScheduleId,
    /// The other schedule.
    pub other_schedule_id: ScheduleId,
    /// The other schedule's post.
    pub other_post_id: PostId,
    /// When the other one is due.
    pub other_scheduled_at: DateTime<Utc>,
    /// Distance between the two, in seconds.
    pub gap_secs: i64,
}

/// A schedule with its publications and any conflicts found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scheduled {
    /// The schedule.
    pub schedule: Schedule,
    /// One publication per platform.
    pub publications: Vec<Publication>,
    /// Conflicts with other schedules (reported under [`ConflictPolicy::Warn`]).
    pub conflicts: Vec<ScheduleConflict>,
}

/// One schedule on a calendar day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarEntry {
    /// The schedule.
    pub schedule_id: ScheduleId,
    /// Its post.
    pub post_id: PostId,
    /// Due instant.
    pub scheduled_at: DateTime<Utc>,
    /// Due wall-clock time in the calendar's zone (no offset).
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = String,
            pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$",
            example = "2026-12-01T09:30:00"
        )
    )]
    pub local_time: NaiveDateTime,
    /// Targets.
    pub platforms: Vec<Platform>,
    /// State.
    pub status: ScheduleStatus,
    /// First 80 characters of the post text.
    pub preview: String,
}

/// One day of the calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarDay {
    /// The local date.
    pub date: NaiveDate,
    /// Its schedules, in time order.
    pub entries: Vec<CalendarEntry>,
}

/// Schedules posts and answers calendar questions.
#[derive(Debug, Clone)]
pub struct SchedulingService {
    posts: PostService,
    post_store: Arc<dyn PostStore>,
    schedules: Arc<dyn ScheduleStore>,
    publications: Arc<dyn PublicationStore>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    config: SchedulingConfig,
}

impl SchedulingService {
    /// A service over these stores.
    pub fn new(
        posts: PostService,
        post_store: Arc<dyn PostStore>,
        schedules: Arc<dyn ScheduleStore>,
        publications: Arc<dyn PublicationStore>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        config: SchedulingConfig,
    ) -> Self {
        Self {
            posts,
            post_store,
            schedules,
            publications,
            queue,
            clock,
            config,
        }
    }

    /// Schedules a post at a wall-clock time in a time zone.
    ///
    /// Nothing is written unless every check passes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown zone, no platforms or a time in the past;
    /// [`Error::NotFound`] for a post the user does not own; [`Error::Validation`] with every
    /// broken platform rule (including daily caps); [`Error::Conflict`] for conflicts under
    /// [`ConflictPolicy::Reject`].
    pub async fn schedule(&self, user_id: UserId, request: ScheduleRequest) -> Result<Scheduled> {
        let tz = parse_time_zone(&request.time_zone)?;
        let scheduled_at = resolve_local(request.local_time, tz);
        if scheduled_at <= self.clock.now() {
            return Err(Error::invalid_input(
                "local_time",
                format!(
                    "{} in {} ({}) is in the past",
                    request.local_time,
                    request.time_zone,
                    scheduled_at.to_rfc3339()
                ),
            ));
        }
        self.create(
            user_id,
            request.post_id,
            request.local_time,
            tz.name(),
            scheduled_at,
            request.platforms,
        )
        .await
    }

    /// Schedules a post for right now (publish now).
    pub async fn schedule_now(
        &self,
        user_id: UserId,
        post_id: PostId,
        platforms: Vec<Platform>,
    ) -> Result<Scheduled> {
        let now = self.clock.now();
        self.create(user_id, post_id, now.naive_utc(), "UTC", now, platforms)
            .await
    }

    async fn create(
        &self,
        user_id: UserId,
        post_id: PostId,
        local_time: NaiveDateTime,
        time_zone: &str,
        scheduled_at: DateTime<Utc>,
        platforms: Vec<Platform>,
    ) -> Result<Scheduled> {
        let platforms = dedup_platforms(platforms)?;
        let post = self.posts.get(user_id, post_id).await?;
        if post.status == PostStatus::Published {
            return Err(Error::invalid_input(
                "post_id",
                "the post is already published; duplicate it to post again",
            ));
        }
        self.validate_post(user_id, &post, &platforms).await?;
        let now = self.clock.now();
        let schedule = Schedule {
            id: ScheduleId::new(),
            post_id,
            user_id,
            scheduled_at,
            time_zone: time_zone.to_owned(),
            local_time,
            platforms: platforms.clone(),
            status: ScheduleStatus::Active,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let conflicts = self.check_account_limits(&schedule).await?;
        let publications: Vec<Publication> = platforms
            .iter()
            .map(|&p| Publication::pending(&schedule, p, now))
            .collect();
        // The job goes first: if we crash before the schedule is written, the job finds no
        // schedule and ends; the other order could leave a schedule that never publishes.
        self.enqueue(&schedule).await?;
        self.schedules
            .create_schedule(&schedule, &publications)
            .await?;
        self.set_post_status(post, PostStatus::Scheduled).await?;
        Ok(Scheduled {
            schedule,
            publications,
            conflicts,
        })
    }

    /// Loads one of the user's schedules.
    pub async fn get(&self, user_id: UserId, id: ScheduleId) -> Result<Schedule> {
        let s = self.schedules.get_schedule(id).await?;
        if s.user_id != user_id {
            return Err(Error::not_found(format!("schedule {id}")));
        }
        Ok(s)
    }

    /// A schedule with its publications.
    pub async fn get_with_publications(
        &self,
        user_id: UserId,
        id: ScheduleId,
    ) -> Result<(Schedule, Vec<Publication>)> {
        let s = self.get(user_id, id).await?;
        let pubs = self.publications.list_publications_for_schedule(id).await?;
        Ok((s, pubs))
    }

    /// Changes a schedule's time, zone or platforms while nothing has been sent yet.
    pub async fn update(
        &self,
        user_id: UserId,
        id: ScheduleId,
        update: ScheduleUpdate,
    ) -> Result<Scheduled> {
        let mut schedule = self.get(user_id, id).await?;
        if schedule.status != ScheduleStatus::Active {
            return Err(Error::invalid_input(
                "schedule",
                format!(
                    "is {}; only active schedules change",
                    schedule.status.as_str()
                ),
            ));
        }
        let mut pubs = self.publications.list_publications_for_schedule(id).await?;
        if pubs.iter().any(|p| {
            !matches!(
                p.status,
                PublicationStatus::Pending | PublicationStatus::Cancelled
            )
        }) {
            return Err(Error::conflict(format!(
                "schedule {id} (publishing has started)"
            )));
        }
        let tz = parse_time_zone(update.time_zone.as_deref().unwrap_or(&schedule.time_zone))?;
        let local_time = update.local_time.unwrap_or(schedule.local_time);
        let scheduled_at = resolve_local(local_time, tz);
        let now = self.clock.now();
        if scheduled_at <= now {
            return Err(Error::invalid_input(
                "local_time",
                format!("{local_time} in {} is in the past", tz.name()),
            ));
        }
        let platforms = match update.platforms {
            Some(p) => dedup_platforms(p)?,
            None => schedule.platforms.clone(),
        };
        let post = self.posts.get(user_id, schedule.post_id).await?;
        self.validate_post(user_id, &post, &platforms).await?;
        schedule.local_time = local_time;
        schedule.time_zone = tz.name().to_owned();
        schedule.scheduled_at = scheduled_at;
        schedule.platforms = platforms.clone();
        schedule.updated_at = now;
        let conflicts = self.check_account_limits(&schedule).await?;
        schedule.version = self.schedules.update_schedule(&schedule).await?;
        // Publications follow the platform list.
        for p in pubs.iter_mut() {
            let wanted = platforms.contains(&p.platform);
            let next = if wanted {
                PublicationStatus::Pending
            } else {
                PublicationStatus::Cancelled
            };
            if p.status != next {
                p.status = next;
                p.updated_at = now;
                p.version = self.publications.update_publication(p).await?;
            }
        }
        for &platform in &platforms {
            if !pubs.iter().any(|p| p.platform == platform) {
                let p = Publication::pending(&schedule, platform, now);
                self.publications.insert_publication(&p).await?;
                pubs.push(p);
            }
        }
        self.enqueue(&schedule).await?;
        Ok(Scheduled {
            schedule,
            publications: pubs,
            conflicts,
        })
    }

    /// Moves a schedule to another day, keeping its wall-clock time and zone (so 09:00 stays
    /// 09:00 across a DST change).
    pub async fn move_to_date(
        &self,
        user_id: UserId,
        id: ScheduleId,
        date: NaiveDate,
    ) -> Result<Scheduled> {
        let schedule = self.get(user_id, id).await?;
        let update = ScheduleUpdate {
            local_time: Some(with_date(schedule.local_time, date)),
            ..Default::default()
        };
        self.update(user_id, id, update).await
    }

    /// Cancels a schedule that has not started publishing.
    pub async fn cancel(&self, user_id: UserId, id: ScheduleId) -> Result<Schedule> {
        let mut schedule = self.get(user_id, id).await?;
        if schedule.status == ScheduleStatus::Cancelled {
            return Ok(schedule);
        }
        if schedule.status != ScheduleStatus::Active {
            return Err(Error::invalid_input(
                "schedule",
                "is completed; nothing to cancel",
            ));
        }
        let mut pubs = self.publications.list_publications_for_schedule(id).await?;
        if pubs.iter().any(|p| {
            matches!(
                p.status,
                PublicationStatus::Publishing | PublicationStatus::Unconfirmed
            )
        }) {
            return Err(Error::conflict(format!(
                "schedule {id} (a publication is in flight)"
            )));
        }
        let now = self.clock.now();
        schedule.status = ScheduleStatus::Cancelled;
        schedule.updated_at = now;
        schedule.version = self.schedules.update_schedule(&schedule).await?;
        for p in pubs
            .iter_mut()
            .filter(|p| p.status == PublicationStatus::Pending)
        {
            p.status = PublicationStatus::Cancelled;
            p.updated_at = now;
            p.version = self.publications.update_publication(p).await?;
        }
        if let Ok(post) = self.posts.get(user_id, schedule.post_id).await
            && post.status == PostStatus::Scheduled
        {
            self.set_post_status(post, PostStatus::Draft).await?;
        }
        Ok(schedule)
    }

    /// The user's schedules due in `[from, to)`.
    pub async fn list(
        &self,
        user_id: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Schedule>> {
        check_range(from, to)?;
        self.schedules.list_schedules(user_id, from, to).await
    }

    /// The user's schedules from local date `from` to `to` (inclusive), grouped by day in
    /// `time_zone`. Days without schedules are included, so the result is a full calendar.
    pub async fn calendar(
        &self,
        user_id: UserId,
        from: NaiveDate,
        to: NaiveDate,
        time_zone: &str,
    ) -> Result<Vec<CalendarDay>> {
        let tz = parse_time_zone(time_zone)?;
        if from > to {
            return Err(Error::invalid_input("from", "must not be after to"));
        }
        if (to - from).num_days() > 366 {
            return Err(Error::invalid_input(
                "to",
                "a calendar spans at most 366 days",
            ));
        }
        let start = start_of_local_day(from, tz);
        let end = start_of_local_day(to.succ_opt().unwrap_or(to), tz);
        let schedules = self.schedules.list_schedules(user_id, start, end).await?;
        let mut days: BTreeMap<NaiveDate, Vec<CalendarEntry>> = BTreeMap::new();
        let mut d = from;
        while d <= to {
            days.insert(d, Vec::new());
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        let mut previews: BTreeMap<PostId, String> = BTreeMap::new();
        for s in schedules {
            let preview = match previews.get(&s.post_id) {
                Some(p) => p.clone(),
                None => {
                    let p = match self.post_store.get_post(s.post_id).await {
                        Ok(post) => post.content.text.chars().take(80).collect(),
                        Err(Error::NotFound { .. }) => String::new(),
                        Err(e) => return Err(e),
                    };
                    previews.insert(s.post_id, p.clone());
                    p
                }
            };
            let local = s.scheduled_at.with_timezone(&tz);
            days.entry(local_date(s.scheduled_at, tz))
                .or_default()
                .push(CalendarEntry {
                    schedule_id: s.id,
                    post_id: s.post_id,
                    scheduled_at: s.scheduled_at,
                    local_time: local.naive_local(),
                    platforms: s.platforms,
                    status: s.status,
                    preview,
                });
        }
        Ok(days
            .into_iter()
            .map(|(date, mut entries)| {
                entries.sort_by_key(|e| e.scheduled_at);
                CalendarDay { date, entries }
            })
            .collect())
    }

    /// Every pair of active schedules due in `[from, to)` that share a platform and are closer
    /// than the configured gap.
    pub async fn conflicts(
        &self,
        user_id: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScheduleConflict>> {
        check_range(from, to)?;
        let gap = chrono::Duration::from_std(self.config.min_gap).unwrap_or_default();
        let all = self
            .schedules
            .list_schedules(user_id, from - gap, to + gap)
            .await?;
        let active: Vec<&Schedule> = all
            .iter()
            .filter(|s| s.status == ScheduleStatus::Active)
            .collect();
        let mut out = Vec::new();
        for (i, a) in active.iter().enumerate() {
            if a.scheduled_at < from || a.scheduled_at >= to {
                continue;
            }
            for b in active.iter().skip(i + 1) {
                out.extend(conflicts_between(a, b, gap));
            }
        }
        Ok(out)
    }

    async fn validate_post(
        &self,
        user_id: UserId,
        post: &Post,
        platforms: &[Platform],
    ) -> Result<()> {
        let media = self.posts.media_for(user_id, &post.content).await?;
        rules::validate_for(platforms, &post.content, &media)
    }

    /// Conflicts within the gap and daily caps for `schedule`'s accounts.
    async fn check_account_limits(&self, schedule: &Schedule) -> Result<Vec<ScheduleConflict>> {
        let gap = chrono::Duration::from_std(self.config.min_gap).unwrap_or_default();
        let mut conflicts = Vec::new();
        if gap > chrono::Duration::zero() {
            let near = self
                .active_others(
                    schedule,
                    schedule.scheduled_at - gap,
                    schedule.scheduled_at + gap,
                )
                .await?;
            for other in &near {
                conflicts.extend(conflicts_between(schedule, other, gap));
            }
        }
        let capped: Vec<(Platform, u32)> = schedule
            .platforms
            .iter()
            .filter_map(|&p| rules::rules_for(p).daily_post_cap.map(|cap| (p, cap)))
            .collect();
        if self.config.enforce_daily_caps && !capped.is_empty() {
            let tz = parse_time_zone(&schedule.time_zone)?;
            let date = local_date(schedule.scheduled_at, tz);
            let day_start = start_of_local_day(date, tz);
            let day_end = start_of_local_day(date.succ_opt().unwrap_or(date), tz);
            // An update re-checks a schedule that may already be counted at its old time.
            let stored = match self.schedules.get_schedule(schedule.id).await {
                Ok(s) => Some(s),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let mut violations = Vec::new();
            for (platform, cap) in capped {
                let mut count = self
                    .schedules
                    .count_active_schedules(schedule.user_id, platform, day_start, day_end)
                    .await?;
                if stored.as_ref().is_some_and(|s| {
                    s.status == ScheduleStatus::Active
                        && s.platforms.contains(&platform)
                        && s.scheduled_at >= day_start
                        && s.scheduled_at < day_end
                }) {
                    count = count.saturating_sub(1);
                }
                if count + 1 > u64::from(cap) {
                    violations.push(Violation {
                        rule: format!("{platform}.schedule.daily_cap"),
                        message: format!(
                            "{platform} allows {cap} posts per account per day; {date} ({}) already has {count}",
                            tz.name()
                        ),
                    });
                }
            }
            if !violations.is_empty() {
                return Err(Error::Validation { violations });
            }
        }
        if self.config.conflict_policy == ConflictPolicy::Reject && !conflicts.is_empty() {
            return Err(Error::conflict(format!(
                "schedule (another post on {} is due within {} seconds)",
                conflicts[0].platform,
                self.config.min_gap.as_secs()
            )));
        }
        Ok(conflicts)
    }

    async fn active_others(
        &self,
        schedule: &Schedule,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Schedule>> {
        Ok(self
            .schedules
            .list_schedules(schedule.user_id, from, to)
            .await?
            .into_iter()
            .filter(|s| s.id != schedule.id && s.status == ScheduleStatus::Active)
            .collect())
    }

    async fn enqueue(&self, schedule: &Schedule) -> Result<()> {
        let job = NewJob::new(
            PUBLISHING_QUEUE,
            PUBLISH_JOB,
            serde_json::json!({ "schedule_id": schedule.id }),
            self.clock.now(),
        )
        .with_run_at(schedule.scheduled_at)
        .with_max_attempts(self.config.job_max_attempts)
        .with_unique_key(publish_job_key(schedule.id));
        self.queue.enqueue(job).await.map(|_| ())
    }

    async fn set_post_status(&self, mut post: Post, status: PostStatus) -> Result<()> {
        if post.status == status {
            return Ok(());
        }
        for _ in 0..3 {
            post.status = status;
            post.updated_at = self.clock.now();
            match self.post_store.update_post(&post).await {
                Ok(_) => return Ok(()),
                Err(Error::Conflict { .. }) => post = self.post_store.get_post(post.id).await?,
                Err(e) => return Err(e),
            }
        }
        Err(Error::conflict(format!("post {}", post.id)))
    }
}

/// The unique job key of a schedule's publishing job.
pub fn publish_job_key(id: ScheduleId) -> String {
    format!("schedule:{id}")
}

fn dedup_platforms(platforms: Vec<Platform>) -> Result<Vec<Platform>> {
    let mut out: Vec<Platform> = Vec::with_capacity(platforms.len());
    for p in platforms {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(Error::invalid_input(
            "platforms",
            "name at least one platform",
        ));
    }
    Ok(out)
}

fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<()> {
    if from >= to {
        return Err(Error::invalid_input("from", "must be before to"));
    }
    Ok(())
}

fn conflicts_between(a: &Schedule, b: &Schedule, gap: chrono::Duration) -> Vec<ScheduleConflict> {
    let distance = (a.scheduled_at - b.scheduled_at).abs();
    if distance >= gap {
        return Vec::new();
    }
    a.platforms
        .iter()
        .filter(|p| b.platforms.contains(p))
        .map(|&platform| ScheduleConflict {
            platform,
            schedule_id: a.id,
            other_schedule_id: b.id,
            other_post_id: b.post_id,
            other_scheduled_at: b.scheduled_at,
            gap_secs: distance.num_seconds(),
        })
        .collect()
}
