//! Which of a request's cookies form the session: the candidates of the session's name, the
//! chunks of a split session, and the budgets that bound what planted cookies can cost.

use crate::codec::{MAX_CHUNKS, Opened, Refusal};
use crate::cookies::{self, CookieFields};
use crate::error::{OpenError, OpenErrorKind};
use crate::ring::RingView;

use super::{Found, SessionData, Settings};

/// At most this many cookies of the session's name are authenticated per request
/// (SECURITY-TESTS D3, F1): every candidate gets the cheap checks (length, base64url, version,
/// key id, hour window), and only those that pass them cost an AEAD open.
pub(crate) const MAX_OPENS: usize = 4;

/// Bit `k` set for each chunk cookie `name.k` the request carries.
pub(super) fn chunks_seen(cookies: &dyn CookieFields, name: &str) -> u16 {
    cookies::session_cookies(cookies, name).fold(0, |seen, (index, _)| {
        if index == 0 { seen } else { seen | 1 << index }
    })
}

/// Opens the request's cookies of the session's name.
///
/// Every candidate gets the cheap checks; those that pass are authenticated, at most
/// [`MAX_OPENS`] distinct values per request (a repeated value costs nothing). One authentic
/// cookie is the session. Two different authentic ones, or a candidate left unauthenticated
/// because the budget ran out, make the request ambiguous: an attacker who can plant cookies
/// for the name (a sibling subdomain, longer paths) must never get the request to run as
/// their session, nor make the response overwrite or delete the user's own cookie
/// (SECURITY-TESTS F1).
// Inlined into the engine's caller (`State::load`, once per request): not inlined, it cost
// about 85 instructions more per request there (callgrind, benches/http.sh), most of them
// moving its result, an `Opened<T>` and a `Found`, out of it.
#[inline]
pub(super) fn open_request<T: SessionData>(
    cookies: &dyn CookieFields,
    settings: &Settings<T>,
    ring: &RingView,
    now: u64,
) -> (Option<Opened<T>>, Found) {
    let name = settings.config.cookie_name();
    let codec = &settings.codec;
    let mut found = Found::default();
    // One pass over the request's cookies: the candidates, and with chunking the distinct
    // values of each chunk name (nothing is allocated for a request that has none); without
    // it, which chunk names the response must delete if it writes the session.
    let chunked = settings.config.max_chunks() > 1;
    // The chunks' values are kept only with chunking on: an unchunked request builds and drops
    // no array of lists.
    let mut chunk_values;
    let values: &mut [Vec<&[u8]>] = if chunked {
        chunk_values = <[Vec<&[u8]>; MAX_CHUNKS]>::default();
        &mut chunk_values
    } else {
        &mut []
    };
    let chunks = ChunkOptions::collect(cookies, name, values);
    if chunked {
        found.chunks_seen = chunks.seen;
    } else {
        found.unchunked = Some(chunks.seen);
    }
    // More candidates than were listed: walk the fields again for all of them.
    let again = chunks.more_firsts.then(|| cookies::values(cookies, name));
    let listed = match again {
        Some(_) => &[],
        None => chunks.firsts.get(..chunks.first_count).unwrap_or_default(),
    };
    let candidates = listed.iter().copied().chain(again.into_iter().flatten());
    let mut combinations = MAX_COMBINATIONS;
    // The values authenticated (or refused by the AEAD) so far: a repeat costs nothing.
    let mut attempted: [&[u8]; MAX_OPENS] = [&[]; MAX_OPENS];
    let mut budget = MAX_OPENS;
    let mut authentic: Option<Opened<T>> = None;
    for value in candidates {
        found.cookies += 1;
        let seen = MAX_OPENS - budget;
        if attempted
            .get(..seen)
            .is_some_and(|done| done.contains(&value))
        {
            continue;
        }
        let before = budget;
        let count = if chunks.seen == 0 {
            1
        } else {
            codec.chunk_count(value)
        };
        let result = if count == 1 {
            open_one(settings, ring, core::iter::once(value), now, &mut budget)
        } else {
            let mut spend = Spend {
                aead: &mut budget,
                combinations: &mut combinations,
            };
            open_chunked(settings, ring, value, count, &chunks, now, &mut spend)
        };
        if budget < before {
            if let Some(slot) = attempted.get_mut(seen) {
                *slot = value;
            }
        }
        match result {
            Ok(opened) => match &authentic {
                None => authentic = Some(opened),
                Some(_) => found.ambiguous = true,
            },
            Err(Refusal::Refused(error)) => found.refuse(error.kind(), error.key_id(), false),
            Err(Refusal::Checked(error)) => found.refuse(error.kind(), error.key_id(), true),
            // More candidates than can be authenticated: one of the rest may be the user's.
            Err(Refusal::OverBudget) => found.ambiguous = true,
        }
    }
    let opened = authentic.filter(|_| !found.ambiguous);
    if let Some(opened) = &opened {
        if settings.schema.is_outdated(opened.sealed_as) {
            found.migrated = Some((opened.sealed_as, settings.schema.sealed_as()));
        }
    }
    (opened, found)
}

