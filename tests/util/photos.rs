//! The face models and the face_recognition test photos, which
//! `scripts/fetch-models.sh` installs: tests that need them skip (saying
//! why) when they are absent, and fail instead under
//! `ROLLCALL_REQUIRE_MODELS=1`, as `.ci/run` sets after fetching them.

use std::path::PathBuf;

fn data_home() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
}

/// The models directory and the photos directory, or `None` (after
/// printing why) when either is missing.
pub fn installed() -> Option<(PathBuf, PathBuf)> {
    let models = std::env::var_os("ROLLCALL_MODELS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| data_home().map(|d| d.join("rollcall/models")))?;
    let photos = std::env::var_os("ROLLCALL_TEST_PHOTOS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| data_home().map(|d| d.join("rollcall/test-photos")))?;
    let needed = [
        models.join("frontal_face_detector.dat"),
        models.join("shape_predictor_5_face_landmarks.dat"),
        models.join("dlib_face_recognition_resnet_model_v1.dat"),
        photos.join("obama.jpg"),
    ];
    if let Some(missing) = needed.iter().find(|p| !p.is_file()) {
        assert!(
            std::env::var_os("ROLLCALL_REQUIRE_MODELS").is_none_or(|v| v != "1"),
            "ROLLCALL_REQUIRE_MODELS=1 but {} is missing (run scripts/fetch-models.sh)",
            missing.display()
        );
        eprintln!("skipped: models or test photos not installed (run scripts/fetch-models.sh)");
        return None;
    }
    Some((models, photos))
}

/// A photo's bytes, base64, as `Image.Bytes` holds them.
pub fn image_bytes(photos: &std::path::Path, name: &str) -> String {
    use base64::Engine as _;
    let bytes = std::fs::read(photos.join(name)).expect("test photo");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
