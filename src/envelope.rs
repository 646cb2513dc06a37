//! Wire formats: the header (v1 and v2, encode and parse side by side), nonce, AAD, the
//! AEAD step, base64url, and how a sealed string splits into chunks.
//!
//! ```text
//! sealed    = base64url-no-pad( header || nonce || ciphertext || tag )
//! header v1 = 0x01 || key id (4, BE) || hour (4, BE)
//! header v2 = 0x02 || key id (4, BE) || hour (4, BE) || schema version (4, BE) || flags (1)
//! header v3 = 0x03 || key id (4, BE) || hour (4, BE) || type binding (4, BE) || flags (1)
//! flags     = bits 0-3: chunk count - 1; bit 4: compressed; bits 5-7: zero
//! nonce     = 12 bytes (AES-256-GCM) or 24 bytes (XChaCha20-Poly1305), random per seal
//! AAD v1    = header || cookie name || schema version (4, BE)
//! AAD v2/v3 = header || cookie name
//! ```
//!
//! The header and the schema version have fixed lengths, so each AAD parses one way only.
//! v1 is opened, never sealed, from 0.2 on. A sealed string may be split into chunks
//! (`name`, `name.1`, ...) at multiples of four characters, so that each chunk decodes on
//! its own and the reader never joins strings; the count is in the authenticated header.

use core::cell::Cell;
use core::fmt;

use base64_simd::URL_SAFE_NO_PAD;
use zeroize::Zeroize;

use crate::error::OpenErrorKind;
use crate::key::{
    AES_GCM_NONCE_LEN, AeadFailure, Algorithm, KeyId, MAX_NONCE_LEN, MessageCipher, TAG_LEN,
};
use crate::rng::{self, RngFailure};

/// Seconds per message-key period: message keys are derived per hour of sealing.
pub(crate) const SECONDS_PER_HOUR: u64 = 3600;

/// Format version 1: read only.
pub(crate) const V1: u8 = 1;
/// Format version 2: the schema version number in the header.
pub(crate) const V2: u8 = 2;
/// Format version 3: the type binding in the header (where v2 has the schema version).
pub(crate) const V3: u8 = 3;

/// v1 header length: version (1) + key id (4) + hour (4).
pub(crate) const V1_HEADER_LEN: usize = 9;
/// v2 and v3 header length: v1's fields + schema version or type binding (4) + flags (1).
pub(crate) const V2_HEADER_LEN: usize = 14;
const _: () = assert!(V1_HEADER_LEN == 1 + 4 + 4);
const _: () = assert!(V2_HEADER_LEN == V1_HEADER_LEN + 4 + 1);

/// The most chunks the flags can count.
pub(crate) const MAX_CHUNKS: usize = 16;
const CHUNK_BITS: u8 = 0b0000_1111;
const COMPRESSED_BIT: u8 = 0b0001_0000;
const _: () = assert!(CHUNK_BITS as usize + 1 == MAX_CHUNKS);

/// The shortest possible envelope in bytes (before base64url): a v1 header and an empty
/// AES-256-GCM plaintext.
pub(crate) const MIN_ENVELOPE_LEN: usize = V1_HEADER_LEN + AES_GCM_NONCE_LEN + TAG_LEN;

/// Characters of base64url that decode to whole bytes: chunks split at multiples of this.
pub(crate) const CHUNK_ALIGN: usize = 4;

/// The v2 flags byte: chunk count and compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Flags(u8);

impl Flags {
    /// Flags for `chunks` chunks (1..=16) and compression.
    pub(crate) fn new(chunks: usize, compressed: bool) -> Option<Self> {
        let count = u8::try_from(chunks.checked_sub(1)?)
            .ok()
            .filter(|c| *c <= CHUNK_BITS)?;
        Some(Self(count | if compressed { COMPRESSED_BIT } else { 0 }))
    }

