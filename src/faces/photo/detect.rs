//! The face detector: an RGB image in, face boxes and their scores out.
//!
//! A port of dlib's HOG frontal face detector (`get_frontal_face_detector()`,
//! an `object_detector<scan_fhog_pyramid<pyramid_down<6>>>`): five linear
//! filters of 10 x 10 HOG cells (an 80 x 80 pixel window; frontal, left,
//! right, and frontal rotated either way) slid over every level of an
//! image pyramid that shrinks by 5/6 a level, a box wherever a filter's
//! response passes its threshold, then non-maximum suppression. The
//! weights are dlib's serialized `object_detector`, which
//! `scripts/fetch-models.sh` decodes from dlib's source into
//! [`DETECTOR_FILE`](super::models::DETECTOR_FILE).
//!
//! The arithmetic follows dlib's where it decides a pixel or a box (the
//! pyramid's bilinear resampling and its truncations, [`fhog`](super::fhog),
//! the rounding that maps a window back to the image), so the boxes are
//! python dlib's: `detect(img, 1)` is face_recognition's
//! `face_locations(img)`. Each filter is run as the sum of its rank-one
//! (separable) terms, as dlib does, which costs 20 multiply-adds a term
//! and position instead of 100 a plane.
//!
//! Upsampling: the window is 80 pixels, so a face smaller than about 80
//! pixels is found only in an upsampled image; `upsample` doubles the
//! image that many times first (dlib's `pyramid_up`), at four times the
//! cost each. [`Detector::detect_auto`] is the rule the operations use:
//! upsample once only images of at most [`AUTO_UPSAMPLE_MAX_PIXELS`]
//! (about 800 x 600), where an 80 pixel face is already a large part of
//! the picture and the doubled image is still cheap; larger photos are
//! scanned as they are, so their smallest face found is about 80 x 80
//! pixels (AWS documents a minimum too: 40 x 40 in a 1920 x 1080 image).
//! That keeps a 1-megapixel photo within the time budget, where
//! upsampling it would cost four times as much.

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use rayon::prelude::*;

use super::dat::{ModelError, Reader};
use super::fhog::{self, Fhog, PLANES};
use super::Rect;

/// A face found: its box in the image's pixels and dlib's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// The box, dlib's rectangle (may reach outside the image for a face
    /// cut by its edge).
    pub(crate) rect: Rect,
    /// dlib's `detection_confidence`: the filter's response minus its
    /// threshold, so 0 at the threshold and larger the surer (faces in
    /// the test photos score 0.7 to 2.0).
    pub(crate) score: f64,
    /// Which of the five filters found it (0 frontal, 1 left, 2 right, 3
    /// and 4 frontal rotated).
    pub(crate) filter: usize,
}

impl Detection {
    /// dlib's score (see the field).
    pub fn score(&self) -> f64 {
        self.score
    }

    /// AWS's `Confidence` (0 to 100) for this face: `100 / (1 + e^(-4 *
    /// score))`, the logistic of dlib's score. A face at the detector's
    /// threshold is 50; the faces of the test photos (scores 0.7 to 2.0)
    /// are 94 to 99.97. The scale 4 makes a score of 1, a clear face, 98.
    pub fn confidence(&self) -> f32 {
        (100.0 / (1.0 + (-4.0 * self.score).exp())) as f32
    }
}

/// Images of at most this many pixels are upsampled once by
/// [`Detector::detect_auto`]; larger ones are not.
pub(crate) const AUTO_UPSAMPLE_MAX_PIXELS: u64 = 500_000;

/// The upsampling [`Detector::detect_auto`] uses for an image of `width`
/// x `height` pixels: 1 up to [`AUTO_UPSAMPLE_MAX_PIXELS`], else 0.
pub(crate) fn auto_upsample(width: u32, height: u32) -> u32 {
    u32::from(u64::from(width) * u64::from(height) <= AUTO_UPSAMPLE_MAX_PIXELS)
}

/// One of the detector's filters: per feature plane, its rank-one terms
/// (a row filter and a column filter each), and its threshold.
#[derive(Debug, Clone)]
struct Filter {
    /// `terms[p]`: plane `p`'s terms, `(row, col)`, `row` `window_cols`
    /// long and `col` `window_rows` long.
    terms: Vec<Vec<(Vec<f32>, Vec<f32>)>>,
    /// A window is a detection where the response is at least this.
    threshold: f64,
}

/// dlib's `test_box_overlap`: when two boxes are the same face.
#[derive(Debug, Clone, Copy)]
struct Overlap {
    /// Intersection over the bounding box of both above this.
    iou: f64,
    /// Or the intersection over either box's area above this.
    covered: f64,
}

impl Overlap {
    /// dlib's `test_box_overlap::operator()`.
    fn overlaps(&self, a: &Rect, b: &Rect) -> bool {
        let inner = intersect(a, b);
        let inner = (inner.width() * inner.height()) as f64;
        if inner == 0.0 {
            return false;
        }
        let hull = Rect {
            left: a.left.min(b.left),
            top: a.top.min(b.top),
            right: a.right.max(b.right),
            bottom: a.bottom.max(b.bottom),
        };
        let area = |r: &Rect| (r.width() * r.height()) as f64;
        inner / area(&hull) > self.iou
            || inner / area(a) > self.covered
            || inner / area(b) > self.covered
    }
}

