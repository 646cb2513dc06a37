//! Live reload of a key ring from its file: a polling thread, no async runtime needed.
//!
//! It sits with the adapters because it reads the system clock and reports through `tracing`;
//! the ring itself only parses and swaps ([`KeyRing::reload`]).

use core::fmt;
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::error::KeyError;
use crate::ring::{KeyRing, KeyStatus, Source, read_ring_file, ring_file_text};

/// The `tracing` target of the ring watcher's events.
const KEYS_EVENT_TARGET: &str = "sealed_session::keys";

/// Polls a ring file and reloads the ring when the file changes; stops when dropped.
///
/// Made by [`KeyRing::watch_file`]. A reload is atomic. A file that is refused keeps the old
/// ring and logs `error` events (target `sealed_session::keys`): one per change of a file that
/// does not parse, lacks its `end` line, names no key that can seal or would weaken the running
/// ring; and one when the file cannot be read (missing, not a regular file, over 64 KiB), at
/// the start or when it becomes so, not again until it has been read. A good reload logs one
/// `info` event.
/// A change of the primary key logs one `info` event, whether a reload or an activation time
/// made it. Dropping the watcher logs that it stopped (at `warn` in debug builds, where a
/// `let _ = ring.watch_file(..)` is the likely cause).
#[must_use = "the watcher stops when dropped: keep it for as long as the server runs (`let _watcher = ...`)"]
pub struct RingWatcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    path: PathBuf,
}

impl KeyRing {
    /// Reloads this ring from `path` whenever its content changes, checking every `every`, on a
    /// thread of its own (no async runtime needed); the returned watcher stops it when dropped.
    ///
    /// The file must end with a line `end` (a file caught half-written is refused), be a
    /// regular file of at most 64 KiB, and a reload that would weaken the running ring is
    /// refused unless the file says `allow-weakening` (see [`reload`](Self::reload)).
    ///
    /// With activation times in the file (`activate=`), a scheduled rotation needs no reload
    /// at all: write the new key ahead of time, and every instance promotes it at the same
    /// second. Keep the watcher alive for as long as the server runs.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), sealed_session::KeyError> {
    /// use std::time::Duration;
    /// use sealed_session::KeyRing;
    ///
    /// let ring = KeyRing::from_file("/etc/myapp/session.keys")?;
    /// let _watcher = ring.watch_file("/etc/myapp/session.keys", Duration::from_secs(10))?;
    /// // ... SessionLayer::new(ring, config) ...
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError::ZeroInterval`] for a zero `every` (a busy loop). A file that is missing or
    /// refused when the watcher starts is not an error: the watcher loads it once it is good
    /// (one that cannot be read is logged at once, see [`RingWatcher`]).
    pub fn watch_file(
        &self,
        path: impl Into<PathBuf>,
        every: Duration,
    ) -> Result<RingWatcher, KeyError> {
        if every.is_zero() {
            return Err(KeyError::ZeroInterval);
        }
        let path = path.into();
        let (stop, stopped) = mpsc::channel::<()>();
        let ring = self.clone();
        let watched = path.clone();
        // Read before the thread starts, so that a change made once this returns is seen; a
        // bounded read of a regular file only, so that it cannot block or fill the memory.
        // A file that cannot be read already (a wrong path, a FIFO, a file over 64 KiB) is said
        // here, once; the polls say when it becomes so.
        let last = read_reporting(&path, true);
        // The thread reports to the subscriber of the code that started it, scoped or global.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let thread = thread::Builder::new()
            .name("sealed-session-ring".into())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    watch(&ring, &watched, every, last, &stopped);
                });
            })
            .ok();
        if thread.is_none() {
            tracing::error!(target: KEYS_EVENT_TARGET, path = %path.display(), "could not start the key ring watcher thread");
        }
        Ok(RingWatcher {
            stop: Some(stop),
            thread,
            path,
        })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The watcher's loop: read, compare, reload, and say when the primary changes; until told to
/// stop.
///
/// `last` is the content of the file as last seen (loaded or refused), so that each change is
/// handled once.
fn watch(
    ring: &KeyRing,
    path: &Path,
    every: Duration,
    mut last: Option<Zeroizing<Vec<u8>>>,
    stopped: &mpsc::Receiver<()>,
) {
    let mut then = unix_now();
    let mut primary = ring.primary_id_at(then);
    loop {
        match stopped.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = unix_now();
        let reloaded = poll(ring, path, &mut last, now);
        let current = ring.primary_id_at(now);
        if current != primary {
            // Which change made it: this reload, an activation time passing, or a call.
            let cause = if reloaded {
                "ring file reloaded"
            } else if matches!(
                ring.status_at(current, then),
                Some(KeyStatus::Pending { .. })
            ) {
                "activation time passed"
            } else {
                "ring changed through the API"
            };
            tracing::info!(target: KEYS_EVENT_TARGET, path = %path.display(), from = %primary, to = %current, cause, "primary key changed");
            primary = current;
        }
        then = now;
    }
}

/// The file's bytes, or `None` if it cannot be read, logged as an `error` when `report`.
fn read_reporting(path: &Path, report: bool) -> Option<Zeroizing<Vec<u8>>> {
    read_ring_file(path)
        .inspect_err(|error| {
            if report {
                tracing::error!(target: KEYS_EVENT_TARGET, path = %path.display(), %error, "key ring file unreadable; keeping the current ring");
            }
        })
        .ok()
}

/// One poll: reloads the file if it changed since `last`; says whether it did.
fn poll(ring: &KeyRing, path: &Path, last: &mut Option<Zeroizing<Vec<u8>>>, now: u64) -> bool {
    // Said once when it becomes unreadable, not on every poll while it stays so.
    let Some(bytes) = read_reporting(path, last.is_some()) else {
        *last = None;
        return false;
    };
    if last.as_deref() == Some(&*bytes) {
        return false;
    }
    let result = ring_file_text(&bytes).and_then(|text| ring.reload_from(text, Source::File, now));
    *last = Some(bytes);
    match result {
        Ok(()) => {
            tracing::info!(target: KEYS_EVENT_TARGET, path = %path.display(), primary = %ring.primary_id_at(now), keys = ring.ids().len(), "key ring reloaded");
            true
        }
        Err(error) => {
            tracing::error!(target: KEYS_EVENT_TARGET, path = %path.display(), %error, "key ring file refused; keeping the current ring");
            false
        }
    }
}

impl Drop for RingWatcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            // Loud where a dropped watcher is most likely a mistake (`let _ = ...`).
            if cfg!(debug_assertions) {
                tracing::warn!(target: KEYS_EVENT_TARGET, path = %self.path.display(), "key ring watcher stopped (dropped); the ring no longer follows the file");
            } else {
                tracing::info!(target: KEYS_EVENT_TARGET, path = %self.path.display(), "key ring watcher stopped (dropped); the ring no longer follows the file");
            }
        }
    }
}

impl fmt::Debug for RingWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingWatcher")
            .field("path", &self.path)
            .field("running", &self.thread.is_some())
            .finish()
    }
}
