//! Photo bytes (JPEG or PNG) to an 8-bit RGB image, as dlib's `load_image`
//! into a `matrix<rgb_pixel>` gives it, with the EXIF orientation applied.
//!
//! Every limit is set before a pixel is decoded: the declared width and
//! height are checked from the header, and the decoder's allocations are
//! capped, so a small file that declares a huge image (a "PNG bomb") is
//! refused without allocating for it.
//!
//! Channels become RGB the way dlib assigns them to an `rgb_pixel`: grey is
//! copied to the three channels, grey+alpha drops the alpha, and RGBA is
//! composited over black (`c` where alpha is 255, else `(c * alpha) >> 8`,
//! dlib's fixed-point blend onto the zeroed image). 16-bit samples are
//! scaled to 8 bits (`round(v / 257)`); dlib itself keeps the low byte of a
//! 16-bit RGB sample (and saturates 16-bit grey at 255), which turns any
//! real 16-bit photo into noise, so that is not copied.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use crate::faces::photo::jpeg::{self, JpegError};

/// The most pixels a photo may have: 40 megapixels. AWS takes at most 5 MB
/// of image bytes; a JPEG of ordinary quality holds about 1 to 2 bits a
/// pixel, so 5 MB is 20 to 40 megapixels at the very most (a modern
/// camera's full-size frame is 24 to 45). Decoded as 8-bit RGB that is
/// 120 MB, and the face detector looks at nothing finer.
pub(crate) const MAX_PIXELS: u64 = 40_000_000;

/// The longest side a photo may have, in pixels (a 40-megapixel image is
/// about 7700 x 5200; this leaves room for panoramas).
pub(crate) const MAX_SIDE: u32 = 20_000;

/// The most the decoder may allocate at once: a 40-megapixel image as
/// 16-bit RGBA (8 bytes a pixel), which is the largest form the decoders
/// produce before the conversion to 8-bit RGB, plus slack for their
/// working buffers.
const MAX_ALLOC: u64 = MAX_PIXELS * 8 + (64 << 20);

/// Why photo bytes are not an image the pipeline takes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum DecodeError {
    /// The header declares more pixels than [`MAX_PIXELS`] or a side over
    /// [`MAX_SIDE`]: a PNG whose `IHDR` says 100000 x 100000. Refused
    /// before any pixel is allocated (AWS: `ImageTooLargeException`).
    #[error(
        "image too large: {width}x{height} pixels (the limit is {MAX_PIXELS} pixels, {MAX_SIDE} a side)"
    )]
    TooLarge {
        /// The declared width.
        width: u64,
        /// The declared height.
        height: u64,
    },
    /// The bytes are neither JPEG nor PNG: `b"GIF89a..."`, random bytes,
    /// an empty input (AWS: `InvalidImageFormatException`).
    #[error("not a valid image: the bytes are neither a JPEG nor a PNG")]
    UnknownFormat,
    /// The header declares no pixels: a PNG whose `IHDR` width is 0.
    #[error("not a valid image: it has no pixels ({width}x{height})")]
    Empty {
        /// The declared width.
        width: u32,
        /// The declared height.
        height: u32,
    },
    /// A JPEG or PNG that does not decode: truncated, corrupt, or using a
    /// feature the decoder lacks (the first 100 bytes of a JPEG).
    #[error("not a valid image: {0}")]
    Invalid(String),
}

impl DecodeError {
    /// Whether this is the "too large" refusal (`ImageTooLargeException`);
    /// every other kind is an invalid image (`InvalidImageFormatException`).
    pub(crate) fn is_too_large(&self) -> bool {
        matches!(self, DecodeError::TooLarge { .. })
    }
}

