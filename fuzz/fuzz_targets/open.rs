//! `open`: arbitrary bytes as a cookie value into `Codec::open`.
//!
//! Two codecs (ring A: AES-256-GCM primary + XChaCha20-Poly1305; ring B: XChaCha20-Poly1305
//! with another schema, limit and lifetimes), two cookie names, every session type of the
//! fixtures, and two clocks (now, and a day and a half later when every seed has expired).
//! Checks: no panic; a refusal's kind agrees with what can be seen from outside (length,
//! key id), and its text depends on nothing else; an opened value is live, under a key of the
//! ring, and re-seals to a value that opens the same.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sealed_session::{Codec, KeyId, OpenErrorKind};
use sealed_session_fuzz::{CODEC_A, CODEC_B, COOKIE_NAME, NOW, OTHER_NAME, for_each_session_type};
use serde::Serialize;
use serde::de::DeserializeOwned;

thread_local! {
    /// The first text seen for each (kind, key id).
    static MESSAGES: RefCell<HashMap<(OpenErrorKind, Option<KeyId>), String>> =
        RefCell::new(HashMap::new());
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    for codec in [&*CODEC_A, &*CODEC_B] {
        for name in [COOKIE_NAME, OTHER_NAME] {
            for now in [NOW, NOW + 36 * 3600] {
                for_each_session_type!(check(codec, name, &value, now));
            }
        }
    }
});

fn check<T>(codec: &Codec, name: &str, value: &str, now: u64)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let ring = codec.ring();
    match codec.open::<T>(name, value, now) {
        Err(error) => {
            let kind = error.kind();
            if value.len() > codec.max_value_len() {
                assert_eq!(kind, OpenErrorKind::TooLong);
            }
            match kind {
                OpenErrorKind::TooLong | OpenErrorKind::UnsupportedVersion => {
                    assert_eq!(error.key_id(), None, "{error:?}");
                }
                OpenErrorKind::UnknownKey => {
                    let id = error.key_id().expect("an unknown key is named");
                    assert!(!ring.contains(id), "{error:?}");
                }
                OpenErrorKind::Malformed => {
                    // Before the header is read there is no id; after, it names a ring key.
                    if let Some(id) = error.key_id() {
                        assert!(ring.contains(id), "{error:?}");
                    }
                }
                _ => {
                    let id = error
                        .key_id()
                        .expect("a refusal after key lookup names the key");
                    assert!(ring.contains(id), "{error:?}");
                }
            }
            // Errors are for logs and never carry the cookie value (SECURITY-TESTS E10): their
            // text depends on the kind and key id alone, whatever the value.
            let text = format!("{error} / {error:?}");
            MESSAGES.with_borrow_mut(|messages| {
                let first = messages
                    .entry((kind, error.key_id()))
                    .or_insert_with(|| text.clone());
                assert_eq!(*first, text, "error text varies with the value");
            });
        }
        Ok(opened) => {
            assert!(value.len() <= codec.max_value_len());
            assert!(now < opened.expires, "opened an expired session");
            assert!(now < opened.meta.created.saturating_add(codec.max_lifetime()));
            assert!(ring.contains(opened.key_id));
            assert_eq!(opened.by_primary, opened.key_id == ring.primary_id());
            // Debug of an opened session omits the data.
            let _ = format!("{opened:?}");
            // Re-sealed (under the primary, whose nonce may be longer), it opens the same.
            if let Ok(again) = codec.seal(name, &opened.meta, &opened.data, now) {
                let reopened = codec
                    .open::<T>(name, &again.value, now)
                    .expect("a re-sealed session opens");
                assert_eq!(reopened.data, opened.data);
                assert_eq!(reopened.meta, opened.meta);
                assert!(reopened.by_primary);
            }
        }
    }
}
