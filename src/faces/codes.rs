//! Compact codes: every unit row as one signed byte a component with a
//! per-row scale, and what bounds the code's error, so that a scan over the
//! codes gives each cosine as an interval that contains the exact one.
//!
//! A row `x` is coded as `x ≈ s·q` with `q` in `[-127, 127]^d`; a probe `p`
//! as `p ≈ t·u` with `u` 16-bit. Their integer dot product `q·u` is exact
//! (the largest `|u|` is chosen so that it cannot overflow `i32`), and
//!
//! ```text
//! |x·p − s·t·(q·u)| ≤ ‖s·q‖·‖p − t·u‖ + ‖x − s·q‖·‖p‖
//! ```
//!
//! (write `x·p = s·q·(t·u) + s·q·(p − t·u) + (x − s·q)·p` and apply
//! Cauchy–Schwarz to the last two terms). Each row keeps `‖s·q‖` and
//! `‖x − s·q‖`, rounded up; each probe computes its own two norms. For a
//! random 512-d unit vector the bound is about 0.01 in cosine (one point of
//! similarity), so only rows within that distance of the answer's edge are
//! looked at again at full precision.

use rayon::prelude::*;

/// How a collection holds its rows for scanning. The full-precision rows
/// are the source of truth either way and every answer is the same (see
/// `search`); compact codes make a single-probe scan read a quarter of the
/// bytes, and let the full-precision rows stay in the snapshot file (read
/// back only for the few rows a search re-ranks), so that a collection
/// with codes takes about a quarter of the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FaceCodes {
    /// Compact codes once a collection holds [`AUTO_CODES_MIN_ROWS`] faces
    /// (below that a scan takes a few milliseconds either way).
    #[default]
    Auto,
    /// Compact codes always.
    Compact,
    /// Full precision only.
    Full,
}

/// Faces from which [`FaceCodes::Auto`] keeps compact codes.
pub const AUTO_CODES_MIN_ROWS: usize = 65_536;

impl FaceCodes {
    /// Whether a collection of `rows` faces keeps compact codes.
    pub(crate) fn wants(self, rows: usize) -> bool {
        match self {
            FaceCodes::Auto => rows >= AUTO_CODES_MIN_ROWS,
            FaceCodes::Compact => true,
            FaceCodes::Full => false,
        }
    }
}

/// Largest absolute code value of a row.
const ROW_MAX: f64 = 127.0;
/// Rows are padded with zero codes to a multiple of this many components,
/// the width of the kernel's inner step.
const LANES: usize = 32;

/// The compact codes of a matrix of rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Codes {
    dim: usize,
    /// Codes per row in memory: `dim` rounded up to [`LANES`].
    stride: usize,
    codes: Vec<i8>,
    scale: Vec<f32>,
    /// `‖x − s·q‖` per row, rounded up.
    resid: Vec<f32>,
    /// `‖s·q‖` per row, rounded up.
    norm: Vec<f32>,
}

/// Rounds an `f64` up to an `f32` no smaller than it.
pub(crate) fn up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v {
        f.next_up()
    } else {
        f
    }
}

/// Rounds an `f64` down to an `f32` no larger than it.
pub(crate) fn down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v {
        f.next_down()
    } else {
        f
    }
}

/// Relative slack on every computed norm: covers the rounding of the `f64`
/// sums of squares and square roots (each far below `1e-12` for any `dim`
/// a collection allows).
const NORM_SLACK: f64 = 1.0 + 1e-9;

impl Codes {
    /// No rows yet, `dim` components each.
    pub(crate) fn new(dim: usize) -> Self {
        Codes {
            dim,
            stride: dim.div_ceil(LANES) * LANES,
            ..Codes::default()
        }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.scale.len()
    }

    /// Makes room for `rows` more rows, exactly (a collection's codes are
    /// sized once when it is loaded).
    pub(crate) fn reserve_exact(&mut self, rows: usize) {
        self.codes.reserve_exact(rows * self.stride);
        self.scale.reserve_exact(rows);
        self.resid.reserve_exact(rows);
        self.norm.reserve_exact(rows);
    }

