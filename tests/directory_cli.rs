//! The directory engine through the `rollcall` binary: the import rules of
//! SPEC section 1 and what only the binary shows (paging across imports,
//! summaries, `query`, storage). The rules of section 2 that are a request
//! and its ids or error are the table of `rules.rs`, which runs them
//! through `connect search-users` too.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::rules::{ALL_B as ALL_IN_ORDER, GROUPS_B as GROUPS, USERS_B as USERS};
use crate::util::process::{rollcall as run, run_program, BIN};

fn import(data: &Path, users: &str, groups: Option<&str>) -> Output {
    let d = data.to_str().expect("utf-8 path");
    let mut args = vec!["connect", "import", "--data", d, "--instance", "i", "-"];
    let gpath = data.join("groups-input.jsonl");
    let g = gpath.to_str().expect("utf-8 path").to_string();
    if let Some(text) = groups {
        std::fs::create_dir_all(data).expect("mkdir");
        std::fs::write(&gpath, text).expect("write groups");
        args.extend(["--groups", &g]);
    }
    run(&args, users)
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = import(dir.path(), USERS, Some(GROUPS));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Sends a request (InstanceId added) and returns (success, body).
fn search(data: &Path, mut request: Value) -> (bool, Value) {
    request["InstanceId"] = json!("i");
    let d = data.to_str().expect("utf-8 path");
    let out = run(
        &["connect", "search-users", "--data", d, "--input", "-"],
        &request.to_string(),
    );
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    let body = serde_json::from_slice(&text)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&text)));
    (out.status.success(), body)
}

fn ids(data: &Path, request: Value) -> Vec<String> {
    let (ok, body) = search(data, request);
    assert!(ok, "{body}");
    body["Users"]
        .as_array()
        .expect("Users")
        .iter()
        .map(|u| u["Id"].as_str().expect("Id").to_string())
        .collect()
}

fn error(data: &Path, request: Value) -> (String, String) {
    let (ok, body) = search(data, request);
    assert!(!ok, "expected an error, got {body}");
    (
        body["__type"].as_str().expect("__type").to_string(),
        body["Message"].as_str().expect("Message").to_string(),
    )
}

fn s(field: &str, value: &str, op: &str) -> Value {
    json!({"StringCondition": {"FieldName": field, "Value": value, "ComparisonType": op}})
}

fn crit(c: Value) -> Value {
    json!({ "SearchCriteria": c })
}

#[test]
fn max_results_bounds_and_default() {
    let d = fixture();
    // The bounds: rules::*::max_results_must_be_1_to_500.
    let many: String = (0..150)
        .map(|i| format!("{{\"Id\":\"m-{i:03}\",\"Username\":\"m{i:03}\"}}\n"))
        .collect();
    assert!(import(d.path(), &many, None).status.success());
    let (_, body) = search(d.path(), json!({}));
    assert_eq!(body["Users"].as_array().map(Vec::len), Some(100));
    assert_eq!(body["ApproximateTotalCount"], 155);
}

#[test]
fn total_count_is_exact_and_token_present_exactly_when_more_match() {
    let d = fixture();
    let (_, body) = search(d.path(), json!({"MaxResults": 2}));
    assert_eq!(body["ApproximateTotalCount"], 5);
    assert!(body["NextToken"].is_string());
    let (_, body) = search(d.path(), json!({"MaxResults": 5}));
    assert!(body.get("NextToken").is_none(), "{body}");
}

