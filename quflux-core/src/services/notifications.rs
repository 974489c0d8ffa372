//! Telling users what happened.

use std::sync::Arc;

use crate::{
    Clock, Notification, NotificationId, NotificationKind, Notifier, PlatformConnection,
    Publication,
};

/// Builds notifications for publication and connection events and fans them out to every
/// configured [`Notifier`].
///
/// Delivery failures are logged and reported by the return value, never propagated: a failed
/// e-mail must not undo or repeat a publication.
#[derive(Debug, Clone)]
pub struct NotificationService {
    notifiers: Vec<Arc<dyn Notifier>>,
    clock: Arc<dyn Clock>,
}

impl NotificationService {
    /// A service delivering through `notifiers`.
    pub fn new(notifiers: Vec<Arc<dyn Notifier>>, clock: Arc<dyn Clock>) -> Self {
        Self { notifiers, clock }
    }

    /// Adds a notifier.
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifiers.push(notifier);
        self
    }

    /// A publication went out.
    pub async fn publication_succeeded(&self, publication: &Publication) -> bool {
        let where_ = publication.url.clone().unwrap_or_else(|| {
            publication
                .platform_post_id
                .as_ref()
                .map(|id| format!("post id {id}"))
                .unwrap_or_default()
        });
        let n = self.base(
            publication,
            NotificationKind::Published,
            format!("Published on {}", publication.platform),
            format!(
                "Your post was published on {} ({where_}).",
                publication.platform
            ),
        );
        self.send(n).await
    }

    /// A publication failed for good.
    pub async fn publication_failed(&self, publication: &Publication) -> bool {
        let reason = publication
            .last_error
            .clone()
            .unwrap_or_else(|| "unknown error".into());
        let n = self.base(
            publication,
            NotificationKind::Failed,
            format!("Publishing on {} failed", publication.platform),
            format!(
                "Your post could not be published on {} after {} attempt(s): {reason}. You can retry it.",
                publication.platform,
                publication.attempts.len()
            ),
        );
        self.send(n).await
    }

    /// A publication's outcome is unknown and the platform cannot tell us.
    pub async fn publication_unconfirmed(&self, publication: &Publication) -> bool {
        let n = self.base(
            publication,
            NotificationKind::Unconfirmed,
            format!("Check your {} account", publication.platform),
            format!(
                "We sent your post to {} but never got a confirmation, and {} offers no way to check. \
                 It was not sent again to avoid a duplicate: please check your account, then mark it \
                 as published or resend it.",
                publication.platform, publication.platform
            ),
        );
        self.send(n).await
    }

    /// A connection's token is dead.
    pub async fn connection_needs_reauth(&self, connection: &PlatformConnection) -> bool {
        let n = Notification {
            id: NotificationId::new(),
            user_id: connection.user_id,
            kind: NotificationKind::ConnectionNeedsReauth,
            title: format!("Reconnect your {} account", connection.platform),
            message: format!(
                "Quflux can no longer post to {} as @{}: the authorization expired or was revoked. \
                 Connect the account again to resume publishing.",
                connection.platform, connection.platform_username
            ),
            platform: Some(connection.platform),
            post_id: None,
            publication_id: None,
            connection_id: Some(connection.id),
            platform_post_id: None,
            url: None,
            created_at: self.clock.now(),
        };
        self.send(n).await
    }

    fn base(
        &self,
        p: &Publication,
        kind: NotificationKind,
        title: String,
        message: String,
    ) -> Notification {
        Notification {
            id: NotificationId::new(),
            user_id: p.user_id,
            kind,
            title,
            message,
            platform: Some(p.platform),
            post_id: Some(p.post_id),
            publication_id: Some(p.id),
            connection_id: p.connection_id,
            platform_post_id: p.platform_post_id.clone(),
            url: p.url.clone(),
            created_at: self.clock.now(),
        }
    }

    /// Delivers `notification` to every notifier; true if all accepted it.
    pub async fn send(&self, notification: Notification) -> bool {
        let mut all = true;
        for notifier in &self.notifiers {
            if let Err(err) = notifier.notify(&notification).await {
                all = false;
                tracing::warn!(
                    kind = notification.kind.as_str(),
                    user_id = %notification.user_id,
                    error = %err.detailed_message(),
                    "notification delivery failed"
                );
            }
        }
        all
    }
}
