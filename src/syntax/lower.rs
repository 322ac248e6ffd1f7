//! Lowering: pest pairs into the typed criteria tree.
//!
//! Takes in the pairs of a successful parse of `grammar/filter.pest`; gives
//! out a [`Filter`], running every leaf through the criteria smart
//! constructors so that their rules (empty values, `CONTAINS` length, range
//! order) become [`SyntaxError`]s pointing at the value. This is the one
//! place where an unexpected `Rule` is `unreachable!`: the grammar decides
//! which pairs can appear where.

use pest::iterators::{Pair, Pairs};

use super::error::{SyntaxError, SyntaxErrorKind};
use super::grammar::Rule;
use super::lex::decode_quoted;
use crate::criteria::{
    Filter, HierarchyCondition, HierarchyMatch, NumberOp, NumberTest, ProficiencyCondition,
    ProficiencyField, RuleViolation, StringCondition, StringField, StringOp, TagCondition,
};

type Result<T> = std::result::Result<T, SyntaxError>;

/// Lowers the pairs of `filter` (an `or_expr` then `EOI`).
pub(crate) fn lower(pairs: Pairs<'_, Rule>, src: &str) -> Result<Filter> {
    for pair in pairs {
        if pair.as_rule() == Rule::or_expr {
            return or_expr(pair, src);
        }
    }
    unreachable!("the grammar's top rule always holds an or_expr")
}

fn or_expr(pair: Pair<'_, Rule>, src: &str) -> Result<Filter> {
    let items = pair
        .into_inner()
        .filter(|p| p.as_rule() == Rule::and_expr)
        .map(|p| and_expr(p, src))
        .collect::<Result<Vec<_>>>()?;
    // The grammar gives an or_expr at least one operand.
    Ok(Filter::or(items).unwrap_or_else(|_| unreachable!("or_expr has an operand")))
}

fn and_expr(pair: Pair<'_, Rule>, src: &str) -> Result<Filter> {
    let items = pair
        .into_inner()
        .filter(|p| p.as_rule() != Rule::and_op)
        .map(|p| primary(p, src))
        .collect::<Result<Vec<_>>>()?;
    Ok(Filter::and(items))
}

fn primary(pair: Pair<'_, Rule>, src: &str) -> Result<Filter> {
    match pair.as_rule() {
        Rule::group => {
            let inner = pair
                .into_inner()
                .find(|p| p.as_rule() == Rule::or_expr)
                .unwrap_or_else(|| unreachable!("a group holds an or_expr"));
            or_expr(inner, src)
        }
        Rule::star => Ok(Filter::all()),
        Rule::string_leaf => string_leaf(pair, src),
        Rule::hierarchy_leaf => hierarchy_leaf(pair, src),
        Rule::tag_leaf => tag_leaf(pair, src),
        Rule::proficiency_leaf => proficiency_leaf(pair, src),
        r => unreachable!("not a primary: {r:?}"),
    }
}

/// Turns a criteria rule violation into an error at `pair`'s span.
fn violation(pair: &Pair<'_, Rule>, what: &str, v: RuleViolation, src: &str) -> SyntaxError {
    let span = pair.as_span();
    SyntaxError::new(
        SyntaxErrorKind::InvalidCondition,
        span.start()..span.end(),
        format!("invalid {what}: {}", v.message),
        src,
    )
}

/// The text of a `value` or `tag_key` pair: decoded if quoted.
fn text(pair: &Pair<'_, Rule>, src: &str) -> Result<String> {
    let inner = pair
        .clone()
        .into_inner()
        .next()
        .unwrap_or_else(|| unreachable!("a value holds a quoted or bare word"));
    match inner.as_rule() {
        Rule::quoted => decode_quoted(src, inner.as_span().start()).map(|(s, _)| s),
        Rule::bare => Ok(inner.as_str().to_owned()),
        r => unreachable!("not a value: {r:?}"),
    }
}

fn string_op(pair: Pair<'_, Rule>) -> StringOp {
    let op = pair
        .into_inner()
        .next()
        .unwrap_or_else(|| unreachable!("string_op holds an operator"));
    match op.as_rule() {
        Rule::op_eq => StringOp::Exact,
        Rule::op_sw => StringOp::StartsWith,
        Rule::op_co => StringOp::Contains,
        r => unreachable!("not a string operator: {r:?}"),
    }
}

/// The children of a pair, which the grammar fixes in number.
fn children<'i, const N: usize>(pair: Pair<'i, Rule>) -> [Pair<'i, Rule>; N] {
    let rule = pair.as_rule();
    let v: Vec<_> = pair.into_inner().collect();
    v.try_into()
        .unwrap_or_else(|_| unreachable!("{rule:?} has {N} children"))
}

