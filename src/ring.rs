//! The key ring: which key seals and which keys open, key lifecycle (scheduled activation,
//! revocation), the ring-wide not-before time, the message-key cache, and the ring's text
//! form (a ring file or `SESSION_KEYS`) with live reload.

mod cache;
mod text;
mod weaken;

use core::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

pub(crate) use self::cache::RingKey;
use self::text::format_time;
pub(crate) use self::text::{Source, read_ring_file, ring_file_text};
use crate::error::KeyError;
use crate::key::{Key, KeyId};

/// The most keys one ring holds. A rotation needs two or three; the bound keeps every lookup
/// short.
pub(crate) const MAX_RING_KEYS: usize = 16;

/// Hourly message keys cached per ring key, one slot per `hour % CIPHER_SLOTS`. A slot keeps
/// the newest hour that maps to it, so a cookie from an hour older than every cached one is
/// opened with a one-off cipher and evicts nothing.
pub(crate) const CIPHER_SLOTS: usize = 256;

/// The longest text a ring source may have (keys, states, comments): far beyond a real ring.
const MAX_RING_TEXT_LEN: usize = 64 * 1024;

/// One primary key that seals and any number of keys that open, with their lifecycle.
///
/// A `KeyRing` is a cheap handle: clones share the same keys, so a change through any clone
/// is seen by every clone at once (by the middleware of a running server, for example).
/// Reading the ring on the request path takes no lock; only the rare writers serialize among
/// themselves. Every writer leaves the ring unchanged when it returns an error.
///
/// # Key lifecycle
///
/// Each key is in one of four states:
///
/// - **primary**: seals (and opens). In the text form, the first key, top to bottom, that is
///   neither revoked nor pending; through the API, the *scheduled* key whose activation time
///   passed most recently, or, when none has, the *designated* primary: the first key of the
///   ring, or the one [`rotate`](Self::rotate) or [`promote`](Self::promote) named (a
///   scheduled key counts as written on top of the ring).
/// - **pending**: scheduled ([`schedule`](Self::schedule), or `activate=` in the text form)
///   with an activation time still in the future: it opens but does not seal. Every instance
///   that holds the same ring promotes it at the same second, without talking to the others.
/// - **accept-only**: opens, does not seal.
/// - **revoked** ([`revoke`](Self::revoke)): kept so that logs can name it, but everything
///   sealed under it is refused with [`OpenErrorKind::KeyRevoked`](crate::OpenErrorKind).
///
/// [`rotate`](Self::rotate) and [`promote`](Self::promote) take manual control: they cancel
/// every schedule in the ring (pending keys stay, as accept-only keys).
///
/// The ring also holds a **not-before** time ([`set_not_before`](Self::set_not_before), or
/// `not-before=` in the text form): sessions created before it are refused, which logs
/// everyone out without rotating keys.
///
/// The ring caches the hourly message-key ciphers of each key, built once per (key, hour): no
/// key schedule runs on the request path once an hour is warm. A cipher derived to open a
/// cookie is cached only once that cookie proved authentic, so forged cookies evict nothing.
///
/// # Rotation
///
/// The rotation runbook (fleet steps, the scheduled variant, when to retire) is the README's
/// [Key rotation runbook](crate#key-rotation-runbook) (the README is the crate docs).
///
/// # Text form
///
/// A ring parses from key strings separated by commas, spaces or newlines. After a key
/// string, `activate=<time>` schedules it and `revoked` revokes it; `not-before=<time>`
/// anywhere sets the ring's not-before time. Times are Unix seconds or RFC 3339 UTC
/// (`2026-12-01T00:00:00Z`). `#` starts a comment that runs to the end of the line.
///
/// - **Which key seals** follows from the text alone: the first key, top to bottom, that is
///   neither revoked nor pending (its `activate=` time still to come). So a scheduled key goes
///   on top, and a rotation by hand puts a new key (without `activate=`) on top. A text in
///   which an `activate=` could never take effect (below a key without one, or not earlier
///   than the one above it) is refused, naming the line.
/// - **`end`**: a ring *file* ends with a line `end` (only comments may follow), so that a file
///   caught half-written is never loaded ([`from_file`](Self::from_file),
///   [`reload_file`](Self::reload_file), [`watch_file`](Self::watch_file)); in a text source
///   (`SESSION_KEYS`, [`FromStr`](core::str::FromStr), [`reload`](Self::reload)) it is
///   optional. Files are read only if they are regular files of at most 64 KiB.
/// - **`allow-weakening`**: lets one [`reload`](Self::reload) weaken the running ring (see
///   there); remove it once the ring is loaded.
/// - A `not-before` more than a minute in the future is refused (it would refuse every new
///   session until then).
///
/// ```text
/// # session.keys
/// ssk1.aes-256-gcm.5e6f7a8b.<43 characters> activate=2026-12-08T00:00:00Z  # pending, then seals
/// ssk1.aes-256-gcm.1a2b3c4d.<43 characters>                                # seals until then
/// ssk1.xchacha20-poly1305.9c0d1e2f.<43 characters> revoked                 # refused, named in logs
/// not-before=2026-12-01T12:00:00Z
/// end
/// ```
///
/// [`reload`](Self::reload) replaces a running ring's content with a new text atomically,
/// keeping the caches of unchanged keys.
///
/// # Example
///
/// ```
/// use sealed_session::{Algorithm, Key, KeyRing};
///
/// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
/// let old = ring.primary_id();
///
/// let handle = ring.clone(); // e.g. held by an admin endpoint
/// handle.rotate(Key::generate(Algorithm::Aes256Gcm))?;
/// assert_ne!(ring.primary_id(), old); // every clone sees the new primary
/// assert!(ring.ids().contains(&old)); // the old key still opens
///
/// ring.retire(old)?;
/// assert_eq!(ring.ids(), vec![ring.primary_id()]);
///
/// // A scheduled rotation: the second key seals from its activation time on.
/// let next = Key::generate(Algorithm::Aes256Gcm);
/// let next_id = next.id();
/// ring.schedule(next, 1_800_000_000)?;
/// assert_ne!(ring.primary_id_at(1_799_999_999), next_id);
/// assert_eq!(ring.primary_id_at(1_800_000_000), next_id);
/// # Ok::<(), sealed_session::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    shared: Arc<Shared>,
}

