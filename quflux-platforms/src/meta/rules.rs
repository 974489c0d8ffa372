//! The platform rules, checked on a publish request before any request is sent.

use quflux_core::{Platform, PublishRequest, Result};

/// `Err(Error::Validation)` when `request` breaks a rule of `platform` (threads included:
/// neither Facebook Pages nor Instagram have them).
pub(crate) fn check_rules(platform: Platform, request: &PublishRequest) -> Result<()> {
    request.check_rules(platform)
}
