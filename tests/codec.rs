//! The codec under attack: envelope integrity (SECURITY-TESTS A1-A7), time (C1-C4), length
//! first (D2), schema drift (D4) and exact size prediction.
//!
//! Every refusal is checked through `Codec::open`'s error `kind()`. Times are explicit `now`
//! values; nothing sleeps or reads the clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use sealed_session::{
    Algorithm, Codec, ConfigError, KeyId, KeyRing, OpenErrorKind, SessionError, SessionId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod common;

use OpenErrorKind as K;
use common::wire::{self, KeyMaterial};
use common::{
    ALGORITHMS, DAY, DEFAULT_MAX_VALUE_LEN, HOUR, MAX_VALUE_LEN_LIMIT, NAME, T0, codec, key,
    key_bytes, meta,
};

const BASE64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

fn decode(value: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(value).unwrap()
}

fn encode(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// Opens and returns the refusal kind, or `None` if the value opened.
fn refusal<T: DeserializeOwned>(codec: &Codec, name: &str, value: &str, now: u64) -> Option<K> {
    codec.open::<T>(name, value, now).err().map(|e| e.kind())
}

/// The refusal kind of a value that must be refused.
#[track_caller]
fn refused<T: DeserializeOwned>(codec: &Codec, name: &str, value: &str, now: u64) -> K {
    refusal::<T>(codec, name, value, now).expect("must be refused")
}

fn seal<T: Serialize + ?Sized>(codec: &Codec, data: &T, now: u64) -> String {
    codec.seal(NAME, &meta(T0), data, now).unwrap().value
}

/// Plaintext lengths for the exhaustive tests: every length up to 40, then every 13th to 300.
fn lengths() -> impl Iterator<Item = usize> {
    (0..=40).chain((53..=300).step_by(13)).chain([300])
}

/// The largest `Vec<u8>` payload whose sealed value fits the codec's limit.
fn max_budget_len(codec: &Codec) -> usize {
    let fits =
        |n: usize| codec.sealed_len(&meta(T0), &bytes(n), T0).unwrap() <= codec.max_value_len();
    let mut n = 0;
    while fits(n + 1) {
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------------------------
// A1 every bit
// ---------------------------------------------------------------------------------------------

/// Flips every bit of the raw envelope; every flip must be refused, with the kind its position
/// implies.
fn flip_every_bit(codec: &Codec, data: &[u8]) -> usize {
    let value = seal(codec, data, T0);
    let now = T0 + 1;
    assert_eq!(codec.open::<Vec<u8>>(NAME, &value, now).unwrap().data, data);
    let raw = decode(&value);
    let mut flips = 0;
    for byte in 0..raw.len() {
        for bit in 0..8 {
            let mut tampered = raw.clone();
            tampered[byte] ^= 1 << bit;
            let kind = refused::<Vec<u8>>(codec, NAME, &encode(&tampered), now);
            // Wire format v2: version, key id, hour, schema version, flags, then the body.
            match byte {
                // 2 -> 3 is format v3, whose AAD (the header) the AEAD then refuses.
                0 if bit == 0 => assert_eq!(kind, K::Unauthentic),
                0 => assert_eq!(kind, K::UnsupportedVersion),
                1..=4 => assert_eq!(kind, K::UnknownKey),
                // An hour inside the window derives another message key; outside, refused
                // before derivation.
                5..=8 => assert!(
                    matches!(kind, K::Unauthentic | K::OutsideWindow),
                    "{kind:?}"
                ),
                // Another schema version or flags: refused before any AEAD work.
                9..=12 => assert_eq!(kind, K::UnknownSchema, "byte {byte} bit {bit}"),
                // The compressed bit is read when the feature is built (the AEAD then
                // refuses); a chunk count over the codec's 1 or an unassigned bit never is.
                13 if bit == 4 && cfg!(feature = "compression") => {
                    assert_eq!(kind, K::Unauthentic);
                }
                13 => assert_eq!(kind, K::Flags, "bit {bit}"),
                _ => assert_eq!(kind, K::Unauthentic, "byte {byte} bit {bit}"),
            }
            flips += 1;
        }
    }
    flips
}

/// Test plan: SECURITY-TESTS.md A1.
#[test]
fn every_bit_flip_is_refused() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let mut flips = 0;
        for len in lengths() {
            flips += flip_every_bit(&codec, &bytes(len));
        }
        assert!(flips > 50_000, "{flips}");
    }
}

/// Test plan: SECURITY-TESTS.md A1.
#[test]
fn every_bit_flip_of_a_max_budget_value_is_refused() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let len = max_budget_len(&codec);
        let value = seal(&codec, &bytes(len), T0);
        // Within 3 characters of the limit (base64 steps by 4 characters per 3 bytes).
        assert!(value.len() <= DEFAULT_MAX_VALUE_LEN && value.len() + 3 >= DEFAULT_MAX_VALUE_LEN);
        let flips = flip_every_bit(&codec, &bytes(len));
        assert_eq!(flips, decode(&value).len() * 8);
    }
}

// ---------------------------------------------------------------------------------------------
// A2 every character
// ---------------------------------------------------------------------------------------------

/// Sample values whose envelope lengths are 0, 1 and 2 mod 3, for both algorithms.
fn samples() -> Vec<(Codec, String)> {
    let mut out = Vec::new();
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let mut tails = [false; 3];
        for len in 0.. {
            let value = seal(&codec, &bytes(len), T0);
            let tail = decode(&value).len() % 3;
            if !tails[tail] {
                tails[tail] = true;
                out.push((codec.clone(), value));
            }
            if tails.iter().all(|t| *t) {
                break;
            }
        }
    }
    assert_eq!(out.len(), 6);
    out
}

/// A decoder that ignores non-zero trailing bits and accepts any padding: what a lax
/// implementation would take.
fn lax_decode(value: &str) -> Option<Vec<u8>> {
    let lax = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    lax.decode(value).ok()
}

