//! proptest strategies over the generator's vocabulary, so that random
//! filters actually hit random directories: directories come from
//! `rollcall::gen` with a random size and seed; filters and AWS requests use
//! values that occur in that data (and near misses: case variants, non-ASCII
//! foldings, unknown groups).

#![allow(dead_code)]

use proptest::prelude::*;
use rollcall::criteria::wire::*;
use rollcall::criteria::*;
use rollcall::records::{Directory, Groups};
use std::collections::BTreeSet;

/// The ids of the users `f` matches, by the reference evaluator.
pub fn ids(dir: &Directory, f: &Filter) -> BTreeSet<String> {
    dir.users()
        .filter(|u| rollcall::criteria::eval::matches(f, u, &dir.groups))
        .map(|u| u.id.clone())
        .collect()
}

/// A random directory of 0..=max users from the realistic generator.
pub fn directory(max: usize) -> impl Strategy<Value = Directory> {
    (0..=max, any::<u64>()).prop_map(|(n, seed)| {
        let h = rollcall::r#gen::hierarchy();
        let mut dir = Directory::new(Groups::new(h.groups.clone()));
        for u in rollcall::r#gen::users(n, seed, &h) {
            dir.upsert(u).expect("generated usernames are unique");
        }
        dir
    })
}

const NAME_BITS: &[&str] = &[
    "jo",
    "JO",
    "an",
    "Ann",
    "maria",
    "MARIA.GARCIA",
    "garcia",
    "GARCÍA",
    "straße",
    "STRASSE",
    "ss",
    "ö",
    "Ö",
    "i̇",
    "İsmail",
    "ismail",
    "σ",
    "Σωκράτης",
    "ан",
    "王",
    "zz",
    "o'",
    "oneil",
    "john.smith",
    "ee",
    "na",
    "ja",
];
const ID_BITS: &[&str] = &[
    "rp-0",
    "rp-01",
    "rp-1",
    "rp-39",
    "sp-agent",
    "sp-qa",
    "sp-",
    "sp-admin",
    "a",
    "0",
    "1f",
    "arn:aws:connect",
    "d-",
];
const GROUPS: &[&str] = &[
    "g-emea",
    "g-emea-de",
    "g-emea-de-north",
    "g-emea-de-north-tier-1",
    "g-emea-de-north-tier-1-day",
    "g-amer",
    "g-amer-us-south",
    "g-apac-jp-central-specialists",
    "g-unknown",
];
const TAG_KEYS: &[&str] = &["Team", "Cost Center", "Shift", "team", "Nope"];
const TAG_VALUES: &[&str] = &[
    "blue",
    "vip",
    "night-owls",
    "42",
    "45",
    "day",
    "Day",
    "",
    "Blue",
];
const PROF_NAMES: &[&str] = &["Language", "Skill", "Product", "Lang", "language"];
const PROF_VALUES: &[&str] = &["English", "Spanish", "Span", "Billing", "TV", "ish", "e"];

fn one_of(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(items).prop_map(str::to_string)
}

fn string_op() -> impl Strategy<Value = StringOp> {
    prop_oneof![
        Just(StringOp::Exact),
        Just(StringOp::StartsWith),
        Just(StringOp::Contains)
    ]
}

/// A valid string condition on any of the six fields.
pub fn string_condition() -> impl Strategy<Value = StringCondition> {
    (
        proptest::sample::select(StringField::ALL.to_vec()),
        string_op(),
        one_of(NAME_BITS),
        one_of(ID_BITS),
    )
        .prop_map(|(field, op, name, id)| {
            let value = if field.is_caseless() { name } else { id };
            StringCondition::new(field, op, value.clone())
                .or_else(|_| StringCondition::new(field, StringOp::StartsWith, value))
                .expect("vocabulary values are valid")
        })
}

