//! Test-only helpers for `sealed-session` that need `unsafe`.
//!
//! - [`CountingAlloc`]: a global allocator wrapping [`System`] that counts the allocations and
//!   bytes of the *current thread* while [`measure`] runs, so that the test harness and tests
//!   running in parallel never pollute a measurement (SECURITY-TESTS D2).
//! - [`fork_and_run`] / [`wait`]: a real `fork()` (SECURITY-TESTS B2), with the child confined
//!   to a closure that ends in `_exit`, so it never returns into the parent's test harness.
//! - [`ScanningAlloc`] ([`scan`]): a global allocator wrapping [`System`] that searches every
//!   block being freed for registered key material while a [`scan::Watch`] is active
//!   (SECURITY-TESTS F3).
//! - [`CappedAlloc`]: a global allocator wrapping [`System`] that aborts the process on any
//!   single allocation at or over a limit: libFuzzer's `-malloc_limit_mb` for the fuzz
//!   targets' build without a sanitizer (SECURITY-TESTS D1); and
//!   [`crash_handlers_on_an_alternate_stack`], so that such a build reports a stack overflow.
//!
//! Nothing here is used by the library itself.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};

/// A [`GlobalAlloc`] that forwards to [`System`] and counts, per thread, what [`measure`]
/// asks it to count.
///
/// Install it in a test crate with
/// `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

thread_local! {
    // Const-initialised `Cell`s without destructors: touching them never allocates, so the
    // allocator may use them.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn record(bytes: usize) {
    // `try_with`: during thread teardown the thread-locals may be gone; then we do not count.
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if counting {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + bytes as u64));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s. The bookkeeping only touches const-initialised
// thread-local `Cell`s, which neither allocate nor unwind.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a new allocation of the new size: the conservative reading.
        record(new_size);
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What the current thread allocated while [`measure`] ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllocStats {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocations: u64,
    /// Bytes requested by those calls (`realloc` counts its new size).
    pub bytes: u64,
}

/// Runs `f` and returns what the current thread allocated meanwhile. Allocations of other
/// threads are not counted. Nested calls are not supported (the inner one resets the counts).
///
/// Returns zero counts unless [`CountingAlloc`] is the global allocator; check
/// [`is_installed`] so that a zero-allocation assertion cannot pass vacuously.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    ALLOCATIONS.with(|c| c.set(0));
    BYTES.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    let stats = AllocStats {
        allocations: ALLOCATIONS.with(Cell::get),
        bytes: BYTES.with(Cell::get),
    };
    (result, stats)
}

/// Whether [`CountingAlloc`] is the global allocator (a measured `Box` is seen).
#[must_use]
pub fn is_installed() -> bool {
    let (boxed, stats) = measure(|| std::hint::black_box(Box::new(0u64)));
    drop(boxed);
    stats.allocations == 1 && stats.bytes == 8
}

/// Forks. The child runs `child` and leaves with `_exit(code)`, where `code` is what `child`
/// returned (101 if it panicked): it never returns into the caller, so the test harness,
/// destructors and `atexit` handlers run only in the parent. Returns the child's process id to
/// the parent.
///
/// Test-only. In a multi-threaded parent only the calling thread exists in the child; glibc
/// makes `malloc` usable there, but the closure must not wait on locks another thread of the
/// parent could have held (stdout, for example): keep it to computing and writing to a pipe.
///
/// # Errors
///
/// The OS error if `fork()` fails.
pub fn fork_and_run(child: impl FnOnce() -> i32) -> io::Result<i32> {
    // SAFETY: `fork` has no memory-safety preconditions of its own. The child only runs
    // `child` (see the caveat above) and then `_exit`s without returning or unwinding.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(101);
            // SAFETY: `_exit` ends the process at once; nothing runs after it.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid),
    }
}

/// Waits for the child `pid` and returns its exit code (or an error if it did not exit
/// normally).
///
/// # Errors
///
/// The OS error if `waitpid` fails, or `Other` if the child was killed by a signal.
pub fn wait(pid: i32) -> io::Result<i32> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid, writable `c_int` for the duration of the call.
        let got = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        if got == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(io::Error::other(format!(
            "child {pid} did not exit normally (status {status:#x})"
        )))
    }
}

