//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`), one function
//! per decoder of untrusted bytes. The libFuzzer targets call them on
//! nightly; `tests/fuzz_corpus.rs` replays every corpus through them on
//! stable. Each takes any bytes and panics only when its property fails
//! (that is the point): decoding never panics, never allocates more than
//! the input justifies, and what decodes behaves as documented.
//!
//! Not a public API: hidden from the docs, kept public only so that the
//! fuzz crate and the tests can reach it.

use crate::criteria::wire::{parse_request, SearchUsersRequest};
use crate::criteria::Filter;
use crate::faces::decoders::{
    decode_record, decode_snapshot, encode_record, encode_snapshot, frame, next_record, Collection,
    Record,
};
use crate::faces::MAX_FACES_PER_IMAGE;
use crate::faces::{decode_npy, npy_bytes, read_npy, read_npy_sized, NpyMatrix};
use crate::records::{parse_user_line, read_users};
#[cfg(feature = "serve")]
use crate::serve::{parse_amz_date, Authorization, Presigned, MAX_PRESIGN_EXPIRES_SECS};

/// The `parse` target: when the bytes are UTF-8, parsing must not panic,
/// and a query that parses must print to text that parses back to the same
/// tree and prints the same again; an error must render at its spot.
///
/// ```
/// rollcall::fuzzing::parse(b"username eq jo or (tag.x and *)");
/// rollcall::fuzzing::parse(&[0xff, 0x28]);
/// ```
pub fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::syntax::parse(text) {
        Ok(q) => {
            let printed = q.to_string();
            match crate::syntax::parse(&printed) {
                Ok(again) => {
                    assert_eq!(again, q, "reparse of {printed:?} (from {text:?}) differs");
                    assert_eq!(again.to_string(), printed, "printing is not idempotent");
                }
                Err(e) => panic!("printed {printed:?} (from {text:?}) does not parse: {e}"),
            }
        }
        Err(e) => {
            // Errors must be drawable at their spot.
            let _ = e.render(text);
        }
    }
}

/// The `decode` target (the AWS JSON `SearchUsersRequest` decoder):
/// decoding and validation never panic; a request that validates prints as
/// text that parses back to the same tree, and raises back to a request
/// that is stable from then on.
///
/// ```
/// rollcall::fuzzing::decode(br#"{"SearchCriteria": {"AndConditions": []}}"#);
/// rollcall::fuzzing::decode(b"\xff not json");
/// ```
pub fn decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(search) = parse_request(text).and_then(|r| r.lower()) else {
        return;
    };
    let printed = search.filter.to_string();
    match crate::syntax::parse(&printed) {
        Ok(back) => assert_eq!(
            back, search.filter,
            "text of {text:?} reads back differently"
        ),
        Err(e) => panic!("{printed:?} (from {text:?}) does not parse: {e}"),
    }
    let raise = |f: &Filter| match SearchUsersRequest::from_filter(f) {
        Ok(r) => r,
        Err(e) => panic!("the filter of {text:?} does not raise: {e}"),
    };
    let first = raise(&search.filter);
    let again = match first.lower() {
        Ok(s) => raise(&s.filter),
        Err(e) => panic!("the raised request of {text:?} is invalid: {e}"),
    };
    assert_eq!(first, again, "raising {text:?} is not stable");
}

#[cfg(feature = "serve")]
/// The `sigv4_header` target (the SigV4 `Authorization` header parser and
/// the presigned-URL query parser), on the bytes read as text (lossily):
/// neither panics; a refusal is a 403 with a message; what parses holds
/// what verification relies on (a non-empty key id, an 8-digit date,
/// lowercase hex signature, non-empty lowercase header names, and for a
/// presigned URL a valid `X-Amz-Date` and an expiry within 7 days).
///
/// ```
/// rollcall::fuzzing::sigv4_header(
///     b"AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/connect/aws4_request, \
///       SignedHeaders=host;x-amz-date, Signature=ABCD",
/// );
/// rollcall::fuzzing::sigv4_header(b"X-Amz-Signature=ab&X-Amz-Credential=%");
/// ```
pub fn sigv4_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let refused = |e: crate::serve::ApiError| {
        assert_eq!(e.status, Some(403), "{text:?} refused with {e:?}");
        assert!(!e.message.is_empty(), "{text:?} refused without a message");
    };
    match Authorization::parse(&text) {
        Ok(a) => check_authorization(&a, &text),
        Err(e) => refused(e),
    }
    match Presigned::parse(&text) {
        Ok(Some(p)) => {
            check_authorization(&p.auth, &text);
            assert!(
                parse_amz_date(&p.amz_date).is_some(),
                "{text:?}: X-Amz-Date {:?} accepted",
                p.amz_date
            );
            assert!(
                (1..=MAX_PRESIGN_EXPIRES_SECS).contains(&p.expires),
                "{text:?}: X-Amz-Expires {} accepted",
                p.expires
            );
        }
        Ok(None) => {}
        Err(e) => refused(e),
    }
}

