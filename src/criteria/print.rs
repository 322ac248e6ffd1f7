//! The canonical printer: `Display` for [`Filter`].
//!
//! Takes in a criteria tree; gives out its text in the one canonical form:
//! lowercase keywords, the AWS field spellings, every value quoted, and the
//! fewest parentheses that keep the tree's structure exactly.
//!
//! It lives beside the tree rather than in [`crate::syntax`] so that the
//! layers point one way: `syntax` (the parser) depends on `criteria`, and
//! `criteria` (whose messages print the part of a filter they are about)
//! never on `syntax`. The lexical rule both sides share, which bytes a bare
//! word may hold, is [`is_word_byte`] here; the lexer reads it from here.

use std::fmt;

use super::{Filter, HierarchyMatch, NumberOp, ProficiencyCondition};

/// Prints the filter in the canonical text form, which [`parse`](crate::syntax::parse)
/// reads back to the same tree.
///
/// Precondition for the round trip `parse(&q.to_string()) == Ok(q)`: the
/// tree holds no singleton `And`/`Or` (it prints as its only child) and no
/// empty `Or` (it prints as `()`, which does not parse). Neither front end
/// ever builds those.
///
/// Parentheses go around an `And` child of an `And`, an `Or` child of an
/// `Or` and an `Or` child of an `And`; never around a leaf, `*` or an `And`
/// child of an `Or`.
///
/// ```
/// let q = rollcall::syntax::parse(r#"USERNAME SW jo AND (FirstName = "An" or tag.team)"#)?;
/// assert_eq!(q.to_string(), r#"username sw "jo" and (firstname eq "An" or tag.team)"#);
/// assert_eq!(rollcall::syntax::parse(&q.to_string())?, q);
/// # Ok::<(), rollcall::syntax::SyntaxError>(())
/// ```
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(items) if items.is_empty() => f.write_str("*"),
            Filter::And(items) => join(f, items, " and ", |c| match c {
                Filter::And(cc) => !cc.is_empty(),
                Filter::Or(_) => true,
                _ => false,
            }),
            Filter::Or(items) => join(f, items, " or ", |c| matches!(c, Filter::Or(_))),
            Filter::String(c) => {
                write!(f, "{} {} ", c.field().as_str(), c.op().keyword())?;
                quoted(f, c.value())
            }
            Filter::Hierarchy(h) => {
                let op = match h.mode() {
                    HierarchyMatch::Exact => "eq",
                    HierarchyMatch::WithChildGroups => "under",
                };
                write!(f, "hierarchy {op} ")?;
                quoted(f, h.group())
            }
            Filter::Tag(t) => {
                f.write_str("tag.")?;
                if is_bare(t.key()) {
                    f.write_str(t.key())?;
                } else {
                    quoted(f, t.key())?;
                }
                if let Some(v) = t.value() {
                    f.write_str(" eq ")?;
                    quoted(f, v)?;
                }
                Ok(())
            }
            Filter::Proficiency(items) => {
                f.write_str("proficiency[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    proficiency_item(f, item)?;
                }
                f.write_str("]")
            }
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    items: &[Filter],
    sep: &str,
    needs_parens: fn(&Filter) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

fn proficiency_item(f: &mut fmt::Formatter<'_>, item: &ProficiencyCondition) -> fmt::Result {
    match item {
        ProficiencyCondition::String(p) => {
            write!(f, "{} {} ", p.field().as_str(), p.op().keyword())?;
            quoted(f, p.value())
        }
        ProficiencyCondition::Level(test) => match (test.op(), test.bounds()) {
            (NumberOp::Range, (lo, hi)) => write!(f, "level in {lo}..{hi}"),
            (op, (n, _)) => write!(f, "level {} {n}", op.keyword()),
        },
    }
}

/// True for the bytes a bare word may continue with.
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b':' | b'-')
}

/// True when `s` may be written as a bare word: `[A-Za-z0-9][A-Za-z0-9._@:-]*`
/// and not a keyword (`and`, `or`, any case).
fn is_bare(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    bytes.iter().all(|&b| is_word_byte(b))
        && !s.eq_ignore_ascii_case("and")
        && !s.eq_ignore_ascii_case("or")
}

/// Writes `s` as a JSON-style quoted string; control characters as `\uXXXX`.
fn quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}
