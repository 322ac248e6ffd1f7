//! Photo pipeline benchmarks (criterion).
//!
//! Detection (`detect_*`): dlib's HOG face detector, ported, on the
//! face_recognition test photos, with upsample 0 and 1; the baseline is
//! python dlib's own HOG time on this 2-core machine with upsample 1
//! (0.66-2.9 s a photo, issue 14; `seconds.hog` in the golden data).
//!
//! Needs the models and photos (`scripts/fetch-models.sh`); without them
//! it prints why and measures nothing.
//!
//! Run: `cargo bench --bench photo`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rollcall::faces::Detector;

/// `$XDG_DATA_HOME/rollcall` (or `~/.local/share/rollcall`).
fn data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("rollcall"))
}

/// The detector and the photos, if installed.
fn detect_inputs() -> Option<(Detector, Vec<(&'static str, image::RgbImage)>)> {
    let models = std::env::var_os("ROLLCALL_MODELS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| data_dir().map(|d| d.join("models")))?;
    let detector = Detector::load(&models.join("frontal_face_detector.dat")).ok()?;
    let photos = data_dir()?.join("test-photos");
    let images = ["obama.jpg", "obama2.jpg", "biden.jpg", "obama3.jpg"]
        .into_iter()
        .map(|name| Some((name, image::open(photos.join(name)).ok()?.to_rgb8())))
        .collect::<Option<Vec<_>>>()?;
    Some((detector, images))
}

fn detect_photos(c: &mut Criterion) {
    let Some((detector, images)) = detect_inputs() else {
        eprintln!("detect: skipped, models or photos not installed (run scripts/fetch-models.sh)");
        return;
    };
    eprintln!("detect: baseline python dlib HOG, upsample 1: 0.66-2.9 s a photo (issue 14)");
    let mut group = c.benchmark_group("detect");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, img) in &images {
        for upsample in [0, 1] {
            let id = format!(
                "{name} {}x{} upsample {upsample}",
                img.width(),
                img.height()
            );
            group.bench_function(id, |b| {
                b.iter(|| black_box(detector.detect(black_box(img), upsample)))
            });
        }
    }
    group.finish();
}

criterion_group!(detect_benches, detect_photos);
criterion_main!(detect_benches);
