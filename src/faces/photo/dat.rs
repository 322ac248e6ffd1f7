//! dlib's serialization format (`dlib/serialize.h`), read from a byte
//! slice: packed integers, floats as `float_details`, booleans, strings,
//! `std::vector`, `dlib::matrix` and `resizable_tensor`.
//!
//! Takes in the bytes of a `.dat` model file; gives out the values in the
//! order dlib wrote them, or a [`ModelError`] saying where and why the
//! bytes are not what dlib writes. Every read checks the bytes present: a
//! count read from the file is checked against the bytes that remain
//! before it sizes an allocation, so a corrupt file is an error, never a
//! panic or a huge allocation.
//!
//! The format, as dlib writes it:
//! - an integer is a control byte (its low 4 bits the number of bytes that
//!   follow, bit `0x80` the sign for a signed type) then that many bytes of
//!   the magnitude, least significant first; zero bytes is invalid;
//! - a float is `float_details`: a signed 64-bit mantissa then a signed
//!   16-bit exponent, both packed integers, the value `mantissa * 2^exponent`
//!   (exponents 32000, 32001 and 32002 mean +inf, -inf and NaN);
//! - a `bool` is the ASCII byte `'1'` or `'0'`;
//! - a string or a `std::vector` is its length (unsigned) then its elements;
//! - a `dlib::matrix` is `-rows`, `-columns` (signed; positive in the old
//!   format) then its elements row by row;
//! - a `resizable_tensor` is the version 2, then `num_samples`, `k`, `nr`
//!   and `nc`, then its floats as raw little-endian IEEE 754 binary32.

use std::ops::RangeInclusive;
use std::path::PathBuf;

/// A model file that cannot be read or is not what dlib writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file cannot be read (missing, unreadable): `FaceNet::load` of a
    /// path that does not exist.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes end before the value being read: a file cut short, or a
    /// length or count larger than the bytes that remain.
    #[error(
        "model file truncated at byte {offset}: {what} needs {needed} bytes, {available} remain"
    )]
    Truncated {
        /// Where the value starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// The bytes it needs.
        needed: u128,
        /// The bytes that remain from `offset`.
        available: usize,
    },
    /// A packed integer whose control byte is invalid (zero bytes, more
    /// bytes than its type holds, a sign on an unsigned type) or whose
    /// value does not fit its type: control byte `0x00`.
    #[error("bad integer at byte {offset} ({what})")]
    BadInteger {
        /// Where the integer starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A float not in the binary `float_details` form (dlib's old ASCII
    /// form is not supported): a control byte with a bit of `0x70` set.
    #[error("bad float at byte {offset} ({what})")]
    BadFloat {
        /// Where the float starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A boolean byte other than `'0'` and `'1'`.
    #[error("bad boolean at byte {offset} ({what}): byte {found:#04x}")]
    BadBool {
        /// Where the byte is.
        offset: usize,
        /// What was being read.
        what: &'static str,
        /// The byte found.
        found: u8,
    },
    /// A version number dlib never wrote for this object: an `add_layer`
    /// of version 7.
    #[error("unsupported version {found} of {what} at byte {offset}")]
    BadVersion {
        /// Where the version starts.
        offset: usize,
        /// The object.
        what: &'static str,
        /// The version found.
        found: i64,
    },
    /// A name or version string other than the one expected here: a layer
    /// named `relu_` where the network has a `con_5`, or a loss layer
    /// other than `loss_metric_2`.
    #[error("bad name at byte {offset}: expected {expected:?}, found {found:?}")]
    BadName {
        /// Where the string starts.
        offset: usize,
        /// The name expected.
        expected: &'static str,
        /// The name found (lossily decoded).
        found: String,
    },
    /// A parameter's shape is not what the network needs: a convolution
    /// of 64 filters where the network has 32, or a tensor whose size
    /// disagrees with its layer's.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    Shape {
        /// The object.
        what: String,
        /// The shape expected.
        expected: String,
        /// The shape found.
        found: String,
    },
    /// Bytes left after the model's last value.
    #[error("{remaining} unexpected bytes after the model, at byte {offset}")]
    TrailingBytes {
        /// Where the model ended.
        offset: usize,
        /// The bytes that follow.
        remaining: usize,
    },
}

