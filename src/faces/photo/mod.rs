//! Faces from photos: a photo's bytes to faces (a box, five landmarks and a
//! 128-d descriptor), offline, on dlib's models as the PyPI package
//! `face-recognition-models==0.3.0` ships them.
//!
//! The pipeline, one module a stage:
//!
//! ```text
//! JPEG/PNG bytes ─decode─▶ RGB ─detect─▶ boxes ─shape─▶ 5 landmarks ─chip─▶ 150x150 RGB ─resnet─▶ 128 floats
//! ```
//!
//! - `models`: where the model files are (`--models DIR`,
//!   `ROLLCALL_MODELS`, or `$XDG_DATA_HOME/rollcall/models`) and their
//!   names; `scripts/fetch-models.sh` puts them there.
//! - `dat`: dlib's serialization format, read with every length checked
//!   against the bytes present.
//! - `decode`: JPEG/PNG bytes to 8-bit RGB (EXIF orientation applied),
//!   refusing oversized images from their header.
//! - `jpeg`: a baseline JPEG decoder whose pixels are libjpeg's exactly
//!   (what dlib's golden figures were computed on); `decode` uses it.
//! - `shape`: dlib's 5-point landmark predictor (a cascade of regression
//!   trees) on a face's box.
//! - `chip`: dlib's alignment of a face to the 150x150 chip from its 5
//!   landmarks.
//! - `detect`: dlib's HOG frontal face detector (boxes and scores), on
//!   `fhog`, dlib's HOG features.
//! - `resnet`: dlib's face recognition ResNet, a 150x150 chip to 128
//!   floats.

pub(crate) mod chip;
pub(crate) mod dat;
pub(crate) mod decode;
pub(crate) mod detect;
pub(crate) mod fhog;
#[cfg(test)]
pub(crate) mod golden;
pub(crate) mod jpeg;
pub(crate) mod models;
mod pipeline;
pub(crate) mod resnet;
pub(crate) mod shape;

pub(crate) use pipeline::Pipeline;

/// One face found in a photo.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DetectedFace {
    /// Its box in pixels, as the detector found it.
    pub(crate) rect: Rect,
    /// The detector's confidence, 0..100.
    pub(crate) confidence: f32,
    /// The five landmarks in the model's order: the outer and the inner
    /// corner of the eye on the image's right, the outer and the inner
    /// corner of the eye on the image's left, the bottom of the nose.
    pub(crate) landmarks: [Point; 5],
    /// The 128-d descriptor; `None` when the face is too small for a chip
    /// or none was asked for.
    pub(crate) descriptor: Option<[f32; 128]>,
}

/// What the pipeline found in one photo.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Analysis {
    /// Width in pixels, after EXIF orientation.
    pub(crate) width: u32,
    /// Height in pixels, after EXIF orientation.
    pub(crate) height: u32,
    /// The faces, largest box first.
    pub(crate) faces: Vec<DetectedFace>,
}

/// A rectangle in pixels, as dlib's `rectangle`: `right` and `bottom` are
/// inclusive, so a box of one pixel has `left == right`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub(crate) left: i64,
    pub(crate) top: i64,
    pub(crate) right: i64,
    pub(crate) bottom: i64,
}

impl Rect {
    /// Width in pixels (`right - left + 1`; 0 for an empty rectangle).
    pub(crate) fn width(&self) -> i64 {
        (self.right - self.left + 1).max(0)
    }

    /// Height in pixels (`bottom - top + 1`; 0 for an empty rectangle).
    pub(crate) fn height(&self) -> i64 {
        (self.bottom - self.top + 1).max(0)
    }
}

/// A point in pixel coordinates (x to the right, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: f64,
    pub(crate) y: f64,
}
