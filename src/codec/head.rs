//! The sealed head of a v2/v3 plaintext (id, created, expires, bounds, flash messages), written,
//! sized and read by hand, byte for byte as postcard encodes [`WireHead`]: a 16-byte array,
//! LEB128 varints, a `0`/`1` bool, and length-prefixed UTF-8 strings. Through serde this was
//! about a tenth of a request's instructions (a call per id byte, per varint); the data after
//! it stays postcard's.

use postcard::ser_flavors::Flavor as _;

use super::flavors::CappedAppend;
use super::{Bounds, ReadHead, SessionId, WireHead};

/// The longest LEB128 encoding of a `u64`.
const MAX_VARINT: usize = 10;

/// The fixed part at its longest: the id, four varints and the bool.
const MAX_FIXED: usize = 16 + 4 * MAX_VARINT + 1;

/// Room for the fixed part, plus the slack a varint's whole-word store may write past its end.
const FIXED_ROOM: usize = MAX_FIXED + 8;

/// Appends `n` as postcard writes a `u64` (or a `usize` on 64-bit targets) at `out[at..]`,
/// returning the end. A varint of up to eight bytes (every `n` below 2^56: all times, bounds and
/// lengths in practice) is made in a register and stored as one word; the bytes past its end
/// are scratch that the next write, or the final `..at` cut, disregards.
fn put_varint(out: &mut [u8; FIXED_ROOM], at: usize, n: u64) -> usize {
    let len = varint_len(n);
    if len <= 8 {
        // The seven-bit groups, one per byte (a software PDEP: 28-, 14-, then 7-bit lanes).
        let mut word = (n & 0x0fff_ffff) | ((n & 0x00ff_ffff_f000_0000) << 4);
        word = (word & 0x0000_3fff_0000_3fff) | ((word & 0x0fff_c000_0fff_c000) << 2);
        word = (word & 0x007f_007f_007f_007f) | ((word & 0x3f80_3f80_3f80_3f80) << 1);
        // A continuation bit on every byte but the last.
        word |= 0x8080_8080_8080_8080 & ((1u64 << (8 * (len - 1))) - 1);
        if let Some(slot) = out.get_mut(at..at + 8) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
        return at + len;
    }
    let (mut at, mut n) = (at, n);
    loop {
        // The low seven bits: the cast keeps exactly them.
        let low = (n & 0x7f) as u8;
        n >>= 7;
        let byte = if n == 0 { low } else { low | 0x80 };
        if let Some(slot) = out.get_mut(at) {
            *slot = byte;
        }
        at += 1;
        if n == 0 {
            return at;
        }
    }
}

