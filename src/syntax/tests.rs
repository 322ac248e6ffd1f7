//! One-line cases for every construct and every error kind.

use super::*;
use crate::criteria::{
    HierarchyCondition, HierarchyMatch, NumberTest, ProficiencyCondition, ProficiencyField,
    StringCondition, StringField, StringOp, TagCondition,
};

/// `src` is already canonical: it parses, and prints back unchanged.
#[track_caller]
fn assert_roundtrip(src: &str) {
    parses_to(src, src);
}

/// `src` parses to a tree that prints as `canonical`, which parses back to
/// the same tree.
#[track_caller]
fn parses_to(src: &str, canonical: &str) {
    let q = parse(src).unwrap_or_else(|e| panic!("{src:?} does not parse:\n{}", e.render(src)));
    assert_eq!(q.to_string(), canonical, "printing {src:?}");
    assert_eq!(parse(canonical).as_ref(), Ok(&q), "reparsing {canonical:?}");
}

/// `src` fails with `kind`, and renders exactly as `rendered`.
#[track_caller]
fn fails(src: &str, kind: SyntaxErrorKind, rendered: &str) {
    let e = parse(src).expect_err(src);
    assert_eq!(e.kind(), kind, "{}", e.render(src));
    assert_eq!(e.render(src), rendered);
}

fn s(field: StringField, op: StringOp, v: &str) -> Filter {
    Filter::String(StringCondition::new(field, op, v).unwrap())
}

fn u(v: &str) -> Filter {
    s(StringField::Username, StringOp::Exact, v)
}

