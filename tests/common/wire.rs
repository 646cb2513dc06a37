//! The tests' independent implementation of the wire formats v1, v2 and v3, written from
//! DESIGN.md and SECURITY.md alone:
//! it calls no crate internals, only the RustCrypto primitives, postcard and base64. The
//! vectors (tests/vectors.rs) are recomputed with it byte for byte, and the envelope tests
//! (tests/codec.rs, tests/rotation.rs) build hand-made envelopes with it.
#![allow(dead_code, unreachable_pub)]

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::XChaCha20Poly1305;
use hkdf::Hkdf;
use sealed_session::{Algorithm, Key};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The v1 header: version || key id || hour.
pub(crate) const HEADER_LEN: usize = 9;
/// The v2 header: version || key id || hour || schema version || flags.
pub(crate) const V2_HEADER_LEN: usize = 14;
pub(crate) const TAG_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    Aes,
    XChaCha,
}

impl Alg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Aes => "aes-256-gcm",
            Self::XChaCha => "xchacha20-poly1305",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Aes => 1,
            Self::XChaCha => 2,
        }
    }

    pub(crate) fn nonce_len(self) -> usize {
        match self {
            Self::Aes => 12,
            Self::XChaCha => 24,
        }
    }

    pub(crate) fn parse(name: &str) -> Self {
        match name {
            "aes-256-gcm" => Self::Aes,
            "xchacha20-poly1305" => Self::XChaCha,
            other => panic!("unknown algorithm {other}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyMaterial {
    pub(crate) alg: Alg,
    pub(crate) id: u32,
    pub(crate) bytes: [u8; 32],
}

impl KeyMaterial {
    /// `ssk1.<algorithm>.<8 hex id>.<43 base64url chars>`.
    pub(crate) fn parse(key_string: &str) -> Self {
        let parts: Vec<&str> = key_string.split('.').collect();
        assert_eq!(parts.len(), 4, "key string {key_string}");
        assert_eq!(parts[0], "ssk1");
        assert_eq!(parts[2].len(), 8);
        assert_eq!(parts[3].len(), 43);
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(parts[3])
            .unwrap()
            .try_into()
            .unwrap();
        Self {
            alg: Alg::parse(parts[1]),
            id: u32::from_str_radix(parts[2], 16).unwrap(),
            bytes,
        }
    }

    pub(crate) fn to_key_string(self) -> String {
        format!(
            "ssk1.{}.{:08x}.{}",
            self.alg.name(),
            self.id,
            URL_SAFE_NO_PAD.encode(self.bytes)
        )
    }

    /// The id a key gets when none is set: SHA-256(label || alg code || key)[..4], BE.
    pub(crate) fn derived_id(alg: Alg, bytes: &[u8; 32]) -> u32 {
        let digest = Sha256::new()
            .chain_update(b"sealed-session/v1/key-id")
            .chain_update([alg.code()])
            .chain_update(bytes)
            .finalize();
        u32::from_be_bytes(digest[..4].try_into().unwrap())
    }

    /// HKDF-SHA256(salt = "sealed-session/v1/message-key", ikm = key,
    /// info = alg code || key id BE || hour BE), 32 bytes.
    pub(crate) fn message_key(&self, hour: u32) -> [u8; 32] {
        let mut info = vec![self.alg.code()];
        info.extend_from_slice(&self.id.to_be_bytes());
        info.extend_from_slice(&hour.to_be_bytes());
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"sealed-session/v1/message-key"), &self.bytes)
            .expand(&info, &mut okm)
            .unwrap();
        okm
    }
}

pub(crate) fn header(version: u8, key_id: u32, hour: u32) -> Vec<u8> {
    let mut header = vec![version];
    header.extend_from_slice(&key_id.to_be_bytes());
    header.extend_from_slice(&hour.to_be_bytes());
    header
}

pub(crate) fn aad(header: &[u8], name: &str, schema: u32) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&schema.to_be_bytes());
    aad
}

/// postcard((id, created, expires, data)).
pub(crate) fn plaintext<T: Serialize>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    data: &T,
) -> Vec<u8> {
    postcard::to_allocvec(&(id, created, expires, data)).unwrap()
}