/// The intersection of two rectangles (empty when they do not meet).
fn intersect(a: &Rect, b: &Rect) -> Rect {
    Rect {
        left: a.left.max(b.left),
        top: a.top.max(b.top),
        right: a.right.min(b.right),
        bottom: a.bottom.min(b.bottom),
    }
}

/// dlib's frontal face detector, loaded from its serialized weights.
#[derive(Debug, Clone)]
pub struct Detector {
    /// Pixels a HOG cell.
    cell_size: usize,
    /// The filters' height in cells.
    window_rows: usize,
    /// The filters' width in cells.
    window_cols: usize,
    /// Cells of padding inside the window around the box.
    padding: usize,
    /// At most this many pyramid levels.
    max_levels: usize,
    /// A pyramid level is used only while at least this wide...
    min_level_width: i64,
    /// ...and this high.
    min_level_height: i64,
    /// Non-maximum suppression's rule.
    overlap: Overlap,
    /// The filters, each with its threshold.
    filters: Vec<Filter>,
}

/// What [`Detector::load`] accepts: version 2 of `object_detector` and 1
/// of `scan_fhog_pyramid`.
const OBJECT_DETECTOR_VERSION: i32 = 2;
/// The version of `scan_fhog_pyramid` dlib writes.
const SCANNER_VERSION: i32 = 1;

/// Largest cell size and window (in cells) accepted from a file: dlib's
/// face detector has 8 and 10 x 10; the bound keeps a corrupt file from
/// asking for absurd work.
const MAX_CELL_SIZE: u64 = 64;
/// See [`MAX_CELL_SIZE`].
const MAX_WINDOW_CELLS: i64 = 64;

impl Detector {
    /// Loads dlib's serialized `object_detector<scan_fhog_pyramid<...>>`
    /// (the file `scripts/fetch-models.sh` writes). A file that is not
    /// one, cut short or corrupt, is a [`ModelError`].
    pub fn load(path: &Path) -> Result<Detector, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// [`Detector::load`] from the file's bytes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Detector, ModelError> {
        let mut r = Reader::new(bytes);
        r.version(
            OBJECT_DETECTOR_VERSION..=OBJECT_DETECTOR_VERSION,
            "object_detector",
        )?;
        r.version(SCANNER_VERSION..=SCANNER_VERSION, "scan_fhog_pyramid")?;
        // The scanner's cached feature pyramid: an empty dlib::array
        // (max_size, then size).
        for what in ["feature pyramid max_size", "feature pyramid size"] {
            let start = r.offset();
            if r.u64(what)? != 0 {
                return Err(shape(start, what, "0"));
            }
        }
        let cell_size = bounded(&mut r, "cell_size", 2, MAX_CELL_SIZE)?;
        let padding = bounded(&mut r, "padding", 0, MAX_WINDOW_CELLS as u64)?;
        let max_pixels = (MAX_WINDOW_CELLS as u64) * cell_size as u64;
        let window_width = bounded(&mut r, "window_width", 1, max_pixels)?;
        let window_height = bounded(&mut r, "window_height", 1, max_pixels)?;
        let max_levels = bounded(&mut r, "max_pyramid_levels", 1, u64::MAX)?;
        let min_level_width = bounded(&mut r, "min_pyramid_layer_width", 1, 1 << 20)?;
        let min_level_height = bounded(&mut r, "min_pyramid_layer_height", 1, 1 << 20)?;
        let _nuclear_norm = r.f64("nuclear_norm_regularization_strength")?;

