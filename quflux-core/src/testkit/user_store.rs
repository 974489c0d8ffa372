//! Conformance suite for [`UserStore`].

use chrono::TimeDelta;

use super::fixtures::{now, user};
use super::{Must, expect_kind};
use crate::{ErrorKind, UserId, UserStore};

/// Every [`UserStore`] must pass these. Scenarios use fresh ids and e-mails, so a store may be
/// reused.
pub async fn run_all(store: &dyn UserStore) {
    insert_then_get_roundtrips(store).await;
    missing_user_is_not_found(store).await;
    duplicate_email_is_conflict_ignoring_case(store).await;
    duplicate_id_is_conflict(store).await;
    find_by_email_ignores_case(store).await;
    update_replaces_mutable_fields(store).await;
    update_to_a_taken_email_is_conflict(store).await;
    update_of_missing_user_is_not_found(store).await;
}

/// A user reads back exactly as inserted.
pub async fn insert_then_get_roundtrips(store: &dyn UserStore) {
    let user = user();
    store.insert_user(&user).await.must("insert a user");
    let got = store.get_user(user.id).await.must("get the inserted user");
    assert_eq!(
        got, user,
        "get_user must return the user exactly as inserted"
    );
    let mut bare = super::fixtures::user();
    bare.display_name = None;
    bare.is_active = false;
    store
        .insert_user(&bare)
        .await
        .must("insert an inactive user without display name");
    assert_eq!(
        store.get_user(bare.id).await.must("get it"),
        bare,
        "optional fields must round-trip as None"
    );
}

/// `get_user` of an unknown id is `NotFound`; `find_user_by_email` of an unknown e-mail is `None`.
pub async fn missing_user_is_not_found(store: &dyn UserStore) {
    expect_kind(
        store.get_user(UserId::new()).await,
        ErrorKind::NotFound,
        "get_user of an unknown id",
    );
    let found = store
        .find_user_by_email(&format!("nobody-{}@example.test", super::unique()))
        .await;
    assert_eq!(
        found.must("find an unknown e-mail"),
        None,
        "find_user_by_email of an unknown e-mail must be None"
    );
}

/// A second user with the same e-mail, in any case, is `Conflict` and is not stored.
pub async fn duplicate_email_is_conflict_ignoring_case(store: &dyn UserStore) {
    let first = user();
    store.insert_user(&first).await.must("insert a user");
    let mut same = user();
    same.email = first.email.clone();
    expect_kind(
        store.insert_user(&same).await,
        ErrorKind::Conflict,
        "insert_user with a taken e-mail",
    );
    let mut shouting = user();
    shouting.email = first.email.to_uppercase();
    expect_kind(
        store.insert_user(&shouting).await,
        ErrorKind::Conflict,
        "insert_user with a taken e-mail in upper case",
    );
    expect_kind(
        store.get_user(same.id).await,
        ErrorKind::NotFound,
        "a user rejected as duplicate must not be stored",
    );
    expect_kind(
        store.get_user(shouting.id).await,
        ErrorKind::NotFound,
        "a user rejected as duplicate must not be stored",
    );
}

/// Inserting an existing id again is `Conflict`.
pub async fn duplicate_id_is_conflict(store: &dyn UserStore) {
    let first = user();
    store.insert_user(&first).await.must("insert a user");
    let mut again = user();
    again.id = first.id;
    expect_kind(
        store.insert_user(&again).await,
        ErrorKind::Conflict,
        "insert_user with an existing id",
    );
    assert_eq!(
        store.get_user(first.id).await.must("get the first user"),
        first,
        "a rejected insert must change nothing"
    );
}

/// `find_user_by_email` compares e-mails after lowercasing.
pub async fn find_by_email_ignores_case(store: &dyn UserStore) {
    let user = user();
    store.insert_user(&user).await.must("insert a user");
    let exact = store
        .find_user_by_email(&user.email)
        .await
        .must("find by the exact e-mail");
    assert_eq!(
        exact.as_ref(),
        Some(&user),
        "find_user_by_email must find the user by its e-mail"
    );
    let upper = store
        .find_user_by_email(&user.email.to_uppercase())
        .await
        .must("find by the upper-case e-mail");
    assert_eq!(
        upper.map(|u| u.id),
        Some(user.id),
        "find_user_by_email must ignore case"
    );
}

/// `update_user` replaces e-mail, display name, time zone, active flag and `updated_at`, and
/// nothing else.
pub async fn update_replaces_mutable_fields(store: &dyn UserStore) {
    let original = user();
    store.insert_user(&original).await.must("insert a user");
    let mut changed = original.clone();
    changed.email = format!("renamed-{}@example.test", super::unique());
    changed.display_name = None;
    changed.time_zone = "America/New_York".to_owned();
    changed.is_active = false;
    changed.updated_at = original.updated_at + TimeDelta::minutes(5);
    let mut sent = changed.clone();
    sent.created_at = now() - TimeDelta::days(365);
    store.update_user(&sent).await.must("update a user");
    let got = store
        .get_user(original.id)
        .await
        .must("get the updated user");
    assert_eq!(
        got, changed,
        "update_user must replace the mutable fields and keep created_at"
    );
    let by_new = store
        .find_user_by_email(&changed.email)
        .await
        .must("find by the new e-mail");
    assert_eq!(
        by_new.map(|u| u.id),
        Some(original.id),
        "the new e-mail must find the user"
    );
    let by_old = store
        .find_user_by_email(&original.email)
        .await
        .must("find by the old e-mail");
    assert_eq!(by_old, None, "the old e-mail must no longer find the user");
}

/// Changing an e-mail to another user's is `Conflict` and changes nothing.
pub async fn update_to_a_taken_email_is_conflict(store: &dyn UserStore) {
    let a = user();
    let b = user();
    store.insert_user(&a).await.must("insert user a");
    store.insert_user(&b).await.must("insert user b");
    let mut stolen = b.clone();
    stolen.email = a.email.to_uppercase();
    stolen.display_name = Some("Thief".to_owned());
    expect_kind(
        store.update_user(&stolen).await,
        ErrorKind::Conflict,
        "update_user to another user's e-mail",
    );
    assert_eq!(
        store.get_user(b.id).await.must("get user b"),
        b,
        "a rejected update must change nothing"
    );
}

/// Updating an unknown user is `NotFound`.
pub async fn update_of_missing_user_is_not_found(store: &dyn UserStore) {
    let ghost = user();
    expect_kind(
        store.update_user(&ghost).await,
        ErrorKind::NotFound,
        "update_user of an unknown id",
    );
    expect_kind(
        store.get_user(ghost.id).await,
        ErrorKind::NotFound,
        "update_user must not insert",
    );
}
