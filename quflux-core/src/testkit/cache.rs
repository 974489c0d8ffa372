//! Conformance suite for [`Cache`].
//!
//! Expiry is exercised with short TTLs and real sleeps, so the cache must run on the system clock.

use std::time::Duration;

use serde_json::json;

use super::{Must, unique};
use crate::Cache;

const SHORT_TTL: Duration = Duration::from_millis(1000);
const PAST_SHORT_TTL: Duration = Duration::from_millis(1500);

/// Every [`Cache`] must pass these. Scenarios use fresh keys, so a cache may be shared.
pub async fn run_all(cache: &dyn Cache) {
    set_then_get_roundtrips(cache).await;
    missing_key_is_none(cache).await;
    set_overwrites_value_and_expiry(cache).await;
    expired_entry_is_never_returned(cache).await;
    entry_without_ttl_does_not_expire(cache).await;
    delete_removes_and_missing_key_is_fine(cache).await;
    purge_expired_deletes_and_counts_expired_entries(cache).await;
}

fn key(what: &str) -> String {
    format!("testkit:{what}:{}", unique())
}

/// Any JSON value reads back as written.
pub async fn set_then_get_roundtrips(cache: &dyn Cache) {
    let values = [
        json!({ "title": "Préview 👋", "tags": ["a", "b"], "nested": { "n": 1.5, "ok": true, "none": null } }),
        json!("just a string"),
        json!(42),
        json!([]),
        json!(null),
    ];
    for value in values {
        let k = key("roundtrip");
        cache
            .set(&k, &value, Some(Duration::from_secs(600)))
            .await
            .must("set an entry");
        assert_eq!(
            cache.get(&k).await.must("get the entry"),
            Some(value),
            "get must return the value as set"
        );
    }
}

/// A key never set reads as `None`.
pub async fn missing_key_is_none(cache: &dyn Cache) {
    assert_eq!(
        cache.get(&key("missing")).await.must("get a missing key"),
        None,
        "a missing key is None"
    );
}

/// `set` replaces both the value and the expiry.
pub async fn set_overwrites_value_and_expiry(cache: &dyn Cache) {
    let k = key("overwrite");
    cache
        .set(&k, &json!(1), Some(SHORT_TTL))
        .await
        .must("set with a short ttl");
    cache
        .set(&k, &json!(2), None)
        .await
        .must("overwrite without ttl");
    assert_eq!(
        cache.get(&k).await.must("get"),
        Some(json!(2)),
        "set overwrites the value"
    );

    let shortened = key("shortened");
    cache
        .set(&shortened, &json!("long"), None)
        .await
        .must("set without ttl");
    cache
        .set(&shortened, &json!("short"), Some(SHORT_TTL))
        .await
        .must("overwrite with a short ttl");

    tokio::time::sleep(PAST_SHORT_TTL).await;
    assert_eq!(
        cache.get(&k).await.must("get"),
        Some(json!(2)),
        "set overwrites the expiry (ttl removed)"
    );
    assert_eq!(
        cache.get(&shortened).await.must("get"),
        None,
        "set overwrites the expiry (ttl added)"
    );
}

/// An expired entry is never returned, even before it is purged.
pub async fn expired_entry_is_never_returned(cache: &dyn Cache) {
    let k = key("expiring");
    cache
        .set(&k, &json!({ "v": 1 }), Some(SHORT_TTL))
        .await
        .must("set with a short ttl");
    assert_eq!(
        cache.get(&k).await.must("get"),
        Some(json!({ "v": 1 })),
        "a live entry is returned"
    );
    tokio::time::sleep(PAST_SHORT_TTL).await;
    assert_eq!(
        cache.get(&k).await.must("get"),
        None,
        "an expired entry must not be returned"
    );
    assert_eq!(
        cache.get(&k).await.must("get"),
        None,
        "an expired entry stays invisible"
    );
}

/// `ttl = None` never expires.
pub async fn entry_without_ttl_does_not_expire(cache: &dyn Cache) {
    let k = key("forever");
    cache
        .set(&k, &json!("kept"), None)
        .await
        .must("set without ttl");
    tokio::time::sleep(PAST_SHORT_TTL).await;
    cache.purge_expired().await.must("purge");
    assert_eq!(
        cache.get(&k).await.must("get"),
        Some(json!("kept")),
        "an entry without ttl never expires"
    );
    cache.delete(&k).await.must("clean up");
}

/// `delete` removes an entry; deleting a missing key succeeds.
pub async fn delete_removes_and_missing_key_is_fine(cache: &dyn Cache) {
    let k = key("delete");
    cache.set(&k, &json!(1), None).await.must("set");
    cache.delete(&k).await.must("delete");
    assert_eq!(
        cache.get(&k).await.must("get"),
        None,
        "a deleted entry is gone"
    );
    cache.delete(&k).await.must("delete a deleted key");
    cache
        .delete(&key("never-set"))
        .await
        .must("delete a key never set");
}

/// `purge_expired` deletes expired entries, returns how many, and keeps live ones.
pub async fn purge_expired_deletes_and_counts_expired_entries(cache: &dyn Cache) {
    let expiring: Vec<String> = (0..3).map(|i| key(&format!("purge-{i}"))).collect();
    for k in &expiring {
        cache
            .set(k, &json!(k), Some(SHORT_TTL))
            .await
            .must("set with a short ttl");
    }
    let live = key("purge-live");
    cache
        .set(&live, &json!("live"), Some(Duration::from_secs(600)))
        .await
        .must("set a live entry");
    tokio::time::sleep(PAST_SHORT_TTL).await;
    // Reading one expired entry first: a cache may drop expired entries as it reads them.
    assert_eq!(
        cache.get(&expiring[0]).await.must("get"),
        None,
        "an expired entry must not be returned"
    );
    let purged = cache.purge_expired().await.must("purge expired entries");
    assert!(
        purged >= 2,
        "purge_expired must count the expired entries it deleted (got {purged}, expected at least 2)"
    );
    for k in &expiring {
        assert_eq!(
            cache.get(k).await.must("get"),
            None,
            "purged entries stay gone"
        );
    }
    assert_eq!(
        cache.get(&live).await.must("get"),
        Some(json!("live")),
        "purge_expired keeps live entries"
    );
    cache.delete(&live).await.must("clean up");
}
