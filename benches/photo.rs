//! Photo pipeline benchmarks (criterion), each printed beside its baseline:
//! - `IndexFaces` end to end (JPEG bytes in, face stored and fsynced) on
//!   the face_recognition test photos, through the engine's JSON API, vs
//!   python face_recognition (dlib) on this machine: 0.66-2.9 s a photo for
//!   HOG detection alone plus 85-150 ms a descriptor (issue 14; target
//!   <= 150 ms p50 for a ~1 MP single-face photo, and >= 5x faster);
//! - detection (`detect_*`): dlib's HOG detector, ported, at upsample 0
//!   and 1, vs python dlib's HOG time with upsample 1 (`seconds.hog` in
//!   the golden data);
//! - the face ResNet's descriptor of one 150x150 chip (the golden chips)
//!   vs python dlib's 85-150 ms (target <= 15 ms), and the load of its
//!   model (target <= 200 ms).
//!
//! Needs the models and photos (`scripts/fetch-models.sh`); without them
//! it prints why and measures nothing.
//!
//! Run: `cargo bench --bench photo`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use rollcall::faces::{Detector, Engine, FaceNet};

/// Python dlib's descriptor time on this 2-core machine (issue 14).
const DLIB_DESCRIPTOR_MS: &str = "85-150 ms";

/// `$XDG_DATA_HOME/rollcall` (or `~/.local/share/rollcall`).
fn data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("rollcall"))
}

/// The models directory as the library finds it.
fn models_dir() -> Option<PathBuf> {
    std::env::var_os("ROLLCALL_MODELS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| data_dir().map(|d| d.join("models")))
        .filter(|d| d.join("frontal_face_detector.dat").is_file())
}

/// Test photos by name, as file bytes.
fn photos(names: &[&'static str]) -> Option<Vec<(&'static str, Vec<u8>)>> {
    let dir = data_dir()?.join("test-photos");
    names
        .iter()
        .map(|&n| Some((n, std::fs::read(dir.join(n)).ok()?)))
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

/// `IndexFaces` of each photo from its JPEG bytes, end to end.
fn index_faces(c: &mut Criterion) {
    let (Some(models), Some(photos)) = (
        models_dir(),
        photos(&["obama.jpg", "obama2.jpg", "biden.jpg", "obama3.jpg"]),
    ) else {
        println!(
            "index_faces: skipped, models or photos not installed (run scripts/fetch-models.sh)"
        );
        return;
    };
    println!("index_faces: baseline python face_recognition (dlib): 0.66-2.9 s HOG + 85-150 ms descriptor a photo (issue 14)");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap().with_models_dir(&models);
    engine
        .call("CreateCollection", r#"{"CollectionId": "bench"}"#)
        .unwrap();
    let started = Instant::now();
    engine
        .call("DetectFaces", &body(&photos[0].1, false))
        .unwrap();
    println!(
        "first photo, models loaded on the way: {:.0} ms",
        ms(started.elapsed())
    );
    let mut group = c.benchmark_group("index_faces");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for (name, bytes) in &photos {
        let req = body(bytes, true);
        group.bench_function(*name, |b| {
            b.iter(|| black_box(engine.call("IndexFaces", &req).unwrap()))
        });
    }
    group.finish();
}

/// A request body with the photo's bytes: `IndexFaces` (`collection`) or
/// `DetectFaces`.
fn body(bytes: &[u8], collection: bool) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    if collection {
        format!(r#"{{"CollectionId": "bench", "Image": {{"Bytes": "{b64}"}}}}"#)
    } else {
        format!(r#"{{"Image": {{"Bytes": "{b64}"}}}}"#)
    }
}

fn detect_photos(c: &mut Criterion) {
    let (Some(models), Some(photos)) = (
        models_dir(),
        photos(&["obama.jpg", "obama2.jpg", "biden.jpg", "obama3.jpg"]),
    ) else {
        println!("detect: skipped, models or photos not installed (run scripts/fetch-models.sh)");
        return;
    };
    let detector = Detector::load(&models.join("frontal_face_detector.dat")).unwrap();
    println!("detect: baseline python dlib HOG, upsample 1: 0.66-2.9 s a photo (issue 14)");
    let mut group = c.benchmark_group("detect");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, bytes) in &photos {
        let img = image::load_from_memory(bytes).unwrap().to_rgb8();
        for upsample in [0, 1] {
            let id = format!(
                "{name} {}x{} upsample {upsample}",
                img.width(),
                img.height()
            );
            group.bench_function(id, |b| {
                b.iter(|| black_box(detector.detect(black_box(&img), upsample)))
            });
        }
    }
    group.finish();
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

fn descriptor(c: &mut Criterion) {
    let Some(path) = models_dir()
        .map(|d| d.join("dlib_face_recognition_resnet_model_v1.dat"))
        .filter(|p| p.is_file())
    else {
        println!("descriptor: skipped, models not installed (run scripts/fetch-models.sh)");
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

criterion_group!(benches, index_faces, detect_photos, descriptor);
criterion_main!(benches);
