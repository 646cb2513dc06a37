//! The message-key cache of a ring key: one hourly cipher per slot, newest hour wins.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::CIPHER_SLOTS;
use crate::key::{Key, MessageCipher, wipe_stack_below};

/// A ring key with its message-key cache.
pub(crate) struct RingKey {
    key: Key,
    ciphers: Box<[ArcSwapOption<HourCipher>]>,
}

/// A message cipher and the hour it belongs to.
pub(crate) struct HourCipher {
    hour: u32,
    cipher: MessageCipher,
}

impl HourCipher {
    pub(crate) fn cipher(&self) -> &MessageCipher {
        &self.cipher
    }
}

/// A message cipher for opening: cached, or derived for this open and not cached yet (in an
/// `Arc` already, so that caching it moves no key material out of a freed allocation).
pub(crate) enum OpeningCipher {
    Cached(Arc<HourCipher>),
    Fresh(Arc<HourCipher>),
}

impl core::ops::Deref for OpeningCipher {
    type Target = MessageCipher;

    fn deref(&self) -> &MessageCipher {
        match self {
            Self::Cached(cipher) | Self::Fresh(cipher) => &cipher.cipher,
        }
    }
}

impl RingKey {
    pub(super) fn new(key: Key) -> Arc<Self> {
        Arc::new(Self {
            key,
            ciphers: (0..CIPHER_SLOTS).map(|_| ArcSwapOption::empty()).collect(),
        })
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    fn slot(&self, hour: u32) -> Option<&ArcSwapOption<HourCipher>> {
        // u32 -> usize is lossless on every platform this crate builds for (16-bit excluded).
        self.ciphers
            .get(usize::try_from(hour).unwrap_or(0) % CIPHER_SLOTS)
    }

    pub(super) fn cached(&self, hour: u32) -> Option<Arc<HourCipher>> {
        let cached = self.slot(hour)?.load_full()?;
        (cached.hour == hour).then_some(cached)
    }

    /// The cipher for sealing in `hour`, derived and cached on first use.
    pub(crate) fn sealing_cipher(&self, hour: u32) -> Arc<HourCipher> {
        if let Some(cached) = self.cached(hour) {
            return cached;
        }
        let fresh = self.derive(hour);
        self.store(Arc::clone(&fresh));
        fresh
    }

    /// The cipher for opening a value sealed in `hour`. A cache miss derives a cipher that
    /// is cached only by [`remember`](Self::remember), once the value proved authentic.
    pub(crate) fn opening_cipher(&self, hour: u32) -> OpeningCipher {
        match self.cached(hour) {
            Some(cached) => OpeningCipher::Cached(cached),
            None => OpeningCipher::Fresh(self.derive(hour)),
        }
    }

    /// Caches a cipher that opened an authentic value.
    pub(crate) fn remember(&self, cipher: OpeningCipher) {
        if let OpeningCipher::Fresh(fresh) = cipher {
            self.store(fresh);
        }
    }

    fn derive(&self, hour: u32) -> Arc<HourCipher> {
        // Whatever ran at this depth before (an earlier derivation included) may have left
        // key material where the cipher is about to be built: see `wipe_stack_below`.
        wipe_stack_below();
        self.derive_below_wiped_stack(hour)
    }

    #[inline(never)]
    fn derive_below_wiped_stack(&self, hour: u32) -> Arc<HourCipher> {
        Arc::new(HourCipher {
            hour,
            cipher: self.key.message_cipher(hour),
        })
    }

    /// Stores one entry in its slot unless the slot holds a newer hour: a miss copies nothing
    /// else (SECURITY-TESTS F4).
    fn store(&self, cipher: Arc<HourCipher>) {
        let Some(slot) = self.slot(cipher.hour) else {
            return;
        };
        let hour = cipher.hour;
        let mut cipher = Some(cipher);
        slot.rcu(|current| match current {
            Some(newer) if newer.hour > hour => Some(Arc::clone(newer)),
            _ => cipher.take().or_else(|| current.clone()),
        });
    }

    #[cfg(test)]
    pub(super) fn cached_hours(&self) -> Vec<u32> {
        let mut hours: Vec<u32> = self
            .ciphers
            .iter()
            .filter_map(|slot| slot.load_full().map(|c| c.hour))
            .collect();
        hours.sort_unstable();
        hours
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Algorithm;
    use crate::ring::KeyRing;

    fn key(byte: u8) -> Key {
        let mut bytes = [byte; 32];
        bytes[0] = 0;
        Key::from_bytes(Algorithm::Aes256Gcm, &bytes).unwrap()
    }

    #[test]
    fn cache_keeps_newest_hours_and_stays_bounded() {
        let ring = KeyRing::new(key(1));
        let slots = u32::try_from(CIPHER_SLOTS).unwrap();
        let view = ring.view();
        let k = view.sealing_key(0);
        for hour in 1000..1000 + 2 * slots {
            k.sealing_cipher(hour);
        }
        // A flood of older hours evicts nothing.
        for hour in 0..100 {
            k.sealing_cipher(hour);
        }
        let hours = k.cached_hours();
        assert_eq!(hours.len(), CIPHER_SLOTS);
        assert_eq!(hours[0], 1000 + slots);
        // A cipher derived for opening is cached only when remembered.
        let miss = k.opening_cipher(5000);
        assert!(matches!(miss, OpeningCipher::Fresh(_)));
        assert!(!k.cached_hours().contains(&5000));
        k.remember(miss);
        assert!(k.cached_hours().contains(&5000));
        assert!(matches!(k.opening_cipher(5000), OpeningCipher::Cached(_)));
    }
}
