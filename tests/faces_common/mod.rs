//! Helpers shared by the faces tests: a call that must succeed, and the
//! paging of `ListFaces` / `ListUsers`.
#![allow(dead_code)]

use rollcall::faces::Engine;
use serde_json::json;

/// Runs one operation that must succeed; gives its response.
pub fn ok(e: &Engine, op: &str, body: serde_json::Value) -> serde_json::Value {
    e.call(op, &body.to_string())
        .unwrap_or_else(|err| panic!("{op} {body}: {err}"))
}

/// Every item of a paged list operation (`ListFaces`, `ListUsers`) on
/// collection `c`, following `NextToken`s with pages of `page` items.
pub fn list_all(e: &Engine, op: &str, items: &str, page: usize) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = ok(
            e,
            op,
            json!({"CollectionId": "c", "MaxResults": page, "NextToken": token}),
        );
        out.extend(r[items].as_array().unwrap().iter().cloned());
        match r.get("NextToken").and_then(|t| t.as_str()) {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

/// The user ids `ListUsers` returns for collection `c`, in order, with
/// pages of `page` users.
pub fn all_user_ids(e: &Engine, page: usize) -> Vec<String> {
    list_all(e, "ListUsers", "Users", page)
        .iter()
        .map(|u| u["UserId"].as_str().unwrap().to_string())
        .collect()
}
