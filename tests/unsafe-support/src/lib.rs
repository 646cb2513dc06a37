//! Test-only helpers for `sealed-session` that need `unsafe`.
//!
//! - [`CountingAlloc`]: a global allocator wrapping [`System`] that counts the allocations and
//!   bytes of the *current thread* while [`measure`] runs, so that the test harness and tests
//!   running in parallel never pollute a measurement (SECURITY-TESTS D2).
//! - [`fork_and_run`] / [`wait`]: a real `fork()` (SECURITY-TESTS B2), with the child confined
//!   to a closure that ends in `_exit`, so it never returns into the parent's test harness.
//!
//! Nothing here is used by the library itself.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

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