        // The window in cells, as dlib's `compute_fhog_window_size`.
        let (window_rows, window_cols) = {
            let window = centered_rect(0, 0, window_width as i64, window_height as i64);
            let (l, t) = image_to_fhog(window.left, window.top, cell_size as i64);
            let (rr, b) = image_to_fhog(window.right, window.bottom, cell_size as i64);
            let p = padding as i64;
            (b - t + 1 + 2 * p, rr - l + 1 + 2 * p)
        };
        if !(1..=MAX_WINDOW_CELLS).contains(&window_rows)
            || !(1..=MAX_WINDOW_CELLS).contains(&window_cols)
            || window_rows <= 2 * padding as i64
            || window_cols <= 2 * padding as i64
        {
            return Err(shape(
                r.offset(),
                "detection window",
                "a window of 1 to 64 cells",
            ));
        }
        let (window_rows, window_cols) = (window_rows as usize, window_cols as usize);
        let dims = window_rows * window_cols * PLANES;
        let start = r.offset();
        let found = r.i64("num_dimensions")?;
        if found != dims as i64 {
            return Err(ModelError::Shape {
                what: format!("scan_fhog_pyramid dimensions at byte {start}"),
                expected: dims.to_string(),
                found: found.to_string(),
            });
        }
        let overlap = Overlap {
            iou: r.f64("test_box_overlap iou_thresh")?,
            covered: r.f64("test_box_overlap percent_covered_thresh")?,
        };
        let count = r.count(super::dat::MIN_FLOAT_BYTES * (dims + 1), "weight vectors")?;
        if count == 0 {
            return Err(shape(r.offset(), "weight vectors", "at least one"));
        }
        let mut filters = Vec::with_capacity(count);
        for _ in 0..count {
            let start = r.offset();
            let w = r.matrix_f64("weight vector")?;
            if w.cols != 1 || w.rows != dims + 1 {
                return Err(ModelError::Shape {
                    what: format!("weight vector at byte {start}"),
                    expected: format!("{} x 1", dims + 1),
                    found: format!("{} x {}", w.rows, w.cols),
                });
            }
            filters.push(Filter::new(&w.data, window_rows, window_cols));
        }
        r.finish()?;
        Ok(Detector {
            cell_size,
            window_rows,
            window_cols,
            padding,
            max_levels,
            min_level_width: min_level_width as i64,
            min_level_height: min_level_height as i64,
            overlap,
            filters,
        })
    }

    /// The faces in `img`, surest first, after doubling the image
    /// `upsample` times (dlib's `detector(img, upsample)`; face_recognition
    /// uses 1). Each doubling finds faces half as large (the smallest
    /// found is about 80 pixels / 2^upsample) at four times the work.
    pub fn detect(&self, img: &RgbImage, upsample: u32) -> Vec<Detection> {
        let mut scaled = None;
        for _ in 0..upsample {
            let up = pyramid_up(scaled.as_ref().unwrap_or(img));
            scaled = Some(up);
        }
        let mut dets = self.detect_unscaled(scaled.as_ref().unwrap_or(img));
        for d in &mut dets {
            d.rect = rect_down2(&d.rect, upsample);
        }
        dets
    }

    /// The faces in `img`, upsampled once if it has at most half a
    /// megapixel (as `IndexFaces` does), else not.
    pub fn detect_auto(&self, img: &RgbImage) -> Vec<Detection> {
        self.detect(img, auto_upsample(img.width(), img.height()))
    }

    /// The faces in `img` at its own scale, surest first.
    fn detect_unscaled(&self, img: &RgbImage) -> Vec<Detection> {
        // Per pyramid level, its detections, filter by filter. Building
        // the pyramid is sequential (each level from the one before), so
        // each level is scanned as soon as it is built, while the next is.
        let mut found: Vec<Vec<Detection>> = vec![Vec::new(); self.levels(img)];
        rayon::scope(|s| {
            let mut level: Option<Arc<RgbImage>> = None;
            for (l, slot) in found.iter_mut().enumerate() {
                if l > 0 {
                    level = Some(Arc::new(pyramid_down6(level.as_deref().unwrap_or(img))));
                }
                let this = level.clone();
                s.spawn(move |_| *slot = self.scan_level(this.as_deref().unwrap_or(img), l));
            }
        });
        let mut dets: Vec<Detection> = found.into_iter().flatten().collect();
        // Surest first; dlib's sort leaves ties in no particular order,
        // this one by box so that runs agree.
        dets.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| (a.rect.top, a.rect.left).cmp(&(b.rect.top, b.rect.left)))
        });
        let mut kept: Vec<Detection> = Vec::new();
        for d in dets {
            if !kept.iter().any(|k| self.overlap.overlaps(&k.rect, &d.rect)) {
                kept.push(d);
            }
        }
        kept
    }

    /// How many pyramid levels `img` has (the image itself being level
    /// 0), each 5/6 of the one before, by dlib's rule: a level is built
    /// while the box of the one before, shrunk, is at least the minimum
    /// layer size.
    fn levels(&self, img: &RgbImage) -> usize {
        let mut rect = Rect {
            left: 0,
            top: 0,
            right: i64::from(img.width()) - 1,
            bottom: i64::from(img.height()) - 1,
        };
        let mut count = 0;
        loop {
            rect = rect_down6(&rect);
            count += 1;
            if !(rect.width() >= self.min_level_width
                && rect.height() >= self.min_level_height
                && count < self.max_levels)
            {
                return count;
            }
        }
    }

    /// The detections of every filter (in order) on pyramid level `level`,
    /// whose image is `img`: the filters share its features.
    fn scan_level(&self, img: &RgbImage, level: usize) -> Vec<Detection> {
        let feats = fhog::extract(img, self.cell_size, self.window_rows, self.window_cols);
        (0..self.filters.len())
            .into_par_iter()
            .flat_map_iter(|f| self.scan(&feats, level, f))
            .collect()
    }

    /// Filter `f`'s detections on the features of pyramid level `level`.
    fn scan(&self, feats: &Fhog, level: usize, f: usize) -> Vec<Detection> {
        let filter = &self.filters[f];
        let (rows, cols) = (feats.rows, feats.cols);
        let (wr, wc) = (self.window_rows, self.window_cols);
        if rows < wr || cols < wc {
            return Vec::new();
        }
        let saliency = filter.apply(feats, wr, wc);
        // The valid area: where the window lies inside the padded planes.
        let (first_row, first_col) = (wr / 2, wc / 2);
        let (last_row, last_col) = (rows - (wr - 1) / 2, cols - (wc - 1) / 2);
        let box_rows = (wr - 2 * self.padding) as i64;
        let box_cols = (wc - 2 * self.padding) as i64;
        let mut dets = Vec::new();
        for r in first_row..last_row {
            for c in first_col..last_col {
                let v = saliency[r * cols + c];
                if f64::from(v) >= filter.threshold {
                    let window = centered_rect(c as i64, r as i64, box_cols, box_rows);
                    let rect = self.feats_to_image(&window);
                    dets.push(Detection {
                        rect: rect_up6(&rect, level),
                        score: f64::from(v) - filter.threshold,
                        filter: f,
                    });
                }
            }
        }
        dets
    }

    /// dlib's `fhog_to_image` of a rectangle of cells, for this window.
    fn feats_to_image(&self, r: &Rect) -> Rect {
        let (cs, wr, wc) = (
            self.cell_size as i64,
            self.window_rows as i64,
            self.window_cols as i64,
        );
        let point = |x: i64, y: i64| {
            let x = (x + 1 - (wc - 1) / 2) * cs + 1;
            let y = (y + 1 - (wr - 1) / 2) * cs + 1;
            let half = cs / 2;
            (
                x + if x >= 0 { half } else { -half },
                y + if y >= 0 { half } else { -half },
            )
        };
        let (left, top) = point(r.left, r.top);
        let (right, bottom) = point(r.right, r.bottom);
        Rect {
            left,
            top,
            right,
            bottom,
        }
    }
}

