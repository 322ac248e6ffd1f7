//! Measures `rollcall serve` against the same query run in-process:
//! requests per second and p50/p99 latency at 1, 8 and 32 concurrent
//! clients, for Connect `SearchUsers` (a selective query over
//! `ROLLCALL_PERF_USERS` users, default 1,000,000) and Rekognition
//! `SearchUsers` (by `FaceId` over `ROLLCALL_PERF_FACES` faces of dimension
//! 128, default 100,000). Prints a Markdown table.
//!
//! ```text
//! cargo run --release --example serve_perf
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall::criteria::wire::parse_request;
use rollcall::serve::{serve_on, AppState, Config, Limits};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Minimal keep-alive HTTP/1.1 client.
struct Conn {
    reader: BufReader<TcpStream>,
    head: String,
}

impl Conn {
    fn open(addr: SocketAddr, path: &str, target: Option<&str>) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
        if let Some(t) = target {
            head.push_str(&format!("X-Amz-Target: {t}\r\n"));
        }
        Conn {
            reader: BufReader::new(s),
            head,
        }
    }

    fn post(&mut self, body: &[u8]) -> u16 {
        let mut msg = format!("{}Content-Length: {}\r\n\r\n", self.head, body.len()).into_bytes();
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
        status
    }
}

struct Row {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `clients` threads for `secs`, each calling `work` in a loop.
fn measure<W: FnMut() + Send>(clients: usize, secs: f64, make: impl Fn(usize) -> W + Sync) -> Row {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..clients)
            .map(|c| {
                let mut work = make(c);
                s.spawn(move || {
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        work();
                        lat.push(t.elapsed());
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
        rps: all.len() as f64 / elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let users = env("ROLLCALL_PERF_USERS", 1_000_000);
    let faces = env("ROLLCALL_PERF_FACES", 100_000);
    let secs = env("ROLLCALL_PERF_SECS", 3) as f64;
    let dir = tempfile::tempdir().expect("tempdir");

    // Connect: the demo directory.
    let t = Instant::now();
    let h = rollcall::r#gen::hierarchy();
    let mut lines = Vec::new();
    let mut probe_name = String::new();
    for (i, u) in rollcall::r#gen::users(users, 42, &h).enumerate() {
        if i == users / 3 {
            probe_name = u.username.clone();
        }
        lines.extend_from_slice(serde_json::to_string(&u).expect("json").as_bytes());
        lines.push(b'\n');
    }
    let directory = rollcall::directory::Engine::open(dir.path()).expect("open");
    directory
        .import("perf", &lines[..], Some(h.groups.clone()))
        .expect("import");
    drop(lines);
    eprintln!(
        "imported {users} users in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let prefix: String = probe_name
        .chars()
        .take(probe_name.chars().count().max(2) - 1)
        .collect();
    let connect_body = serde_json::json!({
        "InstanceId": "perf",
        "MaxResults": 10,
        "SearchCriteria": {"StringCondition": {"FieldName": "Username", "Value": prefix, "ComparisonType": "STARTS_WITH"}}
    })
    .to_string();

    // Rekognition: `faces` faces, users of 50 faces each.
    let t = Instant::now();
    let dim = 128;
    let per_user = 50;
    let fe = rollcall::faces::Engine::open(dir.path()).expect("open faces");
    fe.create_collection_with_dim("perf", dim)
        .expect("collection");
    let mut vectors = Vec::with_capacity(faces * dim);
    for u in 0..faces / per_user {
        let base = rollcall::faces::random_vectors(1, dim, u as u64, None);
        vectors.extend(rollcall::faces::random_vectors(
            per_user,
            dim,
            1_000_000 + u as u64,
            Some((&base, 0.03)),
        ));
    }
    let ids = fe
        .import_faces("perf", vectors, dim, None)
        .expect("import faces");
    for (u, chunk) in ids.chunks(per_user).enumerate() {
        fe.call(
            "CreateUser",
            &format!(r#"{{"CollectionId":"perf","UserId":"u{u}"}}"#),
        )
        .expect("user");
        let req = serde_json::json!({"CollectionId": "perf", "UserId": format!("u{u}"), "FaceIds": chunk, "UserMatchThreshold": 0});
        fe.call("AssociateFaces", &req.to_string())
            .expect("associate");
    }
    fe.checkpoint("perf").expect("checkpoint");
    drop(fe);
    eprintln!(
        "indexed {faces} faces in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let probe_face = ids[ids.len() / 2].clone();
    let rek_body = format!(r#"{{"CollectionId":"perf","FaceId":"{probe_face}","MaxUsers":10}}"#);

    // The server, in this process, on its own runtime.
    let config = Config {
        data: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        credentials: None,
        limits: Limits::default(),
        models: None,
    };
    let state = Arc::new(AppState::open(&config).expect("state"));
    let listener = std::net::TcpListener::bind(config.listen).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            serve_on(l, state, Limits::default(), std::future::pending()).await;
        });
    });

    // In-process baselines over the same data.
    let directory = rollcall::directory::Engine::open(dir.path()).expect("open");
    let instance = directory.instance("perf").expect("instance");
    let search = parse_request(&connect_body)
        .and_then(|r| r.lower())
        .expect("query");
    let hits = instance
        .search(&search)
        .expect("search")
        .approximate_total_count;
    let faces_engine = rollcall::faces::Engine::open(dir.path()).expect("faces");
    faces_engine.call("SearchUsers", &rek_body).expect("warm");

    println!(
        "Connect query: Username STARTS_WITH {prefix:?} ({hits} of {users} users match, MaxResults 10); \
         Rekognition: SearchUsers by FaceId over {faces} faces (dim {dim}, {} users)\n",
        faces / per_user
    );
    println!("| operation | clients | in-process req/s | p50 ms | p99 ms | served req/s | p50 ms | p99 ms | p50 served − in-process | req/s ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, path, target, body) in [
        (
            "Connect SearchUsers",
            "/search-users",
            None,
            connect_body.as_str(),
        ),
        (
            "Rekognition SearchUsers",
            "/",
            Some("RekognitionService.SearchUsers"),
            rek_body.as_str(),
        ),
    ] {
        for clients in [1, 8, 32] {
            let local = if target.is_none() {
                measure(clients, secs, |_| {
                    let inst = &instance;
                    let search = &search;
                    move || {
                        let r = inst.search(search).expect("search");
                        std::hint::black_box(r);
                    }
                })
            } else {
                measure(clients, secs, |_| {
                    let fe = &faces_engine;
                    let body = rek_body.as_str();
                    move || {
                        let r = fe.call("SearchUsers", body).expect("search");
                        std::hint::black_box(r);
                    }
                })
            };
            let served = measure(clients, secs, |_| {
                let mut conn = Conn::open(addr, path, target);
                let body = body.as_bytes();
                move || {
                    let status = conn.post(body);
                    assert_eq!(status, 200);
                }
            });
            let diff = served.p50.as_secs_f64() * 1000.0 - local.p50.as_secs_f64() * 1000.0;
            println!(
                "| {name} | {clients} | {:.0} | {} | {} | {:.0} | {} | {} | {diff:+.2} ms | {:.2} |",
                local.rps,
                ms(local.p50),
                ms(local.p99),
                served.rps,
                ms(served.p50),
                ms(served.p99),
                served.rps / local.rps
            );
        }
    }
}
