//! Conformance suite for [`ScheduleStore`].

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::fixtures::{now, post_for, publications_for, schedule_for, user};
use super::{Must, expect_kind, expect_kinds};
use crate::{
    ErrorKind, Platform, Post, PostStore, Publication, PublicationStore, Schedule, ScheduleId,
    ScheduleStatus, ScheduleStore, UserStore,
};

/// Every [`ScheduleStore`] must pass these; `users` and `posts` store the owners and posts and
/// `publications` reads back what `create_schedule` wrote (all the same backend). Scenarios use
/// fresh users, so the stores may be reused.
pub async fn run_all(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    create_then_get_roundtrips_with_publications(users, posts, schedules, publications).await;
    create_schedule_is_atomic(users, posts, schedules, publications).await;
    missing_schedule_is_not_found(schedules).await;
    update_bumps_version_and_stores_fields(users, posts, schedules).await;
    stale_version_update_is_conflict_and_changes_nothing(users, posts, schedules).await;
    update_of_missing_schedule_fails(users, posts, schedules).await;
    list_schedules_is_half_open_and_ordered(users, posts, schedules).await;
    count_active_schedules_counts_only_active_ones_on_the_platform(users, posts, schedules).await;
    list_due_schedules_returns_active_ones_oldest_first(users, posts, schedules).await;
}

/// A stored user and one stored post of theirs.
pub(crate) async fn new_post(users: &dyn UserStore, posts: &dyn PostStore) -> Post {
    let user = user();
    users
        .insert_user(&user)
        .await
        .must("insert the schedule owner");
    let post = post_for(user.id);
    posts
        .insert_post(&post)
        .await
        .must("insert the scheduled post");
    post
}

/// A schedule and its publications read back exactly as created.
pub async fn create_then_get_roundtrips_with_publications(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let post = new_post(users, posts).await;
    let schedule = schedule_for(
        &post,
        &[Platform::Mastodon, Platform::Facebook],
        now() + TimeDelta::days(1),
    );
    let pubs = publications_for(&schedule);
    schedules
        .create_schedule(&schedule, &pubs)
        .await
        .must("create a schedule");
    let got = schedules
        .get_schedule(schedule.id)
        .await
        .must("get the schedule");
    assert_eq!(
        got, schedule,
        "get_schedule must return the schedule as created"
    );
    for p in &pubs {
        let stored = publications
            .get_publication(p.id)
            .await
            .must("get a publication written by create_schedule");
        assert_eq!(
            &stored, p,
            "create_schedule must write every publication as given"
        );
    }
    let listed = publications
        .list_publications_for_schedule(schedule.id)
        .await
        .must("list the schedule's publications");
    assert_eq!(
        listed.len(),
        2,
        "create_schedule must write all publications"
    );

    let bare = schedule_for(&post, &[], now() + TimeDelta::days(2));
    schedules
        .create_schedule(&bare, &[])
        .await
        .must("create a schedule without publications");
    assert_eq!(
        schedules.get_schedule(bare.id).await.must("get it"),
        bare,
        "an empty platform list must round-trip"
    );
}