    /// Every unassigned bit must be zero.
    fn parse(byte: u8) -> Result<Self, OpenErrorKind> {
        if byte & !(CHUNK_BITS | COMPRESSED_BIT) != 0 {
            return Err(OpenErrorKind::Flags);
        }
        Ok(Self(byte))
    }

    pub(crate) fn chunks(self) -> usize {
        usize::from(self.0 & CHUNK_BITS) + 1
    }

    pub(crate) fn compressed(self) -> bool {
        self.0 & COMPRESSED_BIT != 0
    }
}

/// Which type a sealed value holds, as its header says: a schema version number (formats v1
/// and v2) or a type binding (format v3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SealedAs {
    Version(u32),
    Binding(u32),
}

impl fmt::Display for SealedAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A number: a v2 schema version; `type:` and hex: a v3 type binding.
            Self::Version(version) => write!(f, "{version}"),
            Self::Binding(binding) => write!(f, "type:{binding:08x}"),
        }
    }
}

/// An envelope header. v1 has no schema version or flags (the schema is bound in the AAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) version: u8,
    pub(crate) key_id: KeyId,
    pub(crate) hour: u32,
    /// The schema version (v2; for v1 the opener's, bound in the AAD) or the type binding
    /// (v3).
    pub(crate) schema: u32,
    pub(crate) flags: Flags,
}

impl Header {
    /// A v2 header for a schema version, or a v3 one for a type binding.
    pub(crate) fn new(key_id: KeyId, hour: u32, sealed_as: SealedAs, flags: Flags) -> Self {
        let (version, schema) = match sealed_as {
            SealedAs::Version(version) => (V2, version),
            SealedAs::Binding(binding) => (V3, binding),
        };
        Self {
            version,
            key_id,
            hour,
            schema,
            flags,
        }
    }

    /// Which type the value holds.
    pub(crate) fn sealed_as(&self) -> SealedAs {
        if self.version == V3 {
            SealedAs::Binding(self.schema)
        } else {
            SealedAs::Version(self.schema)
        }
    }

