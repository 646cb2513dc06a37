//! An independent implementation of sealed-session's wire formats v1, v2 and v3, written from
//! the format description (SECURITY.md, DESIGN.md, the top of the crate's `src/envelope.rs`)
//! with the RustCrypto primitives, postcard and base64 directly. It never depends on
//! sealed-session: the vectors (tests/vectors*.rs) are recomputed with it byte for byte, the
//! envelope tests build hand-made envelopes with it, and the fuzz targets seal what the crate
//! no longer writes (v1, arbitrary headers, flags and plaintext heads) with it.
//!
//! ```text
//! sealed    = base64url-no-pad( header || nonce || ciphertext || tag )
//! header v1 = 0x01 || key id (4, BE) || hour (4, BE)
//! header v2 = 0x02 || key id (4, BE) || hour (4, BE) || schema version (4, BE) || flags (1)
//! header v3 = 0x03 || key id (4, BE) || hour (4, BE) || type binding (4, BE) || flags (1)
//! AAD v1    = header || cookie name || schema version (4, BE)
//! AAD v2/v3 = header || cookie name
//! plaintext v1    = postcard((id, created, expires, data))
//! plaintext v2/v3 = postcard((id, created, expires, (persistent, idle, max), flash)) || payload
//!                   payload = postcard(data), or its raw DEFLATE when the flags say compressed
//! message key     = HKDF-SHA256(salt = "sealed-session/v1/message-key", ikm = key,
//!                               info = algorithm code || key id (BE) || hour (BE))
//! ```
//!
//! Test support: the helpers panic on what a test or fixture got wrong (a malformed key string,
//! a nonce of the wrong length); only [`open`], [`open_with_message_key`], [`decode`] and
//! [`KeyMaterial::read`] take input that may be anything.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::XChaCha20Poly1305;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Format version 1 (opened, never sealed, by the crate from 0.2 on).
pub const V1: u8 = 1;
/// Format version 2.
pub const V2: u8 = 2;
/// Format version 3: the header's four bytes after the hour are a type binding.
pub const V3: u8 = 3;
/// The v1 header: version || key id || hour.
pub const HEADER_LEN: usize = 9;
/// The v1 header's length (the same as [`HEADER_LEN`]).
pub const V1_HEADER_LEN: usize = HEADER_LEN;
/// The v2 and v3 header: version || key id || hour || schema version or binding || flags.
pub const V2_HEADER_LEN: usize = 14;
/// The AEAD tag's length (both algorithms).
pub const TAG_LEN: usize = 16;
/// The shortest envelope the crate decodes at all: a v1 header, an AES-GCM nonce and a tag.
pub const MIN_ENVELOPE_LEN: usize = V1_HEADER_LEN + 12 + TAG_LEN;
/// Seconds per message-key hour.
pub const SECONDS_PER_HOUR: u64 = 3600;
/// The v2/v3 flag bits the format assigns: chunk count - 1 (bits 0-3) and compression (bit 4).
pub const ASSIGNED_FLAGS: u8 = 0b0001_1111;
/// The flag bits of the chunk count (count - 1).
pub const CHUNK_FLAGS: u8 = 0b0000_1111;
/// The flag bit of a compressed payload.
pub const COMPRESSED_FLAG: u8 = 0b0001_0000;

/// An AEAD algorithm of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// AES-256-GCM, 12-byte nonces.
    Aes,
    /// XChaCha20-Poly1305, 24-byte nonces.
    XChaCha,
}

