//! Frozen vectors for wire format v3, the envelope bound to its session type (RT3-1,
//! SECURITY-TESTS A8, H1).
//!
//! `tests/vectors/v3.json` holds valid and invalid sealed values of format v3, under both
//! algorithms, bound to a traced shape or to an application context, single or chunked,
//! plain or compressed, with every lifetime kind and flash messages. Every valid one is
//! recomputed byte for byte by the independent implementation in tests/wire-reference
//! (header, AAD and the FNV-1a type binding, computed there from the binding's domain and
//! text: the context string, or the canonical shape description written by hand), then
//! opened by the crate: a [`Codec`] bound to the opener's type for single values, the engine
//! (through the test kit, at the opener's clock) for chunked ones; each must give its exact
//! id, times, lifetime, flash messages and data. Every invalid one must be refused with the
//! recorded [`OpenErrorKind`]. The file is append-only: cases are added at the end, never
//! changed; v1.json and v2.json are untouched.
//!
//! `generate_v3_vectors` (ignored) prints the JSON the file was made from (reusing the frozen
//! crate-sealed cookies), and a test checks that it reproduces the file byte for byte:
//! `cargo test --all-features --test vectors_v3 -- --ignored --nocapture generate_v3_vectors`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[cfg(feature = "test-util")]
use http::header::{HeaderMap, HeaderValue, SET_COOKIE};
#[cfg(feature = "test-util")]
use sealed_session::testing::{MockClock, Sent, TestSessions};
use sealed_session::{Codec, KeyRing, Lifetime, OpenErrorKind, SessionId, SessionMeta};
#[cfg(feature = "test-util")]
use sealed_session::{SessionConfig, SessionLayer};
use serde::{Deserialize, Serialize};

use common::wire::{
    self, Alg, KeyMaterial, LifetimeV2, PROFILE_SHAPE, Profile, counting_bytes, crate_key, hex,
    profile, test_key, unhex,
};

/// The vector file.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    format_version: u8,
    description: Vec<String>,
    valid: Vec<ValidVector>,
    invalid: Vec<InvalidVector>,
}

/// The type an opener reads: a traced shape (the test's Rust type of that name, through
/// `Codec::bound_to`) or an application context (`Codec::with_type_context`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Bound {
    Shape(String),
    Context(String),
}

/// How the opening codec is configured.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Opener {
    /// Key strings, primary first.
    ring: Vec<String>,
    name: String,
    bound: Bound,
    now: u64,
    idle_timeout: u64,
    max_lifetime: u64,
    clock_skew: u64,
    max_value_len: usize,
    /// The most chunks accepted (more than one: opened through the engine), and whether the
    /// opener compresses (it reads compressed values whenever the feature is built).
    max_chunks: u8,
    compression: bool,
}

