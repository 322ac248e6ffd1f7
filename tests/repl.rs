//! Black-box tests of `rollcall repl`: through a pseudo-terminal (line
//! editing, completion, continuation, history, carets) and with piped
//! standard input (scripting).

use std::io::Write;
use std::process::{Command, Stdio};

use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};

const TIMEOUT_MS: u64 = 60_000;

/// Types `keys` as a person would: written, flushed, then a short pause so
/// the line editor sees them as separate key presses.
fn type_keys(p: &mut PtySession, keys: &str) {
    p.send(keys).expect("send keys");
    p.flush().expect("flush keys");
    std::thread::sleep(std::time::Duration::from_millis(300));
}

fn repl(state: &tempfile::TempDir) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    cmd.arg("repl")
        .env("XDG_STATE_HOME", state.path())
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut p = spawn_with_options(
        cmd,
        Options::new()
            .timeout_ms(Some(TIMEOUT_MS))
            .strip_ansi_escape_codes(true),
    )
    .expect("the REPL starts in a pty");
    p.exp_string("demo directory of 20000 generated users")
        .expect("banner");
    p.exp_string("demo> ").expect("first prompt");
    p
}

#[test]
fn pty_runs_a_query_on_the_demo_directory_and_shows_a_table() {
    let state = tempfile::tempdir().unwrap();
    let mut p = repl(&state);
    p.send_line("username sw jo").unwrap();
    p.exp_string("Username").unwrap();
    p.exp_string("Hierarchy").unwrap();
    let (_, count) = p.exp_regex(r"20 of \d+ users \(\d+\.\d ms\)").unwrap();
    assert!(count.starts_with("20 of"), "{count}");
    p.exp_string(":next for more").unwrap();
    p.send_line(":next").unwrap();
    p.exp_regex(r"\d+ of \d+ users").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn pty_tab_completes_a_field_name() {
    let state = tempfile::tempdir().unwrap();
    let mut p = repl(&state);
    type_keys(&mut p, "userna");
    type_keys(&mut p, "\t");
    p.exp_string("username").unwrap();
    type_keys(&mut p, " sw jo\r");
    // Only the completed field name parses; "userna sw jo" would be an error.
    p.exp_regex(r"\d+ of \d+ users").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn pty_shows_a_caret_under_an_error() {
    let state = tempfile::tempdir().unwrap();
    let mut p = repl(&state);
    p.send_line("username xx jo").unwrap();
    p.exp_string("line 1, column 10: expected a comparison (eq, sw, co) after field 'username'")
        .unwrap();
    p.exp_string("username xx jo").unwrap();
    p.exp_string("         ^^").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn pty_continues_an_unfinished_query_on_the_next_line() {
    let state = tempfile::tempdir().unwrap();
    let mut p = repl(&state);
    p.send_line("(username sw jo or").unwrap();
    p.send_line("firstname eq Ann) and tag.Team eq vip")
        .unwrap();
    p.exp_regex(r"\d+ of \d+ users").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn pty_history_is_there_in_a_fresh_session() {
    let state = tempfile::tempdir().unwrap();
    let mut p = repl(&state);
    p.send_line("username eq nobody.here").unwrap();
    p.exp_string("0 of 0 users").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let saved = std::fs::read_to_string(state.path().join("rollcall/history")).unwrap();
    assert!(saved.contains("username eq nobody.here"), "{saved}");

    let mut p = repl(&state);
    type_keys(&mut p, "\x1b[A"); // Up arrow recalls the last line.
    p.exp_string("username eq nobody.here").unwrap();
    type_keys(&mut p, "\r");
    p.exp_string("0 of 0 users").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

/// Runs the REPL with `input` on a pipe; returns (exit code, stdout, stderr).
fn piped(input: &str) -> (i32, String, String) {
    let state = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .arg("repl")
        .env("XDG_STATE_HOME", state.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn piped_queries_print_tables_one_per_line() {
    let (code, out, err) = piped("username sw jo\n:count username sw jo\n:limit 2\n*\n:next\n");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("demo directory"),
        "banner goes to stderr: {err}"
    );
    assert!(!out.contains("demo directory"), "{out}");
    let counts: Vec<&str> = out.lines().filter(|l| l.contains(" users (")).collect();
    assert_eq!(counts.len(), 4, "{out}");
    assert!(counts[0].starts_with("20 of "), "{out}");
    assert!(counts[2].starts_with("2 of 20000 users"), "{out}");
    assert!(counts[3].starts_with("2 of 20000 users"), "{out}");
}

#[test]
fn piped_error_prints_a_caret_and_fails_the_run() {
    let (code, out, err) = piped("username co j\nusername sw jo\n");
    assert_eq!(code, 2);
    assert!(
        err.contains("CONTAINS on username needs 2..25 characters, got 1"),
        "{err}"
    );
    assert!(err.contains("            ^"), "{err}");
    assert!(out.contains(" users ("), "the next line still runs: {out}");
}

#[test]
fn piped_json_and_multiline_aws_requests() {
    let input = ":json username sw jo and tag.Team eq vip\n:aws {\"SearchCriteria\":\n  {\"StringCondition\": {\"FieldName\": \"Username\", \"Value\": \"jo\", \"ComparisonType\": \"STARTS_WITH\"}}, \"MaxResults\": 3}\n";
    let (code, out, err) = piped(input);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"InstanceId\": \"demo\""), "{out}");
    assert!(out.contains("\"TagFilter\""), "{out}");
    assert!(out.lines().any(|l| l.starts_with("3 of ")), "{out}");
}

#[test]
fn piped_explain_shows_the_plan() {
    let (code, out, err) = piped(":explain firstname co ann and hierarchy under g-emea\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("AND  [est "), "{out}");
    assert!(out.contains("INDEX"), "{out}");
    assert!(out.contains("<- hierarchy under \"g-emea\""), "{out}");
    assert!(out.contains("actual"), "{out}");
}
