//! NumPy `.npy` files: takes the bytes of a float32 array of shape `(d,)` or
//! `(n, d)`, gives its rows; and writes such files (for tests, benches and
//! the README workflow).
//!
//! Only what a face embedding needs is accepted: `descr` `<f4` (or `>f4`),
//! C or Fortran order, one or two dimensions. Anything else is an
//! [`NpyError`] that says what is accepted.

use std::io::Read;

/// What an `.npy` file must be; appended to every error message.
pub const ACCEPTED: &str =
    "a NumPy .npy file of float32 ('<f4'), shape (d,) or (n, d), one face vector per row";

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

/// Reads an `.npy` file from `input`, streaming the data (no second copy).
///
/// ```
/// use rollcall::faces::{npy_bytes, read_npy};
/// let bytes = npy_bytes(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let m = read_npy(&bytes[..]).unwrap();
/// assert_eq!((m.rows, m.dim), (2, 3));
/// assert_eq!(m.data[5], 6.0);
/// assert!(read_npy(&b"GIF89a"[..]).is_err());
/// ```
pub fn read_npy(mut input: impl Read) -> Result<NpyMatrix, NpyError> {
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|_| err("too short for an .npy header"))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(err("not an .npy file (no \\x93NUMPY magic)"));
    }
    let header_len = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            input
                .read_exact(&mut b)
                .map_err(|_| err("truncated .npy header"))?;
            usize::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            input
                .read_exact(&mut b)
                .map_err(|_| err("truncated .npy header"))?;
            usize::try_from(u32::from_le_bytes(b)).map_err(|_| err("header too long"))?
        }
        v => return Err(err(format!(".npy format version {v} is not supported"))),
    };
    if header_len > 1 << 20 {
        return Err(err("header too long"));
    }
    let mut header = vec![0u8; header_len];
    input
        .read_exact(&mut header)
        .map_err(|_| err("truncated .npy header"))?;
    let header = String::from_utf8(header).map_err(|_| err("header is not text"))?;
    let descr = dict_value(&header, "descr")?;
    let big_endian = match descr.trim_matches(|c| c == '\'' || c == '"') {
        "<f4" | "=f4" => false,
        ">f4" => true,
        other => return Err(err(format!("dtype '{other}' is not float32"))),
    };
    let fortran = match dict_value(&header, "fortran_order")? {
        "False" => false,
        "True" => true,
        other => return Err(err(format!("bad fortran_order '{other}'"))),
    };
    let shape = parse_shape(dict_value(&header, "shape")?)?;
    let (rows, dim) = match shape[..] {
        [d] => (1, d),
        [n, d] => (n, d),
        _ => return Err(err(format!("array has {} dimensions", shape.len()))),
    };
    if dim == 0 {
        return Err(err("vector length is 0"));
    }
    let count = rows
        .checked_mul(dim)
        .filter(|&c| c <= isize::MAX as usize / 4)
        .ok_or_else(|| err("shape too large"))?;
    let mut data = Vec::with_capacity(count);
    let mut chunk = vec![0u8; (1 << 20).min(count * 4).max(4)];
    while data.len() < count {
        let want = ((count - data.len()) * 4).min(chunk.len());
        let buf = &mut chunk[..want];
        input
            .read_exact(buf)
            .map_err(|_| err(format!("data shorter than shape ({rows}, {dim})")))?;
        if big_endian {
            data.extend(
                buf.chunks_exact(4)
                    .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])),
            );
        } else {
            super::codec::extend_f32_from_bytes(&mut data, buf);
        }
    }
    if fortran && rows > 1 {
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

    #[test]
    fn writer_roundtrips() {
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.25).collect();
        let m = read_npy(&npy_bytes(4, 3, &data)[..]).unwrap();
        assert_eq!((m.rows, m.dim, m.data), (4, 3, data));
    }
}
