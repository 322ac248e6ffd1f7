//! Images: `Image.Bytes` to the faces in it. A photo (JPEG or PNG) goes
//! through the photo pipeline (`faces/photo/`): its faces, largest first,
//! each with its box, landmarks and descriptor. A NumPy `.npy` file of face
//! vectors (told apart by its magic bytes) is a list of faces already
//! described: its first rows are the faces "detected" in it, in file order.

use base64::Engine as _;

use super::collection::{Collection, FoundAt};
use super::error::Error;
use super::model::{FaceModel, DLIB_DIM};
use super::npy::{decode_npy, ACCEPTED};
use super::photo::{Analysis, Pipeline};
use super::wire::{BoundingBox, FaceDetail, Image, Landmark};

/// Largest decoded `Image.Bytes`, as in the service model.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;

/// Most faces detected in one image: its first rows. AWS: "IndexFaces
/// returns no more than 100 detected faces in an image, even if you specify
/// a larger value for MaxFaces". The rows after these are not faces at all:
/// never decoded, indexed or searched, and not listed in `UnindexedFaces`
/// or `UnsearchedFaces` (the same rule for `IndexFaces`,
/// `SearchFacesByImage` and `SearchUsersByImage`). `rollcall faces import`
/// (a bulk file, not an image) has no such bound.
pub const MAX_FACES_PER_IMAGE: usize = 100;

/// What `Image.Bytes` may hold, for error messages.
const IMAGE_KINDS: &str = "a JPEG or PNG photo, or";

/// The first bytes of every `.npy` file.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";
/// The first bytes of every JPEG file (a start-of-image marker, then the
/// next marker's first byte).
const JPEG_MAGIC: &[u8] = b"\xff\xd8\xff";
/// The signature of every PNG file.
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A face found in an image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FoundFace {
    /// Where it is and the detector's confidence; `None` for a `.npy` row.
    pub(crate) at: Option<FoundAt>,
    /// Its landmarks, as AWS names them (empty for a `.npy` row).
    pub(crate) landmarks: Vec<Landmark>,
}

impl FoundFace {
    /// A `.npy` row: a face for sure, nowhere in particular.
    pub(crate) fn vector() -> FoundFace {
        FoundFace {
            at: None,
            landmarks: Vec::new(),
        }
    }

    /// Its `FaceDetail`: for a `.npy` row only a confidence of 100.
    pub(crate) fn detail(&self) -> FaceDetail {
        FaceDetail {
            bounding_box: self.bounding_box(),
            landmarks: self.at.map(|_| self.landmarks.clone()),
            confidence: self.confidence(),
        }
    }

    /// Its box in AWS's shape; `None` for a `.npy` row.
    pub(crate) fn bounding_box(&self) -> Option<BoundingBox> {
        self.at.map(|a| a.bounding_box())
    }

    /// The detector's confidence as reported; 100 for a `.npy` row.
    pub(crate) fn confidence(&self) -> f64 {
        self.at.map_or(100.0, |a| super::wire::score(a.confidence))
    }
}

/// The faces of an image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageFaces {
    /// The model of the vectors: [`FaceModel::DlibResnetV1`] for a photo.
    pub(crate) model: FaceModel,
    /// Values per vector.
    pub(crate) dim: usize,
    /// One vector per face of `faces`, row-major.
    pub(crate) vectors: Vec<f32>,
    /// The described faces (largest first in a photo, file order in a
    /// `.npy`), at most [`MAX_FACES_PER_IMAGE`].
    pub(crate) faces: Vec<FoundFace>,
    /// Faces found but too small for a descriptor (photos only).
    pub(crate) too_small: Vec<FoundFace>,
}

impl ImageFaces {
    /// The vector of face `i`.
    pub(crate) fn vector(&self, i: usize) -> &[f32] {
        self.vectors
            .get(i * self.dim..(i + 1) * self.dim)
            .unwrap_or_default()
    }

    /// The `FaceModelVersion` a response about these faces in `coll`
    /// reports: the collection's once it has a dimension, else the image's.
    pub(crate) fn model_version_in(&self, coll: &Collection) -> String {
        match coll.dim() {
            0 => self.model.version(self.dim),
            _ => coll.model_version(),
        }
    }

    /// The probe of a search: the largest face (the first row of a `.npy`);
    /// an image without one is an `InvalidParameterException`, as AWS
    /// answers a photo with no face in it.
    pub(crate) fn probe(&self) -> Result<(&[f32], &FoundFace), Error> {
        match self.faces.first() {
            Some(face) => Ok((self.vector(0), face)),
            None => Err(Error::invalid(
                "There are no faces in the image. Should be at least 1.",
            )),
        }
    }
}

