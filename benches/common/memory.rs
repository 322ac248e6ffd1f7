//! The memory-bandwidth baseline the face benches print beside their
//! scans (`PERF_ANCHORS.md`'s method): a plain sum over a matrix on all
//! cores, sixteen lanes so that it vectorises.

use rayon::prelude::*;

/// The sum of `data`, streamed once on all cores.
pub fn stream_sum(data: &[f32]) -> f32 {
    data.par_chunks(1 << 16)
        .map(|c| {
            let mut acc = [0f32; 16];
            for x in c.chunks_exact(16) {
                for i in 0..16 {
                    acc[i] += x[i];
                }
            }
            acc.iter().sum::<f32>()
        })
        .sum()
}
