//! The snapshot: a collection's whole state in one file, written aside
//! and renamed into place. Its layout, after the 8-byte magic (`RCSNAP01`
//! for a collection of vectors, `RCSNAP02` for one of faces from photos):
//! the metadata's length (u64) and the metadata (a [`SnapshotHead`], then
//! rows, users and tokens, and in `RCSNAP02` where each face was found),
//! the matrix's value count (u64) and its
//! little-endian `f32`s, and a CRC32 of everything before it.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};

use super::log::{read_found, read_token, write_found, write_token};
use crate::faces::codec::{copy_f32_from_bytes, extend_f32_bytes, CodecError, Reader, Writer};
use crate::faces::codes::{Codes, FaceCodes};
use crate::faces::collection::{Collection, SnapshotParts};
use crate::faces::model::FaceModel;
use crate::faces::rows::FaceMeta;
use crate::faces::search::NO_USER;
use crate::faces::vectors::Vectors;

/// The magic of a snapshot of a collection of vectors (the layout
/// before faces came from photos, unchanged).
const SNAPSHOT_MAGIC: &[u8; 8] = b"RCSNAP01";
/// The magic of a snapshot of a collection of faces from photos: its head
/// holds the model, its metadata ends with where each face was found.
const SNAPSHOT_MAGIC_PHOTOS: &[u8; 8] = b"RCSNAP02";

/// The magic of a snapshot of a collection of `model`.
fn magic(model: FaceModel) -> &'static [u8; 8] {
    match model {
        FaceModel::Vectors => SNAPSHOT_MAGIC,
        FaceModel::DlibResnetV1 => SNAPSHOT_MAGIC_PHOTOS,
    }
}

/// Whether `bytes` open a snapshot, and which layout: `Some(true)` for
/// `RCSNAP02`.
fn layout(bytes: &[u8]) -> Option<bool> {
    match bytes {
        b if b == SNAPSHOT_MAGIC => Some(false),
        b if b == SNAPSHOT_MAGIC_PHOTOS => Some(true),
        _ => None,
    }
}

/// The fixed fields that open a snapshot's metadata, in this order: the
/// one definition of that layout, for writing a snapshot, for reading it
/// whole, and for peeking at its first bytes.
pub(super) struct SnapshotHead {
    id: String,
    created: u64,
    /// Embedding dimension; 0 while open.
    pub(super) dim: usize,
    /// The face model (written in `RCSNAP02` only, after `dim`).
    pub(super) model: FaceModel,
    next_seq: u64,
    /// Sequence number of the last log record the snapshot holds.
    pub(super) last_record: u64,
}

/// The most bytes of metadata [`peek_head`] reads: the head with a
/// collection id of 255 characters fits many times over.
const HEAD_PEEK_MAX: u64 = 4096;

impl SnapshotHead {
    fn write(&self, w: &mut Writer) {
        w.str(&self.id);
        w.u64(self.created);
        w.len(self.dim);
        if self.model != FaceModel::Vectors {
            w.u8(self.model.tag());
        }
        w.u64(self.next_seq);
        w.u64(self.last_record);
    }

    /// Reads a head of the layout `photos` (`RCSNAP02`) or not.
    fn read(r: &mut Reader<'_>, photos: bool) -> Result<SnapshotHead, CodecError> {
        let id = r.str()?;
        let created = r.u64()?;
        let dim = usize::try_from(r.u64()?).map_err(|_| CodecError("dimension too large"))?;
        let model = match photos {
            false => FaceModel::Vectors,
            true => FaceModel::from_tag(r.u8()?)
                .filter(|&m| m != FaceModel::Vectors)
                .ok_or(CodecError("bad face model"))?,
        };
        Ok(SnapshotHead {
            id,
            created,
            dim,
            model,
            next_seq: r.u64()?,
            last_record: r.u64()?,
        })
    }
}

