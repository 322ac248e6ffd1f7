//! One named test per rule of docs/semantics.md §1-§2, through the library: the AWS
//! codec's validation (error type and the path in the message) and the
//! reference evaluator's matching and ordering.

use rollcall::criteria::eval::search;
use rollcall::criteria::wire::{parse_request, Search};
use rollcall::records::Directory;
use rollcall::ErrorType;
use serde_json::{json, Value};

/// Lowers a request body; panics with the error if it is rejected.
fn lower(body: Value) -> Search {
    parse_request(&body.to_string())
        .and_then(|r| r.lower())
        .unwrap_or_else(|e| panic!("rejected: {e}"))
}

/// The error a request body gets.
fn reject(body: Value) -> (ErrorType, String) {
    match parse_request(&body.to_string()).and_then(|r| r.lower()) {
        Ok(s) => panic!("accepted: {:?}", s.filter),
        Err(e) => (e.kind, e.message),
    }
}

fn assert_invalid(body: Value, path_and_words: &[&str]) {
    let (kind, msg) = reject(body);
    assert_eq!(kind, ErrorType::InvalidParameterException, "{msg}");
    for w in path_and_words {
        assert!(msg.contains(w), "message {msg:?} lacks {w:?}");
    }
}

fn string(field: &str, op: &str, value: &str) -> Value {
    json!({"StringCondition": {"FieldName": field, "Value": value, "ComparisonType": op}})
}

fn criteria(c: Value) -> Value {
    json!({ "SearchCriteria": c })
}

const USERS: &str = r#"
{"Id":"u1","Username":"Straße","Arn":"arn:aws:connect:us-east-1:1:instance/i/agent/u1","IdentityInfo":{"FirstName":"Σίσυφος","LastName":"Müller"},"RoutingProfileId":"rp-A","SecurityProfileIds":["sp-1","sp-2"],"HierarchyGroupId":"g-de","Tags":{"Team":"blue","Cost Center":"42"},"Proficiencies":[{"AttributeName":"Language","AttributeValue":"Spanish","Level":3},{"AttributeName":"Skill","AttributeValue":"Billing","Level":5}],"PhoneConfig":{"PhoneType":"SOFT_PHONE","AfterContactWorkTimeLimit":30}}
{"Id":"u2","Username":"strasse","IdentityInfo":{"LastName":"Smith"},"RoutingProfileId":"rp-a","SecurityProfileIds":["sp-2"],"HierarchyGroupId":"g-emea","Tags":{"Team":"Blue"}}
{"Id":"u0","Username":"İsmail","IdentityInfo":{"FirstName":"İsmail","LastName":"Öztürk"},"HierarchyGroupId":"g-unknown-group","Proficiencies":[{"AttributeName":"Language","AttributeValue":"Turkish","Level":2.5}]}
{"Id":"u3","Username":"maria.garcia","IdentityInfo":{"FirstName":"Maria"},"HierarchyGroupId":"g-de-north","Tags":{"Shift":""}}
{"Id":"u4","Username":"Maria.Garcia","IdentityInfo":{"FirstName":"MARIA"}}
"#;
const GROUPS: &str = r#"
{"Id":"g-emea","Name":"EMEA","HierarchyPath":{"LevelOne":{"Id":"g-emea","Name":"EMEA"}}}
{"Id":"g-de","Name":"DE","HierarchyPath":{"LevelOne":{"Id":"g-emea","Name":"EMEA"},"LevelTwo":{"Id":"g-de","Name":"DE"}}}
{"Id":"g-de-north","Name":"North","HierarchyPath":{"LevelOne":{"Id":"g-emea"},"LevelTwo":{"Id":"g-de"},"LevelThree":{"Id":"g-de-north"}}}
"#;

fn dir() -> Directory {
    Directory::load(USERS.as_bytes(), Some(GROUPS.as_bytes())).expect("fixture loads")
}

/// The ids a request matches, in result order.
fn hits(body: Value) -> Vec<String> {
    let mut s = lower(body);
    s.max_results = 500;
    search(&dir(), &s)
        .expect("search")
        .users
        .into_iter()
        .filter_map(|u| u.id)
        .collect()
}

// ---- SearchCriteria structure ----

#[test]
fn members_set_on_one_node_are_anded() {
    let mut c = string("Username", "STARTS_WITH", "stra");
    c["HierarchyGroupCondition"] = json!({"Value": "g-emea"});
    assert_eq!(hits(criteria(c)), vec!["u2"]);
}

