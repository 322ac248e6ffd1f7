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
//! ([`lock_collection`]) to append, snapshot or delete, and shared to read
//! the files. A [`Stamp`] (identity and length of the log, identity and
//! last record of the snapshot) tells cheaply whether another process changed the collection
//! since this one last looked; if it only appended, [`Store::catch_up`]
//! replays the new records, otherwise the collection is loaded again.
//!
//! The log's record format is in `log`, the snapshot's in `snapshot`; the
//! lock files and file stamps are the crate's `storage` helpers.

mod log;
mod snapshot;

pub(crate) use self::log::{decode_record, encode_record, frame, next_record};
pub(crate) use self::snapshot::{decode_snapshot, encode_snapshot, Streamed};

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::log::replay;
use self::snapshot::{matrix_start, peek_head, read_snapshot, write_snapshot, write_snapshot_with};
use super::codes::FaceCodes;
use super::collection::{Collection, Record};
use super::error::{storage_error, Error};
use super::model::FaceModel;
use crate::fsmode;
use crate::storage::{FileLock, FileStamp, LockMode, Staging};

/// Write a snapshot once the log outgrows this and half the snapshot.
const LOG_SNAPSHOT_MIN: u64 = 64 << 20;

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

/// The staging area of the collections' parent directory: a collection
/// directory is made under a `.tmp-` name and removed under a `.trash-`
/// one, guarded by `.lock`.
fn staging(root: &Path) -> Staging<'_> {
    Staging::new(root, ".lock", &[".tmp-", ".trash-"])
}