/// Test plan: SECURITY-TESTS.md A2.
#[test]
fn every_character_replacement_is_refused_and_decoding_is_canonical() {
    for (codec, value) in samples() {
        let now = T0 + 1;
        assert!(refusal::<Vec<u8>>(&codec, NAME, &value, now).is_none());
        let original = decode(&value);
        let mut lax_duplicates = 0;
        for (i, old) in value.char_indices() {
            for new in BASE64URL.chars().filter(|c| *c != old) {
                let mut changed = value.clone();
                changed.replace_range(i..=i, new.encode_utf8(&mut [0; 4]));
                let kind = refused::<Vec<u8>>(&codec, NAME, &changed, now);
                // A replacement that only changes unused trailing bits names the same envelope:
                // it must be refused as non-canonical, not opened.
                if lax_decode(&changed).as_deref() == Some(&original[..]) {
                    lax_duplicates += 1;
                    assert_eq!(kind, K::Malformed);
                }
            }
        }
        // 2 unused bits (envelope length 2 mod 3) give 3 aliases, 4 unused bits give 15.
        let expected = match original.len() % 3 {
            0 => 0,
            1 => 15,
            _ => 3,
        };
        assert_eq!(lax_duplicates, expected, "{} chars", value.len());
    }
}

/// Test plan: SECURITY-TESTS.md A2.
#[test]
fn inserted_separators_non_ascii_and_padding_are_refused() {
    let inserts = [
        "=",
        "+",
        "/",
        ".",
        "%",
        " ",
        ";",
        ",",
        "\t",
        "\0",
        "\u{e9}",
        "\u{200b}",
        "\u{ff21}",
        "\u{1f510}",
        "%3D",
        "\"",
    ];
    for (codec, value) in samples() {
        let now = T0 + 1;
        for (i, _) in value.char_indices().chain([(value.len(), ' ')]) {
            for insert in inserts {
                let changed = format!("{}{insert}{}", &value[..i], &value[i..]);
                assert_eq!(
                    refused::<Vec<u8>>(&codec, NAME, &changed, now),
                    K::Malformed,
                    "{insert:?} at {i}"
                );
            }
        }
        // Padded variants, whatever the envelope length.
        for padding in ["=", "==", "===", "===="] {
            for changed in [format!("{value}{padding}"), format!("{padding}{value}")] {
                assert_eq!(
                    refused::<Vec<u8>>(&codec, NAME, &changed, now),
                    K::Malformed
                );
            }
        }
        let standard_padded = base64::engine::general_purpose::URL_SAFE.encode(decode(&value));
        if standard_padded != value {
            assert_eq!(
                refused::<Vec<u8>>(&codec, NAME, &standard_padded, now),
                K::Malformed
            );
        }
        // The standard alphabet's `+` and `/` for `-` and `_`.
        let standard = base64::engine::general_purpose::STANDARD_NO_PAD.encode(decode(&value));
        if standard != value {
            assert_eq!(
                refused::<Vec<u8>>(&codec, NAME, &standard, now),
                K::Malformed
            );
        }
    }
}

