//! Fixtures shared by the fuzz targets and the seed generator (`src/bin/seed.rs`): fixed keys,
//! a fixed clock, key rings, codecs and the session types. Everything here uses the crate's
//! public API only. [`wire`] is the fuzz side's own implementation of the wire formats (it
//! seals v1 and arbitrary v2 envelopes, and models the checks before the AEAD), [`oracle`]
//! models which session a request's `Cookie` fields carry, and [`service`] drives a real
//! `SessionService` without a runtime.
//!
//! The seeds are sealed under these keys at [`NOW`], so the fuzzer starts from cookies that
//! really open and mutates its way outwards from there.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use sealed_session::{Codec, Key, KeyRing};
use serde::{Deserialize, Serialize};

use crate::wire::{CheapModel, KeyInfo};

/// SECURITY-TESTS D1's limit on one allocation (`-malloc_limit_mb=2`: 2 MiB and more fail),
/// checked by the allocator itself: libFuzzer checks it only through a sanitizer's allocator,
/// and the runs' build has none (see README.md, "Sanitizers"). Every target calls [`init`], so
/// every target links this crate and with it the allocator.
#[global_allocator]
static ALLOCATOR: sealed_session_unsafe_support::CappedAlloc<{ 2 << 20 }> =
    sealed_session_unsafe_support::CappedAlloc;

/// Every target's `fuzz_target!(init: ...)`, run once before libFuzzer installs its crash
/// handlers: without a sanitizer they would run on the overflowed stack, and a stack overflow
/// would kill the process without a report or a saved input (see README.md, "Sanitizers").
///
/// # Panics
///
/// If the alternate signal stack cannot be set up: the run would not report stack overflows.
pub fn init() {
    if let Err(error) = sealed_session_unsafe_support::crash_handlers_on_an_alternate_stack() {
        panic!("no alternate signal stack for the crash handlers: {error}");
    }
}

pub mod layers;
pub mod oracle;
pub mod service;
pub mod wire;

/// The crate's default cookie name (`__Host-session`; no longer exported as a constant).
pub const COOKIE_NAME: &str = "__Host-session";
/// A second cookie name, without the `__Host-` prefix (so planted cookies are possible, as
/// SECURITY-TESTS F1 assumes): values sealed for one must never open as the other.
pub const OTHER_NAME: &str = "sid";

/// The fuzzers' clock, in Unix seconds: half past an hour, so a value sealed just over a day
/// earlier is still inside the hour window and fails as `Expired` rather than `OutsideWindow`.
pub const NOW: u64 = 1_764_001_800;

/// The crate's default clock skew, in seconds.
pub const DEFAULT_CLOCK_SKEW: u64 = 60;
/// The crate's largest value limit (16 KiB), which is also the largest `max_cookie_size`
/// that always validates.
pub const MAX_VALUE_LEN_LIMIT: usize = 16 * 1024;
/// The most keys a ring holds.
pub const MAX_RING_KEYS: usize = 16;
/// The most distinct cookie values the middleware authenticates per request (SECURITY-TESTS
/// D3, F1): a fifth that passes the cheap checks makes the request ambiguous.
pub const MAX_OPENS: usize = 4;
/// The most flash messages a session keeps.
pub const MAX_FLASH: usize = 16;

/// AES-256-GCM key with an explicit id (32 bytes of text, so the key string is recognisable
/// in a dump).
pub const AES_KEY: &str = "ssk1.aes-256-gcm.=a0000001.c2VhbGVkLXNlc3Npb24gZnV6eiBhZXMga2V5IDAwMDE";
/// XChaCha20-Poly1305 key with an explicit id.
pub const XCHACHA_KEY: &str =
    "ssk1.xchacha20-poly1305.=c0000002.c2VhbGVkLXNlc3Npb24gZnV6eiB4Y2hhY2hhIDAwMDI";
/// A key that no fuzzed ring holds: its cookies must fail with `UnknownKey`.
pub const RETIRED_KEY: &str =
    "ssk1.aes-256-gcm.=e0000003.c2VhbGVkLXNlc3Npb24gZnV6eiByZXRpcmVkIDAwMDM";
/// A key that ring C schedules for [`PENDING_AT`].
pub const PENDING_KEY: &str =
    "ssk1.xchacha20-poly1305.=b0000004.c2VhbGVkLXNlc3Npb24gZnV6eiBwZW5kaW5nIDAwMDQ";
