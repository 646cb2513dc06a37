//! The key ring: which key seals, which keys open, rotation at runtime.

use core::fmt;
use core::str::FromStr;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use crate::error::KeyError;
use crate::key::{Key, KeyId, MessageCipher};

/// The most keys one ring holds: one primary plus accept-only keys. A rotation needs two or
/// three; the bound keeps every lookup O(1).
pub const MAX_RING_KEYS: usize = 16;

/// How many hourly message keys each ring key caches. Newest hours win: an envelope naming an
/// hour older than every cached one is opened with a one-off cipher instead of evicting a
/// newer one, so a flood of old hours cannot push out the hours real traffic uses.
pub const MESSAGE_KEY_CACHE_LEN: usize = 256;

/// One primary key that seals and any number of accept-only keys that open.
///
/// A `KeyRing` is a cheap handle: clones share the same keys, so a rotation through any clone
/// is seen by every clone at once (by the middleware of a running server, for example).
/// Reading the ring on the request path takes no lock; only the rare writers (`rotate`,
/// `insert`, `promote`, `retire`) serialize among themselves.
///
/// The ring also caches the hourly message-key ciphers of each key, built once per
/// (key, hour): no key schedule runs on the request path once an hour is warm.
///
/// # Rotation on a fleet
///
/// With many instances, rotate in three steps so that no instance ever meets a cookie sealed
/// under a key it does not know:
///
/// 1. [`insert`](Self::insert) the new key everywhere (it opens, it does not seal yet);
/// 2. [`promote`](Self::promote) it everywhere (it seals; the old primary still opens);
/// 3. after the longest session lifetime has passed, [`retire`](Self::retire) the old key.
///
/// On a single instance, [`rotate`](Self::rotate) does steps 1 and 2 at once.
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
/// // Rings are usually loaded from key strings: "primary, accept-only, ...".
/// let fleet: KeyRing = "ssk1.aes-256-gcm.8f3c1a2b.q2bbnCqFbgKyYQyEgaoN3jZ4b4pS5C1TqKjC2nLXv0A"
///     .parse()?;
/// assert_eq!(fleet.primary_id().to_string(), "8f3c1a2b");
/// # Ok::<(), sealed_session::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    shared: Arc<Shared>,
}

struct Shared {
    state: ArcSwap<RingState>,
    /// Serializes writers so that two concurrent rotations cannot lose one another.
    writer: Mutex<()>,
}

/// An immutable snapshot; writers publish a new one.
#[derive(Clone)]
struct RingState {
    primary: Arc<RingKey>,
    accept_only: Vec<Arc<RingKey>>,
}

pub(crate) struct RingKey {
    key: Key,
    ciphers: ArcSwap<BTreeMap<u32, Arc<MessageCipher>>>,
}

impl RingKey {
    fn new(key: Key) -> Arc<Self> {
        Arc::new(Self {
            key,
            ciphers: ArcSwap::from_pointee(BTreeMap::new()),
        })
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// Runs `f` with the message cipher for `hour`, deriving and caching it on first use.
    pub(crate) fn with_cipher<R>(&self, hour: u32, f: impl FnOnce(&MessageCipher) -> R) -> R {
        let cached = self.ciphers.load();
        if let Some(cipher) = cached.get(&hour) {
            return f(cipher);
        }
        drop(cached);
        let cipher = Arc::new(self.key.message_cipher(hour));
        let result = f(&cipher);
        self.ciphers.rcu(|old| {
            let mut map = BTreeMap::clone(old);
            if map.len() >= MESSAGE_KEY_CACHE_LEN {
                match map.first_key_value() {
                    Some((&oldest, _)) if oldest < hour => {
                        map.remove(&oldest);
                    }
                    // Older than everything cached: used once, not cached.
                    _ => return map,
                }
            }
            map.insert(hour, Arc::clone(&cipher));
            map
        });
        result
    }

    #[cfg(test)]
    fn cached_hours(&self) -> Vec<u32> {
        self.ciphers.load().keys().copied().collect()
    }
}

impl KeyRing {
    /// A ring with one key, the primary.
    #[must_use]
    pub fn new(primary: Key) -> Self {
        Self::from_state(RingState {
            primary: RingKey::new(primary),
            accept_only: Vec::new(),
        })
    }

