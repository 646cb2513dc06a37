//! Errors, split by audience.
//!
//! - [`KeyError`]: parsing and building keys and key rings (start-up, key management).
//! - [`ConfigError`]: building a configuration (start-up); each names the setting and says
//!   how to fix it.
//! - [`SessionError`]: what a handler sees when a change cannot take effect.
//! - [`OpenError`]: why an incoming value was refused; for server logs only, never for the
//!   client.
//!
//! No message carries key bytes, cookie values or session data: only sizes, key ids and names
//! chosen by the application.

use core::fmt;

use crate::key::id::KeyId;

/// A key, key string or key ring could not be built or changed.
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
    /// The master secret for [`Key::derive`](crate::Key::derive) is shorter than 32 bytes.
    MasterTooShort {
        /// The length given.
        len: usize,
    },
    /// A key string is not of the form `ssk1.<algorithm>.<8 hex digits>.<43 base64url chars>`.
    Format {
        /// Which part is wrong.
        part: &'static str,
    },
    /// A key string names an id that is not the key's derived id, without marking it as
    /// explicit (`=` before the id): each key has one spelling.
    IdMismatch {
        /// The id the string names.
        id: KeyId,
    },
    /// The algorithm name is not one of `aes-256-gcm` or `xchacha20-poly1305`.
    UnknownAlgorithm,
    /// A key ring holds no key.
    EmptyRing,
    /// Two different keys share one key id.
    DuplicateId {
        /// The id that is taken twice.
        id: KeyId,
    },
    /// One key would sit in the ring under two ids.
    DuplicateKey {
        /// The id it was given now.
        id: KeyId,
        /// The id it already has in the ring.
        existing: KeyId,
    },
    /// The ring has no key with this id.
    NoSuchKey {
        /// The id asked for.
        id: KeyId,
    },
    /// The designated primary key cannot be retired or revoked (nor scheduled); promote
    /// another key first.
    IsPrimary {
        /// The primary key's id.
        id: KeyId,
    },
    /// The key is revoked: it cannot be promoted or scheduled.
    Revoked {
        /// The key's id.
        id: KeyId,
    },
    /// A key ring holds at most 16 keys.
    RingFull {
        /// The limit.
        limit: usize,
    },
    /// No key of a ring text can seal at the time it is loaded (every key is pending or
    /// revoked).
    NoActiveKey,
    /// A ring file could not be read (or is over 64 KiB: `kind` is
    /// [`FileTooLarge`](std::io::ErrorKind::FileTooLarge)).
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What the operating system said.
        kind: std::io::ErrorKind,
    },
    /// A ring file's path names something other than a regular file (after following
    /// symlinks): a directory, a FIFO, a device such as `/dev/zero`.
    NotAFile {
        /// The path.
        path: std::path::PathBuf,
    },
    /// A ring file was read, and its text was refused.
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why its text was refused (for a text error, with the line).
        error: Box<KeyError>,
    },
    /// A reload would weaken the running ring (un-revoke a key, move the not-before time
    /// back, make a key seal earlier than the running ring says): refused, unless the text
    /// says `allow-weakening`.
    Weakening {
        /// The key concerned, if the change concerns a key.
        id: Option<KeyId>,
        /// What would weaken.
        reason: &'static str,
    },
    /// A ring file watcher was asked to poll with a zero interval (a busy loop).
    ZeroInterval,
    /// The environment variable [`KeyRing::from_env`](crate::KeyRing::from_env) reads is not
    /// set (or not UTF-8).
    EnvNotSet {
        /// The variable.
        var: String,
        /// How to make a key and set it (also shown by `Debug`).
        fix: &'static str,
    },
    /// The environment variable [`KeyRing::from_env`](crate::KeyRing::from_env) reads does
    /// not hold a ring text.
    InEnv {
        /// The variable.
        var: String,
        /// Why its text was refused.
        error: Box<KeyError>,
    },
    /// A ring text (ring file, `SESSION_KEYS`) does not parse.
    RingText {
        /// The line, counted from 1 (0 for the text as a whole).
        line: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    Rng,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { len } => write!(f, "a key must be exactly 32 bytes, got {len}"),
            Self::Weak => f.write_str(
                "the key bytes are all one repeated byte; generate a real key with Key::generate",
            ),
            Self::MasterTooShort { len } => {
                write!(f, "a master secret must be at least 32 bytes, got {len}")
            }
            Self::Format { part } => write!(
                f,
                "invalid key string ({part}); expected ssk1.<algorithm>.<8 lowercase hex digits>.<43 base64url characters>"
            ),
            Self::IdMismatch { id } => write!(
                f,
                "key id {id} is not the id derived from the key bytes; write an explicit id as ={id}"
            ),
            Self::UnknownAlgorithm => {
                f.write_str("unknown algorithm; expected aes-256-gcm or xchacha20-poly1305")
            }
            Self::EmptyRing => f.write_str("a key ring needs at least one key"),
            Self::DuplicateId { id } => write!(f, "key id {id} is already used by another key"),
            Self::DuplicateKey { id, existing } => write!(
                f,
                "the key with id {id} is already in the ring as key {existing}; one key, one id"
            ),
            Self::NoSuchKey { id } => write!(f, "no key with id {id} in the ring"),
            Self::IsPrimary { id } => write!(
                f,
                "key {id} is the primary key; promote or rotate to another key before retiring, revoking or scheduling it"
            ),
            Self::Revoked { id } => write!(f, "key {id} is revoked"),
            Self::RingFull { limit } => write!(f, "a key ring holds at most {limit} keys"),
            Self::NoActiveKey => f.write_str(
                "no key of the ring can seal now: every key is pending or revoked; add an active key",
            ),
            Self::File {
                path,
                kind: std::io::ErrorKind::FileTooLarge,
            } => write!(
                f,
                "the key ring file {} is over 64 KiB; a ring holds at most 16 keys",
                path.display()
            ),
            Self::File { path, kind } => write!(
                f,
                "the key ring file {} could not be read: {kind}",
                path.display()
            ),
            Self::NotAFile { path } => write!(
                f,
                "{} is not a regular file (a directory, a FIFO or a device?); a key ring file \
                 is a regular text file",
                path.display()
            ),
            Self::InFile { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Weakening { id: Some(id), reason } => write!(
                f,
                "refused: the new ring would {reason} (key {id}); if you mean it, add a line \
                 `allow-weakening` to the text (and remove it once loaded)"
            ),
            Self::Weakening { id: None, reason } => write!(
                f,
                "refused: the new ring would {reason}; if you mean it, add a line \
                 `allow-weakening` to the text (and remove it once loaded)"
            ),
            Self::ZeroInterval => {
                f.write_str("a key ring watcher needs a poll interval above zero (it would spin)")
            }
            Self::EnvNotSet { var, fix } => {
                write!(f, "the environment variable {var} is not set: {fix}")
            }
            Self::InEnv { var, error } => {
                write!(f, "the environment variable {var}: {error}")
            }
            Self::RingText { line: 0, reason } => write!(f, "invalid key ring text: {reason}"),
            Self::RingText { line, reason } => {
                write!(f, "invalid key ring text at line {line}: {reason}")
            }
            Self::Rng => f.write_str("the operating system's random number generator failed"),
        }
    }
}

