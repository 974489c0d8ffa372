//! What [`ContentService`](super::ContentService)(super::ContentService) returns for texts.

use quflux_core::Platform;
use serde::{Deserialize, Serialize};

/// How [`ContentService`](super::ContentService) changed a generated text to make it pass the platform's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// The first text broke a rule; the provider was asked once more and its second text passed.
    Regenerated,
    /// Both texts broke a rule; the second (or, if asking again failed, the first) was
    /// shortened: cut at a sentence or word boundary (with `…`), and surplus hashtags dropped.
    Shortened,
}

/// A change [`ContentService`](super::ContentService) made to a generated text.
///
/// Lengths are in the platform's own unit ([`quflux_core::rules::measure`]): of the text for
/// captions and rewrites, of the longest item for ideas, and the number of hashtags for
/// hashtag lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Regenerated or shortened.
    pub kind: AdjustmentKind,
    /// The length of the text first generated.
    pub original_length: usize,
    /// The length of the text returned.
    pub final_length: usize,
}

/// A generated text checked against a platform's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checked<T> {
    /// The text (or texts), passing every text rule of `platform`.
    pub value: T,
    /// The platform it was checked against.
    pub platform: Platform,
    /// The provider's model that wrote it ([`GeneratedText::model`](quflux_core::GeneratedText::model)).
    pub model: String,
    /// `None` when the first generated text passed; otherwise what was done to make it pass.
    pub adjusted: Option<Adjustment>,
}