fn string_leaf(pair: Pair<'_, Rule>, src: &str) -> Result<Filter> {
    let [field, op, value] = children(pair);
    let Some(f) = StringField::parse(field.as_str()) else {
        unreachable!("string_field only matches the six fields")
    };
    let v = text(&value, src)?;
    StringCondition::new(f, string_op(op), v)
        .map(Filter::String)
        .map_err(|e| violation(&value, "value", e, src))
}

fn hierarchy_leaf(pair: Pair<'_, Rule>, src: &str) -> Result<Filter> {
    let [_, op, value] = children(pair);
    let mode = match op.into_inner().next().map(|p| p.as_rule()) {
        Some(Rule::op_eq) => HierarchyMatch::Exact,
        Some(Rule::op_under) => HierarchyMatch::WithChildGroups,
        r => unreachable!("not a hierarchy operator: {r:?}"),
    };
    let v = text(&value, src)?;
    HierarchyCondition::new(v, mode)
        .map(Filter::Hierarchy)
        .map_err(|e| violation(&value, "hierarchy group", e, src))
}

fn tag_leaf(pair: Pair<'_, Rule>, src: &str) -> Result<Filter> {
    let mut inner = pair.into_inner();
    let name = inner
        .next()
        .unwrap_or_else(|| unreachable!("tag_leaf starts with tag_name"));
    let [_, key] = children(name);
    let value = inner.find(|p| p.as_rule() == Rule::value);
    let k = text(&key, src)?;
    let v = value.as_ref().map(|v| text(v, src)).transpose()?;
    TagCondition::new(k, v)
        .map(Filter::Tag)
        .map_err(|e| violation(&key, "tag key", e, src))
}

fn int(pair: &Pair<'_, Rule>, src: &str) -> Result<i32> {
    pair.as_str().parse::<i32>().map_err(|_| {
        let span = pair.as_span();
        SyntaxError::new(
            SyntaxErrorKind::NumberOutOfRange,
            span.start()..span.end(),
            format!(
                "level {} does not fit a 32-bit integer ({}..{})",
                pair.as_str(),
                i32::MIN,
                i32::MAX
            ),
            src,
        )
    })
}

fn proficiency_leaf(pair: Pair<'_, Rule>, src: &str) -> Result<Filter> {
    let mut items = Vec::new();
    for item in pair.into_inner() {
        match item.as_rule() {
            Rule::prof_string => {
                let [field, op, value] = children(item);
                let f = if field.as_str().eq_ignore_ascii_case("name") {
                    ProficiencyField::Name
                } else {
                    ProficiencyField::Value
                };
                let v = text(&value, src)?;
                let c = ProficiencyCondition::string(f, string_op(op), v)
                    .map_err(|e| violation(&value, "value", e, src))?;
                items.push(c);
            }
            Rule::prof_level => items.push(ProficiencyCondition::Level(level(item, src)?)),
            Rule::proficiency_kw | Rule::open_bracket | Rule::close_bracket | Rule::and_op => {}
            r => unreachable!("not a proficiency item: {r:?}"),
        }
    }
    Ok(Filter::Proficiency(items))
}

fn level(pair: Pair<'_, Rule>, src: &str) -> Result<NumberTest> {
    let parts: Vec<_> = pair.into_inner().collect();
    match parts.as_slice() {
        [_, op, n] => {
            let span = op.as_span().start()..n.as_span().end();
            let n = int(n, src)?;
            let op = op
                .clone()
                .into_inner()
                .next()
                .map(|p| p.as_rule())
                .unwrap_or_else(|| unreachable!("level_op holds an operator"));
            let op = match op {
                Rule::op_ge => NumberOp::GreaterOrEqual,
                Rule::op_gt => NumberOp::Greater,
                Rule::op_le => NumberOp::LesserOrEqual,
                Rule::op_lt => NumberOp::Lesser,
                Rule::op_eq => NumberOp::Equal,
                Rule::op_ne => NumberOp::NotEqual,
                r => unreachable!("not a level operator: {r:?}"),
            };
            NumberTest::compare(op, n).map_err(|v| {
                SyntaxError::new(SyntaxErrorKind::InvalidCondition, span, v.message, src)
            })
        }
        [_, _, lo, _, hi] => {
            let (min, max) = (int(lo, src)?, int(hi, src)?);
            NumberTest::range(min, max).map_err(|v| {
                let span = lo.as_span().start()..hi.as_span().end();
                SyntaxError::new(
                    SyntaxErrorKind::InvalidCondition,
                    span,
                    format!("invalid range: {}", v.message),
                    src,
                )
            })
        }
        _ => unreachable!("prof_level has 3 or 5 children"),
    }
}
