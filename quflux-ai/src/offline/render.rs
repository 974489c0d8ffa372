//! Social graphics: templates, text layout (wrapping, auto-sizing, truncation) and drawing.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};
use quflux_core::{Error, Result};

use super::PROVIDER;
use super::layout::{Align, Layout, Rect, SIDE_BEARING, layout, line_height, line_width};

/// The bundled font: DejaVu Sans Bold 2.37 (Bitstream Vera / Arev licence,
/// `assets/fonts/LICENSE-DejaVu.txt`).
pub(super) const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The social graphic templates of the offline provider.
///
/// | template | look |
/// |---|---|
/// | `bold` | solid dark indigo background, large white text, centred |
/// | `gradient` | vertical violet-to-pink gradient, white text, centred |
/// | `quote` | warm off-white background, big orange quotation mark and accent bar, dark text, left-aligned |
pub const TEMPLATES: [&str; 3] = ["bold", "gradient", "quote"];

/// The box every text pixel (and every decoration) of a graphic stays inside; everything
/// outside it is plain background.
///
/// Margins are 8 % of the width left and right, and 8 % of the width (at most 12 % of the
/// height) top and bottom. For 9:16 stories the top and bottom margins are 13 % of the height
/// (250 px at 1920), clear of the story UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextArea {
    /// Left edge, in pixels.
    pub x: u32,
    /// Top edge, in pixels.
    pub y: u32,
    /// Width, in pixels.
    pub width: u32,
    /// Height, in pixels.
    pub height: u32,
}

impl TextArea {
    /// Whether pixel (`x`, `y`) is inside.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.width && y < self.y + self.height
    }
}

/// The [`TextArea`] of a `width`×`height` graphic.
pub fn text_area(width: u32, height: u32) -> TextArea {
    let mx = width * 8 / 100;
    let is_story = u64::from(height) * 2 > u64::from(width) * 3;
    let my = if is_story {
        height * 13 / 100
    } else {
        mx.min(height * 12 / 100)
    };
    TextArea {
        x: mx,
        y: my,
        width: width.saturating_sub(2 * mx),
        height: height.saturating_sub(2 * my),
    }
}

/// The characters of `text` the bundled font cannot draw, in order, without repeats; the
/// offline renderer leaves them out (see [`OfflineImageGenerator`](super::OfflineImageGenerator)).
///
/// ```
/// let missing = quflux_ai::offline::unsupported_characters("Hello 🌍 世界");
/// assert_eq!(missing, ['🌍', '世', '界']);
/// ```
pub fn unsupported_characters(text: &str) -> Vec<char> {
    let Ok(font) = FontRef::try_from_slice(FONT) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in text.chars() {
        if !c.is_whitespace()
            && !c.is_control()
            && !is_invisible(c)
            && font.glyph_id(c).0 == 0
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    out
}

/// Joiners, variation selectors and tag characters: parts of emoji sequences with no glyph.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0020}'..='\u{E007F}')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Template {
    Bold,
    Gradient,
    Quote,
}

impl Template {
    fn parse(name: &str) -> Result<Self> {
        match name.trim().to_lowercase().as_str() {
            "bold" => Ok(Self::Bold),
            "gradient" => Ok(Self::Gradient),
            "quote" => Ok(Self::Quote),
            other => Err(Error::invalid_input(
                "template",
                format!(
                    "unknown template `{other}`; expected one of {}",
                    TEMPLATES.join(", ")
                ),
            )),
        }
    }

    fn background(self, y: u32, height: u32) -> Rgb<u8> {
        match self {
            Self::Bold => Rgb([30, 27, 75]),
            Self::Quote => Rgb([250, 246, 238]),
            Self::Gradient => {
                let (top, bottom) = ([124.0_f32, 58.0, 237.0], [219.0_f32, 39.0, 119.0]);
                let t = y as f32 / height.saturating_sub(1).max(1) as f32;
                Rgb(std::array::from_fn(|i| {
                    (top[i] + (bottom[i] - top[i]) * t).round() as u8
                }))
            }
        }
    }

