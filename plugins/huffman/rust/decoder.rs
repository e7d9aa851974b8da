//! Table-driven decoder: one lookup of the next 12 bits yields up to `MAX_SYMBOLS_PER_LOOKUP` whole
//! symbols at once, with no bit-by-bit tree walk.
//!
//! Malformed input is reported through `HuffmanError`: every slice access below is either bounds-
//! checked by the loop condition right before it or goes through a checked accessor, so no input can
//! make the decoder panic, read out of bounds or loop forever (each lookup consumes at least one bit
//! and the output length is fixed in advance).

use crate::code::{CodeLengths, MAX_CODE_LEN};
use crate::error::HuffmanError;

const TABLE_BITS: u32 = MAX_CODE_LEN;
const TABLE_SIZE: usize = 1 << TABLE_BITS;

/// Up to six symbols fit in the upper 48 bits of an entry.
const MAX_SYMBOLS_PER_LOOKUP: usize = 6;
/// A refill provides at least 57 valid bits; four lookups use at most 4 * 12 = 48 of them.
const LOOKUPS_PER_REFILL: usize = 4;

// Entry layout (u64):
//   bits  0..4   total bits consumed by all the symbols in the entry (1..=12; 0 = invalid entry)
//   bits  4..8   length of the first symbol alone (used near the end of the output)
//   bits  8..12  number of symbols (0 = no codeword starts with these bits)
//   bits 16..64  the symbols, first one in bits 16..24
fn entry_total_bits(entry: u64) -> u32 {
    (entry & 0xF) as u32
}
fn entry_first_len(entry: u64) -> u32 {
    ((entry >> 4) & 0xF) as u32
}
fn entry_count(entry: u64) -> usize {
    ((entry >> 8) & 0xF) as usize
}

pub struct DecodeTable {
    entries: Vec<u64>,
    /// Shortest codeword: bounds how many symbols a payload can hold.
    pub min_len: u32,
}

impl DecodeTable {
    /// Build the table from lengths already validated by `code::read_lengths` (within the limit, not
    /// over-subscribed). An incomplete code leaves some entries at 0, which the decoder rejects.
    pub fn new(lengths: &CodeLengths) -> DecodeTable {
        let codes = crate::code::canonical_codes(lengths);
        // First pass: the single symbol (and its length) that each 12-bit window starts with.
        let mut single: Vec<(u8, u32)> = vec![(0, 0); TABLE_SIZE];
        let mut min_len = MAX_CODE_LEN;
        for symbol in 0..256usize {
            let len = lengths[symbol] as u32;
            if len == 0 {
                continue;
            }
            min_len = min_len.min(len);
            let first = (codes[symbol] as usize) << (TABLE_BITS - len);
            let span = 1usize << (TABLE_BITS - len);
            // Kraft validation guarantees first + span <= TABLE_SIZE; the iterator clamps anyway.
            for slot in single.iter_mut().skip(first).take(span) {
                *slot = (symbol as u8, len);
            }
        }
        // Second pass: chain further symbols that fit entirely in the same window.
        let mut entries = vec![0u64; TABLE_SIZE];
        for (index, entry) in entries.iter_mut().enumerate() {
            let (first_symbol, first_len) = single[index];
            if first_len == 0 {
                continue;
            }
            let mut used = first_len;
            let mut count = 1usize;
            let mut symbols = first_symbol as u64;
            while count < MAX_SYMBOLS_PER_LOOKUP {
                // The bits after `used`, zero-filled on the right: valid only if the next codeword is
                // no longer than the bits that remain in the window.
                let rest = (index << used) & (TABLE_SIZE - 1);
                let (next_symbol, next_len) = single[rest];
                if next_len == 0 || used + next_len > TABLE_BITS {
                    break;
                }
                symbols |= (next_symbol as u64) << (8 * count);
                used += next_len;
                count += 1;
            }
            *entry = used as u64 | (first_len as u64) << 4 | (count as u64) << 8 | symbols << 16;
        }
        DecodeTable { entries, min_len }
    }

    fn lookup(&self, window: u64) -> u64 {
        // window >> 52 < 4096 = entries.len(); indexing is still checked.
        self.entries[(window >> (64 - TABLE_BITS)) as usize]
    }
}

/// Big-endian 64-bit read at `pos`, zero-filled past the end of `input`.
fn read_be_u64_padded(input: &[u8], pos: usize) -> u64 {
    let mut word = [0u8; 8];
    if pos < input.len() {
        let available = (input.len() - pos).min(8);
        word[..available].copy_from_slice(&input[pos..pos + available]);
    }
    u64::from_be_bytes(word)
}

/// Decode exactly `out.len()` symbols from `bitstream`, which must be consumed exactly: the payload
/// may not end early, and may not carry whole bytes or non-zero padding bits after the last codeword.
pub fn decode_into(table: &DecodeTable, bitstream: &[u8], out: &mut [u8]) -> Result<(), HuffmanError> {
    let n = out.len();
    let invalid = |bit_offset: usize| HuffmanError::InvalidCode { bit_offset: bit_offset as u64 };
    let mut bit_pos: usize = 0;
    let mut produced: usize = 0;

    // Fast path: whole 8-byte reads and 8-byte stores, as long as both fit in their buffers.
    // Each lookup stores 8 bytes but advances by its symbol count (<= 6), so 4 lookups need 32 bytes.
    while produced + LOOKUPS_PER_REFILL * 8 <= n && (bit_pos >> 3) + 8 <= bitstream.len() {
        let start = bit_pos >> 3;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bitstream[start..start + 8]);
        let mut window = u64::from_be_bytes(raw) << (bit_pos & 7);
        for _ in 0..LOOKUPS_PER_REFILL {
            let entry = table.lookup(window);
            let count = entry_count(entry);
            if count == 0 {
                return Err(invalid(bit_pos));
            }
            out[produced..produced + 8].copy_from_slice(&(entry >> 16).to_le_bytes());
            produced += count;
            let used = entry_total_bits(entry);
            window <<= used;
            bit_pos += used as usize;
        }
    }

    // Tail: one symbol per lookup, zero-filled reads, stop at the exact output length.
    while produced < n {
        let start = bit_pos >> 3;
        if start >= bitstream.len() {
            return Err(HuffmanError::Truncated(format!(
                "the bitstream ({} bytes) ends after {produced} of {n} bytes were decoded",
                bitstream.len()
            )));
        }
        let window = read_be_u64_padded(bitstream, start) << (bit_pos & 7);
        let entry = table.lookup(window);
        if entry_count(entry) == 0 {
            return Err(invalid(bit_pos));
        }
        out[produced] = (entry >> 16) as u8;
        produced += 1;
        bit_pos += entry_first_len(entry) as usize;
    }

    let total_bits = bitstream.len() * 8;
    if bit_pos > total_bits {
        return Err(HuffmanError::Truncated(format!(
            "the last codeword needs {} bits beyond the end of the bitstream",
            bit_pos - total_bits
        )));
    }
    if bit_pos.div_ceil(8) != bitstream.len() {
        return Err(HuffmanError::TrailingData(format!(
            "{} unexpected bytes follow the last codeword",
            bitstream.len() - bit_pos.div_ceil(8)
        )));
    }
    let padding = (8 - bit_pos % 8) % 8;
    if padding > 0 {
        let last = bitstream[bitstream.len() - 1];
        if last & ((1u8 << padding) - 1) != 0 {
            return Err(HuffmanError::TrailingData("the padding bits of the last byte are not zero".into()));
        }
    }
    Ok(())
}