pub mod scan {
    //! A scanning allocator (SECURITY-TESTS F3): a [`GlobalAlloc`] wrapping [`System`] that, while
    //! a [`Watch`] is active, searches every block being freed for registered *needles* (key
    //! material) and records each occurrence.
    //!
    //! Install it in a test crate with
    //! `#[global_allocator] static ALLOC: ScanningAlloc = ScanningAlloc;`, then:
    //!
    //! ```ignore
    //! let watch = scan::watch(&[&message_key[..16], &message_key[16..]]);
    //! run_scenario(); // every object dropped inside
    //! assert!(watch.hits().is_empty());
    //! ```
    //!
    //! - Blocks freed by `dealloc`, and the old block of every `realloc` while watching (realloc
    //!   then always moves: whether the system allocator would have moved the block is its own
    //!   choice, so a secret in the old block counts as left behind), on *every* thread.
    //! - Blocks handed out while watching (by `alloc`, and the new block of a `realloc`) start
    //!   filled with a fixed byte. Without that, a block that held a needle and was freed
    //!   *before* the watch (the test's own needle derivation, an earlier test on another
    //!   thread) and is reused but not fully overwritten during the scenario would be reported
    //!   when the scenario frees it, as a residue of code that never saw those bytes.
    //!   `tests/wipe.rs`'s rotation test failed that way intermittently (a 148-byte block with
    //!   half a ring key at offset 74, in a minority of runs of the whole binary). Copies the
    //!   code under test makes into a block after allocating it (stale stack carried by a move
    //!   into the heap included) are still found: the fill comes first.
    //! - Needles are 8 to 32 bytes; up to [`MAX_NEEDLES`] of them. Each is indexed by its first 8
    //!   bytes in a fixed open-addressing table with a bitmap prefilter, so a freed block costs
    //!   O(size) whatever the number of needles.
    //! - The scanner never allocates, and all state it shares with [`watch`] is atomics: the
    //!   enable / scans-in-flight protocol only decides whether a result is complete, never
    //!   whether an access is sound.
    //! - One [`Watch`] at a time, process-wide: [`watch`] waits until the previous one is
    //!   dropped, which also serializes the tests of one binary that use it.
    //! - Freed memory is read by an `asm!` copy into a stack buffer (x86-64 and AArch64 only),
    //!   because reading possibly uninitialised bytes (padding, spare capacity) through a Rust
    //!   reference would be undefined behaviour; an inline-asm copy produces initialised bytes.

