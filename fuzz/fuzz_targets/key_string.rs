//! `key_string`: arbitrary strings into `Key::from_str` and `KeyRing::from_str`.
//!
//! Checks: no panic; a key that parses prints back as the same string (up to the case of the
//! key id's hex digits) and that string parses to an equal key; `Debug` of keys, rings and
//! errors never contains a key's secret part; a ring parses exactly when every listed key
//! parses, no two different keys share an id and there are at most `MAX_RING_KEYS` distinct
//! keys, and then lists them primary first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_session::{Key, KeyError, KeyRing, MAX_RING_KEYS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_key(text);
    check_ring(text);
});

/// The secret (last) part of a key string, when there is a long enough one to look for.
fn secret_part(text: &str) -> Option<&str> {
    text.rsplit('.').next().filter(|secret| secret.len() >= 8)
}

fn assert_redacted(debug: &str, text: &str) {
    for part in text.split(|c: char| c == ',' || c.is_whitespace()) {
        if let Some(secret) = secret_part(part)
            && part.parse::<Key>().is_ok()
        {
            assert!(!debug.contains(secret), "Debug leaks a secret: {debug}");
        }
    }
}

fn check_key(text: &str) {
    match text.parse::<Key>() {
        Ok(key) => {
            let printed = key.to_string();
            let mut expected: Vec<String> = text.split('.').map(str::to_owned).collect();
            if let Some(id) = expected.get_mut(2) {
                id.make_ascii_lowercase();
            }
            assert_eq!(printed, expected.join("."), "Display is not canonical");
            let again: Key = printed.parse().expect("Display parses");
            assert!(again == key, "Display round trip changed the key");
            assert_eq!(again.id(), key.id());
            assert_eq!(again.algorithm(), key.algorithm());
            assert_eq!(key.id().to_string(), expected[2]);
            assert_redacted(&format!("{key:?}"), text);
        }
        Err(error) => {
            assert_redacted(&format!("{error:?} {error}"), text);
        }
    }
}

fn check_ring(text: &str) {
    let parts: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .collect();
    let keys: Result<Vec<Key>, KeyError> = parts.iter().map(|part| part.parse()).collect();
    // The model: distinct keys in order, and whether two different keys share an id.
    let mut distinct: Vec<Key> = Vec::new();
    let mut clash = false;
    for key in keys.iter().flatten() {
        match distinct.iter().find(|k| k.id() == key.id()) {
            Some(existing) => clash |= existing != key,
            None => distinct.push(key.to_string().parse().expect("Display parses")),
        }
    }
    let expect_ok =
        keys.is_ok() && !distinct.is_empty() && !clash && distinct.len() <= MAX_RING_KEYS;

    match text.parse::<KeyRing>() {
        Ok(ring) => {
            assert!(expect_ok, "ring accepted: {ring:?}");
            let ids: Vec<_> = distinct.iter().map(Key::id).collect();
            assert_eq!(ring.ids(), ids);
            assert_eq!(ring.primary_id(), ids[0]);
            assert_redacted(&format!("{ring:?}"), text);
        }
        Err(error) => {
            // `clash` may be hidden behind `RingFull` or the other way round: only the
            // verdict is modelled, not which error comes first.
            assert!(!expect_ok, "ring refused: {error:?}");
            assert_redacted(&format!("{error:?} {error}"), text);
        }
    }
}
