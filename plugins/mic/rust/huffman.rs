//! Canonical Huffman over the 16-bit word stream, depth-limited, with the reference's header and
//! table layout (see docs/codecs/mic.md and the shared MIC format notes, section 2.3).

use crate::bits::{MsbReader, MsbWriter};
use crate::delta_rle::bit_len16;
use crate::error::{corrupt, invalid, Result};

/// Longest code allowed for the frequent-symbol prefix; adding the escape symbol may add one.
const PREFIX_MAX_CODE_LEN: u32 = 14;

/// Code lengths of a minimum-redundancy code (Moffat & Katajainen, in place) for weights sorted in
/// ascending order. The returned lengths are non-increasing (first entry = longest code).
fn code_lengths_ascending(weights: &[u64]) -> Vec<u32> {
    let n = weights.len();
    let mut a: Vec<u64> = weights.to_vec();
    match n {
        0 => return Vec::new(),
        1 => return vec![0],
        _ => {}
    }
    // Phase 1: build the tree in place; internal nodes store their weight, then their parent.
    a[0] += a[1];
    let (mut root, mut leaf) = (0usize, 2usize);
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u64;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] += a[root];
            a[root] = next as u64;
            root += 1;
        } else {
            a[next] += a[leaf];
            leaf += 1;
        }
    }
    // Phase 2: parent pointers -> internal node depths.
    a[n - 2] = 0;
    for next in (0..n.saturating_sub(2)).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    // Phase 3: internal depths -> leaf depths.
    let (mut available, mut used, mut depth) = (1i64, 0i64, 0u64);
    let mut root = n as i64 - 2;
    let mut next = n as i64 - 1;
    while available > 0 {
        while root >= 0 && a[root as usize] == depth {
            used += 1;
            root -= 1;
        }
        while available > used {
            a[next as usize] = depth;
            next -= 1;
            available -= 1;
        }
        available = 2 * used;
        depth += 1;
        used = 0;
    }
    a.into_iter().map(|d| d as u32).collect()
}

/// One table entry, in table order (ascending frequency, so the longest codes come first).
#[derive(Clone, Copy)]
struct TableEntry {
    symbol: u16,
    length: u32,
}

/// Assigns canonical codes: shortest length first starting at 0, in table order within a length.
fn canonical_codes(entries: &[TableEntry], max_len: u32) -> Option<Vec<u32>> {
    let mut per_length = vec![0u64; max_len as usize + 1];
    for e in entries {
        per_length[e.length as usize] += 1;
    }
    let mut start = vec![0u64; max_len as usize + 1];
    let mut prev: Option<usize> = None;
    for len in 1..=max_len as usize {
        if per_length[len] == 0 {
            continue;
        }
        start[len] = match prev {
            None => 0,
            Some(p) => (start[p] + per_length[p]) << (len - p),
        };
        if start[len] + per_length[len] > (1u64 << len) {
            return None; // over-subscribed code
        }
        prev = Some(len);
    }
    let mut next = start;
    Some(
        entries
            .iter()
            .map(|e| {
                let c = next[e.length as usize];
                next[e.length as usize] += 1;
                c as u32
            })
            .collect(),
    )
}