/// Reads the head of a snapshot file (a few hundred bytes at most): the
/// frame's magic and metadata length, then [`SnapshotHead`].
pub(super) fn peek_head(file: File) -> Option<SnapshotHead> {
    let mut f = BufReader::with_capacity(512, file);
    let mut frame = [0u8; 16];
    f.read_exact(&mut frame).ok()?;
    let photos = layout(&frame[..8])?;
    let meta_len = u64::from_le_bytes(frame[8..16].try_into().ok()?);
    let mut meta = Vec::new();
    f.take(meta_len.min(HEAD_PEEK_MAX))
        .read_to_end(&mut meta)
        .ok()?;
    SnapshotHead::read(&mut Reader::new(&meta), photos).ok()
}

/// A writer that keeps a CRC32 of everything written.
struct Crc<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Crc<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }
}

/// Faces a bulk import adds to a collection while its snapshot is being
/// written, streamed rather than held: their metadata follows the
/// collection's rows, their values its matrix, so that memory holds one
/// chunk of them at a time.
pub(crate) struct Streamed<'a> {
    /// The new faces' ids, one per row, in order.
    pub(crate) ids: &'a [u128],
    /// Their external image ids, if any (as many as `ids`).
    pub(crate) exts: Option<&'a [String]>,
    /// Their image id.
    pub(crate) image: u128,
    /// Their width (the collection's, or the first faces' of an empty one).
    pub(crate) dim: usize,
    /// Gives the next rows (row-major, normalised, a whole number of them)
    /// into the buffer; leaves it empty when there are no more.
    pub(crate) next: &'a mut dyn FnMut(&mut Vec<f32>) -> io::Result<()>,
}

/// Writes a snapshot of a compacted collection to `file` and syncs it;
/// gives its length in bytes.
pub(super) fn write_snapshot(coll: &Collection, file: File) -> io::Result<u64> {
    write_snapshot_with(coll, None, file)
}

/// [`write_snapshot`], with the faces of `more` added after the
/// collection's (as one `IndexFaces` record would add them).
pub(super) fn write_snapshot_with(
    coll: &Collection,
    more: Option<&mut Streamed<'_>>,
    file: File,
) -> io::Result<u64> {
    let (out, len) = encode(coll, more, BufWriter::with_capacity(1 << 20, file))?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(len)
}

/// Writes the snapshot of `coll` to `out`; gives `out` back and the length
/// written. Tokens go in (api, token) order, so that one state always
/// encodes to the same bytes.
pub(crate) fn encode_snapshot<W: Write>(coll: &Collection, out: W) -> io::Result<(W, u64)> {
    encode(coll, None, out)
}

