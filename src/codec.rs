//! The codec: session data + id + timestamps <-> sealed string, with exact size prediction.
//!
//! The only home of postcard in the crate: the plaintext layout, encoding the data with its
//! round-trip check, change detection by comparing encodings, and the size maths. Usable
//! alone, without HTTP: it is what the middleware calls.

use core::fmt;
use core::time::Duration;

use postcard::ser_flavors::{Flavor, Size};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::envelope::{self, Header, Opening, SealFailure, Sealing};
use crate::error::{ConfigError, OpenError, OpenErrorKind, SessionError};
use crate::key::{Algorithm, KeyId};
use crate::ring::{KeyLookupError, KeyRing, OpeningKey, RingView};
use crate::rng;

/// The default idle timeout: a session not used for a day expires.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The default absolute lifetime: a session expires a week after it was created, however
/// active.
pub(crate) const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The longest lifetime accepted: browsers cap cookie lifetimes at 400 days
/// (RFC 6265bis §5.6.1, §5.6.2).
pub(crate) const MAX_LIFETIME_LIMIT: Duration = Duration::from_secs(400 * 24 * 60 * 60);
/// The default clock skew tolerated between instances.
pub(crate) const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// The largest clock skew that can be configured.
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60 * 60);
/// The default longest cookie value, in bytes. Browsers keep at most 4096 bytes of name, value
/// and attributes per cookie, so no useful value is longer.
pub(crate) const DEFAULT_MAX_VALUE_LEN: usize = 4096;
/// The largest value limit that can be configured, in bytes.
pub(crate) const MAX_VALUE_LEN_LIMIT: usize = 16 * 1024;
/// The first allocation for a session's encoding: one allocation for most sessions.
#[cfg(feature = "tower")]
const ENCODE_CAPACITY: usize = 256;
/// Length of a [`SessionId`], in bytes.
pub(crate) const SESSION_ID_LEN: usize = 16;

const _: () = assert!(DEFAULT_IDLE_TIMEOUT.as_secs() <= DEFAULT_MAX_LIFETIME.as_secs());
const _: () = assert!(DEFAULT_MAX_LIFETIME.as_secs() <= MAX_LIFETIME_LIMIT.as_secs());
const _: () = assert!(DEFAULT_CLOCK_SKEW.as_secs() <= MAX_CLOCK_SKEW.as_secs());
const _: () = assert!(DEFAULT_MAX_VALUE_LEN <= MAX_VALUE_LEN_LIMIT);
const _: () = assert!(MAX_CLOCK_SKEW.as_secs() == 3600);
const _: () = assert!(MAX_LIFETIME_LIMIT.as_secs() == 400 * 86_400);

/// A random 128-bit session id, sealed with the session.
///
/// It changes when the application calls `cycle_id` (on login), so the identity after login is
/// never carried by a cookie that existed before it. It is not a secret (the sealed cookie is
/// the bearer credential), but it is unpredictable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionId([u8; SESSION_ID_LEN]);

impl SessionId {
    /// A new random id.
    ///
    /// # Errors
    ///
    /// [`SessionError::Rng`] if the operating system's random number generator fails.
    pub fn generate() -> Result<Self, SessionError> {
        let mut id = [0u8; SESSION_ID_LEN];
        rng::fill(&mut id).map_err(|_| SessionError::Rng)?;
        Ok(Self(id))
    }

    /// An id with these bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; SESSION_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The id's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; SESSION_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for SessionId {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SessionId {
    /// Redacted: an id in a log lets whoever reads the log correlate that user's requests.
    /// `Display` prints it when the application means to.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

/// A session's identity and birth time, sealed with its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionMeta {
    /// The session id.
    pub id: SessionId,
    /// When the session was created (or its id last cycled), in Unix seconds. The absolute
    /// lifetime counts from here.
    pub created: u64,
}

impl SessionMeta {
    /// A new session created at `now` (Unix seconds) with a random id.
    ///
    /// # Errors
    ///
    /// [`SessionError::Rng`] if the operating system's random number generator fails.
    pub fn new(now: u64) -> Result<Self, SessionError> {
        Ok(Self {
            id: SessionId::generate()?,
            created: now,
        })
    }
}

