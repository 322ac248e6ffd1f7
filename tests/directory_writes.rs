//! Writes through the write-ahead log and the delta, against the
//! reference evaluator over a plain model of the same writes: random
//! interleavings of creates, updates (renames, tag and group changes),
//! deletes, group replacements, folds, reopens and paged searches; and a
//! writing child process killed with SIGKILL under concurrent writers.

use std::collections::{BTreeMap, HashSet};

use crate::util::directory_gen;
use crate::util::process::{run_then_kill, test_name, test_seed};

use directory_gen::{arb_case, Dir};
use proptest::prelude::*;
use rollcall::criteria::eval;
use rollcall::criteria::wire::Search;
use rollcall::criteria::Filter;
use rollcall::directory::{instance_of, Engine, Instance};
use rollcall::records::{Directory, Groups, HierarchyGroup, User};

/// One step of a random interleaving.
#[derive(Debug, Clone)]
enum Step {
    /// Change user `pick` (modulo the users present): maybe a new
    /// username, a tag set or removed, a new group.
    Update {
        pick: usize,
        rename: Option<&'static str>,
        tag: Option<(&'static str, Option<&'static str>)>,
        group: Option<usize>,
    },
    /// A new user with this username.
    Create(&'static str),
    /// Delete user `pick`.
    Delete(usize),
    /// Replace the groups by those whose bit is set.
    Groups(u64),
    /// Fold the delta into the index.
    Fold,
    /// Drop the instance and open it again (disk only; a fold in memory).
    Reopen,
    /// Read the next page of the running search.
    Page,
}

const NAMES: &[&str] = &[
    "ann",
    "Ann",
    "ANN",
    "bob",
    "straße",
    "STRASSE",
    "zed",
    "maria.garcia",
    "jo",
    "a",
    "ö",
];

fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
    let name = proptest::sample::select(NAMES);
    let tag = proptest::option::of((
        proptest::sample::select(&["Team", "Shift", "Cost Center"][..]),
        proptest::option::of(proptest::sample::select(&["blue", "Blue", "", "day"][..])),
    ));
    let step = prop_oneof![
        4 => (any::<usize>(), proptest::option::of(name.clone()), tag, proptest::option::of(any::<usize>()))
            .prop_map(|(pick, rename, tag, group)| Step::Update { pick, rename, tag, group }),
        3 => name.prop_map(Step::Create),
        2 => any::<usize>().prop_map(Step::Delete),
        1 => any::<u64>().prop_map(Step::Groups),
        1 => Just(Step::Fold),
        1 => Just(Step::Reopen),
        4 => Just(Step::Page),
    ];
    proptest::collection::vec(step, 1..24)
}

/// The instance under test, in memory or on disk.
struct Subject {
    engine: Option<(tempfile::TempDir, Engine)>,
    inst: Instance,
    fold_at: usize,
}

impl Subject {
    fn new(dir: &Dir, on_disk: bool, fold_at: usize) -> Subject {
        let (engine, inst) = if on_disk {
            let tmp = tempfile::tempdir().expect("tempdir");
            let engine = Engine::open(tmp.path()).expect("engine");
            let lines: String = dir
                .users
                .iter()
                .map(|u| serde_json::to_string(u).expect("json") + "\n")
                .collect();
            engine
                .import("i", lines.as_bytes(), Some(dir.groups.clone()))
                .expect("import");
            let inst = engine.instance("i").expect("instance");
            (Some((tmp, engine)), inst)
        } else {
            let inst = instance_of(dir.users.clone(), dir.groups.clone()).expect("instance");
            (None, inst)
        };
        inst.set_fold_at(fold_at);
        Subject {
            engine,
            inst,
            fold_at,
        }
    }

    fn reopen(&mut self) {
        match &self.engine {
            Some((_, engine)) => {
                self.inst = engine.instance("i").expect("reopen");
                self.inst.set_fold_at(self.fold_at);
            }
            None => self.inst.fold().expect("fold"),
        }
    }
}

fn user_of(id: String, username: &str) -> User {
    serde_json::from_value(serde_json::json!({"Id": id, "Username": username})).expect("user")
}

