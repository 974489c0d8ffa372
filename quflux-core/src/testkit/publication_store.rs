//! Conformance suite for [`PublicationStore`].

use chrono::TimeDelta;

use super::fixtures::{now, schedule_for};
use super::schedule_store::new_post;
use super::{Must, expect_kind, expect_kinds};
use crate::{
    Attempt, AttemptOutcome, ConnectionId, ErrorKind, Platform, PlatformPostId, Post, PostStore,
    Publication, PublicationFilter, PublicationId, PublicationStatus, PublicationStore, Schedule,
    ScheduleStore, UserStore,
};

/// Every [`PublicationStore`] must pass these; `users`, `posts` and `schedules` store what
/// publications belong to (all the same backend). Scenarios use fresh users, so the stores may be
/// reused.
pub async fn run_all(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    insert_then_get_roundtrips(users, posts, schedules, publications).await;
    missing_publication_is_not_found(publications).await;
    duplicate_schedule_and_platform_is_conflict(users, posts, schedules, publications).await;
    update_stores_the_attempt_ledger_and_bumps_version(users, posts, schedules, publications).await;
    stale_version_update_is_conflict_and_changes_nothing(users, posts, schedules, publications)
        .await;
    update_of_missing_publication_fails(users, posts, schedules, publications).await;
    list_for_schedule_is_ordered_by_platform(users, posts, schedules, publications).await;
    list_publications_is_newest_first_and_only_the_users(users, posts, schedules, publications)
        .await;
    list_publications_honours_every_filter(users, posts, schedules, publications).await;
}

/// A stored schedule (without publications) of a fresh user's post.
async fn new_schedule(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    platforms: &[Platform],
) -> (Post, Schedule) {
    let post = new_post(users, posts).await;
    let schedule = schedule_for(&post, platforms, now() + TimeDelta::days(1));
    schedules
        .create_schedule(&schedule, &[])
        .await
        .must("create a schedule");
    (post, schedule)
}

fn pending(schedule: &Schedule, platform: Platform) -> Publication {
    Publication::pending(schedule, platform, now())
}

/// A publication in every field: published after an unknown outcome settled by lookup.
fn settled(mut p: Publication) -> Publication {
    let start = p.created_at + TimeDelta::seconds(5);
    p.connection_id = Some(ConnectionId::new());
    p.status = PublicationStatus::Published;
    p.platform_post_id = Some(PlatformPostId::new(
        "at://did:plc:example/app.bsky.feed.post/3kabc",
    ));
    p.url = Some("https://bsky.app/profile/example/post/3kabc".to_owned());
    p.thread_ids = vec![
        PlatformPostId::new("reply-1"),
        PlatformPostId::new("reply-2"),
    ];
    p.attempts = vec![
        Attempt {
            number: 1,
            started_at: start,
            finished_at: Some(start + TimeDelta::milliseconds(30_250)),
            outcome: AttemptOutcome::Failed,
            platform_post_id: None,
            error_kind: Some(ErrorKind::RateLimited),
            error_message: Some("bluesky rate limit reached".to_owned()),
        },
        Attempt {
            number: 2,
            started_at: start + TimeDelta::minutes(1),
            finished_at: Some(start + TimeDelta::minutes(2)),
            outcome: AttemptOutcome::ConfirmedByLookup,
            platform_post_id: Some(PlatformPostId::new(
                "at://did:plc:example/app.bsky.feed.post/3kabc",
            )),
            error_kind: Some(ErrorKind::OutcomeUnknown),
            error_message: Some("bluesky did not confirm the request: timeout".to_owned()),
        },
        Attempt {
            number: 3,
            started_at: start + TimeDelta::minutes(3),
            finished_at: None,
            outcome: AttemptOutcome::InProgress,
            platform_post_id: None,
            error_kind: None,
            error_message: None,
        },
    ];
    p.manual_retries = 2;
    p.last_error_kind = Some(ErrorKind::OutcomeUnknown);
    p.last_error = Some("bluesky did not confirm the request: timeout".to_owned());
    p.published_at = Some(start + TimeDelta::minutes(2));
    p.updated_at = start + TimeDelta::minutes(4);
    p
}

/// A publication reads back exactly as inserted, with every optional field set or not.
pub async fn insert_then_get_roundtrips(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let (_, schedule) = new_schedule(
        users,
        posts,
        schedules,
        &[Platform::Bluesky, Platform::Twitter],
    )
    .await;
    let fresh = pending(&schedule, Platform::Twitter);
    publications
        .insert_publication(&fresh)
        .await
        .must("insert a pending publication");
    let got = publications
        .get_publication(fresh.id)
        .await
        .must("get the publication");
    assert_eq!(
        got, fresh,
        "get_publication must return the publication as inserted"
    );

    let full = settled(pending(&schedule, Platform::Bluesky));
    publications
        .insert_publication(&full)
        .await
        .must("insert a settled publication");
    let got = publications
        .get_publication(full.id)
        .await
        .must("get the publication");
    assert_eq!(
        got, full,
        "every field, the attempt ledger included, must round-trip"
    );
}

