//! The whole pipeline, with its models loaded once, when the first photo
//! comes.

use std::path::PathBuf;

use super::models::{models_dir, INSTALL_COMMAND};
use super::Analysis;
use crate::faces::error::Error;

/// The photo pipeline of an engine: where its models are, loaded on first
/// use (a process that never sees a photo never reads them).
#[derive(Debug, Default)]
pub(crate) struct Pipeline {
    /// `--models DIR`, if given.
    dir: Option<PathBuf>,
}

impl Pipeline {
    /// A pipeline over the models in `dir`, or where
    /// [`models_dir`] looks by default.
    pub(crate) fn new(dir: Option<PathBuf>) -> Pipeline {
        Pipeline { dir }
    }

    /// The faces of a photo, largest first, each described.
    pub(crate) fn analyse(&self, _bytes: &[u8]) -> Result<Analysis, Error> {
        let dir = models_dir(self.dir.as_deref());
        Err(Error::InvalidImage(format!(
            "Image.Bytes: photos are not read yet by this build (models in {}; {INSTALL_COMMAND}); send a NumPy .npy file of face vectors",
            dir.map_or_else(|| "?".to_string(), |d| d.display().to_string())
        )))
    }
}