    use core::sync::atomic::Ordering::{Relaxed, SeqCst};
    use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize};
    use std::alloc::{GlobalAlloc, Layout, System};

    /// The most needles one [`Watch`] holds.
    pub const MAX_NEEDLES: usize = 1 << 14;
    /// The shortest needle, in bytes (the index key is a needle's first 8 bytes).
    pub const MIN_NEEDLE_LEN: usize = 8;
    /// The longest needle, in bytes.
    pub const MAX_NEEDLE_LEN: usize = 32;
    /// Hits recorded in detail; [`Watch::hit_count`] counts every hit beyond.
    pub const MAX_RECORDED_HITS: usize = 1 << 18;

    const SLOT_BITS: u32 = 16;
    const SLOTS: usize = 1 << SLOT_BITS; // 4 slots per needle: short probes
    const FILTER_BITS: u32 = 18;
    const FILTER_WORDS: usize = (1 << FILTER_BITS) / 64;
    /// Candidate offsets per chunk copied out of a freed block.
    const STEP: usize = 1024;
    /// A chunk plus room for a needle that starts at its last candidate offset.
    const CHUNK: usize = STEP + MAX_NEEDLE_LEN - 1;

    const _: () = assert!(SLOTS >= 4 * MAX_NEEDLES);
    const _: () = assert!(MAX_NEEDLES < u32::MAX as usize);

    // The index: slot -> (needle index + 1, 0 for empty; the needle's first 8 bytes as a
    // little-endian u64), and a bitmap of the prefixes' hashes that lets most offsets of a
    // block skip the table.
    static SLOT_NEEDLE: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
    static SLOT_PREFIX: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
    static FILTER: [AtomicU64; FILTER_WORDS] = [const { AtomicU64::new(0) }; FILTER_WORDS];
    static NEEDLE_LEN: [AtomicU8; MAX_NEEDLES] = [const { AtomicU8::new(0) }; MAX_NEEDLES];
    static NEEDLE_BYTES: [AtomicU8; MAX_NEEDLES * MAX_NEEDLE_LEN] =
        [const { AtomicU8::new(0) }; MAX_NEEDLES * MAX_NEEDLE_LEN];
    static NEEDLES: AtomicUsize = AtomicUsize::new(0);

    /// A [`Watch`] exists (the one-watcher lock).
    static OWNED: AtomicBool = AtomicBool::new(false);
    /// Freed blocks are scanned.
    static ENABLED: AtomicBool = AtomicBool::new(false);
    /// Scans in flight. The index is written, and the hits are read or reset, only while this
    /// is 0 and scanning is disabled (see `scan_freed` and `quiesce`).
    static SCANNERS: AtomicUsize = AtomicUsize::new(0);

    static HITS: AtomicUsize = AtomicUsize::new(0);
    static HIT_NEEDLE: [AtomicU32; MAX_RECORDED_HITS] =
        [const { AtomicU32::new(0) }; MAX_RECORDED_HITS];
    static HIT_BLOCK: [AtomicUsize; MAX_RECORDED_HITS] =
        [const { AtomicUsize::new(0) }; MAX_RECORDED_HITS];
    static HIT_OFFSET: [AtomicUsize; MAX_RECORDED_HITS] =
        [const { AtomicUsize::new(0) }; MAX_RECORDED_HITS];
    static HIT_ORDINAL: [AtomicU64; MAX_RECORDED_HITS] =
        [const { AtomicU64::new(0) }; MAX_RECORDED_HITS];
    static SCANNED_BLOCKS: AtomicU64 = AtomicU64::new(0);
    static SCANNED_BYTES: AtomicU64 = AtomicU64::new(0);

    /// What a block handed out while watching is filled with (see [`ScanningAlloc`]).
    const FRESH_BYTE: u8 = 0xA5;

    /// Whether this target has the `asm!` copy the scanner reads freed memory with.
    const SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

    /// A [`GlobalAlloc`] that forwards to [`System`] and, while a [`Watch`] is active, scans
    /// every block being freed for the watched needles (see the [module docs](self)).
    #[derive(Debug, Clone, Copy, Default)]
    pub struct ScanningAlloc;

    // SAFETY: allocation and deallocation are forwarded to `System` with the caller's
    // arguments; `realloc` while watching is `GlobalAlloc`'s documented default (allocate,
    // copy, free), built from the same forwarded calls. Scanning only reads the block being
    // freed, before it is freed, through an asm copy (see `copy_out`), touches only atomics and
    // a stack buffer, and neither allocates nor unwinds.
    unsafe impl GlobalAlloc for ScanningAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
            let block = unsafe { System.alloc(layout) };
            if !block.is_null() && ENABLED.load(Relaxed) {
                // SAFETY: a fresh block of `layout.size()` bytes that nothing else uses yet.
                unsafe { core::ptr::write_bytes(block, FRESH_BYTE, layout.size()) };
            }
            block
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller guarantees that `ptr` is a live block of `layout` that
            // nothing else uses any more: it may be read for `layout.size()` bytes.
            unsafe { scan_freed(ptr, layout.size()) };
            // SAFETY: forwarded unchanged; `ptr` came from `System` through this allocator.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if !ENABLED.load(Relaxed) {
                // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
                return unsafe { System.realloc(ptr, layout, new_size) };
            }
            // SAFETY: the caller guarantees that `new_size`, rounded up to `layout.align()`,
            // does not overflow `isize` (`realloc`'s contract), which is what a `Layout` needs.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: `new_size` is non-zero (`realloc`'s contract), so is `new_layout`.
            let new = unsafe { self.alloc(new_layout) };
            if !new.is_null() {
                // SAFETY: both blocks are live and distinct, and each is at least
                // `min(old size, new_size)` bytes long.
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            new
        }
    }

    /// Scans a block about to be freed, if watching.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads of `size` bytes for the duration of the call.
    unsafe fn scan_freed(ptr: *const u8, size: usize) {
        // Cheap exit for the common case. A free racing with `watch` may go unscanned, which
        // only concerns blocks freed before `watch` returned.
        if size < MIN_NEEDLE_LEN || !ENABLED.load(Relaxed) {
            return;
        }
        // With `Watch`'s writers: either they see this scan in flight and wait for it, or this
        // scan sees scanning disabled (all SeqCst, so the two cannot miss each other).
        SCANNERS.fetch_add(1, SeqCst);
        if ENABLED.load(SeqCst) {
            // SAFETY: passed on from the caller.
            unsafe { scan(ptr, size) };
        }
        SCANNERS.fetch_sub(1, SeqCst);
    }

    /// # Safety
    ///
    /// As [`scan_freed`].
    unsafe fn scan(ptr: *const u8, size: usize) {
        let ordinal = SCANNED_BLOCKS.fetch_add(1, Relaxed);
        SCANNED_BYTES.fetch_add(size as u64, Relaxed);
        let mut chunk = [0u8; CHUNK];
        let mut found = false;
        let mut start = 0;
        while start + MIN_NEEDLE_LEN <= size {
            let len = CHUNK.min(size - start);
            // SAFETY: `start + len <= size`, so the source range is inside the block, and
            // `chunk` is a distinct, writable stack buffer of at least `len` bytes.
            unsafe { copy_out(ptr.add(start), chunk.as_mut_ptr(), len) };
            let window = &chunk[..len];
            let candidates = STEP.min(len + 1 - MIN_NEEDLE_LEN);
            for offset in 0..candidates {
                let mut prefix = [0u8; 8];
                prefix.copy_from_slice(&window[offset..offset + 8]);
                let prefix = u64::from_le_bytes(prefix);
                let hash = hash(prefix);
                if !filter_has(hash) {
                    continue;
                }
                let mut slot = slot_of(hash);
                loop {
                    let entry = SLOT_NEEDLE[slot].load(Relaxed);
                    if entry == 0 {
                        break;
                    }
                    let needle = entry as usize - 1;
                    if SLOT_PREFIX[slot].load(Relaxed) == prefix
                        && needle_matches(needle, &window[offset..])
                    {
                        record(needle, ordinal, size, start + offset);
                        found = true;
                    }
                    slot = (slot + 1) & (SLOTS - 1);
                }
            }
            start += STEP;
        }
        if found {
            // The buffer now holds a copy of a secret: wipe it.
            for byte in &mut chunk {
                // SAFETY: `byte` is a valid, aligned `&mut u8`.
                unsafe { core::ptr::write_volatile(byte, 0) };
            }
            core::sync::atomic::compiler_fence(SeqCst);
        }
    }

    /// Copies `len` bytes from `src` to `dst` with an inline-asm loop, so that the copy holds
    /// initialised bytes even where the source is uninitialised (padding, spare capacity).
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads and `dst` for writes of `len` bytes, and the two ranges
    /// must not overlap.
    #[cfg(target_arch = "x86_64")]
    unsafe fn copy_out(src: *const u8, dst: *mut u8, len: usize) {
        // SAFETY: `rep movsb` copies `rcx` bytes from `[rsi]` to `[rdi]` upwards (the ABI
        // guarantees the direction flag is clear on entry) and changes no flags; the caller
        // guarantees both ranges. The asm reads and writes memory, so no `nomem`/`readonly`.
        unsafe {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") len => _,
                inout("rsi") src => _,
                inout("rdi") dst => _,
                options(nostack, preserves_flags),
            );
        }
    }

    /// See the x86-64 version.
    ///
    /// # Safety
    ///
    /// As the x86-64 version.
    #[cfg(target_arch = "aarch64")]
    unsafe fn copy_out(src: *const u8, dst: *mut u8, len: usize) {
        if len == 0 {
            return;
        }
        // SAFETY: a byte loop over exactly `len` (> 0) bytes of the two ranges the caller
        // guarantees; it clobbers only the declared registers and the flags.
        unsafe {
            core::arch::asm!(
                "2:",
                "ldrb {t:w}, [{src}], #1",
                "strb {t:w}, [{dst}], #1",
                "subs {len}, {len}, #1",
                "b.ne 2b",
                src = inout(reg) src => _,
                dst = inout(reg) dst => _,
                len = inout(reg) len => _,
                t = out(reg) _,
                options(nostack),
            );
        }
    }

    /// Unsupported targets never scan (`SUPPORTED` is false, so `watch` refuses).
    ///
    /// # Safety
    ///
    /// None needed; kept `unsafe` for one signature.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    unsafe fn copy_out(_src: *const u8, _dst: *mut u8, _len: usize) {}

    fn hash(prefix: u64) -> u64 {
        (prefix ^ (prefix >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn slot_of(hash: u64) -> usize {
        (hash >> (64 - SLOT_BITS)) as usize
    }

    fn filter_bit(hash: u64) -> (usize, u64) {
        let bit = (hash as usize) & ((1 << FILTER_BITS) - 1);
        (bit / 64, 1 << (bit % 64))
    }

    fn filter_has(hash: u64) -> bool {
        let (word, mask) = filter_bit(hash);
        FILTER[word].load(Relaxed) & mask != 0
    }

    fn needle_matches(needle: usize, window: &[u8]) -> bool {
        let len = NEEDLE_LEN[needle].load(Relaxed) as usize;
        window.len() >= len
            && window[..len]
                .iter()
                .zip(&NEEDLE_BYTES[needle * MAX_NEEDLE_LEN..])
                .all(|(&b, n)| n.load(Relaxed) == b)
    }

    fn record(needle: usize, ordinal: u64, block_size: usize, offset: usize) {
        let index = HITS.fetch_add(1, Relaxed);
        if index < MAX_RECORDED_HITS {
            HIT_NEEDLE[index].store(needle as u32, Relaxed);
            HIT_ORDINAL[index].store(ordinal, Relaxed);
            HIT_BLOCK[index].store(block_size, Relaxed);
            HIT_OFFSET[index].store(offset, Relaxed);
        }
    }

    /// Disables scanning and waits for the scans in flight: afterwards this thread alone
    /// touches the index and the hits (the caller holds the one-watcher lock).
    fn quiesce() {
        ENABLED.store(false, SeqCst);
        while SCANNERS.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
    }

    /// One occurrence of a needle in a freed block.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Hit {
        /// The needle's index in the slice given to [`watch`].
        pub needle: usize,
        /// Which freed block: its ordinal among the blocks scanned since the watch started
        /// (or was last cleared), so that hits in one block can be told from hits in another.
        pub block: u64,
        /// The size of the freed block (its `Layout::size`).
        pub block_size: usize,
        /// Where in the block the needle starts.
        pub offset: usize,
    }

    /// Scanning statistics of a [`Watch`], to show that the scanner did look.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Stats {
        /// Freed blocks scanned.
        pub blocks: u64,
        /// Bytes of those blocks.
        pub bytes: u64,
    }

    /// An active watch: freed blocks are scanned for its needles until it is dropped. There is
    /// one at a time, process-wide.
    #[derive(Debug)]
    pub struct Watch {
        _private: (),
    }

    /// Starts watching for `needles` (each 8 to 32 bytes, at most [`MAX_NEEDLES`]); waits
    /// first until no other [`Watch`] exists. The needles are copied into static tables: the
    /// caller's copies may be dropped (outside the watch, or they are found themselves).
    ///
    /// # Panics
    ///
    /// On a needle of another length, too many needles, or a target without the scanner's
    /// memory copy (only x86-64 and AArch64 have it).
    #[must_use = "scanning stops when the Watch is dropped"]
    pub fn watch(needles: &[&[u8]]) -> Watch {
        if !SUPPORTED {
            panic!("the scanning allocator supports x86-64 and AArch64 only");
        }
        assert!(
            needles.len() <= MAX_NEEDLES,
            "{} needles, at most {MAX_NEEDLES}",
            needles.len()
        );
        for needle in needles {
            assert!(
                (MIN_NEEDLE_LEN..=MAX_NEEDLE_LEN).contains(&needle.len()),
                "a needle of {} bytes; needles are {MIN_NEEDLE_LEN} to {MAX_NEEDLE_LEN} bytes",
                needle.len()
            );
        }
        while OWNED
            .compare_exchange_weak(false, true, SeqCst, Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        quiesce();
        reset_hits();
        for slot in &SLOT_NEEDLE {
            slot.store(0, Relaxed);
        }
        for word in &FILTER {
            word.store(0, Relaxed);
        }
        for (index, needle) in needles.iter().enumerate() {
            NEEDLE_LEN[index].store(needle.len() as u8, Relaxed);
            for (stored, &byte) in NEEDLE_BYTES[index * MAX_NEEDLE_LEN..].iter().zip(*needle) {
                stored.store(byte, Relaxed);
            }
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&needle[..8]);
            let prefix = u64::from_le_bytes(prefix);
            let hash = hash(prefix);
            let (word, mask) = filter_bit(hash);
            FILTER[word].fetch_or(mask, Relaxed);
            let mut slot = slot_of(hash);
            while SLOT_NEEDLE[slot].load(Relaxed) != 0 {
                slot = (slot + 1) & (SLOTS - 1);
            }
            SLOT_PREFIX[slot].store(prefix, Relaxed);
            SLOT_NEEDLE[slot].store(index as u32 + 1, Relaxed);
        }
        NEEDLES.store(needles.len(), Relaxed);
        // SeqCst: publishes the tables to every scan that sees scanning enabled.
        ENABLED.store(true, SeqCst);
        Watch { _private: () }
    }

    fn reset_hits() {
        HITS.store(0, Relaxed);
        SCANNED_BLOCKS.store(0, Relaxed);
        SCANNED_BYTES.store(0, Relaxed);
    }

    impl Watch {
        /// Runs `f` with scanning paused, for test code that handles the secrets itself. Blocks
        /// freed meanwhile, on any thread, are not scanned.
        pub fn paused<R>(&self, f: impl FnOnce() -> R) -> R {
            quiesce();
            let result = f();
            ENABLED.store(true, SeqCst);
            result
        }

        /// The hits so far (the first [`MAX_RECORDED_HITS`]; see [`hit_count`](Self::hit_count)).
        /// Pauses scanning while it reads, as [`paused`](Self::paused) does.
        #[must_use]
        pub fn hits(&self) -> Vec<Hit> {
            // Pause so that no hit is half-written while it is read; allocating the result
            // is fine, it holds no needle.
            self.paused(|| {
                let count = HITS.load(Relaxed).min(MAX_RECORDED_HITS);
                let mut hits = Vec::with_capacity(count);
                for index in 0..count {
                    hits.push(Hit {
                        needle: HIT_NEEDLE[index].load(Relaxed) as usize,
                        block: HIT_ORDINAL[index].load(Relaxed),
                        block_size: HIT_BLOCK[index].load(Relaxed),
                        offset: HIT_OFFSET[index].load(Relaxed),
                    });
                }
                hits
            })
        }

        /// Every hit so far, including those beyond [`MAX_RECORDED_HITS`].
        #[must_use]
        pub fn hit_count(&self) -> usize {
            self.paused(|| HITS.load(Relaxed))
        }

        /// What was scanned so far.
        #[must_use]
        pub fn stats(&self) -> Stats {
            self.paused(|| Stats {
                blocks: SCANNED_BLOCKS.load(Relaxed),
                bytes: SCANNED_BYTES.load(Relaxed),
            })
        }

        /// Forgets the hits and statistics so far; the needles stay.
        pub fn clear(&self) {
            self.paused(reset_hits);
        }

        /// The number of needles watched.
        #[must_use]
        pub fn needles(&self) -> usize {
            NEEDLES.load(Relaxed)
        }
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            quiesce();
            OWNED.store(false, SeqCst);
        }
    }

    /// Whether [`ScanningAlloc`] is the global allocator and finds a needle in a freed
    /// `Box` (so that a zero-hit assertion cannot pass vacuously). It takes a [`Watch`] of its
    /// own, so it waits while another one is active: do not call it while holding one.
    #[must_use]
    pub fn is_installed() -> bool {
        const SENTINEL: [u8; 32] = *b"sealed-session scanner sentinel!";
        if !SUPPORTED {
            return false;
        }
        let watch = watch(&[&SENTINEL]);
        drop(std::hint::black_box(Box::new(std::hint::black_box(
            SENTINEL,
        ))));
        let hits = watch.hits();
        hits.iter()
            .any(|hit| hit.needle == 0 && hit.block_size == 32 && hit.offset == 0)
    }
}