    /// Codes row-major `rows` (`dim` components each) and appends them;
    /// large batches are coded on all cores.
    pub(crate) fn extend(&mut self, rows: &[f32]) {
        let Some(n) = rows.len().checked_div(self.dim) else {
            return;
        };
        let (start, stride) = (self.len(), self.stride);
        self.codes.resize((start + n) * stride, 0);
        self.scale.resize(start + n, 0.0);
        self.resid.resize(start + n, 0.0);
        self.norm.resize(start + n, 0.0);
        // 1024 rows a task; each task's loop compiled for the best
        // instruction set the CPU has (AVX2 where it can), as the kernel is.
        const TASK: usize = 1024;
        let (dim, arch) = (self.dim, pulp::Arch::new());
        let rows_in = rows.par_chunks(TASK * dim);
        let out = self.codes[start * stride..].par_chunks_mut(TASK * stride);
        let meta = self.scale[start..]
            .par_chunks_mut(TASK)
            .zip(self.resid[start..].par_chunks_mut(TASK))
            .zip(self.norm[start..].par_chunks_mut(TASK));
        rows_in
            .zip(out)
            .zip(meta)
            .for_each(|((xs, qs), ((ss, rs), ms))| {
                arch.dispatch(
                    #[inline(always)]
                    || {
                        let rows = xs.chunks_exact(dim).zip(qs.chunks_exact_mut(stride));
                        for ((x, q), ((s, r), m)) in rows.zip(ss.iter_mut().zip(rs).zip(ms)) {
                            (*s, *r, *m) = encode(x, q);
                        }
                    },
                )
            });
    }

    /// Keeps the rows whose `keep` is true, in order.
    pub(crate) fn retain(&mut self, keep: &[bool]) {
        let mut kept = 0;
        for (row, _) in keep.iter().enumerate().filter(|&(_, &k)| k) {
            if row != kept {
                self.codes.copy_within(
                    row * self.stride..(row + 1) * self.stride,
                    kept * self.stride,
                );
                self.scale[kept] = self.scale[row];
                self.resid[kept] = self.resid[row];
                self.norm[kept] = self.norm[row];
            }
            kept += 1;
        }
        self.codes.truncate(kept * self.stride);
        self.scale.truncate(kept);
        self.resid.truncate(kept);
        self.norm.truncate(kept);
    }

    /// The codes of rows `first..first + n`.
    fn block(&self, first: usize, n: usize) -> &[i8] {
        &self.codes[first * self.stride..(first + n) * self.stride]
    }
}

/// Sums of squares are kept in this many lanes, so that they vectorise.
const L: usize = 8;

/// Codes [`L`] components `xs` of a row into `qs` with `scale` (`inv` =
/// 1 / `scale`), adding the squares of their residuals and of their
/// decoded values to lanes `r2` and `n2`. Fixed-size arrays, so that the
/// loop compiles to SIMD; the nearest integer comes from adding 1.5·2^23,
/// which leaves it in the low mantissa bits (for any |t| <= 127), so there
/// is no float-to-int conversion either.
#[inline(always)]
fn code_lanes(
    xs: &[f32; L],
    qs: &mut [i8; L],
    (scale, inv): (f32, f32),
    r2: &mut [f32; L],
    n2: &mut [f32; L],
) {
    const MAGIC: f32 = 12_582_912.0;
    for i in 0..L {
        let y = (xs[i] * inv).clamp(-127.0, 127.0) + MAGIC;
        qs[i] = (y.to_bits() as i32 - MAGIC.to_bits() as i32) as i8;
        let d = scale * (y - MAGIC);
        r2[i] += (xs[i] - d) * (xs[i] - d);
        n2[i] += d * d;
    }
}

