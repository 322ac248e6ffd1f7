//! Compact codes: every unit row as one signed byte a component with a
//! per-row scale, held as two planes of four bits, and what bounds the
//! codes' error, so that a scan over the codes gives each cosine as an
//! interval that contains the exact one.
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
//!
//! Each code is split as `q = 16·h + l` (`h = q >> 4` in `[-8, 7]`, `l` in
//! `[0, 15]`), and the `h + 8` and the `l` are kept in two planes of four
//! bits a code. The *high* plane alone is a coarser code of the same row,
//! `q̂ = 16·h + 7.5` (within 7.5 of `q`), with its own residual
//! `‖x − s·q̂‖` kept per row, so the same inequality bounds a *coarse* score
//! of a probe coded to 8 bits (`p ≈ t'·w`) against the high plane:
//!
//! ```text
//! |x·p − s·t'·(q̂·w)| ≤ ‖s·q̂‖·‖p − t'·w‖ + ‖x − s·q̂‖·‖p‖
//! ```
//!
//! with `‖s·q̂‖ ≤ ‖s·q‖ + ‖x − s·q‖ + ‖x − s·q̂‖`. That bound is about 0.11
//! for a random 128-d unit vector, ten times the full code's, but a coarse
//! scan reads half the bytes: a single-probe search scans the high plane
//! and *refines* (reads the low plane of, and scores at the full code's
//! precision) only the rows whose coarse interval can still reach the
//! answer; on random data that is a few rows in ten thousand. Searches of
//! many probes, where the products cost more than the reads, and searches
//! for users, which keep no per-row intervals, read both planes.
//!
//! The planes are laid out in groups of [`GROUP`] components a row: byte
//! `b` of a row's group `g` holds component `GROUP·g + b` in its low four
//! bits and component `GROUP·g + GROUP/2 + b` in its high four, so that a
//! vector of bytes splits into two vectors of components in order.

use rayon::prelude::*;

/// How a collection holds its rows for scanning. The full-precision rows
/// are the source of truth either way and every answer is the same (see
/// `search`); compact codes make a single-probe scan read an eighth of the
/// bytes (a batch a quarter), and let the full-precision rows stay in the
/// snapshot file (read
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
/// Rows are padded with zero codes to a multiple of this many components:
/// one group of the two planes (64 bytes of each).
const GROUP: usize = 128;

/// The compact codes of a matrix of rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Codes {
    dim: usize,
    /// Components per row in memory: `dim` rounded up to [`GROUP`].
    stride: usize,
    /// `h + 8` of every code, two a byte (see the module's layout).
    high: Vec<u8>,
    /// `l` of every code, laid out as `high`.
    low: Vec<u8>,
    scale: Vec<f32>,
    /// `‖x − s·q‖` per row, rounded up.
    resid: Vec<f32>,
    /// `‖x − s·q̂‖` per row (the high plane's residual), rounded up.
    coarse: Vec<f32>,
    /// The largest `resid` and `coarse` of any row, which bound every
    /// row's quick score, and the largest `‖s·q‖` (rounded up) of any row
    /// ever coded, which bounds every row's: the rows are unit vectors, so
    /// a per-row norm would tighten an interval by a few millionths of the
    /// probe's own error at most, not worth 4 bytes a face.
    most: Most,
}

/// The largest error norms of any row.
#[derive(Debug, Clone, Copy, Default)]
struct Most {
    resid: f32,
    norm: f32,
    coarse: f32,
}

/// The largest of `v` (0 for none).
fn most(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, &x| m.max(x))
}

impl Most {
    fn max(self, o: Most) -> Most {
        Most {
            resid: self.resid.max(o.resid),
            norm: self.norm.max(o.norm),
            coarse: self.coarse.max(o.coarse),
        }
    }
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
            stride: dim.div_ceil(GROUP) * GROUP,
            ..Codes::default()
        }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.scale.len()
    }

    /// Bytes of one row in one plane.
    fn plane_stride(&self) -> usize {
        self.stride / 2
    }

    /// Makes room for `rows` more rows, exactly (a collection's codes are
    /// sized once when it is loaded).
    pub(crate) fn reserve_exact(&mut self, rows: usize) {
        self.high.reserve_exact(rows * self.plane_stride());
        self.low.reserve_exact(rows * self.plane_stride());
        self.scale.reserve_exact(rows);
        self.resid.reserve_exact(rows);
        self.coarse.reserve_exact(rows);
    }

    /// Codes row-major `rows` (`dim` components each) and appends them;
    /// large batches are coded on all cores.
    pub(crate) fn extend(&mut self, rows: &[f32]) {
        let Some(n) = rows.len().checked_div(self.dim) else {
            return;
        };
        let (start, half) = (self.len(), self.plane_stride());
        self.high.resize((start + n) * half, 0);
        self.low.resize((start + n) * half, 0);
        for v in [&mut self.scale, &mut self.resid, &mut self.coarse] {
            v.resize(start + n, 0.0);
        }
        // 1024 rows a task; each task's loop compiled for the best
        // instruction set the CPU has, as the kernels are.
        const TASK: usize = 1024;
        let (dim, stride, arch) = (self.dim, self.stride, pulp::Arch::new());
        let rows_in = rows.par_chunks(TASK * dim);
        let planes = self.high[start * half..]
            .par_chunks_mut(TASK * half)
            .zip(self.low[start * half..].par_chunks_mut(TASK * half));
        let meta = self.scale[start..]
            .par_chunks_mut(TASK)
            .zip(self.resid[start..].par_chunks_mut(TASK))
            .zip(self.coarse[start..].par_chunks_mut(TASK));
        let norm = rows_in
            .zip(planes)
            .zip(meta)
            .map(|((xs, (hs, ls)), ((ss, rs), cs))| {
                let mut q = vec![0i8; stride];
                arch.dispatch(
                    #[inline(always)]
                    || {
                        let rows = xs
                            .chunks_exact(dim)
                            .zip(hs.chunks_exact_mut(half).zip(ls.chunks_exact_mut(half)));
                        let meta = ss.iter_mut().zip(rs).zip(cs);
                        let mut most = 0f32;
                        for ((x, (h, l)), ((s, r), c)) in rows.zip(meta) {
                            let norm;
                            (*s, *r, norm, *c) = encode(x, &mut q);
                            most = most.max(norm);
                            split(&q, h, l);
                        }
                        most
                    },
                )
            })
            .reduce(|| 0f32, f32::max);
        self.most = self.most.max(Most {
            resid: most(&self.resid[start..]),
            norm,
            coarse: most(&self.coarse[start..]),
        });
    }

    /// Keeps the rows whose `keep` is true, in order.
    pub(crate) fn retain(&mut self, keep: &[bool]) {
        let (mut kept, half) = (0, self.plane_stride());
        for (row, _) in keep.iter().enumerate().filter(|&(_, &k)| k) {
            if row != kept {
                let (from, to) = (row * half..(row + 1) * half, kept * half);
                self.high.copy_within(from.clone(), to);
                self.low.copy_within(from, to);
                self.scale[kept] = self.scale[row];
                self.resid[kept] = self.resid[row];
                self.coarse[kept] = self.coarse[row];
            }
            kept += 1;
        }
        self.high.truncate(kept * half);
        self.low.truncate(kept * half);
        for v in [&mut self.scale, &mut self.resid, &mut self.coarse] {
            v.truncate(kept);
        }
        // The largest norm of the rows before still bounds the rows kept.
        self.most.resid = most(&self.resid);
        self.most.coarse = most(&self.coarse);
    }

    /// Row `row`'s high and low planes.
    fn planes(&self, row: usize) -> (&[u8], &[u8]) {
        let half = self.plane_stride();
        let at = row * half..(row + 1) * half;
        (&self.high[at.clone()], &self.low[at])
    }

    /// The full codes of rows `first..first + n`, row-major, `stride`
    /// wide, into `out`.
    fn unpack(&self, first: usize, n: usize, out: &mut Vec<i8>) {
        out.resize(n * self.stride, 0);
        let half = self.plane_stride();
        let (high, low) = (
            &self.high[first * half..(first + n) * half],
            &self.low[first * half..(first + n) * half],
        );
        // Compiled for the best instruction set the CPU has, as the
        // kernels are.
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || {
                for ((q, h), l) in out
                    .chunks_exact_mut(GROUP)
                    .zip(high.chunks_exact(GROUP / 2))
                    .zip(low.chunks_exact(GROUP / 2))
                {
                    join(h, l, q);
                }
            },
        );
    }
}