    /// A v1 header: this build opens them, it never seals them.
    #[cfg(test)]
    pub(crate) fn v1(key_id: KeyId, hour: u32, schema: u32) -> Self {
        Self {
            version: V1,
            key_id,
            hour,
            schema,
            flags: Flags::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        if self.version == V1 {
            V1_HEADER_LEN
        } else {
            V2_HEADER_LEN
        }
    }

    /// The header's bytes (the first [`len`](Self::len) of them); [`Header::parse`] reads
    /// them back.
    pub(crate) fn encode(&self) -> ([u8; V2_HEADER_LEN], usize) {
        let mut out = [0u8; V2_HEADER_LEN];
        let fields: [&[u8]; 5] = [
            &[self.version],
            &self.key_id.get().to_be_bytes(),
            &self.hour.to_be_bytes(),
            &self.schema.to_be_bytes(),
            &[self.flags.0],
        ];
        let mut at = 0;
        for field in fields {
            if let Some(slot) = out.get_mut(at..at + field.len()) {
                slot.copy_from_slice(field);
            }
            at += field.len();
        }
        (out, self.len())
    }

    /// Parses the header at the start of `raw`. A v1 header takes `v1_schema` (the opener's
    /// current schema version, which its AAD binds).
    pub(crate) fn parse(raw: &[u8], v1_schema: u32) -> Result<Self, OpenErrorKind> {
        let Some(&version) = raw.first() else {
            return Err(OpenErrorKind::Malformed);
        };
        let be = |at: usize| -> Result<u32, OpenErrorKind> {
            raw.get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .ok_or(OpenErrorKind::Malformed)
        };
        match version {
            V1 => Ok(Self {
                version,
                key_id: KeyId::new(be(1)?),
                hour: be(5)?,
                schema: v1_schema,
                flags: Flags::default(),
            }),
            V2 | V3 => Ok(Self {
                version,
                key_id: KeyId::new(be(1)?),
                hour: be(5)?,
                schema: be(9)?,
                flags: Flags::parse(*raw.get(13).ok_or(OpenErrorKind::Malformed)?)?,
            }),
            _ => Err(OpenErrorKind::UnsupportedVersion),
        }
    }
}

/// The base64url (no padding) length of `raw` bytes.
pub(crate) const fn encoded_len(raw: usize) -> usize {
    (raw / 3) * 4
        + match raw % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// The most raw bytes whose base64url encoding fits in `encoded` characters.
pub(crate) const fn max_raw_len(encoded: usize) -> usize {
    (encoded / 4) * 3
        + match encoded % 4 {
            0 | 1 => 0,
            2 => 1,
            _ => 2,
        }
}

/// The raw envelope length around a plaintext of `plaintext_len` bytes.
pub(crate) const fn envelope_len(
    header_len: usize,
    algorithm: Algorithm,
    plaintext_len: usize,
) -> usize {
    header_len + algorithm.nonce_len() + plaintext_len + TAG_LEN
}

/// The hour (Unix time / 3600) of a Unix time, saturating far beyond any real clock.
pub(crate) fn hour_of(unix_secs: u64) -> u32 {
    u32::try_from(unix_secs / SECONDS_PER_HOUR).unwrap_or(u32::MAX)
}

thread_local! {
    /// Reused per thread so that a seal allocates only its output string and an open nothing
    /// beyond the session value. Between uses it holds only ciphertext or zeroes.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Scratch buffers larger than this are released after use instead of kept.
const SCRATCH_KEEP: usize = 16 * 1024;

/// The thread's scratch buffer, returned (wiped of plaintext by its user) on drop.
struct Scratch(Vec<u8>);

impl Scratch {
    fn take() -> Self {
        // Taking the buffer out (rather than borrowing it) makes re-entrancy, from a Serialize
        // impl that seals, harmless: the inner call just gets an empty buffer.
        let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
        buf.clear();
        Self(buf)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = core::mem::take(&mut self.0);
        if buf.capacity() <= SCRATCH_KEEP {
            let _ = SCRATCH.try_with(|cell| cell.set(buf));
        }
    }
}

/// Why a seal failed below the codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SealFailure {
    Rng,
    Aead,
}

impl From<RngFailure> for SealFailure {
    fn from(_: RngFailure) -> Self {
        Self::Rng
    }
}

impl From<AeadFailure> for SealFailure {
    fn from(_: AeadFailure) -> Self {
        Self::Aead
    }
}

/// An envelope being sealed: `header || nonce room`, then the plaintext the codec appends,
/// then [`seal`](Self::seal).
pub(crate) struct Sealing {
    buf: Scratch,
    header: Header,
    body_start: usize,
}

impl Sealing {
    pub(crate) fn new(header: Header, algorithm: Algorithm) -> Self {
        let mut buf = Scratch::take();
        let (bytes, len) = header.encode();
        buf.0
            .extend_from_slice(bytes.get(..len).unwrap_or_default());
        let body_start = len + algorithm.nonce_len();
        buf.0.resize(body_start, 0);
        Self {
            buf,
            header,
            body_start,
        }
    }

    /// The buffer the plaintext is appended to (after the header and nonce room).
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf.0
    }

    /// Draws the nonce, encrypts the plaintext in place and appends the base64url envelope
    /// to `out` (bytes: a `Set-Cookie` line is built as bytes, so no UTF-8 check is run on
    /// what is ASCII by construction).
    pub(crate) fn seal(
        mut self,
        cipher: &MessageCipher,
        cookie_name: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), SealFailure> {
        let header_len = self.header.len();
        let (header, rest) = self.buf.0.split_at_mut(header_len.min(self.body_start));
        let (nonce, body) =
            rest.split_at_mut(self.body_start.saturating_sub(header_len).min(rest.len()));
        rng::fill(nonce)?;
        let sealed = with_aad(header, cookie_name, &self.header, |aad| {
            cipher.seal(nonce, aad, body)
        });
        // On failure the plaintext is still in the buffer, and `Drop` wipes it.
        let tag = sealed?;
        self.buf.0.extend_from_slice(&tag);
        // Now ciphertext: nothing for `Drop` to wipe.
        self.body_start = self.buf.0.len();
        // One exact allocation, not a doubling series (and no zero fill before the writing).
        URL_SAFE_NO_PAD.encode_append(self.buf.0.as_slice(), out);
        Ok(())
    }
}

impl Drop for Sealing {
    fn drop(&mut self) {
        // After `seal` the buffer holds only the envelope; an abandoned one may hold plaintext
        // (only that range: zeroizing the whole `Vec` would wipe its spare capacity too).
        if let Some(plaintext) = self.buf.0.get_mut(self.body_start..) {
            plaintext.zeroize();
        }
    }
}

/// A decoded envelope, not yet authenticated.
pub(crate) struct Opening {
    buf: Scratch,
    header: Header,
    /// Where the authenticated plaintext lies, once decrypted: wiped on drop.
    plaintext: core::ops::Range<usize>,
}

impl Opening {
    /// Decodes the chunks of a sealed value (each a multiple of four characters but the last)
    /// and parses its header.
    ///
    /// Checks run cheapest first: the total length before any decoding (SECURITY-TESTS D2:
    /// nothing proportional to an oversize value is allocated), canonical base64url (no
    /// padding, no non-zero trailing bits, so no two accepted strings decode to one envelope),
    /// then the version.
    pub(crate) fn decode<'v>(
        chunks: impl Iterator<Item = &'v [u8]> + Clone,
        max_value_len: usize,
        v1_schema: u32,
    ) -> Result<Self, OpenErrorKind> {
        let total = chunks.clone().try_fold(0usize, |sum, chunk| {
            let sum = sum.saturating_add(chunk.len());
            (sum <= max_value_len).then_some(sum)
        });
        let Some(total) = total else {
            return Err(OpenErrorKind::TooLong);
        };
        if total < encoded_len(MIN_ENVELOPE_LEN) {
            return Err(OpenErrorKind::Malformed);
        }
        let mut buf = Scratch::take();
        buf.0.reserve(max_raw_len(total));
        let mut chunks = chunks.peekable();
        while let Some(chunk) = chunks.next() {
            if chunks.peek().is_some() && chunk.len() % CHUNK_ALIGN != 0 {
                return Err(OpenErrorKind::Malformed);
            }
            append_decoded(chunk, &mut buf.0)?;
        }
        let header = Header::parse(&buf.0, v1_schema)?;
        Ok(Self {
            buf,
            header,
            plaintext: 0..0,
        })
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Authenticates and decrypts in place; the plaintext is wiped when `self` drops.
    pub(crate) fn open(
        &mut self,
        cipher: &MessageCipher,
        cookie_name: &str,
    ) -> Result<&[u8], OpenErrorKind> {
        let header_len = self.header.len();
        let nonce_len = cipher.algorithm().nonce_len();
        let raw = self.buf.0.as_mut_slice();
        if raw.len() < header_len + nonce_len + TAG_LEN {
            return Err(OpenErrorKind::Malformed);
        }
        // Set before decrypting, so that `Drop` wipes the body whatever the AEAD leaves in it.
        self.plaintext = header_len + nonce_len..raw.len() - TAG_LEN;
        let (header, rest) = raw.split_at_mut(header_len);
        let (nonce, sealed) = rest.split_at_mut(nonce_len);
        let (body, tag) = sealed.split_at_mut(sealed.len() - TAG_LEN);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().map_err(|_| OpenErrorKind::Malformed)?;
        with_aad(header, cookie_name, &self.header, |aad| {
            cipher.open(nonce, aad, body, tag)
        })
        .map_err(|AeadFailure| OpenErrorKind::Unauthentic)?;
        Ok(body)
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        // Only the plaintext is secret (header, nonce, ciphertext and tag came from the client).
        if let Some(plaintext) = self.buf.0.get_mut(self.plaintext.clone()) {
            plaintext.zeroize();
        }
    }
}

/// Appends what canonical base64url `text` decodes to (no padding, no non-zero trailing bits:
/// no two accepted strings decode to one envelope).
fn append_decoded(text: &[u8], out: &mut Vec<u8>) -> Result<(), OpenErrorKind> {
    URL_SAFE_NO_PAD
        .decode_append(text, out)
        .map_err(|_| OpenErrorKind::Malformed)
}

/// Reads the header of a sealed value from its first chunk alone (to learn the chunk count
/// before joining): the first 20 characters decode to 15 bytes, more than a v2 header.
pub(crate) fn peek_header(first_chunk: &[u8], v1_schema: u32) -> Result<Header, OpenErrorKind> {
    const PEEK_CHARS: usize = 20;
    const _: () = assert!(max_raw_len(PEEK_CHARS) >= V2_HEADER_LEN);
    let head = first_chunk
        .get(..PEEK_CHARS)
        .ok_or(OpenErrorKind::Malformed)?;
    let mut raw = [0u8; max_raw_len(PEEK_CHARS)];
    // Twenty characters decode to exactly `raw`'s fifteen bytes, so the room always fits.
    let raw = URL_SAFE_NO_PAD
        .decode(head, base64_simd::Out::from_slice(&mut raw))
        .map_err(|_| OpenErrorKind::Malformed)?;
    Header::parse(raw, v1_schema)
}

/// Splits a sealed value into chunks of the given lengths, in order (every length but the
/// last a multiple of four, so that each chunk decodes alone; the lengths sum to the value's).
pub(crate) fn split_chunks<'v>(
    value: &'v [u8],
    lens: &'v [usize],
) -> impl Iterator<Item = &'v [u8]> + 'v {
    let mut start = 0;
    lens.iter().map(move |&len| {
        let chunk = value.get(start..start + len).unwrap_or_default();
        start += len;
        chunk
    })
}

