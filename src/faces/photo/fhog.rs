//! Felzenszwalb's HOG features as dlib computes them
//! (`dlib/image_transforms/fhog.h`, `extract_fhog_features`): an RGB image
//! in, 31 planes of features out, one value a cell of `cell_size` pixels.
//!
//! Per pixel, the gradient of the colour channel with the strongest one is
//! snapped to one of 18 signed orientations and its length voted, with
//! bilinear weights, into the four nearest cells' histograms. Per cell,
//! the 18 signed and 9 unsigned orientation bins are normalised by the
//! energy of the four 2x2 blocks around it (each clipped at 0.2), and four
//! texture features sum the signed bins under each block's normalisation.
//! The planes carry a zero border so that a filter `filter_rows` x
//! `filter_cols` cells large can be run over every position of the
//! feature image without bounds checks, as dlib's padding does.
//!
//! The arithmetic follows dlib's, in `f32` and in the same order where it
//! decides anything discrete (which channel, which orientation bin),
//! including dlib's tie rules, which differ between its 8-pixel SIMD
//! blocks and the columns after them: that keeps the features, and so
//! the detector's boxes, those of python dlib.

use image::RgbImage;

/// The number of feature planes: 18 signed orientations, 9 unsigned, 4
/// texture (block energy) features.
pub(crate) const PLANES: usize = 31;

/// Unit vectors of the 9 orientations (dlib's `directions`, 20 degrees
/// apart); a gradient's bin is the one its dot product is largest with,
/// signed (`o`) or negated (`o + 9`).
const DIRECTIONS: [(f32, f32); 9] = [
    (1.0000, 0.0000),
    (0.9397, 0.3420),
    (0.7660, 0.6428),
    (0.500, 0.8660),
    (0.1736, 0.9848),
    (-0.1736, 0.9848),
    (-0.5000, 0.8660),
    (-0.7660, 0.6428),
    (-0.9397, 0.3420),
];

/// The feature image of one picture: [`PLANES`] planes of `rows` x `cols`
/// cells, each plane row-major, the planes one after another.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fhog {
    /// Rows of each plane, the zero border included.
    pub(crate) rows: usize,
    /// Columns of each plane, the zero border included.
    pub(crate) cols: usize,
    /// `PLANES * rows * cols` values: plane `p`, row `r`, column `c` at
    /// `(p * rows + r) * cols + c`.
    pub(crate) data: Vec<f32>,
}

impl Fhog {
    /// Plane `p` (row-major, `rows * cols` values).
    pub(crate) fn plane(&self, p: usize) -> &[f32] {
        let size = self.rows * self.cols;
        &self.data[p * size..(p + 1) * size]
    }
}

/// The HOG features of `img` with cells of `cell_size` pixels (at least
/// 2), padded for a filter of `filter_rows` x `filter_cols` cells (each at
/// least 1): dlib's `extract_fhog_features(img, hog, cell_size,
/// filter_rows, filter_cols)`. An image too small for one cell of
/// features gives an empty [`Fhog`] (0 x 0).
pub(crate) fn extract(
    img: &RgbImage,
    cell_size: usize,
    filter_rows: usize,
    filter_cols: usize,
) -> Fhog {
    let (width, height) = (img.width() as usize, img.height() as usize);
    // dlib rounds the number of cells: `(int)(n / cell_size + 0.5)`.
    let cells_nr = (height as f32 / cell_size as f32 + 0.5) as usize;
    let cells_nc = (width as f32 / cell_size as f32 + 0.5) as usize;
    if cells_nr < 3 || cells_nc < 3 {
        return Fhog::default();
    }
    let hist = histograms(img, cell_size, cells_nr, cells_nc);
    features(&hist, cells_nr, cells_nc, filter_rows, filter_cols)
}

