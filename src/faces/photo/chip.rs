//! Face alignment as dlib does it: five landmarks to the 150x150 RGB chip
//! the face recognition ResNet takes (`get_face_chip_details(shape, 150,
//! 0.25)` then `extract_image_chip`, bilinear).
//!
//! The steps, each as dlib takes it:
//! 1. a similarity transform (scale, rotation, translation; the
//!    least-squares fit of Umeyama's paper) from dlib's mean-face template,
//!    padded by 0.25 a side and scaled to 150 px, onto the landmarks; its
//!    rotation is the chip's angle and it places the chip's rectangle in
//!    the image;
//! 2. when that rectangle is much larger than the chip, a pyramid of
//!    images, each half the one before (dlib's `pyramid_down<2>`: a 5x5
//!    `[1 4 6 4 1]` Gaussian, every other row and column, integer
//!    arithmetic), of the part of the image around the face, so that the
//!    bilinear sampling is not aliased;
//! 3. each chip pixel sampled bilinearly (truncated to 8 bits) from the
//!    smallest level still at least as large as the chip; a sample whose
//!    2x2 neighbourhood leaves the image is black.
//!
//! dlib copies pixels instead when the chip needs no rotation and no
//! scaling at all (an angle of exactly 0 and a rectangle of exactly 150
//! pixels); landmarks never fit the template that exactly, so that path is
//! not reproduced.

use image::RgbImage;

use super::Point;

/// The side of the chip in pixels.
pub(crate) const CHIP_SIZE: usize = 150;

/// The border around dlib's mean face, as a fraction of the face's size.
const PADDING: f64 = 0.25;

/// dlib's mean positions of the 5 landmarks of its 5-point model, in the
/// unit square of the face (in the model's order: the outer and inner
/// corner of one eye, of the other, and the bottom of the nose).
const MEAN_FACE: [(f64, f64); 5] = [
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
];

/// A 2-d affine map `p -> m p + t`, as dlib's `point_transform_affine`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Affine {
    /// The linear part, row-major.
    pub(crate) m: [[f64; 2]; 2],
    /// The translation.
    pub(crate) t: [f64; 2],
}

impl Affine {
    /// The image of `(x, y)`.
    pub(crate) fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.m[0][0] * x + self.m[0][1] * y + self.t[0],
            self.m[1][0] * x + self.m[1][1] * y + self.t[1],
        )
    }

    /// The affine map that takes the chip's corners `(0, 0)`, `(w, 0)` and
    /// `(0, h)` to `a`, `b` and `c` (exact for three points, which is what
    /// dlib's least-squares fit gives for them).
    fn from_corners(w: f64, h: f64, a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> Affine {
        Affine {
            m: [
                [(b.0 - a.0) / w, (c.0 - a.0) / h],
                [(b.1 - a.1) / w, (c.1 - a.1) / h],
            ],
            t: [a.0, a.1],
        }
    }
}

/// The least-squares similarity transform (scale, rotation, translation;
/// no reflection) taking the points `from` to `to`, as dlib's
/// `find_similarity_transform` (Umeyama). In two dimensions Umeyama's SVD
/// has a closed form: with `C` the covariance of `to` against `from` and
/// `s` the variance of `from`, the linear part is
/// `[[C00 + C11, C01 - C10], [C10 - C01, C00 + C11]] / s`, whether or not
/// `det C < 0` (the reflection case dlib guards against gives the same).
/// The identity's linear part when `from` has no spread (dlib's `c = 1`
/// keeps only the rotation, which is then arbitrary).
pub(crate) fn similarity(from: &[(f64, f64)], to: &[(f64, f64)]) -> Affine {
    let n = from.len().min(to.len());
    if n == 0 {
        return Affine {
            m: [[1.0, 0.0], [0.0, 1.0]],
            t: [0.0, 0.0],
        };
    }
    let nf = n as f64;
    let mean = |pts: &[(f64, f64)]| {
        let (sx, sy) = pts[..n]
            .iter()
            .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x, sy + y));
        (sx / nf, sy / nf)
    };
    let (mfx, mfy) = mean(from);
    let (mtx, mty) = mean(to);
    let mut sigma = 0.0;
    let mut c = [[0.0; 2]; 2];
    for (&(fx, fy), &(tx, ty)) in from.iter().zip(to) {
        let (dfx, dfy) = (fx - mfx, fy - mfy);
        let (dtx, dty) = (tx - mtx, ty - mty);
        sigma += dfx * dfx + dfy * dfy;
        c[0][0] += dtx * dfx;
        c[0][1] += dtx * dfy;
        c[1][0] += dty * dfx;
        c[1][1] += dty * dfy;
    }
    sigma /= nf;
    let (a, b) = if sigma == 0.0 {
        (1.0, 0.0)
    } else {
        (
            (c[0][0] + c[1][1]) / nf / sigma,
            (c[1][0] - c[0][1]) / nf / sigma,
        )
    };
    let m = [[a, -b], [b, a]];
    Affine {
        m,
        t: [
            mtx - (m[0][0] * mfx + m[0][1] * mfy),
            mty - (m[1][0] * mfx + m[1][1] * mfy),
        ],
    }
}

