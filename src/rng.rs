//! Nonces and session ids: a per-thread ChaCha20 CSPRNG seeded from the operating system.
//!
//! An OS-RNG call costs about 0.5 us here, as much as a whole seal; a user-space ChaCha20
//! draw costs about 0.01 us. The generator is reseeded from the OS after
//! [`RESEED_AFTER_DRAWS`] draws, and at once in a process whose id differs from the one that
//! seeded it: a `fork()`ed child never replays its parent's stream (SECURITY-TESTS B2).

use core::cell::RefCell;

use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};

/// Draws before the generator is reseeded from the OS (bounds how much output one seed gives).
const RESEED_AFTER_DRAWS: u32 = 1 << 16;

struct ThreadRng {
    rng: ChaCha20Rng,
    /// The process that seeded `rng`; another process id means we are in a forked child.
    pid: u32,
    draws_left: u32,
}

thread_local! {
    static THREAD_RNG: RefCell<Option<ThreadRng>> = const { RefCell::new(None) };
}

/// The operating system's random number generator failed.
#[derive(Debug)]
pub(crate) struct RngFailure;

/// Fills `dest` with cryptographically secure random bytes.
pub(crate) fn fill(dest: &mut [u8]) -> Result<(), RngFailure> {
    THREAD_RNG
        .try_with(|cell| {
            // Re-entrancy is impossible here (nothing below calls back), but stay panic-free.
            let Ok(mut slot) = cell.try_borrow_mut() else {
                return OsRng.try_fill_bytes(dest).map_err(|_| RngFailure);
            };
            let pid = std::process::id();
            let fresh = match slot.as_mut() {
                Some(state) if state.pid == pid && state.draws_left > 0 => None,
                _ => Some(ThreadRng {
                    rng: ChaCha20Rng::from_rng(OsRng).map_err(|_| RngFailure)?,
                    pid,
                    draws_left: RESEED_AFTER_DRAWS,
                }),
            };
            if let Some(state) = fresh {
                *slot = Some(state);
            }
            let state = slot.as_mut().ok_or(RngFailure)?;
            state.draws_left -= 1;
            state.rng.fill_bytes(dest);
            Ok(())
        })
        // The thread is being torn down: fall back to the OS directly.
        .unwrap_or_else(|_| OsRng.try_fill_bytes(dest).map_err(|_| RngFailure))
}
