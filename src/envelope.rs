//! Wire format v1: header, nonce, AEAD, AAD, base64url.
//!
//! ```text
//! sealed = base64url-no-pad( header || nonce || ciphertext || tag )
//! header = version (1) || key id (4, big endian) || hour (4, big endian)
//! nonce  = 12 bytes (AES-256-GCM) or 24 bytes (XChaCha20-Poly1305), random per seal
//! AAD    = header || cookie name || schema version (4, big endian)
//! ```
//!
//! The header and the schema version have fixed lengths, so the AAD parses one way only.
//!
//! AEAD note: we use the aes-gcm / chacha20poly1305 0.10 line (aead 0.5). On 67-byte messages
//! on the reference machine (AMD EPYC, VAES), aes-gcm 0.11 was about 2x slower because its
//! VAES path re-broadcasts the round keys on every call. The AEAD trait calls live in this
//! file only (key construction is in `key.rs`), so moving to 0.11 touches two places.

use core::cell::Cell;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::generic_array::GenericArray;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroize;

use crate::error::{OpenError, OpenErrorKind, SessionError};
use crate::key::{Algorithm, KeyId, MessageCipher};
use crate::ring::{KeyRing, RingKey};
use crate::rng;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Header length: version (1) + key id (4) + hour (4).
pub const HEADER_LEN: usize = 9;
/// AEAD tag length, for both algorithms.
pub const TAG_LEN: usize = 16;
/// AES-256-GCM nonce length (96 bits, NIST SP 800-38D §8.2.2 random construction).
pub const AES_GCM_NONCE_LEN: usize = 12;
/// XChaCha20-Poly1305 nonce length (192 bits).
pub const XCHACHA_NONCE_LEN: usize = 24;
/// The longest nonce of any algorithm.
pub const MAX_NONCE_LEN: usize = XCHACHA_NONCE_LEN;
/// The shortest possible envelope in bytes (before base64url): an empty AES-256-GCM plaintext.
pub const MIN_ENVELOPE_LEN: usize = HEADER_LEN + AES_GCM_NONCE_LEN + TAG_LEN;
/// Seconds per message-key period: message keys are derived per hour of sealing.
pub const SECONDS_PER_HOUR: u64 = 3600;

const _: () = assert!(HEADER_LEN == 1 + 4 + 4);
const _: () = assert!(MAX_NONCE_LEN >= AES_GCM_NONCE_LEN);
const _: () = assert!(Algorithm::Aes256Gcm.nonce_len() == AES_GCM_NONCE_LEN);
const _: () = assert!(Algorithm::XChaCha20Poly1305.nonce_len() == XCHACHA_NONCE_LEN);

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

/// The most raw bytes whose base64url encoding fits in `encoded` characters.
const fn max_raw_len(encoded: usize) -> usize {
    (encoded / 4) * 3
        + match encoded % 4 {
            0 | 1 => 0,
            2 => 1,
            _ => 2,
        }
}

/// The length of the sealed string for a plaintext of `plaintext_len` bytes.
pub(crate) const fn sealed_len(algorithm: Algorithm, plaintext_len: usize) -> usize {
    encoded_len(HEADER_LEN + algorithm.nonce_len() + plaintext_len + TAG_LEN)
}

/// The largest plaintext whose sealed string, under any algorithm, is at most `max_value_len`.
pub(crate) const fn max_plaintext_len(algorithm: Algorithm, max_value_len: usize) -> usize {
    max_raw_len(max_value_len).saturating_sub(HEADER_LEN + algorithm.nonce_len() + TAG_LEN)
}

/// The hours (Unix time / 3600) whose message keys may open: derived from the session lifetime
/// window by the codec. Any other hour is refused before key derivation, so a client cannot
/// make the server derive keys at will.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HourWindow {
    pub(crate) first: u32,
    pub(crate) last: u32,
}

/// What the AAD binds besides the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub(crate) cookie_name: &'a str,
    pub(crate) schema_version: u32,
}

/// What opening learned besides the plaintext.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenedEnvelope {
    pub(crate) key_id: KeyId,
    pub(crate) by_primary: bool,
}

