//! Fuzz target for the faces snapshot decoder: any bytes; decoding must not
//! panic nor allocate beyond the input, and a snapshot that decodes must
//! re-encode to bytes that decode to the same state. The body is
//! `rollcall::fuzzing::faces_snapshot`, which the stable test
//! `tests/fuzz_corpus.rs` also runs over `fuzz/corpus/faces_snapshot/`.
//!
//! Run with `cargo +nightly fuzz run faces_snapshot` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::faces_snapshot(data);
});
