//! `key_string`: arbitrary strings into `Key::from_str`, against a model of the key string
//! grammar (SECURITY-TESTS B4, F10): `ssk1.<algorithm>.[=]<8 lowercase hex>.<43 base64url>`,
//! the bytes not all one value, and an id without the explicit mark `=` only if it is the id
//! derived from the key bytes (SHA-256, `wire::KeyMaterial::derived_id`).
//!
//! Checks: no panic; a string parses exactly when the model accepts it, and is refused with
//! the model's error (`Format`, `UnknownAlgorithm`, `Weak`, `IdMismatch` with the named id);
//! a key that parses prints back as exactly the same string (one spelling per key) and has
//! the string's id and algorithm; the same key with the other id spelling (explicit when
//! derived, or the mark added to a mismatched id) parses to an equal key that prints with the
//! mark; `Debug` and `Display` of keys and errors never contain a key's secret part. (The key
//! ring's text form is the `ring_text` target.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::{Key, KeyError, KeyId};
use sealed_session_fuzz::wire::{KeyMaterial, KeyString};

fuzz_target!(init: sealed_session_fuzz::init(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    // Whitespace and separators around a key are a ring's business, never a key's.
    for wrapped in [format!(" {text}"), format!("{text}\n"), format!("{text},")] {
        assert!(wrapped.parse::<Key>().is_err(), "{wrapped:?} parsed");
    }
});

/// What the model says of a key string.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Key(KeyString),
    Refused(KeyError),
}

fn model(text: &str) -> Verdict {
    let format = |part| Verdict::Refused(KeyError::Format { part });
    let parts: Vec<&str> = text.split('.').collect();
    let [prefix, algorithm, id, secret] = parts[..] else {
        return format("expected four dot-separated parts");
    };
    if prefix != "ssk1" {
        return format("prefix");
    }
    if algorithm != "aes-256-gcm" && algorithm != "xchacha20-poly1305" {
        return Verdict::Refused(KeyError::UnknownAlgorithm);
    }
    let digits = id.strip_prefix('=').unwrap_or(id);
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if digits.len() != 8 || !digits.bytes().all(lower_hex) {
        return format("key id");
    }
    // The rest of the shape (43 canonical base64url characters of 32 bytes) is what
    // `KeyMaterial::read` reads.
    let Some(KeyString { material, explicit }) = KeyMaterial::read(text) else {
        return format("key bytes");
    };
    debug_assert_eq!(secret.len(), 43);
    if material.bytes.iter().all(|&b| b == material.bytes[0]) {
        return Verdict::Refused(KeyError::Weak);
    }
    if !explicit && material.id != KeyMaterial::derived_id(material.alg, &material.bytes) {
        return Verdict::Refused(KeyError::IdMismatch {
            id: KeyId::new(material.id),
        });
    }
    Verdict::Key(KeyString { material, explicit })
}

/// The secret (last) part of a key string, when it has the shape of one (43 base64url
/// characters): what `Debug` and errors must never show.
fn secret_part(text: &str) -> Option<&str> {
    text.rsplit('.').next().filter(|secret| {
        secret.len() == 43
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn assert_redacted(shown: &str, text: &str) {
    if let Some(secret) = secret_part(text) {
        assert!(!shown.contains(secret), "a secret is shown: {shown}");
    }
}

fn check(text: &str) {
    let parsed = text.parse::<Key>();
    match (model(text), parsed) {
        (Verdict::Key(KeyString { material, explicit }), Ok(key)) => {
            assert_eq!(key.to_string(), text, "Display is not the one spelling");
            assert_eq!(key.id(), KeyId::new(material.id));
            let algorithm = sealed_session_fuzz::wire::algorithm(material.alg);
            assert_eq!(key.algorithm(), algorithm);
            let again: Key = key.to_string().parse().expect("Display parses");
            assert!(again == key, "Display round trip changed the key");
            assert_redacted(&format!("{key:?}"), text);
            if !explicit {
                // The derived id, spelt explicitly: the same key, printed with the mark.
                let id = key.id().to_string();
                let explicit = text.replacen(&format!(".{id}."), &format!(".={id}."), 1);
                let key2: Key = explicit.parse().expect("an explicit derived id parses");
                assert!(key2 == key);
                assert_eq!(key2.to_string(), explicit);
            }
        }
        (Verdict::Refused(expected), Err(error)) => {
            assert_eq!(error, expected, "refused for another reason");
            assert_redacted(&format!("{error:?} {error}"), text);
            if let KeyError::IdMismatch { id } = error {
                // With the explicit mark, the same string is that key under that id.
                let explicit = text.replacen(&format!(".{id}."), &format!(".={id}."), 1);
                let key: Key = explicit.parse().expect("an explicit id parses");
                assert_eq!(key.id(), id);
                assert_eq!(key.to_string(), explicit);
                assert_redacted(&format!("{key:?}"), text);
            }
        }
        (verdict, parsed) => panic!("model {verdict:?}, crate {:?}", parsed.map(|k| k.id())),
    }
}
