//! Which lines carry the session: the data's encoding, the size check every change passes,
//! and the seal that writes the lines the check predicted.

use crate::codec::{self, Codec, Data, Encoding, Format, Head, SessionId, SessionMeta, Wiped};
use crate::cookies::{self, Layout};
use crate::envelope::{self, Flags};
use crate::error::SessionError;
use crate::key::Algorithm;
use crate::ring::RingView;

use super::{Lines, SessionData, Settings};

/// The data's encoding, and its compressed form when compression makes it shorter: what is
/// sealed, and what the size check counts.
///
/// Both are session data: wiped when dropped (RT3-7).
pub(super) struct Encoded {
    pub(super) plain: Wiped,
    packed: Option<Wiped>,
}

impl Encoded {
    pub(super) fn new(plain: Wiped, codec: &Codec) -> Self {
        let packed = codec.pack(&plain);
        Self { plain, packed }
    }

    /// The compressed data of a cookie as it came (authentic, written by this codec's
    /// schema): what an unchanged session re-seals, without compressing again (RT3-5).
    pub(super) fn reused(packed: Wiped) -> Self {
        Self {
            plain: Wiped::default(),
            packed: Some(packed),
        }
    }

    /// The bytes sealed, and whether they are compressed.
    pub(super) fn sealed(&self) -> (&[u8], bool) {
        match &self.packed {
            Some(packed) => (packed, true),
            None => (&self.plain, false),
        }
    }
}

/// A change's size check, for a value of one cookie: the value's length under a primary key
/// of `algorithm`, for data of `data_len` bytes. The seal reuses it: the check ran at the
/// request's time on the head and data the seal writes (each change of either makes a new
/// one), so only a primary key of another algorithm since can make the length differ. Small
/// (every session's state holds one): lengths within a cookie fit a `u32`.
#[derive(Clone, Copy)]
pub(super) struct Fitted {
    algorithm: Algorithm,
    value_len: u32,
    data_len: u32,
}

/// The encoding of new data for a session sealed with `head`, refused unless the whole
/// response (every line, the header budget) fits, and its size check (`None` for a value of
/// more than one cookie).
pub(super) fn encode_fitting<T: SessionData>(
    settings: &Settings<T>,
    ring: &RingView,
    data: &T,
    head: &Head<'_>,
    now: u64,
) -> Result<(Encoded, Option<Fitted>), SessionError> {
    let encoded = match settings.codec.encode_data(data, &settings.schema) {
        Ok(plain) => Encoded::new(plain, &settings.codec),
        Err(Encoding::OverLimit { len }) => {
            // Over the data limit: the layout says by how much, in the units it checks.
            fit(settings, ring, head, len, now)?;
            return Err(SessionError::TooLarge {
                size: len,
                limit: settings.codec.data_limit(),
            });
        }
        Err(Encoding::Refused(error)) => return Err(error),
    };
    let mut encoded = encoded;
    let fitted = match fit(settings, ring, head, encoded.sealed().0.len(), now) {
        Err(SessionError::TooLarge { .. }) if encoded.sealed().1 => {
            // The fast level's output does not fit: the level that compresses best may (what
            // fitted under 0.2 still fits).
            let smaller = settings
                .codec
                .pack_smaller(&encoded.plain, encoded.sealed().0);
            if let Some(smaller) = smaller {
                encoded.packed = Some(smaller);
            }
            fit(settings, ring, head, encoded.sealed().0.len(), now)?
        }
        fitted => fitted?,
    };
    Ok((encoded, fitted))
}