/// A [`ModelError::Shape`] for a header value out of range.
fn shape(offset: usize, what: &str, expected: &str) -> ModelError {
    ModelError::Shape {
        what: format!("{what} at byte {offset}"),
        expected: expected.to_string(),
        found: "another value".to_string(),
    }
}

/// An `unsigned long` of the header, checked to lie in `min..=max`.
fn bounded(
    r: &mut Reader<'_>,
    what: &'static str,
    min: u64,
    max: u64,
) -> Result<usize, ModelError> {
    let start = r.offset();
    let v = r.u64(what)?;
    if v < min || v > max {
        return Err(ModelError::Shape {
            what: format!("{what} at byte {start}"),
            expected: format!("{min} to {max}"),
            found: v.to_string(),
        });
    }
    usize::try_from(v).map_err(|_| shape(start, what, "a size this machine can hold"))
}

impl Filter {
    /// The filter from dlib's weight vector (`window_rows * window_cols`
    /// weights a plane, row-major, then the threshold), split into
    /// rank-one terms as dlib's `build_fhog_filterbank` does: singular
    /// values below `max(1e-4, 0.001 * largest)` are dropped.
    fn new(w: &[f64], window_rows: usize, window_cols: usize) -> Filter {
        let size = window_rows * window_cols;
        let terms = w
            .chunks_exact(size)
            .take(PLANES)
            .map(|plane| {
                let svd = svd(plane, window_rows, window_cols);
                let largest = svd.iter().map(|t| t.0).fold(0f64, f64::max);
                let cut = (largest * 0.001).max(1e-4);
                svd.into_iter()
                    .filter(|t| t.0 >= cut)
                    .map(|(s, u, v)| {
                        let k = s.sqrt();
                        let row = v.iter().map(|&x| (x * k) as f32).collect();
                        let col = u.iter().map(|&x| (x * k) as f32).collect();
                        (row, col)
                    })
                    .collect()
            })
            .collect();
        Filter {
            terms,
            threshold: w[PLANES * size],
        }
    }

    /// The filter's response at every position of `feats` (row-major,
    /// `feats.rows x feats.cols`; zero outside the valid area): for each
    /// plane and term, the row filter along each row, then the column
    /// filter down each column of that, summed.
    fn apply(&self, feats: &Fhog, wr: usize, wc: usize) -> Vec<f32> {
        let (rows, cols) = (feats.rows, feats.cols);
        let mut out = vec![0f32; rows * cols];
        let mut scratch = vec![0f32; rows * cols];
        let valid_cols = cols + 1 - wc;
        let valid_rows = rows + 1 - wr;
        let (first_row, first_col) = (wr / 2, wc / 2);
        let arch = pulp::Arch::new();
        for (p, terms) in self.terms.iter().enumerate() {
            let plane = feats.plane(p);
            for (row, col) in terms {
                arch.dispatch(Separable {
                    plane,
                    cols,
                    valid_rows,
                    valid_cols,
                    row,
                    col,
                    scratch: &mut scratch,
                    out: &mut out[first_row * cols + first_col..],
                });
            }
        }
        out
    }
}

/// One rank-one term of a filter over one plane, as a SIMD kernel:
/// `scratch[r][c] = sum_n plane[r][c + n] * row[n]`, then
/// `out[r][c] += sum_m scratch[r + m][c] * col[m]` (`out` starting at the
/// first valid position), for the valid rows and columns. Every value is
/// the same chain of fused multiply-adds, in tap order, whether its column
/// falls in a vector or in the scalar tail, so the responses do not depend
/// on the vector width the CPU dispatches to (AVX2 or AVX-512).
struct Separable<'a> {
    plane: &'a [f32],
    cols: usize,
    valid_rows: usize,
    valid_cols: usize,
    row: &'a [f32],
    col: &'a [f32],
    scratch: &'a mut [f32],
    out: &'a mut [f32],
}

impl pulp::WithSimd for Separable<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        // dlib's face detector's filters are 10 x 10: with the taps' count
        // known here, the compiler unrolls the sums and keeps the taps in
        // registers. Any other size takes the same code, not unrolled.
        const TAPS: usize = 10;
        let (row, col) = (self.row, self.col);
        match (<&[f32; TAPS]>::try_from(row), <&[f32; TAPS]>::try_from(col)) {
            (Ok(row), Ok(col)) => separable(simd, self, row, col),
            _ => separable(simd, self, row, col),
        }
    }
}