/// Runs `f` with the AAD for `header` (whose bytes are `header_bytes`) and `cookie_name`, on
/// the stack when it fits.
fn with_aad<R>(
    header_bytes: &[u8],
    cookie_name: &str,
    header: &Header,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    let name = cookie_name.as_bytes();
    let schema = header.schema.to_be_bytes();
    let schema: &[u8] = if header.version == V1 { &schema } else { &[] };
    let len = header_bytes.len() + name.len() + schema.len();
    let mut stack = [0u8; 160];
    let mut heap = Vec::new();
    let aad = match stack.get_mut(..len) {
        Some(aad) => aad,
        None => {
            heap.resize(len, 0);
            heap.as_mut_slice()
        }
    };
    let (h, rest) = aad.split_at_mut(header_bytes.len());
    let (n, s) = rest.split_at_mut(name.len());
    h.copy_from_slice(header_bytes);
    n.copy_from_slice(name);
    s.copy_from_slice(schema);
    f(aad)
}

const _: () = assert!(MAX_NONCE_LEN <= 24);

#[cfg(test)]
mod tests {
    use super::*;
    // The `base64` crate is the reference the crate's base64url is checked against.
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// The opened plaintext does not outlive the `Opening`: the thread's scratch buffer, kept
    /// for the next request, holds only zeros where it was.
    #[test]
    fn an_opened_plaintext_is_wiped_from_the_scratch_buffer() {
        let key = crate::Key::from_bytes(
            crate::Algorithm::Aes256Gcm,
            b"0123456789abcdefghijklmnopqrstuv",
        )
        .unwrap();
        let cipher = key.message_cipher(490_000);
        let header = Header::new(key.id(), 490_000, SealedAs::Version(0), Flags::default());
        let secret = b"a session that must not linger in freed or reused memory";
        let mut sealing = Sealing::new(header, crate::Algorithm::Aes256Gcm);
        sealing.buffer().extend_from_slice(secret);
        let mut value = Vec::new();
        sealing.seal(&cipher, "sid", &mut value).unwrap();

        let mut opening = Opening::decode(core::iter::once(&value[..]), 4096, 0).unwrap();
        assert_eq!(opening.open(&cipher, "sid").unwrap(), secret);
        drop(opening);
        let kept = SCRATCH.with(Cell::take);
        assert!(kept.len() > secret.len());
        assert!(
            !kept.windows(8).any(|w| secret.windows(8).any(|s| s == w)),
            "plaintext left in the scratch buffer"
        );
    }

