//! Table-driven decoder: one lookup of the next 12 bits yields up to `MAX_SYMBOLS_PER_LOOKUP` whole
//! symbols at once, with no bit-by-bit tree walk.
//!
//! Malformed input is reported through `HuffmanError`: every slice access below is either bounds-
//! checked by the loop condition right before it or goes through a checked accessor, so no input can
//! make the decoder panic, read out of bounds or loop forever (each lookup consumes at least one bit
//! and the output length is fixed in advance).

use crate::code::{CodeLengths, MAX_CODE_LEN};
use crate::error::HuffmanError;
use crate::streams::{self, STREAMS};

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

/// Position of one stream's decoder: bits consumed from its bitstream, bytes written to its output.
#[derive(Clone, Copy, Default)]
struct Cursor {
    bit_pos: usize,
    produced: usize,
}

impl Cursor {
    /// Whether a fast round (one 8-byte read, `LOOKUPS_PER_REFILL` lookups with 8-byte stores) fits.
    /// Each lookup stores 8 bytes but advances by its symbol count (<= 6), so a round needs 32 bytes.
    fn can_fast(&self, bitstream: &[u8], out: &[u8]) -> bool {
        self.produced + LOOKUPS_PER_REFILL * 8 <= out.len() && (self.bit_pos >> 3) + 8 <= bitstream.len()
    }

    /// At least 57 valid bits starting at `bit_pos`, left-aligned. Only called when `can_fast` holds.
    fn refill(&self, bitstream: &[u8]) -> u64 {
        let start = self.bit_pos >> 3;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bitstream[start..start + 8]);
        u64::from_be_bytes(raw) << (self.bit_pos & 7)
    }

    /// One multi-symbol lookup from `window` (which it then advances).
    #[inline(always)]
    fn lookup(&mut self, table: &DecodeTable, window: &mut u64, out: &mut [u8]) -> Result<(), HuffmanError> {
        let entry = table.lookup(*window);
        let count = entry_count(entry);
        if count == 0 {
            return Err(HuffmanError::InvalidCode {
                bit_offset: self.bit_pos as u64,
            });
        }
        out[self.produced..self.produced + 8].copy_from_slice(&(entry >> 16).to_le_bytes());
        self.produced += count;
        let used = entry_total_bits(entry);
        *window <<= used;
        self.bit_pos += used as usize;
        Ok(())
    }

    /// Decode the rest of one stream: fast rounds while they fit, then one symbol per lookup up to
    /// the exact output length, then check that the bitstream was consumed exactly.
    fn finish(&mut self, table: &DecodeTable, bitstream: &[u8], out: &mut [u8]) -> Result<(), HuffmanError> {
        while self.can_fast(bitstream, out) {
            let mut window = self.refill(bitstream);
            for _ in 0..LOOKUPS_PER_REFILL {
                self.lookup(table, &mut window, out)?;
            }
        }
        let n = out.len();
        while self.produced < n {
            let start = self.bit_pos >> 3;
            if start >= bitstream.len() {
                return Err(HuffmanError::Truncated(format!(
                    "a {}-byte bitstream ends after {} of its {n} bytes were decoded",
                    bitstream.len(),
                    self.produced
                )));
            }
            let window = read_be_u64_padded(bitstream, start) << (self.bit_pos & 7);
            let entry = table.lookup(window);
            if entry_count(entry) == 0 {
                return Err(HuffmanError::InvalidCode {
                    bit_offset: self.bit_pos as u64,
                });
            }
            out[self.produced] = (entry >> 16) as u8;
            self.produced += 1;
            self.bit_pos += entry_first_len(entry) as usize;
        }
        check_end(bitstream, self.bit_pos)
    }
}

/// The bitstream must end exactly after the last codeword: no missing bits, no extra bytes, and zero
/// padding bits (any of these means the file was damaged).
fn check_end(bitstream: &[u8], bit_pos: usize) -> Result<(), HuffmanError> {
    let total_bits = bitstream.len() * 8;
    if bit_pos > total_bits {
        return Err(HuffmanError::Truncated(format!(
            "the last codeword needs {} bits beyond the end of its bitstream",
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
    if padding > 0 && bitstream[bitstream.len() - 1] & ((1u8 << padding) - 1) != 0 {
        return Err(HuffmanError::TrailingData(
            "the padding bits of the last byte are not zero".into(),
        ));
    }
    Ok(())
}

/// Decode the `STREAMS` bitstreams into the consecutive segments of `out` (see `streams.rs`).
pub fn decode_into(
    table: &DecodeTable,
    bitstreams: &[&[u8]; STREAMS],
    out: &mut [u8],
) -> Result<(), HuffmanError> {
    let total = out.len();
    let mut outs: Vec<&mut [u8]> = Vec::with_capacity(STREAMS);
    let mut rest = out;
    for index in 0..STREAMS {
        let (segment, after) = rest.split_at_mut(streams::segment(total, index).len());
        outs.push(segment);
        rest = after;
    }
    let mut cursors = [Cursor::default(); STREAMS];
    // Lockstep rounds over all streams: independent lookup chains the CPU can overlap.
    while (0..STREAMS).all(|s| cursors[s].can_fast(bitstreams[s], &outs[s][..])) {
        let mut windows = [0u64; STREAMS];
        for s in 0..STREAMS {
            windows[s] = cursors[s].refill(bitstreams[s]);
        }
        for _ in 0..LOOKUPS_PER_REFILL {
            for s in 0..STREAMS {
                cursors[s].lookup(table, &mut windows[s], &mut outs[s][..])?;
            }
        }
    }
    for s in 0..STREAMS {
        cursors[s].finish(table, bitstreams[s], &mut outs[s][..])?;
    }
    Ok(())
}
