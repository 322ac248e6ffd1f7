//! The hot loop: takes the rows of a collection (unit vectors, in memory at
//! full precision or as compact codes) and one or more unit probes, gives
//! the best rows (or the best owners of rows) by cosine similarity, exactly.
//!
//! Two passes. The scan scores every row against the probes *with a bound*:
//! each score is an interval that contains the exact cosine. In memory the
//! interval is faer's `f32` product plus its rounding bound (a few
//! millionths); over compact codes it is the integer product plus the
//! codes' error bound (see [`super::codes`]). The scan keeps, per probe,
//! the `k`-th best lower end seen so far, and the rows whose upper end can
//! still reach it. The second pass computes those candidates' exact cosines
//! ([`exact_cos`]: `f64` sums of the stored `f32` rows, rounded to `f32`),
//! best upper end first, and stops once no candidate left can enter the
//! top `k`. So an answer is the same whichever way the rows are held: the
//! same faces, the same order, the same similarities.
//!
//! The rows are cut into blocks of about 4 MiB of full-precision matrix.
//! Once the matrix is large, rayon spreads the blocks over the cores; each
//! worker keeps its own candidates, merged at the end. No score vector over
//! the whole matrix is ever materialised or sorted.
//!
//! Only a scan that runs alone goes parallel. When several run at once
//! (concurrent requests to a server), each stays on its own thread: the
//! cores are busy already, and splitting every scan over a shared pool only
//! adds hand-offs and lets some scans starve behind others.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::codes::{self, Codes, Pass, Probe};

/// Row owner marker: the row belongs to no user.
pub(crate) const NO_USER: u32 = u32::MAX;
/// Row owner marker: the row is a deleted face (a tombstone).
pub(crate) const DELETED: u32 = u32::MAX - 1;

/// Below this many matrix elements the scan stays on the calling thread.
const PARALLEL_MIN: usize = 1 << 18;

/// Scans running now, in this process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts a scan as running until dropped.
struct Running;

impl Running {
    /// Starts counting; gives whether this scan is the only one running.
    fn start() -> (Running, bool) {
        let before = RUNNING.fetch_add(1, AtomicOrdering::Relaxed);
        (Running, before == 0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, AtomicOrdering::Relaxed);
    }
}

/// Similarity on Rekognition's scale: `100 * max(0, cos)`. Monotone in
/// `cos`, so an interval of cosines maps to an interval of similarities.
#[inline]
pub(crate) fn similarity(cos: f32) -> f32 {
    100.0 * cos.clamp(0.0, 1.0)
}

/// The exact cosine of two stored unit vectors: their dot product summed
/// in `f64` (exact to far below an `f32` ulp for any width a collection
/// allows), rounded to `f32`. Every similarity a response reports is this
/// value, whichever way the rows are held.
pub(crate) fn exact_cos(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..4 {
            acc[i] += f64::from(x[i]) * f64::from(y[i]);
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3]) + tail) as f32
}

/// The rows of a collection as a scan reads them.
#[derive(Clone, Copy)]
pub(crate) enum Matrix<'a> {
    /// Full-precision rows in memory, row-major, `dim` wide.
    Dense { data: &'a [f32], dim: usize },
    /// Compact codes; the full-precision rows are elsewhere.
    Compact(&'a Codes),
}

impl Matrix<'_> {
    fn rows(&self) -> usize {
        match self {
            Matrix::Dense { data, dim } => data.len().checked_div(*dim).unwrap_or(0),
            Matrix::Compact(c) => c.len(),
        }
    }
}

/// Where the re-ranking pass reads rows at full precision.
pub(crate) trait FullRows: Sync {
    /// Row `row`, read into `buf` if it is not in memory.
    fn row<'b>(&'b self, row: usize, buf: &'b mut Vec<f32>) -> io::Result<&'b [f32]>;
}