/// The cells' 18-bin orientation histograms, with a one-cell margin all
/// round (`(cells_nr + 2) x (cells_nc + 2)` cells of 18 bins, row-major).
fn histograms(img: &RgbImage, cell_size: usize, cells_nr: usize, cells_nc: usize) -> Vec<f32> {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let hist_nc = cells_nc + 2;
    let mut hist = vec![0f32; (cells_nr + 2) * hist_nc * 18];
    let visible_nr = (cells_nr * cell_size).min(height) - 1;
    let visible_nc = (cells_nc * cell_size).min(width) - 1;
    // dlib walks each row in blocks of 8 pixels from x = 1 while a block
    // fits before `visible_nc - 7`, then one pixel at a time; the two
    // break ties between channels differently.
    let simd_end = if visible_nc > 8 {
        1 + (visible_nc - 8).div_ceil(8) * 8
    } else {
        1
    };
    let cs = cell_size as f32;
    // Per column: the first cell it votes into (offset by the margin) and
    // the weight of the next one.
    let columns: Vec<(usize, f32)> = (0..width)
        .map(|x| {
            let xp = (x as f32 + 0.5) / cs + 0.5;
            let ixp = xp as usize;
            (ixp, xp - ixp as f32)
        })
        .collect();
    // Three rows of the image at a time (above, this, below), each as
    // three planes of floats (the values and differences are small
    // integers, exact in f32), so that a row's gradients vectorise: row
    // `r` is `ring[r % 3]`, converted once, when it is first below.
    let raw = img.as_raw();
    let mut ring: [Vec<f32>; 3] = [0, 1, 2].map(|_| vec![0f32; 3 * width]);
    let arch = pulp::Arch::new();
    let convert = |ring: &mut [Vec<f32>; 3], r: usize| {
        arch.dispatch(Planar {
            raw: &raw[r * width * 3..(r + 1) * width * 3],
            planar: &mut ring[r % 3],
        })
    };
    convert(&mut ring, 0);
    convert(&mut ring, 1);
    // Per row, for x = 1 .. visible_nc (index x - 1): the orientation bin
    // and the gradient's length, then where each pixel votes and its four
    // votes.
    let n = visible_nc.saturating_sub(1);
    // Columns 1 .. simd_end are in dlib's SIMD blocks, the rest after.
    let split = simd_end.saturating_sub(1).min(n);
    let cols = &columns[1..=n];
    let mut row = RowVotes::new(n);
    for y in 1..visible_nr {
        convert(&mut ring, y + 1);
        arch.dispatch(RowGradients {
            window: [&ring[(y - 1) % 3], &ring[y % 3], &ring[(y + 1) % 3]],
            width,
            simd_end,
            bins: &mut row.bins,
            lens: &mut row.lens,
        });
        row.weigh(y, cs, split, cols);
        let (upper, lower) = hist.split_at_mut((row.row0 + 1) * hist_nc * 18);
        let upper = &mut upper[row.row0 * hist_nc * 18..];
        let [v0, v1, v2, v3] = &row.votes;
        let votes = row.at.iter().zip(v0).zip(v1).zip(v2).zip(v3);
        for ((((&at, &a), &b), &c), &d) in votes {
            // The two cells side by side, in the row above and below.
            upper[at] += a;
            lower[at] += b;
            upper[at + 18] += c;
            lower[at + 18] += d;
        }
    }
    hist
}

/// The interleaved RGB bytes of a row of pixels as three planes of
/// floats, one after another, as a SIMD kernel (the compiler vectorises
/// the loop with `S`'s features).
struct Planar<'a> {
    raw: &'a [u8],
    planar: &'a mut [f32],
}

impl pulp::WithSimd for Planar<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let w = self.raw.len() / 3;
        let (r, gb) = self.planar.split_at_mut(w);
        let (g, b) = gb.split_at_mut(w);
        let px = self.raw.chunks_exact(3);
        for (((px, r), g), b) in px.zip(r.iter_mut()).zip(g.iter_mut()).zip(b.iter_mut()) {
            *r = f32::from(px[0]);
            *g = f32::from(px[1]);
            *b = f32::from(px[2]);
        }
    }
}

