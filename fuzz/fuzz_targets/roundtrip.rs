//! `roundtrip`: a typed round trip, like serde_json's `strongly_typed` target, for every wire
//! format the codec opens.
//!
//! An arbitrary [`Profile`] (strings, sequences, options, an enum, nested structs, a map,
//! integers), session id, creation time, clock (including 0 and `u64::MAX`), value limit and
//! algorithm, sealed one of three ways: by `Codec::seal` (wire format v2 with the default
//! lifetime), by the fuzz side's sealer as v1 (`wire`; the crate only opens v1 now), or by the
//! fuzz side's sealer as v2 with an arbitrary head (lifetime bounds, browser-session or
//! persistent, expiry and flash messages: what only the middleware seals).
//!
//! Checks: `sealed_len` predicts the crate's sealed length exactly; `seal` refuses with
//! `TooLarge` (with those sizes) exactly when the prediction exceeds the limit; a value over
//! the limit is `TooLong`; a sealed value opens exactly when the session is live at that clock
//! (C1, C3, C4: extreme timestamps give a clean `Expired` or `FutureDated`), and then gives
//! back the same data, id, creation time, expiry, flash messages, lifetime (capped by the
//! codec's maxima; the default for v1 and `Codec::seal`) and schema version, under the
//! primary; re-sealing what opened opens to the same again, and so does a re-seal through a
//! `SessionLayer` (`service::check_reseal`: lifetime and flash messages included).
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sealed_session::{Codec, Lifetime, OpenErrorKind, SessionError, SessionId, SessionMeta};
use sealed_session_fuzz::service::check_reseal;
use sealed_session_fuzz::wire::{self, Bounds, Header, KeyMaterial};
use sealed_session_fuzz::{
    AES_KEY, COOKIE_NAME, DEFAULT_CLOCK_SKEW, MAX_VALUE_LEN_LIMIT, NOW, Profile, RING_A, RING_B,
    XCHACHA_KEY,
};

/// A time: mostly near the fuzzers' clock, sometimes anywhere (0, `u64::MAX`, ...).
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Time {
    Near(i32),
    Anywhere(u64),
}

impl Time {
    fn at(self) -> u64 {
        match self {
            Self::Near(offset) => NOW.saturating_add_signed(i64::from(offset)),
            Self::Anywhere(t) => t,
        }
    }
}

/// The creation time, relative to the clock or anywhere.
#[derive(Debug, Arbitrary)]
enum Created {
    SecondsAgo(i32),
    At(u64),
}

/// Who seals, and how.
#[derive(Debug, Arbitrary)]
enum Format {
    /// `Codec::seal`: v2, the default lifetime, no flash messages.
    Crate,
    /// The fuzz side's sealer, wire format v1, with the expiry the codec would seal.
    V1 { nonce: u8 },
    /// The fuzz side's sealer, wire format v2 with an arbitrary head (`None`: the codec's).
    V2 {
        nonce: u8,
        persistent: bool,
        idle: Option<u32>,
        max: Option<u32>,
        expires: Option<Time>,
        flash: Vec<String>,
    },
}

/// The fuzz side's view of the two sealing keys, read once.
static AES_MATERIAL: LazyLock<KeyMaterial> = LazyLock::new(|| wire::fixture_key(AES_KEY));
static XCHACHA_MATERIAL: LazyLock<KeyMaterial> = LazyLock::new(|| wire::fixture_key(XCHACHA_KEY));

#[derive(Debug, Arbitrary)]
struct Input {
    format: Format,
    xchacha: bool,
    /// Value limit; out-of-range limits keep the default.
    limit: Option<u16>,
    id: [u8; 16],
    now: Time,
    created: Created,
    data: Profile,
}

