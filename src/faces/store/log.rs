//! The log: an append-only list of `[len u32][crc32 u32][payload]`
//! records, one per change; how a record's payload encodes (the
//! [`RecordTag`] table), and replaying a log into a collection.

use std::fs::File;
use std::io::{self, Read};

use crate::faces::codec::{CodecError, Reader, Writer};
use crate::faces::collection::{Api, Collection, FoundAt, Op, Record, TokenEntry};
use crate::faces::model::FaceModel;
pub(crate) use crate::storage::frame;
use crate::storage::next_frame;

/// Applies the log's records from byte `from` on that `coll` does not hold
/// yet; gives the end of the last whole record. A torn tail (a record cut
/// short or failing its checksum) is cut off: the caller holds a
/// collection lock, so no append is in flight, and the tail is a crashed
/// writer's, never acknowledged. A record that is whole and checksummed
/// but does not decode was never written by this code: the log is corrupt,
/// and that is an error (`InvalidData`), the file left as it is.
pub(super) fn replay(log: &mut File, from: u64, coll: &mut Collection) -> io::Result<u64> {
    let mut bytes = Vec::new();
    io::Seek::seek(log, io::SeekFrom::Start(from))?;
    log.read_to_end(&mut bytes)?;
    let mut pos = 0usize;
    loop {
        match next_record(&bytes, pos) {
            Ok(Some((rec, next))) => {
                if rec.seq > coll.last_record() {
                    coll.apply(rec);
                }
                pos = next;
            }
            Ok(None) => break,
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("record at byte {}: {e}", from + pos as u64),
                ))
            }
        }
    }
    let end = from + pos as u64;
    if pos < bytes.len() {
        log.set_len(end)?;
        log.sync_all()?;
    }
    Ok(end)
}

/// The record starting at `pos` and the position after it; `Ok(None)` at
/// the end or at a torn tail (a frame cut short, a checksum that fails);
/// an error for a whole, checksummed frame whose payload does not decode.
pub(crate) fn next_record(bytes: &[u8], pos: usize) -> Result<Option<(Record, usize)>, CodecError> {
    match next_frame(bytes, pos) {
        Some((payload, end)) => Ok(Some((decode_record(payload)?, end))),
        None => Ok(None),
    }
}

/// The tag byte that says which [`Op`] a log record holds: the one table
/// of these numbers, for the encoder and the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordTag {
    Nothing = 0,
    Index = 1,
    DeleteFaces = 2,
    CreateUser = 3,
    DeleteUser = 4,
    Associate = 5,
    Disassociate = 6,
    /// `Index` of faces from photos: as `Index`, then the model's tag and
    /// per face where it was found (a presence byte, then five `f32`s).
    IndexFound = 7,
}

impl RecordTag {
    const ALL: [RecordTag; 8] = [
        RecordTag::Nothing,
        RecordTag::Index,
        RecordTag::DeleteFaces,
        RecordTag::CreateUser,
        RecordTag::DeleteUser,
        RecordTag::Associate,
        RecordTag::Disassociate,
        RecordTag::IndexFound,
    ];

    fn of(op: &Op) -> RecordTag {
        match op {
            Op::Nothing => RecordTag::Nothing,
            // Faces of plain vectors keep the layout they always had.
            Op::Index { model, found, .. }
                if *model == FaceModel::Vectors && found.iter().all(Option::is_none) =>
            {
                RecordTag::Index
            }
            Op::Index { .. } => RecordTag::IndexFound,
            Op::DeleteFaces(_) => RecordTag::DeleteFaces,
            Op::CreateUser(_) => RecordTag::CreateUser,
            Op::DeleteUser(_) => RecordTag::DeleteUser,
            Op::Associate(..) => RecordTag::Associate,
            Op::Disassociate(..) => RecordTag::Disassociate,
        }
    }

    fn from_u8(v: u8) -> Option<RecordTag> {
        RecordTag::ALL.into_iter().find(|t| *t as u8 == v)
    }
}

