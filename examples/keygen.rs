//! Prints one new key string on stdout.
//!
//! ```text
//! cargo run --example keygen                                   # AES-256-GCM
//! cargo run --example keygen -- --algorithm xchacha20-poly1305
//! ```
//!
//! Store the output in your secret manager and hand it to the server, e.g. as
//! `SESSION_KEYS=<key string>` (several, comma-separated, the first one sealing).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use sealed_session::{Algorithm, Key};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut algorithm = Algorithm::Aes256Gcm;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--algorithm" => args.next(),
            other => other.strip_prefix("--algorithm=").map(str::to_owned),
        };
        match value.as_deref().map(str::parse::<Algorithm>) {
            Some(Ok(parsed)) => algorithm = parsed,
            _ => {
                eprintln!("usage: keygen [--algorithm aes-256-gcm|xchacha20-poly1305]");
                return ExitCode::from(2);
            }
        }
    }
    match Key::try_generate(algorithm) {
        Ok(key) => {
            println!("{key}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("keygen: {error}");
            ExitCode::FAILURE
        }
    }
}
