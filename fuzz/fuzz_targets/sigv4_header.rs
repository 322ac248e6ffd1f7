//! Fuzz target for the SigV4 parsers: any bytes, read as text, go to both
//! the `Authorization` header parser and the presigned-URL query parser;
//! neither may panic, and what parses must hold what verification relies
//! on. The body is `rollcall::fuzzing::sigv4_header`, which the stable test
//! `tests/fuzz_corpus.rs` also runs over `fuzz/corpus/sigv4_header/`.
//!
//! Run with `cargo +nightly fuzz run sigv4_header` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::sigv4_header(data);
});
