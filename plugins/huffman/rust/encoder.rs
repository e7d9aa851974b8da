//! Encoder: byte stream -> code-length table + MSB-first bitstream.
//!
//! The exact output size is known from the histogram before any bit is written, so the caller can
//! decide to store the file raw instead (never-expand rule) without paying for a wasted encode, and
//! the output buffer is allocated once at its final size.

use crate::code::{self, CodeLengths, Histogram, LENGTH_TABLE_BYTES, MAX_CODE_LEN};

/// What encoding a buffer would produce, computed from its histogram only.
pub struct Plan {
    pub lengths: CodeLengths,
    /// Size of the complete payload: the length table plus the padded bitstream.
    pub payload_bytes: usize,
}

pub fn plan(hist: &Histogram) -> Plan {
    let lengths = code::code_lengths(hist, MAX_CODE_LEN);
    let bits = code::encoded_bits(hist, &lengths);
    let payload_bytes = LENGTH_TABLE_BYTES + bits.div_ceil(8) as usize;
    Plan { lengths, payload_bytes }
}

/// Write the payload for `data` into `out`, which must be exactly `plan.payload_bytes` long and
/// `plan` must come from `data`'s own histogram (both are guaranteed by the only caller, `lib.rs`).
pub fn encode_into(data: &[u8], plan: &Plan, out: &mut [u8]) {
    let (table, bitstream) = out.split_at_mut(LENGTH_TABLE_BYTES);
    code::write_lengths(&plan.lengths, table);
    let codes = code::canonical_codes(&plan.lengths);
    // One table lookup per byte: codeword in the high bits, its length in the low 4 bits.
    let mut packed = [0u32; 256];
    for symbol in 0..256 {
        packed[symbol] = ((codes[symbol] as u32) << 4) | plan.lengths[symbol] as u32;
    }

    // 64-bit accumulator; pending bits are right-aligned. Codes are at most 12 bits and we flush as
    // soon as 32 bits are pending, so at most 43 bits are ever significant.
    let mut acc: u64 = 0;
    let mut pending: u32 = 0;
    let mut words = bitstream.chunks_exact_mut(4);
    let mut written = 0usize;
    for &byte in data {
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