/// The encoding of data already in the session (an unchanged session re-sealed for a refresh,
/// a key or schema upgrade), compressed if `compress` (else as it is).
pub(super) fn encode_loaded<T: SessionData>(
    settings: &Settings<T>,
    data: &T,
    compress: bool,
) -> Result<Encoded, SessionError> {
    let plain =
        settings
            .codec
            .encode_data(data, &settings.schema)
            .map_err(|error| match error {
                // Loaded data over today's limit (a limit lowered since it was sealed).
                Encoding::OverLimit { len } => SessionError::TooLarge {
                    size: len,
                    limit: settings.codec.data_limit(),
                },
                Encoding::Refused(error) => error,
            })?;
    if !compress {
        return Ok(Encoded {
            plain,
            packed: None,
        });
    }
    Ok(Encoded::new(plain, &settings.codec))
}

/// A meta for sizing a new session before it has an id: the id's length is fixed.
pub(super) fn provisional_meta(now: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes([0; codec::SESSION_ID_LEN]),
        created: now,
    }
}

/// Checks that a session with this head and `data_len` bytes of sealed data fits the
/// configuration's cookies; the check, for the seal to reuse (`None` for a value of more than
/// one cookie).
pub(super) fn fit<T>(
    settings: &Settings<T>,
    ring: &RingView,
    head: &Head<'_>,
    data_len: usize,
    now: u64,
) -> Result<Option<Fitted>, SessionError> {
    let sizing = settings.codec.sized(ring, head, data_len, now);
    let digits = sizing.max_age.map(codec::decimal_digits);
    let layout = settings
        .config
        .line_limits()
        .layout(sizing.value_len, digits)?;
    let lens = (u32::try_from(sizing.value_len), u32::try_from(data_len));
    Ok(match (layout.count(), lens) {
        (1, (Ok(value_len), Ok(data_len))) => Some(Fitted {
            algorithm: sizing.algorithm,
            value_len,
            data_len,
        }),
        _ => None,
    })
}