/// [`encode_snapshot`] of `coll` with the faces of `more` after its own.
fn encode<W: Write>(
    coll: &Collection,
    more: Option<&mut Streamed<'_>>,
    out: W,
) -> io::Result<(W, u64)> {
    let (added, dim) = match &more {
        Some(m) if m.dim == 0 || (coll.dim() != 0 && m.dim != coll.dim()) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "streamed faces of another width",
            ))
        }
        Some(m) if m.exts.is_some_and(|x| x.len() != m.ids.len()) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "streamed faces with another number of external ids",
            ))
        }
        Some(m) => (m.ids.len(), m.dim),
        None => (0, coll.dim()),
    };
    let mut w = Writer::default();
    SnapshotHead {
        id: coll.id().to_string(),
        created: coll.created(),
        dim,
        model: coll.model(),
        next_seq: coll.next_seq() + added as u64,
        // The import counts as one record, as it would in the log.
        last_record: coll.last_record() + u64::from(more.is_some()),
    }
    .write(&mut w);
    let rows = coll.rows();
    w.len(rows.len() + added);
    for (id, f, owner) in rows {
        w.u128(id);
        w.u128(f.image);
        w.u64(f.seq);
        w.u32(owner);
        w.opt_str(f.ext);
    }
    if let Some(m) = &more {
        for (i, &id) in m.ids.iter().enumerate() {
            w.u128(id);
            w.u128(m.image);
            w.u64(coll.next_seq() + i as u64);
            w.u32(NO_USER);
            w.opt_str(m.exts.and_then(|x| x.get(i)).map(String::as_str));
        }
    }
    w.len(coll.user_slots().len());
    for u in coll.user_slots() {
        w.str(&u.id);
        w.u64(u.seq);
        w.len(u.faces.len());
        u.faces.iter().for_each(|&r| w.u32(r));
    }
    let tokens = coll.sorted_tokens();
    w.len(tokens.len());
    tokens.into_iter().for_each(|t| write_token(&mut w, t));
    // Where each face of a collection of photos' faces was found; one of
    // vectors has none (photos cannot go into it).
    if coll.model() != FaceModel::Vectors {
        for (_, f, _) in coll.rows() {
            write_found(&mut w, f.found.as_ref());
        }
        for _ in 0..added {
            write_found(&mut w, None);
        }
    }

    let mut out = Crc {
        inner: out,
        hasher: crc32fast::Hasher::new(),
        written: 0,
    };
    out.put(magic(coll.model()))?;
    out.put(&(w.buf.len() as u64).to_le_bytes())?;
    out.put(&w.buf)?;
    let values = coll.vectors().values() + added * dim;
    out.put(&(values as u64).to_le_bytes())?;
    let mut buf = Vec::with_capacity(1 << 20);
    coll.vectors().for_each_chunk(|chunk| {
        buf.clear();
        extend_f32_bytes(&mut buf, chunk);
        out.put(&buf)
    })?;
    if let Some(m) = more {
        let (mut rows, mut given) = (Vec::new(), 0usize);
        loop {
            (m.next)(&mut rows)?;
            if rows.is_empty() {
                break;
            }
            given += rows.len();
            if !rows.len().is_multiple_of(dim) || given > added * dim {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the stream gave more than {added} faces of width {dim}"),
                ));
            }
            for part in rows.chunks(1 << 18) {
                buf.clear();
                extend_f32_bytes(&mut buf, part);
                out.put(&buf)?;
            }
        }
        if given != added * dim {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the stream gave {} faces, not {added}", given / dim),
            ));
        }
    }
    let crc = out.hasher.clone().finalize();
    out.inner.write_all(&crc.to_le_bytes())?;
    Ok((out.inner, out.written + 4))
}

/// Reads a snapshot file into a collection whose rows are held as `mode`
/// says: one with compact codes keeps its full-precision rows in the file
/// (its matrix is streamed through once, to check it and code it), one
/// without reads them into memory.
pub(super) fn read_snapshot(file: File, mode: FaceCodes) -> io::Result<Collection> {
    let len = file.metadata()?.len();
    let rows = file.try_clone()?;
    decode(
        &mut BufReader::with_capacity(1 << 20, file),
        len,
        Some((rows, mode)),
    )
}

/// Where the byte at which a snapshot of `len` bytes of `coll` holds its
/// row 0: its matrix ends just before the checksum.
pub(super) fn matrix_start(len: u64, coll: &Collection) -> u64 {
    len.saturating_sub(4 + 4 * coll.vectors().values() as u64)
}

/// Bytes of a snapshot besides its metadata and matrix: magic, metadata
/// length, value count, checksum.
const SNAPSHOT_FRAME: u64 = 8 + 8 + 8 + 4;

/// Decodes a snapshot of `len` bytes in all from `input`. Every length and
/// count in it is checked against the bytes there are before anything is
/// allocated for it: the metadata and the matrix must fill the snapshot
/// exactly. The matrix streams straight into place: while one core reads
/// the next 16 MiB, the other converts and checksums the last one; the
/// metadata is decoded alongside. Every row is held in memory.
pub(crate) fn decode_snapshot(input: &mut (impl Read + Send), len: u64) -> io::Result<Collection> {
    decode(input, len, None)
}

