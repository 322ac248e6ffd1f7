//! A baseline sequential JPEG decoder whose pixels are libjpeg's, bit for
//! bit, with libjpeg's default settings (what python dlib, Pillow and
//! `djpeg` give): the integer "islow" inverse DCT (`jidctint.c`), "fancy"
//! (triangular) chroma upsampling (`jdsample.c`) and the table-driven
//! YCbCr to RGB conversion (`jdcolor.c`).
//!
//! It reads SOF0/SOF1 (8-bit Huffman), DHT, DQT, DRI and restart markers,
//! SOS (interleaved or not, any sampling factors libjpeg takes), one or
//! three components. Anything else (progressive, arithmetic, 12-bit,
//! CMYK, DNL) is [`JpegError::Unsupported`], for the caller to hand to
//! another decoder. Every length read from the file is checked against the
//! bytes present, and the pixel limits against the SOF header before any
//! plane is allocated.

/// Why bytes are not a baseline JPEG this decoder takes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum JpegError {
    /// A JPEG feature outside baseline sequential 8-bit Huffman coding with
    /// one or three components (progressive, arithmetic, 12-bit, CMYK...).
    #[error("unsupported JPEG: {0}")]
    Unsupported(&'static str),
    /// The SOF header declares more pixels or a longer side than allowed.
    #[error("JPEG too large: {width}x{height}")]
    TooLarge {
        /// The declared width.
        width: u32,
        /// The declared height.
        height: u32,
    },
    /// The bytes are truncated or corrupt.
    #[error("corrupt JPEG: {0}")]
    Invalid(&'static str),
}

use std::borrow::Cow;

use image::RgbImage;

/// The zigzag position `k` of a coefficient to its natural (row-major)
/// index, with 16 extra entries of 63 so that a corrupt run past the end
/// lands on the last coefficient, as libjpeg's `jpeg_natural_order` does.
const NATURAL_ORDER: [usize; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 63, 63, 63,
];

/// The most blocks one MCU may hold (libjpeg's `D_MAX_BLOCKS_IN_MCU`).
const MAX_BLOCKS_IN_MCU: u32 = 10;

/// Decodes a baseline JPEG to RGB, refusing before any allocation a frame
/// over `max_pixels` pixels or `max_side` a side.
pub(crate) fn decode(bytes: &[u8], max_pixels: u64, max_side: u32) -> Result<RgbImage, JpegError> {
    let mut r = Reader {
        data: bytes,
        pos: 0,
    };
    if r.u8()? != 0xFF || r.u8()? != 0xD8 {
        return Err(JpegError::Invalid("no SOI marker"));
    }
    let mut qt: [Option<[u16; 64]>; 4] = [None; 4];
    let mut dc_tables: [Option<Huffman>; 4] = [None, None, None, None];
    let mut ac_tables: [Option<Huffman>; 4] = [None, None, None, None];
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0u32;
    let mut jfif = false;
    let mut adobe_transform: Option<u8> = None;
    // Data that ends without EOI is whole if every component was coded.
    while let Some(marker) = r.next_marker() {
        match marker {
            0xD9 => break,
            0xD0..=0xD7 | 0x01 => {}
            0xC0 | 0xC1 => {
                let seg = r.segment()?;
                if frame.is_some() {
                    return Err(JpegError::Invalid("two SOF markers"));
                }
                frame = Some(Frame::parse(seg, max_pixels, max_side)?);
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(JpegError::Unsupported("not baseline sequential Huffman"));
            }
            0xC4 => parse_dht(r.segment()?, &mut dc_tables, &mut ac_tables)?,
            0xDB => parse_dqt(r.segment()?, &mut qt)?,
            0xDD => {
                let seg = r.segment()?;
                let v = seg
                    .get(0..2)
                    .ok_or(JpegError::Invalid("short DRI segment"))?;
                restart_interval = u32::from(u16::from_be_bytes([v[0], v[1]]));
            }
            0xDC => return Err(JpegError::Unsupported("DNL marker")),
            0xDA => {
                let seg = r.segment()?;
                let f = frame.as_mut().ok_or(JpegError::Invalid("SOS before SOF"))?;
                let scan = Scan::parse(seg, f, &dc_tables, &ac_tables, &qt)?;
                r.pos = decode_scan(bytes, r.pos, f, &scan, restart_interval)?;
            }
            0xE0 => {
                let seg = r.segment()?;
                jfif |= seg.starts_with(b"JFIF\0");
            }
            0xEE => {
                let seg = r.segment()?;
                if seg.starts_with(b"Adobe") {
                    adobe_transform = seg.get(11).copied();
                }
            }
            _ => {
                r.segment()?;
            }
        }
    }
    let f = frame.ok_or(JpegError::Invalid("no SOF marker"))?;
    if f.comps.iter().any(|c| !c.coded) {
        return Err(JpegError::Invalid("a component has no scan"));
    }
    let color = match f.comps.len() {
        1 => Color::Grey,
        // libjpeg's default_decompress_parms: JFIF means YCbCr; else an
        // Adobe marker's transform; else the component ids 'R', 'G', 'B'.
        _ if jfif => Color::YCbCr,
        _ => match adobe_transform {
            Some(0) => Color::Rgb,
            Some(_) => Color::YCbCr,
            None if f.comps.iter().map(|c| c.id).eq([b'R', b'G', b'B']) => Color::Rgb,
            None => Color::YCbCr,
        },
    };
    f.into_rgb(color)
}

/// How the components become RGB.
#[derive(Debug, Clone, Copy)]
enum Color {
    /// One grey component, copied to the three channels.
    Grey,
    /// Y, Cb, Cr (JFIF).
    YCbCr,
    /// R, G, B as coded.
    Rgb,
}

/// A cursor over the marker segments.
struct Reader<'a> {
    /// The whole file.
    data: &'a [u8],
    /// The next byte to read.
    pos: usize,
}