// `InFile` shows its inner error in its own message, so it names no `source` (a report would
// print it twice).
impl std::error::Error for KeyError {}

/// A configuration was contradictory or out of range.
///
/// Returned when a configuration is built, never at request time. [`setting`](Self::setting)
/// names the builder setting at fault; the message says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A lifetime is zero, too long, or the idle timeout exceeds the absolute lifetime.
    Lifetime {
        /// The setting at fault: `idle_timeout`, `max_lifetime` or `lifetime`.
        setting: &'static str,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// The allowed clock skew is larger than an hour.
    ClockSkew,
    /// The cookie name is empty or holds characters a cookie name cannot hold.
    CookieName,
    /// A cookie attribute conflicts with the cookie name's prefix or with another attribute.
    Attribute {
        /// The setting at fault: `cookie_name`, `path`, `domain`, `secure`, `same_site` or
        /// `partitioned`.
        setting: &'static str,
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
    /// A schema migration is registered twice, for the current version, or a version to
    /// write is not registered.
    #[non_exhaustive]
    Migration {
        /// The registered type at fault (its Rust name, for the message).
        type_name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A session type's serde shape cannot be traced for the type binding of wire format v3
    /// (its `Deserialize` needs a self-describing format, or recurses through a struct).
    #[non_exhaustive]
    TypeShape {
        /// The type (its Rust name, for the message).
        type_name: &'static str,
        /// Which serde construct stopped the trace.
        reason: String,
    },
    /// The chunking or compression settings are out of range.
    #[non_exhaustive]
    Chunking {
        /// The setting at fault: `max_chunks` or `cookie_header_budget`.
        setting: &'static str,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
}

impl ConfigError {
    /// The builder setting at fault, as named in the builder (`idle_timeout`, `path`, ...).
    #[must_use]
    pub fn setting(&self) -> &'static str {
        match self {
            Self::Lifetime { setting, .. }
            | Self::Attribute { setting, .. }
            | Self::Chunking { setting, .. } => setting,
            Self::ClockSkew => "clock_skew",
            Self::CookieName => "cookie_name",
            Self::CookieSize { .. } => "max_cookie_size",
            Self::Migration { .. } => "migrations",
            Self::TypeShape { .. } => "type_context",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lifetime { setting, reason }
            | Self::Attribute { setting, reason }
            | Self::Chunking { setting, reason } => write!(f, "{setting}: {reason}"),
            Self::ClockSkew => f.write_str(
                "clock_skew: the allowed clock skew must be at most 3600 seconds; synchronise the clocks (NTP) instead",
            ),
            Self::CookieName => f.write_str(
                "cookie_name: the cookie name must be 1 to 256 visible ASCII characters other than separators ()<>@,;:\\\"/[]?={} and space",
            ),
            Self::CookieSize { min, max, limit } => write!(
                f,
                "max_cookie_size: size limit {limit} is out of range: it must be at least {min} (an empty session with these attributes) and at most {max}"
            ),
            Self::Migration { type_name, reason } => {
                write!(f, "migrations: {type_name}: {reason}")
            }
            Self::TypeShape { type_name, reason } => write!(
                f,
                "the shape of {type_name} cannot be traced ({reason}): bind a context instead \
                 (SessionConfigBuilder::type_context)"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A change to a session could not take effect; the session is unchanged.
///
/// This is what handlers see from `set`, `update` and the other mutations, and what
/// [`Codec::seal`](crate::Codec::seal) returns. With the `axum` feature it is a response:
/// `TooLarge` is a 413 naming the limit, `Conflict` (conflicting session cookies, which a
/// client can send) a 400, everything else a 500 with a generic body (and a log event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The sealed session would be larger than the limit.
    ///
    /// For [`Codec::seal`](crate::Codec::seal) the sizes count the cookie value; for a session
    /// behind the middleware they count every `Set-Cookie` line (or the `Cookie` header
    /// budget, with chunking).
    TooLarge {
        /// The size the sealed session would have, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The session data could not be serialized (for example a map or sequence of unknown
    /// length).
    Serialize,
    /// The data's postcard encoding does not read back as the same data: it does not decode as
    /// one value of the session type (the cookie would never open), or decodes as other data
    /// (it would open as that). postcard is not self-describing: serde attributes such as
    /// `skip_serializing_if`, `untagged` and `flatten` break it (see [`Session`'s
    /// docs](crate::Session)).
    NotRoundTrip,
    /// The operating system's random number generator failed, so no nonce or session id could
    /// be drawn.
    Rng,
    /// The session was destroyed earlier in this request: the response deletes the cookie,
    /// and nothing can be changed until the next request.
    Destroyed,
    /// The response was already written: a change now would never reach the browser.
    ResponseSent,
    /// The request carried conflicting cookies of the session's name (two authentic ones, or
    /// more than can be examined): the session cannot be saved without overwriting a cookie
    /// that may be the user's own, so it is left alone.
    Conflict,
    /// The request's path is outside the cookie's `Path`: the browser did not send the
    /// session and would not send it back, so a change here would be lost.
    OutsidePath,
    /// During a rollout ([`Migrations::write_as`](crate::Migrations::write_as)), sessions are
    /// written as an older schema version that cannot hold this value (a field it lacks
    /// changed): saving it would lose the change, so it is refused.
    Unwritable {
        /// The schema version written.
        version: u32,
    },
    /// A condition that should never happen did (a bug in this crate, or an AEAD failure);
    /// nothing was saved.
    Internal,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size, limit } => write!(
                f,
                "the session would be {size} bytes, over the {limit}-byte cookie limit; keep large data server-side"
            ),
            Self::Serialize => f.write_str("the session data could not be serialized"),
            Self::NotRoundTrip => f.write_str(
                "the session data does not survive a postcard round trip (skip_serializing_if, untagged or flatten?)",
            ),
            Self::Rng => f.write_str("the operating system's random number generator failed"),
            Self::Destroyed => {
                f.write_str("the session was destroyed earlier in this request")
            }
            Self::ResponseSent => {
                f.write_str("the response was already sent; the change would be lost")
            }
            Self::Conflict => f.write_str(
                "the request carried conflicting session cookies; the session is left unchanged",
            ),
            Self::OutsidePath => f.write_str(
                "the request is outside the session cookie's Path; a change here would be lost",
            ),
            Self::Unwritable { version } => write!(
                f,
                "the session is written as schema version {version} during a rollout (write_as), which cannot hold this change"
            ),
            Self::Internal => f.write_str("internal error in sealed-session; nothing was saved"),
        }
    }
}

impl SessionError {
    /// The HTTP status an adapter answers with when a handler returns this error: `413` for
    /// [`TooLarge`](Self::TooLarge) (the client sent more than the session can hold), `400` for
    /// [`Conflict`](Self::Conflict) (the client's own conflicting cookies: never a 5xx for
    /// what a client sent), `500` for the rest (server-side errors).
    #[must_use]
    pub fn status_code(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Conflict => 400,
            _ => 500,
        }
    }

    /// Whether a client's request can cause this error (so it is no server error to log).
    #[must_use]
    pub fn is_client_caused(&self) -> bool {
        self.status_code() < 500
    }

    /// The body of the response an adapter answers with, beside
    /// [`status_code`](Self::status_code): the message when the client caused the error (it
    /// names sizes and limits, nothing secret), a generic `internal server error` otherwise
    /// (the details are for the server's log, not the client). An adapter that answers with
    /// it logs the server-side ones.
    ///
    /// In debug builds (`debug_assertions`), a [`NotRoundTrip`](Self::NotRoundTrip) body also
    /// names the problem in the session type's fields: a programming error that says nothing
    /// about a request, and that a developer would otherwise see only with a `tracing`
    /// subscriber installed. Release builds answer the generic body.
    ///
    /// ```
    /// use sealed_session::SessionError;
    ///
    /// let too_large = SessionError::TooLarge { size: 5000, limit: 4096 };
    /// assert_eq!(too_large.status_code(), 413);
    /// assert!(too_large.response_body().contains("4096"));
    /// assert_eq!(SessionError::Internal.response_body(), "internal server error");
    /// ```
    #[must_use]
    pub fn response_body(&self) -> std::borrow::Cow<'static, str> {
        if self.is_client_caused() {
            std::borrow::Cow::Owned(self.to_string())
        } else if cfg!(debug_assertions) && matches!(self, Self::NotRoundTrip) {
            std::borrow::Cow::Borrowed(NOT_ROUND_TRIP_BODY)
        } else {
            std::borrow::Cow::Borrowed("internal server error")
        }
    }
}

/// The body of a [`SessionError::NotRoundTrip`] in debug builds.
const NOT_ROUND_TRIP_BODY: &str = "internal server error: the session data does not survive a \
    postcard round trip (SessionError::NotRoundTrip). postcard is not self-describing, so every \
    field of the session type must be written on every serialization: remove \
    #[serde(skip_serializing_if = ...)], #[serde(untagged)], #[serde(flatten)] and \
    skip_serializing/skip_deserializing from it (a field that may be absent is an Option). \
    This detail is shown in debug builds only\n";

impl std::error::Error for SessionError {}

/// Why an incoming sealed value was refused.
///
/// For server logs only: every kind must look the same to the client. It carries the
/// [kind](OpenErrorKind) and, where known, the key id, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenError {
    kind: OpenErrorKind,
    key_id: Option<KeyId>,
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
    /// The envelope is authentic, but sealed under a revoked key (checked after the AEAD, so
    /// this reason always names a real cookie of that key).
    KeyRevoked,
    /// The envelope's hour lies outside the session lifetime window: too old to be valid, or
    /// too far in the future.
    OutsideWindow,
    /// The header's flags are not ones this configuration reads: unassigned bits, more
    /// chunks than allowed, or compression where it is off.
    Flags,
    /// Authentication failed: tampered, sealed under another key, for another cookie name or
    /// for another schema version, or chunks missing, extra or out of order. One kind for all
    /// of them, on purpose.
    Unauthentic,
    /// The envelope's schema version is neither the current one nor a registered older one.
    UnknownSchema,
    /// Authentic, but the plaintext is not a session of the expected type (or has trailing
    /// bytes, or does not decompress within the limit).
    Payload,
    /// The envelope (format v3) is bound to another session type: another application or
    /// layer sharing the key ring and cookie name sealed it, or the session type changed
    /// without registering the old one ([`Migrations::from`](crate::Migrations::from)).
    WrongType,
    /// The session's idle or absolute lifetime has passed.
    Expired,
    /// The session was created further in the future than the allowed clock skew.
    FutureDated,
    /// Authentic and live, but revoked: created before the ring's not-before time, or refused
    /// by the application's revocation check.
    SessionRevoked,
    /// Sealed in format v1 or v2, which carry no session-type binding, where the configuration
    /// refuses them ([`WireFormat::V3Only`](crate::WireFormat::V3Only)). Decided from the
    /// header, before the AEAD.
    Unbound,
}