/// A sealed session: the cookie value and the expiry sealed into it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sealed {
    /// The cookie value (base64url).
    pub value: String,
    /// When the session expires unless it is re-sealed, in Unix seconds.
    pub expires: u64,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("expires", &self.expires)
            .finish()
    }
}

/// An opened session.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Opened<T> {
    /// The session's id and creation time.
    pub meta: SessionMeta,
    /// When the session expires unless re-sealed, in Unix seconds.
    pub expires: u64,
    /// The session data.
    pub data: T,
    /// The key that opened it.
    pub key_id: KeyId,
    /// Whether that key is the ring's primary. If not, re-seal the session so that it moves to
    /// the primary key (the middleware does this on the same response).
    pub by_primary: bool,
}

impl<T> fmt::Debug for Opened<T> {
    /// Omits the session data, which may hold personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("meta", &self.meta)
            .field("expires", &self.expires)
            .field("key_id", &self.key_id)
            .field("by_primary", &self.by_primary)
            .finish_non_exhaustive()
    }
}

/// Seals session data into cookie values and opens them again.
///
/// The plaintext is `postcard(session id, created, expires, data)`; it is sealed under the
/// ring's primary key for one cookie name and one schema version (both authenticated, so a
/// value cannot be replayed as another cookie or misread as another shape of data). Opening
/// checks the absolute and idle lifetimes against the caller's `now`, from the authenticated
/// plaintext only. Cloning is cheap and shares the ring.
///
/// # Example
///
/// ```
/// use sealed_session::{Algorithm, Codec, Key, KeyRing, SessionMeta};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Cart { items: Vec<u32> }
///
/// let codec = Codec::new(KeyRing::new(Key::generate(Algorithm::Aes256Gcm)));
/// let now = 1_764_000_000; // Unix seconds; the caller owns the clock
///
/// let meta = SessionMeta::new(now)?;
/// let cart = Cart { items: vec![7, 42] };
/// let sealed = codec.seal("cart", &meta, &cart, now)?;
/// assert_eq!(sealed.value.len(), codec.sealed_len(&meta, &cart, now)?);
///
/// let opened = codec.open::<Cart>("cart", &sealed.value, now + 60).expect("authentic");
/// assert_eq!(opened.data, cart);
/// assert_eq!(opened.meta, meta);
///
/// // Bound to the cookie name, and expired after the idle timeout (a day by default).
/// assert!(codec.open::<Cart>("other", &sealed.value, now).is_err());
/// assert!(codec.open::<Cart>("cart", &sealed.value, now + 24 * 3600).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Codec {
    ring: KeyRing,
    idle_timeout: u64,
    max_lifetime: u64,
    clock_skew: u64,
    schema_version: u32,
    max_value_len: usize,
}

/// Why a candidate value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Refused(OpenError),
    /// It passed every check short of the AEAD, and the request's AEAD budget was spent.
    OverBudget,
}

impl From<OpenError> for Refusal {
    fn from(error: OpenError) -> Self {
        Self::Refused(error)
    }
}

/// The shape of the `Set-Cookie` line a value goes into, for the size check: the bytes around
/// the value, whether a Max-Age is written (its digits depend on the expiry), and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineShape {
    /// Every byte of the line but the value and the Max-Age digits.
    pub(crate) fixed_len: usize,
    pub(crate) max_age: bool,
    pub(crate) limit: usize,
}

