//! `open`: arbitrary bytes as a cookie value into `Codec::open`, under one configuration
//! chosen by a leading control byte.
//!
//! Input: a control byte, then the value (lossy UTF-8). The control byte picks
//! (`sealed_session_fuzz::open_control`): the codec (bits 0-1: A = AES-256-GCM primary with
//! XChaCha20-Poly1305 and the frozen v1 keys; B = XChaCha20-Poly1305 only, another schema,
//! limit and lifetimes; C = a ring parsed from the text form, with a scheduled key, a revoked
//! key and a not-before time, schema 1, no skew; D = ring A with 400-day lifetimes, an hour of
//! skew and a 16 KiB limit), the cookie name (bit 2), the clock (bit 3: now, or a day and a
//! half later when the seeds have expired and ring C's pending key is the primary) and the
//! session type (bits 4-7). One open per input: the fuzzer reaches every combination by
//! flipping the control byte of a seed.
//!
//! Checks: no panic. A refusal's kind agrees with what anyone can see in the value (length,
//! base64url, version, flags, schema version, key id, hour; `wire::CheapModel`): the checks
//! before the AEAD give exactly the kinds that apply, with the header's key id, and a value
//! that passes them is refused only after the AEAD (`Malformed` if too short for its key's
//! nonce and tag; under a revoked key `Unauthentic` or `KeyRevoked`; else `Unauthentic`,
//! `Payload`, `Expired`, `FutureDated`, `SessionRevoked`).
//! Error text depends on the kind and key id alone (never on the value). An opened value
//! passed every cheap check, is live (idle, absolute, skew, not-before), under a ring key that
//! is not revoked, with `by_primary` right for the clock, the codec's schema version and a
//! lifetime within the codec's maxima; its `Debug` shows neither data nor flash messages; it
//! re-seals with `Codec::seal` to the same data and meta (with the default lifetime and no
//! flash), and through a `SessionLayer` forced to re-seal to the same data, meta, lifetime,
//! flash messages and schema version (`service::check_reseal`).
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use sealed_session::{KeyId, Lifetime, OpenErrorKind, SessionData, SessionError};
use sealed_session_fuzz::oracle::AFTER_AEAD;
use sealed_session_fuzz::service::check_reseal;
use sealed_session_fuzz::wire::{self, Precheck};
use sealed_session_fuzz::{
    COOKIE_NAME, OPEN_CLOCKS, OPEN_FIXTURES, OTHER_NAME, OpenFixture, with_session_type,
};

thread_local! {
    /// The first text seen for each kind, with and without a key id (its digits masked).
    static MESSAGES: RefCell<HashMap<(OpenErrorKind, bool), String>> =
        RefCell::new(HashMap::new());
}

fuzz_target!(init: sealed_session_fuzz::init(), |data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let fixture = &OPEN_FIXTURES[usize::from(control & 3)];
    let name = if control & 4 == 0 {
        COOKIE_NAME
    } else {
        OTHER_NAME
    };
    let now = OPEN_CLOCKS[usize::from((control >> 3) & 1)];
    let value = String::from_utf8_lossy(rest);
    with_session_type!(control >> 4, check(fixture, name, &value, now));
});

