//! URL detection exactly as twitter-text extracts URLs (`Extractor.extractURLsWithIndices` of the
//! Java reference implementation, whose `VALID_URL` regex this module re-implements by hand).
//!
//! The regex is evaluated with precomputed run tables instead of backtracking, so detection stays
//! linear in the text length even for pathological inputs such as `a.a.a.a…`.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::idna::valid_host_and_length;

/// twitter-text's `MAX_TCO_SLUG_LENGTH`.
const MAX_TCO_SLUG_LENGTH: usize = 40;

/// The TLD list (generated from twitter-text's `tlds.yml`).
const TLD_DATA: &str = include_str!("tlds.txt");

struct Tlds {
    set: HashSet<&'static str>,
    max_chars: usize,
}

fn tlds() -> &'static Tlds {
    static TLDS: OnceLock<Tlds> = OnceLock::new();
    TLDS.get_or_init(|| {
        let set: HashSet<&'static str> = TLD_DATA
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let max_chars = set.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        Tlds { set, max_chars }
    })
}

/// Whether `tld` (lowercase) is a top-level domain twitter-text knows.
fn is_known_tld(tld: &str) -> bool {
    tlds().set.contains(tld)
}

/// `LATIN_ACCENTS_CHARS`.
fn is_latin_accent(c: char) -> bool {
    matches!(c,
        '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}' | '\u{f8}'..='\u{ff}' | '\u{100}'..='\u{24f}'
        | '\u{253}' | '\u{254}' | '\u{256}' | '\u{257}' | '\u{259}' | '\u{25b}' | '\u{263}' | '\u{268}'
        | '\u{26f}' | '\u{272}' | '\u{289}' | '\u{28b}' | '\u{2bb}' | '\u{300}'..='\u{36f}'
        | '\u{1e00}'..='\u{1eff}')
}

fn is_cyrillic(c: char) -> bool {
    ('\u{400}'..='\u{4ff}').contains(&c)
}

/// `URL_VALID_CHARS` (the regex is case-insensitive, ASCII only).
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || is_latin_accent(c)
}

/// `URL_VALID_PRECEDING_CHARS` (its `^` alternative is handled by the caller).
fn is_valid_preceding(c: char) -> bool {
    !(c.is_ascii_alphanumeric()
        || matches!(
            c,
            '@' | '＠' | '$' | '#' | '＃' | '\u{fffe}' | '\u{feff}' | '\u{ffff}'
        ))
}

/// `URL_VALID_UNICODE_CHARS`: not punctuation, space, separator or general punctuation.
fn is_unicode_domain_char(c: char) -> bool {
    const PUNCTUATION: &str = "-_!\"#$%&'()*+,./:;<=>?@[]^`{|}~";
    let java_space = matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
    let separator = matches!(
        c,
        ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    );
    let general_punctuation = ('\u{2000}'..='\u{206f}').contains(&c);
    !(PUNCTUATION.contains(c) || java_space || separator || general_punctuation)
}

/// `URL_VALID_GENERAL_PATH_CHARS`.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!*';:=+,.$/%#[]-\u{2013}_~|&@".contains(c)
        || is_latin_accent(c)
        || is_cyrillic(c)
}

/// `URL_VALID_PATH_ENDING_CHARS` (without the balanced-parens alternative).
fn is_path_end_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "=_#/-+".contains(c) || is_latin_accent(c) || is_cyrillic(c)
}

/// `URL_VALID_URL_QUERY_CHARS`.
fn is_query_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!?*'();:&=+$/%#[]-_.,~|@".contains(c)
}

/// `URL_VALID_URL_QUERY_ENDING_CHARS`.
fn is_query_end_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_&=#/".contains(c)
}

/// Characters that may not follow a TLD: the lookahead `(?=[^a-z0-9@+-]|$)`.
fn blocks_tld(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '@' | '+' | '-')
}

fn starts_with_ignore_case(t: &[char], at: usize, prefix: &str) -> bool {
    let mut i = at;
    for p in prefix.chars() {
        match t.get(i) {
            Some(c) if c.eq_ignore_ascii_case(&p) => i += 1,
            _ => return false,
        }
    }
    true
}

