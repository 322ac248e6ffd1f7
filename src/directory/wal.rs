//! The write-ahead log of one instance (`DIR/connect/<instance>/wal.log`):
//! one framed record (`storage::frame`) per write call, holding the
//! call's sequence number and the changes it made, as whole records
//! (users and groups as they are after the call), so replay needs no
//! validation and applies each record all or not at all.
//!
//! Takes in [`LogRecord`]s; gives out their bytes appended to the log and
//! fsynced, with concurrent writers sharing fsyncs (group commit), and the
//! records read back from a byte offset on.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use serde::{Deserialize, Serialize};

use crate::records::{HierarchyGroup, User};
use crate::storage::{frame, next_frame};

/// The log file's name in an instance directory.
pub(crate) const WAL_FILE: &str = "wal.log";

/// One change a write made, as it is after the write.
// Built once per write and moved into the log and the delta: boxing the
// records would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Change {
    /// The user with this `Id` is now this record (created or replaced).
    PutUser(User),
    /// The user with this `Id` is gone.
    DeleteUser(String),
    /// The hierarchy group with this `Id` is now this record.
    PutGroup(HierarchyGroup),
    /// The hierarchy group with this `Id` is gone.
    DeleteGroup(String),
    /// The instance's own record (alias, tags, level names) is now this.
    PutInfo(super::InstanceInfo),
}

/// One log record: the changes of one write call, applied together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogRecord {
    /// The call's sequence number in the instance (1, 2, ...; a fold
    /// records the last one it holds in the commit's payload).
    pub seq: u64,
    /// What the call changed.
    pub changes: Vec<Change>,
}

/// Why a log cannot be read: a whole, checksummed record that does not
/// decode (never written by this code), or the file refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WalError {
    /// The file refused a read, write or sync.
    #[error("write-ahead log '{}': {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A whole record whose payload is not a [`LogRecord`].
    #[error("write-ahead log '{}': record at byte {at} does not decode: {source}", path.display())]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Where the record starts.
        at: u64,
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
    },
}

/// The shared fsync of group commit: how far the log is known durable
/// (in bytes appended by this process), and whether a sync is running.
#[derive(Debug, Default)]
struct Synced {
    upto: u64,
    busy: bool,
}

/// An instance's open log.
#[derive(Debug)]
pub(crate) struct Wal {
    path: PathBuf,
    file: File,
    /// Bytes this process appended, ever (a ticket is the count after an append).
    written: AtomicU64,
    synced: Mutex<Synced>,
    wake: Condvar,
}

