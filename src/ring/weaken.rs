//! Rings that never weaken: what a reload may not change without saying so.
//!
//! A ring file caught half-written, a stale copy put back, or a slip of the hand could
//! otherwise un-revoke a key, bring sessions back that a not-before time logged out, or make a
//! pending key seal now. Removing a key is never weakening: what it sealed stops opening.

use super::{RingState, Status};
use crate::error::KeyError;

/// The first way `next` would weaken `running` at `now`, if any.
pub(super) fn weakening(running: &RingState, next: &RingState, now: u64) -> Option<KeyError> {
    if let Some(before) = running.not_before {
        if next.not_before.is_none_or(|after| after < before) {
            return Some(KeyError::Weakening {
                id: None,
                reason: "move the not-before time back (or drop it), letting sessions it refused \
                         in again",
            });
        }
    }
    let next_primary = next.primary(now);
    for old in running.all() {
        let id = old.key.key().id();
        let Some(new) = next.all().find(|e| e.key.key().same_as(old.key.key())) else {
            // Gone (or another key under this id, which opens nothing the old one sealed).
            continue;
        };
        match (old.status, new.status) {
            (Status::Revoked, Status::Revoked) => {}
            (Status::Revoked, _) => {
                return Some(KeyError::Weakening {
                    id: Some(id),
                    reason: "un-revoke a revoked key",
                });
            }
            (Status::Scheduled(from), _) if from > now => {
                let seals_now = core::ptr::eq(next_primary, new);
                let earlier = matches!(new.status, Status::Scheduled(at) if at < from);
                if seals_now || earlier {
                    return Some(KeyError::Weakening {
                        id: Some(id),
                        reason: "make a pending key seal before its activation time",
                    });
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::error::KeyError;
    use crate::key::{Algorithm, Key};
    use crate::ring::KeyRing;

    fn key(byte: u8) -> Key {
        let mut bytes = [byte; 32];
        bytes[0] = 0;
        Key::from_bytes(Algorithm::Aes256Gcm, &bytes).unwrap()
    }

    /// RT3-4 (e): each way of weakening is refused with its reason, the ring stays; the same
    /// text with `allow-weakening` loads; stronger changes load without it. (0.2 loaded every
    /// one of these texts.)
    #[test]
    fn a_reload_that_weakens_is_refused_unless_the_text_says_so() {
        let (a, b, c) = (key(1), key(2), key(3));
        let now = 1_000_000;
        let base = format!("{c} activate=2000000\n{a}\n{b} revoked\nnot-before=900000\n");
        let weaker = [
            // b un-revoked.
            (
                format!("{c} activate=2000000\n{a}\n{b}\nnot-before=900000"),
                Some(b.id()),
            ),
            // not-before moved back, or dropped.
            (
                format!("{c} activate=2000000\n{a}\n{b} revoked\nnot-before=800000"),
                None,
            ),
            (format!("{c} activate=2000000\n{a}\n{b} revoked"), None),
            // c seals now (its activation dropped), or earlier than it said.
            (
                format!("{c}\n{a}\n{b} revoked\nnot-before=900000"),
                Some(c.id()),
            ),
            (
                format!("{c} activate=1500000\n{a}\n{b} revoked\nnot-before=900000"),
                Some(c.id()),
            ),
        ];
        for (text, id) in &weaker {
            let ring: KeyRing = base.parse().unwrap();
            let error = ring.reload(text, now).unwrap_err();
            assert!(
                matches!(error, KeyError::Weakening { id: got, .. } if got == *id),
                "{text}: {error:?}"
            );
            assert!(!ring.contains(b.id()));
            assert_eq!(ring.not_before(), Some(900_000));
            assert_eq!(ring.primary_id_at(now), a.id());
            ring.reload(&format!("{text}\nallow-weakening"), now)
                .unwrap();
        }
        // Stronger, or the same: removing keys, revoking, a later not-before, a later
        // activation, a new primary key by hand.
        let d = key(4);
        for text in [
            format!("{a}\nnot-before=900000"),
            format!("{c} activate=2000000\n{a}\n{b} revoked\nnot-before=950000"),
            format!("{c} activate=3000000\n{a} \n{b} revoked\nnot-before=900000"),
            format!("{d}\n{c} revoked\n{a}\n{b} revoked\nnot-before=900000"),
            base.clone(),
        ] {
            let ring: KeyRing = base.parse().unwrap();
            ring.reload(&text, now).unwrap();
        }
        // A pending key whose time has come may seal: that is the running ring's own plan.
        let ring: KeyRing = base.parse().unwrap();
        ring.reload(
            &format!("{c}\n{a}\n{b} revoked\nnot-before=900000"),
            2_000_000,
        )
        .unwrap();
    }
}