fn check<T>(fixture: &OpenFixture, name: &str, value: &str, now: u64)
where
    T: SessionData + Clone + PartialEq + Debug,
{
    let codec = &fixture.codec;
    let ring = codec.ring();
    let precheck = fixture.model.check(value.as_bytes(), now);
    match codec.open::<T>(name, value, now) {
        Err(error) => {
            let kind = error.kind();
            match &precheck {
                Precheck::Early(expected) => {
                    assert_eq!(kind, *expected, "{error:?}");
                    assert_eq!(error.key_id(), None, "{error:?}");
                }
                Precheck::Header {
                    header,
                    refusals,
                    too_short,
                    revoked,
                } => {
                    assert_eq!(error.key_id(), Some(KeyId::new(header.key_id)), "{error:?}");
                    if !refusals.is_empty() {
                        assert!(refusals.contains(&kind), "{error:?}, expected {refusals:?}");
                    } else if *too_short {
                        assert_eq!(kind, OpenErrorKind::Malformed, "{error:?}");
                    } else if *revoked {
                        // After the AEAD: forged, or authentic under a revoked key.
                        assert!(
                            matches!(kind, OpenErrorKind::Unauthentic | OpenErrorKind::KeyRevoked),
                            "{error:?} under a revoked key"
                        );
                    } else {
                        assert!(
                            AFTER_AEAD.contains(&kind),
                            "{error:?} after the cheap checks"
                        );
                        assert!(
                            kind != OpenErrorKind::WrongType || header.version == wire::V3,
                            "{error:?} for a format {} header",
                            header.version
                        );
                        assert!(ring.contains(KeyId::new(header.key_id)), "{error:?}");
                    }
                }
            }
            // Errors are for logs and never carry the cookie value (SECURITY-TESTS E10): their
            // text depends on the kind and key id alone, whatever the value.
            let mut text = format!("{error} / {error:?}");
            if let Some(id) = error.key_id() {
                text = text.replace(&id.to_string(), "<id>");
            }
            MESSAGES.with_borrow_mut(|messages| {
                let first = messages
                    .entry((kind, error.key_id().is_some()))
                    .or_insert_with(|| text.clone());
                assert_eq!(*first, text, "error text varies with the value");
            });
        }
        Ok(opened) => {
            assert!(
                precheck.reaches_aead(),
                "opened a value the cheap checks refuse"
            );
            let Precheck::Header {
                header,
                too_short,
                revoked,
                ..
            } = precheck
            else {
                unreachable!("reaches_aead implies a header");
            };
            assert!(!too_short && !revoked, "opened under a revoked key");
            assert_eq!(opened.key_id, KeyId::new(header.key_id));
            assert!(ring.contains(opened.key_id));
            assert_eq!(opened.by_primary, opened.key_id == ring.primary_id_at(now));
            assert_eq!(opened.schema_version, codec.schema_version());
            // Live: not created beyond the skew, not past the expiry nor the absolute
            // lifetime (the sealed one, capped by the codec's), not before the not-before.
            let created = opened.meta.created;
            assert!(
                created <= now.saturating_add(fixture.clock_skew),
                "future-dated"
            );
            assert!(now < opened.expires, "opened an expired session");
            let max = opened.lifetime.max_lifetime().expect("resolved").as_secs();
            let idle = opened.lifetime.idle_timeout().expect("resolved").as_secs();
            assert!(
                max <= codec.max_lifetime().as_secs()
                    && idle <= max.min(codec.idle_timeout().as_secs())
            );
            assert!(
                now < created.saturating_add(max),
                "past the absolute lifetime"
            );
            assert!(
                fixture.not_before.is_none_or(|t| created >= t),
                "revoked by not-before"
            );
            if header.version == sealed_session_fuzz::wire::V1 {
                // v1 has no lifetime nor flash slot: the codec's default, no messages.
                assert_eq!(opened.lifetime, default_lifetime(codec));
                assert!(opened.flash.is_empty());
            }
            // Debug of an opened session omits the data and the flash messages.
            let debug = format!("{opened:?}");
            for message in opened.flash.iter().filter(|m| m.len() >= 12) {
                assert!(
                    !debug.contains(message.as_str()),
                    "Debug shows a flash message"
                );
            }
            // Re-sealed by the codec (under the primary, whose nonce may be longer; as v2,
            // whose header is longer than v1's), it opens the same, with the default lifetime.
            match codec.seal(name, &opened.meta, &opened.data, now) {
                Ok(again) => {
                    let reopened = codec
                        .open::<T>(name, &again.value, now)
                        .expect("a re-sealed session opens");
                    assert_eq!(reopened.data, opened.data);
                    assert_eq!(reopened.meta, opened.meta);
                    assert_eq!(reopened.schema_version, opened.schema_version);
                    assert_eq!(reopened.lifetime, default_lifetime(codec));
                    assert!(reopened.flash.is_empty());
                    assert!(reopened.by_primary);
                }
                Err(SessionError::TooLarge { size, limit }) => {
                    assert!(size > limit && limit == codec.max_value_len());
                }
                Err(error) => panic!("re-seal failed: {error:?}"),
            }
            // Re-sealed by the middleware, everything sealed comes back.
            check_reseal(
                fixture.label,
                codec,
                fixture.clock_skew,
                name,
                value,
                &opened,
                now,
            );
        }
    }
}

/// The codec's default lifetime, resolved: persistent, its idle timeout and absolute lifetime.
fn default_lifetime(codec: &sealed_session::Codec) -> Lifetime {
    Lifetime::persistent()
        .with_idle_timeout(codec.idle_timeout())
        .with_max_lifetime(codec.max_lifetime())
}
