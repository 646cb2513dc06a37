//! Allocation budgets, measured with a per-thread counting allocator (SECURITY-TESTS D2).
//!
//! - A seal allocates at most twice beyond what serializing the session data needs.
//! - Refusing an oversize session (seal) or an oversize value (open) allocates nothing in
//!   proportion to it: the length is checked before anything is decoded or copied.
//! - G4: an authentic DEFLATE bomb (2 MiB of zeros in a 3 KiB cookie) is refused after
//!   inflating at most 16 KiB, in one buffer of that size.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use sealed_session::{
    Algorithm, Codec, Key, KeyRing, OpenErrorKind, SessionError, SessionId, SessionMeta,
};
use sealed_session_unsafe_support::{AllocStats, CountingAlloc, is_installed, measure};

mod common;

// Counts allocations of the measuring thread only, so parallel tests do not interfere.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const T0: u64 = 1_764_000_000;
const NAME: &str = "__Host-session";
const ALGORITHMS: [Algorithm; 2] = [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305];

fn codec(algorithm: Algorithm) -> Codec {
    let bytes: Vec<u8> = (1..=32).collect();
    Codec::new(KeyRing::new(Key::from_bytes(algorithm, &bytes).unwrap()))
}

fn meta() -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes([3; 16]),
        created: T0,
    }
}

#[track_caller]
fn counted<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    assert!(
        is_installed(),
        "the counting allocator must be the global allocator"
    );
    measure(f)
}

#[test]
fn the_counter_counts() {
    let (v, stats) = counted(|| vec![0u8; 1000]);
    assert_eq!(stats.allocations, 1);
    assert_eq!(stats.bytes, 1000);
    drop(v);
    // Another thread's allocations are not counted.
    let ((), stats) = counted(|| {
        std::thread::scope(|s| {
            s.spawn(|| drop(std::hint::black_box(vec![0u8; 1 << 20])));
        });
    });
    assert!(stats.bytes < 1 << 20, "{stats:?}");
}

#[test]
fn a_seal_allocates_at_most_twice_beyond_its_data() {
    // A session type with no heap data: serializing it needs no allocation at all.
    let data = ([7u8; 32], 42u64);
    let (_, baseline) = counted(|| postcard::to_allocvec(&data).unwrap());
    assert!(
        baseline.allocations >= 1,
        "to_allocvec allocates its output"
    );
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        // Warm-up: the first seal of an hour derives and caches the message key and grows the
        // thread's scratch buffer.
        codec.seal(NAME, &meta(), &data, T0).unwrap();
        for i in 0..100 {
            let (sealed, stats) = counted(|| codec.seal(NAME, &meta(), &data, T0 + i).unwrap());
            assert!(stats.allocations <= 2, "{algorithm:?}: {stats:?}");
            // The output string is the only thing that must be allocated.
            assert!(
                stats.bytes <= 2 * sealed.value.len() as u64,
                "{algorithm:?}: {stats:?}"
            );
        }
    }
}

#[test]
fn a_seal_of_heap_data_allocates_no_more_than_its_output() {
    // Serializing borrows the data: a String or Vec costs no extra allocation.
    let data = (
        String::from("ada lovelace"),
        vec![1u32, 2, 3, 4, 5],
        vec![String::from("admin"); 8],
    );
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        codec.seal(NAME, &meta(), &data, T0).unwrap();
        let (_, stats) = counted(|| codec.seal(NAME, &meta(), &data, T0).unwrap());
        assert!(stats.allocations <= 2, "{algorithm:?}: {stats:?}");
    }
}

#[test]
fn an_open_allocates_nothing_beyond_its_data() {
    let data = ([7u8; 32], 42u64);
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let value = codec.seal(NAME, &meta(), &data, T0).unwrap().value;
        codec.open::<([u8; 32], u64)>(NAME, &value, T0).unwrap();
        let (opened, stats) = counted(|| codec.open::<([u8; 32], u64)>(NAME, &value, T0));
        assert_eq!(opened.unwrap().data, data);
        // The decode buffer is reused per thread and the data has no heap part: nothing.
        assert_eq!(stats.allocations, 0, "{algorithm:?}: {stats:?}");
        // Refusals of a wrong name, a tampered value or an expired session: no more.
        let mut tampered = value.clone();
        tampered.replace_range(40..41, if &value[40..41] == "A" { "B" } else { "A" });
        for (name, value, now) in [
            ("other", value.as_str(), T0),
            (NAME, tampered.as_str(), T0),
            (NAME, value.as_str(), T0 + 30 * 24 * 3600),
        ] {
            let (result, stats) = counted(|| codec.open::<([u8; 32], u64)>(name, value, now));
            assert!(result.is_err());
            assert_eq!(stats.allocations, 0, "{algorithm:?}: {stats:?}");
        }
    }
}

