//! 16-bit-alphabet FSE (tANS) with the reference's NCount header, table construction and framing:
//! 1-state (no magic, no count), 2-state (`FF 02`, count u32 LE) and 4-state (`FF 04`).
//!
//! The encoder follows the reference's table-log choice and normalisation exactly, so its output is
//! byte-identical whenever the reference succeeds. Where the reference panics or refuses (too many
//! distinct symbols for its table, every symbol unique, output not smaller than the input) this
//! encoder raises the table log or skips the refusal and still writes a valid stream.

use crate::bits::{BackwardReader, WINDOW_MIN_BITS};
use crate::error::{corrupt, invalid, Result};

const MIN_TABLE_LOG: u32 = 5;
const MAX_TABLE_LOG: u32 = 16;
/// The reference decoder accepts table logs up to 17.
const DECODER_MAX_TABLE_LOG: u32 = 17;
const DEFAULT_TABLE_LOG: u8 = 11;
const MAX_SYMBOLS: usize = 1 << 16;

pub const MAGIC_2STATE: [u8; 2] = [0xFF, 0x02];
pub const MAGIC_4STATE: [u8; 2] = [0xFF, 0x04];

/// Go's `bits.Len32(v) - 1`, wrapping to u32::MAX for 0 like the reference.
#[inline(always)]
fn high_bit(v: u32) -> u32 {
    (31u32).wrapping_sub(v.leading_zeros())
}

#[inline(always)]
fn table_step(size: u32) -> u32 {
    (size >> 1) + (size >> 3) + 3
}

/// Logical shift that yields 0 for shift >= 32, as Go does.
#[inline(always)]
fn shr(v: u32, s: u32) -> u32 {
    if s >= 32 {
        0
    } else {
        v >> s
    }
}

#[inline(always)]
fn shl(v: u32, s: u32) -> u32 {
    if s >= 32 {
        0
    } else {
        v << s
    }
}

struct Histogram {
    counts: Vec<u32>,
    symbol_len: usize,
    max_count: u32,
}

fn histogram(words: &[u16]) -> Histogram {
    // Two interleaved tables avoid store-to-load stalls on runs of the same symbol.
    // Sized by the largest word (a vectorised pass): small alphabets then need small, cheap tables.
    let size = words.iter().copied().max().map_or(1, |m| m as usize + 1);
    let mut a = vec![0u32; size];
    let mut b = vec![0u32; size];
    let mut pairs = words.chunks_exact(2);
    for p in &mut pairs {
        a[p[0] as usize] += 1;
        b[p[1] as usize] += 1;
    }
    for &w in pairs.remainder() {
        a[w as usize] += 1;
    }
    let mut symbol_len = 0;
    let mut max_count = 0;
    for (i, (x, y)) in a.iter_mut().zip(&b).enumerate() {
        *x += *y;
        if *x != 0 {
            symbol_len = i + 1;
            max_count = max_count.max(*x);
        }
    }
    a.truncate(symbol_len);
    Histogram { counts: a, symbol_len, max_count }
}

/// The reference's (HEAD) table-log choice.
fn choose_table_log(n: u32, symbol_len: u32) -> u32 {
    let mut table_log = DEFAULT_TABLE_LOG;
    let min_bits_src = high_bit(n - 1).wrapping_add(1);
    let min_bits_symbols = high_bit(symbol_len - 1).wrapping_add(2);
    let min_bits = min_bits_src.min(min_bits_symbols) as u8;
    let max_bits_src = (high_bit(n - 1) as u8).wrapping_sub(2);
    if max_bits_src < table_log {
        table_log = max_bits_src;
    }
    if min_bits > table_log {
        table_log = min_bits;
    }
    let density = n / symbol_len;
    if symbol_len > 512 && density > 16 && table_log < 13 {
        table_log = 13;
    } else if (density > 64 && symbol_len > 256 && table_log < 12)
        || (density > 32 && symbol_len > 128 && table_log < 12)
    {
        table_log = 12;
    }
    if max_bits_src < table_log {
        table_log = max_bits_src;
    }
    (table_log as u32).clamp(MIN_TABLE_LOG, MAX_TABLE_LOG)
}

const RTB_TABLE: [u64; 8] = [0, 473195, 504333, 520860, 550000, 700000, 750000, 830000];