impl Alg {
    /// The name in key strings.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes => "aes-256-gcm",
            Self::XChaCha => "xchacha20-poly1305",
        }
    }

    /// The code in the HKDF info and the derived key id.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Aes => 1,
            Self::XChaCha => 2,
        }
    }

    /// The nonce length, in bytes.
    #[must_use]
    pub fn nonce_len(self) -> usize {
        match self {
            Self::Aes => 12,
            Self::XChaCha => 24,
        }
    }

    /// The algorithm of a key string's name, if it is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "aes-256-gcm" => Some(Self::Aes),
            "xchacha20-poly1305" => Some(Self::XChaCha),
            _ => None,
        }
    }

    /// The algorithm of a key string's name.
    ///
    /// # Panics
    ///
    /// If it names none.
    #[must_use]
    pub fn parse(name: &str) -> Self {
        Self::from_name(name).unwrap_or_else(|| panic!("unknown algorithm {name}"))
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

/// A key: its algorithm, id and 32 secret bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMaterial {
    /// The algorithm.
    pub alg: Alg,
    /// The key id (explicit, or derived with [`KeyMaterial::derived_id`]).
    pub id: u32,
    /// The secret.
    pub bytes: [u8; 32],
}

/// A key string as read by [`KeyMaterial::read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyString {
    /// The key.
    pub material: KeyMaterial,
    /// Whether the id is marked explicit (`=` before it).
    pub explicit: bool,
}

impl KeyMaterial {
    /// `ssk1.<algorithm>.[=]<8 hex id>.<43 base64url chars>`, for fixtures and vector files.
    ///
    /// # Panics
    ///
    /// If `key_string` is not one.
    #[must_use]
    pub fn parse(key_string: &str) -> Self {
        Self::read(key_string)
            .unwrap_or_else(|| panic!("not a key string: {key_string}"))
            .material
    }

    /// Reads `ssk1.<algorithm>.[=]<8 lowercase hex>.<43 base64url>`; `None` for anything else.
    /// The shape only (not the derived-id rule nor weak keys): a model of the grammar.
    #[must_use]
    pub fn read(key_string: &str) -> Option<KeyString> {
        let mut parts = key_string.split('.');
        let (Some("ssk1"), Some(alg), Some(id), Some(secret), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let alg = Alg::from_name(alg)?;
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
        Some(KeyString {
            material: Self { alg, id, bytes },
            explicit,
        })
    }

    /// The key string with the id written as a derived one (no `=`), as 0.1 wrote every id.
    #[must_use]
    pub fn to_key_string(self) -> String {
        format!(
            "ssk1.{}.{:08x}.{}",
            self.alg.name(),
            self.id,
            URL_SAFE_NO_PAD.encode(self.bytes)
        )
    }

    /// The id a key gets when none is set: SHA-256(label || alg code || key)[..4], BE.
    #[must_use]
    pub fn derived_id(alg: Alg, bytes: &[u8; 32]) -> u32 {
        let digest = Sha256::new()
            .chain_update(b"sealed-session/v1/key-id")
            .chain_update([alg.code()])
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; 4];
        id.copy_from_slice(&digest[..4]);
        u32::from_be_bytes(id)
    }

    /// HKDF-SHA256(salt = "sealed-session/v1/message-key", ikm = key,
    /// info = alg code || key id BE || hour BE), 32 bytes.
    #[must_use]
    pub fn message_key(&self, hour: u32) -> [u8; 32] {
        let mut info = vec![self.alg.code()];
        info.extend_from_slice(&self.id.to_be_bytes());
        info.extend_from_slice(&hour.to_be_bytes());
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"sealed-session/v1/message-key"), &self.bytes)
            .expand(&info, &mut okm)
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 length"));
        okm
    }
}

/// The v1 header (any version byte): version || key id (4, BE) || hour (4, BE).
#[must_use]
pub fn header(version: u8, key_id: u32, hour: u32) -> Vec<u8> {
    let mut header = vec![version];
    header.extend_from_slice(&key_id.to_be_bytes());
    header.extend_from_slice(&hour.to_be_bytes());
    header
}

/// The v1 AAD: header || cookie name || schema version (4, BE).
#[must_use]
pub fn aad(header: &[u8], name: &str, schema: u32) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&schema.to_be_bytes());
    aad
}

/// The v1 plaintext: postcard((id, created, expires, data)).
///
/// # Panics
///
/// If `data` does not serialize.
#[must_use]
pub fn plaintext<T: Serialize + ?Sized>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    data: &T,
) -> Vec<u8> {
    postcard::to_allocvec(&(id, created, expires, data)).expect("session data serializes")
}

