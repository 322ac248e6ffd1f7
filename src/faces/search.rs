//! The hot loop: takes a contiguous row-major `f32` matrix of unit vectors
//! and one or more unit probes, gives the best rows (or the best owners of
//! rows) by cosine similarity, with the threshold and a bounded top-k
//! applied inside the scan.
//!
//! The rows are cut into blocks of about 4 MiB. Each block is scored
//! against the probes with faer's matrix product over `MatRef` views of the
//! matrix (one probe: a matrix-vector product that streams the block once;
//! many probes: a matrix-matrix product, compute-bound), and the scores go
//! straight into bounded heaps (or per-owner best scores) while the block
//! is still in cache. Once the matrix is large, rayon spreads the blocks
//! over the cores; each worker keeps its own heaps, merged at the end. No
//! score vector over the whole matrix is ever materialised or sorted.
//!
//! Only a scan that runs alone goes parallel. When several run at once
//! (concurrent requests to a server), each stays on its own thread: the
//! cores are busy already, and splitting every scan over a shared pool only
//! adds hand-offs and lets some scans starve behind others.
//!
//! faer's kernels are used for one probe too, not a hand-written loop: its
//! runtime-dispatched AVX2/FMA code is as fast at streaming, and mixing it
//! with baseline-SSE code on the same threads made that SSE code up to 4x
//! slower on the benchmark machine after the first batch search.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

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

/// Similarity on Rekognition's scale: `100 * max(0, cos)`.
#[inline]
pub(crate) fn similarity(cos: f32) -> f32 {
    100.0 * cos.clamp(0.0, 1.0)
}

/// Dot product of two short vectors (16 independent accumulators), for
/// scoring a handful of faces outside the scan.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let mut acc = [0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    let mut width = L;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + tail
}

/// Scores of one block of rows against all probes, column-major
/// (`rows` x `probes`): the scores of probe `j` are `column(j)`.
pub(crate) struct Block<'a> {
    /// Index of the block's first row in the matrix.
    pub(crate) first: usize,
    rows: usize,
    scores: &'a [f32],
}

impl Block<'_> {
    /// Cosine scores of probe `j` for the block's rows.
    pub(crate) fn column(&self, j: usize) -> &[f32] {
        &self.scores[j * self.rows..(j + 1) * self.rows]
    }
    /// Number of rows in the block.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }
}

/// Rows per block: about 4 MiB of matrix (it stays in the last-level cache
/// while the scores are read), at least 64 rows.
fn block_rows(dim: usize) -> usize {
    (1024 * 1024 / dim.max(1)).clamp(64, 8192)
}

/// Scores a block of rows against all probes with faer's matrix product
/// (runtime-dispatched SIMD: AVX2/FMA where the CPU has it). One probe is a
/// matrix-vector product streaming the block once.
fn score_block(rows: &[f32], dim: usize, probes: &[f32], nprobes: usize, out: &mut [f32]) {
    let n = rows.len() / dim;
    matmul(
        MatMut::from_column_major_slice_mut(out, n, nprobes),
        Accum::Replace,
        MatRef::from_row_major_slice(rows, n, dim),
        MatRef::from_row_major_slice(probes, nprobes, dim).transpose(),
        1.0f32,
        Par::Seq,
    );
}