/// Test plan: SECURITY-TESTS.md A2.
#[test]
fn non_canonical_trailing_bits_are_refused() {
    for (codec, value) in samples() {
        let raw_len = decode(&value).len();
        let unused_bits = match raw_len % 3 {
            0 => continue,
            1 => 4,
            _ => 2,
        };
        let last = value.chars().last().unwrap();
        let index = BASE64URL.find(last).unwrap();
        assert_eq!(
            index % (1 << unused_bits),
            0,
            "canonical tail has zero bits"
        );
        for extra in 1..(1 << unused_bits) {
            let mut changed = value.clone();
            changed.pop();
            changed.push(BASE64URL.as_bytes()[index | extra] as char);
            assert_eq!(lax_decode(&changed).unwrap(), decode(&value));
            assert_eq!(
                refused::<Vec<u8>>(&codec, NAME, &changed, T0 + 1),
                K::Malformed
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A3 truncation and extension, A4 short tags
// ---------------------------------------------------------------------------------------------

#[test]
fn every_prefix_and_every_extension_is_refused() {
    for (codec, value) in samples() {
        let now = T0 + 1;
        for end in 0..value.len() {
            assert!(
                refusal::<Vec<u8>>(&codec, NAME, &value[..end], now).is_some(),
                "prefix of {end} chars opened"
            );
        }
        let raw = decode(&value);
        for extra in 1..=32 {
            let mut longer = raw.clone();
            longer.extend((0..extra).map(|i| u8::try_from(i).unwrap()));
            assert_eq!(
                refused::<Vec<u8>>(&codec, NAME, &encode(&longer), now),
                K::Unauthentic
            );
            let mut zeros = raw.clone();
            zeros.resize(raw.len() + extra, 0);
            assert_eq!(
                refused::<Vec<u8>>(&codec, NAME, &encode(&zeros), now),
                K::Unauthentic
            );
            for c in ["A", "_", "0"] {
                let appended = format!("{value}{}", c.repeat(extra));
                assert!(refusal::<Vec<u8>>(&codec, NAME, &appended, now).is_some());
            }
        }
    }
}

/// Test plan: SECURITY-TESTS.md A4.
#[test]
fn short_tags_are_refused() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        for len in [0, 1, 40] {
            let raw = decode(&seal(&codec, &bytes(len), T0));
            for tag_len in 0..16 {
                let short = &raw[..raw.len() - 16 + tag_len];
                let kind = refused::<Vec<u8>>(&codec, NAME, &encode(short), T0 + 1);
                assert!(
                    matches!(kind, K::Unauthentic | K::Malformed),
                    "{algorithm:?} tag of {tag_len}: {kind:?}"
                );
            }
            // Header, nonce and a tag-sized remainder with no ciphertext: 0..15 bytes.
            let nonce_end = 9 + algorithm.nonce_len();
            for rest in 0..16 {
                let short = &raw[..nonce_end + rest];
                let kind = refused::<Vec<u8>>(&codec, NAME, &encode(short), T0 + 1);
                assert_eq!(
                    kind,
                    K::Malformed,
                    "{algorithm:?} {rest} bytes after the nonce"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A5 wrong key, A6 AAD binding, A7 version and algorithm confusion
// ---------------------------------------------------------------------------------------------

#[test]
fn a_value_sealed_under_one_key_is_refused_under_another() {
    for algorithm in ALGORITHMS {
        let sealer = codec(algorithm);
        let value = seal(&sealer, b"secret".as_slice(), T0);
        let original = key(algorithm, 1);
        // Another key, another id.
        let other = Codec::new(KeyRing::new(key(algorithm, 2)));
        assert_ne!(key(algorithm, 2).id(), original.id());
        assert_eq!(refused::<Vec<u8>>(&other, NAME, &value, T0), K::UnknownKey);
        // Same id, other bytes.
        let impostor = Codec::new(KeyRing::new(key(algorithm, 2).with_id(original.id())));
        assert_eq!(
            refused::<Vec<u8>>(&impostor, NAME, &value, T0),
            K::Unauthentic
        );
        // The error names the id, never more.
        let error = impostor.open::<Vec<u8>>(NAME, &value, T0).unwrap_err();
        assert_eq!(error.key_id(), Some(original.id()));
        // Both keys in one ring, the impostor under its own id: still only the right one opens.
        let ring = KeyRing::from_keys([key(algorithm, 2), key(algorithm, 1)]).unwrap();
        assert!(Codec::new(ring).open::<Vec<u8>>(NAME, &value, T0).is_ok());
    }
}

/// Test plan: SECURITY-TESTS.md A6.
#[test]
fn cookie_name_is_bound() {
    let names = [
        "",
        "__Host-Session",
        "__host-session",
        "__Host-session ",
        " __Host-session",
        "__Host-sessio",
        "__Host-session\0",
        "__Host-session2",
        "session",
        "__Secure-session",
    ];
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let value = seal(&codec, b"x".as_slice(), T0);
        for name in names {
            assert_eq!(refused::<Vec<u8>>(&codec, name, &value, T0), K::Unauthentic);
        }
        let long = "n".repeat(300);
        let long_value = codec
            .seal(&long, &meta(T0), b"x".as_slice(), T0)
            .unwrap()
            .value;
        assert!(codec.open::<Vec<u8>>(&long, &long_value, T0).is_ok());
        assert_eq!(
            refused::<Vec<u8>>(&codec, &long[1..], &long_value, T0),
            K::Unauthentic
        );
        assert_eq!(
            refused::<Vec<u8>>(&codec, NAME, &long_value, T0),
            K::Unauthentic
        );
    }
}

/// Test plan: SECURITY-TESTS.md A6.
#[test]
fn values_cannot_be_swapped_between_three_cookies() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let names = ["__Host-session", "__Host-csrf", "__Host-prefs"];
        let values: Vec<String> = names
            .iter()
            .map(|name| codec.seal(name, &meta(T0), &0u8, T0).unwrap().value)
            .collect();
        for (i, value) in values.iter().enumerate() {
            for (j, name) in names.iter().enumerate() {
                let result = refusal::<u8>(&codec, name, value, T0);
                if i == j {
                    assert_eq!(result, None);
                } else {
                    assert_eq!(result, Some(K::Unauthentic));
                }
            }
        }
    }
}

/// Test plan: SECURITY-TESTS.md A6.
#[test]
fn schema_version_is_bound() {
    let schemas = [0, 1, 2, 7, 0x0100_0000, u32::MAX];
    for algorithm in ALGORITHMS {
        for sealed_under in schemas {
            let sealer = codec(algorithm).with_schema_version(sealed_under);
            let value = seal(&sealer, &7u8, T0);
            for opened_under in schemas {
                let opener = codec(algorithm).with_schema_version(opened_under);
                let result = refusal::<u8>(&opener, NAME, &value, T0);
                if sealed_under == opened_under {
                    assert_eq!(result, None);
                } else {
                    // v2: the version is in the header, so another one is refused before any
                    // AEAD work...
                    assert_eq!(result, Some(K::UnknownSchema));
                    // ...and rewriting the header to the opener's version breaks the tag.
                    let mut raw = decode(&value);
                    raw[9..13].copy_from_slice(&opened_under.to_be_bytes());
                    assert_eq!(
                        refusal::<u8>(&opener, NAME, &encode(&raw), T0),
                        Some(K::Unauthentic)
                    );
                }
            }
        }
    }
}

/// Test plan: SECURITY-TESTS.md A6.
#[test]
fn key_id_and_hour_are_bound() {
    for algorithm in ALGORITHMS {
        // The same key bytes under another id (on another instance: one ring refuses a key
        // under two ids): a header naming the twin must not open there.
        let original = key(algorithm, 1);
        let twin_id = KeyId::new(original.id().get() ^ 0x0000_0100);
        let codec = Codec::new(KeyRing::new(original));
        let twin = Codec::new(KeyRing::new(key(algorithm, 1).with_id(twin_id)));
        let value = seal(&codec, &vec![1u8, 2, 3], T0);
        assert!(codec.open::<Vec<u8>>(NAME, &value, T0).is_ok());
        let mut raw = decode(&value);
        raw[1..5].copy_from_slice(&twin_id.get().to_be_bytes());
        assert_eq!(
            refused::<Vec<u8>>(&twin, NAME, &encode(&raw), T0),
            K::Unauthentic
        );

        // Every other hour: inside the window another message key (refused by the AEAD),
        // outside refused before derivation.
        let value = seal(&codec, &vec![1u8, 2, 3], T0 + 10 * HOUR);
        let now = T0 + 10 * HOUR + 1;
        let raw = decode(&value);
        let hour = u32::from_be_bytes(raw[5..9].try_into().unwrap());
        assert_eq!(u64::from(hour), (T0 + 10 * HOUR) / HOUR);
        let first = u32::try_from((now - DAY) / HOUR).unwrap();
        let last = u32::try_from((now + 60) / HOUR).unwrap();
        for other in (hour - 40..=hour + 40).chain([0, 1, u32::MAX]) {
            if other == hour {
                continue;
            }
            let mut changed = raw.clone();
            changed[5..9].copy_from_slice(&other.to_be_bytes());
            let kind = refused::<Vec<u8>>(&codec, NAME, &encode(&changed), now);
            if (first..=last).contains(&other) {
                assert_eq!(kind, K::Unauthentic, "hour {other}");
            } else {
                assert_eq!(kind, K::OutsideWindow, "hour {other}");
            }
        }
    }
}

/// Test plan: SECURITY-TESTS.md A7.
#[test]
fn every_unsupported_version_byte_is_refused_before_aead_work() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let raw = decode(&seal(&codec, &bytes(10), T0));
        // 1, 2 and 3 are the versions this build reads.
        for version in (0..=u8::MAX).filter(|v| !(1..=3).contains(v)) {
            let mut changed = raw.clone();
            changed[0] = version;
            assert_eq!(
                refused::<Vec<u8>>(&codec, NAME, &encode(&changed), T0),
                K::UnsupportedVersion
            );
            // With garbage after the header too: had any AEAD work run, this would be
            // Unauthentic or Malformed.
            let mut garbage = changed[..9].to_vec();
            garbage.extend(std::iter::repeat_n(version, 40));
            assert_eq!(
                refused::<Vec<u8>>(&codec, NAME, &encode(&garbage), T0),
                K::UnsupportedVersion
            );
        }
        assert_eq!(
            codec
                .open::<Vec<u8>>(
                    NAME,
                    &encode(&[[4u8; 9], [0; 9], [0; 9], [0; 9], [0; 9]].concat()),
                    T0
                )
                .unwrap_err()
                .key_id(),
            None,
            "no key id is reported before the version is known"
        );
    }
}

/// Test plan: SECURITY-TESTS.md A7.
#[test]
fn unknown_key_ids_are_refused_before_aead_work() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let raw = decode(&seal(&codec, &bytes(10), T0));
        for id in [0u32, 1, 0xdead_beef, u32::MAX] {
            let mut garbage = raw[..9].to_vec();
            garbage[1..5].copy_from_slice(&id.to_be_bytes());
            // 28 bytes after the header: had a key been used, this would be Malformed
            // (XChaCha20) or Unauthentic (AES-GCM).
            garbage.extend([0u8; 28]);
            let error = codec
                .open::<Vec<u8>>(NAME, &encode(&garbage), T0)
                .unwrap_err();
            assert_eq!(error.kind(), K::UnknownKey);
            assert_eq!(error.key_id(), Some(KeyId::new(id)));
        }
    }
}

