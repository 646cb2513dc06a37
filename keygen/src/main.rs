//! `keygen`: prints a new sealed-session key string (a line of a key ring file), or a whole
//! ring file, or the key string of a 32-byte secret made by another tool. See `keygen --help`
//! and [`cli`].
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