/// Splits one row's full codes `q` (`stride` wide) into its two planes.
#[inline(always)]
fn split(q: &[i8], high: &mut [u8], low: &mut [u8]) {
    const HALF: usize = GROUP / 2;
    for ((q, h), l) in q
        .chunks_exact(GROUP)
        .zip(high.chunks_exact_mut(HALF))
        .zip(low.chunks_exact_mut(HALF))
    {
        let (a, b) = q.split_at(HALF);
        for i in 0..HALF {
            let (ha, hb) = (((a[i] >> 4) + 8) as u8, ((b[i] >> 4) + 8) as u8);
            h[i] = ha | hb << 4;
            l[i] = (a[i] as u8 & 15) | (b[i] as u8) << 4;
        }
    }
}

/// One group's full codes (`q`, [`GROUP`] long) from its two planes:
/// `16·(h + 8) + l` is the code plus 128 as a byte, so flipping its top
/// bit gives the code (byte operations only, so the loop vectorises).
#[inline(always)]
fn join(high: &[u8], low: &[u8], q: &mut [i8]) {
    const HALF: usize = GROUP / 2;
    let (a, b) = q.split_at_mut(HALF);
    for i in 0..HALF {
        let (h, l) = (high[i], low[i]);
        a[i] = ((h << 4 | (l & 15)) ^ 0x80) as i8;
        b[i] = ((h & 0xf0 | l >> 4) ^ 0x80) as i8;
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
/// gives its scale, `‖x − s·q‖`, `‖s·q‖` and `‖x − s·q̂‖` (`q̂ = 16·(q >> 4)
/// + 7.5`, the high plane's value), all but the scale rounded up.
#[inline(always)]
fn encode(x: &[f32], q: &mut [i8]) -> (f32, f32, f32, f32) {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        // All-zero codes: a row of zeros, or one that is not finite (whose
        // scores the infinite residual leaves unbounded).
        q.fill(0);
        let n = up(x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt() * NORM_SLACK);
        return (0.0, n, 0.0, n);
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
    let c2 = coarse_squares(x, &q[..x.len()], scale);
    let (r2, n2) = (r2.iter().sum::<f32>(), n2.iter().sum::<f32>());
    // Each computed `v − fl(s·k)` is within 2u·max of the exact `v − s·k`
    // (one rounding of a product at most `max`, one of the difference),
    // so the exact residual norm is within √d·2u·max of the computed one;
    // a sum of d squares in f32 is within γ_{d+2} of its exact value, and
    // so is ‖fl(s·q)‖ of ‖s·q‖ once the products' rounding is added.
    // Squares below f32's smallest normal may be lost outright: at most
    // d of them (far below anything a unit vector's cosine can notice).
    // The same holds for the coarse residual: |s·q̂| <= s·120.5 < max, and
    // `v − s·q̂` is at most 8·s.
    let u = f64::from(f32::EPSILON) / 2.0;
    let dim = x.len() as f64;
    let gamma = (dim + 2.0) * u / (1.0 - (dim + 2.0) * u);
    let rel = (1.0 + gamma) * (1.0 + u) * NORM_SLACK;
    let lost = (dim * f64::from(f32::MIN_POSITIVE)).sqrt();
    let resid =
        |sq: f32| up(f64::from(sq).sqrt() * rel + dim.sqrt() * 2.0 * u * f64::from(max) + lost);
    let norm = f64::from(n2).sqrt() * rel * (1.0 + u) + lost;
    (scale, resid(r2), up(norm), resid(c2))
}

/// The f32 sum of the squares of `x − s·q̂` over row `x` and its full
/// codes `q` (`q̂ = 16·(q >> 4) + 7.5`), in [`L`] lanes so that it
/// vectorises.
#[inline(always)]
fn coarse_squares(x: &[f32], q: &[i8], s: f32) -> f32 {
    // An inlined function, not a closure: compiled with the caller's
    // target features.
    #[inline(always)]
    fn lanes(x: &[f32], q: &[i8], s: f32, r2: &mut [f32; L]) {
        for i in 0..x.len().min(L) {
            let d = x[i] - s * (f32::from(q[i] >> 4) * 16.0 + 7.5);
            r2[i] += d * d;
        }
    }
    let mut r2 = [0f32; L];
    let (xs, qs) = (x.chunks_exact(L), q.chunks_exact(L));
    let (x_rest, q_rest) = (xs.remainder(), qs.remainder());
    for (x, q) in xs.zip(qs) {
        lanes(x, q, s, &mut r2);
    }
    lanes(x_rest, q_rest, s, &mut r2);
    r2.iter().sum()
}

/// A probe coded for [`Codes`]: 16-bit components for the full codes,
/// 8-bit ones for the high plane, and their error norms.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// Components, padded like the rows.
    q: Vec<i16>,
    scale: f64,
    /// `‖p − t·u‖`, rounded up.
    resid: f64,
    /// `‖p‖`, rounded up.
    norm: f64,
    /// 8-bit components `w`, padded like the rows.
    w: Vec<i8>,
    /// `t'`, the 8-bit components' scale.
    wscale: f64,
    /// `‖p − t'·w‖`, rounded up.
    wresid: f64,
    /// `Σ w`.
    wsum: i64,
}

impl Probe {
    /// The bound on `|x·p − s·t·(q·u)|` for a row with `‖s·q‖ <= norm` and
    /// `‖x − s·q‖ <= resid` (the module's inequality), plus [`SLACK`].
    fn error(&self, norm: f32, resid: f32) -> f64 {
        f64::from(norm) * self.resid + f64::from(resid) * self.norm + SLACK
    }

    /// The bound on a coarse score's error for a row with `‖s·q‖ <= norm`,
    /// `‖x − s·q‖ <= resid` and `‖x − s·q̂‖ <= coarse`, plus [`SLACK`].
    fn coarse_error(&self, norm: f32, resid: f32, coarse: f32) -> f64 {
        let rows = f64::from(norm) + f64::from(resid) + f64::from(coarse);
        rows * NORM_SLACK * self.wresid + f64::from(coarse) * self.norm + SLACK
    }

    /// Codes probe `p` for rows of `codes`' width.
    pub(crate) fn new(codes: &Codes, p: &[f32]) -> Probe {
        // |q·u| <= 127 * max|u| * stride must fit an i32, and so must the
        // pairwise sums of the kernel's multiply-add (2 * 127 * max|u|).
        let fit = (f64::from(i32::MAX) / (ROW_MAX * codes.stride.max(1) as f64)).floor();
        let umax = fit.min(f64::from(i16::MAX / 2)).max(1.0);
        let max = f64::from(p.iter().fold(0f32, |m, v| m.max(v.abs())));
        let (q, scale, resid) = quantise(p, codes.stride, max / umax, umax);
        let (w, wscale, wresid) = quantise(p, codes.stride, max / ROW_MAX, ROW_MAX);
        let norm = p.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        Probe {
            q: q.into_iter().map(|v| v as i16).collect(),
            scale,
            resid,
            norm: norm * NORM_SLACK,
            wsum: w.iter().map(|&v| v as i64).sum(),
            w: w.into_iter().map(|v| v as i8).collect(),
            wscale,
            wresid,
        }
    }
}

/// Rounds `p / scale` to integers in `[-top, top]` (`stride` of them, the
/// padding zero): gives them, the scale (0 for a zero probe) and
/// `‖p − scale·q‖` rounded up.
fn quantise(p: &[f32], stride: usize, scale: f64, top: f64) -> (Vec<i32>, f64, f64) {
    let scale = if scale > 0.0 { scale } else { 0.0 };
    let mut q = vec![0i32; stride];
    let mut r2 = 0f64;
    for (c, &v) in q.iter_mut().zip(p) {
        let u = if scale > 0.0 {
            (f64::from(v) / scale).round().clamp(-top, top)
        } else {
            0.0
        };
        *c = u as i32;
        r2 += (f64::from(v) - scale * u).powi(2);
    }
    (q, scale, r2.sqrt() * NORM_SLACK)
}

/// Absolute slack added to every interval: the `f64` products of the
/// approximation (relative error below `1e-15`) and the rounding of the
/// exact cosine to `f32` (at most half an ulp of a number below 2).
const SLACK: f64 = 2.5e-7;

/// A quick cosine is four f32 roundings (the probe's scale, the integer
/// product, two products) away from its exact value `s·t·d`, whose
/// magnitude is at most `‖s·q‖·‖t·u‖ < 2` (`< 1.3` for a coarse one); 4
/// ulps of 2 cover it twice over.
const QUICK: f64 = 4.0 * 2.0 * f32::EPSILON as f64;

/// How a block is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Pass {
    /// Both planes: every quick cosine within the full codes' bound.
    #[default]
    Full,
    /// The high plane: coarse quick cosines; a row's tight interval is
    /// computed when asked for, from both planes.
    Coarse,
}