/// One row's votes: per pixel (columns 1 ..), its orientation bin (0 to
/// 17, as a float), gradient length, the bin's index in the row of cells
/// above (and below) it, and its four bilinear votes.
#[derive(Debug, Clone)]
struct RowVotes {
    bins: Vec<f32>,
    lens: Vec<f32>,
    /// The histogram row above the pixel (with the margin).
    row0: usize,
    /// `cell * 18 + bin` of the left cell the pixel votes into.
    at: Vec<usize>,
    /// The votes: left cell above and below, right cell above and below.
    votes: [Vec<f32>; 4],
}

impl RowVotes {
    /// Room for `n` pixels.
    fn new(n: usize) -> RowVotes {
        RowVotes {
            bins: vec![0.0; n],
            lens: vec![0.0; n],
            row0: 0,
            at: vec![0; n],
            votes: [0, 1, 2, 3].map(|_| vec![0.0; n]),
        }
    }

    /// The votes of row `y` from its bins and lengths: `cols` holds each
    /// column's first cell and the weight of the next, and the first
    /// `split` pixels are in dlib's SIMD blocks, whose products are in
    /// another order than the columns' after them.
    fn weigh(&mut self, y: usize, cs: f32, split: usize, cols: &[(usize, f32)]) {
        let yp = ((y as f64 + 0.5) / f64::from(cs) - 0.5) as f32;
        let iyp = yp.floor();
        let vy0 = yp - iyp;
        let vy1 = 1.0 - vy0;
        // `iyp + 1` is at least 0: `yp >= 1.5 / cell_size - 0.5 > -1`.
        self.row0 = (iyp + 1.0) as usize;
        // (Bins are 0 to 17: `min` only tells the compiler so.)
        for ((at, &bin), &(ixp, _)) in self.at.iter_mut().zip(&self.bins).zip(cols) {
            *at = ixp * 18 + (bin as usize).min(17);
        }
        let [a0, a1, a2, a3] = &mut self.votes;
        let px = a0
            .iter_mut()
            .zip(a1.iter_mut())
            .zip(a2.iter_mut())
            .zip(a3.iter_mut());
        let px = px.zip(&self.lens).zip(cols);
        for (i, (((((o0, o1), o2), o3), &v), &(_, vx0))) in px.enumerate() {
            let vx1 = 1.0 - vx0;
            if i < split {
                let (a, b) = (vx1 * v, vx0 * v);
                (*o0, *o1, *o2, *o3) = (vy1 * a, vy0 * a, vy1 * b, vy0 * b);
            } else {
                (*o0, *o1, *o2, *o3) = (vy1 * vx1 * v, vy0 * vx1 * v, vy1 * vx0 * v, vy0 * vx0 * v);
            }
        }
    }
}

/// The gradients of one row (columns 1 .. visible_nc) from three rows
/// of planar floats, as a SIMD kernel.
struct RowGradients<'a> {
    /// The rows above, at and below, each three planes of `width` values.
    window: [&'a [f32]; 3],
    width: usize,
    simd_end: usize,
    bins: &'a mut [f32],
    lens: &'a mut [f32],
}

/// A channel's neighbours of columns 1 ..: left, right, above, below.
type Neighbours<'a> = [&'a [f32]; 4];

/// The neighbours of each channel for the `n` columns from 1 of the
/// middle row of `window` (rows of `w` pixels, as in [`RowGradients`]).
fn neighbours<'a>(window: &[&'a [f32]; 3], w: usize, n: usize) -> [Neighbours<'a>; 3] {
    [0, 1, 2].map(|k| {
        let at = k * w;
        [
            &window[1][at..at + n],
            &window[1][at + 2..at + 2 + n],
            &window[0][at + 1..at + 1 + n],
            &window[2][at + 1..at + 1 + n],
        ]
    })
}

