//! The platform rules, checked on a publish request before any request is sent.

use quflux_core::{MediaRef, Platform, PostContent, PublishRequest, Result};

/// `Err(Error::Validation)` when `request` breaks a rule of `platform` (threads included:
/// neither Facebook Pages nor Instagram have them).
pub(crate) fn check_rules(platform: Platform, request: &PublishRequest) -> Result<()> {
    let content = PostContent {
        text: request.text.clone(),
        media: request
            .media
            .iter()
            .map(|m| MediaRef {
                media_id: m.file.id,
                alt_text: m.alt_text.clone(),
            })
            .collect(),
        link_url: request.link_url.clone(),
        link_preview: request.link_preview.clone(),
        thread: request.thread.clone(),
        ai_generated: request.ai_generated,
        options: request.options.clone(),
        ..PostContent::default()
    };
    let files: Vec<_> = request.media.iter().map(|m| m.file.clone()).collect();
    quflux_core::rules::validate_for(&[platform], &content, &files)
}
