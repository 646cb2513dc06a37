//! `bridge_record`: the tower-sessions bridge's record decoder (the session data of a
//! `TowerSessionsLayer` cookie once authenticated: tower-sessions' map of JSON values, as the
//! bridge writes it with postcard) fed deep and wide values (SECURITY-TESTS H2, RT3-2).
//!
//! Input: a control byte, then the rest. Bit 0 of the control byte picks the mode:
//!
//! - 0, raw: the rest is the data encoding, as is (what a key holder could seal);
//! - 1, built: the rest is a program the target turns into a well-formed encoding, so that
//!   depths and widths far past what byte mutations reach are explored in every input: up to
//!   four entries, each a key of up to 7 letters and a value made of `depth` (up to 9,999)
//!   single-element containers (arrays, or objects of one entry, in a pattern from one byte)
//!   around either one leaf or an array of up to 1,023 copies of a leaf (null, a bool, an
//!   unsigned, a signed, a float or a short string). Bytes past the end read as zero.
//!
//! Checks: no panic, no stack overflow, no oversized allocation; a built record decodes
//! exactly when none of its values sits deeper than the save side accepts
//! (`MAX_DEPTH`); anything that decodes (raw too) has no value deeper than that, is accepted
//! by the save side, and its saved encoding decodes to the same map.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sealed_session::__fuzzing_tower_sessions::{MAX_DEPTH, decode_record, encode_record};
use serde_json::Value;

/// The program of a built input, read a byte at a time (zeros past the end).
struct Program<'a>(&'a [u8]);

impl Program<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&first, rest)) => {
                self.0 = rest;
                first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| acc << 8 | u64::from(self.byte()))
    }
}

/// The tags of the bridge's JSON values (their order in its `Json` enum).
const NULL: u8 = 0;
const BOOL: u8 = 1;
const UNSIGNED: u8 = 2;
const SIGNED: u8 = 3;
const FLOAT: u8 = 4;
const STRING: u8 = 5;
const ARRAY: u8 = 6;
const OBJECT: u8 = 7;

/// postcard's encoding of `value` (varints for integers and lengths).
fn postcard<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("a plain value serializes")
}

/// A leaf value's encoding.
fn leaf(program: &mut Program<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    match program.byte() % 6 {
        0 => bytes.push(NULL),
        1 => bytes.extend([BOOL, program.byte() & 1]),
        2 => {
            bytes.push(UNSIGNED);
            bytes.extend(postcard(&program.u64()));
        }
        3 => {
            bytes.push(SIGNED);
            bytes.extend(postcard(&(program.u64().cast_signed())));
        }
        4 => {
            bytes.push(FLOAT);
            bytes.extend(postcard(&f64::from_bits(program.u64())));
        }
        _ => {
            bytes.push(STRING);
            let len = program.byte() % 8;
            let text: String = (0..len)
                .map(|_| char::from(b'a' + program.byte() % 26))
                .collect();
            bytes.extend(postcard(&text));
        }
    }
    bytes
}

/// Writes a built record's encoding into `bytes` (cleared first); returns the deepest depth
/// of any of its values.
fn build(mut program: Program<'_>, bytes: &mut Vec<u8>) -> usize {
    let entries = program.byte() % 5;
    bytes.clear();
    bytes.push(entries);
    let mut deepest = 0;
    for _ in 0..entries {
        let key_len = program.byte() % 8;
        let key: String = (0..key_len)
            .map(|_| char::from(b'a' + program.byte() % 26))
            .collect();
        bytes.extend(postcard(&key));
        let depth = usize::from(program.u16() % 10_000);
        let pattern = program.byte();
        let wide = program.byte() & 1 == 1;
        let width = program.u16() % 1_024;
        let leaf = leaf(&mut program);
        // Eight levels of the pattern, written as one block (a deep value costs a copy per
        // eight levels, so deep inputs keep the target fast).
        let mut block = Vec::with_capacity(32);
        for level in 0..8 {
            if pattern >> level & 1 == 1 {
                block.extend([OBJECT, 1, 1, b'k']);
            } else {
                block.extend([ARRAY, 1]);
            }
        }
        bytes.reserve(depth / 8 * block.len() + 32);
        for _ in 0..depth / 8 {
            bytes.extend_from_slice(&block);
        }
        let partial: usize = (0..depth % 8)
            .map(|level| if pattern >> level & 1 == 1 { 4 } else { 2 })
            .sum();
        bytes.extend_from_slice(block.get(..partial).unwrap_or_default());
        if wide {
            bytes.push(ARRAY);
            bytes.extend(postcard(&u32::from(width)));
            for _ in 0..width {
                bytes.extend_from_slice(&leaf);
            }
            deepest = deepest.max(depth + usize::from(width > 0));
        } else {
            bytes.extend_from_slice(&leaf);
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// The deepest depth of any value in `map` (its own values at 0), without recursion.
fn depth(map: &HashMap<String, Value>) -> usize {
    let mut stack: Vec<(&Value, usize)> = map.values().map(|value| (value, 0)).collect();
    let mut deepest = 0;
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|item| (item, depth + 1))),
            Value::Object(entries) => stack.extend(entries.values().map(|item| (item, depth + 1))),
            _ => {}
        }
    }
    deepest
}

thread_local! {
    /// The built encoding, reused: a deep record is up to 160 KB, and allocating (and
    /// poisoning) that afresh for every input would cost AddressSanitizer more than the rest.
    static BUILT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fuzz_target!(init: sealed_session_fuzz::init(), |input: &[u8]| {
    let Some((&control, rest)) = input.split_first() else {
        return;
    };
    if control & 1 == 0 {
        check(rest, None);
    } else {
        BUILT.with_borrow_mut(|bytes| {
            let deepest = build(Program(rest), bytes);
            check(bytes, Some(deepest <= MAX_DEPTH));
        });
    }
});

/// Decodes `bytes` (which decode exactly when `expected` says, if it says) and checks what
/// the bridge does with what decodes.
fn check(bytes: &[u8], expected: Option<bool>) {
    let decoded = decode_record(bytes);
    if let Some(expected) = expected {
        assert_eq!(
            decoded.is_ok(),
            expected,
            "a built record decoded (or not) against the depth bound: {decoded:?}"
        );
    }
    let Ok(map) = decoded else {
        return;
    };
    assert!(
        depth(&map) <= MAX_DEPTH,
        "a record deeper than the bound decoded"
    );
    let saved = encode_record(&map).expect("the save side refused a record that decoded");
    let again = decode_record(&saved).expect("a saved record does not decode");
    assert_eq!(again, map, "a saved record decodes to another map");
}