/// A rectangle with real corners, as dlib's `drectangle` (its width is
/// `right - left + 1`, as if the corners were pixel centres).
#[derive(Debug, Clone, Copy, PartialEq)]
struct DRect {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl DRect {
    fn is_empty(&self) -> bool {
        self.top > self.bottom || self.left > self.right
    }

    fn area(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            (self.right - self.left + 1.0) * (self.bottom - self.top + 1.0)
        }
    }

    fn center(&self) -> (f64, f64) {
        (
            (self.left + self.right) / 2.0,
            (self.top + self.bottom) / 2.0,
        )
    }

    /// The rectangle one level down dlib's `pyramid_down<2>`.
    fn down(&self) -> DRect {
        let (left, top) = point_down(self.left, self.top);
        let (right, bottom) = point_down(self.right, self.bottom);
        DRect {
            left,
            top,
            right,
            bottom,
        }
    }

    /// The corners turned by `angle` about the centre: top left, top
    /// right, bottom left, bottom right.
    fn rotated_corners(&self, angle: f64) -> [(f64, f64); 4] {
        let (cx, cy) = self.center();
        let (sin, cos) = if angle == 0.0 {
            (0.0, 1.0)
        } else {
            angle.sin_cos()
        };
        let turn = |x: f64, y: f64| {
            let (dx, dy) = (x - cx, y - cy);
            (cos * dx - sin * dy + cx, sin * dx + cos * dy + cy)
        };
        [
            turn(self.left, self.top),
            turn(self.right, self.top),
            turn(self.left, self.bottom),
            turn(self.right, self.bottom),
        ]
    }
}

/// A point one level down dlib's `pyramid_down<2>`.
fn point_down(x: f64, y: f64) -> (f64, f64) {
    (x / 2.0 - 1.25, y / 2.0 - 0.75)
}

/// Where the chip lies in the image: dlib's `chip_details` of a square
/// chip of [`CHIP_SIZE`] pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ChipDetails {
    /// The chip's rectangle in the image, before the rotation.
    rect: DRect,
    /// The rotation about the rectangle's centre, in radians.
    angle: f64,
}

/// dlib's `get_face_chip_details(shape, 150, 0.25)` for a 5-point shape.
fn face_chip_details(landmarks: &[Point; 5]) -> ChipDetails {
    let size = CHIP_SIZE as f64;
    let template = MEAN_FACE.map(|(x, y)| {
        (
            (PADDING + x) / (2.0 * PADDING + 1.0) * size,
            (PADDING + y) / (2.0 * PADDING + 1.0) * size,
        )
    });
    let to = landmarks.map(|p| (p.x, p.y));
    let tform = similarity(&template, &to);
    let (px, py) = (tform.m[0][0], tform.m[1][0]);
    let angle = py.atan2(px);
    let scale = (px * px + py * py).sqrt();
    let (cx, cy) = tform.apply(size / 2.0, size / 2.0);
    // dlib's centered_drect: the corners are pixel centres, so the width
    // between them is one less than the width in pixels.
    let half = (size * scale - 1.0) / 2.0;
    ChipDetails {
        rect: DRect {
            left: cx - half,
            top: cy - half,
            right: cx + half,
            bottom: cy + half,
        },
        angle,
    }
}

