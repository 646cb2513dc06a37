//! Tests that kill the meaningful mutants `cargo mutants` found surviving in src/envelope.rs
//! and src/codec.rs (SECURITY-TESTS A9). Each test names the mutant it pins; all go through
//! the public API, with explicit times and fixed keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::XChaCha20Poly1305;
use hkdf::Hkdf;
use sealed_session::{
    AES_GCM_NONCE_LEN, Algorithm, Codec, ConfigError, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_LIFETIME,
    FORMAT_VERSION, HEADER_LEN, Key, KeyRing, MIN_ENVELOPE_LEN, OpenErrorKind, SECONDS_PER_HOUR,
    SessionId, SessionMeta, TAG_LEN,
};
use sealed_session_unsafe_support::{CountingAlloc, is_installed, measure};
use sha2::Sha256;

use OpenErrorKind as K;

// Counts allocations of the measuring thread only, so parallel tests do not interfere.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// 2025-11-24T16:00:00Z, the start of hour 490000.
const T0: u64 = 1_764_000_000;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
const NAME: &str = "__Host-session";
const ALGORITHMS: [Algorithm; 2] = [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305];
const KEY_BYTES: [u8; 32] = [
    0x11, 0x3c, 0x67, 0x92, 0xbd, 0xe8, 0x13, 0x3e, 0x69, 0x94, 0xbf, 0xea, 0x15, 0x40, 0x6b, 0x96,
    0xc1, 0xec, 0x17, 0x42, 0x6d, 0x98, 0xc3, 0xee, 0x19, 0x44, 0x6f, 0x9a, 0xc5, 0xf0, 0x1b, 0x46,
];

fn key(algorithm: Algorithm) -> Key {
    Key::from_bytes(algorithm, &KEY_BYTES).unwrap()
}

fn codec(algorithm: Algorithm) -> Codec {
    Codec::new(KeyRing::new(key(algorithm)))
}

fn meta(created: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes([0x5a; 16]),
        created,
    }
}

#[track_caller]
fn refused(codec: &Codec, value: &str, now: u64) -> K {
    codec
        .open::<u32>(NAME, value, now)
        .expect_err("must be refused")
        .kind()
}

/// Header || name || schema version: the AAD of wire format v1, built from the spec.
fn aad(header: &[u8], name: &str, schema: u32) -> Vec<u8> {
    [header, name.as_bytes(), &schema.to_be_bytes()].concat()
}

fn header(version: u8, key_id: u32, hour: u32) -> Vec<u8> {
    [&[version][..], &key_id.to_be_bytes(), &hour.to_be_bytes()].concat()
}

/// The message key of wire format v1 (as tests/vectors.rs specifies it).
fn message_key(algorithm: Algorithm, key_id: u32, hour: u32) -> [u8; 32] {
    let code = match algorithm {
        Algorithm::Aes256Gcm => 1u8,
        _ => 2u8,
    };
    let info = [&[code][..], &key_id.to_be_bytes(), &hour.to_be_bytes()].concat();
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"sealed-session/v1/message-key"), &KEY_BYTES)
        .expand(&info, &mut okm)
        .unwrap();
    okm
}

// ---------------------------------------------------------------------------------------------
// src/codec.rs
// ---------------------------------------------------------------------------------------------

/// Kills `codec.rs: replace * with +` in `DEFAULT_MAX_LIFETIME` (7 + 24 * 60 * 60 seconds
/// still passes the const asserts): the default absolute lifetime is one week, to the second.
#[test]
fn default_absolute_lifetime_is_one_week() {
    assert_eq!(DEFAULT_MAX_LIFETIME, Duration::from_secs(7 * DAY));
    assert_eq!(DEFAULT_IDLE_TIMEOUT, Duration::from_secs(DAY));
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        assert_eq!(codec.max_lifetime(), 7 * DAY);
        // Re-sealed two hours before the week is up: the idle expiry is capped by the week.
        let now = T0 + 7 * DAY - 2 * HOUR;
        let sealed = codec.seal(NAME, &meta(T0), &1u32, now).unwrap();
        assert_eq!(sealed.expires, T0 + 7 * DAY);
        let opened = codec.open::<u32>(NAME, &sealed.value, T0 + 7 * DAY - 1);
        assert_eq!(opened.unwrap().data, 1);
        assert_eq!(refused(&codec, &sealed.value, T0 + 7 * DAY), K::Expired);
    }
}

