//! Bit-level readers and writers for the two conventions MIC uses:
//! MSB-first forward streams (Huffman) and LSB-first streams read backwards (FSE).
//!
//! Readers never index out of bounds: loads past the end of the buffer see zero bytes, and the
//! callers compare the consumed bit count against the real length to detect truncation.

use crate::error::{corrupt, Result};

#[inline(always)]
fn mask32(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Reads 8 bytes big-endian at `byte`, treating bytes past the end as zero.
#[inline(always)]
pub fn load_be64(data: &[u8], byte: usize) -> u64 {
    if let Some(chunk) = data.get(byte..byte.wrapping_add(8)) {
        u64::from_be_bytes(chunk.try_into().unwrap_or([0; 8]))
    } else {
        let mut buf = [0u8; 8];
        if byte < data.len() {
            let tail = &data[byte..];
            buf[..tail.len()].copy_from_slice(tail);
        }
        u64::from_be_bytes(buf)
    }
}

/// Reads 8 bytes little-endian at `byte`, treating bytes past the end as zero.
#[inline(always)]
fn load_le64(data: &[u8], byte: usize) -> u64 {
    if let Some(chunk) = data.get(byte..byte.wrapping_add(8)) {
        u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
    } else {
        let mut buf = [0u8; 8];
        if byte < data.len() {
            let tail = &data[byte..];
            buf[..tail.len()].copy_from_slice(tail);
        }
        u64::from_le_bytes(buf)
    }
}

/// MSB-first writer (Huffman): the first bit written is the top bit of the first byte.
pub struct MsbWriter {
    pub out: Vec<u8>,
    acc: u64,
    pending: u32,
}

impl MsbWriter {
    pub fn with_capacity(cap: usize) -> Self {
        MsbWriter { out: Vec::with_capacity(cap), acc: 0, pending: 0 }
    }

    /// Appends the low `n` bits of `value` (n <= 32).
    #[inline(always)]
    pub fn put(&mut self, value: u32, n: u32) {
        debug_assert!(n <= 32);
        // `acc` only needs to hold pending (< 32) + n (<= 32) bits; older bits shift out harmlessly.
        self.acc = if n == 0 { self.acc } else { (self.acc << n) | (value as u64 & mask32(n)) };
        self.pending += n;
        if self.pending >= 32 {
            self.pending -= 32;
            self.out.extend_from_slice(&((self.acc >> self.pending) as u32).to_be_bytes());
        }
    }

    /// Writes the pending bits, zero-padded to a whole byte.
    pub fn finish(mut self) -> Vec<u8> {
        while self.pending >= 8 {
            self.pending -= 8;
            self.out.push((self.acc >> self.pending) as u8);
        }
        if self.pending > 0 {
            self.out.push((self.acc << (8 - self.pending)) as u8);
        }
        self.out
    }
}

/// MSB-first reader (Huffman) with a bit position; reads past the end return zero bits.
pub struct MsbReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> MsbReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        MsbReader { data, pos: 0 }
    }

    #[inline(always)]
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    pub fn total_bits(&self) -> usize {
        self.data.len() * 8
    }

    /// Returns the next `n` bits (n <= 32) without consuming them.
    #[inline(always)]
    pub fn peek(&self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let window = load_be64(self.data, self.pos >> 3) << (self.pos & 7);
        (window >> (64 - n)) as u32
    }

    #[inline(always)]
    pub fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `n` bits (n <= 32), failing if they extend past the end of the buffer.
    pub fn read_checked(&mut self, n: u32, what: &str) -> Result<u32> {
        if self.pos + n as usize > self.total_bits() {
            return corrupt(format!("truncated while reading {what}"));
        }
        let v = self.peek(n);
        self.skip(n);
        Ok(v)
    }
}

/// LSB-first writer (FSE): the first bit written is bit 0 of the first byte.
pub struct LsbWriter {
    pub out: Vec<u8>,
    acc: u64,
    pending: u32,
}

impl LsbWriter {
    pub fn new(out: Vec<u8>) -> Self {
        LsbWriter { out, acc: 0, pending: 0 }
    }

    /// Appends the low `n` bits of `value` (n <= 32).
    #[inline(always)]
    pub fn put(&mut self, value: u32, n: u32) {
        self.acc |= (value as u64 & mask32(n)) << self.pending;
        self.pending += n;
        if self.pending >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.pending -= 32;
        }
    }

    /// Writes the end mark (a single 1 bit) and the remaining bytes.
    pub fn finish_with_end_mark(mut self) -> Vec<u8> {
        self.put(1, 1);
        let bytes = self.pending.div_ceil(8);
        for i in 0..bytes {
            self.out.push((self.acc >> (8 * i)) as u8);
        }
        self.out
    }
}

/// Fewest unread bits for which [`BackwardReader::window`] may be used.
pub const WINDOW_MIN_BITS: usize = 49;

/// 64 bits of an FSE payload, read from bit `top` downwards; `top` is between 49 and 56 when the
/// window is loaded, so up to 49 bits can be read without any bounds check.
pub struct Window {
    bits: u64,
    top: u32,
    base: usize,
}

impl Window {
    /// Reads `n` bits (n <= top): the shift stays below 64 because top < 64.
    #[inline(always)]
    pub fn read(&mut self, n: u32) -> u32 {
        self.top -= n;
        ((self.bits >> self.top) & mask32(n)) as u32
    }
}

/// Reader for an LSB-first stream consumed from its end (FSE): the last bit written is read first.
pub struct BackwardReader<'a> {
    data: &'a [u8],
    /// Number of bits not yet consumed; the next read takes the bits just below this position.
    remaining: usize,
}

impl<'a> BackwardReader<'a> {
    /// Locates the end mark (highest set bit of the last byte).
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let Some(&last) = data.last() else {
            return corrupt("FSE payload is empty");
        };
        if last == 0 {
            return corrupt("FSE payload has no end mark (last byte is zero)");
        }
        let mark_bit = 7 - last.leading_zeros() as usize;
        Ok(BackwardReader { data, remaining: (data.len() - 1) * 8 + mark_bit })
    }

    #[inline(always)]
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Loads a window of the bits just below the read position for unchecked fast reads.
    /// Requires `remaining() >= WINDOW_MIN_BITS`; the window then holds at least 49 unread bits.
    #[inline(always)]
    pub fn window(&self) -> Window {
        debug_assert!(self.remaining >= WINDOW_MIN_BITS);
        let byte = (self.remaining - WINDOW_MIN_BITS) >> 3;
        Window { bits: load_le64(self.data, byte), top: (self.remaining - byte * 8) as u32, base: byte * 8 }
    }

    /// Continues after a window: everything read from it is consumed.
    #[inline(always)]
    pub fn commit(&mut self, window: &Window) {
        self.remaining = window.base + window.top as usize;
    }

    /// Reads `n` bits (n <= 32); fails when fewer than `n` bits remain.
    #[inline(always)]
    pub fn read(&mut self, n: u32) -> Result<u32> {
        let n_us = n as usize;
        if n_us > self.remaining {
            return corrupt("FSE payload ended before all symbols were decoded");
        }
        self.remaining -= n_us;
        if n == 0 {
            return Ok(0);
        }
        let start = self.remaining;
        let window = load_le64(self.data, start >> 3) >> (start & 7);
        Ok((window & mask32(n)) as u32)
    }
}