#[test]
fn string_fields_and_operators() {
    assert_roundtrip(r#"username eq "jo""#);
    assert_roundtrip(r#"username sw "jo""#);
    assert_roundtrip(r#"username co "jo""#);
    parses_to("username = jo", r#"username eq "jo""#);
    parses_to("username=jo", r#"username eq "jo""#);
    parses_to("FIRSTNAME Eq An", r#"firstname eq "An""#);
    parses_to("LastName co \"O'Neil\"", r#"lastname co "O'Neil""#);
    parses_to(
        "routingprofileid eq rp-77",
        r#"routingProfileId eq "rp-77""#,
    );
    parses_to(
        "SecurityProfileId sw sp:1",
        r#"securityProfileId sw "sp:1""#,
    );
    parses_to("resourceid co a", r#"resourceId co "a""#);
    parses_to("username eq a.b_c@d:e-f", r#"username eq "a.b_c@d:e-f""#);
    parses_to("username eq 42", r#"username eq "42""#);
    parses_to("username eq Andy", r#"username eq "Andy""#);
    parses_to("username eq orange", r#"username eq "orange""#);
}

#[test]
fn hierarchy() {
    assert_roundtrip(r#"hierarchy eq "g-1""#);
    assert_roundtrip(r#"hierarchy under "g-emea""#);
    parses_to("Hierarchy = g", r#"hierarchy eq "g""#);
    parses_to("HIERARCHY UNDER g", r#"hierarchy under "g""#);
    assert_eq!(
        parse("hierarchy under g").unwrap(),
        Filter::Hierarchy(HierarchyCondition::new("g", HierarchyMatch::WithChildGroups).unwrap())
    );
}

#[test]
fn tags() {
    assert_roundtrip("tag.Team");
    assert_roundtrip(r#"tag.Team eq "blue""#);
    assert_roundtrip(r#"tag."Cost Center" eq "42""#);
    assert_roundtrip(r#"tag."and" eq """#);
    assert_roundtrip(r#"tag."-x""#);
    parses_to("TAG.Team = blue", r#"tag.Team eq "blue""#);
    parses_to(r#"tag."plain""#, "tag.plain");
    parses_to("tag.a.b and tag.c", "tag.a.b and tag.c");
    assert_eq!(
        parse("tag.Team").unwrap(),
        Filter::Tag(TagCondition::new("Team", None).unwrap())
    );
}

#[test]
fn proficiencies() {
    assert_roundtrip(r#"proficiency[name eq "Language" and value eq "Spanish" and level in 3..5]"#);
    assert_roundtrip("proficiency[]");
    assert_roundtrip("proficiency[level ge 1]");
    assert_roundtrip("proficiency[level gt -1]");
    assert_roundtrip("proficiency[level le 5]");
    assert_roundtrip("proficiency[level lt 5]");
    assert_roundtrip("proficiency[level eq 3]");
    assert_roundtrip("proficiency[level ne 3]");
    assert_roundtrip("proficiency[level in -2..-1]");
    assert_roundtrip(r#"proficiency[name sw "L" and value co "x"]"#);
    parses_to("proficiency [ ]", "proficiency[]");
    parses_to(
        "PROFICIENCY[Level = 2 AND Name = x]",
        r#"proficiency[level eq 2 and name eq "x"]"#,
    );
    parses_to("proficiency[level in 2 .. 4]", "proficiency[level in 2..4]");
    parses_to(
        "proficiency[level in -2147483648..2147483647]",
        "proficiency[level in -2147483648..2147483647]",
    );
    assert_eq!(
        parse("proficiency[value eq x and level in 1..1]").unwrap(),
        Filter::Proficiency(vec![
            ProficiencyCondition::string(ProficiencyField::Value, StringOp::Exact, "x").unwrap(),
            ProficiencyCondition::Level(NumberTest::range(1, 1).unwrap()),
        ])
    );
    assert_eq!(parse("proficiency[]").unwrap(), Filter::Proficiency(vec![]));
}

#[test]
fn star_and_groups() {
    assert_roundtrip("*");
    assert_eq!(parse("*").unwrap(), Filter::all());
    parses_to("(*)", "*");
    parses_to("* and (*)", "* and *");
    assert_roundtrip("* or tag.a");
    assert_eq!(
        parse("* and *").unwrap(),
        Filter::And(vec![Filter::all(), Filter::all()])
    );
}

#[test]
fn structure_is_kept() {
    let (a, b, c) = (u("a"), u("b"), u("c"));
    let and = |v: Vec<Filter>| Filter::And(v);
    let or = |v: Vec<Filter>| Filter::or(v).unwrap();
    assert_eq!(parse("username eq a").unwrap(), a);
    assert_eq!(parse("((username eq a))").unwrap(), a);
    assert_eq!(
        parse("username eq a and username eq b and username eq c").unwrap(),
        and(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        parse("(username eq a and username eq b) and username eq c").unwrap(),
        and(vec![and(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        parse("username eq a or (username eq b or username eq c)").unwrap(),
        or(vec![a.clone(), or(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        parse("username eq a or username eq b and username eq c").unwrap(),
        or(vec![a.clone(), and(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        parse("(username eq a or username eq b) and username eq c").unwrap(),
        and(vec![or(vec![a, b]), c])
    );
}

#[test]
fn fewest_parentheses() {
    assert_roundtrip(r#"username eq "a" or username eq "b" and username eq "c""#);
    assert_roundtrip(r#"(username eq "a" or username eq "b") and username eq "c""#);
    assert_roundtrip(r#"(username eq "a" and username eq "b") and username eq "c""#);
    assert_roundtrip(r#"username eq "a" or (username eq "b" or username eq "c")"#);
    parses_to(
        r#"(username eq a and username eq b) or username eq c"#,
        r#"username eq "a" and username eq "b" or username eq "c""#,
    );
    parses_to("((tag.a) or (tag.b))", "tag.a or tag.b");
}

#[test]
fn keywords_and_fields_ignore_case_values_do_not() {
    parses_to(
        "UserName SW Jo AnD tag.x Or HIERARCHY Eq G",
        r#"username sw "Jo" and tag.x or hierarchy eq "G""#,
    );
}

#[test]
fn escapes() {
    parses_to(r#"username eq "a\"b\\c\/d""#, r#"username eq "a\"b\\c/d""#);
    parses_to(
        r#"username eq "\b\f\n\r\t""#,
        r#"username eq "\u0008\u000c\u000a\u000d\u0009""#,
    );
    parses_to(r#"username eq "\u00e9\u00E9""#, r#"username eq "éé""#);
    parses_to(r#"username eq "\uD83D\uDE00""#, r#"username eq "😀""#);
    parses_to(
        "username eq \"multi\nline\"",
        r#"username eq "multi\u000aline""#,
    );
    assert_roundtrip(r#"username eq "ΣΊΣΥΦΟΣ \u007f""#);
    assert_eq!(parse(r#"username eq "\u0041""#).unwrap(), u("A"));
}

#[test]
fn comments_and_whitespace() {
    parses_to("# who\nusername eq a # the a\n", r#"username eq "a""#);
    parses_to("username\n\teq\r\n  a", r#"username eq "a""#);
    parses_to("tag.x#comment\nand tag.y", "tag.x and tag.y");
    assert_roundtrip(r##"username eq "# not a comment""##);
}

#[test]
fn docs_example() {
    parses_to(
        "USERNAME = jo AND (tag.Team OR hierarchy UNDER g)",
        r#"username eq "jo" and (tag.Team or hierarchy under "g")"#,
    );
}

#[test]
fn render_with_crlf() {
    let src = "tag.a and\r\ntag.b tag.c\r\n";
    assert_eq!(
        parse(src).unwrap_err().render(src),
        "line 2, column 7: expected 'eq', 'and', 'or' or the end of input after 'tag.b', found 'tag.c'\ntag.b tag.c\n      ^^^^^\n"
    );
}

#[test]
fn spec_examples() {
    parses_to(
        r#"username sw "jo" and (firstname co "an" or lastname eq "O\"Neil")"#,
        r#"username sw "jo" and (firstname co "an" or lastname eq "O\"Neil")"#,
    );
    parses_to(
        r#"hierarchy under "g-emea" or routingprofileid eq rp-77"#,
        r#"hierarchy under "g-emea" or routingProfileId eq "rp-77""#,
    );
    assert_roundtrip(r#"tag."Cost Center" eq "42" and username co "ops""#);
    parses_to(
        "tag.Team                       # any user with a Team tag",
        "tag.Team",
    );
}

// One test per error kind, with its full rendering.

#[test]
fn error_empty() {
    fails(
        "  # nothing\n",
        SyntaxErrorKind::Empty,
        "line 2, column 1: expected a condition or '*', found nothing\n\n^\n",
    );
    assert!(!parse("").unwrap_err().is_incomplete());
}

#[test]
fn error_missing_comparison() {
    fails(
        "username xx jo",
        SyntaxErrorKind::Unexpected,
        "line 1, column 10: expected a comparison (eq, sw, co) after field 'username', found 'xx'\nusername xx jo\n         ^^\n",
    );
}

#[test]
fn error_missing_value_at_end() {
    let e = parse("username eq   # then nothing").unwrap_err();
    assert!(e.is_incomplete());
    assert_eq!(
        e.render("username eq   # then nothing"),
        "line 1, column 12: expected a value after 'eq'\nusername eq   # then nothing\n           ^\n"
    );
}

#[test]
fn error_keyword_as_value() {
    fails(
        "username eq and",
        SyntaxErrorKind::Unexpected,
        "line 1, column 13: expected a value after 'eq', found the keyword 'and' (write \"and\" to use it as a value)\nusername eq and\n            ^^^\n",
    );
}

#[test]
fn error_trailing_and_is_incomplete() {
    let e = parse("tag.a and\n").unwrap_err();
    assert!(e.is_incomplete());
    assert_eq!(
        e.to_string(),
        "line 1, column 10: expected a condition after 'and'"
    );
    assert!(parse("tag.a or").unwrap_err().is_incomplete());
    assert!(!parse("tag.a or )").unwrap_err().is_incomplete());
}

#[test]
fn error_on_line_three() {
    let src = "username eq a\nand (tag.x\n     or hierarchy below g)";
    fails(
        src,
        SyntaxErrorKind::Unexpected,
        "line 3, column 19: expected a comparison (eq, under) after 'hierarchy', found 'below'\n     or hierarchy below g)\n                  ^^^^^\n",
    );
}

#[test]
fn error_after_complete_leaf() {
    fails(
        "username eq a b",
        SyntaxErrorKind::Unexpected,
        "line 1, column 15: expected 'and', 'or' or the end of input after 'a', found 'b'\nusername eq a b\n              ^\n",
    );
    fails(
        "(tag.a tag.b)",
        SyntaxErrorKind::Unexpected,
        "line 1, column 8: expected 'eq', 'and', 'or' or ')' after 'tag.a', found 'tag.b'\n(tag.a tag.b)\n       ^^^^^\n",
    );
}

#[test]
fn messages_stay_on_one_line() {
    let e = parse("tag.x eq \"a\nb\" c").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 4: expected 'and', 'or' or the end of input after '\"a\\nb\"', found 'c'"
    );
}

#[test]
fn error_tag_key() {
    fails(
        "tag.and",
        SyntaxErrorKind::Unexpected,
        "line 1, column 5: expected a tag key after 'tag.', found 'tag.and'\ntag.and\n    ^^^\n",
    );
}

#[test]
fn error_proficiency_items() {
    fails(
        "proficiency[level at 3]",
        SyntaxErrorKind::Unexpected,
        "line 1, column 19: expected a comparison (ge, gt, le, lt, eq, ne) or 'in' after 'level', found 'at'\nproficiency[level at 3]\n                  ^^\n",
    );
    fails(
        "proficiency[skill eq x]",
        SyntaxErrorKind::Unexpected,
        "line 1, column 13: expected a proficiency item (name, value or level) or ']' after '[', found 'skill'\nproficiency[skill eq x]\n            ^^^^^\n",
    );
    fails(
        "proficiency[level ge x]",
        SyntaxErrorKind::Unexpected,
        "line 1, column 22: expected a whole number after 'ge', found 'x'\nproficiency[level ge x]\n                     ^\n",
    );
}

#[test]
fn error_unknown_field() {
    fails(
        "nickname eq jo",
        SyntaxErrorKind::UnknownField,
        "line 1, column 1: unknown field 'nickname'; expected username, firstname, lastname, routingprofileid, securityprofileid, resourceid, hierarchy, tag.<key> or proficiency[...]\nnickname eq jo\n^^^^^^^^\n",
    );
}

#[test]
fn error_unclosed_parenthesis() {
    let src = "tag.a and (tag.b or\n  tag.c";
    fails(
        src,
        SyntaxErrorKind::Unclosed,
        "line 1, column 11: unclosed parenthesis: the input ended before its match\ntag.a and (tag.b or\n          ^\n",
    );
    assert!(parse(src).unwrap_err().is_incomplete());
    let e = parse("proficiency[level ge 3").unwrap_err();
    assert_eq!(e.kind(), SyntaxErrorKind::Unclosed);
    assert_eq!(
        e.to_string(),
        "line 1, column 12: unclosed bracket: the input ended before its match"
    );
    assert!(e.is_incomplete());
}

#[test]
fn error_unmatched_close() {
    fails(
        "tag.a)",
        SyntaxErrorKind::UnmatchedClose,
        "line 1, column 6: unmatched ')': no '(' is open here\ntag.a)\n     ^\n",
    );
}

#[test]
fn error_unterminated_string() {
    let src = "username eq \"jo and\ntag.x";
    fails(
        src,
        SyntaxErrorKind::UnterminatedString,
        "line 1, column 13: unterminated string: no closing '\"'\nusername eq \"jo and\n            ^^^^^^^\n",
    );
    assert!(parse(src).unwrap_err().is_incomplete());
}

#[test]
fn error_invalid_escape() {
    fails(
        r#"username eq "a\qb""#,
        SyntaxErrorKind::InvalidEscape,
        "line 1, column 15: invalid escape '\\q' in string; expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX\nusername eq \"a\\qb\"\n              ^^\n",
    );
    fails(
        r#"tag.x eq "\u12G4""#,
        SyntaxErrorKind::InvalidEscape,
        "line 1, column 11: invalid escape '\\u12G' in string; \\u needs four hex digits\ntag.x eq \"\\u12G4\"\n          ^^^^^\n",
    );
    let e = parse(r#"tag.x eq "\uD800x""#).unwrap_err();
    assert_eq!(e.kind(), SyntaxErrorKind::InvalidEscape);
    assert_eq!(e.span(), 10..16);
    assert!(e.message().contains("lone surrogate"));
    assert_eq!(
        parse(r#"tag.x eq "\uDE00""#).unwrap_err().kind(),
        SyntaxErrorKind::InvalidEscape
    );
    assert_eq!(
        parse(r#"tag.x eq "\uD83D\u0041""#).unwrap_err().kind(),
        SyntaxErrorKind::InvalidEscape
    );
}

#[test]
fn error_number_out_of_range() {
    fails(
        "proficiency[level ge 2147483648]",
        SyntaxErrorKind::NumberOutOfRange,
        "line 1, column 22: level 2147483648 does not fit a 32-bit integer (-2147483648..2147483647)\nproficiency[level ge 2147483648]\n                     ^^^^^^^^^^\n",
    );
}

#[test]
fn error_invalid_condition() {
    fails(
        "username co j",
        SyntaxErrorKind::InvalidCondition,
        "line 1, column 13: invalid value: CONTAINS on username needs 2..25 characters, got 1\nusername co j\n            ^\n",
    );
    fails(
        r#"hierarchy eq """#,
        SyntaxErrorKind::InvalidCondition,
        "line 1, column 14: invalid hierarchy group: must not be empty\nhierarchy eq \"\"\n             ^^\n",
    );
    fails(
        "proficiency[level in 4..2]",
        SyntaxErrorKind::InvalidCondition,
        "line 1, column 22: invalid range: RANGE needs MinValue <= MaxValue, got 4 > 2\nproficiency[level in 4..2]\n                     ^^^^\n",
    );
    assert_eq!(
        parse(r#"tag."""#).unwrap_err().kind(),
        SyntaxErrorKind::InvalidCondition
    );
    assert_eq!(
        parse(r#"proficiency[name eq """#).unwrap_err().kind(),
        SyntaxErrorKind::Unclosed
    );
    assert_eq!(
        parse(r#"proficiency[name eq ""]"#).unwrap_err().kind(),
        SyntaxErrorKind::InvalidCondition
    );
    assert!(parse("resourceid co j").is_ok());
}

#[test]
fn error_limits() {
    let deep = format!(
        "{}username eq x and lastname eq y{}",
        "(username eq x and ".repeat(10),
        ")".repeat(10)
    );
    // Deeper than AWS allows: the engine runs it; converting it to an AWS
    // request names the depth limit.
    let q = parse(&deep).unwrap();
    let e = crate::criteria::wire::SearchUsersRequest::from_filter(&q).unwrap_err();
    assert!(
        e.message.contains("nested more than 10 levels"),
        "{}",
        e.message
    );
    let wide = vec!["tag.x"; 101].join(" or ");
    let e = parse(&wide).unwrap_err();
    assert_eq!(e.kind(), SyntaxErrorKind::Limit);
    assert_eq!(e.span(), 0..wide.len());
    assert_eq!(
        e.to_string(),
        "line 1, column 1: the query: 101 leaf conditions; at most 100 are allowed in one request"
    );
    assert!(parse(&vec!["tag.x"; 100].join(" or ")).is_ok());
}

#[test]
fn error_too_deep() {
    let src = "(".repeat(100_000);
    let e = parse(&src).unwrap_err();
    assert_eq!(e.kind(), SyntaxErrorKind::TooDeep);
    assert_eq!(e.span(), 64..65);
    assert_eq!(
        e.to_string(),
        "line 1, column 65: nested too deeply: more than 64 parentheses or brackets open at once"
    );
    // 64 deep is fine (it collapses to the leaf).
    let ok = format!("{}tag.x{}", "(".repeat(64), ")".repeat(64));
    assert_eq!(parse(&ok).unwrap().to_string(), "tag.x");
}

#[test]
fn render_handles_tabs_and_unicode() {
    let src = "\tσσ eq x";
    let e = parse(src).unwrap_err();
    assert_eq!(e.column(), 2);
    assert_eq!(e.render(src).lines().nth(2), Some("\t^"));
}

#[test]
fn fuzz_check_accepts_anything() {
    crate::fuzzing::parse(b"");
    crate::fuzzing::parse(b"username eq jo or (tag.x and *)");
    crate::fuzzing::parse(&[0xff, 0xfe]);
    crate::fuzzing::parse("((((\"\\u".as_bytes());
}

/// Found by `garbage_bytes_never_panic`: an error after a lone carriage
/// return used to put the caret's end before its start.
#[test]
fn regression_render_after_a_lone_carriage_return() {
    for src in ["\r", "username eq\r", "(\r\n\r"] {
        let e = parse(src).unwrap_err();
        assert!(e.render(src).contains('^'), "{src:?}");
    }
}
