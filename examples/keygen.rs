//! `keygen` inside the repository: the same command line as the installable one
//! (`cargo install --path keygen`, package `sealed-session-keygen`), whose code this runs.
//!
//! ```text
//! cargo run -q --example keygen                                  # AES-256-GCM: one ring line
//! cargo run -q --example keygen -- --algorithm xchacha20-poly1305
//! cargo run -q --example keygen -- --activate 2026-12-01T00:00:00Z  # a scheduled key
//! cargo run -q --example keygen -- --ring > session.keys         # a whole ring file (`end`)
//! openssl rand -hex 32 | cargo run -q --example keygen -- --from-hex
//! ```
//!
//! Store the output in your secret manager or a ring file and hand it to the server, e.g. as
//! `SESSION_KEYS=<key string>` (several, comma-separated, the first one sealing), or in a ring
//! file, which ends with a line `end` (`--ring` writes it). With `--activate TIME` (RFC 3339
//! UTC or Unix seconds) the line is `<key string> activate=TIME`: put on top of a ring file
//! (see the README's rotation runbook), the key opens at once and seals from that time on, on
//! every instance.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../keygen/src/cli.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