/// A key that ring C holds revoked: its cookies must fail with `KeyRevoked`.
pub const REVOKED_KEY: &str =
    "ssk1.aes-256-gcm.=d0000005.c2VhbGVkLXNlc3Npb24gZnV6eiByZXZva2VkIDAwMDU";
/// The frozen v1 vectors' AES-256-GCM key (tests/vectors/v1.json, derived id).
pub const V1_AES_KEY: &str =
    "ssk1.aes-256-gcm.f209289b.mQOP270PFPXKfkAlvDncUp10gxOal9W8WsZOUth91MU";
/// The frozen v1 vectors' XChaCha20-Poly1305 key (tests/vectors/v1.json, derived id).
pub const V1_XCHACHA_KEY: &str =
    "ssk1.xchacha20-poly1305.de717318.Zy_d2A9GUOIn2s6Iri19H464bwRFHMvQmT3Pp1Amsxc";

/// When ring C's pending key takes over: 12 hours after [`NOW`] (2025-11-25T04:30:00Z).
pub const PENDING_AT: u64 = NOW + 12 * 3600;
/// Ring C's not-before time: four days before [`NOW`] (2025-11-20T16:30:00Z).
pub const NOT_BEFORE: u64 = NOW - 4 * 86_400;

/// Codec B's schema version (codec A uses 0).
pub const SCHEMA_B: u32 = 7;
/// Codec B's value limit, in bytes.
pub const MAX_VALUE_LEN_B: usize = 1024;
/// Codec C's schema version: the one the frozen "sealed by v0.1" vectors are bound to.
pub const SCHEMA_C: u32 = 1;

/// Frozen v1 cookies copied from tests/vectors/v1.json (append-only, so they never change):
/// `(label, sealed value, schema version)`, all for [`COOKIE_NAME`] and sealed at hour 490000
/// (the hour of [`NOW`]). Their data is a [`VectorProfile`].
pub const V1_VECTORS: &[(&str, &str, u32)] = &[
    (
        "aes_basic",
        "AfIJKJsAB3oQAAECAwQFBgcICQoL91bVqYdn2EqfGu5E8EjQzT58nUAABKCWlZmTd3oFESxOJOPhb2DhUzn-C92gmeKVlj96pnU",
        0,
    ),
    (
        "aes_empty_data",
        "AfIJKJsAB3oQAQIDBAUGBwgJCgsMlDuu32f38VrQ93GEzBWdNWqV-YAsCRGx0zxX4G53J3JLahBlmggcPXjZj4y5",
        0,
    ),
    (
        "aes_unicode_user",
        "AfIJKJsAB3oQAgMEBQYHCAkKCwwNqd-ysm5ipgL_GrIA2deMxZcRMJdmiPJkVuF8xE_j-6AZeDLkBhjIiF5yFkdiqqhA_DFrh1plT5SPZu4TRDcKAd1F_6or0ML4ms3MErL8iXantQ",
        0,
    ),
    (
        "aes_nonce_all_ff",
        "AfIJKJsAB3oQ_________________4Ybzu_q8pyrVh_af2-xgX-UdM6i10Jw4HettF0pIy-dvHN5EqAVNHuos7CcVKsjXYNRsrc",
        0,
    ),
    (
        "aes_created_within_skew",
        "AfIJKJsAB3oRCQoLDA0ODxAREhMUDZWblh41Z5MWXdv2-llxyWIuHvOfH3XjRtbgD_cpXXFi5WGSInGMcP4tfr_vIT1qRQ",
        0,
    ),
    (
        "aes_short_lifetimes",
        "AfIJKJsAB3oQCgsMDQ4PEBESExQVwAnb4PoSIS4GHXDCHCmg_JLmLA1YZHCG4V6ByrpQUo1Imml-z_qlPrz_phh8sCH83R2uHRs",
        0,
    ),
    (
        "xchacha_basic",
        "Ad5xcxgAB3oQAAECAwQFBgcICQoLDA0ODxAREhMUFRYXA1KT7efx88eFCqIVuBpOao31SjhCILeLJY7zYJ1C4VEKCD8PwcFAC3ciyXnBeWgfQWe3DUc",
        0,
    ),
    (
        "aes_sealed_by_v0.1",
        "AfIJKJsAB3oQb9y9pyuabjtP9qTqfOb_bF0IFZ4DIY6b1frnEPzISH-UzrgrLAqwzunGiSqS3kBswVglc6fIK_wKuJ4YMakqVam9w-0qNfUgAQ",
        1,
    ),
    (
        "xchacha_sealed_by_v0.1",
        "Ad5xcxgAB3oQVfR7M8W36KToPCClSNHT4JGIoSHDTBZyX1lgupFjS-BhGxEWjB790jpVwdv9OQVWvGG4mbjNHtu08pg8JQpMeyg430snIlCsvwIDbQ6DOhQ",
        1,
    ),
];

