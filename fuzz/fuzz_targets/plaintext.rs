//! `plaintext`: authentic envelopes around arbitrary plaintext, opened as one session type.
//!
//! Input: a control byte (bits 0-3: the session type, as `with_session_type!`; bits 4-5: the
//! mode), then the bytes. Modes:
//!
//! - 0, 1: the crate seals the bytes as the session data (v2): `Codec::seal` only takes a
//!   `Serialize`, so they go through [`Raw`], whose serialization is exactly those bytes
//!   (postcard writes a tuple without a length and a `u8` element as one raw byte). The
//!   plaintext is then the crate's head (id, created, expires, lifetime, flash) followed by
//!   the input;
//! - 2: the fuzz side's sealer (`wire`) makes the input the whole v2 plaintext, head included
//!   (lifetime bounds and flash messages from the input);
//! - 3: the same for v1, whose plaintext is `(id, created, expires, data)`.
//!
//! This is the attack surface of a (hypothetical) key holder, or of a schema change without a
//! schema version bump.
//!
//! Checks: no panic and no oversized allocation; opening fails with `Payload` exactly when
//! postcard alone does not decode the plaintext as the head and the session type with
//! nothing left over; otherwise it opens exactly when the decoded head is live (else
//! `FutureDated` or `Expired`), to the same id, creation time, expiry, data, flash messages
//! and lifetime (capped by the codec's maxima); anything that opens re-seals and opens to the
//! same value.
#![no_main]

use std::fmt::Debug;
use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sealed_session::{Codec, Lifetime, OpenErrorKind, SessionId, SessionMeta};
use sealed_session_fuzz::wire::{self, Header, KeyMaterial};
use sealed_session_fuzz::{
    AES_KEY, COOKIE_NAME, DEFAULT_CLOCK_SKEW, MAX_VALUE_LEN_LIMIT, NOW, RING_A, with_session_type,
};
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

/// Ring A's primary, for the fuzz side's sealer.
static KEY: LazyLock<KeyMaterial> = LazyLock::new(|| wire::fixture_key(AES_KEY));

const META: SessionMeta = SessionMeta {
    id: SessionId::from_bytes(*b"plaintext fuzzer"),
    created: NOW - 100,
};

/// A v2 head as postcard reads it: id, created, expires, (persistent, idle, max), flash.
type Head = ([u8; 16], u64, u64, (bool, u64, u64), Vec<String>);

/// What the model expects of an authentic plaintext.
struct Expect<T> {
    meta: SessionMeta,
    expires: u64,
    /// `None`: v1, whose lifetime is the codec's default.
    bounds: Option<(bool, u64, u64)>,
    flash: Vec<String>,
    data: T,
}

fuzz_target!(init: sealed_session_fuzz::init(), |data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    with_session_type!(control & 15, check((control >> 4) & 3, input));
});

fn check<T>(mode: u8, input: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let codec = &*CODEC;
    let (value, expected) = match mode {
        0 | 1 => {
            let Ok(sealed) = codec.seal(COOKIE_NAME, &META, &Raw(input), NOW) else {
                return; // too large for the limit: nothing authentic to open
            };
            let expected = decode_exact::<T>(input).map(|data| Expect {
                meta: META,
                expires: sealed.expires,
                bounds: Some((
                    true,
                    codec.idle_timeout().as_secs(),
                    codec.max_lifetime().as_secs(),
                )),
                flash: Vec::new(),
                data,
            });
            (sealed.value, expected)
        }
        2 => {
            let header = Header::v2(&KEY, wire::hour_of(NOW), codec.schema_version());
            let expected = postcard::take_from_bytes::<Head>(input).ok().and_then(
                |((id, created, expires, bounds, flash), rest)| {
                    decode_exact::<T>(rest).map(|data| Expect {
                        meta: SessionMeta {
                            id: SessionId::from_bytes(id),
                            created,
                        },
                        expires,
                        bounds: Some(bounds),
                        flash,
                        data,
                    })
                },
            );
            (
                wire::seal(&KEY, &header, COOKIE_NAME, &wire::nonce(&KEY, 7), input),
                expected,
            )
        }
        _ => {
            let header = Header::v1(&KEY, wire::hour_of(NOW), codec.schema_version());
            let expected = postcard::take_from_bytes::<([u8; 16], u64, u64)>(input)
                .ok()
                .and_then(|((id, created, expires), rest)| {
                    decode_exact::<T>(rest).map(|data| Expect {
                        meta: SessionMeta {
                            id: SessionId::from_bytes(id),
                            created,
                        },
                        expires,
                        bounds: None,
                        flash: Vec::new(),
                        data,
                    })
                });
            (
                wire::seal(&KEY, &header, COOKIE_NAME, &wire::nonce(&KEY, 1), input),
                expected,
            )
        }
    };
    if value.len() > codec.max_value_len() {
        return;
    }
    let opened = codec.open::<T>(COOKIE_NAME, &value, NOW);
    let Some(expected) = expected else {
        let error = opened.expect_err("the codec decoded what postcard refuses");
        assert_eq!(error.kind(), OpenErrorKind::Payload, "{error:?}");
        return;
    };
    // The sealed lifetime, capped by the codec's maxima; the crate checks and reports bounds
    // of at least a second.
    let (persistent, idle, max) = expected.bounds.unwrap_or((true, u64::MAX, u64::MAX));
    let max = max.min(codec.max_lifetime().as_secs()).max(1);
    let idle = idle.min(codec.idle_timeout().as_secs()).min(max).max(1);
    let created = expected.meta.created;
    let verdict = if created > NOW.saturating_add(DEFAULT_CLOCK_SKEW) {
        Err(OpenErrorKind::FutureDated)
    } else if NOW >= created.saturating_add(max) || NOW >= expected.expires {
        Err(OpenErrorKind::Expired)
    } else {
        Ok(())
    };
    let opened = match (opened, verdict) {
        (Ok(opened), Ok(())) => opened,
        (Err(error), Err(kind)) => {
            assert_eq!(error.kind(), kind, "{error:?}");
            return;
        }
        (opened, verdict) => panic!("opened {:?}, expected {verdict:?}", opened.map(|o| o.meta)),
    };
    assert_eq!(opened.meta, expected.meta);
    assert_eq!(opened.expires, expected.expires);
    assert_eq!(opened.data, expected.data);
    assert_eq!(opened.flash, expected.flash);
    let base = if persistent {
        Lifetime::persistent()
    } else {
        Lifetime::browser_session()
    };
    let lifetime = base
        .with_idle_timeout(Duration::from_secs(idle))
        .with_max_lifetime(Duration::from_secs(max));
    assert_eq!(opened.lifetime, lifetime);
    // Re-sealed by the crate, it opens the same (with the default lifetime).
    let again = match codec.seal(COOKIE_NAME, &opened.meta, &opened.data, NOW) {
        Ok(again) => again,
        // A v1 plaintext grows by the v2 header and lifetime: it may no longer fit.
        Err(sealed_session::SessionError::TooLarge { .. }) if expected.bounds.is_none() => return,
        Err(error) => panic!("a decoded value does not re-seal: {error:?}"),
    };
    let reopened = codec
        .open::<T>(COOKIE_NAME, &again.value, NOW)
        .expect("a re-sealed value opens");
    assert_eq!(reopened.data, opened.data);
    assert_eq!(reopened.meta, opened.meta);
}

/// Exactly one postcard value of type `T`, nothing after it.
fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}
