//! Publication events for the websocket: every notification is appended to the shared
//! [`NotificationStore`], so a server process sees the events of every worker process; an
//! in-process signal wakes the sockets of this process at once, the others poll.

use std::sync::Arc;

use async_trait::async_trait;
use quflux_core::{Notification, NotificationStore, Notifier, Result, UserId};
use tokio::sync::broadcast;

/// Stores notifications and wakes the websockets waiting for them.
#[derive(Debug, Clone)]
pub struct EventHub {
    store: Arc<dyn NotificationStore>,
    wake: broadcast::Sender<UserId>,
}

impl EventHub {
    /// A hub over `store`.
    pub fn new(store: Arc<dyn NotificationStore>) -> Self {
        let (wake, _) = broadcast::channel(1024);
        Self { store, wake }
    }

    /// The store the events are kept in.
    pub fn store(&self) -> &Arc<dyn NotificationStore> {
        &self.store
    }

    /// Wake-ups: the id of a user with a new event.
    pub fn subscribe(&self) -> broadcast::Receiver<UserId> {
        self.wake.subscribe()
    }
}

#[async_trait]
impl Notifier for EventHub {
    async fn notify(&self, notification: &Notification) -> Result<()> {
        self.store.insert_notification(notification).await?;
        let _ = self.wake.send(notification.user_id);
        Ok(())
    }
}

/// Counts publication outcomes for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct MetricsNotifier;

#[async_trait]
impl Notifier for MetricsNotifier {
    async fn notify(&self, n: &Notification) -> Result<()> {
        let platform = n.platform.map_or("none", |p| p.as_str());
        metrics::counter!(
            "quflux_publications_total",
            "platform" => platform,
            "outcome" => n.kind.as_str()
        )
        .increment(1);
        Ok(())
    }
}