/// Scores of a block of rows against coded probes: exact integer products,
/// from which [`Scored::score`] gives quick `f32` cosines and
/// [`Scored::interval`] each row's tight interval.
#[derive(Debug, Default)]
pub(crate) struct Scored {
    first: usize,
    rows: usize,
    /// Per probe: whether its products in `dots` are of the full codes
    /// (else of the high plane).
    full: Vec<bool>,
    dots: Vec<i32>,
    /// The block's full codes, once a probe needs them.
    unpacked: Vec<i8>,
    /// Whether `unpacked` holds this block's.
    is_unpacked: bool,
}

/// A coarse block switches a probe to the full codes once more than one
/// row in this many would be refined one by one: refining a row costs
/// about 25 times scoring it in the full pass.
const REFINE_SHARE: usize = 32;

impl Scored {
    /// Scores rows `first..first + rows` of `codes` against `probes` in
    /// `pass`; the quick cosines go column-major into `approx`, and
    /// `reach[j]` bounds how far any of probe `j`'s is from the exact
    /// cosine.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn score(
        &mut self,
        codes: &Codes,
        first: usize,
        rows: usize,
        probes: &[Probe],
        pass: Pass,
        approx: &mut [f32],
        reach: &mut [f32],
    ) {
        self.first = first;
        self.rows = rows;
        self.is_unpacked = false;
        self.dots.resize(rows * probes.len(), 0);
        self.full.clear();
        self.full.resize(probes.len(), pass == Pass::Full);
        match pass {
            Pass::Full => {
                self.unpack(codes);
                kernel::dots(&self.unpacked, codes.stride, probes, &mut self.dots);
                let columns = approx.chunks_exact_mut(rows.max(1)).zip(reach);
                for ((j, p), (approx, reach)) in probes.iter().enumerate().zip(columns) {
                    *reach = self.full_column(codes, p, j, approx);
                }
            }
            Pass::Coarse => {
                let (scale, most) = (&codes.scale[first..first + rows], codes.most);
                let half = codes.plane_stride();
                let high = &codes.high[first * half..(first + rows) * half];
                for (j, p) in probes.iter().enumerate() {
                    let col = j * rows..(j + 1) * rows;
                    kernel::coarse(high, half, &p.w, &mut self.dots[col.clone()]);
                    // q̂·w = 16·Σ(h + 8)·w − 120.5·Σw, so 2·q̂·w is an
                    // integer (at most 241·127·stride in magnitude).
                    let t = (p.wscale / 2.0) as f32;
                    for ((a, &d), &s) in approx[col.clone()]
                        .iter_mut()
                        .zip(&self.dots[col])
                        .zip(scale)
                    {
                        let twice = 32 * i64::from(d) - 241 * p.wsum;
                        *a = twice as f32 * (s * t);
                    }
                    reach[j] = up(p.coarse_error(most.norm, most.resid, most.coarse) + QUICK);
                }
            }
        }
    }

    /// After a coarse [`Scored::score`]: if more than one row in
    /// [`REFINE_SHARE`] of probe `j` has a quick cosine of at least `bar`
    /// minus its reach (the rows whose tight interval a search would ask
    /// for), scores the block's full codes for that probe instead,
    /// rewriting its `approx` and `reach` (clustered rows, or the first
    /// blocks of a search that has no answer yet, would otherwise be
    /// refined row by row).
    pub(crate) fn settle(
        &mut self,
        codes: &Codes,
        probes: &[Probe],
        j: usize,
        bar: f32,
        approx: &mut [f32],
        reach: &mut f32,
    ) {
        if self.full[j] {
            return;
        }
        let low = bar - *reach;
        let wanted = approx.iter().filter(|&&c| c >= low).count();
        if wanted * REFINE_SHARE <= self.rows {
            return;
        }
        self.unpack(codes);
        let p = &probes[j];
        kernel::dots(
            &self.unpacked,
            codes.stride,
            std::slice::from_ref(p),
            &mut self.dots[j * self.rows..(j + 1) * self.rows],
        );
        *reach = self.full_column(codes, p, j, approx);
        self.full[j] = true;
    }

    /// Probe `j`'s quick cosines from its products with the full codes,
    /// into `approx`; gives their reach.
    fn full_column(&self, codes: &Codes, p: &Probe, j: usize, approx: &mut [f32]) -> f32 {
        let t = p.scale as f32;
        let dots = &self.dots[j * self.rows..(j + 1) * self.rows];
        let scale = &codes.scale[self.first..self.first + self.rows];
        for ((a, &d), &s) in approx.iter_mut().zip(dots).zip(scale) {
            *a = d as f32 * (s * t);
        }
        up(p.error(codes.most.norm, codes.most.resid) + QUICK)
    }

    /// Whether every probe's products are of the full codes.
    pub(crate) fn all_full(&self) -> bool {
        self.full.iter().all(|&f| f)
    }

    /// Unpacks the block's full codes, once.
    fn unpack(&mut self, codes: &Codes) {
        if !self.is_unpacked {
            codes.unpack(self.first, self.rows, &mut self.unpacked);
            self.is_unpacked = true;
        }
    }

    /// The interval of row `first + i`'s cosine with probe `j`, from the
    /// full codes whichever pass scored the block.
    pub(crate) fn interval(
        &self,
        codes: &Codes,
        probes: &[Probe],
        j: usize,
        i: usize,
    ) -> (f32, f32) {
        let (p, row) = (&probes[j], self.first + i);
        let d = if self.full[j] {
            self.dots[j * self.rows + i]
        } else {
            let (high, low) = codes.planes(row);
            kernel::refine(high, low, &p.q)
        };
        let approx = f64::from(codes.scale[row]) * p.scale * f64::from(d);
        let err = p.error(codes.most.norm, codes.resid[row]);
        (down(approx - err), up(approx + err))
    }
}