/// Scores of one block of rows against all probes, column-major (`rows` x
/// `probes`): quick cosines, each within `reach(j)` of the exact one, and
/// each row's tight interval on demand.
pub(crate) struct Block<'a> {
    /// Index of the block's first row in the matrix.
    pub(crate) first: usize,
    rows: usize,
    approx: &'a [f32],
    reach: &'a [f32],
    tight: Tight<'a>,
}

/// Where a block's tight intervals come from.
enum Tight<'a> {
    /// `approx ± err` for every row.
    Dense(f64),
    /// The codes' own bound per row.
    Compact(&'a codes::Scored, &'a Codes, &'a [Probe]),
}

impl Block<'_> {
    /// Quick cosines of probe `j` for the block's rows.
    pub(crate) fn approx(&self, j: usize) -> &[f32] {
        &self.approx[j * self.rows..(j + 1) * self.rows]
    }
    /// How far any quick cosine of probe `j` may be from the exact one.
    pub(crate) fn reach(&self, j: usize) -> f32 {
        self.reach[j]
    }
    /// The interval that holds the exact cosine of row `first + i` with
    /// probe `j`.
    pub(crate) fn interval(&self, j: usize, i: usize) -> (f32, f32) {
        match self.tight {
            Tight::Dense(err) => {
                let c = f64::from(self.approx[j * self.rows + i]);
                (codes::down(c - err), codes::up(c + err))
            }
            Tight::Compact(scored, codes, probes) => scored.interval(codes, probes, j, i),
        }
    }
}

/// Rows per block: about 4 MiB of full-precision matrix (it stays in the
/// last-level cache while the scores are read), at least 64 rows.
fn block_rows(dim: usize) -> usize {
    (1024 * 1024 / dim.max(1)).clamp(64, 8192)
}

/// Bound on `|fl(x·p) − x·p|` for faer's `f32` product of two stored unit
/// vectors `dim` wide, in any summation order: `γ_dim · ‖x‖·‖p‖` with
/// `γ_n = n·u / (1 − n·u)`, `u = 2^-24`; stored rows and probes are unit
/// to within `dim · u` (they went through `normalise`), so their norms are
/// taken as at most 1.01. Plus the rounding of the exact cosine to `f32`.
fn dense_error(dim: usize) -> f64 {
    let nu = (dim as f64 + 2.0) * f64::from(f32::EPSILON) / 2.0;
    nu / (1.0 - nu) * 1.01 * 1.01 + 2.5e-7
}

/// Batches of at least this many probes are compute-bound: over full
/// precision, faer's matrix product does them at the machine's `f32` rate,
/// and reading a quarter of the bytes would not help. A collection holding
/// both scans such batches at full precision.
pub(crate) const BATCH_MIN_PROBES: usize = 8;

/// `out = rows · probesᵀ`, column-major (`n` x `nprobes`), by faer's
/// matrix product (runtime-dispatched SIMD: AVX2/FMA where the CPU has
/// it). One probe is a matrix-vector product streaming the block once.
fn product(rows: &[f32], probes: &[f32], dim: usize, n: usize, nprobes: usize, out: &mut [f32]) {
    matmul(
        MatMut::from_column_major_slice_mut(out, n, nprobes),
        Accum::Replace,
        MatRef::from_row_major_slice(rows, n, dim),
        MatRef::from_row_major_slice(probes, nprobes, dim).transpose(),
        1.0f32,
        Par::Seq,
    );
}

/// Scratch space of one worker.
#[derive(Default)]
struct Scratch {
    approx: Vec<f32>,
    reach: Vec<f32>,
    scored: codes::Scored,
    /// Blocks in a row that a coarse scan scored on the full codes: its
    /// last coarse block settled on them for every probe, so the blocks
    /// after it skip the high plane, trying it again every [`RETRY`].
    settled: usize,
}

/// A coarse scan whose blocks settle on the full codes tries the high
/// plane again every this many blocks (the rows may change character
/// along the collection).
const RETRY: usize = 8;