/// The kernel of [`Separable`], with its row and column taps.
#[inline(always)]
fn separable<S: pulp::Simd>(simd: S, k: Separable<'_>, row: &[f32], col: &[f32]) {
    let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
    let (cols, vc) = (k.cols, k.valid_cols);
    let simd_cols = vc / lanes * lanes;
    for (src, dst) in k
        .plane
        .chunks_exact(cols)
        .zip(k.scratch.chunks_exact_mut(cols))
    {
        for c in (0..simd_cols).step_by(lanes) {
            let mut acc = simd.splat_f32s(0.0);
            for (n, &w) in row.iter().enumerate() {
                acc = simd.mul_add_f32s(
                    super::fhog::load_s::<S>(src, c + n),
                    simd.splat_f32s(w),
                    acc,
                );
            }
            S::as_mut_simd_f32s(&mut dst[c..c + lanes]).0[0] = acc;
        }
        for c in simd_cols..vc {
            dst[c] = row
                .iter()
                .enumerate()
                .fold(0.0, |acc, (n, &w)| src[c + n].mul_add(w, acc));
        }
    }
    for r in 0..k.valid_rows {
        let dst = &mut k.out[r * cols..r * cols + vc];
        for c in (0..simd_cols).step_by(lanes) {
            let mut acc = super::fhog::load_s::<S>(dst, c);
            for (m, &w) in col.iter().enumerate() {
                acc = simd.mul_add_f32s(
                    super::fhog::load_s::<S>(k.scratch, (r + m) * cols + c),
                    simd.splat_f32s(w),
                    acc,
                );
            }
            S::as_mut_simd_f32s(&mut dst[c..c + lanes]).0[0] = acc;
        }
        for (c, d) in dst.iter_mut().enumerate().skip(simd_cols) {
            *d = col.iter().enumerate().fold(*d, |acc, (m, &w)| {
                k.scratch[(r + m) * cols + c].mul_add(w, acc)
            });
        }
    }
}

