//! The fuzz side's own implementation of the wire formats, written from the format description
//! at the top of the crate's `src/envelope.rs` and SECURITY.md, with the RustCrypto primitives
//! directly (no crate internals):
//!
//! ```text
//! sealed    = base64url-no-pad( header || nonce || ciphertext || tag )
//! header v1 = 0x01 || key id (4, BE) || hour (4, BE)
//! header v2 = 0x02 || key id (4, BE) || hour (4, BE) || schema version (4, BE) || flags (1)
//! header v3 = 0x03 || key id (4, BE) || hour (4, BE) || type binding (4, BE) || flags (1)
//! AAD v1    = header || cookie name || schema version (4, BE)
//! AAD v2    = header || cookie name
//! plaintext v1 = postcard((id, created, expires, data))
//! plaintext v2 = postcard((id, created, expires, (persistent, idle, max), flash)) || postcard(data)
//! message key  = HKDF-SHA256(salt = "sealed-session/v1/message-key", ikm = key,
//!                            info = algorithm code || key id (BE) || hour (BE))
//! ```
//!
//! It seals what the crate itself no longer writes (v1 envelopes, arbitrary headers, flags and
//! plaintext heads) so the targets can check how those open, and [`CheapModel`] predicts the
//! refusals that come before any AEAD work, so the targets can check the error kinds against
//! what anyone can see in a value.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::XChaCha20Poly1305;
use hkdf::Hkdf;
use sealed_session::{Algorithm, OpenErrorKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Format version 1 (opened, never sealed, by the crate from 0.2 on).
pub const V1: u8 = 1;
/// Format version 2.
pub const V2: u8 = 2;
/// Format version 3: the header's four bytes after the hour are a type binding, not a schema
/// version (a binding no type of the opener has is refused after the AEAD).
pub const V3: u8 = 3;
/// v1 header length.
pub const V1_HEADER_LEN: usize = 9;
/// v2 header length.
pub const V2_HEADER_LEN: usize = 14;
/// AEAD tag length (both algorithms).
pub const TAG_LEN: usize = 16;
/// The shortest envelope the crate decodes at all: a v1 header, an AES-GCM nonce and a tag.
pub const MIN_ENVELOPE_LEN: usize = V1_HEADER_LEN + 12 + TAG_LEN;
/// The most bytes the longest value a codec reads (16 KiB of base64url) decodes to.
const MAX_RAW_LEN: usize = 16 * 1024 / 4 * 3;
/// Seconds per message-key hour.
pub const SECONDS_PER_HOUR: u64 = 3600;

/// The v2 flag bits the format assigns: chunk count - 1 (bits 0-3) and compression (bit 4).
pub const ASSIGNED_FLAGS: u8 = 0b0001_1111;
/// The flag bits of the chunk count (count - 1).
pub const CHUNK_FLAGS: u8 = 0b0000_1111;

/// The nonce length of an algorithm.
#[must_use]
pub fn nonce_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::XChaCha20Poly1305 => 24,
        _ => 12,
    }
}

fn algorithm_code(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::XChaCha20Poly1305 => 2,
        _ => 1,
    }
}

/// The hour of a Unix time, saturating at `u32::MAX` as the format's 4-byte field must.
#[must_use]
pub fn hour_of(unix_secs: u64) -> u32 {
    u32::try_from(unix_secs / SECONDS_PER_HOUR).unwrap_or(u32::MAX)
}

/// The base64url (no padding) length of `raw` bytes.
#[must_use]
pub const fn encoded_len(raw: usize) -> usize {
    (raw / 3) * 4
        + match raw % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// A key's material, read from its key string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMaterial {
    pub algorithm: Algorithm,
    pub id: u32,
    /// Whether the key string marks the id as explicit (`=` before it).
    pub explicit: bool,
    pub bytes: [u8; 32],
}

impl KeyMaterial {
    /// Reads `ssk1.<algorithm>.[=]<8 hex>.<43 base64url>`; `None` for anything else. Checks
    /// the shape only (not the derived-id rule nor weak keys): it is the model's reader.
    #[must_use]
    pub fn parse(key_string: &str) -> Option<Self> {
        let mut parts = key_string.split('.');
        let (Some("ssk1"), Some(algorithm), Some(id), Some(secret), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let algorithm = match algorithm {
            "aes-256-gcm" => Algorithm::Aes256Gcm,
            "xchacha20-poly1305" => Algorithm::XChaCha20Poly1305,
            _ => return None,
        };
        let (explicit, id) = match id.strip_prefix('=') {
            Some(id) => (true, id),
            None => (false, id),
        };
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if id.len() != 8 || !id.bytes().all(lower_hex) {
            return None;
        }
        let id = u32::from_str_radix(id, 16).ok()?;
        if secret.len() != 43 {
            return None;
        }
        let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(secret).ok()?.try_into().ok()?;
        Some(Self {
            algorithm,
            id,
            explicit,
            bytes,
        })
    }

    /// Parses a fixture key string.
    ///
    /// # Panics
    ///
    /// If it is not one (a bug in the fixtures).
    #[must_use]
    pub fn fixture(key_string: &str) -> Self {
        Self::parse(key_string).expect("fixture key strings are well formed")
    }

    /// The id a key gets when none is set: SHA-256(label || algorithm code || key)[..4], BE.
    #[must_use]
    pub fn derived_id(algorithm: Algorithm, bytes: &[u8; 32]) -> u32 {
        let digest = Sha256::new()
            .chain_update(b"sealed-session/v1/key-id")
            .chain_update([algorithm_code(algorithm)])
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; 4];
        id.copy_from_slice(&digest[..4]);
        u32::from_be_bytes(id)
    }