struct Shared {
    state: ArcSwap<RingState>,
    /// Serializes writers so that two concurrent changes cannot lose one another.
    writer: Mutex<()>,
}

/// An immutable snapshot; writers publish a new one.
#[derive(Clone)]
struct RingState {
    /// The designated primary (always [`Status::Active`]): a ring is never empty.
    designated: Entry,
    /// The other keys, in ring order.
    others: Vec<Entry>,
    not_before: Option<u64>,
}

#[derive(Clone)]
struct Entry {
    key: Arc<RingKey>,
    status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    /// Seals from this Unix time on (if no later scheduled key has activated).
    Scheduled(u64),
    Revoked,
}

/// Where a key of a ring stands at a given time ([`KeyRing::status_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStatus {
    /// It seals new sessions (and opens).
    Primary,
    /// It opens, and seals from `activates_at` (Unix seconds) on.
    Pending {
        /// When it becomes the primary, in Unix seconds.
        activates_at: u64,
    },
    /// It opens and does not seal.
    AcceptOnly,
    /// It is kept so that logs can name it; everything sealed under it is refused.
    Revoked,
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Primary => f.write_str("primary"),
            Self::Pending { activates_at } => {
                write!(f, "pending until {}", format_time(*activates_at))
            }
            Self::AcceptOnly => f.write_str("accept-only"),
            Self::Revoked => f.write_str("revoked"),
        }
    }
}

/// A ring key looked up to open a value.
pub(crate) struct OpeningKey<'r> {
    pub(crate) key: &'r RingKey,
    /// Whether it is the primary at the time of opening (if not, the value is re-sealed).
    pub(crate) is_primary: bool,
    /// Whether it is revoked: an authentic value under it is refused as
    /// [`KeyRevoked`](crate::OpenErrorKind::KeyRevoked), so that the reason is only ever
    /// logged for a cookie that really was sealed under the key.
    pub(crate) revoked: bool,
}

/// A snapshot of the ring: taken once for a seal or an open, or by the engine once for a
/// request's open and size checks (its seal takes the ring as of the response).
pub(crate) struct RingView(Arc<RingState>);

impl RingView {
    /// The key that seals at `now`.
    pub(crate) fn sealing_key(&self, now: u64) -> &RingKey {
        &self.0.primary(now).key
    }