/// AEAD under a raw 32-byte key: ciphertext || tag.
pub(crate) fn aead_seal(alg: Alg, key: &[u8; 32], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    assert_eq!(nonce.len(), alg.nonce_len());
    let payload = Payload { msg, aad };
    match alg {
        Alg::Aes => Aes256Gcm::new(key.into())
            .encrypt(nonce.into(), payload)
            .unwrap(),
        Alg::XChaCha => XChaCha20Poly1305::new(key.into())
            .encrypt(nonce.into(), payload)
            .unwrap(),
    }
}

pub(crate) fn aead_open(
    alg: Alg,
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    if nonce.len() != alg.nonce_len() {
        return None;
    }
    let payload = Payload { msg: sealed, aad };
    match alg {
        Alg::Aes => Aes256Gcm::new(key.into()).decrypt(nonce.into(), payload),
        Alg::XChaCha => XChaCha20Poly1305::new(key.into()).decrypt(nonce.into(), payload),
    }
    .ok()
}

/// The raw v1 envelope: header || nonce || ciphertext || tag, with any version byte and hour.
#[allow(clippy::too_many_arguments)]
pub(crate) fn seal_raw_versioned(
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

pub(crate) fn seal_raw(
    key: &KeyMaterial,
    hour: u32,
    name: &str,
    schema: u32,
    nonce: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    seal_raw_versioned(key, 1, hour, name, schema, nonce, plaintext)
}

/// The v2 header: 0x02 || key id (4, BE) || hour (4, BE) || schema (4, BE) || flags (1).
pub(crate) fn header_v2(key_id: u32, hour: u32, schema: u32, flags: u8) -> Vec<u8> {
    let mut header = vec![2];
    header.extend_from_slice(&key_id.to_be_bytes());
    header.extend_from_slice(&hour.to_be_bytes());
    header.extend_from_slice(&schema.to_be_bytes());
    header.push(flags);
    header
}

/// The v2 AAD: header || cookie name.
pub(crate) fn aad_v2(header: &[u8], name: &str) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// The v2 lifetime in the plaintext: (persistent, idle seconds, absolute seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct LifetimeV2 {
    pub(crate) persistent: bool,
    pub(crate) idle: u64,
    pub(crate) max: u64,
}

/// The v2 plaintext: postcard((id, created, expires, lifetime, flash), data).
pub(crate) fn plaintext_v2<T: Serialize>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    lifetime: LifetimeV2,
    flash: &[String],
    data: &T,
) -> Vec<u8> {
    postcard::to_allocvec(&((id, created, expires, lifetime, flash), data)).unwrap()
}

