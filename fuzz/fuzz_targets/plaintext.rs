//! `plaintext`: authentic envelopes around arbitrary plaintext, opened as every session type.
//!
//! The crate seals only `Serialize` values, so the fuzzer's bytes are sealed through [`Raw`],
//! whose serialization is exactly those bytes: postcard writes a tuple without a length and a
//! `u8` element as one raw byte. The authenticated plaintext is then
//! `id (16) || varint created || varint expires || input`, and opening decodes `input` as the
//! session type, which is the attack surface of a (hypothetical) key holder or of a schema
//! change without a schema version bump.
//!
//! Checks: no panic and no oversized allocation; opening fails with `Payload` or succeeds,
//! exactly when postcard alone decodes the input as that type with no trailing bytes, to the
//! same value; anything that opens re-seals and opens to the same value.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealed_session::{Codec, MAX_VALUE_LEN_LIMIT, OpenErrorKind, SessionId, SessionMeta};
use sealed_session_fuzz::{COOKIE_NAME, NOW, RING_A, for_each_session_type};
use serde::de::DeserializeOwned;
use serde::ser::SerializeTuple;
use serde::{Serialize, Serializer};

/// Serializes as exactly its bytes.
struct Raw<'a>(&'a [u8]);

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for byte in self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

/// The largest limit, so every input of libFuzzer's default `-max_len` fits.
static CODEC: LazyLock<Codec> = LazyLock::new(|| {
    Codec::new(RING_A.clone())
        .with_max_value_len(MAX_VALUE_LEN_LIMIT)
        .expect("the largest limit is valid")
});

const META: SessionMeta = SessionMeta {
    id: SessionId::from_bytes(*b"plaintext fuzzer"),
    created: NOW - 100,
};

fuzz_target!(|data: &[u8]| {
    let Ok(sealed) = CODEC.seal(COOKIE_NAME, &META, &Raw(data), NOW) else {
        return; // too large for the limit: nothing authentic to open
    };
    for_each_session_type!(check(data, &sealed.value));
});

fn check<T>(input: &[u8], value: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let expected = match postcard::take_from_bytes::<T>(input) {
        Ok((data, [])) => Some(data),
        _ => None,
    };
    match CODEC.open::<T>(COOKIE_NAME, value, NOW) {
        Err(error) => {
            assert_eq!(error.kind(), OpenErrorKind::Payload, "{error:?}");
            assert!(
                expected.is_none(),
                "postcard decodes what the codec refused"
            );
        }
        Ok(opened) => {
            assert_eq!(opened.meta, META);
            assert_eq!(Some(&opened.data), expected.as_ref());
            let again = CODEC
                .seal(COOKIE_NAME, &opened.meta, &opened.data, NOW)
                .expect("a decoded value is no larger re-encoded");
            let reopened = CODEC
                .open::<T>(COOKIE_NAME, &again.value, NOW)
                .expect("a re-sealed value opens");
            assert_eq!(reopened.data, opened.data);
        }
    }
}