/// The raw bytes of an `Image`: its `Bytes`, base64-decoded and at most
/// [`MAX_IMAGE_BYTES`].
fn image_bytes(image: &Image) -> Result<Vec<u8>, Error> {
    if image.s3_object.is_some() {
        return Err(Error::InvalidImage(format!(
            "Image.S3Object: S3 is not reachable offline; send Image.Bytes holding {IMAGE_KINDS} {ACCEPTED}, base64-encoded"
        )));
    }
    let b64 = image.bytes.as_deref().ok_or_else(|| {
        Error::InvalidImage(format!(
            "Image: no Bytes; expected {IMAGE_KINDS} {ACCEPTED}, base64-encoded"
        ))
    })?;
    // Refused before decoding: standard base64 has no padding-free slack,
    // so more characters than this always decode to more than the limit.
    if b64.len() > MAX_IMAGE_BYTES.div_ceil(3) * 4 {
        return Err(Error::ImageTooLarge(format!(
            "Image.Bytes: {} base64 characters decode to more than {MAX_IMAGE_BYTES} bytes",
            b64.len()
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| {
            Error::InvalidImage(format!(
                "Image.Bytes: not base64 ({e}); expected {IMAGE_KINDS} {ACCEPTED}"
            ))
        })?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(Error::ImageTooLarge(format!(
            "Image.Bytes: {} bytes; at most {MAX_IMAGE_BYTES}",
            bytes.len()
        )));
    }
    if bytes.is_empty() {
        return Err(Error::InvalidImage(format!(
            "Image.Bytes: empty; expected {IMAGE_KINDS} {ACCEPTED}"
        )));
    }
    Ok(bytes)
}

/// The faces of an `Image`: a `.npy` file's first [`MAX_FACES_PER_IMAGE`]
/// rows (the data must still be exactly what the header's shape needs), or
/// a photo's faces through `photos`.
pub(crate) fn decode_image(image: &Image, photos: &Pipeline) -> Result<ImageFaces, Error> {
    let bytes = image_bytes(image)?;
    if bytes.starts_with(JPEG_MAGIC) || bytes.starts_with(PNG_MAGIC) {
        let analysis = photos.analyse(&bytes)?;
        return Ok(photo_faces(&analysis));
    }
    if !bytes.starts_with(NPY_MAGIC) {
        return Err(Error::InvalidImage(format!(
            "Image.Bytes: neither a JPEG or PNG photo nor a .npy file (by their first bytes); expected {IMAGE_KINDS} {ACCEPTED}"
        )));
    }
    let m = decode_npy(&bytes, MAX_FACES_PER_IMAGE)
        .map_err(|e| Error::InvalidImage(format!("Image.Bytes: {e}")))?;
    Ok(ImageFaces {
        model: FaceModel::Vectors,
        dim: m.dim,
        faces: vec![FoundFace::vector(); m.rows],
        vectors: m.data,
        too_small: Vec::new(),
    })
}

/// The faces of an analysed photo, in AWS's terms.
fn photo_faces(a: &Analysis) -> ImageFaces {
    let (w, h) = (a.width.max(1) as f32, a.height.max(1) as f32);
    let mut out = ImageFaces {
        model: FaceModel::DlibResnetV1,
        dim: DLIB_DIM,
        vectors: Vec::new(),
        faces: Vec::new(),
        too_small: Vec::new(),
    };
    for f in a.faces.iter().take(MAX_FACES_PER_IMAGE) {
        // The box clipped to the image, as ratios (AWS's boxes may reach
        // past the edges; dlib's may too, so clip as AWS's documentation
        // of BoundingBox allows either).
        let left = (f.rect.left as f32 / w).clamp(0.0, 1.0);
        let top = (f.rect.top as f32 / h).clamp(0.0, 1.0);
        let right = ((f.rect.right + 1) as f32 / w).clamp(0.0, 1.0);
        let bottom = ((f.rect.bottom + 1) as f32 / h).clamp(0.0, 1.0);
        let at = FoundAt {
            left,
            top,
            width: right - left,
            height: bottom - top,
            confidence: f.confidence.clamp(0.0, 100.0),
        };
        let point = |kind: &str, x: f64, y: f64| Landmark {
            kind: kind.to_string(),
            x: super::wire::score((x as f32 / w).clamp(0.0, 1.0)),
            y: super::wire::score((y as f32 / h).clamp(0.0, 1.0)),
        };
        let [p0, p1, p2, p3, p4] = f.landmarks;
        let mid =
            |a: super::photo::Point, b: super::photo::Point| ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
        let (elx, ely) = mid(p2, p3);
        let (erx, ery) = mid(p0, p1);
        let found = FoundFace {
            at: Some(at),
            landmarks: vec![
                point("eyeLeft", elx, ely),
                point("eyeRight", erx, ery),
                point("nose", p4.x, p4.y),
                point("leftEyeLeft", p2.x, p2.y),
                point("leftEyeRight", p3.x, p3.y),
                point("rightEyeLeft", p1.x, p1.y),
                point("rightEyeRight", p0.x, p0.y),
            ],
        };
        match &f.descriptor {
            Some(d) => {
                out.vectors.extend_from_slice(d);
                out.faces.push(found);
            }
            None => out.too_small.push(found),
        }
    }
    out
}
