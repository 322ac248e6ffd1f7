//! The rules of docs/semantics.md §1-§2 as one table, run against three
//! backends: the reference evaluator (`criteria::eval`), the directory
//! engine (a tantivy `Instance`) and the `rollcall` binary
//! (`connect import` then `connect search-users`). Each rule is one named
//! test per backend: `rules::evaluator::RULE`, `rules::engine::RULE`,
//! `rules::cli::RULE`.
//!
//! A case is (fixture, request, expected outcome): the ids in result order,
//! their count, ids that must not match, acceptance, or an error type with
//! the words (the parameter's path, the limit) its message names.

use std::path::Path;

use rollcall::criteria::wire::{parse_request, Search};
use rollcall::directory::Instance;
use rollcall::records::{read_groups, Directory};
use rollcall::ErrorType;
use serde_json::{json, Value};

use crate::util::process::rollcall;

/// The two fixtures the rules are stated over.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fixture {
    /// Case folding stress (ß, Σ, İ), an ARN, two security profiles, a
    /// proficiency level of 2.5, a group nobody described.
    A,
    /// Names that tie after folding (ann/Ann, straße/STRASSE), two levels
    /// of groups under g-emea, tags with an empty value.
    B,
}

pub(crate) const USERS_A: &str = r#"
{"Id":"u1","Username":"Straße","Arn":"arn:aws:connect:us-east-1:1:instance/i/agent/u1","IdentityInfo":{"FirstName":"Σίσυφος","LastName":"Müller"},"RoutingProfileId":"rp-A","SecurityProfileIds":["sp-1","sp-2"],"HierarchyGroupId":"g-de","Tags":{"Team":"blue","Cost Center":"42"},"Proficiencies":[{"AttributeName":"Language","AttributeValue":"Spanish","Level":3},{"AttributeName":"Skill","AttributeValue":"Billing","Level":5}],"PhoneConfig":{"PhoneType":"SOFT_PHONE","AfterContactWorkTimeLimit":30}}
{"Id":"u2","Username":"strasse","IdentityInfo":{"LastName":"Smith"},"RoutingProfileId":"rp-a","SecurityProfileIds":["sp-2"],"HierarchyGroupId":"g-emea","Tags":{"Team":"Blue"}}
{"Id":"u0","Username":"İsmail","IdentityInfo":{"FirstName":"İsmail","LastName":"Öztürk"},"HierarchyGroupId":"g-unknown-group","Proficiencies":[{"AttributeName":"Language","AttributeValue":"Turkish","Level":2.5}]}
{"Id":"u3","Username":"maria.garcia","IdentityInfo":{"FirstName":"Maria"},"HierarchyGroupId":"g-de-north","Tags":{"Shift":""}}
{"Id":"u4","Username":"Maria.Garcia","IdentityInfo":{"FirstName":"MARIA"}}
"#;
pub(crate) const GROUPS_A: &str = r#"
{"Id":"g-emea","Name":"EMEA","HierarchyPath":{"LevelOne":{"Id":"g-emea","Name":"EMEA"}}}
{"Id":"g-de","Name":"DE","HierarchyPath":{"LevelOne":{"Id":"g-emea","Name":"EMEA"},"LevelTwo":{"Id":"g-de","Name":"DE"}}}
{"Id":"g-de-north","Name":"North","HierarchyPath":{"LevelOne":{"Id":"g-emea"},"LevelTwo":{"Id":"g-de"},"LevelThree":{"Id":"g-de-north"}}}
"#;

pub(crate) const USERS_B: &str = r#"{"Id":"u-1","Arn":"arn:aws:connect:us-east-1:1:instance/i/agent/u-1","Username":"straße","IdentityInfo":{"FirstName":"Σίσυφος","LastName":"García","Email":"s@example.com"},"PhoneConfig":{"PhoneType":"SOFT_PHONE","AfterContactWorkTimeLimit":30},"RoutingProfileId":"rp-1","SecurityProfileIds":["sp-agent","sp-qa"],"HierarchyGroupId":"g-de-north","Tags":{"Team":"blue","Shift":"day"},"Proficiencies":[{"AttributeName":"Language","AttributeValue":"Spanish","Level":4},{"AttributeName":"Skill","AttributeValue":"Billing","Level":2}]}
{"Id":"u-2","Username":"STRASSE","IdentityInfo":{"FirstName":"Ann"},"RoutingProfileId":"rp-2","SecurityProfileIds":["sp-agent"],"HierarchyGroupId":"g-de","Tags":{"Team":"Blue"},"Proficiencies":[{"AttributeName":"Language","AttributeValue":"Spanish","Level":2},{"AttributeName":"Skill","AttributeValue":"Billing","Level":5}]}
{"Id":"u-3","Username":"İsmail","RoutingProfileId":"RP-1","HierarchyGroupId":"g-unknown","Tags":{"Team":""}}
{"Id":"u-4","Username":"ann","IdentityInfo":{"FirstName":"Anna","LastName":"Annan"},"HierarchyGroupId":"g-emea","SecurityProfileIds":["sp-admin"]}
{"Id":"u-5","Username":"Ann","IdentityInfo":{"FirstName":"Joanna","LastName":"Smith"},"HierarchyGroupId":"g-fr"}
"#;
pub(crate) const GROUPS_B: &str = r#"{"Id":"g-emea","Name":"EMEA","HierarchyPath":{"LevelOne":{"Id":"g-emea"}}}
{"Id":"g-de","Name":"DE","HierarchyPath":{"LevelOne":{"Id":"g-emea"},"LevelTwo":{"Id":"g-de"}}}
{"Id":"g-de-north","Name":"DE North","HierarchyPath":{"LevelOne":{"Id":"g-emea"},"LevelTwo":{"Id":"g-de"},"LevelThree":{"Id":"g-de-north"}}}
{"Id":"g-fr","Name":"FR","HierarchyPath":{"LevelOne":{"Id":"g-emea"},"LevelTwo":{"Id":"g-fr"}}}
"#;

