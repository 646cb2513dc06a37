//! Keys: 32 secret bytes, the algorithm they are used with and a key id; and every AEAD call
//! of the crate, behind [`MessageCipher`].

use core::fmt;
use core::str::FromStr;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use base64_simd::{Out, URL_SAFE_NO_PAD};
use chacha20poly1305::XChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{ZeroizeOnDrop, Zeroizing};

pub use self::id::KeyId;
use crate::error::KeyError;
use crate::rng;

pub(crate) mod id;

/// The length of every key, in bytes.
pub const KEY_LEN: usize = 32;

/// The shortest master secret [`Key::derive`] accepts, in bytes.
pub(crate) const MIN_MASTER_LEN: usize = 32;

/// AES-256-GCM nonce length (96 bits, NIST SP 800-38D §8.2.2 random construction).
pub(crate) const AES_GCM_NONCE_LEN: usize = 12;
/// XChaCha20-Poly1305 nonce length (192 bits).
pub(crate) const XCHACHA_NONCE_LEN: usize = 24;
/// The longest nonce of any algorithm.
pub(crate) const MAX_NONCE_LEN: usize = XCHACHA_NONCE_LEN;
/// AEAD tag length, for both algorithms.
pub(crate) const TAG_LEN: usize = 16;

const _: () = assert!(MAX_NONCE_LEN >= AES_GCM_NONCE_LEN);

/// The prefix of a key string; the `1` is the key string format version.
const KEY_STRING_PREFIX: &str = "ssk1";

/// Marks an explicitly set key id in a key string (`ssk1.<alg>.=0000002a.<bytes>`): without
/// it, the id must be the one derived from the key bytes, so each key has one spelling.
const EXPLICIT_ID_MARK: char = '=';

/// Length of the base64url (no padding) encoding of [`KEY_LEN`] bytes.
const KEY_B64_LEN: usize = 43;
const _: () = assert!(KEY_B64_LEN == (KEY_LEN * 4).div_ceil(3));

// Domain separation labels: one per use of the key material, so that no two derivations can
// ever produce related outputs.
const KEY_ID_LABEL: &[u8] = b"sealed-session/v1/key-id";
const DERIVE_SALT: &[u8] = b"sealed-session/v1/derive";
const MESSAGE_KEY_SALT: &[u8] = b"sealed-session/v1/message-key";

/// The AEAD a [`Key`] seals and opens with.
///
/// The algorithm belongs to the key, so one [`KeyRing`](crate::KeyRing) can hold keys of both
/// algorithms during a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-256-GCM with a random 96-bit nonce. The default: with AES instructions (every
    /// x86-64 server and most ARM server CPUs) it is the fastest AEAD here by 2-4x.
    #[default]
    Aes256Gcm,
    /// XChaCha20-Poly1305 with a random 192-bit nonce: constant-time and fast without AES
    /// instructions (some ARM boards, WASM).
    XChaCha20Poly1305,
}

impl Algorithm {
    /// The algorithm's name in key strings: `aes-256-gcm` or `xchacha20-poly1305`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "aes-256-gcm",
            Self::XChaCha20Poly1305 => "xchacha20-poly1305",
        }
    }

    /// The nonce length in bytes: 12 for AES-256-GCM, 24 for XChaCha20-Poly1305.
    #[must_use]
    pub const fn nonce_len(self) -> usize {
        match self {
            Self::Aes256Gcm => AES_GCM_NONCE_LEN,
            Self::XChaCha20Poly1305 => XCHACHA_NONCE_LEN,
        }
    }

    /// One byte that names the algorithm inside derivations.
    const fn code(self) -> u8 {
        match self {
            Self::Aes256Gcm => 1,
            Self::XChaCha20Poly1305 => 2,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "aes-256-gcm" => Ok(Self::Aes256Gcm),
            "xchacha20-poly1305" => Ok(Self::XChaCha20Poly1305),
            _ => Err(KeyError::UnknownAlgorithm),
        }
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    /// Parses exactly 8 lowercase hex digits: one spelling per id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // from_str_radix alone would also take a sign, fewer digits and upper case.
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if s.len() != 8 || !s.bytes().all(lower_hex) {
            return Err(KeyError::Format { part: "key id" });
        }
        u32::from_str_radix(s, 16)
            .map(Self::new)
            .map_err(|_| KeyError::Format { part: "key id" })
    }
}

