//! Durable storage of one collection: takes records and whole collections,
//! gives them back after a restart or a crash.
//!
//! A collection directory holds `meta.json` (id, creation time, fixed
//! dimension, tags; written once), `snapshot.bin` (the whole state, written
//! to a temporary name, fsynced, renamed, directory fsynced) and `log.bin`,
//! an append-only list of `[len u32][crc32 u32][payload]` records, each
//! fsynced before the call that made it returns. Opening loads the snapshot
//! and replays the records after it; a torn or corrupt tail (a crash in the
//! middle of an append) is cut off.
//! Every directory and file here is created owner-only (`0700`/`0600`),
//! whatever the umask.
//!
//! Several processes may share a data directory (a server and the CLI, say).
//! Each collection has a `lock` file: a process holds it exclusively
//! ([`CollectionLock`]) to append, snapshot or delete, and shared to read
//! the files. A [`Stamp`] (identity and length of the log, identity and
//! last record of the snapshot) tells cheaply whether another process changed the collection
//! since this one last looked; if it only appended, [`Store::catch_up`]
//! replays the new records, otherwise the collection is loaded again.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::codec::{copy_f32_from_bytes, extend_f32_bytes, CodecError, Reader, Writer};
use super::collection::{Api, Collection, FaceRow, Op, Record, TokenEntry, UserSlot};
use super::search::DELETED;
use crate::{fsmode, AwsError, ErrorType};

const SNAPSHOT_MAGIC: &[u8; 8] = b"RCSNAP01";
/// Write a snapshot once the log outgrows this and half the snapshot.
const LOG_SNAPSHOT_MIN: u64 = 64 << 20;

/// `InternalServerError` for a storage failure.
pub(crate) fn storage_error(what: &str, path: &Path, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        ErrorType::InternalServerError,
        format!("{what} '{}': {e}", path.display()),
    )
}

/// What `meta.json` records about a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Meta {
    pub(crate) collection_id: String,
    pub(crate) creation_timestamp: u64,
    pub(crate) dimension: usize,
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

const ROOT_LOCK: &str = ".lock";

/// The lock on the collections' parent directory: shared while a
/// collection directory is being made or removed (it then has a `.tmp-` or
/// `.trash-` name), exclusive to clean such names away after a crash.
/// `Ok(None)` from a try that found it busy.
fn root_lock(root: &Path, exclusive: bool) -> io::Result<Option<File>> {
    let f = fsmode::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join(ROOT_LOCK))?;
    if !exclusive {
        f.lock_shared()?;
        return Ok(Some(f));
    }
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Creates a collection directory atomically: built under a temporary name,
/// then renamed into place.
pub(crate) fn create_dir(root: &Path, name: &str, meta: &Meta) -> io::Result<PathBuf> {
    fsmode::create_dir_all(root)?;
    let _making = root_lock(root, false)?;
    let tmp = root.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    fsmode::create_dir(&tmp)?;
    let mut f = fsmode::create_file(&tmp.join("meta.json"))?;
    f.write_all(&serde_json::to_vec_pretty(meta).map_err(io::Error::other)?)?;
    f.sync_all()?;
    fsmode::create_file(&tmp.join("log.bin"))?.sync_all()?;
    fsmode::create_file(&tmp.join(LOCK_FILE))?;
    sync_dir(&tmp)?;
    let dest = root.join(name);
    if let Err(e) = fs::rename(&tmp, &dest) {
        // Most likely another thread or process created it first.
        let _ = fs::remove_dir_all(&tmp);
        return Err(if dest.exists() {
            io::Error::new(io::ErrorKind::AlreadyExists, "already exists")
        } else {
            e
        });
    }
    sync_dir(root)?;
    Ok(dest)
}

const LOCK_FILE: &str = "lock";

/// A file lock on one collection, held until dropped: exclusive to change
/// its files, shared to read them. Between processes only (within one
/// process the engine's own locks order the threads).
#[derive(Debug)]
pub(crate) struct CollectionLock(File);