/// Decodes a JPEG or PNG into 8-bit RGB, the EXIF orientation applied (so
/// the width and height are those of the photo as it is meant to be seen).
pub(crate) fn decode(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Invalid(e.to_string()))?;
    let format = reader.format().ok_or(DecodeError::UnknownFormat)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    // Reads the header only; the limits above are checked against it here.
    let mut decoder = reader.into_decoder().map_err(|e| header_error(e, bytes))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(DecodeError::Empty { width, height });
    }
    let too_large = DecodeError::TooLarge {
        width: width.into(),
        height: height.into(),
    };
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(too_large);
    }
    // A missing or unreadable EXIF orientation is the identity, as for any
    // viewer: it must not make a photo undecodable.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // A baseline JPEG gets libjpeg's pixels exactly (those dlib's golden
    // figures come from; the image crate's differ by a level here and
    // there). What that decoder does not support (progressive, CMYK, ...)
    // goes to the image crate, as any PNG does.
    let baseline = match format {
        ImageFormat::Jpeg => match jpeg::decode(bytes, MAX_PIXELS, MAX_SIDE) {
            Ok(rgb) => Some(rgb),
            Err(JpegError::TooLarge { .. }) => return Err(too_large),
            // A truncated or corrupt baseline JPEG is refused, as AWS does,
            // rather than handed to a decoder that would fill in the rest.
            Err(e @ JpegError::Invalid(_)) => return Err(DecodeError::Invalid(e.to_string())),
            Err(JpegError::Unsupported(_)) => None,
        },
        _ => None,
    };
    let mut image = match baseline {
        Some(rgb) => DynamicImage::ImageRgb8(rgb),
        None => DynamicImage::from_decoder(decoder).map_err(|e| match e {
            ImageError::Limits(_) => too_large,
            other => DecodeError::Invalid(other.to_string()),
        })?,
    };
    image.apply_orientation(orientation);
    Ok(to_rgb(image))
}

/// The error of reading a header. A limit fails only on a side over
/// [`MAX_SIDE`]; the declared dimensions are then read again, from the
/// header alone, without limits (reading a header allocates no pixels).
fn header_error(e: ImageError, bytes: &[u8]) -> DecodeError {
    match e {
        ImageError::Limits(_) => {
            let (width, height) = ImageReader::new(Cursor::new(bytes))
                .with_guessed_format()
                .ok()
                .and_then(|r| r.into_dimensions().ok())
                .unwrap_or((0, 0));
            DecodeError::TooLarge {
                width: width.into(),
                height: height.into(),
            }
        }
        ImageError::Unsupported(_) => DecodeError::UnknownFormat,
        other => DecodeError::Invalid(other.to_string()),
    }
}

/// 8-bit RGB as dlib assigns each pixel type to an `rgb_pixel` (see the
/// module doc).
fn to_rgb(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageRgba8(rgba) => {
            let (w, h) = rgba.dimensions();
            let mut out = Vec::with_capacity(rgba.as_raw().len() / 4 * 3);
            for px in rgba.as_raw().chunks_exact(4) {
                let (rgb, alpha) = px.split_at(3);
                let a = alpha.first().copied().map_or(255, u32::from);
                out.extend(rgb.iter().map(|&c| over_black(c, a)));
            }
            // The buffer holds exactly w * h * 3 bytes.
            RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
        }
        DynamicImage::ImageRgba16(rgba) => {
            // The alpha at 8 bits, as dlib would see an 8-bit RGBA PNG.
            let (w, h) = rgba.dimensions();
            let mut out = Vec::with_capacity(rgba.as_raw().len() / 4 * 3);
            for px in rgba.as_raw().chunks_exact(4) {
                let (rgb, alpha) = px.split_at(3);
                let a = alpha.first().copied().map_or(255, |a| u32::from(to_u8(a)));
                out.extend(rgb.iter().map(|&c| over_black(to_u8(c), a)));
            }
            RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
        }
        // Grey (with or without alpha: dlib drops a grey image's alpha) and
        // 16-bit RGB: the image crate's conversion copies grey to the three
        // channels and scales 16-bit samples by 1/257, rounded.
        other => other.to_rgb8(),
    }
}

/// A channel of an RGBA pixel composited over black as dlib does.
fn over_black(c: u8, alpha: u32) -> u8 {
    if alpha == 255 {
        c
    } else {
        // (255 * 255) >> 8 = 254: always fits.
        u8::try_from((u32::from(c) * alpha) >> 8).unwrap_or(u8::MAX)
    }
}

