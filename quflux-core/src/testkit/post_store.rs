//! Conformance suite for [`PostStore`].

use chrono::TimeDelta;

use super::fixtures::{now, post_for, user};
use super::{Must, expect_kind, expect_kinds};
use crate::{
    ErrorKind, Platform, Post, PostContent, PostFilter, PostId, PostStatus, PostStore, UserId,
    UserStore,
};

/// Every [`PostStore`] must pass these; `users` stores the owners. Scenarios use fresh users, so
/// the stores may be reused.
pub async fn run_all(users: &dyn UserStore, store: &dyn PostStore) {
    insert_then_get_roundtrips(users, store).await;
    missing_post_is_not_found(store).await;
    duplicate_id_is_conflict(users, store).await;
    concurrent_inserts_fail_only_the_bad_one(users, store).await;
    update_bumps_version_and_stores_fields(users, store).await;
    stale_version_update_is_conflict_and_changes_nothing(users, store).await;
    update_of_missing_post_fails(users, store).await;
    delete_removes_and_missing_is_not_found(users, store).await;
    list_is_newest_first_and_only_the_users(users, store).await;
    list_honours_every_filter(users, store).await;
    list_limit_defaults_to_100(users, store).await;
}

async fn new_user(users: &dyn UserStore) -> UserId {
    let user = user();
    users.insert_user(&user).await.must("insert the post owner");
    user.id
}

/// A post reads back exactly as inserted: content (variants, link preview, thread), status,
/// version and times.
pub async fn insert_then_get_roundtrips(users: &dyn UserStore, store: &dyn PostStore) {
    let user_id = new_user(users).await;
    let post = post_for(user_id);
    store.insert_post(&post).await.must("insert a post");
    assert_eq!(
        store.get_post(post.id).await.must("get the post"),
        post,
        "get_post must return the post as inserted"
    );

    let mut minimal = post_for(user_id);
    minimal.content = PostContent::text("");
    minimal.content.ai_generated = true;
    minimal.status = PostStatus::Failed;
    store
        .insert_post(&minimal)
        .await
        .must("insert a minimal post");
    assert_eq!(
        store.get_post(minimal.id).await.must("get it"),
        minimal,
        "an empty content must round-trip"
    );
}

/// `get_post` of an unknown id is `NotFound`.
pub async fn missing_post_is_not_found(store: &dyn PostStore) {
    expect_kind(
        store.get_post(PostId::new()).await,
        ErrorKind::NotFound,
        "get_post of an unknown id",
    );
}

/// Inserting an existing id again is `Conflict`.
pub async fn duplicate_id_is_conflict(users: &dyn UserStore, store: &dyn PostStore) {
    let user_id = new_user(users).await;
    let post = post_for(user_id);
    store.insert_post(&post).await.must("insert a post");
    let mut again = post_for(user_id);
    again.id = post.id;
    expect_kind(
        store.insert_post(&again).await,
        ErrorKind::Conflict,
        "insert_post with an existing id",
    );
    assert_eq!(
        store.get_post(post.id).await.must("get the post"),
        post,
        "a rejected insert must change nothing"
    );
}

/// Concurrent inserts (which a store may group into one statement) each get their own answer:
/// a duplicate id among them fails alone with `Conflict`, and every other post is stored.
pub async fn concurrent_inserts_fail_only_the_bad_one(
    users: &dyn UserStore,
    store: &dyn PostStore,
) {
    let user_id = new_user(users).await;
    let existing = post_for(user_id);
    store.insert_post(&existing).await.must("insert a post");
    let mut posts: Vec<Post> = (0..16).map(|_| post_for(user_id)).collect();
    posts[7].id = existing.id;
    let results = futures::future::join_all(posts.iter().map(|p| store.insert_post(p))).await;
    for (i, (post, result)) in posts.iter().zip(results).enumerate() {
        if i == 7 {
            expect_kind(
                result,
                ErrorKind::Conflict,
                "the concurrent duplicate insert",
            );
            assert_eq!(
                store.get_post(post.id).await.must("get the existing post"),
                existing,
                "a rejected concurrent insert must change nothing"
            );
        } else {
            result.must("a concurrent insert beside a duplicate");
            assert_eq!(
                store.get_post(post.id).await.must("get a concurrent post"),
                *post,
                "each concurrent insert must be stored as given"
            );
        }
    }
}

