//! Property tests of the text language: every valid tree prints to text that
//! parses back to the same tree, printing is idempotent, and no input makes
//! the parser panic.

use crate::util::filter_gen as common;

use proptest::prelude::*;
use rollcall::fuzzing::parse as fuzz_check;
use rollcall::syntax::parse;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_then_parse_is_identity(q in common::gen_filter()) {
        let printed = q.to_string();
        let back = parse(&printed);
        prop_assert_eq!(back.as_ref(), Ok(&q), "printed: {}", printed);
        prop_assert_eq!(back.map(|b| b.to_string()).ok(), Some(printed));
    }
}

/// Fragments of the language, glued at random, make near-miss queries.
fn near_miss() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "username",
        "FirstName",
        "hierarchy",
        "tag.",
        "tag.x",
        "proficiency",
        "[",
        "]",
        "(",
        ")",
        "*",
        "eq",
        "sw",
        "co",
        "=",
        "under",
        "and",
        "or",
        "level",
        "in",
        "..",
        "ge",
        "name",
        "value",
        "\"",
        "\"a\\\"",
        "\\u",
        "\\uD800",
        "#",
        "\n",
        " ",
        "42",
        "-7",
        "jo",
        "é",
        "\u{0}",
    ]);
    prop::collection::vec(token, 0..16).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn garbage_never_panics(s in any::<String>()) {
        fuzz_check(s.as_bytes());
    }

    #[test]
    fn near_misses_never_panic(s in near_miss()) {
        fuzz_check(s.as_bytes());
        if let Err(e) = parse(&s) {
            prop_assert!(e.span().end <= s.len());
            prop_assert!(!e.message().is_empty());
            prop_assert!(!e.message().contains('_'), "rule name leaked: {}", e);
        }
    }

    #[test]
    fn garbage_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..64)) {
        fuzz_check(&b);
    }
}

/// The case proptest shrank a failure of `garbage_bytes_never_panic` to
/// (tests/syntax_props.proptest-regressions): a lone carriage return.
#[test]
fn a_lone_carriage_return_does_not_panic() {
    fuzz_check(&[13]);
}
