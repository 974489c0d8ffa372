//! Conformance scenarios for any [`Publisher`], given a connection it can publish through.
//!
//! These scenarios drive the trait only; platform-specific behaviour (error classification,
//! rate-limit headers, requests sent) is checked by HTTP-mock fixtures in the platform crate.
//! A publisher whose platform offers no lookup answers [`Lookup::Indeterminate`]; the scenarios
//! accept that and print a visible note.

use super::fixtures::publish_request;
use super::{Must, unique};
use crate::{Lookup, PlatformConnection, PublishRequest, Publisher};

/// Runs every scenario with `connection`.
pub async fn run_all(publisher: &dyn Publisher, connection: &PlatformConnection) {
    platform_matches_the_connection(publisher, connection);
    publish_then_lookup_finds_it(publisher, connection).await;
    lookup_of_unknown_key_is_not_published(publisher, connection).await;
    delete_removes(publisher, connection).await;
}

fn request() -> PublishRequest {
    publish_request(&format!("Quflux conformance check {}", &unique()[..12]))
}

fn note_indeterminate(publisher: &dyn Publisher, scenario: &str, reason: &str) {
    eprintln!(
        "skipping part of {scenario} for {}: lookup is indeterminate ({reason})",
        publisher.platform()
    );
}

/// The publisher publishes to the connection's platform.
pub fn platform_matches_the_connection(publisher: &dyn Publisher, connection: &PlatformConnection) {
    assert_eq!(
        publisher.platform(),
        connection.platform,
        "the connection must belong to the publisher's platform"
    );
}

/// After `publish`, `lookup` of the same request finds the same post.
pub async fn publish_then_lookup_finds_it(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
) {
    let request = request();
    let post = publisher
        .publish(connection, &request)
        .await
        .must("publish");
    assert!(
        !post.platform_post_id.as_str().is_empty(),
        "a published post has a platform id"
    );
    match publisher
        .lookup(connection, &request)
        .await
        .must("lookup a published request")
    {
        Lookup::Published(found) => {
            assert_eq!(
                found.platform_post_id, post.platform_post_id,
                "lookup must find the post publish created"
            );
        }
        Lookup::Indeterminate { reason } | Lookup::ResendIsSafe { reason } => {
            note_indeterminate(publisher, "publish_then_lookup_finds_it", &reason)
        }
        Lookup::NotPublished => {
            panic!("lookup must not answer NotPublished for a request that was published")
        }
    }
    publisher
        .delete(connection, &post.platform_post_id)
        .await
        .must("clean up");
}

/// `lookup` of a request never published is `NotPublished` (or `Indeterminate`).
pub async fn lookup_of_unknown_key_is_not_published(
    publisher: &dyn Publisher,
    connection: &PlatformConnection,
) {
    let request = request();
    match publisher
        .lookup(connection, &request)
        .await
        .must("lookup an unknown request")
    {
        Lookup::NotPublished => {}
        Lookup::Indeterminate { reason } | Lookup::ResendIsSafe { reason } => {
            note_indeterminate(publisher, "lookup_of_unknown_key_is_not_published", &reason)
        }
        Lookup::Published(post) => {
            panic!("lookup found {post:?} for a request that was never published")
        }
    }
    match publisher
        .lookup(connection, &request)
        .await
        .must("lookup it again")
    {
        Lookup::Published(post) => {
            panic!("lookup must not create a post, yet it now finds {post:?}")
        }
        Lookup::NotPublished | Lookup::Indeterminate { .. } | Lookup::ResendIsSafe { .. } => {}
    }
}

/// `delete` removes a published post: a later lookup no longer finds it.
pub async fn delete_removes(publisher: &dyn Publisher, connection: &PlatformConnection) {
    let request = request();
    let post = publisher
        .publish(connection, &request)
        .await
        .must("publish");
    publisher
        .delete(connection, &post.platform_post_id)
        .await
        .must("delete the published post");
    match publisher
        .lookup(connection, &request)
        .await
        .must("lookup a deleted post")
    {
        Lookup::NotPublished => {}
        Lookup::Indeterminate { reason } | Lookup::ResendIsSafe { reason } => {
            note_indeterminate(publisher, "delete_removes", &reason)
        }
        Lookup::Published(found) => panic!("lookup still finds {found:?} after delete"),
    }
}
