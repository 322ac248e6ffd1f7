//! Connect writes: `CreateUser` over HTTP into an instance of 1M users
//! (the directory bench's cached index), beside the same users written as
//! one import; and `SearchUsers` with 10,000 un-folded writes pending in the
//! delta, beside the same queries with none pending.
//!
//! `cargo bench --bench connect` (1M users; `ROLLCALL_BENCH_USERS=N` to
//! shrink, `ROLLCALL_BENCH_SECS` seconds per client count, default 3).
//! The server is `rollcall serve`'s own (`serve_on`, in this process, on its
//! own runtime) with credentials, so every request is SigV4-signed as the
//! SDK signs a rest-json call (`content-type;host;x-amz-date`) and verified;
//! each client keeps one keep-alive connection. Every run writes into a
//! fresh copy of the cached instance (its segment files hard-linked, so a
//! copy costs no space until it commits), removed afterwards. Prints
//! Markdown tables.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use rollcall::criteria::wire::{parse_request, Search};
use rollcall::directory::{Engine, Instance};
use rollcall::records::User;
use rollcall::serve::{
    serve_on, signature, AppState, Authorization, Config, Credentials, Limits, SignedRequest,
};

const KEY: &str = "AKIDBENCH";
const SECRET: &str = "bench/secret/key";
/// The most writes one client count makes: below the fold threshold, so
/// the figures are of the log and the delta (the fold is timed apart).
const POOL: usize = 15_000;
/// The writes pending in the delta for the search comparison.
const PENDING: usize = 10_000;

fn secs() -> f64 {
    std::env::var("ROLLCALL_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0)
}

/// A data directory holding a copy of the cached instance: tantivy's
/// segment files (write-once, named by a 32-digit hex id) hard-linked, the
/// rest (commit file, log, locks) copied.
fn copy_of(pristine: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir_in(common::bench_dir()).expect("copy dir");
    let from = pristine.join("connect").join(common::INSTANCE);
    let to = tmp.path().join("connect").join(common::INSTANCE);
    std::fs::create_dir_all(&to).expect("copy dir");
    for entry in std::fs::read_dir(&from).expect("instance dir").flatten() {
        let name = entry.file_name();
        let stem = name.to_string_lossy();
        let stem = stem.split('.').next().unwrap_or_default();
        let segment = stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit());
        if segment {
            std::fs::hard_link(entry.path(), to.join(&name)).expect("link");
        } else {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy");
        }
    }
    tmp
}

/// `rollcall serve` on a free port, in this process; stopped when dropped.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(data: &Path) -> Server {
        let config = Config {
            data: data.to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            credentials: Some(Credentials::parse(&format!("{KEY} {SECRET}\n")).expect("keys")),
            limits: Limits::default(),
            models: None,
        };
        let state = Arc::new(AppState::open(&config).expect("state"));
        let listener = std::net::TcpListener::bind(config.listen).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("listener");
                let shutdown = async move {
                    while !flag.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                serve_on(l, state, Limits::default(), shutdown).await;
            });
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `X-Amz-Date` now.
fn amz_now() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A keep-alive HTTP/1.1 connection sending SigV4-signed Connect calls.
struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
    amz_date: String,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Conn {
            reader: BufReader::new(s),
            host: addr.to_string(),
            amz_date: amz_now(),
        }
    }

    /// Sends `method path` with `body`, signed as botocore signs a
    /// rest-json call; gives the status and the response body.
    fn call(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("host", HeaderValue::from_str(&self.host).expect("host"));
        headers.insert(
            "x-amz-date",
            HeaderValue::from_str(&self.amz_date).expect("date"),
        );
        let scope = format!(
            "{KEY}/{}/us-east-1/connect/aws4_request",
            &self.amz_date[..8]
        );
        let unsigned = format!(
            "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=content-type;host;x-amz-date, Signature=0"
        );
        let auth = Authorization::parse(&unsigned).expect("authorization");
        let sig = signature(
            &SignedRequest {
                method,
                path,
                query: "",
                headers: &headers,
                body,
                service: "connect",
                operation_header: None,
            },
            &auth,
            &self.amz_date,
            SECRET,
        );
        let mut msg = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             X-Amz-Date: {}\r\nAuthorization: AWS4-HMAC-SHA256 Credential={scope}, \
             SignedHeaders=content-type;host;x-amz-date, Signature={sig}\r\n\
             Content-Length: {}\r\n\r\n",
            self.host,
            self.amz_date,
            body.len()
        )
        .into_bytes();
        msg.extend_from_slice(body);
        self.reader.get_mut().write_all(&msg).expect("write");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).expect("body");
        (status, body)
    }
}