/// Codes row `x` into `q` (its first `x.len()` codes; the rest stay zero):
/// gives its scale, `‖x − s·q‖` and `‖s·q‖`
/// (both rounded up).
#[inline(always)]
fn encode(x: &[f32], q: &mut [i8]) -> (f32, f32, f32) {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        q.fill(0);
        let n = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        return (0.0, up(n * NORM_SLACK), 0.0);
    }
    let scale = (f64::from(max) / ROW_MAX) as f32;
    let inv = 1.0 / scale;
    // Sums of squares in f32, eight lanes so that they vectorise; what
    // that costs in accuracy is bounded below. The nearest integer comes
    // from adding 1.5·2^23, which leaves it in the low mantissa bits (any
    // |t| <= 127); no float-to-int conversion, so the loop stays in SIMD.
    let (mut r2, mut n2) = ([0f32; L], [0f32; L]);
    let whole = x.len() / L * L;
    let (x_main, x_rest) = x.split_at(whole);
    let (q_main, q_rest) = q[..x.len()].split_at_mut(whole);
    for (xs, qs) in x_main.chunks_exact(L).zip(q_main.chunks_exact_mut(L)) {
        if let (Ok(xs), Ok(qs)) = (xs.try_into(), qs.try_into()) {
            code_lanes(xs, qs, (scale, inv), &mut r2, &mut n2);
        }
    }
    // The last few components, padded with zeros (which add nothing).
    let (mut xs, mut qs) = ([0f32; L], [0i8; L]);
    xs[..x_rest.len()].copy_from_slice(x_rest);
    code_lanes(&xs, &mut qs, (scale, inv), &mut r2, &mut n2);
    q_rest.copy_from_slice(&qs[..q_rest.len()]);
    let (r2, n2) = (r2.iter().sum::<f32>(), n2.iter().sum::<f32>());
    // Each computed `v − fl(s·k)` is within 2u·max of the exact `v − s·k`
    // (one rounding of a product at most `max`, one of the difference),
    // so the exact residual norm is within √d·2u·max of the computed one;
    // a sum of d squares in f32 is within γ_{d+2} of its exact value, and
    // so is ‖fl(s·q)‖ of ‖s·q‖ once the products' rounding is added.
    // Squares below f32's smallest normal may be lost outright: at most
    // d of them (far below anything a unit vector's cosine can notice).
    let u = f64::from(f32::EPSILON) / 2.0;
    let dim = x.len() as f64;
    let gamma = (dim + 2.0) * u / (1.0 - (dim + 2.0) * u);
    let rel = (1.0 + gamma) * (1.0 + u) * NORM_SLACK;
    let lost = (dim * f64::from(f32::MIN_POSITIVE)).sqrt();
    let resid = f64::from(r2).sqrt() * rel + dim.sqrt() * 2.0 * u * f64::from(max) + lost;
    let norm = f64::from(n2).sqrt() * rel * (1.0 + u) + lost;
    (scale, up(resid), up(norm))
}

/// A probe coded for [`Codes`]: 16-bit components and its error norms.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// Components, padded like the rows.
    q: Vec<i16>,
    scale: f64,
    /// `‖p − t·u‖`, rounded up.
    resid: f64,
    /// `‖p‖`, rounded up.
    norm: f64,
}

impl Probe {
    /// The bound on `|x·p − s·t·(q·u)|` for a row with `‖s·q‖ <= norm` and
    /// `‖x − s·q‖ <= resid` (the module's inequality), plus [`SLACK`].
    fn error(&self, norm: f32, resid: f32) -> f64 {
        f64::from(norm) * self.resid + f64::from(resid) * self.norm + SLACK
    }

    /// Codes probe `p` for rows of `codes`' width.
    pub(crate) fn new(codes: &Codes, p: &[f32]) -> Probe {
        // |q·u| <= 127 * max|u| * stride must fit an i32, and so must the
        // pairwise sums of the kernel's multiply-add (2 * 127 * max|u|).
        let fit = (f64::from(i32::MAX) / (ROW_MAX * codes.stride.max(1) as f64)).floor();
        let umax = fit.min(f64::from(i16::MAX / 2)).max(1.0);
        let max = p.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 {
            f64::from(max) / umax
        } else {
            0.0
        };
        let (mut r2, mut n2) = (0f64, 0f64);
        let mut q = vec![0i16; codes.stride];
        for (c, &v) in q.iter_mut().zip(p) {
            let u = if scale > 0.0 {
                (f64::from(v) / scale).round().clamp(-umax, umax)
            } else {
                0.0
            };
            *c = u as i16;
            r2 += (f64::from(v) - scale * f64::from(*c)).powi(2);
            n2 += f64::from(v) * f64::from(v);
        }
        Probe {
            q,
            scale,
            resid: r2.sqrt() * NORM_SLACK,
            norm: n2.sqrt() * NORM_SLACK,
        }
    }
}

