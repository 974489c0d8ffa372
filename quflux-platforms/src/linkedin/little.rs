//! LinkedIn's `little` text format: the escaping `commentary` needs.
//!
//! `commentary` is parsed as markup. These characters are reserved and must be backslash-escaped
//! when meant literally, even outside mentions and hashtags: `| { } @ [ ] ( ) < > # \ * _ ~`.
//! An unescaped one can silently truncate or mangle the post while LinkedIn still answers 201
//! (PLATFORM-SPECS §2.3).

/// The reserved characters of the `little` format.
pub const RESERVED: [char; 15] = [
    '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '\\', '*', '_', '~',
];

/// Whether `c` is reserved in the `little` format.
pub fn is_reserved(c: char) -> bool {
    RESERVED.contains(&c)
}

/// Escapes `text` for `commentary`: every reserved character gets a backslash in front of it,
/// nothing else changes. Plain text stays plain text (no mention or hashtag markup is produced).
pub fn escape_little(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if is_reserved(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