/// Applies one write step to the model and the subject; both must agree
/// on whether it is accepted.
fn write(
    step: &Step,
    d: &mut Directory,
    s: &mut Subject,
    all_groups: &[HierarchyGroup],
    serial: &mut u32,
) {
    let ids: Vec<String> = d.users().map(|u| u.id.clone()).collect();
    match step {
        Step::Update {
            pick,
            rename,
            tag,
            group,
        } if !ids.is_empty() => {
            let mut u = d.get(&ids[pick % ids.len()]).cloned().expect("present");
            if let Some(n) = rename {
                u.username = (*n).to_string();
            }
            if let Some((k, v)) = tag {
                let tags = u.tags.get_or_insert_with(BTreeMap::new);
                match v {
                    Some(v) => {
                        tags.insert((*k).to_string(), (*v).to_string());
                    }
                    None => {
                        tags.remove(*k);
                    }
                }
            }
            if let (Some(g), false) = (group, all_groups.is_empty()) {
                u.hierarchy_group_id = Some(all_groups[g % all_groups.len()].id.clone());
            }
            let want = d.upsert(u.clone());
            let got = s.inst.upsert(&u);
            assert_eq!(want.is_ok(), got.is_ok(), "update {u:?}: {want:?} {got:?}");
        }
        Step::Create(name) => {
            *serial += 1;
            let u = user_of(format!("new-{serial}"), name);
            let want = d.upsert(u.clone());
            let got = s.inst.upsert(&u);
            assert_eq!(want.is_ok(), got.is_ok(), "create {u:?}: {want:?} {got:?}");
        }
        Step::Delete(pick) if !ids.is_empty() => {
            let id = &ids[pick % ids.len()];
            assert!(d.remove(id));
            assert!(s.inst.delete(id).expect("delete"));
            assert!(
                !s.inst.delete(id).expect("delete again"),
                "a deleted user is gone"
            );
        }
        Step::Groups(bits) => {
            let kept: Vec<HierarchyGroup> = all_groups
                .iter()
                .enumerate()
                .filter(|(i, _)| bits >> (i % 64) & 1 == 1)
                .map(|(_, g)| g.clone())
                .collect();
            d.groups = Groups::new(kept.clone());
            s.inst.replace_groups(kept).expect("groups");
        }
        Step::Fold => s.inst.fold().expect("fold"),
        Step::Reopen => s.reopen(),
        _ => {}
    }
}