fuzz_target!(init: sealed_session_fuzz::init(), |input: Input| {
    let (ring_label, ring, material) = if input.xchacha {
        ("B", &*RING_B, &*XCHACHA_MATERIAL)
    } else {
        ("A", &*RING_A, &*AES_MATERIAL)
    };
    let mut codec = Codec::new(ring.clone());
    if let Some(limit) = input.limit
        && let Ok(limited) = codec.clone().with_max_value_len(usize::from(limit))
    {
        codec = limited;
    }
    assert!(codec.max_value_len() <= MAX_VALUE_LEN_LIMIT);
    let now = input.now.at();
    let created = match input.created {
        Created::SecondsAgo(ago) => now.saturating_add_signed(-i64::from(ago)),
        Created::At(t) => t,
    };
    let meta = SessionMeta {
        id: SessionId::from_bytes(input.id),
        created,
    };
    let data = input.data;
    let idle_cap = codec.idle_timeout().as_secs();
    let max_cap = codec.max_lifetime().as_secs();

    // Seal; `bounds` as sealed, `flash` as sealed.
    let by_crate = matches!(input.format, Format::Crate);
    let (value, expires, bounds, flash) = match input.format {
        Format::Crate => {
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
            let bounds = Bounds {
                persistent: true,
                idle: idle_cap,
                max: max_cap,
            };
            (sealed.value, sealed.expires, bounds, Vec::new())
        }
        Format::V1 { nonce } => {
            let material = *material;
            let expires = codec.expires_at(created, now);
            let header = Header::v1(&material, wire::hour_of(now), codec.schema_version());
            let plaintext = wire::v1_plaintext(input.id, created, expires, &data);
            let value = wire::seal(
                &material,
                &header,
                COOKIE_NAME,
                &wire::nonce(&material, nonce),
                &plaintext,
            );
            let bounds = Bounds {
                persistent: true,
                idle: idle_cap,
                max: max_cap,
            };
            (value, expires, bounds, Vec::new())
        }
        Format::V2 {
            nonce,
            persistent,
            idle,
            max,
            expires,
            flash,
        } => {
            let material = *material;
            let bounds = Bounds {
                persistent,
                idle: idle.map_or(idle_cap, u64::from),
                max: max.map_or(max_cap, u64::from),
            };
            let expires = expires.map_or_else(
                || {
                    now.saturating_add(bounds.idle.min(idle_cap))
                        .min(created.saturating_add(bounds.max.min(max_cap)))
                },
                Time::at,
            );
            let header = Header::v2(&material, wire::hour_of(now), codec.schema_version());
            let plaintext = wire::v2_plaintext(input.id, created, expires, bounds, &flash, &data);
            let value = wire::seal(
                &material,
                &header,
                COOKIE_NAME,
                &wire::nonce(&material, nonce),
                &plaintext,
            );
            (value, expires, bounds, flash)
        }
    };

    // Live: not created beyond the skew, not past the absolute lifetime (sealed, capped by
    // the codec's), not past the expiry.
    // The crate checks, reports and re-seals bounds of at least a second.
    let max = bounds.max.min(max_cap).max(1);
    let idle = bounds.idle.min(idle_cap).min(max).max(1);
    let live = created <= now.saturating_add(DEFAULT_CLOCK_SKEW)
        && now < created.saturating_add(max)
        && now < expires;
    let opened = match codec.open::<Profile>(COOKIE_NAME, &value, now) {
        Ok(opened) => opened,
        Err(error) if value.len() > codec.max_value_len() => {
            assert_eq!(error.kind(), OpenErrorKind::TooLong, "{error:?}");
            return;
        }
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
    assert!(value.len() <= codec.max_value_len());
    assert!(live, "a dead session opened");
    assert_eq!(opened.data, data);
    assert_eq!(opened.meta, meta);
    assert_eq!(opened.expires, expires);
    assert_eq!(opened.flash, flash);
    let base = if bounds.persistent {
        Lifetime::persistent()
    } else {
        Lifetime::browser_session()
    };
    let lifetime = base
        .with_idle_timeout(Duration::from_secs(idle))
        .with_max_lifetime(Duration::from_secs(max));
    assert_eq!(opened.lifetime, lifetime, "the lifetime, capped");
    assert_eq!(opened.schema_version, codec.schema_version());
    assert_eq!(opened.key_id, ring.primary_id_at(now));
    assert!(opened.by_primary);

    if !by_crate && sealed_session_fuzz::service::clock_at(now).is_some() {
        // What `Codec::seal` cannot write (v1 read, lifetimes, flash): re-sealed through the
        // middleware, everything comes back.
        check_reseal(
            ring_label,
            &codec,
            DEFAULT_CLOCK_SKEW,
            COOKIE_NAME,
            &value,
            &opened,
            now,
        );
        return;
    }
    let again = match codec.seal(COOKIE_NAME, &opened.meta, &opened.data, now) {
        Ok(again) => again,
        // v1's header is shorter than v2's.
        Err(SessionError::TooLarge { .. }) if !by_crate => return,
        Err(error) => panic!("what opened does not seal again: {error:?}"),
    };
    if by_crate {
        assert_eq!(again.value.len(), value.len());
    }
    let reopened = codec
        .open::<Profile>(COOKIE_NAME, &again.value, now)
        .expect("a re-sealed session opens");
    assert_eq!(reopened.data, data);
    assert_eq!(reopened.meta, meta);
});
