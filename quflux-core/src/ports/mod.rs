//! Port traits: what the services need from the outside world.

mod ai;
mod infra;
mod publisher;
mod queue;
mod store;

pub use ai::{GeneratedImage, GeneratedText, ImageGenerator, ImageTask, TextGenerator, TextTask};
pub use infra::{BlobStore, Cache, Clock, Notifier, SystemClock, TokenCipher, validate_blob_key};
pub use publisher::{Lookup, PublishMedia, PublishRequest, PublishedPost, Publisher};
pub use queue::{
    AI_GENERATION_QUEUE, EnqueueOutcome, Enqueued, Job, JobQueue, JobState, NewJob,
    PUBLISHING_QUEUE, QueueStats,
};
pub use store::{
    AuthStore, ConnectionStore, MediaStore, NotificationStore, PostStore, PublicationStore,
    ScheduleStore, Store, UserStore,
};
