//! Where the model files live, and their names.

use std::path::{Path, PathBuf};

/// dlib's face recognition ResNet: a 150x150 chip to a 128-d descriptor.
pub(crate) const RESNET_FILE: &str = "dlib_face_recognition_resnet_model_v1.dat";
/// dlib's 5-point landmark predictor (a cascade of regression trees).
pub(crate) const SHAPE_FILE: &str = "shape_predictor_5_face_landmarks.dat";
/// dlib's HOG frontal face detector (`get_frontal_face_detector()`): its
/// serialized `object_detector`, which `scripts/fetch-models.sh` decodes
/// from dlib's source (the weights are not in the PyPI models package).
pub(crate) const DETECTOR_FILE: &str = "frontal_face_detector.dat";

/// The command that installs the models, for error messages.
pub(crate) const INSTALL_COMMAND: &str = "scripts/fetch-models.sh";

/// The models directory: `explicit` (the `--models DIR` flag) if given,
/// else `ROLLCALL_MODELS`, else `$XDG_DATA_HOME/rollcall/models` (or
/// `$HOME/.local/share/rollcall/models`). `None` when no such variable
/// tells where home is.
pub(crate) fn models_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("ROLLCALL_MODELS").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    data_home().map(|d| d.join("rollcall").join("models"))
}

fn data_home() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| PathBuf::from(h).join(".local").join("share"))
}

/// For tests: the models directory if it holds `file`, else `None` after
/// printing why the test is skipped; with `ROLLCALL_REQUIRE_MODELS=1` (as
/// `.ci/run` sets after fetching them) a missing model fails the test.
#[cfg(test)]
pub(crate) fn for_test(file: &str) -> Option<PathBuf> {
    let dir = models_dir(None)?;
    if dir.join(file).is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("ROLLCALL_REQUIRE_MODELS").is_none_or(|v| v != "1"),
        "ROLLCALL_REQUIRE_MODELS=1 but {} is missing (run {INSTALL_COMMAND})",
        dir.join(file).display()
    );
    eprintln!("skipped: models not installed (run {INSTALL_COMMAND})");
    None
}

/// For tests: the face_recognition test photos (`obama.jpg`, ...), which
/// `scripts/fetch-models.sh` puts beside the models, in
/// `DATA_HOME/rollcall/test-photos`; `None` (or a failure with
/// `ROLLCALL_REQUIRE_MODELS=1`) as [`for_test`].
#[cfg(test)]
pub(crate) fn test_photo(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("ROLLCALL_TEST_PHOTOS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| data_home().map(|d| d.join("rollcall").join("test-photos")))?
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("ROLLCALL_REQUIRE_MODELS").is_none_or(|v| v != "1"),
        "ROLLCALL_REQUIRE_MODELS=1 but {} is missing (run {INSTALL_COMMAND})",
        path.display()
    );
    eprintln!("skipped: test photos not installed (run {INSTALL_COMMAND})");
    None
}
