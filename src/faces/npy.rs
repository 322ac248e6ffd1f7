//! NumPy `.npy` files: takes the bytes of a float32 array of shape `(d,)` or
//! `(n, d)`, gives its rows; and writes such files (for tests, benches and
//! the README workflow).
//!
//! Only what a face embedding needs is accepted: `descr` `<f4` (or `>f4`),
//! C or Fortran order, one or two dimensions. Anything else is an
//! [`NpyError`] that says what is accepted.
//!
//! The shape in the header is a claim, not a fact: no decoder here
//! allocates for it before the bytes are there. An image in memory
//! ([`decode_npy`]) and a file of known length ([`read_npy_sized`]) must
//! hold exactly the data the shape needs; a stream of unknown length
//! ([`read_npy`]) grows its buffer only as data arrives.

use std::io::Read;

/// What an `.npy` file must be; appended to every error message.
pub const ACCEPTED: &str =
    "a NumPy .npy file of float32 ('<f4'), shape (d,) or (n, d), one face vector per row";

/// Longest header accepted (NumPy writes well under 64 KiB).
const MAX_HEADER: usize = 1 << 20;
/// Bytes read (and converted) at a time when streaming.
const CHUNK: usize = 1 << 20;

/// A float32 matrix read from an `.npy` file, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyMatrix {
    /// Number of rows (faces); 1 for a shape `(d,)` file.
    pub rows: usize,
    /// Row length (the embedding dimension).
    pub dim: usize,
    /// `rows * dim` values, row after row.
    pub data: Vec<f32>,
}

/// Why bytes are not an accepted `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}; expected {ACCEPTED}")]
pub struct NpyError(String);

fn err(msg: impl Into<String>) -> NpyError {
    NpyError(msg.into())
}

/// What the header says.
/// The byte order of the stored `f32`s (`descr` `<f4` or `>f4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteOrder {
    Little,
    Big,
}

#[derive(Debug)]
struct Header {
    rows: usize,
    dim: usize,
    /// The shape had one dimension, `(d,)`.
    one_dim: bool,
    order: ByteOrder,
    fortran: bool,
    /// Bytes of magic, version, header length and header.
    len: u64,
}

impl Header {
    /// The shape as the header wrote it.
    fn shape(&self) -> String {
        if self.one_dim {
            format!("({},)", self.dim)
        } else {
            format!("({}, {})", self.rows, self.dim)
        }
    }

    /// Bytes of data the shape needs (`None`: more than any input can hold).
    fn data_bytes(&self) -> Option<u64> {
        (self.rows as u64)
            .checked_mul(self.dim as u64)?
            .checked_mul(4)
    }

    /// Fails unless `have` bytes of data are exactly what the shape needs.
    /// `what` names the input ("image", "file").
    fn check_size(&self, have: u64, what: &str) -> Result<usize, NpyError> {
        let shape = self.shape();
        let need = self.data_bytes();
        match need {
            Some(n) if n == have => usize::try_from(n / 4)
                .ok()
                .filter(|&c| c <= isize::MAX as usize / 4)
                .ok_or_else(|| err(format!("shape {shape} is too large"))),
            Some(n) => Err(err(format!(
                "shape {shape} needs {n} bytes of float32 data, the {what} has {have}"
            ))),
            None => Err(err(format!(
                "shape {shape} needs more than 2^64 bytes of float32 data, the {what} has {have}"
            ))),
        }
    }

    /// The element count, checked only against address-space limits.
    fn count(&self) -> Result<usize, NpyError> {
        self.data_bytes()
            .and_then(|n| usize::try_from(n / 4).ok())
            .filter(|&c| c <= isize::MAX as usize / 4)
            .ok_or_else(|| err(format!("shape {} is too large", self.shape())))
    }
}

