//! The services of the original design: posts, scheduling, publishing, notifications.

mod connections;
mod notifications;
mod posts;
mod publishing;
mod retry;
mod scheduling;

pub use connections::mark_needs_reauth;
pub use notifications::NotificationService;
pub use posts::{MAX_TEXT_BYTES, MAX_THREAD_PARTS, PlatformValidation, PostService};
pub use publishing::{PublishReport, PublisherRegistry, PublishingService, PublishingStores};
pub use retry::RetryConfig;
pub use scheduling::{
    CalendarDay, CalendarEntry, ConflictPolicy, PUBLISH_JOB, ScheduleConflict, ScheduleRequest,
    ScheduleUpdate, Scheduled, SchedulingConfig, SchedulingService, publish_job_key,
};