/// Absolute slack added to every interval: the `f64` products of the
/// approximation (relative error below `1e-15`) and the rounding of the
/// exact cosine to `f32` (at most half an ulp of a number below 2).
const SLACK: f64 = 2.5e-7;

/// Scores of a block of rows against coded probes: exact integer products,
/// from which [`Scored::approx`] gives quick `f32` cosines and
/// [`Scored::interval`] each row's tight interval.
#[derive(Debug, Default)]
pub(crate) struct Scored {
    first: usize,
    rows: usize,
    dots: Vec<i32>,
}

impl Scored {
    /// Scores rows `first..first + rows` of `codes` against `probes`; the
    /// quick cosines go column-major into `approx`, and `reach[j]` bounds
    /// how far any of probe `j`'s is from the exact cosine.
    pub(crate) fn score(
        &mut self,
        codes: &Codes,
        first: usize,
        rows: usize,
        probes: &[Probe],
        approx: &mut [f32],
        reach: &mut [f32],
    ) {
        self.first = first;
        self.rows = rows;
        self.dots.resize(rows * probes.len(), 0);
        kernel::dots(
            codes.block(first, rows),
            codes.stride,
            probes,
            &mut self.dots,
        );
        let range = first..first + rows;
        let scale = &codes.scale[range.clone()];
        let norm = codes.norm[range.clone()]
            .iter()
            .fold(0f32, |m, &v| m.max(v));
        let resid = codes.resid[range].iter().fold(0f32, |m, &v| m.max(v));
        for (j, p) in probes.iter().enumerate() {
            let t = p.scale as f32;
            let col = j * rows..(j + 1) * rows;
            for ((a, &d), &s) in approx[col.clone()]
                .iter_mut()
                .zip(&self.dots[col])
                .zip(scale)
            {
                *a = d as f32 * (s * t);
            }
            // The quick cosine is three f32 roundings (|d| < 2^31 is
            // rounded once, then two products) away from s·t·d, whose
            // magnitude is at most ‖s·q‖·‖t·u‖ < 2; 4 ulps of 2 cover it.
            let quick = 4.0 * 2.0 * f64::from(f32::EPSILON);
            reach[j] = up(p.error(norm, resid) + quick);
        }
    }

    /// The interval of row `first + i`'s cosine with probe `j`.
    pub(crate) fn interval(
        &self,
        codes: &Codes,
        probes: &[Probe],
        j: usize,
        i: usize,
    ) -> (f32, f32) {
        let (p, row) = (&probes[j], self.first + i);
        let d = self.dots[j * self.rows + i];
        let approx = f64::from(codes.scale[row]) * p.scale * f64::from(d);
        let err = p.error(codes.norm[row], codes.resid[row]);
        (down(approx - err), up(approx + err))
    }
}

mod kernel {
    //! Integer dot products of code rows with coded probes.

    use super::{Probe, LANES};

    /// `out[j * rows + i] = codes_row_i · probe_j`, rows `stride` wide.
    pub(super) fn dots(codes: &[i8], stride: usize, probes: &[Probe], out: &mut [i32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            return avx2::dots(simd, codes, stride, probes, out);
        }
        portable(codes, stride, probes, out)
    }

