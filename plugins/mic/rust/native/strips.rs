//! One strip: rows coded independently of every other strip (prediction and contexts restart), so
//! strips encode and decode in parallel and the bytes never depend on the thread count.
//!
//! Inside a strip, pixel x of every row uses tANS lane x & 3: four independent state chains, so the
//! table lookup of one pixel does not wait for the previous pixel's state. All lanes share one
//! bitstream; per pixel the decoder reads one field = (state bits << raw bits) | raw mantissa bits.
//! The encoder runs backwards over the strip (tANS is last-in first-out), writing with the MIC
//! engineer's LSB-first writer, and ends with the four lane states and an end mark; the decoder
//! finds the end with `BackwardReader`, then walks the fields downwards from there.
//!
//! The first row of a strip is predicted from its left neighbour only (the first pixel from the
//! middle of the range): it is coded as a row whose "row above" is constant and whose predictor
//! ignores that row, so every row goes through the same loops.

use super::context::{self, BUCKETS, FIRST_ROW_BUCKET};
use super::format::StripHeader;
use super::predict::{self, with_predictor, Predict, Predictor};
use super::tans::{self, DecodeEntry, DecodeTable, EncodeTable, L, PREC};
use super::token::{self, TOKENS};
use crate::bits::{BackwardReader, LsbWriter};
use crate::error::{corrupt, Result};

const LANES: usize = 4;
/// Longest field of one pixel: state bits (at most PREC) plus raw bits (at most 13 for 16 bits).
const MAX_FIELD_BITS: usize = PREC as usize + 13;

/// Coded-value geometry shared by encoder and decoder.
#[derive(Clone, Copy)]
pub struct Depth {
    pub mask: u32,
    pub half: u32,
}

