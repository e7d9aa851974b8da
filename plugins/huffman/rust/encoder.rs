//! Encoder: byte stream -> code-length table + stream sizes + `STREAMS` MSB-first bitstreams.
//!
//! The exact output size is known from the histograms before any bit is written, so the caller can
//! decide to store the file raw instead (never-expand rule) without paying for a wasted encode, and
//! the output buffer is allocated once at its final size.

use crate::code::{self, CodeLengths, Histogram, LENGTH_TABLE_BYTES, MAX_CODE_LEN};
use crate::streams::{self, STREAMS, STREAM_SIZES_BYTES};

/// What encoding a buffer would produce, computed from its histograms only.
pub struct Plan {
    pub lengths: CodeLengths,
    /// Byte size of each segment's bitstream.
    pub stream_bytes: [usize; STREAMS],
    /// Size of the complete payload: length table + stream sizes + bitstreams.
    pub payload_bytes: usize,
}

pub fn plan(data: &[u8]) -> Plan {
    let segment_histograms: Vec<Histogram> = (0..STREAMS)
        .map(|s| code::histogram(&data[streams::segment(data.len(), s)]))
        .collect();
    let mut total = [0u64; 256];
    for histogram in &segment_histograms {
        for (sum, count) in total.iter_mut().zip(histogram.iter()) {
            *sum += count;
        }
    }
    let lengths = code::code_lengths(&total, MAX_CODE_LEN);
    let mut stream_bytes = [0usize; STREAMS];
    for (bytes, histogram) in stream_bytes.iter_mut().zip(&segment_histograms) {
        *bytes = code::encoded_bits(histogram, &lengths).div_ceil(8) as usize;
    }
    let payload_bytes = LENGTH_TABLE_BYTES + STREAM_SIZES_BYTES + stream_bytes.iter().sum::<usize>();
    Plan {
        lengths,
        stream_bytes,
        payload_bytes,
    }
}

/// Write the payload for `data` into `out`, which must be exactly `plan.payload_bytes` long, and `plan`
/// must come from `plan(data)` (both guaranteed by the only caller, `lib.rs`).
pub fn encode_into(data: &[u8], plan: &Plan, out: &mut [u8]) {
    let (table, rest) = out.split_at_mut(LENGTH_TABLE_BYTES);
    code::write_lengths(&plan.lengths, table);
    let (sizes, mut bitstreams) = rest.split_at_mut(STREAM_SIZES_BYTES);
    streams::write_sizes(&plan.stream_bytes, sizes);
    let codes = code::canonical_codes(&plan.lengths);
    // One table lookup per byte: codeword in the high bits, its length in the low 4 bits.
    let mut packed = [0u32; 256];
    for symbol in 0..256 {
        packed[symbol] = ((codes[symbol] as u32) << 4) | plan.lengths[symbol] as u32;
    }
    for (index, &bytes) in plan.stream_bytes.iter().enumerate() {
        let (stream, after) = bitstreams.split_at_mut(bytes.min(bitstreams.len()));
        encode_segment(&data[streams::segment(data.len(), index)], &packed, stream);
        bitstreams = after;
    }
}

fn encode_segment(segment: &[u8], packed: &[u32; 256], bitstream: &mut [u8]) {
    // 64-bit accumulator; pending bits are right-aligned. Codes are at most 12 bits and we flush as
    // soon as 32 bits are pending, so at most 43 bits are ever significant.
    let mut acc: u64 = 0;
    let mut pending: u32 = 0;
    let mut words = bitstream.chunks_exact_mut(4);
    let mut written = 0usize;
    for &byte in segment {
        let entry = packed[byte as usize];
        let len = entry & 0xF;
        acc = (acc << len) | (entry >> 4) as u64;
        pending += len;
        if pending >= 32 {
            pending -= 32;
            if let Some(word) = words.next() {
                word.copy_from_slice(&((acc >> pending) as u32).to_be_bytes());
                written += 4;
            }
        }
    }
    // The last 0..=31 pending bits, left-aligned and padded with zero bits: up to four more bytes,
    // which may be a whole 4-byte chunk, so they are addressed from `written`, not the chunk remainder.
    let mut last = if pending > 0 { acc << (64 - pending) } else { 0 };
    for byte in bitstream.iter_mut().skip(written) {
        *byte = (last >> 56) as u8;
        last <<= 8;
    }
}