/// A `dlib::matrix` read from the file: its elements row by row; `rows *
/// cols` fits a usize (as for [`Tensor`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matrix<T> {
    /// Rows.
    pub(crate) rows: usize,
    /// Columns.
    pub(crate) cols: usize,
    /// `rows * cols` elements, row-major.
    pub(crate) data: Vec<T>,
}

/// A `dlib::resizable_tensor` read from the file: `num_samples x k x nr x
/// nc` floats, `nc` fastest. Any product of its dimensions fits a usize
/// (the reader refuses dimensions that the bytes could not hold, even
/// beside an empty one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    /// Samples (dlib's `num_samples`).
    pub(crate) n: usize,
    /// Channels (dlib's `k`).
    pub(crate) k: usize,
    /// Rows.
    pub(crate) nr: usize,
    /// Columns.
    pub(crate) nc: usize,
    /// `n * k * nr * nc` floats.
    pub(crate) data: Vec<f32>,
}

impl Tensor {
    /// `(n, k, nr, nc)`.
    pub(crate) fn shape(&self) -> (usize, usize, usize, usize) {
        (self.n, self.k, self.nr, self.nc)
    }
}

/// The fewest bytes a packed integer takes (its control byte and one byte).
pub(crate) const MIN_INT_BYTES: usize = 2;
/// The fewest bytes a float takes (two packed integers).
pub(crate) const MIN_FLOAT_BYTES: usize = 2 * MIN_INT_BYTES;

/// The largest product of the non-zero dimensions of an empty matrix or
/// tensor (its cells bound the dimensions of one that is not empty).
const EMPTY_DIM_MAX: u64 = u32::MAX as u64;
/// Exponent of `float_details` meaning +infinity.
const IS_INF: i64 = 32000;
/// Exponent of `float_details` meaning -infinity.
const IS_NINF: i64 = 32001;
/// Exponent of `float_details` meaning NaN.
const IS_NAN: i64 = 32002;