/// An RGB image as a plain buffer: `width * height * 3` bytes, row-major.
struct Plane {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl Plane {
    /// The pixels of `img` inside `left..=right`, `top..=bottom` (already
    /// clipped to it).
    fn crop(img: &RgbImage, left: usize, top: usize, right: usize, bottom: usize) -> Plane {
        let (w, h) = (right + 1 - left, bottom + 1 - top);
        let stride = img.width() as usize * 3;
        let raw = img.as_raw();
        let mut data = Vec::with_capacity(w * h * 3);
        for row in raw.chunks_exact(stride).skip(top).take(h) {
            data.extend_from_slice(row.get(left * 3..(left + w) * 3).unwrap_or_default());
        }
        let height = data.len() / (w * 3).max(1);
        Plane {
            width: w,
            height,
            data,
        }
    }

    /// One level down dlib's `pyramid_down<2>` for RGB images: each channel
    /// filtered by `[1 4 6 4 1]` along the rows then the columns in 16-bit
    /// integers, divided by 256 (truncated), keeping every other row and
    /// column; an image of 8 pixels or fewer a side has an empty level.
    fn down(&self) -> Plane {
        let (w, h) = (self.width, self.height);
        if w <= 8 || h <= 8 {
            return Plane {
                width: 0,
                height: 0,
                data: Vec::new(),
            };
        }
        let tw = (w - 3) / 2;
        let dh = (h - 3) / 2;
        // The rows filtered and halved: h rows of tw pixels, 3 channels.
        let mut rows = Vec::with_capacity(h * tw * 3);
        for row in self.data.chunks_exact(w * 3) {
            for c in 0..tw {
                let px = row.get(c * 6..c * 6 + 15).unwrap_or_default();
                for k in 0..3 {
                    let at = |i: usize| u32::from(px.get(i * 3 + k).copied().unwrap_or(0));
                    rows.push(at(0) + 4 * at(1) + 6 * at(2) + 4 * at(3) + at(4));
                }
            }
        }
        let line = tw * 3;
        let mut data = Vec::with_capacity(dh * line);
        for r in 0..dh {
            let centre = 2 * r + 2;
            let band = rows
                .get((centre - 2) * line..(centre + 3) * line)
                .unwrap_or_default();
            let (r0, rest) = band.split_at(line.min(band.len()));
            let (r1, rest) = rest.split_at(line.min(rest.len()));
            let (r2, rest) = rest.split_at(line.min(rest.len()));
            let (r3, r4) = rest.split_at(line.min(rest.len()));
            for i in 0..line {
                let at = |s: &[u32]| s.get(i).copied().unwrap_or(0);
                let sum = at(r0) + 4 * at(r1) + 6 * at(r2) + 4 * at(r3) + at(r4);
                data.push(u8::try_from(sum / 256).unwrap_or(u8::MAX));
            }
        }
        Plane {
            width: tw,
            height: dh,
            data,
        }
    }

    /// The pixel at `(x, y)`, which must lie inside.
    fn pixel(&self, x: usize, y: usize) -> [f64; 3] {
        let at = (y * self.width + x) * 3;
        match self.data.get(at..at + 3) {
            Some(&[r, g, b]) => [f64::from(r), f64::from(g), f64::from(b)],
            _ => [0.0; 3],
        }
    }

