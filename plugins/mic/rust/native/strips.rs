//! One strip: rows coded independently of every other strip (prediction and contexts restart), so
//! strips encode and decode in parallel and the bytes never depend on the thread count.
//!
//! Inside a strip, pixel x of every row uses tANS lane x & 3: four independent state chains, so the
//! table lookup of one pixel does not wait for the previous pixel's state. All lanes share one
//! bitstream; per pixel the decoder reads one field = (state bits << raw bits) | raw mantissa bits.
//! The encoder runs backwards over the strip (tANS is last-in first-out), writing with the MIC
//! engineer's LSB-first writer, and ends with the four lane states and an end mark; the decoder
//! reads the stream from its end with `BackwardReader`, then takes over with the unrolled loop below.

use super::context::{self, BUCKETS, FIRST_ROW_BUCKET};
use super::format::StripHeader;
use super::predict::{self, Predictor};
use super::tans::{self, DecodeTable, EncodeTable, L, PREC};
use super::token::{self, TOKENS};
use crate::bits::{BackwardReader, LsbWriter};
use crate::error::{corrupt, Result};

const LANES: usize = 4;

/// Coded-value geometry shared by encoder and decoder.
#[derive(Clone, Copy)]
pub struct Depth {
    pub mask: u32,
    pub half: u32,
}

impl Depth {
    pub fn new(bits: u32) -> Self {
        Depth { mask: (1 << bits) - 1, half: 1 << (bits - 1) }
    }

    /// Residual `v - pred` modulo 2^bits, as a signed value in [-half, half), zigzagged.
    #[inline(always)]
    fn zigzag(&self, v: u32, pred: u32) -> u32 {
        let d = v.wrapping_sub(pred) & self.mask;
        if d < self.half {
            2 * d
        } else {
            2 * (self.mask + 1 - d) - 1
        }
    }

    #[inline(always)]
    fn unzigzag(&self, z: u32, pred: u32) -> u32 {
        let e = (z >> 1) ^ (z & 1).wrapping_neg();
        pred.wrapping_add(e) & self.mask
    }
}

/// Prediction of pixel x of a row that has a row above (`up`); `cur[..x]` is already known.
#[inline(always)]
fn predict_at(p: &Predictor, cur: &[u16], up: &[u16], x: usize, max: i32) -> u32 {
    let b = up[x] as i32;
    let a = if x > 0 { cur[x - 1] as i32 } else { b };
    let c = if x > 0 { up[x - 1] as i32 } else { b };
    let d = if x + 1 < up.len() { up[x + 1] as i32 } else { b };
    p.predict(a, b, c, d, max) as u32
}

/// Zigzagged residuals of one row (`up` is None for the first row of a strip).
pub fn residual_row(p: &Predictor, depth: Depth, cur: &[u16], up: Option<&[u16]>, out: &mut [u16]) {
    match up {
        None => {
            let mut left = depth.half;
            for (z, &v) in out.iter_mut().zip(cur) {
                *z = depth.zigzag(v as u32, left) as u16;
                left = v as u32;
            }
        }
        Some(up) => {
            let max = depth.mask as i32;
            for x in 0..cur.len() {
                out[x] = depth.zigzag(cur[x] as u32, predict_at(p, cur, up, x, max)) as u16;
            }
        }
    }
}

/// Token histograms per bucket of the residuals `z` of a strip (`w` wide).
fn bucket_histograms(z: &[u16], w: usize) -> Box<[[u32; TOKENS]; BUCKETS]> {
    let mut hists = Box::new([[0u32; TOKENS]; BUCKETS]);
    let identity: [u8; BUCKETS] = std::array::from_fn(|b| b as u8);
    let mut buckets = vec![0u8; w];
    for (y, row) in z.chunks_exact(w).enumerate() {
        if y == 0 {
            buckets.fill(FIRST_ROW_BUCKET);
        } else {
            context::row_groups(&z[(y - 1) * w..y * w], &identity, &mut buckets);
        }
        for (&b, &v) in buckets.iter().zip(row) {
            hists[b as usize][token::split(v as u32).0 as usize] += 1;
        }
    }
    hists
}

