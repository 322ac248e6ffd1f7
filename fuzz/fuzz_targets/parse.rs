//! Fuzz target for the text language: any bytes; if UTF-8, parsing must not
//! panic, and a query that parses must print and parse back to the same
//! tree. The body is `rollcall::fuzzing::parse`, which the stable test
//! `tests/fuzz_corpus.rs` also runs over `fuzz/corpus/parse/`.
//!
//! Run with `cargo +nightly fuzz run parse` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::parse(data);
});