/// What a coarse scan asks of a worker's accumulator: probe `j`'s bar.
pub(crate) type Bar<'a, A> = &'a (dyn Fn(&A, usize) -> f32 + Sync);

/// Runs one fused pass over `matrix` scoring every row against the
/// `probes` (row-major unit vectors): `visit` folds each scored block into
/// a worker's accumulator, `merge` joins workers. With `coarse`, the
/// visitor asks for the tight interval of every row whose quick cosine
/// comes within its reach of `coarse(acc, j)` (probe `j`'s bar), and of no
/// other, so compact codes may score few probes by their high plane alone
/// ([`Pass::Coarse`]), falling back to the full codes for a block where
/// too many rows come that close.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan<A, I, V, M>(
    matrix: Matrix<'_>,
    dim: usize,
    probes: &[f32],
    coarse: Option<Bar<'_, A>>,
    init: I,
    visit: V,
    merge: M,
) -> A
where
    A: Send,
    I: Fn() -> A + Sync + Send,
    V: Fn(&mut A, &Block<'_>) + Sync + Send,
    M: Fn(A, A) -> A + Sync + Send,
{
    if dim == 0 || probes.is_empty() {
        return init();
    }
    let nprobes = probes.len() / dim;
    let block = block_rows(dim);
    let coded: Vec<Probe> = match matrix {
        Matrix::Compact(c) => probes.chunks_exact(dim).map(|p| Probe::new(c, p)).collect(),
        Matrix::Dense { .. } => Vec::new(),
    };
    let pass = if coarse.is_some() && nprobes < BATCH_MIN_PROBES {
        Pass::Coarse
    } else {
        Pass::Full
    };
    let err = dense_error(dim);
    let step = |(mut acc, mut s): (A, Scratch), first: usize| {
        let rows = block.min(matrix.rows() - first);
        s.approx.resize(rows * nprobes, 0.0);
        s.reach.resize(nprobes, 0.0);
        let tight = match matrix {
            Matrix::Dense { data, .. } => {
                product(
                    &data[first * dim..(first + rows) * dim],
                    probes,
                    dim,
                    rows,
                    nprobes,
                    &mut s.approx,
                );
                s.reach.fill(codes::up(err));
                Tight::Dense(err)
            }
            Matrix::Compact(c) => {
                let this = match pass {
                    Pass::Coarse if !s.settled.is_multiple_of(RETRY) => Pass::Full,
                    p => p,
                };
                s.scored
                    .score(c, first, rows, &coded, this, &mut s.approx, &mut s.reach);
                match (this, coarse) {
                    (Pass::Coarse, Some(bar)) => {
                        let columns = s.approx.chunks_exact_mut(rows).zip(&mut s.reach);
                        for (j, (approx, reach)) in columns.enumerate() {
                            s.scored.settle(c, &coded, j, bar(&acc, j), approx, reach);
                        }
                        s.settled = usize::from(s.scored.all_full());
                    }
                    _ if pass == Pass::Coarse => s.settled += 1,
                    _ => {}
                }
                Tight::Compact(&s.scored, c, &coded)
            }
        };
        visit(
            &mut acc,
            &Block {
                first,
                rows,
                approx: &s.approx,
                reach: &s.reach,
                tight,
            },
        );
        (acc, s)
    };
    let starts = (0..matrix.rows()).step_by(block);
    let (_running, alone) = Running::start();
    if matrix.rows() * dim < PARALLEL_MIN || !alone {
        starts.fold((init(), Scratch::default()), step).0
    } else {
        starts
            .collect::<Vec<_>>()
            .into_par_iter()
            .fold(|| (init(), Scratch::default()), step)
            .map(|(acc, _)| acc)
            .reduce(&init, &merge)
    }
}

/// A scored candidate; `key` breaks ties (smaller key first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit<K> {
    /// Similarity, 0..100.
    pub(crate) sim: f32,
    /// Tie-breaker: face id or user id.
    pub(crate) key: K,
    /// Row (face) or slot (user) index.
    pub(crate) index: u32,
}