/// [`decode_snapshot`]; with `rows` (the snapshot's file and a mode that
/// wants compact codes for this many rows) the matrix is coded as it
/// streams by and its rows are left in the file.
fn decode(
    input: &mut (impl Read + Send),
    len: u64,
    rows: Option<(File, FaceCodes)>,
) -> io::Result<Collection> {
    let corrupt = |e: CodecError| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut hasher = crc32fast::Hasher::new();
    let mut read = |input: &mut dyn Read, buf: &mut [u8]| -> io::Result<()> {
        input.read_exact(buf)?;
        hasher.update(buf);
        Ok(())
    };
    let mut head = [0u8; 16];
    read(input, &mut head)?;
    let photos = layout(&head[..8]).ok_or(corrupt(CodecError("not a snapshot")))?;
    let body = len
        .checked_sub(SNAPSHOT_FRAME)
        .ok_or(corrupt(CodecError("too short for a snapshot")))?;
    let meta_len = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
    let meta_len = usize::try_from(meta_len)
        .ok()
        .filter(|&n| n as u64 <= body)
        .ok_or(corrupt(CodecError("metadata longer than the snapshot")))?;
    let mut meta = vec![0u8; meta_len];
    read(input, &mut meta)?;
    let mut count = [0u8; 8];
    read(input, &mut count)?;
    // The values fill exactly what is left before the checksum.
    let left = body - meta_len as u64;
    let count = u64::from_le_bytes(count);
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| (n as u64).checked_mul(4) == Some(left))
        .ok_or(corrupt(CodecError(
            "value count does not match the snapshot's length",
        )))?;
    // The row width, from the head, decides how the matrix is taken in.
    let dim = SnapshotHead::read(&mut Reader::new(&meta), photos)
        .map_err(corrupt)?
        .dim;
    let coded = rows.filter(|(_, mode)| dim > 0 && mode.wants(count / dim));
    let (coll, matrix) = rayon::join(
        || decode_snapshot_meta(&meta, photos),
        || -> io::Result<(Matrix, crc32fast::Hasher)> {
            match coded {
                Some(_) => {
                    let mut codes = Codes::new(dim);
                    codes.reserve_exact(count / dim);
                    let mut values = Vec::new();
                    let hasher = read_matrix(input, count, dim, hasher, |_, src| {
                        values.resize(src.len() / 4, 0.0);
                        copy_f32_from_bytes(&mut values, src);
                        codes.extend(&values);
                    })?;
                    Ok((Matrix::Coded(codes), hasher))
                }
                None => {
                    // Zeroed allocation: pages are mapped lazily, on first
                    // write below.
                    let mut vectors = vec![0f32; count];
                    let hasher = read_matrix(input, count, dim, hasher, |at, src| {
                        copy_f32_from_bytes(&mut vectors[at..at + src.len() / 4], src);
                    })?;
                    Ok((Matrix::Memory(vectors), hasher))
                }
            }
        },
    );
    let (matrix, hasher) = matrix?;
    let mut crc = [0u8; 4];
    input.read_exact(&mut crc)?;
    if u32::from_le_bytes(crc) != hasher.finalize() {
        return Err(corrupt(CodecError("checksum mismatch")));
    }
    let mut coll = coll.map_err(corrupt)?;
    match (matrix, coded) {
        (Matrix::Coded(codes), Some((file, _))) => {
            let start = 16 + meta_len as u64 + 8;
            let rows = Vectors::in_file(dim, file, start, codes.len());
            coll.set_coded_matrix(codes, rows).map_err(corrupt)?;
        }
        (Matrix::Memory(vectors), _) => coll.set_matrix(vectors).map_err(corrupt)?,
        (Matrix::Coded(_), None) => return Err(corrupt(CodecError("codes without a file"))),
    }
    Ok(coll)
}

/// A snapshot's matrix as it was taken in.
enum Matrix {
    /// Every row, in memory.
    Memory(Vec<f32>),
    /// The rows' compact codes (the rows stay in the file).
    Coded(Codes),
}

/// Reads `count` little-endian `f32`s (rows `dim` wide), continuing the
/// checksum `hasher`: `take(at, bytes)` gets values `at..` as bytes, whole
/// rows of about 16 MiB at a time, while the next ones are read.
fn read_matrix(
    input: &mut (impl Read + Send),
    count: usize,
    dim: usize,
    mut hasher: crc32fast::Hasher,
    mut take: impl FnMut(usize, &[u8]) + Send,
) -> io::Result<crc32fast::Hasher> {
    let chunk = ((1 << 22) / dim.max(1)).max(1) * dim.max(1);
    let mut cur = vec![0u8; chunk.min(count) * 4];
    let mut next = cur.clone();
    let mut starts = (0..count).step_by(chunk).peekable();
    let len_at = |at: usize| chunk.min(count - at) * 4;
    if let Some(&first) = starts.peek() {
        input.read_exact(&mut cur[..len_at(first)])?;
    }
    while let Some(at) = starts.next() {
        let next_len = starts.peek().map_or(0, |&n| len_at(n));
        let src = &cur[..len_at(at)];
        let next_buf = &mut next[..next_len];
        let (read, part) = rayon::join(
            || input.read_exact(next_buf),
            || {
                let mut h = crc32fast::Hasher::new();
                h.update(src);
                take(at, src);
                h
            },
        );
        read?;
        hasher.combine(&part);
        std::mem::swap(&mut cur, &mut next);
    }
    Ok(hasher)
}