thread_local! {
    /// Reused per thread so that a seal allocates only its output string and an open nothing
    /// beyond the session value. Between calls it holds only ciphertext or zeroes.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Scratch buffers larger than this are released after use instead of kept.
const SCRATCH_KEEP: usize = 16 * 1024;

fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    // Taking the buffer out (rather than borrowing it) makes re-entrancy, from a Serialize impl
    // that seals, harmless: the inner call just gets an empty buffer.
    let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    let result = f(&mut buf);
    if buf.capacity() <= SCRATCH_KEEP {
        let _ = SCRATCH.try_with(|cell| cell.set(buf));
    }
    result
}

fn header(key_id: KeyId, hour: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let (version, rest) = header.split_at_mut(1);
    let (id, hour_bytes) = rest.split_at_mut(4);
    version.copy_from_slice(&[FORMAT_VERSION]);
    id.copy_from_slice(&key_id.get().to_be_bytes());
    hour_bytes.copy_from_slice(&hour.to_be_bytes());
    header
}

/// Runs `f` with AAD = header || cookie name || schema version, on the stack when it fits.
fn with_aad<R>(header: &[u8], binding: Binding<'_>, f: impl FnOnce(&[u8]) -> R) -> R {
    let name = binding.cookie_name.as_bytes();
    let schema = binding.schema_version.to_be_bytes();
    let len = header.len() + name.len() + schema.len();
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let aad = match stack.get_mut(..len) {
        Some(aad) => aad,
        None => {
            heap.resize(len, 0);
            heap.as_mut_slice()
        }
    };
    let (h, rest) = aad.split_at_mut(header.len());
    let (n, s) = rest.split_at_mut(name.len());
    h.copy_from_slice(header);
    n.copy_from_slice(name);
    s.copy_from_slice(&schema);
    f(aad)
}

/// Seals the plaintext that `write_plaintext` appends to the buffer it is given, under the
/// primary key's message key for `hour`, and appends the base64url string to `out`.
///
/// `write_plaintext` must only append; it learns the primary key's algorithm, which decides how
/// much room the nonce takes.
pub(crate) fn seal(
    out: &mut String,
    ring: &KeyRing,
    hour: u32,
    binding: Binding<'_>,
    write_plaintext: impl FnOnce(&mut Vec<u8>, Algorithm) -> Result<(), SessionError>,
) -> Result<(), SessionError> {
    ring.with_primary(|key| {
        with_scratch(|buf| {
            let algorithm = key.key().algorithm();
            let header = header(key.key().id(), hour);
            let nonce_len = algorithm.nonce_len();
            let body_start = HEADER_LEN + nonce_len;
            buf.extend_from_slice(&header);
            buf.resize(body_start, 0);
            let sealed = write_plaintext(buf, algorithm).and_then(|()| {
                let split = body_start.min(buf.len());
                let (head, body) = buf.split_at_mut(split);
                let nonce = head.get_mut(HEADER_LEN..).ok_or(SessionError::Serialize)?;
                rng::fill(nonce).map_err(|_| SessionError::Random)?;
                with_aad(&header, binding, |aad| encrypt(key, hour, nonce, aad, body))
            });
            match sealed {
                Ok(tag) => {
                    buf.extend_from_slice(&tag);
                    // One exact allocation, not a doubling series.
                    out.reserve(encoded_len(buf.len()));
                    URL_SAFE_NO_PAD.encode_string(buf.as_slice(), out);
                    Ok(())
                }
                Err(error) => {
                    // A partial plaintext may be in the buffer.
                    buf.zeroize();
                    Err(error)
                }
            }
        })
    })
}

fn encrypt(
    key: &RingKey,
    hour: u32,
    nonce: &[u8],
    aad: &[u8],
    body: &mut [u8],
) -> Result<[u8; TAG_LEN], SessionError> {
    let too_large = SessionError::TooLarge {
        size: body.len(),
        limit: body.len(),
    };
    key.with_cipher(hour, |cipher| {
        let tag = match cipher {
            MessageCipher::Aes256Gcm(aead) => {
                let nonce: [u8; AES_GCM_NONCE_LEN] =
                    nonce.try_into().map_err(|_| too_large.clone())?;
                aead.encrypt_in_place_detached(&nonce.into(), aad, body)
            }
            MessageCipher::XChaCha20Poly1305(aead) => {
                let nonce: [u8; XCHACHA_NONCE_LEN] =
                    nonce.try_into().map_err(|_| too_large.clone())?;
                aead.encrypt_in_place_detached(&nonce.into(), aad, body)
            }
        };
        // The AEADs only refuse plaintexts of gigabytes, far beyond any size limit.
        tag.map(Into::into).map_err(|_| too_large.clone())
    })
}

