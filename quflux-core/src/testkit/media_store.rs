//! Conformance suite for [`MediaStore`].

use chrono::TimeDelta;

use super::fixtures::{media_for, now, user};
use super::{Must, expect_kind};
use crate::{ErrorKind, MediaFile, MediaId, MediaStore, UserId, UserStore};

/// Every [`MediaStore`] must pass these; `users` stores the owners. Scenarios use fresh users, so
/// the stores may be reused.
pub async fn run_all(users: &dyn UserStore, store: &dyn MediaStore) {
    insert_then_get_roundtrips(users, store).await;
    missing_media_is_not_found(store).await;
    duplicate_id_is_conflict(users, store).await;
    list_is_newest_first_and_only_the_users(users, store).await;
    delete_removes_and_missing_is_not_found(users, store).await;
}

async fn new_user(users: &dyn UserStore) -> UserId {
    let user = user();
    users
        .insert_user(&user)
        .await
        .must("insert the media owner");
    user.id
}

/// Metadata reads back exactly as inserted, optional fields included.
pub async fn insert_then_get_roundtrips(users: &dyn UserStore, store: &dyn MediaStore) {
    let user_id = new_user(users).await;
    let image = media_for(user_id);
    store.insert_media(&image).await.must("insert media");
    assert_eq!(
        store.get_media(image.id).await.must("get media"),
        image,
        "get_media must return the metadata as inserted"
    );

    let mut video = media_for(user_id);
    video.filename = "clip – été.mp4".to_owned();
    video.content_type = "video/mp4".to_owned();
    video.size_bytes = 5_000_000_000;
    video.duration_secs = Some(12.5);
    video.ai_generated = true;
    store.insert_media(&video).await.must("insert a video");
    assert_eq!(
        store.get_media(video.id).await.must("get the video"),
        video,
        "sizes over 4 GiB, durations and flags must round-trip"
    );

    let mut bare = media_for(user_id);
    bare.content_type = "application/octet-stream".to_owned();
    bare.width = None;
    bare.height = None;
    store
        .insert_media(&bare)
        .await
        .must("insert media without dimensions");
    assert_eq!(
        store.get_media(bare.id).await.must("get it"),
        bare,
        "missing dimensions must round-trip as None"
    );
}

/// `get_media` of an unknown id is `NotFound`.
pub async fn missing_media_is_not_found(store: &dyn MediaStore) {
    expect_kind(
        store.get_media(MediaId::new()).await,
        ErrorKind::NotFound,
        "get_media of an unknown id",
    );
}

/// Inserting an existing id again is `Conflict`.
pub async fn duplicate_id_is_conflict(users: &dyn UserStore, store: &dyn MediaStore) {
    let user_id = new_user(users).await;
    let media = media_for(user_id);
    store.insert_media(&media).await.must("insert media");
    let mut again = media_for(user_id);
    again.id = media.id;
    expect_kind(
        store.insert_media(&again).await,
        ErrorKind::Conflict,
        "insert_media with an existing id",
    );
    assert_eq!(
        store.get_media(media.id).await.must("get media"),
        media,
        "a rejected insert must change nothing"
    );
}

/// `list_media` returns the user's media, newest first, and nobody else's.
pub async fn list_is_newest_first_and_only_the_users(
    users: &dyn UserStore,
    store: &dyn MediaStore,
) {
    let user_id = new_user(users).await;
    assert!(
        store
            .list_media(user_id)
            .await
            .must("list no media")
            .is_empty()
    );
    let base = now() - TimeDelta::hours(1);
    let mut made: Vec<MediaFile> = (0..3)
        .map(|i| {
            let mut m = media_for(user_id);
            m.created_at = base + TimeDelta::minutes(i);
            m
        })
        .collect();
    for i in [1, 2, 0] {
        store.insert_media(&made[i]).await.must("insert media");
    }
    store
        .insert_media(&media_for(new_user(users).await))
        .await
        .must("insert another user's media");
    made.reverse();
    assert_eq!(
        store.list_media(user_id).await.must("list media"),
        made,
        "list_media must return the user's media, newest first"
    );
}

/// `delete_media` removes the row; deleting it again is `NotFound`.
pub async fn delete_removes_and_missing_is_not_found(
    users: &dyn UserStore,
    store: &dyn MediaStore,
) {
    let user_id = new_user(users).await;
    let media = media_for(user_id);
    let kept = media_for(user_id);
    store.insert_media(&media).await.must("insert media");
    store.insert_media(&kept).await.must("insert other media");
    store.delete_media(media.id).await.must("delete media");
    expect_kind(
        store.get_media(media.id).await,
        ErrorKind::NotFound,
        "get_media after delete_media",
    );
    expect_kind(
        store.delete_media(media.id).await,
        ErrorKind::NotFound,
        "delete_media of deleted media",
    );
    assert_eq!(
        store.list_media(user_id).await.must("list media"),
        vec![kept],
        "delete_media must delete only that row"
    );
}
