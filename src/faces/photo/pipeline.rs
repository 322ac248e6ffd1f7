//! The whole pipeline, with its models loaded once, when the first photo
//! comes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use image::RgbImage;

use super::chip::face_chip;
use super::decode::decode;
use super::detect::{auto_upsample, Detector};
use super::models::{models_dir, DETECTOR_FILE, INSTALL_COMMAND, RESNET_FILE, SHAPE_FILE};
use super::resnet::FaceNet;
use super::shape::ShapePredictor;
use super::{Analysis, DetectedFace};
use crate::faces::error::Error;

/// Faces whose box is narrower or lower than this many pixels are found
/// but not described (`SMALL_BOUNDING_BOX`): the chip would be upsampled
/// from too few pixels to tell people apart. The detector itself finds
/// faces down to about 40 pixels (80 in photos above 0.5 megapixels).
pub(crate) const MIN_FACE_PIXELS: i64 = 40;

/// The three models a photo needs.
#[derive(Debug)]
struct Models {
    detector: Detector,
    shape: ShapePredictor,
    net: FaceNet,
}

/// The photo pipeline of an engine: where its models are, loaded on first
/// use (a process that never sees a photo never reads them). A failed load
/// is not remembered: installing the models makes the next photo work.
#[derive(Debug, Default)]
pub(crate) struct Pipeline {
    /// `--models DIR`, if given.
    dir: Option<PathBuf>,
    models: Mutex<Option<Arc<Models>>>,
}

impl Pipeline {
    /// A pipeline over the models in `dir`, or where [`models_dir`] looks
    /// by default.
    pub(crate) fn new(dir: Option<PathBuf>) -> Pipeline {
        Pipeline {
            dir,
            models: Mutex::new(None),
        }
    }

    /// The models, loaded now if they were not (the three in parallel).
    fn models(&self) -> Result<Arc<Models>, Error> {
        let mut slot = self.models.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = slot.as_ref() {
            return Ok(Arc::clone(m));
        }
        let dir = models_dir(self.dir.as_deref()).ok_or_else(|| {
            Error::InvalidImage(format!(
                "Image.Bytes: reading a photo needs the face models, and neither --models, ROLLCALL_MODELS nor HOME says where they are; run {INSTALL_COMMAND} (or send a NumPy .npy file of face vectors)"
            ))
        })?;
        for file in [DETECTOR_FILE, SHAPE_FILE, RESNET_FILE] {
            if !dir.join(file).is_file() {
                return Err(Error::InvalidImage(format!(
                    "Image.Bytes: reading a photo needs the face models, and {} is missing; run {INSTALL_COMMAND} to install them (or send a NumPy .npy file of face vectors)",
                    dir.join(file).display()
                )));
            }
        }
        let corrupt = |file: &str, e: &dyn std::fmt::Display| {
            Error::Internal(format!(
                "face model {} does not load: {e}; reinstall it with {INSTALL_COMMAND}",
                dir.join(file).display()
            ))
        };
        let load_net = || FaceNet::load(&dir.join(RESNET_FILE));
        let load_rest = || {
            rayon::join(
                || Detector::load(&dir.join(DETECTOR_FILE)),
                || ShapePredictor::load(&dir.join(SHAPE_FILE)),
            )
        };
        let (net, (detector, shape)) = rayon::join(load_net, load_rest);
        let models = Arc::new(Models {
            detector: detector.map_err(|e| corrupt(DETECTOR_FILE, &e))?,
            shape: shape.map_err(|e| corrupt(SHAPE_FILE, &e))?,
            net: net.map_err(|e| corrupt(RESNET_FILE, &e))?,
        });
        *slot = Some(Arc::clone(&models));
        Ok(models)
    }

    /// The faces of a photo, largest box first, each with its landmarks
    /// and (unless smaller than [`MIN_FACE_PIXELS`]) its descriptor.
    pub(crate) fn analyse(&self, bytes: &[u8]) -> Result<Analysis, Error> {
        let img = decode(bytes).map_err(|e| {
            let message = format!("Image.Bytes: {e}");
            if e.is_too_large() {
                Error::ImageTooLarge(message)
            } else {
                Error::InvalidImage(message)
            }
        })?;
        let models = self.models()?;
        let upsample = auto_upsample(img.width(), img.height());
        analyse_image(&models, &img, upsample)
    }
}

