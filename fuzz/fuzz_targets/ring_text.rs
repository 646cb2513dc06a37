//! `ring_text`: the key ring's text form (a ring file, `SESSION_KEYS`) into `KeyRing::from_str`
//! and `KeyRing::reload`, against a model of the grammar written from the `KeyRing` docs
//! (SECURITY-TESTS G5):
//!
//! - lines (a `#` starts a comment to the end of the line), tokens separated by commas or
//!   whitespace; a token is a key string (starts with `ssk`), `activate=<time>` or `revoked`
//!   right after a key string (once), or `not-before=<time>` anywhere (the last one wins);
//!   times are Unix seconds or RFC 3339 UTC (`2026-12-01T00:00:00Z`);
//! - the same key twice is kept once; two different keys under one id, or one key's bytes
//!   under two ids, are refused; at most 16 keys;
//! - `end` is the last word if present (optional in a text source); `allow-weakening` anywhere;
//! - the first key, top to bottom, that is neither revoked nor pending seals: a key with
//!   `activate=` below a key without one, or not earlier than the scheduled key above it, is
//!   refused (its line); the first active key is the designated primary; with none, the
//!   earliest scheduled one (for `from_str`); the primary at time t is the scheduled key that
//!   activated last by t, or else the designated one;
//! - a `not-before` more than 60 s after the clock (`from_str`: the system clock) is refused
//!   (its line);
//! - `reload(text, now)` refuses a text that does not parse, one in which no key can seal at
//!   `now` (`NoActiveKey`: every key pending or revoked), and, unless it says
//!   `allow-weakening`, one that would weaken the running ring (move not-before back or drop
//!   it, make its pending key seal before its time: `Weakening`), and leaves the ring
//!   unchanged.
//!
//! Input: a control byte (bits 0-2: the clock of `reload`), then the text (UTF-8).
//!
//! Checks: no panic; `from_str` succeeds exactly when the model parses the text, and fails
//! with the model's error (the line for a text error); a parsed ring has the model's keys
//! (`contains`, `ids`, revoked keys excluded), primary and `status_at` of every key at every
//! time that matters, and not-before time; its `Debug` and every error's `Debug` and `Display` never contain key
//! bytes; `reload` of a fixture ring succeeds exactly when the model says, leaves the ring
//! unchanged (ids, primaries, not-before) when it fails, and otherwise gives the model's ring,
//! on which a cookie sealed before the reload opens exactly when its key (same id, algorithm
//! and bytes) is still there and not revoked and the not-before time allows it.
#![no_main]

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use sealed_session::{
    Codec, Key, KeyError, KeyId, KeyRing, KeyStatus, OpenErrorKind, SessionId, SessionMeta,
};
use sealed_session_fuzz::wire::{self, KeyMaterial};
use sealed_session_fuzz::{
    AES_KEY, COOKIE_NAME, MAX_RING_KEYS, NOW, PENDING_AT, PENDING_KEY, XCHACHA_KEY, key,
};

/// The longest text a ring source may have.
const MAX_RING_TEXT_LEN: usize = 64 * 1024;

/// How far in the future a `not-before` may lie.
const NOT_BEFORE_SKEW_SECS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Scheduled(u64),
    Revoked,
}

#[derive(Debug, Clone)]
struct Entry {
    key: KeyMaterial,
    status: Status,
}

/// The model's ring.
#[derive(Debug, Clone)]
struct Ring {
    designated: Entry,
    /// When the designated key was scheduled itself (the fallback: no key was active).
    designated_schedule: Option<u64>,
    others: Vec<Entry>,
    not_before: Option<u64>,
    /// The line of the last `not-before=`.
    not_before_line: usize,
    /// The text says `allow-weakening`.
    allow_weakening: bool,
}

impl Ring {
    fn all(&self) -> impl Iterator<Item = &Entry> {
        std::iter::once(&self.designated).chain(&self.others)
    }