#[cfg(feature = "serve")]
fn check_authorization(a: &Authorization, text: &str) {
    assert!(!a.access_key_id.is_empty(), "{text:?}: empty key id");
    assert!(
        a.date.len() == 8 && a.date.bytes().all(|b| b.is_ascii_digit()),
        "{text:?}: date {:?}",
        a.date
    );
    assert!(
        !a.signature.is_empty()
            && a.signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{text:?}: signature {:?}",
        a.signature
    );
    assert!(
        !a.signed_headers.is_empty()
            && a.signed_headers
                .iter()
                .all(|h| !h.is_empty() && !h.bytes().any(|b| b.is_ascii_uppercase())),
        "{text:?}: signed headers {:?}",
        a.signed_headers
    );
}

/// The `import_line` target (the users-file reader of `connect import`,
/// [`read_users`]), on the bytes as a whole file: it never panics; an error
/// names a line of the input (`line N: ...`, N within the file); and every
/// user it accepts is stored as JSON that reads back as the same user.
///
/// ```
/// rollcall::fuzzing::import_line(b"{\"Id\":\"1\",\"Username\":\"ann\"}\n\nnot json\n");
/// rollcall::fuzzing::import_line(b"\xff\xfe");
/// ```
pub fn import_line(data: &[u8]) {
    let lines = data.split(|&b| b == b'\n').count();
    let mut users = Vec::new();
    let result = read_users(data, |line, user| {
        users.push((line, user));
        Ok(())
    });
    if let Err(e) = result {
        assert!(
            (1..=lines).contains(&e.line),
            "error on line {} of a {lines}-line input: {e}",
            e.line
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("line {}: ", e.line)) && text.len() > 8,
            "the error does not name its line: {text:?}"
        );
    }
    for (line, user) in users {
        assert!(
            (1..=lines).contains(&line),
            "user on line {line} of {lines}"
        );
        let stored = match serde_json::to_string(&user) {
            Ok(s) => s,
            Err(e) => panic!("user of line {line} does not serialize: {e}"),
        };
        match parse_user_line(&stored, line) {
            Ok(back) => assert_eq!(back, user, "line {line} reads back differently"),
            Err(e) => panic!("stored form {stored:?} of line {line} does not read back: {e}"),
        }
    }
}

/// A matrix as comparable bits (`NaN`s included).
fn bits(m: &NpyMatrix) -> (usize, usize, Vec<u32>) {
    (m.rows, m.dim, m.data.iter().map(|x| x.to_bits()).collect())
}

