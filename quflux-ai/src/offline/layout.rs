//! Text layout for social graphics: word wrap, auto-sizing, truncation and bidi ordering.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, PxScaleFont, ScaleFont};
use unicode_bidi::{BidiInfo, Level};
use unicode_segmentation::UnicodeSegmentation;

use super::render::TextArea;
use crate::fit::ELLIPSIS;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) w: f32,
    pub(super) h: f32,
}

impl From<TextArea> for Rect {
    fn from(a: TextArea) -> Self {
        Self {
            x: a.x as f32,
            y: a.y as f32,
            w: a.width as f32,
            h: a.height as f32,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Center,
}

/// Wrapped lines at a font size.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    pub(super) size: f32,
    pub(super) lines: Vec<String>,
}

/// Horizontal room kept free on each side of a line, as a fraction of the font size, for ink
/// that overhangs the advance widths.
pub(super) const SIDE_BEARING: f32 = 0.08;

pub(super) fn line_height(font: &FontRef<'_>, size: f32) -> f32 {
    let f = font.as_scaled(PxScale::from(size));
    f.height() + f.line_gap()
}

pub(super) fn line_width(font: &FontRef<'_>, size: f32, line: &str) -> f32 {
    run_width(&font.as_scaled(PxScale::from(size)), line, None).0
}

/// The advance width of `text` drawn right after glyph `previous` (kerning included), and its
/// last glyph.
fn run_width(
    f: &PxScaleFont<&FontRef<'_>>,
    text: &str,
    mut previous: Option<GlyphId>,
) -> (f32, Option<GlyphId>) {
    let mut width = 0.0;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = previous {
            width += f.kern(p, id);
        }
        width += f.h_advance(id);
        previous = Some(id);
    }
    (width, previous)
}

/// A line being filled: its text, advance width and last glyph.
#[derive(Default)]
struct Line {
    text: String,
    width: f32,
    last: Option<GlyphId>,
}

/// Greedy word wrap of `text` to `max_width` at `size`; words wider than a line are broken
/// between grapheme clusters. Widths are added up incrementally.
fn wrap(font: &FontRef<'_>, size: f32, text: &str, max_width: f32) -> Vec<String> {
    let f = font.as_scaled(PxScale::from(size));
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let level = match unicode_bidi::get_base_direction(paragraph) {
            unicode_bidi::Direction::Rtl => Level::rtl(),
            _ => Level::ltr(),
        };
        let mut push = |text: String| lines.push(visual_order(text, level));
        let mut line = Line::default();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            if !line.text.is_empty() {
                let (space, after_space) = run_width(&f, " ", line.last);
                let (w, last) = run_width(&f, word, after_space);
                if line.width + space + w <= max_width {
                    line.text.push(' ');
                    line.text.push_str(word);
                    line.width += space + w;
                    line.last = last;
                    continue;
                }
                push(std::mem::take(&mut line).text);
            }
            let (w, last) = run_width(&f, word, None);
            if w <= max_width {
                line = Line {
                    text: word.to_owned(),
                    width: w,
                    last,
                };
                continue;
            }
            for g in word.graphemes(true) {
                let (w, last) = run_width(&f, g, line.last);
                if !line.text.is_empty() && line.width + w > max_width {
                    push(std::mem::take(&mut line).text);
                    let (w, last) = run_width(&f, g, None);
                    line = Line {
                        text: g.to_owned(),
                        width: w,
                        last,
                    };
                } else {
                    line.text.push_str(g);
                    line.width += w;
                    line.last = last;
                }
            }
        }
        if !line.text.is_empty() {
            push(line.text);
        }
    }
    lines
}

/// `line` (logical order) in display order for a paragraph of direction `level`: Unicode
/// bidi reordering, so Hebrew and Arabic runs read right to left. There is no shaping: Arabic
/// letters keep their isolated forms.
fn visual_order(line: String, level: Level) -> String {
    let info = BidiInfo::new(&line, Some(level));
    if !info.has_rtl() {
        return line;
    }
    match info.paragraphs.first() {
        Some(para) => info.reorder_line(para, para.range.clone()).into_owned(),
        None => line,
    }
}