/// A secret key: 32 bytes, an [`Algorithm`] and a [`KeyId`].
///
/// The bytes are zeroized when the key is dropped, `Debug` shows only the id and algorithm,
/// and equality is constant time. There is deliberately no `Clone`: a key lives in one place,
/// usually a [`KeyRing`](crate::KeyRing), whose clones share it.
///
/// A key is never used to seal directly: every envelope is sealed under a message key derived
/// from it for the hour of sealing (see [`KeyRing`](crate::KeyRing)).
///
/// # Example
///
/// ```
/// use sealed_session::{Algorithm, Key};
///
/// let key = Key::generate(Algorithm::Aes256Gcm);
/// // The key string is what you store in a secret manager or an environment variable.
/// let stored = key.to_string();
/// let loaded: Key = stored.parse()?;
/// assert_eq!(loaded.id(), key.id());
/// assert!(!format!("{key:?}").contains(&stored[stored.len() - 43..]));
/// # Ok::<(), sealed_session::KeyError>(())
/// ```
#[derive(ZeroizeOnDrop)]
pub struct Key {
    bytes: [u8; KEY_LEN],
    #[zeroize(skip)]
    algorithm: Algorithm,
    #[zeroize(skip)]
    id: KeyId,
    /// Whether the id was set with [`Key::with_id`] rather than derived.
    #[zeroize(skip)]
    explicit_id: bool,
}

impl Key {
    /// Generates a new key from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random number generator fails, which on supported
    /// systems means the system is unusable. Use [`Key::try_generate`] to handle it.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn generate(algorithm: Algorithm) -> Self {
        Self::try_generate(algorithm)
            .expect("the operating system's random number generator failed")
    }

    /// Generates a new key from the operating system's CSPRNG.
    ///
    /// # Errors
    ///
    /// [`KeyError::Rng`] if the operating system's random number generator fails.
    pub fn try_generate(algorithm: Algorithm) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rng::fill_from_os(bytes.as_mut()).map_err(|_| KeyError::Rng)?;
        Self::from_bytes(algorithm, bytes.as_ref())
    }

    /// Builds a key from exactly [`KEY_LEN`] bytes of key material.
    ///
    /// # Errors
    ///
    /// [`KeyError::Length`] unless `bytes` is exactly 32 bytes long; [`KeyError::Weak`] if all
    /// bytes are equal (all zeros, for example), which is a placeholder, not a key.
    ///
    /// # Security
    ///
    /// The bytes must come from a CSPRNG (or from [`Key::derive`]). There is deliberately no
    /// constructor from a password: derive keys from a high-entropy master secret instead.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| KeyError::Length { len: bytes.len() })?;
        let mut key = Self {
            bytes: array,
            algorithm,
            id: KeyId::new(0),
            explicit_id: false,
        };
        if key.bytes.iter().all(|&b| Some(&b) == key.bytes.first()) {
            return Err(KeyError::Weak);
        }
        key.id = key.derived_id();
        Ok(key)
    }

    /// Derives a key from a master secret and a context label with HKDF-SHA256 (RFC 5869).
    ///
    /// Different contexts (for example `b"sessions 2026-11"`) give independent keys, so one
    /// master secret can feed several rings or rotation generations.
    ///
    /// # Errors
    ///
    /// [`KeyError::MasterTooShort`] if `master` is shorter than 32 bytes.
    ///
    /// # Security
    ///
    /// The master must be a high-entropy secret (at least 32 random bytes), not a password:
    /// HKDF does no key stretching.
    pub fn derive(algorithm: Algorithm, master: &[u8], context: &[u8]) -> Result<Self, KeyError> {
        if master.len() < MIN_MASTER_LEN {
            return Err(KeyError::MasterTooShort { len: master.len() });
        }
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        Hkdf::<Sha256>::new(Some(DERIVE_SALT), master)
            .expand_multi_info(&[context, &[algorithm.code()]], okm.as_mut())
            .map_err(|_| KeyError::Length { len: KEY_LEN })?;
        Self::from_bytes(algorithm, okm.as_ref())
    }

    /// Sets an explicit key id instead of the derived one.
    ///
    /// Every instance must then use the same id for this key; key strings carry it, marked as
    /// explicit (`ssk1.<algorithm>.=<id>.<bytes>`).
    #[must_use]
    pub fn with_id(mut self, id: KeyId) -> Self {
        self.id = id;
        self.explicit_id = true;
        self
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The id this key material gets when none is set: the first four bytes of
    /// SHA-256(label || algorithm || key), a one-way function, so the id reveals nothing of the
    /// key.
    fn derived_id(&self) -> KeyId {
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update([self.algorithm.code()])
            .chain_update(self.bytes)
            .finalize();
        let mut id = [0u8; 4];
        id.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
        KeyId::new(u32::from_be_bytes(id))
    }

    /// Builds the AEAD for the message key of `hour`.
    ///
    /// Message key = HKDF-SHA256(salt = label, ikm = key, info = algorithm || key id || hour):
    /// a fresh AEAD key every hour keeps the random-nonce budget of NIST SP 800-38D §8.3 (2^32
    /// seals per key) per hour instead of per key lifetime.
    ///
    /// Call it only below a wiped stack, as `RingKey::derive` does: the result's bytes that
    /// the cipher does not write (the XChaCha20 variant's tail of the enum) come from the
    /// caller's frame.
    pub(crate) fn message_cipher(&self, hour: u32) -> MessageCipher {
        let message_key = self.message_key(hour);
        // The derivation left the ring key on the stack below this frame (HMAC's padded key
        // block), where the cipher is built next: see `wipe_stack_below`.
        wipe_stack_below();
        MessageCipher::new(self.algorithm, &message_key)
    }

    /// The message key of `hour` (see [`message_cipher`](Self::message_cipher)), derived in a
    /// frame of its own.
    #[inline(never)]
    fn message_key(&self, hour: u32) -> Zeroizing<[u8; KEY_LEN]> {
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        let info = [
            &[self.algorithm.code()][..],
            &self.id.get().to_be_bytes(),
            &hour.to_be_bytes(),
        ];
        // 32 bytes is far below HKDF-SHA256's 255 * 32 byte output limit, so this cannot fail;
        // if it did, the all-zero key would only make opening fail, never leak.
        let _ = Hkdf::<Sha256>::new(Some(MESSAGE_KEY_SALT), &self.bytes)
            .expand_multi_info(&info, okm.as_mut());
        okm
    }

    /// Whether both keys hold the same bytes, in constant time.
    pub(crate) fn same_bytes(&self, other: &Self) -> bool {
        bool::from(self.bytes.ct_eq(&other.bytes))
    }

    /// Whether both keys hold the same bytes, algorithm and id, in constant time with respect
    /// to the bytes.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.same_bytes(other) & (self.algorithm == other.algorithm) & (self.id == other.id)
    }
}

