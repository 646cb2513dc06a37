//! Frozen vectors for wire format v1 (SECURITY-TESTS A8).
//!
//! `tests/vectors/v1.json` holds valid and invalid sealed values. Every valid one is
//! recomputed byte for byte by an independent implementation of the format written in this
//! file from the specification in DESIGN.md (it calls no crate internals, only the RustCrypto
//! primitives), then opened by the crate's public [`Codec`]; every invalid one must be refused
//! by the crate with the recorded [`OpenErrorKind`]. The file is append-only: vectors of every
//! released format version keep opening forever.
//!
//! `generate_vectors` (ignored) prints the JSON the file was made from (reusing the frozen
//! crate-sealed cookies), and a test checks that it reproduces the file byte for byte:
//! `cargo test --test vectors -- --ignored --nocapture generate_vectors`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use sealed_session::{Algorithm, Codec, Key, KeyRing, OpenErrorKind, SessionId, SessionMeta};
use serde::{Deserialize, Serialize};

/// The vector file.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    format_version: u8,
    description: Vec<String>,
    /// Key ids derived from key bytes (when no id is given), frozen so that every instance
    /// keeps deriving the same id.
    key_ids: Vec<KeyIdVector>,
    valid: Vec<ValidVector>,
    invalid: Vec<InvalidVector>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct KeyIdVector {
    algorithm: String,
    key_hex: String,
    id: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct ValidVector {
    label: String,
    /// The key string that sealed.
    key: String,
    /// The ring that opens (key strings, primary first).
    ring: Vec<String>,
    nonce: String,
    hour: u32,
    name: String,
    schema: u32,
    id: String,
    created: u64,
    expires: u64,
    data: Profile,
    /// When the vector is opened (Unix seconds), and with which codec settings.
    now: u64,
    idle_timeout: u64,
    max_lifetime: u64,
    clock_skew: u64,
    by_primary: bool,
    sealed: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct InvalidVector {
    label: String,
    class: String,
    /// How the value was made.
    note: String,
    ring: Vec<String>,
    name: String,
    schema: u32,
    now: u64,
    idle_timeout: u64,
    max_lifetime: u64,
    clock_skew: u64,
    max_value_len: usize,
    sealed: String,
    /// `OpenErrorKind::as_str` of the expected refusal.
    error: String,
}

const VECTOR_FILE: &str = include_str!("vectors/v1.json");

/// 2025-11-24T16:00:00Z: hour 490000.
const T0: u64 = 1_764_000_000;
const DAY: u64 = 24 * 3600;
const IDLE: u64 = DAY;
const MAX: u64 = 7 * DAY;
const SKEW: u64 = 60;
const MAX_VALUE_LEN: usize = 4096;

mod common;

use common::wire::{
    self, Alg, KeyMaterial, Profile, counting_bytes, crate_key, hex, profile, test_key, unhex,
};

fn load() -> VectorFile {
    serde_json::from_str(VECTOR_FILE).expect("tests/vectors/v1.json parses")
}

/// The ring of a vector. 0.2 refuses one key under two ids in one ring (SECURITY-TESTS F10);
/// the one v1 vector that had such a ring (`key_id_changed`: the id is bound) keeps its point
/// on a ring holding only the second id, as another instance would.
fn ring_of(keys: &[String]) -> KeyRing {
    let mut kept: Vec<&String> = Vec::new();
    for text in keys {
        let bytes = KeyMaterial::parse(text).bytes;
        kept.retain(|other| KeyMaterial::parse(other).bytes != bytes);
        kept.push(text);
    }
    KeyRing::from_keys(kept.into_iter().map(|k| crate_key(k))).unwrap()
}

/// Version bytes that 0.1 did not read and 0.2 does: the v1 vectors labelled
/// `unknown_version` with one of them are still refused before any AEAD work, as a v2 header
/// whose flags or schema version this configuration does not accept.
const ASSIGNED_SINCE_V1: [u8; 1] = [2];

fn codec(
    ring: KeyRing,
    (idle, max, skew): (u64, u64, u64),
    schema: u32,
    max_value_len: usize,
) -> Codec {
    Codec::new(ring)
        .with_lifetimes(Duration::from_secs(idle), Duration::from_secs(max))
        .unwrap()
        .with_clock_skew(Duration::from_secs(skew))
        .unwrap()
        .with_schema_version(schema)
        .with_max_value_len(max_value_len)
        .unwrap()
}

/// Recomputes a valid vector's sealed string with the independent implementation.
fn recompute(v: &ValidVector) -> String {
    let key = KeyMaterial::parse(&v.key);
    let id: [u8; 16] = unhex(&v.id).try_into().unwrap();
    let plaintext = wire::plaintext(id, v.created, v.expires, &v.data);
    wire::encode(&wire::seal_raw(
        &key,
        v.hour,
        &v.name,
        v.schema,
        &unhex(&v.nonce),
        &plaintext,
    ))
}

#[test]
fn vector_file_has_enough_cases_of_every_kind() {
    let file = load();
    assert_eq!(file.format_version, 1);
    assert!(file.valid.len() >= 20, "{} valid vectors", file.valid.len());
    assert!(
        file.invalid.len() >= 20,
        "{} invalid vectors",
        file.invalid.len()
    );
    let mut labels = HashSet::new();
    for label in file
        .valid
        .iter()
        .map(|v| &v.label)
        .chain(file.invalid.iter().map(|v| &v.label))
    {
        assert!(labels.insert(label.clone()), "duplicate label {label}");
    }
    // Both algorithms, valid and invalid.
    for alg in [Alg::Aes, Alg::XChaCha] {
        assert!(
            file.valid
                .iter()
                .any(|v| KeyMaterial::parse(&v.key).alg == alg)
        );
        assert!(
            file.invalid
                .iter()
                .any(|v| KeyMaterial::parse(&v.ring[0]).alg == alg)
        );
        // Every envelope length mod 3 (the base64url tail has 0, 2 or 3 characters).
        let tails: BTreeSet<usize> = file
            .valid
            .iter()
            .filter(|v| KeyMaterial::parse(&v.key).alg == alg)
            .map(|v| wire::decode(&v.sealed).unwrap().len() % 3)
            .collect();
        assert_eq!(tails, BTreeSet::from([0, 1, 2]), "{alg:?}");
    }
    assert!(
        file.valid
            .iter()
            .any(|v| v.label.contains("sealed_by_v0.1")),
        "a frozen value sealed by v0.1"
    );
    let classes: BTreeSet<&str> = file.invalid.iter().map(|v| v.class.as_str()).collect();
    for class in [
        "bad_base64",
        "too_long",
        "truncated",
        "short_tag",
        "unknown_version",
        "unknown_key",
        "bad_tag",
        "wrong_name",
        "wrong_schema",
        "wrong_key",
        "algorithm_confusion",
        "expired_idle",
        "expired_absolute",
        "future_dated",
        "outside_window",
        "trailing_bytes",
        "padded",
        "non_canonical_trailing_bits",
    ] {
        assert!(
            classes.contains(class),
            "no invalid vector of class {class}"
        );
    }
}

#[test]
fn valid_vectors_recompute_exactly_with_the_independent_implementation() {
    for v in load().valid {
        assert_eq!(recompute(&v), v.sealed, "{}", v.label);
        // And the independent implementation opens the frozen string to the same plaintext.
        let key = KeyMaterial::parse(&v.key);
        let opened = wire::open(&key, &v.name, v.schema, &v.sealed).unwrap();
        assert_eq!(opened.hour, v.hour, "{}", v.label);
        assert_eq!(hex(&opened.nonce), v.nonce, "{}", v.label);
        let (id, created, expires, data): ([u8; 16], u64, u64, Profile) =
            postcard::from_bytes(&opened.plaintext).unwrap();
        assert_eq!(
            (hex(&id), created, expires, data),
            (v.id.clone(), v.created, v.expires, v.data.clone()),
            "{}",
            v.label
        );
    }
}

#[test]
fn valid_vectors_open_with_the_crate() {
    for v in load().valid {
        let ring = ring_of(&v.ring);
        let codec = codec(
            ring,
            (v.idle_timeout, v.max_lifetime, v.clock_skew),
            v.schema,
            MAX_VALUE_LEN,
        );
        let opened = codec
            .open::<Profile>(&v.name, &v.sealed, v.now)
            .unwrap_or_else(|e| panic!("{}: {e:?}", v.label));
        assert_eq!(opened.data, v.data, "{}", v.label);
        assert_eq!(hex(opened.meta.id.as_bytes()), v.id, "{}", v.label);
        assert_eq!(opened.meta.created, v.created, "{}", v.label);
        assert_eq!(opened.expires, v.expires, "{}", v.label);
        let key = crate_key(&v.key);
        assert_eq!(opened.key_id, key.id(), "{}", v.label);
        assert_eq!(opened.by_primary, v.by_primary, "{}", v.label);
    }
}

#[test]
fn invalid_vectors_are_refused_with_their_kind() {
    for v in load().invalid {
        let codec = codec(
            ring_of(&v.ring),
            (v.idle_timeout, v.max_lifetime, v.clock_skew),
            v.schema,
            v.max_value_len,
        );
        let error = codec
            .open::<Profile>(&v.name, &v.sealed, v.now)
            .map(|_| ())
            .expect_err(&v.label);
        let version = wire::decode(&v.sealed).and_then(|raw| raw.first().copied());
        if v.class == "unknown_version" && version.is_some_and(|b| ASSIGNED_SINCE_V1.contains(&b)) {
            assert!(
                matches!(
                    error.kind(),
                    OpenErrorKind::Flags | OpenErrorKind::UnknownSchema
                ),
                "{}: {error:?}",
                v.label
            );
            continue;
        }
        assert_eq!(error.kind().as_str(), v.error, "{} ({})", v.label, v.class);
    }
}

#[test]
fn frozen_key_ids_are_still_derived() {
    let file = load();
    assert!(file.key_ids.len() >= 4);
    for k in file.key_ids {
        let bytes: [u8; 32] = unhex(&k.key_hex).try_into().unwrap();
        let alg = Alg::parse(&k.algorithm);
        let algorithm = match alg {
            Alg::Aes => Algorithm::Aes256Gcm,
            Alg::XChaCha => Algorithm::XChaCha20Poly1305,
        };
        let key = Key::from_bytes(algorithm, &bytes).unwrap();
        assert_eq!(key.id().to_string(), k.id);
        assert_eq!(
            format!("{:08x}", KeyMaterial::derived_id(alg, &bytes)),
            k.id
        );
    }
}

#[test]
fn loader_rejects_unknown_misspelled_and_missing_fields() {
    let text = VECTOR_FILE;
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert!(serde_json::from_value::<VectorFile>(value.clone()).is_ok());

    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "misspelled field in a valid vector",
            Box::new(|v| {
                let case = v["valid"][0].as_object_mut().unwrap();
                let nonce = case.remove("nonce").unwrap();
                case.insert("nonse".into(), nonce);
            }),
        ),
        (
            "unknown field in an invalid vector",
            Box::new(|v| {
                v["invalid"][0]
                    .as_object_mut()
                    .unwrap()
                    .insert("expected".into(), "unauthentic".into());
            }),
        ),
        (
            "unknown field in the data",
            Box::new(|v| {
                v["valid"][0]["data"]
                    .as_object_mut()
                    .unwrap()
                    .insert("admin".into(), true.into());
            }),
        ),
        (
            "unknown top-level field",
            Box::new(|v| {
                v.as_object_mut().unwrap().insert("extra".into(), 1.into());
            }),
        ),
        (
            "missing field",
            Box::new(|v| {
                v["invalid"][0].as_object_mut().unwrap().remove("error");
            }),
        ),
        (
            "misspelled key id field",
            Box::new(|v| {
                let case = v["key_ids"][0].as_object_mut().unwrap();
                let id = case.remove("id").unwrap();
                case.insert("Id".into(), id);
            }),
        ),
    ];
    for (what, edit) in edits {
        let mut changed = value.clone();
        edit(&mut changed);
        assert!(
            serde_json::from_value::<VectorFile>(changed.clone()).is_err(),
            "{what} accepted"
        );
        assert!(
            serde_json::from_str::<VectorFile>(&changed.to_string()).is_err(),
            "{what} accepted"
        );
    }
}