    fn message_key(&self, hour: u32) -> [u8; 32] {
        let mut info = vec![algorithm_code(self.algorithm)];
        info.extend_from_slice(&self.id.to_be_bytes());
        info.extend_from_slice(&hour.to_be_bytes());
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"sealed-session/v1/message-key"), &self.bytes)
            .expand(&info, &mut okm)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        okm
    }
}

/// A header as it is written (any field values, valid or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub key_id: u32,
    pub hour: u32,
    /// v2: written in the header. v1: only bound in the AAD.
    pub schema: u32,
    /// v2 only.
    pub flags: u8,
}

impl Header {
    /// A v1 header for `key` at `hour`, bound to `schema` through the AAD.
    #[must_use]
    pub fn v1(key: &KeyMaterial, hour: u32, schema: u32) -> Self {
        Self {
            version: V1,
            key_id: key.id,
            hour,
            schema,
            flags: 0,
        }
    }

    /// A v2 header for `key` at `hour`, one chunk, uncompressed.
    #[must_use]
    pub fn v2(key: &KeyMaterial, hour: u32, schema: u32) -> Self {
        Self {
            version: V2,
            key_id: key.id,
            hour,
            schema,
            flags: 0,
        }
    }

    /// The header bytes: 9 for v1, 14 otherwise.
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = vec![self.version];
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&self.hour.to_be_bytes());
        if self.version != V1 {
            out.extend_from_slice(&self.schema.to_be_bytes());
            out.push(self.flags);
        }
        out
    }

    fn aad(&self, header: &[u8], cookie_name: &str) -> Vec<u8> {
        let mut aad = header.to_vec();
        aad.extend_from_slice(cookie_name.as_bytes());
        if self.version == V1 {
            aad.extend_from_slice(&self.schema.to_be_bytes());
        }
        aad
    }
}

/// A message key's AEAD.
#[derive(Clone)]
enum Cipher {
    Aes(Box<Aes256Gcm>),
    XChaCha(Box<XChaCha20Poly1305>),
}

thread_local! {
    /// The message-key AEADs built so far, by key and hour (HKDF and the key schedule cost more
    /// than sealing a cookie): the targets seal under a handful of keys and hours.
    static CIPHERS: std::cell::RefCell<Vec<(KeyMaterial, u32, Cipher)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn cipher(key: &KeyMaterial, hour: u32) -> Cipher {
    CIPHERS.with_borrow_mut(|ciphers| {
        if let Some((_, _, cipher)) = ciphers.iter().find(|(k, h, _)| k == key && *h == hour) {
            return cipher.clone();
        }
        let message_key = key.message_key(hour);
        let cipher = match key.algorithm {
            Algorithm::XChaCha20Poly1305 => {
                Cipher::XChaCha(Box::new(XChaCha20Poly1305::new((&message_key).into())))
            }
            _ => Cipher::Aes(Box::new(Aes256Gcm::new((&message_key).into()))),
        };
        if ciphers.len() >= 64 {
            ciphers.clear();
        }
        ciphers.push((*key, hour, cipher.clone()));
        cipher
    })
}

/// Seals `plaintext` under `key` (its message key for `header.hour`) with `nonce` (of the
/// algorithm's length) for `cookie_name`: the base64url cookie value.
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
    assert_eq!(nonce.len(), nonce_len(key.algorithm), "nonce length");
    let header_bytes = header.bytes();
    let aad = header.aad(&header_bytes, cookie_name);
    let payload = Payload {
        msg: plaintext,
        aad: &aad,
    };
    let sealed = match cipher(key, header.hour) {
        Cipher::XChaCha(aead) => aead
            .encrypt(nonce.into(), payload)
            .expect("XChaCha20-Poly1305 seals any cookie-sized message"),
        Cipher::Aes(aead) => aead
            .encrypt(nonce.into(), payload)
            .expect("AES-256-GCM seals any cookie-sized message"),
    };
    let mut raw = header_bytes;
    raw.extend_from_slice(nonce);
    raw.extend_from_slice(&sealed);
    URL_SAFE_NO_PAD.encode(raw)
}

/// A nonce of the key's length, every byte `fill`.
#[must_use]
pub fn nonce(key: &KeyMaterial, fill: u8) -> Vec<u8> {
    vec![fill; nonce_len(key.algorithm)]
}

/// A sealed session's lifetime as v2 writes it: persistent, idle and absolute bounds (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bounds {
    pub persistent: bool,
    pub idle: u64,
    pub max: u64,
}

/// The v1 plaintext: `postcard((id, created, expires, data))`.
///
/// # Panics
///
/// If `data` does not serialize (the fixtures' types all do).
#[must_use]
pub fn v1_plaintext<T: Serialize + ?Sized>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    data: &T,
) -> Vec<u8> {
    postcard::to_allocvec(&(id, created, expires, data)).expect("session data serializes")
}

/// The v2 plaintext: `postcard((id, created, expires, bounds, flash))` followed by the data.
///
/// # Panics
///
/// If `data` does not serialize (the fixtures' types all do).
#[must_use]
pub fn v2_plaintext<T: Serialize + ?Sized>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    bounds: Bounds,
    flash: &[String],
    data: &T,
) -> Vec<u8> {
    let mut out =
        postcard::to_allocvec(&(id, created, expires, bounds, flash)).expect("the head serializes");
    out.extend(postcard::to_allocvec(data).expect("session data serializes"));
    out
}

/// One key of a ring, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: u32,
    pub algorithm: Algorithm,
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
            key.is_some_and(|k| raw.len() < header_len + nonce_len(k.algorithm) + TAG_LEN);
        Precheck::Header {
            header,
            refusals,
            too_short,
            revoked: key.is_some_and(|k| k.revoked),
        }
    }
}