/// Creates a collection directory atomically: built under a temporary name,
/// then renamed into place.
pub(crate) fn create_dir(root: &Path, name: &str, meta: &Meta) -> io::Result<PathBuf> {
    fsmode::create_dir_all(root)?;
    let staging = staging(root);
    let _making = staging.hold()?;
    let tmp = staging.path(".tmp-");
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

/// Takes the file lock of the collection in `dir`, held until dropped:
/// exclusive to change its files, shared to read them. `Ok(None)`: the
/// collection directory is gone (perhaps deleted, perhaps created again
/// meanwhile, while this waited).
pub(crate) fn lock_collection(dir: &Path, mode: LockMode) -> Result<Option<FileLock>, Error> {
    let path = dir.join(LOCK_FILE);
    FileLock::acquire(&path, mode).map_err(|e| storage_error("cannot lock", &path, e))
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
    log: FileStamp,
    snapshot: Option<(FileStamp, u64)>,
}

impl Stamp {
    /// The stamp of a collection directory now; `None` if its log is gone
    /// (the collection was deleted).
    fn read(dir: &Path) -> io::Result<Option<Stamp>> {
        let Some(log) = FileStamp::read(&dir.join("log.bin"))? else {
            return Ok(None);
        };
        // Identity and head from one open file, so that they match.
        let snapshot = match File::open(dir.join("snapshot.bin")) {
            Ok(f) => {
                let id = FileStamp::of(&f.metadata()?);
                let last = peek_head(f).map_or(u64::MAX, |h| h.last_record);
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
    let staging = staging(root);
    let _removing = staging.hold()?;
    let trash = staging.path(".trash-");
    fs::rename(dir, &trash)?;
    sync_dir(root)?;
    fs::remove_dir_all(&trash)
}

/// Removes what a crash may have left half-made in `root`. Skipped while
/// another thread or process is making or removing a collection: its
/// `.tmp-` or `.trash-` directory is not debris yet.
pub(crate) fn clean_root(root: &Path) -> io::Result<()> {
    staging(root).clean()
}

pub(crate) fn read_meta(dir: &Path) -> Result<Meta, Error> {
    let path = dir.join("meta.json");
    let text = fs::read_to_string(&path).map_err(|e| storage_error("cannot read", &path, e))?;
    serde_json::from_str(&text).map_err(|e| storage_error("corrupt", &path, e.into()))
}

/// A collection's dimension and face model read from `meta.json` or from the head of its
/// snapshot, without loading it; `None` when neither fixes it (the first
/// faces may then be in the log).
pub(crate) fn peek_dim(dir: &Path, meta: &Meta) -> Option<(usize, FaceModel)> {
    if meta.dimension != 0 {
        return Some((meta.dimension, FaceModel::Vectors));
    }
    let head = peek_head(File::open(dir.join("snapshot.bin")).ok()?)?;
    Some((head.dim, head.model)).filter(|&(d, _)| d != 0)
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
    /// Opens a collection directory: snapshot, then the log after it, its
    /// rows held as `codes` says (a collection with compact codes keeps
    /// the snapshot's rows in the snapshot file). The caller holds a
    /// collection lock (any kind: a torn tail seen under a lock is a
    /// crashed writer's, never a running one's).
    pub(crate) fn open(dir: &Path, codes: FaceCodes) -> Result<(Store, Collection, Meta), Error> {
        let meta = read_meta(dir)?;
        let snap_path = dir.join("snapshot.bin");
        let (mut coll, snapshot_len) = match File::open(&snap_path) {
            Ok(f) => {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                (
                    read_snapshot(f, codes)
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
        coll.set_codes(codes);
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
    /// holds a collection lock.
    pub(crate) fn catch_up(&mut self, coll: &mut Collection) -> Result<bool, Error> {
        let log_path = self.dir.join("log.bin");
        let io_err = |e| storage_error("cannot read log", &log_path, e);
        let (Some(old), Some(now)) = (self.stamp, Stamp::read(&self.dir).map_err(io_err)?) else {
            return Ok(false);
        };
        if old == now {
            return Ok(true);
        }
        if now.snapshot != old.snapshot || now.log.ino != old.log.ino || now.log.len < self.log_len
        {
            return Ok(false);
        }
        self.log_len = replay(&mut self.log, self.log_len, coll).map_err(io_err)?;
        self.restamp();
        Ok(true)
    }

    /// Appends one record and waits until it is on disk.
    pub(crate) fn append(&mut self, rec: &Record) -> Result<(), Error> {
        let payload = encode_record(rec);
        let frame = frame(&payload);
        let path = self.dir.join("log.bin");
        if payload.len() > u32::MAX as usize {
            return Err(storage_error(
                "record too large for",
                &path,
                io::Error::other(payload.len().to_string()),
            ));
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
    /// first), then empties the log. A collection with compact codes reads
    /// its rows from the new snapshot from then on.
    pub(crate) fn snapshot(&mut self, coll: &mut Collection) -> Result<(), Error> {
        coll.compact();
        self.replace_snapshot(|file| write_snapshot(coll, file))?;
        if coll.has_codes() {
            // Under the exclusive lock: the file is the one just written.
            let dest = self.dir.join("snapshot.bin");
            let file = File::open(&dest).map_err(|e| storage_error("cannot open", &dest, e))?;
            coll.rows_written_to(file, matrix_start(self.snapshot_len, coll));
        }
        self.empty_log()?;
        self.restamp();
        Ok(())
    }

    /// Writes the collection with the faces of `more` added as the new
    /// snapshot (compacting it first) and empties the log, so that a bulk
    /// import of any size needs memory for one chunk of it and one new
    /// snapshot. `coll` does not hold the new faces: the store forgets the
    /// files, so that the next use loads the collection again from the
    /// snapshot. A stream that fails (an error of its own, or the wrong
    /// number of faces) leaves the files as they were.
    pub(crate) fn snapshot_streamed(
        &mut self,
        coll: &mut Collection,
        more: &mut Streamed<'_>,
    ) -> Result<(), Error> {
        coll.compact();
        let written = self.replace_snapshot(|file| write_snapshot_with(coll, Some(more), file));
        // Whatever happened, the collection in memory is not the files'.
        self.invalidate();
        written?;
        self.empty_log()
    }

    /// Writes a new snapshot with `write` under a temporary name, then
    /// renames it into place; the temporary file is removed if it fails.
    fn replace_snapshot(
        &mut self,
        write: impl FnOnce(File) -> io::Result<u64>,
    ) -> Result<(), Error> {
        let tmp = self.dir.join("snapshot.tmp");
        let dest = self.dir.join("snapshot.bin");
        let err = |e| storage_error("cannot write snapshot", &tmp, e);
        let file = fsmode::create_file(&tmp).map_err(err)?;
        let len = match write(file) {
            Ok(len) => len,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(err(e));
            }
        };
        fs::rename(&tmp, &dest).map_err(err)?;
        sync_dir(&self.dir).map_err(err)?;
        self.snapshot_len = len;
        Ok(())
    }

    /// Empties the log (after a snapshot that holds all of it).
    fn empty_log(&mut self) -> Result<(), Error> {
        let log_path = self.dir.join("log.bin");
        self.log
            .set_len(0)
            .map_err(|e| storage_error("cannot truncate", &log_path, e))?;
        self.log
            .sync_all()
            .map_err(|e| storage_error("cannot sync", &log_path, e))?;
        self.log_len = 0;
        Ok(())
    }
}