    fn ink(self) -> Rgb<u8> {
        match self {
            Self::Bold | Self::Gradient => Rgb([255, 255, 255]),
            Self::Quote => Rgb([31, 41, 55]),
        }
    }
}

const ACCENT: Rgb<u8> = Rgb([234, 88, 12]);

/// A canvas filled with the template's background (rows copied whole: fast even unoptimised).
fn background(template: Template, width: u32, height: u32) -> Result<RgbImage> {
    let row_len = width as usize * 3;
    let mut raw = Vec::with_capacity(row_len * height as usize);
    let mut row: Vec<u8> = Vec::new();
    let mut row_color = None;
    for y in 0..height {
        let color = template.background(y, height);
        if row_color != Some(color) {
            row = color.0.repeat(width as usize);
            row_color = Some(color);
        }
        raw.extend_from_slice(&row);
    }
    RgbImage::from_raw(width, height, raw)
        .ok_or_else(|| Error::other(PROVIDER, "the canvas buffer has the wrong size"))
}

/// Renders `text` with `template` at `width`×`height` and encodes it as PNG.
pub(crate) fn render_png(text: &str, template: &str, width: u32, height: u32) -> Result<Vec<u8>> {
    let template = Template::parse(template)?;
    crate::service::check_graphic_size(width, height)?;
    let font = FontRef::try_from_slice(FONT).map_err(|e| Error::other(PROVIDER, e))?;
    let text = drawable_text(&font, text);
    if text.is_empty() {
        return Err(Error::invalid_input(
            "text",
            "none of its characters can be drawn with the bundled font (DejaVu Sans Bold covers \
             Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and Arabic letters, not CJK or emoji)",
        ));
    }
    let mut canvas = background(template, width, height)?;
    let area = text_area(width, height);
    let unit = width.min(height) as f32;
    let min_size = unit / 36.0;
    match template {
        Template::Bold | Template::Gradient => {
            let text_box = Rect::from(area);
            let layout = layout(&font, &text, &text_box, min_size, unit / 7.0);
            let ink = template.ink();
            draw_layout(
                &mut canvas,
                &font,
                &layout,
                &text_box,
                Align::Center,
                ink,
                area,
            );
        }
        Template::Quote => draw_quote(&mut canvas, &font, &text, area, unit, min_size),
    }

    let mut png = std::io::Cursor::new(Vec::new());
    canvas
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| Error::other(PROVIDER, e))?;
    Ok(png.into_inner())
}

/// `text` with the characters the font cannot draw removed (emoji, CJK, joiners, controls),
/// tabs and odd spaces as plain spaces, spaces collapsed and blank lines dropped.
fn drawable_text(font: &FontRef<'_>, text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            c if c.is_whitespace() => Some(' '),
            c if c.is_control() || is_invisible(c) || font.glyph_id(c).0 == 0 => None,
            c => Some(c),
        })
        .collect();
    cleaned
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn draw_layout(
    canvas: &mut RgbImage,
    font: &FontRef<'_>,
    layout: &Layout,
    b: &Rect,
    align: Align,
    ink: Rgb<u8>,
    clip: TextArea,
) {
    let scale = PxScale::from(layout.size);
    let f = font.as_scaled(scale);
    let lh = line_height(font, layout.size);
    let block = lh * layout.lines.len() as f32;
    let top = b.y + (b.h - block) / 2.0;
    let inset = SIDE_BEARING * layout.size;
    for (i, line) in layout.lines.iter().enumerate() {
        let baseline = top + i as f32 * lh + f.ascent();
        let width = line_width(font, layout.size, line);
        let mut x = match align {
            Align::Left => b.x + inset,
            Align::Center => b.x + (b.w - width) / 2.0,
        };
        let mut previous: Option<GlyphId> = None;
        for c in line.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = previous {
                x += f.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(x, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    let px = bounds.min.x as i64 + i64::from(gx);
                    let py = bounds.min.y as i64 + i64::from(gy);
                    blend(canvas, px, py, ink, coverage, clip);
                });
            }
            x += f.h_advance(id);
            previous = Some(id);
        }
    }
}

