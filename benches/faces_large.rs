//! AWS-sized collections (issue 15): not run in CI, and not by a plain
//! `cargo bench`; it needs its snapshot in free disk (41 GB for 20M x
//! 512) and several minutes a size. Run:
//!
//! ```text
//! ROLLCALL_BENCH_LARGE=20000000x128,20000000x512 cargo bench --bench faces_large
//! ```
//!
//! For each `ROWSxDIM`: an import on disk streamed in chunks of about 2 GB
//! of vectors (`ROLLCALL_BENCH_CHUNK_GB` to change it;
//! `import_faces_streamed`, one fsynced snapshot, so that the bench's
//! memory holds one chunk), then a reopen (checksums the snapshot and builds the compact
//! codes; timed, with the resident memory it added), single-probe searches
//! (median of 9), and the memory-bandwidth limit of what such a search
//! reads measured in the same run: a plain sum on all cores over 1 GB,
//! scaled to the bytes of the codes' high plane and scales (half a byte a
//! component and four a row; the low plane is read only for the rows a
//! search refines). The data directory is `ROLLCALL_BENCH_DIR` (default
//! the system's temporary directory) and is deleted after each size.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rollcall::faces::{random_vectors, CollectionRequest, Engine};

#[path = "common/memory.rs"]
mod memory;
use memory::stream_sum;

const SEED: u64 = 20261201;
/// Bytes of vectors per imported chunk: `ROLLCALL_BENCH_CHUNK_GB`, default 2.
fn chunk_bytes() -> usize {
    let gb = std::env::var("ROLLCALL_BENCH_CHUNK_GB")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(2.0);
    (gb * 1e9) as usize
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

/// Random unit vectors `first..first + rows` of a reproducible sequence.
fn vectors(first: usize, rows: usize, dim: usize) -> Vec<f32> {
    const CHUNK: usize = 16_384;
    (0..rows.div_ceil(CHUNK))
        .into_par_iter()
        .flat_map_iter(|c| {
            let at = (first + c * CHUNK) as u64;
            random_vectors(
                CHUNK.min(rows - c * CHUNK),
                dim,
                SEED ^ at << 8 ^ dim as u64,
                None,
            )
        })
        .collect()
}

/// Seconds to sum 1 GB of `f32` on all cores (best of 5): the memory's
/// streaming speed.
fn stream_gb_per_s() -> f64 {
    let data = vec![1f32; (1 << 30) / 4];
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            black_box(stream_sum(black_box(&data)));
            t.elapsed()
        })
        .min()
        .unwrap_or(Duration::MAX);
    (1u64 << 30) as f64 / 1e9 / best.as_secs_f64()
}

fn large(n: usize, dim: usize, root: &Path) {
    let dir = tempfile::tempdir_in(root).unwrap();
    let e = Engine::open(dir.path()).unwrap();
    e.create_collection_with_dim("c", dim).unwrap();
    let chunk = (chunk_bytes() / (4 * dim)).clamp(1, n);
    let t = Instant::now();
    let mut first = 0;
    let ids = e
        .import_faces_streamed("c", dim, n, None, || {
            let rows = chunk.min(n - first);
            let v = (rows > 0).then(|| vectors(first, rows, dim));
            first += rows;
            Ok(v)
        })
        .unwrap();
    let first_id = ids[0].clone();
    drop(ids);
    let import = t.elapsed();
    drop(e);
    let snapshot: u64 = std::fs::read_dir(dir.path().join("rekognition"))
        .unwrap()
        .flatten()
        .filter_map(|d| std::fs::metadata(d.path().join("snapshot.bin")).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "[{n}x{dim}] import streamed in chunks of {chunk} rows into one fsynced snapshot: {:.1} s; snapshot {:.2} GB",
        import.as_secs_f64(),
        snapshot as f64 / 1e9
    );

    let before = rss();
    let t = Instant::now();
    let e = Engine::open(dir.path()).unwrap();
    let faces = e
        .describe_collection(&CollectionRequest {
            collection_id: "c".into(),
        })
        .unwrap()
        .face_count;
    let reopen = t.elapsed();
    let resident = rss().saturating_sub(before);
    assert_eq!(faces as usize, n);
    println!(
        "[{n}x{dim}] reopen (checksum + codes): {:.1} s; resident memory {:.2} GB, {:.0} bytes a face",
        reopen.as_secs_f64(),
        resident as f64 / 1e9,
        resident as f64 / n as f64
    );

    let probes = vectors(0, 10, dim);
    let hit = e.search_vector("c", &probes[..dim], 1, 0.0).unwrap();
    assert_eq!(hit[0].face.face_id, first_id);
    let mut times: Vec<Duration> = (0..9)
        .map(|i| {
            let p = &probes[(i % 10) * dim..][..dim];
            let t = Instant::now();
            black_box(e.search_vector("c", p, 80, 80.0).unwrap());
            t.elapsed()
        })
        .collect();
    times.sort();
    // The searches read the codes; the full-precision rows they re-rank
    // come from the snapshot file by positioned reads, so the resident
    // memory must not grow towards the snapshot's size.
    println!(
        "[{n}x{dim}] resident memory after the searches: {:.2} GB (snapshot {:.2} GB)",
        rss().saturating_sub(before) as f64 / 1e9,
        snapshot as f64 / 1e9
    );
    let gbps = stream_gb_per_s();
    // The high plane (`dim` rounded up to 128, half a byte each) and the
    // row scales.
    let codes = (n * (dim.div_ceil(128) * 64 + 4)) as f64 / 1e9;
    println!(
        "[{n}x{dim}] single probe (MaxFaces 80): median {:.0} ms, best {:.0} ms; memory limit for the {:.2} GB it reads (high plane and scales) {:.0} ms ({:.1} GB/s streaming sum): {:.0}% of it",
        times[4].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        codes,
        codes / gbps * 1e3,
        gbps,
        100.0 * codes / gbps / times[4].as_secs_f64()
    );
}

fn main() {
    let Ok(sizes) = std::env::var("ROLLCALL_BENCH_LARGE") else {
        println!("faces_large: set ROLLCALL_BENCH_LARGE=ROWSxDIM[,ROWSxDIM...] to run");
        return;
    };
    let root =
        std::env::var("ROLLCALL_BENCH_DIR").map_or_else(|_| std::env::temp_dir(), Into::into);
    for size in sizes.split(',') {
        let parsed = size
            .split_once('x')
            .and_then(|(n, d)| Some((n.trim().parse().ok()?, d.trim().parse().ok()?)));
        match parsed {
            Some((n, dim)) => large(n, dim, &root),
            None => println!("faces_large: '{size}' is not ROWSxDIM"),
        }
    }
}
