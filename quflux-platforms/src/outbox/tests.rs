use std::sync::Arc;

use quflux_core::cipher::AesGcmCipher;
use quflux_core::{
    ConnectionId, ConnectionStatus, Lookup, Platform, PlatformConnection, PublicationId,
    PublishRequest, Publisher, Secret, TokenCipher, UserId,
};

use super::*;

fn connection() -> PlatformConnection {
    let now = chrono::Utc::now();
    PlatformConnection {
        id: ConnectionId::new(),
        user_id: UserId::new(),
        platform: Platform::Twitter,
        platform_user_id: "1".into(),
        platform_username: "ada".into(),
        access_token: AesGcmCipher::random("k")
            .encrypt(&Secret::new("t".into()))
            .unwrap(),
        refresh_token: None,
        expires_at: None,
        scopes: vec![],
        status: ConnectionStatus::Active,
        metadata: serde_json::json!({}),
        version: 0,
        created_at: now,
        updated_at: now,
    }
}

fn request(text: &str) -> PublishRequest {
    PublishRequest {
        publication_id: PublicationId::new(),
        idempotency_key: quflux_core::PostId::new().to_string(),
        attempt: 1,
        text: text.into(),
        thread: vec!["second part".into()],
        media: vec![],
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: Default::default(),
    }
}

fn publisher(path: &std::path::Path, platform: Platform) -> OutboxPublisher {
    OutboxPublisher::builder()
        .with_path(path)
        .with_platform(platform)
        .build()
        .unwrap()
}

#[tokio::test]
async fn publish_writes_one_line_and_is_idempotent_on_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/outbox.jsonl");
    let p = publisher(&path, Platform::Twitter);
    let c = connection();
    let r = request("hello");
    let first = p.publish(&c, &r).await.unwrap();
    let again = p.publish(&c, &r).await.unwrap();
    assert_eq!(first, again, "the same publication is never written twice");
    assert_eq!(first.thread_ids.len(), 1);
    let lines = read_outbox(&path).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "hello");
    assert_eq!(lines[0].account, "ada");
    assert_eq!(lines[0].thread, vec!["second part".to_owned()]);
}

#[tokio::test]
async fn lookup_sees_posts_written_by_another_publisher_instance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.jsonl");
    let writer = publisher(&path, Platform::Mastodon);
    let reader = publisher(&path, Platform::Mastodon);
    let c = connection();
    let r = request("from another process");
    assert_eq!(reader.lookup(&c, &r).await.unwrap(), Lookup::NotPublished);
    let posted = writer.publish(&c, &r).await.unwrap();
    assert_eq!(
        reader.lookup(&c, &r).await.unwrap(),
        Lookup::Published(posted.clone())
    );
    // And a second instance will not write it again either.
    assert_eq!(reader.publish(&c, &r).await.unwrap(), posted);
    assert_eq!(read_outbox(&path).unwrap().len(), 1);
    // Other platforms sharing the file do not see it.
    let other = publisher(&path, Platform::Bluesky);
    assert_eq!(other.lookup(&c, &r).await.unwrap(), Lookup::NotPublished);
}

#[tokio::test]
async fn concurrent_publishes_of_one_key_write_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.jsonl");
    let c = Arc::new(connection());
    let r = Arc::new(request("race"));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let p = publisher(&path, Platform::Twitter);
        let (c, r) = (c.clone(), r.clone());
        tasks.push(tokio::spawn(
            async move { p.publish(&c, &r).await.unwrap() },
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().platform_post_id);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(read_outbox(&path).unwrap().len(), 1);
}

#[tokio::test]
async fn delete_removes_and_unknown_ids_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.jsonl");
    let p = publisher(&path, Platform::Twitter);
    let c = connection();
    let r = request("short-lived");
    let posted = p.publish(&c, &r).await.unwrap();
    p.delete(&c, &posted.platform_post_id).await.unwrap();
    assert_eq!(p.lookup(&c, &r).await.unwrap(), Lookup::NotPublished);
    assert!(read_outbox(&path).unwrap().is_empty());
    let err = p.delete(&c, &posted.platform_post_id).await.unwrap_err();
    assert_eq!(err.kind(), quflux_core::ErrorKind::NotFound);
}

#[tokio::test]
async fn empty_posts_are_invalid_content_and_missing_settings_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = publisher(&dir.path().join("o.jsonl"), Platform::Twitter);
    let err = p.publish(&connection(), &request("  ")).await.unwrap_err();
    assert_eq!(err.kind(), quflux_core::ErrorKind::InvalidContent);
    let err = OutboxPublisher::builder()
        .with_platform(Platform::Twitter)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("path"));
    let err = OutboxPublisher::builder()
        .with_path("x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("platform"));
}

#[tokio::test]
async fn a_garbled_or_partial_line_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.jsonl");
    std::fs::write(&path, "not json\n").unwrap();
    let p = publisher(&path, Platform::Twitter);
    let c = connection();
    let r = request("after garbage");
    p.publish(&c, &r).await.unwrap();
    assert_eq!(read_outbox(&path).unwrap().len(), 1);
}