/// A 16-bit sample at 8 bits, rounded (as the image crate scales them).
fn to_u8(v: u16) -> u8 {
    u8::try_from((u32::from(v) + 128) / 257).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::photo::{golden, models};
    use rand::{Rng, SeedableRng};

    /// A PNG chunk: length, type, data, CRC.
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
        out
    }

    /// A PNG whose header declares `width x height` 8-bit RGB pixels,
    /// followed by a few bytes of compressed data and the end: tiny on
    /// disk, whatever it declares.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        // A zlib stream of a few zero bytes.
        png.extend(chunk(
            b"IDAT",
            &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
        ));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    /// `img` encoded by the image crate as `format`.
    fn encode(img: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encodes");
        out.into_inner()
    }

    /// A 32x16 RGB test pattern as a JPEG.
    fn small_jpeg() -> Vec<u8> {
        let img = RgbImage::from_fn(32, 16, |x, y| {
            image::Rgb([(x * 8) as u8, (y * 16) as u8, 128])
        });
        encode(&DynamicImage::ImageRgb8(img), image::ImageFormat::Jpeg)
    }

    #[test]
    fn golden_photos_decode_to_their_size() {
        let mut seen = 0;
        for photo in golden::photos() {
            let Some(path) = models::test_photo(&photo.name) else {
                return;
            };
            let img = decode(&std::fs::read(&path).expect("photo")).expect("decodes");
            assert_eq!(img.dimensions(), photo.size, "{}", photo.name);
            assert_eq!(
                img.as_raw().len(),
                photo.size.0 as usize * photo.size.1 as usize * 3
            );
            seen += 1;
        }
        assert_eq!(seen, 7, "every golden photo");
    }

    #[test]
    fn a_png_bomb_is_refused_from_its_header() {
        // 100000 x 100000 RGB would be 30 GB: the side limit refuses it
        // before the decoder allocates anything.
        let started = std::time::Instant::now();
        let err = decode(&png_header_only(100_000, 100_000)).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooLarge {
                    width: 100_000,
                    height: 100_000
                }
            ),
            "{err:?}"
        );
        assert!(err.is_too_large());
        // Each side within MAX_SIDE, the pixels over MAX_PIXELS (15 GB as
        // RGB... 1.08 GB): refused by the pixel count, from the header.
        let err = decode(&png_header_only(19_000, 19_000)).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooLarge {
                    width: 19_000,
                    height: 19_000
                }
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Just under the limits, the same few bytes are merely corrupt:
        // the decoder runs out of data, it does not allocate 30 GB.
        let err = decode(&png_header_only(6000, 6000)).unwrap_err();
        assert!(matches!(err, DecodeError::Invalid(_)), "{err:?}");
    }

    #[test]
    fn zero_sized_and_unknown_formats_are_invalid() {
        for (width, height) in [(0, 10), (10, 0), (0, 0)] {
            let err = decode(&png_header_only(width, height)).unwrap_err();
            assert!(!err.is_too_large(), "{width}x{height}: {err:?}");
            assert!(err.to_string().starts_with("not a valid image"), "{err}");
        }
        for bytes in [
            &b""[..],
            b"GIF89a\x01\x00\x01\x00",
            b"not an image at all",
            b"\xff\xd8",
        ] {
            let err = decode(bytes).unwrap_err();
            assert!(!err.is_too_large(), "{bytes:?}: {err:?}");
        }
        assert!(matches!(
            decode(b"GIF89a\x01\x00\x01\x00"),
            Err(DecodeError::UnknownFormat)
        ));
    }

    #[test]
    fn truncated_jpegs_never_panic() {
        let mut files = vec![small_jpeg()];
        if let Some(path) = models::test_photo("obama.jpg") {
            files.push(std::fs::read(path).expect("photo"));
        }
        for bytes in files {
            let whole = decode(&bytes).expect("the whole file decodes");
            // Every byte of the small file; 80 cuts of the photo (each a
            // whole decode of a megapixel).
            let step = if bytes.len() < 4096 {
                1
            } else {
                bytes.len() / 80
            };
            for len in (0..bytes.len()).step_by(step) {
                // The decoder may fill a cut scan with grey; what it must
                // not do is panic, or give another size.
                match decode(&bytes[..len]) {
                    Ok(img) => assert_eq!(img.dimensions(), whole.dimensions(), "cut at {len}"),
                    Err(e) => assert!(!e.is_too_large(), "cut at {len}: {e}"),
                }
            }
        }
    }

    #[test]
    fn random_and_corrupted_bytes_never_panic() {
        let seed = 14;
        println!("seed = {seed}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let jpeg = small_jpeg();
        let png = encode(
            &DynamicImage::ImageRgb8(RgbImage::from_pixel(9, 7, image::Rgb([1, 2, 3]))),
            image::ImageFormat::Png,
        );
        for _ in 0..300 {
            let len = rng.random_range(0..2000);
            let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let _ = decode(&noise);
            for valid in [&jpeg, &png] {
                let mut bytes = valid.clone();
                for _ in 0..rng.random_range(1..8) {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] = rng.random();
                }
                if let Ok(img) = decode(&bytes) {
                    assert_eq!(
                        img.as_raw().len() as u64,
                        u64::from(img.width()) * u64::from(img.height()) * 3
                    );
                }
            }
        }
    }

    #[test]
    fn channels_become_rgb_as_dlib_assigns_them() {
        let png =
            |img: DynamicImage| decode(&encode(&img, image::ImageFormat::Png)).expect("decodes");
        // Grey copied to the three channels.
        let grey = png(DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(2, 1, vec![7, 200]).unwrap(),
        ));
        assert_eq!(grey.as_raw(), &[7, 7, 7, 200, 200, 200]);
        // Grey + alpha: the alpha dropped.
        let grey_alpha = png(DynamicImage::ImageLumaA8(
            image::GrayAlphaImage::from_raw(1, 1, vec![90, 3]).unwrap(),
        ));
        assert_eq!(grey_alpha.as_raw(), &[90, 90, 90]);
        // RGBA over black: opaque kept, else (c * alpha) >> 8.
        let rgba = png(DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(2, 1, vec![10, 20, 30, 255, 200, 100, 255, 128]).unwrap(),
        ));
        assert_eq!(rgba.as_raw(), &[10, 20, 30, 100, 50, 127]);
        // 16-bit scaled to 8 bits, rounded.
        let rgb16 = png(DynamicImage::ImageRgb16(
            image::ImageBuffer::from_raw(1, 1, vec![65535u16, 257 * 3 + 129, 257 * 3 + 128])
                .unwrap(),
        ));
        assert_eq!(rgb16.as_raw(), &[255, 4, 3]);
        let rgba16 = png(DynamicImage::ImageRgba16(
            image::ImageBuffer::from_raw(
                2,
                1,
                vec![
                    257u16 * 10,
                    0,
                    65535,
                    65535,
                    257 * 200,
                    257 * 100,
                    0,
                    257 * 128,
                ],
            )
            .unwrap(),
        ));
        assert_eq!(rgba16.as_raw(), &[10, 0, 255, 100, 50, 0]);
        let grey16 = png(DynamicImage::ImageLuma16(
            image::ImageBuffer::from_raw(1, 1, vec![257u16 * 9]).unwrap(),
        ));
        assert_eq!(grey16.as_raw(), &[9, 9, 9]);
    }

    /// `jpeg` with an EXIF APP1 segment (little-endian TIFF, one IFD0
    /// entry: Orientation = `orientation`) after its SOI marker.
    fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
        tiff.extend_from_slice(&0x0112u16.to_le_bytes());
        tiff.extend_from_slice(&3u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_is_applied() {
        let jpeg = small_jpeg();
        let plain = decode(&jpeg).expect("decodes");
        assert_eq!(plain.dimensions(), (32, 16));
        // 6: the camera was turned 90 degrees clockwise; shown upright the
        // photo is 16 wide, and its top-left pixel was the bottom-left.
        let turned = decode(&with_orientation(&jpeg, 6)).expect("decodes");
        assert_eq!(turned.dimensions(), (16, 32));
        assert_eq!(turned.get_pixel(0, 0), plain.get_pixel(0, 15));
        assert_eq!(turned.get_pixel(15, 31), plain.get_pixel(31, 0));
        // 1 is the identity; 3 turns it half way.
        assert_eq!(decode(&with_orientation(&jpeg, 1)).expect("decodes"), plain);
        let half = decode(&with_orientation(&jpeg, 3)).expect("decodes");
        assert_eq!(half.get_pixel(0, 0), plain.get_pixel(31, 15));
    }

    #[test]
    fn error_messages() {
        let cases = [
            (
                DecodeError::TooLarge { width: 100_000, height: 100_000 },
                "image too large: 100000x100000 pixels (the limit is 40000000 pixels, 20000 a side)",
            ),
            (DecodeError::UnknownFormat, "not a valid image: the bytes are neither a JPEG nor a PNG"),
            (DecodeError::Empty { width: 0, height: 3 }, "not a valid image: it has no pixels (0x3)"),
            (DecodeError::Invalid("unexpected end of file".into()), "not a valid image: unexpected end of file"),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }
}
