//! Nonces, session ids and tokens: a per-thread ChaCha20 CSPRNG seeded from the operating
//! system.
//!
//! An OS-RNG call costs about 0.5 µs here, as much as a whole seal; a user-space ChaCha20
//! draw costs about 0.01 µs. The generator is reseeded from the OS
//!
//! - after [`RESEED_AFTER_DRAWS`] draws (bounds how much output one seed gives);
//! - at once after a `fork()`, so a child never replays its parent's stream (SECURITY-TESTS
//!   B2). The signal is `rand` 0.8's fork counter, which a `pthread_atfork` handler (registered
//!   by `rand`, whose `unsafe` it is) bumps in the parent and the child: reading it is a load,
//!   where the `getpid` check it replaces was a syscall per seal (about 90 ns; this crate
//!   forbids the FFI itself). A process made by a raw `clone` syscall, which runs no fork
//!   handlers, is not detected (nothing in Rust's standard library makes one);
//! - on the next draw of every thread after [`reseed_nonces`] was called: a VM snapshot
//!   restore runs no fork handler, so the application (or its platform's restore hook) calls
//!   it after a restore, or restarts the process (SECURITY.md F7).

use core::cell::RefCell;
use core::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::adapter::ReseedingRng;
use rand_chacha::ChaCha20Rng;
use rand_core::block::BlockRngCore;
use rand_core::{OsRng, RngCore, SeedableRng};

/// Draws before the generator is reseeded from the OS.
const RESEED_AFTER_DRAWS: u32 = 1 << 16;

/// Bumped by [`reseed_nonces`]; every generator seeded under an older value reseeds.
static EPOCH: AtomicU64 = AtomicU64::new(0);

struct ThreadRng {
    rng: ChaCha20Rng,
    /// Says whether the process forked since `rng` was seeded.
    forks: ForkWatch,
    epoch: u64,
    draws_left: u32,
}

/// A fork detector made of `rand`'s `ReseedingRng`, which rebuilds its inner generator from
/// scratch before its next block whenever the process forked since its last one (its
/// documented fork protection: a counter bumped by `pthread_atfork` handlers, compared on
/// every block). The inner generator here is [`Forked`]: its blocks are one word, so every
/// call compares the counter, and the first word of a rebuilt one is 1 (then 0).
struct ForkWatch(ReseedingRng<Forked, NoEntropy>);

impl ForkWatch {
    fn new() -> Self {
        let mut watch = Self(ReseedingRng::new(Forked(false), 0, NoEntropy));
        // A new `ReseedingRng` starts from fork count 0: absorb the forks before this one.
        let _ = watch.forked();
        watch
    }

    /// Whether the process forked since the last call (or since `new`).
    fn forked(&mut self) -> bool {
        self.0.next_u32() != 0
    }
}

/// The inner "generator" of [`ForkWatch`]: `true` until its first block after being built.
struct Forked(bool);

impl BlockRngCore for Forked {
    type Item = u32;
    type Results = [u32; 1];

    fn generate(&mut self, [word]: &mut [u32; 1]) {
        *word = u32::from(core::mem::take(&mut self.0));
    }
}

impl SeedableRng for Forked {
    type Seed = [u8; 0];

    /// Built by `ReseedingRng` after a fork (or with its first block).
    fn from_seed(_: [u8; 0]) -> Self {
        Self(true)
    }
}

/// The entropy source `ReseedingRng` rebuilds [`Forked`] from: it needs none, and never fails
/// (`ReseedingRng` panics on a failing source).
struct NoEntropy;

impl RngCore for NoEntropy {
    fn next_u32(&mut self) -> u32 {
        0
    }

    fn next_u64(&mut self) -> u64 {
        0
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        dest.fill(0);
        Ok(())
    }
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
/// and similar restore hooks): a restore runs no fork handler, so without it clones of one
/// snapshot would draw the same nonces until their next periodic reseed. Forked children need no
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
            let epoch = EPOCH.load(Ordering::Relaxed);
            let current = match slot.as_mut() {
                // Asked first: every call must see the fork counter, or a fork between two
                // calls that reseed for another reason would count against the next one.
                Some(state) => {
                    !state.forks.forked() && state.epoch == epoch && state.draws_left > 0
                }
                None => false,
            };
            if !current {
                *slot = Some(ThreadRng {
                    rng: ChaCha20Rng::from_rng(OsRng).map_err(|_| RngFailure)?,
                    forks: ForkWatch::new(),
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

    /// The detector says "forked" exactly when `rand`'s fork counter moved: never on its own.
    #[test]
    fn the_fork_watch_is_quiet_without_a_fork() {
        let mut watch = ForkWatch::new();
        assert!((0..1000).all(|_| !watch.forked()));
    }

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
