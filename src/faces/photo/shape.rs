//! dlib's 5-point face landmark predictor
//! (`shape_predictor_5_face_landmarks.dat`): a cascade of forests of
//! regression trees (Kazemi and Sullivan's "One millisecond face alignment
//! with an ensemble of regression trees", as `dlib/image_processing/
//! shape_predictor.h` runs it).
//!
//! Takes in an RGB image and a face's box (as dlib's detector gives it);
//! gives out the 5 landmarks in the model's order (the outer and inner
//! corner of the eye on the image's right, of the one on its left, and the
//! bottom of the nose), rounded to whole pixels as dlib's
//! `full_object_detection` holds them.
//!
//! The shape lives in the box's unit square ((0, 0) its top-left pixel,
//! (1, 1) its bottom-right). It starts as the mean shape; each level of the
//! cascade reads a few hundred pixel intensities at fixed offsets from the
//! shape's points (each offset turned and scaled by the similarity
//! transform from the mean shape to the current one), and each tree of the
//! level walks down by comparing the difference of two of those
//! intensities with a threshold and adds its leaf's correction to the
//! shape. An intensity is dlib's grey of an RGB pixel, `(r + g + b) / 3`
//! truncated, and 0 outside the image.

use std::path::Path;

use image::RgbImage;

use super::chip::similarity;
use super::dat::{ModelError, Reader, MIN_FLOAT_BYTES, MIN_INT_BYTES};
use super::{Point, Rect};

/// The landmarks of the model.
const PARTS: usize = 5;

/// A shape: `x0, y0, x1, y1, ...` in the box's unit square.
type Shape = [f32; 2 * PARTS];

/// One split of a tree: go left when the intensity of feature pixel `a`
/// minus that of `b` is above `thresh`.
#[derive(Debug, Clone, PartialEq)]
struct Split {
    a: usize,
    b: usize,
    thresh: f32,
}

/// A complete binary tree: `splits` in breadth-first order (the children of
/// node `i` are `2i + 1` and `2i + 2`), then one correction per leaf.
#[derive(Debug, Clone, PartialEq)]
struct Tree {
    splits: Vec<Split>,
    leaves: Vec<Shape>,
}

impl Tree {
    /// The correction of the leaf the intensities `pixels` lead to.
    fn leaf(&self, pixels: &[f32]) -> Option<&Shape> {
        let mut i = 0;
        while let Some(split) = self.splits.get(i) {
            let a = pixels.get(split.a)?;
            let b = pixels.get(split.b)?;
            i = if a - b > split.thresh {
                2 * i + 1
            } else {
                2 * i + 2
            };
        }
        self.leaves.get(i - self.splits.len())
    }
}

/// One level of the cascade: where its feature pixels are, relative to the
/// mean shape (the point each is anchored to and its offset from it), and
/// its trees.
#[derive(Debug, Clone, PartialEq)]
struct Level {
    anchors: Vec<usize>,
    deltas: Vec<(f32, f32)>,
    trees: Vec<Tree>,
}

/// dlib's 5-point shape predictor, loaded from its `.dat` file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShapePredictor {
    /// The mean shape, where every prediction starts.
    initial: Shape,
    levels: Vec<Level>,
}

/// The fewest bytes a split takes (two integers and a float).
const MIN_SPLIT_BYTES: usize = 2 * MIN_INT_BYTES + MIN_FLOAT_BYTES;
/// The fewest bytes an empty `std::vector` or `dlib::matrix` takes (its
/// length, or its two dimensions).
const MIN_EMPTY_BYTES: usize = MIN_INT_BYTES;