/// Test plan: SECURITY-TESTS.md A7.
#[test]
fn algorithm_confusion_is_refused_both_ways() {
    for (sealed_with, opened_with) in [
        (Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305),
        (Algorithm::XChaCha20Poly1305, Algorithm::Aes256Gcm),
    ] {
        let sealer = codec(sealed_with);
        let id = key(sealed_with, 1).id();
        // The same bytes and id, registered under the other algorithm.
        let confused = Codec::new(KeyRing::new(key(opened_with, 1).with_id(id)));
        for len in [0, 1, 12, 50, 300] {
            let value = seal(&sealer, &bytes(len), T0);
            let kind = refused::<Vec<u8>>(&confused, NAME, &value, T0);
            assert!(
                matches!(kind, K::Unauthentic | K::Malformed),
                "{sealed_with:?} as {opened_with:?}: {kind:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// C1-C4 time
// ---------------------------------------------------------------------------------------------

#[test]
fn absolute_lifetime_holds_however_active_the_session() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm); // idle 1 day, max 7 days
        let max = codec.max_lifetime().as_secs();
        let mut value = codec.seal(NAME, &meta(T0), &0u32, T0).unwrap().value;
        // Active every 6 hours: each request opens and re-seals (idle refresh).
        let mut now = T0;
        let mut visits = 0u32;
        while now + 6 * HOUR < T0 + max {
            now += 6 * HOUR;
            let opened = codec.open::<u32>(NAME, &value, now).unwrap();
            assert_eq!(opened.data, visits);
            assert_eq!(opened.meta.created, T0, "refresh never moves created");
            visits += 1;
            let sealed = codec.seal(NAME, &opened.meta, &visits, now).unwrap();
            assert!(sealed.expires <= T0 + max);
            value = sealed.value;
        }
        assert!(codec.open::<u32>(NAME, &value, T0 + max - 1).is_ok());
        assert_eq!(refused::<u32>(&codec, NAME, &value, T0 + max), K::Expired);
        assert_eq!(
            refused::<u32>(&codec, NAME, &value, T0 + max + 1),
            K::Expired
        );
    }
}

/// Test plan: SECURITY-TESTS.md C1.
#[test]
fn absolute_lifetime_is_enforced_even_when_expires_is_later() {
    // Sealed while max_lifetime was 10 days, opened after it was shortened to 7: `expires`
    // lies beyond created + 7 days, and only the absolute check can refuse.
    let long = Duration::from_secs(10 * DAY);
    let short = Duration::from_secs(7 * DAY);
    for algorithm in ALGORITHMS {
        let ring = KeyRing::new(key(algorithm, 1));
        let sealer = Codec::new(ring.clone()).with_lifetimes(long, long).unwrap();
        let opener = Codec::new(ring).with_lifetimes(short, short).unwrap();
        let sealed_at = T0 + 6 * DAY;
        let sealed = sealer.seal(NAME, &meta(T0), &1u8, sealed_at).unwrap();
        assert_eq!(sealed.expires, T0 + 10 * DAY);
        assert!(
            opener
                .open::<u8>(NAME, &sealed.value, T0 + 7 * DAY - 1)
                .is_ok()
        );
        assert_eq!(
            refused::<u8>(&opener, NAME, &sealed.value, T0 + 7 * DAY),
            K::Expired
        );
    }
}

/// Test plan: SECURITY-TESTS.md C2.
#[test]
fn idle_lifetime_is_exact_to_the_second() {
    for algorithm in ALGORITHMS {
        for idle in [1, 59, 60, HOUR, HOUR + 1, DAY] {
            let codec = codec(algorithm)
                .with_lifetimes(Duration::from_secs(idle), Duration::from_secs(7 * DAY))
                .unwrap();
            for sealed_at in [T0, T0 + 1, T0 + HOUR - 1, T0 + 3 * DAY + 17] {
                let sealed = codec.seal(NAME, &meta(T0), &1u8, sealed_at).unwrap();
                assert_eq!(sealed.expires, sealed_at + idle);
                assert!(codec.open::<u8>(NAME, &sealed.value, sealed_at).is_ok());
                assert!(
                    codec
                        .open::<u8>(NAME, &sealed.value, sealed_at + idle - 1)
                        .is_ok()
                );
                assert_eq!(
                    refused::<u8>(&codec, NAME, &sealed.value, sealed_at + idle),
                    K::Expired
                );
            }
        }
    }
}

/// A head sealed with a zero absolute lifetime is checked with the bound it is reported and
/// re-sealed with, a second: it lives exactly one second past `created` (the roundtrip fuzz
/// target found it opened a future-dated one but refused one created now, while reporting the
/// same one-second bound for both). Only a hand-built head reaches this: the 0.2 builds before
/// the floor sealed `expires = created` with such a bound, and that expiry refuses them still.
/// Test plan: SECURITY-TESTS.md C2.
#[test]
fn a_sealed_zero_lifetime_is_checked_as_the_second_it_is_reported() {
    use wire::{Alg, LifetimeV2};
    for alg in [Alg::Aes, Alg::XChaCha] {
        let key = wire::test_key(alg, "zero lifetime", None);
        let codec = Codec::new(KeyRing::new(wire::crate_key(&key.to_key_string())));
        let hour = u32::try_from(T0 / HOUR).unwrap();
        let seal = |created: u64, idle: u64, max: u64| {
            let lifetime = LifetimeV2 {
                persistent: true,
                idle,
                max,
            };
            let plaintext = wire::plaintext_v2([3; 16], created, T0 + DAY, lifetime, &[], &5u8);
            let nonce = vec![9u8; alg.nonce_len()];
            wire::encode(&wire::seal_raw_v2(
                &key, hour, NAME, 0, 0, &nonce, &plaintext,
            ))
        };
        for (idle, max) in [(0, 0), (DAY, 0), (0, DAY)] {
            for created in [T0 - 1, T0, T0 + 1, T0 + 30] {
                let value = seal(created, idle, max);
                let bound = if max == 0 { 1 } else { max };
                match codec.open::<u8>(NAME, &value, T0) {
                    Ok(opened) => {
                        assert!(T0 < created + bound, "{alg:?} {idle}/{max} at {created}");
                        let reported = opened.lifetime;
                        assert_eq!(reported.max_lifetime(), Some(Duration::from_secs(bound)));
                        assert_eq!(
                            reported.idle_timeout(),
                            Some(Duration::from_secs(idle.min(DAY).min(bound).max(1)))
                        );
                    }
                    Err(error) => {
                        assert!(T0 >= created + bound, "{alg:?} {idle}/{max} at {created}");
                        assert_eq!(error.kind(), K::Expired);
                    }
                }
            }
        }
    }
}

/// Test plan: SECURITY-TESTS.md C3.
#[test]
fn future_dated_sessions_are_refused_beyond_the_skew() {
    for algorithm in ALGORITHMS {
        for skew in [0, 1, 60, HOUR] {
            let codec = codec(algorithm)
                .with_clock_skew(Duration::from_secs(skew))
                .unwrap();
            let now = T0 + 1000;
            // Created exactly at the edge of the skew: accepted.
            let at_edge = codec
                .seal(NAME, &meta(now + skew), &1u8, now)
                .unwrap()
                .value;
            assert!(codec.open::<u8>(NAME, &at_edge, now).is_ok(), "skew {skew}");
            // One second beyond: refused.
            let beyond = codec
                .seal(NAME, &meta(now + skew + 1), &1u8, now)
                .unwrap()
                .value;
            assert_eq!(refused::<u8>(&codec, NAME, &beyond, now), K::FutureDated);
            let far = codec.seal(NAME, &meta(u64::MAX), &1u8, now).unwrap().value;
            assert_eq!(refused::<u8>(&codec, NAME, &far, now), K::FutureDated);
        }
    }
}

/// Test plan: SECURITY-TESTS.md C3.
#[test]
fn a_value_sealed_by_an_instance_whose_clock_is_ahead() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm); // skew 60 s
        // The sealing instance is 60 s ahead and already in the next hour.
        let reader_now = T0 + HOUR - 30;
        let sealer_now = reader_now + 60;
        let sealed = codec
            .seal(NAME, &meta(sealer_now), &1u8, sealer_now)
            .unwrap();
        assert!(codec.open::<u8>(NAME, &sealed.value, reader_now).is_ok());
        // Two hours ahead is outside the window.
        let far = codec.seal(NAME, &meta(T0), &1u8, T0 + 2 * HOUR).unwrap();
        assert_eq!(
            refused::<u8>(&codec, NAME, &far.value, T0),
            K::OutsideWindow
        );
    }
}

