//! The directory engine against the reference evaluator's scan and SQLite
//! (bundled, best indexes: a B-tree on the lower-cased username, an FTS5
//! trigram table for contains, B-trees on tags, proficiencies and the
//! hierarchy path), on the same generated users, in the same run.
//!
//! `cargo bench --bench directory` (1M users); `ROLLCALL_BENCH_USERS=N` to
//! shrink. Built indexes are cached in `target/bench-data/` by size and seed.
//! After criterion's own report, a markdown table of medians is printed.

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rollcall::criteria::wire::{parse_request, Search, SearchUsersResponse, UserSearchSummary};
use rollcall::criteria::{eval, fold};
use rollcall::records::{Directory, Groups, User};
use rusqlite::{params_from_iter, Connection};

/// One benchmark query: the AWS request and the same query in SQL.
struct Q {
    name: &'static str,
    request: String,
    /// `WHERE` clause over `users u` (with `?` parameters).
    sql_where: String,
    params: Vec<String>,
}

/// The SQL of each of [`common::searches`]' queries, in its order: the
/// `WHERE` clause over `users u` and its `?` parameters.
fn queries(sample_username: &str) -> Vec<Q> {
    let sql: Vec<(String, Vec<String>)> = vec![
        ("u.uname_l = ?".into(), vec![fold(sample_username)]),
        (
            "u.uname_l >= ? AND u.uname_l < ?".into(),
            vec!["jo".into(), "jp".into()],
        ),
        (
            "u.rowid IN (SELECT rowid FROM first_fts WHERE first_fts MATCH ?)".into(),
            vec!["\"ann\"".into()],
        ),
        (
            "u.group_path >= ? AND u.group_path < ?".into(),
            vec!["/g-emea/g-emea-de/".into(), "/g-emea/g-emea-de0".into()],
        ),
        (
            "u.rowid IN (SELECT user FROM tags WHERE k = ? AND v = ?)".into(),
            vec!["Team".into(), "vip".into()],
        ),
        (
            "u.rowid IN (SELECT user FROM profs WHERE name = ? AND value = ? AND level BETWEEN 4 AND 5)".into(),
            vec!["Language".into(), "Spanish".into()],
        ),
        (
            "(u.rowid IN (SELECT rowid FROM first_fts WHERE first_fts MATCH '\"ann\"')
                  OR (u.last_l >= 'jo' AND u.last_l < 'jp') OR (u.uname_l >= 'ma' AND u.uname_l < 'mb'))
              AND ((u.group_path >= '/g-emea/' AND u.group_path < '/g-emea0')
                  OR (u.group_path >= '/g-amer/g-amer-us/' AND u.group_path < '/g-amer/g-amer-us0'))
              AND (u.rp = 'rp-01' OR u.rp = 'rp-02' OR u.rowid IN (SELECT user FROM sps WHERE sp = 'sp-qa'))
              AND u.rowid IN (SELECT user FROM sps WHERE sp = 'sp-agent')
              AND u.rowid IN (SELECT rowid FROM last_fts WHERE last_fts MATCH '\"smith\"')"
                .into(),
            vec![],
        ),
        ("1".into(), vec![]),
    ];
    let searches = common::searches(sample_username);
    assert_eq!(searches.len(), sql.len(), "one SQL query per search");
    searches
        .into_iter()
        .zip(sql)
        .map(|((name, request), (sql_where, params))| Q {
            name,
            request,
            sql_where,
            params,
        })
        .collect()
}

fn paging_query() -> Q {
    Q {
        name: "full paging, ~5k matches",
        request: r#"{"MaxResults":500,"SearchCriteria":{"AndConditions":[
            {"HierarchyGroupCondition":{"Value":"g-emea-de","HierarchyGroupMatchType":"WITH_CHILD_GROUPS"}},
            {"StringCondition":{"FieldName":"FirstName","Value":"ann","ComparisonType":"CONTAINS"}}]}}"#
            .into(),
        sql_where: String::new(),
        params: vec![],
    }
}

fn group_path(groups: &Groups, g: &str) -> String {
    let mut path = String::from("/");
    for id in groups
        .lineage(g)
        .iter()
        .skip(1)
        .chain(std::iter::once(&g.to_string()))
    {
        path.push_str(id);
        path.push('/');
    }
    path
}