/// The `npy` target (the `.npy` decoders of `Image.Bytes` and of
/// `rollcall faces import`): decoding never panics and allocates only for
/// data present; the in-memory, sized and streaming decoders agree (all
/// fail, or all give the same matrix); an image's first
/// [`MAX_FACES_PER_IMAGE`] rows are a prefix of the whole; and what decodes
/// re-encodes to a file that decodes to the same matrix.
///
/// ```
/// rollcall::fuzzing::npy(&rollcall::faces::npy_bytes(2, 2, &[1.0, 0.0, 0.0, 1.0]));
/// rollcall::fuzzing::npy(b"\x93NUMPY\x01\x00\x40\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000, 4), }");
/// ```
pub fn npy(data: &[u8]) {
    let whole = decode_npy(data, usize::MAX);
    let image = decode_npy(data, MAX_FACES_PER_IMAGE);
    let sized = read_npy_sized(data, data.len() as u64);
    let streamed = read_npy(data);
    let Ok(m) = whole else {
        assert!(
            image.is_err() && sized.is_err() && streamed.is_err(),
            "only the whole-image decoder failed on {data:?}"
        );
        return;
    };
    assert_eq!(m.data.len(), m.rows * m.dim, "matrix size");
    let want = bits(&m);
    for (name, other) in [("sized", sized), ("streamed", streamed)] {
        match other {
            Ok(o) => assert_eq!(bits(&o), want, "{name} decoder differs"),
            Err(e) => panic!("{name} decoder fails where the image decoder does not: {e}"),
        }
    }
    match image {
        Ok(first) => {
            assert_eq!(first.rows, m.rows.min(MAX_FACES_PER_IMAGE), "image rows");
            assert_eq!(
                bits(&first).2[..],
                want.2[..first.data.len()],
                "image rows are not a prefix"
            );
        }
        Err(e) => panic!("bounded decode fails where the whole one does not: {e}"),
    }
    let again = decode_npy(&npy_bytes(m.rows, m.dim, &m.data), usize::MAX);
    match again {
        Ok(a) => assert_eq!(bits(&a), want, "re-encoding changes the matrix"),
        Err(e) => panic!("re-encoded matrix does not decode: {e}"),
    }
}

/// The `faces_log` target (the log record decoder): the bytes as one
/// record's payload and as a whole log. Decoding never panics; a record
/// that decodes re-encodes to exactly its bytes (and frame); replaying what
/// decodes never panics, and the state it reaches snapshots to bytes that
/// load again.
///
/// ```
/// rollcall::fuzzing::faces_log(&[1, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, b'u', 0]);
/// rollcall::fuzzing::faces_log(&[0xff; 40]);
/// ```
pub fn faces_log(data: &[u8]) {
    let mut coll = Collection::new("fuzz".into(), 0, 0);
    if let Ok(rec) = decode_record(data) {
        assert_eq!(encode_record(&rec), data, "record re-encodes differently");
        replay_one(&mut coll, rec);
    }
    let mut coll = Collection::new("fuzz".into(), 0, 0);
    let mut pos = 0;
    while let Ok(Some((rec, next))) = next_record(data, pos) {
        assert_eq!(
            frame(&encode_record(&rec)),
            data[pos..next],
            "framed record at {pos} re-encodes differently"
        );
        replay_one(&mut coll, rec);
        pos = next;
    }
    snapshot_loads(&mut coll);
}

fn replay_one(coll: &mut Collection, rec: Record) {
    coll.apply(rec);
    let _ = coll.list_faces(0, usize::MAX, None, None);
    let _ = coll.list_users(0, usize::MAX);
}

/// The snapshot of `coll` in memory; its reported length is its length.
fn snapshot_bytes(coll: &Collection) -> Vec<u8> {
    match encode_snapshot(coll, Vec::new()) {
        Ok((bytes, len)) => {
            assert_eq!(len, bytes.len() as u64, "snapshot length");
            bytes
        }
        Err(e) => panic!("snapshot to memory failed: {e}"),
    }
}

/// `bytes`, a snapshot this code wrote, load to a state that snapshots to
/// the same bytes.
fn assert_reloads(bytes: &[u8]) {
    match decode_snapshot(&mut &bytes[..], bytes.len() as u64) {
        Ok(back) => assert_eq!(
            snapshot_bytes(&back),
            bytes,
            "snapshot does not reload to itself"
        ),
        Err(e) => panic!("a snapshot written by this code does not load: {e}"),
    }
}

/// Compacts `coll`, snapshots it and loads the snapshot: it must load, and
/// load to a state that snapshots to the same bytes. Gives those bytes.
fn snapshot_loads(coll: &mut Collection) -> Vec<u8> {
    coll.compact();
    let bytes = snapshot_bytes(coll);
    assert_reloads(&bytes);
    bytes
}