impl Depth {
    pub fn new(bits: u32) -> Self {
        Depth {
            mask: (1 << bits) - 1,
            half: 1 << (bits - 1),
        }
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

/// The first row's predictor: the left neighbour (the constant "row above" supplies it at x = 0).
#[derive(Clone, Copy)]
struct LeftPredict;

impl Predict for LeftPredict {
    #[inline(always)]
    fn at(&self, a: i32, _b: i32, _c: i32, _d: i32) -> i32 {
        a
    }
}

/// Zigzagged residual of one pixel from its neighbours n = [a, b, c, d].
#[inline(always)]
fn residual<P: Predict>(p: &P, depth: Depth, v: u16, n: [i32; 4]) -> u16 {
    depth.zigzag(v as u32, p.at(n[0], n[1], n[2], n[3]) as u32) as u16
}

/// Zigzagged residuals of one row, with JPEG-LS's border rules (column 0: a = c = b; last column:
/// d = b). Border pixels are peeled off so the inner loop has no branches.
#[inline(always)]
fn residual_row<P: Predict>(p: P, depth: Depth, cur: &[u16], up: &[u16], out: &mut [u16]) {
    let w = cur.len();
    let (up, out) = (&up[..w], &mut out[..w]);
    let b0 = up[0] as i32;
    out[0] = residual(&p, depth, cur[0], [b0, b0, b0, if w > 1 { up[1] as i32 } else { b0 }]);
    if w == 1 {
        return;
    }
    let inner = out[1..w - 1].iter_mut().zip(cur.windows(2)).zip(up.windows(3));
    for ((z, c), n) in inner {
        *z = residual(&p, depth, c[1], [c[0] as i32, n[1] as i32, n[0] as i32, n[2] as i32]);
    }
    let b = up[w - 1] as i32;
    out[w - 1] = residual(&p, depth, cur[w - 1], [cur[w - 2] as i32, b, up[w - 2] as i32, b]);
}

/// Residuals of every row of a strip, and the token histogram of each bucket.
#[inline(always)]
fn residuals_and_histograms<P: Predict>(
    p: P,
    depth: Depth,
    values: &[u16],
    w: usize,
    z: &mut [u16],
) -> Box<[[u32; TOKENS]; BUCKETS]> {
    let mut hists = Box::new([[0u32; TOKENS]; BUCKETS]);
    let mut buckets = vec![FIRST_ROW_BUCKET; w];
    let first_up = vec![depth.half as u16; w];
    residual_row(LeftPredict, depth, &values[..w], &first_up, &mut z[..w]);
    for y in 1..values.len() / w {
        let (done, rest) = z.split_at_mut(y * w);
        residual_row(
            p,
            depth,
            &values[y * w..(y + 1) * w],
            &values[(y - 1) * w..y * w],
            &mut rest[..w],
        );
        // The first row's buckets are all FIRST_ROW_BUCKET; later rows' come from the row above.
        if y == 1 {
            for &v in &done[..w] {
                hists[FIRST_ROW_BUCKET as usize][token::split(v as u32).0 as usize] += 1;
            }
        }
        context::row_buckets(&done[(y - 1) * w..], &mut buckets);
        for (&b, &v) in buckets.iter().zip(&rest[..w]) {
            hists[b as usize][token::split(v as u32).0 as usize] += 1;
        }
    }
    if values.len() == w {
        for &v in &z[..w] {
            hists[FIRST_ROW_BUCKET as usize][token::split(v as u32).0 as usize] += 1;
        }
    }
    hists
}

/// Estimated coded size in bits of rows `rows` (each >= 1) of `values` with predictor `p`: entropy of
/// the tokens per bucket plus the raw bits. Used to choose predictor and packing cheaply.
#[inline(always)]
pub fn estimate_bits(p: &Predictor, depth: Depth, values: &[u16], w: usize, rows: &[usize]) -> f64 {
    with_predictor!(*p, depth.mask as i32, |p| estimate_with(p, depth, values, w, rows))
}

#[inline(always)]
fn estimate_with<P: Predict>(p: P, depth: Depth, values: &[u16], w: usize, rows: &[usize]) -> f64 {
    let mut hists = Box::new([[0u32; TOKENS]; BUCKETS]);
    let (mut above, mut here, mut buckets) = (vec![0u16; w], vec![0u16; w], vec![0u8; w]);
    let first_up = vec![depth.half as u16; w];
    let mut raw = 0u64;
    for &y in rows {
        let row = |r: usize| &values[r * w..(r + 1) * w];
        if y >= 2 {
            residual_row(p, depth, row(y - 1), row(y - 2), &mut above);
        } else {
            residual_row(LeftPredict, depth, row(0), &first_up, &mut above);
        }
        residual_row(p, depth, row(y), row(y - 1), &mut here);
        context::row_buckets(&above, &mut buckets);
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
#[inline(always)]
fn choose_predictor(values: &[u16], w: usize, rows: usize, depth: Depth) -> Predictor {
    if rows < 3 || w < 3 {
        return Predictor::Med;
    }
    let sample = sample_rows(rows, (rows / 32).clamp(1, 16));
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

/// Encodes one strip of coded values (`rows` x `w`); like the decoder, it runs an AVX2/BMI2 copy
/// when the CPU has those features (same output: only instruction selection differs).
pub fn encode_strip(values: &[u16], w: usize, rows: usize, depth: Depth, predictor: Option<Predictor>) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    if x86_v3() {
        // SAFETY: as in decode_strip, every feature of encode_strip_v3 was detected at run time.
        return unsafe { encode_strip_v3(values, w, rows, depth, predictor) };
    }
    encode_strip_portable(values, w, rows, depth, predictor)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt")]
unsafe fn encode_strip_v3(
    values: &[u16],
    w: usize,
    rows: usize,
    depth: Depth,
    predictor: Option<Predictor>,
) -> Vec<u8> {
    encode_strip_portable(values, w, rows, depth, predictor)
}

#[inline(always)]
fn encode_strip_portable(values: &[u16], w: usize, rows: usize, depth: Depth, predictor: Option<Predictor>) -> Vec<u8> {
    debug_assert_eq!(values.len(), w * rows);
    let predictor = match predictor {
        Some(p) => p,
        None => choose_predictor(values, w, rows, depth),
    };
    let mut z = vec![0u16; values.len()];
    let hists = with_predictor!(predictor, depth.mask as i32, |p| residuals_and_histograms(
        p, depth, values, w, &mut z
    ));
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
fn bits_at_padded(data: &[u8], pos: usize, k: usize) -> u32 {
    let mut b = [0u8; 8];
    let tail = data.get(pos >> 3..).unwrap_or(&[]);
    let n = tail.len().min(8);
    b[..n].copy_from_slice(&tail[..n]);
    ((u64::from_le_bytes(b) >> (pos & 7)) & ((1u64 << k) - 1)) as u32
}

/// Decodes one pixel's field with entry `e`: moves `pos` down, updates the lane state `s` and
/// returns the zigzagged residual. CHECKED guards against running out of data (slow rows only);
/// unchecked rows were proven at row start to have enough bits and whole 8-byte windows.
#[inline(always)]
fn take<const CHECKED: bool>(data: &[u8], pos: &mut usize, s: &mut u32, e: DecodeEntry) -> Result<u32> {
    let k = e.field_bits as usize;
    let field = if CHECKED {
        if k > *pos {
            return corrupt("strip payload ended before its last pixel");
        }
        *pos -= k;
        bits_at_padded(data, *pos, k)
    } else {
        *pos -= k;
        let byte = *pos >> 3;
        debug_assert!(byte + 8 <= data.len());
        // SAFETY: an unchecked row starts only when (pos >> 3) + 8 <= data.len() and pos >= 24 * width
        // (decode_row_any). Every field is at most 24 bits (state bits <= PREC = 11 because every
        // counter starts at a frequency >= 1, raw bits <= 13 for token 63), so pos never underflows
        // and only decreases within the row: bytes byte..byte + 8 lie inside `data`. read_unaligned
        // has no alignment requirement. (Measured +5 % decode speed over the bounds-checked load.)
        let window = unsafe { u64::from_le(std::ptr::read_unaligned(data.as_ptr().add(byte) as *const u64)) };
        ((window >> (*pos & 7)) as u32) & ((1u32 << k) - 1)
    };
    *s = e.state_base as u32 + (field >> e.raw_bits);
    Ok(e.z_base as u32 + (field & ((1u32 << e.raw_bits) - 1)))
}

/// Decodes one pixel from its neighbours n = [a, b, c, d] with lane state s[0] and decode table
/// `table`, returning (value, zigzagged residual); then rotates the lanes so the next pixel's lane is
/// s[0] (after inlining, the rotation is register renaming).
#[inline(always)]
fn decode_pixel<P: Predict, const CHECKED: bool>(
    p: &P,
    data: &[u8],
    pos: &mut usize,
    s: &mut [u32; LANES],
    table: &DecodeTable,
    depth: Depth,
    n: [i32; 4],
) -> Result<(u32, u32)> {
    let e = table[s[0] as usize & (L - 1)];
    let z = take::<CHECKED>(data, pos, &mut s[0], e)?;
    let v = depth.unzigzag(z, p.at(n[0], n[1], n[2], n[3]) as u32);
    *s = [s[1], s[2], s[3], s[0]];
    Ok((v, z))
}

/// Decodes one row. Lane states and the bit position live in locals for the whole row.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn decode_row<P: Predict, const CHECKED: bool>(
    p: P,
    data: &[u8],
    pos: &mut usize,
    states: &mut [u32; LANES],
    tables: &[DecodeTable],
    groups: &[u8],
    depth: Depth,
    cur: &mut [u16],
    up: &[u16],
    z_above: &mut [u16],
) -> Result<()> {
    let w = cur.len();
    let (groups, z_above, up) = (&groups[..w], &mut z_above[..w], &up[..w]);
    let table = |g: u8| &tables[g as usize]; // g < tables.len(): StripHeader::parse checked the map
    let mut s = *states;
    let mut at = *pos;
    let b0 = up[0] as i32;
    let d0 = if w > 1 { up[1] as i32 } else { b0 };
    let (v, z) = decode_pixel::<P, CHECKED>(&p, data, &mut at, &mut s, table(groups[0]), depth, [b0, b0, b0, d0])?;
    (cur[0], z_above[0]) = (v as u16, z as u16);
    if w > 1 {
        let mut a = v as i32;
        let mut x = 1;
        // Blocks of four pixels: after four rotations the lanes are back in place, so the compiler
        // keeps each lane's state in one register; one bounds check per slice per block.
        while x + 4 < w {
            let (n4, g4) = (&up[x - 1..x + 5], &groups[x..x + 4]);
            let (c4, z4) = (&mut cur[x..x + 4], &mut z_above[x..x + 4]);
            for k in 0..4 {
                let n = [a, n4[k + 1] as i32, n4[k] as i32, n4[k + 2] as i32];
                let (v, z) = decode_pixel::<P, CHECKED>(&p, data, &mut at, &mut s, table(g4[k]), depth, n)?;
                (c4[k], z4[k]) = (v as u16, z as u16);
                a = v as i32;
            }
            x += 4;
        }
        for x in x..w - 1 {
            let n = [a, up[x] as i32, up[x - 1] as i32, up[x + 1] as i32];
            let (v, z) = decode_pixel::<P, CHECKED>(&p, data, &mut at, &mut s, table(groups[x]), depth, n)?;
            (cur[x], z_above[x]) = (v as u16, z as u16);
            a = v as i32;
        }
        let b = up[w - 1] as i32;
        let n = [a, b, up[w - 2] as i32, b];
        let (v, z) = decode_pixel::<P, CHECKED>(&p, data, &mut at, &mut s, table(groups[w - 1]), depth, n)?;
        (cur[w - 1], z_above[w - 1]) = (v as u16, z as u16);
    }
    *pos = at;
    // After w pixels s[0] holds lane (w & 3): rotate back.
    for (i, v) in s.iter().enumerate() {
        states[(i + w) & 3] = *v;
    }
    Ok(())
}

/// Chooses the checked or unchecked row loop: unchecked only when even the longest fields leave the
/// position above zero and every 8-byte window lies inside the payload.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn decode_row_any<P: Predict>(
    p: P,
    data: &[u8],
    pos: &mut usize,
    states: &mut [u32; LANES],
    tables: &[DecodeTable],
    groups: &[u8],
    depth: Depth,
    cur: &mut [u16],
    up: &[u16],
    z_above: &mut [u16],
) -> Result<()> {
    if *pos >= MAX_FIELD_BITS * cur.len() && (*pos >> 3) + 8 <= data.len() {
        decode_row::<P, false>(p, data, pos, states, tables, groups, depth, cur, up, z_above)
    } else {
        decode_row::<P, true>(p, data, pos, states, tables, groups, depth, cur, up, z_above)
    }
}

/// Decodes one strip into `out` (`rows` x `w` coded values), then maps each row through `finish`.
/// On x86-64 CPUs with AVX2 and BMI2 it runs a copy of the same code compiled for them (BMI2's
/// shrx/bzhi shorten the field extraction, which the design note measured at 10-15 %).
pub fn decode_strip(
    data: &[u8],
    w: usize,
    rows: usize,
    depth: Depth,
    out: &mut [u16],
    finish: &dyn Fn(&mut [u16]),
) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    if x86_v3() {
        // SAFETY: the only precondition of calling a #[target_feature] function is that the CPU supports
        // those features, and x86_v3() has just detected every one of them at run time.
        return unsafe { decode_strip_v3(data, w, rows, depth, out, finish) };
    }
    decode_strip_portable(data, w, rows, depth, out, finish)
}

/// The CPU has the x86-64-v3 features the `_v3` copies are compiled for.
#[cfg(target_arch = "x86_64")]
fn x86_v3() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("bmi1")
        && std::is_x86_feature_detected!("bmi2")
        && std::is_x86_feature_detected!("lzcnt")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt")]
unsafe fn decode_strip_v3(
    data: &[u8],
    w: usize,
    rows: usize,
    depth: Depth,
    out: &mut [u16],
    finish: &dyn Fn(&mut [u16]),
) -> Result<()> {
    decode_strip_portable(data, w, rows, depth, out, finish)
}

#[inline(always)]
fn decode_strip_portable(
    data: &[u8],
    w: usize,
    rows: usize,
    depth: Depth,
    out: &mut [u16],
    finish: &dyn Fn(&mut [u16]),
) -> Result<()> {
    let (header, header_len) = StripHeader::parse(data)?;
    // Only the strip's own groups: small frames should not pay for building or clearing 16 tables.
    let mut tables = vec![[DecodeEntry::default(); L]; header.freqs.len()];
    for (table, freq) in tables.iter_mut().zip(&header.freqs) {
        tans::fill_decode_table(freq, table);
    }
    let payload = &data[header_len..];
    let mut reader = BackwardReader::new(payload)?;
    let mut states = [0u32; LANES];
    for s in states.iter_mut() {
        *s = reader.read(PREC)?;
    }
    let mut pos = reader.remaining();
    let mut z_above = vec![0u16; w];
    let mut groups = vec![header.map[FIRST_ROW_BUCKET as usize]; w];
    let first_up = vec![depth.half as u16; w];
    decode_row_any(
        LeftPredict,
        payload,
        &mut pos,
        &mut states,
        &tables,
        &groups,
        depth,
        &mut out[..w],
        &first_up,
        &mut z_above,
    )?;
    with_predictor!(header.predictor, depth.mask as i32, |p| {
        for y in 1..rows {
            context::row_groups(&z_above, &header.map, &mut groups);
            let (done, rest) = out.split_at_mut(y * w);
            let up = &done[(y - 1) * w..];
            decode_row_any(
                p,
                payload,
                &mut pos,
                &mut states,
                &tables,
                &groups,
                depth,
                &mut rest[..w],
                up,
                &mut z_above,
            )?;
            finish(&mut done[(y - 1) * w..]);
        }
    });
    finish(&mut out[(rows - 1) * w..rows * w]);
    if pos != 0 || states != [0; LANES] {
        return corrupt("strip payload does not end where its last pixel does");
    }
    Ok(())
}