/// Opens one candidate from its chunks, and applies the application's revocation check.
fn open_one<'v, T: SessionData>(
    settings: &Settings<T>,
    ring: &RingView,
    chunks: impl Iterator<Item = &'v [u8]> + Clone,
    now: u64,
    budget: &mut usize,
) -> Result<Opened<T>, Refusal> {
    let name = settings.config.cookie_name();
    let opened =
        settings
            .codec
            .open_chunks::<T, _>(|| ring, name, chunks, now, budget, &settings.schema)?;
    match &settings.validator {
        Some(valid) if !valid(&opened.meta, &opened.data) => Err(Refusal::Checked(
            OpenError::new(OpenErrorKind::SessionRevoked).with_key_id(opened.key_id),
        )),
        _ => Ok(opened),
    }
}

/// At most this many combinations of chunk values are tried per request, whether or not
/// they reach the AEAD: planted chunk cookies must not multiply the work (SECURITY-TESTS F1).
/// A combination that fails before the AEAD costs a base64url decode of the value.
const MAX_COMBINATIONS: usize = 16;

/// The request's cookies of the session, from one pass: the first few candidates (cookies of
/// the session's name) and the distinct values of the chunk cookies `name.1` to `name.15`.
struct ChunkOptions<'c, 'v> {
    /// Index `k`: the distinct values of `name.k` (empty without chunking).
    values: &'v [Vec<&'c [u8]>],
    /// Bit `k` set when the request carries `name.k`.
    seen: u16,
    /// Bit `k` set when `name.k` has more distinct values than could be authenticated.
    crowded: u16,
    /// The first candidates, in request order.
    firsts: [&'c [u8]; FIRSTS],
    first_count: usize,
    /// There were more candidates than `firsts` holds.
    more_firsts: bool,
}

/// Candidates listed by the one pass; a request with more (planted cookies) walks again.
const FIRSTS: usize = 4;

impl<'c, 'v> ChunkOptions<'c, 'v> {
    /// `values`: where to keep the chunks' values, one list per chunk index (empty: only which
    /// chunk names were seen).
    fn collect(
        cookies: &'c dyn CookieFields,
        name: &'c str,
        values: &'v mut [Vec<&'c [u8]>],
    ) -> Self {
        let mut options = Self {
            values: &[],
            seen: 0,
            crowded: 0,
            firsts: [&[]; FIRSTS],
            first_count: 0,
            more_firsts: false,
        };
        for (index, value) in cookies::session_cookies(cookies, name) {
            if index == 0 {
                match options.firsts.get_mut(options.first_count) {
                    Some(slot) => {
                        *slot = value;
                        options.first_count += 1;
                    }
                    None => options.more_firsts = true,
                }
                continue;
            }
            options.seen |= 1 << index;
            let Some(values) = values.get_mut(index) else {
                continue;
            };
            if values.contains(&value) {
                continue;
            }
            if values.len() == MAX_OPENS {
                options.crowded |= 1 << index;
            } else {
                values.push(value);
            }
        }
        options.values = values;
        options
    }
}

/// What opening chunked candidates may still spend in this request.
struct Spend<'b> {
    aead: &'b mut usize,
    combinations: &'b mut usize,
}