/// Decodes and opens `value`, then runs `read_plaintext` on the authenticated plaintext (which
/// is wiped afterwards).
///
/// Checks run cheapest first, and everything a client controls is refused before any key
/// derivation or AEAD work: the length before decoding, then the version, the key id and the
/// hour window. Each value costs at most one AEAD open (no trial decryption).
pub(crate) fn open<R>(
    ring: &KeyRing,
    value: &str,
    max_value_len: usize,
    window: HourWindow,
    binding: Binding<'_>,
    read_plaintext: impl FnOnce(&[u8], OpenedEnvelope) -> Result<R, OpenError>,
) -> Result<R, OpenError> {
    // Length first (SECURITY-TESTS D2): nothing proportional to an oversize value is allocated.
    if value.len() > max_value_len {
        return Err(OpenError::new(OpenErrorKind::TooLong));
    }
    if value.len() < encoded_len(MIN_ENVELOPE_LEN) {
        return Err(OpenError::new(OpenErrorKind::Malformed));
    }
    with_scratch(|buf| {
        // The engine is canonical: no padding, no non-zero trailing bits, so no two accepted
        // strings decode to one envelope.
        URL_SAFE_NO_PAD
            .decode_vec(value, buf)
            .map_err(|_| OpenError::new(OpenErrorKind::Malformed))?;
        let (header, rest) = buf
            .split_first_chunk_mut::<HEADER_LEN>()
            .ok_or(OpenError::new(OpenErrorKind::Malformed))?;
        let header = *header;
        let [version, i0, i1, i2, i3, h0, h1, h2, h3] = header;
        if version != FORMAT_VERSION {
            return Err(OpenError::new(OpenErrorKind::UnsupportedVersion));
        }
        let key_id = KeyId::new(u32::from_be_bytes([i0, i1, i2, i3]));
        let hour = u32::from_be_bytes([h0, h1, h2, h3]);
        let fail = |kind| OpenError::new(kind).with_key_id(key_id);
        ring.with_key(key_id, |key, by_primary| {
            if hour < window.first || hour > window.last {
                return Err(fail(OpenErrorKind::OutsideWindow));
            }
            let nonce_len = key.key().algorithm().nonce_len();
            if rest.len() < nonce_len + TAG_LEN {
                return Err(fail(OpenErrorKind::Malformed));
            }
            let (nonce, sealed) = rest.split_at_mut(nonce_len);
            let (body, tag) = sealed.split_at_mut(sealed.len() - TAG_LEN);
            let tag: [u8; TAG_LEN] = (&*tag)
                .try_into()
                .map_err(|_| fail(OpenErrorKind::Malformed))?;
            with_aad(&header, binding, |aad| {
                decrypt(key, hour, nonce, aad, body, tag)
            })
            .map_err(|()| fail(OpenErrorKind::Unauthentic))?;
            let result = read_plaintext(body, OpenedEnvelope { key_id, by_primary });
            body.zeroize();
            result
        })
        .unwrap_or_else(|| Err(fail(OpenErrorKind::UnknownKey)))
    })
}

fn decrypt(
    key: &RingKey,
    hour: u32,
    nonce: &[u8],
    aad: &[u8],
    body: &mut [u8],
    tag: [u8; TAG_LEN],
) -> Result<(), ()> {
    key.with_cipher(hour, |cipher| match cipher {
        MessageCipher::Aes256Gcm(aead) => {
            let nonce: [u8; AES_GCM_NONCE_LEN] = nonce.try_into().map_err(|_| ())?;
            aead.decrypt_in_place_detached(&nonce.into(), aad, body, &GenericArray::from(tag))
                .map_err(|_| ())
        }
        MessageCipher::XChaCha20Poly1305(aead) => {
            let nonce: [u8; XCHACHA_NONCE_LEN] = nonce.try_into().map_err(|_| ())?;
            aead.decrypt_in_place_detached(&nonce.into(), aad, body, &GenericArray::from(tag))
                .map_err(|_| ())
        }
    })
}

/// The hour (Unix time / 3600) of a Unix time, saturating far beyond any real clock.
pub(crate) fn hour_of(unix_secs: u64) -> u32 {
    u32::try_from(unix_secs / SECONDS_PER_HOUR).unwrap_or(u32::MAX)
}