    fn primary(&self, now: u64) -> KeyId {
        let mut primary: Option<(u64, &Entry)> = None;
        for entry in &self.others {
            if let Status::Scheduled(at) = entry.status
                && at <= now
                && primary.is_none_or(|(latest, _)| at > latest)
            {
                primary = Some((at, entry));
            }
        }
        KeyId::new(primary.map_or(&self.designated, |(_, e)| e).key.id)
    }

    /// The times at which the primary may change, and around them.
    fn times(&self) -> Vec<u64> {
        let mut times = vec![0, NOW, u64::MAX];
        for entry in self.all() {
            if let Status::Scheduled(at) = entry.status {
                times.extend([at.saturating_sub(1), at, at.saturating_add(1)]);
            }
        }
        times.sort_unstable();
        times.dedup();
        times
    }
}

/// Unix seconds, or RFC 3339 UTC without a fraction, from 1970 on.
fn parse_time(text: &str) -> Option<u64> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let b = text.as_bytes();
    let pattern = b"dddd-dd-ddTdd:dd:ddZ";
    if b.len() != pattern.len()
        || !b.iter().zip(pattern).all(|(&c, &p)| {
            if p == b'd' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> u64 {
        b[range]
            .iter()
            .fold(0, |n, &d| n * 10 + u64::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let month_days = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year < 1970
        || !(1..=12).contains(&month)
        || day == 0
        || day > month_days[usize::try_from(month - 1).ok()?]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Leap years in [1970, year): those up to year - 1 minus those up to 1969.
    let leaps_to = |y: u64| y / 4 - y / 100 + y / 400;
    let days = 365 * (year - 1970) + leaps_to(year - 1) - leaps_to(1969)
        + month_days[..usize::try_from(month - 1).ok()?]
            .iter()
            .sum::<u64>()
        + (day - 1);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// The model's verdict on a text: a ring, or the error (for a text error, only its line is
/// compared: the wording is the crate's).
fn model(text: &str) -> Result<Ring, KeyError> {
    let text_error = |line| KeyError::RingText { line, reason: "" };
    if text.len() > MAX_RING_TEXT_LEN {
        return Err(text_error(0));
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    let mut not_before = None;
    let mut not_before_line = 0;
    let mut allow_weakening = false;
    let mut ended = false;
    let mut last_has_state = true;
    for (number, line) in text.lines().enumerate() {
        let line_no = number + 1;
        let content = line.split('#').next().unwrap_or_default();
        for token in content
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            if ended {
                return Err(text_error(line_no));
            }
            let status = if token == "end" {
                ended = true;
                continue;
            } else if token == "allow-weakening" {
                allow_weakening = true;
                continue;
            } else if let Some(time) = token.strip_prefix("not-before=") {
                not_before = Some(parse_time(time).ok_or(text_error(line_no))?);
                not_before_line = line_no;
                continue;
            } else if let Some(time) = token.strip_prefix("activate=") {
                Status::Scheduled(parse_time(time).ok_or(text_error(line_no))?)
            } else if token == "revoked" {
                Status::Revoked
            } else if token.starts_with("ssk") {
                // Key strings are the `key_string` target's: the crate's verdict is taken.
                match token.parse::<Key>() {
                    Err(KeyError::Format { .. }) => return Err(text_error(line_no)),
                    Err(error) => return Err(error),
                    Ok(_) => {}
                }
                let material = wire::fixture_key(token);
                match entries
                    .iter()
                    .find(|e| e.key.id == material.id || e.key.bytes == material.bytes)
                {
                    Some(e) if e.key.id == material.id => {
                        if e.key.bytes != material.bytes || e.key.alg != material.alg {
                            return Err(KeyError::DuplicateId {
                                id: KeyId::new(material.id),
                            });
                        }
                        // The same key again: kept once, and it takes no state word.
                        last_has_state = true;
                    }
                    Some(e) => {
                        return Err(KeyError::DuplicateKey {
                            id: KeyId::new(material.id),
                            existing: KeyId::new(e.key.id),
                        });
                    }
                    None if entries.len() >= MAX_RING_KEYS => {
                        return Err(KeyError::RingFull {
                            limit: MAX_RING_KEYS,
                        });
                    }
                    None => {
                        entries.push(Entry {
                            key: material,
                            status: Status::Active,
                        });
                        lines.push(line_no);
                        last_has_state = false;
                    }
                }
                continue;
            } else {
                return Err(text_error(line_no));
            };
            match entries.last_mut() {
                Some(last) if !last_has_state => last.status = status,
                _ => return Err(text_error(line_no)),
            }
            last_has_state = true;
        }
    }
    // The order rule: scheduled keys above every key without `activate=`, latest first.
    let mut plain = false;
    let mut above: Option<u64> = None;
    for (entry, &line) in entries.iter().zip(&lines) {
        match entry.status {
            Status::Active => plain = true,
            Status::Revoked => {}
            Status::Scheduled(_) if plain => return Err(text_error(line)),
            Status::Scheduled(at) => {
                if above.is_some_and(|earlier| at >= earlier) {
                    return Err(text_error(line));
                }
                above = Some(at);
            }
        }
    }
    if entries.is_empty() {
        return Err(KeyError::EmptyRing);
    }
    let (index, designated_schedule) = match entries.iter().position(|e| e.status == Status::Active)
    {
        Some(index) => (index, None),
        None => {
            let (at, index) = entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match e.status {
                    Status::Scheduled(at) => Some((at, i)),
                    _ => None,
                })
                .min()
                .ok_or(KeyError::NoActiveKey)?;
            (index, Some(at))
        }
    };
    let mut designated = entries.remove(index);
    designated.status = Status::Active;
    Ok(Ring {
        designated,
        designated_schedule,
        others: entries,
        not_before,
        not_before_line,
        allow_weakening,
    })
}

/// The model's verdict on a not-before time at `now`.
fn check_not_before(ring: &Ring, now: u64) -> Result<(), KeyError> {
    match ring.not_before {
        Some(at) if at > now.saturating_add(NOT_BEFORE_SKEW_SECS) => Err(KeyError::RingText {
            line: ring.not_before_line,
            reason: "",
        }),
        _ => Ok(()),
    }
}

/// The model's verdict on whether `next` weakens the base ring at `now` (the base ring has
/// no revoked key: only its not-before time and its pending key can be weakened).
fn weakening(base: &Ring, next: &Ring, now: u64) -> Option<KeyError> {
    if let Some(before) = base.not_before
        && next.not_before.is_none_or(|after| after < before)
    {
        return Some(KeyError::Weakening {
            id: None,
            reason: "",
        });
    }
    for old in base.all() {
        let Status::Scheduled(from) = old.status else {
            continue;
        };
        if from <= now {
            continue;
        }
        let Some(new) = next.all().find(|e| e.key == old.key) else {
            continue;
        };
        let id = KeyId::new(old.key.id);
        let seals_now = next.primary(now) == id;
        let earlier = matches!(new.status, Status::Scheduled(at) if at < from);
        if seals_now || earlier {
            return Some(KeyError::Weakening {
                id: Some(id),
                reason: "",
            });
        }
    }
    None
}

fn same_error(expected: &KeyError, actual: &KeyError) -> bool {
    match (expected, actual) {
        (KeyError::RingText { line: a, .. }, KeyError::RingText { line: b, .. }) => a == b,
        (KeyError::Weakening { id: a, .. }, KeyError::Weakening { id: b, .. }) => a == b,
        _ => expected == actual,
    }
}

/// The secret parts of every key string in the text (43 base64url characters after the last
/// dot of a token), to look for in `Debug` and errors.
fn secrets(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c == '#' || c.is_whitespace())
        .filter_map(|token| token.rsplit('.').next())
        .filter(|secret| {
            secret.len() == 43
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .collect()
}

fn assert_redacted(shown: &str, text: &str) {
    for secret in secrets(text) {
        assert!(!shown.contains(secret), "key bytes shown: {shown}");
    }
}

fn wall_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A ring agrees with the model: keys, revocations, primaries, not-before.
fn assert_ring(ring: &KeyRing, expected: &Ring, text: &str) {
    for entry in expected.all() {
        let id = KeyId::new(entry.key.id);
        assert_eq!(ring.contains(id), entry.status != Status::Revoked, "{id}");
    }
    for t in expected.times() {
        let primary = expected.primary(t);
        assert_eq!(ring.primary_id_at(t), primary, "the primary at {t}");
        for entry in expected.all() {
            let id = KeyId::new(entry.key.id);
            let status = match entry.status {
                _ if id == primary => KeyStatus::Primary,
                Status::Revoked => KeyStatus::Revoked,
                Status::Scheduled(at) if at > t => KeyStatus::Pending { activates_at: at },
                Status::Scheduled(_) | Status::Active => KeyStatus::AcceptOnly,
            };
            assert_eq!(ring.status_at(id, t), Some(status), "{id} at {t}");
        }
    }
    let absent = (0..=u32::MAX)
        .map(KeyId::new)
        .find(|id| expected.all().all(|e| e.key.id != id.get()))
        .expect("a ring holds at most 16 ids");
    assert_eq!(ring.status_at(absent, NOW), None);
    assert_eq!(ring.not_before(), expected.not_before);
    // `ids` puts the primary at the system clock first, then the ring order.
    let before = wall_clock();
    let ids = ring.ids();
    let after = wall_clock();
    let primary = ids[0];
    assert!(primary == expected.primary(before) || primary == expected.primary(after));
    let rest: Vec<KeyId> = expected
        .all()
        .filter(|e| e.status != Status::Revoked)
        .map(|e| KeyId::new(e.key.id))
        .filter(|&id| id != primary)
        .collect();
    assert_eq!(ids[1..], rest[..], "ids in ring order");
    assert_redacted(&format!("{ring:?}"), text);
}

/// What can be seen of a ring from outside, to compare before and after a refused reload.
fn snapshot(ring: &KeyRing, times: &[u64]) -> (Vec<KeyId>, Vec<KeyId>, Option<u64>) {
    let mut ids = ring.ids();
    ids.sort();
    let primaries = times.iter().map(|&t| ring.primary_id_at(t)).collect();
    (ids, primaries, ring.not_before())
}

/// The fixture ring reloads start from: AES primary, XChaCha accept-only, a pending key.
fn base_text() -> String {
    format!("{PENDING_KEY} activate={PENDING_AT}\n{AES_KEY}\n{XCHACHA_KEY}\nnot-before=1\n")
}

/// The model of [`base_text`].
static BASE: LazyLock<Ring> =
    LazyLock::new(|| model(&base_text()).expect("the model reads the base ring"));

thread_local! {
    /// A base ring that a refused reload left as it was, for the next input (parsing one
    /// costs more than the rest of the input).
    static SPARE: std::cell::Cell<Option<KeyRing>> = const { std::cell::Cell::new(None) };
}

/// A fresh base ring, with the message key of [`SEALED`] cached (a reload keeps the caches
/// of unchanged keys).
fn base_ring() -> KeyRing {
    let ring: KeyRing = base_text().parse().expect("the base ring parses");
    Codec::new(ring.clone())
        .open::<u32>(COOKIE_NAME, &SEALED, NOW)
        .expect("the base ring opens the sealed cookie");
    ring
}

/// A cookie sealed under [`AES_KEY`] at [`NOW`] (created a minute earlier), before any reload.
static SEALED: LazyLock<String> = LazyLock::new(|| {
    let ring = KeyRing::new(key(AES_KEY));
    let meta = SessionMeta {
        id: SessionId::from_bytes([7; 16]),
        created: NOW - 60,
    };
    Codec::new(ring)
        .seal(COOKIE_NAME, &meta, &42u32, NOW)
        .expect("a small session seals")
        .value
});

const RELOAD_CLOCKS: [u64; 8] = [
    NOW,
    0,
    u64::MAX,
    PENDING_AT,
    PENDING_AT - 1,
    1_796_083_200, // 2026-12-01T00:00:00Z
    1_000_000,
    NOW + 1,
];

fuzz_target!(init: sealed_session_fuzz::init(), |data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let expected = model(text);

    // from_str: its not-before is checked against the system clock.
    let wall = wall_clock();
    let expected_from_str = expected
        .clone()
        .and_then(|model| check_not_before(&model, wall).map(|()| model));
    match (&expected_from_str, text.parse::<KeyRing>()) {
        (Ok(model), Ok(ring)) => assert_ring(&ring, model, text),
        (Err(expected), Err(error)) => {
            assert!(
                same_error(expected, &error),
                "expected {expected:?}, got {error:?}"
            );
            assert_redacted(&format!("{error:?} {error}"), text);
        }
        (Ok(model), Err(error)) => panic!("refused ({error:?}) a ring the model reads: {model:?}"),
        (Err(expected), Ok(ring)) => {
            panic!("accepted ({ring:?}) a text the model refuses: {expected:?}")
        }
    }

    // reload.
    let now = RELOAD_CLOCKS[usize::from(control & 7)];
    let ring = SPARE.take().unwrap_or_else(base_ring);
    let mut times = BASE.times();
    if let Ok(model) = &expected {
        times.extend(model.times());
    }
    let before = snapshot(&ring, &times);
    let verdict = expected.and_then(|model| {
        check_not_before(&model, now)?;
        // No key can seal at `now`: the text had no active key, and none of its scheduled
        // keys (the designated fallback included) has activated by `now`.
        let can_seal = model.designated_schedule.is_none_or(|at| at <= now)
            || model
                .others
                .iter()
                .any(|e| matches!(e.status, Status::Scheduled(at) if at <= now));
        if !can_seal {
            return Err(KeyError::NoActiveKey);
        }
        match weakening(&BASE, &model, now) {
            Some(error) if !model.allow_weakening => Err(error),
            _ => Ok(model),
        }
    });
    match (verdict, ring.reload(text, now)) {
        (Err(expected), Err(error)) => {
            assert!(
                same_error(&expected, &error),
                "expected {expected:?}, got {error:?}"
            );
            assert_redacted(&format!("{error:?} {error}"), text);
            assert_eq!(
                snapshot(&ring, &times),
                before,
                "a refused reload changed the ring"
            );
            SPARE.set(Some(ring)); // unchanged: the next input can reload it
        }
        (Ok(model), Ok(())) => {
            assert_ring(&ring, &model, text);
            // The cookie sealed before the reload.
            let aes = wire::fixture_key(AES_KEY);
            let entry = model.all().find(|e| e.key.id == aes.id);
            // The AEAD comes before the revocation (whose reason must name a real cookie).
            let expected = match entry {
                None => Err(OpenErrorKind::UnknownKey),
                Some(e) if e.key.bytes != aes.bytes || e.key.alg != aes.alg => {
                    Err(OpenErrorKind::Unauthentic)
                }
                Some(e) if e.status == Status::Revoked => Err(OpenErrorKind::KeyRevoked),
                Some(_) if model.not_before.is_some_and(|t| NOW - 60 < t) => {
                    Err(OpenErrorKind::SessionRevoked)
                }
                Some(_) => Ok(42u32),
            };
            let opened = Codec::new(ring.clone()).open::<u32>(COOKIE_NAME, &SEALED, NOW);
            assert_eq!(
                opened.as_ref().map(|o| o.data).map_err(|e| e.kind()),
                expected,
                "the cookie sealed before the reload"
            );
        }
        (Ok(model), Err(error)) => {
            panic!("reload refused ({error:?}) a ring the model reads at {now}: {model:?}")
        }
        (Err(expected), Ok(())) => {
            panic!("reload accepted a text the model refuses ({expected:?}) at {now}")
        }
    }
});
