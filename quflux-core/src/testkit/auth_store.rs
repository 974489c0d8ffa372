//! Conformance suite for [`AuthStore`].

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use super::fixtures::{now, user};
use super::{Must, expect_kind, unique};
use crate::{AuthStore, ErrorKind, Session, User, UserId, UserStore};

/// A PHC string as argon2 writes it, made unique per call.
fn phc() -> String {
    format!(
        "$argon2id$v=19$m=19456,t=2,p=1${}$J5W5bN0Zsz5tCc8vMW7Eo3KDDRr3l7b/3Rj8G2S3zR0",
        &unique()[..22]
    )
}

/// A live session of `user_id` with a fresh token, created at `at`, expiring a day later.
pub fn session_for(user_id: UserId, at: DateTime<Utc>) -> Session {
    let token = format!("qfx_{}", unique());
    Session {
        token_hash: format!("{:x}", Sha256::digest(token.as_bytes())),
        user_id,
        created_at: at,
        expires_at: at + TimeDelta::days(1),
        revoked_at: None,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Testkit/1.0".to_owned()),
        address: Some("2001:db8::1".to_owned()),
    }
}

/// Every [`AuthStore`] must pass these; `users` is the same backend seen as a [`UserStore`].
/// Scenarios use fresh users and tokens, so the store may be reused. Sessions are purged only
/// with cut-offs far in the past, so other tests' sessions survive.
pub async fn run_all(users: &dyn UserStore, store: &dyn AuthStore) {
    insert_with_password_stores_both(users, store).await;
    conflicting_insert_with_password_stores_nothing(users, store).await;
    user_without_password_has_no_hash(users, store).await;
    set_password_hash_sets_and_replaces(users, store).await;
    password_hash_of_missing_user_is_not_found(store).await;
    session_roundtrips(users, store).await;
    duplicate_session_is_conflict(users, store).await;
    session_of_unknown_user_is_conflict(store).await;
    unknown_session_is_none(store).await;
    revoke_session_once(store).await;
    revoke_user_sessions_revokes_only_live_sessions_of_the_user(store).await;
    purge_deletes_sessions_expired_or_revoked_before_the_cutoff(store).await;
}

async fn new_user(store: &dyn AuthStore) -> User {
    let user = user();
    store
        .insert_user_with_password(&user, &phc())
        .await
        .must("insert a user with a password");
    user
}

/// `insert_user_with_password` stores a user that the [`UserStore`] finds, and its hash.
pub async fn insert_with_password_stores_both(users: &dyn UserStore, store: &dyn AuthStore) {
    let user = user();
    let hash = phc();
    store
        .insert_user_with_password(&user, &hash)
        .await
        .must("insert a user with a password");
    assert_eq!(
        users.get_user(user.id).await.must("get the user"),
        user,
        "insert_user_with_password must store the user as given"
    );
    assert_eq!(
        users
            .find_user_by_email(&user.email.to_uppercase())
            .await
            .must("find the user by e-mail")
            .map(|u| u.id),
        Some(user.id),
        "the user must be found by e-mail, ignoring case"
    );
    assert_eq!(
        store
            .get_password_hash(user.id)
            .await
            .must("get the password hash"),
        Some(hash),
        "get_password_hash must return the hash as inserted"
    );
}

/// A taken e-mail (in any case) or id is `Conflict`, and neither the user nor a hash is stored.
pub async fn conflicting_insert_with_password_stores_nothing(
    users: &dyn UserStore,
    store: &dyn AuthStore,
) {
    let first = user();
    users.insert_user(&first).await.must("insert a user");
    let mut same_email = user();
    same_email.email = first.email.to_uppercase();
    expect_kind(
        store.insert_user_with_password(&same_email, &phc()).await,
        ErrorKind::Conflict,
        "insert_user_with_password with a taken e-mail",
    );
    expect_kind(
        users.get_user(same_email.id).await,
        ErrorKind::NotFound,
        "a user rejected for its e-mail must not be stored",
    );
    expect_kind(
        store.get_password_hash(same_email.id).await,
        ErrorKind::NotFound,
        "a rejected insert must leave no password hash behind",
    );

    let mut same_id = user();
    same_id.id = first.id;
    expect_kind(
        store.insert_user_with_password(&same_id, &phc()).await,
        ErrorKind::Conflict,
        "insert_user_with_password with a taken id",
    );
    assert_eq!(
        users.get_user(first.id).await.must("get the first user"),
        first,
        "a rejected insert must not change the existing user"
    );
    assert_eq!(
        store
            .get_password_hash(first.id)
            .await
            .must("get the first user's hash"),
        None,
        "a rejected insert must not give the existing user a password"
    );
}

