//! The face model of a collection, fixed by its first face, and what a
//! similarity means for it.
//!
//! A collection of plain vectors (`.npy` images, `index_face`) reports
//! `Similarity = 100 * max(0, cos)`. A collection whose first face came from
//! a photo holds descriptors of dlib's face recognition ResNet
//! (`dlib-resnet-v1`, 128-d), and there raw cosines would not mean what
//! AWS's thresholds mean: two different people (Obama and Biden in the
//! face_recognition test photos) are at `100 * cos` 80-83, above the default
//! `FaceMatchThreshold` of 80. So its similarity is calibrated on the
//! model's own rule, *same person when the Euclidean distance of two
//! descriptors is below 0.6*:
//!
//! ```text
//! d = DLIB_NORM * |a/|a| - b/|b||      (= DLIB_NORM * sqrt(2 - 2 cos), cos clamped to 0..1)
//! Similarity = clamp(100 - d * 100 / 3, 0, 100)
//! ```
//!
//! `DLIB_NORM` (1.385) is the typical length of the model's descriptors (the
//! golden photos' are 1.36-1.41), so `d` is dlib's distance for descriptors
//! of that length, and dlib's boundary `d = 0.6` sits at `Similarity` 80:
//! AWS's default thresholds (80 for searches, 75 for `AssociateFaces`) then
//! mean "the same person by dlib's rule". On the golden photos the Obama
//! pairs score 85.5-99, Obama and Biden 71-73. Descriptors at right angles
//! or beyond all score 34.7 (the cosine is clamped at 0, as for vectors).
//!
//! Both mappings are monotone in the cosine, so a search ranks by the exact
//! cosine either way and maps only the thresholds it is given and the
//! similarities it reports ([`FaceModel::raw_threshold`],
//! [`FaceModel::calibrate`]).

/// The face model a collection's vectors come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FaceModel {
    /// Plain vectors, of any dimension (`FaceModelVersion` `vector-D`).
    #[default]
    Vectors,
    /// Descriptors of dlib's face recognition ResNet, from photos
    /// (`FaceModelVersion` [`DLIB_MODEL_VERSION`], 128-d).
    DlibResnetV1,
}

/// The `FaceModelVersion` of collections of dlib descriptors.
pub(crate) const DLIB_MODEL_VERSION: &str = "dlib-resnet-v1";
/// The length of dlib's descriptors.
pub(crate) const DLIB_DIM: usize = 128;
/// The typical Euclidean length of a dlib descriptor, which turns the
/// distance of unit vectors into dlib's distance.
const DLIB_NORM: f32 = 1.385;
/// Similarity points lost per unit of dlib distance: `100 / 3`, so that
/// distance 0.6 is similarity 80.
const DLIB_POINTS_PER_DISTANCE: f32 = 100.0 / 3.0;

impl FaceModel {
    /// The byte that stands for the model in the log and snapshots.
    pub(crate) fn tag(self) -> u8 {
        match self {
            FaceModel::Vectors => 0,
            FaceModel::DlibResnetV1 => 1,
        }
    }

    /// The model a stored byte stands for.
    pub(crate) fn from_tag(tag: u8) -> Option<FaceModel> {
        match tag {
            0 => Some(FaceModel::Vectors),
            1 => Some(FaceModel::DlibResnetV1),
            _ => None,
        }
    }

    /// The `FaceModelVersion` of a collection of this model and dimension
    /// (`vector` while a vector collection has no dimension yet).
    pub(crate) fn version(self, dim: usize) -> String {
        match self {
            FaceModel::Vectors if dim == 0 => "vector".to_string(),
            FaceModel::Vectors => format!("vector-{dim}"),
            FaceModel::DlibResnetV1 => DLIB_MODEL_VERSION.to_string(),
        }
    }