/// zstd-style normalisation (with the secondary method as fallback), as in the reference.
fn normalize(counts: &[u32], total: u32, table_log: u32) -> Option<Vec<i32>> {
    let scale = 62 - table_log as u64;
    let step = (1u64 << 62) / total as u64;
    let v_step = 1u64 << (scale - 20);
    let mut still_to_distribute: i32 = 1 << table_log;
    let low_threshold = total >> table_log;
    let mut norm = vec![0i32; counts.len()];
    let (mut largest, mut largest_p) = (0usize, 0i32);
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if c <= low_threshold {
            norm[i] = -1;
            still_to_distribute -= 1;
        } else {
            let mut proba = ((c as u64 * step) >> scale) as i32;
            if proba < 8 {
                let rest_to_beat = v_step * RTB_TABLE[proba as usize];
                let v = (c as u64 * step).wrapping_sub((proba as u64) << scale);
                if v > rest_to_beat {
                    proba += 1;
                }
            }
            if proba > largest_p {
                largest_p = proba;
                largest = i;
            }
            norm[i] = proba;
            still_to_distribute -= proba;
        }
    }
    if -still_to_distribute >= (norm[largest] >> 1) {
        return normalize_secondary(counts, total, table_log);
    }
    norm[largest] += still_to_distribute;
    Some(norm)
}

fn normalize_secondary(counts: &[u32], total: u32, table_log: u32) -> Option<Vec<i32>> {
    const UNASSIGNED: i32 = -2;
    let mut norm = vec![0i32; counts.len()];
    let mut distributed: u32 = 0;
    let mut total = total;
    let low_threshold = total >> table_log;
    let mut low_one = ((total as u64 * 3) >> (table_log + 1)) as u32;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if c <= low_threshold {
            norm[i] = -1;
            distributed += 1;
            total -= c;
        } else if c <= low_one {
            norm[i] = 1;
            distributed += 1;
            total -= c;
        } else {
            norm[i] = UNASSIGNED;
        }
    }
    let mut to_distribute = (1u32 << table_log).checked_sub(distributed)?;
    if to_distribute == 0 {
        return None;
    }
    if total / to_distribute > low_one {
        low_one = ((total as u64 * 3) / (to_distribute as u64 * 2)) as u32;
        for (i, &c) in counts.iter().enumerate() {
            if norm[i] == UNASSIGNED && c <= low_one {
                norm[i] = 1;
                distributed += 1;
                total -= c;
            }
        }
        to_distribute = (1u32 << table_log).checked_sub(distributed)?;
    }
    if distributed as usize == counts.len() + 1 {
        let (max_i, _) = counts.iter().enumerate().max_by_key(|&(i, &c)| (c, std::cmp::Reverse(i)))?;
        norm[max_i] += to_distribute as i32;
        return Some(norm);
    }
    if total == 0 {
        if !norm.iter().any(|&v| v > 0) {
            return None;
        }
        let mut i = 0;
        while to_distribute > 0 {
            if norm[i] > 0 {
                to_distribute -= 1;
                norm[i] += 1;
            }
            i = (i + 1) % counts.len();
        }
        return Some(norm);
    }
    let v_step_log = 62 - table_log as u64;
    let mid = (1u64 << (v_step_log - 1)) - 1;
    let r_step = ((1u64 << v_step_log) * to_distribute as u64 + mid) / total as u64;
    let mut tmp_total = mid;
    for (i, &c) in counts.iter().enumerate() {
        if norm[i] == UNASSIGNED {
            let end = tmp_total + c as u64 * r_step;
            let weight = (end >> v_step_log) as u32 - (tmp_total >> v_step_log) as u32;
            if weight < 1 {
                return None;
            }
            norm[i] = weight as i32;
            tmp_total = end;
        }
    }
    Some(norm)
}

/// A normalised table is usable when every present symbol has a slot and the slots sum to 2^log.
fn norm_is_valid(norm: &[i32], counts: &[u32], table_log: u32) -> bool {
    let mut total: i64 = 0;
    for (&v, &c) in norm.iter().zip(counts) {
        if v < -1 || (c == 0) != (v == 0) {
            return false;
        }
        total += if v == -1 { 1 } else { v as i64 };
    }
    total == 1i64 << table_log
}