/// The session data to seal: a value, or its postcard encoding made earlier.
#[derive(Debug)]
pub(crate) enum Data<'a, T: ?Sized> {
    Value(&'a T),
    Encoded(&'a [u8]),
}

impl<T: ?Sized> Clone for Data<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Data<'_, T> {}

impl Codec {
    /// A codec over `ring` with the default lifetimes (1 day idle, 7 days absolute), a clock
    /// skew of 60 s, schema version 0 and a 4096-byte value limit.
    #[must_use]
    pub fn new(ring: KeyRing) -> Self {
        Self {
            ring,
            idle_timeout: DEFAULT_IDLE_TIMEOUT.as_secs(),
            max_lifetime: DEFAULT_MAX_LIFETIME.as_secs(),
            clock_skew: DEFAULT_CLOCK_SKEW.as_secs(),
            schema_version: 0,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }

    /// A codec from settings already validated by `SessionConfig`.
    #[cfg(feature = "tower")]
    pub(crate) fn from_validated(
        ring: KeyRing,
        (idle_timeout, max_lifetime): (Duration, Duration),
        clock_skew: Duration,
        schema_version: u32,
        max_value_len: usize,
    ) -> Self {
        Self {
            ring,
            idle_timeout: idle_timeout.as_secs(),
            max_lifetime: max_lifetime.as_secs(),
            clock_skew: clock_skew.as_secs(),
            schema_version,
            max_value_len,
        }
    }

    /// Sets the idle timeout (a session not re-sealed for this long expires) and the absolute
    /// lifetime (a session expires this long after creation, however active). Whole seconds.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Lifetime`] if either is under a second, the idle timeout exceeds the
    /// absolute lifetime, or the absolute lifetime exceeds 400 days.
    pub fn with_lifetimes(mut self, idle: Duration, max: Duration) -> Result<Self, ConfigError> {
        let (idle, max) = lifetimes(idle, max)?;
        (self.idle_timeout, self.max_lifetime) = (idle.as_secs(), max.as_secs());
        Ok(self)
    }

    /// Sets the clock skew tolerated between instances: a session created up to this far in
    /// the future still opens.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ClockSkew`] above an hour.
    pub fn with_clock_skew(mut self, skew: Duration) -> Result<Self, ConfigError> {
        self.clock_skew = clock_skew(skew)?.as_secs();
        Ok(self)
    }

    /// Sets the schema version, which is authenticated with every value: bump it whenever the
    /// shape of the session type changes, so that values sealed for the old shape are refused
    /// instead of misread (postcard is not self-describing).
    #[must_use]
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    /// Sets the longest cookie value sealed or opened, in bytes. Longer incoming values are
    /// refused before decoding.
    ///
    /// # Errors
    ///
    /// [`ConfigError::CookieSize`] if it cannot hold an empty session, or is above 16 KiB.
    pub fn with_max_value_len(mut self, len: usize) -> Result<Self, ConfigError> {
        check_max_value_len(len)?;
        self.max_value_len = len;
        Ok(self)
    }

    /// The key ring. Rotating it (through any clone) takes effect at once.
    #[must_use]
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// The idle timeout.
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }

    /// The absolute lifetime.
    #[must_use]
    pub fn max_lifetime(&self) -> Duration {
        Duration::from_secs(self.max_lifetime)
    }

    /// The schema version.
    #[must_use]
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// The longest cookie value sealed or opened, in bytes.
    #[must_use]
    pub fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    /// When a session created at `created` and sealed at `now` expires: after the idle timeout,
    /// but never after the absolute lifetime.
    #[must_use]
    pub fn expires_at(&self, created: u64, now: u64) -> u64 {
        now.saturating_add(self.idle_timeout)
            .min(created.saturating_add(self.max_lifetime))
    }

    /// Seals `data` for the cookie `cookie_name` under the primary key, at time `now` (Unix
    /// seconds). The value expires at [`expires_at`](Self::expires_at)`(meta.created, now)`; a
    /// session already past its absolute lifetime seals into a value that no longer opens.
    ///
    /// # Errors
    ///
    /// [`SessionError::TooLarge`] (sizes of the cookie value) if the value would exceed the
    /// limit, [`SessionError::Serialize`] if `data` cannot be serialized,
    /// [`SessionError::Rng`] if no nonce could be drawn. Nothing is allocated in proportion
    /// to an oversize `data`.
    pub fn seal<T: Serialize + ?Sized>(
        &self,
        cookie_name: &str,
        meta: &SessionMeta,
        data: &T,
        now: u64,
    ) -> Result<Sealed, SessionError> {
        let mut value = String::new();
        let expires = self.seal_into(&mut value, cookie_name, meta, Data::Value(data), now)?;
        Ok(Sealed { value, expires })
    }

    /// Appends the sealed value to `out` (which is left as it was on error) and returns the
    /// expiry sealed into it. A seal is one straight sequence: the primary key, the header,
    /// the plaintext written into the envelope buffer under a cap, the AEAD, base64url.
    pub(crate) fn seal_into<T: Serialize + ?Sized>(
        &self,
        out: &mut String,
        cookie_name: &str,
        meta: &SessionMeta,
        data: Data<'_, T>,
        now: u64,
    ) -> Result<u64, SessionError> {
        let ring = self.ring.view();
        let key = ring.sealing_key(now);
        let algorithm = key.key().algorithm();
        let hour = envelope::hour_of(now);
        let header = Header::v1(key.key().id(), hour, self.schema_version);
        let expires = self.expires_at(meta.created, now);
        let head = (&meta.id, meta.created, expires);

        let mut sealing = Sealing::new(header, algorithm);
        let room = self.max_plaintext_len(&header, algorithm);
        let limit = sealing.buffer().len().saturating_add(room);
        let written = write_capped(sealing.buffer(), limit, &head).and_then(|()| match data {
            Data::Value(value) => write_capped(sealing.buffer(), limit, value),
            Data::Encoded(bytes) => CappedAppend {
                buf: sealing.buffer(),
                limit,
            }
            .try_extend(bytes),
        });
        if let Err(error) = written {
            return Err(match error {
                postcard::Error::SerializeBufferFull => SessionError::TooLarge {
                    size: data.encoded_len().map_or(usize::MAX, |len| {
                        self.value_len(&header, algorithm, &head, len)
                    }),
                    limit: self.max_value_len,
                },
                _ => SessionError::Serialize,
            });
        }
        let cipher = key.sealing_cipher(hour);
        sealing
            .seal(cipher.cipher(), cookie_name, out)
            .map_err(|failure| match failure {
                SealFailure::Rng => SessionError::Rng,
                // Only for plaintexts of gigabytes, far beyond any limit.
                SealFailure::Aead => SessionError::TooLarge {
                    size: usize::MAX,
                    limit: self.max_value_len,
                },
            })?;
        Ok(expires)
    }

    /// The exact length of the value [`seal`](Self::seal) would return now, without sealing.
    ///
    /// # Errors
    ///
    /// [`SessionError::Serialize`] if `data` cannot be serialized. The limit is not applied.
    pub fn sealed_len<T: Serialize + ?Sized>(
        &self,
        meta: &SessionMeta,
        data: &T,
        now: u64,
    ) -> Result<usize, SessionError> {
        let data_len = Data::Value(data)
            .encoded_len()
            .ok_or(SessionError::Serialize)?;
        Ok(self.sealed_value_len(meta, data_len, now))
    }

    /// The length of the value sealed now for data whose encoding is `data_len` bytes.
    pub(crate) fn sealed_value_len(&self, meta: &SessionMeta, data_len: usize, now: u64) -> usize {
        let ring = self.ring.view();
        let key = ring.sealing_key(now).key();
        let header = Header::v1(key.id(), envelope::hour_of(now), self.schema_version);
        let head = (&meta.id, meta.created, self.expires_at(meta.created, now));
        self.value_len(&header, key.algorithm(), &head, data_len)
    }

    /// The length of the whole `Set-Cookie` line for data whose encoding is `data_len` bytes,
    /// refused with its exact size when over the line's limit.
    #[cfg(feature = "tower")]
    pub(crate) fn check_line(
        &self,
        meta: &SessionMeta,
        data_len: usize,
        now: u64,
        line: LineShape,
    ) -> Result<usize, SessionError> {
        let value_len = self.sealed_value_len(meta, data_len, now);
        let max_age = self.expires_at(meta.created, now).saturating_sub(now);
        let digits = if line.max_age {
            decimal_digits(max_age)
        } else {
            0
        };
        let size = line
            .fixed_len
            .saturating_add(value_len)
            .saturating_add(digits);
        if size > line.limit {
            return Err(SessionError::TooLarge {
                size,
                limit: line.limit,
            });
        }
        Ok(size)
    }

    fn value_len(
        &self,
        header: &Header,
        algorithm: Algorithm,
        head: &(&SessionId, u64, u64),
        data_len: usize,
    ) -> usize {
        // The head (a fixed array and two integers) always serializes.
        let head_len = postcard::serialize_with_flavor::<_, _, usize>(head, Size::default())
            .unwrap_or(SESSION_ID_LEN + 20);
        envelope::encoded_len(envelope::envelope_len(
            header.len(),
            algorithm,
            head_len.saturating_add(data_len),
        ))
    }

    /// The largest plaintext whose sealed value fits in `max_value_len`.
    fn max_plaintext_len(&self, header: &Header, algorithm: Algorithm) -> usize {
        envelope::max_raw_len(self.max_value_len).saturating_sub(envelope::envelope_len(
            header.len(),
            algorithm,
            0,
        ))
    }

    /// Opens a value sealed for `cookie_name`, at time `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// An [`OpenError`] whose [kind](OpenError::kind) says why: for server logs, never for the
    /// client, who should just get a fresh session.
    pub fn open<T: DeserializeOwned>(
        &self,
        cookie_name: &str,
        value: &str,
        now: u64,
    ) -> Result<Opened<T>, OpenError> {
        let mut unlimited = usize::MAX;
        self.open_chunks(
            cookie_name,
            core::iter::once(value.as_bytes()),
            now,
            &mut unlimited,
        )
        .map_err(|refusal| match refusal {
            Refusal::Refused(error) => error,
            // An unlimited budget never runs out.
            Refusal::OverBudget => OpenError::new(OpenErrorKind::Unauthentic),
        })
    }

    /// Opens a value given as its chunks, in order. One straight sequence: length and base64url,
    /// the header, the hour window, the key, the AEAD, the plaintext, the lifetimes. Everything
    /// a client controls is checked before any key derivation or AEAD work, and each value costs
    /// at most one AEAD open (no trial decryption), taken from `aead_budget`: with none left, a
    /// value that passed every cheap check is [`Refusal::OverBudget`].
    pub(crate) fn open_chunks<'v, T: DeserializeOwned>(
        &self,
        cookie_name: &str,
        chunks: impl Iterator<Item = &'v [u8]> + Clone,
        now: u64,
        aead_budget: &mut usize,
    ) -> Result<Opened<T>, Refusal> {
        let mut opening = Opening::decode(chunks, self.max_value_len, self.schema_version)
            .map_err(OpenError::new)?;
        let header = *opening.header();
        let fail = |kind| Refusal::Refused(OpenError::new(kind).with_key_id(header.key_id));
        let ring = self.ring.view();
        let key = self.check_header(&ring, &header, now)?;
        if header.version != envelope::V1 {
            // Sealed, not opened yet: v2 arrives with the schema evolution (issue 10).
            return Err(fail(OpenErrorKind::UnsupportedVersion));
        }
        let Some(left) = aead_budget.checked_sub(1) else {
            return Err(Refusal::OverBudget);
        };
        *aead_budget = left;
        let cipher = key.key.opening_cipher(header.hour);
        let plaintext = opening.open(&cipher, cookie_name).map_err(fail)?;
        let decoded = decode_v1::<T>(plaintext);
        key.key.remember(cipher);
        let (id, created, expires, data) = decoded.map_err(fail)?;
        if created > now.saturating_add(self.clock_skew) {
            return Err(fail(OpenErrorKind::FutureDated));
        }
        if now >= created.saturating_add(self.max_lifetime) || now >= expires {
            return Err(fail(OpenErrorKind::Expired));
        }
        if ring
            .not_before()
            .is_some_and(|not_before| created < not_before)
        {
            return Err(fail(OpenErrorKind::SessionRevoked));
        }
        Ok(Opened {
            meta: SessionMeta { id, created },
            expires,
            data,
            key_id: header.key_id,
            by_primary: key.is_primary,
        })
    }

    /// The header checks: a known, unrevoked key and an hour inside the window.
    fn check_header<'r>(
        &self,
        ring: &'r RingView,
        header: &Header,
        now: u64,
    ) -> Result<OpeningKey<'r>, OpenError> {
        let fail = |kind| OpenError::new(kind).with_key_id(header.key_id);
        // v2: one chunk, uncompressed, and the current schema; refused before any key work.
        if header.flags.chunks() != 1 || header.flags.compressed() {
            return Err(fail(OpenErrorKind::Flags));
        }
        if header.schema != self.schema_version {
            return Err(fail(OpenErrorKind::UnknownSchema));
        }
        let key = ring
            .opening_key(header.key_id, now)
            .map_err(|error| match error {
                KeyLookupError::Unknown => fail(OpenErrorKind::UnknownKey),
                KeyLookupError::Revoked => fail(OpenErrorKind::KeyRevoked),
            })?;
        // A value sealed at time t expires by t + idle timeout, so only hours from then up to
        // now (plus the skew between instances) can hold an authentic, live value; any other
        // hour is refused before key derivation, so a client cannot make the server derive
        // keys for hours of its choosing.
        let first = envelope::hour_of(now.saturating_sub(self.idle_timeout));
        let last = envelope::hour_of(now.saturating_add(self.clock_skew));
        if header.hour < first || header.hour > last {
            return Err(fail(OpenErrorKind::OutsideWindow));
        }
        Ok(key)
    }

    /// The postcard encoding of session data for a change, refused unless it fits the line and
    /// decodes back to itself (postcard is not self-describing: `skip_serializing_if`,
    /// `untagged` and `flatten` break round trips). Written under the value limit, so an
    /// oversize value is never copied; its error carries the exact line size, counted without
    /// allocating.
    #[cfg(feature = "tower")]
    pub(crate) fn encode_data<T: Serialize + DeserializeOwned>(
        &self,
        data: &T,
        meta: &SessionMeta,
        now: u64,
        line: LineShape,
    ) -> Result<Vec<u8>, SessionError> {
        // Room for a typical session at once; larger ones grow, but never past the value limit.
        let mut encoded = Vec::with_capacity(ENCODE_CAPACITY);
        match write_capped(&mut encoded, self.max_value_len, data) {
            Ok(()) => {}
            Err(postcard::Error::SerializeBufferFull) => {
                let len = Data::Value(data)
                    .encoded_len()
                    .ok_or(SessionError::Serialize)?;
                self.check_line(meta, len, now, line)?;
                // Within the line limit but not the value limit: cannot happen, as the value
                // limit is the line limit minus the line's fixed part.
                return Err(SessionError::TooLarge {
                    size: len,
                    limit: line.limit,
                });
            }
            Err(_) => return Err(SessionError::Serialize),
        }
        self.check_line(meta, encoded.len(), now, line)?;
        check_round_trip::<T>(&encoded)?;
        Ok(encoded)
    }

    /// Whether `value` encodes to exactly `encoded`: the change check, without a second buffer.
    #[cfg(feature = "tower")]
    pub(crate) fn encodes_to<T: Serialize + ?Sized>(value: &T, encoded: &[u8]) -> bool {
        postcard::serialize_with_flavor(
            value,
            SameBytes {
                expected: encoded,
                at: 0,
            },
        )
        .is_ok()
    }

    /// The length of the encoding of data as it stands; `None` if it cannot be serialized.
    #[cfg(feature = "tower")]
    pub(crate) fn encoded_len<T: Serialize + ?Sized>(data: &T) -> Option<usize> {
        Data::Value(data).encoded_len()
    }
}

