//! What a response does with the session cookie: a pure function of the request's facts, so
//! that every rule of the decision sits in one table (tested exhaustively below).

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