impl CollectionLock {
    /// Waits for the lock. `Ok(None)`: the collection directory is gone.
    ///
    /// A lock is on an open file, not on a name: while this waits, the
    /// collection may be deleted (and even created again, with a new lock
    /// file). So once locked, the file must still be the one at `path`;
    /// if not, it starts over.
    pub(crate) fn acquire(dir: &Path, exclusive: bool) -> Result<Option<CollectionLock>, AwsError> {
        let path = dir.join(LOCK_FILE);
        let err = |what, e| storage_error(what, &path, e);
        loop {
            let file = match fsmode::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(err("cannot open", e)),
            };
            let locked = if exclusive {
                file.lock()
            } else {
                file.lock_shared()
            };
            locked.map_err(|e| err("cannot lock", e))?;
            let held = file.metadata().map_err(|e| err("cannot stat", e))?;
            match fs::metadata(&path) {
                Ok(now) if same_file(&held, &now) => return Ok(Some(CollectionLock(file))),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(err("cannot stat", e)),
            }
        }
    }
}

/// Whether two metadata describe the same file (always true off Unix,
/// where there is no inode to compare).
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
    }
}

impl Drop for CollectionLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first says so.
        let _ = self.0.unlock();
    }
}

/// What one file looked like: inode (0 off Unix), length, modification time.
type FileId = (u64, u64, Option<SystemTime>);

fn meta_id(m: &fs::Metadata) -> FileId {
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(m);
    #[cfg(not(unix))]
    let ino = 0;
    (ino, m.len(), m.modified().ok())
}

