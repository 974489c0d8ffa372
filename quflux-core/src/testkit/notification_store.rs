//! Conformance suite for [`NotificationStore`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::TimeDelta;

use super::Must;
use super::fixtures::notification_for;
use crate::{
    ConnectionId, Notification, NotificationId, NotificationKind, NotificationStore, Platform,
    StoredNotification, UserId,
};

/// Every [`NotificationStore`] must pass these. Scenarios use fresh users, so the store may be
/// reused, also by concurrently running tests.
pub async fn run_all(store: &dyn NotificationStore) {
    insert_returns_increasing_positive_seqs(store).await;
    notifications_roundtrip(store).await;
    reinserting_an_id_returns_its_seq_and_changes_nothing(store).await;
    users_are_isolated(store).await;
    after_seq_pages_oldest_first(store).await;
    limit_caps_the_page(store).await;
    unknown_user_has_nothing(store).await;
    concurrent_inserts_never_skip_a_tailing_reader(store).await;
}

async fn insert(store: &dyn NotificationStore, notification: &Notification) -> i64 {
    store
        .insert_notification(notification)
        .await
        .must("insert a notification")
}

async fn list(
    store: &dyn NotificationStore,
    user_id: UserId,
    after_seq: i64,
    limit: u32,
) -> Vec<StoredNotification> {
    store
        .list_notifications(user_id, after_seq, limit)
        .await
        .must("list notifications")
}

fn seqs(rows: &[StoredNotification]) -> Vec<i64> {
    rows.iter().map(|n| n.seq).collect()
}

/// Seqs are positive and strictly increase with every insert, across users.
pub async fn insert_returns_increasing_positive_seqs(store: &dyn NotificationStore) {
    let a = UserId::new();
    let b = UserId::new();
    let mut previous = 0;
    for user_id in [a, b, a, a, b] {
        let seq = insert(store, &notification_for(user_id)).await;
        assert!(seq > 0, "seq must be positive, got {seq}");
        assert!(
            seq > previous,
            "seq must increase across the store: {seq} after {previous}"
        );
        previous = seq;
    }
    assert_eq!(
        store
            .last_notification_seq(b)
            .await
            .must("last seq of user b"),
        previous,
        "last_notification_seq must be the seq of the user's latest notification"
    );
}

/// Notifications of every kind, with and without optional fields, read back as inserted with
/// the seq `insert_notification` returned.
pub async fn notifications_roundtrip(store: &dyn NotificationStore) {
    let user_id = UserId::new();
    let mut expected = Vec::new();
    for kind in [
        NotificationKind::Published,
        NotificationKind::Failed,
        NotificationKind::Unconfirmed,
        NotificationKind::ConnectionNeedsReauth,
    ] {
        let full = Notification {
            kind,
            connection_id: Some(ConnectionId::new()),
            platform: Some(Platform::Mastodon),
            ..notification_for(user_id)
        };
        let bare = Notification {
            kind,
            title: String::new(),
            message: "Ünïcödé 🎉\nline two <b>&amp;</b>".to_owned(),
            platform: None,
            post_id: None,
            publication_id: None,
            connection_id: None,
            platform_post_id: None,
            url: None,
            created_at: notification_for(user_id).created_at - TimeDelta::days(3),
            ..notification_for(user_id)
        };
        for notification in [full, bare] {
            let seq = insert(store, &notification).await;
            expected.push(StoredNotification { seq, notification });
        }
    }
    assert_eq!(
        list(store, user_id, 0, 100).await,
        expected,
        "list_notifications must return every notification as inserted, in seq order"
    );
}

/// Inserting a stored id again returns the stored seq and stores nothing new, even when the
/// content differs.
pub async fn reinserting_an_id_returns_its_seq_and_changes_nothing(store: &dyn NotificationStore) {
    let user_id = UserId::new();
    let first = notification_for(user_id);
    let seq = insert(store, &first).await;
    let later = insert(store, &notification_for(user_id)).await;
    let changed = Notification {
        title: "Changed title".to_owned(),
        kind: NotificationKind::Failed,
        ..first.clone()
    };
    assert_eq!(
        insert(store, &first).await,
        seq,
        "re-inserting an id must return its stored seq"
    );
    assert_eq!(
        insert(store, &changed).await,
        seq,
        "re-inserting an id with other content must return its stored seq"
    );
    let rows = list(store, user_id, 0, 100).await;
    assert_eq!(
        seqs(&rows),
        vec![seq, later],
        "re-inserting must not add rows"
    );
    assert_eq!(
        rows[0].notification, first,
        "re-inserting must not change the stored notification"
    );
    assert_eq!(
        store.last_notification_seq(user_id).await.must("last seq"),
        later,
        "re-inserting must not move the last seq"
    );
}

/// Each user sees only their notifications, and their own last seq.
pub async fn users_are_isolated(store: &dyn NotificationStore) {
    let a = UserId::new();
    let b = UserId::new();
    let mut of_a = Vec::new();
    let mut of_b = Vec::new();
    for (i, user_id) in [a, b, b, a, b].into_iter().enumerate() {
        let notification = Notification {
            title: format!("notification {i}"),
            ..notification_for(user_id)
        };
        let seq = insert(store, &notification).await;
        let row = StoredNotification { seq, notification };
        if user_id == a {
            of_a.push(row);
        } else {
            of_b.push(row);
        }
    }
    assert_eq!(
        list(store, a, 0, 100).await,
        of_a,
        "list_notifications must return only user a's notifications"
    );
    assert_eq!(
        list(store, b, 0, 100).await,
        of_b,
        "list_notifications must return only user b's notifications"
    );
    let last_of = |rows: &[StoredNotification]| rows.last().map_or(0, |n| n.seq);
    assert_eq!(
        store.last_notification_seq(a).await.must("last seq of a"),
        last_of(&of_a),
        "last_notification_seq must ignore other users"
    );
    assert_eq!(
        store.last_notification_seq(b).await.must("last seq of b"),
        last_of(&of_b),
        "last_notification_seq must be the user's highest seq"
    );
    assert!(
        list(store, a, last_of(&of_a), 100).await.is_empty(),
        "after the user's last seq there is nothing, whatever other users have"
    );
}