/// Encodes the word stream.
pub fn encode(words: &[u16]) -> Result<Vec<u8>> {
    if words.is_empty() || words.len() > u32::MAX as usize {
        return invalid("Huffman input must hold 1 to 2^32-1 words");
    }
    // Sized by the largest word (a vectorised pass): small alphabets then need small, cheap tables.
    let max_word = words.iter().copied().max().unwrap_or(0);
    let mut histogram = vec![0u64; max_word as usize + 1];
    for &w in words {
        histogram[w as usize] += 1;
    }
    let depth = bit_len16(max_word);
    if depth == 0 {
        return invalid("Huffman input is all zero words");
    }
    let escape = ((1u32 << depth) - 1) as u16;

    // Most frequent first; ties by symbol so the output is deterministic.
    let mut by_freq: Vec<(u16, u64)> = (0..=max_word as usize)
        .filter(|&s| histogram[s] > 0 && s != escape as usize)
        .map(|s| (s as u16, histogram[s]))
        .collect();
    by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

    let ascending_weights = |k: usize| -> Vec<u64> { by_freq[..k].iter().rev().map(|e| e.1).collect() };
    let longest = |k: usize| -> u32 { code_lengths_ascending(&ascending_weights(k)).first().copied().unwrap_or(0) };

    // Largest prefix of frequent symbols whose code fits in PREFIX_MAX_CODE_LEN bits.
    let (mut lo, mut hi) = (0usize, by_freq.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if longest(mid) <= PREFIX_MAX_CODE_LEN {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    // Add the escape symbol carrying every word left out; shrink the prefix if codes grow too long.
    let mut kept = lo;
    let (table, lengths, max_len) = loop {
        let selected: u64 = by_freq[..kept].iter().map(|e| e.1).sum();
        let escape_weight = words.len() as u64 - selected;
        let mut table: Vec<(u16, u64)> = by_freq[..kept].to_vec();
        table.push((escape, escape_weight));
        table.sort_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        let weights: Vec<u64> = table.iter().map(|e| e.1).collect();
        let lengths = code_lengths_ascending(&weights);
        let max_len = lengths.first().copied().unwrap_or(0);
        if max_len + depth <= 32 && max_len <= 16 {
            break (table, lengths, max_len);
        }
        kept -= 1;
    };
    let entries: Vec<TableEntry> =
        table.iter().zip(&lengths).map(|(e, &l)| TableEntry { symbol: e.0, length: l }).collect();
    let codes = canonical_codes(&entries, max_len).expect("Huffman lengths satisfy Kraft");

    // Direct lookup symbol -> (code, length, escaped?); everything else goes through the escape.
    let escape_index = entries.iter().position(|e| e.symbol == escape).expect("escape is in the table");
    let (escape_code, escape_len) = (codes[escape_index], entries[escape_index].length);
    let mut lookup: Vec<(u32, u32, bool)> = vec![(escape_code, escape_len, true); 1 << depth];
    for (e, &c) in entries.iter().zip(&codes) {
        if e.symbol != escape {
            lookup[e.symbol as usize] = (c, e.length, false);
        }
    }

    let length_bits = 8 - (max_len as u8).leading_zeros();
    let mut w = MsbWriter::with_capacity(words.len() * 2 + entries.len() * 4 + 16);
    w.put(words.len() as u32, 32);
    w.put(max_word as u32, 16);
    w.put(max_len, 8);
    w.put(entries.len() as u32, 16);
    for e in &entries {
        w.put(e.symbol as u32, depth);
    }
    for e in &entries {
        w.put(e.length, length_bits);
    }
    for &word in words {
        let (code, len, escaped) = lookup[word as usize];
        if escaped {
            // code + raw word in one write: len <= 16 and depth <= 16 keep it within 32 bits.
            w.put((code << depth) | word as u32, len + depth);
        } else {
            w.put(code, len);
        }
    }
    // The reference decoder keeps a (max_len + depth)-bit look-ahead window: pad it with zeros.
    w.put(0, max_len + depth);
    Ok(w.finish())
}

/// Two-level decoding table: a primary table indexed by the first `primary_bits` bits, and
/// sub-tables for longer codes, so the common (short) codes hit a table that fits in L1 cache.
/// Entry = `symbol | length << 16 | ESCAPE`, or `LINK | sub-table offset`; 0 marks an unused code.
struct DecodeTable {
    primary: Vec<u32>,
    /// Indexed like `primary`: up to two whole short codes (no escape) per entry, see `pair_entry`.
    pairs: Vec<u64>,
    secondary: Vec<u32>,
    primary_bits: u32,
    max_len: u32,
    depth: u32,
}

const ENTRY_ESCAPE: u32 = 1 << 24;
const ENTRY_LINK: u32 = 1 << 31;
/// 2^12 primary entries (16 KiB) plus the pair table (32 KiB): the best trade-off measured on MR/CT.
const PRIMARY_BITS: u32 = 12;

/// For the `bits`-bit prefix `index`: the one or two plain (non-escape) symbols whose codes lie wholly
/// inside it. Layout: symbol 1 in bits 0-15, symbol 2 in 16-31, total code length in 32-39, symbol
/// count (0 = use the general path) in 40-41, length of the first code alone in 42-47.
fn pair_entry(primary: &[u32], index: usize, bits: u32) -> u64 {
    let plain = |entry: u32| entry != 0 && entry & (ENTRY_LINK | ENTRY_ESCAPE) == 0;
    let first = primary[index];
    if !plain(first) {
        return 0;
    }
    let len1 = (first >> 16) & 0xFF;
    let mut value = (first & 0xFFFF) as u64 | (len1 as u64) << 32 | 1u64 << 40 | (len1 as u64) << 42;
    let rest = bits - len1;
    if rest > 0 {
        let second = primary[(index << len1) & ((1usize << bits) - 1)];
        let len2 = (second >> 16) & 0xFF;
        if plain(second) && len2 <= rest {
            value = (first & 0xFFFF) as u64
                | ((second & 0xFFFF) as u64) << 16
                | ((len1 + len2) as u64) << 32
                | 2u64 << 40
                | (len1 as u64) << 42;
        }
    }
    value
}

impl DecodeTable {
    fn build(entries: &[TableEntry], codes: &[u32], max_len: u32, depth: u32, escape: u16) -> Self {
        let primary_bits = max_len.min(PRIMARY_BITS);
        let sub_bits = max_len - primary_bits;
        let mut primary = vec![0u32; 1usize << primary_bits];
        let mut secondary: Vec<u32> = Vec::new();
        for (e, &code) in entries.iter().zip(codes) {
            let flag = if e.symbol == escape { ENTRY_ESCAPE } else { 0 };
            let value = e.symbol as u32 | (e.length << 16) | flag;
            if e.length <= primary_bits {
                let first = (code as usize) << (primary_bits - e.length);
                primary[first..first + (1usize << (primary_bits - e.length))].fill(value);
            } else {
                let prefix = (code >> (e.length - primary_bits)) as usize;
                if primary[prefix] & ENTRY_LINK == 0 {
                    primary[prefix] = ENTRY_LINK | secondary.len() as u32;
                    secondary.resize(secondary.len() + (1usize << sub_bits), 0);
                }
                let base = (primary[prefix] & !ENTRY_LINK) as usize;
                let rest = (code as usize) & ((1usize << (e.length - primary_bits)) - 1);
                let first = base + (rest << (max_len - e.length));
                secondary[first..first + (1usize << (max_len - e.length))].fill(value);
            }
        }
        let pairs = (0..primary.len()).map(|index| pair_entry(&primary, index, primary_bits)).collect();
        DecodeTable { primary, pairs, secondary, primary_bits, max_len, depth }
    }

    /// Looks up the code at the top of a left-aligned window (max_len >= 1).
    #[inline(always)]
    fn lookup(&self, w: u64) -> u32 {
        let entry = self.primary[(w >> (64 - self.primary_bits)) as usize];
        if entry & ENTRY_LINK == 0 {
            return entry;
        }
        let sub_bits = self.max_len - self.primary_bits;
        let index = ((w << self.primary_bits) >> (64 - sub_bits)) as usize;
        self.secondary.get((entry & !ENTRY_LINK) as usize + index).copied().unwrap_or(0)
    }
}

fn read_table(r: &mut MsbReader) -> Result<(usize, DecodeTable)> {
    let count = r.read_checked(32, "Huffman word count")? as usize;
    let max_word = r.read_checked(16, "Huffman max value")? as u16;
    let max_len = r.read_checked(8, "Huffman max code length")?;
    let n_entries = r.read_checked(16, "Huffman table size")? as usize;
    let depth = bit_len16(max_word);
    if depth == 0 {
        return corrupt("Huffman max value is 0");
    }
    if max_len > 16 || max_len + depth > 32 {
        return corrupt(format!("Huffman max code length {max_len} with depth {depth} exceeds 32 bits"));
    }
    if n_entries == 0 {
        return corrupt("Huffman table is empty");
    }
    let escape = ((1u32 << depth) - 1) as u16;
    let mut entries = Vec::with_capacity(n_entries);
    for _ in 0..n_entries {
        entries.push(TableEntry { symbol: r.read_checked(depth, "Huffman table symbols")? as u16, length: 0 });
    }
    let length_bits = 8 - (max_len as u8).leading_zeros();
    for e in entries.iter_mut() {
        e.length = r.read_checked(length_bits, "Huffman code lengths")?;
        let valid = if max_len == 0 { n_entries == 1 } else { (1..=max_len).contains(&e.length) };
        if !valid {
            return corrupt(format!("Huffman code length {} outside 1..={max_len}", e.length));
        }
    }
    let table = if max_len == 0 {
        let e = entries[0];
        if e.symbol != escape {
            return corrupt("single-entry Huffman table must hold the escape symbol");
        }
        DecodeTable {
            primary: vec![e.symbol as u32 | ENTRY_ESCAPE],
            pairs: vec![0],
            secondary: Vec::new(),
            primary_bits: 0,
            max_len,
            depth,
        }
    } else {
        let Some(codes) = canonical_codes(&entries, max_len) else {
            return corrupt("Huffman code lengths are over-subscribed");
        };
        DecodeTable::build(&entries, &codes, max_len, depth, escape)
    };
    Ok((count, table))
}

/// MSB-first bit container for the decoder: left-aligned `window` with `avail` valid bits.
///
/// Refilling is branchless (libdeflate's technique): load the next 8 bytes, OR them in below the
/// valid bits and advance by the whole bytes that fitted; bits already present are simply written
/// again. After a refill at least 56 bits are valid, which covers any symbol (max_len + depth <= 32).
/// Loads past the end see zero bytes (the encoder pads the stream with zeros); the caller compares
/// `consumed()` with the stream length at the end. A local value, so its fields live in registers.
struct BitWindow<'a> {
    data: &'a [u8],
    next_byte: usize,
    window: u64,
    avail: u32,
}

impl<'a> BitWindow<'a> {
    fn at(data: &'a [u8], bit_position: usize) -> Self {
        let mut w = BitWindow { data, next_byte: bit_position >> 3, window: 0, avail: 0 };
        w.refill();
        w.consume((bit_position & 7) as u32);
        w
    }

    #[inline(always)]
    fn refill(&mut self) {
        // avail < 64 always holds here: it is at most 63 after a refill and only decreases.
        self.window |= crate::bits::load_be64(self.data, self.next_byte) >> self.avail;
        self.next_byte += ((63 - self.avail) >> 3) as usize;
        self.avail |= 56;
    }

    #[inline(always)]
    fn consume(&mut self, bits: u32) {
        self.window <<= bits;
        self.avail -= bits;
    }

    fn consumed(&self) -> usize {
        (self.next_byte * 8).saturating_sub(self.avail as usize)
    }
}

/// One word by the general path (escapes, long codes, the single-entry table).
#[inline(always)]
fn decode_general(table: &DecodeTable, bits: &mut BitWindow) -> Result<u16> {
    let entry = if table.max_len == 0 { table.primary[0] } else { table.lookup(bits.window) };
    if entry == 0 {
        // Valid entries always carry a length or the escape flag; 0 marks an unused code.
        return corrupt("Huffman stream holds a code that is not in its table");
    }
    let length = (entry >> 16) & 0xFF;
    if entry & ENTRY_ESCAPE != 0 {
        let word = ((bits.window << length) >> (64 - table.depth)) as u16;
        bits.consume(length + table.depth);
        Ok(word)
    } else {
        bits.consume(length);
        Ok(entry as u16)
    }
}

/// Decodes a Huffman stream into its word stream; refuses streams claiming more than `max_words`.
pub fn decode(data: &[u8], max_words: usize) -> Result<Vec<u16>> {
    let mut r = MsbReader::new(data);
    let (count, table) = read_table(&mut r)?;
    if count > max_words {
        return corrupt(format!("Huffman stream claims {count} words, more than the image can use ({max_words})"));
    }
    // Every word takes at least one bit: a larger count cannot be genuine (and must not allocate).
    if count > r.total_bits() {
        return corrupt(format!("Huffman stream claims {count} words but holds only {} bits", r.total_bits()));
    }
    let mut bits = BitWindow::at(data, r.position());
    let mut out = vec![0u16; count];
    let mut done = 0;
    if table.max_len > 0 {
        // Short codes two at a time from the pair table; the rest by the general path.
        let primary_bits = table.primary_bits;
        while done + 2 <= count {
            bits.refill();
            let pair = table.pairs[(bits.window >> (64 - primary_bits)) as usize];
            let n = ((pair >> 40) & 3) as usize;
            if n != 0 {
                out[done] = pair as u16;
                out[done + 1] = (pair >> 16) as u16;
                done += n;
                bits.consume(((pair >> 32) & 0xFF) as u32);
            } else {
                out[done] = decode_general(&table, &mut bits)?;
                done += 1;
            }
        }
    }
    while done < count {
        bits.refill();
        out[done] = decode_general(&table, &mut bits)?;
        done += 1;
    }
    if bits.consumed() > r.total_bits() {
        return corrupt("Huffman stream is truncated");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_a_known_distribution() {
        // weights 1,1,2,4 -> lengths 3,3,2,1
        assert_eq!(code_lengths_ascending(&[1, 1, 2, 4]), vec![3, 3, 2, 1]);
    }

    #[test]
    fn round_trip_words() {
        let words: Vec<u16> = (0..5000u32).map(|i| ((i * i) % 977) as u16 + 3).collect();
        let enc = encode(&words).unwrap();
        assert_eq!(decode(&enc, words.len()).unwrap(), words);
    }

    #[test]
    fn truncated_stream_fails() {
        let words: Vec<u16> = (0..5000u32).map(|i| ((i * 31) % 300) as u16).collect();
        let enc = encode(&words).unwrap();
        assert!(decode(&enc[..enc.len() / 2], words.len()).is_err());
    }
}
