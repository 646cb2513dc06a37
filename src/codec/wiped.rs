//! Session plaintext in a `Vec<u8>` that is wiped, in bulk, when dropped.
//!
//! `zeroize::Zeroizing<Vec<u8>>` wipes a vector's elements one volatile byte write at a time
//! (about 1.4 instructions a byte: 11,000 for an 8 KiB session, on every request that holds
//! one); `Zeroize` for a byte slice wipes the same bytes with one `memset` behind an
//! optimization barrier. Both wipe the spare capacity too, where a truncation may have left
//! plaintext.

use core::cell::Cell;
use core::fmt;
use core::ops::{Deref, DerefMut};

use zeroize::Zeroize as _;

/// Bytes of session data, wiped (the whole allocation) when dropped.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct Wiped(Vec<u8>);

thread_local! {
    /// One wiped, empty buffer kept per thread for the next [`Wiped::with_capacity`]: a
    /// request that changes its session encodes it into a buffer it frees on the response.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this are freed, not kept: wiping the whole allocation of a kept one on
/// every drop must stay cheap.
const SPARE_KEEP: usize = 1024;

impl Wiped {
    /// An empty buffer with room for `capacity` bytes (the thread's spare one if it is large
    /// enough).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let spare = SPARE.try_with(Cell::take).unwrap_or_default();
        if spare.capacity() >= capacity {
            return Self(spare);
        }
        Self(Vec::with_capacity(capacity))
    }

    /// Appends `bytes`; a growth moves what was written to a new block and wipes the old one.
    pub(crate) fn append(&mut self, bytes: &[u8]) {
        if self.0.capacity() - self.0.len() < bytes.len() {
            let needed = self.0.len().saturating_add(bytes.len());
            let capacity = needed.max(self.0.capacity().saturating_mul(2));
            regrow(&mut self.0, capacity);
        }
        self.0.extend_from_slice(bytes);
    }

    /// `len` zero bytes.
    #[cfg(feature = "compression")]
    pub(crate) fn zeroed(len: usize) -> Self {
        Self(vec![0; len])
    }
}

impl From<Vec<u8>> for Wiped {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Deref for Wiped {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Wiped {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        wipe(&mut self.0);
        if (1..=SPARE_KEEP).contains(&self.0.capacity()) {
            let kept = core::mem::take(&mut self.0);
            // A spare already kept (another session's) is freed: it was wiped when it was put
            // back.
            let _ = SPARE.try_with(|spare| spare.set(kept));
        }
    }
}

/// Formatting into session data (a `collect_str`) grows as [`Wiped::append`] does.
impl fmt::Write for Wiped {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.append(text.as_bytes());
        Ok(())
    }
}

impl fmt::Debug for Wiped {
    /// The length only: the bytes are session data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wiped")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// Moves `bytes` to a block of `capacity` bytes (at least their length) and wipes the old
/// block, spare capacity included: `Vec`'s own growth would free it with session data in it
/// (RT3-7).
#[cold]
pub(crate) fn regrow(bytes: &mut Vec<u8>, capacity: usize) {
    let mut grown = Vec::with_capacity(capacity.max(bytes.len()));
    grown.extend_from_slice(bytes);
    wipe(&mut core::mem::replace(bytes, grown));
}

/// Wipes all of `bytes`' allocation (its elements and its spare capacity) and empties it.
pub(crate) fn wipe(bytes: &mut Vec<u8>) {
    bytes.spare_capacity_mut().zeroize();
    bytes.as_mut_slice().zeroize();
    bytes.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_empties_and_keeps_the_allocation() {
        let mut bytes = vec![0xa5_u8; 64];
        bytes.truncate(10);
        wipe(&mut bytes);
        assert!(bytes.is_empty());
        assert_eq!(bytes.capacity(), 64);
        let wiped = Wiped::from(vec![1, 2, 3]);
        assert_eq!(format!("{wiped:?}"), "Wiped { len: 3, .. }");
    }
}