fn sqlite(n: usize, users: &[User], groups: &Groups) -> Connection {
    let p = common::bench_dir().join(format!("sqlite-{n}-{}.db", common::SEED));
    if p.exists() {
        return Connection::open(&p).expect("sqlite");
    }
    let tmp = p.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut c = Connection::open(&tmp).expect("sqlite");
    c.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
         CREATE TABLE users(rowid INTEGER PRIMARY KEY, id TEXT, uname_l TEXT, first_l TEXT, last_l TEXT,
             rp TEXT, group_path TEXT, json TEXT);
         CREATE TABLE tags(user INTEGER, k TEXT, v TEXT);
         CREATE TABLE sps(user INTEGER, sp TEXT);
         CREATE TABLE profs(user INTEGER, name TEXT, value TEXT, level REAL);
         CREATE VIRTUAL TABLE first_fts USING fts5(first_l, tokenize='trigram', content='users', content_rowid='rowid');
         CREATE VIRTUAL TABLE last_fts USING fts5(last_l, tokenize='trigram', content='users', content_rowid='rowid');",
    )
    .expect("schema");
    let t = Instant::now();
    let tx = c.transaction().expect("tx");
    {
        let mut iu = tx
            .prepare("INSERT INTO users VALUES (?,?,?,?,?,?,?,?)")
            .expect("p");
        let mut it = tx.prepare("INSERT INTO tags VALUES (?,?,?)").expect("p");
        let mut is = tx.prepare("INSERT INTO sps VALUES (?,?)").expect("p");
        let mut ip = tx.prepare("INSERT INTO profs VALUES (?,?,?,?)").expect("p");
        for (i, u) in users.iter().enumerate() {
            let row = i as i64 + 1;
            let gp = u
                .hierarchy_group_id
                .as_deref()
                .map(|g| group_path(groups, g));
            iu.execute(rusqlite::params![
                row,
                u.id,
                fold(&u.username),
                u.first_name().map(fold),
                u.last_name().map(fold),
                u.routing_profile_id,
                gp,
                serde_json::to_string(u).expect("json")
            ])
            .expect("insert");
            for (k, v) in u.tags.iter().flatten() {
                it.execute(rusqlite::params![row, k, v]).expect("tag");
            }
            for sp in u.security_profile_ids.iter().flatten() {
                is.execute(rusqlite::params![row, sp]).expect("sp");
            }
            for p in u.proficiencies.iter().flatten() {
                ip.execute(rusqlite::params![
                    row,
                    p.attribute_name,
                    p.attribute_value,
                    p.level
                ])
                .expect("prof");
            }
        }
    }
    tx.commit().expect("commit");
    c.execute_batch(
        "CREATE INDEX users_name ON users(uname_l, id);
         CREATE INDEX users_last ON users(last_l);
         CREATE INDEX users_group ON users(group_path);
         CREATE INDEX users_rp ON users(rp);
         CREATE INDEX tags_kv ON tags(k, v, user);
         CREATE INDEX sps_sp ON sps(sp, user);
         CREATE INDEX profs_nvl ON profs(name, value, level, user);
         INSERT INTO first_fts(first_fts) VALUES('rebuild');
         INSERT INTO last_fts(last_fts) VALUES('rebuild');
         ANALYZE;",
    )
    .expect("indexes");
    eprintln!(
        "sqlite load of {n} users: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(c);
    std::fs::rename(&tmp, &p).expect("rename");
    Connection::open(&p).expect("sqlite")
}

/// First page (100, ordered by folded username then id) plus the total, in SQLite.
fn sqlite_page(c: &Connection, q: &Q) -> (Vec<UserSearchSummary>, u64) {
    let total: u64 = c
        .prepare_cached(&format!(
            "SELECT count(*) FROM users u WHERE {}",
            q.sql_where
        ))
        .expect("count")
        .query_row(params_from_iter(q.params.iter()), |r| r.get(0))
        .expect("count row");
    let mut st = c
        .prepare_cached(&format!(
            "SELECT json FROM users u WHERE {} ORDER BY u.uname_l, u.id LIMIT 100",
            q.sql_where
        ))
        .expect("page");
    let users = st
        .query_map(params_from_iter(q.params.iter()), |r| r.get::<_, String>(0))
        .expect("rows")
        .map(|j| {
            let u: User = serde_json::from_str(&j.expect("row")).expect("user json");
            UserSearchSummary::from(&u)
        })
        .collect();
    (users, total)
}

