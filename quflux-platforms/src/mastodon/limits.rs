//! What fits on an instance: the core rules plus the limits the instance publishes, and how a
//! request is cut into statuses.

use quflux_core::rules;
use quflux_core::{Error, Platform, PublishRequest, Result, Violation};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::wire::Instance;

/// Rules whose numbers come from the instance rather than the core table.
const INSTANCE_RULES: &[&str] = &[
    "mastodon.text.too_long",
    "mastodon.thread.part_too_long",
    "mastodon.media.too_many",
    "mastodon.alt_text.too_long",
];

/// The limits an instance publishes in `GET /api/v2/instance` (`configuration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceLimits {
    /// `statuses.max_characters` (default 500), content warning included.
    pub max_characters: usize,
    /// `statuses.max_media_attachments` (default 4).
    pub max_media_attachments: usize,
    /// `statuses.characters_reserved_per_url` (default 23).
    pub characters_reserved_per_url: usize,
    /// `media_attachments.description_limit` (alt text; default 1500).
    pub description_limit: usize,
}

impl Default for InstanceLimits {
    fn default() -> Self {
        Self {
            max_characters: 500,
            max_media_attachments: 4,
            characters_reserved_per_url: 23,
            description_limit: 1500,
        }
    }
}

impl InstanceLimits {
    pub(crate) fn from_wire(instance: &Instance) -> Self {
        let d = Self::default();
        let s = &instance.configuration.statuses;
        Self {
            max_characters: s.max_characters.unwrap_or(d.max_characters),
            max_media_attachments: s.max_media_attachments.unwrap_or(d.max_media_attachments),
            characters_reserved_per_url: s
                .characters_reserved_per_url
                .unwrap_or(d.characters_reserved_per_url),
            description_limit: instance
                .configuration
                .media_attachments
                .description_limit
                .unwrap_or(d.description_limit),
        }
    }
}

/// The length of a status as the instance counts it: the content warning's graphemes plus
/// the text's (URLs as `characters_reserved_per_url`, remote mentions as local; README §5.1).
pub fn status_length(text: &str, content_warning: Option<&str>) -> usize {
    rules::measure(Platform::Mastodon, text).length
        + content_warning.map_or(0, |cw| cw.graphemes(true).count())
}

/// The parts of a request as they are posted: the first text (with the link appended when the
/// text does not already carry it) and the thread.
pub(crate) fn parts(request: &PublishRequest) -> Vec<String> {
    let mut first = request.text.clone();
    if let Some(link) = &request.link_url
        && !first.contains(link.as_str())
    {
        if !first.is_empty() {
            first.push_str("\n\n");
        }
        first.push_str(link);
    }
    std::iter::once(first)
        .chain(request.thread.iter().cloned())
        .collect()
}

/// The `Idempotency-Key` of part `n` (0-based): the request's key, then `{key}-{n+1}`.
pub fn part_key(key: &str, n: usize) -> String {
    if n == 0 {
        key.to_owned()
    } else {
        format!("{key}-{}", n + 1)
    }
}

pub(crate) fn content_warning(request: &PublishRequest) -> Option<&str> {
    request
        .options
        .content_warning
        .as_deref()
        .map(str::trim)
        .filter(|cw| !cw.is_empty())
}

/// The core rules, minus those whose numbers the instance decides.
pub(crate) fn check_rules(request: &PublishRequest) -> Result<()> {
    let content = request.content();
    let files = request.media_files();
    let violations: Vec<Violation> = rules::validate(Platform::Mastodon, &content, &files)
        .into_iter()
        .filter(|v| !INSTANCE_RULES.contains(&v.rule.as_str()))
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation { violations })
    }
}

/// The instance's own limits (README §5.1).
pub fn check_instance_limits(limits: &InstanceLimits, request: &PublishRequest) -> Result<()> {
    let cw = content_warning(request);
    let mut violations = Vec::new();
    for (n, part) in parts(request).iter().enumerate() {
        let length = status_length(part, cw);
        if length > limits.max_characters {
            let (rule, what) = if n == 0 {
                ("mastodon.text.too_long", "the text".to_owned())
            } else {
                (
                    "mastodon.thread.part_too_long",
                    format!("thread part {}", n + 1),
                )
            };
            violations.push(Violation {
                rule: rule.to_owned(),
                message: format!(
                    "{what} is {length} characters (content warning included); this instance allows {}",
                    limits.max_characters
                ),
            });
        }
    }
    if request.media.len() > limits.max_media_attachments {
        violations.push(Violation {
            rule: "mastodon.media.too_many".to_owned(),
            message: format!(
                "{} media files; this instance allows {}",
                request.media.len(),
                limits.max_media_attachments
            ),
        });
    }
    for (i, m) in request.media.iter().enumerate() {
        if let Some(alt) = &m.alt_text {
            let len = alt.graphemes(true).count();
            if len > limits.description_limit {
                violations.push(Violation {
                    rule: "mastodon.alt_text.too_long".to_owned(),
                    message: format!(
                        "the alt text of media {} is {len} characters; this instance allows {}",
                        i + 1,
                        limits.description_limit
                    ),
                });
            }
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation { violations })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use quflux_core::ErrorKind;
    use quflux_core::PublicationId;

    fn request(text: &str) -> PublishRequest {
        PublishRequest {
            publication_id: PublicationId::new(),
            idempotency_key: "k".to_owned(),
            attempt: 1,
            text: text.to_owned(),
            thread: Vec::new(),
            media: Vec::new(),
            link_url: None,
            link_preview: None,
            ai_generated: false,
            options: Default::default(),
        }
    }

    #[test]
    fn thread_parts_get_derived_keys() {
        assert_eq!(part_key("abc", 0), "abc");
        assert_eq!(part_key("abc", 1), "abc-2");
        assert_eq!(part_key("abc", 2), "abc-3");
    }

    #[test]
    fn the_content_warning_counts_toward_the_instance_limit() {
        let limits = InstanceLimits {
            max_characters: 10,
            ..InstanceLimits::default()
        };
        let mut r = request("0123456789");
        check_instance_limits(&limits, &r).unwrap();
        r.options.content_warning = Some("cw".to_owned());
        let e = check_instance_limits(&limits, &r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert!(e.to_string().contains("mastodon.text.too_long"), "{e}");
    }

    #[test]
    fn a_long_instance_limit_lifts_the_core_default() {
        let r = request(&"a".repeat(600));
        check_rules(&r).unwrap();
        check_instance_limits(
            &InstanceLimits {
                max_characters: 5000,
                ..InstanceLimits::default()
            },
            &r,
        )
        .unwrap();
        assert!(check_instance_limits(&InstanceLimits::default(), &r).is_err());
    }

    #[test]
    fn the_link_is_appended_once() {
        let mut r = request("Read this");
        r.link_url = Some("https://example.com/a".to_owned());
        assert_eq!(parts(&r)[0], "Read this\n\nhttps://example.com/a");
        r.text = "Read https://example.com/a".to_owned();
        assert_eq!(parts(&r)[0], "Read https://example.com/a");
    }
}