/// Parses one of the constant key strings above.
///
/// # Panics
///
/// If the constant is not a valid key string (a bug in this file).
#[must_use]
pub fn key(key_string: &str) -> Key {
    key_string.parse().expect("fixture key strings are valid")
}

/// The model's view of a fixture key.
#[must_use]
pub fn key_info(key_string: &str, revoked: bool) -> KeyInfo {
    let material = crate::wire::fixture_key(key_string);
    KeyInfo {
        id: material.id,
        algorithm: material.alg,
        revoked,
    }
}

/// Ring A: AES-256-GCM primary; XChaCha20-Poly1305 and the two v1 vector keys accept-only (so
/// it opens both algorithms and the frozen v1 cookies).
pub static RING_A: LazyLock<KeyRing> = LazyLock::new(|| {
    KeyRing::from_keys([
        key(AES_KEY),
        key(XCHACHA_KEY),
        key(V1_AES_KEY),
        key(V1_XCHACHA_KEY),
    ])
    .expect("four distinct keys")
});

/// The keys of ring A, for the model.
#[must_use]
pub fn ring_a_keys() -> Vec<KeyInfo> {
    [AES_KEY, XCHACHA_KEY, V1_AES_KEY, V1_XCHACHA_KEY]
        .into_iter()
        .map(|k| key_info(k, false))
        .collect()
}

/// Ring B: XChaCha20-Poly1305 only.
pub static RING_B: LazyLock<KeyRing> = LazyLock::new(|| KeyRing::new(key(XCHACHA_KEY)));

/// The keys of ring B, for the model.
#[must_use]
pub fn ring_b_keys() -> Vec<KeyInfo> {
    vec![key_info(XCHACHA_KEY, false)]
}

/// Ring C in the text form: a key lifecycle (a scheduled key, a revoked one) and a
/// not-before time, with comments, both time spellings and both separators.
#[must_use]
pub fn ring_c_text() -> String {
    format!(
        "# fuzz ring C: AES primary until the pending key (on top) activates\n\
         {PENDING_KEY} activate=2025-11-25T04:30:00Z # = PENDING_AT\n\
         {AES_KEY}\n\
         {REVOKED_KEY} revoked\n\
         {V1_AES_KEY}, {V1_XCHACHA_KEY}\n\
         not-before={NOT_BEFORE}\n"
    )
}

/// Ring C, parsed from [`ring_c_text`].
pub static RING_C: LazyLock<KeyRing> = LazyLock::new(|| {
    let ring: KeyRing = ring_c_text().parse().expect("ring C's text parses");
    assert_eq!(ring.primary_id_at(PENDING_AT - 1), key(AES_KEY).id());
    assert_eq!(ring.primary_id_at(PENDING_AT), key(PENDING_KEY).id());
    assert_eq!(ring.not_before(), Some(NOT_BEFORE));
    ring
});

/// The keys of ring C, for the model.
#[must_use]
pub fn ring_c_keys() -> Vec<KeyInfo> {
    vec![
        key_info(AES_KEY, false),
        key_info(PENDING_KEY, false),
        key_info(REVOKED_KEY, true),
        key_info(V1_AES_KEY, false),
        key_info(V1_XCHACHA_KEY, false),
    ]
}

/// Codec A: ring A with every default (lifetimes of a day and a week, schema 0, 4096 bytes).
pub static CODEC_A: LazyLock<Codec> = LazyLock::new(|| Codec::new(RING_A.clone()));

/// Codec B: ring B, schema [`SCHEMA_B`], [`MAX_VALUE_LEN_B`] bytes, an idle timeout of an hour
/// and an absolute lifetime of two.
pub static CODEC_B: LazyLock<Codec> = LazyLock::new(|| {
    Codec::new(RING_B.clone())
        .with_schema_version(SCHEMA_B)
        .with_max_value_len(MAX_VALUE_LEN_B)
        .and_then(|c| c.with_lifetimes(Duration::from_secs(3600), Duration::from_secs(7200)))
        .expect("valid codec settings")
});

