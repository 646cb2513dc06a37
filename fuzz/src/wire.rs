//! The fuzz side's use of the wire formats: the independent reference implementation
//! (`sealed-session-wire-reference`, tests/wire-reference, shared with the crate's tests) seals
//! what the crate itself no longer writes (v1 envelopes, arbitrary headers, flags and
//! plaintext heads) so the targets can check how those open, and [`CheapModel`] predicts the
//! refusals that come before any AEAD work, so the targets can check the error kinds against
//! what anyone can see in a value. What is here and not there needs the crate's types
//! (`OpenErrorKind`) or is the fuzz side's own bookkeeping (a cache of message-key AEADs).

use std::cell::RefCell;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sealed_session::{Algorithm, OpenErrorKind};
pub use sealed_session_wire_reference::{
    ASSIGNED_FLAGS, Alg, CHUNK_FLAGS, Header, KeyMaterial, KeyString, LifetimeV2 as Bounds,
    MIN_ENVELOPE_LEN, MessageCipher, SECONDS_PER_HOUR, TAG_LEN, V1, V1_HEADER_LEN, V2,
    V2_HEADER_LEN, V3, encoded_len, hour_of, nonce, plaintext as v1_plaintext,
    plaintext_v2 as v2_plaintext,
};

/// The most bytes the longest value a codec reads (16 KiB of base64url) decodes to.
const MAX_RAW_LEN: usize = 16 * 1024 / 4 * 3;

/// The crate's name for an algorithm.
#[must_use]
pub fn algorithm(alg: Alg) -> Algorithm {
    match alg {
        Alg::Aes => Algorithm::Aes256Gcm,
        Alg::XChaCha => Algorithm::XChaCha20Poly1305,
    }
}

/// Reads a fixture key string.
///
/// # Panics
///
/// If it is not one (a bug in the fixtures).
#[must_use]
pub fn fixture_key(key_string: &str) -> KeyMaterial {
    KeyMaterial::read(key_string)
        .expect("fixture key strings are well formed")
        .material
}

thread_local! {
    /// The message-key AEADs built so far, by key and hour (HKDF and the key schedule cost more
    /// than sealing a cookie): the targets seal under a handful of keys and hours.
    static CIPHERS: RefCell<Vec<(KeyMaterial, u32, MessageCipher)>> =
        const { RefCell::new(Vec::new()) };
}

/// Seals `plaintext` under `key` (its message key for `header.hour`) with `nonce` (of the
/// algorithm's length) for `cookie_name`: the base64url cookie value. [`Header::seal`] with a
/// cache of the AEADs.
///
/// # Panics
///
/// If `nonce` has the wrong length for the key's algorithm.
#[must_use]
pub fn seal(
    key: &KeyMaterial,
    header: &Header,
    cookie_name: &str,
    nonce: &[u8],
    plaintext: &[u8],
) -> String {
    CIPHERS.with_borrow_mut(|ciphers| {
        let found = ciphers
            .iter()
            .position(|(k, h, _)| k == key && *h == header.hour);
        let index = found.unwrap_or_else(|| {
            if ciphers.len() >= 64 {
                ciphers.clear();
            }
            ciphers.push((*key, header.hour, MessageCipher::of(key, header.hour)));
            ciphers.len() - 1
        });
        header.seal_with(&ciphers[index].2, cookie_name, nonce, plaintext)
    })
}

/// One key of a ring, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: u32,
    pub algorithm: Alg,
    pub revoked: bool,
}

/// What an opener is configured with, for the cheap checks.
#[derive(Debug, Clone)]
pub struct CheapModel {
    pub max_value_len: usize,
    /// The schema version a v1 header is bound to (the opener's current one).
    pub current_schema: u32,
    /// Every schema version the opener reads (the current one, and registered older ones).
    pub readable: Vec<u32>,
    pub keys: Vec<KeyInfo>,
    pub idle_timeout: u64,
    pub clock_skew: u64,
}

/// What the outside can tell about a value before any AEAD work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precheck {
    /// Refused before the header is read, with exactly this kind and no key id.
    Early(OpenErrorKind),
    /// The header was read.
    Header {
        header: Header,
        /// The refusals that apply before the AEAD (each with the header's key id). The crate
        /// stops at the first one it checks; which comes first is its business, so any of them
        /// is accepted. Empty: the value costs an AEAD open (one of the request's budget).
        refusals: Vec<OpenErrorKind>,
        /// The envelope is too short for its key's nonce and tag: refused as `Malformed` (with
        /// the key id) once the key is known, after the AEAD budget is taken.
        too_short: bool,
        /// The key is in the ring but revoked: refused after the AEAD, as `Unauthentic` if
        /// forged and `KeyRevoked` if authentic (so that the reason names a real cookie).
        revoked: bool,
    },
}

impl Precheck {
    /// Whether the value passes every check before the AEAD (so it costs one open).
    #[must_use]
    pub fn reaches_aead(&self) -> bool {
        matches!(self, Self::Header { refusals, .. } if refusals.is_empty())
    }
}

impl CheapModel {
    /// The cheap checks of one value at `now`, in the terms of [`Precheck`].
    #[must_use]
    pub fn check(&self, value: &[u8], now: u64) -> Precheck {
        // Length first (SECURITY-TESTS D2), then canonical base64url, then the version.
        if value.len() > self.max_value_len {
            return Precheck::Early(OpenErrorKind::TooLong);
        }
        if value.len() < encoded_len(MIN_ENVELOPE_LEN) {
            return Precheck::Early(OpenErrorKind::Malformed);
        }
        // Decoded on the stack: no allocation for the model's own bookkeeping.
        let mut buf = [0u8; MAX_RAW_LEN];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(value, &mut buf) else {
            return Precheck::Early(OpenErrorKind::Malformed);
        };
        let raw = &buf[..len];
        let be = |at: usize| u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
        let version = raw[0];
        if version != V1 && version != V2 && version != V3 {
            return Precheck::Early(OpenErrorKind::UnsupportedVersion);
        }
        let header = Header {
            version,
            key_id: be(1),
            hour: be(5),
            schema: if version == V1 {
                self.current_schema
            } else {
                be(9)
            },
            flags: if version == V1 { 0 } else { raw[13] },
        };
        if header.flags & !ASSIGNED_FLAGS != 0 {
            return Precheck::Early(OpenErrorKind::Flags);
        }
        let mut refusals = Vec::new();
        if version != V3 && !self.readable.contains(&header.schema) {
            refusals.push(OpenErrorKind::UnknownSchema);
        }
        // One chunk (a single cookie value): what `Codec::open` and a layer without chunking
        // read. Compressed values are read: the fuzz build has the `compression` feature.
        if header.flags & CHUNK_FLAGS != 0 {
            refusals.push(OpenErrorKind::Flags);
        }
        let key = self.keys.iter().find(|k| k.id == header.key_id);
        if key.is_none() {
            refusals.push(OpenErrorKind::UnknownKey);
        }
        let first = hour_of(now.saturating_sub(self.idle_timeout));
        let last = hour_of(now.saturating_add(self.clock_skew));
        if header.hour < first || header.hour > last {
            refusals.push(OpenErrorKind::OutsideWindow);
        }
        let header_len = if version == V1 {
            V1_HEADER_LEN
        } else {
            V2_HEADER_LEN
        };
        let too_short =
            key.is_some_and(|k| raw.len() < header_len + k.algorithm.nonce_len() + TAG_LEN);
        Precheck::Header {
            header,
            refusals,
            too_short,
            revoked: key.is_some_and(|k| k.revoked),
        }
    }
}