#[test]
fn crate_sealed_values_open_with_the_independent_implementation() {
    let profile = Profile {
        user: "grace".into(),
        visits: 3,
        roles: vec!["admin".into(), "ops".into()],
    };
    for algorithm in [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305] {
        for (i, now) in [0, 1, T0, T0 + 3599, u64::from(u32::MAX) * 3600 - 1]
            .into_iter()
            .enumerate()
        {
            let key = Key::generate(algorithm);
            let material = KeyMaterial::parse(&key.to_string());
            let codec =
                Codec::new(KeyRing::new(key)).with_schema_version(7 + u32::try_from(i).unwrap());
            let meta = SessionMeta::new(now).unwrap();
            let sealed = codec.seal("__Host-session", &meta, &profile, now).unwrap();
            let opened = wire::open(
                &material,
                "__Host-session",
                codec.schema_version(),
                &sealed.value,
            )
            .expect("the independent implementation opens a crate-sealed value");
            assert_eq!(opened.key_id, material.id);
            assert_eq!(u64::from(opened.hour), now / 3600);
            // 0.2 seals wire format v2: the schema version in the header, no flags.
            assert_eq!(
                (opened.version, opened.schema, opened.flags),
                (2, codec.schema_version(), 0)
            );
            type Head = ([u8; 16], u64, u64, wire::LifetimeV2, Vec<String>);
            let ((id, created, expires, lifetime, flash), data): (Head, Profile) =
                postcard::from_bytes(&opened.plaintext).unwrap();
            assert_eq!(&id, meta.id.as_bytes());
            assert_eq!((created, expires), (now, sealed.expires));
            assert_eq!(
                lifetime,
                wire::LifetimeV2 {
                    persistent: true,
                    idle: IDLE,
                    max: MAX
                }
            );
            assert!(flash.is_empty());
            assert_eq!(data, profile);
            // Bound to the name and the header's schema version there too.
            assert!(
                wire::open(
                    &material,
                    "__Host-sessioN",
                    codec.schema_version(),
                    &sealed.value
                )
                .is_none()
            );
            let mut raw = wire::decode(&sealed.value).unwrap();
            raw[12] ^= 1;
            assert!(wire::open(&material, "__Host-session", 0, &wire::encode(&raw)).is_none());
        }
    }
}

