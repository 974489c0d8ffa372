//! One URL picks the backend: `sqlite://…` or `postgres://…`.

use std::sync::Arc;

use quflux_core::services::PublishingStores;
use quflux_core::{Cache, Error, JobQueue, Result, Store};

/// Everything a backend offers: every store trait (through [`Store`], including
/// [`AuthStore`](quflux_core::AuthStore) and [`NotificationStore`](quflux_core::NotificationStore)),
/// the job queue and the cache.
///
/// Both [`crate::sqlite::SqliteStore`] and [`crate::postgres::PostgresStore`] implement it.
/// `Arc<dyn Database>` coerces to `Arc<dyn PostStore>`, `Arc<dyn AuthStore>`,
/// `Arc<dyn JobQueue>`, … (trait upcasting), so one opened database feeds every service.
pub trait Database: Store + JobQueue + Cache {}

impl<T: Store + JobQueue + Cache> Database for T {}

/// Opens (and migrates) the database named by `url`: `sqlite://path.db`, `sqlite::memory:` or
/// `postgres://user@host/db` (also `postgresql://`), as far as this build has the feature.
///
/// # Errors
/// [`Error::Config`] for a scheme this build does not support (naming the feature to enable),
/// the backend's errors otherwise.
pub async fn open(url: &str) -> Result<Arc<dyn Database>> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => open_sqlite(url).await,
        "postgres" | "postgresql" => open_postgres(url).await,
        _ => Err(Error::Config(format!(
            "database URL: unsupported scheme `{scheme}`; use sqlite://path.db or postgres://user@host/db"
        ))),
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(url: &str) -> Result<Arc<dyn Database>> {
    Ok(Arc::new(crate::sqlite::SqliteStore::open(url).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(_url: &str) -> Result<Arc<dyn Database>> {
    Err(not_compiled("sqlite"))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn Database>> {
    Ok(Arc::new(crate::postgres::PostgresStore::open(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str) -> Result<Arc<dyn Database>> {
    Err(not_compiled("postgres"))
}

#[allow(dead_code)]
fn not_compiled(feature: &str) -> Error {
    Error::Config(format!(
        "database URL: the {feature} backend is not compiled in; enable the quflux-store feature `{feature}`"
    ))
}

/// The stores the publishing service needs, all from one opened [`Database`].
pub fn publishing_stores(db: &Arc<dyn Database>) -> PublishingStores {
    PublishingStores {
        posts: db.clone(),
        media: db.clone(),
        schedules: db.clone(),
        publications: db.clone(),
        connections: db.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_schemes_are_config_errors_naming_the_scheme() {
        let Err(e) = open("mysql://localhost/x").await else {
            panic!("mysql is not a backend")
        };
        assert_eq!(e.kind(), quflux_core::ErrorKind::Config);
        assert!(e.to_string().contains("mysql"), "{e}");
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_sqlite_url_opens_a_migrated_sqlite_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&format!("sqlite://{}", dir.path().join("a.db").display()))
            .await
            .unwrap();
        assert!(
            db.find_user_by_email("nobody@example.com")
                .await
                .unwrap()
                .is_none()
        );
        let stores = publishing_stores(&db);
        let queue: Arc<dyn JobQueue> = db.clone();
        assert!(
            queue
                .get_job(quflux_core::JobId::new())
                .await
                .unwrap()
                .is_none()
        );
        let _ = stores;
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn an_opened_database_serves_auth_and_notifications() {
        use quflux_core::{
            AuthStore, Notification, NotificationId, NotificationKind, NotificationStore, User,
        };

        let dir = tempfile::tempdir().unwrap();
        let db = open(&format!("sqlite://{}", dir.path().join("a.db").display()))
            .await
            .unwrap();
        let now = chrono::Utc::now();
        let user = User::new("auth@example.com", "UTC", now);
        let auth: Arc<dyn AuthStore> = db.clone();
        auth.insert_user_with_password(&user, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
            .await
            .unwrap();
        assert_eq!(
            auth.get_password_hash(user.id).await.unwrap().as_deref(),
            Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        );
        let notifications: Arc<dyn NotificationStore> = db.clone();
        let notification = Notification {
            id: NotificationId::new(),
            user_id: user.id,
            kind: NotificationKind::Failed,
            title: "Not posted".to_owned(),
            message: "The post could not be published.".to_owned(),
            platform: None,
            post_id: None,
            publication_id: None,
            connection_id: None,
            platform_post_id: None,
            url: None,
            created_at: now,
        };
        let seq = notifications
            .insert_notification(&notification)
            .await
            .unwrap();
        assert_eq!(
            notifications.last_notification_seq(user.id).await.unwrap(),
            seq
        );
    }
}