/// Writes the NCount header (the zstd `FSE_writeNCount` format, 32-bit accumulator as the reference).
fn write_ncount(norm: &[i32], table_log: u32, out: &mut Vec<u8>) {
    let table_size = 1i32 << table_log;
    let mut bit_stream: u32 = table_log - MIN_TABLE_LOG;
    let mut bit_count: u32 = 4;
    let mut remaining: i32 = table_size + 1;
    let mut threshold: i32 = table_size;
    let mut nb_bits: u32 = table_log + 1;
    let mut previous0 = false;
    let mut charnum = 0usize;
    let flush16 = |bit_stream: &mut u32, bit_count: &mut u32, out: &mut Vec<u8>| {
        out.push(*bit_stream as u8);
        out.push((*bit_stream >> 8) as u8);
        *bit_stream = shr(*bit_stream, 16);
        *bit_count -= 16;
    };
    while remaining > 1 {
        if previous0 {
            let mut start = charnum;
            while norm[charnum] == 0 {
                charnum += 1;
            }
            while charnum >= start + 24 {
                start += 24;
                bit_stream = bit_stream.wrapping_add(shl(0xFFFF, bit_count));
                out.push(bit_stream as u8);
                out.push((bit_stream >> 8) as u8);
                bit_stream = shr(bit_stream, 16);
            }
            while charnum >= start + 3 {
                start += 3;
                bit_stream = bit_stream.wrapping_add(shl(3, bit_count));
                bit_count += 2;
            }
            bit_stream = bit_stream.wrapping_add(shl((charnum - start) as u32, bit_count));
            bit_count += 2;
            if bit_count > 16 {
                flush16(&mut bit_stream, &mut bit_count, out);
            }
        }
        let mut count = norm[charnum];
        charnum += 1;
        let max = (2 * threshold - 1) - remaining;
        remaining -= count.abs();
        count += 1;
        if count >= threshold {
            count += max;
        }
        bit_stream = bit_stream.wrapping_add(shl(count as u32, bit_count));
        bit_count += nb_bits;
        if count < max {
            bit_count -= 1;
        }
        previous0 = count == 1;
        while remaining < threshold {
            nb_bits -= 1;
            threshold >>= 1;
        }
        if bit_count > 16 {
            flush16(&mut bit_stream, &mut bit_count, out);
        }
    }
    for k in 0..bit_count.div_ceil(8) {
        out.push((bit_stream >> (8 * k)) as u8);
    }
}

