//! # quflux-store
//!
//! Storage backends for Quflux.
//!
//! | module | feature | type | traits |
//! |---|---|---|---|
//! | [`sqlite`] | `sqlite` (default) | `SqliteStore` | every store trait, `JobQueue`, `Cache` |
//! | [`fs`] | `fs` (default) | `FsBlobStore` | `BlobStore` |

#[cfg(feature = "fs")]
pub mod fs;
#[cfg(feature = "sqlite")]
pub mod sqlite;