/// When `create_schedule` fails, nothing is written: neither the schedule nor any publication.
pub async fn create_schedule_is_atomic(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let post = new_post(users, posts).await;

    // Two publications for the same (schedule, platform): the second violates uniqueness.
    let schedule = schedule_for(
        &post,
        &[Platform::Bluesky, Platform::Twitter],
        now() + TimeDelta::hours(5),
    );
    let mut pubs = publications_for(&schedule);
    let mut twin = Publication::pending(&schedule, Platform::Bluesky, now());
    twin.idempotency_key = format!("{}-twin", twin.idempotency_key);
    pubs.push(twin);
    expect_kind(
        schedules.create_schedule(&schedule, &pubs).await,
        ErrorKind::Conflict,
        "create_schedule with two publications on one platform",
    );
    expect_kind(
        schedules.get_schedule(schedule.id).await,
        ErrorKind::NotFound,
        "a failed create_schedule must not write the schedule",
    );
    for p in &pubs {
        expect_kind(
            publications.get_publication(p.id).await,
            ErrorKind::NotFound,
            "a failed create_schedule must not write any publication",
        );
    }
    let listed = publications
        .list_publications_for_schedule(schedule.id)
        .await
        .must("list publications");
    assert!(
        listed.is_empty(),
        "a failed create_schedule must not write any publication"
    );

    // A schedule id that already exists: the new publications must not be written either.
    let existing = schedule_for(&post, &[Platform::Twitter], now() + TimeDelta::hours(6));
    let existing_pubs = publications_for(&existing);
    schedules
        .create_schedule(&existing, &existing_pubs)
        .await
        .must("create a schedule");
    let mut again = schedule_for(&post, &[Platform::Linkedin], now() + TimeDelta::hours(7));
    again.id = existing.id;
    let again_pubs = publications_for(&again);
    expect_kind(
        schedules.create_schedule(&again, &again_pubs).await,
        ErrorKind::Conflict,
        "create_schedule with an existing id",
    );
    assert_eq!(
        schedules
            .get_schedule(existing.id)
            .await
            .must("get the schedule"),
        existing,
        "a failed create_schedule must change nothing"
    );
    expect_kind(
        publications.get_publication(again_pubs[0].id).await,
        ErrorKind::NotFound,
        "a failed create_schedule must not write any publication",
    );
    let listed = publications
        .list_publications_for_schedule(existing.id)
        .await
        .must("list publications");
    assert_eq!(
        listed, existing_pubs,
        "a failed create_schedule must not add publications to the existing schedule"
    );
}

/// `get_schedule` of an unknown id is `NotFound`.
pub async fn missing_schedule_is_not_found(schedules: &dyn ScheduleStore) {
    expect_kind(
        schedules.get_schedule(ScheduleId::new()).await,
        ErrorKind::NotFound,
        "get_schedule of an unknown id",
    );
}

/// A compare-and-swap update stores time, zone, platforms, status and `updated_at` and returns
/// `version + 1`.
pub async fn update_bumps_version_and_stores_fields(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
) {
    let post = new_post(users, posts).await;
    let original = schedule_for(&post, &[Platform::Twitter], now() + TimeDelta::days(3));
    schedules
        .create_schedule(&original, &[])
        .await
        .must("create a schedule");
    let mut changed = original.clone();
    changed.scheduled_at = original.scheduled_at + TimeDelta::hours(4);
    changed.time_zone = "America/New_York".to_owned();
    changed.local_time = changed
        .scheduled_at
        .with_timezone(&chrono_tz::America::New_York)
        .naive_local();
    changed.platforms = vec![Platform::Twitter, Platform::Instagram];
    changed.status = ScheduleStatus::Cancelled;
    changed.updated_at = original.updated_at + TimeDelta::seconds(30);
    let version = schedules
        .update_schedule(&changed)
        .await
        .must("update a schedule");
    assert_eq!(
        version,
        original.version + 1,
        "update_schedule must return the stored version + 1"
    );
    let got = schedules
        .get_schedule(original.id)
        .await
        .must("get the updated schedule");
    assert_eq!(
        got,
        Schedule { version, ..changed },
        "update_schedule must store every field"
    );
    let next = schedules
        .update_schedule(&got)
        .await
        .must("update with the returned version");
    assert_eq!(next, version + 1, "each update bumps the version by one");
}

/// An update carrying an old version is `Conflict` and changes nothing.
pub async fn stale_version_update_is_conflict_and_changes_nothing(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
) {
    let post = new_post(users, posts).await;
    let original = schedule_for(&post, &[Platform::Bluesky], now() + TimeDelta::days(1));
    schedules
        .create_schedule(&original, &[])
        .await
        .must("create a schedule");
    let mut winner = original.clone();
    winner.status = ScheduleStatus::Completed;
    let version = schedules
        .update_schedule(&winner)
        .await
        .must("first update");
    let mut loser = original.clone();
    loser.status = ScheduleStatus::Cancelled;
    expect_kind(
        schedules.update_schedule(&loser).await,
        ErrorKind::Conflict,
        "update_schedule with a stale version",
    );
    let got = schedules
        .get_schedule(original.id)
        .await
        .must("get the schedule");
    assert_eq!(
        got,
        Schedule { version, ..winner },
        "a stale update must change nothing"
    );
}

