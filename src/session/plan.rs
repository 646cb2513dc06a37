//! What a response does with the session cookie: a pure function of the request's facts, so
//! that every rule of the decision sits in one table (tested exhaustively below), and
//! [`Session::conclude`], which applies it once at the end of the request: the seal, the
//! deletions, and the lines the adapters write.

use crate::codec::MAX_CHUNKS;
use crate::cookies;
use crate::error::SessionError;

use super::{Found, Phase, Session, SessionData, open};

/// What the response does with the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// No cookie line: nothing to save or remove, or the session was never touched.
    Nothing,
    /// A valid cookie that needs no re-seal.
    Keep,
    Seal,
    Remove,
}

/// The facts the plan depends on, apart so that the decision is a pure function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The request is outside the cookie's `Path`: the browser did not send the session, and a
    /// line set here (even a deletion) would replace or delete the user's real one.
    pub(crate) outside_path: bool,
    pub(crate) loaded: bool,
    pub(crate) destroyed: bool,
    pub(crate) had_cookie: bool,
    pub(crate) ambiguous: bool,
    pub(crate) from_cookie: bool,
    pub(crate) changed: bool,
    /// Sealed under a key that is not the primary, or as an older schema version: re-seal.
    pub(crate) upgrade: bool,
    pub(crate) refresh_due: bool,
    pub(crate) save_uninitialized: bool,
    pub(crate) server_error: bool,
}

impl Facts {
    /// The decision table (tested exhaustively in `tests::plan_table`).
    pub(crate) fn plan(self) -> Plan {
        if self.outside_path {
            return Plan::Nothing;
        }
        if self.destroyed {
            // An explicit logout deletes the cookie, also on a 5xx and with planted cookies
            // around (the user asked for it). A flash after it (`changed`: the destroyed
            // session reads as a new one) seals a new session in its place, which replaces the
            // cookie all the same; not on a 5xx, which saves no change.
            if self.changed && !self.server_error {
                return Plan::Seal;
            }
            return if self.had_cookie {
                Plan::Remove
            } else {
                Plan::Nothing
            };
        }
        if !self.loaded {
            return Plan::Nothing;
        }
        if self.ambiguous {
            // SECURITY-TESTS F1: one of the cookies may be the user's own; never overwrite
            // or delete it on the strength of the others.
            return Plan::Nothing;
        }
        let wants_seal = self.changed
            || (self.from_cookie && (self.upgrade || self.refresh_due))
            || (!self.from_cookie && self.save_uninitialized);
        if wants_seal {
            return if self.server_error {
                Plan::Nothing
            } else {
                Plan::Seal
            };
        }
        if self.from_cookie {
            Plan::Keep
        } else if self.had_cookie {
            // Only refused cookies of the name: clear them.
            Plan::Remove
        } else {
            Plan::Nothing
        }
    }
}

/// `Set-Cookie` lines, the first kept apart: a response with one line (nearly all of them)
/// allocates no list. Bytes, ASCII by construction (a validated name and attributes,
/// base64url, digits): an adapter's header value takes them without a UTF-8 check.
#[derive(Default)]
pub(crate) struct Lines {
    first: Option<Vec<u8>>,
    more: Vec<Vec<u8>>,
}

impl Lines {
    pub(crate) fn push(&mut self, line: Vec<u8>) {
        match self.first {
            None => self.first = Some(line),
            Some(_) => self.more.push(line),
        }
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.first.iter().chain(&self.more).map(Vec::as_slice)
    }

    /// The lines as text (each keeps its capacity, which tests compare with the size
    /// predicted).
    #[cfg(test)]
    pub(crate) fn into_strings(self) -> Vec<String> {
        self.into_iter()
            .map(|line| String::from_utf8(line).unwrap())
            .collect()
    }
}

impl IntoIterator for Lines {
    type Item = Vec<u8>;
    type IntoIter = core::iter::Chain<core::option::IntoIter<Vec<u8>>, std::vec::IntoIter<Vec<u8>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.more)
    }
}

