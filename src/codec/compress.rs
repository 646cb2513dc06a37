//! Optional compression of session data: raw DEFLATE (RFC 1951) through `miniz_oxide`, chosen
//! by measurement (see CHANGELOG 0.2): on carts, maps and URL lists it came out 25-57 %
//! smaller than LZ4 and Snappy and within a few percent of Brotli at its best, with no
//! `unsafe`, a frozen format, and an inflater that writes into a buffer of our size and
//! trusts nothing in the input.
//!
//! Only the data's encoding is compressed, not the sealed head: the head holds the session id
//! (random, incompressible) and it changes as the session is sealed, while the data's
//! compressed form, made once when the data changes, is what the size check counts and the
//! seal reuses.

use core::cell::Cell;

use super::Wiped;
use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};

/// Data shorter than this is never compressed: it did not shrink in measurements. Compressing
/// costs tens of microseconds (tests/alloc.rs prints the time of a change through the engine),
/// and no allocation beyond its output: the compressor's state (about 310 KB: window, hash
/// chains, code and output buffers) is made once per thread and reused.
pub(crate) const MIN_COMPRESS_LEN: usize = 256;

/// The longest data a compressed session inflates to, and the longest encoding compressed.
pub(crate) const MAX_INFLATED_LEN: usize = 16 * 1024;

/// The DEFLATE level: 1, miniz's greedy fast path. Measured on session-like data of 0.7-9 KB
/// (`benches/src/bin/deflate_levels.rs`: one compression with its reset, reused compressor),
/// level 6 (0.2's) costs 1.7-3.2 times the instructions on carts, maps and URL lists, 2 times
/// on random tokens and 5 times on repetitive text, for output 0-15 % smaller on most data and
/// 26 % smaller on a long list of similar URLs (1,051 bytes instead of 1,427 from 8 KB); levels
/// 2-5 save at most a quarter of level 6's instructions, 7-9 at most 2 bytes. A request of the
/// HTTP benchmark's compressed configuration costs 142,645 instructions instead of 391,611.
const LEVEL: u8 = 1;

/// The level a change is compressed at when [`LEVEL`]'s output does not fit the cookies: 0.2's,
/// so that everything that fitted under 0.2 still fits, at level 6's cost only for those
/// sessions ([`deflate_smallest`]).
const SMALLEST_LEVEL: u8 = 6;