/// Orders hits worst first, so a max-heap keeps the worst on top.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Worst<K>(Hit<K>);

impl<K: Ord> Eq for Worst<K> {}
impl<K: Ord> PartialOrd for Worst<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Ord> Ord for Worst<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .sim
            .total_cmp(&self.0.sim)
            .then_with(|| self.0.key.cmp(&other.0.key))
    }
}

/// Bounded top-k: keeps the `k` best hits seen.
#[derive(Debug, Clone)]
pub(crate) struct TopK<K> {
    k: usize,
    heap: BinaryHeap<Worst<K>>,
}

impl<K: Ord + Copy> TopK<K> {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }
    /// The similarity a hit must reach to enter, once full.
    fn floor(&self) -> Option<f32> {
        (self.heap.len() >= self.k).then(|| self.heap.peek().map_or(f32::INFINITY, |w| w.0.sim))
    }
    pub(crate) fn push(&mut self, hit: Hit<K>) {
        if self.heap.len() < self.k {
            self.heap.push(Worst(hit));
        } else if let Some(mut top) = self.heap.peek_mut()
            && Worst(hit) < *top
        {
            *top = Worst(hit);
        }
    }
    /// The kept hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<Hit<K>> {
        let mut v: Vec<Worst<K>> = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|w| w.0).collect()
    }
}

/// Candidates of one top-`k` search while the scan runs: the `k` best lower
/// ends seen (their smallest is the floor every answer reaches) and every
/// item whose upper end was at least the floor when it was seen.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    k: usize,
    threshold: f32,
    lows: BinaryHeap<Reverse<Sim>>,
    cands: Vec<(Sim, u32)>,
    /// The candidate count at which they are pruned next: twice what the
    /// last pruning kept (at least `2·max(k, 512)`), so that candidates
    /// that stay (clustered rows within their intervals of the floor) are
    /// not scanned again for every one added.
    prune_at: usize,
}

/// A similarity ordered totally.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sim(f32);
impl Eq for Sim {}
impl PartialOrd for Sim {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sim {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Pending {
    /// Candidates for the `k` best at or above `threshold`.
    pub(crate) fn new(k: usize, threshold: f32) -> Self {
        Pending {
            k,
            threshold,
            lows: BinaryHeap::new(),
            cands: Vec::new(),
            prune_at: 2 * k.max(512),
        }
    }

    /// What an item's upper end must reach: the threshold, and once `k`
    /// lower ends are in, the smallest of them (`k` items are at least that
    /// good, so the `k`-th best exact score is too).
    fn floor(&self) -> f32 {
        let kth = match self.lows.peek() {
            Some(Reverse(Sim(s))) if self.lows.len() >= self.k => *s,
            _ => f32::NEG_INFINITY,
        };
        kth.max(self.threshold)
    }

    /// The smallest cosine whose similarity reaches the floor: a quick
    /// filter (similarity is `100 * cos` above 0, so any cosine below
    /// `floor / 100` minus an ulp's worth cannot reach it).
    fn floor_cos(&self) -> f32 {
        let f = self.floor();
        if f <= 0.0 {
            f32::NEG_INFINITY
        } else {
            f / 100.0 - 1e-6
        }
    }

    /// Offers item `index` whose similarity lies in `lo..=hi`.
    #[inline]
    pub(crate) fn offer(&mut self, lo: f32, hi: f32, index: u32) {
        if self.k == 0 || hi < self.floor() {
            return;
        }
        if self.lows.len() < self.k {
            self.lows.push(Reverse(Sim(lo)));
        } else if let Some(mut top) = self.lows.peek_mut()
            && lo > top.0 .0
        {
            *top = Reverse(Sim(lo));
        }
        self.cands.push((Sim(hi), index));
        if self.cands.len() >= self.prune_at {
            self.prune();
        }
    }

    /// Drops the candidates that can no longer reach the floor.
    fn prune(&mut self) {
        let floor = self.floor();
        self.cands.retain(|(hi, _)| hi.0 >= floor);
        self.prune_at = (2 * self.cands.len()).max(2 * self.k.max(512));
    }

