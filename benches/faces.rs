//! Face search benchmarks (criterion), each printed beside its baseline
//! from the same run:
//! - single-probe `SearchFaces` vs a plain streaming sum over the same
//!   matrix (the memory-bandwidth limit);
//! - one `search_batch` of 100 probes vs 100 single searches;
//! - `SearchUsers` over 200k users x 5 faces vs a single-probe face search;
//! - compact int8 codes vs full precision (`FaceCodes::Compact` vs
//!   `FaceCodes::Full`, the f32 scan), single probe and batch of 100, with
//!   the answers checked identical;
//! - the same single probes over clustered 128-d rows (photo descriptors
//!   crowd together: many rows within the codes' error of the answer);
//! - bulk import (`IndexFaces` of all vectors, on disk, fsynced), resident
//!   memory of a loaded collection, and reopening vs reading the snapshot.
//!
//! Sizes: `ROLLCALL_BENCH_FACES` rows (default 1,000,000), dimensions 512
//! and 128. Search benches keep their data directory on `/dev/shm` when it
//! exists, so that setting up 200k users (400k fsynced log records) takes
//! seconds, not minutes; the import is timed on a real disk.
//!
//! Run: `cargo bench --bench faces` (about 3-5 GB of RAM at full size);
//! `ROLLCALL_BENCH_COMPACT_ONLY=1` runs only the compact-vs-full lines.
//! The AWS-sized collections of issue 15 (20M faces) are
//! `benches/faces_large.rs`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rayon::prelude::*;
use rollcall::faces::{
    random_vectors, AssociateFacesRequest, CollectionRequest, Engine, FaceCodes, FaceMatch,
    UserRequest,
};

#[path = "common/memory.rs"]
mod memory;
use memory::stream_sum;

const SEED: u64 = 20261123;
const DIMS: [usize; 2] = [512, 128];
const USERS: usize = 200_000;
const FACES_PER_USER: usize = 5;