/// The expected outcome of opening, from the rules in DESIGN.md, computed in u128 so that no
/// sum can overflow (times beyond u64::MAX count as u64::MAX).
fn model(
    (hour, created, expires): (u64, u64, u64),
    now: u64,
    (idle, max, skew): (u64, u64, u64),
) -> Option<K> {
    let sat = |x: u128| u64::try_from(x).unwrap_or(u64::MAX);
    let hour_of = |t: u64| (t / HOUR).min(u64::from(u32::MAX));
    let first = hour_of(now.saturating_sub(idle));
    let last = hour_of(sat(u128::from(now) + u128::from(skew)));
    if hour < first || hour > last {
        Some(K::OutsideWindow)
    } else if created > sat(u128::from(now) + u128::from(skew)) {
        Some(K::FutureDated)
    } else if now >= sat(u128::from(created) + u128::from(max)) || now >= expires {
        Some(K::Expired)
    } else {
        None
    }
}

/// Test plan: SECURITY-TESTS.md C4.
#[test]
fn extreme_timestamps_give_clean_results() {
    let u32_max = u64::from(u32::MAX);
    let times = [
        0,
        1,
        59,
        HOUR - 1,
        HOUR,
        u32_max,
        u32_max * HOUR - 1,
        u32_max * HOUR,
        u32_max * HOUR + HOUR,
        T0,
        u64::MAX / 2,
        u64::MAX - DAY,
        u64::MAX - 61,
        u64::MAX - 1,
        u64::MAX,
    ];
    let settings = [(1, 1, 0), (DAY, 7 * DAY, 60), (400 * DAY, 400 * DAY, HOUR)];
    let mut checked = 0;
    for algorithm in ALGORITHMS {
        for (idle, max, skew) in settings {
            let codec = codec(algorithm)
                .with_lifetimes(Duration::from_secs(idle), Duration::from_secs(max))
                .unwrap()
                .with_clock_skew(Duration::from_secs(skew))
                .unwrap();
            for sealed_at in times {
                for created in [0, sealed_at, u32_max, u64::MAX] {
                    let sealed = codec.seal(NAME, &meta(created), &1u8, sealed_at).unwrap();
                    assert_eq!(
                        sealed.expires,
                        sealed_at
                            .saturating_add(idle)
                            .min(created.saturating_add(max))
                    );
                    let hour = (sealed_at / HOUR).min(u32_max);
                    for now in times {
                        let expected =
                            model((hour, created, sealed.expires), now, (idle, max, skew));
                        let got = refusal::<u8>(&codec, NAME, &sealed.value, now);
                        assert_eq!(
                            got, expected,
                            "sealed {sealed_at} created {created} now {now} ({idle}, {max}, {skew})"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 3 * 15 * 4 * 15);
}

/// Test plan: SECURITY-TESTS.md C4.
#[test]
fn a_session_sealed_at_the_epoch_opens_at_the_epoch() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let sealed = codec.seal(NAME, &meta(0), &1u8, 0).unwrap();
        assert_eq!(sealed.expires, DAY);
        assert!(codec.open::<u8>(NAME, &sealed.value, 0).is_ok());
        assert_eq!(refused::<u8>(&codec, NAME, &sealed.value, DAY), K::Expired);
        assert_eq!(
            refused::<u8>(&codec, NAME, &sealed.value, DAY + HOUR),
            K::OutsideWindow
        );
        assert_eq!(
            refused::<u8>(&codec, NAME, &sealed.value, u64::MAX),
            K::OutsideWindow
        );
    }
}

// ---------------------------------------------------------------------------------------------
// D2 length first, D4 schema drift
// ---------------------------------------------------------------------------------------------

#[test]
fn a_value_longer_than_the_limit_is_refused_before_decoding() {
    for algorithm in ALGORITHMS {
        for limit in [91, 200, 1000, DEFAULT_MAX_VALUE_LEN, MAX_VALUE_LEN_LIMIT] {
            let codec = codec(algorithm).with_max_value_len(limit).unwrap();
            // Not base64 at all: only a length check can give TooLong.
            let garbage = "!".repeat(limit + 1);
            assert_eq!(refused::<u8>(&codec, NAME, &garbage, T0), K::TooLong);
            assert_eq!(
                refused::<u8>(&codec, NAME, &"!".repeat(limit), T0),
                K::Malformed
            );
            let huge = "A".repeat(1 << 20);
            assert_eq!(refused::<u8>(&codec, NAME, &huge, T0), K::TooLong);
            let error = codec.open::<u8>(NAME, &huge, T0).unwrap_err();
            assert_eq!(error.key_id(), None);
        }
        // An authentic value one character over a smaller reader's limit.
        let ring = KeyRing::new(key(algorithm, 1));
        let value = Codec::new(ring.clone())
            .seal(NAME, &meta(T0), &bytes(100), T0)
            .unwrap()
            .value;
        let exact = Codec::new(ring.clone())
            .with_max_value_len(value.len())
            .unwrap();
        assert!(exact.open::<Vec<u8>>(NAME, &value, T0).is_ok());
        let smaller = Codec::new(ring)
            .with_max_value_len(value.len() - 1)
            .unwrap();
        assert_eq!(refused::<Vec<u8>>(&smaller, NAME, &value, T0), K::TooLong);
    }
}

/// Test plan: SECURITY-TESTS.md D4.
#[test]
fn a_schema_bump_refuses_old_values() {
    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V1 {
        user: String,
    }
    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V2 {
        user: String,
        admin: bool,
    }
    for algorithm in ALGORITHMS {
        let ring = KeyRing::new(key(algorithm, 1));
        let v1 = Codec::new(ring.clone()).with_schema_version(1);
        let v2 = Codec::new(ring).with_schema_version(2);
        let value = v1
            .seal(NAME, &meta(T0), &V1 { user: "ada".into() }, T0)
            .unwrap()
            .value;
        // v2: refused on the header's schema version, before any AEAD work.
        assert_eq!(refused::<V2>(&v2, NAME, &value, T0), K::UnknownSchema);
        assert_eq!(refused::<V1>(&v2, NAME, &value, T0), K::UnknownSchema);
        assert!(v1.open::<V1>(NAME, &value, T0).is_ok());
        // Without the bump, the shape change is still caught, as a payload error.
        assert_eq!(refused::<V2>(&v1, NAME, &value, T0), K::Payload);
    }
}

/// Test plan: SECURITY-TESTS.md D4.
#[test]
fn trailing_bytes_after_the_postcard_value_are_refused() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        for extra in [0u8, 1, 0x7f, 0xff] {
            // (u8, u8) serializes as the u8 followed by one more byte.
            let value = seal(&codec, &(7u8, extra), T0);
            assert_eq!(refused::<u8>(&codec, NAME, &value, T0), K::Payload);
            assert_eq!(
                codec.open::<(u8, u8)>(NAME, &value, T0).unwrap().data,
                (7, extra)
            );
        }
        let value = seal(&codec, &(String::from("ada"), vec![1u8; 5]), T0);
        assert_eq!(refused::<String>(&codec, NAME, &value, T0), K::Payload);
        // Too few bytes is a payload error as well.
        let value = seal(&codec, &7u8, T0);
        assert_eq!(refused::<(u8, u8)>(&codec, NAME, &value, T0), K::Payload);
        let value = seal(&codec, &(), T0);
        assert_eq!(refused::<u8>(&codec, NAME, &value, T0), K::Payload);
    }
}

// ---------------------------------------------------------------------------------------------
// Exact size prediction and the seal-side limit
// ---------------------------------------------------------------------------------------------

#[test]
fn sealed_len_is_exact() {
    #[derive(Serialize)]
    struct Mixed<'a> {
        name: &'a str,
        n: u64,
        tags: Vec<&'a str>,
        signed: i64,
    }
    let varint_edges = [
        0,
        127,
        128,
        16_383,
        16_384,
        T0,
        1 << 35,
        u64::MAX / 2,
        u64::MAX,
    ];
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm)
            .with_max_value_len(MAX_VALUE_LEN_LIMIT)
            .unwrap();
        for len in (0..=600).chain((601..=12_000).step_by(97)) {
            let data = bytes(len);
            let predicted = codec.sealed_len(&meta(T0), &data, T0).unwrap();
            assert_eq!(predicted, seal(&codec, &data, T0).len(), "{len}");
        }
        for now in varint_edges {
            for created in varint_edges {
                let meta = meta(created);
                let data = Mixed {
                    name: "\u{e9}t\u{e9} \u{1f510}",
                    n: now,
                    tags: vec!["a", "bb", ""],
                    signed: -1 - i64::try_from(created / 2).unwrap(),
                };
                let predicted = codec.sealed_len(&meta, &data, now).unwrap();
                let sealed = codec.seal(NAME, &meta, &data, now).unwrap();
                assert_eq!(predicted, sealed.value.len());
            }
        }
    }
}

