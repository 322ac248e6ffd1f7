//! Owner-only files and directories for everything rollcall stores.
//!
//! The data directory holds every user record and face vector, so whatever
//! rollcall creates under it is private to the user running it, whatever
//! the umask: directories `0700`, files `0600`. A mode only ever applies
//! when rollcall creates the entry; a directory that already exists (a data
//! directory the user made, with the modes they chose) is left as it is.
//! On other platforms these are the plain `std::fs` calls.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of every directory rollcall creates.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
/// The mode of every file rollcall creates.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

fn dir_builder(recursive: bool) -> DirBuilder {
    let mut b = DirBuilder::new();
    b.recursive(recursive);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b
}

/// Creates `path` and any missing parent, each owner-only; existing ones
/// keep their modes.
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    dir_builder(true).create(path)
}

/// Creates the directory `path` (its parent must exist), owner-only.
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    dir_builder(false).create(path)
}

/// `OpenOptions` that create files owner-only.
pub(crate) fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o
}

/// Creates (or truncates) a file for writing, owner-only when new.
pub(crate) fn create_file(path: &Path) -> io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// Makes a file that someone else created (tantivy) owner-only.
pub(crate) fn restrict_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_entries_are_owner_only() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("a/b/c");
        create_dir_all(&deep).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&d.path().join(p)), 0o700, "{p}");
        }
        create_dir(&deep.join("d")).unwrap();
        assert_eq!(mode(&deep.join("d")), 0o700);
        let f = deep.join("f");
        create_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        let g = deep.join("g");
        std::fs::write(&g, b"x").unwrap();
        std::fs::set_permissions(&g, std::fs::Permissions::from_mode(0o666)).unwrap();
        restrict_file(&g).unwrap();
        assert_eq!(mode(&g), 0o600);
    }
}
