//! Fixtures shared by the fuzz targets and the seed generator (`src/bin/seed.rs`): fixed keys,
//! a fixed clock, codecs and the session types. Everything here uses the public API only.
//!
//! The seeds are sealed under these keys at [`NOW`], so the fuzzer starts from cookies that
//! really open and mutates its way outwards from there.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use sealed_session::{Codec, Key, KeyRing};
use serde::{Deserialize, Serialize};

/// AES-256-GCM key (32 bytes of text, so the key string is recognisable in a dump).
pub const AES_KEY: &str = "ssk1.aes-256-gcm.a0000001.c2VhbGVkLXNlc3Npb24gZnV6eiBhZXMga2V5IDAwMDE";
/// XChaCha20-Poly1305 key.
pub const XCHACHA_KEY: &str =
    "ssk1.xchacha20-poly1305.c0000002.c2VhbGVkLXNlc3Npb24gZnV6eiB4Y2hhY2hhIDAwMDI";
/// A key that no fuzzed ring holds: its cookies must fail with `UnknownKey`.
pub const RETIRED_KEY: &str =
    "ssk1.aes-256-gcm.e0000003.c2VhbGVkLXNlc3Npb24gZnV6eiByZXRpcmVkIDAwMDM";

/// The fuzzers' clock, in Unix seconds: half past an hour, so a value sealed just over a day
/// earlier is still inside the hour window and fails as `Expired` rather than `OutsideWindow`.
pub const NOW: u64 = 1_764_001_800;

/// The cookie names the targets open under.
pub const COOKIE_NAME: &str = sealed_session::DEFAULT_COOKIE_NAME;
/// A second cookie name: values sealed for one must never open as the other.
pub const OTHER_NAME: &str = "sid";

/// Codec B's schema version (codec A uses 0).
pub const SCHEMA_B: u32 = 7;
/// Codec B's value limit, in bytes.
pub const MAX_VALUE_LEN_B: usize = 1024;

/// Parses one of the constant key strings above.
///
/// # Panics
///
/// If the constant is not a valid key string (a bug in this file).
#[must_use]
pub fn key(key_string: &str) -> Key {
    key_string.parse().expect("fixture key strings are valid")
}

/// Ring A: AES-256-GCM primary, XChaCha20-Poly1305 accept-only (so it opens both algorithms).
pub static RING_A: LazyLock<KeyRing> = LazyLock::new(|| {
    KeyRing::from_keys([key(AES_KEY), key(XCHACHA_KEY)]).expect("two distinct keys")
});

/// Ring B: XChaCha20-Poly1305 only.
pub static RING_B: LazyLock<KeyRing> = LazyLock::new(|| KeyRing::new(key(XCHACHA_KEY)));

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

/// The cookie_header target's session type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visits {
    pub count: u64,
    pub pages: Vec<String>,
}

/// Calls `$check::<T>($($arg),*)` for every session type the `open` and `plaintext` targets
/// decode, so both targets and the seed generator agree on the list.
#[macro_export]
macro_rules! for_each_session_type {
    ($check:ident ( $($arg:expr),* )) => {{
        $check::<()>($($arg),*);
        $check::<u64>($($arg),*);
        $check::<String>($($arg),*);
        $check::<Vec<u32>>($($arg),*);
        $check::<Option<(u8, String)>>($($arg),*);
        $check::<(u8, String)>($($arg),*);
        $check::<std::collections::BTreeMap<String, u64>>($($arg),*);
        $check::<$crate::Mode>($($arg),*);
        $check::<$crate::Visits>($($arg),*);
        $check::<$crate::Profile>($($arg),*);
    }};
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
