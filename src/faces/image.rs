//! Images: where AWS takes a photo, this engine takes a NumPy `.npy` file
//! of face vectors, base64 in `Image.Bytes`; its first rows are the faces
//! "detected" in it. (The photo pipeline, finding faces in real photos,
//! will live beside this in `faces/photo/`.)

use base64::Engine as _;

use super::error::Error;
use super::npy::{decode_npy, NpyMatrix, ACCEPTED};
use super::wire::Image;

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

fn image_error(msg: String) -> Error {
    Error::InvalidImage(msg)
}

/// The face vectors of an `Image`: its `Bytes`, base64 of a `.npy` file;
/// only its first [`MAX_FACES_PER_IMAGE`] rows (the data must still be
/// exactly what the header's shape needs).
pub(crate) fn decode_image(image: &Image) -> Result<NpyMatrix, Error> {
    if image.s3_object.is_some() {
        return Err(image_error(format!(
            "Image.S3Object: S3 is not reachable offline; send Image.Bytes holding {ACCEPTED}, base64-encoded"
        )));
    }
    let b64 = image.bytes.as_deref().ok_or_else(|| {
        image_error(format!(
            "Image: no Bytes; expected {ACCEPTED}, base64-encoded"
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
            image_error(format!(
                "Image.Bytes: not base64 ({e}); expected {ACCEPTED}"
            ))
        })?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(Error::ImageTooLarge(format!(
            "Image.Bytes: {} bytes; at most {MAX_IMAGE_BYTES}",
            bytes.len()
        )));
    }
    decode_npy(&bytes, MAX_FACES_PER_IMAGE).map_err(|e| image_error(format!("Image.Bytes: {e}")))
}

/// The single probe of a search image: its first row; `UnsearchedFaces` for the rest.
pub(crate) fn first_row(m: &NpyMatrix) -> Result<&[f32], Error> {
    m.data
        .get(..m.dim)
        .filter(|_| m.rows > 0)
        .ok_or_else(|| Error::invalid("Image: there are no faces (rows) in the image"))
}