/// The AEAD of one (key, hour) message key, built once and cached by the key ring.
///
/// With the `zeroize` features of `aes`, `ghash` and `polyval` enabled (Cargo.toml), dropping
/// it wipes the AES round keys and the GHASH key; XChaCha20-Poly1305 wipes its key itself.
// Always behind an `Arc` in the ring's cache, so the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum MessageCipher {
    Aes256Gcm(Aes256Gcm),
    XChaCha20Poly1305(XChaCha20Poly1305),
}

impl MessageCipher {
    /// Built in a frame of its own, below a stack that `wipe_stack_below` cleared.
    #[inline(never)]
    fn new(algorithm: Algorithm, message_key: &[u8; KEY_LEN]) -> Self {
        let key = message_key.into();
        match algorithm {
            Algorithm::Aes256Gcm => Self::Aes256Gcm(Aes256Gcm::new(key)),
            Algorithm::XChaCha20Poly1305 => Self::XChaCha20Poly1305(XChaCha20Poly1305::new(key)),
        }
    }
}

/// Bytes of stack `wipe_stack_below` clears: twice the deepest point a cipher construction
/// writes to, measured in the generated code (rustc 1.95, x86-64): the unwritten half of the
/// AES union lies up to about 7.9 KiB below the caller at opt-level 0, 2.5 KiB at opt-level 1
/// (the tests), 1.7 KiB in release.
const STACK_WIPE_LEN: usize = 16 * 1024;