/// The length of `n`'s varint.
fn varint_len(n: u64) -> usize {
    // 1 + floor(log2(n) / 7) for n > 0.
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends the encoding of `head` under the cap.
pub(super) fn write(out: &mut CappedAppend<'_>, head: &WireHead<'_>) -> postcard::Result<()> {
    let (id, created, expires, bounds, flash) = *head;
    let mut fixed = [0u8; FIXED_ROOM];
    if let Some(slot) = fixed.get_mut(..16) {
        slot.copy_from_slice(id.as_bytes());
    }
    let mut at = put_varint(&mut fixed, 16, created);
    at = put_varint(&mut fixed, at, expires);
    if let Some(slot) = fixed.get_mut(at) {
        *slot = u8::from(bounds.persistent);
    }
    at = put_varint(&mut fixed, at + 1, bounds.idle);
    at = put_varint(&mut fixed, at, bounds.max);
    at = put_varint(&mut fixed, at, flash.len() as u64);
    out.try_extend(fixed.get(..at).unwrap_or_default())?;
    for message in flash {
        let mut prefix = [0u8; FIXED_ROOM];
        let end = put_varint(&mut prefix, 0, message.len() as u64);
        out.try_extend(prefix.get(..end).unwrap_or_default())?;
        out.try_extend(message.as_bytes())?;
    }
    Ok(())
}

/// The length of the encoding of `head`.
pub(super) fn len(head: &WireHead<'_>) -> usize {
    let (_, created, expires, bounds, flash) = *head;
    let fixed = 16
        + varint_len(created)
        + varint_len(expires)
        + 1
        + varint_len(bounds.idle)
        + varint_len(bounds.max)
        + varint_len(flash.len() as u64);
    flash.iter().fold(fixed, |sum, message| {
        sum.saturating_add(varint_len(message.len() as u64) + message.len())
    })
}

/// Reads what postcard reads as a `u64`: at most ten bytes, the tenth at most 1.
fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    // A varint that ends within the next eight bytes (all of a head's in practice) is read as
    // one word: the first byte without a continuation bit ends it.
    if let Some(first) = bytes.first_chunk::<8>() {
        let word = u64::from_le_bytes(*first);
        let ends = !word & 0x8080_8080_8080_8080;
        if ends != 0 {
            let len = ends.trailing_zeros() as usize / 8 + 1;
            let mut groups = word & 0x7f7f_7f7f_7f7f_7f7f;
            if len < 8 {
                groups &= (1u64 << (8 * len)) - 1;
            }
            // The seven-bit groups, packed (a software PEXT: 14-, 28-, then 56-bit lanes).
            groups = (groups & 0x007f_007f_007f_007f) | ((groups & 0x7f00_7f00_7f00_7f00) >> 1);
            groups = (groups & 0x0000_3fff_0000_3fff) | ((groups & 0x3fff_0000_3fff_0000) >> 2);
            groups = (groups & 0x0fff_ffff) | ((groups & 0x0fff_ffff_0000_0000) >> 4);
            *bytes = bytes.get(len..)?;
            return Some(groups);
        }
    }
    let mut out = 0u64;
    for i in 0..MAX_VARINT {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        out |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (i < MAX_VARINT - 1 || byte <= 1).then_some(out);
        }
    }
    None
}

fn take_usize(bytes: &mut &[u8]) -> Option<usize> {
    usize::try_from(take_varint(bytes)?).ok()
}

