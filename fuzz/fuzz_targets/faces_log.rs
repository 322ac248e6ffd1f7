//! Fuzz target for the faces log record decoder: any bytes, as one record's
//! payload and as a framed log; decoding must not panic, what decodes must
//! re-encode to the same bytes, and replaying it must reach a state whose
//! snapshot loads. The body is `rollcall::fuzzing::faces_log`, which the
//! stable test `tests/fuzz_corpus.rs` also runs over
//! `fuzz/corpus/faces_log/`.
//!
//! Run with `cargo +nightly fuzz run faces_log` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::faces_log(data);
});