/// The collection a snapshot's metadata describes, its matrix still empty.
/// Counts are bounded by the bytes left; rows, users and tokens must be
/// consistent (unique ids, owners and users' face lists agreeing), and the
/// metadata must end where its last item does.
fn decode_snapshot_meta(meta: &[u8], photos: bool) -> Result<Collection, CodecError> {
    let mut r = Reader::new(meta);
    let head = SnapshotHead::read(&mut r, photos)?;
    let mut p = SnapshotParts {
        id: head.id,
        created: head.created,
        dim: head.dim,
        model: head.model,
        next_seq: head.next_seq,
        last_record: head.last_record,
        ..Default::default()
    };
    let n = r.count(16 + 16 + 8 + 4 + 1)?;
    p.ids.reserve_exact(n);
    p.owner.reserve_exact(n);
    for _ in 0..n {
        p.ids.push(r.u128()?);
        let image = r.u128()?;
        let seq = r.u64()?;
        p.owner.push(r.u32()?);
        let ext = r.opt_str()?;
        p.faces.push(FaceMeta {
            image,
            seq,
            ext: ext.as_deref(),
            found: None,
        });
    }
    let users = r.count(8 + 8 + 8)?;
    for _ in 0..users {
        let id = r.str()?;
        let seq = r.u64()?;
        let k = r.count(4)?;
        let faces = (0..k).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
        p.users.push((id, seq, faces));
    }
    let tokens = r.count(1 + 4 * 8)?;
    for _ in 0..tokens {
        p.tokens.push(read_token(&mut r)?);
    }
    if photos {
        for row in 0..p.faces.len() {
            p.faces.set_found(row, read_found(&mut r)?);
        }
    }
    if !r.is_empty() {
        return Err(CodecError("trailing bytes after the metadata"));
    }
    Collection::from_snapshot(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::collection::{FoundAt, Op, Record};
    use crate::faces::store::log::{decode_record, encode_record};

    fn index(model: FaceModel, found: Vec<Option<FoundAt>>) -> Record {
        let n = found.len();
        let mut vectors: Vec<f32> = (0..n * 4).map(|i| (i % 7) as f32 + 1.0).collect();
        crate::faces::collection::normalise(&mut vectors, 4).unwrap();
        Record {
            seq: 1,
            op: Op::Index {
                image: 7,
                exts: vec![Some("badge".into()); n],
                dim: 4,
                ids: (1..=n as u128).collect(),
                vectors,
                model,
                found,
            },
            token: None,
        }
    }

    /// A collection of photos' faces keeps its model and every face's box
    /// through the log and a snapshot; one of vectors keeps the layouts it
    /// always had (log tag 1, `RCSNAP01`), so older files still load.
    #[test]
    fn photo_faces_round_trip_and_vector_layouts_stay() {
        let at = FoundAt {
            left: 0.25,
            top: 0.125,
            width: 0.5,
            height: 0.375,
            confidence: 99.5,
        };
        let photo = index(FaceModel::DlibResnetV1, vec![Some(at), None]);
        let bytes = encode_record(&photo);
        assert_eq!(bytes[8], 7, "IndexFound tag");
        assert_eq!(decode_record(&bytes).unwrap(), photo);
        let vectors = index(FaceModel::Vectors, vec![None, None]);
        let bytes = encode_record(&vectors);
        assert_eq!(bytes[8], 1, "plain Index tag");
        assert_eq!(decode_record(&bytes).unwrap(), vectors);

        for (rec, magic) in [(photo, SNAPSHOT_MAGIC_PHOTOS), (vectors, SNAPSHOT_MAGIC)] {
            let mut coll = Collection::new("c".into(), 1, 0);
            coll.apply(rec);
            let (bytes, len) = encode_snapshot(&coll, Vec::new()).unwrap();
            assert_eq!(&bytes[..8], magic);
            let back = decode_snapshot(&mut &bytes[..], len).unwrap();
            assert_eq!(back.model(), coll.model());
            assert_eq!(back.model_version(), coll.model_version());
            let rows = |c: &Collection| {
                c.rows()
                    .map(|(id, f, o)| (id, format!("{f:?}"), o))
                    .collect::<Vec<_>>()
            };
            assert_eq!(rows(&back), rows(&coll));
            let head = peek_head_bytes(&bytes).unwrap();
            assert_eq!((head.dim, head.model), (4, coll.model()));
            // Every cut of the snapshot is refused, never a panic.
            for cut in (0..bytes.len()).step_by(7) {
                assert!(decode_snapshot(&mut &bytes[..cut], cut as u64).is_err());
            }
        }
    }

    /// Deletions that compact the rows renumber them: every surviving
    /// face keeps its id, external id (an empty one stays empty, a missing
    /// one missing), box and owner, is found at its new row, and the
    /// collection reopened from its snapshot answers the same.
    #[test]
    fn compaction_and_reopen_keep_each_faces_metadata() {
        let at = |i: usize| FoundAt {
            left: 0.01 * i as f32,
            top: 0.125,
            width: 0.5,
            height: 0.375,
            confidence: 90.0 + i as f32,
        };
        let n = 12;
        let mut rec = index(
            FaceModel::DlibResnetV1,
            (0..n).map(|i| (i % 3 != 0).then(|| at(i))).collect(),
        );
        if let Op::Index { exts, .. } = &mut rec.op {
            *exts = (0..n)
                .map(|i| match i % 3 {
                    0 => None,
                    1 => Some(String::new()),
                    _ => Some(format!("ext-{i}")),
                })
                .collect();
        }
        let mut coll = Collection::new("c".into(), 1, 0);
        coll.apply(rec);
        coll.apply(Record {
            seq: 2,
            op: Op::CreateUser("u".into()),
            token: None,
        });
        let ids: Vec<u128> = (1..=n as u128).collect();
        coll.apply(Record {
            seq: 3,
            op: Op::Associate("u".into(), vec![ids[7], ids[10]]),
            token: None,
        });
        let face_of =
            |c: &Collection, id: u128| c.face_row("FaceId", id).ok().map(|row| c.face(row));
        let before: Vec<_> = ids.iter().map(|&id| face_of(&coll, id)).collect();
        let gone = [ids[0], ids[2], ids[3], ids[5]];
        coll.apply(Record {
            seq: 4,
            op: Op::DeleteFaces(gone.to_vec()),
            token: None,
        });
        assert_eq!(coll.rows().len(), n - gone.len(), "compacted");
        let (bytes, len) = encode_snapshot(&coll, Vec::new()).unwrap();
        let back = decode_snapshot(&mut &bytes[..], len).unwrap();
        for c in [&coll, &back] {
            assert_eq!(c.face_count(), n - gone.len());
            for (id, want) in ids.iter().zip(&before) {
                let got = face_of(c, *id);
                if gone.contains(id) {
                    assert_eq!(got, None);
                } else {
                    assert_eq!(got.as_ref(), want.as_ref());
                }
            }
        }
        let ext = |i: usize| before[i].as_ref().and_then(|f| f.external_image_id.clone());
        assert_eq!(
            (ext(1), ext(4), ext(8)),
            (
                Some(String::new()),
                Some(String::new()),
                Some("ext-8".into())
            )
        );
        assert_eq!(
            before[7].as_ref().and_then(|f| f.user_id.clone()),
            Some("u".into())
        );
    }

    fn peek_head_bytes(bytes: &[u8]) -> Option<SnapshotHead> {
        use std::io::{Seek, SeekFrom};
        let mut f = tempfile::tempfile().ok()?;
        f.write_all(bytes).ok()?;
        f.seek(SeekFrom::Start(0)).ok()?;
        peek_head(f)
    }
}