/// `after_seq` is exclusive; pages come oldest first and, chained, return every notification
/// once.
pub async fn after_seq_pages_oldest_first(store: &dyn NotificationStore) {
    let user_id = UserId::new();
    let other = UserId::new();
    let mut all = Vec::new();
    for _ in 0..7 {
        all.push(insert(store, &notification_for(user_id)).await);
        // Another user's notification between each: the user's seqs have gaps.
        insert(store, &notification_for(other)).await;
    }
    assert_eq!(
        seqs(&list(store, user_id, all[1], 2).await),
        all[2..4].to_vec(),
        "list_notifications must start right after after_seq, oldest first"
    );
    assert_eq!(
        seqs(&list(store, user_id, all[1] + 1, 100).await),
        all[2..].to_vec(),
        "after_seq need not be one of the user's seqs"
    );
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        let page = list(store, user_id, cursor, 3).await;
        assert!(page.len() <= 3, "a page must hold at most `limit` rows");
        let Some(last) = page.last() else { break };
        cursor = last.seq;
        seen.extend(seqs(&page));
    }
    assert_eq!(
        seen, all,
        "paging by the last seen seq must visit every row once"
    );
    assert!(
        list(store, user_id, i64::MAX, 10).await.is_empty(),
        "nothing comes after i64::MAX"
    );
    assert_eq!(
        seqs(&list(store, user_id, -5, 1).await),
        vec![all[0]],
        "a negative after_seq starts at the beginning"
    );
}

/// `limit` caps the page; a limit of 0 returns nothing.
pub async fn limit_caps_the_page(store: &dyn NotificationStore) {
    let user_id = UserId::new();
    let mut all = Vec::new();
    for _ in 0..4 {
        all.push(insert(store, &notification_for(user_id)).await);
    }
    assert!(
        list(store, user_id, 0, 0).await.is_empty(),
        "limit 0 must return nothing"
    );
    assert_eq!(seqs(&list(store, user_id, 0, 1).await), vec![all[0]]);
    assert_eq!(seqs(&list(store, user_id, 0, 3).await), all[..3].to_vec());
    assert_eq!(
        seqs(&list(store, user_id, 0, u32::MAX).await),
        all,
        "a huge limit returns everything"
    );
}

/// A user without notifications lists nothing and has last seq 0.
pub async fn unknown_user_has_nothing(store: &dyn NotificationStore) {
    let user_id = UserId::new();
    assert!(list(store, user_id, 0, 100).await.is_empty());
    assert_eq!(
        store
            .last_notification_seq(user_id)
            .await
            .must("last seq of an unknown user"),
        0,
        "last_notification_seq of a user without notifications must be 0"
    );
}

/// Four writers insert notifications for one user concurrently while a reader tails them with
/// `after_seq = last seen`: the reader sees every notification exactly once, in increasing
/// seq order. A store that hands out seqs before commit order (a plain sequence read by a
/// later-committing transaction) makes the reader skip rows.
pub async fn concurrent_inserts_never_skip_a_tailing_reader(store: &dyn NotificationStore) {
    const WRITERS: usize = 4;
    const EACH: usize = 25;
    let user_id = UserId::new();
    let done = AtomicBool::new(false);
    let writers = async {
        let writers = (0..WRITERS).map(|w| async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                let notification = Notification {
                    title: format!("writer {w} #{i}"),
                    ..notification_for(user_id)
                };
                insert(store, &notification).await;
                ids.push(notification.id);
            }
            ids
        });
        let ids: Vec<NotificationId> = futures::future::join_all(writers)
            .await
            .into_iter()
            .flatten()
            .collect();
        done.store(true, Ordering::SeqCst);
        ids
    };
    let reader = async {
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            // Read the flag first: a page read after it is set holds every remaining row.
            let finished = done.load(Ordering::SeqCst);
            let page = list(store, user_id, cursor, 7).await;
            if let Some(last) = page.last() {
                cursor = last.seq;
            }
            let empty = page.is_empty();
            seen.extend(page);
            if finished && empty {
                break seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let (written, seen) = futures::join!(writers, reader);
    let seen_seqs = seqs(&seen);
    assert!(
        seen_seqs.windows(2).all(|w| w[0] < w[1]),
        "a tailing reader must see seqs in increasing order, saw {seen_seqs:?}"
    );
    let seen_ids: Vec<NotificationId> = seen.iter().map(|n| n.notification.id).collect();
    let unique_ids: HashSet<NotificationId> = seen_ids.iter().copied().collect();
    assert_eq!(
        unique_ids.len(),
        seen_ids.len(),
        "a tailing reader must see each notification once"
    );
    let written: HashSet<NotificationId> = written.into_iter().collect();
    let missed = written.difference(&unique_ids).count();
    assert_eq!(
        missed,
        0,
        "a tailing reader skipped {missed} of {} notifications inserted concurrently",
        WRITERS * EACH
    );
    assert_eq!(
        unique_ids, written,
        "the reader must see exactly the notifications written"
    );
    assert_eq!(
        list(store, user_id, 0, u32::MAX).await.len(),
        WRITERS * EACH,
        "every concurrent insert must be stored"
    );
}
