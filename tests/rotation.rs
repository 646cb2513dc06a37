//! Nonces, keys and rotation (SECURITY-TESTS B1-B5), plus rotation under concurrent load.
//!
//! Two `KeyRing` values stand for two server instances. Times are explicit `now` values.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sealed_session::{
    Algorithm, Codec, Key, KeyError, KeyId, KeyRing, OpenErrorKind, SessionError,
};
use sealed_session_unsafe_support::{fork_and_run, wait};

mod common;

use OpenErrorKind as K;
use common::wire;
use common::{
    ALGORITHMS, DAY, HOUR, MIN_MASTER_LEN, NAME, T0, header_key_id, key, key_bytes, meta, raw,
};

// ---------------------------------------------------------------------------------------------
// B1 nonce uniqueness, B2 fork safety
// ---------------------------------------------------------------------------------------------

#[test]
fn a_million_seals_never_repeat_a_nonce() {
    let codec = Codec::new(KeyRing::new(key(Algorithm::Aes256Gcm, 1)));
    let count = 1usize << 20;
    let mut nonces: HashSet<[u8; 12]> = HashSet::with_capacity(count);
    let mut buf = Vec::with_capacity(128);
    for _ in 0..count {
        let value = codec.seal(NAME, &meta(T0), &0u8, T0).unwrap().value;
        buf.clear();
        URL_SAFE_NO_PAD.decode_vec(&value, &mut buf).unwrap();
        assert!(
            nonces.insert(buf[9..21].try_into().unwrap()),
            "nonce repeated"
        );
    }
    assert_eq!(nonces.len(), count);

    // XChaCha20's 24-byte nonces, fewer of them.
    let codec = Codec::new(KeyRing::new(key(Algorithm::XChaCha20Poly1305, 1)));
    let mut nonces: HashSet<[u8; 24]> = HashSet::new();
    for _ in 0..1 << 16 {
        let value = codec.seal(NAME, &meta(T0), &0u8, T0).unwrap().value;
        assert!(nonces.insert(raw(&value)[9..33].try_into().unwrap()));
    }
}

/// Seals `count` values and returns their AES-GCM nonces.
fn nonces(codec: &Codec, count: usize) -> Vec<[u8; 12]> {
    (0..count)
        .map(|_| {
            let value = codec.seal(NAME, &meta(T0), &0u8, T0).unwrap().value;
            raw(&value)[9..21].try_into().unwrap()
        })
        .collect()
}

