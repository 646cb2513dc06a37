//! What a session is besides its data: its id, its creation time, its lifetime, and what an
//! open gives back.

use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SESSION_ID_LEN, SealedAs};
use crate::error::SessionError;
use crate::key::KeyId;
use crate::rng;

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
    /// The session data, converted to the current schema version.
    pub data: T,
    /// The key that opened it.
    pub key_id: KeyId,
    /// Whether that key is the ring's primary. If not, re-seal the session so that it moves to
    /// the primary key (the middleware does this on the same response).
    pub by_primary: bool,
    /// How the session expires, as sealed (and capped by the codec's maxima).
    pub lifetime: Lifetime,
    /// The pending flash messages.
    pub flash: Vec<String>,
    /// The schema version of the type the data was sealed as: the number in a format v2
    /// header, or for format v3 the number configured for that type (0 if none).
    pub schema_version: u32,
    /// Which type the header named.
    pub(crate) sealed_as: SealedAs,
    /// How many cookies the value was split across.
    pub(crate) chunks: usize,
    /// The data as it came, compressed, when this codec compresses: an unchanged session
    /// re-seals it as it is instead of compressing again (RT3-5). Wiped when dropped.
    pub(crate) packed: Option<Packed>,
}

/// Compressed session data as it came in a cookie, wiped when dropped.
pub(crate) type Packed = super::Wiped;

impl<T> fmt::Debug for Opened<T> {
    /// Omits the session data and the flash messages, which may hold personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("meta", &self.meta)
            .field("expires", &self.expires)
            .field("key_id", &self.key_id)
            .field("by_primary", &self.by_primary)
            .field("lifetime", &self.lifetime)
            .field("schema_version", &self.schema_version)
            .finish_non_exhaustive()
    }
}

/// How a session expires: a persistent cookie or a browser-session one, each with an idle
/// timeout and an absolute lifetime.
///
/// The lifetime is sealed with the session (wire format v2), so every instance enforces the
/// same one. Its bounds are capped by the configuration's maxima (`idle_timeout`,
/// `max_lifetime`) and floored at one second when it is sealed and again when it is opened;
/// unset bounds are the maxima.
///
/// - [`Lifetime::persistent`]: the cookie has a `Max-Age` and survives a browser restart
///   ("remember me").
/// - [`Lifetime::browser_session`]: no `Max-Age`/`Expires`, so the browser drops the cookie
///   when it closes; the server still enforces the idle and absolute bounds from the sealed
///   data, since browsers that restore sessions keep such cookies.
///
/// ```
/// use std::time::Duration;
/// use sealed_session::Lifetime;
///
/// let remember_me = Lifetime::persistent();
/// let tab = Lifetime::browser_session().with_idle_timeout(Duration::from_secs(30 * 60));
/// assert!(remember_me.is_persistent() && !tab.is_persistent());
/// assert_eq!(tab.idle_timeout(), Some(Duration::from_secs(1800)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lifetime {
    pub(super) persistent: bool,
    pub(super) idle: Option<u64>,
    pub(super) max: Option<u64>,
}

impl Lifetime {
    /// A persistent cookie (`Max-Age`), with the configuration's maxima as bounds.
    #[must_use]
    pub const fn persistent() -> Self {
        Self {
            persistent: true,
            idle: None,
            max: None,
        }
    }

    /// A browser-session cookie (no `Max-Age`), with the configuration's maxima as bounds.
    #[must_use]
    pub const fn browser_session() -> Self {
        Self {
            persistent: false,
            idle: None,
            max: None,
        }
    }

    /// A shorter idle timeout than the configuration's (longer ones are capped). Whole
    /// seconds, at least one.
    #[must_use]
    pub const fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = Some(idle.as_secs());
        self
    }

    /// A shorter absolute lifetime than the configuration's (longer ones are capped). Whole
    /// seconds, at least one.
    #[must_use]
    pub const fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max = Some(max.as_secs());
        self
    }

    /// Whether the cookie survives the browser's restart.
    #[must_use]
    pub const fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// The idle timeout, if set.
    #[must_use]
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle.map(Duration::from_secs)
    }

    /// The absolute lifetime, if set.
    #[must_use]
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.max.map(Duration::from_secs)
    }
}

impl Default for Lifetime {
    fn default() -> Self {
        Self::persistent()
    }
}

/// A lifetime with both bounds resolved against a codec's maxima, in seconds: what is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bounds {
    pub(crate) persistent: bool,
    pub(crate) idle: u64,
    pub(crate) max: u64,
}

impl Bounds {
    pub(super) fn lifetime(self) -> Lifetime {
        Lifetime {
            persistent: self.persistent,
            idle: Some(self.idle),
            max: Some(self.max),
        }
    }
}
