//! Helpers shared by the test modules of `tests/tests.rs`: random criteria
//! and directories for the property tests, the faces helpers, running the
//! binary as a child, and a `rollcall serve` child with a raw HTTP client.

pub mod directory_gen;
pub mod faces;
pub mod filter_gen;
pub mod photos;
pub mod process;
pub mod serve;
pub mod vocab;