/// A message key's AEAD, built once (HKDF and the key schedule cost more than sealing a
/// cookie, so a caller sealing many values keeps it).
#[derive(Clone)]
pub enum MessageCipher {
    /// AES-256-GCM.
    Aes(Box<Aes256Gcm>),
    /// XChaCha20-Poly1305.
    XChaCha(Box<XChaCha20Poly1305>),
}

impl MessageCipher {
    /// The AEAD under a raw 32-byte message key.
    #[must_use]
    pub fn new(alg: Alg, message_key: &[u8; 32]) -> Self {
        match alg {
            Alg::Aes => Self::Aes(Box::new(Aes256Gcm::new(message_key.into()))),
            Alg::XChaCha => Self::XChaCha(Box::new(XChaCha20Poly1305::new(message_key.into()))),
        }
    }

    /// The AEAD of `key`'s message key for `hour`.
    #[must_use]
    pub fn of(key: &KeyMaterial, hour: u32) -> Self {
        Self::new(key.alg, &key.message_key(hour))
    }

    /// The algorithm.
    #[must_use]
    pub fn alg(&self) -> Alg {
        match self {
            Self::Aes(_) => Alg::Aes,
            Self::XChaCha(_) => Alg::XChaCha,
        }
    }

    /// ciphertext || tag.
    ///
    /// # Panics
    ///
    /// If `nonce` has the wrong length for the algorithm.
    #[must_use]
    pub fn seal(&self, nonce: &[u8], aad: &[u8], msg: &[u8]) -> Vec<u8> {
        assert_eq!(nonce.len(), self.alg().nonce_len(), "nonce length");
        let payload = Payload { msg, aad };
        match self {
            Self::Aes(aead) => aead.encrypt(nonce.into(), payload),
            Self::XChaCha(aead) => aead.encrypt(nonce.into(), payload),
        }
        .expect("the AEADs seal any cookie-sized message")
    }

    /// The plaintext of ciphertext || tag, if authentic (`None` for a nonce of the wrong
    /// length too).
    #[must_use]
    pub fn open(&self, nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if nonce.len() != self.alg().nonce_len() {
            return None;
        }
        let payload = Payload { msg: sealed, aad };
        match self {
            Self::Aes(aead) => aead.decrypt(nonce.into(), payload),
            Self::XChaCha(aead) => aead.decrypt(nonce.into(), payload),
        }
        .ok()
    }
}

/// AEAD under a raw 32-byte key: ciphertext || tag.
///
/// # Panics
///
/// If `nonce` has the wrong length for `alg`.
#[must_use]
pub fn aead_seal(alg: Alg, key: &[u8; 32], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    MessageCipher::new(alg, key).seal(nonce, aad, msg)
}

/// The plaintext of ciphertext || tag under a raw 32-byte key, if authentic.
#[must_use]
pub fn aead_open(
    alg: Alg,
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    if nonce.len() != alg.nonce_len() {
        return None;
    }
    MessageCipher::new(alg, key).open(nonce, aad, sealed)
}

/// The raw v1 envelope: header || nonce || ciphertext || tag, with any version byte and hour.
#[allow(clippy::too_many_arguments)]
#[must_use]
pub fn seal_raw_versioned(
    key: &KeyMaterial,
    version: u8,
    hour: u32,
    name: &str,
    schema: u32,
    nonce: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let header = header(version, key.id, hour);
    let aad = aad(&header, name, schema);
    envelope(key, hour, header, &aad, nonce, plaintext)
}

/// The raw v1 envelope.
#[must_use]
pub fn seal_raw(
    key: &KeyMaterial,
    hour: u32,
    name: &str,
    schema: u32,
    nonce: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    seal_raw_versioned(key, V1, hour, name, schema, nonce, plaintext)
}

/// The v2 header: 0x02 || key id (4, BE) || hour (4, BE) || schema (4, BE) || flags (1).
#[must_use]
pub fn header_v2(key_id: u32, hour: u32, schema: u32, flags: u8) -> Vec<u8> {
    let mut header = vec![V2];
    header.extend_from_slice(&key_id.to_be_bytes());
    header.extend_from_slice(&hour.to_be_bytes());
    header.extend_from_slice(&schema.to_be_bytes());
    header.push(flags);
    header
}