#[test]
fn paging_is_stable_under_changes() {
    let d = fixture();
    let (_, first) = search(d.path(), json!({"MaxResults": 2}));
    let token = first["NextToken"].as_str().expect("token").to_string();
    // Between pages: a user sorting before the cursor arrives, one after it
    // leaves, and one after it is renamed to sort later still.
    let changes =
        "{\"Id\":\"u-0\",\"Username\":\"aaron\"}\n{\"Id\":\"u-3\",\"Username\":\"zoe\"}\n";
    assert!(import(d.path(), changes, None).status.success());
    let (_, second) = search(d.path(), json!({"MaxResults": 2, "NextToken": token}));
    let got: Vec<&str> = second["Users"]
        .as_array()
        .expect("Users")
        .iter()
        .map(|u| u["Id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(got, ["u-1", "u-2"]);
    assert_eq!(second["ApproximateTotalCount"], 6);
    let token = second["NextToken"].as_str().expect("token").to_string();
    let (_, third) = search(d.path(), json!({"MaxResults": 2, "NextToken": token}));
    assert_eq!(third["Users"][0]["Id"], "u-3");
    assert!(third.get("NextToken").is_none());
}

#[test]
fn altered_or_foreign_token_is_rejected() {
    let d = fixture();
    let (_, body) = search(d.path(), json!({"MaxResults": 1}));
    let token = body["NextToken"].as_str().expect("token").to_string();
    let other = crit(s("Username", "ann", "EXACT"));
    let mut foreign = other.clone();
    foreign["NextToken"] = json!(token);
    let (kind, msg) = error(d.path(), foreign);
    assert_eq!(kind, "InvalidParameterException");
    assert!(msg.contains("NextToken"), "{msg}");
    let mut altered: Vec<char> = token.chars().collect();
    altered[5] = if altered[5] == 'x' { 'y' } else { 'x' };
    let altered: String = altered.into_iter().collect();
    assert_eq!(
        error(d.path(), json!({"MaxResults": 1, "NextToken": altered})).0,
        "InvalidParameterException"
    );
    // Too long: rules::*::next_token_longer_than_2500_characters_is_rejected.
}

#[test]
fn summary_omits_absent_members_and_reports_milliseconds() {
    let d = fixture();
    let (_, body) = search(d.path(), crit(s("ResourceId", "u-1", "EXACT")));
    let u = &body["Users"][0];
    assert_eq!(u["PhoneConfig"]["AfterContactWorkTimeLimit"], 30000);
    assert!(u["IdentityInfo"].get("Email").is_none(), "{u}");
    let (_, body) = search(d.path(), crit(s("ResourceId", "u-3", "EXACT")));
    let u = body["Users"][0].as_object().expect("user");
    let mut keys: Vec<&str> = u.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "HierarchyGroupId",
            "Id",
            "RoutingProfileId",
            "Tags",
            "Username"
        ]
    );
}

#[test]
fn unknown_instance_is_resource_not_found() {
    let d = fixture();
    let out = run(
        &[
            "connect",
            "search-users",
            "--data",
            d.path().to_str().expect("path"),
            "--input",
            "-",
        ],
        r#"{"InstanceId": "other"}"#,
    );
    assert!(!out.status.success());
    let body: Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(body["__type"], "ResourceNotFoundException");
}

#[test]
fn reimporting_an_id_replaces_the_user() {
    let d = fixture();
    let out = import(d.path(), "{\"Id\":\"u-4\",\"Username\":\"zed\"}\n", None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 replaced"));
    assert_eq!(
        ids(d.path(), json!({})),
        ["u-5", "u-3", "u-1", "u-2", "u-4"]
    );
}

#[test]
fn a_bad_line_fails_the_whole_import_naming_the_line() {
    let d = fixture();
    let cases = [
        (
            "{\"Id\":\"n-1\",\"Username\":\"new\"}\n{\"Id\":\"n-2\",\"Username\":\"ann\"}\n",
            "line 2",
        ),
        (
            "{\"Id\":\"n-1\",\"Username\":\"new\"}\nnot json\n",
            "line 2",
        ),
        (
            "{\"Id\":\"n-1\",\"Username\":\"new\"}\n\n{\"Id\":\"n-3\"}\n",
            "line 3",
        ),
    ];
    for (input, line) in cases {
        let out = import(d.path(), input, None);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(line), "{err}");
        assert_eq!(
            ids(d.path(), json!({})),
            ALL_IN_ORDER,
            "nothing of {input:?} is visible"
        );
    }
    // A username freed earlier in the same import may be taken later in it.
    let swap = "{\"Id\":\"u-4\",\"Username\":\"bob\"}\n{\"Id\":\"n-9\",\"Username\":\"ann\"}\n";
    assert!(import(d.path(), swap, None).status.success());
}

#[test]
fn a_failed_first_import_leaves_no_instance() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = import(
        d.path(),
        "{\"Id\":\"a\",\"Username\":\"a\"}\n{\"Id\":\"b\"}\n",
        None,
    );
    assert!(!out.status.success());
    assert_eq!(error(d.path(), json!({})).0, "ResourceNotFoundException");
}

#[test]
fn demo_data_imports_and_searches_from_a_clean_directory() {
    let d = tempfile::tempdir().expect("tempdir");
    let out_dir = d.path().join("demo");
    let o = run(
        &[
            "demo-data",
            "--users",
            "300",
            "--seed",
            "3",
            "--out",
            out_dir.to_str().expect("p"),
        ],
        "",
    );
    assert!(o.status.success());
    let data = d.path().join("data");
    let o = run(
        &[
            "connect",
            "import",
            "--data",
            data.to_str().expect("p"),
            "--instance",
            "i",
            out_dir.join("users.jsonl").to_str().expect("p"),
            "--groups",
            out_dir.join("groups.jsonl").to_str().expect("p"),
        ],
        "",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("imported 300 users"));
    let c = json!({"HierarchyGroupCondition": {"Value": "g-emea", "HierarchyGroupMatchType": "WITH_CHILD_GROUPS"}});
    let (ok, body) = search(&data, crit(c));
    assert!(ok);
    assert!(body["ApproximateTotalCount"]
        .as_u64()
        .is_some_and(|n| n > 0 && n < 300));
}