/// The `quote` template: a big `“` above the text and an accent bar left of both, the group
/// centred vertically in `area`, the text left-aligned.
fn draw_quote(
    canvas: &mut RgbImage,
    font: &FontRef<'_>,
    text: &str,
    area: TextArea,
    unit: f32,
    min_size: f32,
) {
    let bar = (unit / 120.0).round().max(4.0);
    let gap = (unit / 30.0).round();
    let mark = font
        .glyph_id('“')
        .with_scale_and_position(PxScale::from(unit / 3.5), point(0.0, 0.0));
    let mark = font.outline_glyph(mark);
    let mark_height = mark.as_ref().map_or(0.0, |m| m.px_bounds().height().ceil());
    let a = Rect::from(area);
    let x = a.x + bar + gap;
    let text_room = Rect {
        x,
        y: a.y + mark_height + gap,
        w: a.w - bar - gap,
        h: a.h - mark_height - gap,
    };
    let layout = layout(font, text, &text_room, min_size, unit / 10.0);
    let block = layout.lines.len() as f32 * line_height(font, layout.size);
    let group = (mark_height + gap + block).min(a.h);
    let top = (a.y + (a.h - group) / 2.0).floor();

    fill_rect(
        canvas,
        &Rect {
            x: a.x,
            y: top,
            w: bar,
            h: group,
        },
        ACCENT,
        area,
    );
    if let Some(mark) = mark {
        mark.draw(|gx, gy, coverage| {
            let px = (x + gx as f32).round() as i64;
            let py = (top + gy as f32).round() as i64;
            blend(canvas, px, py, ACCENT, coverage, area);
        });
    }
    let text_box = Rect {
        y: top + mark_height + gap,
        h: block,
        ..text_room
    };
    draw_layout(
        canvas,
        font,
        &layout,
        &text_box,
        Align::Left,
        Template::Quote.ink(),
        area,
    );
}

/// Mixes `ink` into pixel (`x`, `y`) by `coverage`; pixels outside `clip` are never touched.
fn blend(canvas: &mut RgbImage, x: i64, y: i64, ink: Rgb<u8>, coverage: f32, clip: TextArea) {
    let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
        return;
    };
    if !clip.contains(x, y) || coverage <= 0.0 {
        return;
    }
    let Some(pixel) = canvas.get_pixel_mut_checked(x, y) else {
        return;
    };
    let c = coverage.min(1.0);
    for (channel, &ink) in pixel.0.iter_mut().zip(ink.0.iter()) {
        *channel = (f32::from(*channel) * (1.0 - c) + f32::from(ink) * c).round() as u8;
    }
}

/// Fills `r` with `color`; pixels outside `clip` are never touched.
fn fill_rect(canvas: &mut RgbImage, r: &Rect, color: Rgb<u8>, clip: TextArea) {
    let (x0, y0) = (r.x.round() as u32, r.y.round() as u32);
    let (x1, y1) = ((r.x + r.w).round() as u32, (r.y + r.h).round() as u32);
    for y in y0..y1 {
        for x in x0..x1 {
            if clip.contains(x, y) {
                canvas.put_pixel(x, y, color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> FontRef<'static> {
        FontRef::try_from_slice(FONT).unwrap()
    }

    #[test]
    fn emoji_and_cjk_are_dropped_but_arabic_and_cyrillic_kept() {
        let f = font();
        assert_eq!(drawable_text(&f, "Launch 🚀 day 👩‍💻 新品"), "Launch day");
        assert_eq!(drawable_text(&f, "Привет мир"), "Привет мир");
        assert_eq!(drawable_text(&f, "مرحبا بالعالم"), "مرحبا بالعالم");
        assert_eq!(drawable_text(&f, "a\t b\n\n\nc"), "a b\nc");
    }

    #[test]
    fn margins_scale_with_the_format() {
        assert_eq!(
            text_area(1080, 1080),
            TextArea {
                x: 86,
                y: 86,
                width: 908,
                height: 908
            }
        );
        assert_eq!(text_area(1080, 1920).y, 249);
        assert_eq!(text_area(1200, 675).y, 81);
    }
}
