//! Black-box tests of `rollcall parse`, `to-text`, `eval` and `demo`.

use std::process::Output;

use serde_json::{json, Value};

/// Runs the binary; `None`: nothing on its standard input.
fn rollcall(args: &[&str], stdin: Option<&str>) -> Output {
    crate::util::process::rollcall(args, stdin.unwrap_or(""))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_fixture(dir: &tempfile::TempDir) -> (String, String) {
    let users = dir.path().join("users.jsonl");
    let groups = dir.path().join("groups.jsonl");
    std::fs::write(
        &users,
        concat!(
            r#"{"Id":"u1","Username":"Straße","IdentityInfo":{"FirstName":"Ann"},"HierarchyGroupId":"g-de","Tags":{"Team":"blue"}}"#,
            "\n",
            r#"{"Id":"u2","Username":"john","IdentityInfo":{"FirstName":"John"},"HierarchyGroupId":"g-emea"}"#,
            "\n",
            r#"{"Id":"u3","Username":"joanna","HierarchyGroupId":"g-fr"}"#,
            "\n"
        ),
    )
    .unwrap();
    std::fs::write(
        &groups,
        concat!(
            r#"{"Id":"g-emea","Name":"EMEA","HierarchyPath":{"LevelOne":{"Id":"g-emea"}}}"#,
            "\n",
            r#"{"Id":"g-de","Name":"DE","HierarchyPath":{"LevelOne":{"Id":"g-emea"},"LevelTwo":{"Id":"g-de"}}}"#,
            "\n"
        ),
    )
    .unwrap();
    (
        users.to_string_lossy().into_owned(),
        groups.to_string_lossy().into_owned(),
    )
}

#[test]
fn parse_prints_canonical_text() {
    let o = rollcall(
        &[
            "parse",
            "USERNAME SW jo AND (FirstName = \"An\" OR tag.Team)",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        r#"username sw "jo" and (firstname eq "An" or tag.Team)"#
    );
}

#[test]
fn parse_json_prints_the_aws_request() {
    let o = rollcall(
        &[
            "parse",
            "--json",
            "--instance",
            "i-1",
            r#"username sw "jo" and tag.Team eq blue"#,
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["InstanceId"], "i-1");
    assert_eq!(
        v["SearchCriteria"]["StringCondition"],
        json!({"FieldName": "username", "Value": "jo", "ComparisonType": "STARTS_WITH"})
    );
    assert_eq!(
        v["SearchFilter"]["TagFilter"]["TagCondition"],
        json!({"TagKey": "Team", "TagValue": "blue"})
    );
}

#[test]
fn parse_json_names_the_part_aws_cannot_express() {
    let o = rollcall(
        &["parse", "--json", r#"username sw "jo" or tag.Team"#],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(v["__type"], "InvalidParameterException");
    let msg = v["Message"].as_str().unwrap();
    assert!(msg.contains("cannot be expressed"), "{msg}");
    assert!(msg.contains(r#"username sw "jo" or tag.Team"#), "{msg}");
}

#[test]
fn parse_error_shows_line_column_and_caret() {
    let o = rollcall(
        &["parse", "username sw \"jo\" and\n  firstname xx \"a\""],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("line 2, column 13"), "{err}");
    assert!(err.contains("firstname xx \"a\""), "{err}");
    let caret_line = err
        .lines()
        .find(|l| l.trim_start().starts_with('^'))
        .expect("a caret line");
    assert_eq!(
        caret_line.find('^'),
        err.lines()
            .find(|l| l.contains("firstname xx"))
            .unwrap()
            .find("xx")
    );
}

#[test]
fn to_text_reads_stdin() {
    let req = r#"{"SearchCriteria":{"OrConditions":[{"StringCondition":{"FieldName":"FirstName","Value":"Ann","ComparisonType":"EXACT"}},{"HierarchyGroupCondition":{"Value":"g-de","HierarchyGroupMatchType":"WITH_CHILD_GROUPS"}}]}}"#;
    let o = rollcall(&["to-text", "--input", "-"], Some(req));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        r#"firstname eq "Ann" or hierarchy under "g-de""#
    );
}

#[test]
fn to_text_rejects_a_bad_request_with_an_aws_error() {
    let o = rollcall(
        &["to-text", "--input", "-"],
        Some(r#"{"SearchCriteria":{"OrConditions":[]}}"#),
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(v["__type"], "InvalidParameterException");
    assert_eq!(
        v["Message"],
        "SearchCriteria.OrConditions: must not be empty (an empty OR matches no user)"
    );
}

#[test]
fn eval_answers_an_aws_request() {
    let dir = tempfile::tempdir().unwrap();
    let (users, groups) = write_fixture(&dir);
    let req = r#"{"SearchCriteria":{"HierarchyGroupCondition":{"Value":"g-emea","HierarchyGroupMatchType":"WITH_CHILD_GROUPS"}},"MaxResults":1}"#;
    let o = rollcall(
        &[
            "eval", "--users", &users, "--groups", &groups, "--input", "-",
        ],
        Some(req),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["ApproximateTotalCount"], 2);
    assert_eq!(v["Users"][0]["Username"], "john");
    assert!(v["NextToken"].is_string());
}

#[test]
fn eval_answers_a_text_query() {
    let dir = tempfile::tempdir().unwrap();
    let (users, groups) = write_fixture(&dir);
    let o = rollcall(
        &[
            "eval",
            "--users",
            &users,
            "--groups",
            &groups,
            "--query",
            r#"username eq "STRASSE""#,
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["Users"][0]["Id"], "u1");
    assert!(v.get("NextToken").is_none());
}

#[test]
fn eval_names_the_bad_line_of_the_users_file() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("u.jsonl");
    std::fs::write(
        &users,
        "{\"Id\":\"1\",\"Username\":\"a\"}\n{\"Id\":\"2\"}\n",
    )
    .unwrap();
    let o = rollcall(
        &["eval", "--users", users.to_str().unwrap(), "--query", "*"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert!(v["Message"].as_str().unwrap().contains("line 2"), "{v}");
}

#[test]
fn demo_runs_its_examples() {
    let o = rollcall(&["demo"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("canonical: username sw \"jo\""), "{out}");
    assert!(out.matches("matches:").count() >= 5, "{out}");
}
