//! The record framing both engines' logs use: `[len u32][crc32 u32][payload]`,
//! little-endian, the checksum over the payload.
//!
//! Takes in payload bytes; gives out frames, and reads them back one at a
//! time from a log's bytes, telling a torn tail (a frame cut short or
//! failing its checksum: a write that never returned) from a whole frame.

/// A payload framed as in a log: length, checksum, payload.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 8);
    frame.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The payload of the frame starting at byte `pos` of `bytes` and the
/// position after it; `None` at the end or at a torn tail (a frame cut
/// short, a checksum that fails, or an empty payload: no log writes one,
/// and a file extended by a crash reads as zeros, which would otherwise be
/// a valid empty frame).
pub(crate) fn next_frame(bytes: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let head = bytes.get(pos..pos.checked_add(8)?)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len == 0 {
        return None;
    }
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let end = pos.checked_add(8)?.checked_add(len)?;
    let payload = bytes.get(pos + 8..end)?;
    (crc32fast::hash(payload) == crc).then_some((payload, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_every_cut_of_it_is_a_torn_tail() {
        let mut log = frame(b"first");
        log.extend(frame(b"2"));
        assert_eq!(next_frame(&log, 0), Some((&b"first"[..], 13)));
        assert_eq!(next_frame(&log, 13), Some((&b"2"[..], 22)));
        assert_eq!(next_frame(&log, 22), None);
        assert_eq!(next_frame(&[0; 16], 0), None, "zeros are a torn tail");
        for cut in 0..13 {
            assert_eq!(next_frame(&log[..cut], 0), None, "cut at {cut}");
        }
        let mut flipped = log.clone();
        flipped[9] ^= 1;
        assert_eq!(
            next_frame(&flipped, 0),
            None,
            "a failing checksum is a torn tail"
        );
    }
}