#[test]
fn refusing_an_oversize_session_allocates_nothing_proportional() {
    let huge = "x".repeat(1 << 20);
    for algorithm in ALGORITHMS {
        for fresh_thread in [false, true] {
            let codec = codec(algorithm);
            let run = || {
                let (result, stats) = counted(|| codec.seal(NAME, &meta(), &huge, T0));
                assert!(
                    matches!(result, Err(SessionError::TooLarge { .. })),
                    "{result:?}"
                );
                stats
            };
            // On a fresh thread nothing is warm (no scratch buffer, no cached message key).
            let stats = if fresh_thread {
                std::thread::scope(|s| s.spawn(run).join().unwrap())
            } else {
                run()
            };
            assert!(stats.bytes < 1024, "{algorithm:?}: {stats:?}");
        }
    }
}

#[test]
fn refusing_an_oversize_value_allocates_nothing() {
    let values = [
        "A".repeat(1 << 20),
        "!".repeat(1 << 20),
        "A".repeat(4097),
        "\u{e9}".repeat(3000),
    ];
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        for value in &values {
            for fresh_thread in [false, true] {
                let run = || {
                    let (result, stats) = counted(|| codec.open::<String>(NAME, value, T0));
                    assert_eq!(result.unwrap_err().kind(), OpenErrorKind::TooLong);
                    stats
                };
                let stats = if fresh_thread {
                    std::thread::scope(|s| s.spawn(run).join().unwrap())
                } else {
                    run()
                };
                assert_eq!(
                    stats.allocations,
                    0,
                    "{algorithm:?} fresh {fresh_thread} len {}: {stats:?}",
                    value.len()
                );
            }
        }
    }
}

#[test]
fn refusing_garbage_within_the_limit_allocates_at_most_the_limit() {
    // A value just under the limit is decoded (into a reused buffer): the cost is bounded by
    // the limit, not by anything the client chooses beyond it.
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let garbage = "A".repeat(codec.max_value_len());
        let (result, stats) = std::thread::scope(|s| {
            s.spawn(|| counted(|| codec.open::<String>(NAME, &garbage, T0)))
                .join()
                .unwrap()
        });
        assert!(result.is_err());
        assert!(stats.bytes <= 2 * codec.max_value_len() as u64, "{stats:?}");
    }
}

/// Kills `SCRATCH_KEEP: replace * with +` (16 + 1024 bytes): the per-thread scratch buffer of
/// any cookie-sized value is kept, so that after the first use on a thread an open allocates
/// only the session data and a seal only its output.
#[test]
fn the_scratch_buffer_of_a_cookie_sized_value_is_reused() {
    assert!(
        is_installed(),
        "the counting allocator must be the global allocator"
    );
    // About 3.4 KB of base64url and 2.6 KB of envelope: well inside the default 4096-byte limit.
    let data: Vec<u8> = (0..2500u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        // Warm-up: derives the hour's message key and sizes this thread's scratch buffer.
        let value = codec.seal(NAME, &meta(), &data, T0).unwrap().value;
        assert!(value.len() > 3000 && value.len() <= codec.max_value_len());
        codec.open::<Vec<u8>>(NAME, &value, T0).unwrap();

        let (opened, stats) = measure(|| codec.open::<Vec<u8>>(NAME, &value, T0));
        assert_eq!(opened.unwrap().data, data);
        // The Vec<u8> itself, and nothing else.
        assert_eq!(stats.allocations, 1, "{algorithm:?}: {stats:?}");
        assert_eq!(stats.bytes, 2500, "{algorithm:?}: {stats:?}");

        let (sealed, stats) = measure(|| codec.seal(NAME, &meta(), &data, T0).unwrap());
        assert!(stats.allocations <= 2, "{algorithm:?}: {stats:?}");
        assert!(
            stats.bytes <= 2 * sealed.value.len() as u64,
            "{algorithm:?}: {stats:?}"
        );
    }
}

/// G4: a bomb sealed under a ring key (by the reference implementation, with the compressed
/// flag) is refused as `Payload`, and opening it allocates about the inflation limit, not the
/// 2 MiB it would expand to; the same construction around a real session opens.
#[cfg(feature = "compression")]
#[test]
fn an_inflation_bomb_is_refused_with_bounded_memory() {
    use common::wire::{self, Alg, LifetimeV2};
    const COMPRESSED: u8 = 0b1_0000;
    for alg in [Alg::Aes, Alg::XChaCha] {
        let key = wire::test_key(alg, "bomb", None);
        let codec = Codec::new(KeyRing::new(wire::crate_key(&key.to_key_string())));
        let hour = u32::try_from(T0 / 3600).unwrap();
        let head = postcard::to_allocvec(&(
            [9u8; 16],
            T0,
            T0 + 86_400,
            LifetimeV2 {
                persistent: true,
                idle: 86_400,
                max: 7 * 86_400,
            },
            Vec::<String>::new(),
        ))
        .unwrap();
        let seal = |data: &[u8]| {
            let mut plaintext = head.clone();
            plaintext.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 9));
            let nonce = vec![7u8; alg.nonce_len()];
            wire::encode(&wire::seal_raw_v2(
                &key, hour, NAME, 0, COMPRESSED, &nonce, &plaintext,
            ))
        };
        let session = postcard::to_allocvec(&vec![5u8; 3000]).unwrap();
        let opened = codec
            .open::<Vec<u8>>(NAME, &seal(&session), T0 + 1)
            .unwrap();
        assert_eq!(
            opened.data,
            vec![5u8; 3000],
            "{alg:?}: a real compressed session"
        );

        let bomb = seal(&vec![0u8; 2 << 20]);
        assert!(bomb.len() < 4096, "fits a cookie: {}", bomb.len());
        let (result, stats) = counted(|| codec.open::<Vec<u8>>(NAME, &bomb, T0 + 1));
        assert_eq!(result.unwrap_err().kind(), OpenErrorKind::Payload);
        assert!(
            stats.bytes < 16 * 1024 + 8 * 1024,
            "{alg:?}: {} bytes allocated for a 2 MiB bomb",
            stats.bytes
        );
    }
}