fn median(mut f: impl FnMut(), budget: Duration) -> Duration {
    let mut times = Vec::new();
    let start = Instant::now();
    let min_runs = if budget >= Duration::from_secs(2) {
        3
    } else {
        5
    };
    while times.len() < min_runs || (start.elapsed() < budget && times.len() < 200) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn all_pages(run: &dyn Fn(&Search) -> SearchUsersResponse, first: &Search) -> usize {
    let mut s = first.clone();
    let mut n = 0;
    loop {
        let r = run(&s);
        n += r.users.len();
        match r.next_token {
            Some(t) => s.next_token = Some(t),
            None => return n,
        }
    }
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1}")
    }
}

fn directory_bench(c: &mut Criterion) {
    let n = common::users_n();
    let h = rollcall::r#gen::hierarchy();
    let users: Vec<User> = rollcall::r#gen::users(n, common::SEED, &h).collect();
    let groups = Groups::new(h.groups.clone());
    let mut dir = Directory::new(groups.clone());
    for u in &users {
        dir.upsert(u.clone())
            .expect("generated users are consistent");
    }
    let inst = common::engine(n);
    let db = sqlite(n, &users, &groups);
    let sample = users[n / 2].username.clone();
    let qs = queries(&sample);
    let mut rows = Vec::new();
    let mut group = c.benchmark_group("directory");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for q in &qs {
        let search = parse_request(&q.request)
            .expect("request")
            .lower()
            .expect("valid");
        let want = eval::search(&dir, &search).expect("reference");
        let got = inst.search(&search).expect("engine");
        assert_eq!(got, want, "{}: engine differs from the reference", q.name);
        let (sql_users, sql_total) = sqlite_page(&db, q);
        assert_eq!(
            sql_total, want.approximate_total_count,
            "{}: sqlite count",
            q.name
        );
        assert_eq!(sql_users, want.users, "{}: sqlite page", q.name);
        group.bench_function(format!("{} / engine", q.name), |b| {
            b.iter(|| inst.search(&search).expect("engine"))
        });
        group.bench_function(format!("{} / sqlite", q.name), |b| {
            b.iter(|| sqlite_page(&db, q))
        });
        group.bench_function(format!("{} / reference", q.name), |b| {
            b.iter(|| eval::search(&dir, &search).expect("reference"))
        });
        let e = median(
            || {
                inst.search(&search).expect("engine");
            },
            Duration::from_secs(1),
        );
        let s = median(
            || {
                sqlite_page(&db, q);
            },
            Duration::from_secs(1),
        );
        let r = median(
            || {
                eval::search(&dir, &search).expect("reference");
            },
            Duration::from_secs(2),
        );
        rows.push((q.name.to_string(), want.approximate_total_count, e, r, s));
    }
    let pq = paging_query();
    let search = parse_request(&pq.request)
        .expect("request")
        .lower()
        .expect("valid");
    let eng = |s: &Search| inst.search(s).expect("engine");
    let refr = |s: &Search| eval::search(&dir, s).expect("reference");
    let total = all_pages(&eng, &search);
    assert_eq!(total, all_pages(&refr, &search));
    group.bench_function("full paging / engine", |b| {
        b.iter(|| all_pages(&eng, &search))
    });
    let e = median(
        || {
            all_pages(&eng, &search);
        },
        Duration::from_secs(2),
    );
    let r = median(
        || {
            all_pages(&refr, &search);
        },
        Duration::from_secs(3),
    );
    group.finish();
    println!("\n| query ({n} users) | matches | engine ms | reference ms | SQLite ms | reference/engine | SQLite/engine |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, count, e, r, s) in rows {
        println!(
            "| {name} | {count} | {} | {} | {} | {:.0}x | {:.1}x |",
            ms(e),
            ms(r),
            ms(s),
            r.as_secs_f64() / e.as_secs_f64(),
            s.as_secs_f64() / e.as_secs_f64()
        );
    }
    println!(
        "| {} (MaxResults 500, all pages) | {total} | {} | {} | – | {:.0}x | – |",
        pq.name,
        ms(e),
        ms(r),
        r.as_secs_f64() / e.as_secs_f64()
    );
}

criterion_group!(benches, directory_bench);
criterion_main!(benches);
