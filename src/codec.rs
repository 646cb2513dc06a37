//! The codec: session data + id + timestamps <-> sealed string, with exact size prediction.
//!
//! Usable alone, without HTTP: it is what the middleware calls.

use core::fmt;
use core::time::Duration;

use postcard::ser_flavors::{Flavor, Size};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::envelope::{self, Binding, HourWindow};
use crate::error::{ConfigError, OpenError, OpenErrorKind, SessionError};
use crate::key::{Algorithm, KeyId};
use crate::ring::KeyRing;
use crate::rng;

/// The default idle timeout: a session not used for a day expires.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The default absolute lifetime: a session expires a week after it was created (or its id
/// last cycled), however active.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The longest lifetime accepted: browsers cap cookie lifetimes at 400 days
/// (RFC 6265bis §5.6.1, §5.6.2).
pub const MAX_LIFETIME_LIMIT: Duration = Duration::from_secs(400 * 24 * 60 * 60);
/// The default clock skew tolerated between instances.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// The largest clock skew that can be configured.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60 * 60);
/// The default longest cookie value, in bytes. Browsers keep at most 4096 bytes of name, value
/// and attributes per cookie, so no useful value is longer.
pub const DEFAULT_MAX_VALUE_LEN: usize = 4096;
/// The largest value limit that can be configured, in bytes.
pub const MAX_VALUE_LEN_LIMIT: usize = 16 * 1024;
/// Length of a [`SessionId`], in bytes.
pub const SESSION_ID_LEN: usize = 16;