/// A compare-and-swap update stores content, status and `updated_at` and returns `version + 1`.
pub async fn update_bumps_version_and_stores_fields(users: &dyn UserStore, store: &dyn PostStore) {
    let user_id = new_user(users).await;
    let original = post_for(user_id);
    store.insert_post(&original).await.must("insert a post");
    let mut changed = original.clone();
    changed.content.text = "Edited text".to_owned();
    changed
        .content
        .variants
        .insert(Platform::Twitter, "Edited for X".to_owned());
    changed.content.thread.clear();
    changed.content.link_preview = None;
    changed.status = PostStatus::Scheduled;
    changed.updated_at = original.updated_at + TimeDelta::minutes(3);
    let version = store.update_post(&changed).await.must("update a post");
    assert_eq!(
        version,
        original.version + 1,
        "update_post must return the stored version + 1"
    );
    let got = store
        .get_post(original.id)
        .await
        .must("get the updated post");
    assert_eq!(
        got,
        Post { version, ..changed },
        "update_post must store every field"
    );
    let next = store
        .update_post(&got)
        .await
        .must("update with the returned version");
    assert_eq!(next, version + 1, "each update bumps the version by one");
}

/// An update carrying an old version is `Conflict` and changes nothing.
pub async fn stale_version_update_is_conflict_and_changes_nothing(
    users: &dyn UserStore,
    store: &dyn PostStore,
) {
    let user_id = new_user(users).await;
    let original = post_for(user_id);
    store.insert_post(&original).await.must("insert a post");
    let mut winner = original.clone();
    winner.content.text = "winner".to_owned();
    let version = store.update_post(&winner).await.must("first update");
    let mut loser = original.clone();
    loser.content.text = "loser".to_owned();
    expect_kind(
        store.update_post(&loser).await,
        ErrorKind::Conflict,
        "update_post with a stale version",
    );
    let got = store.get_post(original.id).await.must("get the post");
    assert_eq!(
        got,
        Post { version, ..winner },
        "a stale update must change nothing"
    );
}

/// Updating a post that was never inserted fails (`NotFound` or `Conflict`) and inserts nothing.
pub async fn update_of_missing_post_fails(users: &dyn UserStore, store: &dyn PostStore) {
    let ghost = post_for(new_user(users).await);
    expect_kinds(
        store.update_post(&ghost).await,
        &[ErrorKind::NotFound, ErrorKind::Conflict],
        "update_post of an unknown id",
    );
    expect_kind(
        store.get_post(ghost.id).await,
        ErrorKind::NotFound,
        "update_post must not insert",
    );
}

/// `delete_post` removes the post; deleting it again is `NotFound`.
pub async fn delete_removes_and_missing_is_not_found(users: &dyn UserStore, store: &dyn PostStore) {
    let user_id = new_user(users).await;
    let post = post_for(user_id);
    let kept = post_for(user_id);
    store.insert_post(&post).await.must("insert a post");
    store.insert_post(&kept).await.must("insert another post");
    store.delete_post(post.id).await.must("delete the post");
    expect_kind(
        store.get_post(post.id).await,
        ErrorKind::NotFound,
        "get_post after delete_post",
    );
    expect_kind(
        store.delete_post(post.id).await,
        ErrorKind::NotFound,
        "delete_post of a deleted post",
    );
    assert_eq!(
        store.get_post(kept.id).await.must("get the other post"),
        kept,
        "delete_post must delete only that post"
    );
    let listed = store
        .list_posts(user_id, &PostFilter::default())
        .await
        .must("list posts");
    assert_eq!(listed, vec![kept], "a deleted post must not be listed");
}

/// Posts of one user with distinct creation times, oldest first.
async fn seeded(
    users: &dyn UserStore,
    store: &dyn PostStore,
    texts: &[(&str, PostStatus)],
) -> (UserId, Vec<Post>) {
    let user_id = new_user(users).await;
    let base = now() - TimeDelta::hours(2);
    let mut posts = Vec::new();
    for (i, (text, status)) in texts.iter().enumerate() {
        let mut p = post_for(user_id);
        p.content.text = (*text).to_owned();
        p.status = *status;
        p.created_at = base + TimeDelta::minutes(i as i64);
        p.updated_at = p.created_at;
        posts.push(p);
    }
    // Insert out of order so that insertion order cannot pass for creation order.
    for p in posts
        .iter()
        .rev()
        .step_by(2)
        .chain(posts.iter().rev().skip(1).step_by(2))
    {
        store.insert_post(p).await.must("insert a post");
    }
    (user_id, posts)
}

/// `list_posts` returns only the user's posts, newest first.
pub async fn list_is_newest_first_and_only_the_users(users: &dyn UserStore, store: &dyn PostStore) {
    let empty = new_user(users).await;
    assert!(
        store
            .list_posts(empty, &PostFilter::default())
            .await
            .must("list no posts")
            .is_empty()
    );
    let (user_id, posts) = seeded(
        users,
        store,
        &[
            ("one", PostStatus::Draft),
            ("two", PostStatus::Draft),
            ("three", PostStatus::Draft),
        ],
    )
    .await;
    let other = new_user(users).await;
    store
        .insert_post(&post_for(other))
        .await
        .must("insert another user's post");
    let listed = store
        .list_posts(user_id, &PostFilter::default())
        .await
        .must("list posts");
    let expected: Vec<Post> = posts.into_iter().rev().collect();
    assert_eq!(
        listed, expected,
        "list_posts must return exactly the user's posts, newest first"
    );
}

