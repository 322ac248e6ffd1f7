//! Fuzz target for the AWS JSON decoder: any bytes; decoding and validation
//! must not panic, and a valid request must print as text and raise back to
//! a stable request. The body is `rollcall::fuzzing::decode`,
//! which the stable test `tests/fuzz_corpus.rs` also runs over
//! `fuzz/corpus/decode/`.
//!
//! Run with `cargo +nightly fuzz run decode` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rollcall::fuzzing::decode(data);
});