/// Runs one fused pass over `data` (`dim` columns, row-major) scoring every
/// row against the `probes` (row-major, `dim` columns each): `visit` folds
/// each scored block into a worker's accumulator, `merge` joins workers.
pub(crate) fn scan<A, I, V, M>(
    data: &[f32],
    dim: usize,
    probes: &[f32],
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
    let step = |(mut acc, mut scratch): (A, Vec<f32>), (i, chunk): (usize, &[f32])| {
        let rows = chunk.len() / dim;
        scratch.resize(rows * nprobes, 0.0);
        score_block(chunk, dim, probes, nprobes, &mut scratch);
        visit(
            &mut acc,
            &Block {
                first: i * block,
                rows,
                scores: &scratch,
            },
        );
        (acc, scratch)
    };
    let (_running, alone) = Running::start();
    if data.len() < PARALLEL_MIN || !alone {
        data.chunks(block * dim)
            .enumerate()
            .fold((init(), Vec::new()), step)
            .0
    } else {
        data.par_chunks(block * dim)
            .enumerate()
            .fold(|| (init(), Vec::new()), step)
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
    /// Whether a hit with this similarity could enter (cheap pre-check).
    #[inline]
    pub(crate) fn admits(&self, sim: f32) -> bool {
        self.heap.len() < self.k || self.heap.peek().is_some_and(|w| sim >= w.0.sim)
    }
    pub(crate) fn push(&mut self, hit: Hit<K>) {
        if self.heap.len() < self.k {
            self.heap.push(Worst(hit));
        } else if let Some(mut top) = self.heap.peek_mut() {
            if Worst(hit) < *top {
                *top = Worst(hit);
            }
        }
    }
    pub(crate) fn merge(mut self, other: Self) -> Self {
        for w in other.heap {
            self.push(w.0);
        }
        self
    }
    /// The kept hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<Hit<K>> {
        let mut v: Vec<Worst<K>> = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|w| w.0).collect()
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
pub(crate) fn top_faces(
    data: &[f32],
    dim: usize,
    probes: &[f32],
    rows: &RowInfo<'_>,
    k: usize,
    threshold: f32,
    exclude: Option<usize>,
) -> Vec<Vec<Hit<u128>>> {
    let nprobes = probes.len().checked_div(dim).unwrap_or(0);
    let tops = scan(
        data,
        dim,
        probes,
        || vec![TopK::new(k); nprobes],
        |tops: &mut Vec<TopK<u128>>, block| {
            for (j, top) in tops.iter_mut().enumerate() {
                for (i, &c) in block.column(j).iter().enumerate() {
                    let sim = similarity(c);
                    if sim >= threshold && top.admits(sim) {
                        let row = block.first + i;
                        if rows.owner.get(row).is_some_and(|&o| o != DELETED)
                            && exclude != Some(row)
                        {
                            if let (Some(&key), Ok(index)) =
                                (rows.face_ids.get(row), u32::try_from(row))
                            {
                                top.push(Hit { sim, key, index });
                            }
                        }
                    }
                }
            }
        },
        |a, b| a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect(),
    );
    tops.into_iter().map(TopK::into_sorted).collect()
}

/// Best cosine per user slot (`users` slots) over all probes, in one pass;
/// `-inf` for users without live faces.
pub(crate) fn best_per_user(
    data: &[f32],
    dim: usize,
    probes: &[f32],
    owner: &[u32],
    users: usize,
) -> Vec<f32> {
    let nprobes = probes.len().checked_div(dim).unwrap_or(0);
    scan(
        data,
        dim,
        probes,
        || vec![f32::NEG_INFINITY; users],
        |best: &mut Vec<f32>, block| {
            for i in 0..block.rows() {
                let Some(&u) = owner.get(block.first + i) else {
                    continue;
                };
                if let Some(b) = best.get_mut(u as usize) {
                    let s = (0..nprobes)
                        .map(|j| block.column(j)[i])
                        .fold(f32::NEG_INFINITY, f32::max);
                    *b = b.max(s);
                }
            }
        },
        |mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.max(y);
            }
            a
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_all_tail_lengths() {
        for n in 0..50 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn topk_keeps_best_and_breaks_ties_by_key() {
        let mut t = TopK::new(3);
        for (sim, key) in [(5.0, 9u128), (7.0, 1), (5.0, 2), (1.0, 0), (5.0, 3)] {
            if t.admits(sim) {
                t.push(Hit { sim, key, index: 0 });
            }
        }
        let keys: Vec<u128> = t.into_sorted().iter().map(|h| h.key).collect();
        assert_eq!(keys, vec![1, 2, 3]);
    }

    /// A matrix above [`PARALLEL_MIN`]: scanned over both cores when the
    /// scan runs alone, on one thread beside another scan; both must give
    /// the brute-force answer.
    #[test]
    fn parallel_and_single_threaded_scans_agree_with_brute_force() {
        let (dim, n, users) = (8, 40_000, 700u32);
        assert!(n * dim > PARALLEL_MIN);
        let mut data: Vec<f32> = (0..n * dim)
            .map(|i| ((i as u64 * 2_654_435_761) % 1_000) as f32 / 500.0 - 1.0)
            .collect();
        for row in data.chunks_mut(dim) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            row.iter_mut().for_each(|x| *x /= norm);
        }
        let owner: Vec<u32> = (0..n as u32)
            .map(|r| r % (users + 1))
            .map(|o| if o == users { NO_USER } else { o })
            .collect();
        let ids: Vec<u128> = (0..n as u128).collect();
        let info = RowInfo {
            owner: &owner,
            face_ids: &ids,
        };
        let probe = data[17 * dim..18 * dim].to_vec();
        let sims: Vec<f32> = data
            .chunks(dim)
            .map(|r| similarity(dot(r, &probe)))
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
        let mut best = vec![f32::NEG_INFINITY; users as usize];
        for (r, &o) in owner.iter().enumerate() {
            if o != NO_USER {
                best[o as usize] = best[o as usize].max(dot(&data[r * dim..(r + 1) * dim], &probe));
            }
        }
        let check = || {
            let top = top_faces(&data, dim, &probe, &info, 50, 0.0, None);
            let got: Vec<usize> = top[0].iter().map(|h| h.index as usize).collect();
            assert_eq!(got, order[..50]);
            let per_user = best_per_user(&data, dim, &probe, &owner, users as usize);
            for (g, b) in per_user.iter().zip(&best) {
                assert!((g - b).abs() < 1e-5, "{g} vs {b}");
            }
        };
        check();
        let (_other, _) = Running::start();
        check();
    }

    #[test]
    fn batch_and_single_agree() {
        let dim = 8;
        let n = 300;
        let data: Vec<f32> = (0..n * dim)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let owner = vec![NO_USER; n];
        let ids: Vec<u128> = (0..n as u128).collect();
        let info = RowInfo {
            owner: &owner,
            face_ids: &ids,
        };
        let probes = &data[..3 * dim];
        let batch = top_faces(&data, dim, probes, &info, 5, 0.0, None);
        for (j, b) in batch.iter().enumerate() {
            let single = top_faces(
                &data,
                dim,
                &probes[j * dim..(j + 1) * dim],
                &info,
                5,
                0.0,
                None,
            );
            let bi: Vec<u32> = b.iter().map(|h| h.index).collect();
            let si: Vec<u32> = single[0].iter().map(|h| h.index).collect();
            assert_eq!(bi, si);
        }
    }
}