impl ShapePredictor {
    /// Loads the model file at `path` (`shape_predictor_5_face_landmarks.dat`).
    pub(crate) fn load(path: &Path) -> Result<ShapePredictor, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ShapePredictor::from_bytes(&bytes)
    }

    /// Reads a serialized `dlib::shape_predictor` of 5 parts: its version
    /// (1), the mean shape, the forests, then for each level the anchor
    /// point and the offset of each feature pixel; every index is checked
    /// to point inside what it indexes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<ShapePredictor, ModelError> {
        let mut r = Reader::new(bytes);
        r.version(1..=1, "shape_predictor version")?;
        let initial = shape(&mut r, "initial shape")?;
        let forests = r.vec(MIN_EMPTY_BYTES, "forests", |r| {
            r.vec(2 * MIN_EMPTY_BYTES, "forest", |r| {
                let splits = r.vec(MIN_SPLIT_BYTES, "splits", |r| {
                    let a = r.u64("split feature")?;
                    let b = r.u64("split feature")?;
                    let thresh = r.f32("split threshold")?;
                    Ok((a, b, thresh))
                })?;
                let leaves = r.vec(2 * MIN_INT_BYTES, "leaf values", |r| shape(r, "leaf value"))?;
                Ok((splits, leaves))
            })
        })?;
        let anchors = r.vec(MIN_EMPTY_BYTES, "anchor indices", |r| {
            r.vec(MIN_INT_BYTES, "anchor indices", |r| r.u64("anchor index"))
        })?;
        let deltas = r.vec(MIN_EMPTY_BYTES, "deltas", |r| {
            r.vec(2 * MIN_FLOAT_BYTES, "deltas", |r| {
                Ok((r.f32("delta x")?, r.f32("delta y")?))
            })
        })?;
        r.finish()?;
        let mismatch = |what: &str, expected: String, found: String| ModelError::Shape {
            what: what.to_string(),
            expected,
            found,
        };
        if forests.len() != anchors.len() || forests.len() != deltas.len() {
            return Err(mismatch(
                "shape predictor levels",
                format!("{} levels of anchors and of deltas", forests.len()),
                format!("{} and {}", anchors.len(), deltas.len()),
            ));
        }
        let mut levels = Vec::with_capacity(forests.len());
        for (level, ((forest, anchors), deltas)) in
            forests.into_iter().zip(anchors).zip(deltas).enumerate()
        {
            if anchors.len() != deltas.len() {
                return Err(mismatch(
                    "shape predictor feature pixels",
                    format!("{} deltas at level {level}", anchors.len()),
                    deltas.len().to_string(),
                ));
            }
            let pixels = anchors.len();
            let anchors = anchors
                .into_iter()
                .map(|a| index_below(a, PARTS))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    mismatch(
                        "shape predictor anchor",
                        format!("a part index below {PARTS} at level {level}"),
                        "one beyond".to_string(),
                    )
                })?;
            let mut trees = Vec::with_capacity(forest.len());
            for (splits, leaves) in forest {
                if !leaves.len().is_power_of_two() || leaves.len() != splits.len() + 1 {
                    return Err(mismatch(
                        "shape predictor tree",
                        format!("a complete tree: {} leaves", splits.len() + 1),
                        leaves.len().to_string(),
                    ));
                }
                let splits = splits
                    .into_iter()
                    .map(|(a, b, thresh)| {
                        Some(Split {
                            a: index_below(a, pixels)?,
                            b: index_below(b, pixels)?,
                            thresh,
                        })
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        mismatch(
                            "shape predictor split",
                            format!("feature indices below {pixels} at level {level}"),
                            "one beyond".to_string(),
                        )
                    })?;
                trees.push(Tree { splits, leaves });
            }
            levels.push(Level {
                anchors,
                deltas,
                trees,
            });
        }
        Ok(ShapePredictor { initial, levels })
    }

    /// The 5 landmarks of the face in `rect` (dlib's box of it), in the
    /// model's order, rounded to whole pixels as dlib rounds them.
    pub(crate) fn predict(&self, img: &RgbImage, rect: Rect) -> [Point; 5] {
        let to_img = BoxMap::new(rect);
        let mut current = self.initial;
        let mut pixels = Vec::new();
        for level in &self.levels {
            // The similarity from the mean shape to the current one (fitted
            // in f64, used in f32, as dlib does).
            let from = points(&self.initial);
            let to = points(&current);
            let tform = similarity(&from, &to);
            let m = tform.m.map(|row| row.map(|v| v as f32));
            pixels.clear();
            pixels.extend(
                level
                    .anchors
                    .iter()
                    .zip(&level.deltas)
                    .map(|(&a, &(dx, dy))| {
                        let x = m[0][0] * dx
                            + m[0][1] * dy
                            + current.get(2 * a).copied().unwrap_or(0.0);
                        let y = m[1][0] * dx
                            + m[1][1] * dy
                            + current.get(2 * a + 1).copied().unwrap_or(0.0);
                        let (px, py) = to_img.pixel(x, y);
                        intensity(img, px, py)
                    }),
            );
            for tree in &level.trees {
                if let Some(leaf) = tree.leaf(&pixels) {
                    for (s, d) in current.iter_mut().zip(leaf) {
                        *s += d;
                    }
                }
            }
        }
        std::array::from_fn(|i| {
            let (x, y) = to_img.pixel(current[2 * i], current[2 * i + 1]);
            Point {
                x: x as f64,
                y: y as f64,
            }
        })
    }
}

