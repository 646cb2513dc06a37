//! The codec: session data + id + timestamps <-> sealed string, with exact size prediction.
//!
//! The only home of postcard in the crate: the plaintext layout, encoding the data with its
//! round-trip check, change detection by comparing encodings, and the size maths. Usable
//! alone, without HTTP: it is what the middleware calls.

use core::fmt;
use core::time::Duration;

use postcard::ser_flavors::Flavor;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) use self::schema::Encoding;
pub use self::schema::{Migrations, WireFormat};
pub(crate) use self::schema::{Schema, SealedAs};
#[cfg(feature = "engine")]
pub(crate) use self::shape::{binding_of, binding_of_context};
/// The most cookies a session is split across.
pub(crate) use crate::envelope::MAX_CHUNKS;
use crate::envelope::{self, Flags, Header, SealFailure};
use crate::error::{ConfigError, OpenError, SessionError};
use crate::key::Algorithm;
use crate::ring::{KeyRing, RingView};

mod canonical;
#[cfg(feature = "compression")]
pub(crate) mod compress;
mod flavors;
mod head;
mod meta;
mod open;
mod schema;
mod shape;
mod wiped;

pub(crate) use self::flavors::encoded_len;
use self::flavors::{CappedAppend, SameBytes, check_round_trip, write_capped};
pub(crate) use self::meta::Bounds;
pub(crate) use self::meta::Packed;
pub use self::meta::{Lifetime, Opened, Sealed, SessionId, SessionMeta};
pub(crate) use self::wiped::Wiped;

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
#[cfg(feature = "engine")]
const ENCODE_CAPACITY: usize = 256;
/// Length of a [`SessionId`], in bytes.
pub(crate) const SESSION_ID_LEN: usize = 16;

const _: () = assert!(DEFAULT_IDLE_TIMEOUT.as_secs() <= DEFAULT_MAX_LIFETIME.as_secs());
const _: () = assert!(DEFAULT_MAX_LIFETIME.as_secs() <= MAX_LIFETIME_LIMIT.as_secs());
const _: () = assert!(DEFAULT_CLOCK_SKEW.as_secs() <= MAX_CLOCK_SKEW.as_secs());
const _: () = assert!(DEFAULT_MAX_VALUE_LEN <= MAX_VALUE_LEN_LIMIT);
const _: () = assert!(MAX_CLOCK_SKEW.as_secs() == 3600);
const _: () = assert!(MAX_LIFETIME_LIMIT.as_secs() == 400 * 86_400);

/// A seal planned on one snapshot of the ring: the value's length and Max-Age, and what the
/// seal writes (the snapshot, the hour, the bounds and expiry), each worked out once.
#[cfg(feature = "engine")]
pub(crate) struct SealPlan<'r> {
    view: &'r RingView,
    now: u64,
    pub(crate) sizing: Sizing,
}

/// The size of a seal at one time: the algorithm of the primary key it assumed, what the seal
/// writes besides the data (the hour, the bounds and expiry), the value's length and its
/// Max-Age.
#[cfg(feature = "engine")]
#[derive(Clone, Copy)]
pub(crate) struct Sizing {
    pub(crate) algorithm: Algorithm,
    facts: SealFacts,
    pub(crate) value_len: usize,
    pub(crate) max_age: Option<u64>,
}

/// What a seal at `now` writes besides the data, derived once per seal.
#[derive(Clone, Copy)]
struct SealFacts {
    hour: u32,
    bounds: Bounds,
    expires: u64,
}

impl SealFacts {
    /// The Max-Age of the cookie sealed at `now`, or `None` for a browser-session cookie.
    #[cfg(feature = "engine")]
    fn max_age(&self, now: u64) -> Option<u64> {
        self.bounds
            .persistent
            .then(|| self.expires.saturating_sub(now))
    }
}

/// Seals session data into cookie values and opens them again.
///
/// Wire format v2 (see SECURITY.md): the plaintext is `postcard(session id, created, expires,
/// lifetime, flash messages, data)`, sealed under the ring's primary key for one cookie name,
/// with the schema version in the authenticated header (so a value cannot be replayed as
/// another cookie; it opens as any type of the same schema version). A codec bound with
/// [`bound_to`](Self::bound_to) or [`with_type_context`](Self::with_type_context) writes
/// format v3, which binds the type. Values of format v1 (0.1) still open.
/// Opening checks the absolute and idle lifetimes against the caller's `now`, from the
/// authenticated plaintext only. Cloning is cheap and shares the ring.
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
    /// The type binding sealed values carry (format v3); `None` seals format v2.
    binding: Option<u32>,
    max_value_len: usize,
    /// The most chunks a value may be split across (the middleware's `max_chunks`).
    max_chunks: usize,
    /// Whether sealing compresses data (feature `compression`); compressed values are read
    /// whenever the feature is built.
    compress: bool,
}

