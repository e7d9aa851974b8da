//! Delta stage (average of top and left, threshold + delimiter escape) and the RLE stage
//! (MidCount, minimum run 3) that together turn pixels into the MIC word stream.
//!
//! Word stream layout: `[D][count][value | literals]...`, where the first RLE-coded symbol is the
//! declared max value, and `D = (1 << bitlen(max)) - 1` is both the delta escape and the RLE header.

use crate::error::{corrupt, invalid, Result};

/// Number of bits needed to represent `v` (Go's `bits.Len16`).
#[inline(always)]
pub fn bit_len16(v: u16) -> u32 {
    16 - v.leading_zeros()
}

/// Smallest declared maximum the encoder accepts: below it the RLE MidCount is <= 3 and the
/// reference decoder mis-decodes or panics (see docs/codecs/mic.md, "workarounds").
pub const MIN_DECLARED_MAX: u16 = 8;

/// Threshold and delimiter derived from a declared maximum (depth d = bitlen(max) >= 1).
#[derive(Clone, Copy, Debug)]
pub struct DeltaParams {
    pub threshold: u16,
    pub delimiter: u16,
}

impl DeltaParams {
    pub fn from_max(max_value: u16) -> Option<Self> {
        let depth = bit_len16(max_value);
        if depth == 0 {
            return None;
        }
        Some(DeltaParams {
            threshold: ((1u32 << (depth - 1)) - 1) as u16,
            delimiter: ((1u32 << depth) - 1) as u16,
        })
    }
}

/// RLE MidCount for a given stream header word (`(1 << (bitlen(header) - 1)) - 1`).
pub fn mid_count(header: u16) -> Option<u16> {
    let depth = bit_len16(header);
    if depth == 0 {
        return None;
    }
    Some(((1u32 << (depth - 1)) - 1) as u16)
}

/// Run-length encoder with the reference's buffering rules, so the word stream (and therefore the
/// entropy-coded output) is identical to the reference's.
///
/// The reference keeps a buffer of pending symbols; that buffer is always the most recent input
/// symbols, so here it is the range `symbols[start..i]` of the delta symbols themselves and literal
/// runs are copied out in bulk. Symbols are processed in chunks; only the pending range is kept
/// between chunks, which bounds the extra memory to one chunk plus one maximal run.
struct RunEncoder {
    out: Vec<u16>,
    symbols: Vec<u16>,
    /// First symbol not yet processed.
    next: usize,
    /// Start of the pending range.
    start: usize,
    mid: u16,
    in_same_run: bool,
}

/// Delta symbols processed per chunk.
const CHUNK_SYMBOLS: usize = 1 << 16;

impl RunEncoder {
    fn new(header: u16, mid: u16, capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.push(header);
        RunEncoder {
            out,
            symbols: Vec::with_capacity(CHUNK_SYMBOLS + 2 * mid as usize + 64),
            next: 0,
            start: 0,
            mid,
            in_same_run: false,
        }
    }

    /// Runs the reference's per-symbol rules over the symbols added since the last call.
    fn process(&mut self) {
        let (out, buf, mid) = (&mut self.out, &self.symbols, self.mid);
        // The reference flushes when its buffer reaches MidCount - 1 symbols (u16 arithmetic).
        let flush_at = mid.wrapping_sub(1) as usize;
        let (mut start, mut same) = (self.start, self.in_same_run);
        for i in self.next..buf.len() {
            let pending = i - start;
            if pending < 2 {
                continue; // the reference just appends
            }
            let (older, prev, symbol) = (buf[i - 2], buf[i - 1], buf[i]);
            if older == prev && prev == symbol {
                if !same && pending > 2 {
                    // The literals before the run are flushed; the run keeps its first two symbols.
                    out.push(mid.wrapping_add((pending - 2) as u16));
                    out.extend_from_slice(&buf[start..i - 2]);
                    start = i - 2;
                }
                same = true;
            } else {
                if same && pending > 2 {
                    out.push(pending as u16);
                    out.push(buf[start]);
                    start = i;
                }
                same = false;
            }
            let pending = i - start;
            // Counts must stay below MidCount: flush all but the last two when the buffer fills.
            if pending >= flush_at {
                if same {
                    out.push((pending - 2) as u16);
                    out.push(buf[start]);
                } else {
                    out.push(mid.wrapping_add((pending - 2) as u16));
                    out.extend_from_slice(&buf[start..i - 2]);
                }
                start = i - 2;
            }
        }
        self.in_same_run = same;
        // Keep only the pending range for the next chunk.
        let processed = self.symbols.len();
        self.symbols.drain(..start);
        self.next = processed - start;
        self.start = 0;
    }