/// The v2 and v3 AAD: header || cookie name.
#[must_use]
pub fn aad_v2(header: &[u8], name: &str) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// The v2 lifetime in the plaintext: (persistent, idle seconds, absolute seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifetimeV2 {
    /// Persistent (a `Max-Age`), or a browser-session cookie.
    pub persistent: bool,
    /// The idle timeout, in seconds.
    pub idle: u64,
    /// The absolute lifetime, in seconds.
    pub max: u64,
}

/// The v2 plaintext: postcard((id, created, expires, lifetime, flash), data), which is the
/// head's encoding followed by the data's (postcard writes a tuple's fields back to back).
///
/// # Panics
///
/// If `data` does not serialize.
#[must_use]
pub fn plaintext_v2<T: Serialize + ?Sized>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    lifetime: LifetimeV2,
    flash: &[String],
    data: &T,
) -> Vec<u8> {
    postcard::to_allocvec(&((id, created, expires, lifetime, flash), data))
        .expect("session data serializes")
}

/// The raw v2 envelope: header || nonce || ciphertext || tag.
#[allow(clippy::too_many_arguments)]
#[must_use]
pub fn seal_raw_v2(
    key: &KeyMaterial,
    hour: u32,
    name: &str,
    schema: u32,
    flags: u8,
    nonce: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let header = header_v2(key.id, hour, schema, flags);
    let aad = aad_v2(&header, name);
    envelope(key, hour, header, &aad, nonce, plaintext)
}

/// The v3 header: 0x03 || key id (4, BE) || hour (4, BE) || type binding (4, BE) || flags (1).
#[must_use]
pub fn header_v3(key_id: u32, hour: u32, binding: u32, flags: u8) -> Vec<u8> {
    let mut header = header_v2(key_id, hour, binding, flags);
    header[0] = V3;
    header
}

/// The raw v3 envelope: header || nonce || ciphertext || tag; AAD = header || cookie name.
#[allow(clippy::too_many_arguments)]
#[must_use]
pub fn seal_raw_v3(
    key: &KeyMaterial,
    hour: u32,
    name: &str,
    binding: u32,
    flags: u8,
    nonce: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let header = header_v3(key.id, hour, binding, flags);
    let aad = aad_v2(&header, name);
    envelope(key, hour, header, &aad, nonce, plaintext)
}

/// A v3 type binding: FNV-1a 64 over "sealed-session binding 1\0" || domain || "\0" || text,
/// folded to 32 bits (hash ^ hash >> 32). The domain is "shape" (text: the canonical shape
/// description) or "context" (text: the application's context string).
#[must_use]
pub fn binding(domain: &str, text: &str) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut input = b"sealed-session binding 1\0".to_vec();
    input.extend_from_slice(domain.as_bytes());
    input.push(0);
    input.extend_from_slice(text.as_bytes());
    let hash = input.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    // The low 32 bits of the fold: the truncation is the format's.
    #[allow(clippy::cast_possible_truncation)]
    let folded = (hash ^ (hash >> 32)) as u32;
    folded
}

/// The binding of an application context string.
#[must_use]
pub fn context_binding(context: &str) -> u32 {
    binding("context", context)
}

/// The canonical shape description of [`Profile`], written by hand from the rules in the
/// crate's src/codec/shape.rs docs (struct fields `name:` type `,` in order; a sequence is
/// `seq<` its element `,>`; strings are `str`).
pub const PROFILE_SHAPE: &str = "struct{user:str,visits:u32,roles:seq<str,>,}";

/// Raw DEFLATE (RFC 1951) of `bytes` at level 6.
#[must_use]
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(bytes, 6)
}

