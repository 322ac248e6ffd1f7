//! A bounded load test of `rollcall serve` (loopback only): 32 concurrent
//! clients mix Connect `SearchUsers`, Rekognition `SearchFaces` and
//! `AssociateFaces` for `ROLLCALL_LOAD_SECS` seconds (default 30; each
//! client also stops after 50,000 requests). Afterwards the server is
//! stopped with SIGTERM and the data directory reopened by the library:
//! every acknowledged association must be there, and no request may have
//! failed.

#[path = "util/serve.rs"]
mod serve_common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serve_common::{seed_connect, Conn, Server};

const CLIENTS: usize = 32;
const DIM: usize = 128;
const POOL: usize = 600;
const BACKGROUND_FACES: usize = 5_000;
const MAX_REQUESTS_PER_CLIENT: usize = 50_000;
const PREFIXES: [&str; 8] = ["a", "jo", "ma", "li", "sa", "ch", "el", "ka"];

struct Client {
    faces: Vec<String>,
}

fn user_of(client: usize, n: usize) -> String {
    format!("load-{client}-{}", n / 100)
}

#[test]
fn load_mixed_clients_lose_no_acknowledged_write() {
    let secs: u64 = std::env::var("ROLLCALL_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    seed_connect(dir.path(), 20_000);

    // Faces: a pool of near-identical faces per client, plus background.
    let mut clients = Vec::new();
    {
        let engine = rollcall::faces::Engine::open(dir.path()).unwrap();
        engine.create_collection_with_dim("load", DIM).unwrap();
        let mut all = Vec::new();
        for c in 0..CLIENTS {
            let base = rollcall::faces::random_vectors(1, DIM, 1000 + c as u64, None);
            all.extend(rollcall::faces::random_vectors(
                POOL,
                DIM,
                2000 + c as u64,
                Some((&base, 0.02)),
            ));
        }
        all.extend(rollcall::faces::random_vectors(
            BACKGROUND_FACES,
            DIM,
            7,
            None,
        ));
        let ids = engine.import_faces("load", all, DIM, None).unwrap();
        for c in 0..CLIENTS {
            clients.push(Client {
                faces: ids[c * POOL..(c + 1) * POOL].to_vec(),
            });
            for u in 0..POOL.div_ceil(100) {
                engine
                    .call(
                        "CreateUser",
                        &format!(
                            r#"{{"CollectionId": "load", "UserId": "{}"}}"#,
                            user_of(c, u * 100)
                        ),
                    )
                    .unwrap();
            }
        }
    }

    let s = Server::start(dir.path(), &[]);
    let addr = s.addr;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let started = Instant::now();
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let counts = counts.clone();
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let mut acked: Vec<(String, String)> = Vec::new();
                let mut failures: Vec<String> = Vec::new();
                let mut next_face = 0usize;
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64);
                let mut latencies = Vec::new();
                for i in 0..MAX_REQUESTS_PER_CLIENT {
                    if Instant::now() >= deadline {
                        break;
                    }
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let pick = rng % 10;
                    let t0 = Instant::now();
                    let (kind, r) = if pick < 6 {
                        let p = PREFIXES[(rng >> 8) as usize % PREFIXES.len()];
                        let body = format!(
                            r#"{{"InstanceId":"demo","MaxResults":10,"SearchCriteria":{{"StringCondition":{{"FieldName":"Username","Value":"{p}","ComparisonType":"STARTS_WITH"}}}}}}"#
                        );
                        (0, conn.request("POST", "/search-users", &[], body.as_bytes()))
                    } else if pick < 9 || next_face >= POOL {
                        let f = &client.faces[(rng >> 8) as usize % POOL];
                        let body = format!(
                            r#"{{"CollectionId":"load","FaceId":"{f}","MaxFaces":10,"FaceMatchThreshold":50}}"#
                        );
                        (
                            1,
                            conn.request(
                                "POST",
                                "/",
                                &[("X-Amz-Target", "RekognitionService.SearchFaces")],
                                body.as_bytes(),
                            ),
                        )
                    } else {
                        let f = client.faces[next_face].clone();
                        let user = user_of(c, next_face);
                        let body = format!(
                            r#"{{"CollectionId":"load","UserId":"{user}","FaceIds":["{f}"],"UserMatchThreshold":50,"ClientRequestToken":"t-{c}-{i}"}}"#
                        );
                        let r = conn.request(
                            "POST",
                            "/",
                            &[("X-Amz-Target", "RekognitionService.AssociateFaces")],
                            body.as_bytes(),
                        );
                        if let Ok(resp) = &r
                            && resp.status == 200 {
                                let v = resp.json();
                                let ok = v["AssociatedFaces"]
                                    .as_array()
                                    .is_some_and(|a| a.iter().any(|x| x["FaceId"] == f.as_str()));
                                if ok {
                                    acked.push((user, f));
                                } else {
                                    failures.push(format!("AssociateFaces not associated: {v}"));
                                }
                            }
                        next_face += 1;
                        (2, r)
                    };
                    latencies.push(t0.elapsed());
                    match r {
                        Ok(resp) if resp.status == 200 => {
                            counts[kind].fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(resp) => failures.push(format!(
                            "status {}: {}",
                            resp.status,
                            String::from_utf8_lossy(&resp.body)
                        )),
                        Err(e) => {
                            failures.push(format!("transport: {e}"));
                            conn = Conn::open(addr);
                        }
                    }
                }
                (acked, failures, latencies)
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut failures = Vec::new();
    let mut latencies = Vec::new();
    for h in handles {
        let (a, f, l) = h.join().unwrap();
        acked.extend(a);
        failures.extend(f);
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let total: u64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    println!(
        "load: {total} requests in {elapsed:.1} s ({:.0}/s) by {CLIENTS} clients: \
         SearchUsers {}, SearchFaces {}, AssociateFaces {}; p50 {:?}, p99 {:?}; {} associations acknowledged",
        total as f64 / elapsed,
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed),
        counts[2].load(Ordering::Relaxed),
        pct(0.5),
        pct(0.99),
        acked.len()
    );
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(total > 0 && !acked.is_empty());
    assert!(
        s.stop().success(),
        "the server did not exit cleanly on SIGTERM"
    );

    // Every acknowledged association is on disk.
    let engine = rollcall::faces::Engine::open(dir.path()).unwrap();
    let mut by_user: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for (u, _) in &acked {
        if by_user.contains_key(u) {
            continue;
        }
        let mut have = HashSet::new();
        let mut token: Option<String> = None;
        loop {
            let mut req =
                serde_json::json!({"CollectionId": "load", "UserId": u, "MaxResults": 4096});
            if let Some(t) = &token {
                req["NextToken"] = serde_json::json!(t);
            }
            let v = engine.call("ListFaces", &req.to_string()).unwrap();
            for f in v["Faces"].as_array().unwrap() {
                have.insert(f["FaceId"].as_str().unwrap().to_string());
            }
            match v["NextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        by_user.insert(u.clone(), have);
    }
    for (u, f) in &acked {
        assert!(
            by_user[u].contains(f),
            "acknowledged association {u} <- {f} is missing after restart"
        );
    }
}