const _: () = assert!(DEFAULT_IDLE_TIMEOUT.as_secs() <= DEFAULT_MAX_LIFETIME.as_secs());
const _: () = assert!(DEFAULT_MAX_LIFETIME.as_secs() <= MAX_LIFETIME_LIMIT.as_secs());
const _: () = assert!(DEFAULT_CLOCK_SKEW.as_secs() <= MAX_CLOCK_SKEW.as_secs());
const _: () = assert!(DEFAULT_MAX_VALUE_LEN <= MAX_VALUE_LEN_LIMIT);

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
    /// [`SessionError::Random`] if the operating system's random number generator fails.
    pub fn generate() -> Result<Self, SessionError> {
        let mut id = [0u8; SESSION_ID_LEN];
        rng::fill(&mut id).map_err(|_| SessionError::Random)?;
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
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
    /// [`SessionError::Random`] if the operating system's random number generator fails.
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

impl Codec {
    /// A codec over `ring` with the default lifetimes, clock skew, schema version 0 and a
    /// 4096-byte value limit.
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
        (idle_timeout, max_lifetime): (u64, u64),
        clock_skew: u64,
        schema_version: u32,
        max_value_len: usize,
    ) -> Self {
        Self {
            ring,
            idle_timeout,
            max_lifetime,
            clock_skew,
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
    /// absolute lifetime, or the absolute lifetime exceeds [`MAX_LIFETIME_LIMIT`].
    pub fn with_lifetimes(mut self, idle: Duration, max: Duration) -> Result<Self, ConfigError> {
        (self.idle_timeout, self.max_lifetime) = lifetimes_secs(idle, max)?;
        Ok(self)
    }

    /// Sets the clock skew tolerated between instances: a session created up to this far in
    /// the future still opens.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ClockSkew`] above [`MAX_CLOCK_SKEW`].
    pub fn with_clock_skew(mut self, skew: Duration) -> Result<Self, ConfigError> {
        self.clock_skew = clock_skew_secs(skew)?;
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
    /// [`ConfigError::CookieSize`] if it cannot hold an empty session, or is above
    /// [`MAX_VALUE_LEN_LIMIT`].
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

    /// The idle timeout in seconds.
    #[must_use]
    pub fn idle_timeout(&self) -> u64 {
        self.idle_timeout
    }

    /// The absolute lifetime in seconds.
    #[must_use]
    pub fn max_lifetime(&self) -> u64 {
        self.max_lifetime
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
    /// [`SessionError::Random`] if no nonce could be drawn. Nothing is allocated in
    /// proportion to an oversize `data`.
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
    /// expiry sealed into it.
    pub(crate) fn seal_into<T: Serialize + ?Sized>(
        &self,
        out: &mut String,
        cookie_name: &str,
        meta: &SessionMeta,
        data: Data<'_, T>,
        now: u64,
    ) -> Result<u64, SessionError> {
        let expires = self.expires_at(meta.created, now);
        // postcard writes a tuple as the concatenation of its fields, so the plaintext is the
        // head followed by the data's own postcard bytes.
        let head = (&meta.id, meta.created, expires);
        let binding = self.binding(cookie_name);
        envelope::seal(
            out,
            &self.ring,
            envelope::hour_of(now),
            binding,
            |buf, algorithm| {
                let max_plaintext = envelope::max_plaintext_len(algorithm, self.max_value_len);
                let limit = buf.len().saturating_add(max_plaintext);
                let written = postcard::serialize_with_flavor(&head, CappedAppend { buf, limit })
                    .and_then(|()| match data {
                        Data::Value(value) => {
                            postcard::serialize_with_flavor(value, CappedAppend { buf, limit })
                        }
                        Data::Postcard(bytes) => CappedAppend { buf, limit }.try_extend(bytes),
                    });
                written.map_err(|error| match error {
                    postcard::Error::SerializeBufferFull => {
                        let size = data
                            .postcard_len()
                            .map_or(usize::MAX, |len| self.sealed_len_of(algorithm, &head, len));
                        SessionError::TooLarge {
                            size,
                            limit: self.max_value_len,
                        }
                    }
                    _ => SessionError::Serialize,
                })
            },
        )?;
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
            .postcard_len()
            .ok_or(SessionError::Serialize)?;
        Ok(self.sealed_len_for_postcard_len(meta, data_len, now))
    }

    /// The length of the sealed value for data whose postcard encoding is `data_len` bytes.
    pub(crate) fn sealed_len_for_postcard_len(
        &self,
        meta: &SessionMeta,
        data_len: usize,
        now: u64,
    ) -> usize {
        let head = (&meta.id, meta.created, self.expires_at(meta.created, now));
        self.sealed_len_of(self.primary_algorithm(), &head, data_len)
    }

    fn sealed_len_of(
        &self,
        algorithm: Algorithm,
        head: &(&SessionId, u64, u64),
        data_len: usize,
    ) -> usize {
        // The head (a fixed array and two integers) always serializes.
        let head_len = postcard::serialize_with_flavor::<_, _, usize>(head, Size::default())
            .unwrap_or(SESSION_ID_LEN + 20);
        envelope::sealed_len(algorithm, head_len.saturating_add(data_len))
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
        // A value sealed at time t expires by t + idle timeout, so only hours from then up to
        // now (plus the skew between instances) can hold an authentic, live value.
        let window = HourWindow {
            first: envelope::hour_of(now.saturating_sub(self.idle_timeout)),
            last: envelope::hour_of(now.saturating_add(self.clock_skew)),
        };
        envelope::open(
            &self.ring,
            value,
            self.max_value_len,
            window,
            self.binding(cookie_name),
            |plaintext, opened| {
                let fail = |kind| OpenError::new(kind).with_key_id(opened.key_id);
                let ((id, created, expires, data), rest) =
                    postcard::take_from_bytes::<(SessionId, u64, u64, T)>(plaintext)
                        .map_err(|_| fail(OpenErrorKind::Payload))?;
                if !rest.is_empty() {
                    return Err(fail(OpenErrorKind::Payload));
                }
                if created > now.saturating_add(self.clock_skew) {
                    return Err(fail(OpenErrorKind::FutureDated));
                }
                if now >= created.saturating_add(self.max_lifetime) || now >= expires {
                    return Err(fail(OpenErrorKind::Expired));
                }
                Ok(Opened {
                    meta: SessionMeta { id, created },
                    expires,
                    data,
                    key_id: opened.key_id,
                    by_primary: opened.by_primary,
                })
            },
        )
    }

    fn binding<'a>(&self, cookie_name: &'a str) -> Binding<'a> {
        Binding {
            cookie_name,
            schema_version: self.schema_version,
        }
    }

    fn primary_algorithm(&self) -> Algorithm {
        self.ring.with_primary(|key| key.key().algorithm())
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

/// The session data to seal: a value, or its postcard encoding made earlier.
#[derive(Debug)]
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) enum Data<'a, T: ?Sized> {
    Value(&'a T),
    Postcard(&'a [u8]),
}

impl<T: ?Sized> Clone for Data<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Data<'_, T> {}

impl<T: Serialize + ?Sized> Data<'_, T> {
    /// The length of the postcard encoding, counted without allocating; `None` if the value
    /// cannot be serialized.
    fn postcard_len(self) -> Option<usize> {
        match self {
            Self::Value(value) => {
                postcard::serialize_with_flavor::<_, _, usize>(value, Size::default()).ok()
            }
            Self::Postcard(bytes) => Some(bytes.len()),
        }
    }
}

/// Validates lifetimes and returns them in whole seconds.
pub(crate) fn lifetimes_secs(idle: Duration, max: Duration) -> Result<(u64, u64), ConfigError> {
    let (idle, max) = (idle.as_secs(), max.as_secs());
    let reason = if idle == 0 || max == 0 {
        "idle_timeout and max_lifetime must be at least one second"
    } else if idle > max {
        "idle_timeout must not exceed max_lifetime; shorten idle_timeout or lengthen max_lifetime"
    } else if max > MAX_LIFETIME_LIMIT.as_secs() {
        "max_lifetime must be at most 400 days, the browsers' cap on cookie lifetimes (RFC 6265bis)"
    } else {
        return Ok((idle, max));
    };
    Err(ConfigError::Lifetime { reason })
}

/// Validates a clock skew and returns it in whole seconds.
pub(crate) fn clock_skew_secs(skew: Duration) -> Result<u64, ConfigError> {
    if skew > MAX_CLOCK_SKEW {
        return Err(ConfigError::ClockSkew);
    }
    Ok(skew.as_secs())
}

/// Validates a value length limit: room for the smallest session under any algorithm, and no
/// more than [`MAX_VALUE_LEN_LIMIT`].
pub(crate) fn check_max_value_len(len: usize) -> Result<(), ConfigError> {
    let min = MIN_VALUE_LEN;
    if len < min || len > MAX_VALUE_LEN_LIMIT {
        return Err(ConfigError::CookieSize {
            min,
            max: MAX_VALUE_LEN_LIMIT,
            limit: len,
        });
    }
    Ok(())
}

/// The shortest sealed value: the smallest plaintext under the longest nonce.
pub(crate) const MIN_VALUE_LEN: usize =
    envelope::sealed_len(Algorithm::XChaCha20Poly1305, MIN_PLAINTEXT_LEN);

/// The smallest plaintext: a 16-byte id and three one-byte varints (created, expires and a
/// unit-like payload). A lower bound: real timestamps take 5 bytes each.
const MIN_PLAINTEXT_LEN: usize = SESSION_ID_LEN + 3;

/// The postcard encoding of `value`, refused with `SerializeBufferFull` past `limit` bytes.
#[cfg(feature = "tower")]
pub(crate) fn to_capped_vec<T: Serialize + ?Sized>(
    value: &T,
    limit: usize,
) -> postcard::Result<Vec<u8>> {
    let mut buf = Vec::new();
    postcard::serialize_with_flavor(
        value,
        CappedAppend {
            buf: &mut buf,
            limit,
        },
    )?;
    Ok(buf)
}

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