/// Reads the NCount header, mirroring the reference's reader (including its handling of the last
/// bytes of the buffer). Returns the normalised counts, the table log and the header length.
fn read_ncount(data: &[u8]) -> Result<(Vec<i32>, u32, usize)> {
    let len = data.len() as i64;
    if len < 4 {
        return corrupt("FSE header needs at least 4 bytes");
    }
    let rd32 = |off: i64| -> u32 {
        let mut v = 0u32;
        for k in 0..4i64 {
            let i = off + k;
            if i >= 0 && i < len {
                v |= (data[i as usize] as u32) << (8 * k);
            }
        }
        v
    };
    let iend = len;
    let mut off: i64 = 0;
    let mut bit_stream = rd32(off);
    let table_log = (bit_stream & 0xF) + MIN_TABLE_LOG;
    if table_log > DECODER_MAX_TABLE_LOG {
        return corrupt(format!("FSE table log {table_log} exceeds {DECODER_MAX_TABLE_LOG}"));
    }
    let mut nb_bits = table_log + 1;
    bit_stream >>= 4;
    let mut bit_count: u32 = 4;
    let mut remaining: i32 = (1 << table_log) + 1;
    let mut threshold: i32 = 1 << table_log;
    let mut got_total: i64 = 0;
    let mut norm: Vec<i32> = Vec::new();
    let mut previous0 = false;
    while remaining > 1 {
        if previous0 {
            let mut n0 = norm.len();
            while bit_stream & 0xFFFF == 0xFFFF {
                n0 += 24;
                if n0 > MAX_SYMBOLS {
                    return corrupt("FSE header declares more than 65536 symbols");
                }
                if off < iend - 5 {
                    off += 2;
                    bit_stream = shr(rd32(off), bit_count);
                } else {
                    bit_stream = shr(bit_stream, 16);
                    bit_count += 16;
                }
            }
            while bit_stream & 3 == 3 {
                n0 += 3;
                bit_stream >>= 2;
                bit_count += 2;
            }
            n0 += (bit_stream & 3) as usize;
            bit_count += 2;
            if n0 > MAX_SYMBOLS - 1 {
                return corrupt("FSE header declares more than 65536 symbols");
            }
            norm.resize(n0, 0);
            if off <= iend - 7 || off + (bit_count >> 3) as i64 <= iend - 4 {
                off += (bit_count >> 3) as i64;
                bit_count &= 7;
                bit_stream = shr(rd32(off), bit_count);
            } else {
                bit_stream >>= 2;
            }
        }
        if threshold <= 0 || nb_bits == 0 {
            return corrupt("FSE header is inconsistent");
        }
        let max = (2 * threshold - 1) - remaining;
        let mut count: i32;
        if ((bit_stream as i32) & (threshold - 1)) < max {
            count = (bit_stream as i32) & (threshold - 1);
            bit_count += nb_bits - 1;
        } else {
            count = (bit_stream as i32) & (2 * threshold - 1);
            if count >= threshold {
                count -= max;
            }
            bit_count += nb_bits;
        }
        count -= 1;
        remaining -= count.abs();
        got_total += count.abs() as i64;
        if norm.len() >= MAX_SYMBOLS {
            return corrupt("FSE header declares more than 65536 symbols");
        }
        norm.push(count);
        previous0 = count == 0;
        if remaining < 1 {
            return corrupt("FSE header counts exceed the table size");
        }
        while remaining < threshold {
            nb_bits = nb_bits.wrapping_sub(1);
            threshold >>= 1;
        }
        if off <= iend - 7 || off + (bit_count >> 3) as i64 <= iend - 4 {
            off += (bit_count >> 3) as i64;
            bit_count &= 7;
        } else {
            let shift = 8 * (iend - 4 - off);
            let new_count = bit_count as i64 - shift;
            if !(0..=64).contains(&new_count) {
                return corrupt("FSE header runs past the end of the stream");
            }
            bit_count = new_count as u32;
            off = iend - 4;
        }
        bit_stream = shr(rd32(off), bit_count & 31);
    }
    if norm.len() <= 1 {
        return corrupt(format!("FSE header declares {} symbol(s); at least 2 are needed", norm.len()));
    }
    if remaining != 1 || bit_count > 32 || got_total != 1i64 << table_log {
        return corrupt("FSE header counts do not sum to the table size");
    }
    let header_len = off + ((bit_count + 7) >> 3) as i64;
    if header_len > len {
        return corrupt("FSE header runs past the end of the stream");
    }
    Ok((norm, table_log, header_len as usize))
}

/// Spreads the symbols over the table; low-probability (-1) symbols go at the top.
fn spread_symbols(norm: &[i32], table_log: u32) -> Option<Vec<u16>> {
    let size = 1u32 << table_log;
    let mask = size - 1;
    let mut table = vec![0u16; size as usize];
    let mut high_threshold = size as i64 - 1;
    for (s, &v) in norm.iter().enumerate() {
        if v == -1 {
            if high_threshold < 0 {
                return None;
            }
            table[high_threshold as usize] = s as u16;
            high_threshold -= 1;
        }
    }
    let step = table_step(size);
    let mut position = 0u32;
    for (s, &v) in norm.iter().enumerate() {
        for _ in 0..v.max(0) {
            table[position as usize] = s as u16;
            position = (position + step) & mask;
            while position as i64 > high_threshold {
                position = (position + step) & mask;
            }
        }
    }
    (position == 0).then_some(table)
}

struct EncodeTable {
    table_log: u32,
    state_table: Vec<u32>,
    /// Per symbol: (delta_find_state, delta_nb_bits).
    transforms: Vec<(i32, u32)>,
}