/// The bin and length at index `i` (column `i + 1`), one pixel at a time:
/// the reference the SIMD blocks compute eight at a time. `simd` chooses
/// dlib's tie rule between channels: in its SIMD blocks a tie goes to the
/// later channel, in the columns after them to the earlier.
fn pixel(ch: &[Neighbours<'_>; 3], i: usize, simd: bool) -> (f32, f32) {
    let grad = |c: &Neighbours<'_>| {
        let (gx, gy) = (c[1][i] - c[0][i], c[3][i] - c[2][i]);
        (gx, gy, gx * gx + gy * gy)
    };
    let (r, g, b) = (grad(&ch[0]), grad(&ch[1]), grad(&ch[2]));
    let (gx, gy, len) = if simd {
        let t = if r.2 > g.2 { r } else { g };
        if t.2 > b.2 {
            t
        } else {
            b
        }
    } else {
        let t = if g.2 > r.2 { g } else { r };
        if b.2 > t.2 {
            b
        } else {
            t
        }
    };
    // The bin whose direction, or its opposite (+ 9), has the largest
    // positive dot product; 0 for a zero gradient.
    let mut best_dot = 0f32;
    let mut best = 0f32;
    for (o, &(dx, dy)) in DIRECTIONS.iter().enumerate() {
        let dot = gx * dx + gy * dy;
        if dot > best_dot {
            best_dot = dot;
            best = o as f32;
        } else if -dot > best_dot {
            best_dot = -dot;
            best = (o + 9) as f32;
        }
    }
    (best, len.sqrt())
}

impl pulp::WithSimd for RowGradients<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
        let RowGradients {
            window,
            width,
            simd_end,
            bins,
            lens,
        } = self;
        let n = bins.len();
        let ch = neighbours(&window, width, n);
        // Pixels before this index are in dlib's SIMD blocks.
        let simd_n = simd_end.saturating_sub(1).min(n);
        let mut i = 0;
        while i + lanes <= n {
            let block = i + lanes <= simd_n;
            if !block && i < simd_n {
                // A block across the boundary: one pixel at a time.
                for j in i..i + lanes {
                    (bins[j], lens[j]) = pixel(&ch, j, j < simd_n);
                }
                i += lanes;
                continue;
            }
            // (No closure here: one would not inherit the SIMD target
            // features, and the intrinsics would not inline.)
            let r = grad_s(simd, &ch[0], i);
            let g = grad_s(simd, &ch[1], i);
            let b = grad_s(simd, &ch[2], i);
            let (gx, gy, len) = if block {
                let t = pick_s(simd, simd.greater_than_f32s(r.2, g.2), r, g);
                pick_s(simd, simd.greater_than_f32s(t.2, b.2), t, b)
            } else {
                let t = pick_s(simd, simd.greater_than_f32s(g.2, r.2), g, r);
                pick_s(simd, simd.greater_than_f32s(b.2, t.2), b, t)
            };
            let mut best_dot = simd.splat_f32s(0.0);
            let mut best = simd.splat_f32s(0.0);
            for (o, &(dx, dy)) in DIRECTIONS.iter().enumerate() {
                let dot = simd.add_f32s(
                    simd.mul_f32s(gx, simd.splat_f32s(dx)),
                    simd.mul_f32s(gy, simd.splat_f32s(dy)),
                );
                let m = simd.greater_than_f32s(dot, best_dot);
                best_dot = simd.select_f32s(m, dot, best_dot);
                best = simd.select_f32s(m, simd.splat_f32s(o as f32), best);
                let neg = simd.neg_f32s(dot);
                let m = simd.greater_than_f32s(neg, best_dot);
                best_dot = simd.select_f32s(m, neg, best_dot);
                best = simd.select_f32s(m, simd.splat_f32s((o + 9) as f32), best);
            }
            S::as_mut_simd_f32s(&mut bins[i..i + lanes]).0[0] = best;
            S::as_mut_simd_f32s(&mut lens[i..i + lanes]).0[0] = simd.sqrt_f32s(len);
            i += lanes;
        }
        for j in i..n {
            (bins[j], lens[j]) = pixel(&ch, j, j < simd_n);
        }
    }
}

