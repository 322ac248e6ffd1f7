//! The per-face columns of a collection besides its vectors, each costing
//! what it holds: takes rows as they are appended (and which rows survive a
//! compaction), gives each row's metadata back; and the face-id index,
//! which keeps row numbers only and reads the ids from the collection's
//! `ids` column.
//!
//! - [`FaceIndex`]: face id -> row, a table of `u32` rows hashed through
//!   `ids[row]` (about 5 bytes a slot instead of a map's 33).
//! - [`FaceColumns`]: image id and sequence number as runs (the faces of one
//!   `IndexFaces` share the image and take consecutive sequence numbers, so
//!   a bulk import is a handful of runs), external image ids in one string
//!   arena and the photo boxes beside them, both stored only for the rows
//!   that have one.
//!
//! What the rows mean (owners, tombstones, when to compact) is
//! `collection`'s; this module only stores them.

use std::hash::Hasher;

use hashbrown::HashTable;

use super::collection::FoundAt;

/// Hashes face ids by folding their 128 bits. Every id in the index is a
/// random v4 UUID made here (callers only look ids up, never choose them),
/// so the bits are already uniform and no keyed hash is needed; this makes
/// loading a million faces several times faster than SipHash.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FaceIdHasher(u64);

impl Hasher for FaceIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(29) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v as u64) ^ ((v >> 64) as u64).rotate_left(32);
    }
}

/// The hash of face id `id`.
fn hash_id(id: u128) -> u64 {
    let mut h = FaceIdHasher::default();
    h.write_u128(id);
    h.finish()
}

/// Face id -> row, for the rows of an `ids` column that the caller puts
/// in: the table holds row numbers and every method is given the column
/// to read their ids from (a row in the table must be in the column).
#[derive(Debug, Clone, Default)]
pub(crate) struct FaceIndex {
    rows: HashTable<u32>,
}

impl FaceIndex {
    /// How many rows the index holds.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Room for `more` rows without growing.
    pub(crate) fn reserve(&mut self, more: usize, ids: &[u128]) {
        self.rows.reserve(more, |&r| row_hash(ids, r));
    }

    /// The row holding `id`.
    pub(crate) fn get(&self, ids: &[u128], id: u128) -> Option<u32> {
        self.rows
            .find(hash_id(id), |&r| ids.get(r as usize) == Some(&id))
            .copied()
    }

    /// Indexes `row` (its id is `ids[row]`) unless another row already
    /// holds that id: then that row, and nothing changes.
    pub(crate) fn insert(&mut self, ids: &[u128], row: u32) -> Result<(), u32> {
        let Some(&id) = ids.get(row as usize) else {
            return Ok(());
        };
        match self.rows.entry(
            hash_id(id),
            |&r| ids.get(r as usize) == Some(&id),
            |&r| row_hash(ids, r),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => Err(*e.get()),
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(row);
                Ok(())
            }
        }
    }

    /// Takes `id` out of the index; its row.
    pub(crate) fn remove(&mut self, ids: &[u128], id: u128) -> Option<u32> {
        self.rows
            .find_entry(hash_id(id), |&r| ids.get(r as usize) == Some(&id))
            .ok()
            .map(|e| e.remove().0)
    }

    /// An index of every row of `ids` (whose ids are distinct).
    pub(crate) fn of_all(ids: &[u128]) -> FaceIndex {
        let mut index = FaceIndex::default();
        index.reserve(ids.len(), ids);
        for row in 0..ids.len() as u32 {
            // Distinct by the caller's invariant; a repeat would stay out.
            let _ = index.insert(ids, row);
        }
        index
    }
}

/// The hash of the id in `row` (a row the table holds is in the column).
fn row_hash(ids: &[u128], row: u32) -> u64 {
    hash_id(ids.get(row as usize).copied().unwrap_or_default())
}

/// One face's metadata, as [`FaceColumns::get`] gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FaceMeta<'a> {
    /// The image (request) the face came in.
    pub(crate) image: u128,
    /// Sequence number: the order of faces, for paging.
    pub(crate) seq: u64,
    /// `ExternalImageId`, if the request gave one (it may be empty).
    pub(crate) ext: Option<&'a str>,
    /// Where the face was found in its photo; `None` for a vector.
    pub(crate) found: Option<FoundAt>,
}