fn build_encode_table(norm: &[i32], table_log: u32) -> Option<EncodeTable> {
    let size = 1u32 << table_log;
    let spread = spread_symbols(norm, table_log)?;
    let mut cumul = vec![0u32; norm.len() + 1];
    for (s, &v) in norm.iter().enumerate() {
        cumul[s + 1] = cumul[s] + if v == -1 { 1 } else { v.max(0) as u32 };
    }
    if cumul[norm.len()] != size {
        return None;
    }
    let mut state_table = vec![0u32; size as usize];
    for (u, &s) in spread.iter().enumerate() {
        state_table[cumul[s as usize] as usize] = size + u as u32;
        cumul[s as usize] += 1;
    }
    let mut transforms = vec![(0i32, 0u32); norm.len()];
    let mut total: i32 = 0;
    for (s, &v) in norm.iter().enumerate() {
        match v {
            0 => {}
            -1 | 1 => {
                transforms[s] = (total - 1, (table_log << 16).wrapping_sub(1 << table_log));
                total += 1;
            }
            _ => {
                let max_bits_out = table_log - high_bit((v - 1) as u32);
                let min_state_plus = (v as u32) << max_bits_out;
                transforms[s] = (total - v, (max_bits_out << 16).wrapping_sub(min_state_plus));
                total += v;
            }
        }
    }
    Some(EncodeTable { table_log, state_table, transforms })
}

/// Chooses the table (reference rules first, then the smallest larger table log that works).
fn plan(words: &[u16]) -> Result<(Vec<i32>, EncodeTable)> {
    let n = words.len();
    if n < 2 {
        return invalid("FSE needs at least 2 words");
    }
    if n > (2usize << 30) - 1 {
        return invalid("FSE input must be below 2^31 words");
    }
    let h = histogram(words);
    if h.max_count as usize == n {
        return invalid("FSE cannot code a stream of one repeated symbol");
    }
    let mut table_log = choose_table_log(n as u32, h.symbol_len as u32);
    loop {
        if let Some(norm) = normalize(&h.counts, n as u32, table_log) {
            if norm_is_valid(&norm, &h.counts, table_log) {
                if let Some(table) = build_encode_table(&norm, table_log) {
                    return Ok((norm, table));
                }
            }
        }
        if table_log >= MAX_TABLE_LOG {
            return invalid("FSE could not build a table for this input");
        }
        table_log += 1;
    }
}

/// Encodes `words` with `n_states` interleaved states (symbol i uses state i mod n_states).
pub fn encode(words: &[u16], n_states: usize) -> Result<Vec<u8>> {
    let (norm, table) = plan(words)?;
    let mut out = Vec::with_capacity(words.len() * 2 + 64);
    match n_states {
        1 => {}
        2 => out.extend_from_slice(&MAGIC_2STATE),
        4 => out.extend_from_slice(&MAGIC_4STATE),
        _ => return invalid(format!("{n_states}-state FSE is not supported")),
    }
    if n_states > 1 {
        out.extend_from_slice(&(words.len() as u32).to_le_bytes());
    }
    write_ncount(&norm, table.table_log, &mut out);

    Ok(match n_states {
        1 => encode_states::<1>(words, &table, out),
        2 => encode_states::<2>(words, &table, out),
        _ => encode_states::<4>(words, &table, out),
    })
}

/// LSB-first bit sink for the encoder's hot loop: the same bytes as [`LsbWriter`], but written into
/// a buffer sized up front (no growth check) with a branchless flush (8 bytes stored, the whole
/// bytes among them kept). Held in a local so its fields stay in registers.
struct BitSink<'a> {
    buf: &'a mut [u8],
    pos: usize,
    acc: u64,
    pending: u32,
}

impl BitSink<'_> {
    /// Appends the low `n` bits of `value`; `n <= 16`, and at most 56 bits may be pending after it.
    #[inline(always)]
    fn put(&mut self, value: u32, n: u32) {
        debug_assert!(n <= 16 && self.pending + n <= 56);
        self.acc |= (value as u64 & ((1u64 << n) - 1)) << self.pending;
        self.pending += n;
    }

    /// Stores the pending bits and advances past the whole bytes among them (at most 7 bits stay).
    /// Needs 8 bytes of room at `pos`: the caller sizes `buf` for every bit plus 8 bytes of slack.
    #[inline(always)]
    fn flush(&mut self) {
        self.buf[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
        let whole = self.pending & !7; // <= 56 bits, so the shift below stays under 64
        self.pos += (whole >> 3) as usize;
        self.acc >>= whole;
        self.pending &= 7;
    }
}

