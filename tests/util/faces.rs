//! Helpers shared by the faces tests: a call that must succeed, the
//! paging of `ListFaces` / `ListUsers`, and `.npy` files whose header lies.
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

/// The bytes of an `.npy` file whose header claims `shape` and that holds
/// 24 bytes of data.
pub fn lying_npy(shape: &str) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    header.push_str(&" ".repeat(63 - (10 + header.len()) % 64));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0, 0, 128, 63].repeat(6));
    bytes
}

/// Shapes claiming far more data than the file holds, and the bytes of
/// data each needs.
pub const LYING_SHAPES: [(&str, &str); 3] = [
    ("(1000000000000000, 4)", "16000000000000000"),
    ("(1, 1000000000000000)", "4000000000000000"),
    ("(4000000000000000,)", "16000000000000000"),
];
