//! Notifications sent to users.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    ConnectionId, NotificationId, Platform, PlatformPostId, PostId, PublicationId, UserId,
};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A publication went out.
    Published,
    /// A publication failed for good.
    Failed,
    /// A publication's outcome is unknown and needs the user's attention.
    Unconfirmed,
    /// A connection's token is dead; the user must connect again.
    ConnectionNeedsReauth,
}

impl NotificationKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Failed => "failed",
            Self::Unconfirmed => "unconfirmed",
            Self::ConnectionNeedsReauth => "connection_needs_reauth",
        }
    }
    /// Parses [`NotificationKind::as_str`].
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "published" => Ok(Self::Published),
            "failed" => Ok(Self::Failed),
            "unconfirmed" => Ok(Self::Unconfirmed),
            "connection_needs_reauth" => Ok(Self::ConnectionNeedsReauth),
            other => Err(crate::Error::invalid_input(
                "kind",
                format!("unknown notification kind `{other}`"),
            )),
        }
    }
}

/// A message to one user about one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// Recipient.
    pub user_id: UserId,
    /// What happened.
    pub kind: NotificationKind,
    /// Short subject line.
    pub title: String,
    /// Human-readable message.
    pub message: String,
    /// The platform involved.
    pub platform: Option<Platform>,
    /// The post involved.
    pub post_id: Option<PostId>,
    /// The publication involved.
    pub publication_id: Option<PublicationId>,
    /// The connection involved.
    pub connection_id: Option<ConnectionId>,
    /// The platform's post id, when published.
    pub platform_post_id: Option<PlatformPostId>,
    /// Public URL of the post, when published.
    pub url: Option<String>,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
}

/// A [`Notification`] with its position in a [`crate::NotificationStore`]'s log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredNotification {
    /// Position in the store's log: positive and strictly increasing in insertion order, so a
    /// reader tails a user's notifications with `seq > last seen`.
    pub seq: i64,
    /// The notification.
    pub notification: Notification,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_roundtrip_through_their_names() {
        for kind in [
            NotificationKind::Published,
            NotificationKind::Failed,
            NotificationKind::Unconfirmed,
            NotificationKind::ConnectionNeedsReauth,
        ] {
            assert_eq!(NotificationKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        let err = NotificationKind::parse("Published").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }
}