/// `list_posts` honours status, `created_from` (inclusive), `created_to` (exclusive),
/// case-insensitive `text_contains`, `limit` and `offset`, and their combinations.
pub async fn list_honours_every_filter(users: &dyn UserStore, store: &dyn PostStore) {
    let (user_id, posts) = seeded(
        users,
        store,
        &[
            ("Launch day is coming", PostStatus::Draft),
            ("Our LAUNCH went well", PostStatus::Published),
            ("Weekly update", PostStatus::Scheduled),
            ("Another launch recap", PostStatus::Published),
            ("Hiring now", PostStatus::Failed),
        ],
    )
    .await;
    let other = new_user(users).await;
    let mut foreign = post_for(other);
    foreign.content.text = "launch elsewhere".to_owned();
    foreign.status = PostStatus::Published;
    store
        .insert_post(&foreign)
        .await
        .must("insert another user's post");

    let ids = |listed: Vec<Post>| listed.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let list = |filter: PostFilter| async move {
        store.list_posts(user_id, &filter).await.must("list posts")
    };

    let published = list(PostFilter {
        status: Some(PostStatus::Published),
        ..PostFilter::default()
    })
    .await;
    assert_eq!(
        ids(published),
        vec![posts[3].id, posts[1].id],
        "status filter"
    );

    let from = list(PostFilter {
        created_from: Some(posts[2].created_at),
        ..PostFilter::default()
    })
    .await;
    assert_eq!(
        ids(from),
        vec![posts[4].id, posts[3].id, posts[2].id],
        "created_from is inclusive"
    );

    let to = list(PostFilter {
        created_to: Some(posts[2].created_at),
        ..PostFilter::default()
    })
    .await;
    assert_eq!(
        ids(to),
        vec![posts[1].id, posts[0].id],
        "created_to is exclusive"
    );

    let text = list(PostFilter {
        text_contains: Some("lAuNcH".to_owned()),
        ..PostFilter::default()
    })
    .await;
    assert_eq!(
        ids(text),
        vec![posts[3].id, posts[1].id, posts[0].id],
        "text_contains is a case-insensitive substring match"
    );

    let limited = list(PostFilter {
        limit: Some(2),
        ..PostFilter::default()
    })
    .await;
    assert_eq!(ids(limited), vec![posts[4].id, posts[3].id], "limit");

    let paged = list(PostFilter {
        limit: Some(2),
        offset: Some(2),
        ..PostFilter::default()
    })
    .await;
    assert_eq!(
        ids(paged),
        vec![posts[2].id, posts[1].id],
        "limit with offset"
    );

    let beyond = list(PostFilter {
        offset: Some(5),
        ..PostFilter::default()
    })
    .await;
    assert!(beyond.is_empty(), "an offset past the end lists nothing");

    let zero = list(PostFilter {
        limit: Some(0),
        ..PostFilter::default()
    })
    .await;
    assert_eq!(
        ids(zero),
        vec![posts[4].id],
        "limit is PostFilter::effective_limit: 0 means 1"
    );

    let combined = list(PostFilter {
        status: Some(PostStatus::Published),
        created_from: Some(posts[1].created_at),
        created_to: Some(posts[4].created_at),
        text_contains: Some("launch".to_owned()),
        limit: Some(1),
        offset: Some(1),
    })
    .await;
    assert_eq!(ids(combined), vec![posts[1].id], "combined filters");
}

/// Without a limit, `list_posts` returns at most 100 posts (the newest).
pub async fn list_limit_defaults_to_100(users: &dyn UserStore, store: &dyn PostStore) {
    let user_id = new_user(users).await;
    let base = now() - TimeDelta::hours(3);
    let mut newest = None;
    for i in 0..101 {
        let mut p = post_for(user_id);
        p.created_at = base + TimeDelta::seconds(i);
        p.updated_at = p.created_at;
        store.insert_post(&p).await.must("insert a post");
        newest = Some(p.id);
    }
    let listed = store
        .list_posts(user_id, &PostFilter::default())
        .await
        .must("list posts");
    assert_eq!(
        listed.len(),
        100,
        "list_posts without a limit returns at most 100 rows"
    );
    assert_eq!(
        listed.first().map(|p| p.id),
        newest,
        "the default page starts with the newest post"
    );
}
