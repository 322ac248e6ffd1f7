//! The tantivy directory of an instance: tantivy's `MmapDirectory`, except
//! that every file it creates is made owner-only (`0600`) right away.
//! tantivy opens its files with the process umask; the instance directory
//! itself is created `0700`, so nobody else can reach them even in the
//! moment before they are restricted (see [`crate::fsmode`]).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, FileSlice, Lock, MmapDirectory, WatchCallback,
    WatchHandle, WritePtr,
};

use crate::fsmode::restrict_file;

/// An `MmapDirectory` whose new files are owner-only.
#[derive(Debug, Clone)]
pub(super) struct PrivateDir {
    inner: MmapDirectory,
    root: PathBuf,
}

impl PrivateDir {
    /// Opens the existing directory `root`.
    pub(super) fn open(root: &Path) -> tantivy::Result<PrivateDir> {
        Ok(PrivateDir {
            inner: MmapDirectory::open(root)?,
            root: root.to_path_buf(),
        })
    }
}

impl Directory for PrivateDir {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn open_read(&self, path: &Path) -> Result<FileSlice, OpenReadError> {
        self.inner.open_read(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let w = self.inner.open_write(path)?;
        restrict_file(&self.root.join(path))
            .map_err(|e| OpenWriteError::wrap_io_error(e, path.to_path_buf()))?;
        Ok(w)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.inner.atomic_write(path, data)?;
        restrict_file(&self.root.join(path))
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        let held = self.inner.acquire_lock(lock)?;
        // Best effort: a lock file holds no data, and one made by another
        // user of a shared directory cannot be changed by this one.
        let _ = restrict_file(&self.root.join(&lock.filepath));
        Ok(held)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
