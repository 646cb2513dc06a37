//! [`KeyId`], apart from the rest of `key` so that `error` can name it without a cycle.

use core::fmt;

/// A key's 32-bit identifier, carried in every envelope's header so that opening selects the
/// key in O(1), without trial decryption.
///
/// Derived from the key material and algorithm by a one-way function (so every instance that
/// holds a key agrees on its id without coordination), unless set with [`Key::with_id`](crate::Key::with_id).
/// Displayed and parsed as exactly 8 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(u32);

impl KeyId {
    /// A key id with this value.
    #[must_use]
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The id's value.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({:08x})", self.0)
    }
}
