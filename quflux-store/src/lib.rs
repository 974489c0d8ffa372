//! # quflux-store
//!
//! Storage backends for Quflux: every persistence port of `quflux-core` on embedded SQLite or on
//! PostgreSQL, and media bytes on the local filesystem or in S3. SQLite and files run with no
//! external service. One URL picks the database: `QUFLUX_DATABASE_URL=sqlite://…` or `postgres://…`.
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use quflux_core::{User, UserStore};
//! use quflux_store::sqlite::SqliteStore;
//!
//! let store = SqliteStore::in_memory().await?; // or SqliteStore::open("sqlite://quflux.db")
//! let user = User::new("ada@example.com", "Europe/Paris", chrono::Utc::now());
//! store.insert_user(&user).await?;
//! assert_eq!(store.find_user_by_email("ADA@example.com").await?.map(|u| u.id), Some(user.id));
//! # Ok::<(), quflux_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! | module | feature | type | traits | configuration |
//! |---|---|---|---|---|
//! | [`sqlite`] | `sqlite` (default) | `SqliteStore` | every store trait, `JobQueue`, `Cache` | `QUFLUX_DATABASE_URL` |
//! | [`postgres`] | `postgres` | `PostgresStore` | every store trait, `JobQueue`, `Cache` | `QUFLUX_DATABASE_URL` |
//! | [`fs`] | `fs` (default) | `FsBlobStore` | `BlobStore` | `QUFLUX_FS_ROOT` |
//! | [`s3`] | `s3` | `S3BlobStore` | `BlobStore` (with presigned GET URLs) | `QUFLUX_S3_BUCKET`, `QUFLUX_S3_ENDPOINT`, … |
//!
//! ## Adding a backend
//! - A feature named after the backend, enabling its optional dependencies with `dep:`, and a
//!   `#[cfg(feature = "..")] pub mod` here with a row in the table above.
//! - A `BACKEND` const, a `<Backend><Role>Builder` with `from_env()` and a serde
//!   `<Backend><Role>Config`; only `build()` validates.
//! - Migrations in `migrations/<backend>/`, embedded and applied by an explicit `migrate()`.
//! - Private row structs with `TryFrom<Row>` for the model, `const` SQL, and one helper mapping
//!   unique violations to `Error::Conflict` and unavailability to `Error::Transient`.
//! - A test running every matching `quflux_core::testkit` suite; gate it on `testkit::env` if the
//!   backend needs a service.

mod any;
#[cfg(feature = "fs")]
pub mod fs;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use any::{Database, open, publishing_stores};
