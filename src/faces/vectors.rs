//! The full-precision vectors of a collection, the source of truth for
//! every similarity: takes rows as they are indexed (in memory) and the
//! snapshot file that holds the rest, gives any row back.
//!
//! A collection scanned over compact codes (see `codes`) does not keep its
//! snapshot's rows in memory: they stay in the snapshot file, and the few
//! hundred rows a search re-ranks are read from it by positioned reads
//! (`pread`, no mapping, no shared file offset). Rows indexed since that
//! snapshot (its log's tail) are in memory, after the file's rows. Every
//! other collection holds all its rows in memory.
//!
//! The file was checksummed whole when it was opened; snapshots are never
//! written in place (a new one is written aside and renamed over the old
//! one), so the open file keeps the bytes that were checked, even after
//! another process replaces or deletes it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::codec::copy_f32_from_bytes;
use super::search::FullRows;

/// A collection's rows at full precision, `dim` values each: first those
/// in a snapshot file (if any), then those in memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vectors {
    dim: usize,
    file: Option<InFile>,
    /// The rows after the file's, row-major.
    memory: Vec<f32>,
}

/// Rows kept in a snapshot file.
#[derive(Debug, Clone)]
struct InFile {
    file: Arc<File>,
    /// Byte offset of the file's row 0 (little-endian `f32`s, row-major).
    start: u64,
    /// The file row of each row kept there, ascending (compaction drops
    /// some).
    rows: Vec<u32>,
}

/// Rows read from a file at once when every row is wanted: 4 MiB of
/// values at most.
const CHUNK_VALUES: usize = 1 << 20;

impl Vectors {
    /// The rows `values` (row-major, `dim` wide), in memory.
    pub(crate) fn in_memory(dim: usize, values: Vec<f32>) -> Vectors {
        Vectors {
            dim,
            file: None,
            memory: values,
        }
    }

    /// `rows` rows of `dim` values kept in `file` from byte `start` on (the
    /// caller checked that the file holds them).
    pub(crate) fn in_file(dim: usize, file: File, start: u64, rows: usize) -> Vectors {
        Vectors {
            dim,
            file: Some(InFile {
                file: Arc::new(file),
                start,
                rows: (0..rows as u32).collect(),
            }),
            memory: Vec::new(),
        }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.rows.len()) + self.memory.len() / self.dim.max(1)
    }

    /// Whether there are no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of values (`len() * dim`).
    pub(crate) fn values(&self) -> usize {
        self.len() * self.dim
    }

    /// All rows, row-major, when all are in memory.
    pub(crate) fn all_in_memory(&self) -> Option<&[f32]> {
        self.file.is_none().then_some(&self.memory[..])
    }

    /// Appends rows (row-major, `dim` wide) in memory.
    pub(crate) fn extend(&mut self, values: Vec<f32>) {
        if self.memory.is_empty() {
            self.memory = values;
        } else {
            self.memory.extend_from_slice(&values);
        }
    }

    /// From now on, every row is read from `file`, whose rows from byte
    /// `start` on are exactly this object's rows (a snapshot of them just
    /// written); the memory they took is freed.
    pub(crate) fn move_to_file(&mut self, file: File, start: u64) {
        *self = Vectors::in_file(self.dim, file, start, self.len());
    }

    /// Keeps the rows whose `keep` is true (one flag per row), in order.
    pub(crate) fn retain(&mut self, keep: &[bool]) {
        let in_file = self.file.as_ref().map_or(0, |f| f.rows.len());
        let (keep_file, keep_memory) = keep.split_at(in_file.min(keep.len()));
        if let Some(f) = &mut self.file {
            let mut flags = keep_file.iter();
            f.rows.retain(|_| flags.next().copied().unwrap_or(false));
            f.rows.shrink_to_fit();
        }
        let dim = self.dim;
        let mut kept = 0;
        for (row, _) in keep_memory.iter().enumerate().filter(|&(_, &k)| k) {
            if row != kept {
                self.memory
                    .copy_within(row * dim..(row + 1) * dim, kept * dim);
            }
            kept += 1;
        }
        self.memory.truncate(kept * dim);
        self.memory.shrink_to_fit();
    }

    /// Calls `f` with every row in order, a run of whole rows at a time
    /// (row-major); stops at the first error.
    pub(crate) fn for_each_chunk(
        &self,
        mut f: impl FnMut(&[f32]) -> io::Result<()>,
    ) -> io::Result<()> {
        let dim = self.dim.max(1);
        let chunk_rows = (CHUNK_VALUES / dim).max(1);
        if let Some(file) = &self.file {
            let mut buf = Vec::new();
            let mut i = 0;
            while i < file.rows.len() {
                // A run of consecutive file rows, read at once.
                let first = file.rows[i];
                let run = file.rows[i..]
                    .iter()
                    .take(chunk_rows)
                    .enumerate()
                    .take_while(|&(j, &r)| r as usize == first as usize + j)
                    .count();
                f(file.read(first as usize, run, dim, &mut buf)?)?;
                i += run;
            }
        }
        self.memory.chunks(chunk_rows * dim).try_for_each(f)
    }
}

impl InFile {
    /// File rows `first..first + n`, read into `buf`.
    fn read<'b>(
        &self,
        first: usize,
        n: usize,
        dim: usize,
        buf: &'b mut Vec<f32>,
    ) -> io::Result<&'b [f32]> {
        let mut bytes = vec![0u8; n * dim * 4];
        let at = self.start + (first * dim * 4) as u64;
        self.file.read_exact_at(&mut bytes, at)?;
        buf.resize(n * dim, 0.0);
        copy_f32_from_bytes(buf, &bytes);
        Ok(buf)
    }
}

impl FullRows for Vectors {
    fn row<'b>(&'b self, row: usize, buf: &'b mut Vec<f32>) -> io::Result<&'b [f32]> {
        let out_of_range = || io::Error::new(io::ErrorKind::InvalidData, "row out of range");
        let in_file = match &self.file {
            Some(f) => match f.rows.get(row) {
                Some(&at) => return f.read(at as usize, 1, self.dim, buf),
                None => f.rows.len(),
            },
            None => 0,
        };
        let row = row - in_file;
        self.memory
            .get(row * self.dim..(row + 1) * self.dim)
            .ok_or_else(out_of_range)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Rows in a file and in memory read back the same after compaction,
    /// one at a time and all in order.
    #[test]
    fn rows_in_a_file_read_back_after_compaction() {
        let dim = 3;
        let values: Vec<f32> = (0..10 * dim).map(|i| i as f32 * 0.5).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"head").unwrap();
        for v in &values[..6 * dim] {
            file.write_all(&v.to_le_bytes()).unwrap();
        }
        let mut v = Vectors::in_file(dim, file, 4, 6);
        v.extend(values[6 * dim..].to_vec());
        assert_eq!((v.len(), v.values()), (10, 30));
        assert!(v.all_in_memory().is_none());
        let keep: Vec<bool> = (0..10).map(|r| r % 3 != 1).collect();
        v.retain(&keep);
        let want: Vec<f32> = values
            .chunks(dim)
            .zip(&keep)
            .filter(|&(_, &k)| k)
            .flat_map(|(r, _)| r.iter().copied())
            .collect();
        let mut buf = Vec::new();
        for (r, row) in want.chunks(dim).enumerate() {
            assert_eq!(v.row(r, &mut buf).unwrap(), row, "row {r}");
        }
        assert!(v.row(want.len() / dim, &mut buf).is_err());
        let mut all = Vec::new();
        v.for_each_chunk(|c| {
            all.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(all, want);
    }
}
