//! Fixtures shared by every test binary: times, keys, rings, codecs, and the independent
//! reference implementation of the wire format ([`wire`]). The HTTP harness (servers on
//! `127.0.0.1:0`, a cookie-keeping client, captured logs) is in `tests/harness`.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

pub(crate) mod wire;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sealed_session::{Algorithm, Codec, Key, KeyId, KeyRing, SessionId, SessionMeta};

/// 2025-11-24T16:00:00Z, the start of hour 490000: the injected clock's start.
pub(crate) const T0: u64 = 1_764_000_000;
pub(crate) const HOUR: u64 = 3600;
pub(crate) const DAY: u64 = 24 * HOUR;
/// The default cookie name.
pub(crate) const NAME: &str = "__Host-session";
pub(crate) const ALGORITHMS: [Algorithm; 2] = [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305];

// The documented limits. The crate keeps them private; its own unit tests pin the same values
// (`codec::tests::documented_limits`, `config::tests::documented_limits`), so the two cannot
// drift apart silently.

/// The codec's default value limit (`Codec::new`), in bytes.
pub(crate) const DEFAULT_MAX_VALUE_LEN: usize = 4096;
/// The largest value limit `Codec::with_max_value_len` accepts, in bytes.
pub(crate) const MAX_VALUE_LEN_LIMIT: usize = 16 * 1024;
/// The longest `Path` or `Domain` attribute (RFC 6265bis §5.6).
pub(crate) const MAX_ATTRIBUTE_LEN: usize = 1024;
/// Cookies of the session's name authenticated per request, at most.
pub(crate) const MAX_OPENS: usize = 4;
/// The shortest master secret for `Key::derive`.
pub(crate) const MIN_MASTER_LEN: usize = 32;

/// Distinct, non-repeating key bytes derived from `seed`: the same every call.
pub(crate) fn key_bytes(seed: u32) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        let i = u32::try_from(i).unwrap();
        *b = u8::try_from(seed.wrapping_mul(2_654_435_761).wrapping_add(i * 97) >> 24).unwrap();
    }
    bytes[0] = 0x42; // never all-equal
    bytes[1] = 0x17;
    bytes
}

/// The same key every time it is called with the same algorithm and seed.
pub(crate) fn key(algorithm: Algorithm, seed: u32) -> Key {
    Key::from_bytes(algorithm, &key_bytes(seed)).unwrap()
}

/// A codec with default settings over a one-key ring (seed 1).
pub(crate) fn codec(algorithm: Algorithm) -> Codec {
    Codec::new(KeyRing::new(key(algorithm, 1)))
}

/// A session created at `created`, with a fixed id.
pub(crate) fn meta(created: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes([0x5a; 16]),
        created,
    }
}

/// A new random key string for `algorithm`.
pub(crate) fn key_string(algorithm: Algorithm) -> String {
    Key::generate(algorithm).to_string()
}

/// The key id of a key string.
pub(crate) fn key_id(key: &str) -> u32 {
    key.parse::<Key>().unwrap().id().get()
}

/// The raw envelope of a sealed value.
pub(crate) fn raw(value: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(value).unwrap()
}

/// The key id in a sealed value's header: bytes 1..5 of the base64url-decoded value.
pub(crate) fn sealed_key_id(value: &str) -> u32 {
    u32::from_be_bytes(raw(value)[1..5].try_into().unwrap())
}

/// The key id in a sealed value's header.
pub(crate) fn header_key_id(value: &str) -> KeyId {
    KeyId::new(sealed_key_id(value))
}