/// What the session left for the response (the engine turns it into an
/// [`Outcome`](crate::Outcome)).
/// (No `Debug`: its lines carry the sealed cookie.)
#[derive(Default)]
pub(crate) struct Finished {
    /// The session's `Set-Cookie` lines: the session (its first chunk first), then deletions
    /// of stale chunks.
    pub(crate) lines: Lines,
    pub(crate) found: Found,
    pub(crate) seal_error: Option<SessionError>,
    /// The seal that failed was the engine's own re-seal of the cookie the client sent,
    /// unchanged (a refresh, a key or schema upgrade): what it could not seal is the client's
    /// valid cookie under a configuration changed since (compression or chunking turned off, a
    /// smaller limit), which stays as it was sent.
    pub(crate) reseal_only: bool,
    /// A lifetime was capped by the configuration's maxima in this request.
    pub(crate) capped: bool,
}

impl<T: SessionData> Session<T> {
    /// Decides what the response carries; later calls get an empty outcome and later changes
    /// an error. `server_error`: the response has a 5xx status (changes are not saved).
    pub(crate) fn conclude(&self, server_error: bool) -> Finished {
        let shared = &*self.shared;
        let settings = &*shared.settings;
        let mut state = shared.lock();
        if state.phase == Phase::Sent {
            return Finished::default();
        }
        if settings.config.save_uninitialized() && state.phase == Phase::Open && !state.outside_path
        {
            state.load(settings, &shared.cookies);
        }
        let plan = state.plan(settings, server_error);
        let destroyed = state.phase == Phase::Destroyed;
        state.phase = Phase::Sent;
        state.ring = None;
        let config = &settings.config;
        let mut finished = Finished {
            found: state.found,
            capped: state.capped,
            ..Finished::default()
        };
        // Never touched (nothing was opened, so no chunk was seen either): nothing to write.
        if plan == Plan::Nothing && state.loaded.is_none() {
            return finished;
        }
        if state.outside_path {
            // No line of any kind: it would replace or delete the user's real cookie.
            return finished;
        }
        // The chunks the response leaves in place: any others the request carried are stale.
        let from_cookie = state
            .loaded
            .as_ref()
            .map_or(1, |l| if l.from_cookie { l.chunks } else { 1 });
        let kept = match plan {
            // A session never split, or planted chunks that may be the user's (F1): leave them.
            Plan::Nothing if state.found.ambiguous => MAX_CHUNKS,
            Plan::Nothing | Plan::Keep => from_cookie,
            Plan::Remove => {
                finished.lines.push(cookies::removal_line(
                    config.cookie_name(),
                    0,
                    config.suffix(),
                ));
                0
            }
            Plan::Seal => {
                let reseal_only = state
                    .loaded
                    .as_ref()
                    .is_some_and(|l| l.from_cookie && !l.data_changed && !l.head_changed);
                match state.seal(settings, &mut finished.lines) {
                    Ok(()) => finished.lines.len(),
                    Err(error) if destroyed => {
                        // The new session a flash started after `destroy`: the logout stands.
                        finished.seal_error = Some(error);
                        finished.lines.push(cookies::removal_line(
                            config.cookie_name(),
                            0,
                            config.suffix(),
                        ));
                        0
                    }
                    Err(error) => {
                        finished.seal_error = Some(error);
                        finished.reseal_only = reseal_only;
                        from_cookie
                    }
                }
            }
        };
        if config.max_chunks() == 1 && !finished.lines.is_empty() {
            // Chunking off (or turned off since): the request's `name.1`, `name.2`, ... are
            // never read, but a response that writes the session deletes them, or the browser
            // keeps sending them (RT3-9, SECURITY-TESTS H8). Looked up only here, so a request
            // that writes nothing pays nothing.
            state.found.chunks_seen = match state.found.unchunked {
                Some(seen) => seen,
                None => open::chunks_seen(&shared.cookies, config.cookie_name()),
            };
        }
        // The stale chunks: the names seen at or past the count kept, lowest first.
        let from_kept = u32::try_from(kept.max(1))
            .ok()
            .and_then(|kept| u32::MAX.checked_shl(kept))
            .unwrap_or(0);
        let mut stale = u32::from(state.found.chunks_seen) & from_kept;
        while stale != 0 {
            let index = stale.trailing_zeros() as usize;
            stale &= stale - 1;
            finished.lines.push(cookies::removal_line(
                config.cookie_name(),
                index,
                config.suffix(),
            ));
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SECURITY-TESTS E8, F1, F13 and the 5xx rule: every combination of the facts.
    #[test]
    fn plan_table() {
        let mut rows = 0;
        for bits in 0u16..(1 << 11) {
            let bit = |i: u16| bits & (1 << i) != 0;
            let facts = Facts {
                loaded: bit(0),
                destroyed: bit(1),
                had_cookie: bit(2),
                ambiguous: bit(3),
                from_cookie: bit(4),
                changed: bit(5),
                upgrade: bit(6),
                refresh_due: bit(7),
                save_uninitialized: bit(8),
                server_error: bit(9),
                outside_path: bit(10),
            };
            // Impossible combinations: a session from a cookie had a cookie, and an
            // ambiguous request had cookies but did not load one.
            if (facts.from_cookie && !facts.had_cookie)
                || (facts.ambiguous && (facts.from_cookie || !facts.had_cookie))
            {
                continue;
            }
            rows += 1;
            let expected = if facts.outside_path {
                Plan::Nothing
            } else if facts.destroyed {
                if facts.changed && !facts.server_error {
                    Plan::Seal
                } else if facts.had_cookie {
                    Plan::Remove
                } else {
                    Plan::Nothing
                }
            } else if !facts.loaded || facts.ambiguous {
                Plan::Nothing
            } else if facts.changed
                || (facts.from_cookie && (facts.upgrade || facts.refresh_due))
                || (!facts.from_cookie && facts.save_uninitialized)
            {
                if facts.server_error {
                    Plan::Nothing
                } else {
                    Plan::Seal
                }
            } else if facts.from_cookie {
                Plan::Keep
            } else if facts.had_cookie {
                Plan::Remove
            } else {
                Plan::Nothing
            };
            assert_eq!(facts.plan(), expected, "{facts:?}");
        }
        assert!(rows > 600, "{rows}");
        // The rows SECURITY.md names (F1, F13, E8 and the 5xx rule), spelled out.
        let base = Facts {
            loaded: true,
            destroyed: false,
            had_cookie: true,
            ambiguous: false,
            from_cookie: true,
            changed: false,
            upgrade: false,
            refresh_due: false,
            save_uninitialized: false,
            server_error: false,
            outside_path: false,
        };
        assert_eq!(base.plan(), Plan::Keep);
        assert_eq!(
            Facts {
                changed: true,
                ..base
            }
            .plan(),
            Plan::Seal
        );
        assert_eq!(
            Facts {
                upgrade: true,
                ..base
            }
            .plan(),
            Plan::Seal
        );
        assert_eq!(
            Facts {
                refresh_due: true,
                ..base
            }
            .plan(),
            Plan::Seal
        );
        assert_eq!(
            Facts {
                changed: true,
                server_error: true,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
        assert_eq!(
            Facts {
                destroyed: true,
                ..base
            }
            .plan(),
            Plan::Remove
        );
        // A flash after destroy: a new session replaces the cookie; on a 5xx, a deletion.
        let flashed = Facts {
            destroyed: true,
            from_cookie: false,
            changed: true,
            ..base
        };
        assert_eq!(flashed.plan(), Plan::Seal);
        assert_eq!(
            Facts {
                server_error: true,
                ..flashed
            }
            .plan(),
            Plan::Remove
        );
        assert_eq!(
            Facts {
                from_cookie: false,
                ..base
            }
            .plan(),
            Plan::Remove
        );
        assert_eq!(
            Facts {
                from_cookie: false,
                ambiguous: true,
                changed: true,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
        assert_eq!(
            Facts {
                loaded: false,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
        assert_eq!(
            Facts {
                from_cookie: false,
                had_cookie: false,
                ..base
            }
            .plan(),
            Plan::Nothing
        );
    }
}