    /// Joins the candidates of two workers.
    pub(crate) fn merge(mut self, other: Self) -> Self {
        for Reverse(lo) in other.lows {
            if self.lows.len() < self.k {
                self.lows.push(Reverse(lo));
            } else if let Some(mut top) = self.lows.peek_mut()
                && lo > top.0
            {
                *top = Reverse(lo);
            }
        }
        self.cands.extend(other.cands);
        self.prune();
        self
    }

    /// The exact top `k`: scores candidates with `exact` (the exact
    /// similarity of an item), best upper end first, until none left can
    /// enter; `key` is an item's tie-breaker.
    pub(crate) fn resolve<K: Ord + Copy>(
        mut self,
        key: impl Fn(u32) -> Option<K>,
        mut exact: impl FnMut(u32) -> io::Result<f32>,
    ) -> io::Result<Vec<Hit<K>>> {
        self.prune();
        self.cands.sort_unstable_by(|a, b| b.cmp(a));
        let mut top = TopK::new(self.k);
        for (Sim(hi), index) in self.cands {
            if top.floor().is_some_and(|f| hi < f) {
                break;
            }
            let sim = exact(index)?;
            if sim >= self.threshold
                && let Some(key) = key(index)
            {
                top.push(Hit { sim, key, index });
            }
        }
        Ok(top.into_sorted())
    }
}

/// What a face scan may consult about rows: owners (for tombstones) and
/// face ids (for ties).
pub(crate) struct RowInfo<'a> {
    pub(crate) owner: &'a [u32],
    pub(crate) face_ids: &'a [u128],
}

/// Top `k` live rows per probe with similarity >= `threshold`, excluding
/// row `exclude`; one result list per probe.
#[allow(clippy::too_many_arguments)]
pub(crate) fn top_faces(
    matrix: Matrix<'_>,
    full: &dyn FullRows,
    dim: usize,
    probes: &[f32],
    rows: &RowInfo<'_>,
    k: usize,
    threshold: f32,
    exclude: Option<usize>,
) -> io::Result<Vec<Vec<Hit<u128>>>> {
    let nprobes = probes.len().checked_div(dim).unwrap_or(0);
    let live =
        |row: usize| rows.owner.get(row).is_some_and(|&o| o != DELETED) && exclude != Some(row);
    let pending = scan(
        matrix,
        dim,
        probes,
        Some(&|pending: &Vec<Pending>, j| pending[j].floor_cos()),
        || vec![Pending::new(k, threshold); nprobes],
        |pending: &mut Vec<Pending>, block| {
            for (j, p) in pending.iter_mut().enumerate() {
                let reach = block.reach(j);
                let mut bar = p.floor_cos() - reach;
                for (i, &c) in block.approx(j).iter().enumerate() {
                    let row = block.first + i;
                    if c >= bar && live(row) {
                        let (lo, hi) = block.interval(j, i);
                        p.offer(similarity(lo), similarity(hi), row as u32);
                        bar = p.floor_cos() - reach;
                    }
                }
            }
        },
        |a, b| a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect(),
    );
    let mut buf = Vec::new();
    pending
        .into_iter()
        .zip(probes.chunks_exact(dim.max(1)))
        .map(|(p, probe)| {
            p.resolve(
                |row| rows.face_ids.get(row as usize).copied(),
                |row| {
                    Ok(similarity(exact_cos(
                        full.row(row as usize, &mut buf)?,
                        probe,
                    )))
                },
            )
        })
        .collect()
}

/// Interval of the best cosine per user slot (`users` slots) over all
/// probes, in one pass; `(-inf, -inf)` for users without live faces.
pub(crate) fn best_per_user(
    matrix: Matrix<'_>,
    dim: usize,
    probes: &[f32],
    owner: &[u32],
    users: usize,
) -> Vec<(f32, f32)> {
    let nprobes = probes.len().checked_div(dim).unwrap_or(0);
    let (best, reach) = scan(
        matrix,
        dim,
        probes,
        None,
        || (vec![f32::NEG_INFINITY; users], 0f32),
        |(best, reach): &mut (Vec<f32>, f32), block| {
            for j in 0..nprobes {
                *reach = reach.max(block.reach(j));
                for (i, &c) in block.approx(j).iter().enumerate() {
                    if let Some(b) = owner
                        .get(block.first + i)
                        .and_then(|&u| best.get_mut(u as usize))
                    {
                        *b = b.max(c);
                    }
                }
            }
        },
        |(mut a, ra), (b, rb)| {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.max(y);
            }
            (a, ra.max(rb))
        },
    );
    // Every quick cosine is within `reach` of its exact one, so the best
    // exact cosine is within `reach` of the best quick one.
    let reach = f64::from(reach);
    best.into_iter()
        .map(|b| {
            if b == f32::NEG_INFINITY {
                (b, b)
            } else {
                (
                    codes::down(f64::from(b) - reach),
                    codes::up(f64::from(b) + reach),
                )
            }
        })
        .collect()
}