/// A user inserted through [`UserStore::insert_user`] exists without a hash.
pub async fn user_without_password_has_no_hash(users: &dyn UserStore, store: &dyn AuthStore) {
    let user = user();
    users.insert_user(&user).await.must("insert a user");
    assert_eq!(
        store
            .get_password_hash(user.id)
            .await
            .must("get the hash of a user without password"),
        None,
        "a user without password has no hash"
    );
}

/// `set_password_hash` gives a user without password one, and replaces an existing one.
pub async fn set_password_hash_sets_and_replaces(users: &dyn UserStore, store: &dyn AuthStore) {
    let bare = user();
    users.insert_user(&bare).await.must("insert a user");
    let first = phc();
    store
        .set_password_hash(bare.id, &first)
        .await
        .must("set a first password hash");
    assert_eq!(
        store.get_password_hash(bare.id).await.must("get the hash"),
        Some(first),
        "set_password_hash must store the hash"
    );
    let second = phc();
    store
        .set_password_hash(bare.id, &second)
        .await
        .must("replace the password hash");
    assert_eq!(
        store.get_password_hash(bare.id).await.must("get the hash"),
        Some(second.clone()),
        "set_password_hash must replace the hash"
    );

    let other = new_user(store).await;
    let other_hash = store
        .get_password_hash(other.id)
        .await
        .must("get another user's hash");
    let third = phc();
    store
        .set_password_hash(other.id, &third)
        .await
        .must("replace a hash set at insert");
    assert_eq!(
        store.get_password_hash(other.id).await.must("get the hash"),
        Some(third),
        "set_password_hash must replace a hash set by insert_user_with_password"
    );
    assert_ne!(other_hash, Some(second.clone()));
    assert_eq!(
        store.get_password_hash(bare.id).await.must("get the hash"),
        Some(second),
        "set_password_hash must change only the given user's hash"
    );
}

/// Reading or setting the hash of an unknown user is `NotFound`, and creates nothing.
pub async fn password_hash_of_missing_user_is_not_found(store: &dyn AuthStore) {
    let ghost = UserId::new();
    expect_kind(
        store.get_password_hash(ghost).await,
        ErrorKind::NotFound,
        "get_password_hash of an unknown user",
    );
    expect_kind(
        store.set_password_hash(ghost, &phc()).await,
        ErrorKind::NotFound,
        "set_password_hash of an unknown user",
    );
    expect_kind(
        store.get_password_hash(ghost).await,
        ErrorKind::NotFound,
        "set_password_hash must not create a user",
    );
}

/// A session reads back exactly as inserted, with and without optional fields.
pub async fn session_roundtrips(users: &dyn UserStore, store: &dyn AuthStore) {
    let user = new_user(store).await;
    let session = session_for(user.id, now());
    store
        .insert_session(&session)
        .await
        .must("insert a session");
    assert_eq!(
        store
            .get_session(&session.token_hash)
            .await
            .must("get the session"),
        Some(session.clone()),
        "get_session must return the session as inserted"
    );

    let bare_user = super::fixtures::user();
    users.insert_user(&bare_user).await.must("insert a user");
    let bare = Session {
        user_agent: None,
        address: None,
        revoked_at: Some(now() - TimeDelta::minutes(1)),
        expires_at: now() - TimeDelta::minutes(2),
        ..session_for(bare_user.id, now() - TimeDelta::hours(1))
    };
    store
        .insert_session(&bare)
        .await
        .must("insert an expired, revoked session without client details");
    assert_eq!(
        store.get_session(&bare.token_hash).await.must("get it"),
        Some(bare),
        "expired and revoked sessions are returned too, optional fields as None"
    );
}