fn file_id(path: &Path) -> io::Result<Option<FileId>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(meta_id(&m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a collection's files looked like when this process last read or
/// wrote them. Between snapshots the log only grows, and every snapshot is
/// a new file (written aside, then renamed) that names the last record it
/// holds, so an unchanged snapshot and a log of the same identity and
/// length mean an unchanged collection. (The snapshot's inode, length and
/// time alone could repeat: inode numbers are reused, and file times are
/// coarse.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    log: FileId,
    snapshot: Option<(FileId, u64)>,
}

impl Stamp {
    /// The stamp of a collection directory now; `None` if its log is gone
    /// (the collection was deleted).
    fn read(dir: &Path) -> io::Result<Option<Stamp>> {
        let Some(log) = file_id(&dir.join("log.bin"))? else {
            return Ok(None);
        };
        // Identity and head from one open file, so that they match.
        let snapshot = match File::open(dir.join("snapshot.bin")) {
            Ok(f) => {
                let id = meta_id(&f.metadata()?);
                let last = snapshot_head(f).map_or(u64::MAX, |h| h.last_record);
                Some((id, last))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Some(Stamp { log, snapshot }))
    }
}

/// Removes a collection directory: renamed away first (atomic), then deleted.
pub(crate) fn remove_dir(root: &Path, dir: &Path) -> io::Result<()> {
    let _removing = root_lock(root, false)?;
    let trash = root.join(format!(".trash-{}", uuid::Uuid::new_v4()));
    fs::rename(dir, &trash)?;
    sync_dir(root)?;
    fs::remove_dir_all(&trash)
}

/// Removes what a crash may have left half-made in `root`. Skipped while
/// another thread or process is making or removing a collection: its
/// `.tmp-` or `.trash-` directory is not debris yet.
pub(crate) fn clean_root(root: &Path) -> io::Result<()> {
    let Some(_cleaning) = root_lock(root, true)? else {
        return Ok(());
    };
    let Ok(entries) = fs::read_dir(root) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".tmp-") || name.starts_with(".trash-") {
            match fs::remove_dir_all(e.path()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

pub(crate) fn read_meta(dir: &Path) -> Result<Meta, AwsError> {
    let path = dir.join("meta.json");
    let text = fs::read_to_string(&path).map_err(|e| storage_error("cannot read", &path, e))?;
    serde_json::from_str(&text).map_err(|e| storage_error("corrupt", &path, e))
}

/// A collection's dimension read from `meta.json` or from the head of its
/// snapshot, without loading it; `None` when neither fixes it (the first
/// faces may then be in the log).
pub(crate) fn peek_dim(dir: &Path, meta: &Meta) -> Option<usize> {
    if meta.dimension != 0 {
        return Some(meta.dimension);
    }
    let head = snapshot_head(File::open(dir.join("snapshot.bin")).ok()?)?;
    Some(head.dim).filter(|&d| d != 0)
}

/// What the first bytes of a snapshot say.
struct SnapshotHead {
    dim: usize,
    /// Sequence number of the last log record the snapshot holds.
    last_record: u64,
}

/// Reads the head of a snapshot file (a few hundred bytes at most).
fn snapshot_head(file: File) -> Option<SnapshotHead> {
    let mut f = BufReader::with_capacity(512, file);
    let mut word = [0u8; 8];
    let mut next = |f: &mut BufReader<File>| -> Option<u64> {
        f.read_exact(&mut word).ok()?;
        Some(u64::from_le_bytes(word))
    };
    if next(&mut f)?.to_le_bytes() != *SNAPSHOT_MAGIC {
        return None;
    }
    // Metadata length, then the id (length + bytes), creation time,
    // dimension, next sequence number, last record.
    next(&mut f)?;
    let id_len = i64::try_from(next(&mut f)?).ok()?;
    f.seek_relative(id_len.checked_add(8)?).ok()?;
    let dim = usize::try_from(next(&mut f)?).ok()?;
    next(&mut f)?;
    let last_record = next(&mut f)?;
    Some(SnapshotHead { dim, last_record })
}

/// The open files of one collection.
#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
    log: File,
    log_len: u64,
    snapshot_len: u64,
    /// The files as this process last saw them; `None`: load them again.
    stamp: Option<Stamp>,
}

impl Store {
    /// Opens a collection directory: snapshot, then the log after it. The
    /// caller holds a [`CollectionLock`] (any kind: a torn tail seen under
    /// a lock is a crashed writer's, never a running one's).
    pub(crate) fn open(dir: &Path) -> Result<(Store, Collection, Meta), AwsError> {
        let meta = read_meta(dir)?;
        let snap_path = dir.join("snapshot.bin");
        let (mut coll, snapshot_len) = match File::open(&snap_path) {
            Ok(f) => {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                (
                    read_snapshot(f)
                        .map_err(|e| storage_error("corrupt snapshot", &snap_path, e))?,
                    len,
                )
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (
                Collection::new(
                    meta.collection_id.clone(),
                    meta.creation_timestamp,
                    meta.dimension,
                ),
                0,
            ),
            Err(e) => return Err(storage_error("cannot open", &snap_path, e)),
        };
        let log_path = dir.join("log.bin");
        let io_err = |e| storage_error("cannot read log", &log_path, e);
        let mut log = fsmode::options()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(io_err)?;
        let log_len = replay(&mut log, 0, &mut coll).map_err(io_err)?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            log,
            log_len,
            snapshot_len,
            stamp: None,
        };
        store.restamp();
        Ok((store, coll, meta))
    }

    /// Records the files as they are now (after this process read or wrote them).
    fn restamp(&mut self) {
        self.stamp = Stamp::read(&self.dir).ok().flatten();
    }

    /// Forgets what the files looked like: the next use loads them again.
    pub(crate) fn invalidate(&mut self) {
        self.stamp = None;
    }

    /// Whether the files are as this process last saw them (no other
    /// process changed the collection since): a `stat` of the log and a
    /// look at the snapshot's first bytes, no lock.
    pub(crate) fn is_current(&self) -> bool {
        self.stamp.is_some() && Stamp::read(&self.dir).ok().flatten() == self.stamp
    }

    /// Brings `coll` up to date with records another process appended.
    /// Gives `false` when that is not enough (a new snapshot, a truncated
    /// or replaced log): the caller loads the collection again. The caller
    /// holds a [`CollectionLock`].
    pub(crate) fn catch_up(&mut self, coll: &mut Collection) -> Result<bool, AwsError> {
        let log_path = self.dir.join("log.bin");
        let io_err = |e| storage_error("cannot read log", &log_path, e);
        let (Some(old), Some(now)) = (self.stamp, Stamp::read(&self.dir).map_err(io_err)?) else {
            return Ok(false);
        };
        if old == now {
            return Ok(true);
        }
        if now.snapshot != old.snapshot || now.log.0 != old.log.0 || now.log.1 < self.log_len {
            return Ok(false);
        }
        self.log_len = replay(&mut self.log, self.log_len, coll).map_err(io_err)?;
        self.restamp();
        Ok(true)
    }

    /// Appends one record and waits until it is on disk.
    pub(crate) fn append(&mut self, rec: &Record) -> Result<(), AwsError> {
        let payload = encode_record(rec);
        let frame = frame(&payload);
        let path = self.dir.join("log.bin");
        if payload.len() > u32::MAX as usize {
            return Err(storage_error("record too large for", &path, payload.len()));
        }
        let written = self
            .log
            .write_all(&frame)
            .map_err(|e| storage_error("cannot append to", &path, e))
            .and_then(|()| {
                self.log
                    .sync_data()
                    .map_err(|e| storage_error("cannot sync", &path, e))
            });
        if let Err(e) = written {
            // Cut a partly written record off, so that it cannot hide the
            // records appended after it from the next replay.
            let _ = self.log.set_len(self.log_len);
            return Err(e);
        }
        self.log_len += frame.len() as u64;
        self.restamp();
        Ok(())
    }

    /// Whether the log has grown enough to fold into a new snapshot.
    pub(crate) fn wants_snapshot(&self) -> bool {
        self.log_len > LOG_SNAPSHOT_MIN.max(self.snapshot_len / 2)
    }

    /// Writes the whole collection as the new snapshot (compacting it
    /// first), then empties the log.
    pub(crate) fn snapshot(&mut self, coll: &mut Collection) -> Result<(), AwsError> {
        coll.compact();
        let tmp = self.dir.join("snapshot.tmp");
        let dest = self.dir.join("snapshot.bin");
        let err = |e| storage_error("cannot write snapshot", &tmp, e);
        let file = fsmode::create_file(&tmp).map_err(err)?;
        self.snapshot_len = write_snapshot(coll, file).map_err(err)?;
        fs::rename(&tmp, &dest).map_err(err)?;
        sync_dir(&self.dir).map_err(err)?;
        let log_path = self.dir.join("log.bin");
        self.log
            .set_len(0)
            .map_err(|e| storage_error("cannot truncate", &log_path, e))?;
        self.log
            .sync_all()
            .map_err(|e| storage_error("cannot sync", &log_path, e))?;
        self.log_len = 0;
        self.restamp();
        Ok(())
    }
}

/// Applies the log's records from byte `from` on that `coll` does not hold
/// yet; gives the end of the last whole record. A torn tail (a record cut
/// short or failing its checksum) is cut off: the caller holds a
/// [`CollectionLock`], so no append is in flight, and the tail is a crashed
/// writer's, never acknowledged. A record that is whole and checksummed
/// but does not decode was never written by this code: the log is corrupt,
/// and that is an error (`InvalidData`), the file left as it is.
fn replay(log: &mut File, from: u64, coll: &mut Collection) -> io::Result<u64> {
    let mut bytes = Vec::new();
    io::Seek::seek(log, io::SeekFrom::Start(from))?;
    log.read_to_end(&mut bytes)?;
    let mut pos = 0usize;
    loop {
        match next_record(&bytes, pos) {
            Ok(Some((rec, next))) => {
                if rec.seq > coll.last_record {
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
    let Some(head) = pos.checked_add(8).and_then(|end| bytes.get(pos..end)) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let end = pos + 8 + len;
    let Some(payload) = bytes.get(pos + 8..end) else {
        return Ok(None);
    };
    if crc32fast::hash(payload) != crc {
        return Ok(None);
    }
    Ok(Some((decode_record(payload)?, end)))
}

/// A record's payload framed as in the log: length, checksum, payload.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 8);
    frame.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The payload of a log record.
pub(crate) fn encode_record(rec: &Record) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(rec.seq);
    match &rec.op {
        Op::Index {
            image,
            exts,
            dim,
            ids,
            vectors,
        } => {
            w.u8(1);
            w.u128(*image);
            w.len(*dim);
            w.len(ids.len());
            for (&id, ext) in ids.iter().zip(exts) {
                w.u128(id);
                w.opt_str(ext.as_deref());
            }
            w.f32s(vectors);
        }
        Op::DeleteFaces(ids) => {
            w.u8(2);
            w.len(ids.len());
            ids.iter().for_each(|&id| w.u128(id));
        }
        Op::CreateUser(u) => {
            w.u8(3);
            w.str(u);
        }
        Op::DeleteUser(u) => {
            w.u8(4);
            w.str(u);
        }
        Op::Associate(u, ids) | Op::Disassociate(u, ids) => {
            w.u8(if matches!(rec.op, Op::Associate(..)) {
                5
            } else {
                6
            });
            w.str(u);
            w.len(ids.len());
            ids.iter().for_each(|&id| w.u128(id));
        }
        Op::Nothing => w.u8(0),
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

fn write_token(w: &mut Writer, t: &TokenEntry) {
    w.u8(t.api as u8);
    w.str(&t.token);
    w.str(&t.fingerprint);
    w.str(&t.response);
    w.u64(t.at);
}

fn read_token(r: &mut Reader<'_>) -> Result<TokenEntry, CodecError> {
    Ok(TokenEntry {
        api: Api::from_u8(r.u8()?).ok_or(CodecError("bad api"))?,
        token: r.str()?,
        fingerprint: r.str()?,
        response: r.str()?,
        at: r.u64()?,
    })
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
    let op = match r.u8()? {
        0 => Op::Nothing,
        1 => {
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
            Op::Index {
                image,
                exts,
                dim,
                ids,
                vectors,
            }
        }
        2 => Op::DeleteFaces(read_ids(&mut r)?),
        3 => Op::CreateUser(r.str()?),
        4 => Op::DeleteUser(r.str()?),
        5 => Op::Associate(r.str()?, read_ids(&mut r)?),
        6 => Op::Disassociate(r.str()?, read_ids(&mut r)?),
        _ => return Err(CodecError("bad op")),
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

/// Writes a snapshot of a compacted collection to `file` and syncs it;
/// gives its length in bytes.
fn write_snapshot(coll: &Collection, file: File) -> io::Result<u64> {
    let (out, len) = encode_snapshot(coll, BufWriter::with_capacity(1 << 20, file))?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(len)
}

/// Writes the snapshot of `coll` to `out`; gives `out` back and the length
/// written. Tokens go in (api, token) order, so that one state always
/// encodes to the same bytes.
pub(crate) fn encode_snapshot<W: Write>(coll: &Collection, out: W) -> io::Result<(W, u64)> {
    let mut w = Writer::default();
    w.str(&coll.id);
    w.u64(coll.created);
    w.len(coll.dim);
    w.u64(coll.next_seq);
    w.u64(coll.last_record);
    w.len(coll.faces.len());
    for ((f, &id), &owner) in coll.faces.iter().zip(&coll.ids).zip(&coll.owner) {
        w.u128(id);
        w.u128(f.image);
        w.u64(f.seq);
        w.u32(owner);
        w.opt_str(f.ext.as_deref());
    }
    w.len(coll.users.len());
    for u in &coll.users {
        w.str(&u.id);
        w.u64(u.seq);
        w.len(u.faces.len());
        u.faces.iter().for_each(|&r| w.u32(r));
    }
    w.len(coll.tokens.len());
    let mut tokens: Vec<_> = coll.tokens.values().collect();
    tokens.sort_by(|a, b| (a.api as u8, &a.token).cmp(&(b.api as u8, &b.token)));
    tokens.into_iter().for_each(|t| write_token(&mut w, t));

    let mut out = Crc {
        inner: out,
        hasher: crc32fast::Hasher::new(),
        written: 0,
    };
    out.put(SNAPSHOT_MAGIC)?;
    out.put(&(w.buf.len() as u64).to_le_bytes())?;
    out.put(&w.buf)?;
    out.put(&(coll.vectors.len() as u64).to_le_bytes())?;
    let mut buf = Vec::with_capacity(1 << 20);
    for chunk in coll.vectors.chunks(1 << 18) {
        buf.clear();
        extend_f32_bytes(&mut buf, chunk);
        out.put(&buf)?;
    }
    let crc = out.hasher.clone().finalize();
    out.inner.write_all(&crc.to_le_bytes())?;
    Ok((out.inner, out.written + 4))
}

/// Reads a snapshot file.
fn read_snapshot(file: File) -> io::Result<Collection> {
    let len = file.metadata()?.len();
    decode_snapshot(&mut BufReader::with_capacity(1 << 20, file), len)
}

/// Bytes of a snapshot besides its metadata and matrix: magic, metadata
/// length, value count, checksum.
const SNAPSHOT_FRAME: u64 = 8 + 8 + 8 + 4;

/// Decodes a snapshot of `len` bytes in all from `input`. Every length and
/// count in it is checked against the bytes there are before anything is
/// allocated for it: the metadata and the matrix must fill the snapshot
/// exactly. The matrix streams straight into place: while one core reads
/// the next 16 MiB, the other converts and checksums the last one; the
/// metadata is decoded alongside.
pub(crate) fn decode_snapshot(input: &mut (impl Read + Send), len: u64) -> io::Result<Collection> {
    let corrupt = |e: CodecError| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut hasher = crc32fast::Hasher::new();
    let mut read = |input: &mut dyn Read, buf: &mut [u8]| -> io::Result<()> {
        input.read_exact(buf)?;
        hasher.update(buf);
        Ok(())
    };
    let mut head = [0u8; 16];
    read(input, &mut head)?;
    if &head[..8] != SNAPSHOT_MAGIC {
        return Err(corrupt(CodecError("not a snapshot")));
    }
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
    let (coll, vectors) = rayon::join(
        || decode_snapshot_meta(&meta),
        || read_matrix(input, count, hasher),
    );
    let (vectors, hasher) = vectors?;
    let mut crc = [0u8; 4];
    input.read_exact(&mut crc)?;
    if u32::from_le_bytes(crc) != hasher.finalize() {
        return Err(corrupt(CodecError("checksum mismatch")));
    }
    let mut coll = coll.map_err(corrupt)?;
    if coll.faces.len().checked_mul(coll.dim) != Some(vectors.len()) {
        return Err(corrupt(CodecError("matrix size does not match faces")));
    }
    coll.vectors = vectors;
    Ok(coll)
}

/// Reads `count` little-endian `f32`s, continuing the checksum `hasher`.
fn read_matrix(
    input: &mut (impl Read + Send),
    count: usize,
    mut hasher: crc32fast::Hasher,
) -> io::Result<(Vec<f32>, crc32fast::Hasher)> {
    const CHUNK: usize = 1 << 22;
    // Zeroed allocation: pages are mapped lazily, on first write below.
    let mut vectors = vec![0f32; count];
    let mut cur = vec![0u8; CHUNK.min(count) * 4];
    let mut next = cur.clone();
    let mut chunks = vectors.chunks_mut(CHUNK).peekable();
    if let Some(first) = chunks.peek() {
        input.read_exact(&mut cur[..first.len() * 4])?;
    }
    while let Some(dst) = chunks.next() {
        let next_len = chunks.peek().map_or(0, |c| c.len() * 4);
        let src = &cur[..dst.len() * 4];
        let next_buf = &mut next[..next_len];
        let (read, part) = rayon::join(
            || input.read_exact(next_buf),
            || {
                let mut h = crc32fast::Hasher::new();
                h.update(src);
                copy_f32_from_bytes(dst, src);
                h
            },
        );
        read?;
        hasher.combine(&part);
        std::mem::swap(&mut cur, &mut next);
    }
    Ok((vectors, hasher))
}

/// The collection a snapshot's metadata describes, its matrix still empty.
/// Counts are bounded by the bytes left; rows, users and tokens must be
/// consistent (unique ids, owners and users' face lists agreeing), and the
/// metadata must end where its last item does.
fn decode_snapshot_meta(meta: &[u8]) -> Result<Collection, CodecError> {
    let mut r = Reader::new(meta);
    let id = r.str()?;
    let created = r.u64()?;
    let dim = usize::try_from(r.u64()?).map_err(|_| CodecError("dimension too large"))?;
    let mut c = Collection::new(id, created, dim);
    c.next_seq = r.u64()?;
    c.last_record = r.u64()?;
    let n = r.count(16 + 16 + 8 + 4 + 1)?;
    c.faces.reserve_exact(n);
    c.ids.reserve_exact(n);
    c.owner.reserve_exact(n);
    c.face_index.reserve(n);
    for row in 0..n {
        let id = r.u128()?;
        let image = r.u128()?;
        let seq = r.u64()?;
        c.owner.push(r.u32()?);
        let ext = r.opt_str()?.map(String::into_boxed_str);
        c.faces.push(FaceRow { image, seq, ext });
        c.ids.push(id);
        let row = u32::try_from(row).map_err(|_| CodecError("too many faces"))?;
        if c.face_index.insert(id, row).is_some() {
            return Err(CodecError("face id twice"));
        }
    }
    let users = r.count(8 + 8 + 8)?;
    // Each owned row is in its owner's list, once.
    let mut listed = vec![false; n];
    let mut listed_count = 0usize;
    for slot in 0..users {
        let id = r.str()?;
        let seq = r.u64()?;
        let k = r.count(4)?;
        let faces = (0..k).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
        let slot = u32::try_from(slot).map_err(|_| CodecError("too many users"))?;
        for &f in &faces {
            match listed.get_mut(f as usize) {
                None => return Err(CodecError("face row out of range")),
                Some(seen) if *seen || c.owner[f as usize] != slot => {
                    return Err(CodecError("user's faces disagree with their owners"))
                }
                Some(seen) => *seen = true,
            }
        }
        listed_count += faces.len();
        if c.user_index.insert(id.clone(), slot).is_some() {
            return Err(CodecError("user id twice"));
        }
        c.users.push(UserSlot {
            id,
            seq,
            faces,
            deleted: false,
        });
    }
    if c.owner
        .iter()
        .any(|&o| o < DELETED && o as usize >= c.users.len())
    {
        return Err(CodecError("owner out of range"));
    }
    if c.owner.iter().filter(|&&o| o < DELETED).count() != listed_count {
        return Err(CodecError("user's faces disagree with their owners"));
    }
    let tokens = r.count(1 + 4 * 8)?;
    for _ in 0..tokens {
        let t = read_token(&mut r)?;
        if c.tokens.insert((t.api, t.token.clone()), t).is_some() {
            return Err(CodecError("token twice"));
        }
    }
    if !r.is_empty() {
        return Err(CodecError("trailing bytes after the metadata"));
    }
    Ok(c)
}