    fn finish(mut self) -> Vec<u16> {
        self.process();
        let pending = &self.symbols[self.start..];
        if !pending.is_empty() {
            if self.in_same_run {
                self.out.push(pending.len() as u16);
                self.out.push(pending[0]);
            } else {
                self.out.push(self.mid.wrapping_add(pending.len() as u16));
                self.out.extend_from_slice(pending);
            }
        }
        self.out
    }
}

/// Checks `width * height == pixels` and returns the pixel count.
pub fn checked_area(width: usize, height: usize) -> Result<usize> {
    if width == 0 || height == 0 {
        return invalid(format!("image size {width}x{height} is empty"));
    }
    match width.checked_mul(height) {
        Some(n) if n <= (1usize << 31) => Ok(n),
        _ => invalid(format!("image size {width}x{height} is too large")),
    }
}

/// Pixels -> MIC word stream (Delta + RLE), exactly as the reference produces it.
pub fn encode(pixels: &[u16], width: usize, height: usize, max_value: u16) -> Result<Vec<u16>> {
    let area = checked_area(width, height)?;
    if pixels.len() != area {
        return invalid(format!("{} pixels given for a {width}x{height} image", pixels.len()));
    }
    if max_value < MIN_DECLARED_MAX {
        return invalid(format!(
            "declared max value {max_value} is below {MIN_DECLARED_MAX}; the reference decoder cannot \
             decode such streams"
        ));
    }
    if let Some(&too_big) = pixels.iter().find(|&&p| p > max_value) {
        return invalid(format!("pixel value {too_big} exceeds the declared max value {max_value}"));
    }
    let params = DeltaParams::from_max(max_value).expect("max_value >= 8 has a depth");
    let (t, d) = (params.threshold as i32, params.delimiter);
    let mid = mid_count(d).expect("delimiter is non-zero");
    let mut rle = RunEncoder::new(d, mid, area + area / 8 + 16);
    rle.symbols.push(max_value);

    // One delta symbol, or the escape and the raw pixel when |diff| >= T.
    #[inline(always)]
    fn emit(symbols: &mut Vec<u16>, pixel: u16, pred: i32, t: i32, d: u16) {
        let diff = pixel as i32 - pred;
        if diff.abs() >= t {
            symbols.push(d);
            symbols.push(pixel);
        } else {
            symbols.push((t + diff) as u16);
        }
    }
    for y in 0..height {
        let row = &pixels[y * width..(y + 1) * width];
        let symbols = &mut rle.symbols;
        if y == 0 {
            let mut left = 0i32;
            for &p in row {
                emit(symbols, p, left, t, d);
                left = p as i32;
            }
        } else {
            let above = &pixels[(y - 1) * width..y * width];
            emit(symbols, row[0], above[0] as i32, t, d);
            for x in 1..width {
                let pred = (row[x - 1] as i32 + above[x] as i32) >> 1;
                emit(symbols, row[x], pred, t, d);
            }
        }
        if rle.symbols.len() >= CHUNK_SYMBOLS {
            rle.process();
        }
    }
    Ok(rle.finish())
}

/// RLE decoder with the reference's state machine (`c == 0 || c == MidCount` reads a new header),
/// bounds-checked: reading past the word stream is an error instead of a panic.
pub struct RleReader<'a> {
    words: &'a [u16],
    pos: usize,
    mid: u16,
    count: u16,
    value: u16,
}