#[test]
fn independent_implementation_matches_crate_key_strings() {
    // The independent key-string writer and the crate's Display agree, both ways.
    for algorithm in [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305] {
        let key = Key::generate(algorithm);
        let text = key.to_string();
        let material = KeyMaterial::parse(&text);
        assert_eq!(material.to_key_string(), text);
        assert_eq!(material.id, key.id().get());
        assert_eq!(
            KeyMaterial::derived_id(material.alg, &material.bytes),
            key.id().get()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The generator. Run once; its output was committed as tests/vectors/v1.json. The file is
// append-only: add new cases at the end of a list, never change or remove one.
// ---------------------------------------------------------------------------------------------

/// A deterministic key for the vectors: SHA-256 of a label.
/// A valid case before sealing.
struct Case {
    label: String,
    key: KeyMaterial,
    ring: Vec<KeyMaterial>,
    nonce: Vec<u8>,
    sealed_at: u64,
    name: String,
    schema: u32,
    id: [u8; 16],
    created: u64,
    expires: u64,
    data: Profile,
    now: u64,
    idle: u64,
    max: u64,
    by_primary: bool,
}

impl Case {
    fn new(label: &str, key: KeyMaterial, nonce_start: u8) -> Self {
        let nonce = counting_bytes(key.alg.nonce_len(), nonce_start);
        Self {
            label: label.into(),
            key,
            ring: vec![key],
            nonce,
            sealed_at: T0,
            name: "__Host-session".into(),
            schema: 0,
            id: counting_bytes(16, 0xa0).try_into().unwrap(),
            created: T0,
            expires: T0 + IDLE,
            data: profile("ada", 1, &["user"]),
            now: T0 + 60,
            idle: IDLE,
            max: MAX,
            by_primary: true,
        }
    }

    fn hour(&self) -> u32 {
        u32::try_from(self.sealed_at / 3600).unwrap()
    }

    fn plaintext(&self) -> Vec<u8> {
        wire::plaintext(self.id, self.created, self.expires, &self.data)
    }

    fn raw(&self) -> Vec<u8> {
        wire::seal_raw(
            &self.key,
            self.hour(),
            &self.name,
            self.schema,
            &self.nonce,
            &self.plaintext(),
        )
    }

    fn vector(&self) -> ValidVector {
        ValidVector {
            label: self.label.clone(),
            key: self.key.to_key_string(),
            ring: self.ring.iter().map(|k| k.to_key_string()).collect(),
            nonce: hex(&self.nonce),
            hour: self.hour(),
            name: self.name.clone(),
            schema: self.schema,
            id: hex(&self.id),
            created: self.created,
            expires: self.expires,
            data: self.data.clone(),
            now: self.now,
            idle_timeout: self.idle,
            max_lifetime: self.max,
            clock_skew: SKEW,
            by_primary: self.by_primary,
            sealed: wire::encode(&self.raw()),
        }
    }

    /// An invalid vector opened under this case's settings (change fields as needed).
    fn invalid(
        &self,
        label: &str,
        class: &str,
        note: &str,
        sealed: String,
        error: OpenErrorKind,
    ) -> InvalidVector {
        InvalidVector {
            label: label.into(),
            class: class.into(),
            note: note.into(),
            ring: self.ring.iter().map(|k| k.to_key_string()).collect(),
            name: self.name.clone(),
            schema: self.schema,
            now: self.now,
            idle_timeout: self.idle,
            max_lifetime: self.max,
            clock_skew: SKEW,
            max_value_len: MAX_VALUE_LEN,
            sealed,
            error: error.as_str().into(),
        }
    }
}

fn valid_cases() -> Vec<Case> {
    let aes = test_key(Alg::Aes, "aes-1", None);
    let aes2 = test_key(Alg::Aes, "aes-2", None);
    let xc = test_key(Alg::XChaCha, "xchacha-1", None);
    let aes_id = test_key(Alg::Aes, "aes-explicit", Some(1));
    let xc_id = test_key(Alg::XChaCha, "xchacha-explicit", Some(0xffff_ffff));
    let mut cases = Vec::new();
    let both = [(aes, "aes"), (xc, "xchacha")];
    for (key, alg) in both {
        cases.push(Case::new(&format!("{alg}_basic"), key, 0));
        let mut c = Case::new(&format!("{alg}_empty_data"), key, 1);
        c.data = profile("", 0, &[]);
        cases.push(c);
        let mut c = Case::new(&format!("{alg}_unicode_user"), key, 2);
        c.data = profile(
            "Ada Lovelace \u{2713} \u{65e5}\u{672c} \u{1f510}",
            42,
            &["\u{e9}diteur"],
        );
        cases.push(c);
        let mut c = Case::new(&format!("{alg}_many_roles"), key, 3);
        let roles: Vec<String> = (0..20).map(|i| format!("role-{i}")).collect();
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        c.data = profile("bob", 7, &roles);
        cases.push(c);
        let mut c = Case::new(&format!("{alg}_nonce_all_ff"), key, 0);
        c.nonce = vec![0xff; key.alg.nonce_len()];
        cases.push(c);
        let mut c = Case::new(&format!("{alg}_nonce_all_zero"), key, 0);
        c.nonce = vec![0; key.alg.nonce_len()];
        c.data = profile("carol", 2, &["a"]);
        cases.push(c);
        let mut c = Case::new(&format!("{alg}_schema_max"), key, 4);
        c.schema = u32::MAX;
        cases.push(c);
        let mut c = Case::new(&format!("{alg}_long_cookie_name"), key, 5);
        c.name = "x".repeat(200);
        cases.push(c);
        let mut c = Case::new(&format!("{alg}_visits_max_id_zero"), key, 6);
        c.data = profile("dave", u32::MAX, &["user"]);
        c.id = [0; 16];
        cases.push(c);
        // Refreshed on day 5: a later hour, expires a day later.
        let mut c = Case::new(&format!("{alg}_refreshed_day_5"), key, 7);
        c.sealed_at = T0 + 5 * DAY + 1234;
        c.expires = c.sealed_at + IDLE;
        c.now = c.sealed_at + IDLE - 1;
        cases.push(c);
        // Refreshed late: expires capped by the absolute lifetime; opened in its last second.
        let mut c = Case::new(&format!("{alg}_capped_by_max_lifetime"), key, 8);
        c.sealed_at = T0 + 6 * DAY + 12 * 3600;
        c.expires = T0 + MAX;
        c.now = T0 + MAX - 1;
        cases.push(c);
        // Sealed by an instance whose clock is 60 s ahead (the allowed skew).
        let mut c = Case::new(&format!("{alg}_created_within_skew"), key, 9);
        c.sealed_at = T0 + 3600 + 30;
        c.created = c.sealed_at;
        c.expires = c.sealed_at + IDLE;
        c.now = c.sealed_at - SKEW;
        c.data = profile("erin", 1, &[]);
        cases.push(c);
        // Short lifetimes.
        let mut c = Case::new(&format!("{alg}_short_lifetimes"), key, 10);
        c.idle = 60;
        c.max = 300;
        c.expires = T0 + 60;
        c.now = T0 + 59;
        cases.push(c);
    }
    // Explicit key ids, accept-only keys and mixed rings.
    let mut c = Case::new("aes_explicit_key_id_1", aes_id, 11);
    c.schema = 3;
    cases.push(c);
    let mut c = Case::new("xchacha_explicit_key_id_ffffffff", xc_id, 12);
    c.schema = 3;
    cases.push(c);
    let mut c = Case::new("aes_accept_only_key", aes, 13);
    c.ring = vec![aes2, aes];
    c.by_primary = false;
    cases.push(c);
    let mut c = Case::new("xchacha_accept_only_in_mixed_ring", xc, 14);
    c.ring = vec![aes, aes2, xc];
    c.by_primary = false;
    cases.push(c);
    let mut c = Case::new("aes_primary_in_mixed_ring", aes2, 15);
    c.ring = vec![aes2, xc, aes];
    cases.push(c);
    // Lifetimes of 400 days, timestamps near zero.
    let mut c = Case::new("xchacha_max_lifetime_400_days", xc, 16);
    c.idle = 400 * DAY;
    c.max = 400 * DAY;
    c.created = T0 - 399 * DAY;
    c.expires = T0 + DAY;
    c.now = T0 + DAY - 1;
    cases.push(c);
    let mut c = Case::new("aes_unix_epoch", aes, 17);
    c.sealed_at = 0;
    c.created = 0;
    c.expires = IDLE;
    c.now = 0;
    cases.push(c);
    cases
}

/// A valid vector sealed by the crate itself (v0.1, random nonce), frozen as it came out.
fn sealed_by_crate(label: &str, key: KeyMaterial, data: &Profile) -> ValidVector {
    let codec = Codec::new(KeyRing::new(crate_key(&key.to_key_string()))).with_schema_version(1);
    let id: [u8; 16] = counting_bytes(16, 0x30).try_into().unwrap();
    let meta = SessionMeta {
        id: SessionId::from_bytes(id),
        created: T0 - 3 * DAY,
    };
    let sealed_at = T0 + 600;
    let sealed = codec
        .seal("__Host-session", &meta, data, sealed_at)
        .unwrap();
    let opened = wire::open(&key, "__Host-session", 1, &sealed.value).unwrap();
    ValidVector {
        label: label.into(),
        key: key.to_key_string(),
        ring: vec![key.to_key_string()],
        nonce: hex(&opened.nonce),
        hour: opened.hour,
        name: "__Host-session".into(),
        schema: 1,
        id: hex(&id),
        created: meta.created,
        expires: sealed.expires,
        data: data.clone(),
        now: sealed_at + 3600,
        idle_timeout: IDLE,
        max_lifetime: MAX,
        clock_skew: SKEW,
        by_primary: true,
        sealed: sealed.value,
    }
}

fn flip(raw: &[u8], index: usize, mask: u8) -> Vec<u8> {
    let mut raw = raw.to_vec();
    raw[index] ^= mask;
    raw
}

#[allow(clippy::too_many_lines)]
fn invalid_vectors() -> Vec<InvalidVector> {
    use OpenErrorKind as K;
    let aes = test_key(Alg::Aes, "aes-1", None);
    let xc = test_key(Alg::XChaCha, "xchacha-1", None);
    let other = test_key(Alg::Aes, "aes-2", None);
    let mut out = Vec::new();
    for (key, alg) in [(aes, "aes"), (xc, "xchacha")] {
        let base = Case::new(&format!("{alg}_invalid_base"), key, 0x40);
        let raw = base.raw();
        let sealed = wire::encode(&raw);
        let n = raw.len();
        let nl = key.alg.nonce_len();
        let inv = |label: &str, class: &str, note: &str, s: String, e: K| {
            base.invalid(&format!("{alg}_{label}"), class, note, s, e)
        };
        out.push(inv(
            "empty",
            "truncated",
            "the empty string",
            String::new(),
            K::Malformed,
        ));
        out.push(inv(
            "truncated_to_header",
            "truncated",
            "only the first 12 characters (the header)",
            sealed[..12].to_string(),
            K::Malformed,
        ));
        out.push(inv(
            "truncated_tag_15",
            "short_tag",
            "the last byte of the tag removed, re-encoded",
            wire::encode(&raw[..n - 1]),
            K::Unauthentic,
        ));
        out.push(inv(
            "short_tag_8",
            "short_tag",
            "the last 8 bytes of the tag removed, re-encoded",
            wire::encode(&raw[..n - 8]),
            K::Unauthentic,
        ));
        out.push(inv(
            "header_nonce_and_15_bytes",
            "truncated",
            "header, nonce and 15 bytes: shorter than nonce plus tag after the header",
            wire::encode(&raw[..wire::HEADER_LEN + nl + 15]),
            K::Malformed,
        ));
        let mut s = sealed.clone();
        s.replace_range(10..11, "*");
        out.push(inv(
            "bad_base64_star",
            "bad_base64",
            "character 10 replaced by '*'",
            s,
            K::Malformed,
        ));
        let mut s = sealed.clone();
        s.replace_range(20..21, "+");
        out.push(inv(
            "bad_base64_standard_alphabet",
            "bad_base64",
            "character 20 replaced by '+' (standard, not url-safe, alphabet)",
            s,
            K::Malformed,
        ));
        out.push(inv(
            "space_inserted",
            "bad_base64",
            "a space inserted after character 30",
            format!("{} {}", &sealed[..30], &sealed[30..]),
            K::Malformed,
        ));
        out.push(inv(
            "non_ascii_inserted",
            "bad_base64",
            "U+00E9 inserted after character 5",
            format!("{}\u{e9}{}", &sealed[..5], &sealed[5..]),
            K::Malformed,
        ));
        out.push(inv(
            "percent_encoded_padding",
            "padded",
            "'%3D' (a percent-encoded '=') appended",
            format!("{sealed}%3D"),
            K::Malformed,
        ));
        out.push(inv(
            "padded_equals",
            "padded",
            "'=' appended",
            format!("{sealed}="),
            K::Malformed,
        ));
        out.push(inv(
            "padded_double_equals",
            "padded",
            "'==' appended",
            format!("{sealed}=="),
            K::Malformed,
        ));
        out.push(inv(
            "too_long_garbage",
            "too_long",
            "4097 '!' characters: refused on length before decoding",
            "!".repeat(MAX_VALUE_LEN + 1),
            K::TooLong,
        ));
        let mut v = inv(
            "too_long_for_limit",
            "too_long",
            "an authentic value one character longer than max_value_len",
            sealed.clone(),
            K::TooLong,
        );
        v.max_value_len = sealed.len() - 1;
        out.push(v);
        for version in [0u8, 2, 0xff] {
            let mut r = raw.clone();
            r[0] = version;
            out.push(inv(
                &format!("version_{version}"),
                "unknown_version",
                &format!("version byte set to {version}"),
                wire::encode(&r),
                K::UnsupportedVersion,
            ));
        }
        let mut v = inv(
            "unknown_key",
            "unknown_key",
            "opened by a ring that lacks the sealing key",
            sealed.clone(),
            K::UnknownKey,
        );
        v.ring = vec![other.to_key_string()];
        out.push(v);
        out.push(inv(
            "bad_tag",
            "bad_tag",
            "last tag byte xor 0x01",
            wire::encode(&flip(&raw, n - 1, 0x01)),
            K::Unauthentic,
        ));
        out.push(inv(
            "bad_ciphertext",
            "bad_ciphertext",
            "first ciphertext byte xor 0x80",
            wire::encode(&flip(&raw, wire::HEADER_LEN + nl, 0x80)),
            K::Unauthentic,
        ));
        out.push(inv(
            "bad_nonce",
            "bad_nonce",
            "first nonce byte xor 0x01",
            wire::encode(&flip(&raw, wire::HEADER_LEN, 0x01)),
            K::Unauthentic,
        ));
        let mut v = inv(
            "wrong_name",
            "wrong_name",
            "sealed for __Host-session, opened as session",
            sealed.clone(),
            K::Unauthentic,
        );
        v.name = "session".into();
        out.push(v);
        let mut v = inv(
            "wrong_name_case",
            "wrong_name",
            "sealed for __Host-session, opened as __host-session",
            sealed.clone(),
            K::Unauthentic,
        );
        v.name = "__host-session".into();
        out.push(v);
        let mut v = inv(
            "wrong_schema",
            "wrong_schema",
            "sealed for schema 0, opened under schema 1",
            sealed.clone(),
            K::Unauthentic,
        );
        v.schema = 1;
        out.push(v);
        let same_id_other_bytes = KeyMaterial {
            bytes: test_key(key.alg, "impostor", None).bytes,
            ..key
        };
        let mut v = inv(
            "wrong_key_same_id",
            "wrong_key",
            "opened by a ring whose key has the same id and algorithm but other bytes",
            sealed.clone(),
            K::Unauthentic,
        );
        v.ring = vec![same_id_other_bytes.to_key_string()];
        out.push(v);
        let confused = KeyMaterial {
            alg: match key.alg {
                Alg::Aes => Alg::XChaCha,
                Alg::XChaCha => Alg::Aes,
            },
            ..key
        };
        let mut v = inv(
            "algorithm_confusion",
            "algorithm_confusion",
            "opened by a ring holding the same bytes and id under the other algorithm",
            sealed.clone(),
            K::Unauthentic,
        );
        v.ring = vec![confused.to_key_string()];
        out.push(v);
        let mut r = raw.clone();
        r[5..9].copy_from_slice(&(base.hour() - 1).to_be_bytes());
        out.push(inv(
            "hour_changed",
            "wrong_hour",
            "header hour minus 1 (still inside the window): another message key and AAD",
            wire::encode(&r),
            K::Unauthentic,
        ));
        // The same key bytes under a second id in the ring: changing the header's id to it
        // must not open (the id is in the AAD and in the message-key derivation).
        let twin = KeyMaterial {
            id: key.id ^ 0x8000_0000,
            ..key
        };
        let mut r = raw.clone();
        r[1..5].copy_from_slice(&twin.id.to_be_bytes());
        let mut v = inv(
            "key_id_changed",
            "wrong_key_id",
            "header key id changed to a second ring key holding the same bytes",
            wire::encode(&r),
            K::Unauthentic,
        );
        v.ring.push(twin.to_key_string());
        out.push(v);
        let mut v = inv(
            "expired_idle",
            "expired_idle",
            "opened at exactly its expires time",
            sealed.clone(),
            K::Expired,
        );
        v.now = base.expires;
        out.push(v);
        // Authentic, but expires lies beyond created + max lifetime (as when max_lifetime
        // was shortened after sealing): the absolute lifetime alone refuses it.
        let mut c = Case::new("x", key, 0x50);
        c.expires = u64::MAX;
        let mut v = c.invalid(
            &format!("{alg}_expired_absolute"),
            "expired_absolute",
            "expires = u64::MAX, opened at exactly created + max_lifetime",
            wire::encode(&c.raw()),
            K::Expired,
        );
        v.now = c.created + MAX;
        // The hour must stay inside the window: idle >= max here.
        v.idle_timeout = MAX;
        out.push(v);
        let mut c = Case::new("x", key, 0x51);
        c.created = T0 + 60 + SKEW + 1;
        c.expires = c.created + IDLE;
        out.push(c.invalid(
            &format!("{alg}_future_dated"),
            "future_dated",
            "created 1 s beyond now + clock skew",
            wire::encode(&c.raw()),
            K::FutureDated,
        ));
        let mut c = Case::new("x", key, 0x52);
        c.created = u64::MAX;
        c.expires = u64::MAX;
        out.push(c.invalid(
            &format!("{alg}_created_u64_max"),
            "future_dated",
            "created = expires = u64::MAX",
            wire::encode(&c.raw()),
            K::FutureDated,
        ));
        let mut c = Case::new("x", key, 0x53);
        c.created = 0;
        c.expires = 0;
        out.push(c.invalid(
            &format!("{alg}_timestamps_zero"),
            "expired_absolute",
            "created = expires = 0",
            wire::encode(&c.raw()),
            K::Expired,
        ));
        let mut v = inv(
            "outside_window_old",
            "outside_window",
            "opened 25 hours after sealing: its hour is older than now - idle timeout",
            sealed.clone(),
            K::OutsideWindow,
        );
        v.now = T0 + IDLE + 3600;
        out.push(v);
        let mut c = Case::new("x", key, 0x54);
        c.sealed_at = T0 + 2 * 3600;
        out.push(c.invalid(
            &format!("{alg}_outside_window_future"),
            "outside_window",
            "sealed in hour 490002, opened at T0 + 60 (window ends at hour 490000)",
            wire::encode(&c.raw()),
            K::OutsideWindow,
        ));
        let mut r = wire::header(1, key.id, u32::MAX);
        r.extend(counting_bytes(60, 0x99));
        out.push(inv(
            "outside_window_garbage_body",
            "outside_window",
            "a header with hour u32::MAX and 60 garbage bytes: refused before key derivation",
            wire::encode(&r),
            K::OutsideWindow,
        ));
        let mut c = Case::new("x", key, 0x55);
        let mut plaintext = c.plaintext();
        plaintext.push(0);
        let raw_trailing = wire::seal_raw(&key, c.hour(), &c.name, c.schema, &c.nonce, &plaintext);
        out.push(c.invalid(
            &format!("{alg}_trailing_bytes"),
            "trailing_bytes",
            "authentic plaintext with one 0x00 byte after the postcard value",
            wire::encode(&raw_trailing),
            K::Payload,
        ));
        c.nonce = counting_bytes(nl, 0x56);
        let wrong_type = wire::plaintext(c.id, c.created, c.expires, &("ada", 1u32));
        let raw_wrong = wire::seal_raw(&key, c.hour(), &c.name, c.schema, &c.nonce, &wrong_type);
        out.push(c.invalid(
            &format!("{alg}_wrong_type"),
            "payload",
            "authentic plaintext of (user, visits) without roles",
            wire::encode(&raw_wrong),
            K::Payload,
        ));
        // Non-canonical trailing bits: an envelope length that leaves a partial last group.
        let mut c = Case::new("x", key, 0x57);
        while c.raw().len() % 3 == 0 {
            c.data.user.push('+');
        }
        let canonical = wire::encode(&c.raw());
        let unused_bits = if c.raw().len() % 3 == 1 { 4 } else { 2 };
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = canonical.chars().last().unwrap();
        let pos = alphabet.find(last).unwrap();
        let mut s = canonical.clone();
        s.pop();
        s.push(alphabet.as_bytes()[pos | 1] as char);
        assert_ne!(s, canonical);
        assert!(unused_bits >= 2);
        out.push(c.invalid(
            &format!("{alg}_non_canonical_trailing_bits"),
            "non_canonical_trailing_bits",
            "an authentic value whose last character has its lowest unused bit set",
            s,
            K::Malformed,
        ));
    }
    out
}

fn key_id_vectors() -> Vec<KeyIdVector> {
    ["aes-1", "aes-2", "xchacha-1", "key-id-a", "key-id-b"]
        .iter()
        .flat_map(|label| {
            [Alg::Aes, Alg::XChaCha].map(|alg| {
                let key = test_key(alg, label, None);
                KeyIdVector {
                    algorithm: alg.name().into(),
                    key_hex: hex(&key.bytes),
                    id: format!("{:08x}", key.id),
                }
            })
        })
        .collect()
}

fn generate() -> VectorFile {
    // Cookies sealed by the crate have random nonces: once frozen they are reused, so that
    // regenerating the file after appending a case changes nothing already in it.
    let frozen: Option<VectorFile> = serde_json::from_str(VECTOR_FILE).ok();
    let frozen_or = |label: &str, make: &dyn Fn(&str) -> ValidVector| {
        frozen
            .as_ref()
            .and_then(|f| f.valid.iter().find(|v| v.label == label).cloned())
            .unwrap_or_else(|| make(label))
    };
    let mut valid: Vec<ValidVector> = valid_cases().iter().map(Case::vector).collect();
    valid.push(frozen_or("aes_sealed_by_v0.1", &|label| {
        sealed_by_crate(
            label,
            test_key(Alg::Aes, "aes-1", None),
            &profile("frozen", 11, &["user", "beta"]),
        )
    }));
    valid.push(frozen_or("xchacha_sealed_by_v0.1", &|label| {
        sealed_by_crate(
            label,
            test_key(Alg::XChaCha, "xchacha-1", None),
            &profile("frozen", 12, &["user"]),
        )
    }));
    VectorFile {
        format_version: 1,
        description: vec![
            "sealed-session wire format v1 vectors. Append-only: never change or remove a case.".into(),
            "sealed = base64url-no-pad(header || nonce || ciphertext || tag); header = 0x01 || key id (u32 BE) || hour (u32 BE).".into(),
            "AAD = header || cookie name || schema (u32 BE); plaintext = postcard((id [u8; 16], created u64, expires u64, data)).".into(),
            "message key = HKDF-SHA256(salt = 'sealed-session/v1/message-key', ikm = key, info = alg code (1 AES-256-GCM, 2 XChaCha20-Poly1305) || key id BE || hour BE).".into(),
            "data = postcard(Profile { user: String, visits: u32, roles: Vec<String> }); nonce and id in hex; times in Unix seconds.".into(),
            "Keys are SHA-256('sealed-session test vector key <label>'); valid cases except *_sealed_by_v0.1 were made by the independent implementation in tests/vectors.rs.".into(),
            "Each invalid case must be refused by Codec::open with the OpenErrorKind named in 'error'.".into(),
        ],
        key_ids: key_id_vectors(),
        valid,
        invalid: invalid_vectors(),
    }
}

#[test]
#[ignore = "generator: prints the JSON that tests/vectors/v1.json was made from"]
#[allow(clippy::print_stdout)]
fn generate_vectors() {
    let json = serde_json::to_string_pretty(&generate()).unwrap();
    println!("BEGIN VECTORS\n{json}\nEND VECTORS");
}

#[test]
fn generator_reproduces_the_frozen_file_exactly() {
    // The generator (with the frozen crate-sealed cookies) must print the committed file byte
    // for byte, so neither can drift from the other. To add cases, append them to the
    // generator's lists, regenerate, and check that the diff only adds lines.
    let printed = serde_json::to_string_pretty(&generate()).unwrap();
    assert_eq!(printed.trim_end(), VECTOR_FILE.trim_end());
}