/// Zeroes the stack just below the caller's frame, where its next call runs.
///
/// aes 0.8's auto-detected AES type is a union sized for the software key schedule, of which
/// AES-NI writes only the first half; the rest keeps whatever the stack held where the cipher
/// was built, and is copied into the heap with it, where no `Drop` wipes it (SECURITY.md F3).
/// Stale stack there held ring-key bytes from the key derivation (found by `tests/wipe.rs` in
/// every freed cipher under some codegen settings). A cipher is therefore built only in
/// frames below a wiped stretch: the cache calls this before it derives, and
/// [`Key::message_cipher`] again between the derivation and the construction.
#[inline(never)]
pub(crate) fn wipe_stack_below() {
    let mut zeros = [0u8; STACK_WIPE_LEN];
    // Makes the zeros observable, so the stores are not optimised away.
    core::hint::black_box(&mut zeros);
}

/// The AEAD refused: a wrong nonce length (a bug, not input) on seal, or a bad tag on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AeadFailure;

impl Drop for MessageCipher {
    /// polyval 0.6's auto-detected backend (used by aes-gcm 0.10's GHASH) keeps its state in a
    /// `ManuallyDrop` union without a `Drop`, so its `zeroize` feature never runs and the
    /// POLYVAL key would stay in freed memory. Overwriting the cipher in place with one under
    /// the all-zero key, whose keys are public, replaces those bytes before the allocation is
    /// freed (the old value's own `Drop`s wipe the AES round keys). The replacement is built
    /// below a wiped stretch of stack, or its AES union would carry stale stack into the
    /// allocation (see [`wipe_stack_below`]).
    fn drop(&mut self) {
        if let Self::Aes256Gcm(aead) = self {
            wipe_stack_below();
            overwrite_with_public_key(aead);
        }
    }
}

/// Replaces `aead` with the cipher of the all-zero key, in a frame below the caller's wipe.
#[inline(never)]
fn overwrite_with_public_key(aead: &mut Aes256Gcm) {
    *aead = Aes256Gcm::new(&GenericArray::default());
}

impl MessageCipher {
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Aes256Gcm(_) => Algorithm::Aes256Gcm,
            Self::XChaCha20Poly1305(_) => Algorithm::XChaCha20Poly1305,
        }
    }

    /// Encrypts `buf` in place under `nonce` and `aad`; returns the tag.
    pub(crate) fn seal(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadFailure> {
        let tag = match self {
            Self::Aes256Gcm(aead) => {
                let nonce: [u8; AES_GCM_NONCE_LEN] = nonce.try_into().map_err(|_| AeadFailure)?;
                aead.encrypt_in_place_detached(&nonce.into(), aad, buf)
            }
            Self::XChaCha20Poly1305(aead) => {
                let nonce: [u8; XCHACHA_NONCE_LEN] = nonce.try_into().map_err(|_| AeadFailure)?;
                aead.encrypt_in_place_detached(&nonce.into(), aad, buf)
            }
        };
        // The AEADs only refuse plaintexts of gigabytes, far beyond any size limit.
        tag.map(Into::into).map_err(|_| AeadFailure)
    }

    /// Decrypts `buf` in place if `tag` authenticates it under `nonce` and `aad`.
    pub(crate) fn open(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadFailure> {
        let tag = GenericArray::from(*tag);
        let opened = match self {
            Self::Aes256Gcm(aead) => {
                let nonce: [u8; AES_GCM_NONCE_LEN] = nonce.try_into().map_err(|_| AeadFailure)?;
                aead.decrypt_in_place_detached(&nonce.into(), aad, buf, &tag)
            }
            Self::XChaCha20Poly1305(aead) => {
                let nonce: [u8; XCHACHA_NONCE_LEN] = nonce.try_into().map_err(|_| AeadFailure)?;
                aead.decrypt_in_place_detached(&nonce.into(), aad, buf, &tag)
            }
        };
        opened.map_err(|_| AeadFailure)
    }
}

impl PartialEq for Key {
    /// Constant time with respect to the key bytes.
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The key string: `ssk1.<algorithm>.<key id as 8 hex digits>.<key bytes as base64url>`, with
/// `=` before the id when it was set explicitly ([`Key::with_id`]).
///
/// # Security
///
/// This prints the secret key bytes: it is meant for `examples/keygen.rs` and for storing the
/// key in a secret manager, never for logs. `Debug` is the redacted form.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut encoded = Zeroizing::new([0u8; KEY_B64_LEN]);
        // `KEY_B64_LEN` is the encoded length of `KEY_LEN` bytes: the room fits.
        let text =
            URL_SAFE_NO_PAD.encode_as_str(self.bytes.as_slice(), Out::from_slice(encoded.as_mut()));
        let mark = if self.explicit_id { "=" } else { "" };
        write!(
            f,
            "{KEY_STRING_PREFIX}.{}.{mark}{}.{text}",
            self.algorithm, self.id
        )
    }
}