#[test]
fn seal_refuses_exactly_above_the_limit() {
    for algorithm in ALGORITHMS {
        let base = codec(algorithm);
        let mut boundaries = 0;
        for len in (0..=400).chain([1000, 2000, 3000, 3050, 3060, 3070]) {
            let data = bytes(len);
            let size = base.sealed_len(&meta(T0), &data, T0).unwrap();
            // The smallest configurable limit is 91.
            if size < 92 {
                continue;
            }
            // len == limit: accepted, with exactly that length.
            let at = base.clone().with_max_value_len(size).unwrap();
            assert_eq!(seal(&at, &data, T0).len(), size);
            // limit one below: refused, naming the real size and the limit.
            let below = base.clone().with_max_value_len(size - 1).unwrap();
            assert_eq!(
                below.seal(NAME, &meta(T0), &data, T0),
                Err(SessionError::TooLarge {
                    size,
                    limit: size - 1
                })
            );
            boundaries += 1;
        }
        assert!(boundaries > 300);
        // Around the default limit: every payload is accepted iff its predicted size fits.
        let codec = codec(algorithm);
        let max = max_budget_len(&codec);
        for len in max - 10..=max + 10 {
            let data = bytes(len);
            let size = codec.sealed_len(&meta(T0), &data, T0).unwrap();
            match codec.seal(NAME, &meta(T0), &data, T0) {
                Ok(sealed) => {
                    assert!(size <= DEFAULT_MAX_VALUE_LEN);
                    assert_eq!(sealed.value.len(), size);
                }
                Err(error) => {
                    assert!(size > DEFAULT_MAX_VALUE_LEN, "{len}");
                    assert_eq!(
                        error,
                        SessionError::TooLarge {
                            size,
                            limit: DEFAULT_MAX_VALUE_LEN
                        }
                    );
                }
            }
        }
        // A payload far beyond the limit: refused, with its real size.
        let huge = bytes(1 << 20);
        let size = codec.sealed_len(&meta(T0), &huge, T0).unwrap();
        assert_eq!(
            codec.seal(NAME, &meta(T0), &huge, T0),
            Err(SessionError::TooLarge {
                size,
                limit: DEFAULT_MAX_VALUE_LEN
            })
        );
    }
}