/// Kills `Codec::idle_timeout -> u64 with 0` and `with 1`.
#[test]
fn idle_timeout_accessor_reports_the_configured_value() {
    let codec = codec(Algorithm::Aes256Gcm);
    assert_eq!(codec.idle_timeout(), DAY);
    let codec = codec
        .with_lifetimes(Duration::from_secs(90 * 60), Duration::from_secs(2 * DAY))
        .unwrap();
    assert_eq!(codec.idle_timeout(), 90 * 60);
    assert_eq!(codec.max_lifetime(), 2 * DAY);
    // The accessor agrees with what sealing does.
    let sealed = codec.seal(NAME, &meta(T0), &0u32, T0).unwrap();
    assert_eq!(sealed.expires, T0 + codec.idle_timeout());
}

/// Kills `lifetimes_secs: replace || with &&`: a zero (or sub-second, which truncates to zero)
/// idle timeout with a non-zero absolute lifetime would be accepted, and every session would
/// expire the moment it is sealed.
#[test]
fn zero_and_sub_second_lifetimes_are_refused_one_at_a_time() {
    let hour = Duration::from_secs(HOUR);
    let half_second = Duration::from_millis(500);
    for (idle, max) in [
        (Duration::ZERO, hour),
        (half_second, hour),
        (Duration::ZERO, Duration::ZERO),
        (hour, Duration::ZERO),
        (hour, half_second),
    ] {
        let result = codec(Algorithm::Aes256Gcm).with_lifetimes(idle, max);
        assert!(
            matches!(result, Err(ConfigError::Lifetime { .. })),
            "idle {idle:?}, max {max:?}: {:?}",
            result.map(|c| (c.idle_timeout(), c.max_lifetime()))
        );
    }
    // One second each is the smallest accepted configuration.
    let one = Duration::from_secs(1);
    let codec = codec(Algorithm::Aes256Gcm)
        .with_lifetimes(one, one)
        .unwrap();
    assert_eq!((codec.idle_timeout(), codec.max_lifetime()), (1, 1));
}

/// Kills `<impl Display for SessionId>::fmt` and `<impl Debug for SessionId>::fmt ->
/// Ok(Default::default())`: the id prints as 32 lowercase hex digits.
#[test]
fn session_id_prints_as_lowercase_hex() {
    let bytes: [u8; 16] = core::array::from_fn(|i| u8::try_from(i * 17).unwrap());
    let id = SessionId::from_bytes(bytes);
    let hex = "00112233445566778899aabbccddeeff";
    assert_eq!(id.to_string(), hex);
    assert_eq!(format!("{id:?}"), format!("SessionId({hex})"));
}

/// Kills the `Debug` impls of `Sealed`, `Opened` and `Codec` -> `Ok(Default::default())`.
/// Their redaction (no cookie value, no session data, no key bytes in logs) is only meaningful
/// if the output also says what it does show.
#[test]
fn debug_output_names_its_fields_and_redacts_secrets() {
    let secret = String::from("hunter2-personal-data");
    let codec = codec(Algorithm::Aes256Gcm);
    let sealed = codec.seal(NAME, &meta(T0), &secret, T0).unwrap();

    let debug = format!("{sealed:?}");
    let expected = format!(
        "Sealed {{ value: <{} bytes>, expires: {} }}",
        sealed.value.len(),
        T0 + DAY
    );
    assert_eq!(debug, expected);
    assert!(!debug.contains(&sealed.value));

    let opened = codec.open::<String>(NAME, &sealed.value, T0).unwrap();
    assert_eq!(opened.data, secret);
    let debug = format!("{opened:?}");
    for field in [
        "Opened {",
        "meta: SessionMeta {",
        &format!("created: {T0}"),
        &format!("expires: {}", T0 + DAY),
        &format!("key_id: {:?}", codec.ring().primary_id()),
        "by_primary: true",
        "..",
    ] {
        assert!(debug.contains(field), "{field:?} missing from {debug}");
    }
    assert!(!debug.contains("hunter2"), "{debug}");

    let debug = format!("{codec:?}");
    for field in [
        "Codec {",
        "ring: KeyRing {",
        &format!("primary: {:?}", codec.ring().primary_id()),
        &format!("idle_timeout: {DAY}"),
        &format!("max_lifetime: {}", 7 * DAY),
        "clock_skew: 60",
        "schema_version: 0",
        "max_value_len: 4096",
    ] {
        assert!(debug.contains(field), "{field:?} missing from {debug}");
    }
    assert!(
        !debug.contains(&format!("{:?}", &KEY_BYTES[..4])),
        "{debug}"
    );
    assert!(
        !debug.contains(&key(Algorithm::Aes256Gcm).to_string()),
        "{debug}"
    );
}