/// Updating a schedule that was never created fails (`NotFound` or `Conflict`) and writes nothing.
pub async fn update_of_missing_schedule_fails(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
) {
    let post = new_post(users, posts).await;
    let ghost = schedule_for(&post, &[Platform::Twitter], now());
    expect_kinds(
        schedules.update_schedule(&ghost).await,
        &[ErrorKind::NotFound, ErrorKind::Conflict],
        "update_schedule of an unknown id",
    );
    expect_kind(
        schedules.get_schedule(ghost.id).await,
        ErrorKind::NotFound,
        "update_schedule must not insert",
    );
}

/// `list_schedules` returns the user's schedules of every status with `from <= scheduled_at < to`,
/// ordered by `scheduled_at`, and nobody else's.
pub async fn list_schedules_is_half_open_and_ordered(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
) {
    let post = new_post(users, posts).await;
    let from = now() + TimeDelta::days(10);
    let to = from + TimeDelta::hours(3);
    let make = |offset: TimeDelta, status: ScheduleStatus| {
        let mut s = schedule_for(&post, &[Platform::Mastodon], from + offset);
        s.status = status;
        s
    };
    let before = make(TimeDelta::milliseconds(-1), ScheduleStatus::Active);
    let at_from = make(TimeDelta::zero(), ScheduleStatus::Active);
    let middle = make(TimeDelta::hours(1), ScheduleStatus::Cancelled);
    let late = make(TimeDelta::hours(2), ScheduleStatus::Completed);
    let last_inside = make(
        TimeDelta::hours(3) - TimeDelta::milliseconds(1),
        ScheduleStatus::Active,
    );
    let at_to = make(TimeDelta::hours(3), ScheduleStatus::Active);
    for s in [&late, &at_to, &middle, &before, &last_inside, &at_from] {
        schedules
            .create_schedule(s, &[])
            .await
            .must("create a schedule");
    }
    let other = new_post(users, posts).await;
    schedules
        .create_schedule(
            &schedule_for(&other, &[Platform::Mastodon], from + TimeDelta::hours(1)),
            &[],
        )
        .await
        .must("create another user's schedule");

    let listed = schedules
        .list_schedules(post.user_id, from, to)
        .await
        .must("list schedules");
    let ids: Vec<ScheduleId> = listed.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        vec![at_from.id, middle.id, late.id, last_inside.id],
        "list_schedules must return the user's schedules of every status in [from, to), ordered by scheduled_at"
    );
    assert_eq!(listed[1], middle, "listed schedules must be complete");
    let empty = schedules
        .list_schedules(post.user_id, to, to)
        .await
        .must("list an empty range");
    assert!(empty.is_empty(), "an empty range [to, to) lists nothing");
}

