//! Conformance suite for [`ConnectionStore`].

use chrono::TimeDelta;

use super::fixtures::{connection_for, user};
use super::{Must, expect_kind, expect_kinds};
use crate::cipher::AesGcmCipher;
use crate::{
    ConnectionId, ConnectionStatus, ConnectionStore, ErrorKind, Platform, PlatformConnection,
    Secret, TokenCipher, UserId, UserStore,
};

/// Every [`ConnectionStore`] must pass these; `users` stores the owners (the same backend, so
/// foreign keys hold). Scenarios use fresh users, so the stores may be reused.
pub async fn run_all(users: &dyn UserStore, store: &dyn ConnectionStore) {
    insert_then_get_roundtrips(users, store).await;
    missing_connection_is_not_found(store).await;
    duplicate_account_is_conflict(users, store).await;
    update_bumps_version_and_stores_fields(users, store).await;
    stale_version_update_is_conflict_and_changes_nothing(users, store).await;
    update_of_missing_connection_fails(users, store).await;
    list_is_oldest_first_and_only_the_users(users, store).await;
    find_active_connection_returns_the_oldest_active_one(users, store).await;
}

fn cipher() -> AesGcmCipher {
    AesGcmCipher::random("testkit")
}

async fn new_user(users: &dyn UserStore) -> UserId {
    let user = user();
    users
        .insert_user(&user)
        .await
        .must("insert the connection owner");
    user.id
}

async fn insert(store: &dyn ConnectionStore, connection: &PlatformConnection) {
    store
        .insert_connection(connection)
        .await
        .must("insert a connection");
}

/// A connection reads back exactly as inserted, tokens still encrypted.
pub async fn insert_then_get_roundtrips(users: &dyn UserStore, store: &dyn ConnectionStore) {
    let cipher = cipher();
    let user_id = new_user(users).await;
    let full = connection_for(user_id, Platform::Mastodon, &cipher);
    insert(store, &full).await;
    let got = store
        .get_connection(full.id)
        .await
        .must("get the inserted connection");
    assert_eq!(
        got, full,
        "get_connection must return the connection exactly as inserted"
    );
    assert!(
        cipher.decrypt(&got.access_token).is_ok(),
        "the stored access token must still decrypt with the cipher that encrypted it"
    );
    let mut bare = connection_for(user_id, Platform::Bluesky, &cipher);
    bare.refresh_token = None;
    bare.expires_at = None;
    bare.scopes = Vec::new();
    bare.metadata = serde_json::json!({});
    insert(store, &bare).await;
    assert_eq!(
        store.get_connection(bare.id).await.must("get it"),
        bare,
        "empty optional fields must round-trip"
    );
}

/// `get_connection` of an unknown id is `NotFound`.
pub async fn missing_connection_is_not_found(store: &dyn ConnectionStore) {
    expect_kind(
        store.get_connection(ConnectionId::new()).await,
        ErrorKind::NotFound,
        "get_connection of an unknown id",
    );
}

/// (user, platform, platform_user_id) is unique; the same account on another platform or for
/// another user is a different connection.
pub async fn duplicate_account_is_conflict(users: &dyn UserStore, store: &dyn ConnectionStore) {
    let cipher = cipher();
    let user_id = new_user(users).await;
    let first = connection_for(user_id, Platform::Twitter, &cipher);
    insert(store, &first).await;

    let mut duplicate = connection_for(user_id, Platform::Twitter, &cipher);
    duplicate.platform_user_id = first.platform_user_id.clone();
    expect_kind(
        store.insert_connection(&duplicate).await,
        ErrorKind::Conflict,
        "insert_connection of the same account twice",
    );
    expect_kind(
        store.get_connection(duplicate.id).await,
        ErrorKind::NotFound,
        "a duplicate connection must not be stored",
    );

    let mut other_platform = connection_for(user_id, Platform::Linkedin, &cipher);
    other_platform.platform_user_id = first.platform_user_id.clone();
    store
        .insert_connection(&other_platform)
        .await
        .must("the same platform_user_id on another platform is another account");

    let other_user = new_user(users).await;
    let mut other_owner = connection_for(other_user, Platform::Twitter, &cipher);
    other_owner.platform_user_id = first.platform_user_id.clone();
    store
        .insert_connection(&other_owner)
        .await
        .must("another user may connect the same account: uniqueness is per (user, platform, platform_user_id)");

    let mut same_id = connection_for(user_id, Platform::Facebook, &cipher);
    same_id.id = first.id;
    expect_kind(
        store.insert_connection(&same_id).await,
        ErrorKind::Conflict,
        "insert_connection with an existing id",
    );
    assert_eq!(
        store
            .get_connection(first.id)
            .await
            .must("get the first connection"),
        first,
        "rejected inserts change nothing"
    );
}