/// The `k` best users at or above `threshold` by their best exact
/// similarity, from their cosine intervals `bounds` (one per slot); `key`
/// is a slot's tie-breaker, `None` for a slot that may not be returned, and
/// `exact` a slot's exact best similarity.
pub(crate) fn top_users<K: Ord + Copy>(
    bounds: &[(f32, f32)],
    k: usize,
    threshold: f32,
    key: impl Fn(u32) -> Option<K>,
    exact: impl FnMut(u32) -> io::Result<f32>,
) -> io::Result<Vec<Hit<K>>> {
    let mut pending = Pending::new(k, threshold);
    for (slot, &(lo, hi)) in bounds.iter().enumerate() {
        let slot = slot as u32;
        if hi.is_finite() && key(slot).is_some() {
            pending.offer(similarity(lo), similarity(hi), slot);
        }
    }
    pending.resolve(key, exact)
}

#[cfg(test)]
mod tests {
    //! Exactness: every search, over full-precision rows and over compact
    //! codes, equals a brute force over [`exact_cos`] on random and
    //! adversarial data (exact duplicates, near-ties a millionth apart,
    //! tight clusters, thresholds set at a row's own similarity, `k` from 1
    //! to more than there are rows).

    use proptest::prelude::*;

    use super::*;
    use crate::faces::vectors::Vectors;

