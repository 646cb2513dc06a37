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

use crate::ring::KeyRing;

/// The `tracing` target of the ring watcher's events.
const KEYS_EVENT_TARGET: &str = "sealed_session::keys";

/// Polls a ring file and reloads the ring when the file changes; stops when dropped.
///
/// Made by [`KeyRing::watch_file`]. A reload is atomic, and a file that does not parse (or
/// names no key that can seal) keeps the old ring and logs one `error` event (target
/// `sealed_session::keys`) per change of the file; a good reload logs one `info` event.
pub struct RingWatcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    path: PathBuf,
}

impl KeyRing {
    /// Reloads this ring from `path` whenever its content changes, checking every `every`, on a
    /// thread of its own (no async runtime needed); the returned watcher stops it when dropped.
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
    /// let _watcher = ring.watch_file("/etc/myapp/session.keys", Duration::from_secs(10));
    /// // ... SessionLayer::new(ring, config) ...
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn watch_file(&self, path: impl Into<PathBuf>, every: Duration) -> RingWatcher {
        let path = path.into();
        let (stop, stopped) = mpsc::channel::<()>();
        let ring = self.clone();
        let watched = path.clone();
        // Read before the thread starts, so that a change made once this returns is seen.
        let last = std::fs::read_to_string(&path).ok().map(Zeroizing::new);
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
        RingWatcher {
            stop: Some(stop),
            thread,
            path,
        }
    }
}

/// The watcher's loop: read, compare, reload; until told to stop.
///
/// `last` is the text of the file as last seen (loaded or refused), so that each change is
/// handled once.
fn watch(
    ring: &KeyRing,
    path: &Path,
    every: Duration,
    mut last: Option<Zeroizing<String>>,
    stopped: &mpsc::Receiver<()>,
) {
    loop {
        match stopped.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Zeroizing::new(text),
            Err(error) => {
                if last.is_some() {
                    tracing::error!(target: KEYS_EVENT_TARGET, path = %path.display(), %error, "key ring file unreadable; keeping the current ring");
                }
                last = None;
                continue;
            }
        };
        if last.as_deref() == Some(&*text) {
            continue;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match ring.reload(&text, now) {
            Ok(()) => {
                tracing::info!(target: KEYS_EVENT_TARGET, path = %path.display(), primary = %ring.primary_id_at(now), keys = ring.ids().len(), "key ring reloaded");
            }
            Err(error) => {
                tracing::error!(target: KEYS_EVENT_TARGET, path = %path.display(), %error, "key ring file refused; keeping the current ring");
            }
        }
        last = Some(text);
    }
}

impl Drop for RingWatcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
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