/// The metadata of every row, appended in row order.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaceColumns {
    /// Rows in all.
    len: usize,
    /// Maximal runs of rows with one image and consecutive sequence
    /// numbers: each run's first row, image and first sequence number.
    run_first: Vec<u32>,
    run_image: Vec<u128>,
    run_seq: Vec<u64>,
    /// The rows that have an external image id, ascending, and the end of
    /// each one's text in `ext_text` (it starts where the one before ends).
    ext_rows: Vec<u32>,
    ext_end: Vec<u64>,
    ext_text: String,
    /// The rows that have a box, ascending, and their boxes.
    found_rows: Vec<u32>,
    found: Vec<FoundAt>,
}

impl FaceColumns {
    /// How many rows there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends a row (its number is the old [`len`](Self::len)).
    pub(crate) fn push(&mut self, meta: FaceMeta<'_>) {
        let row = self.len as u32;
        let continues = match (
            self.run_first.last(),
            self.run_image.last(),
            self.run_seq.last(),
        ) {
            (Some(&first), Some(&image), Some(&seq)) => {
                image == meta.image && seq.checked_add(u64::from(row - first)) == Some(meta.seq)
            }
            _ => false,
        };
        if !continues {
            self.run_first.push(row);
            self.run_image.push(meta.image);
            self.run_seq.push(meta.seq);
        }
        if let Some(ext) = meta.ext {
            self.ext_text.push_str(ext);
            self.ext_rows.push(row);
            self.ext_end.push(self.ext_text.len() as u64);
        }
        if let Some(found) = meta.found {
            self.found_rows.push(row);
            self.found.push(found);
        }
        self.len += 1;
    }

    /// Gives `row` its box, replacing any it had (cheap when rows are set
    /// in ascending order, as a snapshot's boxes follow its rows).
    pub(crate) fn set_found(&mut self, row: usize, found: Option<FoundAt>) {
        let at = self.found_rows.partition_point(|&r| (r as usize) < row);
        let there = self.found_rows.get(at) == Some(&(row as u32));
        match (there, found) {
            (true, Some(f)) => self.found[at] = f,
            (true, None) => {
                self.found_rows.remove(at);
                self.found.remove(at);
            }
            (false, Some(f)) if row < self.len => {
                self.found_rows.insert(at, row as u32);
                self.found.insert(at, f);
            }
            (false, _) => {}
        }
    }