    #[test]
    fn headers_encode_and_parse_side_by_side() {
        let v2 = Header::new(
            KeyId::new(0x0102_0304),
            490_000,
            SealedAs::Version(7),
            Flags::new(3, true).unwrap(),
        );
        let (bytes, len) = v2.encode();
        assert_eq!(len, V2_HEADER_LEN);
        assert_eq!(
            bytes,
            [2, 1, 2, 3, 4, 0, 7, 0x7a, 0x10, 0, 0, 0, 7, 0b0001_0010]
        );
        assert_eq!(Header::parse(&bytes, 99), Ok(v2));
        let v3 = Header::new(
            KeyId::new(0x0102_0304),
            490_000,
            SealedAs::Binding(0xdead_beef),
            Flags::new(1, false).unwrap(),
        );
        let (bytes, len) = v3.encode();
        assert_eq!(len, V2_HEADER_LEN);
        assert_eq!(
            bytes,
            [3, 1, 2, 3, 4, 0, 7, 0x7a, 0x10, 0xde, 0xad, 0xbe, 0xef, 0]
        );
        assert_eq!(Header::parse(&bytes, 99), Ok(v3));
        assert_eq!(v3.sealed_as(), SealedAs::Binding(0xdead_beef));
        let v1 = Header::v1(KeyId::new(9), 5, 99);
        let (bytes, len) = v1.encode();
        assert_eq!(len, V1_HEADER_LEN);
        assert_eq!(bytes.get(..len).unwrap(), &[1, 0, 0, 0, 9, 0, 0, 0, 5]);
        assert_eq!(Header::parse(&bytes[..len], 99), Ok(v1));
        for version in (0..=255u8).filter(|v| ![V1, V2, V3].contains(v)) {
            assert_eq!(
                Header::parse(&[version; 14], 0),
                Err(OpenErrorKind::UnsupportedVersion)
            );
        }
        for bit in 5..8 {
            let mut bytes = v2.encode().0;
            bytes[13] |= 1 << bit;
            assert_eq!(Header::parse(&bytes, 0), Err(OpenErrorKind::Flags));
        }
        let (bytes, _) = v2.encode();
        assert_eq!(
            Header::parse(&bytes[..13], 0),
            Err(OpenErrorKind::Malformed)
        );
    }