/// Why a candidate value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Refused(OpenError),
    /// Authentic and live, refused by the application's revocation check
    /// ([`Sessions::with_revocation_check`](crate::Sessions::with_revocation_check)): routine
    /// (a password change, a "log out everywhere"), so logged as a client's refusal is.
    Checked(OpenError),
    /// It passed every check short of the AEAD, and the request's AEAD budget was spent.
    OverBudget,
}

impl From<OpenError> for Refusal {
    fn from(error: OpenError) -> Self {
        Self::Refused(error)
    }
}

/// What is sealed besides the data: the session's identity, its lifetime and its flash slot.
/// (No `Debug`: the flash messages are session data.)
#[derive(Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) meta: SessionMeta,
    pub(crate) lifetime: Lifetime,
    pub(crate) flash: &'a [String],
}

impl Head<'_> {
    /// A session with the codec's default lifetime and no flash messages.
    pub(crate) fn plain(meta: SessionMeta) -> Self {
        Self {
            meta,
            lifetime: Lifetime::persistent(),
            flash: &[],
        }
    }
}

/// The session data to seal: a value, or its encoding made earlier (with its schema version).
/// (No `Debug`: it is session data.)
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

/// How a value is written: the type its header names and its flags (chunk count,
/// compression).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Format {
    pub(crate) sealed_as: SealedAs,
    pub(crate) flags: Flags,
}