/// Estimated coded size in bits of `values` rows `rows` (each >= 1) with predictor `p`: entropy of
/// the tokens per bucket plus the raw bits. Used to choose predictor and packing cheaply.
pub fn estimate_bits(p: &Predictor, depth: Depth, values: &[u16], w: usize, rows: &[usize]) -> f64 {
    let mut hists = Box::new([[0u32; TOKENS]; BUCKETS]);
    let identity: [u8; BUCKETS] = std::array::from_fn(|b| b as u8);
    let (mut above, mut here, mut buckets) = (vec![0u16; w], vec![0u16; w], vec![0u8; w]);
    let mut raw = 0u64;
    for &y in rows {
        let up2 = if y >= 2 { Some(&values[(y - 2) * w..(y - 1) * w]) } else { None };
        residual_row(p, depth, &values[(y - 1) * w..y * w], up2, &mut above);
        residual_row(p, depth, &values[y * w..(y + 1) * w], Some(&values[(y - 1) * w..y * w]), &mut here);
        context::row_groups(&above, &identity, &mut buckets);
        for (&b, &z) in buckets.iter().zip(&here) {
            let (t, nraw, _) = token::split(z as u32);
            hists[b as usize][t as usize] += 1;
            raw += nraw as u64;
        }
    }
    let mut bits = raw as f64;
    for h in hists.iter() {
        let total: u64 = h.iter().map(|&c| c as u64).sum();
        for &c in h.iter().filter(|&&c| c > 0) {
            bits += c as f64 * (total as f64 / c as f64).log2();
        }
    }
    bits
}

/// Rows used for estimates: every `step`-th row, skipping row 0.
pub fn sample_rows(rows: usize, step: usize) -> Vec<usize> {
    (1..rows).step_by(step.max(1)).collect()
}

/// Chooses MED or fitted LS4 for one strip by estimated size.
fn choose_predictor(values: &[u16], w: usize, rows: usize, depth: Depth) -> Predictor {
    if rows < 3 || w < 3 {
        return Predictor::Med;
    }
    let sample = sample_rows(rows, (rows / 48).clamp(1, 8));
    let Some(weights) = predict::fit_ls4(values, w, sample.iter().copied()) else {
        return Predictor::Med;
    };
    let ls4 = Predictor::Ls4(weights);
    if estimate_bits(&ls4, depth, values, w, &sample) < estimate_bits(&Predictor::Med, depth, values, w, &sample) {
        ls4
    } else {
        Predictor::Med
    }
}

/// Encodes one strip of coded values (`rows` x `w`).
pub fn encode_strip(values: &[u16], w: usize, rows: usize, depth: Depth, predictor: Option<Predictor>) -> Vec<u8> {
    let predictor = predictor.unwrap_or_else(|| choose_predictor(values, w, rows, depth));
    let mut z = vec![0u16; values.len()];
    for y in 0..rows {
        let up = if y > 0 { Some(&values[(y - 1) * w..y * w]) } else { None };
        residual_row(&predictor, depth, &values[y * w..(y + 1) * w], up, &mut z[y * w..(y + 1) * w]);
    }
    let hists = bucket_histograms(&z, w);
    let (map, group_hists) = context::merge(&hists);
    let freqs: Vec<Vec<u32>> = group_hists.iter().map(|h| tans::normalize(h)).collect();
    let tables: Vec<EncodeTable> = freqs.iter().map(|f| EncodeTable::new(f)).collect();
    let mut out = Vec::with_capacity(values.len() / 2 + 64);
    StripHeader { predictor, map, freqs }.write(&mut out);

    let mut writer = LsbWriter::new(out);
    let mut states = [L as u32; LANES];
    let mut groups = vec![0u8; w];
    for y in (0..rows).rev() {
        if y == 0 {
            groups.fill(map[FIRST_ROW_BUCKET as usize]);
        } else {
            context::row_groups(&z[(y - 1) * w..y * w], &map, &mut groups);
        }
        let row = &z[y * w..(y + 1) * w];
        for x in (0..w).rev() {
            let (t, nraw, raw) = token::split(row[x] as u32);
            let (bits, nb) = tables[groups[x] as usize].encode(t, &mut states[x % LANES]);
            writer.put((bits << nraw) | raw, nb + nraw);
        }
    }
    for lane in (0..LANES).rev() {
        writer.put(states[lane] - L as u32, PREC);
    }
    writer.finish_with_end_mark()
}