    /// The metadata of `row`.
    pub(crate) fn get(&self, row: usize) -> Option<FaceMeta<'_>> {
        let (image, seq) = self.run_of(row)?;
        let ext = self
            .ext_rows
            .binary_search(&(row as u32))
            .ok()
            .and_then(|i| {
                let start = i.checked_sub(1).map_or(0, |p| self.ext_end[p]) as usize;
                self.ext_text.get(start..*self.ext_end.get(i)? as usize)
            });
        let found = self
            .found_rows
            .binary_search(&(row as u32))
            .ok()
            .and_then(|i| self.found.get(i).copied());
        Some(FaceMeta {
            image,
            seq,
            ext,
            found,
        })
    }

    /// The image and sequence number of `row`, from its run.
    fn run_of(&self, row: usize) -> Option<(u128, u64)> {
        if row >= self.len {
            return None;
        }
        let run = self.run_first.partition_point(|&f| f as usize <= row);
        let run = run.checked_sub(1)?;
        let first = *self.run_first.get(run)? as usize;
        let image = *self.run_image.get(run)?;
        Some((image, self.run_seq.get(run)? + (row - first) as u64))
    }

    /// The sequence number of `row` (its run alone: no external id or box
    /// lookup, as paging's binary search asks it for many rows).
    pub(crate) fn seq(&self, row: usize) -> Option<u64> {
        self.run_of(row).map(|(_, seq)| seq)
    }

    /// The first row whose sequence number is `start` or more (sequence
    /// numbers grow with the row).
    pub(crate) fn first_from_seq(&self, start: u64) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.seq(mid).is_some_and(|s| s < start) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Keeps the rows whose `keep` is true, in order, renumbered from 0.
    pub(crate) fn retain(&mut self, keep: &[bool]) {
        let mut kept = FaceColumns::default();
        for row in 0..self.len {
            if keep.get(row) == Some(&true)
                && let Some(meta) = self.get(row)
            {
                kept.push(meta);
            }
        }
        *self = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(image: u128, seq: u64, ext: Option<&str>) -> FaceMeta<'_> {
        FaceMeta {
            image,
            seq,
            ext,
            found: None,
        }
    }

    #[test]
    fn face_id_hasher_spreads_ids() {
        let ids: Vec<u128> = (0..1000).map(|_| uuid::Uuid::new_v4().as_u128()).collect();
        let index = FaceIndex::of_all(&ids);
        assert_eq!(index.len(), 1000);
        assert!(ids
            .iter()
            .enumerate()
            .all(|(row, &id)| index.get(&ids, id) == Some(row as u32)));
        let mut h = FaceIdHasher::default();
        h.write(b"bytes also hash");
        assert_ne!(h.finish(), 0);
    }

    /// Inserting a held id keeps the first row; a removed id is gone and
    /// its slot reused; rows renumbered by compaction are found at their
    /// new numbers.
    #[test]
    fn index_insert_remove_and_renumber() {
        let mut ids: Vec<u128> = vec![10, 20, 30, 10];
        let mut index = FaceIndex::default();
        for row in 0..3 {
            assert_eq!(index.insert(&ids, row), Ok(()));
        }
        assert_eq!(index.insert(&ids, 3), Err(0), "a repeated id stays out");
        assert_eq!(index.get(&ids, 10), Some(0));
        assert_eq!(index.remove(&ids, 20), Some(1));
        assert_eq!(index.remove(&ids, 20), None);
        assert_eq!(index.get(&ids, 20), None);
        assert_eq!(index.len(), 2);
        // Compaction drops rows 1 and 3: 30 moves to row 1.
        ids = vec![10, 30];
        let index = FaceIndex::of_all(&ids);
        assert_eq!(
            (
                index.get(&ids, 10),
                index.get(&ids, 30),
                index.get(&ids, 20)
            ),
            (Some(0), Some(1), None)
        );
    }

    /// An empty external id is not a missing one; runs split where the
    /// image or the sequence breaks, and compaction keeps every survivor's
    /// metadata.
    #[test]
    fn columns_keep_each_rows_metadata_through_retain() {
        let at = FoundAt {
            left: 0.1,
            top: 0.2,
            width: 0.3,
            height: 0.4,
            confidence: 99.0,
        };
        let want: Vec<FaceMeta<'static>> = vec![
            meta(1, 5, None),
            meta(1, 6, Some("")),
            meta(1, 7, Some("b")),
            meta(2, 8, None),
            FaceMeta {
                found: Some(at),
                ..meta(2, 9, Some("cc"))
            },
            meta(2, 11, Some("")),
            meta(3, 12, None),
        ];
        let mut c = FaceColumns::default();
        want.iter().for_each(|&m| c.push(m));
        assert_eq!(c.run_first, [0, 3, 5, 6]);
        assert_eq!((0..7).map(|r| c.get(r).unwrap()).collect::<Vec<_>>(), want);
        assert_eq!(c.get(7), None);
        assert_eq!(c.first_from_seq(10), 5);
        assert_eq!(c.first_from_seq(0), 0);
        assert_eq!(c.first_from_seq(13), 7);
        let keep = [true, false, true, false, true, true, false];
        c.retain(&keep);
        let kept: Vec<_> = want
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(m, _)| *m)
            .collect();
        assert_eq!(
            (0..c.len()).map(|r| c.get(r).unwrap()).collect::<Vec<_>>(),
            kept
        );
        assert_eq!(c.ext_text, "bcc");
        c.set_found(3, Some(at));
        c.set_found(2, None);
        assert_eq!(
            (c.get(2).unwrap().found, c.get(3).unwrap().found),
            (None, Some(at))
        );
    }
}