    /// dlib's `interpolate_bilinear` at `(x, y)`: the channels truncated to
    /// 8 bits; `None` where the 2x2 neighbourhood leaves the image.
    fn bilinear(&self, x: f64, y: f64) -> Option<[u8; 3]> {
        let (fx, fy) = (x.floor(), y.floor());
        if !(fx >= 0.0
            && fy >= 0.0
            && fx + 1.0 < self.width as f64
            && fy + 1.0 < self.height as f64)
        {
            return None;
        }
        let (left, top) = (fx as usize, fy as usize);
        let lr = x - fx;
        let tb = y - fy;
        let tl = self.pixel(left, top);
        let tr = self.pixel(left + 1, top);
        let bl = self.pixel(left, top + 1);
        let br = self.pixel(left + 1, top + 1);
        let mut out = [0u8; 3];
        for (k, o) in out.iter_mut().enumerate() {
            let v = (1.0 - tb) * ((1.0 - lr) * tl[k] + lr * tr[k])
                + tb * ((1.0 - lr) * bl[k] + lr * br[k]);
            // `as` truncates toward zero and saturates, as dlib's
            // static_cast<unsigned char> of a value in 0..=255.
            *o = v as u8;
        }
        Some(out)
    }
}

/// The aligned face chip of the face whose 5 landmarks are `landmarks` (in
/// the model's order): [`CHIP_SIZE`] x [`CHIP_SIZE`] RGB pixels,
/// interleaved, row-major, as dlib's `get_face_chip(img, shape, 150, 0.25)`
/// gives it. Parts of the chip outside the image are black.
pub(crate) fn face_chip(img: &RgbImage, landmarks: &[Point; 5]) -> Vec<u8> {
    let details = face_chip_details(landmarks);
    let chip_area = (CHIP_SIZE * CHIP_SIZE) as f64;
    let mut out = vec![0u8; CHIP_SIZE * CHIP_SIZE * 3];
    let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));

    // How deep the pyramid goes, and the border the crop needs for it.
    let mut grow = 2.0;
    let mut down = details.rect.down();
    while down.area() > chip_area {
        down = down.down();
        grow = grow * 2.0 + 2.0;
    }
    // The part of the image the chip reads: the rotated rectangle's bounds
    // grown by that border, clipped to the image, rounded to pixels.
    let corners = details.rect.rotated_corners(details.angle);
    let fold = |f: fn(f64, f64) -> f64, pick: fn(&(f64, f64)) -> f64, init: f64| {
        corners.iter().map(pick).fold(init, f)
    };
    let bounds = DRect {
        left: (fold(f64::min, |p| p.0, f64::INFINITY) - grow).max(0.0),
        top: (fold(f64::min, |p| p.1, f64::INFINITY) - grow).max(0.0),
        right: (fold(f64::max, |p| p.0, f64::NEG_INFINITY) + grow).min(iw - 1.0),
        bottom: (fold(f64::max, |p| p.1, f64::NEG_INFINITY) + grow).min(ih - 1.0),
    };
    if bounds.is_empty() || !bounds.area().is_finite() {
        return out;
    }
    // dlib's lround: halves away from zero, as f64::round.
    let (left, top) = (bounds.left.round(), bounds.top.round());
    let (right, bottom) = (bounds.right.round(), bounds.bottom.round());
    if left > right || top > bottom {
        return out;
    }
    let mut level = Plane::crop(
        img,
        left as usize,
        top as usize,
        right as usize,
        bottom as usize,
    );

    // The chip's rectangle in the crop, then down the pyramid as far as it
    // stays larger than the chip.
    let mut rect = DRect {
        left: details.rect.left - left,
        top: details.rect.top - top,
        right: details.rect.right - left,
        bottom: details.rect.bottom - top,
    };
    while rect.down().area() > chip_area {
        rect = rect.down();
        level = level.down();
    }

    let [tl, tr, bl, _] = rect.rotated_corners(details.angle);
    let last = (CHIP_SIZE - 1) as f64;
    let map = Affine::from_corners(last, last, tl, tr, bl);
    for (r, row) in out.chunks_exact_mut(CHIP_SIZE * 3).enumerate() {
        for (c, px) in row.chunks_exact_mut(3).enumerate() {
            let (x, y) = map.apply(c as f64, r as f64);
            if let Some(v) = level.bilinear(x, y) {
                px.copy_from_slice(&v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::photo::{decode::decode, golden, models};
    use sha2::Digest;

    #[test]
    fn chips_from_golden_landmarks_match_dlibs() {
        for photo in golden::photos() {
            let Some(path) = models::test_photo(&photo.name) else {
                return;
            };
            let img = decode(&std::fs::read(&path).expect("photo")).expect("decodes");
            for (k, face) in photo.faces.iter().enumerate() {
                let chip = face_chip(&img, &face.landmarks);
                assert_eq!(chip.len(), CHIP_SIZE * CHIP_SIZE * 3);
                let stem = photo.name.rsplit_once('.').map_or(&*photo.name, |(s, _)| s);
                let want = image::open(golden::path(&format!("chips/{stem}-{k}.png")))
                    .expect("golden chip")
                    .to_rgb8();
                let diffs: Vec<u8> = chip
                    .iter()
                    .zip(want.as_raw())
                    .map(|(a, b)| a.abs_diff(*b))
                    .collect();
                let max = diffs.iter().copied().max().unwrap_or(0);
                let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
                println!("{}: max {max} mean {mean:.4}", photo.name);
                let sha: String = sha2::Sha256::digest(&chip)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                // The geometry and the sampling are dlib's, and the pixels
                // libjpeg's (lossless for the PNG): dlib's bytes exactly.
                assert_eq!(
                    sha, face.chip_sha256,
                    "{}: max {max} mean {mean}",
                    photo.name
                );
                assert_eq!(max, 0);
            }
        }
    }

    #[test]
    fn similarity_recovers_a_similarity() {
        let (scale, angle, tx, ty) = (2.5f64, 0.3f64, -7.0, 11.5);
        let (s, c) = angle.sin_cos();
        let from = [(1.0, 2.0), (5.0, -1.0), (0.5, 4.0), (3.0, 3.0), (-2.0, 0.0)];
        let to = from.map(|(x, y)| (scale * (c * x - s * y) + tx, scale * (s * x + c * y) + ty));
        let t = similarity(&from, &to);
        let want = [[scale * c, -scale * s], [scale * s, scale * c]];
        for (row, want_row) in t.m.iter().zip(want) {
            for (v, w) in row.iter().zip(want_row) {
                assert!((v - w).abs() < 1e-12, "{:?}", t);
            }
        }
        for (&(x, y), &(ex, ey)) in from.iter().zip(&to) {
            let (px, py) = t.apply(x, y);
            assert!((px - ex).abs() < 1e-9 && (py - ey).abs() < 1e-9);
        }
        // No spread to fit: the identity's linear part, the means matched.
        let t = similarity(&[(1.0, 1.0), (1.0, 1.0)], &[(3.0, 4.0), (5.0, 6.0)]);
        assert_eq!(t.m, [[1.0, 0.0], [0.0, 1.0]]);
        assert_eq!(t.apply(1.0, 1.0), (4.0, 5.0));
    }

    #[test]
    fn chips_off_the_image_are_black_there_and_never_panic() {
        let img = RgbImage::from_pixel(200, 200, image::Rgb([200, 100, 50]));
        // dlib's mean face, 100 px wide, centred on the image's left edge:
        // the chip's left part lies outside, black; its right part inside.
        let landmarks = MEAN_FACE.map(|(x, y)| Point {
            x: (x - 0.5) * 100.0,
            y: 100.0 + (y - 0.5) * 100.0,
        });
        let chip = face_chip(&img, &landmarks);
        let at = |x: usize, y: usize| &chip[(y * CHIP_SIZE + x) * 3..][..3];
        assert_eq!(at(5, 75), &[0, 0, 0]);
        // Inside: the colour, to the truncation of a weight sum of 1.
        let inside = at(140, 75);
        for (v, want) in inside.iter().zip([200u8, 100, 50]) {
            assert!(want - v <= 1, "{inside:?}");
        }
        // Tiny, huge, or absurd: a chip of the right size, no panic.
        let tiny = RgbImage::from_pixel(1, 1, image::Rgb([9, 9, 9]));
        let huge = MEAN_FACE.map(|(x, y)| Point {
            x: x * 1e6,
            y: y * 1e6,
        });
        let same = [Point { x: 3.0, y: 3.0 }; 5];
        let nan = [Point {
            x: f64::NAN,
            y: 0.0,
        }; 5];
        for (image, points) in [
            (&tiny, &landmarks),
            (&img, &huge),
            (&img, &same),
            (&img, &nan),
            (&tiny, &huge),
        ] {
            assert_eq!(face_chip(image, points).len(), CHIP_SIZE * CHIP_SIZE * 3);
        }
    }

    #[test]
    fn the_pyramid_halves_with_dlibs_filter() {
        // A constant image stays constant down the pyramid (the filter's
        // weights sum to 256), at dlib's size ((n - 3) / 2 a side).
        let plane = Plane {
            width: 20,
            height: 11,
            data: vec![77; 20 * 11 * 3],
        };
        let down = plane.down();
        assert_eq!((down.width, down.height), (8, 4));
        assert!(down.data.iter().all(|&v| v == 77));
        // 8 pixels or fewer a side: an empty level, as dlib.
        assert_eq!(down.down().data.len(), 0);
        // An impulse spreads as [1 4 6 4 1] x [1 4 6 4 1] / 256, truncated.
        let mut data = vec![0u8; 9 * 9 * 3];
        data[(4 * 9 + 4) * 3] = 255;
        let down = Plane {
            width: 9,
            height: 9,
            data,
        }
        .down();
        assert_eq!((down.width, down.height), (3, 3));
        let red: Vec<u8> = down.data.chunks(3).map(|p| p[0]).collect();
        // The middle pixel (row 1, column 1: 3 * 1 + 1): 6 * 6 * 255 / 256.
        assert_eq!(red[4], (36 * 255 / 256) as u8);
    }
}