fn query(data: &Path, args: &[&str]) -> Output {
    let d = data.to_str().expect("utf-8 path");
    let mut all = vec!["query", "--data", d, "--instance", "i"];
    all.extend(args);
    run(&all, "")
}

#[test]
fn query_prints_a_table_with_the_total() {
    let d = fixture();
    let out = query(
        d.path(),
        &[r#"hierarchy under g-de or username eq ANN"#, "--limit", "3"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Username"), "{text}");
    assert!(lines[2].starts_with("ann "), "{text}");
    assert!(
        text.contains("g-emea / g-de / g-de-north"),
        "hierarchy path: {text}"
    );
    assert_eq!(lines.last().copied(), Some("3 of 4 users"), "{text}");
}

#[test]
fn query_json_is_the_aws_response() {
    let d = fixture();
    let out = query(d.path(), &["tag.Team", "--json"]);
    assert!(out.status.success());
    let body: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(body["ApproximateTotalCount"], 3);
    assert_eq!(body["Users"][0]["Id"], "u-3");
}

#[test]
fn query_explain_shows_the_plan_with_counts() {
    let d = fixture();
    let out = query(
        d.path(),
        &[r#"firstname co "anna" and tag.Team"#, "--explain"],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("AND  [est "), "{text}");
    assert!(text.contains("RESIDUAL  first_f co \"anna\""), "{text}");
    assert!(text.contains("actual 0]"), "{text}");
}

#[test]
fn query_syntax_error_shows_a_caret_and_exits_2() {
    let d = fixture();
    let out = query(d.path(), &["username sw"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains('^'));
}

/// `connect import --instance ID` of USERS into `data`.
fn import_into(data: &Path, instance: &str, users: &str) -> Output {
    let d = data.to_str().expect("utf-8 path");
    run(
        &[
            "connect",
            "import",
            "--data",
            d,
            "--instance",
            instance,
            "-",
        ],
        users,
    )
}

/// The staging directories (`.import-*`) left in `data/connect/`.
fn staging_dirs(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.join("connect"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".import-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_instance_id_the_model_allows_is_storable() {
    let d = tempfile::tempdir().expect("tempdir");
    // 100 characters each (the model's limit): 300 bytes of UTF-8, 100
    // plain ASCII bytes, and 100 ASCII bytes that percent-encode to 300.
    let ids = ["☃".repeat(100), "a".repeat(100), "./".repeat(50)];
    for id in &ids {
        let out = import_into(d.path(), id, USERS);
        assert!(
            out.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let request = json!({"InstanceId": id});
        let dd = d.path().to_str().expect("utf-8 path");
        let out = run(
            &["connect", "search-users", "--data", dd, "--input", "-"],
            &request.to_string(),
        );
        assert!(
            out.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let body: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(body["ApproximateTotalCount"], 5, "{id}: {body}");
        // A second import goes into the same instance.
        let out = import_into(d.path(), id, "{\"Id\":\"u-9\",\"Username\":\"nine\"}\n");
        assert!(String::from_utf8_lossy(&out.stdout).contains(": 6 users"));
    }
    assert_eq!(staging_dirs(d.path()), Vec::<String>::new());
    // Listing names every instance, hashed directory names included.
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args(["repl", "--data"])
        .arg(d.path())
        .args(["--instance", &ids[1]])
        .env("XDG_STATE_HOME", state.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the REPL");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!(":instance\n:instance {}\n", ids[0]).as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sorted = ids.to_vec();
    sorted.sort();
    assert!(
        text.contains(&format!("instances: {}", sorted.join(", "))),
        "{text}"
    );
    assert!(
        text.contains(&format!("instance {}: 6 users", ids[0])),
        "{text}"
    );
}

#[test]
fn a_failed_import_leaves_no_staging_directory() {
    let d = tempfile::tempdir().expect("tempdir");
    // A bad line.
    let out = import_into(
        d.path(),
        "new",
        "{\"Id\":\"a\",\"Username\":\"a\"}\nnot json\n",
    );
    assert!(!out.status.success());
    assert_eq!(staging_dirs(d.path()), Vec::<String>::new());
    // The final rename fails: something that is not an instance is in the way.
    let blocker = d.path().join("connect").join("blocked");
    std::fs::create_dir_all(&blocker).expect("mkdir");
    std::fs::write(blocker.join("not-an-index"), b"x").expect("write");
    let out = import_into(d.path(), "blocked", USERS);
    assert!(!out.status.success());
    assert_eq!(staging_dirs(d.path()), Vec::<String>::new());
}

/// A first import's staging directory is left alone by another process's
/// cleanup while its lock (`connect/.import.lock`, held shared) is held, on
/// any platform; once no one holds it, the next first import removes it.
#[test]
fn a_running_imports_staging_directory_survives_another_processs_cleanup() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = import_into(d.path(), "first", USERS);
    assert!(out.status.success());
    let connect = d.path().join("connect");
    // This process plays an import in progress: the lock held shared and
    // its staging directory half built.
    let lock = std::fs::File::open(connect.join(".import.lock")).expect("lock file");
    lock.lock_shared().expect("shared lock");
    let running = connect.join(".import-running");
    std::fs::create_dir(&running).expect("mkdir");
    std::fs::write(running.join("part"), b"x").expect("write");
    let out = import_into(d.path(), "second", USERS);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(staging_dirs(d.path()), [".import-running"]);
    // The import ends without removing it (a crash): the leftover goes.
    drop(lock);
    let out = import_into(d.path(), "third", USERS);
    assert!(out.status.success());
    assert_eq!(staging_dirs(d.path()), Vec::<String>::new());
}

/// Every file and directory under `dir` (and `dir` itself) whose mode lets
/// group or others in.
#[cfg(unix)]
fn shared_entries(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            out.push(format!("{} {:o}", p.display(), mode & 0o777));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).expect("read_dir") {
                stack.push(e.expect("entry").path());
            }
        }
    }
    out
}

/// Runs `rollcall ARGS` under umask 000, with `stdin`.
#[cfg(unix)]
fn run_umask_000(args: &[&str], stdin: &str) -> Output {
    let mut all = vec!["-c", "umask 000; exec \"$0\" \"$@\"", BIN];
    all.extend(args);
    run_program("sh", &all, stdin)
}

#[cfg(unix)]
#[test]
fn data_files_are_owner_only_whatever_the_umask() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let d = data.to_str().expect("utf-8 path");
    let ok = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let long = "☃".repeat(100);
    for instance in ["i", long.as_str()] {
        ok(run_umask_000(
            &[
                "connect",
                "import",
                "--data",
                d,
                "--instance",
                instance,
                "-",
            ],
            USERS,
        ));
        // A second import into the existing instance (new segments, merges).
        ok(run_umask_000(
            &[
                "connect",
                "import",
                "--data",
                d,
                "--instance",
                instance,
                "-",
            ],
            "{\"Id\":\"u-9\",\"Username\":\"nine\"}\n",
        ));
    }
    ok(run_umask_000(
        &[
            "rekognition",
            "create-collection",
            "--data",
            d,
            "--input",
            "-",
        ],
        "{\"CollectionId\": \"staff\"}",
    ));
    ok(run_umask_000(
        &["rekognition", "create-user", "--data", d, "--input", "-"],
        "{\"CollectionId\": \"staff\", \"UserId\": \"u-1\"}",
    ));
    ok(run_umask_000(
        &["connect", "search-users", "--data", d, "--input", "-"],
        "{\"InstanceId\": \"i\"}",
    ));
    assert!(data.join("connect/i/meta.json").exists());
    assert!(data.join("rekognition").is_dir());
    assert_eq!(shared_entries(&data), Vec::<String>::new());

    // `serve` creates a fresh data directory owner-only too.
    let fresh = tmp.path().join("served");
    let mut child = Command::new("sh")
        .args([
            "-c",
            "umask 000; exec \"$0\" \"$@\"",
            BIN,
            "serve",
            "--data",
        ])
        .arg(&fresh)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("read the address line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening"), "{line:?}");
    assert!(fresh.join("connect").is_dir() && fresh.join("rekognition").is_dir());
    assert_eq!(shared_entries(&fresh), Vec::<String>::new());
}

#[test]
fn an_import_line_that_is_not_a_json_object_is_refused() {
    let d = fixture();
    let input = "{\"Id\":\"n-1\",\"Username\":\"new\"}\n[\"id-1\",\"arn\",\"user-1\"]\n";
    let out = import(d.path(), input, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the array line was imported");
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(
        ids(d.path(), json!({})),
        ALL_IN_ORDER,
        "nothing is imported"
    );
}