/// A second session with the same token hash is `Conflict` and changes nothing.
pub async fn duplicate_session_is_conflict(users: &dyn UserStore, store: &dyn AuthStore) {
    let owner = new_user(store).await;
    let other = super::fixtures::user();
    users.insert_user(&other).await.must("insert another user");
    let session = session_for(owner.id, now());
    store
        .insert_session(&session)
        .await
        .must("insert a session");
    let again = Session {
        token_hash: session.token_hash.clone(),
        ..session_for(other.id, now() + TimeDelta::minutes(1))
    };
    expect_kind(
        store.insert_session(&again).await,
        ErrorKind::Conflict,
        "insert_session with a taken token hash",
    );
    assert_eq!(
        store
            .get_session(&session.token_hash)
            .await
            .must("get the session"),
        Some(session),
        "a rejected insert must change nothing"
    );
}

/// A session of a user the store does not know is `Conflict` and is not stored.
pub async fn session_of_unknown_user_is_conflict(store: &dyn AuthStore) {
    let session = session_for(UserId::new(), now());
    expect_kind(
        store.insert_session(&session).await,
        ErrorKind::Conflict,
        "insert_session for an unknown user",
    );
    assert_eq!(
        store
            .get_session(&session.token_hash)
            .await
            .must("get the rejected session"),
        None,
        "a rejected session must not be stored"
    );
}

/// `get_session` of an unknown hash is `None`; revoking it is `false`.
pub async fn unknown_session_is_none(store: &dyn AuthStore) {
    let hash = format!("{:x}", Sha256::digest(unique().as_bytes()));
    assert_eq!(
        store
            .get_session(&hash)
            .await
            .must("get an unknown session"),
        None,
        "get_session of an unknown token hash must be None"
    );
    assert!(
        !store
            .revoke_session(&hash, now())
            .await
            .must("revoke an unknown session"),
        "revoke_session of an unknown token hash must be false"
    );
}

/// `revoke_session` stamps `revoked_at` once: the second call is `false` and keeps the first
/// time. Other sessions of the user stay live.
pub async fn revoke_session_once(store: &dyn AuthStore) {
    let user = new_user(store).await;
    let at = now();
    let session = session_for(user.id, at);
    let sibling = session_for(user.id, at);
    store
        .insert_session(&session)
        .await
        .must("insert a session");
    store
        .insert_session(&sibling)
        .await
        .must("insert a second session");
    let revoked_at = at + TimeDelta::minutes(5);
    assert!(
        store
            .revoke_session(&session.token_hash, revoked_at)
            .await
            .must("revoke the session"),
        "revoking a live session must return true"
    );
    assert!(
        !store
            .revoke_session(&session.token_hash, revoked_at + TimeDelta::minutes(1))
            .await
            .must("revoke it again"),
        "revoking a revoked session must return false"
    );
    assert_eq!(
        store
            .get_session(&session.token_hash)
            .await
            .must("get the revoked session"),
        Some(Session {
            revoked_at: Some(revoked_at),
            ..session
        }),
        "revoke_session must set revoked_at to the first revocation time and change nothing else"
    );
    assert_eq!(
        store
            .get_session(&sibling.token_hash)
            .await
            .must("get the other session"),
        Some(sibling),
        "revoke_session must leave the user's other sessions alone"
    );
}

