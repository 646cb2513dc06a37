//! What an engine shares with every session it creates: the configuration, the codec, the
//! schema, the clock and the revocation check.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "test-util")]
use super::open;
#[cfg(feature = "test-util")]
use crate::codec::Opened;
use crate::codec::{Codec, Lifetime, Schema, SessionMeta};
use crate::config::SessionConfig;
#[cfg(feature = "test-util")]
use crate::cookies::CookieFields;
#[cfg(feature = "test-util")]
use crate::error::{OpenError, OpenErrorKind};
use crate::ring::KeyRing;

/// What a session type needs: postcard-serializable, a default for new sessions, and shareable
/// across the threads a request may move between.
pub trait SessionData: Serialize + DeserializeOwned + Default + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Default + Send + Sync + 'static> SessionData for T {}

/// A source of the current time, for [`Sessions::with_clock`](crate::Sessions::with_clock) and
/// the adapters' `with_clock`: any `Fn() -> SystemTime` closure, or a clock of your own (with
/// the `test-util` feature, `testing::MockClock`).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use sealed_session::Clock;
///
/// /// Always an hour ahead of the system clock.
/// struct Ahead;
///
/// impl Clock for Ahead {
///     fn system_time(&self) -> SystemTime {
///         SystemTime::now() + Duration::from_secs(3600)
///     }
/// }
///
/// let closure = || SystemTime::UNIX_EPOCH;
/// assert_eq!(closure.system_time(), SystemTime::UNIX_EPOCH);
/// assert!(Ahead.system_time() > SystemTime::now());
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn system_time(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + Send + Sync + 'static> Clock for F {
    fn system_time(&self) -> SystemTime {
        self()
    }
}

/// The engine's clock, shared by every session it creates.
pub(crate) type SharedClock = Arc<dyn Clock>;

/// An application's check that a live, authentic session is still valid (revocation): `false`
/// refuses it.
pub(crate) type Validator<T> = Arc<dyn Fn(&SessionMeta, &T) -> bool + Send + Sync>;

/// The settings an engine shares with every session it creates.
pub(crate) struct Settings<T> {
    pub(crate) config: SessionConfig,
    pub(crate) codec: Codec,
    pub(crate) schema: Arc<Schema<T>>,
    /// `None`: the system clock.
    pub(crate) clock: Option<SharedClock>,
    pub(crate) validator: Option<Validator<T>>,
}

impl<T> Clone for Settings<T> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            codec: self.codec.clone(),
            schema: Arc::clone(&self.schema),
            clock: self.clock.clone(),
            validator: self.validator.clone(),
        }
    }
}

impl<T: SessionData> Settings<T> {
    /// Settings whose sessions are bound to `binding` (format v3), or written in format v2
    /// when there is none.
    pub(crate) fn new(ring: KeyRing, config: SessionConfig, binding: Option<u32>) -> Self {
        let codec = config.codec(ring);
        let schema = Arc::new(Schema::current(
            config.schema_version(),
            binding,
            config.write_format(),
        ));
        Self {
            config,
            codec,
            schema,
            clock: None,
            validator: None,
        }
    }
}

impl<T: SessionData> Settings<T> {
    /// Opens `cookies` as a request's `Cookie` fields, at the engine's current time, by the
    /// rules of a request (candidates, chunks, migrations, the revocation check): the session,
    /// `None` without a cookie of the session's name, or why the cookies were refused (for
    /// the test kit, which reports it).
    #[cfg(feature = "test-util")]
    pub(crate) fn open_cookies(
        &self,
        cookies: &dyn CookieFields,
    ) -> Result<Option<Opened<T>>, OpenError> {
        let (opened, found) =
            open::open_request(cookies, self, &self.codec.ring().view(), self.now());
        match (opened, found.first_reason) {
            (Some(opened), _) => Ok(Some(opened)),
            (None, Some(kind)) => {
                let error = OpenError::new(kind);
                Err(found.first_key.map_or(error, |key| error.with_key_id(key)))
            }
            (None, None) if found.cookies == 0 => Ok(None),
            // Conflicting authentic cookies: none of them is the session.
            (None, None) => Err(OpenError::new(OpenErrorKind::Unauthentic)),
        }
    }
}

/// What an [`Outcome`](crate::Outcome) reads of the engine's settings, without its type.
pub(crate) trait ConfigSource: Send + Sync {
    fn config(&self) -> &SessionConfig;
}

impl<T: Send + Sync> ConfigSource for Settings<T> {
    fn config(&self) -> &SessionConfig {
        &self.config
    }
}

impl<T> Settings<T> {
    /// The current time in Unix seconds (0 for a clock set before 1970).
    pub(crate) fn now(&self) -> u64 {
        let now = self
            .clock
            .as_ref()
            .map_or_else(SystemTime::now, |clock| clock.system_time());
        now.duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }

    /// Whether `lifetime` asks for more than the configuration's maxima allow.
    pub(super) fn caps(&self, lifetime: Lifetime) -> bool {
        let exceeds = |bound: Option<Duration>, max: Duration| bound.is_some_and(|b| b > max);
        exceeds(lifetime.idle_timeout(), self.codec.idle_timeout())
            || exceeds(lifetime.max_lifetime(), self.codec.max_lifetime())
    }
}