/// The head of a v2 plaintext, as written: id, created, expires, lifetime, flash messages.
type WireHead<'a> = (&'a SessionId, u64, u64, Bounds, &'a [String]);
/// The head of a v2 plaintext, as read.
type ReadHead = (SessionId, u64, u64, Bounds, Vec<String>);

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
            binding: None,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
            max_chunks: 1,
            compress: false,
        }
    }

    /// A codec from settings already validated by `SessionConfig`.
    #[cfg(feature = "engine")]
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
            binding: None,
            max_value_len,
            max_chunks: 1,
            compress: false,
        }
    }

    /// The middleware's chunking and compression settings (validated by `SessionConfig`).
    #[cfg(feature = "engine")]
    pub(crate) fn with_chunking(mut self, max_chunks: usize, compress: bool) -> Self {
        self.max_chunks = max_chunks;
        self.compress = compress;
        self
    }

    /// Compresses session data (raw DEFLATE) when that makes it shorter; data under 256 bytes
    /// is never compressed, and compressed data inflates to at most 16 KiB. A codec built
    /// with the `compression` feature opens compressed values whether or not it compresses.
    ///
    /// # Security
    ///
    /// The sealed length then depends on the content: see
    /// [`SessionConfigBuilder::compression`](crate::SessionConfigBuilder::compression).
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    #[must_use]
    pub fn with_compression(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    /// Sets the idle timeout (a session not re-sealed for this long expires) and the absolute
    /// lifetime (a session expires this long after creation, however active). Whole seconds.
    /// They are also the maxima of per-session [`Lifetime`]s.
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
    /// instead of misread (postcard is not self-describing). The middleware can also read
    /// registered older versions ([`Migrations`]).
    #[must_use]
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    /// Binds sealed values to the session type `T` (wire format v3): the header carries a
    /// fingerprint of `T`'s serde shape (field names and types, enum variants), so a value
    /// sealed for one type never opens as a type of another shape, even under the same key
    /// ring and cookie name (two types of the same shape need different type contexts).
    /// [`seal`](Self::seal) then writes format v3 and [`open`](Self::open) reads format v3
    /// values bound to `T` (and v1/v2 values of the schema version). An unbound codec
    /// writes format v2. `SessionLayer` and `Sessions` bind to their type on their own.
    ///
    /// # Errors
    ///
    /// [`ConfigError::TypeShape`] if `T`'s shape cannot be traced (its `Deserialize` needs a
    /// self-describing format, or recurses through a struct): bind a context instead
    /// ([`with_type_context`](Self::with_type_context)).
    ///
    /// ```
    /// use sealed_session::{Algorithm, Codec, Key, KeyRing, OpenErrorKind, SessionMeta};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Profile { name: String, bio: String }
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Account { user: String, admin: bool }
    ///
    /// let codec = Codec::new(KeyRing::new(Key::generate(Algorithm::Aes256Gcm)));
    /// let profiles = codec.clone().bound_to::<Profile>()?;
    /// let accounts = codec.bound_to::<Account>()?;
    /// let now = 1_764_000_000;
    /// let profile = Profile { name: "\u{6}".into(), bio: "alice\u{1}".into() };
    /// let sealed = profiles.seal("session", &SessionMeta::new(now)?, &profile, now)?;
    /// let refused = accounts.open::<Account>("session", &sealed.value, now).unwrap_err();
    /// assert_eq!(refused.kind(), OpenErrorKind::WrongType);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bound_to<T: DeserializeOwned>(mut self) -> Result<Self, ConfigError> {
        let binding = shape::binding_of::<T>().map_err(|why| ConfigError::TypeShape {
            type_name: core::any::type_name::<T>(),
            reason: why.to_string(),
        })?;
        self.binding = Some(binding);
        Ok(self)
    }

    /// Binds sealed values to an application-chosen `context` instead of a type's shape (see
    /// [`bound_to`](Self::bound_to)): for a type whose shape cannot be traced. Change the
    /// context whenever the type's encoding changes.
    #[must_use]
    pub fn with_type_context(mut self, context: &str) -> Self {
        self.binding = Some(shape::binding_of_context(context));
        self
    }

    /// What this codec's own [`seal`](Self::seal) writes the header as.
    fn sealed_as(&self) -> SealedAs {
        self.binding
            .map_or(SealedAs::Version(self.schema_version), SealedAs::Binding)
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
        self.expiry(self.bounds(Lifetime::persistent()), created, now)
    }

    /// A lifetime with both bounds resolved against this codec's maxima.
    #[cfg(feature = "engine")]
    pub(crate) fn resolved(&self, lifetime: Lifetime) -> Lifetime {
        self.bounds(lifetime).lifetime()
    }

    /// A lifetime's bounds, capped by this codec's maxima.
    pub(crate) fn bounds(&self, lifetime: Lifetime) -> Bounds {
        // At least a second each: a zero bound would seal a session that is dead on arrival
        // (and make every re-seal of one read with a zero idle timeout dead).
        let max = lifetime
            .max
            .unwrap_or(self.max_lifetime)
            .min(self.max_lifetime)
            .max(1);
        let idle = lifetime
            .idle
            .unwrap_or(self.idle_timeout)
            .min(self.idle_timeout)
            .min(max)
            .max(1);
        Bounds {
            persistent: lifetime.persistent,
            idle,
            max,
        }
    }

    /// When a session with these bounds, created at `created` and sealed at `now`, expires.
    pub(crate) fn expiry(&self, bounds: Bounds, created: u64, now: u64) -> u64 {
        now.saturating_add(bounds.idle)
            .min(created.saturating_add(bounds.max))
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
        let mut value = Vec::new();
        let head = Head::plain(*meta);
        let sealed_as = self.sealed_as();
        #[cfg(feature = "compression")]
        if self.compress {
            let encoded = self.encode_for_compression(data)?;
            let packed = self.pack_to_fit(&Head::plain(*meta), &encoded, now);
            let (bytes, compressed) = packed
                .as_deref()
                .map_or((&encoded[..], false), |packed| (packed, true));
            let flags = Flags::new(1, compressed).unwrap_or_default();
            let expires = self.seal_into(
                &mut value,
                cookie_name,
                &head,
                Data::<T>::Encoded(bytes),
                Format { sealed_as, flags },
                now,
            )?;
            return Ok(Sealed {
                value: into_text(value)?,
                expires,
            });
        }
        let expires = self.seal_into(
            &mut value,
            cookie_name,
            &head,
            Data::Value(data),
            Format {
                sealed_as,
                flags: Flags::default(),
            },
            now,
        )?;
        Ok(Sealed {
            value: into_text(value)?,
            expires,
        })
    }

    /// The data's encoding for the standalone codec's compression, within the inflation limit.
    #[cfg(feature = "compression")]
    fn encode_for_compression<T: Serialize + ?Sized>(
        &self,
        data: &T,
    ) -> Result<Wiped, SessionError> {
        let len = encoded_len(data).ok_or(SessionError::Serialize)?;
        if len > self.data_limit() {
            return Err(SessionError::TooLarge {
                size: len,
                limit: self.data_limit(),
            });
        }
        let mut encoded = Wiped::with_capacity(len);
        write_capped(&mut encoded, len, data).map_err(|_| SessionError::Serialize)?;
        Ok(encoded)
    }

    /// The compressed form of a data encoding, when this codec compresses and that makes it
    /// shorter.
    pub(crate) fn pack(&self, encoded: &[u8]) -> Option<Wiped> {
        #[cfg(feature = "compression")]
        if self.compress {
            return compress::deflate(encoded);
        }
        let _ = encoded;
        None
    }

    /// [`pack`](Self::pack), or when that does not fit the value limit,
    /// [`pack_smallest`](Self::pack_smallest) if it is shorter: what the standalone codec
    /// seals.
    #[cfg(feature = "compression")]
    fn pack_to_fit(&self, head: &Head<'_>, encoded: &[u8], now: u64) -> Option<Wiped> {
        let packed = self.pack(encoded)?;
        if self.sealed_value_len(head, packed.len(), now) <= self.max_value_len {
            return Some(packed);
        }
        self.pack_smaller(encoded, &packed).or(Some(packed))
    }

    /// `encoded` compressed at the level that compresses best, if that is shorter than
    /// `packed` (its [`pack`](Self::pack)ed form, which does not fit): slower, and up to a
    /// quarter smaller.
    pub(crate) fn pack_smaller(&self, encoded: &[u8], packed: &[u8]) -> Option<Wiped> {
        #[cfg(feature = "compression")]
        if self.compress {
            return compress::deflate_smallest(encoded).filter(|s| s.len() < packed.len());
        }
        let _ = (encoded, packed);
        None
    }

    /// The longest data encoding a mutation may make: the value limit, or with compression
    /// what a compressed session may inflate to.
    pub(crate) fn data_limit(&self) -> usize {
        #[cfg(feature = "compression")]
        if self.compress {
            return compress::MAX_INFLATED_LEN.max(self.max_value_len);
        }
        self.max_value_len
    }

    /// The chunk count in the header of a value's first chunk (1 when it cannot be read: the
    /// value then fails to open on its own).
    #[cfg(feature = "engine")]
    pub(crate) fn chunk_count(&self, first: &[u8]) -> usize {
        envelope::peek_header(first, self.schema_version).map_or(1, |header| header.flags.chunks())
    }

    /// Appends the sealed value to `out` (which is left as it was on error) and returns the
    /// expiry sealed into it. One straight sequence: the primary key, the header, the plaintext
    /// written into the envelope buffer under a cap, the AEAD, base64url.
    pub(crate) fn seal_into<T: Serialize + ?Sized>(
        &self,
        out: &mut Vec<u8>,
        cookie_name: &str,
        head: &Head<'_>,
        data: Data<'_, T>,
        format: Format,
        now: u64,
    ) -> Result<u64, SessionError> {
        let facts = self.seal_facts(head, now);
        self.seal_in(
            &self.ring.view(),
            &facts,
            out,
            cookie_name,
            head,
            data,
            format,
            now,
        )
    }

    /// Plans a seal of `data_len` bytes of data at `now`: one snapshot of the ring, whose
    /// primary both sizes the value and seals it ([`seal_planned`](Self::seal_planned)), so a
    /// rotation in between cannot make the lines differ from the size checked.
    #[cfg(feature = "engine")]
    pub(crate) fn plan_seal<'r>(
        &self,
        view: &'r RingView,
        head: &Head<'_>,
        data_len: usize,
        now: u64,
    ) -> SealPlan<'r> {
        SealPlan {
            sizing: self.sized(view, head, data_len, now),
            view,
            now,
        }
    }

    /// Plans a seal of `head` at `now` whose value a size check at `now` found to be
    /// `value_len` long under a primary key of `algorithm`: `None` if the ring's primary now
    /// seals with another algorithm, whose value would have another length.
    #[cfg(feature = "engine")]
    pub(crate) fn plan_sized<'r>(
        &self,
        view: &'r RingView,
        head: &Head<'_>,
        (algorithm, value_len): (Algorithm, usize),
        now: u64,
    ) -> Option<SealPlan<'r>> {
        if view.sealing_key(now).key().algorithm() != algorithm {
            return None;
        }
        let facts = self.seal_facts(head, now);
        Some(SealPlan {
            sizing: Sizing {
                algorithm,
                facts,
                value_len,
                max_age: facts.max_age(now),
            },
            view,
            now,
        })
    }

    /// Seals as `plan` planned (see [`seal_into`](Self::seal_into)).
    #[cfg(feature = "engine")]
    pub(crate) fn seal_planned<T: Serialize + ?Sized>(
        &self,
        plan: &SealPlan<'_>,
        out: &mut Vec<u8>,
        cookie_name: &str,
        head: &Head<'_>,
        data: Data<'_, T>,
        format: Format,
    ) -> Result<u64, SessionError> {
        self.seal_in(
            plan.view,
            &plan.sizing.facts,
            out,
            cookie_name,
            head,
            data,
            format,
            plan.now,
        )
    }

    /// The hour, bounds and expiry of a seal of a session with `head` at `now`.
    fn seal_facts(&self, head: &Head<'_>, now: u64) -> SealFacts {
        let bounds = self.bounds(head.lifetime);
        SealFacts {
            hour: envelope::hour_of(now),
            bounds,
            expires: self.expiry(bounds, head.meta.created, now),
        }
    }

    fn wire_head<'h>(&self, head: &'h Head<'h>, facts: &SealFacts) -> WireHead<'h> {
        (
            &head.meta.id,
            head.meta.created,
            facts.expires,
            facts.bounds,
            head.flash,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn seal_in<T: Serialize + ?Sized>(
        &self,
        ring: &RingView,
        facts: &SealFacts,
        out: &mut Vec<u8>,
        cookie_name: &str,
        head: &Head<'_>,
        data: Data<'_, T>,
        format: Format,
        now: u64,
    ) -> Result<u64, SessionError> {
        let key = ring.sealing_key(now);
        let algorithm = key.key().algorithm();
        let header = Header::new(key.key().id(), facts.hour, format.sealed_as, format.flags);
        let wire = self.wire_head(head, facts);

        let mut envelope = envelope::Sealing::new(header, algorithm);
        let room = self.max_plaintext_len(algorithm);
        let limit = envelope.buffer().len().saturating_add(room);
        let written = head::write(
            &mut CappedAppend {
                buf: envelope.buffer(),
                limit,
            },
            &wire,
        )
        .and_then(|()| match data {
            Data::Value(value) => write_capped(envelope.buffer(), limit, value),
            Data::Encoded(bytes) => CappedAppend {
                buf: envelope.buffer(),
                limit,
            }
            .try_extend(bytes),
        });
        if let Err(error) = written {
            return Err(match error {
                postcard::Error::SerializeBufferFull => SessionError::TooLarge {
                    size: data
                        .encoded_len()
                        .map_or(usize::MAX, |len| self.value_len(algorithm, &wire, len)),
                    limit: self.max_value_len,
                },
                _ => SessionError::Serialize,
            });
        }
        let cipher = key.sealing_cipher(facts.hour);
        envelope
            .seal(cipher.cipher(), cookie_name, out)
            .map_err(|failure| match failure {
                SealFailure::Rng => SessionError::Rng,
                // Only for plaintexts of gigabytes, far beyond any limit.
                SealFailure::Aead => SessionError::Internal,
            })?;
        Ok(facts.expires)
    }

    /// The exact length of the value [`seal`](Self::seal) would return now, without sealing
    /// (with compression, the data is compressed to know).
    ///
    /// # Errors
    ///
    /// [`SessionError::Serialize`] if `data` cannot be serialized. The limit is not applied
    /// (with compression, the inflation limit is).
    pub fn sealed_len<T: Serialize + ?Sized>(
        &self,
        meta: &SessionMeta,
        data: &T,
        now: u64,
    ) -> Result<usize, SessionError> {
        #[cfg(feature = "compression")]
        if self.compress {
            let encoded = self.encode_for_compression(data)?;
            let data_len = self
                .pack_to_fit(&Head::plain(*meta), &encoded, now)
                .map_or(encoded.len(), |packed| packed.len());
            return Ok(self.sealed_value_len(&Head::plain(*meta), data_len, now));
        }
        let data_len = Data::Value(data)
            .encoded_len()
            .ok_or(SessionError::Serialize)?;
        Ok(self.sealed_value_len(&Head::plain(*meta), data_len, now))
    }

    /// The length of the value sealed now for data whose encoding is `data_len` bytes.
    pub(crate) fn sealed_value_len(&self, head: &Head<'_>, data_len: usize, now: u64) -> usize {
        let facts = self.seal_facts(head, now);
        let algorithm = self.ring.view().sealing_key(now).key().algorithm();
        self.value_len(algorithm, &self.wire_head(head, &facts), data_len)
    }

    /// The length of the value sealed now for data whose encoding is `data_len` bytes, and its
    /// Max-Age (`None` for a browser-session cookie), from one derivation of the seal's facts.
    #[cfg(feature = "engine")]
    pub(crate) fn sized(
        &self,
        ring: &RingView,
        head: &Head<'_>,
        data_len: usize,
        now: u64,
    ) -> Sizing {
        let facts = self.seal_facts(head, now);
        let algorithm = ring.sealing_key(now).key().algorithm();
        Sizing {
            value_len: self.value_len(algorithm, &self.wire_head(head, &facts), data_len),
            max_age: facts.max_age(now),
            algorithm,
            facts,
        }
    }

    fn value_len(&self, algorithm: Algorithm, wire: &WireHead<'_>, data_len: usize) -> usize {
        let head_len = head::len(wire);
        // v2 and v3 headers have one length.
        envelope::encoded_len(envelope::envelope_len(
            envelope::V2_HEADER_LEN,
            algorithm,
            head_len.saturating_add(data_len),
        ))
    }

    /// The largest plaintext whose sealed value (v2 and v3 headers have one length) fits in
    /// `max_value_len`.
    fn max_plaintext_len(&self, algorithm: Algorithm) -> usize {
        envelope::max_raw_len(self.max_value_len).saturating_sub(envelope::envelope_len(
            envelope::V2_HEADER_LEN,
            algorithm,
            0,
        ))
    }

    /// The encoding of session data for a change, as `schema` writes it, refused unless it
    /// reads back (postcard is not self-describing: `skip_serializing_if`, `untagged` and
    /// `flatten` break round trips; see `check_round_trip`). Written under the data limit, so an
    /// oversize value is never copied; its exact length is counted without allocating.
    #[cfg(feature = "engine")]
    pub(crate) fn encode_data<T: Serialize + DeserializeOwned>(
        &self,
        data: &T,
        schema: &Schema<T>,
    ) -> Result<Wiped, Encoding> {
        // Room for a typical session at once; larger ones grow (each old block wiped: see
        // `CappedAppend`), but never past the limit. Wiped when dropped (RT3-7).
        let mut encoded = Wiped::with_capacity(ENCODE_CAPACITY);
        schema.encode(data, &mut encoded, self.data_limit())?;
        Ok(encoded)
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

/// The number of decimal digits of `n` (of a Max-Age, say).
#[cfg(feature = "engine")]
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

/// Validates a value length limit for a codec: room for the smallest envelope it can open
/// (a v1 session under any algorithm), and no more than [`MAX_VALUE_LEN_LIMIT`].
pub(crate) fn check_max_value_len(len: usize) -> Result<(), ConfigError> {
    check_value_len_from(len, MIN_VALUE_LEN)
}

/// Validates a value length limit against `min`.
pub(crate) fn check_value_len_from(len: usize, min: usize) -> Result<(), ConfigError> {
    if !(min..=MAX_VALUE_LEN_LIMIT).contains(&len) {
        return Err(ConfigError::CookieSize {
            min,
            max: MAX_VALUE_LEN_LIMIT,
            limit: len,
        });
    }
    Ok(())
}

/// The shortest value a codec may be limited to: the smallest v1 plaintext (a 16-byte id and
/// three one-byte varints) under the longest nonce, so that every frozen v1 vector keeps its
/// configuration.
pub(crate) const MIN_VALUE_LEN: usize = envelope::encoded_len(envelope::envelope_len(
    envelope::V1_HEADER_LEN,
    Algorithm::XChaCha20Poly1305,
    SESSION_ID_LEN + 3,
));

/// The shortest value that can be sealed now (wire format v2): a 16-byte id and one-byte
/// fields (created, expires, the lifetime's three, an empty flash slot and a unit-like
/// payload) under the longest nonce. A session configuration must hold at least this.
pub(crate) const MIN_SEALED_LEN: usize = envelope::encoded_len(envelope::envelope_len(
    envelope::V2_HEADER_LEN,
    Algorithm::XChaCha20Poly1305,
    SESSION_ID_LEN + 7,
));

const _: () = assert!(MIN_VALUE_LEN == 91 && MIN_SEALED_LEN == 103);

/// A sealed value as text: base64url is ASCII, so this fails only on a bug.
fn into_text(value: Vec<u8>) -> Result<String, SessionError> {
    String::from_utf8(value).map_err(|_| SessionError::Internal)
}