/// Runs the steps; at every `Page` step compares the next page of the
/// running search (restarted when it ends), and at the end compares every
/// page of the search, every user by id and the counts.
fn run_case(dir: &Dir, filter: &Filter, max: u32, steps: &[Step], on_disk: bool, fold_at: usize) {
    let mut s = Subject::new(dir, on_disk, fold_at);
    let mut d = dir.directory();
    let mut search = Search::new(filter.clone());
    search.max_results = max;
    let mut serial = 0;
    for (i, step) in steps.iter().enumerate() {
        if let Step::Page = step {
            let want = eval::search(&d, &search).expect("reference search");
            let got = s.inst.search(&search).expect("engine search");
            assert_eq!(got, want, "step {i} of {steps:?}, {filter:?}");
            search.next_token = want.next_token;
        } else {
            write(step, &mut d, &mut s, &dir.groups, &mut serial);
        }
    }
    let mut all = Search::new(filter.clone());
    all.max_results = max;
    loop {
        let want = eval::search(&d, &all).expect("reference search");
        let got = s.inst.search(&all).expect("engine search");
        assert_eq!(got, want, "final pages of {filter:?} after {steps:?}");
        match want.next_token {
            Some(t) => all.next_token = Some(t),
            None => break,
        }
    }
    let mut got: Vec<User> = s.inst.users().expect("users");
    got.sort_by(|a, b| a.id.cmp(&b.id));
    let want: Vec<User> = d.users().cloned().collect();
    assert_eq!(got, want, "every user after {steps:?}");
    for u in &want {
        assert_eq!(s.inst.user(&u.id).expect("user").as_ref(), Some(u));
    }
    assert_eq!(s.inst.len(), d.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// In memory, folding at a random small delta size (or never).
    #[test]
    fn writes_and_pages_match_the_evaluator_in_memory(
        (dir, filter, max) in arb_case(),
        steps in arb_steps(),
        fold_at in prop_oneof![1usize..6, Just(usize::MAX)],
    ) {
        run_case(&dir, &filter, max, &steps, false, fold_at);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// On disk: reopening replays the log; a fold empties it.
    #[test]
    fn writes_and_pages_match_the_evaluator_on_disk(
        (dir, filter, max) in arb_case(),
        steps in arb_steps(),
        fold_at in prop_oneof![1usize..6, Just(usize::MAX)],
    ) {
        run_case(&dir, &filter, max, &steps, true, fold_at);
    }
}

#[test]
fn a_write_is_seen_by_another_open_instance_and_an_import_applies_after_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(tmp.path()).expect("engine");
    engine
        .import("i", &b"{\"Id\":\"1\",\"Username\":\"ann\"}\n"[..], None)
        .expect("import");
    let writer = engine.instance("i").expect("writer");
    let reader = engine.instance("i").expect("reader");
    writer.upsert(&user_of("2".into(), "bob")).expect("write");
    assert!(writer.delete("1").expect("delete"));
    // Another instance (as another process would) sees the log's records.
    assert_eq!(
        reader.user("2").expect("read").map(|u| u.username),
        Some("bob".into())
    );
    assert_eq!(reader.user("1").expect("read"), None);
    assert_eq!(reader.pending().expect("pending"), 2);
    // The pending writes hold: an import naming bob's username for
    // another id fails, naming its line.
    let e = engine
        .import("i", &b"{\"Id\":\"3\",\"Username\":\"bob\"}\n"[..], None)
        .unwrap_err();
    assert_eq!(
        e.message,
        "line 1: Username 'bob' is already used by another user"
    );
    // An import folds the log first: its users replace what the log wrote.
    let summary = engine
        .import("i", &b"{\"Id\":\"2\",\"Username\":\"carol\"}\n"[..], None)
        .expect("import");
    assert_eq!(
        (summary.imported, summary.replaced, summary.total),
        (1, 1, 1)
    );
    assert_eq!(
        reader.pending().expect("pending"),
        0,
        "the import emptied the log"
    );
    assert_eq!(
        reader.user("2").expect("read").map(|u| u.username),
        Some("carol".into())
    );
    assert_eq!(writer.user("1").expect("read"), None);
    // And writes go on after it, from either instance.
    reader.upsert(&user_of("4".into(), "dan")).expect("write");
    assert_eq!(writer.len(), 2);
    let log = std::fs::metadata(tmp.path().join("connect/i/wal.log")).expect("log");
    assert!(log.len() > 0, "dan's write is in the log");
}

#[test]
fn a_torn_log_tail_is_a_write_that_never_happened() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(tmp.path()).expect("engine");
    let inst = engine.create_instance("i").expect("instance");
    inst.upsert(&user_of("1".into(), "ann")).expect("write");
    let log = tmp.path().join("connect/i/wal.log");
    let whole = std::fs::metadata(&log).expect("log").len();
    inst.upsert(&user_of("2".into(), "bob")).expect("write");
    let two = std::fs::metadata(&log).expect("log").len();
    drop(inst);
    let bytes = std::fs::read(&log).expect("log");
    assert_eq!(bytes.len() as u64, two);
    for cut in (whole..two).step_by(7).chain([two - 1]) {
        std::fs::write(&log, &bytes[..cut as usize]).expect("cut");
        let inst = engine.instance("i").expect("reopen");
        assert_eq!(inst.len(), 1, "cut at {cut}");
        assert!(inst.user("2").expect("read").is_none());
    }
    // A writer cuts the torn tail off before it appends.
    let inst = engine.instance("i").expect("reopen");
    inst.upsert(&user_of("3".into(), "cy")).expect("write");
    drop(inst);
    let inst = engine.instance("i").expect("reopen");
    let mut ids: Vec<String> = inst
        .users()
        .expect("users")
        .into_iter()
        .map(|u| u.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["1", "3"]);
}

/// Per user id: the last acknowledged state (`Some(None)`: deleted), and
/// the states tried since (`None`: a delete).
type States<'a> = BTreeMap<&'a str, (Option<Option<u32>>, Vec<Option<u32>>)>;

const CHILD_ENV: &str = "ROLLCALL_CONNECT_DURABILITY_CHILD";
const THREADS: usize = 4;

fn tagged(id: &str, username: &str, version: u32) -> User {
    serde_json::from_value(serde_json::json!({
        "Id": id, "Username": username, "Tags": {"v": version.to_string()}
    }))
    .expect("user")
}

/// The groups of generation `k`: all three or none are there.
fn generation(k: usize) -> Vec<HierarchyGroup> {
    ["a", "b", "c"]
        .iter()
        .map(|s| {
            serde_json::from_value(serde_json::json!({"Id": format!("gen{k}-{s}")})).expect("group")
        })
        .collect()
}

