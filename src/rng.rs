//! Nonces, session ids and tokens: a per-thread ChaCha20 CSPRNG seeded from the operating
//! system.
//!
//! An OS-RNG call costs about 0.5 µs here, as much as a whole seal; a user-space ChaCha20
//! draw costs about 0.01 µs. The generator is reseeded from the OS
//!
//! - after [`RESEED_AFTER_DRAWS`] draws (bounds how much output one seed gives);
//! - at once in a process whose id differs from the one that seeded it, so a `fork()`ed child
//!   never replays its parent's stream (SECURITY-TESTS B2). The check is one `getpid` call
//!   (about 90 ns); no syscall-free fork signal exists in safe Rust (`pthread_atfork` and
//!   `MADV_WIPEONFORK` need `unsafe` FFI, which this crate forbids);
//! - on the next draw of every thread after [`reseed_nonces`] was called: the process id
//!   survives a VM snapshot restore, so the application (or its platform's restore hook) calls
//!   it after a restore, or seals with nonces from the OS (see SECURITY.md).

use core::cell::RefCell;
use core::sync::atomic::{AtomicU64, Ordering};

use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};

/// Draws before the generator is reseeded from the OS.
const RESEED_AFTER_DRAWS: u32 = 1 << 16;

/// Bumped by [`reseed_nonces`]; every generator seeded under an older value reseeds.
static EPOCH: AtomicU64 = AtomicU64::new(0);

struct ThreadRng {
    rng: ChaCha20Rng,
    /// The process that seeded `rng`; another process id means we are in a forked child.
    pid: u32,
    epoch: u64,
    draws_left: u32,
}

thread_local! {
    static THREAD_RNG: RefCell<Option<ThreadRng>> = const { RefCell::new(None) };
}

/// The operating system's random number generator failed.
#[derive(Debug)]
pub(crate) struct RngFailure;

/// Makes every thread's nonce generator reseed from the operating system before its next
/// draw.
///
/// Call it after the process was restored from a VM snapshot (Firecracker, Lambda SnapStart
/// and similar restore hooks): clones of one snapshot keep the same process id, so without it
/// they would draw the same nonces until their next periodic reseed. Forked children need no
/// call (they are detected).
pub fn reseed_nonces() {
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// Fills `dest` from the operating system's generator directly (keys).
pub(crate) fn fill_from_os(dest: &mut [u8]) -> Result<(), RngFailure> {
    OsRng.try_fill_bytes(dest).map_err(|_| RngFailure)
}

/// Fills `dest` with cryptographically secure random bytes.
pub(crate) fn fill(dest: &mut [u8]) -> Result<(), RngFailure> {
    THREAD_RNG
        .try_with(|cell| {
            // Re-entrancy is impossible here (nothing below calls back), but stay panic-free.
            let Ok(mut slot) = cell.try_borrow_mut() else {
                return fill_from_os(dest);
            };
            let pid = std::process::id();
            let epoch = EPOCH.load(Ordering::Relaxed);
            let current = matches!(
                slot.as_ref(),
                Some(state) if state.pid == pid && state.epoch == epoch && state.draws_left > 0
            );
            if !current {
                *slot = Some(ThreadRng {
                    rng: ChaCha20Rng::from_rng(OsRng).map_err(|_| RngFailure)?,
                    pid,
                    epoch,
                    draws_left: RESEED_AFTER_DRAWS,
                });
            }
            let state = slot.as_mut().ok_or(RngFailure)?;
            state.draws_left -= 1;
            state.rng.fill_bytes(dest);
            Ok(())
        })
        // The thread is being torn down: fall back to the OS directly.
        .unwrap_or_else(|_| fill_from_os(dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reseed_nonces_changes_the_stream() {
        let mut a = [0u8; 32];
        fill(&mut a).unwrap();
        let before = THREAD_RNG.with(|cell| cell.borrow().as_ref().map(|s| s.epoch));
        reseed_nonces();
        let mut b = [0u8; 32];
        fill(&mut b).unwrap();
        let after = THREAD_RNG.with(|cell| cell.borrow().as_ref().map(|s| s.epoch));
        assert_ne!(before, after);
        assert_ne!(a, b);
    }
}