/// `get_publication` of an unknown id is `NotFound`.
pub async fn missing_publication_is_not_found(publications: &dyn PublicationStore) {
    expect_kind(
        publications.get_publication(PublicationId::new()).await,
        ErrorKind::NotFound,
        "get_publication of an unknown id",
    );
}

/// (schedule, platform) is unique; an existing id is also `Conflict`.
pub async fn duplicate_schedule_and_platform_is_conflict(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let (_, schedule) = new_schedule(
        users,
        posts,
        schedules,
        &[Platform::Mastodon, Platform::Linkedin],
    )
    .await;
    let first = pending(&schedule, Platform::Mastodon);
    publications
        .insert_publication(&first)
        .await
        .must("insert a publication");
    let twin = pending(&schedule, Platform::Mastodon);
    expect_kind(
        publications.insert_publication(&twin).await,
        ErrorKind::Conflict,
        "insert_publication of a second publication for the same schedule and platform",
    );
    expect_kind(
        publications.get_publication(twin.id).await,
        ErrorKind::NotFound,
        "a duplicate must not be stored",
    );
    let mut same_id = pending(&schedule, Platform::Linkedin);
    same_id.id = first.id;
    expect_kind(
        publications.insert_publication(&same_id).await,
        ErrorKind::Conflict,
        "insert_publication with an existing id",
    );
    assert_eq!(
        publications.get_publication(first.id).await.must("get it"),
        first,
        "rejected inserts change nothing"
    );

    let (_, other) = new_schedule(users, posts, schedules, &[Platform::Mastodon]).await;
    publications
        .insert_publication(&pending(&other, Platform::Mastodon))
        .await
        .must("the same platform on another schedule is another publication");
}

/// A compare-and-swap update stores the whole publication, attempt ledger included, and returns
/// `version + 1`.
pub async fn update_stores_the_attempt_ledger_and_bumps_version(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let (_, schedule) = new_schedule(users, posts, schedules, &[Platform::Bluesky]).await;
    let original = pending(&schedule, Platform::Bluesky);
    publications
        .insert_publication(&original)
        .await
        .must("insert a publication");

    let changed = settled(original.clone());
    let version = publications
        .update_publication(&changed)
        .await
        .must("update a publication");
    assert_eq!(
        version,
        original.version + 1,
        "update_publication must return the stored version + 1"
    );
    let got = publications
        .get_publication(original.id)
        .await
        .must("get the updated publication");
    assert_eq!(
        got,
        Publication { version, ..changed },
        "update_publication must store every field and the whole ledger"
    );

    let mut shorter = got.clone();
    shorter.attempts.truncate(1);
    shorter.thread_ids.clear();
    shorter.status = PublicationStatus::Failed;
    shorter.connection_id = None;
    let next = publications
        .update_publication(&shorter)
        .await
        .must("update with the returned version");
    assert_eq!(next, version + 1, "each update bumps the version by one");
    let got = publications
        .get_publication(original.id)
        .await
        .must("get it again");
    assert_eq!(
        got,
        Publication {
            version: next,
            ..shorter
        },
        "the stored ledger is replaced, not appended to"
    );
}

/// An update carrying an old version is `Conflict` and changes nothing.
pub async fn stale_version_update_is_conflict_and_changes_nothing(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let (_, schedule) = new_schedule(users, posts, schedules, &[Platform::Twitter]).await;
    let original = pending(&schedule, Platform::Twitter);
    publications
        .insert_publication(&original)
        .await
        .must("insert a publication");
    let mut winner = original.clone();
    winner.status = PublicationStatus::Publishing;
    winner.attempts.push(Attempt {
        number: 1,
        started_at: now(),
        finished_at: None,
        outcome: AttemptOutcome::InProgress,
        platform_post_id: None,
        error_kind: None,
        error_message: None,
    });
    let version = publications
        .update_publication(&winner)
        .await
        .must("first update");
    let mut loser = original.clone();
    loser.status = PublicationStatus::Cancelled;
    expect_kind(
        publications.update_publication(&loser).await,
        ErrorKind::Conflict,
        "update_publication with a stale version",
    );
    let got = publications
        .get_publication(original.id)
        .await
        .must("get the publication");
    assert_eq!(
        got,
        Publication { version, ..winner },
        "a stale update must change nothing"
    );
}

/// Updating a publication that was never inserted fails (`NotFound` or `Conflict`) and writes
/// nothing.
pub async fn update_of_missing_publication_fails(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let (_, schedule) = new_schedule(users, posts, schedules, &[Platform::Twitter]).await;
    let ghost = pending(&schedule, Platform::Twitter);
    expect_kinds(
        publications.update_publication(&ghost).await,
        &[ErrorKind::NotFound, ErrorKind::Conflict],
        "update_publication of an unknown id",
    );
    expect_kind(
        publications.get_publication(ghost.id).await,
        ErrorKind::NotFound,
        "update_publication must not insert",
    );
}