/// Reads magic, version, header length and header; allocates no more than
/// the header bytes actually read.
fn read_header(input: &mut impl Read) -> Result<Header, NpyError> {
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|_| err("too short for an .npy header"))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(err("not an .npy file (no \\x93NUMPY magic)"));
    }
    let (header_len, prefix) = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            input
                .read_exact(&mut b)
                .map_err(|_| err("truncated .npy header"))?;
            (usize::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            input
                .read_exact(&mut b)
                .map_err(|_| err("truncated .npy header"))?;
            let n = usize::try_from(u32::from_le_bytes(b)).map_err(|_| err("header too long"))?;
            (n, 12)
        }
        v => return Err(err(format!(".npy format version {v} is not supported"))),
    };
    if header_len > MAX_HEADER {
        return Err(err(format!(
            "header of {header_len} bytes is too long (at most {MAX_HEADER})"
        )));
    }
    // Read, not reserved: a header length beyond the input costs nothing.
    let mut header = Vec::new();
    input
        .by_ref()
        .take(header_len as u64)
        .read_to_end(&mut header)
        .map_err(|e| err(format!("cannot read the .npy header: {e}")))?;
    if header.len() != header_len {
        return Err(err(format!(
            "truncated .npy header: {header_len} bytes announced, {} present",
            header.len()
        )));
    }
    let header = String::from_utf8(header).map_err(|_| err("header is not text"))?;
    let descr = dict_value(&header, "descr")?;
    let order = match descr.trim_matches(|c| c == '\'' || c == '"') {
        "<f4" | "=f4" => ByteOrder::Little,
        ">f4" => ByteOrder::Big,
        other => return Err(err(format!("dtype '{other}' is not float32"))),
    };
    let fortran = match dict_value(&header, "fortran_order")? {
        "False" => false,
        "True" => true,
        other => return Err(err(format!("bad fortran_order '{other}'"))),
    };
    let shape = parse_shape(dict_value(&header, "shape")?)?;
    let (rows, dim, one_dim) = match shape[..] {
        [d] => (1, d, true),
        [n, d] => (n, d, false),
        _ => return Err(err(format!("array has {} dimensions", shape.len()))),
    };
    if dim == 0 {
        return Err(err("vector length is 0"));
    }
    Ok(Header {
        rows,
        dim,
        one_dim,
        order,
        fortran,
        len: prefix + header_len as u64,
    })
}

/// Appends the `f32`s in `bytes` (a multiple of 4 long) to `out`.
fn extend_values(out: &mut Vec<f32>, bytes: &[u8], order: ByteOrder) {
    match order {
        ByteOrder::Big => out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])),
        ),
        ByteOrder::Little => super::codec::extend_f32_from_bytes(out, bytes),
    }
}

/// The `f32` stored at `bytes[4 * i..4 * i + 4]`.
fn value_at(bytes: &[u8], i: usize, order: ByteOrder) -> f32 {
    let mut b = [0u8; 4];
    if let Some(src) = bytes.get(4 * i..4 * i + 4) {
        b.copy_from_slice(src);
    }
    match order {
        ByteOrder::Big => f32::from_be_bytes(b),
        ByteOrder::Little => f32::from_le_bytes(b),
    }
}

/// Decodes an `.npy` image held in memory, keeping only its first
/// `max_rows` rows (an image's faces are its first rows; the rest are not
/// decoded at all, so the work is bounded by `max_rows`, not by the
/// header's claim). The data after the header must be exactly what the
/// shape needs, or this is an error saying both sizes.
///
/// ```
/// use rollcall::faces::{decode_npy, npy_bytes};
/// let bytes = npy_bytes(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let m = decode_npy(&bytes, 2).unwrap();
/// assert_eq!((m.rows, m.dim, m.data), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
/// let e = decode_npy(&bytes[..bytes.len() - 4], 2).unwrap_err().to_string();
/// assert!(e.contains("shape (3, 2) needs 24 bytes of float32 data, the image has 20"), "{e}");
/// ```
pub fn decode_npy(bytes: &[u8], max_rows: usize) -> Result<NpyMatrix, NpyError> {
    let mut rest = bytes;
    let h = read_header(&mut rest)?;
    h.check_size(rest.len() as u64, "image")?;
    let rows = h.rows.min(max_rows);
    let dim = h.dim;
    // Bounded by the data present: rows * dim <= rest.len() / 4.
    let mut data = Vec::with_capacity(rows * dim);
    if !h.fortran || h.rows <= 1 {
        extend_values(&mut data, &rest[..rows * dim * 4], h.order);
    } else {
        // Column-major: value (r, c) is element c * rows + r.
        for r in 0..rows {
            data.extend((0..dim).map(|c| value_at(rest, c * h.rows + r, h.order)));
        }
    }
    Ok(NpyMatrix { rows, dim, data })
}