fn number_test() -> impl Strategy<Value = NumberTest> {
    (0..7u8, 0..7i32, 0..7i32).prop_map(|(k, a, b)| match k {
        0 => NumberTest::compare(NumberOp::GreaterOrEqual, a).unwrap(),
        1 => NumberTest::compare(NumberOp::Greater, a).unwrap(),
        2 => NumberTest::compare(NumberOp::LesserOrEqual, a).unwrap(),
        3 => NumberTest::compare(NumberOp::Lesser, a).unwrap(),
        4 => NumberTest::compare(NumberOp::Equal, a).unwrap(),
        5 => NumberTest::compare(NumberOp::NotEqual, a).unwrap(),
        _ => NumberTest::range(a.min(b), a.max(b)).unwrap(),
    })
}

fn proficiency_item() -> impl Strategy<Value = ProficiencyCondition> {
    prop_oneof![
        (string_op(), one_of(PROF_NAMES)).prop_map(|(op, v)| {
            ProficiencyCondition::string(ProficiencyField::Name, op, v).unwrap()
        }),
        (string_op(), one_of(PROF_VALUES)).prop_map(|(op, v)| {
            ProficiencyCondition::string(ProficiencyField::Value, op, v).unwrap()
        }),
        number_test().prop_map(ProficiencyCondition::Level),
    ]
}

fn hierarchy() -> impl Strategy<Value = HierarchyCondition> {
    (one_of(GROUPS), any::<bool>()).prop_map(|(g, under)| {
        let mode = if under {
            HierarchyMatch::WithChildGroups
        } else {
            HierarchyMatch::Exact
        };
        HierarchyCondition::new(g, mode).expect("non-empty")
    })
}

fn tag() -> impl Strategy<Value = TagCondition> {
    (one_of(TAG_KEYS), proptest::option::of(one_of(TAG_VALUES)))
        .prop_map(|(k, v)| TagCondition::new(k, v).expect("non-empty key"))
}

/// A leaf filter; `tags` allows tag tests.
pub fn leaf(tags: bool) -> BoxedStrategy<Filter> {
    let base = prop_oneof![
        4 => string_condition().prop_map(Filter::String),
        2 => hierarchy().prop_map(Filter::Hierarchy),
        2 => proptest::collection::vec(proficiency_item(), 0..3).prop_map(Filter::Proficiency),
        1 => Just(Filter::all()),
    ];
    if tags {
        prop_oneof![4 => base, 2 => tag().prop_map(Filter::Tag)].boxed()
    } else {
        base.boxed()
    }
}

/// A random filter tree (no singleton groups, no empty OR) of depth <= 4.
pub fn filter(tags: bool) -> impl Strategy<Value = Filter> {
    leaf(tags).prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            proptest::collection::vec(inner, 2..4).prop_map(|v| Filter::or(v).unwrap()),
        ]
    })
}

fn wire_string() -> impl Strategy<Value = WireStringCondition> {
    (string_condition(), 0..3u8).prop_map(|(s, spelling)| {
        let name = s.field().as_str();
        let field_name = match spelling {
            0 => name.to_string(),
            1 => name.to_uppercase(),
            _ => name.to_lowercase(),
        };
        WireStringCondition {
            field_name: Some(field_name),
            value: Some(s.value().to_string()),
            comparison_type: Some(s.op().aws_name().to_string()),
        }
    })
}

fn wire_hierarchy() -> impl Strategy<Value = HierarchyGroupCondition> {
    (hierarchy(), any::<bool>()).prop_map(|(h, explicit)| HierarchyGroupCondition {
        value: Some(h.group().to_string()),
        hierarchy_group_match_type: (explicit || h.mode() == HierarchyMatch::WithChildGroups)
            .then(|| h.mode().aws_name().to_string()),
    })
}

