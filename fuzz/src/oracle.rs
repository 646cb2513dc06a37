//! The model of what a request's `Cookie` fields give the middleware: which values carry the
//! session's name, which of them cost an AEAD open, and which session (if any) the request
//! runs as. Written from the crate's documentation (src/cookies.rs `values`, src/session.rs
//! `open_request`, SECURITY-TESTS D3, E3, E4, F1), not from its code paths:
//!
//! - a field is split at every `;`; a pair is the cookie exactly when, after leading ASCII
//!   whitespace, it starts with the name byte for byte and then `=`; the rest of the pair is
//!   the value, raw;
//! - every candidate gets the cheap checks ([`CheapModel`]); a distinct value that passes
//!   them costs one AEAD open, at most [`MAX_OPENS`] per request, and a repeated value costs
//!   nothing;
//! - exactly one distinct authentic value is the session; two, or a candidate left over when
//!   the budget ran out, make the request ambiguous: a fresh session that is neither saved
//!   nor deleted.

use std::sync::{Arc, Mutex, PoisonError};

use sealed_session::{Lifetime, OpenError, OpenErrorKind, SessionMeta};

use crate::MAX_OPENS;
use crate::wire::CheapModel;

/// The values of every cookie named exactly `name` in `fields`, in request order.
#[must_use]
pub fn cookie_values<'a>(fields: &[&'a [u8]], name: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    for field in fields {
        for pair in field.split(|&b| b == b';') {
            let pair = pair.trim_ascii_start();
            if let Some(value) = pair.strip_prefix(name).and_then(|r| r.strip_prefix(b"=")) {
                out.push(value);
            }
        }
    }
    out
}

/// Checks the `Set-Cookie` lines after the session's `line`: nothing but the deletion of each
/// chunk cookie `name.k` the request carried (`fields`), in order, when the response writes the
/// session (chunking off: RT3-9 deletes them); nothing at all without a session line.
pub fn assert_only_stale_chunk_deletions(
    line: Option<&str>,
    rest: &[&str],
    fields: &[&[u8]],
    name: &str,
) {
    let carried = if line.is_some() {
        chunk_indexes(fields, name.as_bytes())
    } else {
        Vec::new()
    };
    assert_eq!(
        rest.len(),
        carried.len(),
        "more than one Set-Cookie, or a stale chunk kept: {line:?} {rest:?}"
    );
    for (stale, index) in rest.iter().zip(&carried) {
        assert!(
            stale.starts_with(&format!("{name}.{index}=;")) && stale.contains("; Max-Age=0"),
            "not the deletion of chunk {index}: {stale}"
        );
    }
}

/// The chunk indexes (1 to 15) of the cookies `name.k` in `fields`, ascending: a pair (split
/// at `;`, leading ASCII whitespace trimmed) whose cookie name, up to its first `=`, is `name`,
/// a dot and `k` in canonical decimal. A response that writes the session with chunking off
/// deletes each of them (RT3-9, SECURITY-TESTS H8).
#[must_use]
pub fn chunk_indexes(fields: &[&[u8]], name: &[u8]) -> Vec<usize> {
    let mut seen = [false; 16];
    for field in fields {
        for pair in field.split(|&b| b == b';') {
            let pair = pair.trim_ascii_start();
            let Some(at) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let Some(digits) = pair[..at]
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(b"."))
            else {
                continue;
            };
            let index = match digits {
                [d @ b'1'..=b'9'] => usize::from(d - b'0'),
                [b'1', d @ b'0'..=b'5'] => 10 + usize::from(d - b'0'),
                _ => continue,
            };
            seen[index] = true;
        }
    }
    (1..16).filter(|&index| seen[index]).collect()
}

/// An authentic session, as an opener of the model gives it (the fields of `Opened` the
/// checks need, converted to the current type for a migrated one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentic<T> {
    pub meta: SessionMeta,
    pub expires: u64,
    pub data: T,
    pub lifetime: Lifetime,
    pub flash: Vec<String>,
    pub schema_version: u32,
    pub by_primary: bool,
}

/// Opens one value as the layer would, before the revocation check.
pub type OpenFn<T> = dyn Fn(&str, u64) -> Result<Authentic<T>, OpenError> + Send + Sync;

/// A layer, as the model sees it.
pub struct Opener<T> {
    pub cheap: CheapModel,
    pub open: Box<OpenFn<T>>,
    /// The layer's revocation check (`with_revocation_check`), if any.
    pub valid: Option<fn(&SessionMeta, &T) -> bool>,
    memo: Mutex<Memo<T>>,
}

/// What the request's cookies give the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected<T> {
    /// No authentic cookie: a new, empty session. `cookies` counts the values of the name.
    Fresh { cookies: usize },
    /// Exactly one distinct authentic value: its session.
    Session {
        value: Vec<u8>,
        session: Arc<Authentic<T>>,
    },
    /// Two distinct authentic values, or more candidates than could be authenticated.
    Ambiguous,
}

impl<T> Expected<T> {
    /// Whether the request carried any value of the name.
    #[must_use]
    pub fn had_cookie(&self) -> bool {
        !matches!(self, Self::Fresh { cookies: 0 })
    }
}

/// What the model found for one value.
#[derive(Clone)]
enum Found<T> {
    /// Refused by the cheap checks: costs no AEAD open.
    Cheap,
    /// Reached the AEAD and was refused (or failed the revocation check).
    Refused,
    Authentic(Arc<Authentic<T>>),
}