/// Encodes symbol i with state i mod K, walking backwards so the decoder reads forwards, then
/// writes the final states last-first (the decoder reads state 0 first) and the end mark. `K` is a
/// constant so the states stay in registers and the K dependency chains interleave.
fn encode_states<const K: usize>(words: &[u16], table: &EncodeTable, mut out: Vec<u8>) -> Vec<u8> {
    let tl = table.table_log;
    let (tt, st) = (&table.transforms[..], &table.state_table[..]);
    let start = out.len();
    // Every symbol and final state takes at most table_log <= 16 bits; end mark; 8 bytes of slack.
    out.resize(start + 2 * (words.len() + K) + 1 + 8, 0);
    let mut w = BitSink { buf: &mut out[start..], pos: 0, acc: 0, pending: 0 };
    let mut states = [1u32 << tl; K];
    #[inline(always)]
    fn encode_one(state: &mut u32, symbol: u16, tt: &[(i32, u32)], st: &[u32], w: &mut BitSink) {
        let (find_state, nb_bits_delta) = tt[symbol as usize];
        let nb_bits_out = state.wrapping_add(nb_bits_delta) >> 16;
        w.put(*state, nb_bits_out);
        *state = st[((*state >> nb_bits_out) as i32 + find_state) as usize];
    }
    let whole = words.len() - words.len() % K;
    for j in (whole..words.len()).rev() {
        encode_one(&mut states[j % K], words[j], tt, st, &mut w);
        w.flush();
    }
    for chunk in words[..whole].chunks_exact(K).rev() {
        for k in (0..K).rev() {
            encode_one(&mut states[k], chunk[k], tt, st, &mut w);
            if k % 2 == 0 {
                w.flush(); // at most 7 + 2 x 16 bits were pending
            }
        }
    }
    for k in (0..K).rev() {
        w.put(states[k], tl);
        w.flush();
    }
    w.put(1, 1);
    w.flush();
    let len = start + w.pos + w.pending.div_ceil(8) as usize;
    out.truncate(len);
    out
}

/// The decoding table, split in two: per state `new_state << 5 | nb_bits` (4 bytes: the lookup the
/// next state waits for) and the symbol (2 bytes, off that dependency chain). Measured faster than
/// one 8-byte entry per state on every golden image, and not only where the 8-byte table (512 KiB at
/// table log 16) leaves the cache: the state chain then waits on one load and two one-cycle ops.
struct DecodeTable {
    states: Vec<u32>,
    symbols: Vec<u16>,
}

impl DecodeTable {
    /// `(symbol, nb_bits, new_state)` of a state (below the table size, see [`build_decode_table`]).
    #[inline(always)]
    fn get(&self, state: u32) -> (u16, u32, u32) {
        let e = self.states[state as usize];
        (self.symbols[state as usize], e & 31, e >> 5)
    }
}

fn build_decode_table(norm: &[i32], table_log: u32) -> Result<DecodeTable> {
    let size = 1u32 << table_log;
    let Some(spread) = spread_symbols(norm, table_log) else {
        return corrupt("FSE table does not spread evenly");
    };
    let mut next: Vec<u32> = norm.iter().map(|&v| if v == -1 { 1 } else { v.max(0) as u32 }).collect();
    let mut states = Vec::with_capacity(size as usize);
    for (u, &s) in spread.iter().enumerate() {
        let next_state = next[s as usize];
        next[s as usize] += 1;
        let nb_bits = table_log.wrapping_sub(high_bit(next_state));
        if nb_bits > table_log {
            return corrupt("FSE table is inconsistent");
        }
        let new_state = (next_state << nb_bits).wrapping_sub(size);
        // Every successor state (new_state + any nb_bits-bit value) must stay inside the table:
        // the decoders index the table with it and rely on it never failing.
        if new_state >= size
            || new_state as u64 + (1u64 << nb_bits) > size as u64
            || (new_state == u as u32 && nb_bits == 0)
        {
            return corrupt("FSE table is inconsistent");
        }
        // new_state < 2^17 and nb_bits <= 17 (table log <= 17): both fit side by side.
        states.push(new_state << 5 | nb_bits);
    }
    Ok(DecodeTable { states, symbols: spread })
}

