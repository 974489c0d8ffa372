//! Connection state changes shared by publishing and the token machinery.

use crate::{
    Clock, ConnectionId, ConnectionStatus, ConnectionStore, ErrorKind, PlatformConnection, Result,
    services::NotificationService,
};

/// Marks a connection `needs_reauth` and notifies its owner, exactly once.
///
/// Reloads the connection and compare-and-swaps it, retrying on concurrent updates, so a stale
/// copy never overwrites newer tokens. Only the caller whose update changed the status sends
/// the notification; a connection already `needs_reauth` or `disconnected` is left alone.
/// Returns the connection as stored afterwards.
pub async fn mark_needs_reauth(
    connections: &dyn ConnectionStore,
    notifications: &NotificationService,
    clock: &dyn Clock,
    id: ConnectionId,
) -> Result<PlatformConnection> {
    loop {
        let mut connection = connections.get_connection(id).await?;
        if connection.status != ConnectionStatus::Active {
            return Ok(connection);
        }
        connection.status = ConnectionStatus::NeedsReauth;
        connection.updated_at = clock.now();
        match connections.update_connection(&connection).await {
            Ok(version) => {
                connection.version = version;
                notifications.connection_needs_reauth(&connection).await;
                return Ok(connection);
            }
            Err(e) if e.kind() == ErrorKind::Conflict => continue,
            Err(e) => return Err(e),
        }
    }
}
