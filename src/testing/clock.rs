//! A clock a test moves.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(doc)]
use crate::Sessions;
use crate::session::Clock;

/// The latest time a [`MockClock`] shows: 9999-12-31T23:59:59Z (later ones are clamped to it,
/// so that the time never overflows a `SystemTime`).
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// A clock that a test moves: Unix seconds, shared by every clone.
///
/// Give a clone to `with_clock` of [`SessionLayer`](crate::SessionLayer), [`Sessions`] or
/// [`TowerSessionsLayer`](crate::TowerSessionsLayer) (it is a [`Clock`]), keep one in the
/// test, and [`advance`](Self::advance) it: the server sees the new time on its next request.
///
/// ```
/// use std::time::Duration;
/// use sealed_session::testing::MockClock;
/// use sealed_session::{Algorithm, Key, KeyRing, SessionConfig, SessionLayer};
///
/// let clock = MockClock::new(1_764_000_000);
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// let layer = SessionLayer::<u32>::new(ring, SessionConfig::default()).with_clock(clock.clone());
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now(), 1_764_003_600);
/// clock.set(1_800_000_000);
/// assert_eq!(clock.now(), 1_800_000_000);
/// # drop(layer);
/// ```
#[derive(Clone)]
pub struct MockClock {
    secs: Arc<AtomicU64>,
}

impl MockClock {
    /// A clock showing `unix_secs` (seconds since 1970-01-01T00:00:00Z; clamped at the end of
    /// the year 9999).
    #[must_use]
    pub fn new(unix_secs: u64) -> Self {
        Self {
            secs: Arc::new(AtomicU64::new(unix_secs.min(MAX_UNIX_SECS))),
        }
    }

    /// A clock showing the system clock's current second (for a test that a real browser
    /// joins: the cookies it keeps expire by its own clock).
    #[must_use]
    pub fn from_system_clock() -> Self {
        Self::new(unix_secs(SystemTime::now()))
    }

    /// The time it shows, in Unix seconds.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.secs.load(Ordering::SeqCst)
    }

    /// Sets the time, in Unix seconds (clamped at the end of the year 9999).
    pub fn set(&self, unix_secs: u64) {
        self.secs
            .store(unix_secs.min(MAX_UNIX_SECS), Ordering::SeqCst);
    }

    /// Moves the time forward by `by`, in whole seconds (a fraction is dropped).
    pub fn advance(&self, by: Duration) {
        let step = |secs: u64| Some(secs.saturating_add(by.as_secs()).min(MAX_UNIX_SECS));
        // The closure always returns `Some`: the update cannot fail.
        let _ = self
            .secs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, step);
    }
}

impl Clock for MockClock {
    fn system_time(&self) -> SystemTime {
        // At most the year 9999: inside every platform's `SystemTime`.
        UNIX_EPOCH
            .checked_add(Duration::from_secs(self.now()))
            .unwrap_or(UNIX_EPOCH)
    }
}

impl fmt::Debug for MockClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MockClock").field(&self.now()).finish()
    }
}

/// Seconds since 1970 (0 before it).
pub(super) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
