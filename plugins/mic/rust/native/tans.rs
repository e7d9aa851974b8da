//! Static tANS (table-based asymmetric numeral systems) over the residual tokens.
//!
//! Every table of a strip has the same size `L = 2^PREC`, so one state per lane can move from one
//! context's table to another's between symbols: decoding with table g maps a state to (token, next
//! state), and the encoder (which runs backwards) applies the inverse map of the same table g.
//! Symbols are spread over the table with FSE's step; the decode entry of each state carries the
//! token's base value and raw-bit count too, so the decoder's hot loop makes one load per pixel.

use super::token;
use crate::error::{corrupt, Result};

/// Table precision: `L = 2^PREC` states. PREC 11 measured within 0.1 % of PREC 12 in the design note,
/// and keeps twelve decode tables at 192 kB.
pub const PREC: u32 = 11;
pub const L: usize = 1 << PREC;
const STEP: usize = (L >> 1) + (L >> 3) + 3; // odd, so it visits every slot once

/// Scales `counts` (one per token) to frequencies summing to exactly `L`; a used token keeps at
/// least frequency 1. Rounding error is moved where it costs the fewest bits.
pub fn normalize(counts: &[u32]) -> Vec<u32> {
    let total: u64 = counts.iter().map(|&c| c as u64).sum();
    let mut freq: Vec<u32> = vec![0; counts.len()];
    if total == 0 {
        return freq;
    }
    let mut sum: i64 = 0;
    for (f, &c) in freq.iter_mut().zip(counts) {
        if c > 0 {
            *f = ((c as u64 * L as u64) / total).max(1) as u32;
            sum += *f as i64;
        }
    }
    // Greedy repair: each step changes the frequency whose change costs the least (or gains most).
    while sum != L as i64 {
        let grow = sum < L as i64;
        let mut best: Option<(f64, usize)> = None;
        for (i, (&f, &c)) in freq.iter().zip(counts).enumerate() {
            if c == 0 || (!grow && f <= 1) {
                continue;
            }
            let f = f as f64;
            // Bits saved by growing (or lost by shrinking) this token's frequency by one.
            let score = if grow {
                c as f64 * ((f + 1.0) / f).log2()
            } else {
                -(c as f64) * (f / (f - 1.0)).log2()
            };
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
        let (_, i) = best.expect("a used token can always absorb the rounding error");
        if grow {
            freq[i] += 1;
            sum += 1;
        } else {
            freq[i] -= 1;
            sum -= 1;
        }
    }
    freq
}

/// Order in which tokens occupy the table slots (FSE's spread).
fn spread(freq: &[u32]) -> Vec<u8> {
    let mut slots = vec![0u8; L];
    let mut pos = 0usize;
    for (symbol, &f) in freq.iter().enumerate() {
        for _ in 0..f {
            slots[pos] = symbol as u8;
            pos = (pos + STEP) & (L - 1);
        }
    }
    slots
}

/// Checks frequencies read from a stream: they must sum to `L` exactly.
pub fn validate(freq: &[u32]) -> Result<()> {
    let sum: u64 = freq.iter().map(|&f| f as u64).sum();
    if sum != L as u64 {
        return corrupt(format!("a tANS table sums to {sum}, not {L}"));
    }
    Ok(())
}

/// One decoder slot: everything the hot loop needs for one state, in 8 bytes.
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct DecodeEntry {
    /// Smallest residual value of the token (before the raw bits are added).
    pub z_base: u16,
    /// Next state = `state_base + (state bits read)`.
    pub state_base: u16,
    /// Bits of this pixel's field: state bits + raw bits.
    pub field_bits: u8,
    pub raw_bits: u8,
    pub token: u8,
    _pad: u8,
}

impl DecodeEntry {
    pub fn state_bits(&self) -> u32 {
        (self.field_bits - self.raw_bits) as u32
    }
}

pub type DecodeTable = [DecodeEntry; L];

/// Builds the decode table of validated frequencies (see [`validate`]).
pub fn decode_table(freq: &[u32]) -> Box<DecodeTable> {
    let mut table = Box::new([DecodeEntry::default(); L]);
    fill_decode_table(freq, &mut table);
    table
}

/// Fills `table` with the decode table of validated frequencies (see [`validate`]).
pub fn fill_decode_table(freq: &[u32], table: &mut DecodeTable) {
    let mut next: Vec<u32> = freq.to_vec();
    for (slot, &symbol) in spread(freq).iter().enumerate() {
        let nx = next[symbol as usize];
        next[symbol as usize] += 1;
        let state_bits = PREC - (31 - nx.leading_zeros());
        let (z_base, raw_bits) = token::base_and_raw_bits(symbol as u32);
        table[slot] = DecodeEntry {
            z_base: z_base as u16,
            state_base: ((nx << state_bits) - L as u32) as u16,
            field_bits: (state_bits + raw_bits) as u8,
            raw_bits: raw_bits as u8,
            token: symbol,
            _pad: 0,
        };
    }
}

/// Per-token constants of the encoder: a state x emits `k - (x < threshold)` bits.
#[derive(Clone, Copy, Default)]
struct TokenCode {
    threshold: u32,
    k: u32,
    /// Index of the token's first state in `states`, minus its frequency.
    offset: i32,
}

/// The encoder's inverse of one decode table.
pub struct EncodeTable {
    codes: [TokenCode; token::TOKENS],
    /// For token t and `x >> nb` = n (freq[t] <= n < 2 freq[t]): the state in [L, 2L) decoding to (t, n).
    states: Vec<u16>,
}

impl EncodeTable {
    pub fn new(freq: &[u32]) -> Self {
        let mut codes = [TokenCode::default(); token::TOKENS];
        let mut start = [0u32; token::TOKENS];
        let mut acc = 0;
        for (t, &f) in freq.iter().enumerate() {
            start[t] = acc;
            acc += f;
            if f > 0 {
                let k = PREC - (31 - f.leading_zeros());
                codes[t] = TokenCode {
                    threshold: f << k,
                    k,
                    offset: acc as i32 - 2 * f as i32,
                };
            }
        }
        let mut states = vec![0u16; L];
        let mut next = freq.to_vec();
        for (slot, &symbol) in spread(freq).iter().enumerate() {
            let s = symbol as usize;
            states[(start[s] + next[s] - freq[s]) as usize] = (slot + L) as u16;
            next[s] += 1;
        }
        EncodeTable { codes, states }
    }

    /// Encodes `token` from state `x` (in [L, 2L)); returns the state bits to emit and their count.
    /// The token must have a frequency (it was counted when the table was built).
    #[inline(always)]
    pub fn encode(&self, token: u32, x: &mut u32) -> (u32, u32) {
        let code = self.codes[token as usize & (token::TOKENS - 1)];
        let nb = code.k - (*x < code.threshold) as u32;
        let bits = *x & ((1 << nb) - 1);
        *x = self.states[(((*x >> nb) as i32 + code.offset) as usize) & (L - 1)] as u32;
        (bits, nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_sums_to_table_size() {
        for counts in [
            vec![1u32],
            vec![5, 0, 3],
            vec![1_000_000, 1, 1, 1],
            (0..64).map(|i| i * i).collect(),
        ] {
            let f = normalize(&counts);
            assert_eq!(f.iter().sum::<u32>(), L as u32);
            for (c, f) in counts.iter().zip(&f) {
                assert_eq!(*c > 0, *f > 0);
            }
        }
    }

    #[test]
    fn encode_then_decode_one_table() {
        let counts: Vec<u32> = (0..20).map(|i| 1000 >> (i / 2)).collect();
        let freq = normalize(&counts);
        let enc = EncodeTable::new(&freq);
        let dec = decode_table(&freq);
        for &t in &[0u32, 3, 19, 7] {
            for x0 in L as u32..2 * L as u32 {
                let mut x = x0;
                let (bits, nb) = enc.encode(t, &mut x);
                let e = dec[x as usize - L];
                assert_eq!(e.token as u32, t);
                assert_eq!(e.state_bits(), nb);
                assert_eq!(e.state_base as u32 + bits + L as u32, x0);
            }
        }
    }
}