/// The largest font size in `min..=max` at which `text`, wrapped, fits `b` (binary search over
/// whole pixels). At `min`, text that still does not fit keeps the lines that do, the last one
/// ending in `…`.
pub(super) fn layout(font: &FontRef<'_>, text: &str, b: &Rect, min: f32, max: f32) -> Layout {
    let wrap_at = |size: f32| wrap(font, size, text, b.w - 2.0 * SIDE_BEARING * size);
    let fits = |size: f32, lines: &[String]| lines.len() as f32 * line_height(font, size) <= b.h;
    let (mut lo, mut hi) = (min.floor() as u32, max.floor().max(min) as u32);
    let mut best: Option<Layout> = None;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let size = mid as f32;
        let lines = wrap_at(size);
        if fits(size, &lines) {
            best = Some(Layout { size, lines });
            lo = mid + 1;
        } else if mid == 0 {
            break;
        } else {
            hi = mid - 1;
        }
    }
    if let Some(best) = best {
        return best;
    }
    // Too long even at the minimum size: keep what fits and end with an ellipsis.
    let size = min.floor().max(1.0);
    let max_width = b.w - 2.0 * SIDE_BEARING * size;
    let mut lines = wrap_at(size);
    let keep = ((b.h / line_height(font, size)).floor() as usize).max(1);
    lines.truncate(keep);
    if let Some(last) = lines.last_mut() {
        let mut words: Vec<&str> = last.split(' ').collect();
        loop {
            let candidate = format!(
                "{}{ELLIPSIS}",
                words.join(" ").trim_end_matches([',', ';', ':', '.'])
            );
            if words.len() <= 1 || line_width(font, size, &candidate) <= max_width {
                let mut candidate = candidate;
                // A single word too wide: drop graphemes until it fits.
                while line_width(font, size, &candidate) > max_width
                    && candidate.chars().count() > 1
                {
                    let cut: Vec<&str> = candidate.graphemes(true).collect();
                    candidate =
                        format!("{}{ELLIPSIS}", cut[..cut.len().saturating_sub(2)].concat());
                }
                *last = candidate;
                break;
            }
            words.pop();
        }
    }
    Layout { size, lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> FontRef<'static> {
        FontRef::try_from_slice(super::super::render::FONT).unwrap()
    }

    #[test]
    fn short_text_gets_the_largest_size() {
        let b = Rect {
            x: 0.0,
            y: 0.0,
            w: 900.0,
            h: 900.0,
        };
        let l = layout(&font(), "Hi", &b, 30.0, 150.0);
        assert_eq!(l.size, 150.0);
        assert_eq!(l.lines, ["Hi"]);
    }

    #[test]
    fn long_text_wraps_and_shrinks() {
        let b = Rect {
            x: 0.0,
            y: 0.0,
            w: 900.0,
            h: 900.0,
        };
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(6);
        let l = layout(&font(), &text, &b, 30.0, 150.0);
        assert!(l.size < 150.0 && l.size > 30.0, "{}", l.size);
        assert!(l.lines.len() > 3);
        for line in &l.lines {
            assert!(line_width(&font(), l.size, line) <= 900.0);
        }
    }

    #[test]
    fn overlong_text_is_truncated_with_an_ellipsis() {
        let b = Rect {
            x: 0.0,
            y: 0.0,
            w: 900.0,
            h: 900.0,
        };
        let text = "word ".repeat(3000);
        let l = layout(&font(), &text, &b, 30.0, 150.0);
        assert_eq!(l.size, 30.0);
        assert!(l.lines.last().unwrap().ends_with(ELLIPSIS));
        assert!(l.lines.len() as f32 * line_height(&font(), 30.0) <= 900.0);
    }

    #[test]
    fn a_long_word_breaks_between_graphemes() {
        let lines = wrap(&font(), 40.0, &"x".repeat(200), 400.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| line_width(&font(), 40.0, l) <= 400.0));
    }

    #[test]
    fn right_to_left_lines_are_reordered_for_display() {
        let lines = wrap(&font(), 40.0, "שלום עולם", 2000.0);
        assert_eq!(lines, ["םלוע םולש"]);
        let lines = wrap(&font(), 40.0, "Hello world", 2000.0);
        assert_eq!(lines, ["Hello world"]);
    }
}