    fn normalise(v: &mut [f32], dim: usize) {
        for r in v.chunks_mut(dim) {
            let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                r.iter_mut().for_each(|x| *x /= n);
            } else {
                r[0] = 1.0;
            }
        }
    }

    /// What a face search is asked: rows, probes and the query.
    struct Case<'a> {
        data: &'a [f32],
        dim: usize,
        owner: &'a [u32],
        ids: &'a [u128],
        k: usize,
        threshold: f32,
        exclude: Option<usize>,
    }

    impl Case<'_> {
        /// Brute force: every live row's exact similarity, sorted.
        fn brute(&self, probe: &[f32]) -> Vec<Hit<u128>> {
            let mut all: Vec<Hit<u128>> = self
                .data
                .chunks(self.dim)
                .enumerate()
                .filter(|(r, _)| self.owner[*r] != DELETED && self.exclude != Some(*r))
                .map(|(r, row)| Hit {
                    sim: similarity(exact_cos(row, probe)),
                    key: self.ids[r],
                    index: r as u32,
                })
                .filter(|h| h.sim >= self.threshold)
                .collect();
            all.sort_by(|a, b| b.sim.total_cmp(&a.sim).then(a.key.cmp(&b.key)));
            all.truncate(self.k);
            all
        }

        /// The search over `matrix`, one list per probe.
        fn search(&self, matrix: Matrix<'_>, probes: &[f32]) -> Vec<Vec<Hit<u128>>> {
            let info = RowInfo {
                owner: self.owner,
                face_ids: self.ids,
            };
            let full = Vectors::in_memory(self.dim, self.data.to_vec());
            top_faces(
                matrix,
                &full,
                self.dim,
                probes,
                &info,
                self.k,
                self.threshold,
                self.exclude,
            )
            .unwrap()
        }

        /// Both ways of holding the rows give the brute force's answer.
        fn check(&self, probes: &[f32]) -> Result<(), TestCaseError> {
            let mut codes = Codes::new(self.dim);
            codes.extend(self.data);
            let dense = self.search(
                Matrix::Dense {
                    data: self.data,
                    dim: self.dim,
                },
                probes,
            );
            let compact = self.search(Matrix::Compact(&codes), probes);
            for (j, probe) in probes.chunks(self.dim).enumerate() {
                let want = self.brute(probe);
                prop_assert_eq!(&dense[j], &want, "full precision, probe {}", j);
                prop_assert_eq!(&compact[j], &want, "compact codes, probe {}", j);
            }
            Ok(())
        }
    }

    /// Unit rows of one of four kinds: random, exact duplicates of four
    /// rows, near-ties (duplicates a millionth apart) and clusters.
    fn rows() -> impl Strategy<Value = (usize, Vec<f32>)> {
        let dims = prop::sample::select(vec![1usize, 3, 16, 33, 64, 128, 200, 512]);
        (dims, 1usize..300, 0u8..4).prop_flat_map(|(dim, n, kind)| {
            let base = prop::collection::vec(-1.0f32..1.0, dim * 4);
            let noise = prop::collection::vec(-1.0f32..1.0, n * dim);
            let picks = prop::collection::vec(0usize..4, n);
            (base, noise, picks).prop_map(move |(base, noise, picks)| {
                let mut v = Vec::with_capacity(picks.len() * dim);
                for (r, &p) in picks.iter().enumerate() {
                    for c in 0..dim {
                        let (b, e) = (base[p * dim + c], noise[r * dim + c]);
                        v.push(match kind {
                            0 => e,
                            1 => b,
                            2 => b + 1e-6 * e,
                            _ => b + 0.05 * e,
                        });
                    }
                }
                normalise(&mut v, dim);
                (dim, v)
            })
        })
    }

    /// Rows `picks` (taken modulo the row count) as probes, row-major.
    fn probes_of(data: &[f32], dim: usize, picks: &[usize]) -> Vec<f32> {
        let n = data.len() / dim;
        picks
            .iter()
            .flat_map(|&r| &data[(r % n) * dim..(r % n + 1) * dim])
            .copied()
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn face_searches_are_exact(
            (dim, data) in rows(),
            k in prop::sample::select(vec![1usize, 2, 5, 50, 4096]),
            at_row in prop::option::of(0usize..300),
            dels in prop::collection::vec(any::<bool>(), 300),
            picks in prop::collection::vec(0usize..300, 1..12),
            exclude in prop::option::of(0usize..300),
        ) {
            let n = data.len() / dim;
            let owner: Vec<u32> = (0..n)
                .map(|r| if dels[r] && r % 3 == 0 { DELETED } else { NO_USER })
                .collect();
            let ids: Vec<u128> = (0..n as u128).map(|i| (i * 7919) % 1009).collect();
            let probes = probes_of(&data, dim, &picks);
            // A threshold exactly at some row's similarity, or none.
            let threshold = at_row.map_or(0.0, |r| {
                let r = r % n;
                similarity(exact_cos(&data[r * dim..(r + 1) * dim], &probes[..dim]))
            });
            let case = Case {
                data: &data,
                dim,
                owner: &owner,
                ids: &ids,
                k,
                threshold,
                exclude: exclude.map(|e| e % n),
            };
            case.check(&probes)?;
        }

        #[test]
        fn user_searches_are_exact(
            (dim, data) in rows(),
            k in prop::sample::select(vec![1usize, 3, 50, 4096]),
            users in 1u32..40,
            owners in prop::collection::vec(0u32..45, 300),
            picks in prop::collection::vec(0usize..300, 1..10),
            exclude in prop::option::of(0u32..40),
            threshold in prop::sample::select(vec![0.0f32, 50.0, 90.0, 99.9]),
        ) {
            let n = data.len() / dim;
            // Owners from `users` on: no user, or (from `users + 3`) deleted.
            let owner: Vec<u32> = owners[..n]
                .iter()
                .map(|&o| match o {
                    o if o >= users + 3 => DELETED,
                    o if o >= users => NO_USER,
                    o => o,
                })
                .collect();
            let probes = probes_of(&data, dim, &picks);
            let names: Vec<String> = (0..users).map(|u| format!("user-{:03}", (u * 17) % 41)).collect();
            let owner_of = &owner;
            let rows_of = move |u: u32| (0..n).filter(move |&r| owner_of[r] == u);
            let (data_ref, probes_ref) = (&data, &probes);
            let exact = move |u: u32| -> io::Result<f32> {
                let (data, probes) = (data_ref, probes_ref);
                let best = rows_of(u)
                    .flat_map(|r| {
                        let row = &data[r * dim..(r + 1) * dim];
                        probes.chunks(dim).map(move |p| similarity(exact_cos(row, p)))
                    })
                    .fold(f32::NEG_INFINITY, f32::max);
                Ok(best)
            };
            let names_ref = &names;
            let key = move |u: u32| {
                (exclude != Some(u) && rows_of(u).next().is_some()).then(|| names_ref[u as usize].as_str())
            };
            let mut want: Vec<Hit<&str>> = (0..users)
                .filter_map(|u| key(u).map(|key| Hit { sim: exact(u).unwrap_or(0.0), key, index: u }))
                .filter(|h| h.sim >= threshold)
                .collect();
            want.sort_by(|a, b| b.sim.total_cmp(&a.sim).then(a.key.cmp(b.key)));
            want.truncate(k);
            let mut codes = Codes::new(dim);
            codes.extend(&data);
            for m in [Matrix::Dense { data: &data, dim }, Matrix::Compact(&codes)] {
                let bounds = best_per_user(m, dim, &probes, &owner, users as usize);
                prop_assert_eq!(&top_users(&bounds, k, threshold, key, exact).unwrap(), &want);
            }
        }
    }

    /// Many blocks over both cores, and the same scan on one thread beside
    /// another: the workers' merge keeps exactness.
    #[test]
    fn parallel_and_single_threaded_scans_are_exact() {
        let (dim, n) = (64, 40_000);
        assert!(n * dim > PARALLEL_MIN);
        let mut data: Vec<f32> = (0..n * dim)
            .map(|i| ((i as u64 * 2_654_435_761) % 1_000) as f32 / 500.0 - 1.0)
            .collect();
        // Every 7th row a near-duplicate of the row 7 before it, so that
        // many rows sit near the edge of the answer.
        for r in (7..n).step_by(7) {
            let (a, b) = data.split_at_mut(r * dim);
            b[..dim].copy_from_slice(&a[(r - 7) * dim..(r - 6) * dim]);
            b[r % dim] += 1e-4;
        }
        normalise(&mut data, dim);
        let owner: Vec<u32> = (0..n as u32)
            .map(|r| if r % 11 == 0 { DELETED } else { NO_USER })
            .collect();
        let ids: Vec<u128> = (0..n as u128).map(|i| (i * 7919) % 100_003).collect();
        let probes = data[14 * dim..24 * dim].to_vec();
        for k in [1, 10, 1000] {
            let case = Case {
                data: &data,
                dim,
                owner: &owner,
                ids: &ids,
                k,
                threshold: 0.0,
                exclude: None,
            };
            case.check(&probes[..dim]).unwrap();
            case.check(&probes).unwrap();
            let (_other, _) = Running::start();
            case.check(&probes[..3 * dim]).unwrap();
        }
    }
}