/// RT3-5 (SECURITY-TESTS H5): with compression on, a seal allocates no compressor state (0.2:
/// 257,195 bytes for one seal of 2.4 KB, miniz's `CompressorOxide` made and freed each time),
/// and a client replaying a refresh-due compressed cookie (re-sealed on every request) costs
/// about what a plain one does: no compression. Allocation bytes are asserted; times are
/// printed (run with `--nocapture`), never asserted. Checked: on the parent commit the first
/// assertion fails (257,195 bytes in 8 allocations).
#[cfg(feature = "compression")]
#[test]
fn compression_allocates_no_compressor_state_and_a_replayed_refresh_does_not_compress() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant, UNIX_EPOCH};

    use sealed_session::{SessionConfig, Sessions};

    // A cart-like session: 2.4 KB of repetitive text (it fits a cookie uncompressed too).
    let data: String = (0..150)
        .map(|i| format!("sku-{:04}-qty-1;", i % 13))
        .collect();
    let codec = codec(Algorithm::Aes256Gcm).with_compression(true);
    codec.seal(NAME, &meta(), &data, T0).unwrap();
    let (sealed, stats) = counted(|| codec.seal(NAME, &meta(), &data, T0).unwrap());
    assert!(sealed.value.len() < 1_000, "{}", sealed.value.len());
    // The encoding, its compressed form and the output string.
    assert!(
        stats.bytes < 12 * 1024,
        "a compressed seal allocated {stats:?}"
    );

    // Through the engine: a change (compresses once), then a refresh-due replay, against the
    // same session with compression off.
    let mut report = vec![format!("codec seal, compressed: {stats:?}")];
    for compression in [true, false] {
        let clock = Arc::new(AtomicU64::new(T0));
        let time = Arc::clone(&clock);
        let sessions = Sessions::<String>::new(
            KeyRing::new(Key::from_bytes(Algorithm::Aes256Gcm, &common::key_bytes(9)).unwrap()),
            SessionConfig::builder()
                .compression(compression)
                .build()
                .unwrap(),
        )
        .with_clock(move || UNIX_EPOCH + Duration::from_secs(time.load(Ordering::SeqCst)));
        let change = || {
            let session = sessions.begin((), "/");
            session.set(data.clone()).unwrap();
            session.finish(false).into_set_cookies().next().unwrap()
        };
        let line = change();
        let (_, change_stats) = counted(change);
        let pair = line.split(';').next().unwrap().to_owned();
        clock.store(T0 + 13 * 3600, Ordering::SeqCst);
        let replay = || {
            let session = sessions.begin(pair.clone(), "/");
            assert_eq!(session.get().len(), data.len());
            session.finish(false).into_set_cookies().count()
        };
        assert_eq!(replay(), 1, "re-sealed on every request");
        let (_, replay_stats) = counted(replay);
        let runs = 2_000u32;
        let timed = |f: &dyn Fn() -> usize| {
            let start = Instant::now();
            for _ in 0..runs {
                std::hint::black_box(f());
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
        };
        let change_us = timed(&|| change().len());
        let replay_us = timed(&replay);
        report.push(format!(
            "compression {compression}: change {change_us:.1} µs, {} B in {} allocations; \
             refresh-due replay {replay_us:.1} µs, {} B in {} allocations",
            change_stats.bytes,
            change_stats.allocations,
            replay_stats.bytes,
            replay_stats.allocations
        ));
        // No compressor state: the inflate buffer (16 KiB, compressed cookies only), the data,
        // the copy of the compressed form, the lines.
        assert!(
            change_stats.bytes < 24 * 1024,
            "{compression}: {change_stats:?}"
        );
        assert!(
            replay_stats.bytes < 40 * 1024,
            "{compression}: {replay_stats:?}"
        );
    }
    eprintln!("{}", report.join("\n"));
}
