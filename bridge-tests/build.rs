//! Copies the README's axum-login recipe (its TOML block of dependencies and its Rust block)
//! into `OUT_DIR`, as written, for `tests/tower_sessions.rs` to compile and run: a README recipe is a
//! contract (issue 19 F8), and the README's own doctests cannot build it (the crate does not
//! depend on the auth stack; this package does).

use std::error::Error;
use std::path::PathBuf;

/// The README section the recipe is in.
const HEADING: &str = "\n## axum-login and axum-messages\n";

/// The text of the first code block opened by `fence` in `section`.
fn block<'a>(section: &'a str, fence: &str) -> Result<&'a str, Box<dyn Error>> {
    let start = section
        .find(fence)
        .ok_or_else(|| format!("README.md: no {fence} block under {HEADING:?}"))?
        + fence.len();
    let rest = section.get(start..).unwrap_or_default();
    let end = rest
        .find("\n```")
        .ok_or_else(|| format!("README.md: an unclosed {fence} block"))?;
    Ok(rest.get(..end + 1).unwrap_or_default())
}

fn main() -> Result<(), Box<dyn Error>> {
    let readme_path = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../README.md");
    println!("cargo::rerun-if-changed={}", readme_path.display());
    let readme = std::fs::read_to_string(&readme_path)?;
    let at = readme
        .find(HEADING)
        .ok_or_else(|| format!("README.md: no section {HEADING:?}"))?;
    let section = readme.get(at + HEADING.len()..).unwrap_or_default();
    let section = section
        .get(..section.find("\n## ").unwrap_or(section.len()))
        .unwrap_or_default();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("readme_axum_login.toml"),
        block(section, "```toml\n")?,
    )?;
    // A block expression, so that `include!` takes the recipe's statements whole: its value
    // is the `app` the recipe builds.
    let rust = block(section, "```rust,ignore\n")?;
    std::fs::write(
        out.join("readme_axum_login.rs"),
        format!("{{\n{rust}app\n}}\n"),
    )?;
    Ok(())
}