/// End (exclusive) of the maximal run of chars satisfying `pred`, for every start position.
fn run_ends(t: &[char], pred: impl Fn(char) -> bool) -> Vec<usize> {
    let mut ends = vec![t.len(); t.len() + 1];
    for i in (0..t.len()).rev() {
        ends[i] = if pred(t[i]) { ends[i + 1] } else { i };
    }
    ends
}

/// Precomputed tables for one text.
struct Scan<'a> {
    t: &'a [char],
    /// End of the `[U\-]` run (unicode domain label chars).
    uni_run: Vec<usize>,
    /// At a position right after a dot: end of a gTLD/ccTLD (with its lookahead).
    tld_end: Vec<Option<usize>>,
    /// End of the domain for the first `URL_VALID_DOMAIN` alternative
    /// (`SUBDOMAIN* DOMAIN_NAME (GTLD|CCTLD|PUNYCODE)`) starting at each position.
    domain_end: Vec<Option<usize>>,
}

impl<'a> Scan<'a> {
    fn new(t: &'a [char]) -> Self {
        let n = t.len();
        let sub_run = run_ends(t, |c| is_url_char(c) || c == '-' || c == '_');
        let dom_run = run_ends(t, |c| is_url_char(c) || c == '-');
        let uni_run = run_ends(t, |c| is_unicode_domain_char(c) || c == '-');
        let mut tld_end = vec![None; n + 1];
        let mut puny_end = vec![None; n + 1];
        for q in 1..=n {
            if t[q - 1] == '.' {
                tld_end[q] = Self::tld_at(t, q);
                puny_end[q] = Self::punycode_at(t, q);
            }
        }
        // A label from `p` of chars in a run table, followed by '.', first and last char in C.
        let label = |run: &[usize], p: usize| -> Option<usize> {
            let r = run[p];
            (p < n && is_url_char(t[p]) && r < n && t[r] == '.' && is_url_char(t[r - 1]))
                .then_some(r + 1)
        };
        let mut domain_end = vec![None; n + 1];
        for p in (0..n).rev() {
            // Greedy SUBDOMAIN*, backtracking one label at a time: the deepest label that works.
            let deeper = label(&sub_run, p).and_then(|next| domain_end[next]);
            let here = label(&dom_run, p).and_then(|q| tld_end[q].or(puny_end[q]));
            domain_end[p] = deeper.or(here);
        }
        Self {
            t,
            uni_run,
            tld_end,
            domain_end,
        }
    }

    /// `(?:GTLD|CCTLD)` at `q`, each followed by `(?=[^a-z0-9@+-]|$)`.
    fn tld_at(t: &[char], q: usize) -> Option<usize> {
        let max = tlds().max_chars.min(t.len() - q);
        let mut candidate = String::new();
        for len in (1..=max).rev() {
            let end = q + len;
            if t.get(end).is_some_and(|&c| blocks_tld(c)) {
                continue;
            }
            candidate.clear();
            candidate.extend(t[q..end].iter().map(char::to_ascii_lowercase));
            if is_known_tld(&candidate) {
                return Some(end);
            }
        }
        None
    }

    /// `xn--[-0-9a-z]+` at `q`.
    fn punycode_at(t: &[char], q: usize) -> Option<usize> {
        if !starts_with_ignore_case(t, q, "xn--") {
            return None;
        }
        let start = q + 4;
        let end = (start..t.len())
            .find(|&i| !(t[i].is_ascii_alphanumeric() || t[i] == '-'))
            .unwrap_or(t.len());
        (end > start).then_some(end)
    }

    /// Whether the lookbehind `(?<=https?://)` holds at `d`.
    fn after_protocol(&self, d: usize) -> bool {
        (d >= 7 && starts_with_ignore_case(self.t, d - 7, "http://"))
            || (d >= 8 && starts_with_ignore_case(self.t, d - 8, "https://"))
    }

