//! The rules of docs/semantics.md §1-§2 that only the library can state:
//! what a request lowers to, paging tokens and summaries of the reference
//! evaluator. Every rule that is a request and its matched ids or its error
//! is in the table of `rules.rs`, run against the evaluator, the engine and
//! the CLI.

use rollcall::criteria::eval::search;
use rollcall::criteria::wire::{parse_request, Search, WireError, WireErrorKind};
use rollcall::records::Directory;
use rollcall::ErrorType;
use serde_json::{json, Value};

use crate::rules::{GROUPS_A as GROUPS, USERS_A as USERS};

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

/// The broken rule of a request body that parses but does not lower.
fn wire_error(body: Value) -> WireError {
    match parse_request(&body.to_string()).map(|r| r.try_lower()) {
        Ok(Err(e)) => e,
        other => panic!("not a wire error: {other:?}"),
    }
}

fn string(field: &str, op: &str, value: &str) -> Value {
    json!({"StringCondition": {"FieldName": field, "Value": value, "ComparisonType": op}})
}

fn criteria(c: Value) -> Value {
    json!({ "SearchCriteria": c })
}

fn dir() -> Directory {
    Directory::load(USERS.as_bytes(), Some(GROUPS.as_bytes())).expect("fixture loads")
}

// ---- Results and paging ----

#[test]
fn max_results_must_be_1_to_500_and_defaults_to_100() {
    for n in [0, 501] {
        let e = wire_error(json!({ "MaxResults": n }));
        assert_eq!(
            (e.path.as_str(), e.kind),
            ("MaxResults", WireErrorKind::MaxResults(n))
        );
    }
    let (kind, msg) = reject(json!({"MaxResults": 0}));
    assert_eq!(kind, ErrorType::InvalidParameterException);
    assert_eq!(msg, "MaxResults: must be 1..500, got 0");
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
fn wrong_json_type_is_a_serialization_error_naming_the_path() {
    let (kind, msg) = reject(json!({"MaxResults": "ten"}));
    assert_eq!(kind, ErrorType::SerializationException);
    assert!(msg.starts_with("MaxResults"), "{msg}");
    let err = parse_request("{not json").unwrap_err();
    assert_eq!(err.kind, ErrorType::SerializationException);
}
