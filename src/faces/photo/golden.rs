//! For tests: the golden figures of `tests/data/faces-golden/golden.json`
//! (what python dlib computes on the face_recognition test photos; see
//! that folder's README), read into plain structs.

use super::{Point, Rect};

/// A face dlib's HOG detector found, with what dlib computed from it.
#[derive(Debug, Clone)]
pub(crate) struct Face {
    /// dlib's box.
    pub(crate) rect: Rect,
    /// The 5 landmarks on that box, in the model's order.
    pub(crate) landmarks: [Point; 5],
    /// sha256 (hex) of dlib's 150x150 RGB chip of the face.
    pub(crate) chip_sha256: String,
    /// dlib's descriptor through its whole pipeline.
    pub(crate) descriptor: Vec<f32>,
}

/// A test photo's golden figures.
#[derive(Debug, Clone)]
pub(crate) struct Photo {
    /// The file name (`obama.jpg`).
    pub(crate) name: String,
    /// Width and height after EXIF orientation.
    pub(crate) size: (u32, u32),
    /// The faces, in dlib's order.
    pub(crate) faces: Vec<Face>,
}

/// The path of a file of `tests/data/faces-golden/`.
pub(crate) fn path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/faces-golden"
    ))
    .join(file)
}

/// Every photo of `golden.json`, in its order.
pub(crate) fn photos() -> Vec<Photo> {
    let text = std::fs::read_to_string(path("golden.json")).expect("golden.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("golden.json parses");
    let num = |v: &serde_json::Value| v.as_f64().expect("a number");
    let images = json["images"].as_object().expect("images");
    images
        .iter()
        .map(|(name, image)| {
            let size = &image["size_wh"];
            let faces = image["hog_faces"]
                .as_array()
                .expect("hog_faces")
                .iter()
                .map(|f| {
                    let b = &f["box_ltrb"];
                    let int = |i: usize| num(&b[i]) as i64;
                    let lm = &f["landmarks5"];
                    Face {
                        rect: Rect {
                            left: int(0),
                            top: int(1),
                            right: int(2),
                            bottom: int(3),
                        },
                        landmarks: std::array::from_fn(|i| Point {
                            x: num(&lm[i][0]),
                            y: num(&lm[i][1]),
                        }),
                        chip_sha256: f["chip_sha256"].as_str().expect("sha").to_string(),
                        descriptor: f["descriptor"]
                            .as_array()
                            .expect("descriptor")
                            .iter()
                            .map(|x| num(x) as f32)
                            .collect(),
                    }
                })
                .collect();
            Photo {
                name: name.clone(),
                size: (num(&size[0]) as u32, num(&size[1]) as u32),
                faces,
            }
        })
        .collect()
}
