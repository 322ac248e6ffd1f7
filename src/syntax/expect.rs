//! Turning a pest failure into a [`SyntaxError`] that says in words what was
//! expected, and after what.
//!
//! Takes in the pest error, the source and its [`Scan`]; gives out the
//! error. Rule names never reach the message: each rule the grammar may
//! report maps to a phrase ("a comparison (eq, sw, co)", "a value"), and
//! the text around the spot comes from the pre-scan's tokens.

use pest::error::{Error, ErrorVariant, InputLocation};

use super::error::{SyntaxError, SyntaxErrorKind};
use super::grammar::Rule;
use super::lex::Scan;
use crate::criteria::StringField;

/// The phrase for a rule the grammar may report as expected.
fn phrase(rule: Rule) -> &'static str {
    use Rule::*;
    match rule {
        or_expr | and_expr | group | star | string_leaf | hierarchy_leaf | tag_leaf
        | proficiency_leaf | string_field | hierarchy_kw | tag_name | tag_prefix
        | proficiency_kw | open_paren => "a condition",
        string_op | op_sw | op_co => "a comparison (eq, sw, co)",
        hierarchy_op | op_under => "a comparison (eq, under)",
        tag_op | op_eq => "'eq'",
        level_op | in_kw | op_ge | op_gt | op_le | op_lt | op_ne => {
            "a comparison (ge, gt, le, lt, eq, ne) or 'in'"
        }
        value | quoted | bare => "a value",
        tag_key => "a tag key",
        prof_string | prof_field | prof_level | level_kw => {
            "a proficiency item (name, value or level)"
        }
        int => "a whole number",
        range_sep => "'..'",
        and_op => "'and'",
        or_op => "'or'",
        close_paren => "')'",
        close_bracket => "']'",
        open_bracket => "'['",
        EOI => "the end of input",
        _ => "something else",
    }
}

/// The order phrases are listed in.
const ORDER: [&str; 16] = [
    "a condition",
    "a comparison (eq, sw, co)",
    "a comparison (eq, under)",
    "a comparison (ge, gt, le, lt, eq, ne) or 'in'",
    "a value",
    "a tag key",
    "a proficiency item (name, value or level)",
    "a whole number",
    "'..'",
    "'eq'",
    "'and'",
    "'or'",
    "')'",
    "']'",
    "'['",
    "the end of input",
];

/// `a`, `a or b`, `a, b or c`.
fn one_of(items: &[&str]) -> String {
    match items {
        [] => "something else".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn is_keyword(word: &str) -> bool {
    word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or")
}

/// Shortens a token for quoting in a message, and keeps control characters
/// (a line break inside a quoted value) from breaking the message's line.
fn show(token: &str) -> String {
    const MAX: usize = 24;
    let mut out = String::new();
    for (i, c) in token.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds the error for a failed parse.
pub(crate) fn from_pest(err: &Error<Rule>, src: &str, scan: &Scan) -> SyntaxError {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    };
    let content_end = scan.content().end;
    let at_end = pos >= content_end;
    if at_end && let Some(&(open, b)) = scan.open.last() {
        let what = if b == b'(' { "parenthesis" } else { "bracket" };
        return SyntaxError::new(
            SyntaxErrorKind::Unclosed,
            open..open + 1,
            format!("unclosed {what}: the input ended before its match"),
            src,
        );
    }
    let mut expected: Vec<&str> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        for &r in positives {
            let p = phrase(r);
            if !expected.contains(&p) {
                expected.push(p);
            }
        }
    }
    // A fixed order, whatever order the grammar tried things in.
    expected.sort_by_key(|p| ORDER.iter().position(|o| o == p));
    let found = if at_end { None } else { scan.token_at(pos) };
    let found_text = found.clone().map(|t| &src[t]);

    if let (Some(range), Some(text)) = (found.clone(), found_text) {
        if scan.unmatched.contains(&range.start) {
            let (what, open) = if text == ")" {
                ("')'", "'('")
            } else {
                ("']'", "'['")
            };
            return SyntaxError::new(
                SyntaxErrorKind::UnmatchedClose,
                range,
                format!("unmatched {what}: no {open} is open here"),
                src,
            );
        }
        let starts_word = text
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric);
        if expected == ["a condition"] && starts_word && !is_keyword(text) {
            return SyntaxError::new(
                SyntaxErrorKind::UnknownField,
                range,
                format!(
                    "unknown field '{}'; expected username, firstname, lastname, \
                     routingprofileid, securityprofileid, resourceid, hierarchy, \
                     tag.<key> or proficiency[...]",
                    show(text)
                ),
                src,
            );
        }
    }

    let mut message = format!("expected {}", one_of(&expected));
    if let Some(prev) = scan.before(pos) {
        let prev = &src[prev];
        if StringField::parse(prev).is_some() && expected.contains(&"a comparison (eq, sw, co)") {
            message.push_str(&format!(" after field '{}'", show(prev)));
        } else {
            message.push_str(&format!(" after '{}'", show(prev)));
        }
    }
    let span = match (found, found_text) {
        (Some(range), Some(text)) => {
            if is_keyword(text)
                && (expected.contains(&"a value") || expected.contains(&"a tag key"))
            {
                message.push_str(&format!(
                    ", found the keyword '{text}' (write \"{text}\" to use it as a value)"
                ));
            } else {
                message.push_str(&format!(", found '{}'", show(text)));
            }
            // The cut part of a token (`tag.and`): point at the rest of it.
            pos.max(range.start)..range.end
        }
        _ => content_end..content_end,
    };
    let e = SyntaxError::new(SyntaxErrorKind::Unexpected, span, message, src);
    if at_end {
        e.at_end()
    } else {
        e
    }
}
