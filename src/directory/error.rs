//! What the directory engine's storage refused, kept with its cause:
//! [`StorageError`], reported as `InternalServiceException` with the text
//! `storage: ` and the error, in one place (its `From` impl).

use std::io;
use std::path::{Path, PathBuf};

use crate::AwsError;

/// What the disk or the index on it refused. Shows as, for instance,
/// `cannot create data directory 'DIR/connect': File exists (os error 17)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StorageError {
    /// A file-system step (`what`: "cannot create data directory",
    /// "cannot rename staging directory", ...) failed on `path`; the
    /// `io::Error` is the source. `--data` naming a file fails the first
    /// step: `cannot create data directory 'FILE/connect': ...`.
    #[error("{what} '{}': {source}", path.display())]
    Io {
        /// The step that failed.
        what: &'static str,
        /// The file or directory it failed on.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The index refused (tantivy's error, its own I/O errors among them):
    /// a first import whose staging directory already holds an index.
    #[error("{0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index's files cannot be read: an instance directory whose
    /// files are unreadable to this user.
    #[error("{0}")]
    IndexFiles(#[from] tantivy::directory::error::OpenReadError),
    /// A record (a user, the groups) that does not encode or decode as
    /// JSON: a stored user edited by hand into invalid JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The write-ahead log refused, or holds a whole record that does not
    /// decode: `write-ahead log 'DIR/wal.log': record at byte 0 does not decode: ...`.
    #[error("{0}")]
    Wal(#[from] super::wal::WalError),
    /// A stored document lacks what every document the engine writes has:
    /// a user document without its record.
    #[error("{0}")]
    Corrupt(&'static str),
}

impl From<StorageError> for AwsError {
    fn from(e: StorageError) -> AwsError {
        AwsError::internal(format!("storage: {e}"))
    }
}

/// Any storage failure as the engine reports it (through
/// `From<StorageError> for AwsError`).
pub(super) fn storage(e: impl Into<StorageError>) -> AwsError {
    AwsError::from(e.into())
}

/// For `map_err`: the failure of file-system step `what` on `path`.
pub(super) fn failed<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> AwsError + 'a {
    move |source| {
        AwsError::from(StorageError::Io {
            what,
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_file_system_failure_names_its_step_and_path_and_keeps_its_source() {
        let e = StorageError::Io {
            what: "cannot create data directory",
            path: PathBuf::from("data/connect"),
            source: io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
        };
        assert_eq!(
            e.to_string(),
            "cannot create data directory 'data/connect': denied"
        );
        let source = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        assert_eq!(
            AwsError::from(e).message,
            "storage: cannot create data directory 'data/connect': denied"
        );
    }

    #[test]
    fn a_data_directory_that_is_a_file_fails_at_its_first_step() {
        let d = tempfile::tempdir().expect("tempdir");
        let file = d.path().join("file");
        std::fs::write(&file, b"x").expect("write");
        let e = crate::directory::Engine::open(&file).expect_err("not a directory");
        let prefix = format!(
            "storage: cannot create data directory '{}': ",
            file.join("connect").display()
        );
        assert!(e.message.starts_with(&prefix), "{}", e.message);
    }
}
