//! Identifier newtypes. Every entity id is a UUID v7 (time-ordered), never a bare string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (UUID v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            /// The underlying UUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| crate::Error::InvalidInput {
                    field: $what.into(),
                    message: format!("`{s}` is not a valid id"),
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

uuid_id!(
    /// Identifies a [`crate::User`].
    UserId, "user_id"
);
uuid_id!(
    /// Identifies a [`crate::PlatformConnection`].
    ConnectionId, "connection_id"
);
uuid_id!(
    /// Identifies a [`crate::MediaFile`].
    MediaId, "media_id"
);
uuid_id!(
    /// Identifies a [`crate::Post`].
    PostId, "post_id"
);
uuid_id!(
    /// Identifies a [`crate::Schedule`].
    ScheduleId, "schedule_id"
);
uuid_id!(
    /// Identifies a [`crate::Publication`].
    PublicationId, "publication_id"
);
uuid_id!(
    /// Identifies a job in a [`crate::JobQueue`].
    JobId, "job_id"
);
uuid_id!(
    /// Identifies a [`crate::Notification`].
    NotificationId, "notification_id"
);

/// The id a platform gave a published post (a tweet id, an `at://` URI, a LinkedIn URN, ...).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct PlatformPostId(String);

impl PlatformPostId {
    /// Wraps a platform's id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The id as the platform spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlatformPostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PlatformPostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlatformPostId({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_roundtrip_through_strings() {
        let id = PostId::new();
        let parsed: PostId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert!("nope".parse::<PostId>().is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = ScheduleId::new();
        let b = ScheduleId::new();
        assert!(a < b);
    }
}
