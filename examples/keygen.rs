//! Prints one new key string on stdout: a line of a key ring file.
//!
//! ```text
//! cargo run --example keygen                                   # AES-256-GCM
//! cargo run --example keygen -- --algorithm xchacha20-poly1305
//! cargo run --example keygen -- --activate 2026-12-01T00:00:00Z  # a scheduled key
//! ```
//!
//! Store the output in your secret manager or a ring file and hand it to the server, e.g. as
//! `SESSION_KEYS=<key string>` (several, comma-separated, the first one sealing), or in a ring
//! file, which ends with a line `end` (`{ cargo run -q --example keygen; echo end; } >
//! session.keys`). With `--activate TIME` (RFC 3339 UTC or Unix seconds) the line is
//! `<key string> activate=TIME`: put on top of a ring file (see the README's rotation runbook),
//! the key opens at once and seals from that time on, on every instance.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use sealed_session::{Algorithm, Key, KeyRing};

fn main() -> ExitCode {
    const USAGE: &str =
        "usage: keygen [--algorithm aes-256-gcm|xchacha20-poly1305] [--activate TIME]";
    let mut args = std::env::args().skip(1);
    let mut algorithm = Algorithm::Aes256Gcm;
    let mut activate = None;
    while let Some(arg) = args.next() {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), args.next()),
        };
        match (name.as_str(), value) {
            ("--algorithm", Some(value)) => match value.parse::<Algorithm>() {
                Ok(parsed) => algorithm = parsed,
                Err(error) => {
                    eprintln!("keygen: {error}\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            ("--activate", Some(value)) => activate = Some(value),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let key = match Key::try_generate(algorithm) {
        Ok(key) => key,
        Err(error) => {
            eprintln!("keygen: {error}");
            return ExitCode::FAILURE;
        }
    };
    let line = match activate {
        None => key.to_string(),
        Some(time) => format!("{key} activate={time}"),
    };
    // The ring parser is the judge of the line (the time's format, say).
    if let Err(error) = line.parse::<KeyRing>() {
        eprintln!("keygen: {error}\n{USAGE}");
        return ExitCode::from(2);
    }
    println!("{line}");
    ExitCode::SUCCESS
}