    #[test]
    fn flags_count_one_to_sixteen_chunks() {
        assert!(Flags::new(0, false).is_none());
        assert!(Flags::new(17, false).is_none());
        for chunks in 1..=MAX_CHUNKS {
            let flags = Flags::new(chunks, chunks % 2 == 0).unwrap();
            assert_eq!(flags.chunks(), chunks);
            assert_eq!(flags.compressed(), chunks % 2 == 0);
        }
        assert_eq!(Flags::default().chunks(), 1);
    }

    #[test]
    fn lengths() {
        assert_eq!(MIN_ENVELOPE_LEN, 37);
        for raw in 0..100 {
            assert_eq!(encoded_len(raw), URL_SAFE_NO_PAD.encode(vec![0; raw]).len());
            assert!(max_raw_len(encoded_len(raw)) >= raw);
            assert!(encoded_len(max_raw_len(raw)) <= raw);
        }
    }

    #[test]
    fn chunks_split_on_whole_bytes_and_rejoin() {
        let raw: Vec<u8> = (0..77u8).collect();
        let value = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(value.len(), 103);
        let chunks: Vec<&[u8]> = split_chunks(value.as_bytes(), &[40, 40, 23]).collect();
        assert_eq!(chunks.concat(), value.as_bytes());
        // Each chunk decodes on its own, to consecutive bytes.
        let decoded: Vec<u8> = chunks
            .iter()
            .flat_map(|c| URL_SAFE_NO_PAD.decode(c).unwrap())
            .collect();
        assert_eq!(decoded, raw);
    }

