//! The ring's text form (a ring file, `SESSION_KEYS`): the parser, times, and bounded reads
//! of ring files.

use core::str::FromStr;

use super::{Entry, KeyRing, MAX_RING_KEYS, MAX_RING_TEXT_LEN, RingState, Status};
use crate::error::KeyError;
use crate::key::Key;

impl RingState {
    /// Parses the text form (see [`KeyRing`]). Also says whether no key was active, so that
    /// the earliest scheduled key was designated as a fallback.
    pub(super) fn parse(text: &str) -> Result<(Self, bool), KeyError> {
        if text.len() > MAX_RING_TEXT_LEN {
            return Err(KeyError::RingText {
                line: 0,
                reason: "the text is longer than 64 KiB",
            });
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut not_before = None;
        // Whether the key parsed last already has a state word.
        let mut last_has_state = true;
        for (number, line) in text.lines().enumerate() {
            let at = |reason| KeyError::RingText {
                line: number + 1,
                reason,
            };
            let content = line.split('#').next().unwrap_or_default();
            for token in content
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
            {
                let status = if let Some(time) = token.strip_prefix("not-before=") {
                    not_before = Some(parse_time(time).ok_or_else(|| at("bad not-before time"))?);
                    continue;
                } else if let Some(time) = token.strip_prefix("activate=") {
                    Status::Scheduled(parse_time(time).ok_or_else(|| at("bad activate time"))?)
                } else if token == "revoked" {
                    Status::Revoked
                } else if token.starts_with("ssk") {
                    let key: Key = token.parse().map_err(|error| match error {
                        KeyError::Format { part } => at(part),
                        other => other,
                    })?;
                    if check_new(&entries, &key)? {
                        entries.push(Entry::active(key));
                        last_has_state = false;
                    } else {
                        // The same key twice is kept once, as in `from_keys`.
                        last_has_state = true;
                    }
                    continue;
                } else {
                    return Err(at(
                        "unknown word; expected a key string, activate=, revoked or not-before=",
                    ));
                };
                let last = entries
                    .last_mut()
                    .filter(|_| !last_has_state)
                    .ok_or_else(|| at("a state word must follow a key string, once"))?;
                last.status = status;
                last_has_state = true;
            }
        }
        Self::from_entries(entries, not_before)
    }

    /// The first active key is the designated primary; with none, the earliest scheduled one
    /// (it then seals before its time, as nothing else can).
    fn from_entries(
        mut entries: Vec<Entry>,
        not_before: Option<u64>,
    ) -> Result<(Self, bool), KeyError> {
        if entries.is_empty() {
            return Err(KeyError::EmptyRing);
        }
        let active = entries.iter().position(|e| e.status == Status::Active);
        let (index, fallback) = match active {
            Some(index) => (index, false),
            None => {
                let (_, index) = entries
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| match e.status {
                        Status::Scheduled(at) => Some((at, i)),
                        _ => None,
                    })
                    .min()
                    .ok_or(KeyError::NoActiveKey)?;
                (index, true)
            }
        };
        let mut designated = entries.remove(index);
        designated.status = Status::Active;
        Ok((
            Self {
                designated,
                others: entries,
                not_before,
            },
            fallback,
        ))
    }
}

impl FromStr for KeyRing {
    type Err = KeyError;

    /// Parses the text form (see the type docs): key strings separated by commas and/or
    /// whitespace, the first the designated primary, with optional states.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RingState::parse(s).map(|(state, _)| Self::from_state(state))
    }
}

/// The text of a ring file, wiped from memory after use (it holds key strings).
pub(super) fn read_ring_file(
    path: &std::path::Path,
) -> Result<zeroize::Zeroizing<String>, KeyError> {
    let metadata =
        std::fs::metadata(path).map_err(|error| KeyError::File { kind: error.kind() })?;
    if metadata.len() > MAX_RING_TEXT_LEN as u64 {
        return Err(KeyError::RingText {
            line: 0,
            reason: "the text is longer than 64 KiB",
        });
    }
    std::fs::read_to_string(path)
        .map(zeroize::Zeroizing::new)
        .map_err(|error| KeyError::File { kind: error.kind() })
}

/// Unix seconds, or RFC 3339 in UTC with a `Z` and no fraction (`2026-12-01T00:00:00Z`).
pub(super) fn parse_time(text: &str) -> Option<u64> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let bytes = text.as_bytes();
    if bytes.len() != 20 || text.get(4..5) != Some("-") || text.get(7..8) != Some("-") {
        return None;
    }
    let (date, time) = (text.get(..10)?, text.get(10..)?);
    if !matches!(time.as_bytes(), [b'T', _, _, b':', _, _, b':', _, _, b'Z']) {
        return None;
    }
    let field = |s: Option<&str>| -> Option<u64> {
        let s = s?;
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (
        field(date.get(..4))?,
        field(date.get(5..7))?,
        field(date.get(8..10))?,
    );
    let (hour, minute, second) = (
        field(time.get(1..3))?,
        field(time.get(4..6))?,
        field(time.get(7..9))?,
    );
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    days.checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)
}

/// Formats Unix seconds as RFC 3339 UTC.
pub(super) fn format_time(unix: u64) -> String {
    let days = unix / 86_400;
    let rem = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date from 1970 on (H. Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let yoe = year % 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    (year, month, day)
}

/// Whether `key` can join `entries` (false: the same key is already there).
fn check_new(entries: &[Entry], key: &Key) -> Result<bool, KeyError> {
    let id = key.id();
    for entry in entries {
        let existing = entry.key.key();
        if existing.id() == id {
            return if existing.same_as(key) {
                Ok(false)
            } else {
                Err(KeyError::DuplicateId { id })
            };
        }
        if existing.same_bytes(key) {
            return Err(KeyError::DuplicateKey {
                id,
                existing: existing.id(),
            });
        }
    }
    if entries.len() >= MAX_RING_KEYS {
        return Err(KeyError::RingFull {
            limit: MAX_RING_KEYS,
        });
    }
    Ok(true)
}
