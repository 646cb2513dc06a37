//! The command line of `keygen`, shared by the installable binary (`keygen/src/main.rs`) and
//! `examples/keygen.rs` (`cargo run --example keygen` in the repository).
//!
//! ```text
//! keygen                                      # a key string (AES-256-GCM): one ring line
//! keygen --algorithm xchacha20-poly1305
//! keygen --activate 2026-12-01T00:00:00Z      # a scheduled key: `<key string> activate=TIME`
//! keygen --ring > session.keys                # a whole ring file: the line, then `end`
//! openssl rand -hex 32 | keygen --from-hex    # the key string of a secret made elsewhere
//! openssl rand -base64 32 | keygen --from-base64
//! ```
//!
//! `--from-hex` and `--from-base64` read the secret from standard input, never from the command
//! line (which `ps` and shell histories show), and take exactly 32 bytes of key material, as a
//! CSPRNG gives them (64 hex digits; 44 characters of standard base64 with padding, or 43
//! unpadded, or the URL-safe alphabet): a password, a passphrase or a secret of another length
//! is refused, since it is not a key (derive keys from a high-entropy master secret with
//! `Key::derive` instead).

use std::io::Read as _;
use std::process::ExitCode;

use base64::Engine as _;
use sealed_session::{Algorithm, Key, KeyError, KeyRing};
use zeroize::Zeroizing;

const USAGE: &str = "usage: keygen [--algorithm aes-256-gcm|xchacha20-poly1305] [--activate TIME] \
     [--ring] [--from-hex | --from-base64]\n\
     \n\
     Prints a new key string: a line of a key ring file, or SESSION_KEYS=<key string>.\n\
     \x20 --algorithm NAME  aes-256-gcm (default) or xchacha20-poly1305\n\
     \x20 --activate TIME   a scheduled key: `<key string> activate=TIME` (RFC 3339 UTC or Unix\n\
     \x20                   seconds); on top of a ring file it opens at once and seals from TIME\n\
     \x20 --ring            a whole ring file: the line, then the line `end` ring files end with\n\
     \x20 --from-hex        the key string of a 32-byte secret read from standard input as 64 hex\n\
     \x20                   digits (`openssl rand -hex 32 | keygen --from-hex`)\n\
     \x20 --from-base64     the same, as base64 (`openssl rand -base64 32 | keygen --from-base64`)";

/// Where the key material comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Random,
    Hex,
    Base64,
}

/// What the command line asks for.
struct Args {
    algorithm: Algorithm,
    activate: Option<String>,
    ring: bool,
    source: Source,
}

/// Runs `keygen` with the process's arguments and standard input.
pub(crate) fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("keygen: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let key = match args.source {
        Source::Random => Key::try_generate(args.algorithm).map_err(|e| e.to_string()),
        source => read_secret(source, &mut std::io::stdin().lock())
            .and_then(|bytes| Key::from_bytes(args.algorithm, &bytes).map_err(secret_error)),
    };
    let key = match key {
        Ok(key) => key,
        Err(message) => {
            eprintln!("keygen: {message}");
            return ExitCode::FAILURE;
        }
    };
    match output(&key, &args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("keygen: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The arguments, or `None` for `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        algorithm: Algorithm::Aes256Gcm,
        activate: None,
        ring: false,
        source: Source::Random,
    };
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--algorithm" => {
                let value = value().ok_or("--algorithm needs a value")?;
                parsed.algorithm = value.parse().map_err(|e: KeyError| e.to_string())?;
            }
            "--activate" => parsed.activate = Some(value().ok_or("--activate needs a time")?),
            "--ring" => parsed.ring = true,
            "--from-hex" | "--from-base64" if parsed.source != Source::Random => {
                return Err("give one of --from-hex and --from-base64".to_owned());
            }
            "--from-hex" | "--from-base64" if inline.is_some() => {
                return Err(format!(
                    "{name} reads the secret from standard input, never from the command line \
                     (ps and shell histories show it): `openssl rand -hex 32 | keygen --from-hex`"
                ));
            }
            "--from-hex" => parsed.source = Source::Hex,
            "--from-base64" => parsed.source = Source::Base64,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(parsed))
}

/// What `keygen` prints for `key`: its ring line (with `activate=`), and with `--ring` the
/// `end` line after it. The ring parser judges the text (the time's format, say).
fn output(key: &Key, args: &Args) -> Result<String, String> {
    let mut line = key.to_string();
    if let Some(time) = &args.activate {
        line = format!("{line} activate={time}");
    }
    let text = if args.ring {
        format!("{line}\nend\n")
    } else {
        format!("{line}\n")
    };
    // Ring text without `end` is what `SESSION_KEYS` holds; the file form needs it.
    let check = if args.ring {
        text.as_str()
    } else {
        line.as_str()
    };
    check
        .parse::<KeyRing>()
        .map_err(|error| error.to_string())?;
    Ok(text)
}