/// Test plan: SECURITY-TESTS.md B2.
#[test]
fn forked_children_never_replay_the_parents_nonces() {
    const CHILDREN: usize = 8;
    const PER_CHILD: usize = 1000;
    let codec = Codec::new(KeyRing::new(key(Algorithm::Aes256Gcm, 2)));
    // The parent seals first, so its thread's generator is seeded and warm before the fork.
    let mut all: Vec<[u8; 12]> = nonces(&codec, PER_CHILD);

    let mut children = Vec::new();
    for _ in 0..CHILDREN {
        // A socket pair rather than `std::io::pipe` (Rust 1.87, after the MSRV): the same
        // end-of-file once the child's end is closed.
        let (mut reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let child_codec = codec.clone();
        let pid = fork_and_run(move || {
            let bytes: Vec<u8> = nonces(&child_codec, PER_CHILD).concat();
            // 12,000 bytes fit in a socket buffer: the write cannot block on the parent.
            match writer.write_all(&bytes) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
        .unwrap();
        // The parent's copy of the write end was moved into the (dropped) closure, so reading
        // to the end finishes when the child exits.
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).unwrap();
        children.push((pid, bytes));
    }
    for (pid, bytes) in children {
        assert_eq!(wait(pid).unwrap(), 0, "child {pid} failed");
        assert_eq!(bytes.len(), PER_CHILD * 12);
        all.extend(
            bytes
                .chunks_exact(12)
                .map(|c| <[u8; 12]>::try_from(c).unwrap()),
        );
    }
    // And the parent after the forks.
    all.extend(nonces(&codec, PER_CHILD));

    let distinct: HashSet<[u8; 12]> = all.iter().copied().collect();
    assert_eq!(all.len(), (CHILDREN + 2) * PER_CHILD);
    assert_eq!(distinct.len(), all.len(), "a nonce repeated across fork");
}

// ---------------------------------------------------------------------------------------------
// B3 nonce budget: hourly message keys and the hour window
// ---------------------------------------------------------------------------------------------

/// The message key of (key string, hour), from the specification: HKDF-SHA256(salt =
/// "sealed-session/v1/message-key", ikm = key, info = alg code || key id BE || hour BE).
fn message_key(key_string: &str, hour: u32) -> (Algorithm, [u8; 32]) {
    let parts: Vec<&str> = key_string.split('.').collect();
    let (algorithm, code) = match parts[1] {
        "aes-256-gcm" => (Algorithm::Aes256Gcm, 1u8),
        "xchacha20-poly1305" => (Algorithm::XChaCha20Poly1305, 2),
        other => panic!("{other}"),
    };
    let id = u32::from_str_radix(parts[2], 16).unwrap();
    let ikm = URL_SAFE_NO_PAD.decode(parts[3]).unwrap();
    let mut info = vec![code];
    info.extend_from_slice(&id.to_be_bytes());
    info.extend_from_slice(&hour.to_be_bytes());
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(b"sealed-session/v1/message-key"), &ikm)
        .expand(&info, &mut okm)
        .unwrap();
    (algorithm, okm)
}

/// Opens an envelope with a raw message key (the AAD is the envelope's own header), with the
/// reference implementation.
fn open_with_message_key(
    (algorithm, message_key): (Algorithm, [u8; 32]),
    value: &str,
    schema: u32,
) -> Option<Vec<u8>> {
    let alg = match algorithm {
        Algorithm::Aes256Gcm => wire::Alg::Aes,
        _ => wire::Alg::XChaCha,
    };
    wire::open_with_message_key(alg, &message_key, NAME, schema, &raw(value)).map(|o| o.plaintext)
}

/// Test plan: SECURITY-TESTS.md B3.
#[test]
fn every_hour_has_its_own_message_key() {
    for algorithm in ALGORITHMS {
        let key = key(algorithm, 3);
        let key_string = key.to_string();
        let codec = Codec::new(KeyRing::new(key));
        let h = u32::try_from(T0 / HOUR).unwrap();
        let in_h = codec
            .seal(NAME, &meta(T0), &7u8, T0 + HOUR - 1)
            .unwrap()
            .value;
        let in_h1 = codec.seal(NAME, &meta(T0), &7u8, T0 + HOUR).unwrap().value;
        assert_eq!(raw(&in_h)[5..9], h.to_be_bytes());
        assert_eq!(raw(&in_h1)[5..9], (h + 1).to_be_bytes());
        let key_h = message_key(&key_string, h);
        let key_h1 = message_key(&key_string, h + 1);
        assert_ne!(key_h.1, key_h1.1);
        // Each envelope opens with its own hour's message key (the derivation matches the
        // specification) and not with the other hour's.
        assert!(open_with_message_key(key_h, &in_h, 0).is_some());
        assert!(open_with_message_key(key_h1, &in_h1, 0).is_some());
        assert!(open_with_message_key(key_h, &in_h1, 0).is_none());
        assert!(open_with_message_key(key_h1, &in_h, 0).is_none());
        // Nor with the ring key itself.
        let ring_key: [u8; 32] = URL_SAFE_NO_PAD
            .decode(key_string.rsplit('.').next().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert!(open_with_message_key((algorithm, ring_key), &in_h, 0).is_none());
        // A thousand hours, a thousand different message keys.
        let keys: HashSet<[u8; 32]> = (h..h + 1000)
            .map(|hour| message_key(&key_string, hour).1)
            .collect();
        assert_eq!(keys.len(), 1000);
    }
}

/// Test plan: SECURITY-TESTS.md B3.
#[test]
fn a_seal_opens_only_inside_its_lifetime_window() {
    for algorithm in ALGORITHMS {
        let codec = Codec::new(KeyRing::new(key(algorithm, 4))); // idle 1 day, skew 60 s
        let sealed_at = T0 + 1234;
        let sealed = codec.seal(NAME, &meta(sealed_at), &1u8, sealed_at).unwrap();
        // Every 10 minutes of its lifetime, it opens.
        let mut now = sealed_at;
        while now < sealed.expires {
            assert!(codec.open::<u8>(NAME, &sealed.value, now).is_ok(), "{now}");
            now += 600;
        }
        assert!(
            codec
                .open::<u8>(NAME, &sealed.value, sealed.expires - 1)
                .is_ok()
        );
        assert_eq!(
            codec
                .open::<u8>(NAME, &sealed.value, sealed.expires)
                .unwrap_err()
                .kind(),
            K::Expired
        );
        // Before its hour (beyond the skew) and after the window: refused before derivation.
        for now in [
            T0 - 61,
            T0 - HOUR,
            0,
            T0 + DAY + HOUR,
            T0 + 30 * DAY,
            u64::MAX,
        ] {
            assert_eq!(
                codec
                    .open::<u8>(NAME, &sealed.value, now)
                    .unwrap_err()
                    .kind(),
                K::OutsideWindow,
                "{now}"
            );
        }
        // Within the skew before its hour: the window reaches it (and `created` is within the
        // skew too).
        assert!(
            codec
                .open::<u8>(NAME, &sealed.value, sealed_at - 60)
                .is_ok()
        );
    }
}

/// Test plan: SECURITY-TESTS.md B3.
#[test]
fn hours_outside_the_window_are_refused_before_derivation() {
    for algorithm in ALGORITHMS {
        let key = key(algorithm, 5);
        let id = key.id();
        let codec = Codec::new(KeyRing::new(key));
        let now = T0;
        let h = u32::try_from(now / HOUR).unwrap();
        // A real header for `hour` and garbage after it.
        let open_garbage = |hour: u32| {
            let mut envelope = vec![1u8];
            envelope.extend_from_slice(&id.get().to_be_bytes());
            envelope.extend_from_slice(&hour.to_be_bytes());
            envelope.extend([0xa5; 48]);
            codec
                .open::<u8>(NAME, &URL_SAFE_NO_PAD.encode(&envelope), now)
                .unwrap_err()
        };
        for hour in [0, 1, h - 25, h + 1, h + 2, h + 1000, u32::MAX] {
            // Had a key been derived and used, this would be Unauthentic (or Malformed), not
            // OutsideWindow.
            let error = open_garbage(hour);
            assert_eq!(error.kind(), K::OutsideWindow, "hour {hour}");
            assert_eq!(error.key_id(), Some(id));
        }
        // Inside the window the same garbage reaches the AEAD.
        for hour in [h - 24, h] {
            assert_eq!(open_garbage(hour).kind(), K::Unauthentic, "hour {hour}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// B4 key hygiene
// ---------------------------------------------------------------------------------------------

#[test]
fn keys_of_the_wrong_length_are_refused() {
    for algorithm in ALGORITHMS {
        for len in (0..=64).filter(|len| *len != 32) {
            let bytes: Vec<u8> = (0..len).map(|i| u8::try_from(i).unwrap()).collect();
            assert_eq!(
                Key::from_bytes(algorithm, &bytes).unwrap_err(),
                KeyError::Length { len }
            );
        }
        assert_eq!(
            Key::from_bytes(algorithm, &[7u8; 1000]).unwrap_err(),
            KeyError::Length { len: 1000 }
        );
    }
}

/// Test plan: SECURITY-TESTS.md B4.
#[test]
fn all_equal_keys_are_refused() {
    for algorithm in ALGORITHMS {
        for byte in 0..=u8::MAX {
            assert_eq!(
                Key::from_bytes(algorithm, &[byte; 32]).unwrap_err(),
                KeyError::Weak
            );
        }
        // One differing byte anywhere is enough to be accepted.
        for i in 0..32 {
            let mut bytes = [0u8; 32];
            bytes[i] = 1;
            assert!(Key::from_bytes(algorithm, &bytes).is_ok());
        }
        // Through key strings too.
        let zeros = format!("ssk1.{}.00000001.{}", algorithm.name(), "A".repeat(43));
        assert_eq!(zeros.parse::<Key>().unwrap_err(), KeyError::Weak);
        let ring = format!("{}, {zeros}", key(algorithm, 1));
        assert_eq!(ring.parse::<KeyRing>().unwrap_err(), KeyError::Weak);
    }
}

/// Test plan: SECURITY-TESTS.md B4.
#[test]
fn short_master_secrets_are_refused() {
    for algorithm in ALGORITHMS {
        for len in 0..MIN_MASTER_LEN {
            let master = vec![0x5c; len];
            assert_eq!(
                Key::derive(algorithm, &master, b"ctx").unwrap_err(),
                KeyError::MasterTooShort { len }
            );
        }
        let master = [0x5c; MIN_MASTER_LEN];
        let a = Key::derive(algorithm, &master, b"sessions 2026-11").unwrap();
        let again = Key::derive(algorithm, &master, b"sessions 2026-11").unwrap();
        let b = Key::derive(algorithm, &master, b"sessions 2026-12").unwrap();
        assert_eq!(a, again);
        assert_ne!(a.id(), b.id());
        assert!(a != b);
    }
    // The two algorithms derive unrelated keys from one master and context.
    let master = [9u8; 48];
    let aes = Key::derive(Algorithm::Aes256Gcm, &master, b"c").unwrap();
    let xchacha = Key::derive(Algorithm::XChaCha20Poly1305, &master, b"c").unwrap();
    assert_ne!(
        aes.to_string().rsplit('.').next(),
        xchacha.to_string().rsplit('.').next()
    );
}

/// Test plan: SECURITY-TESTS.md B4.
#[test]
fn key_strings_are_strict() {
    for algorithm in ALGORITHMS {
        let key = key(algorithm, 7);
        let text = key.to_string();
        let parsed: Key = text.parse().unwrap();
        assert_eq!(parsed, key);
        let secret = text.rsplit('.').next().unwrap().to_string();
        let id = key.id().to_string();
        let name = algorithm.name();
        // The last of 43 characters carries 2 unused bits: any alias of it is refused.
        let last = secret.chars().last().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.find(last).unwrap();
        for extra in 1..4 {
            let mut alias = secret.clone();
            alias.pop();
            alias.push(alphabet.as_bytes()[index | extra] as char);
            assert!(format!("ssk1.{name}.{id}.{alias}").parse::<Key>().is_err());
        }
        for bad in [
            String::new(),
            format!("ssk2.{name}.{id}.{secret}"),
            format!("SSK1.{name}.{id}.{secret}"),
            format!("ssk1.aes-128-gcm.{id}.{secret}"),
            format!("ssk1.{name}.{}.{secret}", &id[1..]),
            format!("ssk1.{name}.+{}.{secret}", &id[1..]),
            format!("ssk1.{name}.{id}0.{secret}"),
            format!("ssk1.{name}.{id}.{}", &secret[1..]),
            format!("ssk1.{name}.{id}.{secret}A"),
            format!("ssk1.{name}.{id}.{secret}="),
            format!(
                "ssk1.{name}.{id}.{}",
                secret.replace('-', "+").replace('_', "/")
            ),
            format!("ssk1.{name}.{id}.{secret}.extra"),
            format!(" ssk1.{name}.{id}.{secret}"),
            format!("ssk1.{name}.{id}"),
        ] {
            if bad != text {
                assert!(bad.parse::<Key>().is_err(), "{bad:?} parsed");
            }
        }
        // A key ring list: commas and/or whitespace, primary first.
        let other = super_key(algorithm);
        let list = format!(" {text},\n\t{other} ,");
        let ring: KeyRing = list.parse().unwrap();
        assert_eq!(ring.ids(), vec![key.id(), other.id()]);
        assert_eq!("".parse::<KeyRing>().unwrap_err(), KeyError::EmptyRing);
        assert_eq!(" , ".parse::<KeyRing>().unwrap_err(), KeyError::EmptyRing);
        // Two different keys under one id (set explicitly on the second, or it would not
        // parse at all: an unmarked id must be the derived one).
        let clash = format!(
            "{text},ssk1.{name}.={id}.{}",
            URL_SAFE_NO_PAD.encode(key_bytes(8))
        );
        assert_eq!(
            clash.parse::<KeyRing>().unwrap_err(),
            KeyError::DuplicateId { id: key.id() }
        );
    }
}

/// Test plan: SECURITY-TESTS.md B4.
#[test]
fn keys_zeroize_on_drop() {
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<Key>();
}

/// Every rendering of the canary that a leak could take.
fn forbidden_renderings(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", &secret[..6]);
    vec![
        String::from_utf8_lossy(&secret[..12]).into_owned(),
        hex.clone(),
        hex.to_uppercase(),
        hex[..16].to_string(),
        URL_SAFE_NO_PAD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret)[..12].to_string(),
        base64::engine::general_purpose::STANDARD.encode(secret),
        decimal[1..decimal.len() - 1].to_string(),
    ]
}

#[track_caller]
fn assert_clean(what: &str, rendered: &str, forbidden: &[String]) {
    for needle in forbidden {
        assert!(
            !rendered.contains(needle.as_str()),
            "{what} leaks {needle:?}: {rendered}"
        );
    }
}

/// Test plan: SECURITY-TESTS.md B4.
#[test]
fn debug_and_display_never_show_secrets() {
    #[derive(serde::Serialize, serde::Deserialize, Clone)]
    struct Secretive {
        token: String,
    }
    let key_canary: [u8; 32] = *b"CANARY-KEY-0123456789abcdefghijk";
    let data_canary = "CANARY-DATA-session-field-42";
    for algorithm in ALGORITHMS {
        let key = Key::from_bytes(algorithm, &key_canary).unwrap();
        let mut forbidden = forbidden_renderings(&key_canary);
        forbidden.push(data_canary.to_string());
        forbidden.push("CANARY".to_string());

        let key_string = key.to_string();
        // The key string does hold the bytes (it is meant for the secret store)...
        assert!(key_string.contains(&URL_SAFE_NO_PAD.encode(key_canary)));
        // ...but Debug must not.
        assert_clean("Key", &format!("{key:?} {key:#?}"), &forbidden);

        let ring = KeyRing::from_keys([key, super_key(algorithm)]).unwrap();
        assert_clean("KeyRing", &format!("{ring:?} {ring:#?}"), &forbidden);
        let codec = Codec::new(ring.clone());
        assert_clean("Codec", &format!("{codec:?} {codec:#?}"), &forbidden);

        let data = Secretive {
            token: data_canary.into(),
        };
        let sealed = codec.seal(NAME, &meta(T0), &data, T0).unwrap();
        let mut with_value = forbidden.clone();
        with_value.push(sealed.value.clone());
        with_value.push(sealed.value[..20].to_string());
        assert_clean("Sealed", &format!("{sealed:?} {sealed:#?}"), &with_value);
        let opened = codec.open::<Secretive>(NAME, &sealed.value, T0).unwrap();
        assert_eq!(opened.data.token, data_canary);
        assert_clean("Opened", &format!("{opened:?} {opened:#?}"), &with_value);

        // Errors of every kind.
        let mut errors: Vec<String> = Vec::new();
        for value in [
            String::new(),
            "!".repeat(5000),
            sealed.value.replace('A', "B"),
            format!("{}x", sealed.value),
            sealed.value.clone(),
        ] {
            for (name, now) in [("other", T0), (NAME, T0 + 30 * DAY), (NAME, T0 + DAY)] {
                if let Err(e) = codec.open::<Secretive>(name, &value, now) {
                    errors.push(format!("{e:?} {e} {:?} {}", e.kind(), e.kind()));
                }
            }
        }
        assert!(errors.len() >= 10);
        let too_large = Codec::new(ring)
            .seal(NAME, &meta(T0), &vec![data_canary; 1000], T0)
            .unwrap_err();
        assert!(matches!(too_large, SessionError::TooLarge { .. }));
        errors.push(format!("{too_large:?} {too_large}"));
        for error in [
            Key::from_bytes(algorithm, &key_canary[..31]).unwrap_err(),
            Key::from_bytes(algorithm, &[0x43; 32]).unwrap_err(),
            Key::derive(algorithm, &key_canary[..20], b"ctx").unwrap_err(),
            format!("{}x", key_string).parse::<Key>().unwrap_err(),
            key_string
                .replace("ssk1", "ssk2")
                .parse::<Key>()
                .unwrap_err(),
        ] {
            errors.push(format!("{error:?} {error}"));
        }
        for error in &errors {
            assert_clean("error", error, &with_value);
        }
    }
}

/// A second, unrelated key for rings in the hygiene test.
fn super_key(algorithm: Algorithm) -> Key {
    key(algorithm, 99)
}

// ---------------------------------------------------------------------------------------------
// B5 rotation on a fleet of two instances
// ---------------------------------------------------------------------------------------------

struct Cookie {
    value: String,
    key: KeyId,
    expires: u64,
    data: u32,
}

/// Every live cookie opens on every instance.
#[track_caller]
fn all_open(instances: &[&Codec], cookies: &[Cookie], now: u64) {
    for cookie in cookies.iter().filter(|c| now < c.expires) {
        for codec in instances {
            let opened = codec
                .open::<u32>(NAME, &cookie.value, now)
                .unwrap_or_else(|e| panic!("in-lifetime cookie refused: {e:?}"));
            assert_eq!(opened.data, cookie.data);
            assert_eq!(opened.key_id, cookie.key);
            assert_eq!(opened.by_primary, codec.ring().primary_id() == cookie.key);
        }
    }
}

fn issue(codec: &Codec, cookies: &mut Vec<Cookie>, now: u64) {
    let data = u32::try_from(cookies.len()).unwrap();
    let sealed = codec.seal(NAME, &meta(now), &data, now).unwrap();
    cookies.push(Cookie {
        key: header_key_id(&sealed.value),
        value: sealed.value,
        expires: sealed.expires,
        data,
    });
}

/// Test plan: SECURITY-TESTS.md B5.
#[test]
fn three_phase_rotation_on_two_staggered_instances() {
    for (old_alg, new_alg) in [
        (Algorithm::Aes256Gcm, Algorithm::Aes256Gcm),
        (Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305),
        (Algorithm::XChaCha20Poly1305, Algorithm::Aes256Gcm),
    ] {
        let old_id = key(old_alg, 10).id();
        let new_id = key(new_alg, 11).id();
        let one = Codec::new(KeyRing::new(key(old_alg, 10)));
        let two = Codec::new(KeyRing::new(key(old_alg, 10)));
        let both = [&one, &two];
        let mut cookies = Vec::new();
        let mut now = T0;
        let step = |cookies: &mut Vec<Cookie>, now: &mut u64| {
            *now += 10 * 60;
            issue(&one, cookies, *now);
            issue(&two, cookies, *now);
            all_open(&both, cookies, *now);
        };
        step(&mut cookies, &mut now);

        // Phase 1: insert the new key everywhere, one instance at a time.
        one.ring().insert(key(new_alg, 11)).unwrap();
        step(&mut cookies, &mut now);
        two.ring().insert(key(new_alg, 11)).unwrap();
        two.ring().insert(key(new_alg, 11)).unwrap(); // a repeated script step is harmless
        step(&mut cookies, &mut now);
        assert!(
            cookies.iter().all(|c| c.key == old_id),
            "nobody seals with it yet"
        );

        // Phase 2: promote it everywhere, one instance at a time.
        one.ring().promote(new_id).unwrap();
        step(&mut cookies, &mut now);
        assert_eq!(cookies.last().unwrap().key, old_id);
        assert_eq!(cookies[cookies.len() - 2].key, new_id);
        two.ring().promote(new_id).unwrap();
        step(&mut cookies, &mut now);
        assert!(cookies.iter().rev().take(2).all(|c| c.key == new_id));

        // An old cookie opened now is not by the primary; re-sealing moves it to the new key.
        let old = cookies.iter().find(|c| c.key == old_id).unwrap();
        for codec in both {
            let opened = codec.open::<u32>(NAME, &old.value, now).unwrap();
            assert!(!opened.by_primary);
            assert_eq!(opened.key_id, old_id);
            let resealed = codec.seal(NAME, &opened.meta, &opened.data, now).unwrap();
            let again = codec.open::<u32>(NAME, &resealed.value, now).unwrap();
            assert_eq!(again.key_id, new_id);
            assert!(again.by_primary);
            assert_eq!(again.meta, opened.meta);
        }

        // Phase 3: retire the old key (here while its cookies still live, to show they are
        // refused as unknown, not merely expired).
        let live_old: Vec<&Cookie> = cookies
            .iter()
            .filter(|c| c.key == old_id && now < c.expires)
            .collect();
        assert!(live_old.len() >= 6);
        one.ring().retire(old_id).unwrap();
        two.ring().retire(old_id).unwrap();
        assert_eq!(one.ring().ids(), vec![new_id]);
        for cookie in &live_old {
            for codec in both {
                let error = codec.open::<u32>(NAME, &cookie.value, now).unwrap_err();
                assert_eq!(error.kind(), K::UnknownKey);
                assert_eq!(error.key_id(), Some(old_id));
            }
        }
        let new_cookies: Vec<Cookie> = cookies.into_iter().filter(|c| c.key == new_id).collect();
        all_open(&both, &new_cookies, now);
        // Retiring twice, or retiring the primary, is an error that changes nothing.
        assert_eq!(
            one.ring().retire(old_id),
            Err(KeyError::NoSuchKey { id: old_id })
        );
        assert_eq!(
            one.ring().retire(new_id),
            Err(KeyError::IsPrimary { id: new_id })
        );
        assert_eq!(one.ring().ids(), vec![new_id]);
    }
}

/// Test plan: SECURITY-TESTS.md B5.
#[test]
fn each_open_selects_one_key_by_id() {
    // Each open costs at most one AEAD open by construction: the header's key id selects one
    // ring key (no trial decryption) and its hour one message key. Observable consequences:
    // with a full ring, a value opens only under its own id, and anything naming an unknown
    // id is refused as UnknownKey without touching a key.
    let keys: Vec<Key> = (0..16u32)
        .map(|i| key(ALGORITHMS[usize::try_from(i % 2).unwrap()], 100 + i))
        .collect();
    let ids: Vec<KeyId> = keys.iter().map(Key::id).collect();
    let ring = KeyRing::from_keys(keys).unwrap();
    assert_eq!(ring.ids(), ids);
    assert_eq!(
        ring.insert(key(Algorithm::Aes256Gcm, 200)),
        Err(KeyError::RingFull { limit: 16 })
    );
    let codec = Codec::new(ring.clone());
    for (i, id) in ids.iter().enumerate() {
        ring.promote(*id).unwrap();
        let value = codec.seal(NAME, &meta(T0), &i, T0).unwrap().value;
        assert_eq!(header_key_id(&value), *id);
        let opened = codec.open::<usize>(NAME, &value, T0).unwrap();
        assert_eq!((opened.data, opened.key_id), (i, *id));
        // The same envelope relabelled with any other ring key's id fails authentication.
        for other in ids.iter().filter(|other| *other != id) {
            let mut envelope = raw(&value);
            envelope[1..5].copy_from_slice(&other.get().to_be_bytes());
            let kind = codec
                .open::<usize>(NAME, &URL_SAFE_NO_PAD.encode(&envelope), T0)
                .unwrap_err()
                .kind();
            assert!(matches!(kind, K::Unauthentic | K::Malformed), "{kind:?}");
        }
        // And with an id no key has: refused before any key is used.
        let mut envelope = raw(&value);
        let unknown = (1u32..).find(|n| !ids.contains(&KeyId::new(*n))).unwrap();
        envelope[1..5].copy_from_slice(&unknown.to_be_bytes());
        envelope.truncate(9 + 28); // too short to decrypt under any key
        let error = codec
            .open::<usize>(NAME, &URL_SAFE_NO_PAD.encode(&envelope), T0)
            .unwrap_err();
        assert_eq!(error.kind(), K::UnknownKey);
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation under load
// ---------------------------------------------------------------------------------------------

#[test]
fn rotation_under_concurrent_seal_and_open() {
    const WORKERS: u64 = 8;
    const ROTATIONS: u32 = 300;
    let ring = KeyRing::new(key(Algorithm::Aes256Gcm, 1000).with_id(KeyId::new(1000)));
    let codec = Codec::new(ring.clone());
    let done = Arc::new(AtomicBool::new(false));
    let seals = Arc::new(AtomicU64::new(0));
    // Bumped after each rotation; a worker seals at most 4 values per epoch, so the workers
    // cannot starve the rotator on a small machine.
    let epoch = Arc::new(AtomicU64::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let unknown = Arc::new(AtomicU64::new(0));

    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let codec = codec.clone();
            let done = Arc::clone(&done);
            let seals = Arc::clone(&seals);
            let epoch = Arc::clone(&epoch);
            let opened = Arc::clone(&opened);
            let unknown = Arc::clone(&unknown);
            thread::spawn(move || {
                let mut n = 0u64;
                let mut sealed_under = HashSet::new();
                let mut previous: Option<(String, u64)> = None;
                let (mut my_round, mut in_round) = (0, 0);
                while !done.load(Ordering::Acquire) {
                    let current = epoch.load(Ordering::Acquire);
                    if current != my_round {
                        (my_round, in_round) = (current, 0);
                    }
                    if in_round == 4 {
                        thread::yield_now();
                        continue;
                    }
                    in_round += 1;
                    let data = worker * 1_000_000 + n;
                    let now = T0 + n % HOUR;
                    let sealed = codec.seal(NAME, &meta(T0), &data, now).unwrap();
                    seals.fetch_add(1, Ordering::Release);
                    sealed_under.insert(header_key_id(&sealed.value));
                    // Open this value and the previous one (often sealed under an older
                    // primary).
                    for (value, expected) in [(sealed.value.as_str(), data)]
                        .into_iter()
                        .chain(previous.as_ref().map(|(v, d)| (v.as_str(), *d)))
                    {
                        match codec.open::<u64>(NAME, value, now) {
                            Ok(o) => {
                                assert_eq!(o.data, expected);
                                opened.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                // Only a retired key may refuse, and retired ids never return.
                                assert_eq!(e.kind(), K::UnknownKey, "{e:?}");
                                let id = e.key_id().unwrap();
                                assert!(!codec.ring().contains(id), "{id} is in the ring");
                                unknown.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    previous = Some((sealed.value, data));
                    n += 1;
                }
                (n, sealed_under)
            })
        })
        .collect();

    // The rotator: a new primary each round (alternating algorithms), at most three keys kept.
    // After each rotation it opens a new epoch (up to 4 x WORKERS seals) and waits for
    // 2 x WORKERS of them: at most WORKERS were in flight before the rotation, so every primary
    // seals some values. It stops waiting if a worker died, so a failed assertion there fails
    // the test (at the join below) instead of hanging it.
    let next_epoch = || {
        let target = seals.load(Ordering::Acquire) + 2 * WORKERS;
        epoch.fetch_add(1, Ordering::Release);
        while seals.load(Ordering::Acquire) < target {
            if workers.iter().any(thread::JoinHandle::is_finished) {
                break;
            }
            thread::yield_now();
        }
    };
    next_epoch();
    for round in 1..=ROTATIONS {
        let algorithm = ALGORITHMS[usize::try_from(round % 2).unwrap()];
        let id = KeyId::new(1000 + round);
        if round % 3 == 0 {
            ring.insert(key(algorithm, 1000 + round).with_id(id))
                .unwrap();
            thread::yield_now();
            ring.promote(id).unwrap();
        } else {
            ring.rotate(key(algorithm, 1000 + round).with_id(id))
                .unwrap();
        }
        while ring.ids().len() > 3 {
            let oldest = *ring.ids().last().unwrap();
            ring.retire(oldest).unwrap();
        }
        next_epoch();
    }
    done.store(true, Ordering::Release);
    let mut rounds = 0;
    let mut sealed_under = HashSet::new();
    for worker in workers {
        let (n, ids) = worker.join().unwrap();
        rounds += n;
        sealed_under.extend(ids);
    }
    assert!(rounds >= (u64::from(ROTATIONS) + 1) * 2 * WORKERS);
    assert_eq!(
        opened.load(Ordering::Relaxed) + unknown.load(Ordering::Relaxed),
        rounds * 2 - WORKERS
    );
    // Traffic really ran across the rotations: every primary sealed.
    assert_eq!(sealed_under.len(), usize::try_from(ROTATIONS).unwrap() + 1);
    assert_eq!(ring.primary_id(), KeyId::new(1000 + ROTATIONS));
    assert_eq!(ring.ids().len(), 3);
}

/// Retiring and revoking settle the primary at the time the caller gives, not the system
/// clock: the key a scheduled key replaces is the primary until the activation time, and can
/// be retired (or revoked) only after it.
#[test]
fn retire_and_revoke_settle_the_primary_at_the_time_given() {
    let activates = 2_000_000_000;
    for revoke in [false, true] {
        let old = Key::generate(Algorithm::Aes256Gcm);
        let old_id = old.id();
        let ring = KeyRing::new(old);
        ring.schedule(Key::generate(Algorithm::Aes256Gcm), activates)
            .unwrap();
        let act = |now| {
            if revoke {
                ring.revoke_at(old_id, now)
            } else {
                ring.retire_at(old_id, now)
            }
        };
        assert_eq!(act(activates - 1), Err(KeyError::IsPrimary { id: old_id }));
        assert!(ring.contains(old_id));
        act(activates + 1).unwrap();
        assert_eq!(ring.status_at(old_id, activates + 1).is_some(), revoke);
    }
}

// ---------------------------------------------------------------------------------------------
// H4 rings that never weaken (RT3-4): ring files on disk
// ---------------------------------------------------------------------------------------------

/// A directory of its own under the system's temporary directory, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sealed-session-rotation-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A ring's observable strength at `now`: which keys open, which seals, the not-before time.
fn strength(ring: &KeyRing, ids: &[KeyId], now: u64) -> (Vec<bool>, KeyId, Option<u64>) {
    (
        ids.iter().map(|&id| ring.contains(id)).collect(),
        ring.primary_id_at(now),
        ring.not_before(),
    )
}

/// RT3-4 (a): a real ring file cut at every byte, as a reader could catch it mid-write: no cut
/// point loads (the ring keeps its strength: the revoked key stays revoked, the pending key
/// does not seal, not-before stays); the whole file loads. On 0.2 (the same file without the
/// `end` line, which 0.2 did not know) 20 of 29 line-boundary cut points loaded a weaker ring.
/// Test plan: SECURITY-TESTS.md H4.
#[test]
fn a_ring_file_cut_at_any_byte_never_loads() {
    let dir = Scratch::new("torn");
    let path = dir.path("session.keys");
    let [pending, primary, revoked] = [
        Key::generate(Algorithm::Aes256Gcm),
        Key::generate(Algorithm::XChaCha20Poly1305),
        Key::generate(Algorithm::Aes256Gcm),
    ];
    let ids = [pending.id(), primary.id(), revoked.id()];
    let text = format!(
        "# session.keys\n{pending} activate=4102444800\n{primary}\n{revoked} revoked\nnot-before={}\nend\n",
        T0 - HOUR
    );
    std::fs::write(&path, &text).unwrap();
    let ring = KeyRing::from_file(&path).unwrap();
    let before = strength(&ring, &ids, T0);
    assert_eq!(
        before,
        (vec![true, true, false], primary.id(), Some(T0 - HOUR))
    );
    let whole = text.trim_end().len();
    for cut in 0..text.len() {
        std::fs::write(&path, &text.as_bytes()[..cut]).unwrap();
        let loaded = ring.reload_file(&path, T0);
        assert_eq!(loaded.is_ok(), cut >= whole, "cut at {cut}: {loaded:?}");
        assert_eq!(strength(&ring, &ids, T0), before, "cut at {cut}");
        if cut < whole {
            assert!(
                KeyRing::from_file(&path).is_err(),
                "from_file, cut at {cut}"
            );
        }
    }
}

/// RT3-4 (b): reads are bounded and of regular files only: a file over 64 KiB, a symlink to
/// `/dev/zero`, a FIFO and a directory are refused at once, naming the path (0.2 read the big
/// file whole, read `/dev/zero` until memory ran out and blocked on the FIFO for ever).
/// Test plan: SECURITY-TESTS.md H4.
#[test]
fn ring_file_reads_are_bounded_and_of_regular_files_only() {
    let dir = Scratch::new("reads");
    let key = Key::generate(Algorithm::Aes256Gcm);
    let ring: KeyRing = key.to_string().parse().unwrap();
    // Just over the limit (a comment), and far over it.
    for len in [64 * 1024 + 1, 32 << 20] {
        let big = dir.path("big.keys");
        let mut text = format!("{key}\n#");
        text.extend(std::iter::repeat_n('x', len - text.len() - 5));
        text.push_str("\nend\n");
        assert_eq!(text.len(), len);
        std::fs::write(&big, &text).unwrap();
        let error = KeyRing::from_file(&big).unwrap_err();
        assert_eq!(
            error,
            KeyError::File {
                path: big.clone(),
                kind: std::io::ErrorKind::FileTooLarge
            }
        );
        assert!(error.to_string().contains("big.keys"), "{error}");
        assert!(ring.reload_file(&big, T0).is_err());
    }
    // At the limit: read.
    let exact = dir.path("exact.keys");
    let mut text = format!("{key}\nend\n#");
    text.extend(std::iter::repeat_n('x', 64 * 1024 - text.len()));
    std::fs::write(&exact, &text).unwrap();
    assert!(KeyRing::from_file(&exact).is_ok());

    let zero = dir.path("zero.keys");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.path("fifo.keys");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let folder = dir.path("folder.keys");
    std::fs::create_dir(&folder).unwrap();
    for path in [&zero, &fifo, &folder] {
        assert_eq!(
            KeyRing::from_file(path).unwrap_err(),
            KeyError::NotAFile { path: path.clone() }
        );
        assert!(ring.reload_file(path, T0).is_err());
    }
    // A missing file names its path.
    let missing = dir.path("missing.keys");
    let error = KeyRing::from_file(&missing).unwrap_err();
    assert!(error.to_string().contains("missing.keys"), "{error}");
    // Not UTF-8: refused (the bytes were read into a buffer that is wiped).
    let latin = dir.path("latin.keys");
    std::fs::write(
        &latin,
        [format!("{key}\n").as_bytes(), b"\xe9\nend\n"].concat(),
    )
    .unwrap();
    assert!(matches!(
        KeyRing::from_file(&latin),
        Err(KeyError::InFile { error, .. }) if matches!(*error, KeyError::RingText { line: 0, .. })
    ));
    assert_eq!(ring.ids(), vec![key.id()]);
}

/// F6: a file's text error names the file and the line.
#[test]
fn ring_file_errors_name_the_path_and_the_line() {
    let dir = Scratch::new("errors");
    let path = dir.path("session.keys");
    let key = Key::generate(Algorithm::Aes256Gcm);
    std::fs::write(&path, format!("{key}\nhunter2\nend\n")).unwrap();
    let error = KeyRing::from_file(&path).unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.contains("session.keys") && shown.contains("line 2"),
        "{shown}"
    );
    assert!(shown.contains("cargo run --example keygen"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    // A 0.2 file (no `end`): refused with the fix.
    std::fs::write(&path, format!("{key}\n")).unwrap();
    let shown = KeyRing::from_file(&path).unwrap_err().to_string();
    assert!(shown.contains("echo end >>"), "{shown}");
}

/// RT3-4 (d): a zero poll interval is refused (0.2 spun a core on it).
/// Test plan: SECURITY-TESTS.md H4.
#[test]
fn a_zero_watch_interval_is_refused() {
    let ring = KeyRing::new(Key::generate(Algorithm::Aes256Gcm));
    assert_eq!(
        ring.watch_file("/nonexistent/session.keys", std::time::Duration::ZERO)
            .unwrap_err(),
        KeyError::ZeroInterval
    );
}