#[test]
fn value_limit_configuration_bounds() {
    let codec = codec(Algorithm::Aes256Gcm);
    assert!(codec.clone().with_max_value_len(90).is_err());
    assert!(codec.clone().with_max_value_len(91).is_ok());
    assert!(
        codec
            .clone()
            .with_max_value_len(MAX_VALUE_LEN_LIMIT)
            .is_ok()
    );
    assert!(
        codec
            .clone()
            .with_max_value_len(MAX_VALUE_LEN_LIMIT + 1)
            .is_err()
    );
    // 91 holds the smallest v1 session (which still opens); the smallest session sealed now
    // (wire format v2, one-byte timestamps, unit data) needs 103 under either algorithm.
    let one = Duration::from_secs(1);
    for algorithm in ALGORITHMS {
        let small = Codec::new(KeyRing::new(key(algorithm, 1)))
            .with_max_value_len(103)
            .unwrap()
            .with_lifetimes(one, one)
            .unwrap();
        let value = small.seal(NAME, &meta(0), &(), 0).unwrap().value;
        assert!(value.len() <= 103);
        assert!(small.open::<()>(NAME, &value, 0).is_ok());
    }
}

// ---------------------------------------------------------------------------------------------
// Mutants (SECURITY-TESTS A9): tests that kill the meaningful survivors of `cargo mutants` over
// src/codec.rs and src/envelope.rs. Each names the mutant it pins.
// ---------------------------------------------------------------------------------------------

