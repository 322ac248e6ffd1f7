//! Helpers shared by the test modules of `tests/tests.rs`: random criteria
//! and directories for the property tests, the faces helpers, and a
//! `rollcall serve` child with a raw HTTP client.

pub mod directory_gen;
pub mod faces;
pub mod filter_gen;
pub mod serve;
pub mod vocab;
