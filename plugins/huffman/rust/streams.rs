//! The interleaved-stream layout of a Huffman payload.
//!
//! The input is cut into `STREAMS` consecutive segments of `ceil(n / STREAMS)` bytes (the last ones may be
//! shorter or empty), each coded into its own bitstream with the same code. Decoding the segments in
//! lockstep gives the CPU independent dependency chains (the next lookup of one stream depends on the
//! previous one, but not on the other streams), which is what makes table decoding fast on
//! incompressible-looking data where each lookup yields only about one symbol.
//!
//! Payload = code-length table (128 bytes) + byte lengths of streams 0..STREAMS-1 (u64 LE each; the
//! last stream runs to the end of the payload) + the streams back to back.

use crate::error::HuffmanError;

pub const STREAMS: usize = 4;
pub const STREAM_SIZES_BYTES: usize = 8 * (STREAMS - 1);

/// The byte range of segment `index` for an input of `total` bytes.
pub fn segment(total: usize, index: usize) -> std::ops::Range<usize> {
    let length = total.div_ceil(STREAMS);
    let start = (index * length).min(total);
    let end = ((index + 1) * length).min(total);
    start..end
}

/// Write the sizes of the first `STREAMS - 1` streams.
pub fn write_sizes(sizes: &[usize; STREAMS], out: &mut [u8]) {
    for (slot, size) in out.chunks_exact_mut(8).zip(sizes.iter()) {
        slot.copy_from_slice(&(*size as u64).to_le_bytes());
    }
}

/// Split `body` (everything after the code-length table) into the streams, checking every size.
pub fn split(body: &[u8]) -> Result<[&[u8]; STREAMS], HuffmanError> {
    let sizes = body.get(..STREAM_SIZES_BYTES).ok_or_else(|| {
        HuffmanError::Truncated(format!(
            "the stream-size table needs {STREAM_SIZES_BYTES} bytes but only {} are present",
            body.len()
        ))
    })?;
    let mut rest = &body[STREAM_SIZES_BYTES..];
    let mut streams: [&[u8]; STREAMS] = [&[]; STREAMS];
    for (index, raw) in sizes.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(raw);
        let size = u64::from_le_bytes(word);
        if size > rest.len() as u64 {
            return Err(HuffmanError::Truncated(format!(
                "stream {index} is announced with {size} bytes but only {} remain",
                rest.len()
            )));
        }
        let (head, tail) = rest.split_at(size as usize);
        streams[index] = head;
        rest = tail;
    }
    streams[STREAMS - 1] = rest;
    Ok(streams)
}
