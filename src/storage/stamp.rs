//! What a file looked like, cheaply: a `stat`, no read. Two stamps that
//! differ say the file changed; equal ones say it probably did not (inode
//! numbers are reused and times are coarse, so a caller that must know
//! pairs the stamp with something the file itself says, such as the number
//! of the last record it holds).

use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

/// A file's identity (inode; 0 off Unix), length and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    /// The inode number: a file replaced by a rename has a new one.
    pub(crate) ino: u64,
    /// The length in bytes.
    pub(crate) len: u64,
    /// The modification time, where the file system keeps one.
    modified: Option<SystemTime>,
}

impl FileStamp {
    /// The stamp of metadata already read (say from an open file).
    pub(crate) fn of(m: &fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(m);
        #[cfg(not(unix))]
        let ino = 0;
        FileStamp {
            ino,
            len: m.len(),
            modified: m.modified().ok(),
        }
    }

    /// The stamp of the file at `path` now; `None` if there is none.
    pub(crate) fn read(path: &Path) -> io::Result<Option<FileStamp>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(FileStamp::of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Whether two metadata describe the same file (always true off Unix,
/// where there is no inode to compare).
pub(crate) fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
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