impl fmt::Debug for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Codec")
            .field("ring", &self.ring)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("clock_skew", &self.clock_skew)
            .field("schema_version", &self.schema_version)
            .field("max_value_len", &self.max_value_len)
            .finish()
    }
}

/// The v1 plaintext: `(session id, created, expires, data)`, with nothing after it.
fn decode_v1<T: DeserializeOwned>(
    plaintext: &[u8],
) -> Result<(SessionId, u64, u64, T), OpenErrorKind> {
    let (decoded, rest) = postcard::take_from_bytes::<(SessionId, u64, u64, T)>(plaintext)
        .map_err(|_| OpenErrorKind::Payload)?;
    if !rest.is_empty() {
        return Err(OpenErrorKind::Payload);
    }
    Ok(decoded)
}

/// Refuses an encoding that does not decode to a value which encodes to the same bytes.
#[cfg(feature = "tower")]
fn check_round_trip<T: Serialize + DeserializeOwned>(encoded: &[u8]) -> Result<(), SessionError> {
    let (decoded, rest) =
        postcard::take_from_bytes::<T>(encoded).map_err(|_| SessionError::NotRoundTrip)?;
    if !rest.is_empty() {
        return Err(SessionError::NotRoundTrip);
    }
    // Compared byte by byte as it is written: no second buffer.
    postcard::serialize_with_flavor(
        &decoded,
        SameBytes {
            expected: encoded,
            at: 0,
        },
    )
    .map_err(|_| SessionError::NotRoundTrip)
}