    /// The key with this id, for opening at `now`.
    pub(crate) fn opening_key(&self, id: KeyId, now: u64) -> Option<OpeningKey<'_>> {
        let entry = self.0.find(id)?;
        Some(OpeningKey {
            key: &entry.key,
            is_primary: Arc::ptr_eq(&entry.key, &self.0.primary(now).key),
            revoked: entry.status == Status::Revoked,
        })
    }

    /// Sessions created before this Unix time are refused.
    pub(crate) fn not_before(&self) -> Option<u64> {
        self.0.not_before
    }
}

impl KeyRing {
    /// A ring with one key, the primary.
    #[must_use]
    pub fn new(primary: Key) -> Self {
        Self::from_state(RingState::new(primary))
    }

    /// A ring from keys: the first is the primary, the others accept-only.
    ///
    /// # Errors
    ///
    /// [`KeyError::EmptyRing`] for no keys, [`KeyError::DuplicateId`] if two different keys
    /// share an id (the same key twice is kept once), [`KeyError::DuplicateKey`] if one key
    /// comes under two ids, [`KeyError::RingFull`] for more than 16 keys.
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Result<Self, KeyError> {
        let mut keys = keys.into_iter();
        let primary = keys.next().ok_or(KeyError::EmptyRing)?;
        let mut state = RingState::new(primary);
        for key in keys {
            state.add(key, Status::Active)?;
        }
        Ok(Self::from_state(state))
    }