/// A compare-and-swap update stores every field and returns `version + 1`.
pub async fn update_bumps_version_and_stores_fields(
    users: &dyn UserStore,
    store: &dyn ConnectionStore,
) {
    let cipher = cipher();
    let user_id = new_user(users).await;
    let original = connection_for(user_id, Platform::Bluesky, &cipher);
    insert(store, &original).await;

    let mut changed = original.clone();
    changed.platform_username = "renamed.example".to_owned();
    changed.access_token = cipher
        .encrypt(&Secret::new("rotated-access".to_owned()))
        .must("encrypt");
    changed.refresh_token = Some(
        cipher
            .encrypt(&Secret::new("rotated-refresh".to_owned()))
            .must("encrypt"),
    );
    changed.expires_at = original.expires_at.map(|t| t + TimeDelta::hours(1));
    changed.scopes = vec!["read".to_owned()];
    changed.status = ConnectionStatus::NeedsReauth;
    changed.metadata = serde_json::json!({ "did": "did:plc:abc", "pds": "https://pds.example" });
    changed.updated_at = original.updated_at + TimeDelta::minutes(1);
    let version = store
        .update_connection(&changed)
        .await
        .must("update a connection");
    assert_eq!(
        version,
        original.version + 1,
        "update_connection must return the stored version + 1"
    );
    let got = store
        .get_connection(original.id)
        .await
        .must("get the updated connection");
    assert_eq!(
        got,
        PlatformConnection {
            version,
            ..changed.clone()
        },
        "update_connection must store every field"
    );

    let mut again = got.clone();
    again.status = ConnectionStatus::Active;
    let next = store
        .update_connection(&again)
        .await
        .must("update with the returned version");
    assert_eq!(next, version + 1, "each update bumps the version by one");
}

/// An update carrying an old version is `Conflict` and changes nothing: two processes cannot both
/// spend a rotating refresh token.
pub async fn stale_version_update_is_conflict_and_changes_nothing(
    users: &dyn UserStore,
    store: &dyn ConnectionStore,
) {
    let cipher = cipher();
    let user_id = new_user(users).await;
    let original = connection_for(user_id, Platform::Twitter, &cipher);
    insert(store, &original).await;

    let mut winner = original.clone();
    winner.refresh_token = Some(
        cipher
            .encrypt(&Secret::new("winner".to_owned()))
            .must("encrypt"),
    );
    let version = store.update_connection(&winner).await.must("first update");

    let mut loser = original.clone();
    loser.refresh_token = Some(
        cipher
            .encrypt(&Secret::new("loser".to_owned()))
            .must("encrypt"),
    );
    expect_kind(
        store.update_connection(&loser).await,
        ErrorKind::Conflict,
        "update_connection with a stale version",
    );
    let got = store
        .get_connection(original.id)
        .await
        .must("get the connection");
    assert_eq!(
        got,
        PlatformConnection { version, ..winner },
        "a stale update must change nothing"
    );

    let mut future = got.clone();
    future.version += 5;
    expect_kind(
        store.update_connection(&future).await,
        ErrorKind::Conflict,
        "update_connection with a version ahead of the stored one",
    );
}

