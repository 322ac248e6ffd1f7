//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`), one function
//! per decoder of untrusted bytes. The libFuzzer targets call them on
//! nightly; `tests/fuzz_corpus.rs` replays every corpus through them on
//! stable. Each takes any bytes and panics only when its property fails
//! (that is the point): decoding never panics, never allocates more than
//! the input justifies, and what decodes behaves as documented.
//!
//! Not a public API: hidden from the docs, kept public only so that the
//! fuzz crate and the tests can reach it.

use crate::criteria::wire::{parse_request, SearchUsersRequest};
use crate::criteria::Filter;

/// The `parse` target: when the bytes are UTF-8, parsing must not panic,
/// and a query that parses must print to text that parses back to the same
/// tree and prints the same again; an error must render at its spot.
///
/// ```
/// rollcall::fuzzing::parse(b"username eq jo or (tag.x and *)");
/// rollcall::fuzzing::parse(&[0xff, 0x28]);
/// ```
pub fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::syntax::parse(text) {
        Ok(q) => {
            let printed = q.to_string();
            match crate::syntax::parse(&printed) {
                Ok(again) => {
                    assert_eq!(again, q, "reparse of {printed:?} (from {text:?}) differs");
                    assert_eq!(again.to_string(), printed, "printing is not idempotent");
                }
                Err(e) => panic!("printed {printed:?} (from {text:?}) does not parse: {e}"),
            }
        }
        Err(e) => {
            // Errors must be drawable at their spot.
            let _ = e.render(text);
        }
    }
}

/// The `decode` target (the AWS JSON `SearchUsersRequest` decoder):
/// decoding and validation never panic; a request that validates prints as
/// text that parses back to the same tree, and raises back to a request
/// that is stable from then on.
///
/// ```
/// rollcall::fuzzing::decode(br#"{"SearchCriteria": {"AndConditions": []}}"#);
/// rollcall::fuzzing::decode(b"\xff not json");
/// ```
pub fn decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(search) = parse_request(text).and_then(|r| r.lower()) else {
        return;
    };
    let printed = search.filter.to_string();
    match crate::syntax::parse(&printed) {
        Ok(back) => assert_eq!(
            back, search.filter,
            "text of {text:?} reads back differently"
        ),
        Err(e) => panic!("{printed:?} (from {text:?}) does not parse: {e}"),
    }
    let raise = |f: &Filter| match SearchUsersRequest::from_filter(f) {
        Ok(r) => r,
        Err(e) => panic!("the filter of {text:?} does not raise: {e}"),
    };
    let first = raise(&search.filter);
    let again = match first.lower() {
        Ok(s) => raise(&s.filter),
        Err(e) => panic!("the raised request of {text:?} is invalid: {e}"),
    };
    assert_eq!(first, again, "raising {text:?} is not stable");
}
