//! Helpers shared by the integration tests: `crate::util::filter_gen`.
//!
//! [`gen_filter`] is a proptest strategy for random valid criteria trees, as
//! the front ends build them: no singleton `And`/`Or`, no empty `Or`, depth at
//! most 6, within the request limits, with awkward unicode values (quotes,
//! backslashes, line breaks, control characters) and tag keys that need
//! quoting.
#![allow(dead_code)]

use proptest::prelude::*;
use rollcall::criteria::{
    Filter, HierarchyCondition, HierarchyMatch, NumberOp, NumberTest, ProficiencyCondition,
    ProficiencyField, StringCondition, StringField, StringOp, TagCondition,
};

/// Any string, weighted towards the characters that stress quoting.
pub fn awkward_string() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        2 => prop::char::range('a', 'z'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('\n'),
        1 => Just('#'),
        1 => Just(' '),
        1 => Just('\u{7f}'),
        1 => Just('😀'),
    ];
    prop_oneof![
        "[A-Za-z0-9][A-Za-z0-9._@:-]{0,8}",
        Just("and".to_owned()),
        Just("OR".to_owned()),
        prop::collection::vec(ch, 0..12).prop_map(String::from_iter),
    ]
}

fn string_op() -> impl Strategy<Value = StringOp> {
    prop_oneof![
        Just(StringOp::Exact),
        Just(StringOp::StartsWith),
        Just(StringOp::Contains)
    ]
}

fn number_test() -> impl Strategy<Value = NumberTest> {
    let n = prop_oneof![-3i32..8, any::<i32>()];
    prop_oneof![
        n.clone()
            .prop_map(|v| NumberTest::compare(NumberOp::GreaterOrEqual, v).unwrap()),
        n.clone()
            .prop_map(|v| NumberTest::compare(NumberOp::Greater, v).unwrap()),
        n.clone()
            .prop_map(|v| NumberTest::compare(NumberOp::LesserOrEqual, v).unwrap()),
        n.clone()
            .prop_map(|v| NumberTest::compare(NumberOp::Lesser, v).unwrap()),
        n.clone()
            .prop_map(|v| NumberTest::compare(NumberOp::Equal, v).unwrap()),
        n.clone()
            .prop_map(|v| NumberTest::compare(NumberOp::NotEqual, v).unwrap()),
        (n.clone(), n).prop_map(|(a, b)| NumberTest::range(a.min(b), a.max(b)).unwrap()),
    ]
}

fn proficiency_item() -> impl Strategy<Value = ProficiencyCondition> {
    let field = prop_oneof![Just(ProficiencyField::Name), Just(ProficiencyField::Value)];
    prop_oneof![
        (field, string_op(), awkward_string()).prop_filter_map("empty value", |(f, op, v)| {
            ProficiencyCondition::string(f, op, v).ok()
        }),
        number_test().prop_map(ProficiencyCondition::Level),
    ]
}

/// One leaf condition (or `*`).
pub fn gen_leaf() -> impl Strategy<Value = Filter> {
    let field = prop::sample::select(StringField::ALL.to_vec());
    let mode = prop_oneof![
        Just(HierarchyMatch::Exact),
        Just(HierarchyMatch::WithChildGroups)
    ];
    prop_oneof![
        4 => (field, string_op(), awkward_string()).prop_filter_map("rule", |(f, op, v)| {
            StringCondition::new(f, op, v).ok().map(Filter::String)
        }),
        2 => (awkward_string(), mode).prop_filter_map("rule", |(g, m)| {
            HierarchyCondition::new(g, m).ok().map(Filter::Hierarchy)
        }),
        3 => (awkward_string(), prop::option::of(awkward_string())).prop_filter_map(
            "rule",
            |(k, v)| TagCondition::new(k, v).ok().map(Filter::Tag)
        ),
        2 => prop::collection::vec(proficiency_item(), 0..4).prop_map(Filter::Proficiency),
        1 => Just(Filter::all()),
    ]
}

/// A random valid criteria tree; see the module doc.
pub fn gen_filter() -> impl Strategy<Value = Filter> {
    gen_leaf()
        .prop_recursive(5, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..5).prop_map(Filter::And),
                prop::collection::vec(inner, 2..5).prop_map(|v| Filter::or(v).unwrap()),
            ]
        })
        .prop_filter("within the request limits", |q| {
            q.check_leaf_limit("test").is_ok()
        })
}
