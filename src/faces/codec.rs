//! A small little-endian binary codec for log records and snapshots: takes
//! integers, strings and `f32` slices, gives bytes, and reads them back with
//! a typed error instead of a panic on truncated or corrupt input.

/// Appends little-endian values to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn len(&mut self, v: usize) {
        self.u64(v as u64);
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }
    pub(crate) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    pub(crate) fn f32s(&mut self, v: &[f32]) {
        self.len(v.len());
        extend_f32_bytes(&mut self.buf, v);
    }
    /// `f32`s whose count the reader knows: no length before them.
    pub(crate) fn f32s_fixed(&mut self, v: &[f32]) {
        extend_f32_bytes(&mut self.buf, v);
    }
}

/// Appends the little-endian bytes of `v` to `out`.
pub(crate) fn extend_f32_bytes(out: &mut Vec<u8>, v: &[f32]) {
    out.reserve(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// Appends the `f32`s stored little-endian in `bytes` (a multiple of 4 long) to `out`.
pub(crate) fn extend_f32_from_bytes(out: &mut Vec<f32>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + bytes.len() / 4, 0.0);
    copy_f32_from_bytes(&mut out[start..], bytes);
}

/// Fills `dst` with the `f32`s stored little-endian in `src`.
pub(crate) fn copy_f32_from_bytes(dst: &mut [f32], src: &[u8]) {
    for (d, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
}

/// The input ended early or held a value that cannot be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt record: {0}")]
pub(crate) struct CodecError(pub(crate) &'static str);

/// Reads values written by [`Writer`].
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError("truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn u128(&mut self) -> Result<u128, CodecError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    pub(crate) fn len(&mut self) -> Result<usize, CodecError> {
        let n = self.u64()?;
        // A length can never exceed the bytes that are left to read.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len())
            .ok_or(CodecError("length beyond end"))
    }
    /// A count of items that each take at least `min_size` bytes.
    pub(crate) fn count(&mut self, min_size: usize) -> Result<usize, CodecError> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n.saturating_mul(min_size.max(1)) <= self.buf.len())
            .ok_or(CodecError("count beyond end"))
    }
    pub(crate) fn str(&mut self) -> Result<String, CodecError> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| CodecError("bad utf-8"))
    }
    pub(crate) fn opt_str(&mut self) -> Result<Option<String>, CodecError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            _ => Err(CodecError("bad option tag")),
        }
    }
    pub(crate) fn f32s(&mut self) -> Result<Vec<f32>, CodecError> {
        let n = self.count(4)?;
        let mut v = Vec::with_capacity(n);
        extend_f32_from_bytes(&mut v, self.take(n * 4)?);
        Ok(v)
    }
    /// `N` `f32`s written by [`Writer::f32s_fixed`].
    pub(crate) fn f32s_fixed<const N: usize>(&mut self) -> Result<[f32; N], CodecError> {
        let mut out = [0f32; N];
        copy_f32_from_bytes(&mut out, self.take(N * 4)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let mut w = Writer::default();
        w.u8(7);
        w.u32(1 << 20);
        w.u128(u128::MAX - 3);
        w.str("héllo");
        w.opt_str(None);
        w.opt_str(Some("x"));
        w.f32s(&[1.5, -2.0]);
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u32(), Ok(1 << 20));
        assert_eq!(r.u128(), Ok(u128::MAX - 3));
        assert_eq!(r.str().as_deref(), Ok("héllo"));
        assert_eq!(r.opt_str(), Ok(None));
        assert_eq!(r.opt_str(), Ok(Some("x".into())));
        assert_eq!(r.f32s(), Ok(vec![1.5, -2.0]));
        assert!(r.is_empty());
        for cut in 0..w.buf.len() {
            let mut r = Reader::new(&w.buf[..cut]);
            let all = (|| -> Result<(), CodecError> {
                r.u8()?;
                r.u32()?;
                r.u128()?;
                r.str()?;
                r.opt_str()?;
                r.opt_str()?;
                r.f32s()?;
                Ok(())
            })();
            assert!(all.is_err(), "cut at {cut} must fail");
        }
    }

    #[test]
    fn huge_lengths_are_rejected_not_allocated() {
        let mut w = Writer::default();
        w.u64(u64::MAX);
        assert!(Reader::new(&w.buf).f32s().is_err());
        assert!(Reader::new(&w.buf).str().is_err());
    }
}