/// Users to write: generated with another seed, their usernames prefixed so
/// that none is taken in the instance, without proficiencies (which
/// `CreateUser` does not set).
fn new_users(count: usize) -> Vec<User> {
    let h = rollcall::r#gen::hierarchy();
    rollcall::r#gen::users(count, common::SEED + 1, &h)
        .map(|mut u| {
            u.username = format!("new.{}", u.username);
            u.proficiencies = None;
            u
        })
        .collect()
}

/// The `CreateUser` body of a user (its id and ARN are the server's to give).
fn create_body(u: &User) -> Vec<u8> {
    let v = serde_json::to_value(u).expect("json");
    let mut body = serde_json::Map::new();
    for k in [
        "Username",
        "IdentityInfo",
        "PhoneConfig",
        "SecurityProfileIds",
        "RoutingProfileId",
        "HierarchyGroupId",
        "Tags",
    ] {
        if let Some(x) = v.get(k) {
            body.insert(k.to_string(), x.clone());
        }
    }
    serde_json::to_vec(&body).expect("json")
}

/// Writes per second and latency percentiles of one run.
struct Row {
    writes: usize,
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// `clients` connections sending `CreateUser` for the bodies in turn, for
/// [`secs`] or until the bodies run out.
fn create_users(addr: SocketAddr, clients: usize, bodies: &[Vec<u8>]) -> Row {
    let next = AtomicUsize::new(0);
    let path = format!("/users/{}", common::INSTANCE);
    let deadline = Instant::now() + Duration::from_secs_f64(secs());
    let start = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..clients)
            .map(|_| {
                let (next, path) = (&next, &path);
                s.spawn(move || {
                    let mut conn = Conn::open(addr);
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            break;
                        };
                        let t = Instant::now();
                        let (status, answer) = conn.call("PUT", path, body);
                        lat.push(t.elapsed());
                        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
                    }
                    lat
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Row {
        writes: all.len(),
        rps: all.len() as f64 / elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
    }
}

/// Seconds to import `users` as one import into a fresh copy of the
/// instance (what `rollcall connect import` runs).
fn import_seconds(pristine: &Path, users: &[User]) -> f64 {
    let copy = copy_of(pristine);
    let mut lines = Vec::new();
    for u in users {
        serde_json::to_writer(&mut lines, u).expect("json");
        lines.push(b'\n');
    }
    let t = Instant::now();
    Engine::open(copy.path())
        .expect("engine")
        .import(common::INSTANCE, &lines[..], None)
        .expect("import");
    t.elapsed().as_secs_f64()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The durability floor on this disk: p50 and p99 of appending a record's
/// worth of bytes to a file beside the instance and `fdatasync`ing it, one
/// at a time, for [`secs`].
fn fsync_floor(dir: &Path, record: usize) -> (Duration, Duration) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fsync-floor"))
        .expect("floor file");
    let bytes = vec![b'x'; record];
    let deadline = Instant::now() + Duration::from_secs_f64(secs());
    let mut lat = Vec::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        f.write_all(&bytes).expect("append");
        f.sync_data().expect("fdatasync");
        lat.push(t.elapsed());
    }
    lat.sort();
    (
        lat[lat.len() / 2],
        lat[(lat.len() * 99 / 100).min(lat.len() - 1)],
    )
}

fn writes_bench(pristine: &Path, n: usize) {
    let users = new_users(POOL);
    let bodies: Vec<Vec<u8>> = users.iter().map(create_body).collect();
    println!("\n| CreateUser over HTTP into {n} users | clients | writes | writes/s | p50 ms | p99 ms | one import of the same users, writes/s | HTTP / import |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for clients in [1, 8, 32] {
        let copy = copy_of(pristine);
        if clients == 1 {
            let (p50, p99) = fsync_floor(copy.path(), bodies[0].len() + 200);
            println!(
                "| append + fdatasync alone (the floor) | 1 | – | {:.0} | {} | {} | – | – |",
                1.0 / p50.as_secs_f64(),
                ms(p50),
                ms(p99)
            );
        }
        let row = {
            let server = Server::start(copy.path());
            create_users(server.addr, clients, &bodies)
        };
        let import = row.writes as f64 / import_seconds(pristine, &users[..row.writes]);
        println!(
            "| SigV4, keep-alive | {clients} | {} | {:.0} | {} | {} | {import:.0} | {:.2} |",
            row.writes,
            row.rps,
            ms(row.p50),
            ms(row.p99),
            row.rps / import
        );
        if clients == 8 {
            // The fold those writes would meet at the threshold.
            let inst = Engine::open(copy.path())
                .expect("engine")
                .instance(common::INSTANCE)
                .expect("instance");
            let pending = inst.pending().expect("pending");
            let t = Instant::now();
            inst.fold().expect("fold");
            eprintln!(
                "fold of {pending} pending writes into {n} users: {:.2} s",
                t.elapsed().as_secs_f64()
            );
        }
    }
}

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Every `stride`-th user of the users file (the instance's users), and
/// the one in the middle.
fn indexed_users(n: usize, stride: usize) -> (Vec<User>, String) {
    let file = std::fs::File::open(common::users_file(n)).expect("users file");
    let mut picked = Vec::new();
    let mut middle = String::new();
    for (i, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
        if i % stride == 0 || i == n / 2 {
            let u: User = serde_json::from_str(&line.expect("line")).expect("user");
            if i == n / 2 {
                middle = u.username.clone();
            }
            if i % stride == 0 {
                picked.push(u);
            }
        }
    }
    (picked, middle)
}

fn search_bench(pristine: &Path, n: usize) {
    // Half of the pending writes create users, half change indexed ones
    // (a tag and the first name), written by 8 threads as the server would.
    let created = new_users(PENDING / 2);
    let (mut changed, sample) = indexed_users(n, (2 * n / PENDING).max(1));
    changed.truncate(PENDING - created.len());
    for u in &mut changed {
        u.tags
            .get_or_insert_with(Default::default)
            .insert("Team".into(), "bench".into());
        if let Some(i) = u.identity_info.as_mut() {
            i.first_name = Some("Annabel".into());
        }
    }
    let writes: Vec<User> = created.into_iter().chain(changed).collect();
    let copy = copy_of(pristine);
    let pending = Engine::open(copy.path())
        .expect("engine")
        .instance(common::INSTANCE)
        .expect("instance");
    pending.set_fold_at(usize::MAX);
    let t = Instant::now();
    std::thread::scope(|s| {
        for part in writes.chunks(writes.len().div_ceil(8)) {
            let inst = &pending;
            s.spawn(move || {
                for u in part {
                    inst.upsert(u).expect("write");
                }
            });
        }
    });
    eprintln!(
        "{} library writes by 8 threads: {:.0} writes/s",
        writes.len(),
        writes.len() as f64 / t.elapsed().as_secs_f64()
    );
    assert_eq!(pending.pending().expect("pending"), writes.len());
    let none: Instance = common::engine(n);
    println!(
        "\n| SearchUsers ({n} users) | matches, none pending | none pending ms | matches, {} pending | {} pending ms | pending / none |",
        writes.len(),
        writes.len()
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, request) in common::searches(&sample) {
        let search: Search = parse_request(&request)
            .expect("request")
            .lower()
            .expect("valid");
        let a = none.search(&search).expect("search");
        let b = pending.search(&search).expect("search");
        let (mut ta, mut tb) = (Duration::MAX, Duration::MAX);
        // Alternated, the best median of three rounds of each.
        for _ in 0..3 {
            ta = ta.min(median(
                || {
                    none.search(&search).expect("search");
                },
                15,
            ));
            tb = tb.min(median(
                || {
                    pending.search(&search).expect("search");
                },
                15,
            ));
        }
        println!(
            "| {name} | {} | {} | {} | {} | {:.2}x |",
            a.approximate_total_count,
            ms3(ta),
            b.approximate_total_count,
            ms3(tb),
            tb.as_secs_f64() / ta.as_secs_f64()
        );
    }
}

fn ms3(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n = common::users_n();
    let pristine = common::engine_root(n);
    eprintln!(
        "instance of {n} users: {:.1} MiB",
        common::dir_size(&pristine.join("connect").join(common::INSTANCE)) as f64 / 1048576.0
    );
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref().is_none_or(|f| f == "writes") {
        writes_bench(&pristine, n);
    }
    if only.as_deref().is_none_or(|f| f == "search") {
        search_bench(&pristine, n);
    }
}