/// `list_publications_for_schedule` returns the schedule's publications ordered by platform.
///
/// The platforms used (Facebook, Instagram, Mastodon) sort the same by name and by
/// [`Platform::ALL`] order, so either reading of "ordered by platform" passes.
pub async fn list_for_schedule_is_ordered_by_platform(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let platforms = [Platform::Mastodon, Platform::Facebook, Platform::Instagram];
    let (_, schedule) = new_schedule(users, posts, schedules, &platforms).await;
    let made: Vec<Publication> = platforms.iter().map(|&p| pending(&schedule, p)).collect();
    for p in &made {
        publications
            .insert_publication(p)
            .await
            .must("insert a publication");
    }
    let (_, other) = new_schedule(users, posts, schedules, &[Platform::Facebook]).await;
    publications
        .insert_publication(&pending(&other, Platform::Facebook))
        .await
        .must("insert another schedule's publication");

    let listed = publications
        .list_publications_for_schedule(schedule.id)
        .await
        .must("list the schedule's publications");
    let expected = vec![made[1].clone(), made[2].clone(), made[0].clone()];
    assert_eq!(
        listed, expected,
        "list_publications_for_schedule must return the schedule's publications ordered by platform"
    );
}

/// Publications of one user over two schedules, with distinct creation times, oldest first.
async fn seeded(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) -> (Post, Vec<Schedule>, Vec<Publication>) {
    let post = new_post(users, posts).await;
    let base = now() - TimeDelta::hours(1);
    let mut made_schedules = Vec::new();
    let mut made = Vec::new();
    for (i, at) in [1, 2].into_iter().enumerate() {
        let schedule = schedule_for(
            &post,
            &[Platform::Twitter, Platform::Bluesky],
            now() + TimeDelta::days(at),
        );
        schedules
            .create_schedule(&schedule, &[])
            .await
            .must("create a schedule");
        for (j, platform) in [Platform::Twitter, Platform::Bluesky]
            .into_iter()
            .enumerate()
        {
            let mut p = pending(&schedule, platform);
            p.created_at = base + TimeDelta::minutes((i * 2 + j) as i64);
            p.updated_at = p.created_at;
            made.push(p);
        }
        made_schedules.push(schedule);
    }
    // made[0..4]: (s0, twitter), (s0, bluesky), (s1, twitter), (s1, bluesky), oldest first.
    made[1].status = PublicationStatus::Published;
    made[2].status = PublicationStatus::Failed;
    made[3].status = PublicationStatus::Published;
    for i in [2, 0, 3, 1] {
        publications
            .insert_publication(&made[i])
            .await
            .must("insert a publication");
    }
    (post, made_schedules, made)
}

/// `list_publications` returns only the user's publications, newest first.
pub async fn list_publications_is_newest_first_and_only_the_users(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let (post, _, made) = seeded(users, posts, schedules, publications).await;
    let (_, foreign) = new_schedule(users, posts, schedules, &[Platform::Twitter]).await;
    publications
        .insert_publication(&pending(&foreign, Platform::Twitter))
        .await
        .must("insert another user's publication");
    let listed = publications
        .list_publications(post.user_id, &PublicationFilter::default())
        .await
        .must("list publications");
    let expected: Vec<Publication> = made.into_iter().rev().collect();
    assert_eq!(
        listed, expected,
        "list_publications must return exactly the user's publications, newest first"
    );
}

/// `list_publications` honours status, platform, schedule, `limit` and `offset`.
pub async fn list_publications_honours_every_filter(
    users: &dyn UserStore,
    posts: &dyn PostStore,
    schedules: &dyn ScheduleStore,
    publications: &dyn PublicationStore,
) {
    let (post, made_schedules, made) = seeded(users, posts, schedules, publications).await;
    let ids = |listed: Vec<Publication>| listed.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let list = |filter: PublicationFilter| async move {
        publications
            .list_publications(post.user_id, &filter)
            .await
            .must("list publications")
    };

    let published = list(PublicationFilter {
        status: Some(PublicationStatus::Published),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids(published),
        vec![made[3].id, made[1].id],
        "status filter"
    );

    let twitter = list(PublicationFilter {
        platform: Some(Platform::Twitter),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids(twitter),
        vec![made[2].id, made[0].id],
        "platform filter"
    );

    let first = list(PublicationFilter {
        schedule_id: Some(made_schedules[0].id),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(first), vec![made[1].id, made[0].id], "schedule filter");

    let paged = list(PublicationFilter {
        limit: Some(2),
        offset: Some(1),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids(paged),
        vec![made[2].id, made[1].id],
        "limit with offset"
    );

    let zero = list(PublicationFilter {
        limit: Some(0),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids(zero),
        vec![made[3].id],
        "limit is PublicationFilter::effective_limit: 0 means 1"
    );

    let combined = list(PublicationFilter {
        status: Some(PublicationStatus::Published),
        platform: Some(Platform::Bluesky),
        schedule_id: Some(made_schedules[1].id),
        limit: Some(10),
        offset: None,
    })
    .await;
    assert_eq!(ids(combined), vec![made[3].id], "combined filters");

    let none = list(PublicationFilter {
        platform: Some(Platform::Instagram),
        ..Default::default()
    })
    .await;
    assert!(
        none.is_empty(),
        "a filter that matches nothing lists nothing"
    );
}