/// The plaintext of a compressed v2/v3 value: the head as [`plaintext_v2`], then the data's
/// postcard encoding as raw DEFLATE (RFC 1951).
///
/// # Panics
///
/// If `data` does not serialize.
#[must_use]
pub fn plaintext_compressed<T: Serialize + ?Sized>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    lifetime: LifetimeV2,
    flash: &[String],
    data: &T,
) -> Vec<u8> {
    let mut out = postcard::to_allocvec(&(id, created, expires, lifetime, flash))
        .expect("the head serializes");
    let encoded = postcard::to_allocvec(data).expect("session data serializes");
    out.extend(deflate(&encoded));
    out
}

/// Splits a base64url value into chunks of `len` characters (a multiple of four, so that each
/// decodes on its own), the last one shorter.
///
/// # Panics
///
/// If `len` is not a multiple of four.
#[must_use]
pub fn split(value: &str, len: usize) -> Vec<String> {
    assert_eq!(len % 4, 0);
    value
        .as_bytes()
        .chunks(len)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// `header || nonce || AEAD(plaintext)` under the key's message key for `hour`.
fn envelope(
    key: &KeyMaterial,
    hour: u32,
    header: Vec<u8>,
    aad: &[u8],
    nonce: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut raw = header;
    raw.extend_from_slice(nonce);
    raw.extend(aead_seal(
        key.alg,
        &key.message_key(hour),
        nonce,
        aad,
        plaintext,
    ));
    raw
}

/// base64url without padding.
#[must_use]
pub fn encode(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// The bytes of canonical base64url without padding, if it is that.
#[must_use]
pub fn decode(sealed: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(sealed).ok()
}

/// A header as it is written (any field values, valid or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The version byte.
    pub version: u8,
    /// The key id.
    pub key_id: u32,
    /// The message-key hour.
    pub hour: u32,
    /// v2: the schema version written in the header; v3: the type binding; v1: the schema
    /// version bound in the AAD only.
    pub schema: u32,
    /// v2 and v3 only.
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
        if self.version == V1 {
            header(V1, self.key_id, self.hour)
        } else {
            let mut out = header_v2(self.key_id, self.hour, self.schema, self.flags);
            out[0] = self.version;
            out
        }
    }

    /// The AAD for `cookie_name` ([`aad`] for v1, [`aad_v2`] otherwise).
    #[must_use]
    pub fn aad(&self, header: &[u8], cookie_name: &str) -> Vec<u8> {
        if self.version == V1 {
            aad(header, cookie_name, self.schema)
        } else {
            aad_v2(header, cookie_name)
        }
    }

    /// The cookie value: `header` sealed with `cipher` (the message key of the header's key
    /// and hour) and `nonce` for `cookie_name`.
    ///
    /// # Panics
    ///
    /// If `nonce` has the wrong length for the cipher's algorithm.
    #[must_use]
    pub fn seal_with(
        &self,
        cipher: &MessageCipher,
        cookie_name: &str,
        nonce: &[u8],
        plaintext: &[u8],
    ) -> String {
        let mut raw = self.bytes();
        let aad = self.aad(&raw, cookie_name);
        let sealed = cipher.seal(nonce, &aad, plaintext);
        raw.extend_from_slice(nonce);
        raw.extend_from_slice(&sealed);
        encode(&raw)
    }

    /// The cookie value: `header` sealed under `key`'s message key for the header's hour.
    ///
    /// # Panics
    ///
    /// If `nonce` has the wrong length for the key's algorithm.
    #[must_use]
    pub fn seal(
        &self,
        key: &KeyMaterial,
        cookie_name: &str,
        nonce: &[u8],
        plaintext: &[u8],
    ) -> String {
        self.seal_with(
            &MessageCipher::of(key, self.hour),
            cookie_name,
            nonce,
            plaintext,
        )
    }
}

/// A nonce of the key's length, every byte `fill`.
#[must_use]
pub fn nonce(key: &KeyMaterial, fill: u8) -> Vec<u8> {
    vec![fill; key.alg.nonce_len()]
}

/// What an opened envelope holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedRaw {
    /// The version byte.
    pub version: u8,
    /// The header's key id.
    pub key_id: u32,
    /// The header's hour.
    pub hour: u32,
    /// v2: from the header; v3: the type binding from the header; v1: the one given to `open`.
    pub schema: u32,
    /// v2/v3: from the header; v1: 0.
    pub flags: u8,
    /// The nonce.
    pub nonce: Vec<u8>,
    /// The authenticated plaintext.
    pub plaintext: Vec<u8>,
}