/// Most bits one symbol can take (table log <= 17).
const MAX_SYMBOL_BITS: usize = DECODER_MAX_TABLE_LOG as usize;
/// Words decoded per refill of [`FseWords`]: a multiple of 4 so every block but the last starts
/// with state A, small enough to stay in L1 next to the table.
const BLOCK_WORDS: usize = 512;

/// FSE decoder producing words one block at a time. Detects 1-, 2- and 4-state streams by their
/// magic, like the reference's `FSEDecompressU16Auto`.
pub struct FseWords<'a> {
    reader: BackwardReader<'a>,
    table: DecodeTable,
    states: [u32; 4],
    n_states: usize,
    /// Counted (multi-state) streams: words not yet decoded. 1-state streams carry no count.
    left: usize,
    /// 1-state streams: the end was reached (or `max_words`, beyond which only junk can follow).
    ended: bool,
    produced: usize,
    max_words: usize,
    block: Box<[u16; BLOCK_WORDS]>,
    block_len: usize,
    head: usize,
}

impl<'a> FseWords<'a> {
    /// Parses the framing and NCount header. `max_words` bounds the output: a 1-state stream has no
    /// count and may run on with junk symbols; a counted stream claiming more is refused.
    pub fn new(data: &'a [u8], max_words: usize) -> Result<Self> {
        let (n_states, count, rest) = if data.len() >= 2 && data[0] == 0xFF {
            let n_states = match data[1] {
                0x02 => 2,
                0x04 => 4,
                0x84 => return corrupt("8-state FSE streams (magic FF 84) are not supported"),
                0x08 => return corrupt("8-state rANS streams (magic FF 08) are not supported"),
                other => return corrupt(format!("unknown FSE stream magic FF {other:02X}")),
            };
            if data.len() < 6 {
                return corrupt("multi-state FSE stream is shorter than its 6-byte prefix");
            }
            let count = u32::from_le_bytes([data[2], data[3], data[4], data[5]]) as usize;
            if count > max_words {
                return corrupt(format!(
                    "FSE stream claims {count} words, more than the image can use ({max_words})"
                ));
            }
            (n_states, count, &data[6..])
        } else {
            (1, 0, data)
        };
        let (norm, table_log, header_len) = read_ncount(rest)?;
        let table = build_decode_table(&norm, table_log)?;
        let mut reader = BackwardReader::new(&rest[header_len..])?;
        let mut states = [0u32; 4];
        for s in states.iter_mut().take(n_states) {
            *s = reader.read(table_log)?;
        }
        Ok(FseWords {
            reader,
            table,
            states,
            n_states,
            left: count,
            ended: false,
            produced: 0,
            max_words,
            block: Box::new([0; BLOCK_WORDS]),
            block_len: 0,
            head: 0,
        })
    }

    pub fn refill(&mut self) -> Result<()> {
        self.block_len = 0;
        self.head = 0;
        let (reader, states, block) = (&mut self.reader, &mut self.states, &mut self.block);
        let (t, ended, left) = (&self.table, &mut self.ended, &mut self.left);
        let n = match self.n_states {
            1 => Self::refill_single(t, reader, &mut states[0], block, ended, self.produced, self.max_words)?,
            2 => Self::refill_counted::<2>(t, reader, states, block, left)?,
            _ => Self::refill_counted::<4>(t, reader, states, block, left)?,
        };
        self.block_len = n;
        self.produced += n;
        Ok(())
    }

