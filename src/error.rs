//! Errors, split by audience.
//!
//! - [`KeyError`]: parsing and building keys and key rings (start-up, key management).
//! - [`ConfigError`]: building a configuration (start-up); each message says how to fix it.
//! - [`SessionError`]: what a handler sees when a session cannot be sealed.
//! - [`OpenError`]: why an incoming value was refused; for server logs only, never for the
//!   client.
//!
//! No message carries key bytes, cookie values or session data: only sizes, key ids and names
//! chosen by the application.

use core::fmt;

/// A key, key string or key ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key material is not exactly [`KEY_LEN`](crate::KEY_LEN) bytes long.
    Length {
        /// The length given.
        len: usize,
    },
    /// The key material is all one repeated byte (for example all zeros): a placeholder, not a
    /// key.
    Weak,
    /// The master secret for [`Key::derive`](crate::Key::derive) is shorter than
    /// [`MIN_MASTER_LEN`](crate::MIN_MASTER_LEN) bytes.
    MasterTooShort {
        /// The length given.
        len: usize,
    },
    /// A key string is not of the form `ssk1.<algorithm>.<8 hex digits>.<43 base64url chars>`.
    Format {
        /// Which part is wrong.
        part: &'static str,
    },
    /// The algorithm name is not one of `aes-256-gcm` or `xchacha20-poly1305`.
    UnknownAlgorithm,
    /// A key ring list holds no key.
    EmptyRing,
    /// Two different keys share one key id.
    DuplicateId {
        /// The id that is taken twice.
        id: crate::KeyId,
    },
    /// The ring has no key with this id.
    NoSuchKey {
        /// The id asked for.
        id: crate::KeyId,
    },
    /// The primary key cannot be retired; promote another key first.
    RetirePrimary {
        /// The primary key's id.
        id: crate::KeyId,
    },
    /// A key ring holds at most [`MAX_RING_KEYS`](crate::MAX_RING_KEYS) keys.
    RingFull {
        /// The limit.
        limit: usize,
    },
    /// The operating system's random number generator failed.
    Rng,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { len } => write!(
                f,
                "a key must be exactly {} bytes, got {len}",
                crate::KEY_LEN
            ),
            Self::Weak => f.write_str(
                "the key bytes are all one repeated byte; generate a real key with Key::generate",
            ),
            Self::MasterTooShort { len } => write!(
                f,
                "a master secret must be at least {} bytes, got {len}",
                crate::MIN_MASTER_LEN
            ),
            Self::Format { part } => write!(
                f,
                "invalid key string ({part}); expected ssk1.<algorithm>.<8 hex digits>.<43 base64url characters>"
            ),
            Self::UnknownAlgorithm => {
                f.write_str("unknown algorithm; expected aes-256-gcm or xchacha20-poly1305")
            }
            Self::EmptyRing => f.write_str("a key ring needs at least one key"),
            Self::DuplicateId { id } => write!(f, "key id {id} is already used by another key"),
            Self::NoSuchKey { id } => write!(f, "no key with id {id} in the ring"),
            Self::RetirePrimary { id } => write!(
                f,
                "key {id} is the primary key; promote or rotate to another key before retiring it"
            ),
            Self::RingFull { limit } => write!(f, "a key ring holds at most {limit} keys"),
            Self::Rng => f.write_str("the operating system's random number generator failed"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A configuration was contradictory or out of range.
///
/// Returned when a configuration is built, never at request time. The message names the
/// setting and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A lifetime is zero, too long, or the idle timeout exceeds the absolute lifetime.
    Lifetime {
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// The allowed clock skew is larger than [`MAX_CLOCK_SKEW`](crate::MAX_CLOCK_SKEW).
    ClockSkew,
    /// The cookie name is empty or holds characters a cookie name cannot hold.
    CookieName,
    /// A cookie attribute conflicts with the cookie name's prefix or with another attribute.
    Attribute {
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// The size limit is out of range: too small for even an empty session with these
    /// attributes, or above what the codec accepts.
    CookieSize {
        /// The smallest limit that fits an empty session.
        min: usize,
        /// The largest limit accepted.
        max: usize,
        /// The limit given.
        limit: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lifetime { reason } | Self::Attribute { reason } => f.write_str(reason),
            Self::ClockSkew => write!(
                f,
                "the allowed clock skew must be at most {} seconds; synchronise the clocks (NTP) instead",
                crate::MAX_CLOCK_SKEW.as_secs()
            ),
            Self::CookieName => f.write_str(
                "the cookie name must be 1 to 256 visible ASCII characters other than separators ()<>@,;:\\\"/[]?={} and space",
            ),
            Self::CookieSize { min, max, limit } => write!(
                f,
                "size limit {limit} is out of range: it must be at least {min} (an empty session with these attributes) and at most {max}"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A session could not be sealed.
///
/// This is what handlers see from `set`/`update` and what [`Codec::seal`](crate::Codec::seal)
/// returns. The session is unchanged when it is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The sealed session would be larger than the limit.
    ///
    /// For [`Codec::seal`](crate::Codec::seal) the sizes count the cookie value; for a session
    /// behind the middleware they count the whole `Set-Cookie` line.
    TooLarge {
        /// The size the sealed session would have, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The session data could not be serialized (for example a map or sequence of unknown
    /// length).
    Serialize,
    /// The operating system's random number generator failed, so no nonce or session id could
    /// be drawn.
    Random,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size, limit } => write!(
                f,
                "the session would be {size} bytes, over the {limit}-byte cookie limit; keep large data server-side"
            ),
            Self::Serialize => f.write_str("the session data could not be serialized"),
            Self::Random => f.write_str("the operating system's random number generator failed"),
        }
    }
}

impl std::error::Error for SessionError {}

/// Why an incoming sealed value was refused.
///
/// For server logs only: every kind must look the same to the client. It carries the
/// [kind](OpenErrorKind) and, where known, the key id, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenError {
    kind: OpenErrorKind,
    key_id: Option<crate::KeyId>,
}

/// The class of an [`OpenError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenErrorKind {
    /// Not canonical base64url, or shorter than the smallest envelope.
    Malformed,
    /// Longer than the longest envelope the size limit allows; refused before decoding.
    TooLong,
    /// The format version byte is not one this build reads.
    UnsupportedVersion,
    /// No key in the ring has the envelope's key id.
    UnknownKey,
    /// The envelope's hour lies outside the session lifetime window: too old to be valid, or
    /// too far in the future.
    OutsideWindow,
    /// Authentication failed: tampered, sealed under another key, for another cookie name or
    /// for another schema version. One kind for all of them, on purpose.
    Unauthentic,
    /// Authentic, but the plaintext is not a session of the expected type (or has trailing
    /// bytes).
    Payload,
    /// The session's idle or absolute lifetime has passed.
    Expired,
    /// The session was created further in the future than the allowed clock skew.
    FutureDated,
}