#[test]
fn node_with_nothing_set_matches_every_user() {
    assert_eq!(hits(criteria(json!({}))).len(), 5);
    assert_eq!(hits(json!({})).len(), 5);
}

#[test]
fn empty_and_conditions_match_every_user() {
    assert_eq!(hits(criteria(json!({"AndConditions": []}))).len(), 5);
}

#[test]
fn empty_or_conditions_are_rejected() {
    assert_invalid(
        criteria(json!({"AndConditions": [{"OrConditions": []}]})),
        &[
            "SearchCriteria.AndConditions[0].OrConditions",
            "must not be empty",
        ],
    );
}

fn nested(depth: usize) -> Value {
    let mut c = string("Username", "EXACT", "x");
    for _ in 1..depth {
        c = json!({ "AndConditions": [c] });
    }
    c
}

#[test]
fn nesting_deeper_than_10_levels_is_rejected() {
    lower(criteria(nested(10)));
    assert_invalid(criteria(nested(11)), &["nested more than 10 levels"]);
}

#[test]
fn more_than_100_leaf_conditions_are_rejected() {
    let leaves = |n: usize| -> Value {
        json!({"OrConditions": (0..n).map(|i| string("Username", "EXACT", &format!("u{i}"))).collect::<Vec<_>>()})
    };
    lower(criteria(leaves(100)));
    assert_invalid(criteria(leaves(101)), &["more than 100 leaf conditions"]);
}

#[test]
fn leaf_limit_counts_filter_conditions_too() {
    let mut body = criteria(
        json!({"OrConditions": (0..99).map(|i| string("Username", "EXACT", &format!("u{i}"))).collect::<Vec<_>>()}),
    );
    body["SearchFilter"] =
        json!({"TagFilter": {"AndConditions": [{"TagKey": "a"}, {"TagKey": "b"}]}});
    assert_invalid(body, &["more than 100 leaf conditions"]);
}

// ---- StringCondition ----

#[test]
fn field_names_are_case_insensitive() {
    for name in ["Username", "USERNAME", "username", "UserName"] {
        assert_eq!(
            hits(criteria(string(name, "EXACT", "maria.garcia"))).len(),
            2
        );
    }
}

#[test]
fn name_fields_compare_after_full_case_folding() {
    assert_eq!(
        hits(criteria(string("Username", "EXACT", "STRASSE"))),
        vec!["u1", "u2"]
    );
    assert_eq!(
        hits(criteria(string("FirstName", "EXACT", "ΣΊΣΥΦΟΣ"))),
        vec!["u1"]
    );
    assert_eq!(
        hits(criteria(string("Username", "STARTS_WITH", "i\u{307}s"))),
        vec!["u0"]
    );
    assert_eq!(
        hits(criteria(string("LastName", "CONTAINS", "ÜLL"))),
        vec!["u1"]
    );
}

#[test]
fn id_fields_compare_exactly() {
    assert_eq!(
        hits(criteria(string("RoutingProfileId", "EXACT", "rp-A"))),
        vec!["u1"]
    );
    assert_eq!(
        hits(criteria(string("RoutingProfileId", "EXACT", "RP-A"))),
        Vec::<String>::new()
    );
}

#[test]
fn security_profile_id_matches_any_of_the_users_profiles() {
    assert_eq!(
        hits(criteria(string("SecurityProfileId", "EXACT", "sp-2"))),
        vec!["u1", "u2"]
    );
    assert_eq!(
        hits(criteria(string("SecurityProfileId", "EXACT", "sp-1"))),
        vec!["u1"]
    );
}

#[test]
fn resource_id_exact_matches_id_or_arn_but_other_comparisons_only_the_id() {
    assert_eq!(
        hits(criteria(string("ResourceId", "EXACT", "u1"))),
        vec!["u1"]
    );
    let arn = "arn:aws:connect:us-east-1:1:instance/i/agent/u1";
    assert_eq!(
        hits(criteria(string("ResourceId", "EXACT", arn))),
        vec!["u1"]
    );
    assert!(hits(criteria(string("ResourceId", "STARTS_WITH", "arn:"))).is_empty());
    assert!(hits(criteria(string("ResourceId", "CONTAINS", "agent"))).is_empty());
}