    /// The same products in plain Rust, for CPUs without AVX2.
    pub(super) fn portable(codes: &[i8], stride: usize, probes: &[Probe], out: &mut [i32]) {
        let rows = codes.len() / stride.max(1);
        for (j, p) in probes.iter().enumerate() {
            for (i, row) in codes.chunks_exact(stride).enumerate() {
                out[j * rows + i] = row
                    .iter()
                    .zip(&p.q)
                    .map(|(&a, &b)| i32::from(a) * i32::from(b))
                    .sum();
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        use std::arch::x86_64::{__m128i, __m256i};

        use pulp::bytemuck::cast;
        use pulp::x86::V3;

        use super::{Probe, LANES};

        /// One step of a row: 32 codes widened to two vectors of 16-bit.
        #[inline(always)]
        fn widen(simd: V3, c: &[i8]) -> [__m256i; 2] {
            let a: [i8; 16] = c[..16].try_into().unwrap_or([0; 16]);
            let b: [i8; 16] = c[16..LANES].try_into().unwrap_or([0; 16]);
            [
                simd.avx2._mm256_cvtepi8_epi16(cast::<_, __m128i>(a)),
                simd.avx2._mm256_cvtepi8_epi16(cast::<_, __m128i>(b)),
            ]
        }

        /// `acc + w·p` over one step, in 32-bit lanes.
        #[inline(always)]
        fn step(simd: V3, acc: __m256i, w: [__m256i; 2], p: [__m256i; 2]) -> __m256i {
            let m = simd.avx2._mm256_add_epi32(
                simd.avx2._mm256_madd_epi16(w[0], p[0]),
                simd.avx2._mm256_madd_epi16(w[1], p[1]),
            );
            simd.avx2._mm256_add_epi32(acc, m)
        }

        /// The four sums of four accumulators' lanes.
        #[inline(always)]
        fn sums(simd: V3, acc: [__m256i; 4]) -> [i32; 4] {
            let a = simd.avx2._mm256_hadd_epi32(acc[0], acc[1]);
            let b = simd.avx2._mm256_hadd_epi32(acc[2], acc[3]);
            let c = simd.avx2._mm256_hadd_epi32(a, b);
            let lo = simd.avx._mm256_castsi256_si128(c);
            let hi = simd.avx2._mm256_extracti128_si256::<1>(c);
            cast(simd.sse2._mm_add_epi32(lo, hi))
        }

        /// Probes are taken four at a time against two rows at a time, each
        /// row's codes widened to 16 bits once for all four probes and each
        /// probe step loaded once for both rows; a probe left over is taken
        /// against four rows at a time.
        pub(super) fn dots(
            simd: V3,
            codes: &[i8],
            stride: usize,
            probes: &[Probe],
            out: &mut [i32],
        ) {
            let rows = codes.len() / stride.max(1);
            let steps = stride / LANES;
            let packed: Vec<Vec<[__m256i; 2]>> = probes
                .iter()
                .map(|p| {
                    p.q.chunks_exact(LANES)
                        .map(|c| {
                            let a: [i16; 16] = c[..16].try_into().unwrap_or([0; 16]);
                            let b: [i16; 16] = c[16..].try_into().unwrap_or([0; 16]);
                            [cast(a), cast(b)]
                        })
                        .collect()
                })
                .collect();
            let zero = simd.avx._mm256_setzero_si256();
            let quads = packed.chunks_exact(4);
            let singles = quads.remainder();
            for (q, ps) in quads.enumerate() {
                simd.vectorize(
                    #[inline(always)]
                    || {
                        let ps: [&[[__m256i; 2]]; 4] = [&ps[0], &ps[1], &ps[2], &ps[3]];
                        // Two rows at a time: each probe step loaded once
                        // serves both (eight accumulators).
                        let pairs = codes.chunks_exact(2 * stride);
                        let rest = pairs.remainder();
                        let mut i = 0;
                        for two in pairs {
                            let (r0, r1) = two.split_at(stride);
                            let (mut a0, mut a1) = ([zero; 4], [zero; 4]);
                            let steps = r0.chunks_exact(LANES).zip(r1.chunks_exact(LANES));
                            for (s, (c0, c1)) in steps.enumerate() {
                                let (w0, w1) = (widen(simd, c0), widen(simd, c1));
                                for g in 0..4 {
                                    a0[g] = step(simd, a0[g], w0, ps[g][s]);
                                    a1[g] = step(simd, a1[g], w1, ps[g][s]);
                                }
                            }
                            for (r, acc) in [a0, a1].into_iter().enumerate() {
                                for (g, v) in sums(simd, acc).into_iter().enumerate() {
                                    out[(4 * q + g) * rows + i + r] = v;
                                }
                            }
                            i += 2;
                        }
                        for row in rest.chunks_exact(stride) {
                            let mut acc = [zero; 4];
                            for s in 0..steps {
                                let w = widen(simd, &row[s * LANES..]);
                                for g in 0..4 {
                                    acc[g] = step(simd, acc[g], w, ps[g][s]);
                                }
                            }
                            for (g, v) in sums(simd, acc).into_iter().enumerate() {
                                out[(4 * q + g) * rows + i] = v;
                            }
                        }
                    },
                );
            }
            let first = probes.len() - singles.len();
            for (j, p) in singles.iter().enumerate() {
                let col = &mut out[(first + j) * rows..(first + j + 1) * rows];
                simd.vectorize(
                    #[inline(always)]
                    || {
                        let quad_rows = codes.chunks_exact(4 * stride);
                        let rest = quad_rows.remainder();
                        let mut i = 0;
                        for four in quad_rows {
                            let (r0, r123) = four.split_at(stride);
                            let (r1, r23) = r123.split_at(stride);
                            let (r2, r3) = r23.split_at(stride);
                            let mut acc = [zero; 4];
                            let steps = r0
                                .chunks_exact(LANES)
                                .zip(r1.chunks_exact(LANES))
                                .zip(r2.chunks_exact(LANES))
                                .zip(r3.chunks_exact(LANES))
                                .zip(p);
                            for ((((c0, c1), c2), c3), &pp) in steps {
                                acc[0] = step(simd, acc[0], widen(simd, c0), pp);
                                acc[1] = step(simd, acc[1], widen(simd, c1), pp);
                                acc[2] = step(simd, acc[2], widen(simd, c2), pp);
                                acc[3] = step(simd, acc[3], widen(simd, c3), pp);
                            }
                            col[i..i + 4].copy_from_slice(&sums(simd, acc));
                            i += 4;
                        }
                        for row in rest.chunks_exact(stride) {
                            let mut acc = [zero; 4];
                            for s in 0..steps {
                                acc[0] = step(simd, acc[0], widen(simd, &row[s * LANES..]), p[s]);
                            }
                            col[i] = sums(simd, acc)[0];
                            i += 1;
                        }
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored `‖x − s·q‖` and `‖s·q‖` are upper bounds of the exact
    /// values (computed here in f64 from the codes), and tight ones.
    #[test]
    fn stored_norms_bound_the_exact_norms() {
        for dim in [1, 7, 128, 512, 1000] {
            let rows: Vec<f32> = (0..50 * dim)
                .map(|i| {
                    let v = ((i as u64 * 2_654_435_761) % 10_007) as f32 / 5_003.5 - 1.0;
                    // Some rows of tiny or huge values, some with one spike.
                    match (i / dim) % 5 {
                        0 => v * 1e-30,
                        1 => v * 1e15,
                        2 if i % dim == 3 => 50.0,
                        _ => v,
                    }
                })
                .collect();
            let mut codes = Codes::new(dim);
            codes.extend(&rows);
            for (r, x) in rows.chunks(dim).enumerate() {
                let q = &codes.codes[r * codes.stride..r * codes.stride + dim];
                let s = f64::from(codes.scale[r]);
                let resid: f64 = x
                    .iter()
                    .zip(q)
                    .map(|(&v, &c)| (f64::from(v) - s * f64::from(c)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let norm: f64 = q
                    .iter()
                    .map(|&c| (s * f64::from(c)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let (rb, nb) = (f64::from(codes.resid[r]), f64::from(codes.norm[r]));
                assert!(
                    rb >= resid && rb <= resid * 1.001 + 1e-5 * norm + 1e-17,
                    "dim {dim} row {r}: resid {rb} vs {resid}"
                );
                assert!(
                    nb >= norm && nb <= norm * 1.001 + 1e-17,
                    "dim {dim} row {r}: norm {nb} vs {norm}"
                );
            }
        }
    }

    #[test]
    fn kernel_matches_portable_for_any_probe_count() {
        // Four, seven and sixteen kernel steps a row (128-d and 512-d
        // collections take four and sixteen); 37 rows leave a row over
        // after the kernel's pairs and fours of rows.
        for dim in [100, 200, 512] {
            let rows: Vec<f32> = (0..37 * dim)
                .map(|i| ((i * 7919) % 199) as f32 / 99.0 - 1.0)
                .collect();
            let mut codes = Codes::new(dim);
            codes.extend(&rows);
            for np in 1..=9 {
                let probes: Vec<Probe> = (0..np)
                    .map(|j| Probe::new(&codes, &rows[j * dim..(j + 1) * dim]))
                    .collect();
                let mut a = vec![0; 37 * np];
                let mut b = vec![0; 37 * np];
                kernel::dots(&codes.codes, codes.stride, &probes, &mut a);
                kernel::portable(&codes.codes, codes.stride, &probes, &mut b);
                assert_eq!(a, b, "dim {dim}, {np} probes");
            }
        }
    }
}