/// The payload of a log record.
pub(crate) fn encode_record(rec: &Record) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(rec.seq);
    w.u8(RecordTag::of(&rec.op) as u8);
    match &rec.op {
        Op::Index {
            image,
            exts,
            dim,
            ids,
            vectors,
            model,
            found,
        } => {
            w.u128(*image);
            w.len(*dim);
            w.len(ids.len());
            for (&id, ext) in ids.iter().zip(exts) {
                w.u128(id);
                w.opt_str(ext.as_deref());
            }
            w.f32s(vectors);
            if RecordTag::of(&rec.op) == RecordTag::IndexFound {
                w.u8(model.tag());
                for f in found {
                    write_found(&mut w, f.as_ref());
                }
            }
        }
        Op::DeleteFaces(ids) => {
            w.len(ids.len());
            ids.iter().for_each(|&id| w.u128(id));
        }
        Op::CreateUser(u) | Op::DeleteUser(u) => w.str(u),
        Op::Associate(u, ids) | Op::Disassociate(u, ids) => {
            w.str(u);
            w.len(ids.len());
            ids.iter().for_each(|&id| w.u128(id));
        }
        Op::Nothing => {}
    }
    match &rec.token {
        None => w.u8(0),
        Some(t) => {
            w.u8(1);
            write_token(&mut w, t);
        }
    }
    w.buf
}

pub(super) fn write_token(w: &mut Writer, t: &TokenEntry) {
    w.u8(t.api as u8);
    w.str(&t.token);
    w.str(&t.fingerprint);
    w.str(&t.response);
    w.u64(t.at);
}

pub(super) fn read_token(r: &mut Reader<'_>) -> Result<TokenEntry, CodecError> {
    Ok(TokenEntry {
        api: Api::from_u8(r.u8()?).ok_or(CodecError("bad api"))?,
        token: r.str()?,
        fingerprint: r.str()?,
        response: r.str()?,
        at: r.u64()?,
    })
}

/// Where a face was found: 0, or 1 and its box and confidence.
pub(super) fn write_found(w: &mut Writer, found: Option<&FoundAt>) {
    match found {
        None => w.u8(0),
        Some(f) => {
            w.u8(1);
            w.f32s_fixed(&[f.left, f.top, f.width, f.height, f.confidence]);
        }
    }
}

/// Reads what [`write_found`] wrote.
pub(super) fn read_found(r: &mut Reader<'_>) -> Result<Option<FoundAt>, CodecError> {
    match r.u8()? {
        0 => Ok(None),
        1 => {
            let [left, top, width, height, confidence] = r.f32s_fixed::<5>()?;
            Ok(Some(FoundAt {
                left,
                top,
                width,
                height,
                confidence,
            }))
        }
        _ => Err(CodecError("bad face box tag")),
    }
}

fn read_ids(r: &mut Reader<'_>) -> Result<Vec<u128>, CodecError> {
    let n = r.count(16)?;
    (0..n).map(|_| r.u128()).collect()
}

/// Decodes a record's payload. Every count is bounded by the bytes left
/// ([`Reader::count`]), and an `Index` record must hold exactly
/// `ids × dim` values.
pub(crate) fn decode_record(payload: &[u8]) -> Result<Record, CodecError> {
    let mut r = Reader::new(payload);
    let seq = r.u64()?;
    let op = match RecordTag::from_u8(r.u8()?).ok_or(CodecError("bad op"))? {
        RecordTag::Nothing => Op::Nothing,
        tag @ (RecordTag::Index | RecordTag::IndexFound) => {
            let image = r.u128()?;
            let dim = usize::try_from(r.u64()?).map_err(|_| CodecError("dimension too large"))?;
            let n = r.count(17)?;
            let (mut ids, mut exts) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for _ in 0..n {
                ids.push(r.u128()?);
                exts.push(r.opt_str()?);
            }
            let vectors = r.f32s()?;
            if dim == 0 || n.checked_mul(dim) != Some(vectors.len()) {
                return Err(CodecError("vector count is not faces × dimension"));
            }
            let (model, found) = if tag == RecordTag::IndexFound {
                let model = FaceModel::from_tag(r.u8()?).ok_or(CodecError("bad face model"))?;
                let found = (0..n)
                    .map(|_| read_found(&mut r))
                    .collect::<Result<Vec<_>, _>>()?;
                (model, found)
            } else {
                (FaceModel::Vectors, vec![None; n])
            };
            Op::Index {
                image,
                exts,
                dim,
                ids,
                vectors,
                model,
                found,
            }
        }
        RecordTag::DeleteFaces => Op::DeleteFaces(read_ids(&mut r)?),
        RecordTag::CreateUser => Op::CreateUser(r.str()?),
        RecordTag::DeleteUser => Op::DeleteUser(r.str()?),
        RecordTag::Associate => Op::Associate(r.str()?, read_ids(&mut r)?),
        RecordTag::Disassociate => Op::Disassociate(r.str()?, read_ids(&mut r)?),
    };
    let token = match r.u8()? {
        0 => None,
        1 => Some(read_token(&mut r)?),
        _ => return Err(CodecError("bad token tag")),
    };
    if !r.is_empty() {
        return Err(CodecError("trailing bytes"));
    }
    Ok(Record { seq, op, token })
}