impl FromStr for Key {
    type Err = KeyError;

    /// Parses a key string as written by `Display`, and nothing else: the id is 8 lowercase
    /// hex digits, the bytes canonical base64url, and an id without the explicit mark must be
    /// the key's derived id (so one key has one spelling).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.');
        let (Some(prefix), Some(algorithm), Some(id), Some(secret), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(KeyError::Format {
                part: "expected four dot-separated parts",
            });
        };
        if prefix != KEY_STRING_PREFIX {
            return Err(KeyError::Format { part: "prefix" });
        }
        let algorithm: Algorithm = algorithm.parse()?;
        let (explicit, id) = match id.strip_prefix(EXPLICIT_ID_MARK) {
            Some(id) => (true, id),
            None => (false, id),
        };
        let id: KeyId = id.parse()?;
        if secret.len() != KEY_B64_LEN {
            return Err(KeyError::Format { part: "key bytes" });
        }
        // 43 characters decode to `KEY_LEN` bytes at most: the room fits.
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        let material = URL_SAFE_NO_PAD
            .decode(secret.as_bytes(), Out::from_slice(bytes.as_mut()))
            .map_err(|_| KeyError::Format { part: "key bytes" })?;
        let key = Self::from_bytes(algorithm, material)?;
        if explicit {
            Ok(key.with_id(id))
        } else if key.id == id {
            Ok(key)
        } else {
            Err(KeyError::IdMismatch { id })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_lengths_are_the_algorithms_own() {
        assert_eq!(Algorithm::Aes256Gcm.nonce_len(), 12);
        assert_eq!(Algorithm::XChaCha20Poly1305.nonce_len(), 24);
        assert_eq!(MAX_NONCE_LEN, 24);
        assert_eq!(TAG_LEN, 16);
        assert_eq!(MIN_MASTER_LEN, KEY_LEN);
    }

    #[test]
    fn key_strings_have_one_spelling() {
        let key = Key::from_bytes(
            Algorithm::Aes256Gcm,
            &[7; 31].iter().chain(&[8]).copied().collect::<Vec<_>>(),
        )
        .unwrap();
        let text = key.to_string();
        assert_eq!(text.parse::<Key>().unwrap(), key);
        // Upper-case ids are another spelling.
        let id = key.id().to_string();
        let upper = text.replace(&id, &id.to_uppercase());
        if upper != text {
            assert!(upper.parse::<Key>().is_err());
        }
        // Another id without the explicit mark is refused; with it, kept.
        let other = KeyId::new(key.id().get() ^ 1).to_string();
        let wrong = text.replace(&id, &other);
        assert_eq!(
            wrong.parse::<Key>().unwrap_err(),
            KeyError::IdMismatch {
                id: KeyId::new(key.id().get() ^ 1)
            }
        );
        let explicit = text.replace(&id, &format!("={other}"));
        let parsed: Key = explicit.parse().unwrap();
        assert_eq!(parsed.id().get(), key.id().get() ^ 1);
        assert_eq!(parsed.to_string(), explicit);
    }

    #[test]
    fn message_ciphers_seal_and_open_with_their_own_nonce_length() {
        for algorithm in [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305] {
            let key = Key::from_bytes(
                algorithm,
                &[3; 16].iter().chain(&[4; 16]).copied().collect::<Vec<_>>(),
            )
            .unwrap();
            let cipher = key.message_cipher(1);
            assert_eq!(cipher.algorithm(), algorithm);
            let nonce = vec![9; algorithm.nonce_len()];
            let mut buf = *b"plaintext";
            let tag = cipher.seal(&nonce, b"aad", &mut buf).unwrap();
            assert_ne!(&buf, b"plaintext");
            assert_eq!(
                cipher.open(&nonce, b"other", &mut buf.clone(), &tag),
                Err(AeadFailure)
            );
            cipher.open(&nonce, b"aad", &mut buf, &tag).unwrap();
            assert_eq!(&buf, b"plaintext");
            // A nonce of the other algorithm's length is refused, not truncated.
            let wrong = vec![9; 12 + 24 - algorithm.nonce_len()];
            assert_eq!(cipher.seal(&wrong, b"aad", &mut buf), Err(AeadFailure));
        }
    }
}