impl<T: Serialize + ?Sized> Data<'_, T> {
    /// The length of the encoding, counted without allocating; `None` if the value cannot be
    /// serialized.
    fn encoded_len(self) -> Option<usize> {
        match self {
            Self::Value(value) => {
                postcard::serialize_with_flavor::<_, _, usize>(value, Size::default()).ok()
            }
            Self::Encoded(bytes) => Some(bytes.len()),
        }
    }
}

fn write_capped<T: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    limit: usize,
    value: &T,
) -> postcard::Result<()> {
    postcard::serialize_with_flavor(value, CappedAppend { buf, limit })
}

/// The number of decimal digits of `n` (of a Max-Age, say).
#[cfg(feature = "tower")]
pub(crate) fn decimal_digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Validates lifetimes and returns them in whole seconds.
pub(crate) fn lifetimes(
    idle: Duration,
    max: Duration,
) -> Result<(Duration, Duration), ConfigError> {
    let (idle_secs, max_secs) = (idle.as_secs(), max.as_secs());
    let (setting, reason) = if idle_secs == 0 {
        ("idle_timeout", "must be at least one second")
    } else if max_secs == 0 {
        ("max_lifetime", "must be at least one second")
    } else if idle_secs > max_secs {
        (
            "idle_timeout",
            "must not exceed max_lifetime; shorten idle_timeout or lengthen max_lifetime",
        )
    } else if max > MAX_LIFETIME_LIMIT {
        (
            "max_lifetime",
            "must be at most 400 days, the browsers' cap on cookie lifetimes (RFC 6265bis)",
        )
    } else {
        return Ok((
            Duration::from_secs(idle_secs),
            Duration::from_secs(max_secs),
        ));
    };
    Err(ConfigError::Lifetime { setting, reason })
}