impl<'a> Reader<'a> {
    /// One byte.
    fn u8(&mut self) -> Result<u8, JpegError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or(JpegError::Invalid("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    /// The code of the next marker, skipping any bytes before it (libjpeg
    /// skips extraneous bytes with a warning) and fill bytes; `None` at the
    /// end of the data.
    fn next_marker(&mut self) -> Option<u8> {
        loop {
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            if b != 0xFF {
                continue;
            }
            loop {
                let m = *self.data.get(self.pos)?;
                self.pos += 1;
                match m {
                    0xFF => {}
                    0x00 => break,
                    m => return Some(m),
                }
            }
        }
    }

    /// A marker segment's payload (after its two-byte length), checked
    /// against the bytes present.
    fn segment(&mut self) -> Result<&'a [u8], JpegError> {
        let len = usize::from(u16::from_be_bytes([self.u8()?, self.u8()?]));
        let len = len
            .checked_sub(2)
            .ok_or(JpegError::Invalid("segment length under 2"))?;
        let seg = self
            .data
            .get(self.pos..self.pos + len)
            .ok_or(JpegError::Invalid("truncated segment"))?;
        self.pos += len;
        Ok(seg)
    }
}

/// Reads quantization tables (in zigzag order in the file, kept in natural
/// order as libjpeg's `quantval`).
fn parse_dqt(mut seg: &[u8], qt: &mut [Option<[u16; 64]>; 4]) -> Result<(), JpegError> {
    while let Some((&pq_tq, rest)) = seg.split_first() {
        let wide = pq_tq >> 4;
        let slot = qt
            .get_mut(usize::from(pq_tq & 15))
            .ok_or(JpegError::Invalid("DQT table id over 3"))?;
        let n = match wide {
            0 => 64,
            1 => 128,
            _ => return Err(JpegError::Invalid("DQT precision")),
        };
        let values = rest.get(..n).ok_or(JpegError::Invalid("short DQT"))?;
        let mut table = [0u16; 64];
        for (k, &at) in NATURAL_ORDER.iter().take(64).enumerate() {
            let v = if wide == 1 {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
            } else {
                u16::from(values[k])
            };
            table[at] = v;
        }
        *slot = Some(table);
        seg = &rest[n..];
    }
    Ok(())
}

/// Reads Huffman tables.
fn parse_dht(
    mut seg: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Result<(), JpegError> {
    while let Some((&tc_th, rest)) = seg.split_first() {
        let counts = rest.get(..16).ok_or(JpegError::Invalid("short DHT"))?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 {
            return Err(JpegError::Invalid("DHT over 256 codes"));
        }
        let values = rest
            .get(16..16 + total)
            .ok_or(JpegError::Invalid("short DHT"))?;
        let is_dc = match tc_th >> 4 {
            0 => true,
            1 => false,
            _ => return Err(JpegError::Invalid("DHT class")),
        };
        // libjpeg refuses a DC table with a symbol over 15.
        if is_dc && values.iter().any(|&v| v > 15) {
            return Err(JpegError::Invalid("DC symbol over 15"));
        }
        let table = Huffman::build(counts, values)?;
        let slots = if is_dc { &mut *dc } else { &mut *ac };
        *slots
            .get_mut(usize::from(tc_th & 15))
            .ok_or(JpegError::Invalid("DHT table id over 3"))? = Some(table);
        seg = &rest[16 + total..];
    }
    Ok(())
}

/// Bits of the fast lookup of a Huffman table.
const LOOKUP_BITS: u32 = 9;

/// A Huffman decoding table (JPEG Annex C/F).
#[derive(Clone)]
struct Huffman {
    /// For each 9-bit prefix: `(length << 8) | symbol`, or 0 when the code
    /// is longer.
    lookup: [u16; 1 << LOOKUP_BITS],
    /// The largest code of each length (index 1..=16), -1 if none.
    maxcode: [i32; 17],
    /// The index in `values` of the first code of each length, minus that
    /// code.
    offset: [i32; 17],
    /// The symbols, in code order.
    values: [u8; 256],
}

impl Huffman {
    /// Builds the canonical code from the counts per length and the symbols,
    /// refusing counts that overflow the code space (as libjpeg does).
    fn build(counts: &[u8], values: &[u8]) -> Result<Huffman, JpegError> {
        let mut t = Huffman {
            lookup: [0; 1 << LOOKUP_BITS],
            maxcode: [-1; 17],
            offset: [0; 17],
            values: [0; 256],
        };
        for (v, out) in values.iter().zip(t.values.iter_mut()) {
            *out = *v;
        }
        let mut code: i32 = 0;
        let mut k: i32 = 0;
        for len in 1..=16u32 {
            let n = i32::from(counts.get(len as usize - 1).copied().unwrap_or(0));
            if n > 0 {
                t.offset[len as usize] = k - code;
                for _ in 0..n {
                    if code >= (1 << len) {
                        return Err(JpegError::Invalid("bad Huffman table"));
                    }
                    if len <= LOOKUP_BITS {
                        let sym = u16::from(values.get(k as usize).copied().unwrap_or(0));
                        let shift = LOOKUP_BITS - len;
                        let first = (code as usize) << shift;
                        for e in t.lookup.iter_mut().skip(first).take(1 << shift) {
                            *e = ((len as u16) << 8) | sym;
                        }
                    }
                    code += 1;
                    k += 1;
                }
                t.maxcode[len as usize] = code - 1;
            }
            code <<= 1;
        }
        Ok(t)
    }
}

/// One component of the frame, with its decoded samples.
struct Component {
    /// The component id (1, 2, 3 or 'R', 'G', 'B'...).
    id: u8,
    /// Horizontal sampling factor (1..=4).
    h: u32,
    /// Vertical sampling factor (1..=4).
    v: u32,
    /// The quantization table it uses.
    tq: usize,
    /// Blocks per row of the plane (the MCU columns times `h`).
    blocks_w: u32,
    /// Block rows of the plane.
    blocks_h: u32,
    /// Its true width: `ceil(width * h / h_max)`.
    width: u32,
    /// Its true height: `ceil(height * v / v_max)`.
    height: u32,
    /// The samples after the inverse DCT, `blocks_w * 8` a row.
    plane: Vec<u8>,
    /// Whether a scan has coded it.
    coded: bool,
}

/// The frame (SOF) and its planes.
struct Frame {
    /// Image width.
    width: u32,
    /// Image height.
    height: u32,
    /// Largest horizontal sampling factor.
    h_max: u32,
    /// Largest vertical sampling factor.
    v_max: u32,
    /// MCU columns of an interleaved scan.
    mcus_x: u32,
    /// MCU rows of an interleaved scan.
    mcus_y: u32,
    /// The components.
    comps: Vec<Component>,
}

impl Frame {
    /// Reads a SOF0/SOF1 segment, checks the limits, then allocates the
    /// planes.
    fn parse(seg: &[u8], max_pixels: u64, max_side: u32) -> Result<Frame, JpegError> {
        let head = seg.get(..6).ok_or(JpegError::Invalid("short SOF"))?;
        if head[0] != 8 {
            return Err(JpegError::Unsupported("not 8-bit"));
        }
        let height = u32::from(u16::from_be_bytes([head[1], head[2]]));
        let width = u32::from(u16::from_be_bytes([head[3], head[4]]));
        let n = usize::from(head[5]);
        if height == 0 {
            return Err(JpegError::Unsupported("height from a DNL marker"));
        }
        if width == 0 {
            return Err(JpegError::Invalid("zero width"));
        }
        if n != 1 && n != 3 {
            return Err(JpegError::Unsupported("not 1 or 3 components"));
        }
        if width > max_side
            || height > max_side
            || u64::from(width) * u64::from(height) > max_pixels
        {
            return Err(JpegError::TooLarge { width, height });
        }
        let specs = seg
            .get(6..6 + 3 * n)
            .ok_or(JpegError::Invalid("short SOF"))?;
        let mut comps = Vec::with_capacity(n);
        for c in specs.chunks_exact(3) {
            let (h, v) = (u32::from(c[1] >> 4), u32::from(c[1] & 15));
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return Err(JpegError::Invalid("sampling factor"));
            }
            if c[2] > 3 {
                return Err(JpegError::Invalid("quantization table id"));
            }
            comps.push(Component {
                id: c[0],
                h,
                v,
                tq: usize::from(c[2]),
                blocks_w: 0,
                blocks_h: 0,
                width: 0,
                height: 0,
                plane: Vec::new(),
                coded: false,
            });
        }
        let h_max = comps.iter().map(|c| c.h).max().unwrap_or(1);
        let v_max = comps.iter().map(|c| c.v).max().unwrap_or(1);
        let mcus_x = width.div_ceil(8 * h_max);
        let mcus_y = height.div_ceil(8 * v_max);
        for c in &mut comps {
            c.blocks_w = mcus_x * c.h;
            c.blocks_h = mcus_y * c.v;
            c.width = (width * c.h).div_ceil(h_max);
            c.height = (height * c.v).div_ceil(v_max);
            let size = (c.blocks_w as usize * 8) * (c.blocks_h as usize * 8);
            c.plane = vec![0; size];
        }
        Ok(Frame {
            width,
            height,
            h_max,
            v_max,
            mcus_x,
            mcus_y,
            comps,
        })
    }

    /// Upsamples the chroma and converts to RGB.
    fn into_rgb(self, color: Color) -> Result<RgbImage, JpegError> {
        let (w, h) = (self.width as usize, self.height as usize);
        let planes: Vec<(Cow<'_, [u8]>, usize)> = self
            .comps
            .iter()
            .map(|c| upsample(c, self.width, self.height, self.h_max, self.v_max))
            .collect::<Result<_, _>>()?;
        let mut rgb = vec![0u8; w * h * 3];
        let tables = YccTables::new();
        for (y, out) in rgb.chunks_exact_mut(w * 3).enumerate() {
            match (color, planes.as_slice()) {
                (Color::Grey, [g, ..]) => {
                    for (px, &v) in out.chunks_exact_mut(3).zip(row(g, y, w)?) {
                        px.fill(v);
                    }
                }
                (Color::Rgb, [a, b, c]) => {
                    let (a, b, c) = (row(a, y, w)?, row(b, y, w)?, row(c, y, w)?);
                    for (((px, &r), &g), &b) in out.chunks_exact_mut(3).zip(a).zip(b).zip(c) {
                        px.copy_from_slice(&[r, g, b]);
                    }
                }
                (Color::YCbCr, [a, b, c]) => {
                    let (ys, cbs, crs) = (row(a, y, w)?, row(b, y, w)?, row(c, y, w)?);
                    for (((px, &yy), &cb), &cr) in out.chunks_exact_mut(3).zip(ys).zip(cbs).zip(crs)
                    {
                        px.copy_from_slice(&tables.convert(yy, cb, cr));
                    }
                }
                _ => return Err(JpegError::Unsupported("component count")),
            }
        }
        RgbImage::from_raw(self.width, self.height, rgb).ok_or(JpegError::Invalid("image size"))
    }
}

/// Row `y` (the first `w` samples) of an upsampled plane.
fn row<'p>(p: &'p (Cow<'_, [u8]>, usize), y: usize, w: usize) -> Result<&'p [u8], JpegError> {
    p.0.get(y * p.1..y * p.1 + w)
        .ok_or(JpegError::Invalid("plane row"))
}

/// libjpeg's YCbCr to RGB tables (`jdcolor.c`, `build_ycc_rgb_table`:
/// 16-bit fixed point, the rounding folded into the tables).
struct YccTables {
    /// Cr's contribution to R.
    cr_r: [i32; 256],
    /// Cb's contribution to B.
    cb_b: [i32; 256],
    /// Cr's contribution to G, scaled by 2^16.
    cr_g: [i32; 256],
    /// Cb's contribution to G, scaled by 2^16, with one half added.
    cb_g: [i32; 256],
}

impl YccTables {
    /// Builds the tables with libjpeg's constants.
    fn new() -> YccTables {
        /// `FIX(x)`: x in 16-bit fixed point, rounded.
        fn fix(x: f64) -> i32 {
            (x * 65536.0 + 0.5) as i32
        }
        const HALF: i32 = 1 << 15;
        let mut t = YccTables {
            cr_r: [0; 256],
            cb_b: [0; 256],
            cr_g: [0; 256],
            cb_g: [0; 256],
        };
        for i in 0..256 {
            let x = i as i32 - 128;
            t.cr_r[i] = (fix(1.40200) * x + HALF) >> 16;
            t.cb_b[i] = (fix(1.77200) * x + HALF) >> 16;
            t.cr_g[i] = -fix(0.71414) * x;
            t.cb_g[i] = -fix(0.34414) * x + HALF;
        }
        t
    }

    /// One pixel.
    fn convert(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let y = i32::from(y);
        let (cb, cr) = (usize::from(cb), usize::from(cr));
        let clamp = |v: i32| v.clamp(0, 255) as u8;
        [
            clamp(y + self.cr_r[cr]),
            clamp(y + ((self.cb_g[cb] + self.cr_g[cr]) >> 16)),
            clamp(y + self.cb_b[cb]),
        ]
    }
}

/// A component at the image's full resolution, and its row stride: the
/// plane itself when it is not subsampled, else upsampled as libjpeg's
/// `jinit_upsampler` chooses by default (fancy h2v1, h1v2 and h2v2, box
/// replication for other integral ratios).
fn upsample(
    c: &Component,
    width: u32,
    height: u32,
    h_max: u32,
    v_max: u32,
) -> Result<(Cow<'_, [u8]>, usize), JpegError> {
    let stride = c.blocks_w as usize * 8;
    if c.h == h_max && c.v == v_max {
        return Ok((Cow::Borrowed(&c.plane), stride));
    }
    if !h_max.is_multiple_of(c.h) || !v_max.is_multiple_of(c.v) {
        return Err(JpegError::Unsupported("fractional sampling ratio"));
    }
    let (hx, vx) = (h_max / c.h, v_max / c.v);
    let (cw, ch) = (c.width as usize, c.height as usize);
    let (w, h) = (width as usize, height as usize);
    // A sample of the component, clamped to its true size (libjpeg
    // replicates the last column and row, and the first row above).
    let at = |x: isize, y: isize| -> i32 {
        let x = x.clamp(0, cw as isize - 1) as usize;
        let y = y.clamp(0, ch as isize - 1) as usize;
        i32::from(c.plane.get(y * stride + x).copied().unwrap_or(0))
    };
    let fancy_h = hx == 2 && cw > 2;
    let mut out = vec![0u8; w * h];
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        let sy = (y / vx as usize) as isize;
        // The nearer row weighs 3, the other 1; above for an even output
        // row, below for an odd one.
        let ny = if y % 2 == 0 { sy - 1 } else { sy + 1 };
        for (x, o) in row.iter_mut().enumerate() {
            let sx = (x / hx as usize) as isize;
            let nx = if x % 2 == 0 { sx - 1 } else { sx + 1 };
            let v = match (hx, vx) {
                (2, 2) if fancy_h => {
                    let this = 3 * at(sx, sy) + at(sx, ny);
                    let other = 3 * at(nx, sy) + at(nx, ny);
                    let bias = if x % 2 == 0 { 8 } else { 7 };
                    (3 * this + other + bias) >> 4
                }
                (2, 1) if fancy_h => {
                    let bias = if x % 2 == 0 { 1 } else { 2 };
                    (3 * at(sx, sy) + at(nx, sy) + bias) >> 2
                }
                (1, 2) => {
                    let bias = if y % 2 == 0 { 1 } else { 2 };
                    (3 * at(sx, sy) + at(sx, ny) + bias) >> 2
                }
                _ => at(sx, sy),
            };
            *o = v as u8;
        }
    }
    Ok((Cow::Owned(out), w))
}

/// A scan's components (indexes into the frame) and their tables.
struct Scan {
    /// For each component of the scan: its frame index, DC and AC tables,
    /// and quantization table.
    comps: Vec<(usize, Huffman, Huffman, [u16; 64])>,
}

impl Scan {
    /// Reads an SOS segment against the frame and the tables defined so far.
    fn parse(
        seg: &[u8],
        frame: &Frame,
        dc: &[Option<Huffman>; 4],
        ac: &[Option<Huffman>; 4],
        qt: &[Option<[u16; 64]>; 4],
    ) -> Result<Scan, JpegError> {
        let (&n, rest) = seg.split_first().ok_or(JpegError::Invalid("short SOS"))?;
        let n = usize::from(n);
        if n == 0 || n > frame.comps.len() {
            return Err(JpegError::Invalid("SOS component count"));
        }
        let specs = rest
            .get(..2 * n + 3)
            .ok_or(JpegError::Invalid("short SOS"))?;
        if specs[2 * n..] != [0, 63, 0] {
            return Err(JpegError::Unsupported("not a sequential scan"));
        }
        let mut comps: Vec<(usize, Huffman, Huffman, [u16; 64])> = Vec::with_capacity(n);
        for s in specs[..2 * n].chunks_exact(2) {
            let ci = frame
                .comps
                .iter()
                .position(|c| c.id == s[0])
                .ok_or(JpegError::Invalid("SOS names no frame component"))?;
            if comps.iter().any(|&(i, ..)| i == ci) {
                return Err(JpegError::Invalid("SOS names a component twice"));
            }
            let table = |tables: &[Option<Huffman>; 4], id: u8| {
                tables
                    .get(usize::from(id))
                    .and_then(Option::clone)
                    .ok_or(JpegError::Invalid("undefined Huffman table"))
            };
            let q = qt
                .get(frame.comps[ci].tq)
                .copied()
                .flatten()
                .ok_or(JpegError::Invalid("undefined quantization table"))?;
            comps.push((ci, table(dc, s[1] >> 4)?, table(ac, s[1] & 15)?, q));
        }
        if n > 1 {
            let blocks: u32 = comps
                .iter()
                .map(|&(ci, ..)| frame.comps[ci].h * frame.comps[ci].v)
                .sum();
            if blocks > MAX_BLOCKS_IN_MCU {
                return Err(JpegError::Invalid("too many blocks in an MCU"));
            }
        }
        Ok(Scan { comps })
    }
}

/// The entropy-coded data's bit reader: bytes unstuffed, zeros fed past a
/// marker or the end of the data (as libjpeg does), which [`Bits::overrun`]
/// then reports.
struct Bits<'a> {
    /// The whole file.
    data: &'a [u8],
    /// The next byte to read.
    pos: usize,
    /// Bits not yet consumed, at the top.
    acc: u64,
    /// How many bits `acc` holds.
    n: u32,
    /// Whether a marker (or the end of the data) stopped the reading.
    stopped: bool,
    /// Zero bytes fed since then.
    fed: u32,
}

impl<'a> Bits<'a> {
    /// Fills `acc` to at least 57 bits.
    fn fill(&mut self) {
        while self.n <= 56 {
            let mut byte = 0u8;
            if self.stopped {
                self.fed = self.fed.saturating_add(1);
            } else {
                match self.data.get(self.pos) {
                    Some(&0xFF) => match self.data.get(self.pos + 1) {
                        Some(0) => {
                            byte = 0xFF;
                            self.pos += 2;
                        }
                        _ => {
                            self.stopped = true;
                            self.fed = 1;
                        }
                    },
                    Some(&b) => {
                        byte = b;
                        self.pos += 1;
                    }
                    None => {
                        self.stopped = true;
                        self.fed = 1;
                    }
                }
            }
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    /// Whether bits past the real data have been consumed (a truncated or
    /// corrupt scan).
    fn overrun(&self) -> bool {
        u64::from(self.fed) * 8 > u64::from(self.n)
    }

    /// The next `k` (0..=16) bits.
    fn bits(&mut self, k: u32) -> i32 {
        if k == 0 {
            return 0;
        }
        if self.n < k {
            self.fill();
        }
        let v = (self.acc >> (64 - k)) as i32;
        self.acc <<= k;
        self.n -= k;
        v
    }

    /// Decodes one Huffman symbol.
    fn symbol(&mut self, t: &Huffman) -> Result<u8, JpegError> {
        if self.n < 16 {
            self.fill();
        }
        let peek = (self.acc >> 48) as usize;
        let e = t
            .lookup
            .get(peek >> (16 - LOOKUP_BITS))
            .copied()
            .unwrap_or(0);
        if e != 0 {
            let len = u32::from(e >> 8);
            self.acc <<= len;
            self.n -= len;
            return Ok(e as u8);
        }
        for len in LOOKUP_BITS + 1..=16 {
            let code = (peek >> (16 - len)) as i32;
            if code <= t.maxcode[len as usize] {
                self.acc <<= len;
                self.n -= len;
                let i = (t.offset[len as usize] + code) as usize;
                return t
                    .values
                    .get(i)
                    .copied()
                    .ok_or(JpegError::Invalid("bad Huffman code"));
            }
        }
        Err(JpegError::Invalid("bad Huffman code"))
    }

    /// A coefficient of `s` bits, sign-extended (JPEG's EXTEND).
    fn extended(&mut self, s: u32) -> i32 {
        let v = self.bits(s);
        if s > 0 && v < (1 << (s - 1)) {
            v - (1 << s) + 1
        } else {
            v
        }
    }

    /// Skips to the restart marker `RST(index % 8)` and past it.
    fn restart(&mut self, index: u32) -> Result<(), JpegError> {
        self.acc = 0;
        self.n = 0;
        // The marker is where the reading stopped, or after the padding
        // bits of the last byte.
        let want = 0xD0 + (index % 8) as u8;
        let mut at = self.pos;
        while self.data.get(at) == Some(&0xFF) && self.data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if self.data.get(at) != Some(&0xFF) || self.data.get(at + 1) != Some(&want) {
            return Err(JpegError::Invalid("missing restart marker"));
        }
        self.pos = at + 2;
        self.stopped = false;
        self.fed = 0;
        Ok(())
    }
}

/// Decodes a scan's entropy-coded data from `pos` into the frame's planes;
/// returns where the data ends (the next marker).
fn decode_scan(
    data: &[u8],
    pos: usize,
    frame: &mut Frame,
    scan: &Scan,
    restart_interval: u32,
) -> Result<usize, JpegError> {
    let mut bits = Bits {
        data,
        pos,
        acc: 0,
        n: 0,
        stopped: false,
        fed: 0,
    };
    let mut pred = [0i32; 4];
    // The MCUs, each a list of (scan component, block x, block y).
    let (mcus_x, mcus_y, single) = match scan.comps.as_slice() {
        [(ci, ..)] => {
            let c = &frame.comps[*ci];
            (c.width.div_ceil(8), c.height.div_ceil(8), true)
        }
        _ => (frame.mcus_x, frame.mcus_y, false),
    };
    let mut coef = [0i16; 64];
    let mut mcu = 0u32;
    let mut restarts = 0u32;
    for my in 0..mcus_y {
        for mx in 0..mcus_x {
            if restart_interval > 0 && mcu > 0 && mcu.is_multiple_of(restart_interval) {
                bits.restart(restarts)?;
                restarts += 1;
                pred = [0; 4];
            }
            mcu += 1;
            for (si, (ci, dc, ac, q)) in scan.comps.iter().enumerate() {
                let c = &mut frame.comps[*ci];
                let (bw, bh) = if single { (1, 1) } else { (c.h, c.v) };
                for by in 0..bh {
                    for bx in 0..bw {
                        decode_block(&mut bits, dc, ac, &mut pred[si], &mut coef)?;
                        let stride = c.blocks_w as usize * 8;
                        let x = (mx * bw + bx) as usize * 8;
                        let y = (my * bh + by) as usize * 8;
                        idct_islow(&coef, q, &mut c.plane, y * stride + x, stride)?;
                    }
                }
            }
            if bits.overrun() {
                return Err(JpegError::Invalid("truncated scan"));
            }
        }
    }
    for &(ci, ..) in &scan.comps {
        frame.comps[ci].coded = true;
    }
    Ok(bits.pos)
}

/// Decodes one block's coefficients (zigzag order to natural order), as
/// libjpeg's `decode_mcu` stores them (16-bit).
fn decode_block(
    bits: &mut Bits<'_>,
    dc: &Huffman,
    ac: &Huffman,
    pred: &mut i32,
    coef: &mut [i16; 64],
) -> Result<(), JpegError> {
    *coef = [0; 64];
    let s = u32::from(bits.symbol(dc)?);
    *pred = pred.wrapping_add(bits.extended(s));
    coef[0] = *pred as i16;
    let mut k = 1usize;
    while k < 64 {
        let rs = bits.symbol(ac)?;
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r;
            let at = NATURAL_ORDER.get(k).copied().unwrap_or(63);
            coef[at] = bits.extended(s) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            break;
        }
        k += 1;
    }
    Ok(())
}

/// `FIX(x)` constants of `jidctint.c` (13 fractional bits).
const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;
/// Fractional bits of the constants.
const CONST_BITS: u32 = 13;
/// Extra bits the first pass keeps.
const PASS1_BITS: u32 = 2;

/// `DESCALE(x, n)`: x / 2^n rounded (half up), as libjpeg.
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// libjpeg's range limit after the IDCT: the value plus 128, taken modulo
/// 1024 as a signed 10-bit number, then clamped to 0..=255
/// (`range_limit[x & RANGE_MASK]`).
fn range_limit(x: i64) -> u8 {
    let wrapped = ((x & 1023) ^ 512) - 512;
    (wrapped + 128).clamp(0, 255) as u8
}

/// One 1-D pass of the islow IDCT on 8 values; returns the 8 outputs
/// before their final descaling, in libjpeg's (tmp, tmp) pairs order.
fn idct_1d(v: [i64; 8]) -> [i64; 8] {
    // Even part.
    let (z2, z3) = (v[2], v[6]);
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    let tmp0 = (v[0] + v[4]) << CONST_BITS;
    let tmp1 = (v[0] - v[4]) << CONST_BITS;
    let (tmp10, tmp13) = (tmp0 + tmp3, tmp0 - tmp3);
    let (tmp11, tmp12) = (tmp1 + tmp2, tmp1 - tmp2);
    // Odd part.
    let (t0, t1, t2, t3) = (v[7], v[5], v[3], v[1]);
    let z1 = t0 + t3;
    let z2 = t1 + t2;
    let z3 = t0 + t2;
    let z4 = t1 + t3;
    let z5 = (z3 + z4) * FIX_1_175875602;
    let t0 = t0 * FIX_0_298631336;
    let t1 = t1 * FIX_2_053119869;
    let t2 = t2 * FIX_3_072711026;
    let t3 = t3 * FIX_1_501321110;
    let z1 = z1 * -FIX_0_899976223;
    let z2 = z2 * -FIX_2_562915447;
    let z3 = z3 * -FIX_1_961570560 + z5;
    let z4 = z4 * -FIX_0_390180644 + z5;
    let t0 = t0 + z1 + z3;
    let t1 = t1 + z2 + z4;
    let t2 = t2 + z2 + z3;
    let t3 = t3 + z1 + z4;
    [
        tmp10 + t3,
        tmp11 + t2,
        tmp12 + t1,
        tmp13 + t0,
        tmp13 - t0,
        tmp12 - t1,
        tmp11 - t2,
        tmp10 - t3,
    ]
}

/// libjpeg's `jpeg_idct_islow`: dequantizes a block and writes its 8x8
/// samples at `at` in `plane` (rows `stride` apart).
fn idct_islow(
    coef: &[i16; 64],
    q: &[u16; 64],
    plane: &mut [u8],
    at: usize,
    stride: usize,
) -> Result<(), JpegError> {
    // Pass 1: columns, into a workspace of C ints.
    let mut ws = [0i32; 64];
    for col in 0..8 {
        // ISLOW_MULT_TYPE is a short: the 16-bit table entry as libjpeg
        // keeps it.
        let input: [i64; 8] = std::array::from_fn(|row| {
            i64::from(coef[row * 8 + col]) * i64::from(q[row * 8 + col] as i16)
        });
        if input[1..].iter().all(|&v| v == 0) {
            let dc = (input[0] << PASS1_BITS) as i32;
            for row in 0..8 {
                ws[row * 8 + col] = dc;
            }
            continue;
        }
        let out = idct_1d(input);
        for (row, v) in out.iter().enumerate() {
            ws[row * 8 + col] = descale(*v, CONST_BITS - PASS1_BITS) as i32;
        }
    }
    // Pass 2: rows, to samples.
    for row in 0..8 {
        let w: [i64; 8] = std::array::from_fn(|i| i64::from(ws[row * 8 + i]));
        let dst = plane
            .get_mut(at + row * stride..at + row * stride + 8)
            .ok_or(JpegError::Invalid("block outside its plane"))?;
        if w[1..].iter().all(|&v| v == 0) {
            dst.fill(range_limit(descale(w[0], PASS1_BITS + 3)));
            continue;
        }
        let out = idct_1d(w);
        for (d, v) in dst.iter_mut().zip(out) {
            *d = range_limit(descale(v, CONST_BITS + PASS1_BITS + 3));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::photo::decode::{MAX_PIXELS, MAX_SIDE};
    use crate::faces::photo::{decode, golden, models};
    use rand::{Rng, SeedableRng};

    /// Decodes with the pipeline's limits.
    fn dec(bytes: &[u8]) -> Result<RgbImage, JpegError> {
        decode(bytes, MAX_PIXELS, MAX_SIDE)
    }

    #[test]
    fn golden_jpegs_are_baseline_and_decode_uses_this_decoder() {
        let mut seen = 0;
        for photo in golden::photos() {
            if !photo.name.ends_with(".jpg") {
                continue;
            }
            let Some(path) = models::test_photo(&photo.name) else {
                return;
            };
            let bytes = std::fs::read(&path).expect("photo");
            let img = dec(&bytes).expect("a baseline JPEG");
            assert_eq!(img.dimensions(), photo.size, "{}", photo.name);
            // The pipeline's decode gives exactly these pixels (that its
            // chips and landmarks are then dlib's to the byte is tested in
            // chip.rs and shape.rs).
            assert_eq!(
                decode::decode(&bytes).expect("decodes"),
                img,
                "{}",
                photo.name
            );
            seen += 1;
        }
        assert_eq!(seen, 6);
    }

    #[test]
    fn subsampled_grey_and_restart_jpegs_give_libjpegs_pixels() {
        // tests/data/jpeg/README.md: Pillow's (libjpeg-turbo's) RGB.
        let cases = [
            (
                "grey.jpg",
                "10a10b60a65646cec6a1d4343e95d5c0f99976709e8e537afeeaa43f5b8c2c63",
            ),
            (
                "s420.jpg",
                "bcf09840d0d24cf617b201294f033c4db0da430310eff00e424037a85fef087e",
            ),
            (
                "s420_rst.jpg",
                "bcf09840d0d24cf617b201294f033c4db0da430310eff00e424037a85fef087e",
            ),
            (
                "s422.jpg",
                "ddf36cc12ac0e7e52a2302b13de7572d40be1838c7c1fc449ea8fd35635df589",
            ),
            (
                "s422_rst.jpg",
                "ddf36cc12ac0e7e52a2302b13de7572d40be1838c7c1fc449ea8fd35635df589",
            ),
        ];
        for (name, want) in cases {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jpeg/").to_owned() + name;
            let bytes = std::fs::read(&path).expect("fixture");
            let img = dec(&bytes).expect("baseline");
            assert_eq!(img.dimensions(), (45, 29), "{name}");
            let sha: String = sha2::Digest::finalize(sha2::Digest::chain_update(
                <sha2::Sha256 as sha2::Digest>::new(),
                img.as_raw(),
            ))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
            assert_eq!(sha, want, "{name}");
        }
    }

    /// `img` as a JPEG by the image crate's encoder.
    fn encode(img: image::DynamicImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg)
            .expect("encodes");
        out.into_inner()
    }

    /// The largest and the mean absolute difference of two images.
    fn diff(a: &RgbImage, b: &RgbImage) -> (u8, f64) {
        assert_eq!(a.dimensions(), b.dimensions());
        let d: Vec<u8> = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .collect();
        let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
        (d.iter().copied().max().unwrap_or(0), mean)
    }

    #[test]
    fn the_image_crates_jpegs_decode_close_to_its_own_decoder() {
        // Odd sizes: partial MCUs on the right and at the bottom.
        let rgb = RgbImage::from_fn(37, 23, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 11) as u8, ((x * y) % 256) as u8])
        });
        let grey = image::DynamicImage::ImageRgb8(rgb.clone()).to_luma8();
        for img in [
            image::DynamicImage::ImageRgb8(rgb),
            image::DynamicImage::ImageLuma8(grey),
        ] {
            let bytes = encode(img);
            let ours = dec(&bytes).expect("baseline");
            let theirs = image::load_from_memory(&bytes).expect("decodes").to_rgb8();
            // Its encoder writes 4:4:4; another IDCT: close, not equal.
            let (max, mean) = diff(&ours, &theirs);
            println!("max {max} mean {mean:.3}");
            assert!(max <= 4 && mean < 0.1, "max {max} mean {mean}");
        }
    }

    /// A component of `w x h` samples (one block), sampled `h_s x v_s`.
    fn component(samples: &[&[u8]], h: u32, v: u32) -> Component {
        let mut plane = vec![0; 64];
        for (y, row) in samples.iter().enumerate() {
            plane[y * 8..y * 8 + row.len()].copy_from_slice(row);
        }
        Component {
            id: 2,
            h,
            v,
            tq: 0,
            blocks_w: 1,
            blocks_h: 1,
            width: samples[0].len() as u32,
            height: samples.len() as u32,
            plane,
            coded: true,
        }
    }

    /// `upsample`'s output rows.
    fn rows(c: &Component, width: u32, height: u32, h_max: u32, v_max: u32) -> Vec<Vec<u8>> {
        let (plane, stride) = upsample(c, width, height, h_max, v_max).expect("upsamples");
        (0..height as usize)
            .map(|y| plane[y * stride..y * stride + width as usize].to_vec())
            .collect()
    }

    #[test]
    fn chroma_is_upsampled_as_libjpegs_fancy_upsampling() {
        // Values worked out by hand from jdsample.c's formulas (the first
        // and last columns special-cased there, the edge rows replicated).
        let c = component(&[&[10, 20, 40]], 1, 1);
        assert_eq!(rows(&c, 6, 1, 2, 1), [[10, 13, 17, 25, 35, 40]]);
        let c = component(&[&[10, 20, 40], &[50, 60, 80]], 1, 1);
        assert_eq!(
            rows(&c, 6, 4, 2, 2),
            [
                [10, 12, 18, 25, 35, 40],
                [20, 22, 28, 35, 45, 50],
                [40, 42, 48, 55, 65, 70],
                [50, 52, 58, 65, 75, 80],
            ]
        );
        // An odd image width uses the first columns only.
        assert_eq!(rows(&c, 5, 4, 2, 2)[1], [20, 22, 28, 35, 45]);
        assert_eq!(
            rows(&c, 3, 4, 1, 2),
            [[10, 20, 40], [20, 30, 50], [40, 50, 70], [50, 60, 80]]
        );
        // Two columns or fewer: libjpeg replicates (no fancy h2v1/h2v2).
        let c = component(&[&[10, 20]], 1, 1);
        assert_eq!(rows(&c, 4, 1, 2, 1), [[10, 10, 20, 20]]);
        // Other integral ratios replicate; fractional ones are declined.
        let c = component(&[&[10, 20]], 1, 1);
        assert_eq!(rows(&c, 8, 1, 4, 1), [[10, 10, 10, 10, 20, 20, 20, 20]]);
        let c = component(&[&[10, 20]], 2, 1);
        assert!(matches!(
            upsample(&c, 3, 1, 3, 1),
            Err(JpegError::Unsupported(_))
        ));
    }

    #[test]
    fn range_limit_and_colour_tables_are_libjpegs() {
        // range_limit[x & 1023] of jdmaster.c's table, with x before +128.
        assert_eq!(range_limit(-128), 0);
        assert_eq!(range_limit(-129), 0);
        assert_eq!(range_limit(0), 128);
        assert_eq!(range_limit(127), 255);
        assert_eq!(range_limit(383), 255);
        // Past the table's wrap: 600 is in its zero part, -600 its 255 part.
        assert_eq!(range_limit(600), 0);
        assert_eq!(range_limit(-600), 255);
        let t = YccTables::new();
        assert_eq!(
            (t.cr_r[255], t.cb_b[255], t.cr_r[0], t.cb_b[0]),
            (178, 225, -179, -227)
        );
        assert_eq!(t.convert(128, 128, 128), [128, 128, 128]);
        assert_eq!(t.convert(0, 0, 255), [178, 0, 0]);
        assert_eq!(t.convert(255, 255, 0), [76, 255, 255]);
    }

    /// SOI, then a SOF of `kind` declaring `width x height`, 8-bit, `n`
    /// components sampled 1x1, then EOI.
    fn header(kind: u8, precision: u8, width: u16, height: u16, n: u8) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, kind];
        out.extend_from_slice(&(8 + 3 * u16::from(n)).to_be_bytes());
        out.push(precision);
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.push(n);
        for id in 1..=n {
            out.extend_from_slice(&[id, 0x11, 0]);
        }
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    #[test]
    fn limits_are_checked_from_the_sof_header() {
        let started = std::time::Instant::now();
        assert_eq!(
            dec(&header(0xC0, 8, 30_000, 30_000, 3)),
            Err(JpegError::TooLarge {
                width: 30_000,
                height: 30_000
            })
        );
        // Each side allowed, 64 megapixels not.
        assert_eq!(
            dec(&header(0xC0, 8, 8000, 8000, 3)),
            Err(JpegError::TooLarge {
                width: 8000,
                height: 8000
            })
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Within the limits, no scan: corrupt, not a grey image.
        assert_eq!(
            dec(&header(0xC0, 8, 64, 64, 3)),
            Err(JpegError::Invalid("a component has no scan"))
        );
    }

    #[test]
    fn what_it_declines_is_unsupported() {
        for bytes in [
            header(0xC2, 8, 16, 16, 3),  // progressive
            header(0xC9, 8, 16, 16, 3),  // arithmetic
            header(0xC1, 12, 16, 16, 3), // 12-bit
            header(0xC0, 8, 16, 16, 4),  // CMYK
            header(0xC0, 8, 16, 0, 3),   // height from DNL
        ] {
            assert!(
                matches!(dec(&bytes), Err(JpegError::Unsupported(_))),
                "{bytes:?}"
            );
        }
        assert_eq!(dec(b"\x89PNG"), Err(JpegError::Invalid("no SOI marker")));
        assert_eq!(dec(b""), Err(JpegError::Invalid("truncated")));
    }

    #[test]
    fn truncated_and_corrupt_jpegs_never_panic() {
        let mut files = vec![encode(image::DynamicImage::ImageRgb8(RgbImage::from_fn(
            40,
            24,
            |x, y| image::Rgb([(x * 6) as u8, (y * 10) as u8, 99]),
        )))];
        // 4:2:0 with restart markers.
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jpeg/s420_rst.jpg");
        files.push(std::fs::read(fixture).expect("fixture"));
        // With restart markers (DRI) and ids 0, 1, 2.
        if let Some(path) = models::test_photo("obama_partial_face2.jpg") {
            files.push(std::fs::read(path).expect("photo"));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        for bytes in &files {
            let whole = dec(bytes).expect("decodes");
            let step = (bytes.len() / 200).max(1);
            for len in (0..bytes.len()).step_by(step) {
                // A cut scan is refused (decode then hands the bytes to the
                // image crate); a cut EOI is not a loss.
                if let Ok(img) = dec(&bytes[..len]) {
                    assert_eq!(img, whole, "cut at {len}");
                }
            }
            assert_eq!(dec(&bytes[..bytes.len() - 2]).as_ref(), Ok(&whole));
            for _ in 0..100 {
                let mut bad = bytes.clone();
                for _ in 0..rng.random_range(1..8) {
                    let at = rng.random_range(0..bad.len());
                    bad[at] = rng.random();
                }
                if let Ok(img) = dec(&bad) {
                    assert_eq!(
                        img.as_raw().len() as u64,
                        u64::from(img.width()) * u64::from(img.height()) * 3
                    );
                }
            }
        }
    }
}
