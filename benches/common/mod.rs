//! What the directory and Connect-write benches share: the generated users
//! (cached in `target/bench-data/` by size and seed), the engine index
//! imported from them, and the eight query shapes of the directory bench.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rollcall::directory::{Engine, Instance};

/// The seed of the generated users.
pub const SEED: u64 = 42;

/// The instance id of the cached engine index.
pub const INSTANCE: &str = "bench";

/// The number of users to generate: `ROLLCALL_BENCH_USERS`, default 1M.
pub fn users_n() -> usize {
    std::env::var("ROLLCALL_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// `target/bench-data/`, made if missing.
pub fn bench_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&d).expect("bench-data dir");
    d
}

fn s(field: &str, value: &str, op: &str) -> String {
    format!(
        r#"{{"StringCondition":{{"FieldName":"{field}","Value":"{value}","ComparisonType":"{op}"}}}}"#
    )
}

fn under(g: &str) -> String {
    format!(
        r#"{{"HierarchyGroupCondition":{{"Value":"{g}","HierarchyGroupMatchType":"WITH_CHILD_GROUPS"}}}}"#
    )
}

/// The eight query shapes, by name, as `SearchUsers` request bodies
/// (without `InstanceId`); `sample_username` is the one `username EXACT`
/// looks for.
pub fn searches(sample_username: &str) -> Vec<(&'static str, String)> {
    let crit = |c: String| format!(r#"{{"SearchCriteria":{c}}}"#);
    let tag =
        |k: &str, v: &str| format!(r#"{{"TagCondition":{{"TagKey":"{k}","TagValue":"{v}"}}}}"#);
    let prof = r#"{"ListCondition":{"TargetListType":"PROFICIENCIES","Conditions":[
        {"StringCondition":{"FieldName":"name","Value":"Language","ComparisonType":"EXACT"}},
        {"StringCondition":{"FieldName":"value","Value":"Spanish","ComparisonType":"EXACT"}},
        {"NumberCondition":{"FieldName":"level","MinValue":4,"MaxValue":5,"ComparisonType":"RANGE"}}]}}"#;
    let nested = format!(
        r#"{{"AndConditions":[
            {{"OrConditions":[{a},{b},{c}]}},
            {{"OrConditions":[{d},{e}]}},
            {{"OrConditions":[{f},{g},{h}]}},
            {i},{j}]}}"#,
        a = s("FirstName", "ann", "CONTAINS"),
        b = s("LastName", "jo", "STARTS_WITH"),
        c = s("Username", "ma", "STARTS_WITH"),
        d = under("g-emea"),
        e = under("g-amer-us"),
        f = s("RoutingProfileId", "rp-01", "EXACT"),
        g = s("RoutingProfileId", "rp-02", "EXACT"),
        h = s("SecurityProfileId", "sp-qa", "EXACT"),
        i = s("SecurityProfileId", "sp-agent", "EXACT"),
        j = s("LastName", "smith", "CONTAINS"),
    );
    vec![
        (
            "username EXACT",
            crit(s("Username", sample_username, "EXACT")),
        ),
        (
            "username STARTS_WITH (2 chars)",
            crit(s("Username", "jo", "STARTS_WITH")),
        ),
        (
            "firstname CONTAINS (3 chars)",
            crit(s("FirstName", "ann", "CONTAINS")),
        ),
        (
            "hierarchy WITH_CHILD_GROUPS (level 2)",
            crit(under("g-emea-de")),
        ),
        (
            "tag eq",
            format!(
                r#"{{"SearchFilter":{{"TagFilter":{}}}}}"#,
                tag("Team", "vip")
            ),
        ),
        ("proficiency level RANGE", crit(prof.to_string())),
        ("nested 10-leaf", crit(nested)),
        (
            "AndConditions: [] (everything)",
            crit(r#"{"AndConditions":[]}"#.into()),
        ),
    ]
}

/// The generated users file (one JSON user a line), written if missing.
pub fn users_file(n: usize) -> PathBuf {
    let p = bench_dir().join(format!("users-{n}-{SEED}.jsonl"));
    if !p.exists() {
        let h = rollcall::r#gen::hierarchy();
        let tmp = p.with_extension("tmp");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("users file"));
        for u in rollcall::r#gen::users(n, SEED, &h) {
            serde_json::to_writer(&mut w, &u).expect("write");
            w.write_all(b"\n").expect("write");
        }
        w.flush().expect("flush");
        std::fs::rename(&tmp, &p).expect("rename");
    }
    p
}

/// The data directory of the cached engine index of `n` users (instance
/// [`INSTANCE`]), imported from [`users_file`] if missing.
pub fn engine_root(n: usize) -> PathBuf {
    let root = bench_dir().join(format!("engine-{n}-{SEED}"));
    let e = Engine::open(&root).expect("engine");
    if e.instance(INSTANCE).is_err() {
        let file = users_file(n);
        let h = rollcall::r#gen::hierarchy();
        let t = Instant::now();
        let reader =
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).expect("open"));
        e.import(INSTANCE, reader, Some(h.groups)).expect("import");
        eprintln!(
            "engine import of {n} users: {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    root
}

/// The size of the files in `dir` (not below it).
pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("index dir")
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// The cached engine index of `n` users, opened.
pub fn engine(n: usize) -> Instance {
    let root = engine_root(n);
    let size = dir_size(&root.join("connect").join(INSTANCE));
    eprintln!("engine index size: {:.1} MiB", size as f64 / 1048576.0);
    Engine::open(&root)
        .expect("engine")
        .instance(INSTANCE)
        .expect("instance")
}