/// Values that reached the AEAD, and what they gave: a fixture's clock is fixed, and the same
/// cookie values come back input after input, so the model opens each only once.
///
/// Nothing here allocates once warm: libFuzzer runs an input a second time (to look for a
/// leak) whenever it ends with more allocations than frees, which a growing memo would cause
/// on every new value. Refused values go to a ring of preallocated slots; authentic ones (only
/// ever the seeds' cookies: the fuzzer cannot forge one) to a short list.
struct Memo<T> {
    clock: u64,
    authentic: Vec<(u64, Vec<u8>, Arc<Authentic<T>>)>,
    /// Each with the hash of its value, so that a lookup compares hashes, not values.
    refused: Vec<(u64, Vec<u8>)>,
    next: usize,
}

/// A quick hash of a value (not for adversaries: it only spares the memo's comparisons).
fn quick_hash(value: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ value.len() as u64;
    let mut chunks = value.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        hash = (hash ^ word).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    }
    for &byte in chunks.remainder() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Refused values remembered (each slot holds up to [`MEMO_VALUE_LEN`] bytes).
const MEMO_REFUSED: usize = 256;
/// The longest value remembered.
const MEMO_VALUE_LEN: usize = 4096;
/// Authentic values remembered before the list starts over.
const MEMO_AUTHENTIC: usize = 256;

impl<T> Memo<T> {
    fn new() -> Self {
        Self {
            clock: 0,
            authentic: Vec::with_capacity(MEMO_AUTHENTIC),
            refused: (0..MEMO_REFUSED)
                .map(|_| (0, Vec::with_capacity(MEMO_VALUE_LEN)))
                .collect(),
            next: 0,
        }
    }

    fn get(&self, hash: u64, value: &[u8]) -> Option<Found<T>> {
        if let Some((_, _, session)) = self
            .authentic
            .iter()
            .find(|(h, v, _)| *h == hash && v == value)
        {
            return Some(Found::Authentic(Arc::clone(session)));
        }
        self.refused
            .iter()
            .any(|(h, v)| *h == hash && !v.is_empty() && v == value)
            .then_some(Found::Refused)
    }

    fn insert(&mut self, hash: u64, value: &[u8], found: &Found<T>) {
        match found {
            Found::Cheap => {}
            _ if value.len() > MEMO_VALUE_LEN => {}
            Found::Refused => {
                let (slot_hash, slot) = &mut self.refused[self.next];
                slot.clear();
                slot.extend_from_slice(value);
                *slot_hash = hash;
                self.next = (self.next + 1) % MEMO_REFUSED;
            }
            Found::Authentic(session) => {
                if self.authentic.len() == MEMO_AUTHENTIC {
                    self.authentic.clear();
                }
                self.authentic
                    .push((hash, value.to_vec(), Arc::clone(session)));
            }
        }
    }
}

impl<T: Clone> Opener<T> {
    /// A model of a layer: its cheap checks, how it opens a value, its revocation check.
    #[must_use]
    pub fn new(
        cheap: CheapModel,
        open: Box<OpenFn<T>>,
        valid: Option<fn(&SessionMeta, &T) -> bool>,
    ) -> Self {
        Self {
            cheap,
            open,
            valid,
            memo: Mutex::new(Memo::new()),
        }
    }

    fn find(&self, value: &[u8], now: u64) -> Found<T> {
        let mut memo = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        if memo.clock != now {
            *memo = Memo::new();
            memo.clock = now;
        }
        let hash = quick_hash(value);
        if let Some(found) = memo.get(hash, value) {
            return found;
        }
        let found = if !self.cheap.check(value, now).reaches_aead() {
            Found::Cheap
        } else {
            // It reached the AEAD, so it is base64url: ASCII.
            match std::str::from_utf8(value).map(|text| (self.open)(text, now)) {
                Ok(Ok(session))
                    if self
                        .valid
                        .is_none_or(|valid| valid(&session.meta, &session.data)) =>
                {
                    Found::Authentic(Arc::new(session))
                }
                _ => Found::Refused,
            }
        };
        memo.insert(hash, value, &found);
        found
    }

    /// The session the middleware must find among `values` (those of the name, in order).
    #[must_use]
    pub fn expect(&self, values: &[&[u8]], now: u64) -> Expected<T> {
        let mut attempted: Vec<&[u8]> = Vec::new();
        let mut authentic: Vec<(&[u8], Arc<Authentic<T>>)> = Vec::new();
        let mut over_budget = false;
        for &value in values {
            if attempted.contains(&value) {
                continue; // a repeated value costs nothing
            }
            let found = self.find(value, now);
            if matches!(found, Found::Cheap) {
                continue;
            }
            if attempted.len() == MAX_OPENS {
                over_budget = true;
                continue;
            }
            attempted.push(value);
            if let Found::Authentic(session) = found {
                authentic.push((value, session));
            }
        }
        if over_budget || authentic.len() > 1 {
            return Expected::Ambiguous;
        }
        match authentic.pop() {
            Some((value, session)) => Expected::Session {
                value: value.to_vec(),
                session,
            },
            None => Expected::Fresh {
                cookies: values.len(),
            },
        }
    }
}

/// The kinds a value that reached the AEAD can be refused with (`WrongType`: an authentic
/// format v3 value bound to a type the opener does not read).
pub const AFTER_AEAD: [OpenErrorKind; 6] = [
    OpenErrorKind::Unauthentic,
    OpenErrorKind::WrongType,
    OpenErrorKind::Payload,
    OpenErrorKind::Expired,
    OpenErrorKind::FutureDated,
    OpenErrorKind::SessionRevoked,
];