impl Fixture {
    fn records(self) -> (&'static str, &'static str) {
        match self {
            Fixture::A => (USERS_A, GROUPS_A),
            Fixture::B => (USERS_B, GROUPS_B),
        }
    }

    /// The CLI's instance holding this fixture.
    fn instance(self) -> &'static str {
        match self {
            Fixture::A => "a",
            Fixture::B => "b",
        }
    }
}

use Fixture::{A, B};

/// B's users in result order: ann(u-4) = Ann(u-5) < i̇smail < straße(u-1)
/// = STRASSE(u-2), ties by Id.
pub(crate) const ALL_B: [&str; 5] = ["u-4", "u-5", "u-3", "u-1", "u-2"];

#[derive(Debug)]
enum Expect {
    /// Exactly these ids, in this order.
    Ids(Vec<&'static str>),
    /// This many users match.
    Count(usize),
    /// None of these ids match.
    Excludes(Vec<&'static str>),
    /// The request is valid.
    Accepted,
    /// The request fails with this error; the message starts with the
    /// first string and contains every other one.
    Error(ErrorType, &'static str, Vec<String>),
}

#[derive(Debug)]
struct Case {
    fixture: Fixture,
    request: Value,
    expect: Expect,
}

fn ids(fixture: Fixture, request: Value, ids: &[&'static str]) -> Case {
    let expect = Expect::Ids(ids.to_vec());
    Case {
        fixture,
        request,
        expect,
    }
}

fn count(fixture: Fixture, request: Value, n: usize) -> Case {
    let expect = Expect::Count(n);
    Case {
        fixture,
        request,
        expect,
    }
}

fn excludes(fixture: Fixture, request: Value, ids: &[&'static str]) -> Case {
    let expect = Expect::Excludes(ids.to_vec());
    Case {
        fixture,
        request,
        expect,
    }
}

fn accepted(request: Value) -> Case {
    let expect = Expect::Accepted;
    Case {
        fixture: A,
        request,
        expect,
    }
}

fn error(kind: ErrorType, starts: &'static str, request: Value, words: &[&str]) -> Case {
    let words = words.iter().map(|w| w.to_string()).collect();
    let expect = Expect::Error(kind, starts, words);
    Case {
        fixture: A,
        request,
        expect,
    }
}

/// An `InvalidParameterException` whose message names every word.
fn invalid(request: Value, words: &[&str]) -> Case {
    error(ErrorType::InvalidParameterException, "", request, words)
}

/// The same on fixture B (as directory_cli.rs stated it).
fn invalid_b(request: Value, words: &[&str]) -> Case {
    Case {
        fixture: B,
        ..invalid(request, words)
    }
}

fn string(field: &str, op: &str, value: &str) -> Value {
    json!({"StringCondition": {"FieldName": field, "Value": value, "ComparisonType": op}})
}

fn criteria(c: Value) -> Value {
    json!({ "SearchCriteria": c })
}

fn nested(depth: usize) -> Value {
    let mut c = string("Username", "EXACT", "x");
    for _ in 1..depth {
        c = json!({ "AndConditions": [c] });
    }
    c
}

fn leaves(n: usize) -> Value {
    let l: Vec<Value> = (0..n)
        .map(|i| string("Username", "EXACT", &format!("u{i}")))
        .collect();
    json!({ "OrConditions": l })
}

fn hierarchy(group: &str, match_type: &str) -> Value {
    criteria(
        json!({"HierarchyGroupCondition": {"Value": group, "HierarchyGroupMatchType": match_type}}),
    )
}

fn list(conditions: Value) -> Value {
    criteria(
        json!({"ListCondition": {"TargetListType": "PROFICIENCIES", "Conditions": conditions}}),
    )
}

fn level(op: &str, min: Option<i32>, max: Option<i32>) -> Value {
    let mut n = json!({"FieldName": "level", "ComparisonType": op});
    if let Some(v) = min {
        n["MinValue"] = json!(v);
    }
    if let Some(v) = max {
        n["MaxValue"] = json!(v);
    }
    json!({ "NumberCondition": n })
}

fn levels(op: &str, min: Option<i32>, max: Option<i32>) -> Value {
    list(json!([level(op, min, max)]))
}

fn tag(k: &str, v: Option<&str>) -> Value {
    match v {
        Some(v) => json!({"TagKey": k, "TagValue": v}),
        None => json!({"TagKey": k}),
    }
}

fn tag_filter(f: Value) -> Value {
    json!({"SearchFilter": {"TagFilter": f}})
}

fn with_filter(mut body: Value, filter: Value) -> Value {
    body["SearchFilter"] = filter;
    body
}

const NONE: &[&str] = &[];

/// The table: `name: [case, ...];`. Each name becomes
/// `rules::{evaluator,engine,cli}::name`.
macro_rules! rules {
    ($($(#[$doc:meta])* $name:ident: [$($case:expr_2021),* $(,)?];)*) => {
        mod table {
            use super::*;
            $($(#[$doc])* pub fn $name() -> Vec<Case> { vec![$($case),*] })*
        }
        mod evaluator {
            $(#[test] fn $name() { super::check(super::Backend::Evaluator, super::table::$name()) })*
        }
        mod engine {
            $(#[test] fn $name() { super::check(super::Backend::Engine, super::table::$name()) })*
        }
        mod cli {
            $(#[test] fn $name() { super::check(super::Backend::Cli, super::table::$name()) })*
        }
    };
}

rules! {
    // ---- SearchCriteria structure ----
    absent_criteria_and_filter_match_every_user: [
        count(A, json!({}), 5),
        ids(B, json!({}), &ALL_B),
    ];
    empty_criteria_node_matches_every_user: [
        count(A, criteria(json!({})), 5),
        ids(B, criteria(json!({})), &ALL_B),
    ];
    members_set_on_one_node_are_anded: [
        ids(A, with_key(string("Username", "STARTS_WITH", "stra"), "HierarchyGroupCondition", json!({"Value": "g-emea"})), &["u2"]),
        ids(B, with_key(string("Username", "EXACT", "ann"), "HierarchyGroupCondition", json!({"Value": "g-fr", "HierarchyGroupMatchType": "EXACT"})), &["u-5"]),
    ];
    empty_and_conditions_match_every_user: [
        count(A, criteria(json!({"AndConditions": []})), 5),
        ids(B, criteria(json!({"AndConditions": []})), &ALL_B),
    ];
    empty_or_conditions_are_rejected: [
        invalid(criteria(json!({"AndConditions": [{"OrConditions": []}]})), &["SearchCriteria.AndConditions[0].OrConditions", "must not be empty"]),
        invalid_b(criteria(json!({"OrConditions": []})), NONE),
    ];
    nesting_deeper_than_10_levels_is_rejected: [
        accepted(criteria(nested(10))),
        invalid(criteria(nested(11)), &["nested more than 10 levels"]),
        ids(B, criteria(wrap(string("Username", "EXACT", "ann"), 9)), &["u-4", "u-5"]),
        invalid_b(criteria(wrap(string("Username", "EXACT", "ann"), 10)), &["10"]),
    ];
    more_than_100_leaf_conditions_are_rejected: [
        accepted(criteria(leaves(100))),
        invalid(criteria(leaves(101)), &["more than 100 leaf conditions"]),
        invalid_b(criteria(leaves(101)), &["100"]),
    ];
    leaf_limit_counts_filter_conditions_too: [
        invalid(
            with_filter(criteria(leaves(99)), json!({"TagFilter": {"AndConditions": [{"TagKey": "a"}, {"TagKey": "b"}]}})),
            &["more than 100 leaf conditions"],
        ),
    ];

    // ---- StringCondition ----
    field_names_are_case_insensitive: [
        count(A, criteria(string("Username", "EXACT", "maria.garcia")), 2),
        count(A, criteria(string("USERNAME", "EXACT", "maria.garcia")), 2),
        count(A, criteria(string("username", "EXACT", "maria.garcia")), 2),
        count(A, criteria(string("UserName", "EXACT", "maria.garcia")), 2),
        ids(B, criteria(string("USERNAME", "EXACT", "ann")), &["u-4", "u-5"]),
        ids(B, criteria(string("firstName", "EXACT", "ann")), &["u-2"]),
    ];
    name_fields_compare_after_full_case_folding: [
        ids(A, criteria(string("Username", "EXACT", "STRASSE")), &["u1", "u2"]),
        ids(A, criteria(string("FirstName", "EXACT", "ΣΊΣΥΦΟΣ")), &["u1"]),
        ids(A, criteria(string("Username", "STARTS_WITH", "i\u{307}s")), &["u0"]),
        ids(A, criteria(string("LastName", "CONTAINS", "ÜLL")), &["u1"]),
        ids(B, criteria(string("Username", "EXACT", "STRASSE")), &["u-1", "u-2"]),
        ids(B, criteria(string("FirstName", "EXACT", "ΣΊΣΥΦΟΣ")), &["u-1"]),
        ids(B, criteria(string("Username", "STARTS_WITH", "i̇s")), &["u-3"]),
        ids(B, criteria(string("Username", "STARTS_WITH", "is")), NONE),
        ids(B, criteria(string("LastName", "CONTAINS", "GARCÍ")), &["u-1"]),
    ];
    id_fields_compare_exactly: [
        ids(A, criteria(string("RoutingProfileId", "EXACT", "rp-A")), &["u1"]),
        ids(A, criteria(string("RoutingProfileId", "EXACT", "RP-A")), NONE),
        ids(B, criteria(string("RoutingProfileId", "EXACT", "rp-1")), &["u-1"]),
        ids(B, criteria(string("RoutingProfileId", "CONTAINS", "RP")), &["u-3"]),
        ids(B, criteria(string("ResourceId", "EXACT", "U-1")), NONE),
    ];
    security_profile_id_matches_any_of_the_users_profiles: [
        ids(A, criteria(string("SecurityProfileId", "EXACT", "sp-2")), &["u1", "u2"]),
        ids(A, criteria(string("SecurityProfileId", "EXACT", "sp-1")), &["u1"]),
        ids(B, criteria(string("SecurityProfileId", "EXACT", "sp-qa")), &["u-1"]),
        ids(B, criteria(string("SecurityProfileId", "STARTS_WITH", "sp-a")), &["u-4", "u-1", "u-2"]),
    ];
    resource_id_exact_matches_id_or_arn_but_other_comparisons_only_the_id: [
        ids(A, criteria(string("ResourceId", "EXACT", "u1")), &["u1"]),
        ids(A, criteria(string("ResourceId", "EXACT", "arn:aws:connect:us-east-1:1:instance/i/agent/u1")), &["u1"]),
        ids(A, criteria(string("ResourceId", "STARTS_WITH", "arn:")), NONE),
        ids(A, criteria(string("ResourceId", "CONTAINS", "agent")), NONE),
        ids(B, criteria(string("ResourceId", "EXACT", "u-1")), &["u-1"]),
        ids(B, criteria(string("ResourceId", "EXACT", "arn:aws:connect:us-east-1:1:instance/i/agent/u-1")), &["u-1"]),
        ids(B, criteria(string("ResourceId", "STARTS_WITH", "arn:")), NONE),
        ids(B, criteria(string("ResourceId", "CONTAINS", "-5")), &["u-5"]),
    ];
    contains_on_name_fields_needs_2_to_25_characters: [
        invalid(criteria(string("Username", "CONTAINS", "s")), &["SearchCriteria.StringCondition.Value", "2..25 characters, got 1"]),
        invalid(criteria(string("FirstName", "CONTAINS", "s")), &["SearchCriteria.StringCondition.Value", "2..25 characters, got 1"]),
        invalid(criteria(string("LastName", "CONTAINS", "s")), &["SearchCriteria.StringCondition.Value", "2..25 characters, got 1"]),
        invalid(criteria(string("Username", "CONTAINS", &"a".repeat(26))), &["got 26"]),
        invalid(criteria(string("FirstName", "CONTAINS", &"a".repeat(26))), &["got 26"]),
        invalid(criteria(string("LastName", "CONTAINS", &"a".repeat(26))), &["got 26"]),
        accepted(criteria(string("Username", "CONTAINS", &"a".repeat(25)))),
        accepted(criteria(string("FirstName", "CONTAINS", &"a".repeat(25)))),
        accepted(criteria(string("LastName", "CONTAINS", &"a".repeat(25)))),
        // Characters, not bytes: "ßß" and "ΣΊ" are two characters in four bytes.
        accepted(criteria(string("Username", "CONTAINS", "ßß"))),
        invalid_b(criteria(string("FirstName", "CONTAINS", "a")), &["2..25"]),
        invalid_b(criteria(string("Username", "CONTAINS", &"a".repeat(26))), NONE),
        ids(B, criteria(string("FirstName", "CONTAINS", "an")), &["u-4", "u-5", "u-2"]),
        ids(B, criteria(string("FirstName", "CONTAINS", "ΣΊ")), &["u-1"]),
    ];
    contains_on_id_fields_has_no_length_rule: [
        ids(A, criteria(string("ResourceId", "CONTAINS", "3")), &["u3"]),
    ];
    empty_value_is_rejected_for_every_comparison: [
        invalid(criteria(string("Username", "EXACT", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("Username", "STARTS_WITH", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("Username", "CONTAINS", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("FirstName", "EXACT", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("FirstName", "STARTS_WITH", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("FirstName", "CONTAINS", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("RoutingProfileId", "EXACT", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("RoutingProfileId", "STARTS_WITH", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("RoutingProfileId", "CONTAINS", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("ResourceId", "EXACT", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("ResourceId", "STARTS_WITH", "")), &["StringCondition.Value", "must not be empty"]),
        invalid(criteria(string("ResourceId", "CONTAINS", "")), &["StringCondition.Value", "must not be empty"]),
        invalid_b(criteria(string("ResourceId", "EXACT", "")), NONE),
    ];
    missing_members_of_a_string_condition_are_named: [
        invalid(criteria(json!({"StringCondition": {"Value": "x", "ComparisonType": "EXACT"}})), &["StringCondition.FieldName", "is required"]),
        invalid(criteria(json!({"StringCondition": {"FieldName": "Username", "ComparisonType": "EXACT"}})), &["StringCondition.Value", "is required"]),
        invalid(criteria(json!({"StringCondition": {"FieldName": "Username", "Value": "x"}})), &["StringCondition.ComparisonType", "is required"]),
        invalid_b(criteria(json!({"StringCondition": {"FieldName": "Username", "ComparisonType": "EXACT"}})), &["Value"]),
    ];
    unknown_field_name_or_comparison_is_rejected: [
        invalid(criteria(string("Email", "EXACT", "x")), &["FieldName", "unknown field 'Email'"]),
        invalid(criteria(string("Username", "LIKE", "x")), &["ComparisonType", "unknown comparison 'LIKE'"]),
        invalid_b(criteria(string("Nickname", "EXACT", "x")), &["FieldName"]),
        invalid_b(criteria(string("Username", "LIKE", "x")), &["ComparisonType"]),
    ];
    a_user_lacking_the_field_never_matches: [
        excludes(A, criteria(string("FirstName", "STARTS_WITH", "s")), &["u2"]),
        excludes(A, criteria(string("RoutingProfileId", "STARTS_WITH", "rp")), &["u3"]),
        // u-3 has no names at all; u-2 has no last name.
        ids(B, criteria(string("LastName", "STARTS_WITH", "a")), &["u-4"]),
        ids(B, criteria(string("FirstName", "EXACT", "i̇smail")), NONE),
    ];

    // ---- HierarchyGroupCondition ----
    hierarchy_exact_matches_the_group_only: [
        ids(A, hierarchy("g-emea", "EXACT"), &["u2"]),
        ids(B, hierarchy("g-de", "EXACT"), &["u-2"]),
    ];
    hierarchy_match_type_absent_means_exact: [
        ids(A, criteria(json!({"HierarchyGroupCondition": {"Value": "g-emea"}})), &["u2"]),
        ids(B, criteria(json!({"HierarchyGroupCondition": {"Value": "g-emea"}})), &["u-4"]),
    ];
    hierarchy_with_child_groups_matches_the_subtree: [
        ids(A, hierarchy("g-emea", "WITH_CHILD_GROUPS"), &["u3", "u1", "u2"]),
        ids(A, hierarchy("g-de", "WITH_CHILD_GROUPS"), &["u3", "u1"]),
        ids(B, hierarchy("g-de", "WITH_CHILD_GROUPS"), &["u-1", "u-2"]),
        ids(B, hierarchy("g-emea", "WITH_CHILD_GROUPS"), &["u-4", "u-5", "u-1", "u-2"]),
    ];
    a_user_in_an_unknown_group_matches_only_its_own_group_id: [
        ids(A, hierarchy("g-unknown-group", "WITH_CHILD_GROUPS"), &["u0"]),
        ids(A, hierarchy("g-unknown-group", "EXACT"), &["u0"]),
        ids(B, hierarchy("g-unknown", "WITH_CHILD_GROUPS"), &["u-3"]),
    ];
    an_unknown_group_id_matches_nothing_and_is_no_error: [
        ids(A, hierarchy("g-nope", "WITH_CHILD_GROUPS"), NONE),
        ids(B, hierarchy("g-nope", "WITH_CHILD_GROUPS"), NONE),
    ];
    unknown_hierarchy_match_type_is_rejected: [
        invalid(hierarchy("g", "BELOW"), &["HierarchyGroupMatchType", "BELOW"]),
    ];

    // ---- ListCondition ----
    one_single_proficiency_must_satisfy_all_conditions: [
        // u1 has Spanish at 3 and Billing at 5: "Spanish at >= 5" is no single proficiency.
        ids(A, list(json!([string("value", "EXACT", "Spanish"), level("GREATER_OR_EQUAL", Some(5), None)])), NONE),
        ids(A, list(json!([string("value", "EXACT", "Spanish"), level("GREATER_OR_EQUAL", Some(3), None)])), &["u1"]),
        // u-2 has Spanish at 2 and Billing at 5: no single proficiency is Spanish >= 4.
        ids(B, list(json!([string("value", "EXACT", "Spanish"), level("GREATER_OR_EQUAL", Some(4), None)])), &["u-1"]),
    ];
    proficiency_strings_compare_with_exact_case_and_no_length_rule: [
        ids(A, list(json!([string("value", "EXACT", "spanish")])), NONE),
        ids(A, list(json!([string("name", "CONTAINS", "L")])), &["u0", "u1"]),
        ids(B, list(json!([string("name", "STARTS_WITH", "Lang")])), &["u-1", "u-2"]),
        ids(B, list(json!([string("name", "STARTS_WITH", "lang")])), NONE),
    ];
    number_comparisons_read_min_or_max_as_specified: [
        ids(A, levels("GREATER", Some(4), None), &["u1"]),
        ids(A, levels("LESSER", None, Some(3)), &["u0"]),
        ids(A, levels("LESSER_OR_EQUAL", None, Some(3)), &["u0", "u1"]),
        ids(A, levels("EQUAL", Some(3), None), &["u1"]),
        ids(A, levels("NOT_EQUAL", Some(3), None), &["u0", "u1"]),
        ids(A, levels("RANGE", Some(2), Some(3)), &["u0", "u1"]),
        // GREATER reads MinValue only: a stray MaxValue changes nothing.
        ids(A, levels("GREATER", Some(4), Some(1)), &["u1"]),
        ids(B, levels("GREATER", Some(4), None), &["u-2"]),
        ids(B, levels("LESSER", None, Some(2)), NONE),
        ids(B, levels("LESSER_OR_EQUAL", None, Some(2)), &["u-1", "u-2"]),
        ids(B, levels("EQUAL", Some(5), None), &["u-2"]),
        ids(B, levels("NOT_EQUAL", Some(2), None), &["u-1", "u-2"]),
        ids(B, levels("RANGE", Some(3), Some(4)), &["u-1"]),
    ];
    the_value_a_number_comparison_reads_must_be_present: [
        invalid(levels("GREATER", None, Some(3)), &["NumberCondition.MinValue", "is required"]),
        invalid(levels("LESSER", Some(3), None), &["NumberCondition.MaxValue", "is required"]),
        invalid(levels("RANGE", Some(3), None), &["MaxValue"]),
        invalid_b(levels("GREATER", None, Some(4)), NONE),
    ];
    range_needs_min_not_above_max: [
        invalid(levels("RANGE", Some(4), Some(2)), &["MinValue <= MaxValue"]),
        accepted(levels("RANGE", Some(3), Some(3))),
        invalid_b(levels("RANGE", Some(4), Some(3)), NONE),
    ];
    level_is_also_spelled_limit: [
        ids(A, list(json!([{"NumberCondition": {"FieldName": "limit", "ComparisonType": "EQUAL", "MinValue": 5}}])), &["u1"]),
        ids(B, list(json!([{"NumberCondition": {"FieldName": "level", "ComparisonType": "EQUAL", "MinValue": 5}}])), &["u-2"]),
        ids(B, list(json!([{"NumberCondition": {"FieldName": "limit", "ComparisonType": "EQUAL", "MinValue": 5}}])), &["u-2"]),
    ];
    levels_outside_1_to_5_are_allowed: [
        ids(A, levels("GREATER_OR_EQUAL", Some(-7), None), &["u0", "u1"]),
        ids(A, levels("GREATER", Some(99), None), NONE),
    ];
    target_list_type_must_be_proficiencies: [
        invalid(criteria(json!({"ListCondition": {"TargetListType": "SKILLS", "Conditions": []}})), &["TargetListType", "PROFICIENCIES"]),
        invalid(criteria(json!({"ListCondition": {"Conditions": []}})), &["ListCondition.TargetListType", "is required"]),
        invalid_b(criteria(json!({"ListCondition": {"TargetListType": "SKILLS", "Conditions": []}})), NONE),
    ];
    a_condition_sets_exactly_one_of_string_and_number: [
        invalid(list(json!([{}])), &["Conditions[0]", "exactly one"]),
        invalid(
            list(json!([{"StringCondition": {"FieldName": "name", "Value": "x", "ComparisonType": "EXACT"}, "NumberCondition": {"FieldName": "level", "ComparisonType": "EQUAL", "MinValue": 1}}])),
            &["exactly one"],
        ),
    ];
    an_empty_condition_list_matches_users_with_any_proficiency: [
        ids(A, list(json!([])), &["u0", "u1"]),
    ];

    // ---- SearchFilter ----
    tag_test_compares_key_and_value_exactly: [
        ids(A, tag_filter(json!({"TagCondition": tag("Team", Some("blue"))})), &["u1"]),
        ids(A, tag_filter(json!({"TagCondition": tag("team", Some("blue"))})), NONE),
        ids(B, tag_filter(json!({"TagCondition": tag("team", Some("blue"))})), NONE),
        ids(B, tag_filter(json!({"TagCondition": tag("Team", Some("BLUE"))})), NONE),
    ];
    tag_test_without_value_matches_any_user_with_the_key: [
        ids(A, tag_filter(json!({"TagCondition": tag("Team", None)})), &["u1", "u2"]),
        ids(A, tag_filter(json!({"TagCondition": tag("Shift", Some(""))})), &["u3"]),
        ids(B, tag_filter(json!({"TagCondition": tag("Team", None)})), &["u-3", "u-1", "u-2"]),
        ids(B, tag_filter(json!({"TagCondition": tag("Team", Some(""))})), &["u-3"]),
    ];
    tag_filter_or_conditions_are_an_or_of_ands: [
        ids(A, tag_filter(json!({"OrConditions": [[tag("Team", Some("Blue"))], [tag("Team", None), tag("Cost Center", Some("42"))]]})), &["u1", "u2"]),
        invalid(tag_filter(json!({"OrConditions": []})), &["TagFilter.OrConditions", "must not be empty"]),
        ids(B, tag_filter(json!({"OrConditions": [[tag("Team", Some("blue")), tag("Shift", Some("day"))], [tag("Team", Some("Blue"))]]})), &["u-1", "u-2"]),
    ];
    tag_filter_members_are_anded: [
        ids(A, tag_filter(json!({"TagCondition": tag("Team", None), "AndConditions": [tag("Cost Center", None)]})), &["u1"]),
        ids(B, tag_filter(json!({"AndConditions": [tag("Team", None), tag("Shift", None)]})), &["u-1"]),
    ];
    missing_tag_key_is_rejected: [
        invalid(tag_filter(json!({"TagCondition": {"TagValue": "x"}})), &["TagCondition.TagKey", "is required"]),
    ];
    user_attribute_filter_allows_only_one_member: [
        invalid(
            json!({"SearchFilter": {"UserAttributeFilter": {"TagCondition": tag("Team", None), "HierarchyGroupCondition": {"Value": "g-de"}}}}),
            &["UserAttributeFilter", "only one member", "TagCondition, HierarchyGroupCondition"],
        ),
        invalid_b(json!({"SearchFilter": {"UserAttributeFilter": {"TagCondition": tag("Team", None), "HierarchyGroupCondition": {"Value": "g-de"}}}}), NONE),
    ];
    user_attribute_filter_or_of_tag_and_hierarchy_ands: [
        ids(A, json!({"SearchFilter": {"UserAttributeFilter": {"OrConditions": [
            {"TagConditions": [tag("Team", Some("blue"))], "HierarchyGroupCondition": {"Value": "g-de"}},
            {"HierarchyGroupCondition": {"Value": "g-de-north"}}
        ]}}}), &["u3", "u1"]),
        ids(B, json!({"SearchFilter": {"UserAttributeFilter": {"OrConditions": [
            {"TagConditions": [tag("Team", None)], "HierarchyGroupCondition": {"Value": "g-de", "HierarchyGroupMatchType": "WITH_CHILD_GROUPS"}},
            {"HierarchyGroupCondition": {"Value": "g-fr"}}
        ]}}}), &["u-5", "u-1", "u-2"]),
    ];
    user_attribute_filter_holds_at_most_25_tags_and_20_hierarchies: [
        accepted(json!({"SearchFilter": {"UserAttributeFilter": {"AndCondition": {"TagConditions": tag_keys(25)}}}})),
        invalid(json!({"SearchFilter": {"UserAttributeFilter": {"AndCondition": {"TagConditions": tag_keys(26)}}}}), &["26 tag conditions", "at most 25"]),
        invalid(
            json!({"SearchFilter": {"UserAttributeFilter": {"OrConditions": (0..21).map(|i| json!({"HierarchyGroupCondition": {"Value": format!("g{i}")}})).collect::<Vec<_>>()}}}),
            &["21 hierarchy conditions", "at most 20"],
        ),
        invalid_b(json!({"SearchFilter": {"UserAttributeFilter": {"OrConditions": [{"TagConditions": tag_keys(26)}]}}}), NONE),
    ];
    tag_filter_with_user_attribute_filter_is_an_invalid_request: [
        error(ErrorType::InvalidRequestException, "", json!({"SearchFilter": {"TagFilter": {}, "UserAttributeFilter": {}}}), &["cannot be used together"]),
        Case {
            fixture: B,
            ..error(
                ErrorType::InvalidRequestException,
                "",
                json!({"SearchFilter": {"TagFilter": {"TagCondition": tag("Team", None)}, "UserAttributeFilter": {"TagCondition": tag("Team", None)}}}),
                NONE,
            )
        },
    ];
    criteria_and_filter_are_anded: [
        ids(A, with_filter(criteria(string("Username", "EXACT", "strasse")), json!({"TagFilter": {"TagCondition": tag("Team", Some("blue"))}})), &["u1"]),
    ];

    // ---- Results and paging ----
    results_are_ordered_by_folded_username_then_id: [
        // "i̇smail" < "maria.garcia" (u3, u4 tie on the folded name; Id decides) < "strasse" (u1, u2).
        ids(A, json!({}), &["u0", "u3", "u4", "u1", "u2"]),
        ids(B, json!({}), &ALL_B),
    ];
    max_results_must_be_1_to_500: [
        invalid(json!({"MaxResults": 0}), &["MaxResults", "1..500, got 0"]),
        invalid(json!({"MaxResults": 501}), &["got 501"]),
        invalid_b(json!({"MaxResults": 0}), &["MaxResults"]),
        invalid_b(json!({"MaxResults": 501}), &["MaxResults"]),
        count(B, json!({"MaxResults": 500}), 5),
    ];
    next_token_longer_than_2500_characters_is_rejected: [
        invalid(json!({"NextToken": "a".repeat(2501)}), &["NextToken", "1..2500"]),
        invalid_b(json!({"NextToken": "a".repeat(2501)}), NONE),
    ];

    // ---- Malformed bodies ----
    unknown_member_is_a_serialization_error_naming_the_path: [
        error(ErrorType::SerializationException, "SearchCriteria.AndConditions[0]", criteria(json!({"AndConditions": [{"StringCondtion": {}}]})), &["StringCondtion"]),
    ];
    wrong_json_type_is_a_serialization_error_naming_the_path: [
        error(ErrorType::SerializationException, "MaxResults", json!({"MaxResults": "ten"}), NONE),
    ];
    instance_id_must_be_1_to_100_characters: [
        invalid(json!({"InstanceId": ""}), &["InstanceId"]),
        invalid(json!({"InstanceId": "i".repeat(101)}), &["InstanceId", "got 101"]),
    ];
}

/// `body["SearchCriteria"]` is `node` with `key` also set.
fn with_key(mut node: Value, key: &str, value: Value) -> Value {
    node[key] = value;
    criteria(node)
}

/// `c` inside `levels` single-member `AndConditions`.
fn wrap(mut c: Value, levels: usize) -> Value {
    for _ in 0..levels {
        c = json!({"AndConditions": [c]});
    }
    c
}

fn tag_keys(n: usize) -> Vec<Value> {
    (0..n).map(|i| tag(&format!("k{i}"), None)).collect()
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    /// `criteria::eval::search` over a `Directory`.
    Evaluator,
    /// A tantivy `Instance` (in memory) filled by its own import.
    Engine,
    /// The binary: `connect import` of each fixture into its instance, then
    /// one `connect search-users` per case.
    Cli,
}

/// What a backend answered: the ids in result order, or the error.
type Outcome = Result<Vec<String>, (String, String)>;

fn lower(request: &Value) -> Result<Search, (String, String)> {
    parse_request(&request.to_string())
        .and_then(|r| r.lower())
        .map_err(|e| (e.kind.as_str().to_string(), e.message))
}

fn run_evaluator(fixture: Fixture, request: &Value) -> Outcome {
    let (users, groups) = fixture.records();
    let dir = Directory::load(users.as_bytes(), Some(groups.as_bytes())).expect("fixture loads");
    let page = rollcall::criteria::eval::search(&dir, &lower(request)?)
        .map_err(|e| (e.kind.as_str().to_string(), e.message))?;
    Ok(page.users.into_iter().filter_map(|u| u.id).collect())
}

fn run_engine(fixture: Fixture, request: &Value) -> Outcome {
    let (users, groups) = fixture.records();
    let inst = Instance::in_memory().expect("instance");
    let groups = read_groups(groups.as_bytes()).expect("groups");
    inst.import(users.as_bytes(), Some(groups))
        .expect("fixture imports");
    let page = inst
        .search(&lower(request)?)
        .map_err(|e| (e.kind.as_str().to_string(), e.message))?;
    Ok(page.users.into_iter().filter_map(|u| u.id).collect())
}

fn cli_import(data: &Path, fixture: Fixture) {
    let (users, groups) = fixture.records();
    let gpath = data.join(format!("groups-{}.jsonl", fixture.instance()));
    std::fs::write(&gpath, groups).expect("write groups");
    let d = data.to_str().expect("utf-8 path");
    let g = gpath.to_str().expect("utf-8 path");
    let args = [
        "connect",
        "import",
        "--data",
        d,
        "--instance",
        fixture.instance(),
        "--groups",
        g,
        "-",
    ];
    let out = rollcall(&args, users);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `request` to the instance holding `fixture` (unless the request
/// names its own `InstanceId`).
fn run_cli(data: &Path, fixture: Fixture, request: &Value) -> Outcome {
    let mut request = request.clone();
    if request.get("InstanceId").is_none() {
        request["InstanceId"] = json!(fixture.instance());
    }
    let d = data.to_str().expect("utf-8 path");
    let out = rollcall(
        &["connect", "search-users", "--data", d, "--input", "-"],
        &request.to_string(),
    );
    let text = if out.status.success() {
        &out.stdout
    } else {
        &out.stderr
    };
    let body: Value = serde_json::from_slice(text)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(text)));
    if !out.status.success() {
        let s = |k: &str| {
            body[k]
                .as_str()
                .unwrap_or_else(|| panic!("{k}: {body}"))
                .to_string()
        };
        return Err((s("__type"), s("Message")));
    }
    Ok(body["Users"]
        .as_array()
        .expect("Users")
        .iter()
        .map(|u| u["Id"].as_str().expect("Id").to_string())
        .collect())
}

/// Why `got` breaks `expect`, if it does.
fn mismatch(expect: &Expect, got: &Outcome) -> Option<String> {
    let wrong = match (expect, got) {
        (Expect::Ids(want), Ok(ids)) => ids != want,
        (Expect::Count(n), Ok(ids)) => ids.len() != *n,
        (Expect::Excludes(not), Ok(ids)) => ids.iter().any(|id| not.contains(&id.as_str())),
        (Expect::Accepted, Ok(_)) => false,
        (Expect::Error(kind, starts, words), Err((k, msg))) => {
            k != kind.as_str()
                || !msg.starts_with(starts)
                || !words.iter().all(|w| msg.contains(w.as_str()))
        }
        _ => true,
    };
    wrong.then(|| format!("expected {expect:?}, got {got:?}"))
}

/// Runs every case of a rule on one backend; fails naming each case that
/// broke it.
fn check(backend: Backend, cases: Vec<Case>) {
    let data = tempfile::tempdir().expect("tempdir");
    if let Backend::Cli = backend {
        for f in [A, B] {
            if cases.iter().any(|c| c.fixture == f) {
                cli_import(data.path(), f);
            }
        }
    }
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, case)| {
            let got = match backend {
                Backend::Evaluator => run_evaluator(case.fixture, &case.request),
                Backend::Engine => run_engine(case.fixture, &case.request),
                Backend::Cli => run_cli(data.path(), case.fixture, &case.request),
            };
            let why = mismatch(&case.expect, &got)?;
            Some(format!(
                "case {i} ({:?}, {}): {why}",
                case.fixture, case.request
            ))
        })
        .collect();
    assert!(failures.is_empty(), "{backend:?}:\n{}", failures.join("\n"));
}
