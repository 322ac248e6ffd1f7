//! Photo pipeline benchmarks (criterion), each printed beside its baseline:
//! - the face ResNet's descriptor of one 150x150 chip (the golden chips of
//!   `tests/data/faces-golden/chips/`) vs python dlib's own time on this
//!   machine (85-150 ms a descriptor, issue 14; target <= 15 ms);
//! - loading `dlib_face_recognition_resnet_model_v1.dat` (file read and
//!   parse, batch norms folded; target <= 200 ms).
//!
//! Needs the models (`scripts/fetch-models.sh`); without them it prints
//! why and measures nothing.
//!
//! Run: `cargo bench --bench photo`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rollcall::faces::FaceNet;

/// Python dlib's descriptor time on this 2-core machine (issue 14).
const DLIB_DESCRIPTOR_MS: &str = "85-150 ms";

/// The models directory as the library finds it.
fn model_path() -> Option<PathBuf> {
    let dir = std::env::var_os("ROLLCALL_MODELS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let data = std::env::var_os("XDG_DATA_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))
                })?;
            Some(data.join("rollcall/models"))
        })?;
    Some(dir.join("dlib_face_recognition_resnet_model_v1.dat")).filter(|p| p.is_file())
}

/// The golden chips, as RGB bytes.
fn chips() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/faces-golden/chips");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| image::open(p).unwrap().to_rgb8().into_raw())
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The best of `runs` timings of `f`.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn photo(c: &mut Criterion) {
    let Some(path) = model_path() else {
        println!("skipped: models not installed (run scripts/fetch-models.sh)");
        return;
    };
    let load = best(5, || {
        black_box(FaceNet::load(&path).unwrap());
    });
    println!(
        "face ResNet model load (22 MB read + parse + folding): best of 5 {:.1} ms (target <= 200 ms)",
        ms(load)
    );
    let net = FaceNet::load(&path).unwrap();
    let chips = chips();
    let per_chip = best(5, || {
        for chip in &chips {
            black_box(net.descriptor(chip).unwrap());
        }
    }) / chips.len() as u32;
    println!(
        "descriptor of one 150x150 chip: best of 5 passes over {} chips {:.2} ms vs python dlib {DLIB_DESCRIPTOR_MS} (target <= 15 ms)",
        chips.len(),
        ms(per_chip)
    );

    c.bench_function("face ResNet descriptor (one chip)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % chips.len();
            black_box(net.descriptor(&chips[i]).unwrap())
        })
    });
    let mut group = c.benchmark_group("model load");
    group.sample_size(10);
    group.bench_function("face ResNet load", |b| {
        b.iter(|| black_box(FaceNet::load(&path).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, photo);
criterion_main!(benches);