thread_local! {
    /// The thread's compressor, made on first use and reset after every use (RT3-5: making one
    /// allocated about 256 KB per seal). Between uses it holds only zeroes: `reset` zeroes the
    /// window (the last 32 KiB of input), the hash chains, the code buffer (literals of the
    /// input) and the output buffer (RT3-7), so neither a reuse nor the thread's exit leaves
    /// session data behind.
    static COMPRESSOR: Cell<Option<Box<CompressorOxide>>> = const { Cell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// Compressions attempted on this thread (for the tests of what a request compresses).
    pub(crate) static DEFLATES: Cell<usize> = const { Cell::new(0) };
}

/// The thread's compressor, put back (reset, so wiped, and at [`LEVEL`]) on drop.
struct Compressor(Option<Box<CompressorOxide>>, u8);

impl Compressor {
    fn take() -> Self {
        // Taken out rather than borrowed: a re-entrant use (none today) would make its own.
        let kept = COMPRESSOR.try_with(Cell::take).ok().flatten();
        let state = kept.unwrap_or_else(|| {
            // Raw DEFLATE (no zlib wrapper: window bits 0), the default strategy.
            let flags = create_comp_flags_from_zip_params(LEVEL.into(), 0, 0);
            Box::new(CompressorOxide::new(flags))
        });
        Self(Some(state), LEVEL)
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        if let Some(mut compressor) = self.0.take() {
            // Zeroes every buffer the input reached, and readies the next use.
            compressor.reset();
            if self.1 != LEVEL {
                compressor.set_compression_level_raw(LEVEL);
            }
            let _ = COMPRESSOR.try_with(|cell| cell.set(Some(compressor)));
        }
    }
}

/// The compressed form of `data`, if compression makes it shorter: one allocation (the
/// output, shorter than `data`, wiped when dropped).
pub(crate) fn deflate(data: &[u8]) -> Option<Wiped> {
    deflate_at(data, LEVEL)
}

/// [`deflate`] at the level that compresses best (0.2's), for data whose [`deflate`] output
/// does not fit.
pub(crate) fn deflate_smallest(data: &[u8]) -> Option<Wiped> {
    deflate_at(data, SMALLEST_LEVEL)
}

fn deflate_at(data: &[u8], level: u8) -> Option<Wiped> {
    if data.len() < MIN_COMPRESS_LEN || data.len() > MAX_INFLATED_LEN {
        return None;
    }
    #[cfg(test)]
    DEFLATES.with(|count| count.set(count.get() + 1));
    let mut compressor = Compressor::take();
    if level != compressor.1 {
        compressor.1 = level;
        compressor.0.as_mut()?.set_compression_level_raw(level);
    }
    let state = compressor.0.as_mut()?;
    // Only a shorter form is kept: an output buffer one byte short of the input, and a stream
    // that does not end in it is not worth having.
    let mut out = Wiped::zeroed(data.len() - 1);
    let (status, read, written) = compress(state, data, &mut out, TDEFLFlush::Finish);
    if status != TDEFLStatus::Done || read != data.len() {
        return None;
    }
    out.truncate(written);
    Some(out)
}

/// Inflates authenticated data into at most [`MAX_INFLATED_LEN`] bytes: a bomb costs one
/// buffer of that size and work proportional to it, then is refused (`None`), as is a
/// truncated or invalid stream. The buffer is wiped when dropped.
pub(crate) fn inflate(packed: &[u8]) -> Option<Wiped> {
    let mut out = Wiped::zeroed(MAX_INFLATED_LEN);
    let len = miniz_oxide::inflate::decompress_slice_iter_to_slice(
        &mut out,
        core::iter::once(packed),
        false,
        false,
    )
    .ok()?;
    out.truncate(len);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bombs_and_truncation() {
        let text: Vec<u8> = (0..2000u32)
            .flat_map(|i| format!("item-{} ", i % 37).into_bytes())
            .take(4000)
            .collect();
        let packed = deflate(&text).unwrap();
        assert!(packed.len() < text.len() / 2);
        assert_eq!(&*inflate(&packed).unwrap(), &text);
        assert_eq!(
            *packed,
            miniz_oxide::deflate::compress_to_vec(&text, LEVEL),
            "the reused compressor writes what a fresh one writes"
        );
        assert_eq!(deflate(&text).unwrap(), packed, "and again after a reset");
        assert!(
            deflate(&text[..MIN_COMPRESS_LEN - 1]).is_none(),
            "too short"
        );
        let mut random = vec![0u8; 1024];
        rand_core::RngCore::fill_bytes(
            &mut <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(7),
            &mut random,
        );
        assert!(deflate(&random).is_none(), "does not shrink");
        assert_eq!(
            deflate(&text).unwrap(),
            packed,
            "after a stream that did not end"
        );
        // Exactly the limit inflates; one byte more is refused.
        let zeros = vec![0u8; MAX_INFLATED_LEN + 1];
        let at_limit = miniz_oxide::deflate::compress_to_vec(&zeros[..MAX_INFLATED_LEN], 6);
        assert_eq!(inflate(&at_limit).unwrap().len(), MAX_INFLATED_LEN);
        let over = miniz_oxide::deflate::compress_to_vec(&zeros, 6);
        assert_eq!(inflate(&over), None);
        let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 1 << 24], 9);
        assert!(bomb.len() < 20_000);
        assert_eq!(inflate(&bomb), None, "16 MiB of zeros");
        assert_eq!(inflate(&packed[..packed.len() - 3]), None, "truncated");
    }
}
