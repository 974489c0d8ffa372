//! The social platforms Quflux publishes to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A social platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// X (formerly Twitter).
    Twitter,
    /// LinkedIn member posts.
    Linkedin,
    /// Facebook Pages.
    Facebook,
    /// Instagram business accounts.
    Instagram,
    /// Bluesky (AT Protocol).
    Bluesky,
    /// Mastodon (any instance).
    Mastodon,
}

impl Platform {
    /// Every platform, in a stable order.
    pub const ALL: [Platform; 6] = [
        Platform::Twitter,
        Platform::Linkedin,
        Platform::Facebook,
        Platform::Instagram,
        Platform::Bluesky,
        Platform::Mastodon,
    ];

    /// Stable lowercase id, e.g. `"twitter"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Twitter => "twitter",
            Platform::Linkedin => "linkedin",
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Bluesky => "bluesky",
            Platform::Mastodon => "mastodon",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "twitter" | "x" => Ok(Platform::Twitter),
            "linkedin" => Ok(Platform::Linkedin),
            "facebook" => Ok(Platform::Facebook),
            "instagram" => Ok(Platform::Instagram),
            "bluesky" => Ok(Platform::Bluesky),
            "mastodon" => Ok(Platform::Mastodon),
            _ => Err(Error::invalid_input(
                "platform",
                format!(
                    "unknown platform `{s}`; expected one of twitter, linkedin, facebook, instagram, bluesky, mastodon"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_print() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
        }
        assert_eq!("X".parse::<Platform>().unwrap(), Platform::Twitter);
        let err = "myspace".parse::<Platform>().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }
}