impl OpenError {
    pub(crate) const fn new(kind: OpenErrorKind) -> Self {
        Self { kind, key_id: None }
    }

    pub(crate) const fn with_key_id(mut self, id: KeyId) -> Self {
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
    pub const fn key_id(&self) -> Option<KeyId> {
        self.key_id
    }
}

impl From<OpenErrorKind> for OpenError {
    fn from(kind: OpenErrorKind) -> Self {
        Self::new(kind)
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
            Self::KeyRevoked => "key_revoked",
            Self::OutsideWindow => "outside_window",
            Self::Flags => "flags",
            Self::Unauthentic => "unauthentic",
            Self::UnknownSchema => "unknown_schema",
            Self::Payload => "payload",
            Self::WrongType => "wrong_type",
            Self::Expired => "expired",
            Self::FutureDated => "future_dated",
            Self::SessionRevoked => "session_revoked",
            Self::Unbound => "unbound",
        }
    }

    const fn describe(self) -> &'static str {
        match self {
            Self::Malformed => "malformed sealed value",
            Self::TooLong => "sealed value longer than the size limit allows",
            Self::UnsupportedVersion => "unsupported format version",
            Self::UnknownKey => "unknown key id",
            Self::KeyRevoked => "sealed under a revoked key",
            Self::OutsideWindow => "sealed outside the session lifetime window",
            Self::Flags => "header flags not accepted by this configuration",
            Self::Unauthentic => "authentication failed",
            Self::UnknownSchema => "unknown schema version",
            Self::Payload => "authentic value is not a session of the expected type",
            Self::WrongType => "sealed for another session type",
            Self::Expired => "session expired",
            Self::FutureDated => "session created in the future",
            Self::SessionRevoked => "session revoked",
            Self::Unbound => "format without a session-type binding (v1 or v2), refused here",
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
        match self.key_id {
            Some(id) => write!(f, "{} (key id {id})", self.kind.describe()),
            None => f.write_str(self.kind.describe()),
        }
    }
}