/// The `faces_snapshot` target (the snapshot decoder): decoding never
/// panics and allocates only for what the bytes hold; a snapshot that
/// decodes encodes to bytes that decode to the same state, and that state
/// can be compacted, listed, searched and snapshotted again.
///
/// ```
/// rollcall::fuzzing::faces_snapshot(b"RCSNAP01\xff\xff\xff\xff\xff\xff\xff\x0f");
/// ```
pub fn faces_snapshot(data: &[u8]) {
    let Ok(mut coll) = decode_snapshot(&mut &data[..], data.len() as u64) else {
        return;
    };
    assert_reloads(&snapshot_bytes(&coll));
    let _ = coll.list_faces(0, usize::MAX, None, None);
    let _ = coll.list_users(0, usize::MAX);
    if coll.dim() > 0
        && coll.dim() <= 1024
        && !coll.vectors().is_empty()
        && let Ok(probe) = coll.probe_of_face(0)
    {
        let _ = coll.search_faces(&probe, 3, 0.0, Some(0));
        let _ = coll.search_users(&probe, 3, 0.0, None);
    }
    snapshot_loads(&mut coll);
}

/// The `photo_decode` target (the JPEG/PNG decoder of `Image.Bytes`): any
/// bytes; decoding never panics, and is refused before any pixel is
/// allocated when the header declares more than the limits allow; an image
/// that decodes is within them (no side 0 or over the limit, no more
/// pixels than the limit, 3 bytes a pixel); aligning a face chip on it
/// (dlib's mean face, scaled to the image) gives a whole chip without
/// panicking; an error says which of AWS's two refusals it is.
///
/// ```
/// rollcall::fuzzing::photo_decode(b"\x89PNG\r\n\x1a\n");
/// rollcall::fuzzing::photo_decode(b"\xff\xd8\xff\xe0 not really a JPEG");
/// ```
pub fn photo_decode(data: &[u8]) {
    use crate::faces::photo::chip::{face_chip, CHIP_SIZE};
    use crate::faces::photo::decode::{decode, MAX_PIXELS, MAX_SIDE};
    use crate::faces::photo::Point;
    match decode(data) {
        Ok(img) => {
            let (w, h) = img.dimensions();
            assert!(w > 0 && h > 0, "decoded an empty {w}x{h} image");
            assert!(w <= MAX_SIDE && h <= MAX_SIDE, "decoded {w}x{h}");
            assert!(u64::from(w) * u64::from(h) <= MAX_PIXELS, "decoded {w}x{h}");
            assert_eq!(
                img.as_raw().len(),
                w as usize * h as usize * 3,
                "buffer size"
            );
            // A face as large as the image, where dlib's mean face would be.
            let (fw, fh) = (f64::from(w), f64::from(h));
            let mean = [
                (0.86, 0.21),
                (0.65, 0.23),
                (0.12, 0.21),
                (0.33, 0.23),
                (0.49, 0.63),
            ];
            let landmarks = mean.map(|(x, y)| Point {
                x: x * fw,
                y: y * fh,
            });
            assert_eq!(
                face_chip(&img, &landmarks).len(),
                CHIP_SIZE * CHIP_SIZE * 3,
                "chip size"
            );
        }
        Err(e) => {
            let text = e.to_string();
            let prefix = if e.is_too_large() {
                "image too large"
            } else {
                "not a valid image"
            };
            assert!(text.starts_with(prefix), "{text:?}");
        }
    }
}