/// The faces of a decoded photo, found after doubling it `upsample` times
/// (see [`Pipeline::analyse`]).
fn analyse_image(models: &Models, img: &RgbImage, upsample: u32) -> Result<Analysis, Error> {
    let mut faces = Vec::new();
    for det in models.detector.detect(img, upsample) {
        let landmarks = models.shape.predict(img, det.rect);
        let small = det.rect.width() < MIN_FACE_PIXELS || det.rect.height() < MIN_FACE_PIXELS;
        let descriptor = if small {
            None
        } else {
            let chip = face_chip(img, &landmarks);
            Some(
                models
                    .net
                    .descriptor(&chip)
                    .map_err(|e| Error::Internal(format!("face descriptor: {e}")))?,
            )
        };
        faces.push(DetectedFace {
            rect: det.rect,
            confidence: det.confidence(),
            landmarks,
            descriptor,
        });
    }
    // Largest first; the detector's order (surest first) among equals.
    faces.sort_by_key(|f| std::cmp::Reverse(f.rect.width() * f.rect.height()));
    Ok(Analysis {
        width: img.width(),
        height: img.height(),
        faces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::photo::golden;
    use crate::faces::photo::models::{for_test, test_photo};
    use crate::faces::photo::Rect;

    fn iou(a: &Rect, b: &Rect) -> f64 {
        let w = (a.right.min(b.right) - a.left.max(b.left) + 1).max(0);
        let h = (a.bottom.min(b.bottom) - a.top.max(b.top) + 1).max(0);
        let inter = (w * h) as f64;
        inter / ((a.width() * a.height() + b.width() * b.height()) as f64 - inter)
    }

    fn distance(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt()
    }

    /// Through the whole pipeline on each golden photo, scanned as dlib
    /// was (upsampled once): dlib's boxes exactly, and descriptors within
    /// Euclidean 0.05 of dlib's own (in fact ~1e-6: the pixels, landmarks
    /// and chips are dlib's to the byte). Then as photos are scanned in
    /// service (large ones at their own scale, for speed): the same faces,
    /// boxes overlapping dlib's, descriptors within 0.15 (measured 0.09 at
    /// most; the same-person distances are 0.04-0.43, others 0.81-0.87).
    #[test]
    fn whole_pipeline_matches_python_dlib() {
        let Some(dir) = for_test(RESNET_FILE).and_then(|_| for_test(DETECTOR_FILE)) else {
            return;
        };
        let pipeline = Pipeline::new(Some(dir));
        let models = pipeline.models().unwrap();
        for photo in golden::photos() {
            let Some(path) = test_photo(&photo.name) else {
                return;
            };
            let img = decode(&std::fs::read(path).unwrap()).unwrap();
            let exact = analyse_image(&models, &img, 1).unwrap();
            let served =
                analyse_image(&models, &img, auto_upsample(img.width(), img.height())).unwrap();
            assert_eq!((exact.width, exact.height), photo.size, "{}", photo.name);
            assert_eq!(exact.faces.len(), photo.faces.len(), "{}", photo.name);
            assert_eq!(served.faces.len(), photo.faces.len(), "{}", photo.name);
            for want in &photo.faces {
                let got = exact.faces.iter().find(|f| f.rect == want.rect);
                let got =
                    got.unwrap_or_else(|| panic!("{}: no face at {:?}", photo.name, want.rect));
                assert_eq!(got.landmarks, want.landmarks, "{}", photo.name);
                let d = distance(&got.descriptor.expect("described"), &want.descriptor);
                assert!(d < 0.05, "{}: descriptor {d} from dlib's", photo.name);
                let near = served
                    .faces
                    .iter()
                    .max_by(|a, b| iou(&a.rect, &want.rect).total_cmp(&iou(&b.rect, &want.rect)))
                    .filter(|f| iou(&f.rect, &want.rect) > 0.6)
                    .unwrap_or_else(|| panic!("{}: no face near {:?}", photo.name, want.rect));
                let d2 = distance(&near.descriptor.expect("described"), &want.descriptor);
                eprintln!(
                    "{}: descriptor {d:.6} (upsampled), {d2:.4} (as served) from dlib's",
                    photo.name
                );
                assert!(
                    d2 < 0.15,
                    "{}: descriptor {d2} from dlib's as served",
                    photo.name
                );
            }
        }
    }
}
