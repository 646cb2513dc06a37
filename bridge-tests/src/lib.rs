//! Nothing: this package holds the tower-sessions bridge's example (`examples/axum_login.rs`)
//! and tests (`tests/tower_sessions.rs`), apart from the crate so that their dependencies are
//! built only for them (see `Cargo.toml`).
