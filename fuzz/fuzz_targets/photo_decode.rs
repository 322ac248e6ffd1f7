//! Fuzz target for the photo decoder of `Image.Bytes` (JPEG and PNG to
//! RGB): any bytes; decoding must not panic nor allocate for pixels a
//! header declares beyond the limits, what decodes must be within them,
//! and aligning a face chip on it must not panic either. The body is
//! `rollcall::fuzzing::photo_decode`, which the stable test
//! `tests/fuzz_corpus.rs` also runs over `fuzz/corpus/photo_decode/`.
//!
//! Run with `cargo +nightly fuzz run photo_decode` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::photo_decode(data);
});
