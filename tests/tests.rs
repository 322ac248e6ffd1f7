//! The integration tests, one binary of modules (linking tantivy, faer and
//! axum once instead of once per file). Each module is a file beside this
//! one; the helpers they share are in `util/`. Run one module with
//! `cargo test --release --test tests faces::`.
//!
//! `serve_load.rs` is its own binary (see its `[[test]]` in Cargo.toml):
//! it saturates the CPUs for `ROLLCALL_LOAD_SECS` seconds, which would
//! starve the timing-sensitive tests here (deadlines, kill -9 rounds) if it
//! ran beside them.

mod util;

mod connect_writes;
mod credentials;
mod criteria_props;
mod criteria_rules;
mod directory;
mod directory_api;
mod directory_cli;
mod directory_props;
mod directory_writes;
mod faces;
mod faces_cli;
mod faces_photos;
mod faces_shared;
mod fuzz_corpus;
mod language_cli;
mod language_props;
mod repl;
mod rules;
mod serve_http;
mod syntax_props;