/// Validates a clock skew and returns it in whole seconds.
pub(crate) fn clock_skew(skew: Duration) -> Result<Duration, ConfigError> {
    if skew > MAX_CLOCK_SKEW {
        return Err(ConfigError::ClockSkew);
    }
    Ok(Duration::from_secs(skew.as_secs()))
}

/// Validates a value length limit: room for the smallest session under any algorithm, and no
/// more than [`MAX_VALUE_LEN_LIMIT`].
pub(crate) fn check_max_value_len(len: usize) -> Result<(), ConfigError> {
    if !(MIN_VALUE_LEN..=MAX_VALUE_LEN_LIMIT).contains(&len) {
        return Err(ConfigError::CookieSize {
            min: MIN_VALUE_LEN,
            max: MAX_VALUE_LEN_LIMIT,
            limit: len,
        });
    }
    Ok(())
}

/// The shortest sealed value: the smallest plaintext under the longest nonce.
pub(crate) const MIN_VALUE_LEN: usize = envelope::encoded_len(envelope::envelope_len(
    envelope::V1_HEADER_LEN,
    Algorithm::XChaCha20Poly1305,
    MIN_PLAINTEXT_LEN,
));

/// The smallest plaintext: a 16-byte id and three one-byte varints (created, expires and a
/// unit-like payload). A lower bound: real timestamps take 5 bytes each.
const MIN_PLAINTEXT_LEN: usize = SESSION_ID_LEN + 3;

/// A postcard flavor that appends to a `Vec` and refuses to grow it past `limit`, so that an
/// oversize session never costs more memory than the limit.
struct CappedAppend<'a> {
    buf: &'a mut Vec<u8>,
    limit: usize,
}

impl Flavor for CappedAppend<'_> {
    type Output = ();

    // Inlined into postcard's serializer (generic, so compiled in the caller's crate): it calls
    // `try_push` once per byte of a byte array such as a session id. An outlined one-byte
    // `extend_from_slice` per byte cost about 100 ns per seal of a 93-byte plaintext.
    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        if self.buf.len() >= self.limit {
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.buf.push(byte);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// A postcard flavor that checks the bytes written against `expected` instead of keeping them.
#[cfg(feature = "tower")]
struct SameBytes<'a> {
    expected: &'a [u8],
    at: usize,
}

#[cfg(feature = "tower")]
impl Flavor for SameBytes<'_> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self.at.saturating_add(data.len());
        if self.expected.get(self.at..end) != Some(data) {
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.at = end;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        if self.at == self.expected.len() {
            Ok(())
        } else {
            Err(postcard::Error::SerializeBufferFull)
        }
    }
}