/// Opens a candidate whose header says it is split across `count` cookies: its chunks are
/// taken by name (`name.1`, ...), so their order in the request does not matter. A chunk
/// missing is refused at once; where a chunk name repeats (a planted or stale copy), each
/// combination is tried, one AEAD each, within the request's budgets, once the first chunk's
/// header has passed the checks it decides alone.
fn open_chunked<T: SessionData>(
    settings: &Settings<T>,
    ring: &RingView,
    first: &[u8],
    count: usize,
    chunks: &ChunkOptions<'_, '_>,
    now: u64,
    spend: &mut Spend<'_>,
) -> Result<Opened<T>, Refusal> {
    let options = match chunks.values.get(1..count) {
        Some(options) if count <= settings.config.max_chunks() => options,
        // The codec refuses the header's count, before any AEAD.
        _ => return open_one(settings, ring, core::iter::once(first), now, spend.aead),
    };
    if options.iter().any(Vec::is_empty) {
        return Err(Refusal::Refused(OpenError::new(OpenErrorKind::Unauthentic)));
    }
    let needed: u32 = (1 << count) - 2;
    if u32::from(chunks.crowded) & needed != 0 {
        // More copies of a chunk than could be authenticated: one of the rest may be the user's.
        return Err(Refusal::OverBudget);
    }
    settings
        .codec
        .check_first_chunk(ring, first, now, &settings.schema)
        .map_err(Refusal::Refused)?;
    // Every combination, as a mixed-radix counter, until one opens or a budget runs out.
    let mut pick = vec![0usize; count - 1];
    let mut refusal = None;
    loop {
        let Some(left) = spend.combinations.checked_sub(1) else {
            return Err(Refusal::OverBudget);
        };
        *spend.combinations = left;
        let chunks = core::iter::once(first).chain(
            options
                .iter()
                .zip(&pick)
                .map(|(values, &at)| values.get(at).copied().unwrap_or_default()),
        );
        match open_one(settings, ring, chunks, now, spend.aead) {
            Ok(opened) => return Ok(opened),
            Err(Refusal::OverBudget) => return Err(Refusal::OverBudget),
            Err(error) => refusal = refusal.or(Some(error)),
        }
        let mut position = 0;
        loop {
            let (Some(at), Some(values)) = (pick.get_mut(position), options.get(position)) else {
                return Err(refusal.unwrap_or(Refusal::OverBudget));
            };
            *at += 1;
            if *at < values.len() {
                break;
            }
            *at = 0;
            position += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SessionConfig;
    use crate::envelope;
    use crate::key::KeyId;

    /// Planted chunk cookies cannot multiply a request's work (SECURITY-TESTS F1): a first
    /// chunk whose header decides the refusal costs no combination however many copies of
    /// the other chunks there are; otherwise at most `MAX_COMBINATIONS` are tried, AEAD or
    /// not; and more copies of a chunk than could be authenticated end the search at once.
    #[test]
    fn planted_chunk_cookies_cost_a_bounded_number_of_combinations() {
        use base64::Engine as _;
        let key = crate::Key::generate(crate::Algorithm::Aes256Gcm);
        let known = key.id();
        let config = SessionConfig::builder()
            .cookie_name("sid")
            .max_chunks(4)
            .build()
            .unwrap();
        let settings = Settings::<Vec<u8>>::new(crate::ring::KeyRing::new(key), config, None);
        let now = 1_764_000_000;
        // A first chunk of four: a v2 header for `key_id`, then 40 bytes where the nonce and
        // the ciphertext would be (54 bytes: 72 characters, a whole number of groups).
        let first = |key_id: KeyId| {
            let flags = envelope::Flags::new(4, false).unwrap();
            let (bytes, len) = envelope::Header::new(
                key_id,
                envelope::hour_of(now),
                envelope::SealedAs::Version(0),
                flags,
            )
            .encode();
            let mut raw = bytes[..len].to_vec();
            raw.extend([7u8; 40]);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        };
        // Four distinct values for each of `sid.1` to `sid.3`: 64 combinations. The middle
        // ones are three characters, not a whole group, so every combination is malformed.
        let planted: Vec<String> = (0..4u8)
            .map(|i| format!("AA{}", char::from(b'A' + i)))
            .collect();
        let mut values: [Vec<&[u8]>; MAX_CHUNKS] = Default::default();
        for value in &mut values[1..4] {
            *value = planted.iter().map(String::as_bytes).collect();
        }
        let mut options = ChunkOptions {
            values: &values,
            seen: 0b1110,
            crowded: 0,
            firsts: [&[]; FIRSTS],
            first_count: 0,
            more_firsts: false,
        };
        let run = |first: &str, options: &ChunkOptions<'_, '_>| {
            let (mut aead, mut combinations) = (MAX_OPENS, MAX_COMBINATIONS);
            let result = open_chunked(
                &settings,
                &settings.codec.ring().view(),
                first.as_bytes(),
                4,
                options,
                now,
                &mut Spend {
                    aead: &mut aead,
                    combinations: &mut combinations,
                },
            );
            let kind = match result {
                Ok(_) => panic!("a forged value opened"),
                Err(Refusal::Refused(error) | Refusal::Checked(error)) => Some(error.kind()),
                Err(Refusal::OverBudget) => None,
            };
            (kind, MAX_OPENS - aead, MAX_COMBINATIONS - combinations)
        };

        let unknown = first(KeyId::new(0xdead_beef));
        assert_eq!(
            run(&unknown, &options),
            (Some(OpenErrorKind::UnknownKey), 0, 0)
        );
        let forged = first(known);
        assert_eq!(run(&forged, &options), (None, 0, MAX_COMBINATIONS));
        options.crowded = 1 << 2;
        assert_eq!(run(&forged, &options), (None, 0, 0));
    }
}