/// Reads an `.npy` file from `input`, streaming the data (no second copy).
/// The length of the input is not known: the buffer grows only as data
/// really arrives (never more than twice what has been read, plus one
/// chunk), so a header that claims more than the input holds fails at the
/// end of the input, having allocated for what was there. Prefer
/// [`read_npy_sized`] for a file: it knows the length and reserves once.
///
/// ```
/// use rollcall::faces::{npy_bytes, read_npy};
/// let bytes = npy_bytes(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let m = read_npy(&bytes[..]).unwrap();
/// assert_eq!((m.rows, m.dim), (2, 3));
/// assert_eq!(m.data[5], 6.0);
/// assert!(read_npy(&b"GIF89a"[..]).is_err());
/// ```
pub fn read_npy(input: impl Read) -> Result<NpyMatrix, NpyError> {
    read_stream(input, None)
}

/// Reads an `.npy` file of `len` bytes in all (the file's length) from
/// `input`, streaming. The header's shape is checked against `len` before
/// anything is allocated: it must need exactly the bytes after the header.
/// Then the matrix is reserved once, at its full size.
///
/// ```
/// use rollcall::faces::{npy_bytes, read_npy_sized};
/// let bytes = npy_bytes(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let m = read_npy_sized(&bytes[..], bytes.len() as u64).unwrap();
/// assert_eq!((m.rows, m.dim), (2, 3));
/// let e = read_npy_sized(&bytes[..], bytes.len() as u64 + 4).unwrap_err();
/// assert!(e.to_string().contains("the file has 28"), "{e}");
/// ```
pub fn read_npy_sized(input: impl Read, len: u64) -> Result<NpyMatrix, NpyError> {
    read_stream(input, Some(len))
}

fn read_stream(mut input: impl Read, len: Option<u64>) -> Result<NpyMatrix, NpyError> {
    let h = read_header(&mut input)?;
    let count = match len {
        Some(len) => h.check_size(len.saturating_sub(h.len), "file")?,
        None => h.count()?,
    };
    let (rows, dim) = (h.rows, h.dim);
    let mut data = Vec::new();
    if len.is_some() {
        // The file's length confirms the claim: one exact reservation.
        data.reserve_exact(count);
    }
    read_values(&mut input, &h, count, &mut data)?;
    let mut extra = [0u8; 1];
    if matches!(input.read(&mut extra), Ok(n) if n > 0) {
        return Err(err(format!(
            "data longer than shape {} ({} bytes of float32 data)",
            h.shape(),
            count * 4
        )));
    }
    if h.fortran && rows > 1 {
        let mut t = vec![0f32; count];
        for (c, col) in data.chunks_exact(rows).enumerate() {
            for (r, v) in col.iter().enumerate() {
                t[r * dim + c] = *v;
            }
        }
        data = t;
    }
    Ok(NpyMatrix { rows, dim, data })
}

/// The rows of an `.npy` file read a chunk at a time, for imports larger
/// than memory. The header is read and checked against the file's length
/// when it is opened ([`NpyRows::open`]); each [`NpyRows::next_rows`] then
/// reads the next rows. Only row-major files stream (`fortran_order`
/// files with more than one row are stored column by column).
///
/// ```
/// use rollcall::faces::{npy_bytes, NpyRows};
/// let bytes = npy_bytes(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let mut rows = NpyRows::open(&bytes[..], bytes.len() as u64).unwrap();
/// assert_eq!((rows.rows(), rows.dim(), rows.row_major()), (3, 2, true));
/// assert_eq!(rows.next_rows(2).unwrap(), Some(vec![1.0, 2.0, 3.0, 4.0]));
/// assert_eq!(rows.next_rows(2).unwrap(), Some(vec![5.0, 6.0]));
/// assert_eq!(rows.next_rows(2).unwrap(), None);
/// ```
#[derive(Debug)]
pub struct NpyRows<R> {
    input: R,
    header: Header,
    /// Values not read yet.
    left: usize,
}

impl<R: Read> NpyRows<R> {
    /// Reads the header of an `.npy` file of `len` bytes in all from
    /// `input`: it must need exactly the bytes after it.
    pub fn open(mut input: R, len: u64) -> Result<NpyRows<R>, NpyError> {
        let header = read_header(&mut input)?;
        let left = header.check_size(len.saturating_sub(header.len), "file")?;
        Ok(NpyRows {
            input,
            header,
            left,
        })
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.header.rows
    }

