//! Valid model values with fresh ids, for the suites and for any test.
//!
//! Times are [`now`]: the current time truncated to whole milliseconds, so that they round-trip
//! exactly through backends with millisecond or microsecond precision.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::{Must, unique};
use crate::{
    ConnectionId, ConnectionStatus, LinkPreview, MediaFile, MediaId, NewJob, Notification,
    NotificationId, NotificationKind, Platform, PlatformConnection, Post, PostContent, PostId,
    PostStatus, Publication, PublicationId, PublishRequest, Schedule, ScheduleId, ScheduleStatus,
    Secret, TokenCipher, User, UserId,
};

/// The current time, truncated to whole milliseconds.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}

/// An active user with a fresh id and a fresh lowercase e-mail, in `Europe/Paris`.
pub fn user() -> User {
    let mut user = User::new(
        &format!("user-{}@example.test", unique()),
        "Europe/Paris",
        now(),
    );
    user.display_name = Some("Testkit User".to_owned());
    user
}

/// A draft post of `user_id` with a text, a Bluesky variant, a link with preview and a thread.
pub fn post_for(user_id: UserId) -> Post {
    let at = now();
    let mut variants = BTreeMap::new();
    variants.insert(Platform::Bluesky, "Hello, Bluesky! 🦋".to_owned());
    Post {
        id: PostId::new(),
        user_id,
        content: PostContent {
            title: Some("Testkit post".to_owned()),
            text: format!("Hello from the Quflux testkit ({})", unique()),
            variants,
            media: Vec::new(),
            link_url: Some("https://example.com/article".to_owned()),
            link_preview: Some(LinkPreview {
                url: "https://example.com/article".to_owned(),
                title: Some("An article".to_owned()),
                description: Some("What it is about".to_owned()),
                image_url: None,
                site_name: Some("Example".to_owned()),
            }),
            thread: vec!["Second part".to_owned(), "Third part".to_owned()],
            ai_generated: false,
            options: Default::default(),
        },
        status: PostStatus::Draft,
        version: 0,
        created_at: at,
        updated_at: at,
    }
}

/// An active connection of `user_id` to a fresh account on `platform`, with tokens encrypted by
/// `cipher`.
///
/// # Panics
/// If `cipher` fails to encrypt.
pub fn connection_for(
    user_id: UserId,
    platform: Platform,
    cipher: &dyn TokenCipher,
) -> PlatformConnection {
    let at = now();
    let id = unique();
    PlatformConnection {
        id: ConnectionId::new(),
        user_id,
        platform,
        platform_user_id: format!("account-{id}"),
        platform_username: format!("testkit_{}", &id[..8]),
        access_token: cipher
            .encrypt(&Secret::new(format!("access-{id}")))
            .must("encrypt a fixture access token"),
        refresh_token: Some(
            cipher
                .encrypt(&Secret::new(format!("refresh-{id}")))
                .must("encrypt a fixture refresh token"),
        ),
        expires_at: Some(at + TimeDelta::hours(2)),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        status: ConnectionStatus::Active,
        metadata: serde_json::json!({ "instance_url": "https://social.example", "page_id": null }),
        version: 0,
        created_at: at,
        updated_at: at,
    }
}

/// Metadata of a PNG uploaded by `user_id`.
pub fn media_for(user_id: UserId) -> MediaFile {
    let id = MediaId::new();
    MediaFile {
        id,
        user_id,
        filename: "picture.png".to_owned(),
        content_type: "image/png".to_owned(),
        size_bytes: 123_456,
        storage_key: format!("media/{user_id}/{id}.png"),
        width: Some(1200),
        height: Some(675),
        duration_secs: None,
        ai_generated: false,
        created_at: now(),
    }
}

/// An active schedule of `post` on `platforms`, due at `at` (chosen in `Europe/Paris`).
pub fn schedule_for(post: &Post, platforms: &[Platform], at: DateTime<Utc>) -> Schedule {
    let created = now();
    Schedule {
        id: ScheduleId::new(),
        post_id: post.id,
        user_id: post.user_id,
        scheduled_at: at,
        time_zone: "Europe/Paris".to_owned(),
        local_time: at.with_timezone(&chrono_tz::Europe::Paris).naive_local(),
        platforms: platforms.to_vec(),
        status: ScheduleStatus::Active,
        version: 0,
        created_at: created,
        updated_at: created,
    }
}

/// One pending publication per platform of `schedule`.
pub fn publications_for(schedule: &Schedule) -> Vec<Publication> {
    let at = now();
    schedule
        .platforms
        .iter()
        .map(|&platform| Publication::pending(schedule, platform, at))
        .collect()
}

/// A "published" notification for `user_id`.
pub fn notification_for(user_id: UserId) -> Notification {
    Notification {
        id: NotificationId::new(),
        user_id,
        kind: NotificationKind::Published,
        title: "Your post is live".to_owned(),
        message: "Your post was published on Bluesky.".to_owned(),
        platform: Some(Platform::Bluesky),
        post_id: Some(PostId::new()),
        publication_id: Some(PublicationId::new()),
        connection_id: None,
        platform_post_id: Some(crate::PlatformPostId::new(
            "at://did:plc:example/app.bsky.feed.post/3k",
        )),
        url: Some("https://bsky.app/profile/example/post/3k".to_owned()),
        created_at: now(),
    }
}

/// A first-attempt request publishing `text` with a fresh idempotency key.
pub fn publish_request(text: &str) -> PublishRequest {
    PublishRequest {
        publication_id: PublicationId::new(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        text: text.to_owned(),
        thread: Vec::new(),
        media: Vec::new(),
        link_url: None,
        link_preview: None,
        ai_generated: false,
        options: Default::default(),
    }
}

/// A job in `queue` due now (kind `testkit`, payload `{"n": n}`).
pub fn job(queue: &str, n: u64) -> NewJob {
    NewJob::new(queue, "testkit", serde_json::json!({ "n": n }), now())
}