    /// A ring from keys: the first is the primary, the others accept-only.
    ///
    /// # Errors
    ///
    /// [`KeyError::EmptyRing`] for no keys, [`KeyError::DuplicateId`] if two different keys
    /// share an id (the same key twice is kept once), [`KeyError::RingFull`] for more than
    /// [`MAX_RING_KEYS`] keys.
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Result<Self, KeyError> {
        let mut keys = keys.into_iter();
        let primary = keys.next().ok_or(KeyError::EmptyRing)?;
        let mut state = RingState {
            primary: RingKey::new(primary),
            accept_only: Vec::new(),
        };
        for key in keys {
            state.add(key)?;
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

    /// The id of the key that seals.
    #[must_use]
    pub fn primary_id(&self) -> KeyId {
        self.shared.state.load().primary.key.id()
    }

    /// The ids of every key in the ring, primary first.
    #[must_use]
    pub fn ids(&self) -> Vec<KeyId> {
        self.shared.state.load().all().map(|k| k.key.id()).collect()
    }

    /// Whether a key with this id opens.
    #[must_use]
    pub fn contains(&self, id: KeyId) -> bool {
        self.shared.state.load().find(id).is_some()
    }

    /// Makes `key` the primary key at once; the old primary stays as an accept-only key.
    ///
    /// Sessions sealed under the old primary keep opening and are re-sealed under the new one
    /// on their next response. On a fleet, use [`insert`](Self::insert) then
    /// [`promote`](Self::promote) instead (see the type docs).
    ///
    /// # Errors
    ///
    /// [`KeyError::DuplicateId`] if another key already has this id,
    /// [`KeyError::RingFull`] if the ring is full. The ring is unchanged on error.
    pub fn rotate(&self, key: Key) -> Result<(), KeyError> {
        let id = key.id();
        self.update(|state| {
            state.add(key)?;
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
    /// [`KeyError::DuplicateId`] if a different key has this id, [`KeyError::RingFull`] if the
    /// ring is full.
    pub fn insert(&self, key: Key) -> Result<(), KeyError> {
        self.update(|state| state.add(key))
    }

    /// Makes the key with this id the primary; the old primary stays as an accept-only key.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoSuchKey`] if the ring has no such key.
    pub fn promote(&self, id: KeyId) -> Result<(), KeyError> {
        self.update(|state| state.promote(id))
    }

    /// Removes the accept-only key with this id: envelopes sealed under it stop opening.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoSuchKey`] if the ring has no such key, [`KeyError::RetirePrimary`] if it
    /// is the primary key.
    pub fn retire(&self, id: KeyId) -> Result<(), KeyError> {
        self.update(|state| {
            if state.primary.key.id() == id {
                return Err(KeyError::RetirePrimary { id });
            }
            let index = state.accept_only_position(id)?;
            state.accept_only.remove(index);
            Ok(())
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

    /// Runs `f` with the primary key, for sealing.
    pub(crate) fn with_primary<R>(&self, f: impl FnOnce(&RingKey) -> R) -> R {
        f(&self.shared.state.load().primary)
    }

    /// Runs `f` with the key of this id, for opening; `f` also learns whether it is the
    /// primary. `None` if no key has this id.
    pub(crate) fn with_key<R>(&self, id: KeyId, f: impl FnOnce(&RingKey, bool) -> R) -> Option<R> {
        let state = self.shared.state.load();
        if state.primary.key.id() == id {
            return Some(f(&state.primary, true));
        }
        let key = state.accept_only.iter().find(|k| k.key.id() == id)?;
        Some(f(key, false))
    }
}

impl RingState {
    fn all(&self) -> impl Iterator<Item = &Arc<RingKey>> {
        core::iter::once(&self.primary).chain(&self.accept_only)
    }

    fn find(&self, id: KeyId) -> Option<&RingKey> {
        self.all().find(|k| k.key.id() == id).map(|k| &**k)
    }

    fn accept_only_position(&self, id: KeyId) -> Result<usize, KeyError> {
        self.accept_only
            .iter()
            .position(|k| k.key.id() == id)
            .ok_or(KeyError::NoSuchKey { id })
    }

    fn add(&mut self, key: Key) -> Result<(), KeyError> {
        let id = key.id();
        if let Some(existing) = self.find(id) {
            return if existing.key.same_as(&key) {
                Ok(())
            } else {
                Err(KeyError::DuplicateId { id })
            };
        }
        if self.accept_only.len() + 1 >= MAX_RING_KEYS {
            return Err(KeyError::RingFull {
                limit: MAX_RING_KEYS,
            });
        }
        self.accept_only.push(RingKey::new(key));
        Ok(())
    }

    fn promote(&mut self, id: KeyId) -> Result<(), KeyError> {
        if self.primary.key.id() == id {
            return Ok(());
        }
        let index = self.accept_only_position(id)?;
        let new_primary = self.accept_only.remove(index);
        let old_primary = core::mem::replace(&mut self.primary, new_primary);
        self.accept_only.insert(0, old_primary);
        Ok(())
    }
}

impl FromStr for KeyRing {
    type Err = KeyError;

    /// Parses key strings separated by commas and/or whitespace; the first is the primary.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let keys = s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Key>, _>>()?;
        Self::from_keys(keys)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.load();
        f.debug_struct("KeyRing")
            .field("primary", &state.primary.key.id())
            .field(
                "accept_only",
                &state
                    .accept_only
                    .iter()
                    .map(|k| k.key.id())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn key(byte: u8) -> Key {
        let mut bytes = [byte; 32];
        bytes[0] = 0;
        Key::from_bytes(Algorithm::Aes256Gcm, &bytes).unwrap()
    }

    #[test]
    fn cache_keeps_newest_hours_and_stays_bounded() {
        let ring = KeyRing::new(key(1));
        let cache_len = u32::try_from(MESSAGE_KEY_CACHE_LEN).unwrap();
        ring.with_primary(|k| {
            for hour in 1000..1000 + 2 * cache_len {
                k.with_cipher(hour, |_| ());
            }
            // A flood of older hours evicts nothing.
            for hour in 0..100 {
                k.with_cipher(hour, |_| ());
            }
            let hours = k.cached_hours();
            assert_eq!(hours.len(), MESSAGE_KEY_CACHE_LEN);
            assert_eq!(hours[0], 1000 + cache_len);
        });
    }

    #[test]
    fn writers_leave_the_ring_unchanged_on_error() {
        let ring = KeyRing::new(key(1));
        let primary = ring.primary_id();
        assert_eq!(
            ring.retire(primary),
            Err(KeyError::RetirePrimary { id: primary })
        );
        let clash = key(2).with_id(primary);
        assert_eq!(
            ring.insert(clash),
            Err(KeyError::DuplicateId { id: primary })
        );
        assert_eq!(ring.ids(), vec![primary]);
    }
}