    /// Counted streams: the next min(BLOCK_WORDS, left) words. Fast path: one 49-bit window serves
    /// two symbols (2 x 17 bits at most). States stay below the table size (checked when the table
    /// was built), so `table[state]` never fails.
    fn refill_counted<const K: usize>(
        table: &DecodeTable,
        r: &mut BackwardReader,
        states: &mut [u32; 4],
        block: &mut [u16; BLOCK_WORDS],
        left: &mut usize,
    ) -> Result<usize> {
        let n = (*left).min(BLOCK_WORDS);
        *left -= n;
        let out = &mut block[..n];
        let mut st: [u32; K] = std::array::from_fn(|k| states[k]);
        let round_bits = WINDOW_MIN_BITS.max(2 * MAX_SYMBOL_BITS);
        let mut done = 0;
        while done + K <= n && r.remaining() >= round_bits * K / 2 {
            for pair in 0..K / 2 {
                let mut w = r.window();
                let (s0, nb0, new0) = table.get(st[2 * pair]);
                let (s1, nb1, new1) = table.get(st[2 * pair + 1]);
                out[done + 2 * pair] = s0;
                out[done + 2 * pair + 1] = s1;
                st[2 * pair] = new0 + w.read(nb0);
                st[2 * pair + 1] = new1 + w.read(nb1);
                r.commit(&w);
            }
            done += K;
        }
        // Tail of the block (and of the stream): checked reads, round-robin from state A.
        for i in done..n {
            let state = &mut st[i % K];
            let (symbol, nb_bits, new_state) = table.get(*state);
            out[i] = symbol;
            *state = new_state + r.read(nb_bits)?;
        }
        states[..K].copy_from_slice(&st);
        Ok(n)
    }

    /// 1-state streams: no count; stop once every bit is consumed and the current state needs bits.
    fn refill_single(
        table: &DecodeTable,
        r: &mut BackwardReader,
        state_slot: &mut u32,
        out: &mut [u16; BLOCK_WORDS],
        ended: &mut bool,
        produced: usize,
        max_words: usize,
    ) -> Result<usize> {
        if *ended {
            return Ok(0);
        }
        let mut state = *state_slot;
        let mut len = 0usize;
        let budget = (max_words - produced.min(max_words)).min(BLOCK_WORDS);
        // Fast path while far from the end of the bits, so the stop test cannot fire inside it.
        let margin = WINDOW_MIN_BITS + 2 * MAX_SYMBOL_BITS;
        while len + 2 <= budget && r.remaining() >= margin {
            let mut w = r.window();
            let (s1, nb1, new1) = table.get(state);
            state = new1 + w.read(nb1);
            let (s2, nb2, new2) = table.get(state);
            state = new2 + w.read(nb2);
            r.commit(&w);
            out[len] = s1;
            out[len + 1] = s2;
            len += 2;
        }
        while len < BLOCK_WORDS {
            let (symbol, nb_bits, new_state) = table.get(state);
            if r.remaining() == 0 && nb_bits > 0 {
                if state != 0 {
                    out[len] = symbol;
                    len += 1;
                }
                *ended = true;
                break;
            }
            if produced + len >= max_words {
                *ended = true; // only junk can follow: the image needs no more words
                break;
            }
            out[len] = symbol;
            len += 1;
            state = new_state + r.read(nb_bits)?;
        }
        *state_slot = state;
        Ok(len)
    }

    pub fn exhausted(&self) -> bool {
        if self.n_states == 1 {
            self.ended
        } else {
            self.left == 0
        }
    }
}

/// Decodes a whole FSE stream (any state count) into its word stream.
pub fn decode(data: &[u8], max_words: usize) -> Result<Vec<u16>> {
    let mut source = FseWords::new(data, max_words)?;
    let mut out = Vec::new();
    loop {
        out.extend_from_slice(&source.block[source.head..source.block_len]);
        source.head = source.block_len;
        if source.exhausted() {
            break;
        }
        source.refill()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_words() -> Vec<u16> {
        (0..20000u32).map(|i| ((i.wrapping_mul(2654435761) >> 20) % 300 + (i % 7) * 10) as u16).collect()
    }

    #[test]
    fn round_trip_all_state_counts() {
        let words = sample_words();
        for n in [1, 2, 4] {
            let enc = encode(&words, n).unwrap();
            let dec = decode(&enc, words.len() * 4).unwrap();
            assert_eq!(&dec[..words.len()], &words[..], "{n}-state");
        }
    }

    #[test]
    fn all_unique_symbols_still_encode() {
        let words: Vec<u16> = (0..1000u16).map(|i| i * 60).collect();
        for n in [1, 2, 4] {
            let enc = encode(&words, n).unwrap();
            assert_eq!(&decode(&enc, 4000).unwrap()[..1000], &words[..]);
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut x = 12345u32;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = decode(&data, 10000);
        }
    }
}