fn wire_list() -> impl Strategy<Value = ListCondition> {
    let item = prop_oneof![
        (
            prop_oneof![Just("name"), Just("value"), Just("Name")],
            string_op(),
            one_of(PROF_VALUES)
        )
            .prop_map(|(f, op, v)| Condition {
                string_condition: Some(WireStringCondition {
                    field_name: Some(f.to_string()),
                    value: Some(v),
                    comparison_type: Some(op.aws_name().to_string()),
                }),
                number_condition: None,
            }),
        (number_test(), prop_oneof![Just("level"), Just("limit")]).prop_map(|(t, f)| {
            Condition {
                string_condition: None,
                number_condition: Some(NumberCondition {
                    field_name: Some(f.to_string()),
                    ..NumberCondition::from(t)
                }),
            }
        }),
    ];
    proptest::collection::vec(item, 0..3).prop_map(|c| ListCondition {
        target_list_type: Some("PROFICIENCIES".into()),
        conditions: Some(c),
    })
}

/// Random `UserSearchCriteria`, several members per node, nesting <= 4.
pub fn wire_criteria() -> impl Strategy<Value = UserSearchCriteria> {
    let leaf = (
        proptest::option::of(wire_string()),
        proptest::option::weighted(0.3, wire_list()),
        proptest::option::weighted(0.3, wire_hierarchy()),
    )
        .prop_map(|(s, l, h)| UserSearchCriteria {
            string_condition: s,
            list_condition: l,
            hierarchy_group_condition: h,
            ..Default::default()
        });
    leaf.prop_recursive(3, 24, 3, |inner| {
        (
            proptest::option::of(proptest::collection::vec(inner.clone(), 1..3)),
            proptest::option::of(proptest::collection::vec(inner, 0..3)),
            proptest::option::weighted(0.3, wire_string()),
        )
            .prop_map(|(or, and, s)| UserSearchCriteria {
                or_conditions: or,
                and_conditions: and,
                string_condition: s,
                ..Default::default()
            })
    })
}

fn wire_tag() -> impl Strategy<Value = WireTagCondition> {
    tag().prop_map(|t| WireTagCondition {
        tag_key: Some(t.key().to_string()),
        tag_value: t.value().map(str::to_string),
    })
}

/// A random `UserSearchFilter` (a TagFilter or a UserAttributeFilter).
pub fn wire_filter() -> impl Strategy<Value = UserSearchFilter> {
    let tags = || proptest::collection::vec(wire_tag(), 0..3);
    let tag_filter = (
        proptest::option::of(wire_tag()),
        proptest::option::of(tags()),
        proptest::option::of(proptest::collection::vec(tags(), 1..3)),
    )
        .prop_map(|(t, and, or)| TagFilter {
            tag_condition: t,
            and_conditions: and,
            or_conditions: or,
        });
    let attr_and = (
        proptest::option::of(tags()),
        proptest::option::of(wire_hierarchy()),
    )
        .prop_map(|(t, h)| AttributeAndCondition {
            tag_conditions: t,
            hierarchy_group_condition: h,
        })
        .boxed();
    let attribute = prop_oneof![
        proptest::collection::vec(attr_and.clone(), 1..3).prop_map(|o| UserAttributeFilter {
            or_conditions: Some(o),
            ..Default::default()
        }),
        attr_and.prop_map(|a| UserAttributeFilter {
            and_condition: Some(a),
            ..Default::default()
        }),
        wire_tag().prop_map(|t| UserAttributeFilter {
            tag_condition: Some(t),
            ..Default::default()
        }),
        wire_hierarchy().prop_map(|h| UserAttributeFilter {
            hierarchy_group_condition: Some(h),
            ..Default::default()
        }),
    ];
    prop_oneof![
        tag_filter.prop_map(|t| UserSearchFilter {
            tag_filter: Some(t),
            user_attribute_filter: None
        }),
        attribute.prop_map(|a| UserSearchFilter {
            tag_filter: None,
            user_attribute_filter: Some(a)
        }),
    ]
}

/// A random valid `SearchUsersRequest` without paging members.
pub fn wire_request() -> impl Strategy<Value = SearchUsersRequest> {
    (
        proptest::option::of(wire_criteria()),
        proptest::option::of(wire_filter()),
    )
        .prop_map(|(c, f)| SearchUsersRequest {
            search_criteria: c,
            search_filter: f,
            ..Default::default()
        })
}
