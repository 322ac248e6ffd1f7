//! Storage helpers the engines share: file locks between processes and a
//! staging area for directories in the making (`lock`), and a cheap
//! stamp of a file that says whether another process changed it
//! (`stamp`), and the framing of log records (`frame`).
//!
//! The faces store uses both (each collection's `lock` file, the
//! `rekognition/.lock` staging lock, the log and snapshot stamps), and so
//! does the Connect directory (the `connect/.import.lock` staging lock of
//! its `.import-*` first imports, each instance's `lock` file, the stamp
//! of each instance's commit file, the frames of its write-ahead log).

mod frame;
mod lock;
mod stamp;

pub(crate) use frame::{frame, next_frame};
pub(crate) use lock::{FileLock, LockMode, Staging};
pub(crate) use stamp::FileStamp;