/// A type binding: its domain ("shape" or "context"), the text fingerprinted, the value.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Binding {
    domain: String,
    text: String,
    value: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct ValidVector {
    label: String,
    /// The key string that sealed.
    key: String,
    opener: Opener,
    nonce: String,
    hour: u32,
    binding: Binding,
    flags: u8,
    id: String,
    created: u64,
    expires: u64,
    lifetime: LifetimeV2,
    flash: Vec<String>,
    data: Profile,
    by_primary: bool,
    sealed: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct InvalidVector {
    label: String,
    class: String,
    /// How the value was made.
    note: String,
    opener: Opener,
    sealed: Vec<String>,
    /// `OpenErrorKind::as_str` of the expected refusal.
    error: String,
}

/// Another session type, which postcard would confuse with a two-string profile (RT3-1).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
struct Account {
    user: String,
    admin: bool,
}

/// Its canonical shape, written by hand.
const ACCOUNT_SHAPE: &str = "struct{user:str,admin:bool,}";

const VECTOR_FILE: &str = include_str!("vectors/v3.json");

/// 2025-11-24T16:00:00Z: hour 490000.
const T0: u64 = 1_764_000_000;
const DAY: u64 = 24 * 3600;
const IDLE: u64 = DAY;
const MAX: u64 = 7 * DAY;
const NAME: &str = "__Host-session";
const CONTEXT: &str = "billing-app/session";

fn load() -> VectorFile {
    serde_json::from_str(VECTOR_FILE).expect("tests/vectors/v3.json parses")
}

fn codec(opener: &Opener) -> Codec {
    let ring = KeyRing::from_keys(opener.ring.iter().map(|k| crate_key(k))).unwrap();
    let codec = Codec::new(ring)
        .with_lifetimes(
            Duration::from_secs(opener.idle_timeout),
            Duration::from_secs(opener.max_lifetime),
        )
        .unwrap()
        .with_clock_skew(Duration::from_secs(opener.clock_skew))
        .unwrap()
        .with_max_value_len(opener.max_value_len)
        .unwrap();
    #[cfg(feature = "compression")]
    let codec = codec.with_compression(opener.compression);
    match &opener.bound {
        Bound::Shape(name) if name == "Profile" => codec.bound_to::<Profile>().unwrap(),
        Bound::Shape(name) if name == "Account" => codec.bound_to::<Account>().unwrap(),
        Bound::Shape(other) => panic!("no test type {other}"),
        Bound::Context(context) => codec.with_type_context(context),
    }
}

/// Opens a vector as the opener's type; only whether and why it was refused matters for
/// `Account` openers.
fn open(opener: &Opener, sealed: &[String]) -> Result<sealed_session::Opened<Profile>, String> {
    if opener.max_chunks > 1 {
        return open_chunks(opener, sealed);
    }
    assert_eq!(sealed.len(), 1, "chunks for a codec that takes one");
    let codec = codec(opener);
    if opener.bound == Bound::Shape("Account".into()) {
        return match codec.open::<Account>(&opener.name, &sealed[0], opener.now) {
            Ok(_) => Err("opened as an Account".into()),
            Err(error) => Err(error.kind().as_str().into()),
        };
    }
    codec
        .open::<Profile>(&opener.name, &sealed[0], opener.now)
        .map_err(|e| e.kind().as_str().to_owned())
}

/// Without the test kit, chunked values are not opened by the crate here.
#[cfg(not(feature = "test-util"))]
fn open_chunks(_: &Opener, _: &[String]) -> Result<sealed_session::Opened<Profile>, String> {
    Err("chunked vectors need the test-util feature".into())
}

/// A chunked value, opened by the engine (through the test kit) as the next request would
/// open it: `name`, `name.1`, ... at the opener's clock.
#[cfg(feature = "test-util")]
fn open_chunks(
    opener: &Opener,
    sealed: &[String],
) -> Result<sealed_session::Opened<Profile>, String> {
    assert_eq!(opener.bound, Bound::Shape("Profile".into()));
    assert_eq!(opener.max_value_len, 4096);
    let ring = KeyRing::from_keys(opener.ring.iter().map(|k| crate_key(k))).unwrap();
    let config = SessionConfig::builder()
        .cookie_name(opener.name.clone())
        .idle_timeout(Duration::from_secs(opener.idle_timeout))
        .max_lifetime(Duration::from_secs(opener.max_lifetime))
        .clock_skew(Duration::from_secs(opener.clock_skew))
        .max_chunks(usize::from(opener.max_chunks));
    #[cfg(feature = "compression")]
    let config = config.compression(opener.compression);
    let layer = SessionLayer::<Profile>::new(ring, config.build().unwrap())
        .with_clock(MockClock::new(opener.now));
    let kit = TestSessions::new(&layer);
    let mut headers = HeaderMap::new();
    for (i, chunk) in sealed.iter().enumerate() {
        let name = if i == 0 {
            opener.name.clone()
        } else {
            format!("{}.{i}", opener.name)
        };
        let line = format!("{name}={chunk}; Path=/; Secure; HttpOnly; SameSite=Lax");
        headers.append(SET_COOKIE, HeaderValue::from_str(&line).unwrap());
    }
    match kit.read(&headers) {
        Ok(Sent::Session(opened)) => Ok(opened),
        Ok(_) => Err("no session".into()),
        Err(error) => Err(error.kind().as_str().into()),
    }
}

#[test]
fn vector_file_has_enough_cases_of_every_kind() {
    let file = load();
    assert_eq!(file.format_version, 3);
    assert!(file.valid.len() >= 20, "{}", file.valid.len());
    assert!(file.invalid.len() >= 20, "{}", file.invalid.len());
    let classes: BTreeSet<&str> = file.invalid.iter().map(|v| v.class.as_str()).collect();
    for class in [
        "wrong_type",
        "binding_rewritten",
        "flag_bits",
        "chunk_count",
        "compressed",
        "version",
        "bad_tag",
        "wrong_name",
        "expired",
        "unknown_key",
        "outside_window",
        "payload",
        "chunks",
    ] {
        assert!(classes.contains(class), "no invalid case of class {class}");
    }
    let labels: BTreeSet<&str> = file
        .valid
        .iter()
        .map(|v| v.label.as_str())
        .chain(file.invalid.iter().map(|v| v.label.as_str()))
        .collect();
    assert_eq!(
        labels.len(),
        file.valid.len() + file.invalid.len(),
        "labels are unique"
    );
    // Both algorithms, both kinds of binding, chunked and compressed cases among the valid.
    let has = |f: &dyn Fn(&ValidVector) -> bool| file.valid.iter().filter(|v| f(v)).count();
    for alg in [Alg::Aes, Alg::XChaCha] {
        let of = |v: &ValidVector| KeyMaterial::parse(&v.key).alg == alg;
        assert!(has(&|v| of(v) && v.binding.domain == "shape") >= 4);
        assert!(has(&|v| of(v) && v.binding.domain == "context") >= 2);
        assert!(has(&|v| of(v) && v.sealed.len() > 1) >= 1);
        assert!(has(&|v| of(v) && v.flags & 0x10 != 0) >= 1);
        assert!(has(&|v| of(v) && !v.lifetime.persistent) >= 1);
        assert!(has(&|v| of(v) && !v.flash.is_empty()) >= 1);
    }
}

#[test]
fn bindings_recompute_with_the_independent_implementation() {
    let file = load();
    for v in &file.valid {
        assert_eq!(
            wire::binding(&v.binding.domain, &v.binding.text),
            v.binding.value,
            "{}",
            v.label
        );
        match &v.opener.bound {
            Bound::Context(context) => {
                assert_eq!(v.binding.domain, "context", "{}", v.label);
                assert_eq!(&v.binding.text, context, "{}", v.label);
                assert_eq!(wire::context_binding(context), v.binding.value);
            }
            Bound::Shape(name) => {
                assert_eq!(
                    (name.as_str(), v.binding.domain.as_str()),
                    ("Profile", "shape")
                );
                assert_eq!(v.binding.text, PROFILE_SHAPE, "{}", v.label);
            }
        }
        // The header carries it.
        let raw = wire::decode(&v.sealed.concat()).unwrap();
        assert_eq!(raw[0], 3, "{}", v.label);
        assert_eq!(&raw[9..13], &v.binding.value.to_be_bytes(), "{}", v.label);
    }
}

#[test]
fn valid_vectors_recompute_exactly_with_the_independent_implementation() {
    for v in load().valid {
        if v.label.ends_with("_sealed_by_v0.3") {
            continue; // random nonce: opened below, not recomputed
        }
        let key = KeyMaterial::parse(&v.key);
        let id: [u8; 16] = unhex(&v.id).try_into().unwrap();
        let make = if v.flags & 0x10 != 0 {
            wire::plaintext_compressed::<Profile>
        } else {
            wire::plaintext_v2::<Profile>
        };
        let plaintext = make(id, v.created, v.expires, v.lifetime, &v.flash, &v.data);
        let binding = wire::binding(&v.binding.domain, &v.binding.text);
        let raw = wire::seal_raw_v3(
            &key,
            v.hour,
            &v.opener.name,
            binding,
            v.flags,
            &unhex(&v.nonce),
            &plaintext,
        );
        let value = wire::encode(&raw);
        assert_eq!(
            usize::from(v.flags & 0x0f) + 1,
            v.sealed.len(),
            "{}",
            v.label
        );
        let chunks = match v.sealed.as_slice() {
            [single] => vec![single.clone()],
            [first, ..] => wire::split(&value, first.len()),
            [] => panic!("{}: no value", v.label),
        };
        assert_eq!(chunks, v.sealed, "{}", v.label);
    }
}

#[test]
fn valid_vectors_open_with_the_crate() {
    let mut opened_count = 0;
    for v in load().valid {
        if (v.opener.compression && !cfg!(feature = "compression"))
            || (v.sealed.len() > 1 && !cfg!(feature = "test-util"))
        {
            continue;
        }
        let opened = open(&v.opener, &v.sealed).unwrap_or_else(|e| panic!("{}: {e}", v.label));
        assert_eq!(opened.data, v.data, "{}", v.label);
        assert_eq!(hex(opened.meta.id.as_bytes()), v.id, "{}", v.label);
        assert_eq!(opened.meta.created, v.created, "{}", v.label);
        assert_eq!(opened.expires, v.expires, "{}", v.label);
        assert_eq!(opened.flash, v.flash, "{}", v.label);
        let lifetime = if v.lifetime.persistent {
            Lifetime::persistent()
        } else {
            Lifetime::browser_session()
        }
        .with_idle_timeout(Duration::from_secs(v.lifetime.idle))
        .with_max_lifetime(Duration::from_secs(v.lifetime.max));
        assert_eq!(opened.lifetime, lifetime, "{}", v.label);
        assert_eq!(opened.key_id, crate_key(&v.key).id(), "{}", v.label);
        assert_eq!(opened.by_primary, v.by_primary, "{}", v.label);
        // The independent implementation opens it too, and reads the header.
        let raw = wire::open(
            &KeyMaterial::parse(&v.key),
            &v.opener.name,
            0,
            &v.sealed.concat(),
        );
        let raw = raw.unwrap_or_else(|| panic!("{}", v.label));
        assert_eq!(
            (raw.version, raw.schema, raw.flags, raw.hour),
            (3, v.binding.value, v.flags, v.hour),
            "{}",
            v.label
        );
        opened_count += 1;
    }
    assert!(opened_count >= 20, "{opened_count}");
}

#[test]
fn invalid_vectors_are_refused_with_their_kind() {
    for v in load().invalid {
        // Chunked values are opened through the test kit: checked with `test-util` (as
        // `cargo test --all-features` and CI run it).
        if v.opener.max_chunks > 1 && !cfg!(feature = "test-util") {
            continue;
        }
        let error = open(&v.opener, &v.sealed).map(|_| ()).expect_err(&v.label);
        // Without the `compression` feature, the compressed flag is refused before the AEAD.
        let expected = if v.class == "compressed" && !cfg!(feature = "compression") {
            "flags"
        } else {
            v.error.as_str()
        };
        assert_eq!(error, expected, "{} ({})", v.label, v.class);
    }
}

#[test]
fn loader_rejects_unknown_misspelled_and_missing_fields() {
    let file = load();
    let text = serde_json::to_string(&file.valid[0]).unwrap();
    assert!(serde_json::from_str::<ValidVector>(&text).is_ok());
    for (from, to) in [
        ("\"flags\":", "\"flag\":"),
        ("\"binding\":", "\"bindings\":"),
        ("\"domain\":", "\"domains\":"),
        ("\"bound\":", "\"bound\":{\"trait\":\"x\"},\"was\":"),
        ("\"nonce\":", "\"nonce\":\"00\",\"extra\":"),
    ] {
        assert!(
            serde_json::from_str::<ValidVector>(&text.replacen(from, to, 1)).is_err(),
            "{to}"
        );
    }
    let text = serde_json::to_string(&file.invalid[0]).unwrap();
    assert!(
        serde_json::from_str::<InvalidVector>(&text.replacen("\"class\":", "\"klass\":", 1))
            .is_err()
    );
}

/// The binding the crate traces for `T`, read from the header of a value it seals.
fn crate_binding<T: Serialize + serde::de::DeserializeOwned>(data: &T) -> u32 {
    let key = test_key(Alg::Aes, "v3-pin", None);
    let codec = Codec::new(KeyRing::new(crate_key(&key.to_key_string())))
        .bound_to::<T>()
        .unwrap();
    let meta = SessionMeta {
        id: SessionId::from_bytes([7; 16]),
        created: T0,
    };
    let sealed = codec.seal(NAME, &meta, data, T0).unwrap();
    let raw = wire::decode(&sealed.value).unwrap();
    assert_eq!(raw[0], 3);
    u32::from_be_bytes(raw[9..13].try_into().unwrap())
}

/// A cookie's binding must never change for the same type (a release that traced a type
/// differently would log out every user of it). Pinned: the bindings of concrete types, each
/// as a number and, for the structs, as the fingerprint of its hand-written canonical shape.
#[test]
fn shape_bindings_of_concrete_types_are_pinned() {
    #[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
    enum Role {
        #[default]
        Guest,
        Member {
            id: u64,
        },
        Staff(String, u8),
    }
    #[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
    struct App {
        user: Option<String>,
        role: Role,
        cart: BTreeMap<u32, (bool, f64)>,
        token: [u8; 16],
    }

    let profile = crate_binding(&profile("ada", 1, &[]));
    assert_eq!(profile, wire::binding("shape", PROFILE_SHAPE));
    assert_eq!(profile, 0x38df_2865, "Profile: {profile:#010x}");
    let account = crate_binding(&Account::default());
    assert_eq!(account, wire::binding("shape", ACCOUNT_SHAPE));
    assert_eq!(account, 0x277d_557f, "Account: {account:#010x}");
    let app = crate_binding(&App::default());
    assert_eq!(app, 0xfbd4_8b2d, "App: {app:#010x}");
    let unit = crate_binding(&());
    assert_eq!(unit, wire::binding("shape", "unit"));
    assert_eq!(unit, 0x650f_dafe, "(): {unit:#010x}");
    // Context bindings: the fingerprint of the string, never the shape's.
    assert_eq!(wire::context_binding(CONTEXT), 0x5e7c_f583, "{CONTEXT}");
    assert_ne!(wire::context_binding(PROFILE_SHAPE), profile);
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

fn opener(ring: &[&KeyMaterial], bound: Bound) -> Opener {
    Opener {
        ring: ring.iter().map(|k| k.to_key_string()).collect(),
        name: NAME.into(),
        bound,
        now: T0 + 60,
        idle_timeout: IDLE,
        max_lifetime: MAX,
        clock_skew: 60,
        max_value_len: 4096,
        max_chunks: 1,
        compression: false,
    }
}

fn shape() -> Bound {
    Bound::Shape("Profile".into())
}

fn persistent(idle: u64, max: u64) -> LifetimeV2 {
    LifetimeV2 {
        persistent: true,
        idle,
        max,
    }
}

fn binding_of(bound: &Bound) -> Binding {
    let (domain, text) = match bound {
        Bound::Shape(name) if name == "Profile" => ("shape", PROFILE_SHAPE),
        Bound::Shape(name) if name == "Account" => ("shape", ACCOUNT_SHAPE),
        Bound::Shape(other) => panic!("no test type {other}"),
        Bound::Context(context) => ("context", context.as_str()),
    };
    Binding {
        domain: domain.into(),
        text: text.into(),
        value: wire::binding(domain, text),
    }
}

/// A valid case before sealing.
#[derive(Clone)]
struct Case {
    label: String,
    key: KeyMaterial,
    opener: Opener,
    /// What the value is sealed as (the opener's type, for valid cases).
    sealed_as: Bound,
    nonce: Vec<u8>,
    sealed_at: u64,
    flags: u8,
    id: [u8; 16],
    created: u64,
    expires: u64,
    lifetime: LifetimeV2,
    flash: Vec<String>,
    data: Profile,
}

impl Case {
    fn new(label: &str, key: KeyMaterial, bound: Bound) -> Self {
        Self {
            label: label.into(),
            opener: opener(&[&key], bound.clone()),
            sealed_as: bound,
            nonce: counting_bytes(key.alg.nonce_len(), 0xa0),
            key,
            sealed_at: T0,
            flags: 0,
            id: counting_bytes(16, 0x10).try_into().unwrap(),
            created: T0 - 3600,
            expires: T0 + IDLE,
            lifetime: persistent(IDLE, MAX),
            flash: Vec::new(),
            data: profile("ada", 7, &["admin", "editor"]),
        }
    }

    fn hour(&self) -> u32 {
        u32::try_from(self.sealed_at / 3600).unwrap()
    }

    fn plaintext(&self) -> Vec<u8> {
        let make = if self.flags & 0x10 != 0 {
            wire::plaintext_compressed::<Profile>
        } else {
            wire::plaintext_v2::<Profile>
        };
        make(
            self.id,
            self.created,
            self.expires,
            self.lifetime,
            &self.flash,
            &self.data,
        )
    }

    fn raw_with(&self, plaintext: &[u8]) -> Vec<u8> {
        wire::seal_raw_v3(
            &self.key,
            self.hour(),
            &self.opener.name,
            binding_of(&self.sealed_as).value,
            self.flags,
            &self.nonce,
            plaintext,
        )
    }

    fn raw(&self) -> Vec<u8> {
        self.raw_with(&self.plaintext())
    }

    fn sealed(&self, raw: &[u8]) -> Vec<String> {
        let value = wire::encode(raw);
        let chunks = usize::from(self.flags & 0x0f) + 1;
        if chunks == 1 {
            return vec![value];
        }
        // As many chunks as the header counts: equal lengths, each a multiple of four.
        let len = value.len().div_ceil(chunks).next_multiple_of(4);
        let split = wire::split(&value, len);
        assert_eq!(split.len(), chunks, "{}", self.label);
        split
    }

    fn vector(&self) -> ValidVector {
        assert_eq!(self.sealed_as, self.opener.bound);
        ValidVector {
            label: self.label.clone(),
            key: self.key.to_key_string(),
            opener: self.opener.clone(),
            nonce: hex(&self.nonce),
            hour: self.hour(),
            binding: binding_of(&self.sealed_as),
            flags: self.flags,
            id: hex(&self.id),
            created: self.created,
            expires: self.expires,
            lifetime: self.lifetime,
            flash: self.flash.clone(),
            data: self.data.clone(),
            by_primary: self.opener.ring.first() == Some(&self.key.to_key_string()),
            sealed: self.sealed(&self.raw()),
        }
    }

    fn invalid(
        &self,
        label: &str,
        class: &str,
        note: &str,
        raw: &[u8],
        error: OpenErrorKind,
    ) -> InvalidVector {
        InvalidVector {
            label: label.into(),
            class: class.into(),
            note: note.into(),
            opener: self.opener.clone(),
            // One value, whatever chunk count its header claims.
            sealed: vec![wire::encode(raw)],
            error: error.as_str().into(),
        }
    }
}

fn keys() -> [KeyMaterial; 2] {
    [
        test_key(Alg::Aes, "v3-aes-1", None),
        test_key(Alg::XChaCha, "v3-xchacha-1", None),
    ]
}

/// Data whose encoding is long and repetitive enough to be compressed.
fn compressible() -> Profile {
    let roles: Vec<String> = (0..40)
        .map(|i| format!("project-{}:reader", i % 7))
        .collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    profile("compressed ada", 12, &roles)
}

fn valid_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for key in keys() {
        let a = key.alg.name();
        let base = Case::new(&format!("{a}_shape_basic"), key, shape());
        cases.push(base.clone());
        for (label, context) in [
            ("context", CONTEXT),
            ("context_empty", ""),
            ("context_unicode", "caf\u{e9} \u{1f36a}/v2"),
        ] {
            let mut c = Case::new(&format!("{a}_{label}"), key, Bound::Context(context.into()));
            c.data = profile("bea", 3, &["reader"]);
            cases.push(c);
        }
        let mut c = base.clone();
        c.label = format!("{a}_browser_session");
        c.lifetime = LifetimeV2 {
            persistent: false,
            idle: IDLE,
            max: MAX,
        };
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_short_lifetime");
        c.lifetime = persistent(1800, 7200);
        c.expires = T0 + 1800;
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_flashes");
        c.flash = vec!["welcome ada".into(), "dos \u{e9}".into(), String::new()];
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_empty_profile");
        c.data = profile("", 0, &[]);
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_accept_only_key");
        let primary = test_key(key.alg, "v3-primary", None);
        c.opener.ring = vec![primary.to_key_string(), key.to_key_string()];
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_last_hour");
        c.sealed_at = u64::from(u32::MAX) * 3600;
        c.created = c.sealed_at - 10;
        c.expires = c.sealed_at + IDLE;
        c.opener.now = c.sealed_at + 1;
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_compressed");
        c.flags = 0x10;
        c.opener.compression = true;
        c.data = compressible();
        cases.push(c);
        let mut c = Case::new(
            &format!("{a}_compressed_context"),
            key,
            Bound::Context(CONTEXT.into()),
        );
        c.flags = 0x10;
        c.opener.compression = true;
        c.data = compressible();
        c.lifetime = LifetimeV2 {
            persistent: false,
            idle: 3600,
            max: DAY,
        };
        c.expires = T0 + 3600;
        c.flash = vec!["saved".into()];
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_two_chunks");
        c.flags = 1;
        c.opener.max_chunks = 2;
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_three_chunks_of_four");
        c.flags = 2;
        c.opener.max_chunks = 4;
        c.data = profile("chunky", 9, &["a", "b", "c"]);
        c.flash = vec!["split".into()];
        cases.push(c);
        let mut c = base.clone();
        c.label = format!("{a}_compressed_two_chunks");
        c.flags = 0x11;
        c.opener.max_chunks = 2;
        c.opener.compression = true;
        c.data = compressible();
        cases.push(c);
    }
    cases
}

fn flip(raw: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut raw = raw.to_vec();
    raw[at] ^= mask;
    raw
}

#[allow(clippy::too_many_lines)]
fn invalid_vectors() -> Vec<InvalidVector> {
    use OpenErrorKind as K;
    let mut out = Vec::new();
    for key in keys() {
        let a = key.alg.name();
        let base = Case::new(&format!("{a}_base"), key, shape());
        let raw = base.raw();
        let inv = |label: &str, class: &str, note: &str, raw: &[u8], error| {
            base.invalid(&format!("{a}_{label}"), class, note, raw, error)
        };

        // The type binding (RT3-1).
        let mut c = base.clone();
        c.sealed_as = Bound::Context(CONTEXT.into());
        out.push(inv(
            "context_under_shape",
            "wrong_type",
            "sealed for a context, opened by a codec bound to the Profile shape",
            &c.raw(),
            K::WrongType,
        ));
        let mut c = base.clone();
        c.sealed_as = Bound::Context("app-a".into());
        let mut v = inv(
            "other_context",
            "wrong_type",
            "sealed for context app-a, opened for context app-b",
            &c.raw(),
            K::WrongType,
        );
        v.opener.bound = Bound::Context("app-b".into());
        out.push(v);
        let mut v = inv(
            "shape_under_context",
            "wrong_type",
            "sealed for the Profile shape, opened for a context",
            &raw,
            K::WrongType,
        );
        v.opener.bound = Bound::Context(CONTEXT.into());
        out.push(v);
        let mut v = inv(
            "profile_as_account",
            "wrong_type",
            "sealed for the Profile shape, opened by a codec bound to Account { user, admin }",
            &raw,
            K::WrongType,
        );
        v.opener.bound = Bound::Shape("Account".into());
        out.push(v);
        let mut c = base.clone();
        c.sealed_as = Bound::Shape("Account".into());
        c.data = profile("\u{6}", 0, &[]);
        out.push(inv(
            "account_as_profile",
            "wrong_type",
            "sealed for the Account shape, opened as Profile",
            &c.raw(),
            K::WrongType,
        ));
        let mut c = base.clone();
        c.sealed_as = Bound::Context(CONTEXT.into());
        let mut rewritten = c.raw();
        rewritten[9..13].copy_from_slice(&binding_of(&shape()).value.to_be_bytes());
        out.push(inv(
            "binding_rewritten",
            "binding_rewritten",
            "sealed for a context, header binding rewritten to the opener's (Profile shape)",
            &rewritten,
            K::Unauthentic,
        ));
        let v = inv(
            "binding_bit_flipped",
            "binding_rewritten",
            "the opener's binding with its lowest bit flipped: the AEAD refuses it",
            &flip(&raw, 12, 0x01),
            K::Unauthentic,
        );
        out.push(v);
        out.push(inv(
            "version_2",
            "version",
            "version byte 3 -> 2: a v2 header whose schema number (the binding) is not the opener's 0",
            &flip(&raw, 0, 0x01),
            K::UnknownSchema,
        ));
        out.push(inv(
            "version_4",
            "version",
            "version byte 4",
            &flip(&raw, 0, 0x07),
            K::UnsupportedVersion,
        ));

        for bit in 5..8 {
            let mut c = base.clone();
            c.flags = 1 << bit;
            out.push(inv(
                &format!("flag_bit_{bit}"),
                "flag_bits",
                &format!("unassigned flag bit {bit} set, authentic"),
                &c.raw(),
                K::Flags,
            ));
        }
        let mut c = base.clone();
        c.flags = 2;
        out.push(inv(
            "chunks_3_single",
            "chunk_count",
            "3 chunks in the header, authentic, one value opened by a codec that takes one",
            &c.raw(),
            K::Flags,
        ));
        let mut c = base.clone();
        c.flags = 0x10;
        out.push(inv(
            "compressed_not_deflate",
            "compressed",
            "the compressed flag, authentic, over data that is not a DEFLATE stream",
            &c.raw_with(&wire::plaintext_v2(
                c.id, c.created, c.expires, c.lifetime, &c.flash, &c.data,
            )),
            K::Payload,
        ));
        let mut c = base.clone();
        c.flags = 0x10;
        let mut bomb =
            postcard::to_allocvec(&(c.id, c.created, c.expires, c.lifetime, &c.flash)).unwrap();
        bomb.extend(miniz_oxide::deflate::compress_to_vec(
            &vec![0u8; 1 << 20],
            9,
        ));
        out.push(inv(
            "compressed_bomb",
            "compressed",
            "authentic, compressed: 1 MiB of zeros, past the inflation limit",
            &c.raw_with(&bomb),
            K::Payload,
        ));
        let n = raw.len();
        out.push(inv(
            "bad_tag",
            "bad_tag",
            "last tag byte xor 0x01",
            &flip(&raw, n - 1, 0x01),
            K::Unauthentic,
        ));
        out.push(inv(
            "bad_body",
            "bad_tag",
            "first ciphertext byte xor 0x80",
            &flip(&raw, 14 + key.alg.nonce_len(), 0x80),
            K::Unauthentic,
        ));
        let mut v = inv(
            "wrong_name",
            "wrong_name",
            "opened for another cookie name",
            &raw,
            K::Unauthentic,
        );
        v.opener.name = "session".into();
        out.push(v);
        let mut v = inv(
            "expired_idle",
            "expired",
            "opened at exactly its expires time",
            &raw,
            K::Expired,
        );
        v.opener.now = base.expires;
        out.push(v);
        let mut c = base.clone();
        c.created = T0 + 3600;
        out.push(inv(
            "future_dated",
            "future_dated",
            "created an hour after now",
            &c.raw(),
            K::FutureDated,
        ));
        let mut v = inv(
            "unknown_key",
            "unknown_key",
            "opened by a ring that lacks the sealing key",
            &raw,
            K::UnknownKey,
        );
        v.opener.ring = vec![test_key(key.alg, "v3-other", None).to_key_string()];
        out.push(v);
        let mut v = inv(
            "outside_window",
            "outside_window",
            "opened two idle timeouts after sealing",
            &raw,
            K::OutsideWindow,
        );
        v.opener.now = base.sealed_at + 2 * IDLE;
        out.push(v);
        let mut trailing = base.plaintext();
        trailing.push(0);
        out.push(inv(
            "trailing_byte",
            "payload",
            "one byte after the data",
            &base.raw_with(&trailing),
            K::Payload,
        ));
        out.push(inv(
            "header_only",
            "truncated",
            "the 14-byte header and 23 bytes more: shorter than any v3 envelope",
            &raw[..37],
            K::Malformed,
        ));
    }
    // Appended after the first cases of both algorithms: chunks, opened through the engine
    // with chunking on (up to 4).
    for key in keys() {
        let a = key.alg.name();
        let base = Case::new(&format!("{a}_base"), key, shape());
        let mut c = base.clone();
        c.flags = 2;
        c.opener.max_chunks = 4;
        let chunks = c.sealed(&c.raw());
        let chunked = |label: &str, note: &str, sealed: Vec<String>, error: K| InvalidVector {
            label: format!("{a}_{label}"),
            class: "chunks".into(),
            note: note.into(),
            opener: c.opener.clone(),
            sealed,
            error: error.as_str().into(),
        };
        out.push(chunked(
            "chunk_missing",
            "three chunks in the header, the last one missing",
            chunks[..2].to_vec(),
            K::Unauthentic,
        ));
        out.push(chunked(
            "chunks_swapped",
            "three chunks, the second and third swapped: the short last one, in the middle, does not end on whole bytes",
            vec![chunks[0].clone(), chunks[2].clone(), chunks[1].clone()],
            K::Malformed,
        ));
        let mut other = base.clone();
        other.flags = 2;
        other.opener.max_chunks = 4;
        other.id = [0x77; 16];
        let foreign = other.sealed(&other.raw());
        out.push(chunked(
            "chunk_foreign",
            "the second chunk taken from another session's value",
            vec![chunks[0].clone(), foreign[1].clone(), chunks[2].clone()],
            K::Unauthentic,
        ));
    }
    out
}

/// A valid vector sealed by the crate itself (v0.3, random nonce), frozen as it came out.
fn sealed_by_crate(label: &str, key: KeyMaterial, data: &Profile) -> ValidVector {
    let codec = Codec::new(KeyRing::new(crate_key(&key.to_key_string())))
        .bound_to::<Profile>()
        .unwrap();
    let id: [u8; 16] = counting_bytes(16, 0x30).try_into().unwrap();
    let meta = SessionMeta {
        id: SessionId::from_bytes(id),
        created: T0 - 3 * DAY,
    };
    let sealed_at = T0 + 600;
    let sealed = codec.seal(NAME, &meta, data, sealed_at).unwrap();
    let opened = wire::open(&key, NAME, 0, &sealed.value).unwrap();
    let mut opener = opener(&[&key], shape());
    opener.now = sealed_at + 3600;
    ValidVector {
        label: label.into(),
        key: key.to_key_string(),
        opener,
        nonce: hex(&opened.nonce),
        hour: opened.hour,
        binding: binding_of(&shape()),
        flags: 0,
        id: hex(&id),
        created: meta.created,
        expires: sealed.expires,
        lifetime: persistent(IDLE, MAX),
        flash: Vec::new(),
        data: data.clone(),
        by_primary: true,
        sealed: vec![sealed.value],
    }
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
    let [aes, xchacha] = keys();
    valid.push(frozen_or("aes_sealed_by_v0.3", &|label| {
        sealed_by_crate(label, aes, &profile("frozen", 31, &["user"]))
    }));
    valid.push(frozen_or("xchacha_sealed_by_v0.3", &|label| {
        sealed_by_crate(label, xchacha, &profile("frozen", 32, &[]))
    }));
    VectorFile {
        format_version: 3,
        description: vec![
            "sealed-session wire format v3 vectors. Append-only: never change or remove a case.".into(),
            "sealed = base64url-no-pad(header || nonce || ciphertext || tag), as a list of chunks (cookies name, name.1, ...: each but the last a multiple of 4 characters); header = 0x03 || key id (u32 BE) || hour (u32 BE) || type binding (u32 BE) || flags (u8: bits 0-3 chunk count - 1, bit 4 compressed, bits 5-7 zero).".into(),
            "AAD = header || cookie name; plaintext = postcard((id [u8; 16], created u64, expires u64, (persistent bool, idle u64, max u64), flash Vec<String>)) || data, where data = postcard(Profile { user: String, visits: u32, roles: Vec<String> }), raw DEFLATE (RFC 1951) of it when compressed.".into(),
            "type binding = FNV-1a-64 over 'sealed-session binding 1' || 0x00 || domain || 0x00 || text, folded to 32 bits (h ^ h >> 32); domain 'shape' with the canonical shape description as text (Profile: 'struct{user:str,visits:u32,roles:seq<str,>,}'), or 'context' with the application's context string.".into(),
            "message key = HKDF-SHA256(salt = 'sealed-session/v1/message-key', ikm = key, info = alg code (1 AES-256-GCM, 2 XChaCha20-Poly1305) || key id BE || hour BE).".into(),
            "Keys are SHA-256('sealed-session test vector key <label>'); valid cases except *_sealed_by_v0.3 were made by the independent implementation in tests/common/wire.rs; nonce and id in hex; times in Unix seconds.".into(),
            "Each case is opened as its 'opener' says ('bound': the Rust type whose traced shape, or the context, the opener reads); each invalid case must be refused with the OpenErrorKind named in 'error'.".into(),
        ],
        valid,
        invalid: invalid_vectors(),
    }
}

#[test]
#[ignore = "generator: prints the JSON that tests/vectors/v3.json was made from"]
#[allow(clippy::print_stdout)]
fn generate_v3_vectors() {
    let json = serde_json::to_string_pretty(&generate()).unwrap();
    println!("BEGIN VECTORS\n{json}\nEND VECTORS");
}

#[test]
fn generator_reproduces_the_frozen_file_exactly() {
    let printed = serde_json::to_string_pretty(&generate()).unwrap();
    assert_eq!(printed.trim_end(), VECTOR_FILE.trim_end());
}
