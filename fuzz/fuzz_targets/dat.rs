//! Fuzz target for dlib's `.dat` model readers (the primitives of
//! `faces::photo::dat` and the face ResNet's loader): any bytes, as a
//! program of reads and as a model file; reading must not panic, nor
//! allocate for data that is not there. The body is
//! `rollcall::fuzzing::dat`, which the stable test `tests/fuzz_corpus.rs`
//! also runs over `fuzz/corpus/dat/`.
//!
//! Run with `cargo +nightly fuzz run dat` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::dat(data);
});