fn rows() -> usize {
    std::env::var("ROLLCALL_BENCH_FACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Random unit vectors, generated in parallel chunks (reproducible).
fn vectors(rows: usize, dim: usize) -> Vec<f32> {
    const CHUNK: usize = 16_384;
    (0..rows.div_ceil(CHUNK))
        .into_par_iter()
        .flat_map_iter(|c| {
            random_vectors(
                CHUNK.min(rows - c * CHUNK),
                dim,
                SEED ^ (c as u64) << 20 ^ dim as u64,
                None,
            )
        })
        .collect()
}

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Medians of `run(0)` and `run(1)` timed alternately, so that load from
/// other processes on the machine hits both alike.
fn paired(mut run: impl FnMut(usize), reps: usize) -> (Duration, Duration) {
    let mut time = |which| {
        let s = Instant::now();
        run(which);
        s.elapsed()
    };
    time(0);
    time(1);
    let (mut a, mut b): (Vec<Duration>, Vec<Duration>) =
        (0..reps).map(|_| (time(0), time(1))).unzip();
    a.sort();
    b.sort();
    (a[reps / 2], b[reps / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bench_dir() -> tempfile::TempDir {
    if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// Drops a file from the page cache (GNU `dd iflag=nocache`); false when
/// that is not possible here.
fn evict(path: &Path) -> bool {
    std::process::Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Opens the engine and loads the collection; gives the time and the
/// resident memory it added.
fn reopen(dir: &Path, n: usize) -> (Duration, u64) {
    let before = rss();
    let t = Instant::now();
    let e = Engine::open(dir).unwrap();
    let faces = e
        .describe_collection(&CollectionRequest {
            collection_id: "c".into(),
        })
        .unwrap()
        .face_count;
    let took = t.elapsed();
    let resident = rss().saturating_sub(before);
    assert_eq!(faces as usize, n);
    (took, resident)
}

/// Import on disk, timed; reopen vs reading the snapshot (page cache warm,
/// and cold when the file can be evicted); resident size.
fn import_and_reopen(n: usize, dim: usize, data: &[f32]) {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path()).unwrap();
    e.create_collection_with_dim("c", dim).unwrap();
    let copy = data.to_vec();
    let t = Instant::now();
    e.import_faces("c", copy, dim, None).unwrap();
    let import = t.elapsed();
    drop(e);
    println!(
        "[{n}x{dim}] import (IndexFaces bulk, normalise + fsynced snapshot on disk): {:.2} s (target < 30 s)",
        import.as_secs_f64()
    );
    let snapshot = std::fs::read_dir(dir.path().join("rekognition"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("snapshot.bin");
    let read = || {
        let t = Instant::now();
        let size = std::fs::read(&snapshot).unwrap().len();
        (t.elapsed(), size)
    };
    let (warm_read, size) = read();
    let (warm_open, resident) = reopen(dir.path(), n);
    println!(
        "[{n}x{dim}] reopen, page cache warm: {:.0} ms vs reading the {:.2} GB snapshot file: {:.0} ms",
        ms(warm_open),
        size as f64 / 1e9,
        ms(warm_read)
    );
    if evict(&snapshot) {
        let (cold_read, _) = read();
        evict(&snapshot);
        let (cold_open, _) = reopen(dir.path(), n);
        println!(
            "[{n}x{dim}] reopen, page cache cold: {:.0} ms vs reading the snapshot file: {:.0} ms",
            ms(cold_open),
            ms(cold_read)
        );
    }
    println!(
        "[{n}x{dim}] resident memory of the loaded collection (default FaceCodes::Auto: compact codes, full-precision rows left in the snapshot file): {:.3} GB, {:.0} bytes a face (the f32 matrix alone would be {:.3} GB; target <= 0.7 GB at 1Mx512)",
        resident as f64 / 1e9,
        resident as f64 / n as f64,
        (n * dim * 4) as f64 / 1e9
    );
}

/// What an answer is compared by: its faces, in order, with their
/// similarities.
fn answers(m: &[FaceMatch]) -> Vec<(String, f64)> {
    m.iter()
        .map(|f| (f.face.face_id.clone(), f.similarity))
        .collect()
}

/// The same searches over compact codes and over full-precision rows (two
/// engines on one data directory), paired; the answers must be identical:
/// same faces, same order, same similarities.
fn compact_vs_full(dir: &Path, n: usize, dim: usize, probes: &[f32], k: usize, threshold: f32) {
    let compact = Engine::open(dir)
        .unwrap()
        .with_face_codes(FaceCodes::Compact);
    let full = Engine::open(dir).unwrap().with_face_codes(FaceCodes::Full);
    for p in probes.chunks(dim) {
        let a = compact.search_vector("c", p, k, 0.0).unwrap();
        let b = full.search_vector("c", p, k, 0.0).unwrap();
        assert_eq!(answers(&a), answers(&b), "compact and full answers differ");
    }
    let batch_a = compact.search_batch("c", probes, k, threshold).unwrap();
    let batch_b = full.search_batch("c", probes, k, threshold).unwrap();
    assert!(batch_a
        .iter()
        .zip(&batch_b)
        .all(|(a, b)| answers(a) == answers(b)));
    let probe = &probes[..dim];
    let (c1, f1) = paired(
        |which| match which {
            0 => drop(black_box(
                compact.search_vector("c", probe, k, threshold).unwrap(),
            )),
            _ => drop(black_box(
                full.search_vector("c", probe, k, threshold).unwrap(),
            )),
        },
        9,
    );
    println!(
        "[{n}x{dim}] single probe, compact codes {:.1} ms ({:.1} GB/s of codes) vs full-precision scan {:.1} ms: {:.2}x (target >= 3x); answers identical for {} probes",
        ms(c1),
        (n * dim) as f64 / 1e9 / c1.as_secs_f64(),
        ms(f1),
        f1.as_secs_f64() / c1.as_secs_f64(),
        probes.len() / dim
    );
    let (cb, fb) = paired(
        |which| match which {
            0 => drop(black_box(
                compact.search_batch("c", probes, k, threshold).unwrap(),
            )),
            _ => drop(black_box(
                full.search_batch("c", probes, k, threshold).unwrap(),
            )),
        },
        3,
    );
    println!(
        "[{n}x{dim}] batch of 100, compact codes (rows in the snapshot file) {:.0} ms vs full precision {:.0} ms: {:.2}x (target >= 1x)",
        ms(cb),
        ms(fb),
        fb.as_secs_f64() / cb.as_secs_f64()
    );
}

fn faces(c: &mut Criterion) {
    let n = rows();
    // Only the compact-vs-full-precision comparison (a few minutes less).
    let compact_only = std::env::var_os("ROLLCALL_BENCH_COMPACT_ONLY").is_some();
    for dim in DIMS {
        let data = vectors(n, dim);
        if !compact_only {
            import_and_reopen(n, dim, &data);
        }

        let dir = bench_dir();
        let e = Engine::open(dir.path()).unwrap();
        e.create_collection_with_dim("c", dim).unwrap();
        let ids = e.import_faces("c", data.clone(), dim, None).unwrap();
        let probes: Vec<f32> = (0..100)
            .flat_map(|i| {
                random_vectors(
                    1,
                    dim,
                    i,
                    Some((&data[i as usize * 997 % n * dim..][..dim], 0.02)),
                )
            })
            .collect();
        let probe = &probes[..dim];
        let (k, threshold) = (80, 80.0);
        assert_eq!(
            e.search_vector("c", probe, 1, 0.0).unwrap()[0].face.face_id,
            ids[0]
        );
        if compact_only {
            compact_vs_full(dir.path(), n, dim, &probes, k, threshold);
            continue;
        }

        let mut g = c.benchmark_group(format!("faces-{n}x{dim}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        g.bench_function("stream_sum (memory limit)", |b| {
            b.iter(|| black_box(stream_sum(black_box(&data))))
        });
        g.bench_function("search_faces single probe", |b| {
            b.iter(|| black_box(e.search_vector("c", probe, k, threshold).unwrap()))
        });
        g.bench_function("search_batch 100 probes", |b| {
            b.iter(|| black_box(e.search_batch("c", &probes, k, threshold).unwrap()))
        });
        g.finish();

        compact_vs_full(dir.path(), n, dim, &probes, k, threshold);

        let gb = (n * dim * 4) as f64 / 1e9;
        let (sum, single) = paired(
            |which| match which {
                0 => _ = black_box(stream_sum(&data)),
                _ => drop(black_box(
                    e.search_vector("c", probe, k, threshold).unwrap(),
                )),
            },
            9,
        );
        println!(
            "[{n}x{dim}] single probe {:.1} ms ({:.1} GB/s) vs streaming sum {:.1} ms ({:.1} GB/s): {:.0}% of the limit (target >= 70%)",
            ms(single),
            gb / single.as_secs_f64(),
            ms(sum),
            gb / sum.as_secs_f64(),
            100.0 * sum.as_secs_f64() / single.as_secs_f64()
        );
        let (singles, batch) = paired(
            |which| match which {
                0 => {
                    for p in probes.chunks(dim) {
                        black_box(e.search_vector("c", p, k, threshold).unwrap());
                    }
                }
                _ => drop(black_box(
                    e.search_batch("c", &probes, k, threshold).unwrap(),
                )),
            },
            3,
        );
        println!(
            "[{n}x{dim}] batch of 100: {:.0} ms ({:.0} q/s) vs 100 single probes: {:.0} ms ({:.0} q/s): {:.1}x (target >= 5x)",
            ms(batch),
            100.0 / batch.as_secs_f64(),
            ms(singles),
            100.0 / singles.as_secs_f64(),
            singles.as_secs_f64() / batch.as_secs_f64()
        );

        if dim == DIMS[0] && n >= USERS * FACES_PER_USER {
            let t = Instant::now();
            for (u, faces) in ids.chunks(FACES_PER_USER).take(USERS).enumerate() {
                let user = format!("user-{u:06}");
                e.create_user(&UserRequest {
                    collection_id: "c".into(),
                    user_id: user.clone(),
                    client_request_token: None,
                })
                .unwrap();
                e.associate_faces(&AssociateFacesRequest {
                    collection_id: "c".into(),
                    user_id: user,
                    face_ids: faces.to_vec(),
                    user_match_threshold: Some(0.0),
                    client_request_token: None,
                })
                .unwrap();
            }
            println!(
                "[{n}x{dim}] set-up: {USERS} users x {FACES_PER_USER} faces in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            let mut g = c.benchmark_group(format!("faces-{n}x{dim}"));
            g.sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(4));
            g.bench_function("search_users 200k users x 5", |b| {
                b.iter(|| black_box(e.search_users_by_vector("c", probe, 10, 80.0).unwrap()))
            });
            g.finish();
            let (users, single) = paired(
                |which| match which {
                    0 => drop(black_box(
                        e.search_users_by_vector("c", probe, 10, 80.0).unwrap(),
                    )),
                    _ => drop(black_box(
                        e.search_vector("c", probe, k, threshold).unwrap(),
                    )),
                },
                9,
            );
            let hits = e.search_users_by_vector("c", probe, 10, 80.0).unwrap();
            assert_eq!(hits[0].user.user_id, "user-000000");
            println!(
                "[{n}x{dim}] search_users over {USERS} users x {FACES_PER_USER}: {:.1} ms vs single-probe face search {:.1} ms",
                ms(users),
                ms(single)
            );
        }
    }
    clustered(n);
}

/// Photo descriptors crowd together (two different people's are at a
/// cosine of about 0.8), so many rows sit within the codes' error of an
/// answer's edge: rows around one shared direction (pairwise cosine about
/// 0.8), 128-d, compact codes against full precision, single probes with
/// `MaxFaces` 80 at threshold 80 and `MaxFaces` 4096 at threshold 0.
fn clustered(n: usize) {
    let dim = 128;
    let mean = random_vectors(1, dim, SEED, None);
    let mut data = vectors(n, dim);
    for r in data.chunks_mut(dim) {
        for (x, m) in r.iter_mut().zip(&mean) {
            *x = m + 0.5 * *x;
        }
    }
    let dir = bench_dir();
    let full = Engine::open(dir.path())
        .unwrap()
        .with_face_codes(FaceCodes::Full);
    full.create_collection_with_dim("c", dim).unwrap();
    full.import_faces("c", data.clone(), dim, None).unwrap();
    let compact = Engine::open(dir.path())
        .unwrap()
        .with_face_codes(FaceCodes::Compact);
    for (k, threshold) in [(80, 80.0), (4096, 0.0)] {
        let probe = &data[(n / 3) * dim..][..dim];
        let a = compact.search_vector("c", probe, k, threshold).unwrap();
        let b = full.search_vector("c", probe, k, threshold).unwrap();
        assert_eq!(answers(&a), answers(&b), "compact and full answers differ");
        let (c1, f1) = paired(
            |which| {
                let e = if which == 0 { &compact } else { &full };
                drop(black_box(
                    e.search_vector("c", probe, k, threshold).unwrap(),
                ));
            },
            9,
        );
        println!(
            "[{n}x{dim} clustered] single probe, MaxFaces {k} at {threshold}: compact codes {:.1} ms vs full-precision scan {:.1} ms: {:.2}x; answers identical",
            ms(c1),
            ms(f1),
            f1.as_secs_f64() / c1.as_secs_f64()
        );
    }
}

criterion_group!(benches, faces);
criterion_main!(benches);
