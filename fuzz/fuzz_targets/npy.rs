//! Fuzz target for the `.npy` decoders of `Image.Bytes` and `rollcall faces
//! import`: any bytes; decoding must not panic nor allocate for data that is
//! not there, the in-memory, sized and streaming decoders must agree, and
//! what decodes must re-encode to the same matrix. The body is
//! `rollcall::fuzzing::npy`, which the stable test `tests/fuzz_corpus.rs`
//! also runs over `fuzz/corpus/npy/`.
//!
//! Run with `cargo +nightly fuzz run npy` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::npy(data);
});