    fn from_state(state: RingState) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: ArcSwap::from_pointee(state),
                writer: Mutex::new(()),
            }),
        }
    }

    pub(crate) fn view(&self) -> RingView {
        RingView(self.shared.state.load_full())
    }

    /// The id of the key that seals now (system clock).
    #[must_use]
    pub fn primary_id(&self) -> KeyId {
        self.primary_id_at(unix_now())
    }

    /// The id of the key that seals at `now` (Unix seconds).
    #[must_use]
    pub fn primary_id_at(&self, now: u64) -> KeyId {
        self.shared.state.load().primary(now).key.key().id()
    }

    /// The ids of every key that opens (not revoked), the primary (system clock) first, then
    /// in ring order.
    #[must_use]
    pub fn ids(&self) -> Vec<KeyId> {
        let state = self.shared.state.load();
        let primary = state.primary(unix_now()).key.key().id();
        core::iter::once(primary)
            .chain(
                state
                    .all()
                    .filter(|e| e.status != Status::Revoked)
                    .map(|e| e.key.key().id())
                    .filter(|&id| id != primary),
            )
            .collect()
    }

    /// Where the key with this id stands at `now` (Unix seconds), or `None` if the ring has no
    /// such key.
    ///
    /// ```
    /// use sealed_session::{Algorithm, Key, KeyRing, KeyStatus};
    ///
    /// let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    /// let next = Key::generate(Algorithm::Aes256Gcm);
    /// let next_id = next.id();
    /// ring.schedule(next, 1_800_000_000)?;
    /// assert_eq!(
    ///     ring.status_at(next_id, 1_799_999_999),
    ///     Some(KeyStatus::Pending { activates_at: 1_800_000_000 })
    /// );
    /// assert_eq!(ring.status_at(next_id, 1_800_000_000), Some(KeyStatus::Primary));
    /// # Ok::<(), sealed_session::KeyError>(())
    /// ```
    #[must_use]
    pub fn status_at(&self, id: KeyId, now: u64) -> Option<KeyStatus> {
        let state = self.shared.state.load();
        let entry = state.find(id)?;
        Some(if Arc::ptr_eq(&entry.key, &state.primary(now).key) {
            KeyStatus::Primary
        } else {
            match entry.status {
                Status::Revoked => KeyStatus::Revoked,
                Status::Scheduled(at) if at > now => KeyStatus::Pending { activates_at: at },
                Status::Scheduled(_) | Status::Active => KeyStatus::AcceptOnly,
            }
        })
    }

    /// Whether a key with this id opens (is in the ring and not revoked).
    #[must_use]
    pub fn contains(&self, id: KeyId) -> bool {
        self.shared
            .state
            .load()
            .find(id)
            .is_some_and(|e| e.status != Status::Revoked)
    }

    /// The ring-wide not-before time, if one is set.
    #[must_use]
    pub fn not_before(&self) -> Option<u64> {
        self.shared.state.load().not_before
    }

    /// Makes `key` the primary key at once; the old primary stays as an accept-only key, and
    /// every schedule in the ring is cancelled (manual control).
    ///
    /// Sessions sealed under the old primary keep opening and are re-sealed under the new one
    /// on their next response. On a fleet, use [`insert`](Self::insert) then
    /// [`promote`](Self::promote), or [`schedule`](Self::schedule), instead (see the
    /// [Key rotation runbook](crate#key-rotation-runbook)).
    ///
    /// # Errors
    ///
    /// [`KeyError::DuplicateId`] or [`KeyError::DuplicateKey`] if the key clashes with another
    /// one, [`KeyError::RingFull`] if the ring is full.
    pub fn rotate(&self, key: Key) -> Result<(), KeyError> {
        let id = key.id();
        self.update(|state| {
            state.add(key, Status::Active)?;
            state.promote(id)
        })
    }

    /// Adds `key` as an accept-only key: it opens, it does not seal.
    ///
    /// Adding a key that the ring already holds (same id, bytes and algorithm) does nothing,
    /// so a fleet script can repeat it.
    ///
    /// # Errors
    ///
    /// [`KeyError::DuplicateId`] if a different key has this id, [`KeyError::DuplicateKey`] if
    /// the ring holds this key under another id, [`KeyError::RingFull`] if the ring is full.
    pub fn insert(&self, key: Key) -> Result<(), KeyError> {
        self.update(|state| state.add(key, Status::Active))
    }

    /// Adds `key` as a pending key that becomes the primary at `activates_at` (Unix seconds):
    /// it opens at once and seals from that second on, on every instance that holds it.
    /// Scheduling a key the ring already holds (and that is not the designated primary or
    /// revoked) sets its activation time.
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert); [`KeyError::IsPrimary`] if the key is the designated
    /// primary; [`KeyError::Revoked`] if it is revoked.
    pub fn schedule(&self, key: Key, activates_at: u64) -> Result<(), KeyError> {
        self.update(|state| state.add(key, Status::Scheduled(activates_at)))
    }

    /// Makes the key with this id the designated primary and cancels every schedule in the
    /// ring; the old primary stays as an accept-only key.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoSuchKey`] if the ring has no such key, [`KeyError::Revoked`] if it is
    /// revoked.
    pub fn promote(&self, id: KeyId) -> Result<(), KeyError> {
        self.update(|state| state.promote(id))
    }

    /// Removes the key with this id: envelopes sealed under it stop opening (as an unknown
    /// key).
    ///
    /// # Errors
    ///
    /// [`KeyError::NoSuchKey`] if the ring has no such key, [`KeyError::IsPrimary`] if it
    /// is the primary (by the system clock: the key a scheduled key has replaced can be
    /// retired).
    pub fn retire(&self, id: KeyId) -> Result<(), KeyError> {
        self.retire_at(id, unix_now())
    }

    /// [`retire`](Self::retire), with the primary settled at `now` (Unix seconds) instead of
    /// the system clock.
    ///
    /// # Errors
    ///
    /// As [`retire`](Self::retire).
    pub fn retire_at(&self, id: KeyId, now: u64) -> Result<(), KeyError> {
        self.update(|state| {
            state.settle(now);
            let index = state.other_position(id)?;
            state.others.remove(index);
            Ok(())
        })
    }

    /// Revokes the key with this id: it stays in the ring so logs can name it, and everything
    /// sealed under it is refused as revoked.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoSuchKey`] if the ring has no such key, [`KeyError::IsPrimary`] if it
    /// is the primary (by the system clock, as in [`retire`](Self::retire)).
    pub fn revoke(&self, id: KeyId) -> Result<(), KeyError> {
        self.revoke_at(id, unix_now())
    }

    /// [`revoke`](Self::revoke), with the primary settled at `now` (Unix seconds) instead of
    /// the system clock.
    ///
    /// # Errors
    ///
    /// As [`revoke`](Self::revoke).
    pub fn revoke_at(&self, id: KeyId, now: u64) -> Result<(), KeyError> {
        self.update(|state| {
            state.settle(now);
            let index = state.other_position(id)?;
            if let Some(entry) = state.others.get_mut(index) {
                entry.status = Status::Revoked;
            }
            Ok(())
        })
    }

    /// Sets (or clears) the ring-wide not-before time: sessions created before it (Unix
    /// seconds) are refused, on every instance that holds it.
    pub fn set_not_before(&self, not_before: Option<u64>) {
        // A change that cannot fail.
        let _ = self.update(|state| {
            state.not_before = not_before;
            Ok(())
        });
    }

    /// Replaces the ring's content with the ring in `text` (the text form in the type docs),
    /// atomically: every request sees either the old ring or the new one. Keys present in both
    /// keep their message-key caches.
    ///
    /// # Security
    ///
    /// A reload never weakens the running ring unless the text says `allow-weakening`: it is
    /// refused if it would un-revoke a key, move the not-before time back (or drop it), or
    /// make a pending key seal before its activation time. Removing a key is not weakening
    /// (what it sealed stops opening). Changes through the other methods
    /// ([`set_not_before`](Self::set_not_before), [`promote`](Self::promote), ...) are explicit
    /// calls, and are not checked.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming the line for a text that does not parse (or whose `not-before`
    /// lies more than a minute after `now`), [`KeyError::NoActiveKey`] if no key of the new
    /// ring can seal at `now`, [`KeyError::Weakening`] for a reload that would weaken the
    /// ring. The ring is unchanged on error.
    pub fn reload(&self, text: &str, now: u64) -> Result<(), KeyError> {
        self.reload_from(text, Source::Text, now)
    }

    pub(crate) fn reload_from(&self, text: &str, source: Source, now: u64) -> Result<(), KeyError> {
        let parsed = RingState::parse(text, source)?;
        parsed.check_not_before(now)?;
        if parsed.fallback.is_some_and(|at| at > now) {
            return Err(KeyError::NoActiveKey);
        }
        let allow_weakening = parsed.allow_weakening;
        let mut next = parsed.state;
        self.update(|state| {
            if !allow_weakening {
                if let Some(error) = weaken::weakening(state, &next, now) {
                    return Err(error);
                }
            }
            // Keep the cached ciphers of keys that did not change.
            for entry in core::iter::once(&mut next.designated).chain(&mut next.others) {
                if let Some(old) = state
                    .all()
                    .find(|old| old.key.key().same_as(entry.key.key()))
                {
                    entry.key = Arc::clone(&old.key);
                }
            }
            *state = next;
            Ok(())
        })
    }

    /// Reads a ring from the environment variable `var`: key strings separated by commas, the
    /// first one sealing (the text form of `str::parse`), as the quick starts'
    /// `SESSION_KEYS`. Errors name the variable and, when it is not set, how to make a key: a
    /// `main` that returns the error prints the fix, where `std::env::var(..)?` prints only
    /// `NotPresent`.
    ///
    /// ```
    /// use sealed_session::{KeyError, KeyRing};
    ///
    /// let error = KeyRing::from_env("SEALED_SESSION_DOC_UNSET").unwrap_err();
    /// assert!(matches!(error, KeyError::EnvNotSet { .. }));
    /// assert!(format!("{error:?}").contains("keygen"), "the fix, also in `Error: {error:?}`");
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError::EnvNotSet`] if `var` is not set (or not UTF-8), otherwise
    /// [`KeyError::InEnv`] with the error of the text form.
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let Ok(text) = std::env::var(var) else {
            return Err(KeyError::EnvNotSet {
                var: var.to_owned(),
                fix: MAKE_A_KEY,
            });
        };
        text.parse().map_err(|error| KeyError::InEnv {
            var: var.to_owned(),
            error: Box::new(error),
        })
    }

    /// Reads a ring from a file in the text form (see the type docs), which must end with a
    /// line `end`; its `not-before` is checked against the system clock.
    ///
    /// # Errors
    ///
    /// [`KeyError::File`] if it cannot be read (or is over 64 KiB), [`KeyError::NotAFile`] if
    /// the path does not name a regular file, otherwise [`KeyError::InFile`] with the error of
    /// the text form (the line, what is wrong, what to write instead).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let bytes = read_ring_file(path)?;
        let in_file = |error| KeyError::InFile {
            path: path.to_path_buf(),
            error: Box::new(error),
        };
        let parsed = ring_file_text(&bytes)
            .and_then(|text| RingState::parse(text, Source::File))
            .map_err(in_file)?;
        parsed.check_not_before(unix_now()).map_err(in_file)?;
        Ok(Self::from_state(parsed.state))
    }

    /// [`reload`](Self::reload)s from a file in the text form (which must end with a line
    /// `end`), at `now`: call it from a timer or a signal handler (SIGHUP), or let a watcher
    /// poll it ([`KeyRing::watch_file`](Self::watch_file), feature `engine`).
    ///
    /// # Errors
    ///
    /// [`KeyError::File`] or [`KeyError::NotAFile`] as in [`from_file`](Self::from_file),
    /// otherwise [`KeyError::InFile`] with an error of [`reload`](Self::reload); the ring is
    /// unchanged on error.
    pub fn reload_file(&self, path: impl AsRef<std::path::Path>, now: u64) -> Result<(), KeyError> {
        let path = path.as_ref();
        let bytes = read_ring_file(path)?;
        ring_file_text(&bytes)
            .and_then(|text| self.reload_from(text, Source::File, now))
            .map_err(|error| KeyError::InFile {
                path: path.to_path_buf(),
                error: Box::new(error),
            })
    }

    /// Applies a change to a copy of the state and publishes it only if the change succeeded.
    fn update(
        &self,
        change: impl FnOnce(&mut RingState) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        // A panic while holding the lock cannot leave the state half-written (it is published
        // atomically), so a poisoned lock is safe to take over.
        let _writer = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = RingState::clone(&self.shared.state.load());
        change(&mut next)?;
        self.shared.state.store(Arc::new(next));
        Ok(())
    }
}

impl Entry {
    fn active(key: Key) -> Self {
        Self {
            key: RingKey::new(key),
            status: Status::Active,
        }
    }
}

impl RingState {
    fn new(primary: Key) -> Self {
        Self {
            designated: Entry::active(primary),
            others: Vec::new(),
            not_before: None,
        }
    }

    fn all(&self) -> impl Iterator<Item = &Entry> {
        core::iter::once(&self.designated).chain(&self.others)
    }

    /// The designated primary, unless a scheduled key has activated by `now`: then the one
    /// that activated last.
    fn primary(&self, now: u64) -> &Entry {
        let mut primary: Option<(u64, &Entry)> = None;
        for entry in &self.others {
            if let Status::Scheduled(at) = entry.status {
                if at <= now && primary.is_none_or(|(latest, _)| at > latest) {
                    primary = Some((at, entry));
                }
            }
        }
        primary.map_or(&self.designated, |(_, entry)| entry)
    }

    /// Makes the key that seals at `now` the designated primary, and every schedule that has
    /// passed plain accept-only, so that the key a scheduled rotation replaced can be retired.
    fn settle(&mut self, now: u64) {
        let primary = Arc::clone(&self.primary(now).key);
        for entry in &mut self.others {
            if matches!(entry.status, Status::Scheduled(at) if at <= now) {
                entry.status = Status::Active;
            }
        }
        if let Some(index) = self
            .others
            .iter()
            .position(|e| Arc::ptr_eq(&e.key, &primary))
        {
            let new_primary = self.others.remove(index);
            let old_primary = core::mem::replace(&mut self.designated, new_primary);
            self.others.insert(0, old_primary);
        }
    }

    fn find(&self, id: KeyId) -> Option<&Entry> {
        self.all().find(|e| e.key.key().id() == id)
    }

    /// The position among the non-designated keys; the designated primary cannot be retired
    /// or revoked.
    fn other_position(&self, id: KeyId) -> Result<usize, KeyError> {
        if self.designated.key.key().id() == id {
            return Err(KeyError::IsPrimary { id });
        }
        self.others
            .iter()
            .position(|e| e.key.key().id() == id)
            .ok_or(KeyError::NoSuchKey { id })
    }

    fn add(&mut self, key: Key, status: Status) -> Result<(), KeyError> {
        let id = key.id();
        if self.designated.key.key().id() == id {
            if !self.designated.key.key().same_as(&key) {
                return Err(KeyError::DuplicateId { id });
            }
            return match status {
                Status::Scheduled(_) => Err(KeyError::IsPrimary { id }),
                _ => Ok(()),
            };
        }
        if let Some(existing) = self.others.iter_mut().find(|e| e.key.key().id() == id) {
            if !existing.key.key().same_as(&key) {
                return Err(KeyError::DuplicateId { id });
            }
            if let Status::Scheduled(_) = status {
                if existing.status == Status::Revoked {
                    return Err(KeyError::Revoked { id });
                }
                existing.status = status;
            }
            return Ok(());
        }
        if let Some(existing) = self.all().find(|e| e.key.key().same_bytes(&key)) {
            return Err(KeyError::DuplicateKey {
                id,
                existing: existing.key.key().id(),
            });
        }
        if self.others.len() + 1 >= MAX_RING_KEYS {
            return Err(KeyError::RingFull {
                limit: MAX_RING_KEYS,
            });
        }
        self.others.push(Entry {
            key: RingKey::new(key),
            status,
        });
        Ok(())
    }

    fn promote(&mut self, id: KeyId) -> Result<(), KeyError> {
        for entry in &mut self.others {
            if let Status::Scheduled(_) = entry.status {
                entry.status = Status::Active;
            }
        }
        if self.designated.key.key().id() == id {
            return Ok(());
        }
        let index = self
            .others
            .iter()
            .position(|e| e.key.key().id() == id)
            .ok_or(KeyError::NoSuchKey { id })?;
        if self.others.get(index).map(|e| e.status) == Some(Status::Revoked) {
            return Err(KeyError::Revoked { id });
        }
        let new_primary = self.others.remove(index);
        let old_primary = core::mem::replace(&mut self.designated, new_primary);
        self.others.insert(0, old_primary);
        Ok(())
    }
}

impl fmt::Debug for KeyRing {
    /// Key ids and states only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.load();
        let ids = |want: fn(&Status) -> bool| -> Vec<KeyId> {
            state
                .others
                .iter()
                .filter(|e| want(&e.status))
                .map(|e| e.key.key().id())
                .collect()
        };
        f.debug_struct("KeyRing")
            .field("primary", &state.designated.key.key().id())
            .field("accept_only", &ids(|s| *s == Status::Active))
            .field("scheduled", &ids(|s| matches!(s, Status::Scheduled(_))))
            .field("revoked", &ids(|s| *s == Status::Revoked))
            .field("not_before", &state.not_before)
            .finish()
    }
}

/// The system clock in Unix seconds (0 before 1970): only for the informational accessors.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How to make a key, for [`KeyError::EnvNotSet`] (in its `Debug` form too, which is what a
/// `main` returning the error prints).
const MAKE_A_KEY: &str = "set it to a key string (several: comma-separated, the first one \
    sealing); make one with `keygen` (`cargo install --path keygen` in sealed-session's \
    repository, or `cargo run -q --example keygen` there), e.g. \
    SESSION_KEYS=$(keygen) for a one-off, or keep it in a secret store";

#[cfg(test)]
mod tests {
    use super::text::parse_time;
    use super::*;
    use crate::Algorithm;

    fn key(byte: u8) -> Key {
        let mut bytes = [byte; 32];
        bytes[0] = 0;
        Key::from_bytes(Algorithm::Aes256Gcm, &bytes).unwrap()
    }

    #[test]
    fn writers_leave_the_ring_unchanged_on_error() {
        let ring = KeyRing::new(key(1));
        let primary = ring.primary_id();
        assert_eq!(
            ring.retire(primary),
            Err(KeyError::IsPrimary { id: primary })
        );
        let clash = key(2).with_id(primary);
        assert_eq!(
            ring.insert(clash),
            Err(KeyError::DuplicateId { id: primary })
        );
        // One key under two ids.
        let twin = key(1).with_id(KeyId::new(primary.get() ^ 1));
        assert_eq!(
            ring.insert(twin),
            Err(KeyError::DuplicateKey {
                id: KeyId::new(primary.get() ^ 1),
                existing: primary
            })
        );
        assert_eq!(ring.ids(), vec![primary]);
    }

    #[test]
    fn scheduled_keys_take_over_at_their_second_and_promote_cancels_schedules() {
        let ring = KeyRing::new(key(1));
        let a = ring.primary_id_at(0);
        let b = key(2);
        let b_id = b.id();
        ring.schedule(b, 1000).unwrap();
        assert_eq!(ring.primary_id_at(999), a);
        assert_eq!(ring.primary_id_at(1000), b_id);
        let c = key(3);
        let c_id = c.id();
        ring.schedule(c, 2000).unwrap();
        assert_eq!(ring.primary_id_at(1500), b_id);
        assert_eq!(ring.primary_id_at(2000), c_id);
        ring.promote(a).unwrap();
        assert_eq!(ring.primary_id_at(5000), a);
        ring.revoke(b_id).unwrap();
        assert!(!ring.contains(b_id));
        assert_eq!(ring.revoke(a), Err(KeyError::IsPrimary { id: a }));
        let view = ring.view();
        assert!(view.opening_key(b_id, 0).is_some_and(|k| k.revoked));
        assert!(
            view.opening_key(a, 0)
                .is_some_and(|k| !k.revoked && k.is_primary)
        );
        assert!(view.opening_key(KeyId::new(7), 0).is_none());
    }

    #[test]
    fn text_form_parses_states_and_reload_keeps_caches() {
        let (k1, k2, k3) = (key(1), key(2), key(3));
        let text = format!(
            "# ring\n{k2} activate=2026-12-01T00:00:00Z\n{k1}\n{k3} revoked # old\nnot-before=1700000000\n"
        );
        let ring: KeyRing = text.parse().unwrap();
        let activation = parse_time("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(activation, 1_796_083_200);
        assert_eq!(format_time(activation), "2026-12-01T00:00:00Z");
        assert_eq!(ring.primary_id_at(activation - 1), k1.id());
        assert_eq!(ring.primary_id_at(activation), k2.id());
        assert!(!ring.contains(k3.id()));
        assert_eq!(ring.not_before(), Some(1_700_000_000));

        let warm = ring.view().sealing_key(0).sealing_cipher(7);
        // Dropping the not-before time weakens the ring: said so in the text.
        ring.reload(&format!("{k2}, {k1} allow-weakening"), activation)
            .unwrap();
        assert_eq!(ring.primary_id_at(0), k2.id());
        assert_eq!(ring.not_before(), None);
        let view = ring.view();
        let k1_again = view.opening_key(k1.id(), 0).unwrap();
        assert!(Arc::ptr_eq(&k1_again.key.cached(7).unwrap(), &warm));

        for bad in [
            "",
            "ssk1.nope",
            "revoked",
            "x",
            &format!("{k1} activate=2026-13-01T00:00:00Z"),
            &format!("{k1} revoked revoked"),
        ] {
            assert!(ring.reload(bad, 0).is_err(), "{bad}");
        }
        assert_eq!(ring.primary_id_at(0), k2.id());
        // Every key pending at `now`: refused, the old ring stays.
        assert_eq!(
            ring.reload(&format!("{k3} activate=5000"), 10),
            Err(KeyError::NoActiveKey)
        );
    }

    #[test]
    fn the_key_a_schedule_replaced_can_be_retired_and_statuses_follow_the_clock() {
        let ring = KeyRing::new(key(1));
        let a = ring.primary_id_at(0);
        let (b, c) = (key(2), key(3));
        let (b_id, c_id) = (b.id(), c.id());
        // b activated long ago (by any system clock), c is far in the future.
        ring.schedule(b, 1000).unwrap();
        ring.schedule(c, u64::MAX).unwrap();
        assert_eq!(ring.status_at(a, 999), Some(KeyStatus::Primary));
        assert_eq!(
            ring.status_at(b_id, 999),
            Some(KeyStatus::Pending { activates_at: 1000 })
        );
        assert_eq!(ring.status_at(a, 1000), Some(KeyStatus::AcceptOnly));
        assert_eq!(ring.status_at(b_id, 1000), Some(KeyStatus::Primary));
        ring.retire(a).unwrap();
        assert!(!ring.contains(a));
        assert_eq!(
            ring.primary_id_at(0),
            b_id,
            "b is the designated primary now"
        );
        assert_eq!(
            ring.status_at(c_id, 2000),
            Some(KeyStatus::Pending {
                activates_at: u64::MAX
            })
        );
        assert_eq!(ring.retire(b_id), Err(KeyError::IsPrimary { id: b_id }));
        ring.revoke(c_id).unwrap();
        assert_eq!(ring.status_at(c_id, u64::MAX), Some(KeyStatus::Revoked));
        assert_eq!(ring.status_at(KeyId::new(7), 0), None);
        assert_eq!(
            KeyStatus::Pending {
                activates_at: 1_796_083_200
            }
            .to_string(),
            "pending until 2026-12-01T00:00:00Z"
        );
    }
}