/// A cursor over a model file's bytes; every read checks the bytes
/// present and advances past what it read.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// `Ok` if every byte was read, else [`ModelError::TrailingBytes`].
    pub(crate) fn finish(&self) -> Result<(), ModelError> {
        match self.remaining() {
            0 => Ok(()),
            remaining => Err(ModelError::TrailingBytes {
                offset: self.pos,
                remaining,
            }),
        }
    }

    /// The next `n` bytes, or [`ModelError::Truncated`].
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ModelError> {
        match self.bytes.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(taken) => {
                self.pos += n;
                Ok(taken)
            }
            None => Err(self.truncated(n as u128, what)),
        }
    }

    fn truncated(&self, needed: u128, what: &'static str) -> ModelError {
        ModelError::Truncated {
            offset: self.pos,
            what,
            needed,
            available: self.remaining(),
        }
    }

    /// Checks that `count` elements of at least `min_bytes` each can fit in
    /// the bytes that remain, before anything is allocated for them.
    pub(crate) fn check_fits(
        &self,
        count: u64,
        min_bytes: usize,
        what: &'static str,
    ) -> Result<usize, ModelError> {
        let needed = u128::from(count) * min_bytes as u128;
        if needed > self.remaining() as u128 {
            return Err(self.truncated(needed, what));
        }
        usize::try_from(count).map_err(|_| self.truncated(needed, what))
    }

    /// One raw byte (dlib's `char` and `unsigned char`).
    pub(crate) fn byte(&mut self, what: &'static str) -> Result<u8, ModelError> {
        let b = self.take(1, what)?;
        Ok(b[0])
    }

    /// A packed integer of at most `max_bytes` magnitude bytes: its sign
    /// (true for negative; only a signed type may carry one) and magnitude.
    fn packed(
        &mut self,
        max_bytes: u8,
        signed: bool,
        what: &'static str,
    ) -> Result<(bool, u64), ModelError> {
        let start = self.pos;
        let control = self.byte(what)?;
        let negative = control & 0x80 != 0;
        let size = control & 0x0f;
        if size == 0 || size > max_bytes || (negative && !signed) {
            self.pos = start;
            return Err(ModelError::BadInteger {
                offset: start,
                what,
            });
        }
        let magnitude = self
            .take(usize::from(size), what)?
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        Ok((negative, magnitude))
    }

    /// An unsigned integer of a type of `max_bytes` bytes.
    fn unsigned(&mut self, max_bytes: u8, what: &'static str) -> Result<u64, ModelError> {
        self.packed(max_bytes, false, what).map(|(_, m)| m)
    }

    /// A signed integer of a type of `max_bytes` bytes, checked to fit in
    /// `range`.
    fn signed(
        &mut self,
        max_bytes: u8,
        range: RangeInclusive<i64>,
        what: &'static str,
    ) -> Result<i64, ModelError> {
        let start = self.pos;
        let (negative, magnitude) = self.packed(max_bytes, true, what)?;
        let value = i64::try_from(magnitude)
            .ok()
            .map(|m| if negative { -m } else { m })
            .filter(|v| range.contains(v));
        value.ok_or(ModelError::BadInteger {
            offset: start,
            what,
        })
    }

    /// A 64-bit unsigned integer (dlib's `unsigned long`, `uint64`,
    /// `size_t` on a 64-bit platform).
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, ModelError> {
        self.unsigned(8, what)
    }

    /// A 32-bit unsigned integer (`unsigned int`).
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ModelError> {
        self.unsigned(4, what).map(|v| v as u32)
    }

    /// A 64-bit signed integer (`long`, `long long`, `int64`).
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, ModelError> {
        self.signed(8, i64::MIN..=i64::MAX, what)
    }

    /// A 32-bit signed integer (`int`).
    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, ModelError> {
        self.signed(4, i64::from(i32::MIN)..=i64::from(i32::MAX), what)
            .map(|v| v as i32)
    }

    /// A 16-bit signed integer (`short`, `int16`).
    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, ModelError> {
        self.signed(2, i64::from(i16::MIN)..=i64::from(i16::MAX), what)
            .map(|v| v as i16)
    }

    /// An object's version number (an `int`), checked to be one of
    /// `accepted`, else [`ModelError::BadVersion`].
    pub(crate) fn version(
        &mut self,
        accepted: RangeInclusive<i32>,
        what: &'static str,
    ) -> Result<i32, ModelError> {
        let start = self.pos;
        let version = self.i32(what)?;
        if accepted.contains(&version) {
            Ok(version)
        } else {
            Err(ModelError::BadVersion {
                offset: start,
                what,
                found: i64::from(version),
            })
        }
    }

    /// A `bool`: the byte `'1'` or `'0'`.
    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, ModelError> {
        let start = self.pos;
        match self.byte(what)? {
            b'1' => Ok(true),
            b'0' => Ok(false),
            found => Err(ModelError::BadBool {
                offset: start,
                what,
                found,
            }),
        }
    }

    /// The mantissa and exponent of a `float_details`.
    fn float_details(&mut self, what: &'static str) -> Result<(i64, i64), ModelError> {
        let start = self.pos;
        let control = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.truncated(MIN_FLOAT_BYTES as u128, what))?;
        if control & 0x70 != 0 {
            return Err(ModelError::BadFloat {
                offset: start,
                what,
            });
        }
        let mantissa = self.i64(what)?;
        let exponent = self.i16(what)?;
        Ok((mantissa, i64::from(exponent)))
    }

    /// A `double`.
    pub(crate) fn f64(&mut self, what: &'static str) -> Result<f64, ModelError> {
        let (mantissa, exponent) = self.float_details(what)?;
        Ok(from_details(mantissa as f64, exponent))
    }

    /// A `float`: the mantissa rounded to `f32` then scaled, as dlib's
    /// `ldexp((float)mantissa, exponent)`.
    pub(crate) fn f32(&mut self, what: &'static str) -> Result<f32, ModelError> {
        let (mantissa, exponent) = self.float_details(what)?;
        Ok(from_details(f64::from(mantissa as f32), exponent) as f32)
    }

    /// A length or count (an `unsigned long`) of elements of at least
    /// `min_bytes` each, checked to fit in the bytes that remain (else
    /// [`ModelError::Truncated`] at the offset where the elements start).
    pub(crate) fn count(
        &mut self,
        min_bytes: usize,
        what: &'static str,
    ) -> Result<usize, ModelError> {
        let count = self.u64(what)?;
        self.check_fits(count, min_bytes, what)
    }

    /// A `std::string`'s bytes.
    pub(crate) fn string(&mut self, what: &'static str) -> Result<&'a [u8], ModelError> {
        let len = self.count(1, what)?;
        self.take(len, what)
    }

    /// A `std::string` that must equal `expected` (a layer's name or a
    /// version string), else [`ModelError::BadName`].
    pub(crate) fn expect_name(&mut self, expected: &'static str) -> Result<(), ModelError> {
        let start = self.pos;
        let found = self.string(expected)?;
        if found == expected.as_bytes() {
            Ok(())
        } else {
            Err(ModelError::BadName {
                offset: start,
                expected,
                found: String::from_utf8_lossy(found).into_owned(),
            })
        }
    }

    /// A `std::vector<T>`, each element read by `element`, which takes at
    /// least `min_bytes` bytes.
    pub(crate) fn vec<T>(
        &mut self,
        min_bytes: usize,
        what: &'static str,
        mut element: impl FnMut(&mut Self) -> Result<T, ModelError>,
    ) -> Result<Vec<T>, ModelError> {
        let len = self.count(min_bytes.max(1), what)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(element(self)?);
        }
        Ok(out)
    }

    /// A `dlib::matrix`, each element read by `element`, which takes at
    /// least `min_bytes` bytes.
    pub(crate) fn matrix<T>(
        &mut self,
        min_bytes: usize,
        what: &'static str,
        mut element: impl FnMut(&mut Self) -> Result<T, ModelError>,
    ) -> Result<Matrix<T>, ModelError> {
        let start = self.pos;
        let nr = self.i64(what)?;
        let nc = self.i64(what)?;
        // The newer format writes both negated; the old one both positive.
        let (nr, nc) = if nr < 0 || nc < 0 {
            (-nr, -nc)
        } else {
            (nr, nc)
        };
        let (Ok(rows), Ok(cols)) = (u64::try_from(nr), u64::try_from(nc)) else {
            self.pos = start;
            return Err(ModelError::BadInteger {
                offset: start,
                what,
            });
        };
        // An empty dimension must not hide a huge one (so that any product
        // of the dimensions fits a usize).
        if (rows == 0 || cols == 0) && rows.max(cols) > EMPTY_DIM_MAX {
            return Err(ModelError::BadInteger {
                offset: start,
                what,
            });
        }
        let cells = u128::from(rows) * u128::from(cols);
        let cells = u64::try_from(cells).map_err(|_| self.truncated(cells, what))?;
        let len = self.check_fits(cells, min_bytes.max(1), what)?;
        let mut data = Vec::with_capacity(len);
        for _ in 0..len {
            data.push(element(self)?);
        }
        Ok(Matrix {
            rows: rows as usize,
            cols: cols as usize,
            data,
        })
    }

    /// A `dlib::matrix<float>`.
    pub(crate) fn matrix_f32(&mut self, what: &'static str) -> Result<Matrix<f32>, ModelError> {
        self.matrix(MIN_FLOAT_BYTES, what, |r| r.f32(what))
    }

    /// A `dlib::matrix<double>`.
    pub(crate) fn matrix_f64(&mut self, what: &'static str) -> Result<Matrix<f64>, ModelError> {
        self.matrix(MIN_FLOAT_BYTES, what, |r| r.f64(what))
    }

    /// A `resizable_tensor` (version 2; its floats raw little-endian).
    pub(crate) fn tensor(&mut self, what: &'static str) -> Result<Tensor, ModelError> {
        self.version(2..=2, what)?;
        let start = self.pos;
        let mut dims = [0u64; 4];
        for d in &mut dims {
            let v = self.i64(what)?;
            *d = u64::try_from(v).map_err(|_| ModelError::BadInteger {
                offset: start,
                what,
            })?;
        }
        // As for a matrix, an empty dimension must not hide huge ones.
        let nonzero = dims
            .iter()
            .try_fold(1u128, |acc, &d| acc.checked_mul(u128::from(d.max(1))))
            .unwrap_or(u128::MAX);
        let empty = dims.contains(&0);
        let cells = if empty { 0 } else { nonzero };
        if empty && nonzero > u128::from(EMPTY_DIM_MAX) {
            return Err(ModelError::BadInteger {
                offset: start,
                what,
            });
        }
        let bytes = cells.saturating_mul(4);
        if bytes > self.remaining() as u128 {
            return Err(self.truncated(bytes, what));
        }
        let bytes = bytes as usize;
        let raw = self.take(bytes, what)?;
        let (floats, _) = raw.as_chunks::<4>();
        let data = floats.iter().map(|&c| f32::from_le_bytes(c)).collect();
        // Each dimension is at most the byte count, so it fits in usize.
        Ok(Tensor {
            n: dims[0] as usize,
            k: dims[1] as usize,
            nr: dims[2] as usize,
            nc: dims[3] as usize,
            data,
        })
    }
}

