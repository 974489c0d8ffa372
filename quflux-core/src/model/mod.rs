//! The domain model.

mod notification;
mod platform;
mod post;
mod schedule;
mod user;

pub use notification::{Notification, NotificationKind, StoredNotification};
pub use platform::Platform;
pub use post::{
    LinkPreview, MediaFile, MediaKind, MediaRef, Poll, Post, PostContent, PostFilter, PostStatus,
    PublishOptions,
};
pub use schedule::{
    Attempt, AttemptOutcome, Publication, PublicationFilter, PublicationStatus, Schedule,
    ScheduleStatus,
};
pub use user::{ConnectionStatus, EncryptedToken, PlatformConnection, Session, User};