/// Codec C: ring C (scheduled, revoked, not-before), schema [`SCHEMA_C`], no clock skew, an
/// idle timeout of a day and an absolute lifetime of 30 days.
pub static CODEC_C: LazyLock<Codec> = LazyLock::new(|| {
    Codec::new(RING_C.clone())
        .with_schema_version(SCHEMA_C)
        .with_lifetimes(
            Duration::from_secs(86_400),
            Duration::from_secs(30 * 86_400),
        )
        .and_then(|c| c.with_clock_skew(Duration::ZERO))
        .expect("valid codec settings")
});

/// Codec D: ring A with the extremes: 400-day lifetimes (a window of 9,600 hours), the
/// largest skew (an hour) and the largest value limit (16 KiB).
pub static CODEC_D: LazyLock<Codec> = LazyLock::new(|| {
    let days_400 = Duration::from_secs(400 * 86_400);
    Codec::new(RING_A.clone())
        .with_lifetimes(days_400, days_400)
        .and_then(|c| c.with_clock_skew(Duration::from_secs(3600)))
        .and_then(|c| c.with_max_value_len(MAX_VALUE_LEN_LIMIT))
        .expect("valid codec settings")
});

/// A codec with what the model needs to know about it.
pub struct OpenFixture {
    pub label: &'static str,
    pub codec: Codec,
    pub clock_skew: u64,
    pub not_before: Option<u64>,
    pub model: CheapModel,
}

fn open_fixture(
    label: &'static str,
    codec: &Codec,
    keys: Vec<KeyInfo>,
    clock_skew: u64,
) -> OpenFixture {
    for info in &keys {
        let id = sealed_session::KeyId::new(info.id);
        assert_eq!(codec.ring().contains(id), !info.revoked, "{label}: {id}");
    }
    OpenFixture {
        label,
        codec: codec.clone(),
        clock_skew,
        not_before: codec.ring().not_before(),
        model: CheapModel {
            max_value_len: codec.max_value_len(),
            current_schema: codec.schema_version(),
            readable: vec![codec.schema_version()],
            keys,
            idle_timeout: codec.idle_timeout().as_secs(),
            clock_skew,
        },
    }
}

/// The `open` target's codecs, by the low two bits of its control byte.
pub static OPEN_FIXTURES: LazyLock<[OpenFixture; 4]> = LazyLock::new(|| {
    [
        open_fixture("A", &CODEC_A, ring_a_keys(), DEFAULT_CLOCK_SKEW),
        open_fixture("B", &CODEC_B, ring_b_keys(), DEFAULT_CLOCK_SKEW),
        open_fixture("C", &CODEC_C, ring_c_keys(), 0),
        open_fixture("D", &CODEC_D, ring_a_keys(), 3600),
    ]
});

/// The `open` target's clocks: now, and a day and a half later (every seed has expired from
/// codecs A and B, and ring C's pending key is the primary).
pub const OPEN_CLOCKS: [u64; 2] = [NOW, NOW + 36 * 3600];

/// The `open` target's control byte for a fixture (0..4), a name (0: [`COOKIE_NAME`], 1:
/// [`OTHER_NAME`]), a clock (index into [`OPEN_CLOCKS`]) and a session type (index into
/// [`with_session_type`]).
#[must_use]
pub const fn open_control(fixture: u8, name: u8, clock: u8, session_type: u8) -> u8 {
    (fixture & 3) | (name & 1) << 2 | (clock & 1) << 3 | (session_type & 15) << 4
}

/// A session type with every shape postcard has to decode: strings, sequences, options, enums,
/// nested structs, maps, fixed arrays, chars, bools and integers of every width and sign.
/// No floats: NaN would break the `PartialEq` round-trip checks without meaning a bug.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Arbitrary)]
pub struct Profile {
    pub user: Option<User>,
    pub cart: Vec<Item>,
    pub flags: BTreeMap<String, u64>,
    pub mode: Mode,
    pub csrf: [u8; 16],
    pub visits: u64,
    pub last_seen: i64,
    pub locale: char,
    pub admin: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Arbitrary)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Arbitrary)]