    /// Values a row.
    pub fn dim(&self) -> usize {
        self.header.dim
    }

    /// Whether the rows are stored one after another (so that they
    /// stream): C order, or a single row.
    pub fn row_major(&self) -> bool {
        !self.header.fortran || self.header.rows <= 1
    }

    /// The next rows, at most `max` of them (at least one), row-major;
    /// `None` after the last. Only for a [`NpyRows::row_major`] file.
    pub fn next_rows(&mut self, max: usize) -> Result<Option<Vec<f32>>, NpyError> {
        if !self.row_major() {
            return Err(err("a fortran_order file cannot be read row by row"));
        }
        if self.left == 0 {
            return Ok(None);
        }
        let want = self
            .left
            .min(max.max(1).saturating_mul(self.header.dim.max(1)));
        let mut out = Vec::with_capacity(want);
        read_values(&mut self.input, &self.header, want, &mut out)?;
        self.left -= want;
        Ok(Some(out))
    }
}

/// Appends the next `count` values of the data after header `h` to `out`,
/// read [`CHUNK`] bytes at a time; `out` grows only for what has arrived.
fn read_values(
    input: &mut impl Read,
    h: &Header,
    count: usize,
    out: &mut Vec<f32>,
) -> Result<(), NpyError> {
    let mut chunk = vec![0u8; CHUNK.min(count.saturating_mul(4)).max(4)];
    let mut left = count;
    while left > 0 {
        let buf = &mut chunk[..(left * 4).min(CHUNK)];
        input
            .read_exact(buf)
            .map_err(|_| err(format!("data shorter than shape {}", h.shape())))?;
        // Amortised growth, only for what has arrived.
        out.reserve(buf.len() / 4);
        extend_values(out, buf, h.order);
        left -= buf.len() / 4;
    }
    Ok(())
}

/// The text after `'key':` in the header dict, up to the next top-level comma.
fn dict_value<'h>(header: &'h str, key: &str) -> Result<&'h str, NpyError> {
    let start = header
        .find(&format!("'{key}'"))
        .map(|i| i + key.len() + 2)
        .ok_or_else(|| err(format!("header has no '{key}'")))?;
    let rest = header[start..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| err(format!("header '{key}' has no value")))?
        .trim_start();
    let mut depth = 0i32;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            depth == 0 && (c == ',' || c == '}')
        })
        .map_or(rest.len(), |(i, c)| if c == ')' { i + 1 } else { i });
    Ok(rest[..end].trim())
}

fn parse_shape(text: &str) -> Result<Vec<usize>, NpyError> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| err(format!("bad shape '{text}'")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map_err(|_| err(format!("bad shape '{text}'"))))
        .collect()
}

