//! `roundtrip`: a typed round trip, like serde_json's `strongly_typed` target.
//!
//! An arbitrary [`Profile`] (strings, sequences, options, an enum, nested structs, a map,
//! integers), an arbitrary session id, creation time, clock, value limit and algorithm go
//! through `seal` and `open`.
//!
//! Checks: `sealed_len` predicts the sealed length exactly; `seal` refuses with `TooLarge`
//! (with those sizes) exactly when the prediction exceeds the limit; a sealed value opens
//! exactly when the session is live at that clock (C1, C3, C4: extreme timestamps give a clean
//! `Expired` or `FutureDated`), and then gives back the same data, id, creation time and
//! expiry; re-sealing what opened opens to the same again.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sealed_session::{
    Codec, DEFAULT_CLOCK_SKEW, MAX_VALUE_LEN_LIMIT, OpenErrorKind, SessionError, SessionId,
    SessionMeta,
};
use sealed_session_fuzz::{COOKIE_NAME, NOW, Profile, RING_A, RING_B};

/// A time: mostly near the fuzzers' clock, sometimes anywhere (0, `u64::MAX`, ...).
#[derive(Debug, Arbitrary)]
enum Time {
    Near(i32),
    Anywhere(u64),
}

/// The creation time, relative to the clock or anywhere.
#[derive(Debug, Arbitrary)]
enum Created {
    SecondsAgo(i32),
    At(u64),
}

#[derive(Debug, Arbitrary)]
struct Input {
    xchacha: bool,
    /// Value limit; out-of-range limits keep the default.
    limit: Option<u16>,
    id: [u8; 16],
    now: Time,
    created: Created,
    data: Profile,
}

fuzz_target!(|input: Input| {
    let ring = if input.xchacha { &*RING_B } else { &*RING_A };
    let mut codec = Codec::new(ring.clone());
    if let Some(limit) = input.limit
        && let Ok(limited) = codec.clone().with_max_value_len(usize::from(limit))
    {
        codec = limited;
    }
    assert!(codec.max_value_len() <= MAX_VALUE_LEN_LIMIT);
    let now = match input.now {
        Time::Near(offset) => NOW.saturating_add_signed(i64::from(offset)),
        Time::Anywhere(t) => t,
    };
    let created = match input.created {
        Created::SecondsAgo(ago) => now.saturating_add_signed(-i64::from(ago)),
        Created::At(t) => t,
    };
    let meta = SessionMeta {
        id: SessionId::from_bytes(input.id),
        created,
    };
    let data = input.data;

    let predicted = codec
        .sealed_len(&meta, &data, now)
        .expect("a Profile always serializes");
    let sealed = match codec.seal(COOKIE_NAME, &meta, &data, now) {
        Ok(sealed) => sealed,
        Err(SessionError::TooLarge { size, limit }) => {
            assert!(
                predicted > codec.max_value_len(),
                "refused {predicted} bytes"
            );
            assert_eq!((size, limit), (predicted, codec.max_value_len()));
            return;
        }
        Err(error) => panic!("seal failed: {error:?}"),
    };
    assert!(predicted <= codec.max_value_len());
    assert_eq!(sealed.value.len(), predicted, "sealed_len mispredicted");
    assert_eq!(sealed.expires, codec.expires_at(created, now));

    // Live: not created beyond the skew, not past the absolute lifetime, not past the expiry.
    let live = created <= now.saturating_add(DEFAULT_CLOCK_SKEW.as_secs())
        && now < created.saturating_add(codec.max_lifetime())
        && now < sealed.expires;
    let opened = match codec.open::<Profile>(COOKIE_NAME, &sealed.value, now) {
        Ok(opened) => opened,
        Err(error) => {
            assert!(!live, "a live session was refused: {error:?}");
            assert!(
                matches!(
                    error.kind(),
                    OpenErrorKind::Expired | OpenErrorKind::FutureDated
                ),
                "{error:?}"
            );
            return;
        }
    };
    assert!(live, "a dead session opened");
    assert_eq!(opened.data, data);
    assert_eq!(opened.meta, meta);
    assert_eq!(opened.expires, sealed.expires);
    assert_eq!(opened.key_id, ring.primary_id());
    assert!(opened.by_primary);

    let again = codec
        .seal(COOKIE_NAME, &opened.meta, &opened.data, now)
        .expect("what was sealed once seals again");
    assert_eq!(again.value.len(), sealed.value.len());
    let reopened = codec
        .open::<Profile>(COOKIE_NAME, &again.value, now)
        .expect("a re-sealed session opens");
    assert_eq!(reopened.data, data);
    assert_eq!(reopened.meta, meta);
});