/// Opens a sealed string (v1, v2 or v3) with `key`, checking nothing but the format and the
/// AEAD; `schema` is the one a v1 AAD binds.
#[must_use]
pub fn open(key: &KeyMaterial, name: &str, schema: u32, sealed: &str) -> Option<OpenedRaw> {
    let raw = decode(sealed)?;
    let key_id = u32::from_be_bytes(raw.get(1..5)?.try_into().ok()?);
    if key_id != key.id {
        return None;
    }
    let hour = u32::from_be_bytes(raw.get(5..9)?.try_into().ok()?);
    open_with_message_key(key.alg, &key.message_key(hour), name, schema, &raw)
}

/// Opens a raw envelope (v1, v2 or v3) with a given message key.
#[must_use]
pub fn open_with_message_key(
    alg: Alg,
    message_key: &[u8; 32],
    name: &str,
    schema: u32,
    raw: &[u8],
) -> Option<OpenedRaw> {
    let version = *raw.first()?;
    let (header_len, aad, schema, flags) = match version {
        V1 => (
            HEADER_LEN,
            aad(raw.get(..HEADER_LEN)?, name, schema),
            schema,
            0,
        ),
        V2 | V3 => {
            let header = raw.get(..V2_HEADER_LEN)?;
            let schema = u32::from_be_bytes(header.get(9..13)?.try_into().ok()?);
            (
                V2_HEADER_LEN,
                aad_v2(header, name),
                schema,
                *header.get(13)?,
            )
        }
        _ => return None,
    };
    let nonce_len = alg.nonce_len();
    if raw.len() < header_len + nonce_len + TAG_LEN {
        return None;
    }
    let key_id = u32::from_be_bytes(raw.get(1..5)?.try_into().ok()?);
    let hour = u32::from_be_bytes(raw.get(5..9)?.try_into().ok()?);
    let nonce = raw.get(header_len..header_len + nonce_len)?;
    let plaintext = aead_open(
        alg,
        message_key,
        nonce,
        &aad,
        raw.get(header_len + nonce_len..)?,
    )?;
    Some(OpenedRaw {
        version,
        key_id,
        hour,
        schema,
        flags,
        nonce: nonce.to_vec(),
        plaintext,
    })
}

// Vector helpers shared by tests/vectors.rs (v1), tests/vectors_v2.rs and tests/vectors_v3.rs.

/// The session data type of every vector.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// A user name.
    pub user: String,
    /// A visit count.
    pub visits: u32,
    /// Role names.
    pub roles: Vec<String>,
}

/// A [`Profile`].
#[must_use]
pub fn profile(user: &str, visits: u32, roles: &[&str]) -> Profile {
    Profile {
        user: user.into(),
        visits,
        roles: roles.iter().map(|r| (*r).to_string()).collect(),
    }
}

/// Lowercase hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lowercase or uppercase hex.
///
/// # Panics
///
/// If `s` is not hex of an even length.
#[must_use]
pub fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .unwrap_or_else(|| panic!("not hex: {s}"))
        })
        .collect()
}

/// A vector key: SHA-256("sealed-session test vector key " || label), with the given id or
/// the derived one.
#[must_use]
pub fn test_key(alg: Alg, label: &str, id: Option<u32>) -> KeyMaterial {
    let bytes: [u8; 32] = Sha256::digest(format!("sealed-session test vector key {label}")).into();
    KeyMaterial {
        alg,
        id: id.unwrap_or_else(|| KeyMaterial::derived_id(alg, &bytes)),
        bytes,
    }
}

/// `len` bytes counting up from `start` (wrapping).
#[must_use]
pub fn counting_bytes(len: usize, start: u8) -> Vec<u8> {
    (0..len)
        .map(|i| start.wrapping_add(u8::try_from(i % 256).unwrap_or_default()))
        .collect()
}