/// `mantissa * 2^exponent`, or the infinity or NaN the special exponents
/// stand for (dlib's `float_details::convert_to_T`).
fn from_details(mantissa: f64, exponent: i64) -> f64 {
    match exponent {
        IS_INF => f64::INFINITY,
        IS_NINF => f64::NEG_INFINITY,
        e if e >= IS_NAN => f64::NAN,
        e => ldexp(mantissa, e),
    }
}

/// `x * 2^e` without overflowing the power of two on the way (`e` is an
/// `int16`, far outside `f64`'s exponent range).
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    const STEP: i64 = 1000;
    // 2^1000 and 2^-1000 are exact doubles.
    let up = f64::from_bits(((1023 + STEP) as u64) << 52);
    let down = f64::from_bits(((1023 - STEP) as u64) << 52);
    while e > STEP && x.is_finite() && x != 0.0 {
        x *= up;
        e -= STEP;
    }
    while e < -STEP && x != 0.0 {
        x *= down;
        e += STEP;
    }
    x * f64::from_bits(((1023 + e) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dlib's `pack_int` for a value of a signed type, to build inputs.
    fn pack(value: i64) -> Vec<u8> {
        let negative = value < 0;
        let mut magnitude = value.unsigned_abs();
        let mut bytes = Vec::new();
        loop {
            bytes.push((magnitude & 0xff) as u8);
            magnitude >>= 8;
            if magnitude == 0 {
                break;
            }
        }
        let mut out = vec![bytes.len() as u8 | if negative { 0x80 } else { 0 }];
        out.extend(bytes);
        out
    }

    #[test]
    fn integers_as_dlib_packs_them() {
        // The first bytes of the face ResNet: version 1, then a string of 13.
        let mut r = Reader::new(&[0x01, 0x01, 0x01, 0x0d]);
        assert_eq!(r.i32("version").unwrap(), 1);
        assert_eq!(r.u64("length").unwrap(), 13);
        assert_eq!(r.remaining(), 0);
        r.finish().unwrap();

        for v in [
            0,
            1,
            -1,
            255,
            256,
            -28,
            65535,
            i64::from(i32::MAX),
            i64::MAX,
            -i64::MAX,
        ] {
            let bytes = pack(v);
            assert_eq!(Reader::new(&bytes).i64("v").unwrap(), v, "{v}");
        }
        // -1 as an unsigned is an error, as in dlib.
        assert!(matches!(
            Reader::new(&pack(-1)).u64("v"),
            Err(ModelError::BadInteger { offset: 0, .. })
        ));
        // Five magnitude bytes do not fit an int.
        assert!(matches!(
            Reader::new(&pack(1 << 32)).i32("v"),
            Err(ModelError::BadInteger { .. })
        ));
        // Zero bytes is invalid; a cut magnitude is truncated.
        assert!(matches!(
            Reader::new(&[0x00]).u64("v"),
            Err(ModelError::BadInteger { .. })
        ));
        assert!(matches!(
            Reader::new(&[0x03, 1, 2]).u64("v"),
            Err(ModelError::Truncated {
                offset: 1,
                needed: 3,
                available: 2,
                ..
            })
        ));
        assert!(matches!(
            Reader::new(&[]).i32("v"),
            Err(ModelError::Truncated { .. })
        ));
    }

    #[test]
    fn floats_as_float_details() {
        // 0.04 and 0.6 as the face ResNet's loss layer stores them.
        let bytes = [
            0x03, 0x0a, 0xd7, 0xa3, 0x81, 0x1c, 0x03, 0x9a, 0x99, 0x99, 0x81, 0x18,
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.f32("margin").unwrap(), 0.04);
        assert_eq!(r.f32("threshold").unwrap(), 0.6);

        let mut bytes = pack(-3);
        bytes.extend(pack(-1));
        assert_eq!(Reader::new(&bytes).f64("v").unwrap(), -1.5);
        let mut inf = pack(0);
        inf.extend(pack(IS_INF));
        assert_eq!(Reader::new(&inf).f64("v").unwrap(), f64::INFINITY);
        let mut nan = pack(0);
        nan.extend(pack(IS_NAN));
        assert!(Reader::new(&nan).f32("v").unwrap().is_nan());
        let mut tiny = pack(1);
        tiny.extend(pack(-1074));
        assert_eq!(Reader::new(&tiny).f64("v").unwrap(), f64::from_bits(1));
        let mut huge = pack(1);
        huge.extend(pack(1023));
        assert_eq!(Reader::new(&huge).f64("v").unwrap(), 2f64.powi(1023));
        // dlib's old ASCII floats are refused.
        assert!(matches!(
            Reader::new(b"1.5 ").f64("v"),
            Err(ModelError::BadFloat { offset: 0, .. })
        ));
    }

    #[test]
    fn strings_bools_versions_names() {
        let mut bytes = vec![0x01, 0x05];
        bytes.extend(b"relu_");
        bytes.extend(b"10");
        bytes.extend([0x01, 0x05]);
        let mut r = Reader::new(&bytes);
        r.clone().expect_name("relu_").unwrap();
        assert!(matches!(
            r.expect_name("con_5"),
            Err(ModelError::BadName { offset: 0, expected: "con_5", ref found }) if found == "relu_"
        ));
        let mut r = Reader::new(&bytes[7..]);
        assert!(r.bool("b").unwrap());
        assert!(!r.bool("b").unwrap());
        assert!(matches!(
            r.clone().version(1..=2, "add_layer"),
            Err(ModelError::BadVersion {
                offset: 2,
                found: 5,
                ..
            })
        ));
        assert_eq!(r.version(5..=5, "x").unwrap(), 5);
        assert!(matches!(
            Reader::new(b"x").bool("b"),
            Err(ModelError::BadBool { found: b'x', .. })
        ));
    }

    #[test]
    fn counts_are_checked_before_allocating() {
        // A vector claiming u64::MAX elements in 10 bytes.
        let mut bytes = vec![0x08; 9];
        bytes.push(0);
        let err = Reader::new(&bytes)
            .vec(MIN_FLOAT_BYTES, "v", |r| r.f32("v"))
            .unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::Truncated {
                    offset: 9,
                    available: 1,
                    ..
                }
            ),
            "{err}"
        );
        // A string longer than the bytes.
        assert!(matches!(
            Reader::new(&[0x01, 0x09, b'a']).string("s"),
            Err(ModelError::Truncated { .. })
        ));
        // A matrix of 2^62 x 2^62 cells.
        let mut m = pack(-(1 << 62));
        m.extend(pack(-(1 << 62)));
        assert!(matches!(
            Reader::new(&m).matrix_f32("m"),
            Err(ModelError::Truncated { .. })
        ));
        // A tensor of 2^40 floats.
        let mut t = pack(2);
        for d in [1i64 << 10, 1 << 10, 1 << 10, 1 << 10] {
            t.extend(pack(d));
        }
        assert!(matches!(
            Reader::new(&t).tensor("t"),
            Err(ModelError::Truncated { .. })
        ));
        // An empty dimension beside huge ones (no floats, but a product
        // that would overflow).
        let mut t = pack(2);
        for d in [0i64, 1 << 62, 1 << 62, 1 << 62] {
            t.extend(pack(d));
        }
        assert!(matches!(
            Reader::new(&t).tensor("t"),
            Err(ModelError::BadInteger { .. })
        ));
        let mut m = pack(0);
        m.extend(pack(-(1 << 62)));
        assert!(matches!(
            Reader::new(&m).matrix_f32("m"),
            Err(ModelError::BadInteger { .. })
        ));
        // Empty ones are fine.
        let mut t = pack(2);
        for d in [0i64, 3, 0, 0] {
            t.extend(pack(d));
        }
        assert_eq!(Reader::new(&t).tensor("t").unwrap().shape(), (0, 3, 0, 0));
    }

    #[test]
    fn vectors_matrices_tensors() {
        let mut bytes = pack(2);
        bytes.extend(pack(7));
        bytes.extend(pack(-9));
        let v = Reader::new(&bytes)
            .vec(MIN_INT_BYTES, "v", |r| r.i64("v"))
            .unwrap();
        assert_eq!(v, [7, -9]);

        // A 2x1 matrix<double> in the new (negated) format, then the old.
        for sign in [-1, 1] {
            let mut m = pack(2 * sign);
            m.extend(pack(sign));
            for (man, exp) in [(1, 0), (3, -1)] {
                m.extend(pack(man));
                m.extend(pack(exp));
            }
            let m = Reader::new(&m).matrix_f64("m").unwrap();
            assert_eq!((m.rows, m.cols, m.data), (2, 1, vec![1.0, 1.5]));
        }

        let mut t = pack(2);
        for d in [1, 2, 1, 1] {
            t.extend(pack(d));
        }
        t.extend(1.5f32.to_le_bytes());
        t.extend((-2f32).to_le_bytes());
        let mut r = Reader::new(&t);
        let t = r.tensor("t").unwrap();
        assert_eq!(t.shape(), (1, 2, 1, 1));
        assert_eq!(t.data, [1.5, -2.0]);
        r.finish().unwrap();
    }

    #[test]
    fn error_messages() {
        let err = Reader::new(&[0x03, 1]).u64("a count").unwrap_err();
        assert_eq!(
            err.to_string(),
            "model file truncated at byte 1: a count needs 3 bytes, 1 remain"
        );
        let mut r = Reader::new(&[1, 2, 3]);
        r.byte("b").unwrap();
        assert_eq!(
            r.finish().unwrap_err().to_string(),
            "2 unexpected bytes after the model, at byte 1"
        );
        let mut bytes = vec![0x01, 0x05];
        bytes.extend(b"relu_");
        assert_eq!(
            Reader::new(&bytes)
                .expect_name("con_5")
                .unwrap_err()
                .to_string(),
            "bad name at byte 0: expected \"con_5\", found \"relu_\""
        );
    }
}