/// `v` as an index if it is below `n`.
fn index_below(v: u64, n: usize) -> Option<usize> {
    usize::try_from(v).ok().filter(|&i| i < n)
}

/// A `matrix<float,0,1>` of the 10 coordinates of a 5-point shape.
fn shape(r: &mut Reader<'_>, what: &'static str) -> Result<Shape, ModelError> {
    let offset = r.offset();
    let m = r.matrix_f32(what)?;
    let found = format!("{}x{}", m.rows, m.cols);
    <Shape>::try_from(m.data.as_slice())
        .ok()
        .filter(|_| m.cols == 1)
        .ok_or_else(|| ModelError::Shape {
            what: format!("{what} at byte {offset}"),
            expected: format!("{}x1", 2 * PARTS),
            found,
        })
}

/// The points of a shape, in f64.
fn points(s: &Shape) -> [(f64, f64); PARTS] {
    std::array::from_fn(|i| (f64::from(s[2 * i]), f64::from(s[2 * i + 1])))
}

/// The map from the box's unit square to pixels ((0, 0) to the top-left
/// pixel, (1, 1) to the bottom-right one), rounding as dlib's conversion
/// of a point to whole pixels (`floor(v + 0.5)`).
struct BoxMap {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl BoxMap {
    fn new(rect: Rect) -> BoxMap {
        BoxMap {
            // In f64: a box of any coordinates maps without overflow.
            left: rect.left as f64,
            top: rect.top as f64,
            width: rect.right as f64 - rect.left as f64,
            height: rect.bottom as f64 - rect.top as f64,
        }
    }