/// `list_due_schedules` returns active schedules of every user due before `before`, oldest first,
/// at most `limit`.
///
/// The scenario places its schedules in a random minute of 1990, older than anything real, and
/// cancels them at the end, so a shared database stays usable.
pub async fn list_due_schedules_returns_active_ones_oldest_first(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
) {
    let base = random_minute_of_1990();
    let alice = new_post(users, posts).await;
    let bob = new_post(users, posts).await;
    let make = |post: &Post, offset_secs: i64, status: ScheduleStatus| {
        let mut s = schedule_for(
            post,
            &[Platform::Twitter],
            base + TimeDelta::seconds(offset_secs),
        );
        s.status = status;
        s
    };
    let first = make(&alice, 0, ScheduleStatus::Active);
    let cancelled = make(&alice, 10, ScheduleStatus::Cancelled);
    let second = make(&bob, 20, ScheduleStatus::Active);
    let completed = make(&bob, 25, ScheduleStatus::Completed);
    let third = make(&alice, 30, ScheduleStatus::Active);
    let not_yet = make(&bob, 120, ScheduleStatus::Active);
    for s in [&third, &not_yet, &completed, &first, &second, &cancelled] {
        schedules
            .create_schedule(s, &[])
            .await
            .must("create a schedule");
    }
    let before = base + TimeDelta::seconds(60);

    let due = schedules
        .list_due_schedules(before, 1000)
        .await
        .must("list due schedules");
    for s in &due {
        assert_eq!(
            s.status,
            ScheduleStatus::Active,
            "list_due_schedules must return only active schedules"
        );
        assert!(
            s.scheduled_at < before,
            "list_due_schedules must return only schedules due before `before`"
        );
    }
    assert!(
        due.windows(2)
            .all(|w| w[0].scheduled_at <= w[1].scheduled_at),
        "list_due_schedules must be oldest first"
    );
    let mine: Vec<ScheduleId> = due
        .iter()
        .map(|s| s.id)
        .filter(|id| {
            [
                first.id,
                cancelled.id,
                second.id,
                completed.id,
                third.id,
                not_yet.id,
            ]
            .contains(id)
        })
        .collect();
    assert_eq!(
        mine,
        vec![first.id, second.id, third.id],
        "list_due_schedules must return every user's active schedules due before `before`, oldest first"
    );
    if let Some(found) = due.iter().find(|s| s.id == second.id) {
        assert_eq!(found, &second, "listed schedules must be complete");
    }
    let one = schedules
        .list_due_schedules(before, 1)
        .await
        .must("list one due schedule");
    assert_eq!(one.len(), 1, "list_due_schedules must honour the limit");
    let two = schedules
        .list_due_schedules(before, 2)
        .await
        .must("list two due schedules");
    assert_eq!(two.len(), 2, "list_due_schedules must honour the limit");

    for s in [first, second, third, not_yet] {
        let done = Schedule {
            status: ScheduleStatus::Cancelled,
            ..s
        };
        schedules
            .update_schedule(&done)
            .await
            .must("cancel a scenario schedule (clean-up)");
    }
}

fn random_minute_of_1990() -> DateTime<Utc> {
    let start = Utc
        .with_ymd_and_hms(1990, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    start + TimeDelta::minutes(rand::random_range(0..525_000))
}

/// `count_active_schedules` counts the user's active schedules in `[from, to)` that target the
/// platform, and nothing else.
pub async fn count_active_schedules_counts_only_active_ones_on_the_platform(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
) {
    let post = new_post(users, posts).await;
    let from = now() + TimeDelta::days(20);
    let to = from + TimeDelta::hours(24);
    let make = |offset: TimeDelta, platforms: &[Platform], status: ScheduleStatus| {
        let mut s = schedule_for(&post, platforms, from + offset);
        s.status = status;
        s
    };
    let rows = [
        make(
            TimeDelta::zero(),
            &[Platform::Instagram],
            ScheduleStatus::Active,
        ),
        make(
            TimeDelta::hours(1),
            &[Platform::Twitter, Platform::Instagram],
            ScheduleStatus::Active,
        ),
        make(
            TimeDelta::hours(2),
            &[Platform::Twitter],
            ScheduleStatus::Active,
        ),
        make(
            TimeDelta::hours(3),
            &[Platform::Instagram],
            ScheduleStatus::Cancelled,
        ),
        make(
            TimeDelta::hours(4),
            &[Platform::Instagram],
            ScheduleStatus::Completed,
        ),
        make(
            TimeDelta::hours(24),
            &[Platform::Instagram],
            ScheduleStatus::Active,
        ),
        make(
            TimeDelta::milliseconds(-1),
            &[Platform::Instagram],
            ScheduleStatus::Active,
        ),
    ];
    for s in &rows {
        schedules
            .create_schedule(s, &[])
            .await
            .must("create a schedule");
    }
    let other = new_post(users, posts).await;
    schedules
        .create_schedule(
            &schedule_for(&other, &[Platform::Instagram], from + TimeDelta::hours(1)),
            &[],
        )
        .await
        .must("create another user's schedule");
    let count = |platform| schedules.count_active_schedules(post.user_id, platform, from, to);
    assert_eq!(
        count(Platform::Instagram).await.must("count"),
        2,
        "active Instagram schedules in [from, to)"
    );
    assert_eq!(
        count(Platform::Twitter).await.must("count"),
        2,
        "active Twitter schedules in [from, to)"
    );
    assert_eq!(
        count(Platform::Bluesky).await.must("count"),
        0,
        "no Bluesky schedules"
    );
}