#[test]
fn contains_on_name_fields_needs_2_to_25_characters() {
    for field in ["Username", "FirstName", "LastName"] {
        assert_invalid(
            criteria(string(field, "CONTAINS", "s")),
            &[
                "SearchCriteria.StringCondition.Value",
                "2..25 characters, got 1",
            ],
        );
        assert_invalid(
            criteria(string(field, "CONTAINS", &"a".repeat(26))),
            &["got 26"],
        );
        lower(criteria(string(field, "CONTAINS", &"a".repeat(25))));
    }
    // Characters, not bytes: "ßß" is two characters in four bytes.
    lower(criteria(string("Username", "CONTAINS", "ßß")));
}

#[test]
fn contains_on_id_fields_has_no_length_rule() {
    assert_eq!(
        hits(criteria(string("ResourceId", "CONTAINS", "3"))),
        vec!["u3"]
    );
}

#[test]
fn empty_value_is_rejected_for_every_comparison() {
    for field in ["Username", "FirstName", "RoutingProfileId", "ResourceId"] {
        for op in ["EXACT", "STARTS_WITH", "CONTAINS"] {
            assert_invalid(
                criteria(string(field, op, "")),
                &["StringCondition.Value", "must not be empty"],
            );
        }
    }
}

#[test]
fn missing_members_of_a_string_condition_are_named() {
    for (member, body) in [
        (
            "FieldName",
            json!({"Value": "x", "ComparisonType": "EXACT"}),
        ),
        (
            "Value",
            json!({"FieldName": "Username", "ComparisonType": "EXACT"}),
        ),
        (
            "ComparisonType",
            json!({"FieldName": "Username", "Value": "x"}),
        ),
    ] {
        assert_invalid(
            criteria(json!({"StringCondition": body})),
            &[&format!("StringCondition.{member}"), "is required"],
        );
    }
}

#[test]
fn unknown_field_name_or_comparison_is_rejected() {
    assert_invalid(
        criteria(string("Email", "EXACT", "x")),
        &["FieldName", "unknown field 'Email'"],
    );
    assert_invalid(
        criteria(string("Username", "LIKE", "x")),
        &["ComparisonType", "unknown comparison 'LIKE'"],
    );
}

#[test]
fn a_user_lacking_the_field_never_matches() {
    assert!(!hits(criteria(string("FirstName", "STARTS_WITH", "s"))).contains(&"u2".to_string()));
    assert!(
        !hits(criteria(string("RoutingProfileId", "STARTS_WITH", "rp")))
            .contains(&"u3".to_string())
    );
}

// ---- HierarchyGroupCondition ----

#[test]
fn hierarchy_exact_matches_the_group_only() {
    assert_eq!(
        hits(criteria(
            json!({"HierarchyGroupCondition": {"Value": "g-emea", "HierarchyGroupMatchType": "EXACT"}})
        )),
        vec!["u2"]
    );
}

#[test]
fn hierarchy_match_type_absent_means_exact() {
    assert_eq!(
        hits(criteria(
            json!({"HierarchyGroupCondition": {"Value": "g-emea"}})
        )),
        vec!["u2"]
    );
}

#[test]
fn hierarchy_with_child_groups_matches_the_subtree() {
    let h = |g: &str| {
        hits(criteria(
            json!({"HierarchyGroupCondition": {"Value": g, "HierarchyGroupMatchType": "WITH_CHILD_GROUPS"}}),
        ))
    };
    assert_eq!(h("g-emea"), vec!["u3", "u1", "u2"]);
    assert_eq!(h("g-de"), vec!["u3", "u1"]);
}

#[test]
fn a_user_in_an_unknown_group_matches_only_its_own_group_id() {
    let h = |g: &str, t: &str| {
        hits(criteria(
            json!({"HierarchyGroupCondition": {"Value": g, "HierarchyGroupMatchType": t}}),
        ))
    };
    assert_eq!(h("g-unknown-group", "WITH_CHILD_GROUPS"), vec!["u0"]);
    assert_eq!(h("g-unknown-group", "EXACT"), vec!["u0"]);
}

#[test]
fn an_unknown_group_id_matches_nothing_and_is_no_error() {
    assert!(hits(criteria(json!({"HierarchyGroupCondition": {"Value": "g-nope", "HierarchyGroupMatchType": "WITH_CHILD_GROUPS"}}))).is_empty());
}

#[test]
fn unknown_hierarchy_match_type_is_rejected() {
    assert_invalid(
        criteria(
            json!({"HierarchyGroupCondition": {"Value": "g", "HierarchyGroupMatchType": "BELOW"}}),
        ),
        &["HierarchyGroupMatchType", "BELOW"],
    );
}

