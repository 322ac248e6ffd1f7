//! Fuzz target for the users-file reader of `connect import`: any bytes as
//! a whole file; reading must not panic, an error must name a line of the
//! input, and every accepted user must read back from its stored JSON. The
//! body is `rollcall::fuzzing::import_line`, which the stable test
//! `tests/fuzz_corpus.rs` also runs over `fuzz/corpus/import_line/`.
//!
//! Run with `cargo +nightly fuzz run import_line` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::import_line(data);
});