/// Not a test on its own: the writer process of
/// `kill_9_under_concurrent_writers_loses_no_acknowledged_write`.
#[test]
fn connect_durability_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: usize = std::env::var("ROLLCALL_CONNECT_ROUND")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let engine = Engine::open(&dir).expect("engine");
    let inst = engine.create_instance("i").expect("instance");
    inst.set_fold_at(64);
    let out = std::sync::Mutex::new(std::io::stdout());
    let say = |line: String| {
        use std::io::Write;
        let mut o = out.lock().expect("stdout");
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    };
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (inst, say) = (&inst, &say);
            s.spawn(move || {
                for i in 0.. {
                    let id = format!("r{round}-t{t}-{i}");
                    say(format!("TRY put {id} 1"));
                    inst.upsert(&tagged(&id, &id, 1)).expect("create");
                    say(format!("ACK put {id} 1"));
                    if i % 3 == 2 {
                        say(format!("TRY put {id} 2"));
                        inst.upsert(&tagged(&id, &id, 2)).expect("update");
                        say(format!("ACK put {id} 2"));
                    }
                    if i % 5 == 4 {
                        let old = format!("r{round}-t{t}-{}", i - 2);
                        say(format!("TRY delete {old}"));
                        inst.delete(&old).expect("delete");
                        say(format!("ACK delete {old}"));
                    }
                    if t == 0 && i % 4 == 0 {
                        let k = round * 100_000 + i;
                        say(format!("TRY groups {k}"));
                        inst.replace_groups(generation(k)).expect("groups");
                        say(format!("ACK groups {k}"));
                    }
                }
            });
        }
    });
}

#[test]
fn kill_9_under_concurrent_writers_loses_no_acknowledged_write() {
    use rand::{Rng, SeedableRng};
    let seed = test_seed();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let child_test = test_name(module_path!(), "connect_durability_child");
    let mut lines = Vec::new();
    for round in 0..4 {
        let round_env = round.to_string();
        lines.extend(run_then_kill(
            &child_test,
            &[
                (CHILD_ENV, dir.path().as_os_str()),
                ("ROLLCALL_CONNECT_ROUND", round_env.as_ref()),
            ],
            std::time::Duration::from_secs(60),
            std::time::Duration::from_millis(rng.random_range(20..400)),
        ));

        let engine = Engine::open(dir.path()).expect("engine");
        let inst = engine.instance("i").expect("instance survives");
        let users: BTreeMap<String, u32> = inst
            .users()
            .expect("users")
            .into_iter()
            .map(|u| {
                assert_eq!(u.id, u.username, "a user is whole");
                let v = u
                    .tags
                    .as_ref()
                    .and_then(|t| t.get("v"))
                    .and_then(|v| v.parse().ok());
                (u.id.clone(), v.expect("a user is whole: its tag"))
            })
            .collect();
        // What each user may be now: its last acknowledged state, or one
        // tried after that acknowledgement.
        let mut states: States<'_> = BTreeMap::new();
        let mut acked_groups = None;
        let mut tried_groups = HashSet::new();
        for line in &lines {
            let parts: Vec<&str> = line.split(' ').collect();
            let (kind, what, id, state) = match parts[..] {
                [kind, "put", id, v] => (kind, "put", id, v.parse().ok()),
                [kind, "delete", id] => (kind, "delete", id, None),
                [kind, "groups", k] => (kind, "groups", k, None),
                _ => continue,
            };
            match (kind, what) {
                ("ACK", "groups") => acked_groups = id.parse::<usize>().ok(),
                ("TRY", "groups") => {
                    tried_groups.insert(id.parse::<usize>().ok());
                }
                ("ACK", _) => {
                    states.insert(id, (Some(state), Vec::new()));
                }
                _ => states.entry(id).or_insert((None, Vec::new())).1.push(state),
            }
        }
        for (id, (acked, tried)) in &states {
            let now = users.get(*id).copied();
            // A user never acknowledged may also be absent (never created).
            let absent_ok = acked.is_none() && now.is_none();
            assert!(
                absent_ok || *acked == Some(now) || tried.contains(&now),
                "round {round}: user {id} is {now:?}, acknowledged {acked:?}, tried {tried:?} (seed {seed})"
            );
        }
        for id in users.keys() {
            assert!(
                states.contains_key(id.as_str()),
                "round {round}: user {id} was never written (seed {seed})"
            );
        }
        let mut groups: Vec<String> = inst.groups().iter().map(|g| g.id.clone()).collect();
        groups.sort();
        if let Some(k) = acked_groups {
            let gen_of = groups
                .first()
                .and_then(|g| g.strip_prefix("gen"))
                .and_then(|g| g.split('-').next())
                .and_then(|k| k.parse::<usize>().ok());
            let want: Vec<String> = generation(gen_of.unwrap_or(k))
                .into_iter()
                .map(|g| g.id)
                .collect();
            assert_eq!(
                groups, want,
                "round {round}: groups are one whole generation (seed {seed})"
            );
            let generation = gen_of.expect("groups present");
            assert!(
                generation == k || (generation > k && tried_groups.contains(&Some(generation))),
                "round {round}: groups of generation {generation}, acknowledged {k} (seed {seed})"
            );
        }
        drop(inst);
    }
}
