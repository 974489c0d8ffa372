//! Conformance suite for [`TokenCipher`].

use super::Must;
use crate::{EncryptedToken, Secret, TokenCipher};

/// Every [`TokenCipher`] must pass these.
pub async fn run_all(cipher: &dyn TokenCipher) {
    decrypt_inverts_encrypt(cipher).await;
    equal_plaintexts_give_different_ciphertexts(cipher).await;
    ciphertext_does_not_contain_the_plaintext(cipher).await;
    tampered_ciphertext_is_an_error(cipher).await;
    unknown_key_id_is_an_error(cipher).await;
    errors_and_debug_never_show_plaintext(cipher).await;
}

const PLAINTEXT: &str = "ya29.testkit-access-token-3f9a1c";

fn secret(s: &str) -> Secret<String> {
    Secret::new(s.to_owned())
}

/// `decrypt(encrypt(x)) == x` for ordinary, empty, non-ASCII and long tokens.
pub async fn decrypt_inverts_encrypt(cipher: &dyn TokenCipher) {
    let long = "x".repeat(16 * 1024);
    for plain in [
        PLAINTEXT,
        "",
        "tökén 🔑 with spaces\nand lines",
        long.as_str(),
    ] {
        let token = cipher.encrypt(&secret(plain)).must("encrypt");
        let back = cipher.decrypt(&token).must("decrypt what was encrypted");
        assert!(
            back.expose() == plain,
            "decrypt(encrypt(x)) must be x (for a {}-byte token)",
            plain.len()
        );
    }
}

/// Every encryption uses a fresh nonce.
pub async fn equal_plaintexts_give_different_ciphertexts(cipher: &dyn TokenCipher) {
    let a = cipher.encrypt(&secret(PLAINTEXT)).must("encrypt");
    let b = cipher.encrypt(&secret(PLAINTEXT)).must("encrypt again");
    assert_ne!(
        a.ciphertext, b.ciphertext,
        "equal plaintexts must give different ciphertexts (fresh nonce)"
    );
    assert_eq!(
        a.key_id, b.key_id,
        "both are encrypted with the current key"
    );
}

/// The ciphertext does not contain the plaintext.
pub async fn ciphertext_does_not_contain_the_plaintext(cipher: &dyn TokenCipher) {
    let token = cipher.encrypt(&secret(PLAINTEXT)).must("encrypt");
    assert!(
        !token.ciphertext.contains(PLAINTEXT),
        "the ciphertext must not contain the plaintext"
    );
    assert!(
        !token.key_id.contains(PLAINTEXT),
        "the key id must not contain the plaintext"
    );
    assert!(!token.ciphertext.is_empty(), "the ciphertext is not empty");
}

/// A changed, truncated or emptied ciphertext is an error, never garbage.
pub async fn tampered_ciphertext_is_an_error(cipher: &dyn TokenCipher) {
    let token = cipher.encrypt(&secret(PLAINTEXT)).must("encrypt");

    let mut chars: Vec<char> = token.ciphertext.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    let flipped = EncryptedToken {
        key_id: token.key_id.clone(),
        ciphertext: chars.into_iter().collect(),
    };
    assert!(
        cipher.decrypt(&flipped).is_err(),
        "a ciphertext with a changed character must not decrypt"
    );

    let half = token
        .ciphertext
        .chars()
        .take(token.ciphertext.chars().count() / 2)
        .collect();
    let truncated = EncryptedToken {
        key_id: token.key_id.clone(),
        ciphertext: half,
    };
    assert!(
        cipher.decrypt(&truncated).is_err(),
        "a truncated ciphertext must not decrypt"
    );

    let empty = EncryptedToken {
        key_id: token.key_id.clone(),
        ciphertext: String::new(),
    };
    assert!(
        cipher.decrypt(&empty).is_err(),
        "an empty ciphertext must not decrypt"
    );

    let junk = EncryptedToken {
        key_id: token.key_id.clone(),
        ciphertext: "not a ciphertext at all!".to_owned(),
    };
    assert!(cipher.decrypt(&junk).is_err(), "junk must not decrypt");
}

/// A token naming a key the cipher does not hold is an error.
pub async fn unknown_key_id_is_an_error(cipher: &dyn TokenCipher) {
    let token = cipher.encrypt(&secret(PLAINTEXT)).must("encrypt");
    let foreign = EncryptedToken {
        key_id: format!("unknown-{}", super::unique()),
        ciphertext: token.ciphertext,
    };
    assert!(
        cipher.decrypt(&foreign).is_err(),
        "a token with an unknown key id must not decrypt"
    );
}

/// Neither `Debug` of the cipher, of tokens and of secrets, nor any error message, contains the
/// plaintext.
pub async fn errors_and_debug_never_show_plaintext(cipher: &dyn TokenCipher) {
    let token = cipher.encrypt(&secret(PLAINTEXT)).must("encrypt");
    assert!(
        !format!("{cipher:?}").contains(PLAINTEXT),
        "Debug of the cipher must not show a plaintext"
    );
    assert!(
        !format!("{token:?}").contains(PLAINTEXT),
        "Debug of a token must not show the plaintext"
    );
    let back = cipher.decrypt(&token).must("decrypt");
    assert!(
        !format!("{back:?}").contains(PLAINTEXT),
        "Debug of the decrypted secret must not show it"
    );

    let mut tampered = token.clone();
    tampered.ciphertext.push_str("AAAA");
    let foreign = EncryptedToken {
        key_id: "unknown-key".to_owned(),
        ciphertext: token.ciphertext.clone(),
    };
    for bad in [tampered, foreign] {
        if let Err(e) = cipher.decrypt(&bad) {
            let shown = format!("{e} | {e:?} | {}", e.detailed_message());
            assert!(
                !shown.contains(PLAINTEXT),
                "a decryption error must not show the plaintext: {shown}"
            );
        }
    }
}
