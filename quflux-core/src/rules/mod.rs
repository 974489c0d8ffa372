//! Platform rules as data, checked at compose time.
//!
//! HELPER-OWNED: the rules helper replaces the bodies below; the signatures are the contract
//! the services use.

use serde::{Deserialize, Serialize};

use crate::{MediaFile, Platform, PostContent, Violation};

/// Limits and features of one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformRules {
    /// The platform.
    pub platform: Platform,
    /// Maximum text length in the platform's own unit.
    pub max_text_len: usize,
    /// Posts per account per day the platform allows, when it publishes one.
    pub daily_post_cap: Option<u32>,
    /// Whether threads are supported.
    pub threads: bool,
}

/// The rules of `platform`.
pub fn rules_for(platform: Platform) -> &'static PlatformRules {
    static RULES: std::sync::OnceLock<Vec<PlatformRules>> = std::sync::OnceLock::new();
    let all = RULES.get_or_init(|| {
        Platform::ALL
            .iter()
            .map(|&platform| PlatformRules { platform, max_text_len: 280, daily_post_cap: None, threads: true })
            .collect()
    });
    &all[Platform::ALL.iter().position(|p| *p == platform).unwrap_or(0)]
}

/// Every rule `content` breaks on `platform`. `media` holds the metadata of `content.media`.
pub fn validate(platform: Platform, content: &PostContent, media: &[MediaFile]) -> Vec<Violation> {
    let _ = media;
    let len = content.text_for(platform).chars().count();
    let rules = rules_for(platform);
    if len > rules.max_text_len {
        vec![Violation { rule: format!("{platform}.text.too_long"), message: "too long".into() }]
    } else {
        Vec::new()
    }
}