/// The singular value decomposition of the `rows x cols` row-major matrix
/// `a` (one-sided Jacobi): `(s, u, v)` triples, `a = sum s * u v^T`, with
/// `u` of `rows` and `v` of `cols` components.
fn svd(a: &[f64], rows: usize, cols: usize) -> Vec<(f64, Vec<f64>, Vec<f64>)> {
    // Work on the columns of `a` (`w = a v`), rotating pairs until they
    // are orthogonal; `v` accumulates the rotations.
    let mut w: Vec<Vec<f64>> = (0..cols)
        .map(|j| (0..rows).map(|i| a[i * cols + j]).collect())
        .collect();
    let mut v: Vec<Vec<f64>> = (0..cols)
        .map(|j| (0..cols).map(|i| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..cols {
            for q in p + 1..cols {
                let alpha = dot(&w[p], &w[p]);
                let beta = dot(&w[q], &w[q]);
                let gamma = dot(&w[p], &w[q]);
                if gamma.abs() <= 1e-15 * (alpha * beta).sqrt() || gamma == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for m in [&mut w, &mut v] {
                    let (lo, hi) = m.split_at_mut(q);
                    for (x, y) in lo[p].iter_mut().zip(hi[0].iter_mut()) {
                        let (xp, yq) = (*x, *y);
                        *x = c * xp - s * yq;
                        *y = s * xp + c * yq;
                    }
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut out: Vec<(f64, Vec<f64>, Vec<f64>)> = w
        .into_iter()
        .zip(v)
        .map(|(wj, vj)| {
            let s = dot(&wj, &wj).sqrt();
            let u = if s > 0.0 {
                wj.iter().map(|x| x / s).collect()
            } else {
                wj
            };
            (s, u, vj)
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out
}

/// dlib's `centered_rect(point(x, y), width, height)`.
fn centered_rect(x: i64, y: i64, width: i64, height: i64) -> Rect {
    let left = x - width / 2;
    let top = y - height / 2;
    Rect {
        left,
        top,
        right: left + width - 1,
        bottom: top + height - 1,
    }
}

/// dlib's `image_to_fhog` of a point with filter padding 1: the cell that
/// holds pixel `(x, y)` (C's truncating division, as dlib's).
fn image_to_fhog(x: i64, y: i64, cell_size: i64) -> (i64, i64) {
    ((x - 1) / cell_size - 1, (y - 1) / cell_size - 1)
}

/// `x.round()` as C's `lround` (halves away from zero), as an integer.
fn lround(x: f64) -> i64 {
    x.round() as i64
}

/// A rectangle through `f` corner by corner, rounded as dlib converts a
/// `drectangle` back to a `rectangle`.
fn map_rect(r: &Rect, f: impl Fn(f64, f64) -> (f64, f64)) -> Rect {
    let (l, t) = f(r.left as f64, r.top as f64);
    let (rr, b) = f(r.right as f64, r.bottom as f64);
    Rect {
        left: lround(l),
        top: lround(t),
        right: lround(rr),
        bottom: lround(b),
    }
}

/// `pyramid_down<6>::rect_down`: one level down (coordinates times 5/6).
fn rect_down6(r: &Rect) -> Rect {
    map_rect(r, |x, y| ((x - 0.3) * (5.0 / 6.0), (y - 0.3) * (5.0 / 6.0)))
}

/// `pyramid_down<6>::rect_up(rect, levels)`: from pyramid level `levels`
/// back to the image, rounded once at the end.
fn rect_up6(r: &Rect, levels: usize) -> Rect {
    map_rect(r, |mut x, mut y| {
        for _ in 0..levels {
            x = x * (6.0 / 5.0) + 0.3;
            y = y * (6.0 / 5.0) + 0.3;
        }
        (x, y)
    })
}

/// `pyramid_down<2>::rect_down(rect, levels)`: from an image doubled
/// `levels` times by [`pyramid_up`] back to the original.
fn rect_down2(r: &Rect, levels: u32) -> Rect {
    if levels == 0 {
        return *r;
    }
    map_rect(r, |mut x, mut y| {
        for _ in 0..levels {
            x = x / 2.0 - 1.25;
            y = y / 2.0 - 0.75;
        }
        (x, y)
    })
}

/// dlib's `pyramid_up(img, out, pyramid_down<2>)`: the image doubled, to
/// the size of its rectangle mapped up (`2 * width + 2` by `2 * height +
/// 1`), by bilinear resampling.
pub(crate) fn pyramid_up(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return RgbImage::new(0, 0);
    }
    // rect_up of (0, 0, w - 1, h - 1): the bottom-right corner maps to
    // ((w - 1 + 1.25) * 2, (h - 1 + 0.75) * 2), rounded.
    let right = lround((f64::from(w) - 1.0 + 1.25) * 2.0);
    let bottom = lround((f64::from(h) - 1.0 + 0.75) * 2.0);
    resize_bilinear(img, (right + 1) as u32, (bottom + 1) as u32)
}

/// `pyramid_down<6>`: the image at 5/6 of its size (`floor(5 n / 6)` each
/// way), by bilinear resampling.
pub(crate) fn pyramid_down6(img: &RgbImage) -> RgbImage {
    let (w, h) = (u64::from(img.width()), u64::from(img.height()));
    resize_bilinear(img, (5 * w / 6) as u32, (5 * h / 6) as u32)
}

/// dlib's `resize_image` of an RGB image with bilinear interpolation, the
/// corners mapped onto the corners, computed as dlib's: four columns at a
/// time in `f32` with the sampling position stepped in `f32` and the
/// value truncated, then the columns left over in `f64`. The rows are
/// independent and split over the threads.
fn resize_bilinear(img: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let (ow, oh) = (out_w as usize, out_h as usize);
    let mut out = vec![0u8; ow * oh * 3];
    if in_w == 0 || in_h == 0 || ow == 0 || oh == 0 {
        return RgbImage::from_raw(out_w, out_h, out).unwrap_or_default();
    }
    let raw = img.as_raw();
    let x_scale = (in_w as f64 - 1.0) / ((ow as f64 - 1.0).max(1.0));
    let y_scale = (in_h as f64 - 1.0) / ((oh as f64 - 1.0).max(1.0));
    let px = |r: usize, c: usize, k: usize| raw[(r * in_w + c) * 3 + k];

    // The columns dlib's 4-wide loop covers and their sampling positions
    // (the same for every row): left column and its fraction, in f32.
    let mut simd_cols: Vec<(usize, f32)> = Vec::with_capacity(ow);
    {
        let x = -4.0 * x_scale;
        let mut lanes = [
            x as f32,
            (x + x_scale) as f32,
            (x + 2.0 * x_scale) as f32,
            (x + 3.0 * x_scale) as f32,
        ];
        let step = (4.0 * x_scale) as f32;
        'blocks: loop {
            for l in &mut lanes {
                *l += step;
            }
            let left = lanes.map(|x| x as i32);
            if left[3] + 1 >= in_w as i32 || simd_cols.len() + 4 > ow {
                break 'blocks;
            }
            for k in 0..4 {
                simd_cols.push((left[k].max(0) as usize, lanes[k] - left[k] as f32));
            }
        }
    }
    let simd_end = simd_cols.len();

    // Each row's sampling position, stepped as dlib's; then the rows in
    // parallel.
    let ys: Vec<f64> = (0..oh)
        .scan(-y_scale, |y, _| {
            *y += y_scale;
            Some(*y)
        })
        .collect();
    let rows = out.par_chunks_exact_mut(ow * 3).zip(ys.par_iter());
    rows.with_min_len(RESIZE_ROWS).for_each(|(row, &y)| {
        let top = y.floor().max(0.0) as usize;
        let bottom = (top + 1).min(in_h - 1);
        let tb = y - top as f64;
        let (tb32, inv_tb32) = (tb as f32, (1.0 - tb) as f32);
        let (top_row, bottom_row) = (
            &raw[top * in_w * 3..(top + 1) * in_w * 3],
            &raw[bottom * in_w * 3..(bottom + 1) * in_w * 3],
        );
        for (&(left, lr), out_px) in simd_cols.iter().zip(row.chunks_exact_mut(3)) {
            let inv_lr = 1.0 - lr;
            let (tlf, trf, blf, brf) = (inv_tb32 * inv_lr, inv_tb32 * lr, tb32 * inv_lr, tb32 * lr);
            // The two pixels side by side, above and below.
            let (t, b) = (
                &top_row[left * 3..left * 3 + 6],
                &bottom_row[left * 3..left * 3 + 6],
            );
            for k in 0..3 {
                let v = tlf * f32::from(t[k])
                    + trf * f32::from(t[k + 3])
                    + blf * f32::from(b[k])
                    + brf * f32::from(b[k + 3]);
                out_px[k] = v as i32 as u8;
            }
        }
        let mut x = -x_scale + simd_end as f64 * x_scale;
        for c in simd_end..ow {
            x += x_scale;
            let left = x.floor().max(0.0) as usize;
            let left = left.min(in_w - 1);
            let right = (left + 1).min(in_w - 1);
            let lr = x - left as f64;
            for k in 0..3 {
                let (tl, tr) = (f64::from(px(top, left, k)), f64::from(px(top, right, k)));
                let (bl, br) = (
                    f64::from(px(bottom, left, k)),
                    f64::from(px(bottom, right, k)),
                );
                let v = (1.0 - tb) * ((1.0 - lr) * tl + lr * tr) + tb * ((1.0 - lr) * bl + lr * br);
                row[c * 3 + k] = v as u8;
            }
        }
    });
    RgbImage::from_raw(out_w, out_h, out).unwrap_or_default()
}

/// Rows of a resized image a thread takes at least at a time.
const RESIZE_ROWS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::photo::models::{for_test, test_photo, DETECTOR_FILE};

    /// The golden boxes: per photo, `hog_faces[].box_ltrb`.
    fn golden_boxes() -> Vec<(String, Vec<[i64; 4]>)> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/faces-golden/golden.json"
        );
        let text = std::fs::read_to_string(path).expect("golden.json is in the repository");
        let json: serde_json::Value = serde_json::from_str(&text).expect("golden.json parses");
        let images = json["images"].as_object().expect("images");
        images
            .iter()
            .map(|(name, image)| {
                let boxes = image["hog_faces"]
                    .as_array()
                    .expect("hog_faces")
                    .iter()
                    .map(|f| {
                        let b = f["box_ltrb"].as_array().expect("box_ltrb");
                        [0, 1, 2, 3].map(|i| b[i].as_i64().expect("integer"))
                    })
                    .collect();
                (name.clone(), boxes)
            })
            .collect()
    }

    fn detector() -> Option<Detector> {
        let dir = for_test(DETECTOR_FILE)?;
        Some(Detector::load(&dir.join(DETECTOR_FILE)).expect("the installed detector loads"))
    }

    fn photo(name: &str) -> Option<RgbImage> {
        let path = test_photo(name)?;
        Some(image::open(path).expect("test photo decodes").to_rgb8())
    }

    fn ltrb(r: &Rect) -> [i64; 4] {
        [r.left, r.top, r.right, r.bottom]
    }

    #[test]
    fn golden_boxes_with_upsample_1() {
        let Some(det) = detector() else { return };
        let mut max_diff = 0;
        for (name, want) in golden_boxes() {
            let Some(img) = photo(&name) else { return };
            let t = std::time::Instant::now();
            let got = det.detect(&img, 1);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(got.len(), want.len(), "{name}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                let diff = ltrb(&g.rect)
                    .iter()
                    .zip(w)
                    .map(|(a, b)| (a - b).abs())
                    .max()
                    .unwrap_or(0);
                assert!(diff <= 3, "{name}: {:?} vs dlib's {w:?}", g.rect);
                assert!(g.score > 0.0 && g.confidence() > 50.0, "{name}: {g:?}");
                max_diff = max_diff.max(diff);
            }
            eprintln!("{name}: {} face(s), {ms:.0} ms", got.len());
        }
        eprintln!("largest difference from dlib's boxes: {max_diff} px");
    }

    #[test]
    fn upsample_0_finds_the_same_faces() {
        // The rule of `auto_upsample` scans these photos (0.5 to 3.3
        // megapixels) as they are: each face is still found, near dlib's
        // upsampled box (the pyramid's scales differ from the doubled
        // image's, so a box may be a level, 20%, larger or smaller).
        let Some(det) = detector() else { return };
        for (name, want) in golden_boxes() {
            let Some(img) = photo(&name) else { return };
            let got = det.detect(&img, auto_upsample(img.width(), img.height()));
            assert_eq!(got.len(), want.len(), "{name}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                let w = Rect {
                    left: w[0],
                    top: w[1],
                    right: w[2],
                    bottom: w[3],
                };
                let inner = intersect(&g.rect, &w);
                let iou = (inner.width() * inner.height()) as f64
                    / (g.rect.width() * g.rect.height() + w.width() * w.height()
                        - inner.width() * inner.height()) as f64;
                assert!(iou > 0.6, "{name}: {:?} vs {w:?} (IoU {iou:.2})", g.rect);
            }
        }
    }

    #[test]
    fn the_real_file_loads_as_dlib_built_it() {
        let Some(det) = detector() else { return };
        assert_eq!(
            (det.cell_size, det.window_rows, det.window_cols, det.padding),
            (8, 10, 10, 0)
        );
        assert_eq!(det.filters.len(), 5);
        // dlib uses the separable form when it has at most a third of the
        // 31 x 10 full filters' rows; so do the weights.
        for f in &det.filters {
            let terms: usize = f.terms.iter().map(Vec::len).sum();
            assert!((40..=103).contains(&terms), "{terms} terms");
        }
    }

    #[test]
    fn a_truncated_or_corrupt_file_is_an_error() {
        let Some(dir) = for_test(DETECTOR_FILE) else {
            return;
        };
        let bytes = std::fs::read(dir.join(DETECTOR_FILE)).expect("readable");
        for cut in [0, 1, 5, 17, 40, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
            assert!(Detector::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Detector::from_bytes(&longer),
            Err(ModelError::TrailingBytes { .. })
        ));
        let mut version = bytes.clone();
        version[1] = 3;
        assert!(matches!(
            Detector::from_bytes(&version),
            Err(ModelError::BadVersion { .. })
        ));
        // A cell size of 0 would divide by zero: refused at load.
        let mut cell = bytes;
        assert_eq!(&cell[8..10], &[1, 8], "cell_size is at byte 8");
        cell[9] = 0;
        let err = Detector::from_bytes(&cell).expect_err("cell size 0");
        assert!(err.to_string().contains("cell_size"), "{err}");
        let missing = Detector::load(Path::new("/nonexistent/frontal_face_detector.dat"));
        assert!(matches!(missing, Err(ModelError::Io { .. })));
    }

    /// A small deterministic generator for the reference tests.
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    #[test]
    fn separable_filter_matches_the_plain_correlation() {
        // Weights of rank 1 to 3 a plane, as the trained filters are; the
        // fast path against the direct 2-D sum at every valid position.
        let (wr, wc) = (10, 10);
        let mut seed = 7;
        let mut w = Vec::new();
        for p in 0..PLANES {
            let mut plane = vec![0.0; wr * wc];
            for _ in 0..(p % 3 + 1) {
                let u: Vec<f64> = (0..wr).map(|_| lcg(&mut seed)).collect();
                let v: Vec<f64> = (0..wc).map(|_| lcg(&mut seed)).collect();
                for r in 0..wr {
                    for c in 0..wc {
                        plane[r * wc + c] += u[r] * v[c];
                    }
                }
            }
            w.extend(plane);
        }
        w.push(0.25);
        let filter = Filter::new(&w, wr, wc);
        let (rows, cols) = (23, 37);
        let feats = Fhog {
            rows,
            cols,
            data: (0..PLANES * rows * cols)
                .map(|_| lcg(&mut seed) as f32)
                .collect(),
        };
        let fast = filter.apply(&feats, wr, wc);
        for r in 0..rows {
            for c in 0..cols {
                let valid = r >= wr / 2
                    && r < rows - (wr - 1) / 2
                    && c >= wc / 2
                    && c < cols - (wc - 1) / 2;
                let mut want = 0.0;
                if valid {
                    for p in 0..PLANES {
                        for m in 0..wr {
                            for n in 0..wc {
                                let x = f64::from(
                                    feats.plane(p)[(r - wr / 2 + m) * cols + c - wc / 2 + n],
                                );
                                want += x * w[p * wr * wc + m * wc + n];
                            }
                        }
                    }
                }
                let got = f64::from(fast[r * cols + c]);
                assert!((got - want).abs() < 1e-3, "({r}, {c}): {got} vs {want}");
            }
        }
    }

    #[test]
    fn svd_reconstructs_the_matrix() {
        let mut seed = 3;
        let a: Vec<f64> = (0..10 * 10).map(|_| lcg(&mut seed)).collect();
        let parts = svd(&a, 10, 10);
        assert!(parts.windows(2).all(|p| p[0].0 >= p[1].0), "sorted");
        for i in 0..10 {
            for j in 0..10 {
                let sum: f64 = parts.iter().map(|(s, u, v)| s * u[i] * v[j]).sum();
                assert!((sum - a[i * 10 + j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn pyramid_geometry_is_dlibs() {
        // pyramid_up: 2w + 2 by 2h + 1; pyramid_down<6>: floor(5n / 6).
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([(x * 30) as u8, (y * 50) as u8, 9]));
        let up = pyramid_up(&img);
        assert_eq!(up.dimensions(), (16, 11));
        // The top-left corner maps onto the top-left corner.
        assert_eq!(up.get_pixel(0, 0), img.get_pixel(0, 0));
        assert_eq!(pyramid_down6(&up).dimensions(), (13, 9));
        // A constant image stays constant, but for dlib's truncation of
        // weights that sum to just under 1 in f32.
        let flat = RgbImage::from_pixel(50, 40, image::Rgb([7, 8, 9]));
        let down = pyramid_down6(&flat);
        assert!(down.pixels().all(|p| p
            .0
            .iter()
            .zip([7u8, 8, 9])
            .all(|(&a, b)| a == b || a + 1 == b)));
        assert!(down.pixels().any(|p| p.0 == [7, 8, 9]));
        // Boxes: level 1 of the pyramid back to the image, and an
        // upsampled box back down.
        let r = Rect {
            left: 10,
            top: 20,
            right: 89,
            bottom: 99,
        };
        assert_eq!(ltrb(&rect_up6(&r, 1)), [12, 24, 107, 119]);
        assert_eq!(ltrb(&rect_down2(&r, 1)), [4, 9, 43, 49]);
        assert_eq!(rect_down2(&r, 0), r);
    }

    #[test]
    fn overlap_and_confidence() {
        let o = Overlap {
            iou: 0.5,
            covered: 1.0,
        };
        let a = Rect {
            left: 0,
            top: 0,
            right: 9,
            bottom: 9,
        };
        let shifted = Rect {
            left: 2,
            right: 11,
            ..a
        };
        let far = Rect {
            left: 20,
            right: 29,
            ..a
        };
        assert!(o.overlaps(&a, &shifted));
        assert!(!o.overlaps(&a, &far));
        let d = |score| Detection {
            rect: a,
            score,
            filter: 0,
        };
        assert_eq!(d(0.0).confidence(), 50.0);
        assert!(d(1.0).confidence() > 98.0 && d(1.0).confidence() < 98.5);
        assert!(d(3.0).confidence() <= 100.0);
    }

    #[test]
    fn tiny_and_blank_images_have_no_faces() {
        let Some(det) = detector() else { return };
        assert!(det.detect(&RgbImage::new(0, 0), 1).is_empty());
        assert!(det.detect(&RgbImage::new(3, 2), 0).is_empty());
        assert!(det
            .detect(&RgbImage::from_pixel(200, 150, image::Rgb([90, 90, 90])), 1)
            .is_empty());
    }

    #[test]
    fn auto_upsample_rule() {
        assert_eq!(auto_upsample(800, 600), 1);
        assert_eq!(auto_upsample(910, 1137), 0);
    }
}