/// Reads a head as postcard reads [`ReadHead`], and the bytes after it.
pub(super) fn read(mut bytes: &[u8]) -> Option<(ReadHead, &[u8])> {
    let (id, rest) = bytes.split_first_chunk::<16>()?;
    bytes = rest;
    let created = take_varint(&mut bytes)?;
    let expires = take_varint(&mut bytes)?;
    let (&persistent, rest) = bytes.split_first()?;
    bytes = rest;
    let persistent = match persistent {
        0 => false,
        1 => true,
        _ => return None,
    };
    let idle = take_varint(&mut bytes)?;
    let max = take_varint(&mut bytes)?;
    let count = take_usize(&mut bytes)?;
    // Every message takes at least its length byte: a count beyond the bytes left is refused
    // before anything is reserved for it.
    let mut flash = Vec::with_capacity(count.min(bytes.len()));
    for _ in 0..count {
        let len = take_usize(&mut bytes)?;
        let (text, rest) = bytes.split_at_checked(len)?;
        bytes = rest;
        flash.push(core::str::from_utf8(text).ok()?.to_owned());
    }
    let bounds = Bounds {
        persistent,
        idle,
        max,
    };
    Some((
        (SessionId::from_bytes(*id), created, expires, bounds, flash),
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use postcard::ser_flavors::Size;

    use super::*;

    /// The word-at-a-time varints against postcard's: every length written, and arbitrary bytes
    /// (non-canonical and overlong varints, truncations) read to the same value or refusal.
    #[test]
    fn varints_are_postcards_at_every_length() {
        let mut numbers = vec![0u64, u64::MAX];
        for bits in 1..64 {
            numbers.extend([(1u64 << bits) - 1, 1u64 << bits, (1u64 << bits) + 1]);
        }
        for n in numbers {
            let mut out = [0xa5u8; FIXED_ROOM];
            let end = put_varint(&mut out, 3, n);
            assert_eq!(out[3..end], postcard::to_allocvec(&n).unwrap()[..], "{n}");
            let mut bytes = &out[3..];
            assert_eq!(take_varint(&mut bytes), Some(n));
            assert_eq!(bytes, &out[end..]);
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 13) as usize;
            // Mostly continuation bytes, so that every varint length comes up.
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    let b = (seed >> (i * 5 % 56)).to_le_bytes()[0];
                    if i + 1 < (seed >> 60) as usize {
                        b | 0x80
                    } else {
                        b
                    }
                })
                .collect();
            let mut ours = &bytes[..];
            let expected = postcard::take_from_bytes::<u64>(&bytes);
            assert_eq!(
                take_varint(&mut ours),
                expected.as_ref().ok().map(|(n, _)| *n),
                "{bytes:x?}"
            );
            if let Ok((_, rest)) = expected {
                assert_eq!(ours, rest);
            }
        }
    }

    /// Byte for byte what postcard writes and reads, at every varint length and with flash
    /// messages, and the same refusals.
    #[test]
    fn the_head_is_postcards_encoding() {
        let flashes: [Vec<String>; 3] = [
            Vec::new(),
            vec!["saved".to_owned()],
            vec!["é".repeat(100), String::new(), "x".repeat(200)],
        ];
        let numbers = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ];
        let id = SessionId::from_bytes([7; 16]);
        for flash in &flashes {
            for &n in &numbers {
                for persistent in [false, true] {
                    let bounds = Bounds {
                        persistent,
                        idle: n / 3,
                        max: n,
                    };
                    let wire: WireHead<'_> = (&id, n, n / 2, bounds, flash);
                    let expected = postcard::to_allocvec(&wire).unwrap();
                    let mut buf = Vec::new();
                    write(
                        &mut CappedAppend {
                            buf: &mut buf,
                            limit: usize::MAX,
                        },
                        &wire,
                    )
                    .unwrap();
                    assert_eq!(buf, expected);
                    assert_eq!(len(&wire), expected.len());
                    assert_eq!(
                        postcard::serialize_with_flavor::<_, _, usize>(&wire, Size::default())
                            .unwrap(),
                        len(&wire)
                    );
                    buf.extend_from_slice(b"data");
                    let (read_back, rest) = read(&buf).unwrap();
                    let (by_postcard, rest_postcard) =
                        postcard::take_from_bytes::<ReadHead>(&buf).unwrap();
                    assert!(read_back == by_postcard, "{n}");
                    assert_eq!(rest, rest_postcard);
                    assert_eq!(rest, b"data");
                    // Every truncation is refused by both.
                    for cut in 0..expected.len() {
                        assert_eq!(
                            read(&expected[..cut]).is_some(),
                            postcard::take_from_bytes::<ReadHead>(&expected[..cut]).is_ok(),
                            "{cut}"
                        );
                    }
                }
            }
        }
        // A bad bool, an overlong varint, bad UTF-8: refused by both.
        let valid = || {
            postcard::to_allocvec(&(
                &id,
                1u64,
                2u64,
                Bounds {
                    persistent: true,
                    idle: 3,
                    max: 4,
                },
                &flashes[1],
            ))
            .unwrap()
        };
        let mut bad = valid();
        let bool_at = 16 + 2;
        bad[bool_at] = 2;
        assert!(read(&bad).is_none());
        assert!(postcard::take_from_bytes::<ReadHead>(&bad).is_err());
        let mut overlong = id.as_bytes().to_vec();
        overlong.extend([0xff; 9]);
        overlong.push(2);
        assert!(take_varint(&mut &overlong[16..]).is_none());
        assert!(postcard::from_bytes::<u64>(&overlong[16..]).is_err());
        let mut utf8 = valid();
        let last = utf8.len() - 1;
        utf8[last] = 0xff;
        assert!(read(&utf8).is_none());
        assert!(postcard::take_from_bytes::<ReadHead>(&utf8).is_err());
    }
}