impl Wal {
    /// Opens (creating, owner-only) the log in instance directory `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Wal, WalError> {
        let path = dir.join(WAL_FILE);
        let file = crate::fsmode::options()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|source| WalError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(Wal {
            path,
            file,
            written: AtomicU64::new(0),
            synced: Mutex::new(Synced::default()),
            wake: Condvar::new(),
        })
    }

    fn io(&self, source: io::Error) -> WalError {
        WalError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The log's length now.
    pub(crate) fn len(&self) -> Result<u64, WalError> {
        Ok(self.file.metadata().map_err(|e| self.io(e))?.len())
    }

    /// The whole records from byte `from` on, each with the offset after
    /// it. Stops at the end or at a torn tail (which the caller may cut
    /// off when it holds the instance lock exclusively).
    pub(crate) fn read_from(&self, from: u64) -> Result<Vec<(LogRecord, u64)>, WalError> {
        let mut bytes = Vec::new();
        let mut f = &self.file;
        f.seek(SeekFrom::Start(from)).map_err(|e| self.io(e))?;
        f.read_to_end(&mut bytes).map_err(|e| self.io(e))?;
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((payload, next)) = next_frame(&bytes, pos) {
            let rec = serde_json::from_slice(payload).map_err(|source| WalError::Corrupt {
                path: self.path.clone(),
                at: from + pos as u64,
                source,
            })?;
            pos = next;
            out.push((rec, from + pos as u64));
        }
        Ok(out)
    }

    /// Appends a record (not yet synced); gives its length in the file and
    /// the ticket to pass to [`Wal::sync`]. The caller serialises appends.
    pub(crate) fn append(&self, rec: &LogRecord) -> Result<(u64, u64), WalError> {
        let payload = serde_json::to_vec(rec).map_err(|e| self.io(io::Error::other(e)))?;
        let bytes = frame(&payload);
        (&self.file).write_all(&bytes).map_err(|e| self.io(e))?;
        let n = bytes.len() as u64;
        let ticket = self.written.fetch_add(n, Ordering::SeqCst) + n;
        Ok((n, ticket))
    }

    /// Returns once every byte up to `ticket` is on disk. One caller runs
    /// the fsync at a time; callers arriving meanwhile wait for it and,
    /// if their bytes were not yet covered, one of them runs the next one
    /// for all of them (group commit).
    pub(crate) fn sync(&self, ticket: u64) -> Result<(), WalError> {
        let poisoned = || self.io(io::Error::other("log sync lock poisoned"));
        let mut s = self.synced.lock().map_err(|_| poisoned())?;
        loop {
            if s.upto >= ticket {
                return Ok(());
            }
            if !s.busy {
                s.busy = true;
                let target = self.written.load(Ordering::SeqCst);
                drop(s);
                let result = self.file.sync_data();
                s = self.synced.lock().map_err(|_| poisoned())?;
                s.busy = false;
                if result.is_ok() {
                    s.upto = s.upto.max(target);
                }
                self.wake.notify_all();
                result.map_err(|e| self.io(e))?;
            } else {
                s = self.wake.wait(s).map_err(|_| poisoned())?;
            }
        }
    }

    /// Cuts the log to `len` bytes and syncs it: a torn tail, or every
    /// record once a fold holds them.
    pub(crate) fn truncate(&self, len: u64) -> Result<(), WalError> {
        self.file.set_len(len).map_err(|e| self.io(e))?;
        self.file.sync_all().map_err(|e| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> LogRecord {
        LogRecord {
            seq,
            changes: vec![Change::DeleteUser(format!("u{seq}"))],
        }
    }

    #[test]
    fn records_read_back_and_a_torn_tail_is_not_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path()).unwrap();
        let (n1, t1) = wal.append(&rec(1)).unwrap();
        let (n2, t2) = wal.append(&rec(2)).unwrap();
        wal.sync(t2).unwrap();
        assert_eq!(t1, n1);
        assert_eq!(t2, n1 + n2);
        let back = wal.read_from(0).unwrap();
        assert_eq!(back, vec![(rec(1), n1), (rec(2), n1 + n2)]);
        assert_eq!(wal.read_from(n1).unwrap(), vec![(rec(2), n1 + n2)]);
        // A record cut anywhere is a torn tail: the records before it stay.
        for cut in n1..n1 + n2 {
            wal.truncate(cut).unwrap();
            assert_eq!(wal.read_from(0).unwrap(), vec![(rec(1), n1)], "cut {cut}");
        }
    }

    #[test]
    fn a_whole_record_that_does_not_decode_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(WAL_FILE), frame(b"{\"not\":1}")).unwrap();
        let wal = Wal::open(dir.path()).unwrap();
        let e = wal.read_from(0).unwrap_err();
        assert!(
            e.to_string().contains("record at byte 0 does not decode"),
            "{e}"
        );
    }

    #[test]
    fn concurrent_writers_share_fsyncs_and_all_return_synced() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path()).unwrap();
        let order = Mutex::new(0u64);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20 {
                        let ticket = {
                            let mut seq = order.lock().unwrap();
                            *seq += 1;
                            wal.append(&rec(*seq)).unwrap().1
                        };
                        wal.sync(ticket).unwrap();
                        assert!(wal.synced.lock().unwrap().upto >= ticket);
                    }
                });
            }
        });
        let seqs: Vec<u64> = wal.read_from(0).unwrap().iter().map(|r| r.0.seq).collect();
        assert_eq!(seqs, (1..=160).collect::<Vec<_>>());
    }
}