    /// The similarity reported for a raw similarity `100 * max(0, cos)`.
    pub(crate) fn calibrate(self, raw: f32) -> f32 {
        match self {
            FaceModel::Vectors => raw,
            FaceModel::DlibResnetV1 => {
                let cos = (raw / 100.0).clamp(0.0, 1.0);
                let d = DLIB_NORM * (2.0 - 2.0 * cos).max(0.0).sqrt();
                (100.0 - d * DLIB_POINTS_PER_DISTANCE).clamp(0.0, 100.0)
            }
        }
    }

    /// A raw threshold low enough that every face whose calibrated
    /// similarity reaches `threshold` has a raw similarity above it: what a
    /// scan is given, before [`calibrate`](Self::calibrate) and the exact
    /// `>= threshold` test of the caller.
    pub(crate) fn raw_threshold(self, threshold: f32) -> f32 {
        match self {
            FaceModel::Vectors => threshold,
            FaceModel::DlibResnetV1 => {
                if threshold <= self.calibrate(0.0) {
                    return 0.0;
                }
                let d = (100.0 - threshold) / DLIB_POINTS_PER_DISTANCE / DLIB_NORM;
                let cos = 1.0 - d * d / 2.0;
                // A margin far wider than the rounding of either direction.
                (100.0 * cos - 1e-3).max(0.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlib_boundary_sits_at_80() {
        // dlib's distance 0.6 for descriptors of the typical length.
        let u = 0.6 / DLIB_NORM;
        let cos = 1.0 - u * u / 2.0;
        let s = FaceModel::DlibResnetV1.calibrate(100.0 * cos);
        assert!((s - 80.0).abs() < 1e-3, "{s}");
        assert_eq!(FaceModel::DlibResnetV1.calibrate(100.0), 100.0);
        assert!((FaceModel::DlibResnetV1.calibrate(0.0) - 34.7).abs() < 0.05);
        assert_eq!(FaceModel::Vectors.calibrate(42.5), 42.5);
    }

    #[test]
    fn calibration_is_monotone_and_raw_threshold_never_loses_a_face() {
        let m = FaceModel::DlibResnetV1;
        let mut last = m.calibrate(0.0);
        for i in 1..=100_000 {
            let raw = i as f32 / 1000.0;
            let s = m.calibrate(raw);
            assert!(s >= last, "not monotone at {raw}");
            last = s;
        }
        for t in (0..=1000).map(|i| i as f32 / 10.0) {
            let rt = m.raw_threshold(t);
            for i in 0..=10_000 {
                let raw = i as f32 / 100.0;
                if m.calibrate(raw) >= t {
                    assert!(raw >= rt, "threshold {t}: raw {raw} below {rt}");
                }
            }
        }
    }

    /// On the golden descriptors (python dlib on the face_recognition test
    /// photos): every Obama pair above 80, well clear of it; Obama and Biden
    /// below 75 (the `AssociateFaces` default).
    #[test]
    fn golden_pairs_fall_on_the_right_side() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/faces-golden/golden.json"
        ))
        .unwrap();
        let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
        let images = golden["images"].as_object().unwrap();
        let desc = |name: &str| -> Vec<f32> {
            images[name]["hog_faces"][0]["descriptor"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        };
        let raw = |a: &[f32], b: &[f32]| {
            let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            100.0 * (dot / n(a) / n(b)).clamp(0.0, 1.0)
        };
        let obamas = [
            "obama.jpg",
            "obama2.jpg",
            "obama3.jpg",
            "obama_partial_face.jpg",
            "obama_partial_face2.jpg",
            "32bit.png",
        ];
        let biden = desc("biden.jpg");
        for (i, a) in obamas.iter().enumerate() {
            let va = desc(a);
            for b in &obamas[i + 1..] {
                let s = FaceModel::DlibResnetV1.calibrate(raw(&va, &desc(b)));
                assert!(s > 85.0, "{a} vs {b}: {s}");
            }
            let s = FaceModel::DlibResnetV1.calibrate(raw(&va, &biden));
            assert!(s < 75.0, "{a} vs biden: {s}");
            // Raw cosines would have put them above the default threshold.
            assert!(raw(&va, &biden) > 80.0);
        }
    }
}