    /// `URL_VALID_DOMAIN` at `d`: its end.
    fn domain_at(&self, d: usize) -> Option<usize> {
        if let Some(end) = self.domain_end[d] {
            return Some(end);
        }
        if !self.after_protocol(d) {
            return None;
        }
        // `(?<=https?://)` + `DOMAIN_NAME CCTLD` is covered by the first alternative; what is
        // left is `UNICODE_DOMAIN_NAME (GTLD|CCTLD)`.
        let t = self.t;
        let r = self.uni_run[d];
        let ok = d < t.len() && is_unicode_domain_char(t[d]) && r < t.len() && t[r] == '.';
        if ok && is_unicode_domain_char(t[r - 1]) {
            self.tld_end[r + 1]
        } else {
            None
        }
    }

    /// `\( (?: G+ | G* \( G+ \) G* ) \)` at `i`: its end.
    fn balanced_parens_at(&self, i: usize) -> Option<usize> {
        let t = self.t;
        let run = |from: usize| {
            (from..t.len())
                .find(|&j| !is_path_char(t[j]))
                .unwrap_or(t.len())
        };
        if t.get(i) != Some(&'(') {
            return None;
        }
        let g1 = run(i + 1);
        if g1 > i + 1 && t.get(g1) == Some(&')') {
            return Some(g1 + 1);
        }
        if t.get(g1) != Some(&'(') {
            return None;
        }
        let g2 = run(g1 + 1);
        if g2 == g1 + 1 || t.get(g2) != Some(&')') {
            return None;
        }
        let g3 = run(g2 + 1);
        (t.get(g3) == Some(&')')).then_some(g3 + 1)
    }

    /// `(/ URL_VALID_PATH*+)?` after the `/` at `slash`: the end of the path.
    fn path_end(&self, slash: usize) -> usize {
        // One iteration takes the longest run of path chars and balanced parens that ends on a
        // path-ending token; the possessive loop cannot continue past that.
        let t = self.t;
        let mut i = slash + 1;
        let mut end = i;
        while i < t.len() {
            if t[i] == '(' {
                match self.balanced_parens_at(i) {
                    Some(e) => {
                        i = e;
                        end = e;
                    }
                    None => break,
                }
            } else if is_path_char(t[i]) {
                i += 1;
                if is_path_end_char(t[i - 1]) {
                    end = i;
                }
            } else {
                break;
            }
        }
        end
    }

    /// `(\? QUERY_CHARS* QUERY_ENDING_CHARS)?` at `q`: the end of the query, or `q`.
    fn query_end(&self, q: usize) -> usize {
        let t = self.t;
        if t.get(q) != Some(&'?') {
            return q;
        }
        let run_end = (q + 1..t.len())
            .find(|&j| !is_query_char(t[j]))
            .unwrap_or(t.len());
        (q + 1..run_end)
            .rev()
            .find(|&j| is_query_end_char(t[j]))
            .map_or(q, |j| j + 1)
    }

    /// The URL group at `u`: (protocol length, domain start, domain end, url end).
    fn url_at(&self, u: usize) -> Option<(usize, usize, usize, usize)> {
        let t = self.t;
        let protocol = if starts_with_ignore_case(t, u, "https://") {
            8
        } else if starts_with_ignore_case(t, u, "http://") {
            7
        } else {
            0
        };
        let (plen, d, dend) = match self.domain_at(u + protocol) {
            Some(e) if protocol > 0 => (protocol, u + protocol, e),
            _ => (0, u, self.domain_at(u)?),
        };
        let mut end = dend;
        if t.get(end) == Some(&':') && t.get(end + 1).is_some_and(char::is_ascii_digit) {
            end = (end + 1..t.len())
                .find(|&j| !t[j].is_ascii_digit())
                .unwrap_or(t.len());
        }
        if t.get(end) == Some(&'/') {
            end = self.path_end(end);
        }
        end = self.query_end(end);
        Some((plen, d, dend, end))
    }
}