// ---- ListCondition ----

fn list(conditions: Value) -> Value {
    criteria(
        json!({"ListCondition": {"TargetListType": "PROFICIENCIES", "Conditions": conditions}}),
    )
}

fn prof_string(field: &str, op: &str, value: &str) -> Value {
    json!({"StringCondition": {"FieldName": field, "Value": value, "ComparisonType": op}})
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

#[test]
fn one_single_proficiency_must_satisfy_all_conditions() {
    // u1 has Spanish at 3 and Billing at 5: "Spanish at >= 5" is no single proficiency.
    assert!(hits(list(json!([
        prof_string("value", "EXACT", "Spanish"),
        level("GREATER_OR_EQUAL", Some(5), None)
    ])))
    .is_empty());
    assert_eq!(
        hits(list(json!([
            prof_string("value", "EXACT", "Spanish"),
            level("GREATER_OR_EQUAL", Some(3), None)
        ]))),
        vec!["u1"]
    );
}

#[test]
fn proficiency_strings_compare_with_exact_case_and_no_length_rule() {
    assert!(hits(list(json!([prof_string("value", "EXACT", "spanish")]))).is_empty());
    assert_eq!(
        hits(list(json!([prof_string("name", "CONTAINS", "L")]))),
        vec!["u0", "u1"]
    );
}

#[test]
fn number_comparisons_read_min_or_max_as_specified() {
    let l = |op: &str, min: Option<i32>, max: Option<i32>| hits(list(json!([level(op, min, max)])));
    assert_eq!(l("GREATER", Some(4), None), vec!["u1"]);
    assert_eq!(l("LESSER", None, Some(3)), vec!["u0"]);
    assert_eq!(l("LESSER_OR_EQUAL", None, Some(3)), vec!["u0", "u1"]);
    assert_eq!(l("EQUAL", Some(3), None), vec!["u1"]);
    assert_eq!(l("NOT_EQUAL", Some(3), None), vec!["u0", "u1"]);
    assert_eq!(l("RANGE", Some(2), Some(3)), vec!["u0", "u1"]);
    // GREATER reads MinValue only: a stray MaxValue changes nothing.
    assert_eq!(l("GREATER", Some(4), Some(1)), vec!["u1"]);
}

#[test]
fn the_value_a_number_comparison_reads_must_be_present() {
    assert_invalid(
        list(json!([level("GREATER", None, Some(3))])),
        &["NumberCondition.MinValue", "is required"],
    );
    assert_invalid(
        list(json!([level("LESSER", Some(3), None)])),
        &["NumberCondition.MaxValue", "is required"],
    );
    assert_invalid(list(json!([level("RANGE", Some(3), None)])), &["MaxValue"]);
}

#[test]
fn range_needs_min_not_above_max() {
    assert_invalid(
        list(json!([level("RANGE", Some(4), Some(2))])),
        &["MinValue <= MaxValue"],
    );
    lower(list(json!([level("RANGE", Some(3), Some(3))])));
}

#[test]
fn level_is_also_spelled_limit() {
    let c = json!([{"NumberCondition": {"FieldName": "limit", "ComparisonType": "EQUAL", "MinValue": 5}}]);
    assert_eq!(hits(list(c)), vec!["u1"]);
}

#[test]
fn levels_outside_1_to_5_are_allowed() {
    assert_eq!(
        hits(list(json!([level("GREATER_OR_EQUAL", Some(-7), None)]))),
        vec!["u0", "u1"]
    );
    assert!(hits(list(json!([level("GREATER", Some(99), None)]))).is_empty());
}

#[test]
fn target_list_type_must_be_proficiencies() {
    assert_invalid(
        criteria(json!({"ListCondition": {"TargetListType": "SKILLS", "Conditions": []}})),
        &["TargetListType", "PROFICIENCIES"],
    );
    assert_invalid(
        criteria(json!({"ListCondition": {"Conditions": []}})),
        &["ListCondition.TargetListType", "is required"],
    );
}

#[test]
fn a_condition_sets_exactly_one_of_string_and_number() {
    assert_invalid(list(json!([{}])), &["Conditions[0]", "exactly one"]);
    let both = json!([{"StringCondition": {"FieldName": "name", "Value": "x", "ComparisonType": "EXACT"}, "NumberCondition": {"FieldName": "level", "ComparisonType": "EQUAL", "MinValue": 1}}]);
    assert_invalid(list(both), &["exactly one"]);
}

#[test]
fn an_empty_condition_list_matches_users_with_any_proficiency() {
    assert_eq!(hits(list(json!([]))), vec!["u0", "u1"]);
}

// ---- SearchFilter ----

fn tag_filter(f: Value) -> Value {
    json!({"SearchFilter": {"TagFilter": f}})
}

#[test]
fn tag_test_compares_key_and_value_exactly() {
    assert_eq!(
        hits(tag_filter(
            json!({"TagCondition": {"TagKey": "Team", "TagValue": "blue"}})
        )),
        vec!["u1"]
    );
    assert!(hits(tag_filter(
        json!({"TagCondition": {"TagKey": "team", "TagValue": "blue"}})
    ))
    .is_empty());
}

#[test]
fn tag_test_without_value_matches_any_user_with_the_key() {
    assert_eq!(
        hits(tag_filter(json!({"TagCondition": {"TagKey": "Team"}}))),
        vec!["u1", "u2"]
    );
    assert_eq!(
        hits(tag_filter(
            json!({"TagCondition": {"TagKey": "Shift", "TagValue": ""}})
        )),
        vec!["u3"]
    );
}

#[test]
fn tag_filter_or_conditions_are_an_or_of_ands() {
    let f = json!({"OrConditions": [[{"TagKey": "Team", "TagValue": "Blue"}], [{"TagKey": "Team"}, {"TagKey": "Cost Center", "TagValue": "42"}]]});
    assert_eq!(hits(tag_filter(f)), vec!["u1", "u2"]);
    assert_invalid(
        tag_filter(json!({"OrConditions": []})),
        &["TagFilter.OrConditions", "must not be empty"],
    );
}

#[test]
fn tag_filter_members_are_anded() {
    let f =
        json!({"TagCondition": {"TagKey": "Team"}, "AndConditions": [{"TagKey": "Cost Center"}]});
    assert_eq!(hits(tag_filter(f)), vec!["u1"]);
}

#[test]
fn missing_tag_key_is_rejected() {
    assert_invalid(
        tag_filter(json!({"TagCondition": {"TagValue": "x"}})),
        &["TagCondition.TagKey", "is required"],
    );
}

#[test]
fn user_attribute_filter_allows_only_one_member() {
    let f = json!({"SearchFilter": {"UserAttributeFilter": {"TagCondition": {"TagKey": "Team"}, "HierarchyGroupCondition": {"Value": "g-de"}}}});
    assert_invalid(
        f,
        &[
            "UserAttributeFilter",
            "only one member",
            "TagCondition, HierarchyGroupCondition",
        ],
    );
}

#[test]
fn user_attribute_filter_or_of_tag_and_hierarchy_ands() {
    let f = json!({"SearchFilter": {"UserAttributeFilter": {"OrConditions": [
        {"TagConditions": [{"TagKey": "Team", "TagValue": "blue"}], "HierarchyGroupCondition": {"Value": "g-de"}},
        {"HierarchyGroupCondition": {"Value": "g-de-north"}}
    ]}}});
    assert_eq!(hits(f), vec!["u3", "u1"]);
}

#[test]
fn user_attribute_filter_holds_at_most_25_tags_and_20_hierarchies() {
    let tags = |n: usize| {
        (0..n)
            .map(|i| json!({"TagKey": format!("k{i}")}))
            .collect::<Vec<_>>()
    };
    let ok = json!({"SearchFilter": {"UserAttributeFilter": {"AndCondition": {"TagConditions": tags(25)}}}});
    lower(ok);
    let bad = json!({"SearchFilter": {"UserAttributeFilter": {"AndCondition": {"TagConditions": tags(26)}}}});
    assert_invalid(bad, &["26 tag conditions", "at most 25"]);
    let ors = (0..21)
        .map(|i| json!({"HierarchyGroupCondition": {"Value": format!("g{i}")}}))
        .collect::<Vec<_>>();
    assert_invalid(
        json!({"SearchFilter": {"UserAttributeFilter": {"OrConditions": ors}}}),
        &["21 hierarchy conditions", "at most 20"],
    );
}

#[test]
fn tag_filter_with_user_attribute_filter_is_an_invalid_request() {
    let (kind, msg) = reject(json!({"SearchFilter": {"TagFilter": {}, "UserAttributeFilter": {}}}));
    assert_eq!(kind, ErrorType::InvalidRequestException);
    assert!(msg.contains("cannot be used together"), "{msg}");
}

#[test]
fn criteria_and_filter_are_anded() {
    let mut body = criteria(string("Username", "EXACT", "strasse"));
    body["SearchFilter"] =
        json!({"TagFilter": {"TagCondition": {"TagKey": "Team", "TagValue": "blue"}}});
    assert_eq!(hits(body), vec!["u1"]);
}

// ---- Results and paging ----

#[test]
fn results_are_ordered_by_folded_username_then_id() {
    // "i̇smail" < "maria.garcia" (u3, u4 tie on the folded name; Id decides) < "strasse" (u1, u2).
    assert_eq!(hits(json!({})), vec!["u0", "u3", "u4", "u1", "u2"]);
}

#[test]
fn max_results_must_be_1_to_500_and_defaults_to_100() {
    assert_invalid(json!({"MaxResults": 0}), &["MaxResults", "1..500, got 0"]);
    assert_invalid(json!({"MaxResults": 501}), &["got 501"]);
    assert_eq!(lower(json!({})).max_results, 100);
    assert_eq!(lower(json!({"MaxResults": 500})).max_results, 500);
}

#[test]
fn next_token_is_present_exactly_when_more_users_match() {
    let d = dir();
    let mut s = lower(json!({"MaxResults": 4}));
    let p1 = search(&d, &s).unwrap();
    assert_eq!((p1.users.len(), p1.approximate_total_count), (4, 5));
    s.next_token = p1.next_token;
    let p2 = search(&d, &s).unwrap();
    assert_eq!(p2.users.len(), 1);
    assert!(p2.next_token.is_none());
    let exact = search(&d, &lower(json!({"MaxResults": 5}))).unwrap();
    assert!(exact.next_token.is_none());
}

#[test]
fn a_token_used_with_another_query_or_altered_is_rejected() {
    let d = dir();
    let first = search(&d, &lower(json!({"MaxResults": 1}))).unwrap();
    let token = first.next_token.unwrap();
    let mut other = lower(criteria(string("Username", "STARTS_WITH", "s")));
    other.next_token = Some(token.clone());
    let err = search(&d, &other).unwrap_err();
    assert_eq!(err.kind, ErrorType::InvalidParameterException);
    let mut altered = lower(json!({}));
    altered.next_token = Some(format!("{token}x"));
    assert!(search(&d, &altered).is_err());
}

#[test]
fn next_token_longer_than_2500_characters_is_rejected() {
    assert_invalid(
        json!({"NextToken": "a".repeat(2501)}),
        &["NextToken", "1..2500"],
    );
}

#[test]
fn summaries_hold_the_members_the_user_has_and_acw_in_milliseconds() {
    let d = dir();
    let page = search(&d, &lower(criteria(string("ResourceId", "EXACT", "u1")))).unwrap();
    let v = serde_json::to_value(&page.users[0]).unwrap();
    assert_eq!(v["PhoneConfig"]["AfterContactWorkTimeLimit"], json!(30000));
    assert_eq!(
        v["IdentityInfo"],
        json!({"FirstName": "Σίσυφος", "LastName": "Müller"})
    );
    let page = search(&d, &lower(criteria(string("ResourceId", "EXACT", "u4")))).unwrap();
    let v = serde_json::to_value(&page.users[0]).unwrap();
    assert!(v.get("Tags").is_none() && v.get("PhoneConfig").is_none() && v.get("Arn").is_none());
}

// ---- Malformed bodies ----

#[test]
fn unknown_member_is_a_serialization_error_naming_the_path() {
    let (kind, msg) =
        reject(json!({"SearchCriteria": {"AndConditions": [{"StringCondtion": {}}]}}));
    assert_eq!(kind, ErrorType::SerializationException);
    assert!(msg.starts_with("SearchCriteria.AndConditions[0]"), "{msg}");
    assert!(msg.contains("StringCondtion"), "{msg}");
}

#[test]
fn wrong_json_type_is_a_serialization_error_naming_the_path() {
    let (kind, msg) = reject(json!({"MaxResults": "ten"}));
    assert_eq!(kind, ErrorType::SerializationException);
    assert!(msg.starts_with("MaxResults"), "{msg}");
    let err = parse_request("{not json").unwrap_err();
    assert_eq!(err.kind, ErrorType::SerializationException);
}

#[test]
fn instance_id_must_be_1_to_100_characters() {
    assert_invalid(json!({"InstanceId": ""}), &["InstanceId"]);
    assert_invalid(
        json!({"InstanceId": "i".repeat(101)}),
        &["InstanceId", "got 101"],
    );
}
