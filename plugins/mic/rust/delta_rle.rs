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
    let mut rle = RleWriter::new(d, mid, area + area / 8 + 16);
    rle.push(max_value);

    let mut emit = |pixel: u16, pred: i32, rle: &mut RleWriter| {
        let diff = pixel as i32 - pred;
        if diff.abs() >= t {
            rle.push(d);
            rle.push(pixel);
        } else {
            rle.push((t + diff) as u16);
        }
    };
    for y in 0..height {
        let row = &pixels[y * width..(y + 1) * width];
        if y == 0 {
            let mut left = 0i32;
            for &p in row {
                emit(p, left, &mut rle);
                left = p as i32;
            }
        } else {
            let above = &pixels[(y - 1) * width..y * width];
            emit(row[0], above[0] as i32, &mut rle);
            for x in 1..width {
                let pred = (row[x - 1] as i32 + above[x] as i32) >> 1;
                emit(row[x], pred, &mut rle);
            }
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