impl std::error::Error for OpenError {}

/// A `Session<T>` extractor found no session in its request: no middleware of that `T` wraps
/// the route (or one was built for another `T`). What every adapter's extractor rejection
/// says, so that they say it alike: `500 Internal Server Error` (a server misconfiguration,
/// which must be loud, never a silent 200 with a throwaway session), with a body that names
/// the missing middleware and how to add it.
///
/// ```
/// use sealed_session::MissingSession;
///
/// let missing = MissingSession::new::<u32>("SessionLayer", "route wrapped in .layer");
/// assert_eq!(missing.status_code(), 500);
/// assert_eq!(
///     missing.to_string(),
///     "missing SessionLayer<u32>: the Session<u32> extractor needs the route wrapped in \
///      .layer(SessionLayer::<u32>::new(ring, config))"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingSession {
    session_type: &'static str,
    middleware: &'static str,
    wrapped: &'static str,
}

impl MissingSession {
    /// No `middleware` (its type's name, such as `"SessionLayer"`) of session type `T`; the
    /// message says the `wrapped` (such as `"route wrapped in .layer"`) it needs.
    #[must_use]
    pub fn new<T: ?Sized>(middleware: &'static str, wrapped: &'static str) -> Self {
        Self {
            session_type: core::any::type_name::<T>(),
            middleware,
            wrapped,
        }
    }

    /// The status code: `500`, since this is a server misconfiguration.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        500
    }
}

impl fmt::Display for MissingSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "missing {m}<{t}>: the Session<{t}> extractor needs the {w}({m}::<{t}>::new(ring, config))",
            m = self.middleware,
            t = self.session_type,
            w = self.wrapped,
        )
    }
}

impl std::error::Error for MissingSession {}