mod kernel {
    //! Integer dot products of code rows with coded probes.

    use super::{Probe, GROUP};

    /// `out[j * rows + i] = codes_row_i · probe_j`, rows `stride` wide.
    pub(super) fn dots(codes: &[i8], stride: usize, probes: &[Probe], out: &mut [i32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V4::try_new() {
            return x86::dots(simd, codes, stride, probes, out);
        } else if let Some(simd) = pulp::x86::V3::try_new() {
            return x86::dots(simd, codes, stride, probes, out);
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

    /// `out[i] = Σ (h + 8)·w` over row `i` of the high plane `high`
    /// (`half` bytes a row) and the 8-bit probe `w`.
    pub(super) fn coarse(high: &[u8], half: usize, w: &[i8], out: &mut [i32]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V4::try_new() {
            return x86::coarse(simd, high, half, w, out);
        } else if let Some(simd) = pulp::x86::V3::try_new() {
            return x86::coarse(simd, high, half, w, out);
        }
        coarse_portable(high, half, w, out)
    }

    /// The same products in plain Rust, for CPUs without AVX2.
    pub(super) fn coarse_portable(high: &[u8], half: usize, w: &[i8], out: &mut [i32]) {
        const HALF: usize = GROUP / 2;
        for (row, o) in high.chunks_exact(half.max(1)).zip(out) {
            *o = row
                .chunks_exact(HALF)
                .zip(w.chunks_exact(GROUP))
                .map(|(h, w)| {
                    let (a, b) = w.split_at(HALF);
                    h.iter()
                        .zip(a.iter().zip(b))
                        .map(|(&h, (&a, &b))| {
                            i32::from(h & 15) * i32::from(a) + i32::from(h >> 4) * i32::from(b)
                        })
                        .sum::<i32>()
                })
                .sum();
        }
    }

    /// One row's full codes (from its `high` and `low` planes) against the
    /// 16-bit probe `q`: the product [`dots`] gives for that row.
    pub(super) fn refine(high: &[u8], low: &[u8], q: &[i16]) -> i32 {
        const HALF: usize = GROUP / 2;
        let mut codes = [0i8; GROUP];
        let mut sum = 0;
        for ((h, l), q) in high
            .chunks_exact(HALF)
            .zip(low.chunks_exact(HALF))
            .zip(q.chunks_exact(GROUP))
        {
            super::join(h, l, &mut codes);
            sum += codes
                .iter()
                .zip(q)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum::<i32>();
        }
        sum
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) mod x86 {
        //! The kernels once, over a [`Width`]: AVX2 (`V3`, 256-bit) and
        //! AVX-512 (`V4`, 512-bit) vectors of integers.

        use std::arch::x86_64::{__m128i, __m256i, __m512i};

        use pulp::bytemuck::cast;
        use pulp::x86::{V3, V4};
        use pulp::Simd;

        use super::super::{Probe, GROUP};

        /// One vector width's integer operations.
        pub(in super::super) trait Width: Simd {
            /// A vector of 32-bit (or 16-bit, or 8-bit) lanes.
            type V: Copy;
            /// Bytes in a vector: codes in a step of the full kernel, and
            /// bytes of the high plane in a step of the coarse one.
            const BYTES: usize;
            fn zero(self) -> Self::V;
            /// `BYTES` codes widened to two vectors of 16-bit.
            fn widen(self, c: &[i8]) -> [Self::V; 2];
            /// A probe's `BYTES` 16-bit components, as two vectors.
            fn pack16(c: &[i16]) -> [Self::V; 2];
            /// A probe's components for one step of the high plane: the
            /// `BYTES` for its bytes' low halves and those for their high.
            fn pack8(lo: &[i8], hi: &[i8]) -> [Self::V; 2];
            /// `acc + w·p` over one step, in 32-bit lanes.
            fn step(self, acc: Self::V, w: [Self::V; 2], p: [Self::V; 2]) -> Self::V;
            /// `acc + Σ (h + 8)·w` over `BYTES` bytes of the high plane.
            fn coarse_step(self, acc: Self::V, c: &[u8], p: [Self::V; 2]) -> Self::V;
            /// The four sums of four accumulators' lanes.
            fn sums(self, acc: [Self::V; 4]) -> [i32; 4];
        }

        impl Width for V3 {
            type V = __m256i;
            const BYTES: usize = 32;
            #[inline(always)]
            fn zero(self) -> __m256i {
                self.avx._mm256_setzero_si256()
            }
            #[inline(always)]
            fn widen(self, c: &[i8]) -> [__m256i; 2] {
                let a: [i8; 16] = c[..16].try_into().unwrap_or([0; 16]);
                let b: [i8; 16] = c[16..32].try_into().unwrap_or([0; 16]);
                [
                    self.avx2._mm256_cvtepi8_epi16(cast::<_, __m128i>(a)),
                    self.avx2._mm256_cvtepi8_epi16(cast::<_, __m128i>(b)),
                ]
            }
            #[inline(always)]
            fn pack16(c: &[i16]) -> [__m256i; 2] {
                let a: [i16; 16] = c[..16].try_into().unwrap_or([0; 16]);
                let b: [i16; 16] = c[16..32].try_into().unwrap_or([0; 16]);
                [cast(a), cast(b)]
            }
            #[inline(always)]
            fn pack8(lo: &[i8], hi: &[i8]) -> [__m256i; 2] {
                let a: [i8; 32] = lo[..32].try_into().unwrap_or([0; 32]);
                let b: [i8; 32] = hi[..32].try_into().unwrap_or([0; 32]);
                [cast(a), cast(b)]
            }
            #[inline(always)]
            fn step(self, acc: __m256i, w: [__m256i; 2], p: [__m256i; 2]) -> __m256i {
                let m = self.avx2._mm256_add_epi32(
                    self.avx2._mm256_madd_epi16(w[0], p[0]),
                    self.avx2._mm256_madd_epi16(w[1], p[1]),
                );
                self.avx2._mm256_add_epi32(acc, m)
            }
            #[inline(always)]
            fn coarse_step(self, acc: __m256i, c: &[u8], p: [__m256i; 2]) -> __m256i {
                let x: __m256i = cast(<[u8; 32]>::try_from(&c[..32]).unwrap_or([0; 32]));
                let nibble = self.avx._mm256_set1_epi8(15);
                let lo = self.avx2._mm256_and_si256(x, nibble);
                let hi = self
                    .avx2
                    ._mm256_and_si256(self.avx2._mm256_srli_epi16::<4>(x), nibble);
                // Each pair of u8·i8 products is at most 2·15·127 in
                // magnitude, and so the sum of two pairs is far from i16's
                // saturation.
                let m = self.avx2._mm256_add_epi16(
                    self.avx2._mm256_maddubs_epi16(lo, p[0]),
                    self.avx2._mm256_maddubs_epi16(hi, p[1]),
                );
                let ones = self.avx._mm256_set1_epi16(1);
                self.avx2
                    ._mm256_add_epi32(acc, self.avx2._mm256_madd_epi16(m, ones))
            }
            #[inline(always)]
            fn sums(self, acc: [__m256i; 4]) -> [i32; 4] {
                let a = self.avx2._mm256_hadd_epi32(acc[0], acc[1]);
                let b = self.avx2._mm256_hadd_epi32(acc[2], acc[3]);
                let c = self.avx2._mm256_hadd_epi32(a, b);
                let lo = self.avx._mm256_castsi256_si128(c);
                let hi = self.avx2._mm256_extracti128_si256::<1>(c);
                cast(self.sse2._mm_add_epi32(lo, hi))
            }
        }

        impl Width for V4 {
            type V = __m512i;
            const BYTES: usize = 64;
            #[inline(always)]
            fn zero(self) -> __m512i {
                self.avx512f._mm512_setzero_si512()
            }
            #[inline(always)]
            fn widen(self, c: &[i8]) -> [__m512i; 2] {
                let a: [i8; 32] = c[..32].try_into().unwrap_or([0; 32]);
                let b: [i8; 32] = c[32..64].try_into().unwrap_or([0; 32]);
                [
                    self.avx512bw._mm512_cvtepi8_epi16(cast::<_, __m256i>(a)),
                    self.avx512bw._mm512_cvtepi8_epi16(cast::<_, __m256i>(b)),
                ]
            }
            #[inline(always)]
            fn pack16(c: &[i16]) -> [__m512i; 2] {
                let a: [i16; 32] = c[..32].try_into().unwrap_or([0; 32]);
                let b: [i16; 32] = c[32..64].try_into().unwrap_or([0; 32]);
                [cast(a), cast(b)]
            }
            #[inline(always)]
            fn pack8(lo: &[i8], hi: &[i8]) -> [__m512i; 2] {
                let a: [i8; 64] = lo[..64].try_into().unwrap_or([0; 64]);
                let b: [i8; 64] = hi[..64].try_into().unwrap_or([0; 64]);
                [cast(a), cast(b)]
            }
            #[inline(always)]
            fn step(self, acc: __m512i, w: [__m512i; 2], p: [__m512i; 2]) -> __m512i {
                let m = self.avx512f._mm512_add_epi32(
                    self.avx512bw._mm512_madd_epi16(w[0], p[0]),
                    self.avx512bw._mm512_madd_epi16(w[1], p[1]),
                );
                self.avx512f._mm512_add_epi32(acc, m)
            }
            #[inline(always)]
            fn coarse_step(self, acc: __m512i, c: &[u8], p: [__m512i; 2]) -> __m512i {
                let x: __m512i = cast(<[u8; 64]>::try_from(&c[..64]).unwrap_or([0; 64]));
                let nibble = self.avx512f._mm512_set1_epi8(15);
                let lo = self.avx512f._mm512_and_si512(x, nibble);
                let hi = self
                    .avx512f
                    ._mm512_and_si512(self.avx512bw._mm512_srli_epi16::<4>(x), nibble);
                // As for AVX2: far from i16's saturation.
                let m = self.avx512bw._mm512_add_epi16(
                    self.avx512bw._mm512_maddubs_epi16(lo, p[0]),
                    self.avx512bw._mm512_maddubs_epi16(hi, p[1]),
                );
                let ones = self.avx512f._mm512_set1_epi16(1);
                self.avx512f
                    ._mm512_add_epi32(acc, self.avx512bw._mm512_madd_epi16(m, ones))
            }
            #[inline(always)]
            fn sums(self, acc: [__m512i; 4]) -> [i32; 4] {
                // Each accumulator folded to 256 bits, then as AVX2 does.
                let folded = [
                    self.fold(acc[0]),
                    self.fold(acc[1]),
                    self.fold(acc[2]),
                    self.fold(acc[3]),
                ];
                (*self).sums(folded)
            }
        }

        impl V4Fold for V4 {
            #[inline(always)]
            fn fold(self, a: __m512i) -> __m256i {
                let lo = self.avx512f._mm512_castsi512_si256(a);
                let hi = self.avx512f._mm512_extracti64x4_epi64::<1>(a);
                self.avx2._mm256_add_epi32(lo, hi)
            }
        }

        /// A 512-bit vector's two halves added.
        trait V4Fold {
            fn fold(self, a: __m512i) -> __m256i;
        }

        /// Probes are taken four at a time against two rows at a time,
        /// each row's codes widened to 16 bits once for all four probes
        /// and each probe step loaded once for both rows; a probe left
        /// over is taken against four rows at a time.
        pub(in super::super) fn dots<S: Width>(
            simd: S,
            codes: &[i8],
            stride: usize,
            probes: &[Probe],
            out: &mut [i32],
        ) {
            let rows = codes.len() / stride.max(1);
            let lanes = S::BYTES;
            let steps = stride / lanes;
            let packed: Vec<Vec<[S::V; 2]>> = probes
                .iter()
                .map(|p| p.q.chunks_exact(lanes).map(S::pack16).collect())
                .collect();
            let zero = simd.zero();
            let quads = packed.chunks_exact(4);
            let singles = quads.remainder();
            for (q, ps) in quads.enumerate() {
                simd.vectorize(
                    #[inline(always)]
                    || {
                        let ps: [&[[S::V; 2]]; 4] = [&ps[0], &ps[1], &ps[2], &ps[3]];
                        // Two rows at a time: each probe step loaded once
                        // serves both (eight accumulators).
                        let pairs = codes.chunks_exact(2 * stride);
                        let rest = pairs.remainder();
                        let mut i = 0;
                        for two in pairs {
                            let (r0, r1) = two.split_at(stride);
                            let (mut a0, mut a1) = ([zero; 4], [zero; 4]);
                            let steps = r0.chunks_exact(lanes).zip(r1.chunks_exact(lanes));
                            for (s, (c0, c1)) in steps.enumerate() {
                                let (w0, w1) = (simd.widen(c0), simd.widen(c1));
                                for g in 0..4 {
                                    a0[g] = simd.step(a0[g], w0, ps[g][s]);
                                    a1[g] = simd.step(a1[g], w1, ps[g][s]);
                                }
                            }
                            for (r, acc) in [a0, a1].into_iter().enumerate() {
                                for (g, v) in simd.sums(acc).into_iter().enumerate() {
                                    out[(4 * q + g) * rows + i + r] = v;
                                }
                            }
                            i += 2;
                        }
                        for row in rest.chunks_exact(stride) {
                            let mut acc = [zero; 4];
                            for s in 0..steps {
                                let w = simd.widen(&row[s * lanes..]);
                                for g in 0..4 {
                                    acc[g] = simd.step(acc[g], w, ps[g][s]);
                                }
                            }
                            for (g, v) in simd.sums(acc).into_iter().enumerate() {
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
                            let mut acc = [zero; 4];
                            for (s, &pp) in p.iter().enumerate() {
                                for (r, a) in acc.iter_mut().enumerate() {
                                    let w = simd.widen(&four[r * stride + s * lanes..]);
                                    *a = simd.step(*a, w, pp);
                                }
                            }
                            col[i..i + 4].copy_from_slice(&simd.sums(acc));
                            i += 4;
                        }
                        for row in rest.chunks_exact(stride) {
                            let mut acc = [zero; 4];
                            for (s, &pp) in p.iter().enumerate() {
                                acc[0] = simd.step(acc[0], simd.widen(&row[s * lanes..]), pp);
                            }
                            col[i] = simd.sums(acc)[0];
                            i += 1;
                        }
                    },
                );
            }
        }

        /// [`super::coarse`]: four rows at a time, each probe step loaded
        /// once for the four.
        pub(in super::super) fn coarse<S: Width>(
            simd: S,
            high: &[u8],
            half: usize,
            w: &[i8],
            out: &mut [i32],
        ) {
            let lanes = S::BYTES;
            // Byte `o` of a row's high plane holds the components
            // `GROUP·(o / (GROUP/2)) + o % (GROUP/2)` (low half) and that
            // plus `GROUP/2` (high half).
            let packed: Vec<[S::V; 2]> = (0..half / lanes)
                .map(|s| {
                    let o = s * lanes;
                    let at = GROUP * (o / (GROUP / 2)) + o % (GROUP / 2);
                    S::pack8(&w[at..], &w[at + GROUP / 2..])
                })
                .collect();
            simd.vectorize(
                #[inline(always)]
                || {
                    let zero = simd.zero();
                    let fours = high.chunks_exact(4 * half);
                    let rest = fours.remainder();
                    let mut i = 0;
                    for four in fours {
                        let mut acc = [zero; 4];
                        for (s, &p) in packed.iter().enumerate() {
                            for (r, a) in acc.iter_mut().enumerate() {
                                *a = simd.coarse_step(*a, &four[r * half + s * lanes..], p);
                            }
                        }
                        out[i..i + 4].copy_from_slice(&simd.sums(acc));
                        i += 4;
                    }
                    for row in rest.chunks_exact(half) {
                        let mut acc = [zero; 4];
                        for (s, &p) in packed.iter().enumerate() {
                            acc[0] = simd.coarse_step(acc[0], &row[s * lanes..], p);
                        }
                        out[i] = simd.sums(acc)[0];
                        i += 1;
                    }
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `dim` components with tiny, huge and spiky ones among them.
    fn awkward_rows(n: usize, dim: usize) -> Vec<f32> {
        (0..n * dim)
            .map(|i| {
                let v = ((i as u64 * 2_654_435_761) % 10_007) as f32 / 5_003.5 - 1.0;
                match (i / dim) % 5 {
                    0 => v * 1e-30,
                    1 => v * 1e15,
                    2 if i % dim == 3 => 50.0,
                    _ => v,
                }
            })
            .collect()
    }

    /// The full codes of every row, row-major, `stride` wide.
    fn full_codes(codes: &Codes) -> Vec<i8> {
        let mut q = Vec::new();
        codes.unpack(0, codes.len(), &mut q);
        q
    }

    /// The stored `‖x − s·q‖` and `‖x − s·q̂‖` of each row and the largest
    /// `‖s·q‖` are upper bounds of the exact values (computed here in f64
    /// from the codes), and tight ones; the planes give back the full
    /// codes, zero past `dim`.
    #[test]
    fn stored_norms_bound_the_exact_norms() {
        for dim in [1, 7, 128, 512, 1000] {
            let rows = awkward_rows(50, dim);
            let mut codes = Codes::new(dim);
            codes.extend(&rows);
            let all = full_codes(&codes);
            let mut norms = 0f64;
            for (r, x) in rows.chunks(dim).enumerate() {
                let row = &all[r * codes.stride..(r + 1) * codes.stride];
                assert!(row[dim..].iter().all(|&c| c == 0), "padding of row {r}");
                let (q, s) = (&row[..dim], f64::from(codes.scale[r]));
                let dist = |value: &dyn Fn(i8) -> f64| -> f64 {
                    x.iter()
                        .zip(q)
                        .map(|(&v, &c)| (f64::from(v) - s * value(c)).powi(2))
                        .sum::<f64>()
                        .sqrt()
                };
                let resid = dist(&|c| f64::from(c));
                let coarse = dist(&|c| f64::from(c >> 4) * 16.0 + 7.5);
                let norm: f64 = q
                    .iter()
                    .map(|&c| (s * f64::from(c)).powi(2))
                    .sum::<f64>()
                    .sqrt();
                norms = norms.max(norm);
                let (rb, cb) = (f64::from(codes.resid[r]), f64::from(codes.coarse[r]));
                assert!(
                    rb >= resid && rb <= resid * 1.001 + 1e-5 * norm + 1e-17,
                    "dim {dim} row {r}: resid {rb} vs {resid}"
                );
                assert!(
                    cb >= coarse && cb <= coarse * 1.001 + 1e-5 * norm + 1e-17,
                    "dim {dim} row {r}: coarse {cb} vs {coarse}"
                );
            }
            let nb = f64::from(codes.most.norm);
            assert!(
                nb >= norms && nb <= norms * 1.001,
                "dim {dim}: norm {nb} vs {norms}"
            );
        }
    }

    /// Every code value survives the split into planes.
    #[test]
    fn planes_hold_every_code() {
        let q: Vec<i8> = (0..GROUP).map(|i| (i as i32 * 2 - 127) as i8).collect();
        let (mut high, mut low) = ([0u8; GROUP / 2], [0u8; GROUP / 2]);
        split(&q, &mut high, &mut low);
        let mut back = [0i8; GROUP];
        join(&high, &low, &mut back);
        assert_eq!(&back[..], &q[..]);
    }

    /// A kernel of full codes, as [`kernel::dots`].
    type Dots<'a> = &'a dyn Fn(&[i8], usize, &[Probe], &mut [i32]);
    /// A kernel of the high plane, as [`kernel::coarse`].
    type Coarse<'a> = &'a dyn Fn(&[u8], usize, &[i8], &mut [i32]);

    /// Both products against the plain loops, at every vector width the
    /// CPU has.
    fn check_kernels(
        codes: &Codes,
        all: &[i8],
        probes: &[Probe],
        dots: Dots<'_>,
        coarse: Coarse<'_>,
        what: &str,
    ) {
        let rows = codes.len();
        let (mut a, mut b) = (vec![0; rows * probes.len()], vec![0; rows * probes.len()]);
        dots(all, codes.stride, probes, &mut a);
        kernel::portable(all, codes.stride, probes, &mut b);
        assert_eq!(a, b, "{what}: {} probes", probes.len());
        let (mut a, mut b) = (vec![0; rows], vec![0; rows]);
        let half = codes.plane_stride();
        coarse(&codes.high, half, &probes[0].w, &mut a);
        kernel::coarse_portable(&codes.high, half, &probes[0].w, &mut b);
        assert_eq!(a, b, "{what}: coarse");
    }

    #[test]
    fn kernels_match_portable_for_any_probe_count() {
        // 37 rows leave rows over after the kernels' pairs and fours.
        for dim in [100, 200, 512] {
            let rows: Vec<f32> = (0..37 * dim)
                .map(|i| ((i * 7919) % 199) as f32 / 99.0 - 1.0)
                .collect();
            let mut codes = Codes::new(dim);
            codes.extend(&rows);
            let all = full_codes(&codes);
            for np in 1..=9 {
                let probes: Vec<Probe> = (0..np)
                    .map(|j| Probe::new(&codes, &rows[j * dim..(j + 1) * dim]))
                    .collect();
                let what = format!("dim {dim}");
                check_kernels(&codes, &all, &probes, &kernel::dots, &kernel::coarse, &what);
                #[cfg(target_arch = "x86_64")]
                {
                    use kernel::x86;
                    if let Some(v3) = pulp::x86::V3::try_new() {
                        let dots =
                            |c: &[i8], s, p: &[Probe], o: &mut [i32]| x86::dots(v3, c, s, p, o);
                        let coarse =
                            |h: &[u8], s, w: &[i8], o: &mut [i32]| x86::coarse(v3, h, s, w, o);
                        check_kernels(&codes, &all, &probes, &dots, &coarse, "AVX2");
                    }
                    if let Some(v4) = pulp::x86::V4::try_new() {
                        let dots =
                            |c: &[i8], s, p: &[Probe], o: &mut [i32]| x86::dots(v4, c, s, p, o);
                        let coarse =
                            |h: &[u8], s, w: &[i8], o: &mut [i32]| x86::coarse(v4, h, s, w, o);
                        check_kernels(&codes, &all, &probes, &dots, &coarse, "AVX-512");
                    }
                }
                // A refined row is the product the full pass gives it.
                let mut a = vec![0; 37 * np];
                kernel::portable(&all, codes.stride, &probes, &mut a);
                for (i, &d) in a[..37].iter().enumerate() {
                    let (high, low) = codes.planes(i);
                    assert_eq!(kernel::refine(high, low, &probes[0].q), d);
                }
            }
        }
    }

    /// Each pass's quick cosine is within its reach of the exact cosine,
    /// and each row's tight interval holds it, on unit rows with near
    /// duplicates, sign flips and spikes among them.
    #[test]
    fn intervals_hold_the_exact_cosine() {
        for dim in [3, 128, 300, 512] {
            let mut rows = awkward_rows(40, dim);
            for r in rows.chunks_mut(dim) {
                let n = r.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
                r.iter_mut().for_each(|v| *v = (f64::from(*v) / n) as f32);
            }
            let mut codes = Codes::new(dim);
            codes.extend(&rows);
            let probes: Vec<Probe> = rows
                .chunks(dim)
                .take(5)
                .map(|p| Probe::new(&codes, p))
                .collect();
            for pass in [Pass::Full, Pass::Coarse] {
                let (mut approx, mut reach) = (vec![0f32; 40 * 5], vec![0f32; 5]);
                let mut scored = Scored::default();
                scored.score(&codes, 0, 40, &probes, pass, &mut approx, &mut reach);
                for (j, p) in rows.chunks(dim).take(5).enumerate() {
                    for (i, x) in rows.chunks(dim).enumerate() {
                        let exact: f64 = x
                            .iter()
                            .zip(p)
                            .map(|(&a, &b)| f64::from(a) * f64::from(b))
                            .sum();
                        let quick = f64::from(approx[j * 40 + i]);
                        assert!(
                            (quick - exact).abs() <= f64::from(reach[j]),
                            "{pass:?} dim {dim}: {quick} vs {exact} (reach {})",
                            reach[j]
                        );
                        let (lo, hi) = scored.interval(&codes, &probes, j, i);
                        assert!(
                            f64::from(lo) <= exact && exact <= f64::from(hi),
                            "{pass:?} dim {dim}: {exact} outside {lo}..{hi}"
                        );
                        // Rows without spikes get tight intervals (a spike
                        // takes the code's range from the other components).
                        if i % 5 != 2 {
                            assert!(hi - lo < 0.05, "{pass:?} dim {dim}: {lo}..{hi} is loose");
                        }
                    }
                }
            }
        }
    }

    /// A coarse block settles on the full codes for a probe whose bar lets
    /// many rows through, and then scores as the full pass does; with a
    /// bar few rows reach it stays coarse.
    #[test]
    fn coarse_blocks_settle_on_the_full_codes_when_many_rows_are_close() {
        let (dim, n) = (128, 256);
        let rows = crate::faces::random_vectors(n, dim, 7, None);
        let mut codes = Codes::new(dim);
        codes.extend(&rows);
        let probes: Vec<Probe> = (0..2)
            .map(|j| Probe::new(&codes, &rows[j * dim..][..dim]))
            .collect();
        let mut full = Scored::default();
        let (mut fa, mut fr) = (vec![0f32; 2 * n], vec![0f32; 2]);
        full.score(&codes, 0, n, &probes, Pass::Full, &mut fa, &mut fr);
        let mut coarse = Scored::default();
        let (mut ca, mut cr) = (vec![0f32; 2 * n], vec![0f32; 2]);
        coarse.score(&codes, 0, n, &probes, Pass::Coarse, &mut ca, &mut cr);
        let (a0, a1) = ca.split_at_mut(n);
        // Probe 0: every row is close to a bar of minus infinity.
        coarse.settle(&codes, &probes, 0, f32::NEG_INFINITY, a0, &mut cr[0]);
        // Probe 1: only its own row reaches a bar of 0.99.
        coarse.settle(&codes, &probes, 1, 0.99, a1, &mut cr[1]);
        assert!(coarse.full[0] && !coarse.full[1]);
        assert_eq!((&ca[..n], cr[0]), (&fa[..n], fr[0]));
        assert!(cr[1] > fr[1]);
        for i in 0..n {
            for j in 0..2 {
                assert_eq!(
                    coarse.interval(&codes, &probes, j, i),
                    full.interval(&codes, &probes, j, i)
                );
            }
        }
    }
}
