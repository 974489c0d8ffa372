//! Record keys: AT Protocol TIDs derived deterministically from an idempotency key.
//!
//! A TID is 64 bits (top bit 0, 53 bits of microseconds since the Unix epoch, 10 bits of clock
//! id) written as 13 characters of base32-sortable (`234567abcdefghijklmnopqrstuvwxyz`). The
//! PDS only checks the syntax. Quflux derives the microseconds and the clock id from SHA-256 of
//! `"{idempotency key}#{part}"`, within the 2^45 µs (about 407 days) after 2023-01-01: every
//! attempt of a publication writes the same keys, so a resend can never create a second post,
//! and `getRecord` by key answers "did it go through?". Keys therefore do not sort by posting
//! time; clients order posts by `createdAt`.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
/// 2023-01-01T00:00:00Z in microseconds.
const BASE_MICROS: u64 = 1_672_531_200_000_000;
const SPREAD_BITS: u32 = 45;

/// The record key of part `part` (0 = the first post) of the publication `idempotency_key`.
pub fn for_part(idempotency_key: &str, part: usize) -> String {
    let digest = Sha256::digest(format!("{idempotency_key}#{part}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let h = u64::from_be_bytes(first);
    let micros = BASE_MICROS + (h >> (64 - SPREAD_BITS));
    let clock_id = h & 0x3ff;
    encode((micros << 10) | clock_id)
}

/// Encodes a 63-bit value as a 13-character TID.
pub fn encode(value: u64) -> String {
    let value = value & (u64::MAX >> 1);
    (0..13)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Whether `s` is a syntactically valid TID (13 characters, first `2-7a-j`).
pub fn is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13
        && matches!(b[0], b'2'..=b'7' | b'a'..=b'j')
        && b.iter().all(|c| ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_deterministic_and_distinct() {
        let a = for_part("key-1", 0);
        assert!(is_valid(&a), "{a}");
        assert_eq!(a, for_part("key-1", 0));
        assert_ne!(a, for_part("key-1", 1));
        assert_ne!(a, for_part("key-2", 0));
        for i in 0..200 {
            let k = for_part(&format!("k{i}"), i);
            assert!(is_valid(&k), "{k}");
        }
    }

    #[test]
    fn encoding_matches_the_spec_alphabet() {
        assert_eq!(encode(0), "2222222222222");
        assert!(!is_valid("not-a-tid"));
        assert!(!is_valid("k222222222222"));
        // A TID made today starts with '3'.
        let now = 1_790_000_000_000_000u64 << 10;
        assert!(encode(now).starts_with('3'));
    }
}
