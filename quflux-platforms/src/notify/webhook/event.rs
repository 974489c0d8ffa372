//! Webhook events: types, the JSON envelope, and delivery reports.

use chrono::{DateTime, Utc};
use quflux_core::{Error, Notification, NotificationKind, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A publication went out.
pub const PUBLICATION_PUBLISHED: &str = "publication.published";
/// A publication failed for good.
pub const PUBLICATION_FAILED: &str = "publication.failed";
/// A publication's outcome is unknown.
pub const PUBLICATION_UNCONFIRMED: &str = "publication.unconfirmed";
/// A connection needs to be authorized again.
pub const CONNECTION_NEEDS_REAUTH: &str = "connection.needs_reauth";
/// A post was created.
pub const POST_CREATED: &str = "post.created";
/// A post was updated.
pub const POST_UPDATED: &str = "post.updated";
/// A post was deleted.
pub const POST_DELETED: &str = "post.deleted";
/// A schedule was created.
pub const SCHEDULE_CREATED: &str = "schedule.created";
/// A schedule was cancelled.
pub const SCHEDULE_CANCELLED: &str = "schedule.cancelled";

/// The event type of a notification kind.
pub fn event_type(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Published => PUBLICATION_PUBLISHED,
        NotificationKind::Failed => PUBLICATION_FAILED,
        NotificationKind::Unconfirmed => PUBLICATION_UNCONFIRMED,
        NotificationKind::ConnectionNeedsReauth => CONNECTION_NEEDS_REAUTH,
    }
}

/// One webhook event, as sent (the JSON body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// Unique id; receivers deduplicate retries with it.
    pub id: String,
    /// What happened, e.g. `post.created`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// Details.
    pub data: Value,
}

impl WebhookEvent {
    /// A new event with a fresh id, created now.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `event_type` unless it is 1 to 64 characters of `a-z`,
    /// `0-9`, `_` and `.` (not at either end).
    pub fn new(event_type: &str, data: Value) -> Result<Self> {
        let ok = !event_type.is_empty()
            && event_type.len() <= 64
            && !event_type.starts_with('.')
            && !event_type.ends_with('.')
            && event_type
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_'));
        if !ok {
            return Err(Error::invalid_input(
                "event_type",
                "expected 1 to 64 characters of a-z, 0-9, `_` and `.`, e.g. `post.created`",
            ));
        }
        Ok(Self {
            id: uuid::Uuid::now_v7().to_string(),
            event_type: event_type.to_owned(),
            created_at: Utc::now(),
            data,
        })
    }

    /// The event for `notification`: its id, its time, and the notification as `data`.
    pub fn from_notification(notification: &Notification) -> Self {
        Self {
            id: notification.id.to_string(),
            event_type: event_type(notification.kind).to_owned(),
            created_at: notification.created_at,
            data: serde_json::to_value(notification).unwrap_or(Value::Null),
        }
    }
}

/// The outcome of delivering one event to every endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The event id.
    pub event_id: String,
    /// One entry per endpoint, in configuration order.
    pub endpoints: Vec<EndpointDelivery>,
}

/// How one endpoint accepted an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDelivery {
    /// The endpoint as `scheme://host[:port]` (path and query left out).
    pub endpoint: String,
    /// Attempts made, from 1.
    pub attempts: u32,
    /// The accepting (2xx) status.
    pub status: u16,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use quflux_core::UserId;
    use quflux_core::testkit::fixtures::notification_for;

    use super::*;

    #[test]
    fn notifications_become_typed_events() {
        let n = notification_for(UserId::new());
        let event = WebhookEvent::from_notification(&n);
        assert_eq!(event.id, n.id.to_string());
        assert_eq!(event.event_type, PUBLICATION_PUBLISHED);
        assert_eq!(event.data["title"], n.title.as_str());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], PUBLICATION_PUBLISHED);
        assert!(json["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(WebhookEvent::new("post.created", Value::Null).is_ok());
        for bad in [
            "",
            "Post.Created",
            "post created",
            ".post",
            "post.",
            &"x".repeat(65),
        ] {
            assert!(WebhookEvent::new(bad, Value::Null).is_err(), "{bad}");
        }
    }
}