/// The 32 bytes of a secret read from `input` in the explicit encoding `source`.
fn read_secret(
    source: Source,
    input: &mut impl std::io::Read,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut text = Zeroizing::new(String::new());
    // A secret is 88 characters at most; more is not one (and is not read on without bound).
    input
        .take(1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("could not read the secret from standard input: {e}"))?;
    let trimmed = text.trim();
    let bytes = match source {
        Source::Hex => decode_hex(trimmed),
        Source::Base64 => decode_base64(trimmed),
        Source::Random => None,
    };
    match bytes {
        Some(bytes) if bytes.len() == 32 => Ok(bytes),
        Some(bytes) => Err(format!(
            "the secret is {} bytes; a key is exactly 32 random bytes \
             (`openssl rand -hex 32` or `openssl rand -base64 32`)",
            bytes.len()
        )),
        None => Err(format!(
            "standard input is not {}: a key is exactly 32 random bytes, such as \
             `openssl rand {} 32` prints (a password or passphrase is not a key)",
            if source == Source::Hex {
                "hex digits"
            } else {
                "base64"
            },
            if source == Source::Hex {
                "-hex"
            } else {
                "-base64"
            },
        )),
    }
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    // `usize::is_multiple_of` is Rust 1.87, after the MSRV.
    if text.len() % 2 != 0 {
        return None;
    }
    let digits = text.as_bytes();
    let mut bytes = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.chunks_exact(2) {
        let high = char::from(*pair.first()?).to_digit(16)?;
        let low = char::from(*pair.get(1)?).to_digit(16)?;
        bytes.push(u8::try_from(high * 16 + low).ok()?);
    }
    Some(bytes)
}

fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .map(Zeroizing::new)
}

/// A secret the key constructor refused (all one byte: a placeholder).
fn secret_error(error: KeyError) -> String {
    format!("{error}: not a key made by a random number generator")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        parse(list.iter().map(|s| (*s).to_owned()))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_ring_file_ends_with_end_and_loads() {
        let key = Key::generate(Algorithm::Aes256Gcm);
        let text = output(&key, &args(&["--ring"])).unwrap();
        assert!(text.ends_with("\nend\n"), "{text}");
        let path = std::env::temp_dir().join(format!("keygen-test-{}.keys", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let ring = KeyRing::from_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(ring.unwrap().primary_id(), key.id());
    }

    #[test]
    fn a_line_is_one_key_string_and_a_scheduled_one_names_its_time() {
        let key = Key::generate(Algorithm::XChaCha20Poly1305);
        assert_eq!(output(&key, &args(&[])).unwrap(), format!("{key}\n"));
        let scheduled = output(&key, &args(&["--activate", "2030-01-01T00:00:00Z"])).unwrap();
        assert_eq!(scheduled, format!("{key} activate=2030-01-01T00:00:00Z\n"));
        assert!(output(&key, &args(&["--activate=tomorrow"])).is_err());
    }

    #[test]
    fn secrets_from_other_tools_in_an_explicit_form() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
        let from_hex = read_secret(Source::Hex, &mut hex.as_bytes()).unwrap();
        assert_eq!(from_hex.len(), 32);
        assert_eq!(from_hex.first(), Some(&0x00));
        assert_eq!(from_hex.get(1), Some(&0x11));
        // The same bytes as `openssl rand -base64 32` would print them: the same key.
        let b64 = base64::engine::general_purpose::STANDARD.encode(&*from_hex);
        assert_eq!(b64.len(), 44);
        let from_b64 = read_secret(Source::Base64, &mut b64.as_bytes()).unwrap();
        assert_eq!(*from_hex, *from_b64);
        let a = Key::from_bytes(Algorithm::Aes256Gcm, &from_hex).unwrap();
        let b = Key::from_bytes(Algorithm::Aes256Gcm, &from_b64).unwrap();
        assert_eq!(a.to_string(), b.to_string());
        // Not a key: a password, a short secret, a placeholder.
        for (source, input) in [
            (Source::Hex, "correct horse battery staple"),
            (Source::Base64, "hunter2!"),
            (Source::Hex, "00112233"),
            (Source::Base64, "AAAA"),
        ] {
            assert!(
                read_secret(source, &mut input.as_bytes()).is_err(),
                "{input}"
            );
        }
        let zeros = read_secret(Source::Hex, &mut "00".repeat(32).as_bytes()).unwrap();
        assert!(Key::from_bytes(Algorithm::Aes256Gcm, &zeros).is_err());
        // Never on the command line.
        assert!(parse(["--from-hex=00".to_owned()].into_iter()).is_err());
        assert!(parse(["--from-hex".to_owned(), "--from-base64".to_owned()].into_iter()).is_err());
    }
}