/// Seals the session into its `Set-Cookie` lines, the first chunk's first, appended to
/// `lines`. `fitted`: the last change's size check.
pub(super) fn seal_lines<T: SessionData>(
    settings: &Settings<T>,
    ring: &RingView,
    head: &Head<'_>,
    encoded: &Encoded,
    fitted: Option<&Fitted>,
    now: u64,
    lines: &mut Lines,
) -> Result<(), SessionError> {
    let (bytes, compressed) = encoded.sealed();
    let config = &settings.config;
    let codec = &settings.codec;
    // One ring snapshot sizes and seals the value. The last change's size check holds for it
    // if the primary seals with the algorithm the check assumed; a re-seal under a primary
    // with a longer nonce (rotation AES-256-GCM -> XChaCha20-Poly1305) grows the value, so it
    // is sized again, never sent over the limits, and the old cookie keeps opening while its
    // key is accepted.
    let reused = fitted
        .filter(|fitted| usize::try_from(fitted.data_len) == Ok(bytes.len()))
        .and_then(|fitted| {
            let value_len = usize::try_from(fitted.value_len).ok()?;
            codec.plan_sized(ring, head, (fitted.algorithm, value_len), now)
        });
    let checked = reused.is_some();
    let plan = reused.unwrap_or_else(|| codec.plan_seal(ring, head, bytes.len(), now));
    let (value_len, max_age) = (plan.sizing.value_len, plan.sizing.max_age);
    let digits = max_age.map(codec::decimal_digits);
    let layout = if checked {
        None
    } else {
        Some(config.line_limits().layout(value_len, digits)?)
    };
    let count = layout.as_ref().map_or(1, Layout::count);
    let flags = Flags::new(count, compressed).ok_or(SessionError::Internal)?;
    let name = config.cookie_name();
    let seal = |out: &mut Vec<u8>| {
        codec.seal_planned(
            &plan,
            out,
            name,
            head,
            Data::<T>::Encoded(bytes),
            Format {
                sealed_as: settings.schema.sealed_as(),
                flags,
            },
        )
    };
    let Some(layout) = layout.filter(|layout| layout.count() > 1) else {
        // The value goes straight into the line.
        let mut line = cookies::begin_line(name, 0, config.suffix(), value_len, digits);
        seal(&mut line)?;
        cookies::finish_line(&mut line, max_age, config.suffix());
        lines.push(line);
        return Ok(());
    };
    let mut value = Vec::with_capacity(value_len);
    seal(&mut value)?;
    for (index, chunk) in envelope::split_chunks(&value, layout.lens()).enumerate() {
        let mut line = cookies::begin_line(name, index, config.suffix(), chunk.len(), digits);
        line.extend_from_slice(chunk);
        cookies::finish_line(&mut line, max_age, config.suffix());
        lines.push(line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::codec::Lifetime;
    use crate::config::SessionConfig;
    use crate::ring::KeyRing;
    use crate::session::{Session, tests::Header};

    /// Session data of `len` bytes: runs of one byte (compressible) and pseudo-random ones.
    fn data(len: usize, seed: &mut u64) -> Vec<u8> {
        (0..len)
            .map(|i| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                if (i / 64) % 2 == 0 {
                    b'a'
                } else {
                    seed.to_le_bytes()[3]
                }
            })
            .collect()
    }

    fn settings(
        algorithm: crate::Algorithm,
        max_chunks: usize,
        budget: usize,
        compression: bool,
    ) -> Arc<Settings<Vec<u8>>> {
        let builder = SessionConfig::builder()
            .max_chunks(max_chunks)
            .cookie_header_budget(budget);
        #[cfg(feature = "compression")]
        let builder = builder.compression(compression);
        let _ = compression;
        let ring = KeyRing::new(crate::Key::generate(algorithm));
        Arc::new(Settings::new(ring, builder.build().unwrap(), Some(7)))
    }

    /// A lifetime of zero seconds is a second: `set_lifetime` with a zero idle timeout still
    /// seals a session that opens (before, it sealed one that was dead on arrival, and a
    /// re-seal of a cookie sealed with a zero idle timeout killed it; found by fuzzing).
    #[test]
    fn a_zero_idle_timeout_still_seals_a_live_session() {
        let config = SessionConfig::builder().build().unwrap();
        let mut settings = Settings::<Vec<u8>>::new(
            KeyRing::new(crate::Key::generate(crate::Algorithm::Aes256Gcm)),
            config,
            Some(7),
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        settings.clock = Some(Arc::new(move || now));
        let settings = Arc::new(settings);
        for lifetime in [
            Lifetime::persistent().with_idle_timeout(Duration::ZERO),
            Lifetime::browser_session().with_max_lifetime(Duration::ZERO),
        ] {
            let session = Session::new(Arc::clone(&settings), (), "/");
            session.set_lifetime(lifetime).unwrap();
            session.set(vec![1, 2, 3]).unwrap();
            let line = session.conclude(false).lines.into_strings().remove(0);
            let header = Header(line.split(';').next().unwrap().to_owned());
            let reopened = Session::new(Arc::clone(&settings), header, "/");
            assert!(!reopened.is_new(), "{lifetime:?}: {line}");
            assert_eq!(*reopened.get(), [1, 2, 3]);
        }
    }

    /// A change is sized under the primary key of its time and sealed under the primary of the
    /// response: after a rotation in between to a longer nonce (AES-256-GCM ->
    /// XChaCha20-Poly1305, 16 characters more), the seal sizes the value again rather than
    /// reuse the change's size check, and sends nothing over the limits (the old cookie
    /// stays). Checked: with the reuse blind to the algorithm, the response carried a cookie
    /// whose `name=value` took 3,015 bytes of a `Cookie` header budget of 3,000.
    #[test]
    fn a_change_sealed_after_a_rotation_to_a_longer_nonce_is_sized_again() {
        // A `Cookie` header budget below the line limit: the check that binds is the layout's
        // (the codec's own cap on a value is the line limit's).
        let settings = settings(crate::Algorithm::Aes256Gcm, 1, 3000, false);
        let session = Session::new(Arc::clone(&settings), (), "/");
        // The longest data whose cookie fits under AES-256-GCM.
        let (mut fits, mut over) = (0, 4096);
        while over - fits > 1 {
            let len = (fits + over) / 2;
            match session.set(vec![7; len]) {
                Ok(()) => fits = len,
                Err(SessionError::TooLarge { .. }) => over = len,
                Err(error) => panic!("{error}"),
            }
        }
        session.set(vec![7; fits]).unwrap();
        settings
            .codec
            .ring()
            .rotate(crate::Key::generate(crate::Algorithm::XChaCha20Poly1305))
            .unwrap();
        let finished = session.conclude(false);
        let pairs: Vec<usize> = finished
            .lines
            .into_strings()
            .iter()
            .map(|line| line.split(';').next().unwrap_or_default().len())
            .collect();
        assert_eq!(pairs, [0_usize; 0], "cookies sent (name=value bytes)");
        assert!(
            matches!(
                finished.seal_error,
                Some(SessionError::TooLarge { limit: 3000, .. })
            ),
            "{:?}",
            finished.seal_error
        );
    }

    /// A change of the head alone after a change of the data (a flash message that takes the
    /// session past one cookie) replaces the data's size check, which the seal would otherwise
    /// reuse: the value is split as the last check found. Checked: with the head's change
    /// keeping the data's check, the response carried one line of 4,844 bytes.
    #[test]
    fn a_flash_that_splits_the_session_replaces_the_size_check_of_the_data() {
        let settings = settings(crate::Algorithm::Aes256Gcm, 3, 12 * 1024, false);
        let session = Session::new(Arc::clone(&settings), (), "/");
        session.set(vec![7; 2_500]).unwrap();
        session.flash("x".repeat(1_000)).unwrap();
        let lines = session.conclude(false).lines.into_strings();
        let lens: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(lens.len(), 2, "{lens:?}");
        assert!(lens.iter().all(|&len| len <= 4096), "{lens:?}");
        let header = lines
            .iter()
            .map(|line| line.split(';').next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("; ");
        let reopened = Session::new(Arc::clone(&settings), Header(header), "/");
        assert_eq!(*reopened.get(), vec![7; 2_500]);
        assert_eq!(reopened.take_flash().unwrap(), ["x".repeat(1_000)]);
    }

    /// RT3-5 (SECURITY-TESTS H5): a client replaying a refresh-due cookie gets it re-sealed
    /// on every request (Rolling semantics), but an unchanged session is never compressed
    /// again: compressed data is re-sealed as it came, and data that came uncompressed (it did
    /// not shrink) is not tried again. A change compresses once. Checked: with
    /// `Loaded::encoded` compressing again (as 0.2 did), the replays count one compression
    /// each.
    #[cfg(feature = "compression")]
    #[test]
    fn a_replayed_refresh_due_cookie_is_never_compressed_again() {
        use core::sync::atomic::{AtomicU64, Ordering};

        use crate::codec::compress::DEFLATES;

        let deflates = || DEFLATES.with(core::cell::Cell::get);
        let start = 1_764_000_000;
        let clock = Arc::new(AtomicU64::new(start));
        let time = Arc::clone(&clock);
        let mut settings = Settings::<Vec<u8>>::new(
            KeyRing::new(crate::Key::generate(crate::Algorithm::Aes256Gcm)),
            SessionConfig::builder().compression(true).build().unwrap(),
            Some(7),
        );
        settings.clock = Some(Arc::new(move || {
            UNIX_EPOCH + Duration::from_secs(time.load(Ordering::SeqCst))
        }));
        let settings = Arc::new(settings);
        let mut seed = 5_u64;
        // Compressible (sealed compressed), and random (sealed as it is: it does not shrink).
        let random: Vec<u8> = (0..1_000u32)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[usize::try_from(i % 8).unwrap()]
            })
            .collect();
        for (value, compressed) in [(vec![b'a'; 3_000], true), (random, false)] {
            clock.store(start, Ordering::SeqCst);
            let session = Session::new(Arc::clone(&settings), (), "/");
            let before = deflates();
            session.set(value.clone()).unwrap();
            assert_eq!(deflates(), before + 1, "a change compresses once");
            let line = session.conclude(false).lines.into_strings().remove(0);
            let pair = line.split(';').next().unwrap().to_owned();
            assert_eq!(pair.len() < 1_000, compressed, "{}", pair.len());
            // Past the refresh threshold (half the idle timeout): every replay re-seals.
            clock.store(start + 13 * 3600, Ordering::SeqCst);
            let before = deflates();
            for _ in 0..5 {
                let session = Session::new(Arc::clone(&settings), Header(pair.clone()), "/");
                assert_eq!(*session.get(), value);
                let lines: Vec<String> = session.conclude(false).lines.into_strings();
                assert_eq!(lines.len(), 1, "re-sealed");
                assert_eq!(lines[0].len(), line.len(), "same form, same size");
            }
            assert_eq!(deflates(), before, "replays compressed again");
        }
    }

    /// Compression's fast level is used unless its output does not fit; then the level that
    /// compresses best is: a change is accepted exactly when that level's output fits (what
    /// fitted under 0.2's level 6 still fits), and the cookie opens to the data.
    #[cfg(feature = "compression")]
    #[test]
    fn a_change_the_fast_level_cannot_fit_is_compressed_at_the_smallest() {
        use crate::codec::compress;
        // 120 similar URLs: the data where the levels differ most (1,051 against 1,427 bytes
        // in benches/deflate_levels.sh).
        let urls: Vec<u8> = (0..120)
            .flat_map(|i| {
                format!(
                    "https://shop.example.com/catalog/category-{}/item-{}?ref=list&page={}\n",
                    i % 7,
                    i * 37 % 1000,
                    i % 5
                )
                .into_bytes()
            })
            .collect();
        let plain = postcard::to_allocvec(&urls).unwrap();
        let (fast, best) = (
            compress::deflate(&plain).unwrap(),
            compress::deflate_smallest(&plain).unwrap(),
        );
        assert!(
            best.len() + 64 < fast.len(),
            "{} / {}",
            best.len(),
            fast.len()
        );
        let mut fallbacks = 0;
        for limit in (1_000..4_096).step_by(16) {
            let Ok(config) = SessionConfig::builder()
                .compression(true)
                .max_cookie_size(limit)
                .build()
            else {
                continue;
            };
            let ring = KeyRing::new(crate::Key::generate(crate::Algorithm::Aes256Gcm));
            let settings = Arc::new(Settings::new(ring, config, Some(7)));
            let session = Session::new(Arc::clone(&settings), (), "/");
            let now = settings.now();
            let head = Head {
                meta: provisional_meta(now),
                lifetime: settings.config.lifetime(),
                flash: &[],
            };
            let ring = settings.codec.ring().view();
            let fits = |len| fit(&settings, &ring, &head, len, now).is_ok();
            let result = session.set(urls.clone());
            assert_eq!(
                result.is_ok(),
                fits(best.len()),
                "limit {limit}: {result:?}"
            );
            if result.is_err() {
                continue;
            }
            if !fits(fast.len()) {
                fallbacks += 1;
            }
            let line = session.conclude(false).lines.into_strings().remove(0);
            assert!(line.len() <= limit);
            let reopened = Session::new(Arc::clone(&settings), Header(line), "/");
            assert_eq!(*reopened.get(), urls, "limit {limit}");
        }
        assert!(fallbacks > 0, "no limit between the two levels' lines");
    }

    /// Near the line limit, a browser-session cookie (no Max-Age) holds a longer value than a
    /// persistent one: whatever `set` accepts, the response seals, for both kinds (the
    /// `cookie_header` fuzz target found browser-session values the codec's bound refused at
    /// the seal after `set` had returned `Ok`).
    #[test]
    fn every_accepted_size_is_sealed_for_both_kinds_of_cookie() {
        for algorithm in [
            crate::Algorithm::Aes256Gcm,
            crate::Algorithm::XChaCha20Poly1305,
        ] {
            let settings = settings(algorithm, 1, 6144, false);
            for lifetime in [Lifetime::browser_session(), Lifetime::persistent()] {
                let (mut accepted, mut refused) = (0, 0);
                for len in 2_700..3_200 {
                    let mut seed = u64::try_from(len).unwrap() | 1;
                    let session = Session::new(Arc::clone(&settings), (), "/");
                    session.set_lifetime(lifetime).unwrap();
                    match session.set(data(len, &mut seed)) {
                        Ok(()) => {
                            accepted += 1;
                            let outcome = session.conclude(false);
                            assert_eq!(outcome.seal_error, None, "{len} bytes, {lifetime:?}");
                            let line = outcome.lines.into_strings().remove(0);
                            assert!(line.len() <= settings.config.max_cookie_size());
                        }
                        Err(SessionError::TooLarge { .. }) => refused += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
                assert!(
                    accepted > 0 && refused > 0,
                    "{accepted} / {refused}: widen the range"
                );
            }
        }
    }

    /// Issue "chunking and compression": predicted = emitted, over chunk counts, both
    /// algorithms, compressed or not. Every line is exactly as long as the capacity reserved
    /// from the prediction, the lines reopen to the data, and a refusal's size is what a
    /// configuration with room emits for the same data.
    #[test]
    fn predicted_sizes_are_the_emitted_sizes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut cases = 0;
        for algorithm in [
            crate::Algorithm::Aes256Gcm,
            crate::Algorithm::XChaCha20Poly1305,
        ] {
            for compression in [false, cfg!(feature = "compression")] {
                let roomy = settings(algorithm, 16, 16 * 1024, compression);
                for max_chunks in [1, 2, 3, 5] {
                    let settings = settings(algorithm, max_chunks, 9 * 1024, compression);
                    for _ in 0..24 {
                        let len = usize::try_from(seed % 9_000).unwrap();
                        let value = data(len, &mut seed);
                        let session = Session::new(Arc::clone(&settings), (), "/");
                        match session.set(value.clone()) {
                            Ok(()) => {
                                let outcome = session.conclude(false);
                                let lines: Vec<String> = outcome.lines.into_strings();
                                assert!((1..=max_chunks).contains(&lines.len()));
                                let mut pairs = Vec::new();
                                for line in &lines {
                                    assert_eq!(line.len(), line.capacity(), "predicted = emitted");
                                    assert!(line.len() <= settings.config.max_cookie_size());
                                    pairs.push(line.split(';').next().unwrap().to_owned());
                                }
                                let header = Header(pairs.join("; "));
                                assert!(header.0.len() <= settings.config.cookie_header_budget());
                                let reopened = Session::new(Arc::clone(&settings), header, "/");
                                assert_eq!(*reopened.get(), value, "{len} bytes round trip");
                            }
                            Err(SessionError::TooLarge { size, limit }) => {
                                assert!(size > limit);
                                // The same data where it fits: the size it takes is the size
                                // reported.
                                let wide = Session::new(Arc::clone(&roomy), (), "/");
                                wide.set(value).unwrap();
                                let outcome = wide.conclude(false);
                                let lines: Vec<String> = outcome.lines.into_strings();
                                let emitted = if max_chunks == 1 && lines.len() == 1 {
                                    lines[0].len()
                                } else {
                                    lines
                                        .iter()
                                        .map(|l| l.split(';').next().unwrap().to_owned())
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                        .len()
                                };
                                if max_chunks > 1 || lines.len() == 1 {
                                    assert_eq!(size, emitted, "{len} bytes, {max_chunks} chunks");
                                }
                            }
                            Err(other) => panic!("{other}"),
                        }
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 2 * 2 * 4 * 24);
    }
}