    /// The whole pixel of `(x, y)` in the unit square.
    fn pixel(&self, x: f32, y: f32) -> (i64, i64) {
        let px = self.width * f64::from(x) + self.left;
        let py = self.height * f64::from(y) + self.top;
        ((px + 0.5).floor() as i64, (py + 0.5).floor() as i64)
    }
}

/// dlib's grey of the pixel at `(x, y)`, `(r + g + b) / 3` truncated; 0
/// outside the image.
fn intensity(img: &RgbImage, x: i64, y: i64) -> f32 {
    let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
        return 0.0;
    };
    match img.get_pixel_checked(x, y) {
        Some(p) => ((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3) as f32,
        None => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::photo::{decode::decode, golden, models};

    #[test]
    fn landmarks_on_golden_boxes_match_dlibs() {
        let Some(dir) = models::for_test(models::SHAPE_FILE) else {
            return;
        };
        let sp = ShapePredictor::load(&dir.join(models::SHAPE_FILE)).expect("loads");
        let (mut worst, mut n) = (0.0f64, 0);
        for photo in golden::photos() {
            let Some(path) = models::test_photo(&photo.name) else {
                return;
            };
            let img = decode(&std::fs::read(&path).expect("photo")).expect("decodes");
            for face in &photo.faces {
                let got = sp.predict(&img, face.rect);
                let err = got
                    .iter()
                    .zip(&face.landmarks)
                    .map(|(a, b)| (a.x - b.x).hypot(a.y - b.y))
                    .fold(0.0, f64::max);
                println!("{}: max {err:.3} px", photo.name);
                worst = worst.max(err);
                // On libjpeg's pixels (decode's baseline JPEG decoder) and
                // the PNG's: dlib's landmarks exactly, far inside the
                // issue's 2 px.
                assert_eq!(got, face.landmarks, "{}: max {err} px", photo.name);
                n += 1;
            }
        }
        println!("worst {worst:.3} px over {n} faces");
        assert_eq!(n, 7, "every golden face");
    }

    #[test]
    fn a_corrupt_model_is_an_error_at_load() {
        let Some(dir) = models::for_test(models::SHAPE_FILE) else {
            return;
        };
        let bytes = std::fs::read(dir.join(models::SHAPE_FILE)).expect("model");
        assert!(ShapePredictor::from_bytes(&bytes).is_ok());
        let mut cuts: Vec<usize> = (0..64).collect();
        cuts.extend((1..40).map(|i| bytes.len() / 40 * i + i));
        cuts.push(bytes.len() - 1);
        for cut in cuts {
            let r = ShapePredictor::from_bytes(&bytes[..cut]);
            assert!(r.is_err(), "cut at {cut} of {}", bytes.len());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            ShapePredictor::from_bytes(&longer),
            Err(ModelError::TrailingBytes { remaining: 1, .. })
        ));
        let missing = ShapePredictor::load(&dir.join("no-such-model.dat")).unwrap_err();
        assert!(matches!(missing, ModelError::Io { .. }), "{missing}");
    }

    /// A packed integer as dlib writes one (`v` below 256 in magnitude).
    fn int(v: i64) -> Vec<u8> {
        let sign = if v < 0 { 0x80 } else { 0 };
        vec![sign | 1, v.unsigned_abs() as u8]
    }

    /// A float as `float_details`: `mantissa * 2^exponent`.
    fn float(mantissa: i64, exponent: i64) -> Vec<u8> {
        [int(mantissa), int(exponent)].concat()
    }

    /// A 10x1 `matrix<float>` of `value / 2` everywhere.
    fn halves(value: i64) -> Vec<u8> {
        let mut out = [int(-10), int(-1)].concat();
        for _ in 0..10 {
            out.extend(float(value, -1));
        }
        out
    }

    /// A one-level, one-tree model of one feature pixel (at the first
    /// point), whose split compares feature pixels `a` and `b` against
    /// `-0.5`: its left leaf moves every point by half the box.
    fn tiny_model(a: i64, b: i64, leaves: usize) -> Vec<u8> {
        let mut m = int(1);
        m.extend(halves(0));
        m.extend([int(1), int(1), int(1)].concat());
        m.extend([int(a), int(b), float(-1, -1)].concat());
        m.extend(int(leaves as i64));
        m.extend(halves(1));
        for _ in 1..leaves {
            m.extend(halves(0));
        }
        m.extend([int(1), int(1), int(0)].concat());
        m.extend([int(1), int(1), float(0, 0), float(0, 0)].concat());
        m
    }

    #[test]
    fn a_hand_built_model_predicts_what_its_tree_says() {
        let sp = ShapePredictor::from_bytes(&tiny_model(0, 0, 2)).expect("loads");
        let img = RgbImage::from_pixel(20, 20, image::Rgb([30, 60, 90]));
        let rect = Rect {
            left: 4,
            top: 2,
            right: 14,
            bottom: 12,
        };
        // 0 - 0 > -0.5: the left leaf, every point to the box's centre.
        assert_eq!(sp.predict(&img, rect), [Point { x: 9.0, y: 7.0 }; 5]);
        // A box off the image reads intensities of 0: the same walk.
        let off = Rect {
            left: -100,
            top: -100,
            right: -90,
            bottom: -90,
        };
        assert_eq!(sp.predict(&img, off), [Point { x: -95.0, y: -95.0 }; 5]);
        // Absurd boxes: points far off, no overflow, no panic.
        let absurd = Rect {
            left: i64::MIN,
            top: i64::MIN,
            right: i64::MAX,
            bottom: i64::MAX,
        };
        let far = sp.predict(&img, absurd);
        assert!(
            far.iter().all(|p| p.x.abs() < 1e19 && p.y.abs() < 1e19),
            "{far:?}"
        );
    }

    #[test]
    fn bad_indices_and_shapes_are_errors_at_load() {
        // A split reading feature pixel 1 of a level that has one.
        let err = ShapePredictor::from_bytes(&tiny_model(0, 1, 2)).unwrap_err();
        assert!(matches!(err, ModelError::Shape { .. }), "{err}");
        assert!(err.to_string().contains("feature indices below 1"), "{err}");
        // Three leaves under one split: not a complete tree.
        let err = ShapePredictor::from_bytes(&tiny_model(0, 0, 3)).unwrap_err();
        assert!(err.to_string().contains("a complete tree"), "{err}");
        // A mean shape of 8 coordinates: not a 5-point model.
        let mut m = int(1);
        m.extend([int(-8), int(-1)].concat());
        m.extend((0..8).flat_map(|_| float(0, 0)));
        let err = ShapePredictor::from_bytes(&m).unwrap_err();
        assert!(
            err.to_string().contains("expected 10x1, found 8x1"),
            "{err}"
        );
        // Version 2 of the predictor.
        let err = ShapePredictor::from_bytes(&int(2)).unwrap_err();
        assert!(
            matches!(err, ModelError::BadVersion { found: 2, .. }),
            "{err}"
        );
    }
}