/// Updating a connection that was never inserted fails (`NotFound` or `Conflict`) and inserts
/// nothing.
pub async fn update_of_missing_connection_fails(
    users: &dyn UserStore,
    store: &dyn ConnectionStore,
) {
    let user_id = new_user(users).await;
    let ghost = connection_for(user_id, Platform::Facebook, &cipher());
    expect_kinds(
        store.update_connection(&ghost).await,
        &[ErrorKind::NotFound, ErrorKind::Conflict],
        "update_connection of an unknown id",
    );
    expect_kind(
        store.get_connection(ghost.id).await,
        ErrorKind::NotFound,
        "update_connection must not insert",
    );
}

/// `list_connections` returns the user's connections, oldest first, and nobody else's.
pub async fn list_is_oldest_first_and_only_the_users(
    users: &dyn UserStore,
    store: &dyn ConnectionStore,
) {
    let cipher = cipher();
    let user_id = new_user(users).await;
    let other_id = new_user(users).await;
    assert!(
        store
            .list_connections(user_id)
            .await
            .must("list an empty user's connections")
            .is_empty()
    );

    let base = super::fixtures::now() - TimeDelta::hours(1);
    let mut made = Vec::new();
    for (i, platform) in [Platform::Mastodon, Platform::Twitter, Platform::Bluesky]
        .into_iter()
        .enumerate()
    {
        let mut c = connection_for(user_id, platform, &cipher);
        c.created_at = base + TimeDelta::minutes(i as i64);
        c.updated_at = c.created_at;
        made.push(c);
    }
    for i in [2, 0, 1] {
        insert(store, &made[i]).await;
    }
    insert(store, &connection_for(other_id, Platform::Twitter, &cipher)).await;

    let listed = store
        .list_connections(user_id)
        .await
        .must("list connections");
    assert_eq!(
        listed, made,
        "list_connections must return exactly the user's connections, oldest first"
    );
}

/// `find_active_connection` returns the oldest active connection on the platform, or `None`.
pub async fn find_active_connection_returns_the_oldest_active_one(
    users: &dyn UserStore,
    store: &dyn ConnectionStore,
) {
    let cipher = cipher();
    let user_id = new_user(users).await;
    let base = super::fixtures::now() - TimeDelta::hours(1);
    let at = |c: &mut PlatformConnection, minutes: i64| {
        c.created_at = base + TimeDelta::minutes(minutes);
        c.updated_at = c.created_at;
    };
    let mut dead = connection_for(user_id, Platform::Twitter, &cipher);
    dead.status = ConnectionStatus::NeedsReauth;
    at(&mut dead, 0);
    let mut gone = connection_for(user_id, Platform::Twitter, &cipher);
    gone.status = ConnectionStatus::Disconnected;
    at(&mut gone, 1);
    let mut oldest_active = connection_for(user_id, Platform::Twitter, &cipher);
    at(&mut oldest_active, 2);
    let mut newer_active = connection_for(user_id, Platform::Twitter, &cipher);
    at(&mut newer_active, 3);
    let mut elsewhere = connection_for(user_id, Platform::Bluesky, &cipher);
    at(&mut elsewhere, -10);
    for c in [&newer_active, &elsewhere, &dead, &oldest_active, &gone] {
        insert(store, c).await;
    }
    let other_id = new_user(users).await;
    let mut foreign = connection_for(other_id, Platform::Twitter, &cipher);
    at(&mut foreign, -20);
    insert(store, &foreign).await;

    let found = store
        .find_active_connection(user_id, Platform::Twitter)
        .await
        .must("find the active connection");
    assert_eq!(
        found,
        Some(oldest_active),
        "find_active_connection must return the user's oldest active connection on the platform"
    );
    let none = store
        .find_active_connection(user_id, Platform::Mastodon)
        .await
        .must("find on an unconnected platform");
    assert_eq!(
        none, None,
        "find_active_connection must be None without an active connection on the platform"
    );

    let mut lone = connection_for(user_id, Platform::Linkedin, &cipher);
    lone.status = ConnectionStatus::NeedsReauth;
    insert(store, &lone).await;
    let none = store
        .find_active_connection(user_id, Platform::Linkedin)
        .await
        .must("find among inactive connections");
    assert_eq!(
        none, None,
        "connections that are not active must not be returned"
    );
}