/// `lanes` values of `s` from `i` as a vector.
#[inline(always)]
pub(crate) fn load_s<S: pulp::Simd>(s: &[f32], i: usize) -> S::f32s {
    let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
    S::as_simd_f32s(&s[i..i + lanes]).0[0]
}

/// A vector of a channel's gradients from index `i`: x, y, squared length.
#[inline(always)]
fn grad_s<S: pulp::Simd>(simd: S, c: &Neighbours<'_>, i: usize) -> (S::f32s, S::f32s, S::f32s) {
    let gx = simd.sub_f32s(load_s::<S>(c[1], i), load_s::<S>(c[0], i));
    let gy = simd.sub_f32s(load_s::<S>(c[3], i), load_s::<S>(c[2], i));
    (
        gx,
        gy,
        simd.add_f32s(simd.mul_f32s(gx, gx), simd.mul_f32s(gy, gy)),
    )
}

/// Lane by lane, `a` where `m` is set, else `b`.
#[inline(always)]
fn pick_s<S: pulp::Simd>(
    simd: S,
    m: S::m32s,
    a: (S::f32s, S::f32s, S::f32s),
    b: (S::f32s, S::f32s, S::f32s),
) -> (S::f32s, S::f32s, S::f32s) {
    (
        simd.select_f32s(m, a.0, b.0),
        simd.select_f32s(m, a.1, b.1),
        simd.select_f32s(m, a.2, b.2),
    )
}

/// The 31 feature planes from the histograms, each with the zero border a
/// `filter_rows` x `filter_cols` filter needs.
fn features(
    hist: &[f32],
    cells_nr: usize,
    cells_nc: usize,
    filter_rows: usize,
    filter_cols: usize,
) -> Fhog {
    let hist_nc = cells_nc + 2;
    let cell = |r: usize, c: usize| &hist[(r * hist_nc + c) * 18..(r * hist_nc + c + 1) * 18];
    // The energy of each cell: the sum over the 9 unsigned orientations of
    // their squares.
    let norm: Vec<f32> = (0..cells_nr)
        .flat_map(|r| (0..cells_nc).map(move |c| (r, c)))
        .map(|(r, c)| {
            let h = cell(r + 1, c + 1);
            (0..9).fold(0f32, |acc, o| acc + (h[o] + h[o + 9]) * (h[o] + h[o + 9]))
        })
        .collect();
    let norm_at = |r: usize, c: usize| norm[r * cells_nc + c];

    let (hog_nr, hog_nc) = (cells_nr - 2, cells_nc - 2);
    let rows = hog_nr + filter_rows - 1;
    let cols = hog_nc + filter_cols - 1;
    let (row_offset, col_offset) = ((filter_rows - 1) / 2, (filter_cols - 1) / 2);
    let size = rows * cols;
    let mut data = vec![0f32; PLANES * size];
    const EPS: f32 = 0.0001;
    for y in 0..hog_nr {
        for x in 0..hog_nc {
            // The four 2x2 blocks that hold cell (y + 1, x + 1), in dlib's
            // lane order.
            let z = |dy: usize, dx: usize| {
                [
                    norm_at(y + 1 + dy, x + 1 + dx),
                    norm_at(y + dy, x + 1 + dx),
                    norm_at(y + 1 + dy, x + dx),
                    norm_at(y + dy, x + dx),
                ]
            };
            let (z1, z2, z3, z4) = (z(0, 0), z(0, 1), z(1, 0), z(1, 1));
            let mut nn = [0f32; 4];
            let mut n = [0f32; 4];
            for k in 0..4 {
                nn[k] = 0.2 * (z1[k] + z2[k] + z3[k] + z4[k] + EPS).sqrt();
                n[k] = 0.1 / nn[k];
            }
            let h = cell(y + 2, x + 2);
            let at = (y + row_offset) * cols + x + col_offset;
            let mut t = [0f32; 4];
            // Signed orientations: the bin clipped and normalised under
            // each block, summed over the four blocks.
            // (dlib adds them into the texture sums three at a time.)
            for o in (0..18).step_by(3) {
                let lanes = [o, o + 1, o + 2].map(|b| [0, 1, 2, 3].map(|k| h[b].min(nn[k]) * n[k]));
                for (j, l) in lanes.iter().enumerate() {
                    data[(o + j) * size + at] = sum4(*l);
                }
                for k in 0..4 {
                    t[k] += (lanes[0][k] + lanes[1][k]) + lanes[2][k];
                }
            }
            // Unsigned orientations.
            for o in 0..9 {
                let v = h[o] + h[o + 9];
                let lanes = [0, 1, 2, 3].map(|k| v.min(nn[k]) * n[k]);
                data[(18 + o) * size + at] = sum4(lanes);
            }
            // Texture: the signed bins' total under each block.
            for k in 0..4 {
                data[(27 + k) * size + at] = t[k] * (2.0 * 0.2357);
            }
        }
    }
    Fhog { rows, cols, data }
}