/// The raw v2 envelope: header || nonce || ciphertext || tag.
#[allow(clippy::too_many_arguments)]
pub(crate) fn seal_raw_v2(
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
pub(crate) fn header_v3(key_id: u32, hour: u32, binding: u32, flags: u8) -> Vec<u8> {
    let mut header = header_v2(key_id, hour, binding, flags);
    header[0] = 3;
    header
}

/// The raw v3 envelope: header || nonce || ciphertext || tag; AAD = header || cookie name.
#[allow(clippy::too_many_arguments)]
pub(crate) fn seal_raw_v3(
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
pub(crate) fn binding(domain: &str, text: &str) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut input = b"sealed-session binding 1\0".to_vec();
    input.extend_from_slice(domain.as_bytes());
    input.push(0);
    input.extend_from_slice(text.as_bytes());
    let hash = input.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    u32::try_from((hash ^ (hash >> 32)) & 0xffff_ffff).unwrap()
}

/// The binding of an application context string.
pub(crate) fn context_binding(context: &str) -> u32 {
    binding("context", context)
}

/// The canonical shape description of [`Profile`], written by hand from the rules in
/// src/codec/shape.rs's docs (struct fields `name:` type `,` in order; a sequence is
/// `seq<` its element `,>`; strings are `str`).
pub(crate) const PROFILE_SHAPE: &str = "struct{user:str,visits:u32,roles:seq<str,>,}";

/// The plaintext of a compressed v2/v3 value: the head as [`plaintext_v2`], then the data's
/// postcard encoding as raw DEFLATE (RFC 1951).
pub(crate) fn plaintext_compressed<T: Serialize>(
    id: [u8; 16],
    created: u64,
    expires: u64,
    lifetime: LifetimeV2,
    flash: &[String],
    data: &T,
) -> Vec<u8> {
    let mut out = postcard::to_allocvec(&(id, created, expires, lifetime, flash)).unwrap();
    let encoded = postcard::to_allocvec(data).unwrap();
    out.extend(miniz_oxide::deflate::compress_to_vec(&encoded, 6));
    out
}

/// Splits a base64url value into chunks of `len` characters (a multiple of four, so that each
/// decodes on its own), the last one shorter.
pub(crate) fn split(value: &str, len: usize) -> Vec<String> {
    assert_eq!(len % 4, 0);
    value
        .as_bytes()
        .chunks(len)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
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

pub(crate) fn encode(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

pub(crate) fn decode(sealed: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(sealed).ok()
}

/// What an opened envelope holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenedRaw {
    pub(crate) version: u8,
    pub(crate) key_id: u32,
    pub(crate) hour: u32,
    /// v2: from the header; v3: the type binding from the header; v1: the one given to `open`.
    pub(crate) schema: u32,
    pub(crate) flags: u8,
    pub(crate) nonce: Vec<u8>,
    pub(crate) plaintext: Vec<u8>,
}

/// Opens a sealed string (v1 or v2) with `key`, checking nothing but the format and the AEAD;
/// `schema` is the one a v1 AAD binds.
pub(crate) fn open(key: &KeyMaterial, name: &str, schema: u32, sealed: &str) -> Option<OpenedRaw> {
    let raw = decode(sealed)?;
    let key_id = u32::from_be_bytes(raw.get(1..5)?.try_into().ok()?);
    if key_id != key.id {
        return None;
    }
    let hour = u32::from_be_bytes(raw.get(5..9)?.try_into().ok()?);
    open_with_message_key(key.alg, &key.message_key(hour), name, schema, &raw)
}

/// Opens a raw envelope (v1 or v2) with a given message key.
pub(crate) fn open_with_message_key(
    alg: Alg,
    message_key: &[u8; 32],
    name: &str,
    schema: u32,
    raw: &[u8],
) -> Option<OpenedRaw> {
    let version = *raw.first()?;
    let (header_len, aad, schema, flags) = match version {
        1 => (
            HEADER_LEN,
            aad(raw.get(..HEADER_LEN)?, name, schema),
            schema,
            0,
        ),
        2 | 3 => {
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

// Vector helpers shared by tests/vectors.rs (v1) and tests/vectors_v2.rs.

/// The session data type of every vector.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    pub(crate) user: String,
    pub(crate) visits: u32,
    pub(crate) roles: Vec<String>,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The crate's key for a frozen key string. The file keeps 0.1's spelling, which wrote an
/// explicitly set id like a derived one; 0.2 marks explicit ids with `=` (SECURITY-TESTS F10),
/// so the loader rebuilds such keys with `with_id`.
pub(crate) fn crate_key(text: &str) -> Key {
    let material = KeyMaterial::parse(text);
    let algorithm = match material.alg {
        Alg::Aes => Algorithm::Aes256Gcm,
        Alg::XChaCha => Algorithm::XChaCha20Poly1305,
    };
    let key = Key::from_bytes(algorithm, &material.bytes).unwrap();
    if key.id().get() == material.id {
        assert_eq!(text.parse::<Key>().unwrap(), key);
        key
    } else {
        key.with_id(sealed_session::KeyId::new(material.id))
    }
}

pub(crate) fn test_key(alg: Alg, label: &str, id: Option<u32>) -> KeyMaterial {
    use sha2::{Digest, Sha256};
    let bytes: [u8; 32] = Sha256::digest(format!("sealed-session test vector key {label}")).into();
    KeyMaterial {
        alg,
        id: id.unwrap_or_else(|| KeyMaterial::derived_id(alg, &bytes)),
        bytes,
    }
}

pub(crate) fn counting_bytes(len: usize, start: u8) -> Vec<u8> {
    (0..len)
        .map(|i| start.wrapping_add(u8::try_from(i % 256).unwrap()))
        .collect()
}

pub(crate) fn profile(user: &str, visits: u32, roles: &[&str]) -> Profile {
    Profile {
        user: user.into(),
        visits,
        roles: roles.iter().map(|r| (*r).to_string()).collect(),
    }
}