/// The `dat` target (dlib's `.dat` readers: the primitives of
/// `faces::photo::dat` and the face ResNet's loader): any bytes, read two
/// ways. As a program of reads, the same cursor giving each read's opcode
/// byte then its value: every read fails or advances within the bytes
/// present, and a string, vector, matrix or tensor never holds more than
/// the bytes it consumed justify. As a model file: loading never panics,
/// and a model that loads gives a descriptor.
///
/// ```
/// rollcall::fuzzing::dat(&[0, 0x01, 0x05, 9, 0x08, 0xff, 0xff]);
/// rollcall::fuzzing::dat(b"");
/// ```
pub fn dat(data: &[u8]) {
    use crate::faces::photo::dat::{Reader, MIN_FLOAT_BYTES};
    let mut r = Reader::new(data);
    while let Ok(op) = r.byte("opcode") {
        let before = r.offset();
        // The fewest bytes the value read must have taken.
        let least = match op % 12 {
            0 => r.u64("u64").map(|_| 2),
            1 => r.i64("i64").map(|_| 2),
            2 => r.i32("i32").map(|_| 2),
            3 => r.u32("u32").map(|_| 2),
            4 => r.i16("i16").map(|_| 2),
            5 => r.f32("f32").map(|_| MIN_FLOAT_BYTES),
            6 => r.f64("f64").map(|_| MIN_FLOAT_BYTES),
            7 => r.bool("bool").map(|_| 1),
            8 => r.string("string").map(|s| s.len() + 2),
            9 => r
                .vec(MIN_FLOAT_BYTES, "vector", |r| r.f32("element"))
                .map(|v| v.len() * MIN_FLOAT_BYTES + 2),
            10 => r.matrix_f64("matrix").map(|m| {
                assert_eq!(m.data.len(), m.rows * m.cols, "matrix size");
                m.data.len() * MIN_FLOAT_BYTES + 4
            }),
            _ => r.tensor("tensor").map(|t| {
                assert_eq!(t.data.len(), t.n * t.k * t.nr * t.nc, "tensor size");
                t.data.len() * 4 + 10
            }),
        };
        let after = r.offset();
        assert!(
            after <= data.len(),
            "read past the end: {after} > {}",
            data.len()
        );
        match least {
            Ok(least) => assert!(
                after - before >= least,
                "opcode {op} at {before}: {} bytes for a value of at least {least}",
                after - before
            ),
            Err(e) => {
                let _ = e.to_string();
                break;
            }
        }
    }
    match crate::faces::FaceNet::from_bytes(data) {
        Ok(net) => {
            let chip = [128; crate::faces::CHIP_BYTES];
            assert!(
                net.descriptor(&chip).is_ok(),
                "a loaded model refuses a chip"
            );
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// `(name, bytes)` of every seed of `fuzz/corpus/<target>/`.
    fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        out.sort();
        out
    }

    /// How far a log decodes: the end of the last whole record, and
    /// whether it stopped at a corrupt (not a torn) record.
    fn log_end(data: &[u8]) -> (usize, bool) {
        let mut pos = 0;
        loop {
            match next_record(data, pos) {
                Ok(Some((_, next))) => pos = next,
                Ok(None) => return (pos, false),
                Err(_) => return (pos, true),
            }
        }
    }

    #[test]
    fn npy_seeds_decode_as_their_names_say() {
        for (name, data) in seeds("npy") {
            let r = decode_npy(&data, usize::MAX);
            assert_eq!(r.is_ok(), name.starts_with("valid-"), "{name}: {r:?}");
        }
    }

    #[test]
    fn photo_seeds_decode_as_their_names_say() {
        use crate::faces::photo::decode::decode;
        for (name, data) in seeds("photo_decode") {
            let r = decode(&data);
            assert_eq!(r.is_ok(), name.starts_with("valid-"), "{name}: {r:?}");
            let too_large = r.as_ref().is_err_and(|e| e.is_too_large());
            assert_eq!(too_large, name.starts_with("bomb-"), "{name}: {r:?}");
        }
    }

    #[test]
    fn snapshot_seeds_decode_as_their_names_say() {
        for (name, data) in seeds("faces_snapshot") {
            let r = decode_snapshot(&mut &data[..], data.len() as u64);
            assert_eq!(r.is_ok(), name.starts_with("valid-"), "{name}: {r:?}");
        }
    }

    #[test]
    fn log_seeds_decode_as_their_names_say() {
        for (name, data) in seeds("faces_log") {
            let (end, corrupt) = log_end(&data);
            let whole = end == data.len() && !corrupt;
            if name.starts_with("valid-payload") || name.ends_with("-payload") {
                let r = decode_record(&data);
                assert_eq!(r.is_ok(), name.starts_with("valid-"), "{name}: {r:?}");
            } else if name.ends_with("-framed") {
                assert!(corrupt, "{name}: decodes to byte {end}");
            } else if ["truncated", "crc", "huge"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                assert!(!corrupt && end < data.len(), "{name}: not a torn tail");
            } else {
                assert!(whole, "{name}: stops at byte {end}");
            }
        }
    }
}
