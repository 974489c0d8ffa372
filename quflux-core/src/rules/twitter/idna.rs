//! IDNA checks of URL hosts, as twitter-text's `isValidHostAndLength` does them with
//! `java.net.IDN.toASCII`: every label at most 63 characters once punycode-encoded, and the whole
//! URL at most 4096 UTF-16 units.

/// twitter-text's `MAX_URL_LENGTH`.
const MAX_URL_LENGTH: usize = 4096;
/// Length of `https://`, added to scheme-less URLs before the length check.
const DEFAULT_PROTOCOL_LENGTH: usize = 8;
/// DNS label limit enforced by IDNA `ToASCII`.
const MAX_LABEL_LENGTH: usize = 63;

fn utf16_len(chars: &[char]) -> usize {
    chars.iter().map(|c| c.len_utf16()).sum()
}

/// `isValidHostAndLength`: the host converts to ASCII (IDNA) and the whole URL, with the host
/// punycode-encoded and a protocol added when missing, is at most 4096 UTF-16 units.
pub(super) fn valid_host_and_length(url: &[char], host: &[char], has_protocol: bool) -> bool {
    let Some(ascii_len) = host_to_ascii_len(host) else {
        return false;
    };
    let len = utf16_len(url) - utf16_len(host)
        + ascii_len
        + if has_protocol {
            0
        } else {
            DEFAULT_PROTOCOL_LENGTH
        };
    len <= MAX_URL_LENGTH
}

/// Length of the IDNA `ToASCII` form of `host`, or `None` when a label is empty or longer than 63.
fn host_to_ascii_len(host: &[char]) -> Option<usize> {
    if host.is_empty() {
        return None;
    }
    let mut total = 0;
    for (i, label) in host.split(|&c| c == '.').enumerate() {
        if label.is_empty() {
            return None;
        }
        let len = if label.iter().all(char::is_ascii) {
            label.len()
        } else if label.len() >= 4
            && label[..4]
                .iter()
                .collect::<String>()
                .eq_ignore_ascii_case("xn--")
        {
            return None; // IDNA ToASCII refuses a non-ASCII label with the ACE prefix
        } else {
            // Nameprep, approximately: NFKC and lowercase, then punycode with the ACE prefix.
            let prepped: String =
                unicode_normalization::UnicodeNormalization::nfkc(label.iter().copied())
                    .flat_map(char::to_lowercase)
                    .collect();
            let chars: Vec<char> = prepped.chars().collect();
            4 + punycode_encode(&chars)?.len()
        };
        if len > MAX_LABEL_LENGTH {
            return None;
        }
        total += len + usize::from(i > 0);
    }
    Some(total)
}

/// RFC 3492 punycode encoding of one label (without the `xn--` prefix).
fn punycode_encode(input: &[char]) -> Option<String> {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    const INITIAL_BIAS: u32 = 72;
    const INITIAL_N: u32 = 128;
    fn digit(d: u32) -> char {
        let b = if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d - 26) as u8
        };
        char::from(b)
    }
    fn adapt(delta: u32, points: u32, first: bool) -> u32 {
        const SKEW: u32 = 38;
        const DAMP: u32 = 700;
        let mut delta = if first { delta / DAMP } else { delta / 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (BASE - TMIN + 1) * delta / (delta + SKEW)
    }

    let mut output: String = input.iter().filter(|c| c.is_ascii()).collect();
    let basic = u32::try_from(output.len()).ok()?;
    let total = u32::try_from(input.len()).ok()?;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (INITIAL_N, 0u32, INITIAL_BIAS, basic);
    while handled < total {
        let m = input.iter().map(|&c| c as u32).filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in input {
            let c = c as u32;
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punycode_matches_rfc_3492_examples() {
        let enc = |s: &str| punycode_encode(&s.chars().collect::<Vec<_>>()).unwrap();
        assert_eq!(enc("bücher"), "bcher-kva");
        assert_eq!(enc("münchen"), "mnchen-3ya");
        assert_eq!(enc("他们为什么不说中文"), "ihqwcrb4cv8a8dqg056pqjye");
    }
}