pub use scan::ScanningAlloc;

/// A [`GlobalAlloc`] that forwards to [`System`] and aborts the process on any single
/// allocation of `LIMIT` bytes or more, after one line on stderr naming the size.
///
/// libFuzzer's `-malloc_limit_mb` is checked in a hook of the sanitizer's allocator, so a
/// fuzz build without a sanitizer (`cargo fuzz build -s none`) checks nothing; with this
/// allocator it fails the same way (an abort is a crash, and libFuzzer saves the input).
/// `LIMIT = 2 << 20` matches `-malloc_limit_mb=2`, which refuses sizes of 2 MiB and more.
#[derive(Debug, Clone, Copy, Default)]
pub struct CappedAlloc<const LIMIT: usize>;

impl<const LIMIT: usize> CappedAlloc<LIMIT> {
    fn check(size: usize) {
        if size >= LIMIT {
            over_limit(size, LIMIT);
        }
    }
}

/// Says which allocation went over and aborts: no allocation (the line is formatted into a
/// stack buffer), no lock and no unwinding, since it runs inside the allocator.
#[cold]
fn over_limit(size: usize, limit: usize) -> ! {
    use std::io::Write as _;

    let mut line = [0u8; 192];
    let mut cursor = io::Cursor::new(&mut line[..]);
    // A line cut short by the buffer loses only text: the abort follows either way.
    let _ = writeln!(
        cursor,
        "==CappedAlloc: an allocation of {size} bytes, at or over the limit of {limit} \
         (-malloc_limit_mb, SECURITY-TESTS D1)"
    );
    let written = usize::try_from(cursor.position()).unwrap_or(0);
    let text = cursor.into_inner().get(..written).unwrap_or_default();
    // SAFETY: `text` is a valid, initialised buffer of `text.len()` bytes for the call.
    let _ = unsafe { libc::write(libc::STDERR_FILENO, text.as_ptr().cast(), text.len()) };
    std::process::abort()
}