/// `revoke_user_sessions` revokes the user's sessions that are neither revoked nor expired at
/// `at`, returns how many, and leaves other sessions and other users alone.
pub async fn revoke_user_sessions_revokes_only_live_sessions_of_the_user(store: &dyn AuthStore) {
    let user = new_user(store).await;
    let bystander = new_user(store).await;
    let at = now();
    let live = [session_for(user.id, at), session_for(user.id, at)];
    let expired = Session {
        expires_at: at - TimeDelta::seconds(1),
        ..session_for(user.id, at - TimeDelta::days(2))
    };
    let earlier = at - TimeDelta::hours(1);
    let revoked = Session {
        revoked_at: Some(earlier),
        ..session_for(user.id, at - TimeDelta::hours(2))
    };
    let other = session_for(bystander.id, at);
    for session in live.iter().chain([&expired, &revoked, &other]) {
        store.insert_session(session).await.must("insert a session");
    }
    let sign_out = at + TimeDelta::seconds(30);
    assert_eq!(
        store
            .revoke_user_sessions(user.id, sign_out)
            .await
            .must("revoke the user's sessions"),
        2,
        "revoke_user_sessions must count the user's live sessions only"
    );
    for session in &live {
        assert_eq!(
            store
                .get_session(&session.token_hash)
                .await
                .must("get a revoked session"),
            Some(Session {
                revoked_at: Some(sign_out),
                ..session.clone()
            }),
            "every live session of the user must be revoked at the given time"
        );
    }
    for (session, what) in [
        (&expired, "an expired session"),
        (&revoked, "an already revoked session"),
        (&other, "another user's session"),
    ] {
        assert_eq!(
            store
                .get_session(&session.token_hash)
                .await
                .must("get a session"),
            Some(session.clone()),
            "revoke_user_sessions must not touch {what}"
        );
    }
    assert_eq!(
        store
            .revoke_user_sessions(user.id, sign_out)
            .await
            .must("revoke again"),
        0,
        "nothing is left to revoke"
    );
    assert_eq!(
        store
            .revoke_user_sessions(UserId::new(), sign_out)
            .await
            .must("revoke an unknown user's sessions"),
        0,
        "an unknown user has no sessions"
    );
}

/// `purge_sessions(before)` deletes sessions that expired or were revoked before `before` and
/// keeps the others, including ones expiring or revoked exactly at `before`.
///
/// The scenario's sessions lie around 2001-01-01, so its cut-off never reaches the sessions of
/// other scenarios. It first purges what earlier runs left before that cut-off; a store may be
/// reused, but this scenario must not run concurrently with itself on one store.
pub async fn purge_deletes_sessions_expired_or_revoked_before_the_cutoff(store: &dyn AuthStore) {
    let user = new_user(store).await;
    let cutoff = DateTime::<Utc>::from_timestamp(978_307_200, 0).unwrap_or_default();
    store
        .purge_sessions(cutoff)
        .await
        .must("purge what earlier runs left");
    let session = |created: DateTime<Utc>, expires: DateTime<Utc>, revoked| Session {
        created_at: created,
        expires_at: expires,
        revoked_at: revoked,
        ..session_for(user.id, created)
    };
    let hour = TimeDelta::hours(1);
    let expired = session(cutoff - hour * 3, cutoff - hour, None);
    let revoked = session(cutoff - hour * 3, cutoff + hour * 24, Some(cutoff - hour));
    let live = session(cutoff - hour, cutoff + hour * 24, None);
    let expiring_at_cutoff = session(cutoff - hour, cutoff, None);
    let revoked_at_cutoff = session(cutoff - hour, cutoff + hour, Some(cutoff));
    let revoked_later = session(cutoff - hour, cutoff + hour, Some(cutoff + hour / 2));
    for s in [
        &expired,
        &revoked,
        &live,
        &expiring_at_cutoff,
        &revoked_at_cutoff,
        &revoked_later,
    ] {
        store.insert_session(s).await.must("insert a session");
    }
    assert_eq!(
        store
            .purge_sessions(cutoff)
            .await
            .must("purge old sessions"),
        2,
        "purge_sessions must delete exactly the sessions expired or revoked before the cut-off"
    );
    for gone in [&expired, &revoked] {
        assert_eq!(
            store
                .get_session(&gone.token_hash)
                .await
                .must("get a purged session"),
            None,
            "a purged session must be gone"
        );
    }
    for kept in [
        &live,
        &expiring_at_cutoff,
        &revoked_at_cutoff,
        &revoked_later,
    ] {
        assert_eq!(
            store
                .get_session(&kept.token_hash)
                .await
                .must("get a kept session"),
            Some(kept.clone()),
            "purge_sessions must keep sessions expiring or revoked at or after the cut-off"
        );
    }
    assert_eq!(
        store.purge_sessions(cutoff).await.must("purge again"),
        0,
        "purging twice deletes nothing more"
    );
}
