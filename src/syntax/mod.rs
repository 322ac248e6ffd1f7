//! The text filter language: a notation for `SearchUsers` criteria, for
//! people (docs/semantics.md §3).
//!
//! Takes in text such as
//! `username sw "jo" and (firstname co "an" or tag.Team eq blue)`; gives out
//! the typed criteria tree [`Filter`] ([`parse`]), or a [`SyntaxError`] that
//! says where (byte span, line, column) and what was expected there. The
//! other way, `Display` for [`Filter`] (in `criteria`, so that `criteria`
//! does not depend on this module) is the canonical printer, and
//! `parse(&q.to_string()) == Ok(q)` for every tree the front ends build.
//!
//! The stages: `lex` pre-scans (strings, comments, nesting depth), the pest
//! grammar `grammar/filter.pest` parses, `lower` builds the tree through the
//! criteria smart constructors, and [`Filter::check_leaf_limit`] checks the
//! 100-leaf limit. (AWS's 10-level depth limit is checked when a query is
//! converted to an AWS request; the engine runs deeper text queries.) The language knows no schema beyond the field names:
//! hierarchy groups and tag keys are just strings here.
//!
//! Additions beyond docs/semantics.md §3: `*` matches every user (AWS
//! `AndConditions: []`), and `proficiency[]` matches every user with at
//! least one proficiency, so every AWS request can be printed.

mod error;
mod expect;
mod grammar;
mod lex;
mod lower;

use pest::Parser as _;

pub use error::{SyntaxError, SyntaxErrorKind};

use crate::criteria::Filter;

/// The most parentheses and brackets that may be open at once. Deeper input
/// is a [`SyntaxErrorKind::TooDeep`] error, found before any recursion.
pub const MAX_NESTING: usize = 64;

/// Reads a text query into a criteria tree.
///
/// Structure is kept as written: `a and b and c` is one `And` of three,
/// `(a and b) and c` an `And` inside an `And`, and `(a)` is just `a`.
/// Rule violations of single conditions (`username co "j"`) and of the whole
/// request (more than 10 levels, more than 100 leaves) are errors too.
///
/// ```
/// use rollcall::criteria::{Filter, StringCondition, StringField, StringOp};
/// let q = rollcall::syntax::parse("username sw jo  # the Jos")?;
/// let jo = StringCondition::new(StringField::Username, StringOp::StartsWith, "jo").unwrap();
/// assert_eq!(q, Filter::String(jo));
/// assert_eq!(rollcall::syntax::parse("*")?, Filter::all());
///
/// let err = rollcall::syntax::parse("username eq").unwrap_err();
/// assert_eq!(err.to_string(), "line 1, column 12: expected a value after 'eq'");
/// assert!(err.is_incomplete());
/// # Ok::<(), rollcall::syntax::SyntaxError>(())
/// ```
pub fn parse(text: &str) -> Result<Filter, SyntaxError> {
    let scan = lex::scan(text)?;
    if scan.tokens.is_empty() {
        return Err(SyntaxError::new(
            SyntaxErrorKind::Empty,
            text.len()..text.len(),
            "expected a condition or '*', found nothing",
            text,
        ));
    }
    let pairs = grammar::FilterParser::parse(grammar::Rule::filter, text)
        .map_err(|e| expect::from_pest(&e, text, &scan))?;
    let filter = lower::lower(pairs, text)?;
    filter
        .check_leaf_limit("the query")
        .map_err(|e| SyntaxError::new(SyntaxErrorKind::Limit, scan.content(), e.message, text))?;
    Ok(filter)
}

#[cfg(test)]
mod tests;