/// The opening's refusal kind.
#[track_caller]
fn refused_kind(codec: &Codec, value: &str, now: u64) -> K {
    codec
        .open::<u32>(NAME, value, now)
        .expect_err("must be refused")
        .kind()
}

/// Kills `codec.rs: replace * with +` in `DEFAULT_MAX_LIFETIME` (7 + 24 * 60 * 60 seconds
/// still passes the const asserts): the default absolute lifetime is one week, to the second.
#[test]
fn default_absolute_lifetime_is_one_week() {
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        assert_eq!(codec.max_lifetime(), Duration::from_secs(7 * DAY));
        assert_eq!(codec.idle_timeout(), Duration::from_secs(DAY));
        // Re-sealed two hours before the week is up: the idle expiry is capped by the week.
        let now = T0 + 7 * DAY - 2 * HOUR;
        let sealed = codec.seal(NAME, &meta(T0), &1u32, now).unwrap();
        assert_eq!(sealed.expires, T0 + 7 * DAY);
        let opened = codec.open::<u32>(NAME, &sealed.value, T0 + 7 * DAY - 1);
        assert_eq!(opened.unwrap().data, 1);
        assert_eq!(
            refused_kind(&codec, &sealed.value, T0 + 7 * DAY),
            K::Expired
        );
    }
}

/// Kills `Codec::idle_timeout -> u64 with 0` and `with 1`.
#[test]
fn idle_timeout_accessor_reports_the_configured_value() {
    let codec = codec(Algorithm::Aes256Gcm);
    assert_eq!(codec.idle_timeout(), Duration::from_secs(DAY));
    let codec = codec
        .with_lifetimes(Duration::from_secs(90 * 60), Duration::from_secs(2 * DAY))
        .unwrap();
    assert_eq!(codec.idle_timeout(), Duration::from_secs(90 * 60));
    assert_eq!(codec.max_lifetime(), Duration::from_secs(2 * DAY));
    // The accessor agrees with what sealing does.
    let sealed = codec.seal(NAME, &meta(T0), &0u32, T0).unwrap();
    assert_eq!(sealed.expires, T0 + codec.idle_timeout().as_secs());
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
    let one_second = Duration::from_secs(1);
    assert_eq!(
        (codec.idle_timeout(), codec.max_lifetime()),
        (one_second, one_second)
    );
}

/// Kills `<impl Display for SessionId>::fmt -> Ok(Default::default())`: the id prints as 32
/// lowercase hex digits; `Debug` is redacted (SECURITY-TESTS F11).
#[test]
fn session_id_prints_as_lowercase_hex() {
    let bytes: [u8; 16] = core::array::from_fn(|i| u8::try_from(i * 17).unwrap());
    let id = SessionId::from_bytes(bytes);
    let hex = "00112233445566778899aabbccddeeff";
    assert_eq!(id.to_string(), hex);
    assert_eq!(format!("{id:?}"), "SessionId(..)");
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
        !debug.contains(&format!("{:?}", &key_bytes(1)[..4])),
        "{debug}"
    );
    assert!(
        !debug.contains(&key(Algorithm::Aes256Gcm, 1).to_string()),
        "{debug}"
    );
}

/// Kills `MIN_ENVELOPE_LEN: replace + with -` (9 + 12 - 16 = 5 bytes): a value shorter than
/// the shortest envelope is refused as malformed on its length alone, before its header is
/// read, so its version byte and key id cannot change the verdict.
#[test]
fn values_shorter_than_the_minimum_envelope_are_malformed_whatever_their_header() {
    // The shortest envelope: a v1 header, an AES-GCM nonce and a tag (the crate's own unit
    // test pins MIN_ENVELOPE_LEN to the same 37).
    const MIN_ENVELOPE_LEN: usize = wire::HEADER_LEN + 12 + wire::TAG_LEN;
    assert_eq!(MIN_ENVELOPE_LEN, 37);
    let hour = u32::try_from(T0 / HOUR).unwrap();
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let known = codec.ring().primary_id().get();
        let unknown = known ^ 0x8000_0001;
        for head in [
            wire::header(1, known, hour),
            wire::header(1, unknown, hour),
            wire::header(3, known, hour),
            wire::header(0, unknown, u32::MAX),
        ] {
            for len in 0..MIN_ENVELOPE_LEN {
                let mut raw = head.clone();
                raw.resize(len, 0xa5);
                let value = encode(&raw);
                assert_eq!(
                    refused_kind(&codec, &value, T0),
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
    let hour = u32::try_from(T0 / HOUR).unwrap();
    for algorithm in ALGORITHMS {
        let codec = codec(algorithm);
        let material = KeyMaterial::parse(&key(algorithm, 1).to_string());
        let head = wire::header(1, material.id, hour);
        let nonce = vec![0x42u8; algorithm.nonce_len()];
        let tag = wire::aead_seal(
            material.alg,
            &material.message_key(hour),
            &nonce,
            &wire::aad(&head, NAME, codec.schema_version()),
            &[],
        );
        assert_eq!(tag.len(), wire::TAG_LEN);
        let raw = [head.as_slice(), &nonce, &tag].concat();
        assert_eq!(
            raw.len(),
            wire::HEADER_LEN + algorithm.nonce_len() + wire::TAG_LEN
        );

        let authentic = encode(&raw);
        assert_eq!(
            refused_kind(&codec, &authentic, T0),
            K::Payload,
            "{algorithm:?}"
        );

        let mut forged = raw.clone();
        *forged.last_mut().unwrap() ^= 1;
        let forged = encode(&forged);
        assert_eq!(
            refused_kind(&codec, &forged, T0),
            K::Unauthentic,
            "{algorithm:?}"
        );

        let short = encode(&raw[..raw.len() - 1]);
        assert_eq!(
            refused_kind(&codec, &short, T0),
            K::Malformed,
            "{algorithm:?}"
        );
    }
}
