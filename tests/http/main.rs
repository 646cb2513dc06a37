//! The HTTP suites: real hyper, axum and actix-web servers on 127.0.0.1 with real clients, one
//! module per suite. They are one test binary so that the shared harness (`tests/harness`, about
//! 4,000 lines) is compiled once rather than once per suite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::mod_module_files
)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../harness/mod.rs"]
mod harness;

// One module per suite; each says what it covers.
mod actix;
mod axum;
mod fleet;
mod hyper;
mod migrations;
mod seams;
mod testing;
mod type_binding;