// ---------------------------------------------------------------------------------------------
// src/envelope.rs
// ---------------------------------------------------------------------------------------------

/// Kills `MIN_ENVELOPE_LEN: replace + with -` (9 + 12 - 16 = 5 bytes): a value shorter than
/// the shortest envelope is refused as malformed on its length alone, before its header is
/// read, so its version byte and key id cannot change the verdict.
#[test]
fn values_shorter_than_the_minimum_envelope_are_malformed_whatever_their_header() {
    assert_eq!(MIN_ENVELOPE_LEN, HEADER_LEN + AES_GCM_NONCE_LEN + TAG_LEN);
    assert_eq!(MIN_ENVELOPE_LEN, 37);
    let hour = u32::try_from(T0 / SECONDS_PER_HOUR).unwrap();
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let known = codec.ring().primary_id().get();
        let unknown = known ^ 0x8000_0001;
        for head in [
            header(FORMAT_VERSION, known, hour),
            header(FORMAT_VERSION, unknown, hour),
            header(FORMAT_VERSION + 1, known, hour),
            header(0, unknown, u32::MAX),
        ] {
            for len in 0..MIN_ENVELOPE_LEN {
                let mut raw = head.clone();
                raw.resize(len, 0xa5);
                let value = URL_SAFE_NO_PAD.encode(&raw);
                assert_eq!(
                    refused(&codec, &value, T0),
                    K::Malformed,
                    "{algorithm:?}, {len} bytes, header {:02x?}",
                    &head
                );
            }
        }
    }
}

/// Kills `envelope::open: replace < with <=` in the nonce + tag length check: an envelope with
/// an empty ciphertext (exactly header + nonce + tag) is well formed and goes to the AEAD. An
/// authentic one opens at the envelope layer and is refused only by the payload decoder; a
/// forged one is unauthentic; one byte less is malformed.
#[test]
fn an_envelope_with_an_empty_ciphertext_is_authenticated_not_malformed() {
    let hour = u32::try_from(T0 / SECONDS_PER_HOUR).unwrap();
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let key_id = codec.ring().primary_id().get();
        let head = header(FORMAT_VERSION, key_id, hour);
        let nonce = vec![0x42u8; algorithm.nonce_len()];
        let message_key = message_key(algorithm, key_id, hour);
        let payload = Payload {
            msg: &[],
            aad: &aad(&head, NAME, codec.schema_version()),
        };
        let tag = match algorithm {
            Algorithm::Aes256Gcm => Aes256Gcm::new((&message_key).into())
                .encrypt(nonce.as_slice().into(), payload)
                .unwrap(),
            _ => XChaCha20Poly1305::new((&message_key).into())
                .encrypt(nonce.as_slice().into(), payload)
                .unwrap(),
        };
        assert_eq!(tag.len(), TAG_LEN);
        let raw = [head.as_slice(), &nonce, &tag].concat();
        assert_eq!(raw.len(), HEADER_LEN + algorithm.nonce_len() + TAG_LEN);

        let authentic = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(refused(&codec, &authentic, T0), K::Payload, "{algorithm:?}");

        let mut forged = raw.clone();
        *forged.last_mut().unwrap() ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&forged);
        assert_eq!(
            refused(&codec, &forged, T0),
            K::Unauthentic,
            "{algorithm:?}"
        );

        let short = URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]);
        assert_eq!(refused(&codec, &short, T0), K::Malformed, "{algorithm:?}");
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
        let value = codec.seal(NAME, &meta(T0), &data, T0).unwrap().value;
        assert!(value.len() > 3000 && value.len() <= codec.max_value_len());
        codec.open::<Vec<u8>>(NAME, &value, T0).unwrap();

        let (opened, stats) = measure(|| codec.open::<Vec<u8>>(NAME, &value, T0));
        assert_eq!(opened.unwrap().data, data);
        // The Vec<u8> itself, and nothing else.
        assert_eq!(stats.allocations, 1, "{algorithm:?}: {stats:?}");
        assert_eq!(stats.bytes, 2500, "{algorithm:?}: {stats:?}");

        let (sealed, stats) = measure(|| codec.seal(NAME, &meta(T0), &data, T0).unwrap());
        assert!(stats.allocations <= 2, "{algorithm:?}: {stats:?}");
        assert!(
            stats.bytes <= 2 * sealed.value.len() as u64,
            "{algorithm:?}: {stats:?}"
        );
    }
}