impl<'a> RleReader<'a> {
    pub fn new(words: &'a [u16]) -> Result<Self> {
        let Some(&header) = words.first() else {
            return corrupt("word stream is empty");
        };
        let Some(mid) = mid_count(header) else {
            return corrupt("RLE header word is 0");
        };
        Ok(RleReader { words, pos: 1, mid, count: 0, value: 0 })
    }

    #[inline(always)]
    fn read(&mut self) -> Result<u16> {
        match self.words.get(self.pos) {
            Some(&w) => {
                self.pos += 1;
                Ok(w)
            }
            None => corrupt("word stream ended before the image was complete"),
        }
    }

    #[inline(always)]
    pub fn next_word(&mut self) -> Result<u16> {
        if self.count > 0 && self.count < self.mid {
            self.count -= 1;
            return Ok(self.value);
        }
        if self.count == 0 || self.count == self.mid {
            self.count = self.read()?;
            if self.count <= self.mid {
                self.value = self.read()?;
                self.count = self.count.wrapping_sub(1);
                return Ok(self.value);
            }
        }
        let literal = self.read()?;
        self.count = self.count.wrapping_sub(1);
        Ok(literal)
    }
}

/// MIC word stream -> pixels (RLE + inverse delta). Extra trailing words are ignored, as in the
/// reference (the 1-state FSE decoder may append a few junk symbols).
pub fn decode(words: &[u16], width: usize, height: usize) -> Result<Vec<u16>> {
    let area = checked_area(width, height)?;
    let mut rle = RleReader::new(words)?;
    let max_value = rle.next_word()?;
    let Some(params) = DeltaParams::from_max(max_value) else {
        return corrupt("declared max value is 0");
    };
    let (t, d) = (params.threshold as i32, params.delimiter);
    let mut out = vec![0u16; area];

    #[inline(always)]
    fn pixel(rle: &mut RleReader, pred: i32, t: i32, d: u16) -> Result<u16> {
        let sym = rle.next_word()?;
        if sym == d {
            rle.next_word()
        } else {
            Ok((pred + (sym as i32 - t)) as u16)
        }
    }

    let mut left = 0i32;
    for px in out[..width].iter_mut() {
        *px = pixel(&mut rle, left, t, d)?;
        left = *px as i32;
    }
    for y in 1..height {
        let (done, rest) = out.split_at_mut(y * width);
        let above = &done[(y - 1) * width..];
        let row = &mut rest[..width];
        row[0] = pixel(&mut rle, above[0] as i32, t, d)?;
        for x in 1..width {
            let pred = (row[x - 1] as i32 + above[x] as i32) >> 1;
            row[x] = pixel(&mut rle, pred, t, d)?;
        }
    }
    Ok(out)
}

/// Upper bound on the number of words a valid stream needs for `area` pixels: every pixel takes at
/// most two words (escape + raw) and every word may carry its own literal-run header.
pub fn max_words_for(area: usize) -> usize {
    area.saturating_mul(4).saturating_add(16)
}

#[cfg(test)]
mod tests {
    use super::*;

/// The reference's RLE buffering rules, transcribed symbol by symbol: the oracle for `RunEncoder`.
    struct RleWriter {
        out: Vec<u16>,
        pending: Vec<u16>,
        mid: u16,
        in_same_run: bool,
    }
    
    impl RleWriter {
        fn new(header: u16, mid: u16, capacity: usize) -> Self {
            let mut out = Vec::with_capacity(capacity);
            out.push(header);
            RleWriter { out, pending: Vec::with_capacity(mid as usize + 2), mid, in_same_run: false }
        }
    
        /// Keeps only the last two pending symbols (they may start the next run).
        #[inline(always)]
        fn keep_last_two(&mut self) {
            let n = self.pending.len();
            let (a, b) = (self.pending[n - 2], self.pending[n - 1]);
            self.pending.clear();
            self.pending.push(a);
            self.pending.push(b);
        }
    
