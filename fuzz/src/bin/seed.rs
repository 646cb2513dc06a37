//! Writes the seed corpus: `seed <dir>` fills `<dir>/<target>/` for every target.
//!
//! Valid cookies of both algorithms, both wire formats and every session type (v2 sealed by
//! the crate and by the fuzz side's sealer with lifetimes and flash messages, v1 from the
//! frozen vectors and the fuzz side's sealer), expired, future-dated, other-name,
//! other-schema, unknown-key, revoked-key, not-before, flag-bit and out-of-window ones, cookie
//! headers around them (planted cookies, migrations, revocation), postcard plaintexts, key
//! strings and key ring texts. Cookies sealed by the crate carry random nonces, so those files
//! differ from run to run; their names (a hash of the content) keep reruns additive. run.sh
//! writes them to `seeds/` (ignored); `corpus/` (also ignored) keeps what a run found.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sealed_session::{Algorithm, Codec, Key, SessionId, SessionMeta};
use sealed_session_fuzz::layers::{cookie_header_specs, fixture};
use sealed_session_fuzz::wire::{self, Bounds, Header, KeyMaterial};
use sealed_session_fuzz::{
    AES_KEY, COOKIE_NAME, Mode, NOT_BEFORE, NOW, OPEN_FIXTURES, OTHER_NAME, PENDING_AT,
    PENDING_KEY, RETIRED_KEY, REVOKED_KEY, TYPE_MAP, TYPE_MODE, TYPE_OPTION, TYPE_PROFILE,
    TYPE_STRING, TYPE_TUPLE, TYPE_U64, TYPE_UNIT, TYPE_VEC_STRING, TYPE_VEC_U32,
    TYPE_VECTOR_PROFILE, TYPE_VISITS, TYPE_VISITS_V1, V1_AES_KEY, V1_VECTORS, V1_XCHACHA_KEY,
    VectorProfile, Visits, VisitsV1, XCHACHA_KEY, open_control, ring_c_text, sample_profile,
};
use serde::Serialize;

struct Corpus {
    root: PathBuf,
    written: usize,
}

impl Corpus {
    fn write(&mut self, target: &str, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir)?;
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        std::fs::write(dir.join(format!("seed-{:016x}", hasher.finish())), bytes)?;
        self.written += 1;
        Ok(())
    }

    /// Writes `prefix || value` for the target.
    fn write_with(&mut self, target: &str, prefix: &[u8], value: &[u8]) -> std::io::Result<()> {
        let mut input = prefix.to_vec();
        input.extend_from_slice(value);
        self.write(target, &input)
    }
}

fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1) else {
        eprintln!("usage: seed <corpus dir>");
        return ExitCode::FAILURE;
    };
    let mut corpus = Corpus {
        root: PathBuf::from(root),
        written: 0,
    };
    match write_all(&mut corpus) {
        Ok(()) => {
            println!(
                "wrote {} seeds under {}",
                corpus.written,
                Path::new(&corpus.root).display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("seed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn write_all(corpus: &mut Corpus) -> std::io::Result<()> {
    regressions(corpus)?;
    open(corpus)?;
    cookie_header(corpus)?;
    cookie_parser(corpus)?;
    chunks(corpus)?;
    plaintext(corpus)?;
    roundtrip(corpus)?;
    key_string(corpus)?;
    ring_text(corpus)
}

/// The inputs of past findings, kept under `regressions/<target>/` (deterministic: they seal
/// under the fixture keys), so every run starts from them.
fn regressions(corpus: &mut Corpus) -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let Ok(targets) = std::fs::read_dir(&root) else {
        return Ok(());
    };
    for target in targets {
        let target = target?;
        let name = target.file_name().to_string_lossy().into_owned();
        for input in std::fs::read_dir(target.path())? {
            corpus.write(&name, &std::fs::read(input?.path())?)?;
        }
    }
    Ok(())
}

/// `chunks`: clean, mixed, planted and stale chunk sets of the layer's own pool, and crafted
/// values of every mode (the program format is in `fuzz_targets/chunks.rs`).
fn chunks(corpus: &mut Corpus) -> std::io::Result<()> {
    // One op byte: name (bits 5-7) and pool value (bits 0-4: set << 2 | chunk).
    let pair = |name: u8, set: u8, chunk: u8| name << 5 | set << 2 | chunk;
    let victim = [pair(0, 0, 0), pair(1, 0, 1), pair(2, 0, 2)];
    let programs: Vec<Vec<u8>> = vec![
        victim.to_vec(),
        // Stale chunks past the count: a literal under sid.3, the attacker's under sid.15.
        [&victim[..], &[pair(3, 7, 2), 3, 1, 2, 3, pair(5, 2, 1)]].concat(),
        // Chunk 1 from the second seal of the same session, then both copies of chunk 1.
        vec![pair(0, 0, 0), pair(1, 1, 1), pair(2, 0, 2)],
        [&victim[..], &[pair(1, 1, 1)]].concat(),
        // Reordered, a chunk missing, the attacker's chunk 1 planted beside the victim's.
        vec![pair(2, 0, 2), pair(0, 0, 0), pair(1, 0, 1)],
        vec![pair(0, 0, 0), pair(2, 0, 2)],
        [&victim[..], &[pair(1, 2, 1)]].concat(),
        // The attacker's own session, and both main cookies at once.
        vec![pair(0, 2, 0), pair(1, 2, 1)],
        [&victim[..], &[pair(0, 2, 0), pair(1, 2, 1)]].concat(),
        // The compressed session with the victim's chunks left behind; one character changed.
        [&[pair(0, 3, 0)], &victim[1..]].concat(),
        vec![pair(0, 5, 0), 21, 9, pair(1, 0, 1), pair(2, 0, 2)],
        // Names that are not chunks.
        vec![pair(0, 0, 0), pair(6, 0, 1), pair(7, 0, 2)],
        // The crafted value in up to four chunks.
        vec![pair(0, 4, 0), pair(1, 4, 1), pair(2, 4, 2), pair(3, 4, 3)],
    ];
    let data = postcard::to_allocvec(&visits()).unwrap_or_default();
    let payloads: [(u8, Vec<u8>); 6] = [
        (0, data.clone()),   // raw, decodes
        (1 << 2, data),      // raw bytes flagged compressed
        (2 << 2, vec![255]), // a whole DEFLATE stream
        (2 << 2, vec![128]), // truncated
        (3 << 2, vec![7]),   // repeated, within the limit
        (3 << 2, vec![255]), // a bomb past 16 KiB
    ];
    for (p, program) in programs.iter().enumerate() {
        for op in 0..4u8 {
            let (mode, payload) = &payloads[p % payloads.len()];
            let control = op | mode | (u8::try_from(p % 3).unwrap_or(0) << 5);
            let len = u16::try_from(payload.len()).unwrap_or(0).to_le_bytes();
            let head = [control, u8::try_from(p % 4).unwrap_or(0), len[0], len[1]];
            corpus.write_with("chunks", &[&head[..], payload].concat(), program)?;
        }
    }
    for (mode, payload) in &payloads {
        for count in 0..6u8 {
            for unassigned in [0, 0x10] {
                let len = u16::try_from(payload.len()).unwrap_or(0).to_le_bytes();
                let head = [mode | unassigned, count, len[0], len[1]];
                let program = [pair(0, 4, 0), pair(1, 4, 1), pair(2, 4, 2), pair(3, 4, 3)];
                corpus.write_with("chunks", &[&head[..], payload].concat(), &program)?;
            }
        }
    }
    Ok(())
}

fn meta(created: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes(*b"seed session id!"),
        created,
    }
}

fn visits() -> Visits {
    Visits {
        count: 3,
        pages: vec!["/".into(), "/cart".into()],
    }
}

fn vector_profile() -> VectorProfile {
    VectorProfile {
        user: "ada".into(),
        visits: 1,
        roles: vec!["user".into()],
    }
}

/// Values of one session value sealed by a codec in every state worth starting from, with the
/// name they were sealed for (0: [`COOKIE_NAME`], 1: [`OTHER_NAME`]).
fn states<T: Serialize>(codec: &Codec, data: &T) -> Vec<(u8, String)> {
    let day = 86_400;
    let idle = codec.idle_timeout().as_secs();
    let max = codec.max_lifetime().as_secs();
    let mut out = Vec::new();
    let mut seal = |name: u8, created: u64, at: u64| {
        let cookie_name = if name == 0 { COOKIE_NAME } else { OTHER_NAME };
        if let Ok(sealed) = codec.seal(cookie_name, &meta(created), data, at) {
            out.push((name, sealed.value));
        }
    };
    seal(0, NOW - 60, NOW); // live
    seal(1, NOW - 60, NOW); // live, the other cookie name
    seal(0, NOW - max + 600, NOW - 300); // near the absolute lifetime
    seal(0, NOW - max - day, NOW - idle.min(3 * 3600) + 1800); // expired (absolute)
    seal(0, NOW - idle - 60, NOW - idle - 60); // expired (idle), same hour window
    seal(0, NOW + 3 * 3600, NOW); // future-dated
    seal(0, NOW - 60, NOW - idle - 3 * day); // sealed outside the hour window
    out
}

/// One type's states, with its type index.
fn typed<T: Serialize>(codec: &Codec, index: u8, data: &T) -> Vec<(u8, u8, String)> {
    states(codec, data)
        .into_iter()
        .map(|(name, value)| (index, name, value))
        .collect()
}

fn open(corpus: &mut Corpus) -> std::io::Result<()> {
    let map = BTreeMap::from([("a".to_owned(), 1u64), ("b".to_owned(), 300)]);
    for (f, fixture) in (0u8..).zip(OPEN_FIXTURES.iter()) {
        let codec = &fixture.codec;
        let mut values = Vec::new();
        values.extend(typed(codec, TYPE_UNIT, &()));
        values.extend(typed(codec, TYPE_U64, &42u64));
        values.extend(typed(codec, TYPE_STRING, &"hello".to_owned()));
        values.extend(typed(codec, TYPE_VEC_U32, &vec![1u32, 2, 300]));
        values.extend(typed(codec, TYPE_OPTION, &Some((7u8, "x".to_owned()))));
        values.extend(typed(codec, TYPE_TUPLE, &(7u8, "x".to_owned())));
        values.extend(typed(codec, TYPE_MAP, &map));
        values.extend(typed(
            codec,
            TYPE_MODE,
            &Mode::Admin(1, vec!["root".into()]),
        ));
        values.extend(typed(codec, TYPE_VISITS, &visits()));
        values.extend(typed(codec, TYPE_PROFILE, &sample_profile()));
        values.extend(typed(codec, TYPE_VECTOR_PROFILE, &vector_profile()));
        values.extend(typed(codec, TYPE_VISITS_V1, &VisitsV1::default()));
        values.extend(typed(codec, TYPE_VEC_STRING, &vec!["a".to_owned()]));
        for (index, name, value) in &values {
            corpus.write_with(
                "open",
                &[open_control(f, *name, 0, *index)],
                value.as_bytes(),
            )?;
        }
        // The later clock, and near misses of a live value.
        if let Some((index, name, value)) = values.first() {
            let control = [open_control(f, *name, 1, *index)];
            corpus.write_with("open", &control, value.as_bytes())?;
            corpus.write_with("open", &control, format!("{value}=").as_bytes())?;
            corpus.write_with("open", &control, &value.as_bytes()[..value.len() - 1])?;
            corpus.write_with("open", &control, format!("\"{value}\"").as_bytes())?;
        }
        // Over the limit.
        let long = vec![b'A'; codec.max_value_len() + 1];
        corpus.write_with("open", &[open_control(f, 0, 0, 0)], &long)?;
    }
    corpus.write("open", b"")?;
    corpus.write("open", &[0])?;

    // Frozen v1 cookies: schema 0 under codecs A and D (ring A), schema 1 under codec C.
    for (_, sealed, schema) in V1_VECTORS {
        let fixtures: &[u8] = if *schema == 0 { &[0, 3] } else { &[2] };
        for &f in fixtures {
            let control = [open_control(
                f,
                0,
                0,
                sealed_session_fuzz::TYPE_VECTOR_PROFILE,
            )];
            corpus.write_with("open", &control, sealed.as_bytes())?;
        }
    }

    // The fuzz side's envelopes: v1 under the fixture keys, v2 with lifetimes and flash
    // messages, and v2 headers the codec refuses (flags, schema, revoked key, not-before).
    let data = visits();
    let v2 = |key: &KeyMaterial,
              schema: u32,
              flags: u8,
              bounds: Bounds,
              flash: &[String],
              created: u64| {
        let mut header = Header::v2(key, wire::hour_of(NOW), schema);
        header.flags = flags;
        let expires = NOW + bounds.idle.min(3600);
        let plaintext = wire::v2_plaintext([9; 16], created, expires, bounds, flash, &data);
        wire::seal(key, &header, COOKIE_NAME, &wire::nonce(key, 3), &plaintext)
    };
    let v1 = |key: &KeyMaterial, schema: u32, created: u64| {
        let header = Header::v1(key, wire::hour_of(NOW), schema);
        let plaintext = wire::v1_plaintext([8; 16], created, NOW + 3600, &data);
        wire::seal(key, &header, COOKIE_NAME, &wire::nonce(key, 5), &plaintext)
    };
    let flash = vec![
        "saved ✓ canary-flash-0001".to_owned(),
        "second message".to_owned(),
    ];
    let browser = Bounds {
        persistent: false,
        idle: 1800,
        max: 2 * 3600,
    };
    let persistent = Bounds {
        persistent: true,
        idle: 30 * 86_400,
        max: 30 * 86_400,
    };
    let control = |f: u8| [open_control(f, 0, 0, TYPE_VISITS)];
    for (f, keys) in [
        (0u8, vec![AES_KEY, XCHACHA_KEY, V1_AES_KEY]),
        (1, vec![XCHACHA_KEY]),
        (2, vec![AES_KEY, PENDING_KEY, REVOKED_KEY, V1_XCHACHA_KEY]),
        (3, vec![AES_KEY, XCHACHA_KEY]),
    ] {
        let schema = OPEN_FIXTURES[usize::from(f)].codec.schema_version();
        for key_string in keys {
            let key = wire::fixture_key(key_string);
            for value in [
                v1(&key, schema, NOW - 60),
                v2(&key, schema, 0, browser, &flash, NOW - 60),
                v2(&key, schema, 0, persistent, &[], NOW - 60),
            ] {
                corpus.write_with("open", &control(f), value.as_bytes())?;
            }
        }
        let key = wire::fixture_key(if f == 1 { XCHACHA_KEY } else { AES_KEY });
        for value in [
            v2(&key, schema, 0x01, browser, &flash, NOW - 60), // two chunks
            v2(&key, schema, 0x10, browser, &flash, NOW - 60), // compressed
            v2(&key, schema, 0x20, browser, &flash, NOW - 60), // an unassigned bit
            v2(&key, schema + 1, 0, browser, &flash, NOW - 60), // another schema
            v2(&key, schema, 0, browser, &flash, NOT_BEFORE - 60), // before the not-before
            v1(&key, schema + 1, NOW - 60),                    // v1 of another schema
        ] {
            corpus.write_with("open", &control(f), value.as_bytes())?;
        }
        // A header, a nonce and a tag, and one byte too few.
        let header = Header::v2(&key, wire::hour_of(NOW), schema).bytes();
        let mut raw = header.clone();
        raw.resize(header.len() + key.alg.nonce_len() + wire::TAG_LEN - 1, 0);
        let short = base64_url(&raw);
        corpus.write_with("open", &control(f), short.as_bytes())?;
    }

    // Sealed by the crate's middleware, with a lifetime and a flash message.
    let layer_fixture = fixture(&cookie_header_specs()[0], NOW);
    let codec = &layer_fixture.codec;
    let sealed = codec
        .seal(COOKIE_NAME, &meta(NOW - 60), &visits(), NOW)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    corpus.write_with("open", &control(0), sealed.value.as_bytes())?;
    Ok(())
}

/// base64url without padding (the seeds' own, for hand-made envelopes).
fn base64_url(raw: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn cookie_header(corpus: &mut Corpus) -> std::io::Result<()> {
    let specs = cookie_header_specs();
    let mut variant = 0u8;
    for (s, spec) in (0u8..).zip(specs.iter()) {
        let fixture = fixture(spec, NOW);
        let codec = &fixture.codec;
        let name = fixture.config.cookie_name();
        let idle = codec.idle_timeout().as_secs();
        let seal = |codec: &Codec, data: &dyn erased::Seal, created: u64, at: u64| {
            data.seal(codec, name, &meta(created), at)
        };
        let mut values: Vec<String> = [
            seal(codec, &visits(), NOW - 60, NOW),
            seal(codec, &visits(), NOW - 600, NOW - idle * 3 / 5), // past half idle
            seal(codec, &Visits::default(), NOW - 2 * idle, NOW - idle + 60),
            seal(
                codec,
                &Visits {
                    count: 3,
                    pages: vec![],
                },
                NOW - 60,
                NOW,
            ), // revoked by the check
            seal(
                codec,
                &Visits {
                    count: 10,
                    pages: vec!["/x".into()],
                },
                NOW - 30,
                NOW,
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        if spec.migrate_from_v1 {
            // Sealed by a codec at schema 1 of the old type: migrated on open.
            let old = codec.clone().with_schema_version(1);
            let data = VisitsV1 {
                count: 7,
                last_page: Some("/old".into()),
            };
            values.extend(seal(&old, &data, NOW - 60, NOW));
            values.extend(seal(
                &old,
                &VisitsV1::default(),
                NOW - 60,
                NOW - idle * 3 / 5,
            ));
            // Schema 5: neither current nor registered.
            values.extend(seal(
                &codec.clone().with_schema_version(5),
                &visits(),
                NOW - 60,
                NOW,
            ));
        }
        values.push(V1_VECTORS[0].1.to_owned());
        let other = if name == COOKIE_NAME {
            OTHER_NAME
        } else {
            COOKIE_NAME
        };
        for (i, value) in values.iter().enumerate() {
            let second = &values[(i + 1) % values.len()];
            let fields = [
                format!("{name}={value}"),
                format!("theme=dark; {name}={value}; lang=en"),
                format!("a=1\n{name}={value}\nb=2"),
                format!("{name}=garbage; {name}={value}"),
                format!("{name}={value}; {name}={value}"),
                format!("{name}={value}\n{name}={second}"),
                format!("{other}={value}; {name}={value}"),
            ];
            for field in fields {
                for clock in [0u8, 1] {
                    variant = variant.wrapping_add(37);
                    let control = (2 * s + clock) | (variant & 0x30) | (variant & 0x40);
                    let ops = variant.wrapping_mul(7) & 0x3f;
                    corpus.write_with("cookie_header", &[control, ops], field.as_bytes())?;
                }
            }
        }
        for ops in [0u8, 0o11, 0o22, 0o33, 0o44, 0o55, 0o66, 0o77, 0o15, 0o61] {
            corpus.write_with("cookie_header", &[2 * s, ops], b"")?;
            corpus.write_with(
                "cookie_header",
                &[2 * s + 1, ops],
                format!("{name}=; sid=x; =; ;;; a").as_bytes(),
            )?;
        }
    }
    Ok(())
}

/// Sealing a value whatever its type (the seeds seal several types in one list).
mod erased {
    use sealed_session::{Codec, SessionMeta};
    use serde::Serialize;

    pub trait Seal {
        fn seal(&self, codec: &Codec, name: &str, meta: &SessionMeta, at: u64) -> Option<String>;
    }

    impl<T: Serialize> Seal for T {
        fn seal(&self, codec: &Codec, name: &str, meta: &SessionMeta, at: u64) -> Option<String> {
            codec.seal(name, meta, self, at).ok().map(|s| s.value)
        }
    }
}

fn cookie_parser(corpus: &mut Corpus) -> std::io::Result<()> {
    let programs: &[&[u8]] = &[
        &[0xF0],
        &[0xF0, 0xF8, 0xF1],
        &[0xF1, 0xF8, 0xF0],
        &[0xF0, 0xF9, 0xF1],
        &[0xF0, 0xF8, 0xF3],
        &[0xF0, 0xF8, 0xF0],
        &[0xF5, 0xF8, 0xF0],
        &[0xF4, 0xF8, 0xF0, 0xF9, 0xF6, 0xF8, 0xF7],
        &[0xF4, 0xF8, 0xF5, 0xF8, 0xF7, 0xF8, 0xF4, 0xF8, 0xF0],
        &[0xF4, 0xF8, 0xF5, 0xF8, 0xF7, 0xF8, 0xF2, 0xF8, 0xF0],
        &[
            0xF6, 0xF8, 0xF6, 0xF8, 0xF6, 0xF8, 0xF6, 0xF8, 0xF6, 0xF8, 0xF0,
        ],
        &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF8, 0xF0],
        &[0xFA, b' ', b'=', 0xFB, 0xF8, 0xFA, b'=', 0xFC],
        &[b' ', b' ', 0xF0, b';', 0xF1, b';', b';'],
        &[0xFA, b'=', 0xFB, b'x', 0xF8, 0xF1],
        &[b'a', b'=', b'1', 0xF9, 0xF9, 0xF0, 0xF9],
        &[0xF7],
        &[0xF5],
        &[0xF2, 0xF9, 0xF2, 0xF9, 0xF2],
        &[],
    ];
    for (i, program) in (0u8..).zip(programs) {
        for control in [0u8, 1, 2, 3, 4, 5, 6, 7] {
            if (usize::from(i) + usize::from(control)) % 3 == 0 || control < 2 {
                corpus.write_with("cookie_parser", &[control], program)?;
            }
        }
    }
    // Up to the header size: many same-name cookies, the victim last.
    let mut long = Vec::new();
    for _ in 0..24 {
        long.extend_from_slice(&[0xF6, 0xF8, 0xF5, 0xF8, 0xFF, 0xF8]);
    }
    long.push(0xF0);
    corpus.write_with("cookie_parser", &[0], &long)?;
    Ok(())
}

fn plaintext(corpus: &mut Corpus) -> std::io::Result<()> {
    let map = BTreeMap::from([("a".to_owned(), 1u64), ("b".to_owned(), 300)]);
    let samples: Vec<(u8, Vec<u8>)> = [
        (TYPE_U64, postcard::to_allocvec(&42u64)),
        (TYPE_STRING, postcard::to_allocvec(&"hello".to_owned())),
        (TYPE_VEC_U32, postcard::to_allocvec(&vec![1u32, 2, 300])),
        (
            TYPE_OPTION,
            postcard::to_allocvec(&Some((7u8, "x".to_owned()))),
        ),
        (TYPE_TUPLE, postcard::to_allocvec(&(7u8, "x".to_owned()))),
        (TYPE_MAP, postcard::to_allocvec(&map)),
        (
            TYPE_MODE,
            postcard::to_allocvec(&Mode::Member {
                since: NOW,
                tier: -1,
            }),
        ),
        (TYPE_VISITS, postcard::to_allocvec(&visits())),
        (TYPE_PROFILE, postcard::to_allocvec(&sample_profile())),
        (TYPE_PROFILE, postcard::to_allocvec(&Some(sample_profile()))),
        (
            TYPE_VECTOR_PROFILE,
            postcard::to_allocvec(&vector_profile()),
        ),
        (TYPE_VISITS_V1, postcard::to_allocvec(&VisitsV1::default())),
        (
            TYPE_VEC_STRING,
            postcard::to_allocvec(&vec!["a".to_owned(), "bc".to_owned()]),
        ),
        (TYPE_UNIT, postcard::to_allocvec(&())),
    ]
    .into_iter()
    .filter_map(|(t, bytes)| bytes.ok().map(|b| (t, b)))
    .collect();
    let flash = vec!["flash ✓".to_owned()];
    let bounds = Bounds {
        persistent: false,
        idle: 1800,
        max: 7200,
    };
    for (index, bytes) in &samples {
        corpus.write_with("plaintext", &[*index], bytes)?;
        // The whole v2 plaintext (a live head, then the data), and the whole v1 one.
        let mut v2 = postcard::to_allocvec(&([7u8; 16], NOW - 60, NOW + 600, bounds, &flash))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        v2.extend_from_slice(bytes);
        corpus.write_with("plaintext", &[index | 2 << 4], &v2)?;
        let mut v1 = postcard::to_allocvec(&([7u8; 16], NOW - 60, NOW + 600))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        v1.extend_from_slice(bytes);
        corpus.write_with("plaintext", &[index | 3 << 4], &v1)?;
    }
    corpus.write("plaintext", &[])?;
    corpus.write_with("plaintext", &[TYPE_PROFILE], &[0xff; 12])?;
    Ok(())
}

fn roundtrip(corpus: &mut Corpus) -> std::io::Result<()> {
    // Any bytes make an `Input`: a few shapes of them.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for len in [0usize, 16, 64, 256, 1024, 4000] {
        for format in [0u8, 1, 2] {
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            if let Some(first) = bytes.first_mut() {
                // `arbitrary` picks the enum variant from the first bytes.
                *first = format;
            }
            corpus.write("roundtrip", &bytes)?;
        }
    }
    Ok(())
}

fn key_string(corpus: &mut Corpus) -> std::io::Result<()> {
    let derived = Key::derive(Algorithm::XChaCha20Poly1305, &[0x5a; 32], b"seed")
        .map(|k| k.to_string())
        .unwrap_or_default();
    let keys = [
        AES_KEY,
        XCHACHA_KEY,
        RETIRED_KEY,
        V1_AES_KEY,
        V1_XCHACHA_KEY,
        derived.as_str(),
    ];
    for key_string in keys {
        corpus.write("key_string", key_string.as_bytes())?;
        corpus.write("key_string", key_string.to_uppercase().as_bytes())?;
        corpus.write("key_string", &key_string.as_bytes()[..key_string.len() - 1])?;
        corpus.write("key_string", key_string.replacen(".=", ".", 1).as_bytes())?;
        let mut parts: Vec<&str> = key_string.split('.').collect();
        let explicit = format!("={}", parts[2]);
        parts[2] = &explicit;
        corpus.write("key_string", parts.join(".").as_bytes())?;
    }
    for text in [
        "ssk1.aes-256-gcm.00000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "ssk1.aes-256-gcm.=00000000.AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
        "ssk1.chacha.=00000001.c2VhbGVkLXNlc3Npb24gZnV6eiBhZXMga2V5IDAwMDE",
        "ssk2.aes-256-gcm.=a0000001.c2VhbGVkLXNlc3Npb24gZnV6eiBhZXMga2V5IDAwMDE",
        "ssk1.aes-256-gcm.=a0000001.c2VhbGVkLXNlc3Npb24gZnV6eiBhZXMga2V5IDAwMDF",
        "ssk1.aes-256-gcm.==a000001.c2VhbGVkLXNlc3Npb24gZnV6eiBhZXMga2V5IDAwMDE",
        "ssk1.aes-256-gcm.+a000001.c2VhbGVkLXNlc3Npb24gZnV6eiBhZXMga2V5IDAwMDE",
        "ssk1...",
    ] {
        corpus.write("key_string", text.as_bytes())?;
    }
    Ok(())
}

/// `count` distinct key strings, one a line: 16 fill a ring, 17 overflow it.
fn full_ring(count: u8) -> String {
    (0..count)
        .filter_map(|i| Key::derive(Algorithm::Aes256Gcm, &[0x5a; 32], &[i]).ok())
        .map(|key| key.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ring_text(corpus: &mut Corpus) -> std::io::Result<()> {
    let other_id = XCHACHA_KEY.replace("=c0000002", "=a0000001");
    let same_bytes = AES_KEY.replace("=a0000001", "=a0000009");
    let texts = [
        ring_c_text(),
        format!("{AES_KEY}\n{XCHACHA_KEY}\n"),
        // The end marker, the weakening override, a torn copy of the fixture ring.
        format!(
            "{PENDING_KEY} activate={PENDING_AT}\n{AES_KEY}\n{XCHACHA_KEY}\nnot-before=1\nend\n"
        ),
        format!("{AES_KEY}\n{XCHACHA_KEY}\nallow-weakening\nend # done\n"),
        format!("{PENDING_KEY} activate={PENDING_AT}\n{AES_KEY}\nend\n{XCHACHA_KEY}"),
        format!("{PENDING_KEY}\n{AES_KEY}\nnot-before=0"),
        format!("{AES_KEY}\n{PENDING_KEY} activate={PENDING_AT}\n"),
        format!("{AES_KEY}\nnot-before=99999999999\n"),
        format!("{AES_KEY}, {XCHACHA_KEY} {V1_AES_KEY}\r\n{V1_XCHACHA_KEY}"),
        format!(
            "# only pending keys\n{PENDING_KEY} activate={PENDING_AT}\n{XCHACHA_KEY} activate=2026-12-01T00:00:00Z"
        ),
        format!("{PENDING_KEY} activate=2025-11-25T04:30:00Z"),
        format!("{AES_KEY} revoked\n{XCHACHA_KEY} revoked"),
        format!(
            "{AES_KEY}\n{REVOKED_KEY} revoked # old\nnot-before=1763656200\nnot-before=2024-02-29T12:00:00Z"
        ),
        format!("{AES_KEY} {AES_KEY}"),
        format!("{AES_KEY} {AES_KEY} revoked"),
        format!("{AES_KEY} revoked revoked"),
        format!("{AES_KEY}\n{other_id}"),
        format!("{AES_KEY}\n{same_bytes}"),
        format!("{AES_KEY}\nactivate=5"),
        format!("{AES_KEY} activate=2023-02-29T00:00:00Z"),
        format!("{AES_KEY} activate=99999999999999999999"),
        format!("{AES_KEY}\nbogus"),
        format!("{AES_KEY}#{XCHACHA_KEY}"),
        full_ring(16),
        full_ring(17),
        "not-before=0".to_owned(),
        " , \n#\n".to_owned(),
        String::new(),
    ];
    for (i, text) in (0u8..).zip(&texts) {
        for clock in [i % 8, (i + 3) % 8] {
            corpus.write_with("ring_text", &[clock], text.as_bytes())?;
        }
    }
    Ok(())
}
