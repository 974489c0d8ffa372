//! AES-256-GCM token encryption with key ids, so keys can rotate.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{EncryptedToken, Error, Result, Secret, TokenCipher};

const SERVICE: &str = "token_cipher";
const NONCE_LEN: usize = 12;

/// AES-256-GCM [`TokenCipher`] holding a key ring: one current key for encryption, every key for
/// decryption. The key id is bound to the ciphertext as associated data.
pub struct AesGcmCipher {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for AesGcmCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("AesGcmCipher")
            .field("current", &self.current)
            .field("key_ids", &ids)
            .finish()
    }
}

impl AesGcmCipher {
    /// A cipher with one key, given as 32 raw bytes.
    pub fn new(key_id: &str, key: &Secret<[u8; 32]>) -> Self {
        let mut keys = HashMap::new();
        keys.insert(
            key_id.to_owned(),
            Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.expose())),
        );
        Self {
            current: key_id.to_owned(),
            keys,
        }
    }

    /// A cipher with one key given as base64 of 32 bytes (how keys travel in configuration).
    pub fn from_base64(key_id: &str, key_b64: &Secret<String>) -> Result<Self> {
        Ok(Self::new(key_id, &decode_key(key_b64)?))
    }

    /// A cipher with a fresh random key (for tests, examples and ephemeral dev setups).
    pub fn random(key_id: &str) -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut raw = [0u8; 32];
        raw.copy_from_slice(key.as_slice());
        Self::new(key_id, &Secret::new(raw))
    }

    /// Adds an older key for decryption only.
    pub fn with_old_key(mut self, key_id: &str, key: &Secret<[u8; 32]>) -> Self {
        self.keys.insert(
            key_id.to_owned(),
            Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.expose())),
        );
        self
    }

    /// Makes `key_id` (already in the ring) the key new tokens are encrypted with.
    pub fn with_current(mut self, key_id: &str) -> Result<Self> {
        if !self.keys.contains_key(key_id) {
            return Err(Error::Config(format!(
                "token cipher: key id `{key_id}` is not in the key ring"
            )));
        }
        self.current = key_id.to_owned();
        Ok(self)
    }

    /// The id new tokens are encrypted with.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }
}

/// Decodes a base64 key of exactly 32 bytes.
pub fn decode_key(key_b64: &Secret<String>) -> Result<Secret<[u8; 32]>> {
    let bytes = STANDARD
        .decode(key_b64.expose().trim())
        .map_err(|_| Error::Config("token cipher: key is not valid base64".into()))?;
    let raw: [u8; 32] = bytes.try_into().map_err(|_| {
        Error::Config("token cipher: key must be 32 bytes (base64 of 32 bytes)".into())
    })?;
    Ok(Secret::new(raw))
}

fn tampered() -> Error {
    Error::other(
        SERVICE,
        "token could not be decrypted (wrong key or tampered ciphertext)",
    )
}

impl TokenCipher for AesGcmCipher {
    fn encrypt(&self, plaintext: &Secret<String>) -> Result<EncryptedToken> {
        let cipher = self
            .keys
            .get(&self.current)
            .ok_or_else(|| Error::Config("token cipher: no current key".into()))?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = aes_gcm::aead::Payload {
            msg: plaintext.expose().as_bytes(),
            aad: self.current.as_bytes(),
        };
        let ct = cipher
            .encrypt(&nonce, payload)
            .map_err(|_| Error::other(SERVICE, "encryption failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ct);
        Ok(EncryptedToken {
            key_id: self.current.clone(),
            ciphertext: STANDARD.encode(out),
        })
    }

    fn decrypt(&self, token: &EncryptedToken) -> Result<Secret<String>> {
        let cipher = self.keys.get(&token.key_id).ok_or_else(|| {
            Error::Config(format!(
                "token cipher: token was encrypted with unknown key id `{}`",
                token.key_id
            ))
        })?;
        let raw = STANDARD.decode(&token.ciphertext).map_err(|_| tampered())?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(tampered());
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let payload = aes_gcm::aead::Payload {
            msg: ct,
            aad: token.key_id.as_bytes(),
        };
        let pt = cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| tampered())?;
        String::from_utf8(pt)
            .map(Secret::new)
            .map_err(|_| tampered())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_with_fresh_nonces() {
        let c = AesGcmCipher::random("k1");
        let secret = Secret::new("access-token-123".to_owned());
        let a = c.encrypt(&secret).unwrap();
        let b = c.encrypt(&secret).unwrap();
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.contains("access-token"));
        assert_eq!(c.decrypt(&a).unwrap().expose(), "access-token-123");
    }

    #[test]
    fn tampering_and_unknown_keys_are_errors() {
        let c = AesGcmCipher::random("k1");
        let mut t = c.encrypt(&Secret::new("x".to_owned())).unwrap();
        let mut raw = STANDARD.decode(&t.ciphertext).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        t.ciphertext = STANDARD.encode(raw);
        assert!(c.decrypt(&t).is_err());
        let other = AesGcmCipher::random("k2");
        let t2 = other.encrypt(&Secret::new("x".to_owned())).unwrap();
        assert_eq!(c.decrypt(&t2).unwrap_err().kind(), crate::ErrorKind::Config);
    }

    #[test]
    fn rotation_keeps_old_tokens_readable() {
        let k1 = Secret::new([1u8; 32]);
        let k2 = Secret::new([2u8; 32]);
        let old = AesGcmCipher::new("k1", &k1);
        let token = old.encrypt(&Secret::new("tok".to_owned())).unwrap();
        let rotated = AesGcmCipher::new("k2", &k2).with_old_key("k1", &k1);
        assert_eq!(rotated.decrypt(&token).unwrap().expose(), "tok");
        assert_eq!(
            rotated
                .encrypt(&Secret::new("n".to_owned()))
                .unwrap()
                .key_id,
            "k2"
        );
        assert!(!format!("{rotated:?}").contains("[2"));
    }

    #[test]
    fn bad_configured_keys_name_the_problem() {
        let e = AesGcmCipher::from_base64("k", &Secret::new("short".to_owned())).unwrap_err();
        assert!(e.to_string().contains("token cipher"));
    }
}