pub struct Item {
    pub sku: u32,
    pub quantity: u16,
    pub note: Option<String>,
    pub price_cents: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Arbitrary)]
pub enum Mode {
    #[default]
    Anonymous,
    Visitor(u8),
    Member {
        since: u64,
        tier: i16,
    },
    Admin(u32, Vec<String>),
}

/// The `cookie_header` and `cookie_parser` targets' session type (schema 2 in the migration
/// configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visits {
    pub count: u64,
    pub pages: Vec<String>,
}

/// [`Visits`] as it was at schema 1: what the migration configuration converts from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitsV1 {
    pub count: u32,
    pub last_page: Option<String>,
}

impl From<VisitsV1> for Visits {
    fn from(old: VisitsV1) -> Self {
        Self {
            count: u64::from(old.count),
            pages: old.last_page.into_iter().collect(),
        }
    }
}

/// The data of the frozen v1 vectors (tests/vectors/v1.json).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorProfile {
    pub user: String,
    pub visits: u32,
    pub roles: Vec<String>,
}

/// How many session types [`with_session_type`] selects from (by the low four bits).
pub const SESSION_TYPES: u8 = 16;
/// [`with_session_type`]'s index of `()`.
pub const TYPE_UNIT: u8 = 0;
/// ... of `u64`.
pub const TYPE_U64: u8 = 1;
/// ... of `String`.
pub const TYPE_STRING: u8 = 2;
/// ... of `Vec<u32>`.
pub const TYPE_VEC_U32: u8 = 3;
/// ... of `Option<(u8, String)>`.
pub const TYPE_OPTION: u8 = 4;
/// ... of `(u8, String)`.
pub const TYPE_TUPLE: u8 = 5;
/// ... of `BTreeMap<String, u64>`.
pub const TYPE_MAP: u8 = 6;
/// ... of [`Mode`].
pub const TYPE_MODE: u8 = 7;
/// ... of [`Visits`].
pub const TYPE_VISITS: u8 = 8;
/// ... of [`Profile`].
pub const TYPE_PROFILE: u8 = 9;
/// ... of [`VectorProfile`].
pub const TYPE_VECTOR_PROFILE: u8 = 10;
/// ... of [`VisitsV1`].
pub const TYPE_VISITS_V1: u8 = 11;
/// ... of `Vec<String>`.
pub const TYPE_VEC_STRING: u8 = 12;

/// Calls `$check::<T>($($arg),*)` for the session type numbered `$index` (its low four bits;
/// 13..16 repeat the richest types), so the targets and the seed generator agree on the list.
#[macro_export]
macro_rules! with_session_type {
    ($index:expr, $check:ident ( $($arg:expr),* )) => {
        match $index % $crate::SESSION_TYPES {
            0 => $check::<()>($($arg),*),
            1 => $check::<u64>($($arg),*),
            2 => $check::<String>($($arg),*),
            3 => $check::<Vec<u32>>($($arg),*),
            4 => $check::<Option<(u8, String)>>($($arg),*),
            5 => $check::<(u8, String)>($($arg),*),
            6 => $check::<std::collections::BTreeMap<String, u64>>($($arg),*),
            7 => $check::<$crate::Mode>($($arg),*),
            8 | 13 => $check::<$crate::Visits>($($arg),*),
            9 | 14 => $check::<$crate::Profile>($($arg),*),
            10 | 15 => $check::<$crate::VectorProfile>($($arg),*),
            11 => $check::<$crate::VisitsV1>($($arg),*),
            _ => $check::<Vec<String>>($($arg),*),
        }
    };
}

/// A sample [`Profile`] with every field set.
#[must_use]
pub fn sample_profile() -> Profile {
    Profile {
        user: Some(User {
            id: 42,
            name: "ada".into(),
            roles: vec!["admin".into(), "dev".into()],
        }),
        cart: vec![
            Item {
                sku: 7,
                quantity: 2,
                note: Some("gift".into()),
                price_cents: -150,
            },
            Item::default(),
        ],
        flags: BTreeMap::from([("beta".into(), 1), ("theme".into(), u64::MAX)]),
        mode: Mode::Member {
            since: NOW - 86_400,
            tier: -3,
        },
        csrf: *b"0123456789abcdef",
        visits: 300,
        last_seen: -1,
        locale: 'é',
        admin: true,
    }
}