    /// What `append_decoded` appends to a buffer that already holds a byte (as the scratch
    /// buffer does after the first chunk), or `None` if it refuses `text`.
    fn appended(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0xAA];
        append_decoded(text, &mut out).ok()?;
        Some(out[1..].to_vec())
    }

    /// The decoder accepts exactly the strings the `base64` crate's strict URL_SAFE_NO_PAD
    /// accepts, and decodes them to the same bytes: every length up to 80 characters, each
    /// encoding with every one of its characters replaced by each of the 256 bytes (which
    /// covers padding, the standard alphabet's `+` and `/`, and every non-zero trailing bit).
    #[test]
    fn base64url_accepts_the_canonical_strings_alone() {
        let mut tried = 0;
        let mut accepted = 0;
        for raw_len in 0..60usize {
            let raw: Vec<u8> = (0..raw_len)
                .map(|i| (i * 151 + raw_len).to_le_bytes()[0])
                .collect();
            let text = URL_SAFE_NO_PAD.encode(&raw).into_bytes();
            let mut candidates = vec![text.clone(), [text.as_slice(), b"A"].concat()];
            for at in 0..text.len() {
                for byte in 0..=255u8 {
                    let mut changed = text.clone();
                    changed[at] = byte;
                    candidates.push(changed);
                }
            }
            for candidate in candidates {
                let ours = appended(&candidate);
                let reference = URL_SAFE_NO_PAD.decode(&candidate).ok();
                accepted += usize::from(ours.is_some());
                assert_eq!(ours, reference, "{:?}", String::from_utf8_lossy(&candidate));
                tried += 1;
            }
        }
        // Not vacuous: most candidates are refused (a quarter of the bytes are in the alphabet).
        assert!(
            accepted >= 60 && accepted * 3 < tried,
            "{accepted} of {tried}"
        );
    }

    /// The same comparison on values as long as a chunked session's (up to 6,000 characters,
    /// where the SIMD loop does most of the work): random encodings, each with one to three
    /// random bytes replaced, inserted or removed.
    #[test]
    fn base64url_accepts_long_canonical_strings_alone() {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % below as u64).unwrap()
        };
        let (mut tried, mut accepted) = (0, 0);
        for _ in 0..3000 {
            let raw: Vec<u8> = (0..next(4500))
                .map(|_| next(256).to_le_bytes()[0])
                .collect();
            let mut candidate = URL_SAFE_NO_PAD.encode(&raw).into_bytes();
            if next(4) != 0 {
                for _ in 0..=next(3) {
                    let at = next(candidate.len() + 1);
                    match next(3) {
                        0 if at < candidate.len() => candidate[at] = next(256).to_le_bytes()[0],
                        1 if at < candidate.len() => drop(candidate.remove(at)),
                        _ => candidate.insert(at, next(256).to_le_bytes()[0]),
                    }
                }
            }
            let ours = appended(&candidate);
            accepted += usize::from(ours.is_some());
            tried += 1;
            assert_eq!(ours, URL_SAFE_NO_PAD.decode(&candidate).ok(), "{tried}");
        }
        // Not vacuous: the unchanged encodings (a quarter) and some changed ones are accepted.
        assert!((600..2000).contains(&accepted), "{accepted} of {tried}");
    }
}