impl OpenError {
    pub(crate) const fn new(kind: OpenErrorKind) -> Self {
        Self { kind, key_id: None }
    }

    pub(crate) const fn with_key_id(mut self, id: crate::KeyId) -> Self {
        self.key_id = Some(id);
        self
    }

    /// The class of the failure.
    #[must_use]
    pub const fn kind(&self) -> OpenErrorKind {
        self.kind
    }

    /// The key id named by the envelope, once the header was read.
    #[must_use]
    pub const fn key_id(&self) -> Option<crate::KeyId> {
        self.key_id
    }
}

impl OpenErrorKind {
    /// A short, stable, lowercase name for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLong => "too_long",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownKey => "unknown_key",
            Self::OutsideWindow => "outside_window",
            Self::Unauthentic => "unauthentic",
            Self::Payload => "payload",
            Self::Expired => "expired",
            Self::FutureDated => "future_dated",
        }
    }
}

impl fmt::Display for OpenErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            OpenErrorKind::Malformed => "malformed sealed value",
            OpenErrorKind::TooLong => "sealed value longer than the size limit allows",
            OpenErrorKind::UnsupportedVersion => "unsupported format version",
            OpenErrorKind::UnknownKey => "unknown key id",
            OpenErrorKind::OutsideWindow => "sealed outside the session lifetime window",
            OpenErrorKind::Unauthentic => "authentication failed",
            OpenErrorKind::Payload => "authentic value is not a session of the expected type",
            OpenErrorKind::Expired => "session expired",
            OpenErrorKind::FutureDated => "session created in the future",
        };
        match self.key_id {
            Some(id) => write!(f, "{what} (key id {id})"),
            None => f.write_str(what),
        }
    }
}

impl std::error::Error for OpenError {}