/// The sum of four lanes, in the order of dlib's `sum(simd4f)`.
#[inline(always)]
fn sum4(v: [f32; 4]) -> f32 {
    (v[0] + v[1]) + (v[2] + v[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_small_for_a_cell_is_empty() {
        let f = extract(&RgbImage::new(16, 40), 8, 10, 10);
        assert_eq!((f.rows, f.cols, f.data.len()), (0, 0, 0));
    }

    #[test]
    fn a_flat_image_has_no_features() {
        let img = RgbImage::from_pixel(64, 48, image::Rgb([40, 80, 120]));
        let f = extract(&img, 8, 10, 10);
        // 6 x 8 cells less the border of one cell, plus the padding of 9.
        assert_eq!((f.rows, f.cols), (4 + 9, 6 + 9));
        assert!(f.data.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn simd_rows_match_the_one_pixel_reference() {
        // A vertical edge: gradients along x, bin 0 or 9. The SIMD blocks
        // and the scalar reference (`pixel`) agree on every column.
        let img = RgbImage::from_fn(61, 20, |x, y| {
            image::Rgb([
                ((x * 37 + y * 11) % 251) as u8,
                (x * 3) as u8,
                (y * 7) as u8,
            ])
        });
        let w = img.width() as usize;
        // Each row as three planes of floats, one after another.
        let planar: Vec<Vec<f32>> = img
            .as_raw()
            .chunks_exact(w * 3)
            .map(|row| {
                (0..3)
                    .flat_map(|k| row.iter().skip(k).step_by(3).map(|&v| f32::from(v)))
                    .collect()
            })
            .collect();
        let n = w - 2;
        let simd_end = 41;
        let mut rows = RowVotes::new(n);
        for y in 1..19 {
            let window = [&planar[y - 1][..], &planar[y][..], &planar[y + 1][..]];
            pulp::Arch::new().dispatch(RowGradients {
                window,
                width: w,
                simd_end,
                bins: &mut rows.bins,
                lens: &mut rows.lens,
            });
            let ch = neighbours(&window, w, n);
            for i in 0..n {
                let want = pixel(&ch, i, i + 1 < simd_end);
                assert_eq!(
                    (rows.bins[i], rows.lens[i]),
                    want,
                    "row {y}, column {}",
                    i + 1
                );
            }
        }
    }

    #[test]
    fn an_edge_votes_into_the_orientation_across_it() {
        // Dark left half, light right half: the gradient points along +x,
        // so the signed bin 0 and the unsigned bin 18 carry the energy.
        let img = RgbImage::from_fn(64, 64, |x, _| {
            if x < 32 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([200, 200, 200])
            }
        });
        let f = extract(&img, 8, 1, 1);
        let total = |p: usize| f.plane(p).iter().sum::<f32>();
        assert!(total(0) > 0.0 && total(18) > 0.0);
        assert_eq!(total(9), 0.0);
        for p in (1..9).chain(19..27) {
            assert!(total(p) < total(0), "plane {p}");
        }
    }
}