/// Makes the crash handlers a fuzzer installs after this call run on an alternate signal
/// stack, so that a stack overflow is reported (and its input saved) instead of killing the
/// process where it stands. Call it once, before the handlers are installed: from libFuzzer's
/// `LLVMFuzzerInitialize` (`fuzz_target!(init: ...)`).
///
/// Without a sanitizer nothing gives a `#![no_main]` fuzz target an alternate stack (Rust's
/// runtime, which would, does not start), and libFuzzer installs its `SIGSEGV` handler with
/// `SA_ONSTACK` only when the disposition it replaces has it. This sets that flag on the
/// default disposition of `SIGSEGV` and `SIGBUS` and installs a 256 KiB alternate stack for
/// the calling thread (the one that runs the inputs). Where a handler is already installed (a
/// sanitizer's runtime, with its own alternate stack) it changes nothing.
///
/// # Errors
///
/// The OS error of a failed `sigaction` or `sigaltstack`.
pub fn crash_handlers_on_an_alternate_stack() -> io::Result<()> {
    const STACK_SIZE: usize = 256 * 1024;
    // The stack stays reachable from here for the life of the process (a leak checker sees it).
    static STACK: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

    let mut flagged = false;
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: an all-zero `sigaction` is a valid value of the C struct (it is only read
        // back into by the call below).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the current one into `action`, a valid,
        // writable `sigaction`.
        if unsafe { libc::sigaction(signal, std::ptr::null(), &raw mut action) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if action.sa_sigaction != libc::SIG_DFL || action.sa_flags & libc::SA_SIGINFO != 0 {
            continue; // a handler is installed already: not ours to change
        }
        action.sa_flags |= libc::SA_ONSTACK;
        // SAFETY: the default disposition, as read, with one more flag; the old action is not
        // asked for.
        if unsafe { libc::sigaction(signal, &raw const action, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        flagged = true;
    }
    if flagged && STACK.load(Ordering::Acquire).is_null() {
        let stack: &'static mut [u8] = Box::leak(vec![0u8; STACK_SIZE].into_boxed_slice());
        STACK.store(stack.as_mut_ptr(), Ordering::Release);
        let alternate = libc::stack_t {
            ss_sp: stack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: stack.len(),
        };
        // SAFETY: `alternate` names a live, leaked (never freed) buffer of `ss_size` bytes
        // that nothing else uses: only the kernel writes it, when a handler runs on it.
        if unsafe { libc::sigaltstack(&raw const alternate, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s; the size check before it reads only the
// arguments, and on failure aborts without allocating or unwinding.
unsafe impl<const LIMIT: usize> GlobalAlloc for CappedAlloc<LIMIT> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 4096;

    fn bytes(size: usize) -> Layout {
        Layout::from_size_align(size, 1).expect("a valid layout")
    }

    #[test]
    fn capped_alloc_serves_below_its_limit_and_aborts_at_it() {
        let capped = CappedAlloc::<LIMIT>;
        // SAFETY: a non-zero size; the block is freed with the layout it was allocated with.
        unsafe {
            let below = capped.alloc(bytes(LIMIT - 1));
            assert!(!below.is_null());
            let grown = capped.realloc(below, bytes(LIMIT - 1), LIMIT - 1);
            assert!(!grown.is_null());
            capped.dealloc(grown, bytes(LIMIT - 1));
        }
        for grow in [false, true] {
            let pid = fork_and_run(move || {
                // SAFETY: as above; the child aborts before it would have to free anything.
                unsafe {
                    if grow {
                        let block = capped.alloc(bytes(16));
                        capped.realloc(block, bytes(16), LIMIT);
                    } else {
                        capped.alloc(bytes(LIMIT));
                    }
                }
                0
            })
            .expect("fork");
            let mut status: libc::c_int = 0;
            // SAFETY: `status` is a valid, writable `c_int` for the duration of the call.
            assert_eq!(unsafe { libc::waitpid(pid, &raw mut status, 0) }, pid);
            assert!(
                libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
                "the child ended with status {status:#x}, not by SIGABRT"
            );
        }
    }

    #[test]
    fn crash_handlers_get_an_alternate_stack_where_none_is_installed() {
        // In a child: the signal dispositions and the alternate stack are the process's.
        let pid = fork_and_run(|| {
            // As in a `#![no_main]` fuzz target: no handler (the test harness's runtime has
            // installed Rust's stack-overflow handlers).
            for signal in [libc::SIGSEGV, libc::SIGBUS] {
                // SAFETY: restoring the default disposition has no preconditions.
                if unsafe { libc::signal(signal, libc::SIG_DFL) } == libc::SIG_ERR {
                    return 3;
                }
            }
            if crash_handlers_on_an_alternate_stack().is_err() {
                return 1;
            }
            // SAFETY: all-zero values of the C structs, read back into by the calls.
            let (mut action, mut stack): (libc::sigaction, libc::stack_t) =
                unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
            // SAFETY: null new values only read the current ones into valid, writable structs.
            let read = unsafe {
                libc::sigaction(libc::SIGSEGV, std::ptr::null(), &raw mut action) == 0
                    && libc::sigaltstack(std::ptr::null(), &raw mut stack) == 0
            };
            let on_stack = action.sa_flags & libc::SA_ONSTACK != 0;
            let installed = stack.ss_flags & libc::SS_DISABLE == 0 && stack.ss_size == 256 * 1024;
            i32::from(!(read && on_stack && installed)) * 2
        })
        .expect("fork");
        assert_eq!(wait(pid).expect("the child exits"), 0);
    }
}