/// Reads `k` (<= 32) bits starting at bit `pos` of `data` (LSB-first); bits past the end read as 0.
#[inline(always)]
fn bits_at(data: &[u8], pos: usize, k: u32) -> u32 {
    let byte = pos >> 3;
    let window = match data.get(byte..byte + 8) {
        Some(b) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        None => {
            let mut b = [0u8; 8];
            let tail = data.get(byte..).unwrap_or(&[]);
            b[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(b)
        }
    };
    ((window >> (pos & 7)) & ((1u64 << k) - 1)) as u32
}

/// The decoder's running state for one strip.
struct Lanes<'a> {
    payload: &'a [u8],
    /// Bits not yet consumed: the next field ends just below this bit.
    pos: usize,
    states: [u32; LANES],
}

impl Lanes<'_> {
    /// Decodes the residual of one pixel with decode table `table`, lane `lane`.
    #[inline(always)]
    fn next(&mut self, table: &DecodeTable, lane: usize) -> Result<u32> {
        let e = table[self.states[lane] as usize & (L - 1)];
        let k = e.state_bits as u32 + e.raw_bits as u32;
        if k as usize > self.pos {
            return corrupt("strip payload ended before its last pixel");
        }
        self.pos -= k as usize;
        let field = bits_at(self.payload, self.pos, k);
        self.states[lane] = e.state_base as u32 + (field >> e.raw_bits);
        Ok(e.z_base as u32 + (field & ((1 << e.raw_bits) - 1)))
    }
}

/// Decodes one strip into `out` (`rows` x `w` coded values), then maps each value through `finish`.
pub fn decode_strip(data: &[u8], w: usize, rows: usize, depth: Depth, out: &mut [u16], finish: &dyn Fn(&mut [u16])) -> Result<()> {
    let (header, header_len) = StripHeader::parse(data)?;
    let tables: Vec<Box<DecodeTable>> = header.freqs.iter().map(|f| tans::decode_table(f)).collect();
    let mut reader = BackwardReader::new(&data[header_len..])?;
    let mut states = [0u32; LANES];
    for s in states.iter_mut() {
        *s = reader.read(PREC)?;
    }
    let mut lanes = Lanes { payload: &data[header_len..], pos: reader.remaining(), states };
    let mut z_above = vec![0u16; w];
    let mut groups = vec![0u8; w];
    let max = depth.mask as i32;
    for y in 0..rows {
        let (done, rest) = out.split_at_mut(y * w);
        let cur = &mut rest[..w];
        if y == 0 {
            let table = &tables[header.map[FIRST_ROW_BUCKET as usize] as usize];
            let mut left = depth.half;
            for x in 0..w {
                let z = lanes.next(table, x % LANES)?;
                left = depth.unzigzag(z, left);
                cur[x] = left as u16;
                z_above[x] = z as u16;
            }
            continue;
        }
        context::row_groups(&z_above, &header.map, &mut groups);
        let up = &done[(y - 1) * w..];
        match header.predictor {
            Predictor::Med => decode_row_med(&mut lanes, &tables, &groups, depth, cur, up, &mut z_above)?,
            p => {
                for x in 0..w {
                    let z = lanes.next(&tables[groups[x] as usize], x % LANES)?;
                    cur[x] = depth.unzigzag(z, predict_at(&p, cur, up, x, max)) as u16;
                    z_above[x] = z as u16;
                }
            }
        }
        finish(&mut done[(y - 1) * w..]);
    }
    finish(&mut out[(rows - 1) * w..rows * w]);
    if lanes.pos != 0 || lanes.states != [0; LANES] {
        return corrupt("strip payload does not end where its last pixel does");
    }
    Ok(())
}

/// The hot loop for MED rows: branch-free apart from the end-of-data check.
#[inline(always)]
fn decode_row_med(
    lanes: &mut Lanes<'_>,
    tables: &[Box<DecodeTable>],
    groups: &[u8],
    depth: Depth,
    cur: &mut [u16],
    up: &[u16],
    z_above: &mut [u16],
) -> Result<()> {
    let w = cur.len();
    let mut a = up[0] as i32;
    let mut c = up[0] as i32;
    for x in 0..w {
        let b = up[x] as i32;
        let z = lanes.next(&tables[groups[x] as usize], x % LANES)?;
        let v = depth.unzigzag(z, predict::med(a, b, c) as u32);
        cur[x] = v as u16;
        z_above[x] = z as u16;
        a = v as i32;
        c = b;
    }
    Ok(())
}