/// `^https?://t\.co/([a-z0-9]+)(?:\?QUERY)?` on `url`: (match end, slug length).
fn tco_match(scan: &Scan<'_>, start: usize, end: usize) -> Option<(usize, usize)> {
    let t = scan.t;
    let plen = if starts_with_ignore_case(t, start, "https://t.co/") {
        13
    } else if starts_with_ignore_case(t, start, "http://t.co/") {
        12
    } else {
        return None;
    };
    let slug_start = start + plen;
    let slug_end = (slug_start..end)
        .find(|&j| !t[j].is_ascii_alphanumeric())
        .unwrap_or(end);
    if slug_end == slug_start {
        return None;
    }
    let mut m = slug_end;
    if t.get(m) == Some(&'?') && m < end {
        let run_end = (m + 1..end).find(|&j| !is_query_char(t[j])).unwrap_or(end);
        if let Some(j) = (m + 1..run_end).rev().find(|&j| is_query_end_char(t[j])) {
            m = j + 1;
        }
    }
    Some((m, slug_end - slug_start))
}

/// The URLs twitter-text extracts from `t`, as `[start, end)` char indices. With
/// `require_protocol`, scheme-less URLs (`example.com`) are skipped.
pub(crate) fn find_urls(t: &[char], require_protocol: bool) -> Vec<(usize, usize)> {
    let mut urls = Vec::new();
    if !t.contains(&'.') {
        return urls;
    }
    let scan = Scan::new(t);
    let mut pos = 0;
    while pos < t.len() {
        // Matcher.find(): the first position where `(preceding)(url)` matches.
        let mut found = None;
        for (s, &c) in t.iter().enumerate().skip(pos) {
            if is_valid_preceding(c)
                && let Some(m) = scan.url_at(s + 1)
            {
                found = Some((Some(s), s + 1, m));
                break;
            }
            if s == 0
                && let Some(m) = scan.url_at(0)
            {
                found = Some((None, 0, m));
                break;
            }
        }
        let Some((before, start, (plen, dstart, dend, mut end))) = found else {
            break;
        };
        pos = end;
        if plen == 0 {
            let bad_before = before.is_some_and(|b| matches!(t[b], '-' | '_' | '.' | '/'));
            if require_protocol || bad_before {
                continue;
            }
        }
        if let Some((tco_end, slug_len)) = tco_match(&scan, start, end) {
            if slug_len > MAX_TCO_SLUG_LENGTH {
                continue;
            }
            end = tco_end;
        }
        if valid_host_and_length(&t[start..end], &t[dstart..dend], plen > 0) {
            urls.push((start, end));
        }
    }
    urls
}

/// The URLs twitter-text finds in `text` (scheme-less ones included), as byte ranges of `text`.
pub fn extract_urls(text: &str) -> Vec<std::ops::Range<usize>> {
    let chars: Vec<char> = text.chars().collect();
    let mut offsets = Vec::with_capacity(chars.len() + 1);
    let mut acc = 0;
    for c in &chars {
        offsets.push(acc);
        acc += c.len_utf8();
    }
    offsets.push(acc);
    find_urls(&chars, false)
        .into_iter()
        .map(|(s, e)| offsets[s]..offsets[e])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<&str> {
        extract_urls(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn finds_urls_with_and_without_scheme() {
        assert_eq!(
            urls("Hi http://test.co and example.com/path."),
            ["http://test.co", "example.com/path"]
        );
        assert_eq!(urls("see www.twitter.com/jack!"), ["www.twitter.com/jack"]);
        assert_eq!(urls("no url here. really"), Vec::<&str>::new());
        assert_eq!(urls("user@example.com"), Vec::<&str>::new());
        assert_eq!(urls("http://ああ.com"), ["http://ああ.com"]);
        assert_eq!(
            urls("wiki http://en.wikipedia.org/wiki/Primer_(film)."),
            ["http://en.wikipedia.org/wiki/Primer_(film)"]
        );
        assert_eq!(
            urls("q http://x.com/a?b=c&d=e."),
            ["http://x.com/a?b=c&d=e"]
        );
    }

    #[test]
    fn rejects_labels_longer_than_63() {
        let long = format!("{}.com", "a".repeat(64));
        assert!(urls(&long).is_empty());
        let ok = format!("{}.com", "a".repeat(63));
        assert_eq!(urls(&ok), [ok.as_str()]);
    }

    #[test]
    fn pathological_dots_stay_fast() {
        let text = "a.".repeat(50_000);
        let start = std::time::Instant::now();
        let _ = extract_urls(&text);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
