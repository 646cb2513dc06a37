//! Writes the seed corpus: `seed <corpus dir>` fills `<corpus dir>/<target>/` for every target.
//!
//! Valid cookies of both algorithms and every session type, expired, future-dated,
//! other-name, other-schema, unknown-key and out-of-window ones, cookie headers around them,
//! postcard plaintexts, key strings and key ring lists. Cookies carry random nonces, so the
//! files differ from run to run; their names (a hash of the content) keep reruns additive.
//! Nothing here is committed: CI and `run.sh` regenerate it before fuzzing.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sealed_session::{Algorithm, Codec, Key, KeyRing, SessionId, SessionMeta};
use sealed_session_fuzz::{
    AES_KEY, CODEC_A, CODEC_B, COOKIE_NAME, Mode, NOW, OTHER_NAME, RETIRED_KEY, Visits,
    XCHACHA_KEY, key, sample_profile,
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
}

fn meta(created: u64) -> SessionMeta {
    SessionMeta {
        id: SessionId::from_bytes(*b"seed session id!"),
        created,
    }
}

/// Sealed values of one session value under a codec, in every state worth starting from.
fn cookies<T: Serialize>(codec: &Codec, data: &T) -> Vec<String> {
    let day = 86_400;
    let idle = codec.idle_timeout();
    let mut out = Vec::new();
    let mut seal = |name: &str, created: u64, at: u64| {
        if let Ok(sealed) = codec.seal(name, &meta(created), data, at) {
            out.push(sealed.value);
        }
    };
    seal(COOKIE_NAME, NOW - 60, NOW); // live
    seal(OTHER_NAME, NOW - 60, NOW); // live, other cookie name
    seal(COOKIE_NAME, NOW - 7 * day + 600, NOW - 300); // near the absolute lifetime
    seal(COOKIE_NAME, NOW - 8 * day, NOW - idle + 1800); // expired (absolute)
    seal(COOKIE_NAME, NOW - idle - 60, NOW - idle - 60); // expired (idle), same hour window
    seal(COOKIE_NAME, NOW + 3 * 3600, NOW); // future-dated
    seal(COOKIE_NAME, NOW - 60, NOW - 3 * day); // sealed outside the hour window
    out
}

