//! The directory engine as a library: storage, atomic imports, crash
//! safety (a child process killed mid-import), explain output.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rollcall::criteria::wire::Search;
use rollcall::criteria::{Filter, StringCondition, StringField, StringOp};
use rollcall::directory::{Engine, Instance};
use rollcall::records::User;

fn user(id: &str, name: &str) -> User {
    serde_json::from_value(serde_json::json!({"Id": id, "Username": name})).expect("user")
}

fn all_ids(inst: &Instance) -> Vec<String> {
    let mut s = Search::new(Filter::all());
    s.max_results = 500;
    inst.search(&s)
        .expect("search")
        .users
        .into_iter()
        .filter_map(|u| u.id)
        .collect()
}

#[test]
fn instances_are_listed_and_reopened() {
    let d = tempfile::tempdir().expect("tempdir");
    let e = Engine::open(d.path()).expect("engine");
    assert!(e.instances().expect("list").is_empty());
    e.import(
        "a/b",
        "{\"Id\":\"1\",\"Username\":\"x\"}\n".as_bytes(),
        None,
    )
    .expect("import");
    e.create_instance("second").expect("create");
    assert_eq!(e.instances().expect("list"), ["a/b", "second"]);
    let inst = Engine::open(d.path())
        .expect("reopen")
        .instance("a/b")
        .expect("open");
    assert_eq!(all_ids(&inst), ["1"]);
    assert!(d.path().join("connect/a%2Fb/meta.json").exists());
}

#[test]
fn upsert_delete_and_groups_persist() {
    let d = tempfile::tempdir().expect("tempdir");
    let e = Engine::open(d.path()).expect("engine");
    let inst = e.create_instance("i").expect("create");
    inst.upsert(&user("1", "ann")).expect("upsert");
    inst.upsert(&user("2", "bob")).expect("upsert");
    assert!(inst.upsert(&user("3", "ann")).is_err());
    assert!(inst.delete("1").expect("delete"));
    assert!(!inst.delete("1").expect("delete again"));
    inst.upsert(&user("3", "ann")).expect("name is free again");
    let h = rollcall::r#gen::hierarchy();
    inst.replace_groups(h.groups.clone()).expect("groups");
    drop(inst);
    let inst = e.instance("i").expect("reopen");
    assert_eq!(all_ids(&inst), ["3", "2"]);
    assert_eq!(inst.groups().iter().count(), h.groups.len());
}

#[test]
fn explain_shows_index_parts_residuals_and_counts() {
    let h = rollcall::r#gen::hierarchy();
    let inst =
        rollcall::directory::instance_of(rollcall::r#gen::users(500, 1, &h), h.groups.clone())
            .expect("inst");
    let c = |f, op, v: &str| Filter::String(StringCondition::new(f, op, v).expect("condition"));
    let q = Filter::or(vec![
        c(StringField::FirstName, StringOp::Contains, "anna"),
        c(StringField::Username, StringOp::StartsWith, "JO"),
    ])
    .unwrap();
    let text = inst
        .explain(&Search::new(q.clone()), true)
        .expect("explain");
    assert!(text.starts_with("OR  [est "), "{text}");
    assert!(text.contains("RESIDUAL  first_f co \"anna\""), "{text}");
    assert!(text.contains("prefix sk:\"jo\""), "{text}");
    let total = inst
        .search(&Search::new(q))
        .expect("search")
        .approximate_total_count;
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.ends_with(&format!("actual {total}]"))),
        "{text}"
    );
}

/// A child process imports a large file; it is killed with SIGKILL while
/// importing. The previous state must be intact and the directory must open
/// without repair; a later import must work.
#[test]
fn kill_9_during_import_leaves_the_previous_state() {
    let d = tempfile::tempdir().expect("tempdir");
    let data = d.path().join("data");
    let e = Engine::open(&data).expect("engine");
    e.import(
        "i",
        "{\"Id\":\"keep\",\"Username\":\"keeper\"}\n".as_bytes(),
        None,
    )
    .expect("first import");
    let h = rollcall::r#gen::hierarchy();
    let big = d.path().join("big.jsonl");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&big).expect("file"));
        for u in rollcall::r#gen::users(200_000, 9, &h) {
            serde_json::to_writer(&mut w, &u).expect("write");
            w.write_all(b"\n").expect("newline");
        }
    }
    for (instance, delay_ms) in [("i", 1000u64), ("fresh", 1000)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(["connect", "import", "--data"])
            .arg(&data)
            .args(["--instance", instance])
            .arg(&big)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(delay_ms) {
            if child.try_wait().expect("wait").is_some() {
                panic!("the import finished before it could be killed; use a bigger file");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }
    let e = Engine::open(&data).expect("reopen");
    assert_eq!(
        e.instances().expect("list"),
        ["i"],
        "a killed first import leaves no instance"
    );
    let inst = e.instance("i").expect("opens without repair");
    assert_eq!(all_ids(&inst), ["keep"]);
    inst.upsert(&user("after", "after"))
        .expect("writable again");
    assert_eq!(all_ids(&inst), ["after", "keep"]);
}
