//! File locks between processes, and a staging area whose leftovers are
//! removed only when no process can still be using them.
//!
//! A lock is an `flock` on an open file, not on a name: while one process
//! waits for it, another may remove the file (and make a new one at the
//! same path). [`FileLock::acquire`] therefore checks, once it holds the
//! lock, that its file is still the one at the path, and starts over if
//! not. Within one process threads need their own locks besides: these
//! order processes.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use super::stamp::same_file;
use crate::fsmode;

/// How a lock is held: shared by any number of holders, or by one alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// Many holders at once (readers, makers of staging directories).
    Shared,
    /// One holder (a writer, the cleaner of a staging area).
    Exclusive,
}

/// A held file lock, released when dropped.
#[derive(Debug)]
pub(crate) struct FileLock(File);

fn open_lock_file(path: &Path) -> io::Result<File> {
    fsmode::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

impl FileLock {
    /// Waits for the lock on the file at `path` (created, owner-only, if
    /// missing while its directory exists). `Ok(None)`: the directory is
    /// gone, or the file was removed while this waited.
    pub(crate) fn acquire(path: &Path, mode: LockMode) -> io::Result<Option<FileLock>> {
        loop {
            let file = match open_lock_file(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            match mode {
                LockMode::Exclusive => file.lock()?,
                LockMode::Shared => file.lock_shared()?,
            }
            let held = file.metadata()?;
            match fs::metadata(path) {
                Ok(now) if same_file(&held, &now) => return Ok(Some(FileLock(file))),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the lock on the file at `path` exclusively if no one holds it
    /// (created if missing); `Ok(None)` if someone does. For a file that
    /// is never removed, such as a staging area's lock.
    pub(crate) fn try_exclusive(path: &Path) -> io::Result<Option<FileLock>> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock(file))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Waits for a shared lock on the file at `path` (created if missing),
    /// a file that is never removed.
    fn shared(path: &Path) -> io::Result<FileLock> {
        let file = open_lock_file(path)?;
        file.lock_shared()?;
        Ok(FileLock(file))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first says so.
        let _ = self.0.unlock();
    }
}

/// A directory's staging area: entries under `root` named with one of a
/// few prefixes (`.tmp-`, `.trash-`) hold directories being made or
/// removed, and a lock file in `root` tells a live one from a crash's
/// leftover.
///
/// Whoever makes or removes such an entry holds the lock shared for as
/// long as the entry exists ([`Staging::hold`]); [`Staging::clean`] takes
/// it exclusively, without waiting, and only then removes the entries: so
/// it never removes another thread's or process's directory in the making,
/// and a crash's leftovers go at the next clean that finds no one busy.
///
/// ```text
/// let staging = Staging::new(&root, ".lock", &[".tmp-", ".trash-"]);
/// staging.clean()?;                       // at open: a crash's leftovers
/// let _held = staging.hold()?;            // while `.tmp-...` exists
/// let tmp = staging.path(".tmp-");        // a fresh name to build under
/// ```
#[derive(Debug, Clone)]
pub(crate) struct Staging<'a> {
    root: &'a Path,
    lock_name: &'a str,
    prefixes: &'a [&'a str],
}

impl<'a> Staging<'a> {
    /// The staging area of `root`: entries named `prefix...` for each of
    /// `prefixes`, guarded by the lock file `root/lock_name`.
    pub(crate) fn new(root: &'a Path, lock_name: &'a str, prefixes: &'a [&'a str]) -> Self {
        Staging {
            root,
            lock_name,
            prefixes,
        }
    }

    /// Holds the area's lock shared: take it before an entry is made and
    /// keep it until the entry is gone (renamed into place or removed).
    pub(crate) fn hold(&self) -> io::Result<FileLock> {
        FileLock::shared(&self.root.join(self.lock_name))
    }

    /// A fresh entry path `root/<prefix><uuid>`; nothing is created.
    pub(crate) fn path(&self, prefix: &str) -> PathBuf {
        self.root.join(format!("{prefix}{}", uuid::Uuid::new_v4()))
    }

    /// Removes every entry named with one of the prefixes, if the lock can
    /// be taken exclusively now; skipped (`Ok`) while anyone holds it.
    pub(crate) fn clean(&self) -> io::Result<()> {
        let Some(_cleaning) = FileLock::try_exclusive(&self.root.join(self.lock_name))? else {
            return Ok(());
        };
        let Ok(entries) = fs::read_dir(self.root) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if self.prefixes.iter().any(|p| name.starts_with(p)) {
                match fs::remove_dir_all(e.path()) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_skips_a_held_area_and_removes_leftovers_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path(), ".lock", &[".tmp-"]);
        let tmp = staging.path(".tmp-");
        fs::create_dir(&tmp).unwrap();
        fs::create_dir(dir.path().join("kept")).unwrap();
        let held = staging.hold().unwrap();
        staging.clean().unwrap();
        assert!(tmp.exists(), "a held area's entries are not leftovers");
        drop(held);
        staging.clean().unwrap();
        assert!(!tmp.exists());
        assert!(dir.path().join("kept").exists());
    }

    #[test]
    fn a_lock_on_a_removed_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        assert!(FileLock::acquire(&gone.join("lock"), LockMode::Shared)
            .unwrap()
            .is_none());
        let path = dir.path().join("lock");
        let a = FileLock::acquire(&path, LockMode::Shared).unwrap();
        let b = FileLock::acquire(&path, LockMode::Shared).unwrap();
        assert!(a.is_some() && b.is_some());
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
    }
}