/// `count` distinct key strings, comma-separated: 16 fill a ring, 17 overflow it.
fn full_ring(count: u8) -> String {
    (0..count)
        .filter_map(|i| Key::derive(Algorithm::Aes256Gcm, &[0x5a; 32], &[i]).ok())
        .map(|key| key.to_string())
        .collect::<Vec<_>>()
        .join(",")
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
    let profile = sample_profile();
    let visits = Visits {
        count: 3,
        pages: vec!["/".into(), "/cart".into()],
    };
    let map = BTreeMap::from([("a".to_owned(), 1u64), ("b".to_owned(), 300)]);
    // Codecs whose cookies the targets must refuse in particular ways.
    let retired = Codec::new(KeyRing::new(key(RETIRED_KEY)));
    let aes_only = Codec::new(KeyRing::new(key(AES_KEY)));
    let other_schema = CODEC_A.clone().with_schema_version(99);

    let mut values = Vec::new();
    for codec in [&*CODEC_A, &*CODEC_B, &aes_only] {
        values.extend(cookies(codec, &()));
        values.extend(cookies(codec, &42u64));
        values.extend(cookies(codec, &"hello".to_owned()));
        values.extend(cookies(codec, &vec![1u32, 2, 300]));
        values.extend(cookies(codec, &Some((7u8, "x".to_owned()))));
        values.extend(cookies(codec, &(7u8, "x".to_owned())));
        values.extend(cookies(codec, &map));
        values.extend(cookies(codec, &Mode::Admin(1, vec!["root".into()])));
        values.extend(cookies(codec, &visits));
        values.extend(cookies(codec, &profile));
    }
    values.extend(cookies(&retired, &visits).into_iter().take(1));
    values.extend(cookies(&other_schema, &visits).into_iter().take(1));

    // open: the values themselves, plus a few near misses.
    for value in &values {
        corpus.write("open", value.as_bytes())?;
    }
    if let Some(value) = values.first() {
        corpus.write("open", format!("{value}=").as_bytes())?;
        corpus.write(
            "open",
            value.get(..value.len() - 1).unwrap_or("").as_bytes(),
        )?;
        corpus.write("open", format!("\"{value}\"").as_bytes())?;
    }
    corpus.write("open", b"")?;
    corpus.write("open", &[b'A'; 5000])?;

    // cookie_header: control byte, then `\n`-separated Cookie fields. Control bits: layer
    // (0..8), operation (<< 3), cycle_id (0x20), status (<< 6).
    let header_values: Vec<&String> = values.iter().step_by(7).take(24).collect();
    for (i, value) in header_values.iter().enumerate() {
        let control = u8::try_from(i % 256).unwrap_or(0).wrapping_mul(37);
        for name in [COOKIE_NAME, OTHER_NAME] {
            let fields = [
                format!("{name}={value}"),
                format!("theme=dark; {name}={value}; lang=en"),
                format!("a=1\n{name}={value}\nb=2"),
                format!("{name}=garbage; {name}={value}"),
                format!("{name}={value}; {name}={value}"),
                format!(
                    "{name}={value}\n{name}={}",
                    values[(i * 3 + 1) % values.len()]
                ),
            ];
            for (j, field) in fields.iter().enumerate() {
                let control = control.wrapping_add(u8::try_from(j).unwrap_or(0) << 3);
                let mut input = vec![control];
                input.extend_from_slice(field.as_bytes());
                corpus.write("cookie_header", &input)?;
            }
        }
    }
    for control in [0u8, 0x08, 0x10, 0x18, 0x21, 0x42, 0x83, 0xff] {
        corpus.write("cookie_header", &[control])?;
        let mut input = vec![control];
        input.extend_from_slice(b"__Host-session=; sid=x; =; ;;; a");
        corpus.write("cookie_header", &input)?;
    }

    // plaintext: postcard encodings of each session type's samples.
    let plaintexts: Vec<Vec<u8>> = vec![
        postcard::to_allocvec(&42u64),
        postcard::to_allocvec(&"hello".to_owned()),
        postcard::to_allocvec(&vec![1u32, 2, 300]),
        postcard::to_allocvec(&Some((7u8, "x".to_owned()))),
        postcard::to_allocvec(&map),
        postcard::to_allocvec(&Mode::Member {
            since: NOW,
            tier: -1,
        }),
        postcard::to_allocvec(&visits),
        postcard::to_allocvec(&profile),
        postcard::to_allocvec(&Some(profile.clone())),
    ]
    .into_iter()
    .flatten()
    .collect();
    for plaintext in &plaintexts {
        corpus.write("plaintext", plaintext)?;
    }
    corpus.write("plaintext", &[])?;
    corpus.write("plaintext", &[0xff; 12])?;

    // roundtrip: arbitrary bytes; any bytes make an `Input`, so give a few shapes of them.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for len in [0usize, 16, 64, 256, 1024, 4000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        corpus.write("roundtrip", &bytes)?;
    }
    for plaintext in &plaintexts {
        corpus.write("roundtrip", plaintext)?;
    }

    // key_string: keys, rings, and near misses.
    let keys = [AES_KEY, XCHACHA_KEY, RETIRED_KEY];
    for key_string in keys {
        corpus.write("key_string", key_string.as_bytes())?;
        corpus.write("key_string", key_string.to_uppercase().as_bytes())?;
        corpus.write("key_string", &key_string.as_bytes()[..key_string.len() - 1])?;
    }
    for ring in [
        format!("{AES_KEY},{XCHACHA_KEY}"),
        format!("{AES_KEY}, {XCHACHA_KEY}\n{RETIRED_KEY}"),
        format!("{AES_KEY} {AES_KEY}"),
        format!(
            "{AES_KEY},{}",
            AES_KEY.replace("aes-256-gcm", "xchacha20-poly1305")
        ),
        format!("{AES_KEY},{}", XCHACHA_KEY.replace("c0000002", "a0000001")),
        vec![AES_KEY; 17].join(","),
        full_ring(16),
        full_ring(17),
        " , ".to_owned(),
        "ssk1.aes-256-gcm.00000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
    ] {
        corpus.write("key_string", ring.as_bytes())?;
    }
    Ok(())
}
