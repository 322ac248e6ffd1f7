//! Per-collection state of one engine: each collection is loaded on first
//! use and kept (`Handle`), guarded by a read-write lock between this
//! process's threads and by the collection's file lock between processes,
//! and brought up to date with the files before every call (another
//! process may have appended, written a snapshot or deleted it).

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};

use super::{dir_name, now, Engine};
use crate::faces::collection::{Collection, Op, Record, TokenEntry};
use crate::faces::error::Error;
use crate::faces::store::{self, Store};
use crate::faces::wire::check_collection_id;
use crate::storage::{FileLock, LockMode};

/// A loaded collection and its open files.
pub(super) struct Loaded {
    pub(super) coll: Collection,
    pub(super) store: Store,
}

/// One collection as this process holds it: loaded on first use, `None`
/// until then (and after a failure that leaves memory unsure).
pub(super) struct Handle {
    pub(super) dir: PathBuf,
    pub(super) state: RwLock<Option<Loaded>>,
}

impl Handle {
    /// The state for writing. A thread that panicked while holding it may
    /// have left it half-changed: then it is dropped, to be loaded again
    /// from disk (every change is logged before it is applied).
    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Option<Loaded>> {
        self.state.write().unwrap_or_else(|poisoned| {
            let mut g = poisoned.into_inner();
            *g = None;
            self.state.clear_poison();
            g
        })
    }
}

fn is_noop(op: &Op) -> bool {
    match op {
        Op::Nothing => true,
        Op::DeleteFaces(ids) | Op::Associate(_, ids) | Op::Disassociate(_, ids) => ids.is_empty(),
        _ => false,
    }
}

/// Logs (fsynced) and applies one change; snapshots when the log is long.
pub(super) fn commit(l: &mut Loaded, op: Op, token: Option<TokenEntry>) -> Result<(), Error> {
    let op = match (is_noop(&op), &token) {
        (true, None) => return Ok(()),
        (true, Some(_)) => Op::Nothing,
        (false, _) => op,
    };
    let rec = Record {
        seq: l.coll.last_record() + 1,
        op,
        token,
    };
    l.store.append(&rec)?;
    l.coll.apply(rec);
    if l.store.wants_snapshot() {
        l.coll.expire_tokens(now());
        // The record is durable already: a failed snapshot loses nothing
        // (the log keeps every record) and the next write tries again.
        let _ = l.store.snapshot(&mut l.coll);
    }
    Ok(())
}

impl Engine {
    pub(super) fn not_found(id: &str) -> Error {
        Error::NotFound(format!("collection '{id}' does not exist"))
    }

    /// The handle of collection `id` (made on first use; not yet loaded).
    pub(super) fn handle(&self, id: &str) -> Result<Arc<Handle>, Error> {
        check_collection_id(id)?;
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(open
            .entry(id.to_string())
            .or_insert_with(|| {
                Arc::new(Handle {
                    dir: self.root.join(dir_name(id)),
                    state: RwLock::new(None),
                })
            })
            .clone())
    }

    /// Forgets collection `id` in this process (it is gone from disk).
    pub(super) fn forget(&self, id: &str, h: &Arc<Handle>) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.get(id).is_some_and(|x| Arc::ptr_eq(x, h)) {
            open.remove(id);
        }
    }

    /// Takes the file lock of collection `id`, which must exist on disk; if
    /// it does not, this process forgets it too (`slot` and the map).
    pub(super) fn lock_existing(
        &self,
        id: &str,
        h: &Arc<Handle>,
        slot: &mut Option<Loaded>,
        mode: LockMode,
    ) -> Result<FileLock, Error> {
        match store::lock_collection(&h.dir, mode)? {
            Some(lock) if h.dir.join("meta.json").exists() => Ok(lock),
            _ => {
                *slot = None;
                self.forget(id, h);
                Err(Self::not_found(id))
            }
        }
    }

    /// Takes the collection's file lock and brings `slot` up to date with
    /// the files: loads it, or replays what other processes appended, or
    /// loads it again after their snapshot. The lock is held until dropped.
    fn sync<'a>(
        &self,
        id: &str,
        h: &Arc<Handle>,
        slot: &'a mut Option<Loaded>,
        mode: LockMode,
    ) -> Result<(&'a mut Loaded, FileLock), Error> {
        let lock = self.lock_existing(id, h, slot, mode)?;
        let current = match slot.as_mut() {
            Some(l) => l.store.catch_up(&mut l.coll)?,
            None => false,
        };
        if !current {
            *slot = None;
            let (store, coll, _) = Store::open(&h.dir, self.codes)?;
            *slot = Some(Loaded { coll, store });
        }
        match slot.as_mut() {
            Some(l) => Ok((l, lock)),
            None => Err(Self::not_found(id)),
        }
    }

    /// Runs `f` on collection `id` as it is on disk now, in parallel with
    /// other readers.
    pub(super) fn read<R>(
        &self,
        id: &str,
        f: impl FnOnce(&Collection) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let h = self.handle(id)?;
        if let Ok(g) = h.state.read()
            && let Some(l) = g.as_ref().filter(|l| l.store.is_current())
        {
            return f(&l.coll);
        }
        // Not loaded, or changed by another process: bring it up to date.
        let mut g = h.write();
        let (l, lock) = self.sync(id, &h, &mut g, LockMode::Shared)?;
        drop(lock);
        f(&l.coll)
    }

    /// Runs `f` on collection `id` with the right to change it: no other
    /// thread or process reads its memory or writes its files meanwhile.
    pub(super) fn write<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Loaded) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let h = self.handle(id)?;
        let mut g = h.write();
        let (l, _lock) = self.sync(id, &h, &mut g, LockMode::Exclusive)?;
        f(l)
    }
}