        #[inline(always)]
        fn push(&mut self, symbol: u16) {
            let n = self.pending.len();
            if n < 2 {
                self.pending.push(symbol);
                return;
            }
            let (older, prev) = (self.pending[n - 2], self.pending[n - 1]);
            if older == prev && prev == symbol {
                if !self.in_same_run && n > 2 {
                    // The literals before the run start are flushed; the run keeps its first two symbols.
                    self.out.push(self.mid.wrapping_add((n - 2) as u16));
                    self.out.extend_from_slice(&self.pending[..n - 2]);
                    self.keep_last_two();
                }
                self.in_same_run = true;
            } else {
                if self.in_same_run && n > 2 {
                    self.out.push(n as u16);
                    self.out.push(self.pending[0]);
                    self.pending.clear();
                }
                self.in_same_run = false;
            }
            let n = self.pending.len();
            // Counts must stay below MidCount: flush all but the last two symbols when the buffer fills.
            if n >= self.mid.wrapping_sub(1) as usize {
                if self.in_same_run {
                    self.out.push((n - 2) as u16);
                    self.out.push(self.pending[0]);
                } else {
                    self.out.push(self.mid.wrapping_add((n - 2) as u16));
                    self.out.extend_from_slice(&self.pending[..n - 2]);
                }
                self.keep_last_two();
            }
            self.pending.push(symbol);
        }
    
        fn finish(mut self) -> Vec<u16> {
            let n = self.pending.len();
            if n > 0 {
                if self.in_same_run {
                    self.out.push(n as u16);
                    self.out.push(self.pending[0]);
                } else {
                    self.out.push(self.mid.wrapping_add(n as u16));
                    self.out.extend_from_slice(&self.pending);
                }
            }
            self.out
        }
    }

    fn random_symbols(seed: u64, n: usize, alphabet: u16, run_bias: u64) -> Vec<u16> {
        let mut x = seed;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let r = next();
            let v = (r % alphabet as u64) as u16;
            let repeat = if r % 100 < run_bias { 1 + (next() % 200) as usize } else { 1 };
            out.extend(std::iter::repeat(v).take(repeat.min(n - out.len())));
        }
        out
    }

    #[test]
    fn run_encoder_matches_the_reference_rules() {
        for (seed, mid) in [(1u64, 7u16), (2, 15), (3, 127), (4, 1023), (5, 32767), (6, 7), (7, 31)] {
            for bias in [0u64, 10, 50, 90] {
                let symbols = random_symbols(seed * 131 + bias, 20_000, 9, bias);
                let header = ((mid as u32) * 2 + 1) as u16;
                let mut oracle = RleWriter::new(header, mid, 0);
                for &s in &symbols {
                    oracle.push(s);
                }
                let expected = oracle.finish();
                // Feed the fast encoder in uneven chunks to cover chunk boundaries.
                let mut fast = RunEncoder::new(header, mid, 0);
                for (k, chunk) in symbols.chunks(777 + (seed as usize) * 97).enumerate() {
                    fast.symbols.extend_from_slice(chunk);
                    if k % 3 != 2 {
                        fast.process();
                    }
                }
                assert_eq!(fast.finish(), expected, "seed {seed} mid {mid} bias {bias}");
            }
        }
    }

    #[test]
    fn round_trip_small_images() {
        for (w, h) in [(1usize, 1usize), (1, 7), (7, 1), (5, 3), (64, 64)] {
            let pixels: Vec<u16> = (0..w * h).map(|i| ((i * 7919) % 4096) as u16).collect();
            let words = encode(&pixels, w, h, 4095).unwrap();
            assert_eq!(words[0], 4095);
            assert_eq!(decode(&words, w, h).unwrap(), pixels);
        }
    }

    #[test]
    fn constant_image_uses_runs() {
        let pixels = vec![100u16; 1000];
        let words = encode(&pixels, 100, 10, 255).unwrap();
        assert!(words.len() < 100, "runs should collapse a constant image: {}", words.len());
        assert_eq!(decode(&words, 100, 10).unwrap(), pixels);
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let pixels: Vec<u16> = (0..100).map(|i| (i * 37 % 251) as u16).collect();
        let words = encode(&pixels, 10, 10, 255).unwrap();
        assert!(decode(&words[..words.len() / 2], 10, 10).is_err());
    }
}