/// The bytes of a version 1.0 `.npy` file holding `data` as a float32 array
/// of shape `(rows, dim)`.
///
/// ```
/// use rollcall::faces::npy_bytes;
/// let bytes = npy_bytes(1, 2, &[0.5, 0.5]);
/// assert!(bytes.starts_with(b"\x93NUMPY\x01\x00"));
/// assert_eq!(bytes.len() % 64, 8 % 64); // header padded to 64, then 2 floats
/// ```
pub fn npy_bytes(rows: usize, dim: usize, data: &[f32]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    // The padded header of a shape tuple of two integers stays far below 64 KiB.
    out.extend_from_slice(
        &u16::try_from(header.len())
            .unwrap_or(u16::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(header.as_bytes());
    super::codec::extend_f32_bytes(&mut out, data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(h: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn one_dimensional_is_one_row() {
        let b = with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            &[0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64],
        );
        let m = read_npy(&b[..]).unwrap();
        assert_eq!((m.rows, m.dim, m.data), (1, 3, vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn fortran_order_is_transposed() {
        let mut payload = Vec::new();
        for v in [1f32, 3.0, 2.0, 4.0] {
            payload.extend_from_slice(&v.to_le_bytes());
        }
        let b = with_header(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
            &payload,
        );
        assert_eq!(read_npy(&b[..]).unwrap().data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn rejects_other_dtypes_shapes_and_truncation() {
        let f8 = with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
            &[0; 8],
        );
        assert!(read_npy(&f8[..])
            .unwrap_err()
            .to_string()
            .contains("'<f8' is not float32"));
        let three = with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), }",
            &[0; 4],
        );
        assert!(read_npy(&three[..])
            .unwrap_err()
            .to_string()
            .contains("3 dimensions"));
        let short = with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &[0; 4],
        );
        assert!(read_npy(&short[..])
            .unwrap_err()
            .to_string()
            .contains("shorter"));
        let e = read_npy(&b"\xff\xd8\xff\xe0 jpeg"[..])
            .unwrap_err()
            .to_string();
        assert!(e.contains("float32"), "{e}");
    }

    /// Shapes that claim far more data than the 24 bytes present.
    const LIARS: [&str; 3] = [
        "(1000000000000000, 4)",
        "(1, 1000000000000000)",
        "(4000000000000000,)",
    ];

    fn liar(shape: &str) -> Vec<u8> {
        let h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        with_header(&h, &[0; 24])
    }

    #[test]
    fn lying_shapes_are_errors_in_memory_not_allocations() {
        let needs = ["16000000000000000", "4000000000000000", "16000000000000000"];
        for (shape, need) in LIARS.iter().zip(needs) {
            let e = decode_npy(&liar(shape), 100).unwrap_err().to_string();
            let want =
                format!("shape {shape} needs {need} bytes of float32 data, the image has 24");
            assert!(e.contains(&want), "{e}");
        }
        // Past 2^64 bytes the size is not even a number.
        let e = decode_npy(&liar("(18446744073709551615, 18446744073709551615)"), 1).unwrap_err();
        assert!(e.to_string().contains("more than 2^64 bytes"), "{e}");
    }

    #[test]
    fn lying_shapes_are_errors_when_streaming() {
        for shape in LIARS {
            let b = liar(shape);
            let sized = read_npy_sized(&b[..], b.len() as u64)
                .unwrap_err()
                .to_string();
            assert!(sized.contains("the file has 24"), "{sized}");
            let streamed = read_npy(&b[..]).unwrap_err().to_string();
            assert!(streamed.contains("shorter than shape"), "{streamed}");
        }
    }

    #[test]
    fn data_must_be_exactly_the_shape() {
        let mut b = npy_bytes(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        b.extend_from_slice(&[0; 4]);
        let e = decode_npy(&b, 100).unwrap_err().to_string();
        assert!(
            e.contains("needs 16 bytes of float32 data, the image has 20"),
            "{e}"
        );
        assert!(read_npy(&b[..]).unwrap_err().to_string().contains("longer"));
        let e = read_npy_sized(&b[..], b.len() as u64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the file has 20"), "{e}");
    }

    #[test]
    fn header_length_beyond_the_input_is_truncation() {
        let mut b = b"\x93NUMPY\x02\x00".to_vec();
        b.extend_from_slice(&(1u32 << 20).to_le_bytes());
        b.extend_from_slice(b"{'descr'");
        let e = decode_npy(&b, 1).unwrap_err().to_string();
        assert!(e.contains("1048576 bytes announced, 8 present"), "{e}");
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_npy(&b, 1)
            .unwrap_err()
            .to_string()
            .contains("too long"));
    }

    #[test]
    fn only_the_first_rows_are_decoded() {
        let data: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let m = decode_npy(&npy_bytes(6, 2, &data), 2).unwrap();
        assert_eq!((m.rows, m.dim, m.data), (2, 2, vec![0.0, 1.0, 2.0, 3.0]));
        // Fortran order: column after column; rows still come out whole.
        let mut payload = Vec::new();
        for v in [1f32, 3.0, 5.0, 2.0, 4.0, 6.0] {
            payload.extend_from_slice(&v.to_be_bytes());
        }
        let b = with_header(
            "{'descr': '>f4', 'fortran_order': True, 'shape': (3, 2), }",
            &payload,
        );
        assert_eq!(decode_npy(&b, 2).unwrap().data, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            read_npy(&b[..]).unwrap().data,
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        assert_eq!(decode_npy(&b, 9).unwrap(), read_npy(&b[..]).unwrap());
    }

    #[test]
    fn writer_roundtrips() {
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.25).collect();
        let m = read_npy(&npy_bytes(4, 3, &data)[..]).unwrap();
        assert_eq!((m.rows, m.dim, m.data), (4, 3, data));
    }
}
